//! The participant store: the only code that writes `participants`, `participant_tokens` and
//! `participant_certificates`.
//!
//! Adding checks the organisation against its register (it must be an active entry today);
//! issuing a token returns the token once and stores its digest; revoking a participant also
//! revokes its tokens and certificates in the same transaction. The two `authenticate_*`
//! functions are what `api::auth` asks on a request: they find the participant behind a token
//! digest or a certificate fingerprint and check that neither the credential nor the
//! participant is revoked and that the credential has not expired. Times are UTC, kept to the
//! microsecond (PostgreSQL's precision) so they read back as written on both backends.

use std::fmt;

use chrono::{Duration, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

use super::certificate::CertificateInfo;
use super::{Kind, Participant, ParticipantError, Principal, Roles, token};
use crate::db::DbConn;
use crate::db::schema::{
    participant_certificates as c, participant_tokens as t, participants as p,
};
use crate::registers::ServiceError;
use crate::registers::service as register_service;

/// The longest a token may live.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// How stale `last_used_at` may get before a request writes it again: one write per token per
/// minute at most, not one per request.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// Now, in UTC, to the microsecond.
#[must_use]
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

// ---- participants ---------------------------------------------------------------------------

/// A participant to add.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    /// What kind of party it is.
    pub kind: Kind,
    /// Its register code: required for funds, insurers and clinics, refused for the others.
    pub org_code: Option<String>,
    /// A name for people.
    pub name: String,
    /// Whom to write to.
    pub contact_email: Option<String>,
    /// Its roles; the kind's default when `None`. At most the kind's default roles.
    pub roles: Option<Roles>,
}

#[derive(Insertable)]
#[diesel(table_name = p)]
struct NewParticipantRow<'a> {
    kind: &'a str,
    org_code: Option<&'a str>,
    name: &'a str,
    roles: &'a str,
    contact_email: Option<&'a str>,
    created_at: NaiveDateTime,
}

type ParticipantRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

const PARTICIPANT_COLUMNS: (
    p::id,
    p::kind,
    p::org_code,
    p::name,
    p::roles,
    p::contact_email,
    p::created_at,
    p::revoked_at,
) = (
    p::id,
    p::kind,
    p::org_code,
    p::name,
    p::roles,
    p::contact_email,
    p::created_at,
    p::revoked_at,
);

/// A stored value that does not parse: a defect or a hand-edited database.
fn corrupt(what: String) -> DieselError {
    DieselError::DeserializationError(what.into())
}

fn parse_kind(id: i64, kind: &str) -> Result<Kind, DieselError> {
    Kind::parse(kind).ok_or_else(|| corrupt(format!("participant {id}: kind `{kind}`")))
}

fn parse_roles(id: i64, roles: &str) -> Result<Roles, DieselError> {
    Roles::parse(roles).map_err(|e| corrupt(format!("participant {id}: roles: {e}")))
}

fn participant_from_row(row: ParticipantRow) -> Result<Participant, DieselError> {
    let (id, kind, org_code, name, roles, contact_email, created_at, revoked_at) = row;
    Ok(Participant {
        id,
        kind: parse_kind(id, &kind)?,
        org_code,
        name,
        roles: parse_roles(id, &roles)?,
        contact_email,
        created_at,
        revoked_at,
    })
}

fn check_name(name: &str) -> Result<&str, ParticipantError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 250 || name.chars().any(char::is_control) {
        return Err(ParticipantError::invalid(
            "invalid_name",
            "the name must be 1 to 250 characters without control characters",
        ));
    }
    Ok(name)
}

/// A plausible address: one `@`, something before it, a dotted domain after it, no spaces.
fn check_email(email: &str) -> Result<&str, ParticipantError> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if plausible {
        Ok(email)
    } else {
        Err(ParticipantError::invalid(
            "invalid_email",
            format!("`{email}` is not an e-mail address"),
        ))
    }
}

