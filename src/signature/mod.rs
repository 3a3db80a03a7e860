//! CMS signatures (formats.md 7): verifying what participants sign, and signing what the hub
//! sends. See docs/SIGNATURES.md.
//!
//! [`verify_detached`] (and [`verify_detached_reader`], [`verify_detached_file`]) checks a
//! detached signature (`<file>.sig`, `<file>.BUH.SIG`, `.ISP.SIG`, `.DIR.SIG`) against the
//! content beside it; [`verify_enveloping`] checks a signature that carries its content and
//! returns the content. Signatures are read as DER, PEM or base64 text ([`decode`]). OpenSSL
//! makes the cryptographic check; the signer's certificate must then chain to the trust store
//! of the [`VerifyPolicy`], be valid at the signing time, and not be listed in a configured CRL.
//! The content is hashed as a stream and never handed to OpenSSL when the signature has signed
//! attributes (every signature the hub knows of has them), so memory does not grow with the
//! content; without signed attributes the content is held in memory up to a limit.
//! Whether a signer is registered to the sending participant is the caller's check, by the
//! certificate fingerprint: [`Verified::signed_by`].
//!
//! [`Signer`] signs the hub's own protocols and receipts. Called by package intake and by the
//! writers of protocols and receipts.

mod ber;
mod error;
mod sign;
mod signers;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use openssl::asn1::{Asn1Object, Asn1Time, Asn1TimeRef};
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::hash::{Hasher, MessageDigest};
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{
    CrlStatus, X509, X509Crl, X509NameRef, X509PurposeId, X509Ref, X509StoreContext,
    X509VerifyResult,
};

pub use error::{CertName, PolicyError, SignatureError};
pub use sign::Signer;

use crate::config::SignatureSettings;

/// A signing time this far ahead of the clock is still accepted (clocks differ), in seconds.
pub const FUTURE_TOLERANCE_SECS: i64 = 300;

/// Default of [`VerifyPolicy::max_in_memory_bytes`]: 256 MiB.
pub const DEFAULT_MAX_IN_MEMORY_BYTES: u64 = 256 << 20;

/// Read size while hashing content.
const CHUNK: usize = 64 << 10;

/// The SHA-256 fingerprint of a certificate's DER: what a participant's certificate is
/// registered by. Displayed as 64 lower-case hex digits; parsed from hex with or without `:`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
        if hex.len() != 64 {
            return Err(format!(
                "a SHA-256 fingerprint has 64 hex digits, this has {}",
                hex.len()
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| format!("`{text}` is not hex"))?;
        }
        Ok(Self(out))
    }
}

/// What the hub reports of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// `CN=…, O=…`, in certificate order.
    pub subject: String,
    /// The issuer, written the same way.
    pub issuer: String,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// SHA-256 of the certificate's DER.
    pub fingerprint: Fingerprint,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertificateInfo {
    /// Reads the fields of `cert`.
    pub fn of(cert: &X509Ref) -> Result<Self, ErrorStack> {
        let digest = cert.digest(MessageDigest::sha256())?;
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&digest);
        Ok(Self {
            subject: name_text(cert.subject_name()),
            issuer: name_text(cert.issuer_name()),
            serial: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            fingerprint: Fingerprint(fingerprint),
            not_before: asn1_time(cert.not_before()).unwrap_or(DateTime::UNIX_EPOCH),
            not_after: asn1_time(cert.not_after()).unwrap_or(DateTime::UNIX_EPOCH),
        })
    }

    /// Subject and serial, for messages.
    #[must_use]
    pub fn name(&self) -> CertName {
        CertName {
            subject: self.subject.clone(),
            serial: self.serial.clone(),
        }
    }
}

/// What is known of the revocation of a signer's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// A configured CRL of each issuer in the chain was found and does not list the
    /// certificate.
    NotRevoked,
    /// For at least one certificate of the chain no configured CRL of its issuer exists, so
    /// revocation was not checked there (allowed unless `signature.require_crl`).
    NoCrl,
}

