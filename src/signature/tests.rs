//! Unit tests of `signature` on the test PKI of [`super::test_pki`]: one test per error code,
//! positive and negative, and the accepted forms.

use std::io::Read;

use chrono::{Duration, Utc};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;

use super::test_pki::{DETACHED, ENVELOPING, How, Identity, pki, sign};
use super::*;

const CONTENT: &[u8] = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><ZL_LIST/>\r\n";

fn policy() -> VerifyPolicy {
    VerifyPolicy::new(vec![pki().root.cert.clone()])
}

fn copy(crl: &openssl::x509::X509Crl) -> openssl::x509::X509Crl {
    openssl::x509::X509Crl::from_der(&crl.to_der().unwrap()).unwrap()
}

fn code(result: Result<Verified, SignatureError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn detached_rsa_and_ecdsa_signatures_verify() {
    let p = pki();
    for (who, alg) in [(&p.rsa, "rsaEncryption"), (&p.ec, "ecdsa-with-SHA256")] {
        let sig = sign(who, CONTENT, DETACHED);
        let v = verify_detached(CONTENT, &sig, &policy()).unwrap();
        let [s] = v.signers.as_slice() else {
            panic!("one signer expected")
        };
        let want = who.cert.digest(MessageDigest::sha256()).unwrap();
        assert_eq!(s.certificate.fingerprint.0.as_slice(), &want[..]);
        assert!(
            s.certificate.subject.contains("CN=Signer"),
            "{}",
            s.certificate.subject
        );
        assert!(s.certificate.issuer.contains("CN=Test SubCA"));
        assert_eq!(s.digest_algorithm, "SHA256");
        // OpenSSL writes rsaEncryption for RSA PKCS#1 v1.5 and ecdsa-with-SHA256 for ECDSA.
        assert_eq!(s.signature_algorithm, alg);
        let at = s.signing_time.expect("CMS_sign adds signingTime");
        assert!((Utc::now() - at).num_seconds().abs() < 120);
        assert_eq!(s.checked_at, at);
        assert_eq!(s.chain.len(), 2, "intermediate and root");
        assert!(s.chain[1].subject.contains("Test Root CA"));
        assert_eq!(s.revocation, Revocation::NoCrl);
        assert!(s.certificate.not_before < at && at < s.certificate.not_after);
    }
}

#[test]
fn enveloping_signature_verifies_and_returns_the_content() {
    let sig = sign(&pki().ec, CONTENT, ENVELOPING);
    let (v, content) = verify_enveloping(&sig, &policy()).unwrap();
    assert_eq!(content, CONTENT);
    assert_eq!(v.signers.len(), 1);
    // a larger content, so that lengths take several octets
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let sig = sign(&pki().rsa, &big, ENVELOPING);
    let (_, content) = verify_enveloping(&sig, &policy()).unwrap();
    assert_eq!(content, big);
}

#[test]
fn content_mismatch() {
    let p = pki();
    let sig = sign(&p.ec, CONTENT, DETACHED);
    let mut other = CONTENT.to_vec();
    other[10] ^= 1;
    let err = verify_detached(&other, &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "content_mismatch");
    assert!(err.to_string().contains("Signer EC"), "{err}");
    assert_eq!(
        code(verify_detached(b"", &sig, &policy())),
        "content_mismatch"
    );
    // the content inside an enveloping signature changed
    let mut sig = sign(&p.ec, CONTENT, ENVELOPING);
    let at = sig
        .windows(CONTENT.len())
        .position(|w| w == CONTENT)
        .unwrap();
    sig[at + 3] ^= 1;
    assert_eq!(
        verify_enveloping(&sig, &policy()).unwrap_err().code(),
        "content_mismatch"
    );
}

#[test]
fn signature_invalid() {
    let p = pki();
    for who in [&p.rsa, &p.ec] {
        let mut sig = sign(who, CONTENT, DETACHED);
        // The signature value is the last element of the only SignerInfo.
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        let err = verify_detached(CONTENT, &sig, &policy()).unwrap_err();
        assert_eq!(err.code(), "signature_invalid", "{err}");
        assert!(err.to_string().contains("Signer"), "{err}");
    }
}

#[test]
fn signer_untrusted() {
    let p = pki();
    let sig = sign(&p.foreign, CONTENT, DETACHED);
    let err = verify_detached(CONTENT, &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "signer_untrusted");
    assert!(err.to_string().contains("Signer foreign"), "{err}");
    // a signer of our CA, checked against another root only
    let other = VerifyPolicy::new(vec![p.other_root.cert.clone()]);
    let sig = sign(&p.ec, CONTENT, DETACHED);
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &other)),
        "signer_untrusted"
    );
    // an empty trust store trusts nobody
    assert_eq!(
        code(verify_detached(
            CONTENT,
            &sig,
            &VerifyPolicy::new(Vec::new())
        )),
        "signer_untrusted"
    );
    // without the intermediate in the signature or the store, the chain cannot be built
    let bare = sign(
        &p.ec,
        CONTENT,
        How {
            with_chain: false,
            ..DETACHED
        },
    );
    assert_eq!(
        code(verify_detached(CONTENT, &bare, &policy())),
        "signer_untrusted"
    );
    let with_intermediate =
        VerifyPolicy::new(vec![p.root.cert.clone(), p.intermediate.cert.clone()]);
    assert_eq!(
        code(verify_detached(CONTENT, &bare, &with_intermediate)),
        "ok"
    );
}

