//! The policy status of a person on a date (formats.md 4; issue 8, point 5): insured or not,
//! by which insurer (code and name from the register of insurers), with which policy, its
//! validity and territory, and the clinic attachments; as the register knows it now or as it
//! knew it at a given time. Every query, found or not, writes an audit row (who asked about
//! whom). Called by `api::erz`.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::repo::status::{Attached, Episode, StatusFacts};
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
    /// By names, birth date and identity document.
    Names(NamesKey),
}

/// A look-up by names + birth date + identity document. Names are compared in the normal
/// form of `erz::names`; `im`, `ot` and `docser` only when given.
#[derive(Clone)]
pub struct NamesKey {
    /// Surname (FAM), normalised.
    pub fam: String,
    /// First name (IM), normalised, when given.
    pub im: Option<String>,
    /// Patronymic (OT), normalised, when given.
    pub ot: Option<String>,
    /// Birth date (DR).
    pub dr: NaiveDate,
    /// F011 document type.
    pub doctype: i32,
    /// Series, when given.
    pub docser: Option<String>,
    /// Number.
    pub docnum: String,
}

impl std::fmt::Debug for NamesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamesKey(***)")
    }
}

impl NamesKey {
    /// The digest the audit keeps instead of the names: SHA-256 of the normalised key.
    fn digest(&self) -> String {
        use sha2::Digest as _;
        use std::fmt::Write as _;
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.fam,
            self.im.as_deref().unwrap_or(""),
            self.ot.as_deref().unwrap_or(""),
            self.dr,
            self.doctype,
            self.docser.as_deref().unwrap_or(""),
            self.docnum
        );
        let hash = sha2::Sha256::digest(text.as_bytes());
        let hex = hash.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        });
        format!("sha256:{hex}")
    }
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

    /// Parses the names key: `fam`, `dr` (YYYY-MM-DD), `doctype` and `docnum` required.
    pub fn names(
        fam: Option<&str>,
        im: Option<&str>,
        ot: Option<&str>,
        dr: Option<&str>,
        doctype: Option<&str>,
        docser: Option<&str>,
        docnum: Option<&str>,
    ) -> Result<Self, StatusError> {
        use super::names::normalise;
        let fam = normalise(fam).ok_or(StatusError::NamesKey("fam"))?;
        let dr = dr
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
            .ok_or(StatusError::NamesKey("dr"))?;
        let doctype = doctype
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|t| (1..=99).contains(t))
            .ok_or(StatusError::NamesKey("doctype"))?;
        let docnum = docnum
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or(StatusError::NamesKey("docnum"))?
            .to_owned();
        Ok(Self::Names(NamesKey {
            fam,
            im: normalise(im),
            ot: normalise(ot),
            dr,
            doctype,
            docser: docser
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            docnum,
        }))
    }

    fn parts(&self) -> (&'static str, String) {
        match self {
            Self::Enp(e) => ("enp", e.as_str().to_owned()),
            Self::Snils(s) => ("snils", s.digits().to_owned()),
            Self::Names(n) => ("names", n.digest()),
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
    /// Several persons carry that SNILS (or match those names, birth date and document).
    #[error("several insured persons are registered under this key")]
    Ambiguous,
    /// A part of the names key is missing or malformed (`fam`, `dr`, `doctype`, `docnum`).
    #[error(
        "the look-up by names needs fam, dr (YYYY-MM-DD), doctype (F011) and docnum; {0} is missing or malformed"
    )]
    NamesKey(&'static str),
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
            Self::NamesKey(_) => "names_key_invalid",
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
    /// Why not: `no_insurance` (no episode on that date), `policy_expired` (past DEND) or
    /// `deceased` (the date is after the death date on record).
    pub reason: Option<&'static str>,
    /// The death date on record, when the date asked is after it.
    pub death_date: Option<NaiveDate>,
    /// The insurer of the episode on that date.
    pub insurer: Option<InsurerView>,
    /// Its policy.
    pub policy: Option<PolicyView>,
    /// `TER_ST`, OKATO of the territory of insurance.
    pub territory: Option<String>,
    /// Attachments valid on that date.
    pub attachments: Vec<AttachmentView>,
    /// When the person asked about was merged into another (as known at `as_of`): the
    /// survivor's ENP; the status above is the survivor's (`erz::review`).
    pub merged_into: Option<String>,
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
    let status = match quick(conn, registers, key, on, as_of)? {
        Some(answer) => answer,
        None => general(conn, registers, key, on, as_of)?,
    };
    audit(conn, audit_row(asker, key, on, as_of, now, &status))?;
    status.map(|(_, s)| s)
}