/// One signer of an accepted signature.
#[derive(Debug, Clone)]
pub struct SignerReport {
    /// The signer's certificate.
    pub certificate: CertificateInfo,
    /// The issuers above it, up to and including the trust anchor.
    pub chain: Vec<CertificateInfo>,
    /// The `signingTime` signed attribute, when present. The signer states it: it is not a
    /// timestamp from a third party.
    pub signing_time: Option<DateTime<Utc>>,
    /// The time the certificates were checked at: the signing time, or the time of the check
    /// when the signature has none.
    pub checked_at: DateTime<Utc>,
    /// Digest algorithm (OpenSSL's name, `SHA256`; the OID when OpenSSL has no name).
    pub digest_algorithm: String,
    /// Signature algorithm (`rsaEncryption`, `ecdsa-with-SHA256`, `gost2012_256`…).
    pub signature_algorithm: String,
    pub revocation: Revocation,
}

/// An accepted signature: every signer passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signers, in the order of the signature (usually one).
    pub signers: Vec<SignerReport>,
}

impl Verified {
    /// The fingerprints of the signers' certificates.
    pub fn fingerprints(&self) -> impl Iterator<Item = &Fingerprint> {
        self.signers.iter().map(|s| &s.certificate.fingerprint)
    }

    /// Whether every signer's certificate is one of `registered` (the certificates registered
    /// to the sending participant).
    #[must_use]
    pub fn signed_by(&self, registered: &[Fingerprint]) -> bool {
        !self.signers.is_empty() && self.fingerprints().all(|f| registered.contains(f))
    }
}

/// What a signature is checked against: trust anchors, CRLs and limits. Build one at start-up
/// ([`VerifyPolicy::from_settings`]) and share it; it is `Send + Sync`.
#[derive(Clone)]
pub struct VerifyPolicy {
    trusted: Vec<X509>,
    crls: Vec<Arc<X509Crl>>,
    require_crl: bool,
    max_in_memory_bytes: u64,
    now: Option<DateTime<Utc>>,
}

impl fmt::Debug for VerifyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyPolicy")
            .field(
                "trusted",
                &self
                    .trusted
                    .iter()
                    .map(|c| name_text(c.subject_name()))
                    .collect::<Vec<_>>(),
            )
            .field("crls", &self.crls.len())
            .field("require_crl", &self.require_crl)
            .field("max_in_memory_bytes", &self.max_in_memory_bytes)
            .field("now", &self.now)
            .finish()
    }
}

impl VerifyPolicy {
    /// A policy trusting `trusted` (root certificates, and intermediates if wanted), with no
    /// CRL, revocation not required and the default memory limit.
    #[must_use]
    pub fn new(trusted: Vec<X509>) -> Self {
        Self {
            trusted,
            crls: Vec::new(),
            require_crl: false,
            max_in_memory_bytes: DEFAULT_MAX_IN_MEMORY_BYTES,
            now: None,
        }
    }

    /// Adds certificate revocation lists.
    #[must_use]
    pub fn with_crls(mut self, crls: Vec<X509Crl>) -> Self {
        self.crls.extend(crls.into_iter().map(Arc::new));
        self
    }

    /// Refuse a signer when no configured CRL covers a certificate of its chain.
    #[must_use]
    pub fn require_crl(mut self, require: bool) -> Self {
        self.require_crl = require;
        self
    }

    /// The most content held in memory for a signature without signed attributes.
    #[must_use]
    pub fn max_in_memory_bytes(mut self, limit: u64) -> Self {
        self.max_in_memory_bytes = limit;
        self
    }

    /// Checks as if the clock showed `now` (tests, re-checking an archived package).
    #[must_use]
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The trust anchors.
    #[must_use]
    pub fn trusted(&self) -> &[X509] {
        &self.trusted
    }

    /// The policy the configuration describes: `signature.trust_store` (a PEM or DER file, or
    /// a folder of them), `signature.crl` (PEM or DER files), `signature.require_crl`,
    /// `signature.max_in_memory_bytes`. An empty trust store is allowed (every signature is
    /// then untrusted); config validation refuses it when signatures are required.
    pub fn from_settings(settings: &SignatureSettings) -> Result<Self, PolicyError> {
        let trusted = if settings.trust_store.as_os_str().is_empty() {
            Vec::new()
        } else {
            load_certificates("signature.trust_store", &settings.trust_store)?
        };
        let mut crls = Vec::new();
        for path in &settings.crl {
            crls.extend(load_crls(path)?);
        }
        Ok(Self::new(trusted)
            .with_crls(crls)
            .require_crl(settings.require_crl)
            .max_in_memory_bytes(settings.max_in_memory_bytes))
    }

    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }
}

