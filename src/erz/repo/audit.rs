//! The batch writer of the policy-status audit (`erz_status_query`): many audit rows in one
//! transaction, multi-row INSERTs of at most 1,000 rows. Called by `erz::audit`, whose writer
//! thread gathers the rows of many requests.

use diesel::prelude::*;

use super::NewStatusQuery;
use crate::db::DbConn;
use crate::db::schema::erz_status_query;

/// Rows per INSERT (9 columns: 9,000 parameters).
const CHUNK: usize = 1_000;

#[derive(Insertable)]
#[diesel(table_name = erz_status_query)]
#[diesel(treat_none_as_default_value = false)]
struct Row<'a> {
    asked_at: chrono::NaiveDateTime,
    caller: &'a str,
    participant_id: Option<i64>,
    by_key: &'a str,
    subject: &'a str,
    on_date: chrono::NaiveDate,
    as_of: Option<chrono::NaiveDateTime>,
    person_id: Option<i64>,
    outcome: &'a str,
}

/// Writes `rows` in one transaction.
pub fn insert_status_queries(conn: &mut DbConn, rows: &[NewStatusQuery]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for chunk in rows.chunks(CHUNK) {
            let values: Vec<Row<'_>> = chunk
                .iter()
                .map(|r| Row {
                    asked_at: r.asked_at,
                    caller: &r.caller,
                    participant_id: r.participant_id,
                    by_key: &r.by_key,
                    subject: &r.subject,
                    on_date: r.on_date,
                    as_of: r.as_of,
                    person_id: r.person_id,
                    outcome: &r.outcome,
                })
                .collect();
            crate::per_backend!(conn, |c| diesel::insert_into(erz_status_query::table)
                .values(&values)
                .execute(c))?;
        }
        Ok(())
    })
}
