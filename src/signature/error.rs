//! [`SignatureError`]: why a signature is refused, one variant per reason, each with a stable
//! snake_case code for protocols and the API ([`SignatureError::code`]) and a message that names
//! the certificate (subject and serial) where one is known. Returned by [`super::verify`];
//! [`PolicyError`] is what loading the trust store, the CRLs or the hub's key can fail with.

use std::path::PathBuf;

/// Which certificate an error is about, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertName {
    /// The subject, `CN=…, O=…` in certificate order.
    pub subject: String,
    /// The serial number in upper-case hex.
    pub serial: String,
}

impl std::fmt::Display for CertName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (serial {})", self.subject, self.serial)
    }
}

/// Why a signature is not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignatureError {
    /// Not a CMS `SignedData` in DER, PEM or base64, or a structure the hub does not accept
    /// (no signer, ambiguous signer certificates, trailing bytes).
    #[error("the signature cannot be read: {0}")]
    Malformed(String),
    /// The signature does not carry the signer's certificate.
    #[error("the signature does not carry the certificate of its signer")]
    SignerCertificateMissing,
    /// The cryptographic check failed: the signed attributes or the content were not signed by
    /// the key of the certificate.
    #[error("the signature of {cert} does not verify: {reason}")]
    Invalid { cert: CertName, reason: String },
    /// The content is not the one signed: its digest differs from the signed `messageDigest`,
    /// or the content given differs from the one inside the signature.
    #[error("the content does not match the signature of {cert}: {reason}")]
    ContentMismatch { cert: CertName, reason: String },
    /// The signer's certificate does not chain to a certificate of the trust store.
    #[error("the certificate {cert} is not trusted: {reason}")]
    Untrusted { cert: CertName, reason: String },
    /// A certificate of the chain had expired at the time checked.
    #[error("the certificate {cert} had expired on {at} (valid until {not_after})")]
    Expired {
        cert: CertName,
        at: String,
        not_after: String,
    },
    /// A certificate of the chain was not yet valid at the time checked.
    #[error("the certificate {cert} was not yet valid on {at} (valid from {not_before})")]
    NotYetValid {
        cert: CertName,
        at: String,
        not_before: String,
    },
    /// A certificate of the chain is listed in a configured CRL.
    #[error("the certificate {cert} is revoked (CRL of {crl_issuer}, revoked on {revoked_on})")]
    Revoked {
        cert: CertName,
        crl_issuer: String,
        revoked_on: String,
    },
    /// `signature.require_crl` is on and no configured CRL covers a certificate of the chain.
    #[error("no configured CRL of the issuer of {cert} ({issuer}); revocation cannot be checked")]
    RevocationUnknown { cert: CertName, issuer: String },
    /// The signing time the signer states lies in the future.
    #[error("the signing time {at} of {cert} lies in the future")]
    SigningTimeInFuture { cert: CertName, at: String },
    /// The platform's OpenSSL does not know a digest or signature algorithm of the signature
    /// (GOST without the engine, for example).
    #[error("the algorithm {algorithm} is not supported by this platform's OpenSSL")]
    AlgorithmUnsupported { algorithm: String },
    /// The signature has no signed attributes, so OpenSSL needs the whole content in memory,
    /// and the content is larger than `signature.max_in_memory_bytes`.
    #[error(
        "the signature has no signed attributes, so the content must be held in memory, and it \
         is larger than the limit of {limit} bytes"
    )]
    ContentTooLarge { limit: u64 },
    /// The content could not be read.
    #[error("the content cannot be read: {0}")]
    Io(String),
    /// OpenSSL failed where it should not (out of memory); not the sender's fault.
    #[error("OpenSSL failed: {0}")]
    Internal(#[from] openssl::error::ErrorStack),
}

impl SignatureError {
    /// The stable code for protocols and the API.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "signature_malformed",
            Self::SignerCertificateMissing => "signer_certificate_missing",
            Self::Invalid { .. } => "signature_invalid",
            Self::ContentMismatch { .. } => "content_mismatch",
            Self::Untrusted { .. } => "signer_untrusted",
            Self::Expired { .. } => "certificate_expired",
            Self::NotYetValid { .. } => "certificate_not_yet_valid",
            Self::Revoked { .. } => "certificate_revoked",
            Self::RevocationUnknown { .. } => "revocation_unknown",
            Self::SigningTimeInFuture { .. } => "signing_time_in_future",
            Self::AlgorithmUnsupported { .. } => "algorithm_unsupported",
            Self::ContentTooLarge { .. } => "content_too_large",
            Self::Io(_) => "content_unreadable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Every code, for documentation and tests.
    pub const CODES: [&'static str; 14] = [
        "signature_malformed",
        "signer_certificate_missing",
        "signature_invalid",
        "content_mismatch",
        "signer_untrusted",
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_revoked",
        "revocation_unknown",
        "signing_time_in_future",
        "algorithm_unsupported",
        "content_too_large",
        "content_unreadable",
        "internal_error",
    ];
}

/// Why the trust store, a CRL or the hub's signing key cannot be loaded. The key is the
/// configuration key the path came from (`signature.trust_store`).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or folder cannot be read.
    #[error("`{key}`: cannot read {path}: {reason}")]
    Read {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// A file is not what the key expects (certificate, CRL, private key).
    #[error("`{key}`: {path} is not {expected}: {reason}")]
    Parse {
        key: &'static str,
        path: PathBuf,
        expected: &'static str,
        reason: String,
    },
    /// A consistency problem (no certificate found, key and certificate do not match).
    #[error("`{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
    /// OpenSSL failed where it should not (out of memory).
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}
