//! Reads the care cases billed for a person (`GET /api/v1/persons/{enp}/care`, `erz::care`):
//! the rows of `package_case` with the person's ENP, from the final attempt of packages that
//! ended `accepted` or `partly_accepted`, with the case's decision (`case_decision`: OPLATA,
//! SUMP) when the rules stored one. Those tables belong to intake and settlement; this module
//! only reads them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};

use crate::db::DbConn;

/// One case billed for the person.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct CareRow {
    /// The package the case came in.
    #[diesel(sql_type = Text)]
    pub package_id: String,
    /// When the package was received.
    #[diesel(sql_type = Timestamp)]
    pub received_at: NaiveDateTime,
    /// `package.status`: `accepted` or `partly_accepted`.
    #[diesel(sql_type = Text)]
    pub package_status: String,
    /// `N_ZAP` of the case in its file.
    #[diesel(sql_type = BigInt)]
    pub n_zap: i64,
    /// `IDCASE`.
    #[diesel(sql_type = BigInt)]
    pub idcase: i64,
    /// The clinic (`CODE_MO`/LPU).
    #[diesel(sql_type = Text)]
    pub code_mo: String,
    /// First day of the case (`DATE_Z_1`).
    #[diesel(sql_type = Date)]
    pub date_1: NaiveDate,
    /// Last day (`DATE_Z_2`).
    #[diesel(sql_type = Date)]
    pub date_2: NaiveDate,
    /// Conditions of care (`USL_OK`, V006).
    #[diesel(sql_type = Nullable<Integer>)]
    pub usl_ok: Option<i32>,
    /// The amount billed (`SUMV`), in kopecks.
    #[diesel(sql_type = BigInt)]
    pub billed_kopecks: i64,
    /// OPLATA of the stored decision: 1 paid, 2 refused, 3 partly paid.
    #[diesel(sql_type = Nullable<Integer>)]
    pub oplata: Option<i32>,
    /// SUMP of the stored decision, in kopecks.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub paid_kopecks: Option<i64>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const FROM: &str = "FROM package_case c \
     JOIN package p ON p.id = c.package_id AND p.attempts = c.attempt \
     LEFT JOIN case_decision d ON d.package_id = c.package_id AND d.n_zap = c.n_zap \
     WHERE c.enp = $1 AND p.status IN ('accepted', 'partly_accepted')";

fn dialect(conn: &DbConn, text: &str) -> String {
    match conn {
        DbConn::Pg(_) => text.to_owned(),
        DbConn::Sqlite(_) => text.replace('$', "?"),
    }
}

/// The cases of `enp`, newest first (by last day, then by package received), `limit` from
/// `offset`; and how many there are in all.
pub fn cases_of(
    conn: &mut DbConn,
    enp: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<CareRow>, i64)> {
    let count = dialect(conn, &format!("SELECT COUNT(*) AS n {FROM}"));
    let q = diesel::sql_query(count).bind::<Text, _>(enp);
    let total: Vec<Count> = match conn {
        DbConn::Pg(c) => q.load(c),
        DbConn::Sqlite(c) => q.load(c),
    }?;
    let page = dialect(
        conn,
        &format!(
            "SELECT c.package_id, p.received_at, p.status AS package_status, c.n_zap, c.idcase, \
             c.code_mo, c.date_1, c.date_2, c.usl_ok, c.sum_kopecks AS billed_kopecks, \
             d.oplata, d.sump AS paid_kopecks {FROM} \
             ORDER BY c.date_2 DESC, p.received_at DESC, c.package_id, c.n_zap \
             LIMIT $2 OFFSET $3"
        ),
    );
    let q = diesel::sql_query(page)
        .bind::<Text, _>(enp)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
    let rows: Vec<CareRow> = match conn {
        DbConn::Pg(c) => q.load(c),
        DbConn::Sqlite(c) => q.load(c),
    }?;
    Ok((rows, total.first().map_or(0, |c| c.n)))
}