#[test]
fn certificate_expired_and_not_yet_valid() {
    let p = pki();
    let sig = sign(&p.expired, CONTENT, DETACHED);
    let err = verify_detached(CONTENT, &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "certificate_expired");
    assert!(err.to_string().contains("Signer expired"), "{err}");
    assert!(err.to_string().contains("serial 67"), "{err}"); // 103
    let sig = sign(&p.not_yet_valid, CONTENT, DETACHED);
    let err = verify_detached(CONTENT, &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "certificate_not_yet_valid");
}

#[test]
fn certificates_are_checked_at_the_signing_time() {
    // Two years on, the signer's certificate has expired, but it was valid when it signed.
    let sig = sign(&pki().ec, CONTENT, DETACHED);
    let later = policy().at(Utc::now() + Duration::days(730));
    let v = verify_detached(CONTENT, &sig, &later).unwrap();
    assert_eq!(Some(v.signers[0].checked_at), v.signers[0].signing_time);
    // Without a signing time, the certificates are checked at the time of the check.
    let no_attrs = sign(
        &pki().ec,
        CONTENT,
        How {
            no_attributes: true,
            ..DETACHED
        },
    );
    let v = verify_detached(CONTENT, &no_attrs, &policy()).unwrap();
    assert!(v.signers[0].signing_time.is_none());
    assert_eq!(
        code(verify_detached(CONTENT, &no_attrs, &later)),
        "certificate_expired"
    );
}

#[test]
fn signing_time_in_future() {
    let sig = sign(&pki().ec, CONTENT, DETACHED);
    let earlier = policy().at(Utc::now() - Duration::hours(1));
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &earlier)),
        "signing_time_in_future"
    );
    let slightly = policy().at(Utc::now() - Duration::seconds(60));
    assert_eq!(code(verify_detached(CONTENT, &sig, &slightly)), "ok");
}

#[test]
fn certificate_revoked() {
    let p = pki();
    let with_crl = policy().with_crls(vec![copy(&p.crl)]);
    let sig = sign(&p.revoked, CONTENT, DETACHED);
    let err = verify_detached(CONTENT, &sig, &with_crl).unwrap_err();
    assert_eq!(err.code(), "certificate_revoked");
    assert!(err.to_string().contains("Signer revoked"), "{err}");
    // without the CRL, the same signature passes with revocation unchecked
    let v = verify_detached(CONTENT, &sig, &policy()).unwrap();
    assert_eq!(v.signers[0].revocation, Revocation::NoCrl);
    // a signer not in the CRL: the intermediate is covered, the root's CRL is missing
    let sig = sign(&p.ec, CONTENT, DETACHED);
    let v = verify_detached(CONTENT, &sig, &with_crl).unwrap();
    assert_eq!(v.signers[0].revocation, Revocation::NoCrl);
    let root_crl = test_pki::crl(&p.root, &[]);
    let full = policy().with_crls(vec![copy(&p.crl), root_crl]);
    let v = verify_detached(CONTENT, &sig, &full).unwrap();
    assert_eq!(v.signers[0].revocation, Revocation::NotRevoked);
    // a revoked intermediate revokes everything below it
    let root_revokes_intermediate = test_pki::crl(&p.root, &[2]);
    let revoked_ca = policy().with_crls(vec![root_revokes_intermediate]);
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &revoked_ca)),
        "certificate_revoked"
    );
}