/// Checks the code's format for the kind's register.
fn check_org_code(kind: Kind, code: &str) -> Result<(), ParticipantError> {
    use crate::domain::{InsurerCode, MoCode, TfomsCode};
    let parsed = match kind {
        Kind::Fund => TfomsCode::parse(code).map(drop),
        Kind::Insurer => InsurerCode::parse(code).map(drop),
        Kind::Clinic => MoCode::parse(code).map(drop),
        Kind::Auditor | Kind::Admin => Ok(()),
    };
    parsed.map_err(|e| ParticipantError::invalid("invalid_org_code", e.to_string()))
}

/// Whether the organisation is an active entry of its register today.
fn check_register_entry(conn: &mut DbConn, kind: Kind, code: &str) -> Result<(), ParticipantError> {
    let Some(register) = kind.register() else {
        return Ok(());
    };
    match register_service::get(conn, register, code, None) {
        Ok(entry) if entry.active => Ok(()),
        Ok(entry) => Err(ParticipantError::OrgInactive {
            register,
            code: code.to_owned(),
            reason: if entry.status == crate::registers::Status::Active {
                "no period of inclusion covers today".to_owned()
            } else {
                format!("its status is {}", entry.status)
            },
        }),
        Err(ServiceError::EntryNotFound { .. }) => Err(ParticipantError::OrgUnknown {
            register,
            code: code.to_owned(),
        }),
        Err(e) => Err(ParticipantError::Register(e)),
    }
}

fn insert_participant(conn: &mut DbConn, row: &NewParticipantRow<'_>) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    match conn {
        DbConn::Pg(c) => diesel::insert_into(p::table)
            .values(row)
            .returning(p::id)
            .get_result(c),
        DbConn::Sqlite(c) => {
            diesel::insert_into(p::table).values(row).execute(c)?;
            diesel::sql_query("SELECT last_insert_rowid() AS id")
                .get_result::<Id>(c)
                .map(|r| r.id)
        }
    }
}

/// Adds a participant. A fund, insurer or clinic must be an active entry of its register
/// today and may have only one active participant.
pub fn add(
    conn: &mut DbConn,
    new: &NewParticipant,
    now: NaiveDateTime,
) -> Result<Participant, ParticipantError> {
    let kind = new.kind;
    let name = check_name(&new.name)?;
    let email = new.contact_email.as_deref().map(check_email).transpose()?;
    let allowed = kind.default_roles();
    let roles = new.roles.unwrap_or(allowed);
    if roles.is_empty() || !roles.is_subset_of(allowed) {
        return Err(ParticipantError::invalid(
            "invalid_roles",
            format!(
                "a participant of kind {kind} may have the roles {allowed} (or fewer), not {roles}"
            ),
        ));
    }
    let org_code = new.org_code.as_deref().map(str::trim);
    match (kind.register(), org_code) {
        (Some(_), Some(code)) => check_org_code(kind, code)?,
        (Some(register), None) => {
            return Err(ParticipantError::invalid(
                "invalid_org_code",
                format!(
                    "a participant of kind {kind} needs its {} code",
                    register.classifier()
                ),
            ));
        }
        (None, Some(_)) => {
            return Err(ParticipantError::invalid(
                "invalid_org_code",
                format!("a participant of kind {kind} has no register code"),
            ));
        }
        (None, None) => {}
    }
    let roles_text = roles.to_string();
    conn.transaction(|conn| {
        if let Some(code) = org_code {
            check_register_entry(conn, kind, code)?;
            let existing = p::table
                .filter(p::kind.eq(kind.as_str()))
                .filter(p::org_code.eq(code))
                .filter(p::revoked_at.is_null())
                .select(p::id)
                .first::<i64>(conn)
                .optional()?;
            if let Some(id) = existing {
                return Err(ParticipantError::Exists {
                    kind,
                    code: code.to_owned(),
                    id,
                });
            }
        }
        let row = NewParticipantRow {
            kind: kind.as_str(),
            org_code,
            name,
            roles: &roles_text,
            contact_email: email,
            created_at: now,
        };
        let id = insert_participant(conn, &row).map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ParticipantError::invalid(
                    "participant_exists",
                    "the organisation got an active participant meanwhile",
                )
            }
            other => ParticipantError::Store(other),
        })?;
        get(conn, id)
    })
}

