//! Reads the care cases billed for a person (`GET /api/v1/persons/{enp}/care`, `erz::care`):
//! the rows of `package_case` with the person's ENP, from the final attempt of packages that
//! ended `accepted` or `partly_accepted`, with the case's decision (`case_decision`: OPLATA,
//! SUMP) when the rules stored one, limited to the cases the reader may see ([`CareScope`]).
//! Those tables belong to intake and settlement (and `erz_insurance` to the register); this
//! module only reads them.

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

/// The cases a reader of a person's care may see (`erz::care` decides who gets which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CareScope {
    /// Every case (auditors, administrators).
    All,
    /// The cases of this clinic (`CODE_MO`, F003).
    Clinic(String),
    /// The cases dated while the person was insured with this insurer (F002 `smocod`): an
    /// insurance episode of the register, as known now, overlapping the case's days.
    Insurer(String),
    /// The cases of a clinic of this territory (F001 code: the first two digits of
    /// `CODE_MO`), and those dated while the person was insured in it (the first two digits of
    /// the insurer's `smocod`).
    Fund(String),
}

/// An insurance episode of the case's person, as known now, overlapping the case's days
/// (`valid_to` is the day after the last insured), whose insurer matches `{insurer}`.
fn insured_during(insurer: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM erz_person pe JOIN erz_insurance i ON i.person_id = pe.id \
         WHERE pe.enp = c.enp AND {insurer} AND i.superseded_at IS NULL \
         AND i.valid_from <= c.date_2 AND (i.valid_to IS NULL OR i.valid_to > c.date_1))"
    )
}

impl CareScope {
    /// The condition on the case `c` with its parameter `$2`, if any.
    fn condition(&self) -> (String, Option<&str>) {
        match self {
            Self::All => (String::new(), None),
            Self::Clinic(code) => (" AND c.code_mo = $2".to_owned(), Some(code)),
            Self::Insurer(code) => (
                format!(" AND {}", insured_during("i.insurer_code = $2")),
                Some(code),
            ),
            Self::Fund(code) => (
                format!(
                    " AND (substr(c.code_mo, 1, 2) = $2 OR {})",
                    insured_during("substr(i.insurer_code, 1, 2) = $2")
                ),
                Some(code),
            ),
        }
    }
}

/// `text` for the backend of `conn`: SQLite reads `?NNN` as the parameter NNN, as PostgreSQL
/// reads `$NNN`.
fn dialect(conn: &DbConn, text: &str) -> String {
    match conn {
        DbConn::Pg(_) => text.to_owned(),
        DbConn::Sqlite(_) => text.replace('$', "?"),
    }
}

/// The cases of `enp` that `scope` holds, newest first (by last day, then by package
/// received), `limit` from `offset`; and how many there are in all.
pub fn cases_of(
    conn: &mut DbConn,
    enp: &str,
    scope: &CareScope,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<CareRow>, i64)> {
    let (condition, code) = scope.condition();
    let (l, o) = if code.is_some() { (3, 4) } else { (2, 3) };
    let count = dialect(conn, &format!("SELECT COUNT(*) AS n {FROM}{condition}"));
    let page = dialect(
        conn,
        &format!(
            "SELECT c.package_id, p.received_at, p.status AS package_status, c.n_zap, c.idcase, \
             c.code_mo, c.date_1, c.date_2, c.usl_ok, c.sum_kopecks AS billed_kopecks, \
             d.oplata, d.sump AS paid_kopecks {FROM}{condition} \
             ORDER BY c.date_2 DESC, p.received_at DESC, c.package_id, c.n_zap \
             LIMIT ${l} OFFSET ${o}"
        ),
    );
    macro_rules! run {
        ($c:expr, $backend:ty) => {{
            let mut q = diesel::sql_query(count)
                .into_boxed::<$backend>()
                .bind::<Text, _>(enp);
            if let Some(code) = code {
                q = q.bind::<Text, _>(code);
            }
            let total: Vec<Count> = q.load($c)?;
            let mut q = diesel::sql_query(page)
                .into_boxed::<$backend>()
                .bind::<Text, _>(enp);
            if let Some(code) = code {
                q = q.bind::<Text, _>(code);
            }
            let rows: Vec<CareRow> = q
                .bind::<BigInt, _>(limit)
                .bind::<BigInt, _>(offset)
                .load($c)?;
            (rows, total)
        }};
    }
    let (rows, total) = match conn {
        DbConn::Pg(c) => run!(c, diesel::pg::Pg),
        DbConn::Sqlite(c) => run!(c, diesel::sqlite::Sqlite),
    };
    Ok((rows, total.first().map_or(0, |c| c.n)))
}
