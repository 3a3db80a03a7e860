//! CMS signatures between the hub and the `openssl` command line, both ways: the system's
//! `openssl cms -verify` accepts what the hub signs, and the hub accepts what `openssl cms
//! -sign` makes (detached, enveloping, BER streaming, PEM, two signers, no attributes, RSA-PSS,
//! SHA-512). The policy and the hub's signer built from configuration files. GOST R 34.10-2012
//! when the system has the GOST engine. The PKI is generated at test time (no key is committed).
//! Tests that need the `openssl` binary print a note and pass when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use omshub::config::Settings;
use omshub::signature::{
    Revocation, Signer, VerifyPolicy, verify_detached, verify_detached_file, verify_enveloping,
};

#[path = "../../src/signature/test_pki.rs"]
#[expect(
    dead_code,
    reason = "the unit tests of `signature` use the rest of the test PKI"
)]
pub(crate) mod test_pki;

use test_pki::{Identity, pki};

const CONTENT: &[u8] = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>\r\n<PERS_LIST/>\r\n";

/// Runs `openssl args…`; `None` (with a note) when the binary is missing.
fn openssl(args: &[&str], envs: &[(&str, &Path)]) -> Option<Output> {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("note: the `openssl` binary is missing; interoperability not checked");
            None
        }
        Err(e) => panic!("openssl: {e}"),
    }
}

fn pem(cert: &openssl::x509::X509) -> Vec<u8> {
    cert.to_pem().unwrap()
}

/// Writes the signer's certificate, key, the intermediate and the root as PEM files.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(signer: &Identity) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = pki();
        std::fs::write(dir.path().join("signer.pem"), pem(&signer.cert)).unwrap();
        std::fs::write(
            dir.path().join("signer.key"),
            signer.key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("sub.pem"), pem(&p.intermediate.cert)).unwrap();
        std::fs::write(dir.path().join("root.pem"), pem(&p.root.cert)).unwrap();
        std::fs::write(dir.path().join("data.xml"), CONTENT).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn policy() -> VerifyPolicy {
    VerifyPolicy::new(vec![pki().root.cert.clone()])
}

#[test]
fn openssl_cli_verifies_what_the_hub_signs() {
    let f = Files::new(&pki().client_auth_only);
    // the certificate file carries the chain after the hub's certificate
    let mut bundle = std::fs::read(f.path("signer.pem")).unwrap();
    bundle.extend(std::fs::read(f.path("sub.pem")).unwrap());
    std::fs::write(f.path("bundle.pem"), bundle).unwrap();
    let signer = Signer::from_files(&f.path("bundle.pem"), &f.path("signer.key"), None).unwrap();
    let sig = signer.sign_detached(CONTENT).unwrap();
    std::fs::write(f.path("data.xml.sig"), &sig).unwrap();
    let verify = |content: &str| {
        openssl(
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                &f.s("data.xml.sig"),
                "-content",
                &f.s(content),
                "-CAfile",
                &f.s("root.pem"),
                "-purpose",
                "any",
                "-out",
                &f.s("out"),
            ],
            &[],
        )
    };
    let Some(out) = verify("data.xml") else {
        return;
    };
    assert!(
        out.status.success(),
        "openssl cms -verify refused the hub's signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(f.path("out")).unwrap(), CONTENT);
    std::fs::write(f.path("other.xml"), b"something else").unwrap();
    let out = verify("other.xml").unwrap();
    assert!(!out.status.success(), "a changed content must fail");
    // and our own verifier agrees
    assert!(verify_detached_file(&f.path("data.xml"), &sig, &policy()).is_ok());
}

/// `openssl cms -sign` with the signer of `f` and `extra` arguments; the signature's path.
fn cli_sign(f: &Files, out: &str, extra: &[&str]) -> Option<PathBuf> {
    let (data, sub, signer, key, target) = (
        f.s("data.xml"),
        f.s("sub.pem"),
        f.s("signer.pem"),
        f.s("signer.key"),
        f.s(out),
    );
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-in",
        data.as_str(),
        "-certfile",
        sub.as_str(),
        "-signer",
        signer.as_str(),
        "-inkey",
        key.as_str(),
        "-out",
        target.as_str(),
    ];
    args.extend_from_slice(extra);
    let output = openssl(&args, &[])?;
    assert!(
        output.status.success(),
        "openssl cms -sign {extra:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(f.path(out))
}

