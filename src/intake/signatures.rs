//! The signatures of a package (formats.md 7, issue 6 point 5): which are there, whether each
//! verifies, whether its signer is a certificate registered to the sender, and whether every
//! file has the signatures `signature.required` asks of its kind.
//!
//! A signature may be
//! - an entry of the ZIP beside the file it signs: `<file>.sig` (or `<file>.xml.sig`),
//!   `<file>.BUH.SIG`, `<file>.ISP.SIG`, `<file>.DIR.SIG` — detached CMS over that entry;
//! - a file sent beside the package (a multipart part, [`External`]) with one of those names:
//!   named after an entry, it signs that entry; named after the package
//!   (`HM750096T75_26011.zip.sig`), it signs the whole ZIP and so every file in it;
//! - the package itself, sent as an enveloping CMS (`HM750096T75_26011.zip.sig` as the body):
//!   the ZIP inside is what is checked, and the signature counts as `sig` over every file.
//!
//! Every signature present is verified, required or not: a bad signature refuses the package.
//! The findings are package-level, with the hub's own codes beside F012 (which has none for
//! signatures): [`SIGNATURE_MISSING`] 806, [`SIGNATURE_REFUSED`] 807 (the reason is the
//! `signature` module's code: `signature_invalid`, `certificate_expired`, …) and
//! [`SIGNER_NOT_REGISTERED`] 808. See docs/INTAKE.md, "Signatures".
//!
//! An insurer's OPLIST sent as a package (`i….xml`, or `i….zip` holding it) has its
//! signatures checked the same way: its file is of kind `OPLIST` for `signature.required`.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use crate::config::SignatureSettings;
use crate::signature::{
    Fingerprint, SignatureError, Verified, VerifyPolicy, verify_detached_reader,
};
use crate::validate::package::{
    BAD_NAME, PackageView, package_finding, signature_suffix, strip_suffix_ci,
};
use crate::validate::{Finding, kind_of};

/// Hub code: a signature `signature.required` asks for is not there.
pub const SIGNATURE_MISSING: u16 = 806;
/// Hub code: a signature does not verify (the reason names the check that failed).
pub const SIGNATURE_REFUSED: u16 = 807;
/// Hub code: the signer's certificate is not registered to the sending participant.
pub const SIGNER_NOT_REGISTERED: u16 = 808;

/// The largest signature file read (a CMS with a chain of a few certificates is a few KiB).
pub const MAX_SIGNATURE_BYTES: u64 = 1 << 20;

/// A detached signature sent beside the package, stored under the package's signature folder.
#[derive(Debug, Clone)]
pub struct External {
    /// Its file name as sent.
    pub name: String,
    /// Where it is stored.
    pub path: PathBuf,
}

/// A signature over the whole package that was already verified (an enveloping package, or an
/// external `<package>.sig`), with its name for messages.
#[derive(Debug, Clone)]
pub struct PackageSignature {
    /// `sig`, `BUH`, `ISP` or `DIR`.
    pub kind: &'static str,
    /// The signature file's name.
    pub name: String,
    /// What the verification found.
    pub verified: Verified,
}

/// The (file, signature name) pairs with a valid signature by a registered signer.
type Satisfied = BTreeSet<(String, &'static str)>;

/// What the signatures of one package are checked against.
pub struct SignatureCheck<'a> {
    /// The trust store and CRLs; `None` when `signature.trust_store` is empty (signatures are
    /// then listed, not verified, and none may be required — config validation sees to it).
    pub policy: Option<&'a VerifyPolicy>,
    /// `[signature]`, for `required`.
    pub settings: &'a SignatureSettings,
    /// The fingerprints of the certificates registered to the sender and not revoked.
    pub registered: &'a [Fingerprint],
    /// The package's name as sent, for messages.
    pub package: &'a str,
    /// Signatures sent beside the package that sign an entry.
    pub external: &'a [External],
    /// Verified signatures over the whole package.
    pub package_signatures: &'a [PackageSignature],
}

