//! The policy status of a person on a date (formats.md 4; issue 8, point 5): insured or not,
//! by which insurer (code and name from the register of insurers), with which policy, its
//! validity and territory, and the clinic attachments; as the register knows it now or as it
//! knew it at a given time. Every query, found or not, writes an audit row (who asked about
//! whom). Called by `api::erz`.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::repo::{self, NewStatusQuery};
use crate::db::DbConn;
use crate::domain::{Enp, IdError, InsurerCode, Snils};
use crate::registers::lookup::RegisterLookup;

/// Whom a query is about.
#[derive(Debug, Clone)]
pub enum StatusKey {
    /// By ENP.
    Enp(Enp),
    /// By SNILS.
    Snils(Snils),
}

impl StatusKey {
    /// Parses an ENP, naming the failed check.
    pub fn enp(text: &str) -> Result<Self, StatusError> {
        Enp::parse(text.trim())
            .map(Self::Enp)
            .map_err(|e| StatusError::Invalid {
                what: "enp",
                error: e,
            })
    }

    /// Parses a SNILS, naming the failed check.
    pub fn snils(text: &str) -> Result<Self, StatusError> {
        Snils::parse(text.trim())
            .map(Self::Snils)
            .map_err(|e| StatusError::Invalid {
                what: "snils",
                error: e,
            })
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Enp(e) => ("enp", e.as_str()),
            Self::Snils(s) => ("snils", s.digits()),
        }
    }
}

/// Who asks, for the audit.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The caller's name (`participant:7`, `admin`).
    pub caller: String,
    /// The participant, when one asks.
    pub participant_id: Option<i64>,
}

/// Why there is no status.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The identifier is malformed.
    #[error("{error}")]
    Invalid {
        /// `enp` or `snils`.
        what: &'static str,
        /// The failed check.
        error: IdError,
    },
    /// Nobody with that identifier is registered (as known at the time asked).
    #[error("no insured person is registered with this {0}")]
    NotFound(&'static str),
    /// Several persons carry that SNILS.
    #[error("several insured persons are registered with this SNILS")]
    Ambiguous,
    /// The database failed.
    #[error("the register of insured persons could not be read")]
    Db(#[from] diesel::result::Error),
}

impl StatusError {
    /// A stable code: `enp_check_digit_mismatch`, `snils_invalid_length`, `person_not_found`, …
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { what, error } => match (*what, error) {
                ("enp", IdError::CheckDigit { .. }) => "enp_check_digit_mismatch",
                ("enp", IdError::Length { .. }) => "enp_invalid_length",
                ("enp", IdError::NotDigit { .. }) => "enp_not_a_digit",
                ("enp", _) => "enp_invalid",
                (_, IdError::CheckDigit { .. }) => "snils_check_digit_mismatch",
                (_, IdError::Length { .. }) => "snils_invalid_length",
                (_, IdError::NotDigit { .. }) => "snils_not_a_digit",
                _ => "snils_invalid",
            },
            Self::NotFound(_) => "person_not_found",
            Self::Ambiguous => "person_ambiguous",
            Self::Db(_) => "database_error",
        }
    }
}

/// The insurer of an episode.
#[derive(Debug, Clone, Serialize)]
pub struct InsurerView {
    /// F002 code.
    pub code: String,
    /// Short name from the register (absent when the register lacks the code).
    pub name: Option<String>,
}

/// The policy of an episode.
#[derive(Clone, Serialize)]
pub struct PolicyView {
    /// VPOLIS: С old-style, В temporary certificate, П paper, Э electronic, К universal e-card.
    pub kind: String,
    /// What the letter means.
    pub kind_name: &'static str,
    /// FPOLIS, the form asked for.
    pub form: Option<String>,
    /// SPOLIS.
    pub series: Option<String>,
    /// NPOLIS.
    pub number: Option<String>,
    /// DBEG.
    pub start: NaiveDate,
    /// DEND, the planned end (a temporary certificate's).
    pub planned_end: Option<NaiveDate>,
    /// DSTOP, the last day insured.
    pub stop: Option<NaiveDate>,
}

/// An attachment to a clinic.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    /// The fund's clinic id (`ID_LPU`).
    pub lpu_id: i64,
    /// The attachment kind (`ID_ZTYPE`).
    pub kind: i32,
    /// Since.
    pub since: NaiveDate,
}

/// The answer.
#[derive(Clone, Serialize)]
pub struct PolicyStatus {
    /// The person's ENP.
    pub enp: String,
    /// The date asked about.
    pub date: NaiveDate,
    /// The record time asked about (`None`: as known now).
    pub as_of: Option<NaiveDateTime>,
    /// Insured on `date`.
    pub insured: bool,
    /// Why not: `no_insurance` (no episode on that date) or `policy_expired` (past DEND).
    pub reason: Option<&'static str>,
    /// The insurer of the episode on that date.
    pub insurer: Option<InsurerView>,
    /// Its policy.
    pub policy: Option<PolicyView>,
    /// `TER_ST`, OKATO of the territory of insurance.
    pub territory: Option<String>,
    /// Attachments valid on that date.
    pub attachments: Vec<AttachmentView>,
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "С" => "old-style policy",
        "В" => "temporary certificate",
        "П" => "paper unified policy",
        "Э" => "electronic unified policy",
        "К" => "policy on a universal e-card",
        _ => "unknown",
    }
}

