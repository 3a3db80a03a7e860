//! The care billed for an insured person (issue 8, point 7; `GET /api/v1/persons/{enp}/care`):
//! the cases of accepted and partly accepted packages carrying the person's ENP, with the
//! amount billed and, when the rules stored a decision, OPLATA and the amount accepted; newest
//! first, one page at a time. Every call writes an audit row (`erz_status_query`, `by_key`
//! `care`), as the policy status does. Called by `api::erz`.

use chrono::NaiveDateTime;

use super::repo::care::{self, CareRow};
use super::repo::{self, NewStatusQuery};
use super::status::{Asker, StatusError};
use crate::db::DbConn;
use crate::domain::Enp;

/// The cases of the person `enp` (`offset`, `limit`: the page), and how many there are in all;
/// audited at `now`. A malformed ENP is [`StatusError::Invalid`] naming the failed check
/// (not audited: it names nobody).
pub fn care_of(
    conn: &mut DbConn,
    asker: &Asker,
    enp: &str,
    offset: i64,
    limit: i64,
    now: NaiveDateTime,
) -> Result<(Vec<CareRow>, i64), StatusError> {
    let enp =
        Enp::parse(enp.trim()).map_err(|error| StatusError::Invalid { what: "enp", error })?;
    let (rows, total) = care::cases_of(conn, enp.as_str(), offset, limit)?;
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
    Ok((rows, total))
}