/// The audit row of a question and its answer.
fn audit_row(
    asker: &Asker,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
    now: NaiveDateTime,
    status: &Found,
) -> NewStatusQuery {
    let (by_key, subject) = key.parts();
    let (person_id, outcome) = match status {
        Ok((person, s)) if s.insured => (Some(*person), "insured"),
        Ok((person, _)) => (Some(*person), "not_insured"),
        Err(_) => (None, "not_found"),
    };
    NewStatusQuery {
        asked_at: now,
        caller: asker.caller.clone(),
        participant_id: asker.participant_id,
        by_key: by_key.to_owned(),
        subject,
        on_date: on,
        as_of,
        person_id,
        outcome: outcome.to_owned(),
    }
}

/// The common question (by ENP, as known now) answered from the facts already read of it
/// (`erz::status_batch`), with the audit row to write; `None` when the person is merged into
/// another and [`policy_status_with`] must answer.
#[must_use]
pub fn status_from_facts(
    registers: &dyn RegisterLookup,
    asker: &Asker,
    enp: &Enp,
    on: NaiveDate,
    now: NaiveDateTime,
    facts: Option<StatusFacts>,
) -> Option<(Result<PolicyStatus, StatusError>, NewStatusQuery)> {
    let found = from_facts(registers, enp, on, facts)?;
    let row = audit_row(asker, &StatusKey::Enp(enp.clone()), on, None, now, &found);
    Some((found.map(|(_, s)| s), row))
}

/// The answer found (the person's id and status) or why there is none.
type Found = Result<(i64, PolicyStatus), StatusError>;