#[test]
fn a_crl_not_signed_by_the_issuer_is_ignored() {
    let p = pki();
    // Names the intermediate as issuer, but is signed by another key.
    let forged = {
        let impostor = Identity {
            cert: p.intermediate.cert.clone(),
            key: p.other_root.key.clone(),
        };
        test_pki::crl(&impostor, &[101])
    };
    let sig = sign(&p.ec, CONTENT, DETACHED);
    let v = verify_detached(CONTENT, &sig, &policy().with_crls(vec![forged])).unwrap();
    assert_eq!(v.signers[0].revocation, Revocation::NoCrl);
}

#[test]
fn revocation_unknown() {
    let p = pki();
    let sig = sign(&p.ec, CONTENT, DETACHED);
    let strict = policy().require_crl(true);
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &strict)),
        "revocation_unknown"
    );
    let covered = strict.with_crls(vec![copy(&p.empty_crl), test_pki::crl(&p.root, &[])]);
    assert_eq!(code(verify_detached(CONTENT, &sig, &covered)), "ok");
}

#[test]
fn client_auth_only_certificate_is_accepted() {
    let sig = sign(&pki().client_auth_only, CONTENT, DETACHED);
    let v = verify_detached(CONTENT, &sig, &policy()).unwrap();
    assert!(v.signers[0].certificate.subject.contains("clientAuth"));
}

#[test]
fn der_pem_and_base64_are_read() {
    let der = sign(&pki().ec, CONTENT, DETACHED);
    let cms = CmsContentInfo::from_der(&der).unwrap();
    let pem = cms.to_pem().unwrap();
    assert!(pem.starts_with(b"-----BEGIN CMS-----"));
    let b64 = openssl::base64::encode_block(&der);
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .flat_map(|l| [std::str::from_utf8(l).unwrap(), "\r\n"])
        .collect();
    let pkcs7 = format!("-----BEGIN PKCS7-----\n{wrapped}-----END PKCS7-----\n");
    for input in [
        der.clone(),
        pem,
        b64.clone().into_bytes(),
        wrapped.into_bytes(),
        pkcs7.into_bytes(),
    ] {
        assert_eq!(code(verify_detached(CONTENT, &input, &policy())), "ok");
        assert_eq!(decode(&input).unwrap().as_ref(), der.as_slice());
    }
}

#[test]
fn signature_malformed() {
    for garbage in [
        &b""[..],
        b"not a signature",
        b"-----BEGIN CMS-----\n!!!\n-----END CMS-----\n",
        &[0x30, 0x03, 0x02, 0x01, 0x01],
    ] {
        assert_eq!(
            code(verify_detached(CONTENT, garbage, &policy())),
            "signature_malformed"
        );
    }
    // a truncated signature
    let der = sign(&pki().ec, CONTENT, DETACHED);
    assert_eq!(
        code(verify_detached(CONTENT, &der[..der.len() - 10], &policy())),
        "signature_malformed"
    );
    // a detached signature given as enveloping
    assert_eq!(
        verify_enveloping(&der, &policy()).unwrap_err().code(),
        "signature_malformed"
    );
}

#[test]
fn signer_certificate_missing() {
    let p = pki();
    let cms = CmsContentInfo::sign(
        Some(&p.ec.cert),
        Some(&p.ec.key),
        None,
        Some(CONTENT),
        CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::CMS_NOCERTS,
    )
    .unwrap();
    let sig = cms.to_der().unwrap();
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &policy())),
        "signer_certificate_missing"
    );
}