/// Every participant, revoked ones included, by number.
pub fn list(conn: &mut DbConn) -> Result<Vec<Participant>, ParticipantError> {
    let rows: Vec<ParticipantRow> = p::table
        .select(PARTICIPANT_COLUMNS)
        .order(p::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(participant_from_row)
        .collect::<Result<_, _>>()?)
}

/// Participant `id`.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Participant, ParticipantError> {
    let row: Option<ParticipantRow> = p::table
        .find(id)
        .select(PARTICIPANT_COLUMNS)
        .first(conn)
        .optional()?;
    let row = row.ok_or(ParticipantError::NotFound(id))?;
    Ok(participant_from_row(row)?)
}

/// The active (not revoked) participant whose register code is `org_code`, if any: at most
/// one, since an organisation has one active participant and the codes of funds (2 digits),
/// insurers (5) and clinics (6) differ in length. For the inbox channel, whose folders are
/// named by the code.
pub fn active_by_org_code(
    conn: &mut DbConn,
    org_code: &str,
) -> Result<Option<Participant>, ParticipantError> {
    let row: Option<ParticipantRow> = p::table
        .filter(p::org_code.eq(org_code))
        .filter(p::revoked_at.is_null())
        .order(p::id.asc())
        .select(PARTICIPANT_COLUMNS)
        .first(conn)
        .optional()?;
    row.map(participant_from_row)
        .transpose()
        .map_err(Into::into)
}

/// Participant `id`, refused when it was revoked.
fn get_active(conn: &mut DbConn, id: i64) -> Result<Participant, ParticipantError> {
    let participant = get(conn, id)?;
    match participant.revoked_at {
        Some(since) => Err(ParticipantError::Revoked { id, since }),
        None => Ok(participant),
    }
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize)]
pub struct Revocation<T> {
    /// The revoked thing, as stored afterwards.
    pub revoked: T,
    /// It was revoked before (nothing changed).
    pub already: bool,
    /// Tokens revoked with it (participants only).
    pub tokens: usize,
    /// Certificates revoked with it (participants only).
    pub certificates: usize,
}

/// Revokes participant `id` and, in the same transaction, every active token and certificate
/// of it. Revoking a revoked participant changes nothing.
pub fn revoke(
    conn: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
) -> Result<Revocation<Participant>, ParticipantError> {
    conn.transaction(|conn| {
        let participant = get(conn, id)?;
        if participant.revoked_at.is_some() {
            return Ok(Revocation {
                revoked: participant,
                already: true,
                tokens: 0,
                certificates: 0,
            });
        }
        diesel::update(p::table.find(id))
            .set(p::revoked_at.eq(now))
            .execute(conn)?;
        let tokens = diesel::update(
            t::table
                .filter(t::participant_id.eq(id))
                .filter(t::revoked_at.is_null()),
        )
        .set(t::revoked_at.eq(now))
        .execute(conn)?;
        let certificates = diesel::update(
            c::table
                .filter(c::participant_id.eq(id))
                .filter(c::revoked_at.is_null()),
        )
        .set(c::revoked_at.eq(now))
        .execute(conn)?;
        Ok(Revocation {
            revoked: get(conn, id)?,
            already: false,
            tokens,
            certificates,
        })
    })
}

// ---- tokens ---------------------------------------------------------------------------------

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its number.
    pub id: i64,
    /// Whose it is.
    pub participant_id: i64,
    /// What it is for, for people.
    pub label: Option<String>,
    /// When it was issued (UTC).
    pub created_at: NaiveDateTime,
    /// When it stops working (UTC).
    pub expires_at: NaiveDateTime,
    /// When it was revoked (UTC).
    pub revoked_at: Option<NaiveDateTime>,
    /// When it was last used (UTC, to the minute).
    pub last_used_at: Option<NaiveDateTime>,
}

