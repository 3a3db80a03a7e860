//! A small PKI generated at test time, so that no key or certificate is ever committed: a root
//! and an intermediate CA, a second unrelated root, signer certificates (RSA 2048, ECDSA P-256,
//! clientAuth-only, expired, not yet valid, revoked, from the other root) and a CRL of the
//! intermediate. Built once per test binary. Used by the unit tests of `signature` and, through
//! `#[path]`, by `tests/it/signature.rs`.

use std::sync::OnceLock;

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{
    X509, X509Builder, X509Crl, X509CrlBuilder, X509Extension, X509NameBuilder, X509RevokedBuilder,
};

/// A certificate and its key.
pub struct Identity {
    pub cert: X509,
    pub key: PKey<Private>,
}

/// Key types of the signers.
#[derive(Clone, Copy)]
pub enum KeyKind {
    Rsa2048,
    P256,
}

/// The whole test PKI.
pub struct Pki {
    pub root: Identity,
    pub intermediate: Identity,
    pub other_root: Identity,
    /// RSA 2048, emailProtection + clientAuth, by the intermediate.
    pub rsa: Identity,
    /// ECDSA P-256, by the intermediate.
    pub ec: Identity,
    /// ECDSA P-256 with the clientAuth extended key usage only.
    pub client_auth_only: Identity,
    /// Valid from 30 to 1 days ago.
    pub expired: Identity,
    /// Valid from tomorrow.
    pub not_yet_valid: Identity,
    /// Listed in `crl`.
    pub revoked: Identity,
    /// Issued by `other_root`.
    pub foreign: Identity,
    /// The intermediate's CRL, listing `revoked`.
    pub crl: X509Crl,
    /// The intermediate's CRL listing nothing.
    pub empty_crl: X509Crl,
}

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// A fresh key.
pub fn key(kind: KeyKind) -> PKey<Private> {
    match kind {
        KeyKind::Rsa2048 => PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        KeyKind::P256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
        }
    }
}

/// What a certificate says besides its name.
struct Spec<'a> {
    cn: &'a str,
    serial: u32,
    key: PKey<Private>,
    issuer: Option<&'a Identity>,
    ca: bool,
    from_days: i64,
    to_days: i64,
    eku: &'a [&'a str],
}

fn issue(spec: Spec<'_>) -> Identity {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("C", "RU").unwrap();
    name.append_entry_by_text("O", "omshub test PKI").unwrap();
    name.append_entry_by_text("CN", spec.cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(spec.serial).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    let issuer_name = spec.issuer.map_or(name.as_ref(), |i| i.cert.subject_name());
    b.set_issuer_name(issuer_name).unwrap();
    b.set_pubkey(&spec.key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now() + spec.from_days * DAY).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now() + spec.to_days * DAY).unwrap())
        .unwrap();
    if spec.ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
    } else {
        b.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()
                .unwrap(),
        )
        .unwrap();
        if !spec.eku.is_empty() {
            let mut eku = ExtendedKeyUsage::new();
            for usage in spec.eku {
                match *usage {
                    "clientAuth" => eku.client_auth(),
                    "emailProtection" => eku.email_protection(),
                    other => eku.other(other),
                };
            }
            b.append_extension(eku.build().unwrap()).unwrap();
        }
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(spec.issuer.map(|i| i.cert.as_ref()), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(issuer) = spec.issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&issuer.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let signing_key = spec.issuer.map_or(&spec.key, |i| &i.key);
    b.sign(signing_key, MessageDigest::sha256()).unwrap();
    Identity {
        cert: b.build(),
        key: spec.key,
    }
}

fn ca(cn: &str, serial: u32, issuer: Option<&Identity>) -> Identity {
    issue(Spec {
        cn,
        serial,
        key: key(KeyKind::P256),
        issuer,
        ca: true,
        from_days: -365,
        to_days: 3650,
        eku: &[],
    })
}

fn leaf(
    cn: &str,
    serial: u32,
    kind: KeyKind,
    issuer: &Identity,
    days: (i64, i64),
    eku: &[&str],
) -> Identity {
    issue(Spec {
        cn,
        serial,
        key: key(kind),
        issuer: Some(issuer),
        ca: false,
        from_days: days.0,
        to_days: days.1,
        eku,
    })
}

/// A certificate with the name, issuer name and serial of `of`, but another key, "issued" by
/// `forger` (whose key signs it under the name of `of`'s issuer): what an attacker would put
/// beside a genuine certificate to confuse the choice of the signer's key.
pub fn twin(of: &Identity, forger: &Identity) -> Identity {
    // A stand-in issuer with the name of `of`'s issuer (all test names differ only in CN) and
    // the forger's key.
    let issuer_cn = of
        .cert
        .issuer_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .unwrap()
        .data()
        .to_string()
        .unwrap();
    let issuer_of_twin = issue(Spec {
        cn: &issuer_cn,
        serial: 99,
        key: forger.key.clone(),
        issuer: None,
        ca: true,
        from_days: -1,
        to_days: 365,
        eku: &[],
    });
    let serial = of.cert.serial_number().to_bn().unwrap();
    issue(Spec {
        cn: "Signer EC",
        serial: u32::from_str_radix(&serial.to_hex_str().unwrap(), 16).unwrap(),
        key: key(KeyKind::P256),
        issuer: Some(&issuer_of_twin),
        ca: false,
        from_days: -1,
        to_days: 365,
        eku: &["emailProtection"],
    })
}