#[test]
fn a_second_certificate_answering_to_the_signer_is_refused() {
    let p = pki();
    let twin = test_pki::twin(&p.ec, &p.other_root);
    assert_eq!(
        twin.cert.issuer_name().to_der().unwrap(),
        p.ec.cert.issuer_name().to_der().unwrap()
    );
    assert_eq!(
        twin.cert.serial_number().to_bn().unwrap(),
        p.ec.cert.serial_number().to_bn().unwrap()
    );
    // OpenSSL takes the first carried certificate (in DER order) that answers to the signer,
    // so of the two signatures below one is checked with the wrong key (`signature_invalid`)
    // and one with the right key, which the hub then refuses for the ambiguity. Both refused.
    let mut codes = Vec::new();
    for (signer, other) in [(&twin, &p.ec), (&p.ec, &twin)] {
        let mut certs = openssl::stack::Stack::new().unwrap();
        certs.push(p.intermediate.cert.clone()).unwrap();
        certs.push(other.cert.clone()).unwrap();
        let sig = CmsContentInfo::sign(
            Some(&signer.cert),
            Some(&signer.key),
            Some(&certs),
            Some(CONTENT),
            CMSOptions::DETACHED | CMSOptions::BINARY,
        )
        .unwrap()
        .to_der()
        .unwrap();
        codes.push(code(verify_detached(CONTENT, &sig, &policy())));
    }
    codes.sort_unstable();
    assert_eq!(codes, ["signature_invalid", "signature_malformed"]);
    // Alone, the twin is simply untrusted.
    let cms = CmsContentInfo::sign(
        Some(&twin.cert),
        Some(&twin.key),
        None,
        Some(CONTENT),
        CMSOptions::DETACHED | CMSOptions::BINARY,
    )
    .unwrap();
    let sig = cms.to_der().unwrap();
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &policy())),
        "signer_untrusted"
    );
}

#[test]
fn signatures_without_signed_attributes_use_memory_up_to_the_limit() {
    let how = How {
        no_attributes: true,
        ..DETACHED
    };
    let sig = sign(&pki().rsa, CONTENT, how);
    assert_eq!(code(verify_detached(CONTENT, &sig, &policy())), "ok");
    let mut other = CONTENT.to_vec();
    other[0] ^= 1;
    // OpenSSL cannot tell a changed content from a bad signature without signed attributes.
    assert_eq!(
        code(verify_detached(&other, &sig, &policy())),
        "signature_invalid"
    );
    let small = policy().max_in_memory_bytes(10);
    assert_eq!(
        code(verify_detached(CONTENT, &sig, &small)),
        "content_too_large"
    );
    let env = sign(
        &pki().rsa,
        CONTENT,
        How {
            no_attributes: true,
            ..ENVELOPING
        },
    );
    let (_, content) = verify_enveloping(&env, &policy()).unwrap();
    assert_eq!(content, CONTENT);
    assert_eq!(
        verify_enveloping(&env, &small).unwrap_err().code(),
        "content_too_large"
    );
}

#[test]
fn an_attached_signature_checks_against_the_file_beside_it() {
    let sig = sign(&pki().ec, CONTENT, ENVELOPING);
    assert_eq!(code(verify_detached(CONTENT, &sig, &policy())), "ok");
    let mut other = CONTENT.to_vec();
    other.push(b' ');
    assert_eq!(
        code(verify_detached(&other, &sig, &policy())),
        "content_mismatch"
    );
}

/// A reader that returns at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn streamed_content_gives_the_same_result_however_it_is_split() {
    let content: Vec<u8> = (0..200_000u32)
        .map(|i| u8::try_from(i * 7 % 256).unwrap())
        .collect();
    let sig = sign(&pki().ec, &content, DETACHED);
    for step in [1, 7, 4096, 65_536, 1 << 20] {
        let reader = Trickle {
            data: &content,
            step,
        };
        assert_eq!(code(verify_detached_reader(reader, &sig, &policy())), "ok");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("HM750096T75_26011.xml");
    std::fs::write(&path, &content).unwrap();
    assert_eq!(code(verify_detached_file(&path, &sig, &policy())), "ok");
    assert_eq!(
        code(verify_detached_file(
            &dir.path().join("missing"),
            &sig,
            &policy()
        )),
        "content_unreadable"
    );
}

#[test]
fn the_hub_signs_and_verifies_its_own_signature() {
    let p = pki();
    let signer = Signer::new(
        p.rsa.cert.clone(),
        p.rsa.key.clone(),
        vec![p.intermediate.cert.clone()],
    )
    .unwrap();
    let protocol = b"<FLK_P><FNAME>VHM750096T75_26011</FNAME></FLK_P>";
    let sig = signer.sign_detached(protocol).unwrap();
    let v = verify_detached(protocol, &sig, &policy()).unwrap();
    assert_eq!(v.signers[0].certificate, *signer.certificate());
    assert!(v.signers[0].signing_time.is_some());
    assert!(v.signed_by(&[signer.certificate().fingerprint]));
    // a key that is not the certificate's
    let wrong = Signer::new(p.rsa.cert.clone(), p.ec.key.clone(), Vec::new()).unwrap_err();
    assert!(wrong.to_string().contains("signature.hub_key"), "{wrong}");
    assert!(!format!("{signer:?}").contains("PRIVATE"));
}