/// The common question, by ENP as known now, in one statement (`repo::status`); `None` when
/// the question is another or the person is merged into another: [`general`] answers then.
fn quick(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> Result<Option<Found>, diesel::result::Error> {
    let (StatusKey::Enp(enp), None) = (key, as_of) else {
        return Ok(None);
    };
    let facts = repo::status::status_by_enp_now(conn, enp.as_str(), on)?;
    Ok(from_facts(registers, enp, on, facts))
}

/// The answer from the facts of the person with `enp` as known now (`None`: no such person);
/// `None` when the person is merged into another (the general path answers).
fn from_facts(
    registers: &dyn RegisterLookup,
    enp: &Enp,
    on: NaiveDate,
    facts: Option<StatusFacts>,
) -> Option<Found> {
    match facts {
        Some(f) if f.registered && f.merged_into.is_none() => Some(Ok((
            f.person,
            answer(
                registers,
                enp.as_str().to_owned(),
                on,
                None,
                f.death_date,
                f.episode,
                f.attachments,
            ),
        ))),
        Some(f) if f.registered => None,
        _ => Some(Err(StatusError::NotFound("ENP"))),
    }
}

/// Any question, a read per part of the answer.
fn general(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> Result<Found, diesel::result::Error> {
    let found = find(conn, key, on, as_of)?;
    Ok(match found {
        Ok((person, read)) => {
            // A person merged into another answers as the survivor (erz::review).
            let survivor = repo::matching::survivor(conn, person, as_of)?;
            let read = if survivor == person {
                read
            } else {
                Read::default()
            };
            let (id, mut s) = status_of(conn, registers, survivor, on, as_of, read)?;
            if survivor != person {
                s.merged_into = Some(std::mem::replace(&mut s.enp, repo::enp_of(conn, person)?));
            }
            Ok((id, s))
        }
        Err(e) => Err(e),
    })
}

/// What finding the person already read of it, so that [`status_of`] does not read it again
/// (`None`: not read).
#[derive(Debug, Default)]
struct Read {
    /// The person's ENP.
    enp: Option<String>,
    /// The death date on record (as `repo::lists::death_date_of` answers it).
    death: Death,
}

/// Whether the death date on record was read, and what it is.
#[derive(Debug, Default)]
enum Death {
    /// Not read.
    #[default]
    Unread,
    /// Read: the date, or none on record.
    Read(Option<NaiveDate>),
}

/// The person `key` names (with what was read of it on the way), or why not.
fn find(
    conn: &mut DbConn,
    key: &StatusKey,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> Result<Result<(i64, Read), StatusError>, diesel::result::Error> {
    let found = |person| Ok((person, Read::default()));
    Ok(match key {
        StatusKey::Enp(enp) => match repo::person_by_enp(conn, enp.as_str())? {
            Some(person) => match as_of {
                // As known now: the current versions' death dates, newest first, say at once
                // whether the person is registered (not annulled) and whether they died.
                None => {
                    let deaths = repo::current_death_dates(conn, person)?;
                    if deaths.is_empty() {
                        Err(StatusError::NotFound("ENP"))
                    } else {
                        Ok((
                            person,
                            Read {
                                enp: Some(enp.as_str().to_owned()),
                                death: Death::Read(deaths.into_iter().flatten().next()),
                            },
                        ))
                    }
                }
                Some(at) if repo::person_versions_known_at(conn, person, at)? > 0 => Ok((
                    person,
                    Read {
                        enp: Some(enp.as_str().to_owned()),
                        death: Death::Unread,
                    },
                )),
                Some(_) => Err(StatusError::NotFound("ENP")),
            },
            None => Err(StatusError::NotFound("ENP")),
        },
        StatusKey::Snils(snils) => {
            let mut persons = repo::persons_with_snils_at(conn, snils.digits(), on, as_of)?;
            // Persons merged into one are one person.
            for p in &mut persons {
                *p = repo::matching::survivor(conn, *p, as_of)?;
            }
            persons.sort_unstable();
            persons.dedup();
            match persons.as_slice() {
                [] => Err(StatusError::NotFound("SNILS")),
                [one] => found(*one),
                _ => Err(StatusError::Ambiguous),
            }
        }
        StatusKey::Names(key) => {
            let mut matching = Vec::new();
            let persons = repo::lists::persons_with_document_at(
                conn,
                key.doctype,
                key.docser.as_deref(),
                &key.docnum,
                on,
                as_of,
            )?;
            for person in persons {
                if repo::person_at(conn, person, on, as_of)?
                    .first()
                    .is_some_and(|v| names_match(key, v))
                {
                    matching.push(person);
                }
            }
            match matching.as_slice() {
                [] => Err(StatusError::NotFound("names, birth date and document")),
                [one] => found(*one),
                _ => Err(StatusError::Ambiguous),
            }
        }
    })
}

/// Whether the person version `v` has the names and birth date of `key`.
fn names_match(key: &NamesKey, v: &repo::PersonVersionRow) -> bool {
    use super::names::normalise;
    v.birth_date == key.dr
        && normalise(Some(&v.fam)).as_deref() == Some(key.fam.as_str())
        && key
            .im
            .as_ref()
            .is_none_or(|im| normalise(v.im.as_deref()).as_ref() == Some(im))
        && key
            .ot
            .as_ref()
            .is_none_or(|ot| normalise(v.ot.as_deref()).as_ref() == Some(ot))
}

fn status_of(
    conn: &mut DbConn,
    registers: &dyn RegisterLookup,
    person: i64,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
    read: Read,
) -> Result<(i64, PolicyStatus), diesel::result::Error> {
    let enp = match read.enp {
        Some(enp) => enp,
        None => repo::enp_of(conn, person)?,
    };
    let death_date = match read.death {
        Death::Read(death) => death,
        Death::Unread => repo::lists::death_date_of(conn, person, as_of)?,
    };
    let episode = repo::insurance_at(conn, person, on, as_of)?
        .into_iter()
        .next()
        .map(|e| Episode {
            insurer_code: e.insurer_code,
            policy_kind: e.policy_kind,
            policy_series: e.policy_series,
            policy_number: e.policy_number,
            policy_form: e.policy_form,
            territory: e.territory,
            start_date: e.start_date,
            planned_end: e.planned_end,
            stop_date: e.stop_date,
        });
    let attachments = repo::attachments_at(conn, person, on, as_of)?
        .into_iter()
        .map(|a| Attached {
            lpu_id: a.lpu_id,
            kind: a.kind,
            since: a.valid_from,
        })
        .collect();
    Ok((
        person,
        answer(registers, enp, on, as_of, death_date, episode, attachments),
    ))
}

/// The answer from what was read: the death date on record, the episode valid on `on` and
/// the attachments valid then.
fn answer(
    registers: &dyn RegisterLookup,
    enp: String,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
    death_date: Option<NaiveDate>,
    episode: Option<Episode>,
    attachments: Vec<Attached>,
) -> PolicyStatus {
    let death_date = death_date.filter(|d| on > *d);
    let attachments = attachments
        .into_iter()
        .map(|a| AttachmentView {
            lpu_id: a.lpu_id,
            kind: a.kind,
            since: a.since,
        })
        .collect();
    let Some(e) = episode else {
        return PolicyStatus {
            enp,
            date: on,
            as_of,
            insured: false,
            reason: Some(if death_date.is_some() {
                "deceased"
            } else {
                "no_insurance"
            }),
            death_date,
            insurer: None,
            policy: None,
            territory: None,
            attachments,
            merged_into: None,
        };
    };
    let expired = e.planned_end.is_some_and(|end| on > end);
    let name = InsurerCode::parse(&e.insurer_code)
        .ok()
        .and_then(|c| registers.insurer(&c).map(|o| o.name.clone()));
    PolicyStatus {
        enp,
        date: on,
        as_of,
        insured: !expired && death_date.is_none(),
        reason: if death_date.is_some() {
            Some("deceased")
        } else {
            expired.then_some("policy_expired")
        },
        death_date,
        insurer: Some(InsurerView {
            code: e.insurer_code,
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
        merged_into: None,
    }
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