/// The status of the person `key` names on `on`, as recorded at `as_of` (now when `None`);
/// writes the audit row at `now` whatever the outcome (except a database failure).
pub fn policy_status(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    asker: &Asker,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<PolicyStatus, StatusError> {
    let direct = |conn: &mut DbConn, row: NewStatusQuery| repo::insert_status_query(conn, &row);
    policy_status_with(conn, registers, asker, key, on, as_of, now, &direct)
}

/// As [`policy_status`], with the audit row handed to `audit` (the server's batched writer,
/// `erz::audit`) instead of written in the request.
#[expect(
    clippy::too_many_arguments,
    reason = "policy_status's arguments and the audit"
)]
pub fn policy_status_with(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    asker: &Asker,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
    now: NaiveDateTime,
    audit: &dyn Fn(&mut DbConn, NewStatusQuery) -> diesel::QueryResult<()>,
) -> Result<PolicyStatus, StatusError> {
    let (by_key, subject) = key.parts();
    let found = find(conn, key, on, as_of)?;
    let status = match found {
        Ok(person) => Ok(status_of(conn, registers, person, on, as_of)?),
        Err(e) => Err(e),
    };
    let (person_id, outcome) = match &status {
        Ok((person, s)) if s.insured => (Some(*person), "insured"),
        Ok((person, _)) => (Some(*person), "not_insured"),
        Err(_) => (None, "not_found"),
    };
    audit(
        conn,
        NewStatusQuery {
            asked_at: now,
            caller: asker.caller.clone(),
            participant_id: asker.participant_id,
            by_key: by_key.to_owned(),
            subject: subject.to_owned(),
            on_date: on,
            as_of,
            person_id,
            outcome: outcome.to_owned(),
        },
    )?;
    status.map(|(_, s)| s)
}

/// The person `key` names, or why not.
fn find(
    conn: &mut DbConn,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> Result<Result<i64, StatusError>, diesel::result::Error> {
    Ok(match key {
        StatusKey::Enp(enp) => match repo::person_by_enp(conn, enp.as_str())? {
            Some(person) if known(conn, person, as_of)? => Ok(person),
            _ => Err(StatusError::NotFound("ENP")),
        },
        StatusKey::Snils(snils) => {
            let persons = repo::persons_with_snils_at(conn, snils.digits(), on, as_of)?;
            match persons.as_slice() {
                [] => Err(StatusError::NotFound("SNILS")),
                [one] => Ok(*one),
                _ => Err(StatusError::Ambiguous),
            }
        }
    })
}

/// Whether the register held any data of `person` at `as_of` (an annulled person has none).
fn known(
    conn: &mut DbConn,
    person: i64,
    as_of: Option<NaiveDateTime>,
) -> Result<bool, diesel::result::Error> {
    Ok(match as_of {
        None => !repo::current_person_versions(conn, person)?.is_empty(),
        Some(at) => repo::person_versions_known_at(conn, person, at)? > 0,
    })
}

fn status_of(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    person: i64,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> Result<(i64, PolicyStatus), diesel::result::Error> {
    let enp = repo::enp_of(conn, person)?;
    let episode = repo::insurance_at(conn, person, on, as_of)?
        .into_iter()
        .next();
    let attachments = repo::attachments_at(conn, person, on, as_of)?
        .into_iter()
        .map(|a| AttachmentView {
            lpu_id: a.lpu_id,
            kind: a.kind,
            since: a.valid_from,
        })
        .collect();
    let Some(e) = episode else {
        return Ok((
            person,
            PolicyStatus {
                enp,
                date: on,
                as_of,
                insured: false,
                reason: Some("no_insurance"),
                insurer: None,
                policy: None,
                territory: None,
                attachments,
            },
        ));
    };
    let expired = e.planned_end.is_some_and(|end| on > end);
    let name = InsurerCode::parse(&e.insurer_code)
        .ok()
        .and_then(|c| registers.insurer(&c).map(|o| o.name.clone()));
    Ok((
        person,
        PolicyStatus {
            enp,
            date: on,
            as_of,
            insured: !expired,
            reason: expired.then_some("policy_expired"),
            insurer: Some(InsurerView {
                code: e.insurer_code.clone(),
                name,
            }),
            policy: Some(PolicyView {
                kind_name: kind_name(&e.policy_kind),
                kind: e.policy_kind,
                form: e.policy_form,
                series: e.policy_series,
                number: e.policy_number,
                start: e.start_date,
                planned_end: e.planned_end,
                stop: e.stop_date,
            }),
            territory: e.territory,
            attachments,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_identifier_names_the_failed_check() {
        let code = |r: Result<StatusKey, StatusError>| r.unwrap_err().code();
        assert_eq!(
            code(StatusKey::enp("5054910832000017")),
            "enp_check_digit_mismatch"
        );
        assert_eq!(
            code(StatusKey::enp("505491083200001")),
            "enp_invalid_length"
        );
        assert_eq!(code(StatusKey::enp("50549108320000x6")), "enp_not_a_digit");
        // Territory 00 with the right check digit: exactly one last digit passes Luhn.
        let zeros: Vec<&str> = (0..10)
            .map(|d| code(StatusKey::enp(&format!("005491083200001{d}"))))
            .collect();
        assert_eq!(zeros.iter().filter(|c| **c == "enp_invalid").count(), 1);
        assert_eq!(
            zeros
                .iter()
                .filter(|c| **c == "enp_check_digit_mismatch")
                .count(),
            9
        );
        assert_eq!(
            code(StatusKey::snils("112-233-445 96")),
            "snils_check_digit_mismatch"
        );
        assert!(StatusKey::enp("5054910832000016").is_ok());
        assert!(StatusKey::snils("112-233-445 95").is_ok());
    }
}