#[test]
fn the_hub_accepts_what_openssl_cli_signs() {
    let p = pki();
    let f = Files::new(&p.ec);
    // detached DER, the form formats.md 7 names
    let Some(sig) = cli_sign(&f, "a.sig", &["-outform", "DER"]) else {
        return;
    };
    let v =
        verify_detached_file(&f.path("data.xml"), &std::fs::read(sig).unwrap(), &policy()).unwrap();
    assert!(v.signers[0].certificate.subject.contains("Signer EC"));
    assert!(v.signers[0].signing_time.is_some());
    // detached PEM
    let sig = cli_sign(&f, "b.pem", &["-outform", "PEM"]).unwrap();
    assert!(verify_detached(CONTENT, &std::fs::read(sig).unwrap(), &policy()).is_ok());
    // enveloping DER
    let sig = cli_sign(&f, "c.sig", &["-nodetach", "-outform", "DER"]).unwrap();
    let (_, content) = verify_enveloping(&std::fs::read(sig).unwrap(), &policy()).unwrap();
    assert_eq!(content, CONTENT);
    // enveloping BER with indefinite lengths and a chunked content (streaming mode)
    let sig = cli_sign(&f, "d.sig", &["-nodetach", "-stream", "-outform", "DER"]).unwrap();
    let bytes = std::fs::read(sig).unwrap();
    assert_eq!(
        bytes[1], 0x80,
        "an indefinite length is expected from -stream"
    );
    let (_, content) = verify_enveloping(&bytes, &policy()).unwrap();
    assert_eq!(content, CONTENT);
    // no signed attributes: no signing time
    let sig = cli_sign(&f, "e.sig", &["-noattr", "-outform", "DER"]).unwrap();
    let v = verify_detached(CONTENT, &std::fs::read(sig).unwrap(), &policy()).unwrap();
    assert!(v.signers[0].signing_time.is_none());
    // SHA-512
    let sig = cli_sign(&f, "f.sig", &["-md", "sha512", "-outform", "DER"]).unwrap();
    let v = verify_detached(CONTENT, &std::fs::read(sig).unwrap(), &policy()).unwrap();
    assert_eq!(v.signers[0].digest_algorithm, "SHA512");
    // a changed content is refused
    let sig = std::fs::read(f.path("a.sig")).unwrap();
    let err = verify_detached(b"changed", &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "content_mismatch");
}

#[test]
fn rsa_pss_and_two_signers_from_openssl_cli() {
    let p = pki();
    let f = Files::new(&p.rsa);
    let Some(sig) = cli_sign(
        &f,
        "pss.sig",
        &["-keyopt", "rsa_padding_mode:pss", "-outform", "DER"],
    ) else {
        return;
    };
    let v = verify_detached(CONTENT, &std::fs::read(sig).unwrap(), &policy()).unwrap();
    assert_eq!(v.signers[0].signature_algorithm, "RSASSA-PSS");
    // a second signer (the EC certificate) beside the RSA one
    let ec = Files::new(&p.ec);
    let sig = cli_sign(
        &f,
        "two.sig",
        &[
            "-signer",
            &ec.s("signer.pem"),
            "-inkey",
            &ec.s("signer.key"),
            "-outform",
            "DER",
        ],
    )
    .unwrap();
    let v = verify_detached(CONTENT, &std::fs::read(sig).unwrap(), &policy()).unwrap();
    let subjects: Vec<&str> = v
        .signers
        .iter()
        .map(|s| s.certificate.subject.as_str())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let ec_fp = v.signers[1].certificate.fingerprint;
    assert!(!v.signed_by(&[ec_fp]), "both signers must be registered");
    assert!(v.signed_by(&[ec_fp, v.signers[0].certificate.fingerprint]));
}

fn settings(toml: &str) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omshub.toml");
    std::fs::write(&path, toml).unwrap();
    Settings::load_without_env(Some(&path)).unwrap()
}