type TokenRow = (
    i64,
    i64,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

const TOKEN_COLUMNS: (
    t::id,
    t::participant_id,
    t::label,
    t::created_at,
    t::expires_at,
    t::revoked_at,
    t::last_used_at,
) = (
    t::id,
    t::participant_id,
    t::label,
    t::created_at,
    t::expires_at,
    t::revoked_at,
    t::last_used_at,
);

fn token_from_row(row: TokenRow) -> TokenInfo {
    let (id, participant_id, label, created_at, expires_at, revoked_at, last_used_at) = row;
    TokenInfo {
        id,
        participant_id,
        label,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    }
}

/// A newly issued token: the token itself, shown once, and what is stored.
#[derive(Clone)]
pub struct IssuedToken {
    /// The bearer token. Not stored anywhere; give it to the participant and forget it.
    pub token: String,
    /// The stored record.
    pub info: TokenInfo,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"****")
            .field("info", &self.info)
            .finish()
    }
}

#[derive(Insertable)]
#[diesel(table_name = t)]
struct NewTokenRow<'a> {
    participant_id: i64,
    token_sha256: &'a str,
    label: Option<&'a str>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Issues a token for participant `participant_id`, valid for `days` days (1 to
/// [`MAX_TOKEN_DAYS`]). Returns the token once; only its SHA-256 is stored.
pub fn issue_token(
    conn: &mut DbConn,
    participant_id: i64,
    label: Option<&str>,
    days: u32,
    now: NaiveDateTime,
) -> Result<IssuedToken, ParticipantError> {
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ParticipantError::invalid(
            "invalid_expiry",
            format!("a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}"),
        ));
    }
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > 100 || l.chars().any(char::is_control)) {
        return Err(ParticipantError::invalid(
            "invalid_label",
            "a label is at most 100 characters without control characters",
        ));
    }
    let secret = token::generate().map_err(ParticipantError::Random)?;
    let digest = token::digest(&secret);
    conn.transaction(|conn| {
        get_active(conn, participant_id)?;
        diesel::insert_into(t::table)
            .values(&NewTokenRow {
                participant_id,
                token_sha256: &digest,
                label,
                created_at: now,
                expires_at: now + Duration::days(i64::from(days)),
            })
            .execute(conn)?;
        let row: TokenRow = t::table
            .filter(t::token_sha256.eq(&digest))
            .select(TOKEN_COLUMNS)
            .first(conn)?;
        Ok(IssuedToken {
            token: secret,
            info: token_from_row(row),
        })
    })
}

/// Revokes token `id`. Revoking a revoked token changes nothing.
pub fn revoke_token(
    conn: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
) -> Result<Revocation<TokenInfo>, ParticipantError> {
    conn.transaction(|conn| {
        let load = |conn: &mut DbConn| -> Result<TokenInfo, ParticipantError> {
            let row: Option<TokenRow> = t::table
                .find(id)
                .select(TOKEN_COLUMNS)
                .first(conn)
                .optional()?;
            row.map(token_from_row)
                .ok_or(ParticipantError::TokenNotFound(id))
        };
        let before = load(conn)?;
        let already = before.revoked_at.is_some();
        if !already {
            diesel::update(t::table.find(id))
                .set(t::revoked_at.eq(now))
                .execute(conn)?;
        }
        Ok(Revocation {
            revoked: if already { before } else { load(conn)? },
            already,
            tokens: 0,
            certificates: 0,
        })
    })
}

/// The tokens of participant `participant_id`, by number.
pub fn tokens(conn: &mut DbConn, participant_id: i64) -> Result<Vec<TokenInfo>, ParticipantError> {
    let rows: Vec<TokenRow> = t::table
        .filter(t::participant_id.eq(participant_id))
        .select(TOKEN_COLUMNS)
        .order(t::id.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(token_from_row).collect())
}

// ---- certificates ---------------------------------------------------------------------------

/// A registered certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// Its number.
    pub id: i64,
    /// Whose it is.
    pub participant_id: i64,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint_sha256: String,
    /// Its subject.
    pub subject: String,
    /// Its serial number (hex).
    pub serial: String,
    /// End of validity (UTC).
    pub not_after: NaiveDateTime,
    /// When it was registered (UTC).
    pub added_at: NaiveDateTime,
    /// When it was revoked (UTC).
    pub revoked_at: Option<NaiveDateTime>,
}

