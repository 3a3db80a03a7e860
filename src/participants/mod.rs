//! Participants of the exchange (участники информационного обмена) and their credentials.
//!
//! A participant is an organisation of the registers (a territorial fund, an insurer or a
//! clinic, named by its F001/F002/F003 code), a federal auditor or an administrator, with a set
//! of [`Roles`]. It authenticates with a client certificate registered to it (mutual TLS) or a
//! bearer token, which the hub stores only as its SHA-256 digest and which expires. `repo` is
//! the only writer of the `participants`, `participant_tokens` and `participant_certificates`
//! tables; `certificate` reads X.509 certificates; `token` makes and digests tokens; `cache`
//! keeps the participants `omshub serve` authenticated for the policy status, confirmed by the
//! credential epoch; `cli` is `omshub participants` and `omshub tokens`. Called by `main.rs` (the commands) and by
//! `api::auth` (authentication on every request). See `docs/PARTICIPANTS.md`.

pub mod cache;
pub mod certificate;
pub mod cli;
pub mod repo;
pub mod token;

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};

use crate::registers::RegisterKind;

pub use certificate::CertificateInfo;
pub use repo::{
    AuthFailure, Certificate, CertificateRef, IssuedToken, NewParticipant, Revocation, TokenInfo,
    add, authenticate_certificate, authenticate_token, certificates, get, issue_token, list, now,
    register_certificate, revoke, revoke_certificate, revoke_token, tokens,
};

/// What kind of party a participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A territorial fund (ТФОМС), by its F001 code (2 digits).
    Fund,
    /// An insurer (СМО), by its F002 code `smocod` (5 digits).
    Insurer,
    /// A medical organisation (МО), by its F003 code `mcod` (6 digits).
    Clinic,
    /// A federal auditor: reads everything, changes nothing.
    Auditor,
    /// An administrator of the hub.
    Admin,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Fund,
        Self::Insurer,
        Self::Clinic,
        Self::Auditor,
        Self::Admin,
    ];

    /// The stored and command-line name (`clinic`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fund => "fund",
            Self::Insurer => "insurer",
            Self::Clinic => "clinic",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    /// The kind named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The register a participant of this kind must be an active entry of, if any.
    #[must_use]
    pub fn register(self) -> Option<RegisterKind> {
        match self {
            Self::Fund => Some(RegisterKind::TerritorialFunds),
            Self::Insurer => Some(RegisterKind::Insurers),
            Self::Clinic => Some(RegisterKind::MedicalOrganisations),
            Self::Auditor | Self::Admin => None,
        }
    }

    /// The roles a new participant of this kind gets when none are given; also the most it may
    /// have.
    #[must_use]
    pub fn default_roles(self) -> Roles {
        match self {
            Self::Fund | Self::Insurer | Self::Clinic => Roles::of(&[Role::Upload, Role::ReadOwn]),
            Self::Auditor => Roles::of(&[Role::ReadAll]),
            Self::Admin => Roles::of(&[Role::ReadAll, Role::Admin]),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a participant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Upload packages (accounts, lists) in its own name.
    Upload,
    /// Read what concerns its own organisation: its packages, protocols and decisions.
    ReadOwn,
    /// Read everything (federal auditors, administrators).
    ReadAll,
    /// Administer the hub: classifiers, registers, participants.
    Admin,
}

impl Role {
    /// Every role, in the stored order.
    pub const ALL: [Self; 4] = [Self::Upload, Self::ReadOwn, Self::ReadAll, Self::Admin];

    /// The stored name (`read_own`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::ReadOwn => "read_own",
            Self::ReadAll => "read_all",
            Self::Admin => "admin",
        }
    }

    /// The role named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn bit(self) -> u8 {
        match self {
            Self::Upload => 1,
            Self::ReadOwn => 2,
            Self::ReadAll => 4,
            Self::Admin => 8,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles. Stored as the role names joined by commas in the order of [`Role::ALL`]
/// (`upload,read_own`); shown in JSON as a list of names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// The set of `roles`.
    #[must_use]
    pub fn of(roles: &[Role]) -> Self {
        Self(roles.iter().fold(0, |bits, r| bits | r.bit()))
    }

    /// Reads a comma-separated list (`upload, read_own`); spaces around names are ignored.
    /// Refuses an empty list and names no role has, naming them.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut bits = 0;
        let mut unknown = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Role::parse(name) {
                Some(role) => bits |= role.bit(),
                None => unknown.push(name.to_owned()),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "unknown role(s) {}; the roles are {}",
                unknown.join(", "),
                Self(u8::MAX)
            ));
        }
        if bits == 0 {
            return Err("no role given".into());
        }
        Ok(Self(bits))
    }

    /// Whether the set holds `role`.
    #[must_use]
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether every role of `self` is in `other`.
    #[must_use]
    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles held, in the stored order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, role) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(role.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Roles({self})")
    }
}

impl Serialize for Roles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Role::as_str))
    }
}

/// A participant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// Its number.
    pub id: i64,
    /// What kind of party it is.
    pub kind: Kind,
    /// Its register code (F001 / F002 / F003); none for auditors and administrators.
    pub org_code: Option<String>,
    /// A name for people (the organisation's short name, or a person's name).
    pub name: String,
    /// What it may do.
    pub roles: Roles,
    /// Whom to write to about it.
    pub contact_email: Option<String>,
    /// When it was added (UTC).
    pub created_at: NaiveDateTime,
    /// When it was revoked (UTC); a revoked participant cannot authenticate.
    pub revoked_at: Option<NaiveDateTime>,
}