/// Reads `path`, naming `key` on failure.
pub(crate) fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, PolicyError> {
    std::fs::read(path).map_err(|e| PolicyError::Read {
        key,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Certificates from a PEM file (one or more), a DER file, or a folder of such files (every
/// regular file in it, not recursive; files that hold no certificate are refused).
pub fn load_certificates(key: &'static str, path: &Path) -> Result<Vec<X509>, PolicyError> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| PolicyError::Read {
            key,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| PolicyError::Read {
                key,
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            if entry.path().is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut certs = Vec::new();
    for file in &files {
        let bytes = read_file(key, file)?;
        let parsed = if looks_like_pem(&bytes) {
            X509::stack_from_pem(&bytes)
        } else {
            X509::from_der(&bytes).map(|c| vec![c])
        };
        match parsed {
            Ok(found) if !found.is_empty() => certs.extend(found),
            Ok(_) => {
                return Err(PolicyError::Parse {
                    key,
                    path: file.clone(),
                    expected: "a certificate (PEM or DER)",
                    reason: "no certificate in the file".into(),
                });
            }
            Err(e) => {
                return Err(PolicyError::Parse {
                    key,
                    path: file.clone(),
                    expected: "a certificate (PEM or DER)",
                    reason: e.to_string(),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(PolicyError::Invalid {
            key,
            problem: format!("no certificate in {}", path.display()),
        });
    }
    Ok(certs)
}

/// The CRLs of a PEM file (one or more) or a DER file.
pub fn load_crls(path: &Path) -> Result<Vec<X509Crl>, PolicyError> {
    const KEY: &str = "signature.crl";
    let bytes = read_file(KEY, path)?;
    let parse_error = |reason: String| PolicyError::Parse {
        key: KEY,
        path: path.to_owned(),
        expected: "a CRL (PEM or DER)",
        reason,
    };
    if !looks_like_pem(&bytes) {
        return X509Crl::from_der(&bytes)
            .map(|c| vec![c])
            .map_err(|e| parse_error(e.to_string()));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut crls = Vec::new();
    for block in pem_blocks(&text) {
        crls.push(X509Crl::from_pem(block.as_bytes()).map_err(|e| parse_error(e.to_string()))?);
    }
    if crls.is_empty() {
        return Err(parse_error("no CRL in the file".into()));
    }
    Ok(crls)
}

/// The `-----BEGIN …-----` … `-----END …-----` blocks of a PEM text.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let Some(end_marker) = rest[start..].find("-----END ") else {
            break;
        };
        let after = start + end_marker + "-----END ".len();
        let Some(close) = rest[after..].find("-----") else {
            break;
        };
        let end = after + close + 5;
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The DER of a signature given as DER, PEM (any label: `CMS`, `PKCS7`…) or base64 text
/// (whitespace and line breaks allowed), as regional tools write it.
pub fn decode(input: &[u8]) -> Result<Cow<'_, [u8]>, SignatureError> {
    let trimmed = input.trim_ascii();
    let as_der = (input.first() == Some(&0x30)).then(|| ber::parse_signed_data(input));
    if let Some(Ok(_)) = as_der {
        return Ok(Cow::Borrowed(input));
    }
    let text = std::str::from_utf8(trimmed).map_err(|_| {
        SignatureError::Malformed(match as_der {
            Some(Err(e)) => format!("not a CMS signature in DER: {}", e.0),
            _ => "neither DER nor PEM nor base64 text".into(),
        })
    })?;
    let body: String = if looks_like_pem(trimmed) {
        let blocks = pem_blocks(text);
        let [block] = blocks.as_slice() else {
            return Err(SignatureError::Malformed(format!(
                "a PEM signature holds one block, this holds {}",
                blocks.len()
            )));
        };
        block
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.contains(':'))
            .collect()
    } else {
        text.to_owned()
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty()
        || !compact
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    {
        return Err(SignatureError::Malformed(
            "neither DER nor PEM nor base64 text".into(),
        ));
    }
    if i32::try_from(compact.len()).is_err() {
        // OpenSSL's decoder takes an `int` length.
        return Err(SignatureError::Malformed("base64 text over 2 GiB".into()));
    }
    openssl::base64::decode_block(&compact)
        .map(Cow::Owned)
        .map_err(|e| SignatureError::Malformed(format!("bad base64: {e}")))
}

/// Verifies a detached signature of `content` held in memory.
pub fn verify_detached(
    content: &[u8],
    signature: &[u8],
    policy: &VerifyPolicy,
) -> Result<Verified, SignatureError> {
    verify_detached_reader(content, signature, policy)
}

/// Verifies a detached signature of the file at `path`, reading it as a stream.
pub fn verify_detached_file(
    path: &Path,
    signature: &[u8],
    policy: &VerifyPolicy,
) -> Result<Verified, SignatureError> {
    let file = std::fs::File::open(path)
        .map_err(|e| SignatureError::Io(format!("{}: {e}", path.display())))?;
    verify_detached_reader(io::BufReader::with_capacity(CHUNK, file), signature, policy)
}

/// Verifies a detached signature of the content `content` yields (a file, a ZIP entry).
///
/// With signed attributes (the usual case) the content is hashed in 64 KiB pieces and never
/// held whole. Without them OpenSSL needs it in memory: up to
/// [`VerifyPolicy::max_in_memory_bytes`], beyond which `content_too_large`. A signature that
/// carries a content of its own is accepted here only when that content equals `content`.
pub fn verify_detached_reader<R: Read>(
    mut content: R,
    signature: &[u8],
    policy: &VerifyPolicy,
) -> Result<Verified, SignatureError> {
    let der = decode(signature)?;
    let parsed = parse(&der)?;
    let digests = digests_of(&parsed)?;
    let embedded = parsed.content.as_ref().map(|chunks| {
        chunks
            .iter()
            .map(|r| der.get(r.clone()).unwrap_or_default())
            .collect::<Vec<_>>()
    });
    if parsed.signers.iter().all(|s| s.has_signed_attrs) {
        let small = ber::without_content(&der, &parsed)
            .ok_or_else(|| SignatureError::Malformed("cannot cut the content out".into()))?;
        let certs = openssl_check(&small, &parsed, Some(&[]), CMSOptions::NO_CONTENT_VERIFY)?;
        let mut hashers = Hashers::new(&digests)?;
        let mut same = embedded.map(Compare::new);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SignatureError::Io(e.to_string())),
            };
            hashers.update(&buf[..n])?;
            if let Some(same) = &mut same {
                same.feed(&buf[..n]);
            }
        }
        if let Some(same) = same
            && !same.equal()
        {
            return Err(SignatureError::ContentMismatch {
                cert: first_name(&certs),
                reason: "the signature carries a content different from the file".into(),
            });
        }
        let computed = hashers.finish()?;
        compare_digests(&parsed, &certs, &computed)?;
        finish(&der, &parsed, &certs, policy)
    } else {
        let mut data = Vec::new();
        let limit = policy.max_in_memory_bytes;
        content
            .by_ref()
            .take(limit.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| SignatureError::Io(e.to_string()))?;
        if data.len() as u64 > limit {
            return Err(SignatureError::ContentTooLarge { limit });
        }
        if let Some(embedded) = embedded
            && embedded.concat() != data
        {
            return Err(SignatureError::ContentMismatch {
                cert: unknown_cert(),
                reason: "the signature carries a content different from the file".into(),
            });
        }
        let certs = if parsed.content.is_some() {
            openssl_check(&der, &parsed, None, CMSOptions::empty())?
        } else {
            openssl_check(&der, &parsed, Some(&data), CMSOptions::empty())?
        };
        finish(&der, &parsed, &certs, policy)
    }
}

/// Verifies a signature that carries its content (an enveloping or attached CMS `.sig`) and
/// returns the content.
///
/// Memory: the signature bytes (the caller's) plus one copy of the content; OpenSSL gets the
/// signature with the content cut out. Without signed attributes OpenSSL needs the whole
/// signature, up to [`VerifyPolicy::max_in_memory_bytes`] of content.
pub fn verify_enveloping(
    signature: &[u8],
    policy: &VerifyPolicy,
) -> Result<(Verified, Vec<u8>), SignatureError> {
    let der = decode(signature)?;
    let parsed = parse(&der)?;
    let Some(chunks) = &parsed.content else {
        return Err(SignatureError::Malformed(
            "a detached signature carries no content: verify it with the file it signs".into(),
        ));
    };
    let digests = digests_of(&parsed)?;
    let size: usize = chunks.iter().map(ExactSizeIterator::len).sum();
    if parsed.signers.iter().all(|s| s.has_signed_attrs) {
        let small = ber::without_content(&der, &parsed)
            .ok_or_else(|| SignatureError::Malformed("cannot cut the content out".into()))?;
        let certs = openssl_check(&small, &parsed, Some(&[]), CMSOptions::NO_CONTENT_VERIFY)?;
        let mut hashers = Hashers::new(&digests)?;
        let mut content = Vec::with_capacity(size);
        for chunk in chunks {
            let bytes = der.get(chunk.clone()).unwrap_or_default();
            hashers.update(bytes)?;
            content.extend_from_slice(bytes);
        }
        let computed = hashers.finish()?;
        compare_digests(&parsed, &certs, &computed)?;
        Ok((finish(&der, &parsed, &certs, policy)?, content))
    } else {
        if size as u64 > policy.max_in_memory_bytes {
            return Err(SignatureError::ContentTooLarge {
                limit: policy.max_in_memory_bytes,
            });
        }
        let certs = openssl_check(&der, &parsed, None, CMSOptions::empty())?;
        let content = chunks
            .iter()
            .flat_map(|r| der.get(r.clone()).unwrap_or_default().iter().copied())
            .collect();
        Ok((finish(&der, &parsed, &certs, policy)?, content))
    }
}

fn parse(der: &[u8]) -> Result<ber::SignedData, SignatureError> {
    ber::parse_signed_data(der).map_err(|e| SignatureError::Malformed(e.0))
}

/// The OpenSSL name of an algorithm OID, or the OID.
fn algorithm_name(oid: &str) -> String {
    Asn1Object::from_str(oid)
        .ok()
        .map(|o| o.nid())
        .filter(|n| *n != Nid::UNDEF)
        .and_then(|n| n.short_name().ok())
        .map_or_else(|| oid.to_owned(), str::to_owned)
}

/// The digest of each distinct digest OID of the signers.
fn digests_of(parsed: &ber::SignedData) -> Result<BTreeMap<String, MessageDigest>, SignatureError> {
    let mut out = BTreeMap::new();
    for signer in &parsed.signers {
        if out.contains_key(&signer.digest_oid) {
            continue;
        }
        let md = Asn1Object::from_str(&signer.digest_oid)
            .ok()
            .map(|o| o.nid())
            .filter(|n| *n != Nid::UNDEF)
            .and_then(MessageDigest::from_nid)
            .ok_or_else(|| SignatureError::AlgorithmUnsupported {
                algorithm: format!(
                    "{} ({})",
                    algorithm_name(&signer.digest_oid),
                    signer.digest_oid
                ),
            })?;
        out.insert(signer.digest_oid.clone(), md);
    }
    Ok(out)
}

/// One running hash per digest algorithm.
struct Hashers(Vec<(String, Hasher)>);

impl Hashers {
    fn new(digests: &BTreeMap<String, MessageDigest>) -> Result<Self, SignatureError> {
        let mut out = Vec::new();
        for (oid, md) in digests {
            let hasher = Hasher::new(*md).map_err(|e| SignatureError::AlgorithmUnsupported {
                algorithm: format!("{} ({oid}): {e}", algorithm_name(oid)),
            })?;
            out.push((oid.clone(), hasher));
        }
        Ok(Self(out))
    }

    fn update(&mut self, bytes: &[u8]) -> Result<(), SignatureError> {
        for (_, h) in &mut self.0 {
            h.update(bytes)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<BTreeMap<String, Vec<u8>>, SignatureError> {
        let mut out = BTreeMap::new();
        for (oid, mut h) in self.0 {
            let d = h.finish()?;
            out.insert(oid, d.to_vec());
        }
        Ok(out)
    }
}

/// Compares a stream with the content a signature carries.
struct Compare<'a> {
    chunks: Vec<&'a [u8]>,
    index: usize,
    offset: usize,
    fed: usize,
    total: usize,
    equal: bool,
}

impl<'a> Compare<'a> {
    fn new(chunks: Vec<&'a [u8]>) -> Self {
        let total = chunks.iter().map(|c| c.len()).sum();
        Self {
            chunks,
            index: 0,
            offset: 0,
            fed: 0,
            total,
            equal: true,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        self.fed = self.fed.saturating_add(bytes.len());
        while self.equal && !bytes.is_empty() {
            let Some(chunk) = self.chunks.get(self.index) else {
                self.equal = false;
                return;
            };
            let left = chunk.get(self.offset..).unwrap_or_default();
            let n = left.len().min(bytes.len());
            if left[..n] != bytes[..n] {
                self.equal = false;
                return;
            }
            bytes = &bytes[n..];
            self.offset += n;
            if self.offset == chunk.len() {
                self.index += 1;
                self.offset = 0;
            }
        }
    }

    fn equal(&self) -> bool {
        self.equal && self.fed == self.total
    }
}

/// Lets OpenSSL check the signatures without the chain (that is ours): parses `der`, runs
/// `CMS_verify` with `flags`, and returns the signer certificates it matched, one per signer,
/// after making sure they are the ones the signature names.
fn openssl_check(
    der: &[u8],
    parsed: &ber::SignedData,
    detached: Option<&[u8]>,
    flags: CMSOptions,
) -> Result<Vec<X509>, SignatureError> {
    let mut cms = CmsContentInfo::from_der(der)
        .map_err(|e| SignatureError::Malformed(format!("OpenSSL cannot read it: {e}")))?;
    let result = cms.verify(
        None,
        None,
        detached,
        None,
        flags | CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY,
    );
    let certs = signers::signer_certificates(&cms);
    if let Err(e) = result {
        return Err(openssl_error(&e, parsed, &certs));
    }
    if certs.len() != parsed.signers.len() {
        return Err(SignatureError::SignerCertificateMissing);
    }
    for (cert, signer) in certs.iter().zip(&parsed.signers) {
        if !names_signer(cert, &signer.id) {
            return Err(SignatureError::Malformed(
                "the certificate OpenSSL matched is not the one the signer names".into(),
            ));
        }
    }
    // Two carried certificates answering to one signer would let the reader and OpenSSL
    // disagree on the key; refuse them.
    for signer in &parsed.signers {
        let matching = carried_certificates(der, parsed)
            .iter()
            .filter(|c| names_signer(c, &signer.id))
            .count();
        if matching > 1 {
            return Err(SignatureError::Malformed(
                "more than one certificate in the signature answers to a signer".into(),
            ));
        }
    }
    Ok(certs)
}

/// Whether `cert` is the certificate `id` names, compared as OpenSSL compares them.
fn names_signer(cert: &X509Ref, id: &ber::SignerId) -> bool {
    match id {
        ber::SignerId::IssuerSerial { issuer, serial } => {
            let Ok(name) = openssl::x509::X509Name::from_der(issuer) else {
                return false;
            };
            let same_issuer = name
                .try_cmp(cert.issuer_name())
                .is_ok_and(|o| o == Ordering::Equal);
            let same_serial = serial.first().is_none_or(|b| b & 0x80 == 0)
                && match (BigNum::from_slice(serial), cert.serial_number().to_bn()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                };
            same_issuer && same_serial
        }
        ber::SignerId::KeyId(id) => cert
            .subject_key_id()
            .is_some_and(|k| k.as_slice() == id.as_slice()),
    }
}

/// Maps a `CMS_verify` failure to the hub's reasons.
fn openssl_error(e: &ErrorStack, parsed: &ber::SignedData, certs: &[X509]) -> SignatureError {
    let reasons: Vec<String> = e
        .errors()
        .iter()
        .map(|x| x.reason().unwrap_or("unknown").to_owned())
        .collect();
    let text = reasons.join("; ");
    let lower = text.to_ascii_lowercase();
    if lower.contains("signer certificate not found") {
        return SignatureError::SignerCertificateMissing;
    }
    if lower.contains("unsupported")
        || lower.contains("unknown digest")
        || lower.contains("unknown signature")
        || lower.contains("unknown public key")
        || lower.contains("no such")
    {
        let algorithm = parsed
            .signers
            .iter()
            .map(|s| {
                format!(
                    "{} with {}",
                    algorithm_name(&s.signature_oid),
                    algorithm_name(&s.digest_oid)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return SignatureError::AlgorithmUnsupported {
            algorithm: format!("{algorithm} ({text})"),
        };
    }
    SignatureError::Invalid {
        cert: first_name(certs),
        reason: text,
    }
}

fn first_name(certs: &[X509]) -> CertName {
    certs
        .first()
        .and_then(|c| CertificateInfo::of(c).ok())
        .map_or_else(unknown_cert, |i| i.name())
}

fn unknown_cert() -> CertName {
    CertName {
        subject: "(unknown signer)".into(),
        serial: "?".into(),
    }
}

/// Compares each signer's signed `messageDigest` with the digest of the content.
fn compare_digests(
    parsed: &ber::SignedData,
    certs: &[X509],
    computed: &BTreeMap<String, Vec<u8>>,
) -> Result<(), SignatureError> {
    for (signer, cert) in parsed.signers.iter().zip(certs) {
        let Some(signed) = &signer.message_digest else {
            return Err(SignatureError::Malformed(
                "signed attributes without a messageDigest".into(),
            ));
        };
        if computed.get(&signer.digest_oid) != Some(signed) {
            return Err(SignatureError::ContentMismatch {
                cert: first_name(std::slice::from_ref(cert)),
                reason: format!(
                    "the {} digest of the content differs from the signed one",
                    algorithm_name(&signer.digest_oid)
                ),
            });
        }
    }
    Ok(())
}

/// The checks after the cryptography: signing time, chain at that time, revocation.
fn finish(
    der: &[u8],
    parsed: &ber::SignedData,
    certs: &[X509],
    policy: &VerifyPolicy,
) -> Result<Verified, SignatureError> {
    let now = policy.now();
    let mut untrusted = Stack::new()?;
    for cert in carried_certificates(der, parsed) {
        untrusted.push(cert)?;
    }
    let mut signers = Vec::new();
    for (signer, cert) in parsed.signers.iter().zip(certs) {
        let info = CertificateInfo::of(cert)?;
        let signing_time = match &signer.signing_time {
            Some((text, generalized)) => Some(parse_time(text, *generalized).ok_or_else(|| {
                SignatureError::Malformed(format!("signingTime `{text}` cannot be read"))
            })?),
            None => None,
        };
        if let Some(at) = signing_time
            && (at - now).num_seconds() > FUTURE_TOLERANCE_SECS
        {
            return Err(SignatureError::SigningTimeInFuture {
                cert: info.name(),
                at: at.to_rfc3339(),
            });
        }
        let checked_at = signing_time.unwrap_or(now);
        let chain = check_chain(cert, &untrusted, policy, checked_at)?;
        let revocation = check_revocation(&chain, policy)?;
        let mut chain_info = Vec::new();
        for c in chain.iter().skip(1) {
            chain_info.push(CertificateInfo::of(c)?);
        }
        signers.push(SignerReport {
            certificate: info,
            chain: chain_info,
            signing_time,
            checked_at,
            digest_algorithm: algorithm_name(&signer.digest_oid),
            signature_algorithm: algorithm_name(&signer.signature_oid),
            revocation,
        });
    }
    Ok(Verified { signers })
}

/// The certificates carried in the signature.
fn carried_certificates(der: &[u8], parsed: &ber::SignedData) -> Vec<X509> {
    parsed
        .certificates
        .iter()
        .filter_map(|r| der.get(r.clone()))
        .filter_map(|d| X509::from_der(d).ok())
        .collect()
}

/// Builds and checks the chain of `cert` at `at` against the trust anchors, with the
/// certificates of the signature as intermediates. Purpose: any (see docs/SIGNATURES.md).
fn check_chain(
    cert: &X509,
    untrusted: &Stack<X509>,
    policy: &VerifyPolicy,
    at: DateTime<Utc>,
) -> Result<Vec<X509>, SignatureError> {
    let mut builder = X509StoreBuilder::new()?;
    for anchor in &policy.trusted {
        builder.add_cert(anchor.clone())?;
    }
    let mut param = X509VerifyParam::new()?;
    param.set_time(at.timestamp());
    param.set_purpose(X509PurposeId::ANY)?;
    builder.set_param(&param)?;
    builder.set_purpose(X509PurposeId::ANY)?;
    let store = builder.build();
    let mut ctx = X509StoreContext::new()?;
    let outcome = ctx.init(&store, cert, untrusted, |c| {
        if c.verify_cert()? {
            let chain = c
                .chain()
                .map(|s| s.iter().map(X509Ref::to_owned).collect::<Vec<_>>())
                .unwrap_or_default();
            Ok(Ok(chain))
        } else {
            let culprit = c.current_cert().map(X509Ref::to_owned);
            Ok(Err((c.error(), culprit)))
        }
    })?;
    match outcome {
        Ok(chain) => Ok(chain),
        Err((error, culprit)) => Err(chain_error(error, cert, culprit.as_ref(), at)),
    }
}

fn chain_error(
    error: X509VerifyResult,
    signer: &X509,
    culprit: Option<&X509>,
    at: DateTime<Utc>,
) -> SignatureError {
    let cert = culprit.unwrap_or(signer);
    let info = CertificateInfo::of(cert).ok();
    let name = info
        .as_ref()
        .map_or_else(unknown_cert, CertificateInfo::name);
    match error.as_raw() {
        openssl_sys::X509_V_ERR_CERT_HAS_EXPIRED => SignatureError::Expired {
            cert: name,
            at: at.to_rfc3339(),
            not_after: info.map(|i| i.not_after.to_rfc3339()).unwrap_or_default(),
        },
        openssl_sys::X509_V_ERR_CERT_NOT_YET_VALID => SignatureError::NotYetValid {
            cert: name,
            at: at.to_rfc3339(),
            not_before: info.map(|i| i.not_before.to_rfc3339()).unwrap_or_default(),
        },
        _ => {
            let signer_name = first_name(std::slice::from_ref(signer));
            let mut reason = error.error_string().to_owned();
            if culprit.is_some_and(|c| c.to_der().ok() != signer.to_der().ok()) {
                reason = format!("{reason} (at {name})");
            }
            SignatureError::Untrusted {
                cert: signer_name,
                reason,
            }
        }
    }
}

/// Looks each certificate of the chain but the anchor up in the CRLs of its issuer (CRLs whose
/// signature the issuer's key verifies), by issuer and serial.
fn check_revocation(chain: &[X509], policy: &VerifyPolicy) -> Result<Revocation, SignatureError> {
    let mut covered = true;
    for pair in chain.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let Ok(issuer_key) = issuer.public_key() else {
            continue;
        };
        let crls: Vec<&Arc<X509Crl>> = policy
            .crls
            .iter()
            .filter(|crl| {
                crl.issuer_name()
                    .try_cmp(issuer.subject_name())
                    .is_ok_and(|o| o == Ordering::Equal)
                    && crl.verify(&issuer_key).unwrap_or(false)
            })
            .collect();
        if crls.is_empty() {
            if policy.require_crl {
                return Err(SignatureError::RevocationUnknown {
                    cert: first_name(std::slice::from_ref(cert)),
                    issuer: name_text(issuer.subject_name()),
                });
            }
            covered = false;
        }
        for crl in crls {
            if let CrlStatus::Revoked(entry) = crl.get_by_cert(cert) {
                return Err(SignatureError::Revoked {
                    cert: first_name(std::slice::from_ref(cert)),
                    crl_issuer: name_text(crl.issuer_name()),
                    revoked_on: asn1_time(entry.revocation_date())
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                });
            }
        }
    }
    Ok(if covered {
        Revocation::NotRevoked
    } else {
        Revocation::NoCrl
    })
}

/// `CN=…, O=…` in the order of the name.
fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e
                .object()
                .nid()
                .short_name()
                .map_or_else(|_| e.object().to_string(), str::to_owned);
            let value = e.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn asn1_time(t: &Asn1TimeRef) -> Option<DateTime<Utc>> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    DateTime::from_timestamp(i64::from(diff.days) * 86_400 + i64::from(diff.secs), 0)
}

/// A `UTCTime` (`YYMMDDHHMMSSZ`, years 50–99 are 19xx) or `GeneralizedTime`
/// (`YYYYMMDDHHMMSS[.f]Z`).
fn parse_time(text: &str, generalized: bool) -> Option<DateTime<Utc>> {
    let text = text.strip_suffix('Z')?;
    let full = if generalized {
        text.split('.').next()?.to_owned()
    } else {
        let yy: u32 = text.get(..2)?.parse().ok()?;
        format!("{}{text}", if yy >= 50 { "19" } else { "20" })
    };
    if full.len() != 14 || !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod test_pki;
#[cfg(test)]
mod tests;