type CertificateRow = (
    i64,
    i64,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

const CERTIFICATE_COLUMNS: (
    c::id,
    c::participant_id,
    c::fingerprint_sha256,
    c::subject,
    c::serial,
    c::not_after,
    c::added_at,
    c::revoked_at,
) = (
    c::id,
    c::participant_id,
    c::fingerprint_sha256,
    c::subject,
    c::serial,
    c::not_after,
    c::added_at,
    c::revoked_at,
);

fn certificate_from_row(row: CertificateRow) -> Certificate {
    let (id, participant_id, fingerprint_sha256, subject, serial, not_after, added_at, revoked_at) =
        row;
    Certificate {
        id,
        participant_id,
        fingerprint_sha256,
        subject,
        serial,
        not_after,
        added_at,
        revoked_at,
    }
}

#[derive(Insertable)]
#[diesel(table_name = c)]
struct NewCertificateRow<'a> {
    participant_id: i64,
    fingerprint_sha256: &'a str,
    subject: &'a str,
    serial: &'a str,
    not_after: NaiveDateTime,
    added_at: NaiveDateTime,
}

fn certificate_by_fingerprint(
    conn: &mut DbConn,
    fingerprint: &str,
) -> QueryResult<Option<Certificate>> {
    let row: Option<CertificateRow> = c::table
        .filter(c::fingerprint_sha256.eq(fingerprint))
        .select(CERTIFICATE_COLUMNS)
        .first(conn)
        .optional()?;
    Ok(row.map(certificate_from_row))
}

/// Registers a client certificate to participant `participant_id`. Refused when it has expired
/// or is registered already (to anyone, revoked or not).
pub fn register_certificate(
    conn: &mut DbConn,
    participant_id: i64,
    cert: &CertificateInfo,
    now: NaiveDateTime,
) -> Result<Certificate, ParticipantError> {
    if cert.not_after <= now {
        return Err(ParticipantError::CertificateExpired(cert.not_after));
    }
    conn.transaction(|conn| {
        get_active(conn, participant_id)?;
        if let Some(existing) = certificate_by_fingerprint(conn, &cert.fingerprint_sha256)? {
            return Err(ParticipantError::CertificateExists {
                fingerprint: existing.fingerprint_sha256,
                id: existing.id,
                participant_id: existing.participant_id,
                revoked: existing.revoked_at.is_some(),
            });
        }
        diesel::insert_into(c::table)
            .values(&NewCertificateRow {
                participant_id,
                fingerprint_sha256: &cert.fingerprint_sha256,
                subject: &cert.subject,
                serial: &cert.serial,
                not_after: cert.not_after,
                added_at: now,
            })
            .execute(conn)?;
        certificate_by_fingerprint(conn, &cert.fingerprint_sha256)?
            .ok_or_else(|| ParticipantError::CertificateNotFound(cert.fingerprint_sha256.clone()))
    })
}

/// A registered certificate named on the command line: its number, or its SHA-256 fingerprint
/// (64 hex digits, colons allowed, any case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateRef {
    /// By number.
    Id(i64),
    /// By fingerprint, normalised to lower-case hex.
    Fingerprint(String),
}

impl CertificateRef {
    /// Reads a number or a fingerprint.
    pub fn parse(text: &str) -> Result<Self, ParticipantError> {
        let text = text.trim();
        if let Ok(id) = text.parse::<i64>()
            && text.len() < 20
        {
            return Ok(Self::Id(id));
        }
        let hex: String = text
            .chars()
            .filter(|ch| *ch != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self::Fingerprint(hex))
        } else {
            Err(ParticipantError::invalid(
                "invalid_certificate_ref",
                format!(
                    "`{text}` is neither a certificate number nor a SHA-256 fingerprint (64 hex digits)"
                ),
            ))
        }
    }
}

impl fmt::Display for CertificateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Fingerprint(hex) => f.write_str(hex),
        }
    }
}