#[test]
fn policy_and_signer_come_from_the_configuration() {
    let p = pki();
    let f = Files::new(&p.revoked);
    // a folder trust store holding one PEM and one DER certificate
    let store = f.path("ca");
    std::fs::create_dir(&store).unwrap();
    std::fs::write(store.join("root.pem"), pem(&p.root.cert)).unwrap();
    std::fs::write(store.join("other.cer"), p.other_root.cert.to_der().unwrap()).unwrap();
    std::fs::write(f.path("sub.crl"), p.crl.to_pem().unwrap()).unwrap();
    std::fs::write(
        f.path("root.crl"),
        test_pki::crl(&p.root, &[]).to_der().unwrap(),
    )
    .unwrap();
    let toml = format!(
        "[signature]\ntrust_store = \"{}\"\ncrl = [\"{}\", \"{}\"]\nrequire_crl = true\n\
         hub_certificate = \"{}\"\nhub_key = \"{}\"\nhub_chain = \"{}\"\n\
         [signature.required]\nH = [\"sig\"]\n",
        store.display(),
        f.s("sub.crl"),
        f.s("root.crl"),
        f.s("signer.pem"),
        f.s("signer.key"),
        f.s("sub.pem"),
    );
    let s = settings(&toml);
    let policy = VerifyPolicy::from_settings(&s.signature).unwrap();
    assert_eq!(policy.trusted().len(), 2);
    // the revoked signer is refused, the EC one passes with both CRLs checked
    let hub = Signer::from_settings(&s.signature).unwrap().unwrap();
    let sig = hub.sign_detached(CONTENT).unwrap();
    let err = verify_detached(CONTENT, &sig, &policy).unwrap_err();
    assert_eq!(err.code(), "certificate_revoked");
    let ec = test_pki::sign(&p.ec, CONTENT, test_pki::DETACHED);
    let v = verify_detached(CONTENT, &ec, &policy).unwrap();
    assert_eq!(v.signers[0].revocation, Revocation::NotRevoked);
    // a signer of the other root, trusted through the DER file of the folder
    let foreign = test_pki::sign(&p.foreign, CONTENT, test_pki::DETACHED);
    let err = verify_detached(CONTENT, &foreign, &policy).unwrap_err();
    assert_eq!(err.code(), "revocation_unknown", "{err}");
    // defaults: no signer, an empty policy
    let defaults = Settings::load_without_env(None).unwrap();
    assert!(
        Signer::from_settings(&defaults.signature)
            .unwrap()
            .is_none()
    );
    assert!(
        VerifyPolicy::from_settings(&defaults.signature)
            .unwrap()
            .trusted()
            .is_empty()
    );
    // a file that is not a certificate names its key
    std::fs::write(store.join("notes.txt"), b"not a certificate").unwrap();
    let err = VerifyPolicy::from_settings(&s.signature)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`signature.trust_store`") && err.contains("notes.txt"),
        "{err}"
    );
    std::fs::write(
        f.path("sub.crl"),
        b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    std::fs::remove_file(store.join("notes.txt")).unwrap();
    let err = VerifyPolicy::from_settings(&s.signature)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`signature.crl`"), "{err}");
}

/// GOST R 34.10-2012: made by the system `openssl` with Debian's engine; what the hub's build
/// makes of it. The vendored OpenSSL (the default `bundled` feature) has no GOST: it must say
/// `algorithm_unsupported`, not accept or crash. With `--no-default-features` (system OpenSSL)
/// the child process gets `OPENSSL_CONF` loading the engine and must accept the signature.
#[test]
fn gost_signatures_as_the_build_supports_them() {
    let engine = Path::new("/usr/lib/x86_64-linux-gnu/engines-3/gost.so");
    if !engine.exists() {
        println!("note: libengine-gost-openssl is not installed; GOST not checked");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("gost.cnf");
    std::fs::write(
        &conf,
        format!(
            "openssl_conf = openssl_def\n[openssl_def]\nengines = engine_section\n\
             [engine_section]\ngost = gost_section\n[gost_section]\nengine_id = gost\n\
             dynamic_path = {}\ndefault_algorithms = ALL\n",
            engine.display()
        ),
    )
    .unwrap();
    let d = |n: &str| dir.path().join(n).display().to_string();
    let env = [("OPENSSL_CONF", conf.as_path())];
    let steps: [&[&str]; 3] = [
        &[
            "genpkey",
            "-algorithm",
            "gost2012_256",
            "-pkeyopt",
            "paramset:A",
            "-out",
            &d("key.pem"),
        ],
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            &d("key.pem"),
            "-subj",
            "/CN=GOST test",
            "-days",
            "30",
            "-md_gost12_256",
            "-out",
            &d("cert.pem"),
        ],
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            &d("cert.pem"),
            "-signer",
            &d("cert.pem"),
            "-inkey",
            &d("key.pem"),
            "-md",
            "md_gost12_256",
            "-outform",
            "DER",
            "-out",
            &d("data.sig"),
        ],
    ];
    for args in steps {
        let Some(out) = openssl(args, &env) else {
            return;
        };
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if cfg!(feature = "bundled") {
        let cert = openssl::x509::X509::from_pem(&std::fs::read(d("cert.pem")).unwrap()).unwrap();
        let policy = VerifyPolicy::new(vec![cert]);
        let content = std::fs::read(d("cert.pem")).unwrap();
        let sig = std::fs::read(d("data.sig")).unwrap();
        let err = verify_detached(&content, &sig, &policy).unwrap_err();
        assert_eq!(err.code(), "algorithm_unsupported", "{err}");
        println!("vendored OpenSSL: {err}");
    } else {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "signature::gost_child",
                "--ignored",
                "--nocapture",
            ])
            .env("OPENSSL_CONF", &conf)
            .env("OMSHUB_TEST_GOST_DIR", dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("GOST verified"),
            "{text}"
        );
    }
}