#[test]
fn signed_by_needs_every_signer_registered() {
    let p = pki();
    let ec = CertificateInfo::of(&p.ec.cert).unwrap().fingerprint;
    let rsa = CertificateInfo::of(&p.rsa.cert).unwrap().fingerprint;
    let sig = sign(&p.ec, CONTENT, DETACHED);
    let v = verify_detached(CONTENT, &sig, &policy()).unwrap();
    assert!(v.signed_by(&[rsa, ec]));
    assert!(!v.signed_by(&[rsa]));
    assert!(!v.signed_by(&[]));
    assert_eq!(v.fingerprints().collect::<Vec<_>>(), vec![&ec]);
}

#[test]
fn fingerprints_read_and_print_as_hex() {
    let f = CertificateInfo::of(&pki().ec.cert).unwrap().fingerprint;
    let text = f.to_string();
    assert_eq!(text.len(), 64);
    assert_eq!(text.parse::<Fingerprint>().unwrap(), f);
    let colons = text
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(colons.parse::<Fingerprint>().unwrap(), f);
    assert!("abc".parse::<Fingerprint>().is_err());
    assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
}

#[test]
fn every_code_is_distinct_and_listed() {
    let mut codes = SignatureError::CODES.to_vec();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), SignatureError::CODES.len());
    let name = CertName {
        subject: "CN=x".into(),
        serial: "01".into(),
    };
    let samples = [
        SignatureError::Malformed(String::new()),
        SignatureError::SignerCertificateMissing,
        SignatureError::Invalid {
            cert: name.clone(),
            reason: String::new(),
        },
        SignatureError::ContentMismatch {
            cert: name.clone(),
            reason: String::new(),
        },
        SignatureError::Untrusted {
            cert: name.clone(),
            reason: String::new(),
        },
        SignatureError::Expired {
            cert: name.clone(),
            at: String::new(),
            not_after: String::new(),
        },
        SignatureError::NotYetValid {
            cert: name.clone(),
            at: String::new(),
            not_before: String::new(),
        },
        SignatureError::Revoked {
            cert: name.clone(),
            crl_issuer: String::new(),
            revoked_on: String::new(),
        },
        SignatureError::RevocationUnknown {
            cert: name.clone(),
            issuer: String::new(),
        },
        SignatureError::SigningTimeInFuture {
            cert: name,
            at: String::new(),
        },
        SignatureError::AlgorithmUnsupported {
            algorithm: String::new(),
        },
        SignatureError::ContentTooLarge { limit: 1 },
        SignatureError::Io(String::new()),
        SignatureError::Internal(openssl::error::ErrorStack::get()),
    ];
    let got: Vec<&str> = samples.iter().map(SignatureError::code).collect();
    assert_eq!(got, SignatureError::CODES);
}

#[test]
fn algorithm_unsupported_for_an_unknown_digest() {
    // Replace the SHA-256 OID of the digest algorithms by an unassigned one (same length).
    let mut sig = sign(&pki().ec, CONTENT, DETACHED);
    let sha256 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    let unknown = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x7f,
    ];
    let mut replaced = 0;
    while let Some(at) = sig.windows(sha256.len()).position(|w| w == sha256) {
        sig[at..at + unknown.len()].copy_from_slice(&unknown);
        replaced += 1;
    }
    assert!(replaced >= 2);
    let err = verify_detached(CONTENT, &sig, &policy()).unwrap_err();
    assert_eq!(err.code(), "algorithm_unsupported", "{err}");
    assert!(
        err.to_string().contains("2.16.840.1.101.3.4.2.127"),
        "{err}"
    );
}

#[test]
fn signing_times_read_in_both_forms() {
    let t = parse_time("260131235959Z", false).unwrap();
    assert_eq!(t.to_rfc3339(), "2026-01-31T23:59:59+00:00");
    let t = parse_time("991231000000Z", false).unwrap();
    assert_eq!(t.to_rfc3339(), "1999-12-31T00:00:00+00:00");
    let t = parse_time("20500101120000.123Z", true).unwrap();
    assert_eq!(t.to_rfc3339(), "2050-01-01T12:00:00+00:00");
    assert!(parse_time("2601312359Z", false).is_none());
    assert!(parse_time("260131235959+0300", false).is_none());
}