/// Revokes (unregisters) a certificate. Revoking a revoked certificate changes nothing; the
/// row stays, so the same certificate cannot be registered again.
pub fn revoke_certificate(
    conn: &mut DbConn,
    which: &CertificateRef,
    now: NaiveDateTime,
) -> Result<Revocation<Certificate>, ParticipantError> {
    conn.transaction(|conn| {
        let row: Option<CertificateRow> = match which {
            CertificateRef::Id(id) => c::table
                .find(*id)
                .select(CERTIFICATE_COLUMNS)
                .first(conn)
                .optional()?,
            CertificateRef::Fingerprint(hex) => c::table
                .filter(c::fingerprint_sha256.eq(hex))
                .select(CERTIFICATE_COLUMNS)
                .first(conn)
                .optional()?,
        };
        let before = row
            .map(certificate_from_row)
            .ok_or_else(|| ParticipantError::CertificateNotFound(which.to_string()))?;
        if before.revoked_at.is_some() {
            return Ok(Revocation {
                revoked: before,
                already: true,
                tokens: 0,
                certificates: 0,
            });
        }
        diesel::update(c::table.find(before.id))
            .set(c::revoked_at.eq(now))
            .execute(conn)?;
        Ok(Revocation {
            revoked: Certificate {
                revoked_at: Some(now),
                ..before
            },
            already: false,
            tokens: 0,
            certificates: 0,
        })
    })
}

/// The certificates of participant `participant_id`, by number.
pub fn certificates(
    conn: &mut DbConn,
    participant_id: i64,
) -> Result<Vec<Certificate>, ParticipantError> {
    let rows: Vec<CertificateRow> = c::table
        .filter(c::participant_id.eq(participant_id))
        .select(CERTIFICATE_COLUMNS)
        .order(c::id.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(certificate_from_row).collect())
}

// ---- authentication -------------------------------------------------------------------------

/// Why a credential was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// No such token digest or certificate fingerprint.
    #[error("not known")]
    Unknown,
    /// The credential was revoked.
    #[error("revoked on {0}")]
    Revoked(NaiveDateTime),
    /// The credential's validity ended.
    #[error("expired on {0}")]
    Expired(NaiveDateTime),
    /// The credential's participant was revoked.
    #[error("participant {id} was revoked on {since}")]
    ParticipantRevoked {
        /// The participant.
        id: i64,
        /// When.
        since: NaiveDateTime,
    },
    /// The database failed.
    #[error("database statement failed")]
    Store(#[from] DieselError),
}

type PrincipalColumns = (
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<NaiveDateTime>,
);

const PRINCIPAL_COLUMNS: (
    p::id,
    p::kind,
    p::org_code,
    p::name,
    p::roles,
    p::revoked_at,
) = (
    p::id,
    p::kind,
    p::org_code,
    p::name,
    p::roles,
    p::revoked_at,
);