impl SignatureCheck<'_> {
    /// Checks the signatures of the package `view` shows; the findings refuse the package.
    pub fn check(&self, view: &mut PackageView<'_>) -> Vec<Finding> {
        let mut findings = Vec::new();
        // (file, signature name) pairs with a valid signature by a registered signer.
        let mut satisfied = Satisfied::new();
        for signature in self.package_signatures {
            if self.registered_signer(&signature.name, &signature.verified, &mut findings) {
                for file in &view.files {
                    satisfied.insert((file.clone(), signature.kind));
                }
            }
        }
        let Some(policy) = self.policy else {
            if !view.signatures.is_empty() || !self.external.is_empty() {
                tracing::info!(
                    package = self.package,
                    "signatures present but signature.trust_store is empty: not verified"
                );
            }
            return findings;
        };
        self.check_inside(policy, view, &mut satisfied, &mut findings);
        self.check_external(policy, view, &mut satisfied, &mut findings);
        self.check_required(view, &satisfied, &mut findings);
        findings
    }

    /// The signature entries of the ZIP.
    fn check_inside(
        &self,
        policy: &VerifyPolicy,
        view: &mut PackageView<'_>,
        satisfied: &mut Satisfied,
        findings: &mut Vec<Finding>,
    ) {
        let inside: Vec<_> = view
            .signatures
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.kind, s.signs.clone()?)))
            .collect();
        for (name, kind, signs) in inside {
            let bytes = match read_limited(view.open(&name, MAX_SIGNATURE_BYTES)) {
                Ok(bytes) => bytes,
                Err(e) => {
                    findings.push(package_finding(
                        SIGNATURE_REFUSED,
                        "signature_unreadable",
                        &name,
                        format!("{name}: {e}"),
                    ));
                    continue;
                }
            };
            let result = match view.open(&signs, u64::MAX) {
                Ok(content) => verify_detached_reader(content, &bytes, policy),
                Err(e) => Err(SignatureError::Io(e.to_string())),
            };
            self.judge(&name, &signs, kind, result, satisfied, findings);
        }
    }

    /// The signatures sent beside the package that sign one of its files.
    fn check_external(
        &self,
        policy: &VerifyPolicy,
        view: &mut PackageView<'_>,
        satisfied: &mut Satisfied,
        findings: &mut Vec<Finding>,
    ) {
        for external in self.external {
            let Some((signed, kind)) = signature_suffix(&external.name) else {
                continue;
            };
            let signed = strip_suffix_ci(signed, ".xml").unwrap_or(signed);
            let Some(file) = view
                .files
                .iter()
                .find(|f| {
                    strip_suffix_ci(f, ".xml")
                        .unwrap_or(f)
                        .eq_ignore_ascii_case(signed)
                })
                .cloned()
            else {
                findings.push(package_finding(
                    BAD_NAME,
                    "unexpected_signature",
                    &external.name,
                    format!(
                        "{}: a signature sent beside the package that signs neither the \
                         package nor a file in it",
                        external.name
                    ),
                ));
                continue;
            };
            let bytes = match std::fs::read(&external.path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    findings.push(package_finding(
                        SIGNATURE_REFUSED,
                        "signature_unreadable",
                        &external.name,
                        format!("{}: {e}", external.name),
                    ));
                    continue;
                }
            };
            let result = match view.open(&file, u64::MAX) {
                Ok(content) => verify_detached_reader(content, &bytes, policy),
                Err(e) => Err(SignatureError::Io(e.to_string())),
            };
            self.judge(&external.name, &file, kind, result, satisfied, findings);
        }
    }

    /// An 806 for each signature `signature.required` asks of a file and no valid one gives.
    fn check_required(
        &self,
        view: &PackageView<'_>,
        satisfied: &Satisfied,
        findings: &mut Vec<Finding>,
    ) {
        for file in &view.files {
            let Some(kind) = required_kind(file) else {
                continue;
            };
            for required in self.settings.required_for(kind) {
                let Some(name) = crate::config::SIGNATURE_NAMES
                    .iter()
                    .find(|n| **n == required.as_str())
                else {
                    continue;
                };
                if satisfied.contains(&(file.clone(), *name)) {
                    continue;
                }
                let expected = if *name == "sig" {
                    format!("{file}.sig")
                } else {
                    format!("{file}.{name}.SIG")
                };
                findings.push(package_finding(
                    SIGNATURE_MISSING,
                    "signature_missing",
                    &expected,
                    format!(
                        "{file}: a file of kind {kind} needs the signature `{name}` \
                         ({expected} in the package, beside it, or over the whole package), \
                         by a certificate registered to the sender; none valid was found"
                    ),
                ));
            }
        }
    }

    /// Records the outcome of one signature of `file`.
    fn judge(
        &self,
        name: &str,
        file: &str,
        kind: &'static str,
        result: Result<Verified, SignatureError>,
        satisfied: &mut Satisfied,
        findings: &mut Vec<Finding>,
    ) {
        match result {
            Ok(verified) => {
                if self.registered_signer(name, &verified, findings) {
                    satisfied.insert((file.to_owned(), kind));
                }
            }
            Err(e) => findings.push(package_finding(
                SIGNATURE_REFUSED,
                e.code(),
                name,
                format!("{name}: {e}"),
            )),
        }
    }

    /// Whether every signer of `verified` is registered to the sender; an 808 finding if not.
    fn registered_signer(
        &self,
        name: &str,
        verified: &Verified,
        findings: &mut Vec<Finding>,
    ) -> bool {
        if verified.signed_by(self.registered) {
            return true;
        }
        let strangers: Vec<String> = verified
            .signers
            .iter()
            .filter(|s| !self.registered.contains(&s.certificate.fingerprint))
            .map(|s| {
                format!(
                    "{} (serial {}, SHA-256 {})",
                    s.certificate.subject, s.certificate.serial, s.certificate.fingerprint
                )
            })
            .collect();
        findings.push(package_finding(
            SIGNER_NOT_REGISTERED,
            "signer_not_registered",
            name,
            format!(
                "{name}: signed by {}, a certificate not registered to the sender of this \
                 package (register it with `omshub participants cert add`)",
                strangers.join(", ")
            ),
        ));
        false
    }
}

/// The kind `signature.required` knows `file` by: its kind of formats.md 1.1 (`H`, `LT`…), or
/// `OPLIST` for an insurer's OPLIST (`i….xml`, sent as a package of its own).
fn required_kind(file: &str) -> Option<&str> {
    kind_of(file).or_else(|| {
        (file.starts_with('i') && crate::erz::apply::Names::of(file).is_ok())
            .then_some(crate::config::OPLIST_KIND)
    })
}

/// The bytes of a signature entry, at most [`MAX_SIGNATURE_BYTES`].
fn read_limited(reader: std::io::Result<Box<dyn Read + '_>>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader?
        .take(MAX_SIGNATURE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(std::io::Error::other(format!(
            "a signature of more than {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}
