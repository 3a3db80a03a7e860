//! The policy status of a person by ENP, as the register knows it now, in one statement (one
//! round trip to PostgreSQL instead of five): the person's current versions (registered, not
//! annulled, and the death date), a current merge link from it, its insurance episode and
//! attachments valid on the date asked. The rows of the five parts come back in one result,
//! told apart by `part`; `erz::status` turns them into the answer, and takes the general path
//! (a read per part) for a merged person or a question about an earlier record time. Written
//! for both backends with the same text: only the placeholders differ (the first part casts its
//! NULLs, so that PostgreSQL knows each column's type).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text};

use crate::db::DbConn;

/// The statement; `$1` is the ENP, `$2` the date asked about.
const STATUS_BY_ENP: &str = "\
WITH p AS (SELECT id FROM erz_person WHERE enp = $1) \
SELECT 0 AS part, v.id AS row_id, v.valid_from AS d1, v.death_date AS d2, \
       CAST(NULL AS DATE) AS d3, CAST(NULL AS DATE) AS d4, CAST(NULL AS TEXT) AS t1, \
       CAST(NULL AS TEXT) AS t2, CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4, \
       CAST(NULL AS TEXT) AS t5, CAST(NULL AS TEXT) AS t6, CAST(NULL AS BIGINT) AS n1, \
       CAST(NULL AS INTEGER) AS n2 \
  FROM erz_person_version v JOIN p ON v.person_id = p.id WHERE v.superseded_at IS NULL \
UNION ALL \
SELECT 1, l.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.kept_person, NULL \
  FROM erz_merge_link l JOIN p ON l.gone_person = p.id WHERE l.superseded_at IS NULL \
UNION ALL \
SELECT 2, i.id, i.valid_from, i.start_date, i.planned_end, i.stop_date, i.insurer_code, \
       i.policy_kind, i.policy_series, i.policy_number, i.policy_form, i.territory, NULL, NULL \
  FROM erz_insurance i JOIN p ON i.person_id = p.id \
 WHERE i.superseded_at IS NULL AND i.valid_from <= $2 AND (i.valid_to IS NULL OR i.valid_to > $2) \
UNION ALL \
SELECT 3, a.id, a.valid_from, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.lpu_id, \
       a.kind \
  FROM erz_attachment a JOIN p ON a.person_id = p.id \
 WHERE a.superseded_at IS NULL AND a.valid_from <= $2 AND (a.valid_to IS NULL OR a.valid_to > $2) \
UNION ALL \
SELECT 4, p.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM p";

/// One row of [`STATUS_BY_ENP`], tagged by its `part`.
#[derive(Debug, QueryableByName)]
struct Tagged {
    #[diesel(sql_type = Integer)]
    part: i32,
    #[diesel(sql_type = BigInt)]
    row_id: i64,
    #[diesel(sql_type = Nullable<Date>)]
    d1: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    d2: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    d3: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    d4: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    t1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t5: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t6: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n1: Option<i64>,
    #[diesel(sql_type = Nullable<Integer>)]
    n2: Option<i32>,
}

/// The insurance episode valid on the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// F002 code of the insurer.
    pub insurer_code: String,
    /// VPOLIS.
    pub policy_kind: String,
    /// SPOLIS.
    pub policy_series: Option<String>,
    /// NPOLIS.
    pub policy_number: Option<String>,
    /// FPOLIS.
    pub policy_form: Option<String>,
    /// `TER_ST`.
    pub territory: Option<String>,
    /// DBEG.
    pub start_date: NaiveDate,
    /// DEND.
    pub planned_end: Option<NaiveDate>,
    /// DSTOP.
    pub stop_date: Option<NaiveDate>,
}

/// An attachment valid on the date: the clinic, the kind, since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// `ID_LPU`.
    pub lpu_id: i64,
    /// `ID_ZTYPE`.
    pub kind: i32,
    /// Valid from.
    pub since: NaiveDate,
}

/// What the register says now of the person with an ENP, for a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFacts {
    /// The person's id.
    pub person: i64,
    /// The person has current versions (registered and not annulled).
    pub registered: bool,
    /// The death date of the newest current version that has one.
    pub death_date: Option<NaiveDate>,
    /// The person is merged into another now (the survivor's id).
    pub merged_into: Option<i64>,
    /// The episode valid on the date (the latest-starting one).
    pub episode: Option<Episode>,
    /// The attachments valid on the date, latest first.
    pub attachments: Vec<Attached>,
}

/// The facts of the person registered under `enp` for the date `on`, as known now; `None` when
/// no person has that ENP.
pub fn status_by_enp_now(
    conn: &mut DbConn,
    enp: &str,
    on: NaiveDate,
) -> QueryResult<Option<StatusFacts>> {
    let parts: Vec<Tagged> = match conn {
        DbConn::Pg(c) => diesel::sql_query(STATUS_BY_ENP)
            .bind::<Text, _>(enp)
            .bind::<Date, _>(on)
            .load(c)?,
        DbConn::Sqlite(c) => diesel::sql_query(STATUS_BY_ENP.replace('$', "?"))
            .bind::<Text, _>(enp)
            .bind::<Date, _>(on)
            .load(c)?,
    };
    Ok(facts(parts))
}

/// The parts as facts: each kind ordered as the general path orders it (newest valid time,
/// then newest row, first).
fn facts(mut parts: Vec<Tagged>) -> Option<StatusFacts> {
    let person = parts.iter().find(|p| p.part == 4)?.row_id;
    parts.sort_by_key(|p| std::cmp::Reverse((p.d1, p.row_id)));
    let versions: Vec<&Tagged> = parts.iter().filter(|p| p.part == 0).collect();
    let episode = parts.iter().find(|p| p.part == 2).and_then(|p| {
        Some(Episode {
            insurer_code: p.t1.clone()?,
            policy_kind: p.t2.clone()?,
            policy_series: p.t3.clone(),
            policy_number: p.t4.clone(),
            policy_form: p.t5.clone(),
            territory: p.t6.clone(),
            start_date: p.d2?,
            planned_end: p.d3,
            stop_date: p.d4,
        })
    });
    Some(StatusFacts {
        person,
        registered: !versions.is_empty(),
        death_date: versions.iter().find_map(|v| v.d2),
        merged_into: parts.iter().find(|p| p.part == 1).and_then(|p| p.n1),
        episode,
        attachments: parts
            .iter()
            .filter(|p| p.part == 3)
            .filter_map(|p| {
                Some(Attached {
                    lpu_id: p.n1?,
                    kind: p.n2?,
                    since: p.d1?,
                })
            })
            .collect(),
    })
}