/// `(id, expires_at, revoked_at, last_used_at)` of a token.
type TokenState = (
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// The principal of a participant row, or why it may not act.
fn principal(row: PrincipalColumns) -> Result<Principal, AuthFailure> {
    let (id, kind, org_code, name, roles, revoked_at) = row;
    if let Some(since) = revoked_at {
        return Err(AuthFailure::ParticipantRevoked { id, since });
    }
    Ok(Principal {
        id,
        kind: parse_kind(id, &kind)?,
        org_code,
        name,
        roles: parse_roles(id, &roles)?,
    })
}

/// The participant whose token has the SHA-256 `digest` (lower-case hex), if the token and the
/// participant are not revoked and the token has not expired. Records the use (at most once a
/// minute per token; a failure to record it is logged, not fatal).
pub fn authenticate_token(
    conn: &mut DbConn,
    digest: &str,
    now: NaiveDateTime,
) -> Result<Principal, AuthFailure> {
    token_principal(conn, digest, now).map(|(principal, _)| principal)
}

/// [`authenticate_token`], with the moment the token expires.
pub(crate) fn token_principal(
    conn: &mut DbConn,
    digest: &str,
    now: NaiveDateTime,
) -> Result<(Principal, NaiveDateTime), AuthFailure> {
    let row: Option<(TokenState, PrincipalColumns)> = t::table
        .inner_join(p::table)
        .filter(t::token_sha256.eq(digest))
        .select((
            (t::id, t::expires_at, t::revoked_at, t::last_used_at),
            PRINCIPAL_COLUMNS,
        ))
        .first(conn)
        .optional()?;
    let Some(((token_id, expires_at, revoked_at, last_used_at), participant)) = row else {
        return Err(AuthFailure::Unknown);
    };
    if let Some(since) = revoked_at {
        return Err(AuthFailure::Revoked(since));
    }
    let principal = principal(participant)?;
    if expires_at <= now {
        return Err(AuthFailure::Expired(expires_at));
    }
    let stale =
        last_used_at.is_none_or(|at| now - at >= Duration::seconds(LAST_USED_RESOLUTION_SECS));
    if stale
        && let Err(e) = diesel::update(t::table.find(token_id))
            .set(t::last_used_at.eq(now))
            .execute(conn)
    {
        tracing::warn!(token.id = token_id, error = %e, "cannot record the use of a token");
    }
    Ok((principal, expires_at))
}

/// The participant a client certificate with SHA-256 `fingerprint` (lower-case hex) is
/// registered to, if the certificate and the participant are not revoked and the certificate
/// has not expired.
pub fn authenticate_certificate(
    conn: &mut DbConn,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<Principal, AuthFailure> {
    certificate_principal(conn, fingerprint, now).map(|(principal, _)| principal)
}

/// [`authenticate_certificate`], with the moment the certificate expires.
pub(crate) fn certificate_principal(
    conn: &mut DbConn,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<(Principal, NaiveDateTime), AuthFailure> {
    let row: Option<((NaiveDateTime, Option<NaiveDateTime>), PrincipalColumns)> = c::table
        .inner_join(p::table)
        .filter(c::fingerprint_sha256.eq(fingerprint))
        .select(((c::not_after, c::revoked_at), PRINCIPAL_COLUMNS))
        .first(conn)
        .optional()?;
    let Some(((not_after, revoked_at), participant)) = row else {
        return Err(AuthFailure::Unknown);
    };
    if let Some(since) = revoked_at {
        return Err(AuthFailure::Revoked(since));
    }
    let principal = principal(participant)?;
    if not_after <= now {
        return Err(AuthFailure::Expired(not_after));
    }
    Ok((principal, not_after))
}

/// The credential epoch (migration 000014): moved in the same transaction by every change to
/// a participant, or to a token or certificate, that can change who authenticates. `None`
/// when its row is missing (then nothing authenticated may be kept, see `participants::cache`).
///
/// # Errors
/// The statement failed.
pub fn credential_epoch(conn: &mut DbConn) -> Result<Option<i64>, DieselError> {
    use crate::db::schema::credential_epoch::dsl as e;
    e::credential_epoch
        .filter(e::id.eq(1))
        .select(e::epoch)
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_checked() {
        assert_eq!(check_name("  ГБУЗ «Тест» ").unwrap(), "ГБУЗ «Тест»");
        assert_eq!(check_name("   ").unwrap_err().code(), "invalid_name");
        assert_eq!(check_name("a\nb").unwrap_err().code(), "invalid_name");
        assert_eq!(
            check_email(" it@clinic.example ").unwrap(),
            "it@clinic.example"
        );
        for bad in [
            "clinic.example",
            "@x.ru",
            "a@b",
            "a@.ru",
            "a b@c.ru",
            "a@b@c.ru",
        ] {
            assert_eq!(
                check_email(bad).unwrap_err().code(),
                "invalid_email",
                "{bad}"
            );
        }
    }

    #[test]
    fn certificates_are_named_by_number_or_fingerprint() {
        assert_eq!(CertificateRef::parse("17").unwrap(), CertificateRef::Id(17));
        let hex = "AB:".repeat(31) + "AB";
        assert_eq!(
            CertificateRef::parse(&hex).unwrap(),
            CertificateRef::Fingerprint("ab".repeat(32))
        );
        assert_eq!(
            CertificateRef::parse("xyz").unwrap_err().code(),
            "invalid_certificate_ref"
        );
    }
}