/// A CRL of `issuer` listing `serials`, valid from yesterday for 30 days.
pub fn crl(issuer: &Identity, serials: &[u32]) -> X509Crl {
    let mut b = X509CrlBuilder::new().unwrap();
    b.set_issuer_name(issuer.cert.subject_name()).unwrap();
    b.set_last_update(&Asn1Time::from_unix(now() - DAY).unwrap())
        .unwrap();
    b.set_next_update(&Asn1Time::from_unix(now() + 30 * DAY).unwrap())
        .unwrap();
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OCTET STRING }
    let key_id = issuer.cert.subject_key_id().unwrap().as_slice().to_vec();
    let mut aki = vec![0x30, u8::try_from(key_id.len() + 2).unwrap(), 0x80];
    aki.push(u8::try_from(key_id.len()).unwrap());
    aki.extend_from_slice(&key_id);
    let ext = X509Extension::new_from_der(
        &Asn1Object::from_str("2.5.29.35").unwrap(),
        false,
        &Asn1OctetString::new_from_bytes(&aki).unwrap(),
    )
    .unwrap();
    b.append_extension(ext).unwrap();
    // CRLNumber ::= INTEGER (1)
    let number = X509Extension::new_from_der(
        &Asn1Object::from_str("2.5.29.20").unwrap(),
        false,
        &Asn1OctetString::new_from_bytes(&[0x02, 0x01, 0x01]).unwrap(),
    )
    .unwrap();
    b.append_extension(number).unwrap();
    for serial in serials {
        let mut r = X509RevokedBuilder::new().unwrap();
        r.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(*serial).unwrap()).unwrap())
            .unwrap();
        r.set_revocation_date(&Asn1Time::from_unix(now() - DAY).unwrap())
            .unwrap();
        b.add_revoked(r.build()).unwrap();
    }
    b.sign(&issuer.key, MessageDigest::sha256()).unwrap();
    b.build().unwrap()
}

/// The PKI, built on first use.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = ca("Test Root CA", 1, None);
        let intermediate = ca("Test SubCA", 2, Some(&root));
        let other_root = ca("Other Root CA", 3, None);
        let both = ["emailProtection", "clientAuth"];
        let fresh = (-1, 365);
        let rsa = leaf(
            "Signer RSA",
            100,
            KeyKind::Rsa2048,
            &intermediate,
            fresh,
            &both,
        );
        let ec = leaf("Signer EC", 101, KeyKind::P256, &intermediate, fresh, &both);
        let client_auth_only = leaf(
            "Signer clientAuth",
            102,
            KeyKind::P256,
            &intermediate,
            fresh,
            &["clientAuth"],
        );
        let expired = leaf(
            "Signer expired",
            103,
            KeyKind::P256,
            &intermediate,
            (-30, -1),
            &both,
        );
        let not_yet_valid = leaf(
            "Signer future",
            104,
            KeyKind::P256,
            &intermediate,
            (1, 30),
            &both,
        );
        let revoked = leaf(
            "Signer revoked",
            105,
            KeyKind::P256,
            &intermediate,
            fresh,
            &both,
        );
        let foreign = leaf(
            "Signer foreign",
            106,
            KeyKind::P256,
            &other_root,
            fresh,
            &both,
        );
        let crl = crl(&intermediate, &[105]);
        let empty_crl = self::crl(&intermediate, &[]);
        Pki {
            root,
            intermediate,
            other_root,
            rsa,
            ec,
            client_auth_only,
            expired,
            not_yet_valid,
            revoked,
            foreign,
            crl,
            empty_crl,
        }
    })
}

/// How a test signature is made.
#[derive(Clone, Copy)]
pub struct How {
    /// Detached (the content beside it) or enveloping (the content inside).
    pub detached: bool,
    /// No signed attributes (no signing time, the signature over the content itself).
    pub no_attributes: bool,
    /// Carry the intermediate CA certificate.
    pub with_chain: bool,
}

/// Detached, with attributes and the chain: what the hub meets most.
pub const DETACHED: How = How {
    detached: true,
    no_attributes: false,
    with_chain: true,
};

/// Enveloping, with attributes and the chain.
pub const ENVELOPING: How = How {
    detached: false,
    no_attributes: false,
    with_chain: true,
};

/// A CMS signature (DER) of `content` by `signer`.
pub fn sign(signer: &Identity, content: &[u8], how: How) -> Vec<u8> {
    let pki = pki();
    let mut chain = Stack::new().unwrap();
    if how.with_chain {
        let issuer = if signer.cert.issuer_name().to_der().unwrap()
            == pki.other_root.cert.subject_name().to_der().unwrap()
        {
            &pki.other_root
        } else {
            &pki.intermediate
        };
        chain.push(issuer.cert.clone()).unwrap();
    }
    let mut flags = CMSOptions::BINARY | CMSOptions::NOSMIMECAP;
    if how.detached {
        flags |= CMSOptions::DETACHED;
    }
    if how.no_attributes {
        flags |= CMSOptions::NOATTR;
    }
    CmsContentInfo::sign(
        Some(&signer.cert),
        Some(&signer.key),
        Some(&chain),
        Some(content),
        flags,
    )
    .unwrap()
    .to_der()
    .unwrap()
}
