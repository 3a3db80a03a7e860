//! The policy status of a person by ENP, as the register knows it now, in one statement (one
//! round trip to PostgreSQL instead of five): the person, its current versions (registered, not
//! annulled, and the death date), a current merge link from it, its insurance episode and
//! attachments valid on the date asked. The rows of the five parts come back in one result (a
//! `UNION ALL`), told apart by `part`; `erz::status` turns them into the answer, and takes the
//! general path (a read per part) for a merged person or a question about an earlier record
//! time. Built with diesel's query builder, so each connection prepares it once and reuses it
//! (a raw `sql_query` would be parsed and planned again on every call).

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::dsl::AsExprOf;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text};

use crate::db::DbConn;
use crate::db::schema::{
    credential_epoch, erz_attachment, erz_insurance, erz_merge_link, erz_person, erz_person_version,
};

/// One row of the statement, tagged by its `part`: 0 a current person version (`d1` valid
/// from, `d2` death date), 1 a current merge link (`n1` the survivor), 2 an episode (`d1` valid
/// from, `d2`–`d4` DBEG, DEND, DSTOP, `t1`–`t6` insurer, VPOLIS, SPOLIS, NPOLIS, FPOLIS, `TER_ST`),
/// 3 an attachment (`d1` valid from, `n1` clinic, `n2` kind), 4 the person (`row_id`, `t1` its
/// ENP), 5 (batched reads only) the credential epoch (`n1`); `owner` is the person the row is
/// of.
#[derive(Debug, Queryable)]
struct Tagged {
    part: i32,
    owner: i64,
    row_id: i64,
    d1: Option<NaiveDate>,
    d2: Option<NaiveDate>,
    d3: Option<NaiveDate>,
    d4: Option<NaiveDate>,
    t1: Option<String>,
    t2: Option<String>,
    t3: Option<String>,
    t4: Option<String>,
    t5: Option<String>,
    t6: Option<String>,
    n1: Option<i64>,
    n2: Option<i32>,
}

type NullDate = AsExprOf<Option<NaiveDate>, Nullable<Date>>;
type NullText = AsExprOf<Option<String>, Nullable<Text>>;

// The constant columns are bind parameters, not SQL literals: diesel caches the prepared
// statement only when every part of it has a static query id, which a literal does not.
fn part(n: i32) -> AsExprOf<i32, Integer> {
    n.into_sql::<Integer>()
}

fn no_date() -> NullDate {
    None::<NaiveDate>.into_sql::<Nullable<Date>>()
}

fn no_text() -> NullText {
    None::<String>.into_sql::<Nullable<Text>>()
}

fn no_big() -> AsExprOf<Option<i64>, Nullable<BigInt>> {
    None::<i64>.into_sql::<Nullable<BigInt>>()
}

fn no_int() -> AsExprOf<Option<i32>, Nullable<Integer>> {
    None::<i32>.into_sql::<Nullable<Integer>>()
}

/// The filter of a fact column `$col` naming the person of the key: `one` ENP (a scalar
/// subquery) or `many` (`IN`).
macro_rules! of_person {
    (one, $col:expr, $enp:expr) => {
        $col.nullable().eq(erz_person::table
            .filter(erz_person::enp.eq($enp))
            .select(erz_person::id)
            .single_value())
    };
    (many, $col:expr, $enps:expr) => {
        $col.eq_any(
            erz_person::table
                .filter(erz_person::enp.eq_any($enps))
                .select(erz_person::id),
        )
    };
}

/// The filter of `erz_person` by the key: `one` ENP or `many`.
macro_rules! person_key {
    (one, $enp:expr) => {
        erz_person::enp.eq($enp)
    };
    (many, $enps:expr) => {
        erz_person::enp.eq_any($enps)
    };
}

