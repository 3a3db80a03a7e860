//! The care billed for an insured person (issue 8, point 7; `GET /api/v1/persons/{enp}/care`):
//! the cases of accepted and partly accepted packages carrying the person's ENP, with the
//! amount billed and, when the rules stored a decision, OPLATA and the amount accepted; newest
//! first, one page at a time.
//!
//! Personal data of health, read only by who needs it (issue 21, point 12; docs/ERZ.md): each
//! case is decided on its own row by the reader's [`CareScope`]: a clinic reads its own cases;
//! an insurer the cases dated while the person was insured with it; a fund the cases of its
//! territory's clinics and those dated while the person was insured in its territory; auditors
//! and administrators all. A reader who may see none of the person's cases is refused
//! ([`Care::NotVisible`]) and learns nothing, not even whether there are any. Every read writes
//! an audit row (`erz_status_query`, `by_key` `care`), as the policy status does. Called by
//! `api::erz`.

use chrono::NaiveDateTime;

pub use super::repo::care::CareScope;
use super::repo::care::{self, CareRow};
use super::repo::{self, NewStatusQuery};
use super::status::{Asker, StatusError};
use crate::db::DbConn;
use crate::domain::Enp;

/// The answer to a read of a person's care.
#[derive(Debug)]
pub enum Care {
    /// The page of the cases the reader may see, and how many it may see in all.
    Cases(Vec<CareRow>, i64),
    /// The reader may see none of the person's cases (or the person has none and the reader
    /// does not see everything).
    NotVisible,
}

/// The cases of the person `enp` that `scope` holds (`offset`, `limit`: the page), and how many
/// there are in all; audited at `now`. A malformed ENP is [`StatusError::Invalid`] naming the
/// failed check (not audited: it names nobody).
pub fn care_of(
    conn: &mut DbConn,
    asker: &Asker,
    enp: &str,
    scope: &CareScope,
    page: (i64, i64),
    now: NaiveDateTime,
) -> Result<Care, StatusError> {
    let (offset, limit) = page;
    let enp =
        Enp::parse(enp.trim()).map_err(|error| StatusError::Invalid { what: "enp", error })?;
    let (rows, total) = care::cases_of(conn, enp.as_str(), scope, offset, limit)?;
    if total == 0 && *scope != CareScope::All {
        return Ok(Care::NotVisible);
    }
    let person = repo::person_by_enp(conn, enp.as_str())?;
    repo::insert_status_query(
        conn,
        &NewStatusQuery {
            asked_at: now,
            caller: asker.caller.clone(),
            participant_id: asker.participant_id,
            by_key: "care".into(),
            subject: enp.as_str().to_owned(),
            on_date: now.date(),
            as_of: None,
            person_id: person,
            outcome: if total > 0 { "found" } else { "not_found" }.into(),
        },
    )?;
    Ok(Care::Cases(rows, total))
}