/// Run by `gost_signatures_as_the_build_supports_them` in a child process with `OPENSSL_CONF`.
#[test]
#[ignore = "run in a child process with OPENSSL_CONF by gost_signatures_as_the_build_supports_them"]
fn gost_child() {
    let dir = PathBuf::from(std::env::var("OMSHUB_TEST_GOST_DIR").unwrap());
    let cert_pem = std::fs::read(dir.join("cert.pem")).unwrap();
    let cert = openssl::x509::X509::from_pem(&cert_pem).unwrap();
    let sig = std::fs::read(dir.join("data.sig")).unwrap();
    let v = verify_detached(&cert_pem, &sig, &VerifyPolicy::new(vec![cert])).unwrap();
    println!(
        "GOST verified: {} with {}",
        v.signers[0].signature_algorithm, v.signers[0].digest_algorithm
    );
}

/// Peak resident memory of this process since the last reset, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak so that the next reading covers only what follows (Linux 4.0+).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Measures what docs/SIGNATURES.md reports: the memory and time of a detached check of a
/// 256 MiB file (streamed: memory must not grow with it) and of an enveloping check of a
/// 64 MiB signature (one copy of the content). Run alone, in release for the times:
/// `cargo test --release --test it signature::memory -- --ignored --nocapture`.
#[test]
#[ignore = "writes 320 MiB and measures memory; run alone with --ignored --nocapture"]
fn memory_of_a_large_content() {
    use std::io::Write;
    let f = Files::new(&pki().ec);
    // cli_sign signs data.xml: 256 MiB of records
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(f.path("data.xml")).unwrap());
        let line = b"<ZAP><N_ZAP>1</N_ZAP><PACIENT><ID_PAC>0123456789</ID_PAC></PACIENT></ZAP>\r\n";
        for _ in 0..=(256 << 20) / line.len() {
            out.write_all(line).unwrap();
        }
    }
    let Some(sig) = cli_sign(&f, "big.sig", &["-outform", "DER"]) else {
        return;
    };
    let signature = std::fs::read(sig).unwrap();
    let policy = policy();
    let (result, added) = measured("detached, streamed from disk", || {
        verify_detached_file(&f.path("data.xml"), &signature, &policy)
    });
    result.unwrap();
    assert!(
        added < 32 << 10,
        "a streamed check must not hold the content"
    );
    let started = std::time::Instant::now();
    let out = openssl(
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &f.s("big.sig"),
            "-content",
            &f.s("data.xml"),
            "-CAfile",
            &f.s("root.pem"),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        &[],
    )
    .unwrap();
    assert!(out.status.success());
    println!(
        "openssl cms -verify of the same file: {:.2?}",
        started.elapsed()
    );

    // enveloping: 64 MiB inside the signature
    let content = std::fs::read(f.path("data.xml")).unwrap();
    std::fs::write(f.path("data.xml"), &content[..64 << 20]).unwrap();
    drop(content);
    let sig = cli_sign(&f, "env.sig", &["-nodetach", "-outform", "DER"]).unwrap();
    let signature = std::fs::read(sig).unwrap();
    let (result, added) = measured("enveloping, signature in memory", || {
        verify_enveloping(&signature, &policy)
    });
    assert_eq!(result.unwrap().1.len(), 64 << 20);
    assert!(
        added < (64 + 32) << 10,
        "an enveloping check holds one copy of the content"
    );
}

/// Runs `check`, prints its time and the peak memory it added, and returns both.
fn measured<T>(what: &str, check: impl FnOnce() -> T) -> (T, u64) {
    reset_peak_rss();
    let before = peak_rss_kib().unwrap_or(0);
    let started = std::time::Instant::now();
    let result = check();
    let took = started.elapsed();
    let added = peak_rss_kib().unwrap_or(0).saturating_sub(before);
    println!(
        "{what}: {took:.2?}, peak RSS {} MiB + {} MiB",
        before >> 10,
        added >> 10
    );
    (result, added)
}