/// The statement for the key `$key` (`one` ENP or `many`) and the date `$on`, for either
/// backend.
macro_rules! status_by_enp {
    ($mode:ident, $key:expr, $on:expr) => {{
        let (key, on) = ($key, $on);
        let versions = erz_person_version::table
            .filter(of_person!($mode, erz_person_version::person_id, key))
            .filter(erz_person_version::superseded_at.is_null())
            .select((
                part(0),
                erz_person_version::person_id,
                erz_person_version::id,
                erz_person_version::valid_from.nullable(),
                erz_person_version::death_date,
                no_date(),
                no_date(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_big(),
                no_int(),
            ));
        let links = erz_merge_link::table
            .filter(of_person!($mode, erz_merge_link::gone_person, key))
            .filter(erz_merge_link::superseded_at.is_null())
            .select((
                part(1),
                erz_merge_link::gone_person,
                erz_merge_link::id,
                no_date(),
                no_date(),
                no_date(),
                no_date(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                erz_merge_link::kept_person.nullable(),
                no_int(),
            ));
        let episodes = erz_insurance::table
            .filter(of_person!($mode, erz_insurance::person_id, key))
            .filter(erz_insurance::superseded_at.is_null())
            .filter(erz_insurance::valid_from.le(on))
            .filter(
                erz_insurance::valid_to
                    .is_null()
                    .or(erz_insurance::valid_to.gt(on)),
            )
            .select((
                part(2),
                erz_insurance::person_id,
                erz_insurance::id,
                erz_insurance::valid_from.nullable(),
                erz_insurance::start_date.nullable(),
                erz_insurance::planned_end,
                erz_insurance::stop_date,
                erz_insurance::insurer_code.nullable(),
                erz_insurance::policy_kind.nullable(),
                erz_insurance::policy_series,
                erz_insurance::policy_number,
                erz_insurance::policy_form,
                erz_insurance::territory,
                no_big(),
                no_int(),
            ));
        let attachments = erz_attachment::table
            .filter(of_person!($mode, erz_attachment::person_id, key))
            .filter(erz_attachment::superseded_at.is_null())
            .filter(erz_attachment::valid_from.le(on))
            .filter(
                erz_attachment::valid_to
                    .is_null()
                    .or(erz_attachment::valid_to.gt(on)),
            )
            .select((
                part(3),
                erz_attachment::person_id,
                erz_attachment::id,
                erz_attachment::valid_from.nullable(),
                no_date(),
                no_date(),
                no_date(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                no_text(),
                erz_attachment::lpu_id.nullable(),
                erz_attachment::kind.nullable(),
            ));
        let found = erz_person::table.filter(person_key!($mode, key)).select((
            part(4),
            erz_person::id,
            erz_person::id,
            no_date(),
            no_date(),
            no_date(),
            no_date(),
            erz_person::enp.nullable(),
            no_text(),
            no_text(),
            no_text(),
            no_text(),
            no_text(),
            no_big(),
            no_int(),
        ));
        versions
            .union_all(links)
            .union_all(episodes)
            .union_all(attachments)
            .union_all(found)
    }};
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
        DbConn::Pg(c) => status_by_enp!(one, enp, on).load(c)?,
        DbConn::Sqlite(c) => status_by_enp!(one, enp, on).load(c)?,
    };
    Ok(facts(parts))
}

/// [`status_by_enp_now`] for several ENPs in one statement (the batched policy status of
/// `erz::status_batch`): the facts of each ENP that names a person, by ENP, and the credential
/// epoch (`participants::repo::credential_epoch`, `None` when its row is missing) read by the
/// same statement, so the batch confirms the callers authenticated from the cache without a
/// round trip of its own. On PostgreSQL the ENPs are one array parameter, so the statement is
/// prepared once per connection.
pub fn status_by_enps_now(
    conn: &mut DbConn,
    enps: &[&str],
    on: NaiveDate,
) -> QueryResult<(HashMap<String, StatusFacts>, Option<i64>)> {
    let epoch = credential_epoch::table.select((
        part(EPOCH_PART),
        credential_epoch::epoch,
        credential_epoch::epoch,
        no_date(),
        no_date(),
        no_date(),
        no_date(),
        no_text(),
        no_text(),
        no_text(),
        no_text(),
        no_text(),
        no_text(),
        credential_epoch::epoch.nullable(),
        no_int(),
    ));
    let rows: Vec<Tagged> = match conn {
        DbConn::Pg(c) => status_by_enp!(many, enps, on).union_all(epoch).load(c)?,
        DbConn::Sqlite(c) => status_by_enp!(many, enps, on).union_all(epoch).load(c)?,
    };
    let mut credentials = None;
    let mut by_person: HashMap<i64, Vec<Tagged>> = HashMap::new();
    for row in rows {
        if row.part == EPOCH_PART {
            credentials = row.n1;
        } else {
            by_person.entry(row.owner).or_default().push(row);
        }
    }
    let found = by_person
        .into_values()
        .filter_map(|parts| {
            let enp = parts.iter().find(|p| p.part == 4)?.t1.clone()?;
            Some((enp, facts(parts)?))
        })
        .collect();
    Ok((found, credentials))
}

/// The part of [`status_by_enps_now`]'s statement that carries the credential epoch.
const EPOCH_PART: i32 = 5;

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
