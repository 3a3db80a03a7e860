//! Client certificates: what the hub records of one (SHA-256 fingerprint of the DER, subject,
//! serial number, end of validity), read from a PEM or DER file with OpenSSL.
//!
//! The fingerprint is the key: the TLS server computes it from the certificate a client
//! presented (`api::server`), and `repo` finds the participant it is registered to. Used by
//! `repo`, `cli` and `api::server`.

use chrono::{DateTime, NaiveDateTime};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::x509::{X509, X509NameRef, X509Ref};
use serde::Serialize;

use super::{ParticipantError, hex};

/// What the hub records of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// SHA-256 of the DER encoding, lower-case hex (64 digits).
    pub fingerprint_sha256: String,
    /// The subject, `CN=…, O=…` in the certificate's order.
    pub subject: String,
    /// The serial number, upper-case hex.
    pub serial: String,
    /// The last moment it is valid (UTC).
    pub not_after: NaiveDateTime,
}

/// SHA-256 of the certificate's DER encoding, lower-case hex.
pub fn fingerprint(cert: &X509Ref) -> Result<String, ErrorStack> {
    Ok(hex(&cert.digest(MessageDigest::sha256())?))
}

/// The recorded fields of `cert`.
pub fn info(cert: &X509Ref) -> Result<CertificateInfo, ErrorStack> {
    Ok(CertificateInfo {
        fingerprint_sha256: fingerprint(cert)?,
        subject: name_text(cert.subject_name()),
        serial: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
        not_after: asn1_time(cert.not_after())?,
    })
}

/// Reads one certificate from PEM or DER bytes. A PEM file must hold exactly one certificate
/// and no private key (the hub never needs a participant's key).
pub fn read(bytes: &[u8]) -> Result<CertificateInfo, ParticipantError> {
    let unreadable = |what: String| ParticipantError::CertificateUnreadable(what);
    let cert = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        if bytes.windows(16).any(|w| w == b"PRIVATE KEY-----") {
            return Err(unreadable(
                "the file holds a private key; give the certificate alone (the hub never needs the key)"
                    .into(),
            ));
        }
        let mut stack = X509::stack_from_pem(bytes)
            .map_err(|e| unreadable(format!("not a PEM certificate: {e}")))?;
        match stack.len() {
            0 => return Err(unreadable("the PEM file holds no certificate".into())),
            1 => stack.remove(0),
            n => {
                return Err(unreadable(format!(
                    "the PEM file holds {n} certificates; give the client certificate alone"
                )));
            }
        }
    } else {
        X509::from_der(bytes)
            .map_err(|e| unreadable(format!("neither a PEM nor a DER certificate: {e}")))?
    };
    info(&cert).map_err(|e| unreadable(format!("cannot read the certificate: {e}")))
}

/// `CN=…, O=…` of a name, in its order; entries whose text cannot be read are shown as `?`.
fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let key = entry.object().nid().short_name().map_or_else(
                |_| entry.object().to_string(),
                std::borrow::ToOwned::to_owned,
            );
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An ASN.1 time as UTC.
fn asn1_time(time: &Asn1TimeRef) -> Result<NaiveDateTime, ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    // Certificates end between 1950 and 9999: always inside chrono's range.
    Ok(DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Integer;
    use openssl::bn::BigNum;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    fn self_signed(cn: &str) -> (X509, PKey<openssl::pkey::Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("O", "ГБУЗ Тест").unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = Asn1Integer::from_bn(&BigNum::from_u32(0x0a1b).unwrap()).unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_900_000_000).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    #[test]
    fn reads_pem_and_der_alike() {
        let (cert, key) = self_signed("clinic 750096");
        let pem = cert.to_pem().unwrap();
        let der = cert.to_der().unwrap();
        let from_pem = read(&pem).unwrap();
        assert_eq!(read(&der).unwrap(), from_pem);
        assert_eq!(from_pem.subject, "O=ГБУЗ Тест, CN=clinic 750096");
        assert_eq!(from_pem.serial, "0A1B");
        assert_eq!(
            from_pem.not_after,
            DateTime::from_timestamp(1_900_000_000, 0)
                .unwrap()
                .naive_utc()
        );
        assert_eq!(
            from_pem.fingerprint_sha256,
            hex(&openssl::sha::sha256(&der))
        );

        let mut with_key = pem.clone();
        with_key.extend(key.private_key_to_pem_pkcs8().unwrap());
        let err = read(&with_key).unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let mut two = pem.clone();
        two.extend(self_signed("other").0.to_pem().unwrap());
        assert!(
            read(&two)
                .unwrap_err()
                .to_string()
                .contains("2 certificates")
        );
        assert_eq!(read(b"hello").unwrap_err().code(), "certificate_unreadable");
    }
}