/// An authenticated participant: who is calling, as handlers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The participant's number.
    pub id: i64,
    /// Its kind.
    pub kind: Kind,
    /// Its register code, if it is an organisation.
    pub org_code: Option<String>,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub roles: Roles,
}

/// Why a participant or credential request was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ParticipantError {
    /// The request names an unknown kind, a bad code, bad roles, a bad name or e-mail.
    #[error("{message}")]
    Invalid {
        /// Stable code (`invalid_kind`, `invalid_org_code`, `invalid_roles`, …).
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The organisation is not in its register.
    #[error("{} {code} is not in the register {}", .register.noun(), .register.classifier())]
    OrgUnknown {
        /// The register.
        register: RegisterKind,
        /// The code given.
        code: String,
    },
    /// The organisation is in its register but not active today.
    #[error("{} {code} is in the register {} but not active today: {reason}", .register.noun(), .register.classifier())]
    OrgInactive {
        /// The register.
        register: RegisterKind,
        /// The code given.
        code: String,
        /// Why: its status, or its periods.
        reason: String,
    },
    /// The organisation already has an active participant.
    #[error("{kind} {code} is already participant {id}; revoke it first")]
    Exists {
        /// The kind.
        kind: Kind,
        /// The register code.
        code: String,
        /// The existing participant.
        id: i64,
    },
    /// No participant with that number.
    #[error("there is no participant {0}")]
    NotFound(i64),
    /// The participant was revoked and can get no new credentials.
    #[error("participant {id} was revoked on {since}")]
    Revoked {
        /// The participant.
        id: i64,
        /// When.
        since: NaiveDateTime,
    },
    /// No token with that number.
    #[error("there is no token {0}")]
    TokenNotFound(i64),
    /// No certificate with that number or fingerprint.
    #[error("there is no registered certificate {0}")]
    CertificateNotFound(String),
    /// The certificate is registered already (possibly revoked: a revoked certificate is not
    /// registered again).
    #[error("the certificate {fingerprint} is already registered (certificate {id} of participant {participant_id}{})", if *.revoked { ", revoked; issue a new certificate" } else { "" })]
    CertificateExists {
        /// Its fingerprint.
        fingerprint: String,
        /// The registered certificate.
        id: i64,
        /// Its participant.
        participant_id: i64,
        /// Whether it was revoked.
        revoked: bool,
    },
    /// The certificate is no longer valid.
    #[error("the certificate expired on {0}")]
    CertificateExpired(NaiveDateTime),
    /// The file is not a single X.509 certificate in PEM or DER.
    #[error("{0}")]
    CertificateUnreadable(String),
    /// The database failed.
    #[error("database statement failed")]
    Store(#[from] diesel::result::Error),
    /// OpenSSL's random generator failed.
    #[error("cannot make a random token")]
    Random(#[source] openssl::error::ErrorStack),
    /// Reading the registers failed.
    #[error("reading the registers failed")]
    Register(#[source] crate::registers::ServiceError),
}

impl ParticipantError {
    /// The stable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::OrgUnknown { .. } => "participant_org_unknown",
            Self::OrgInactive { .. } => "participant_org_inactive",
            Self::Exists { .. } => "participant_exists",
            Self::NotFound(_) => "participant_not_found",
            Self::Revoked { .. } => "participant_revoked",
            Self::TokenNotFound(_) => "token_not_found",
            Self::CertificateNotFound(_) => "certificate_not_found",
            Self::CertificateExists { .. } => "certificate_exists",
            Self::CertificateExpired(_) => "certificate_expired",
            Self::CertificateUnreadable(_) => "certificate_unreadable",
            Self::Store(_) | Self::Register(_) | Self::Random(_) => "internal_error",
        }
    }

    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
}

/// Lower-case hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_print_and_compare() {
        let roles = Roles::parse(" read_own, upload ").unwrap();
        assert_eq!(roles.to_string(), "upload,read_own");
        assert_eq!(Roles::parse(&roles.to_string()).unwrap(), roles);
        assert!(roles.contains(Role::Upload));
        assert!(!roles.contains(Role::Admin));
        assert!(roles.is_subset_of(Kind::Clinic.default_roles()));
        assert!(!Roles::of(&[Role::Admin]).is_subset_of(Kind::Clinic.default_roles()));
        let err = Roles::parse("upload,superuser").unwrap_err();
        assert!(err.contains("superuser"), "{err}");
        assert!(err.contains("upload,read_own,read_all,admin"), "{err}");
        assert!(Roles::parse(" , ").is_err());
        assert_eq!(
            serde_json::to_value(Kind::Admin.default_roles()).unwrap(),
            serde_json::json!(["read_all", "admin"])
        );
    }

    #[test]
    fn kinds_round_trip_and_name_their_register() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(
            Kind::Clinic.register(),
            Some(RegisterKind::MedicalOrganisations)
        );
        assert_eq!(Kind::Auditor.register(), None);
        assert_eq!(Kind::parse("bank"), None);
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
