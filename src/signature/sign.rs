//! [`Signer`]: the hub's own key, which signs the protocols and receipts the hub sends with a
//! detached CMS signature (DER, binary content, with a `signingTime`). Built from
//! `signature.hub_certificate` and `signature.hub_key` by [`Signer::from_settings`]; called by
//! whoever writes protocols and receipts.

use std::path::Path;

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::error::PolicyError;
use super::{CertificateInfo, read_file};
use crate::config::SignatureSettings;

/// The hub's signing certificate and key, with the certificates that complete its chain.
pub struct Signer {
    cert: X509,
    key: PKey<Private>,
    chain: Stack<X509>,
    info: CertificateInfo,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("certificate", &self.info)
            .field("key", &"****")
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a certificate, its private key and the intermediate certificates to carry
    /// in every signature. Refused when the key is not the certificate's.
    pub fn new(cert: X509, key: PKey<Private>, chain: Vec<X509>) -> Result<Self, PolicyError> {
        if !cert.public_key()?.public_eq(&key) {
            return Err(PolicyError::Invalid {
                key: "signature.hub_key",
                problem: "the private key does not belong to the hub certificate".into(),
            });
        }
        let mut stack = Stack::new()?;
        for c in chain {
            stack.push(c)?;
        }
        let info = CertificateInfo::of(&cert)?;
        Ok(Self {
            cert,
            key,
            chain: stack,
            info,
        })
    }

    /// Reads the certificate (PEM; further certificates in the same file are the chain), the
    /// unencrypted private key (PEM, PKCS#8 or traditional) and, optionally, a PEM file of
    /// more chain certificates.
    pub fn from_files(
        cert_pem: &Path,
        key_pem: &Path,
        chain: Option<&Path>,
    ) -> Result<Self, PolicyError> {
        let bytes = read_file("signature.hub_certificate", cert_pem)?;
        let mut certs = X509::stack_from_pem(&bytes).map_err(|e| PolicyError::Parse {
            key: "signature.hub_certificate",
            path: cert_pem.to_owned(),
            expected: "a PEM certificate",
            reason: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(PolicyError::Parse {
                key: "signature.hub_certificate",
                path: cert_pem.to_owned(),
                expected: "a PEM certificate",
                reason: "no certificate in the file".into(),
            });
        }
        let cert = certs.remove(0);
        if let Some(path) = chain {
            let bytes = read_file("signature.hub_chain", path)?;
            certs.extend(
                X509::stack_from_pem(&bytes).map_err(|e| PolicyError::Parse {
                    key: "signature.hub_chain",
                    path: path.to_owned(),
                    expected: "PEM certificates",
                    reason: e.to_string(),
                })?,
            );
        }
        let bytes = read_file("signature.hub_key", key_pem)?;
        let key = PKey::private_key_from_pem(&bytes).map_err(|e| PolicyError::Parse {
            key: "signature.hub_key",
            path: key_pem.to_owned(),
            expected: "an unencrypted PEM private key",
            reason: e.to_string(),
        })?;
        Self::new(cert, key, certs)
    }

    /// The hub's signer as configured, or `None` when `signature.hub_certificate` is empty (the
    /// hub then sends its protocols unsigned).
    pub fn from_settings(settings: &SignatureSettings) -> Result<Option<Self>, PolicyError> {
        if settings.hub_certificate.as_os_str().is_empty() {
            return Ok(None);
        }
        let chain = Some(settings.hub_chain.as_path()).filter(|p| !p.as_os_str().is_empty());
        Self::from_files(&settings.hub_certificate, &settings.hub_key, chain).map(Some)
    }

    /// The certificate the hub signs with.
    #[must_use]
    pub fn certificate(&self) -> &CertificateInfo {
        &self.info
    }

    /// A detached CMS signature of `content` (DER): binary content (no line-end translation),
    /// signed attributes with `contentType`, `signingTime` and `messageDigest`, the hub's
    /// certificate and its chain inside, the key's default digest (SHA-256 for RSA and ECDSA).
    pub fn sign_detached(&self, content: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            Some(&self.chain),
            Some(content),
            CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::NOSMIMECAP,
        )?;
        cms.to_der()
    }
}
