//! The only writer of the duplicate-matching tables (migration 000009): candidate pairs
//! (`erz_match_pair`, the latest scoring of each pair), reviewers' decisions
//! (`erz_match_decision`, one per pair, never changed) and merge links (`erz_merge_link`, never
//! changed except that an unmerge sets `superseded_at` once); and the reads that blocking needs
//! (open person versions by birth date, SNILS and documents shared by several persons).
//! Called by `erz::matching` (the engine), `erz::review` (decisions, merge, unmerge),
//! `erz::status` and `erz::apply` (which person a merged one answers as) and `erz::lists`
//! (the queue and the merges of a period in the CONFLICTLIST).

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::dsl::{count, exists, not};
use diesel::expression_methods::AggregateExpressionMethods as _;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{DocumentRow, LastId, PersonVersionRow};
use crate::db::DbConn;
use crate::db::schema::{
    erz_document, erz_insurance, erz_match_decision, erz_match_pair, erz_merge_link,
    erz_person_version,
};

/// Largest `IN (…)` list sent at once.
const CHUNK: usize = 500;

/// Follows merge links at most this far (a chain longer than this is a defect; the person
/// reached so far answers).
const MAX_CHAIN: usize = 64;

// ---- blocking reads ---------------------------------------------------------------------------

/// How many persons have open data now (one open, current version each).
pub fn open_person_count(conn: &mut DbConn) -> QueryResult<i64> {
    use erz_person_version as v;
    v::table
        .filter(v::superseded_at.is_null())
        .filter(v::valid_to.is_null())
        .count()
        .get_result(conn)
}

/// Up to `limit` birth dates of open versions after `after`, ascending.
pub fn open_birth_dates_after(
    conn: &mut DbConn,
    after: Option<NaiveDate>,
    limit: i64,
) -> QueryResult<Vec<NaiveDate>> {
    use erz_person_version as v;
    let mut query = v::table
        .filter(v::superseded_at.is_null())
        .filter(v::valid_to.is_null())
        .select(v::birth_date)
        .distinct()
        .order(v::birth_date.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(v::birth_date.gt(after));
    }
    query.load(conn)
}

/// The open versions of persons born in `[from, to]`.
pub fn open_versions_born(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<PersonVersionRow>> {
    use erz_person_version as v;
    v::table
        .filter(v::superseded_at.is_null())
        .filter(v::valid_to.is_null())
        .filter(v::birth_date.ge(from))
        .filter(v::birth_date.le(to))
        .order((v::birth_date.asc(), v::person_id.asc()))
        .select(PersonVersionRow::as_select())
        .load(conn)
}

/// The open versions of `persons`.
pub fn open_versions_of(conn: &mut DbConn, persons: &[i64]) -> QueryResult<Vec<PersonVersionRow>> {
    use erz_person_version as v;
    let mut out = Vec::new();
    for chunk in persons.chunks(CHUNK) {
        out.extend(
            v::table
                .filter(v::superseded_at.is_null())
                .filter(v::valid_to.is_null())
                .filter(v::person_id.eq_any(chunk))
                .order(v::person_id.asc())
                .select(PersonVersionRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// The open documents of `persons`.
pub fn open_documents_of(conn: &mut DbConn, persons: &[i64]) -> QueryResult<Vec<DocumentRow>> {
    use erz_document as d;
    let mut out = Vec::new();
    for chunk in persons.chunks(CHUNK) {
        out.extend(
            d::table
                .filter(d::superseded_at.is_null())
                .filter(d::valid_to.is_null())
                .filter(d::person_id.eq_any(chunk))
                .order((d::person_id.asc(), d::id.asc()))
                .select(DocumentRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Up to `limit` SNILS after `after` that open versions of more than one person carry.
pub fn shared_snils_after(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<Option<String>>> {
    use erz_person_version as v;
    v::table
        .filter(v::superseded_at.is_null())
        .filter(v::valid_to.is_null())
        .filter(v::snils.gt(after))
        .group_by(v::snils)
        .having(count(v::person_id).aggregate_distinct().gt(1))
        .select(v::snils)
        .order(v::snils.asc())
        .limit(limit)
        .load(conn)
}

/// The persons whose open version carries `snils`.
pub fn open_persons_with_snils(conn: &mut DbConn, snils: &str) -> QueryResult<Vec<i64>> {
    use erz_person_version as v;
    v::table
        .filter(v::superseded_at.is_null())
        .filter(v::valid_to.is_null())
        .filter(v::snils.eq(snils))
        .select(v::person_id)
        .distinct()
        .load(conn)
}

/// Up to `limit` (document type, number) after `after` that open documents of more than one
/// person carry.
pub fn shared_documents_after(
    conn: &mut DbConn,
    after: (i32, &str),
    limit: i64,
) -> QueryResult<Vec<(i32, String)>> {
    use erz_document as d;
    d::table
        .filter(d::superseded_at.is_null())
        .filter(d::valid_to.is_null())
        .filter(
            d::doctype
                .gt(after.0)
                .or(d::doctype.eq(after.0).and(d::docnum.gt(after.1))),
        )
        .group_by((d::doctype, d::docnum))
        .having(count(d::person_id).aggregate_distinct().gt(1))
        .select((d::doctype, d::docnum))
        .order((d::doctype.asc(), d::docnum.asc()))
        .limit(limit)
        .load(conn)
}

/// The persons whose open document is of `doctype` with number `docnum`.
pub fn open_persons_with_document(
    conn: &mut DbConn,
    doctype: i32,
    docnum: &str,
) -> QueryResult<Vec<i64>> {
    use erz_document as d;
    d::table
        .filter(d::superseded_at.is_null())
        .filter(d::valid_to.is_null())
        .filter(d::doctype.eq(doctype))
        .filter(d::docnum.eq(docnum))
        .select(d::person_id)
        .distinct()
        .load(conn)
}

// ---- candidate pairs --------------------------------------------------------------------------

/// A candidate pair with its latest scoring.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_match_pair)]
pub struct PairRow {
    pub id: i64,
    pub person_a: i64,
    pub person_b: i64,
    /// Thousandths.
    pub score: i32,
    /// Blocking keys shared, comma-separated.
    pub keys: String,
    pub fam_score: Option<i32>,
    pub im_score: Option<i32>,
    pub ot_score: Option<i32>,
    pub birth_score: Option<i32>,
    pub sex_score: Option<i32>,
    pub snils_score: Option<i32>,
    pub doc_score: Option<i32>,
    /// `possible`, `sure` or `dropped`.
    pub state: String,
    pub found_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// A scoring of a pair, to record.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = erz_match_pair)]
#[diesel(treat_none_as_null = true)]
pub struct PairScoring {
    pub score: i32,
    pub keys: String,
    pub fam_score: Option<i32>,
    pub im_score: Option<i32>,
    pub ot_score: Option<i32>,
    pub birth_score: Option<i32>,
    pub sex_score: Option<i32>,
    pub snils_score: Option<i32>,
    pub doc_score: Option<i32>,
    pub state: String,
    pub last_seen_at: NaiveDateTime,
}

/// The pair of `a < b`, if found before.
pub fn pair_of(conn: &mut DbConn, a: i64, b: i64) -> QueryResult<Option<PairRow>> {
    use erz_match_pair as p;
    p::table
        .filter(p::person_a.eq(a))
        .filter(p::person_b.eq(b))
        .select(PairRow::as_select())
        .first(conn)
        .optional()
}

/// The pair `id`.
pub fn pair(conn: &mut DbConn, id: i64) -> QueryResult<Option<PairRow>> {
    erz_match_pair::table
        .find(id)
        .select(PairRow::as_select())
        .first(conn)
        .optional()
}

/// Records a new pair of `a < b` found at `scoring.last_seen_at`; returns its id.
pub fn insert_pair(conn: &mut DbConn, a: i64, b: i64, scoring: &PairScoring) -> QueryResult<i64> {
    use erz_match_pair as p;
    let row = (
        p::person_a.eq(a),
        p::person_b.eq(b),
        p::found_at.eq(scoring.last_seen_at),
        scoring,
    );
    match conn {
        DbConn::Pg(c) => diesel::insert_into(p::table)
            .values(row)
            .returning(p::id)
            .get_result::<i64>(c),
        DbConn::Sqlite(c) => {
            diesel::insert_into(p::table).values(row).execute(c)?;
            diesel::sql_query("SELECT last_insert_rowid() AS id")
                .get_result::<LastId>(c)
                .map(|r| r.id)
        }
    }
}

/// Records the latest scoring of pair `id`.
pub fn rescore_pair(conn: &mut DbConn, id: i64, scoring: &PairScoring) -> QueryResult<()> {
    diesel::update(erz_match_pair::table.find(id))
        .set(scoring)
        .execute(conn)?;
    Ok(())
}

/// Notes that pair `id` was seen again at `at` (its scoring unchanged).
pub fn touch_pair(conn: &mut DbConn, id: i64, at: NaiveDateTime) -> QueryResult<()> {
    use erz_match_pair as p;
    diesel::update(p::table.find(id))
        .set(p::last_seen_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// Marks `dropped` every undecided pair in the queue not seen since `run_at` whose persons are
/// both still not merged into anyone; returns how many.
pub fn drop_unseen(conn: &mut DbConn, run_at: NaiveDateTime) -> QueryResult<usize> {
    use erz_match_decision as d;
    use erz_match_pair as p;
    use erz_merge_link as l;
    diesel::update(
        p::table
            .filter(p::state.ne("dropped"))
            .filter(p::last_seen_at.lt(run_at))
            .filter(not(exists(d::table.filter(d::pair_id.eq(p::id)))))
            .filter(not(exists(
                l::table.filter(l::superseded_at.is_null()).filter(
                    l::gone_person
                        .eq(p::person_a)
                        .or(l::gone_person.eq(p::person_b)),
                ),
            ))),
    )
    .set(p::state.eq("dropped"))
    .execute(conn)
}

/// The pairs of the review queue: undecided, not `dropped`, neither person merged into anyone
/// now. Names `p` (`erz_match_pair`), `d` (`erz_match_decision`) and `l` (`erz_merge_link`)
/// at the call.
macro_rules! in_queue {
    () => {
        p::table
            .filter(p::state.ne("dropped"))
            .filter(not(exists(d::table.filter(d::pair_id.eq(p::id)))))
            .filter(not(exists(
                l::table.filter(l::superseded_at.is_null()).filter(
                    l::gone_person
                        .eq(p::person_a)
                        .or(l::gone_person.eq(p::person_b)),
                ),
            )))
    };
}

/// Undecided pairs of the review queue (`possible` or `sure`, neither person merged into
/// anyone now), best score first: a page and the total.
pub fn queue(conn: &mut DbConn, offset: i64, limit: i64) -> QueryResult<(Vec<PairRow>, i64)> {
    use erz_match_decision as d;
    use erz_match_pair as p;
    use erz_merge_link as l;
    let total = in_queue!().count().get_result(conn)?;
    let rows = in_queue!()
        .order((p::score.desc(), p::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(PairRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// The pairs of the review queue (as [`queue`]) one of whose persons has a current insurance
/// episode of `insurer` valid on a day of `[from, to]`, by id (the CONFLICTLIST).
pub fn queued_pairs_insured_by(
    conn: &mut DbConn,
    insurer: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<PairRow>> {
    use erz_insurance as i;
    use erz_match_decision as d;
    use erz_match_pair as p;
    use erz_merge_link as l;
    in_queue!()
        .filter(exists(
            i::table
                .filter(
                    i::person_id
                        .eq(p::person_a)
                        .or(i::person_id.eq(p::person_b)),
                )
                .filter(i::insurer_code.eq(insurer))
                .filter(i::superseded_at.is_null())
                .filter(i::valid_from.le(to))
                .filter(i::valid_to.is_null().or(i::valid_to.gt(from))),
        ))
        .order(p::id.asc())
        .select(PairRow::as_select())
        .load(conn)
}

// ---- decisions ----------------------------------------------------------------------------------

/// A reviewer's decision.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_match_decision)]
pub struct DecisionRow {
    pub id: i64,
    pub pair_id: i64,
    /// `duplicate` or `distinct`.
    pub decision: String,
    pub decided_by: String,
    pub decided_at: NaiveDateTime,
    pub comment: Option<String>,
}

/// A decision to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_match_decision)]
pub struct NewDecision {
    pub pair_id: i64,
    pub decision: String,
    pub decided_by: String,
    pub decided_at: NaiveDateTime,
    pub comment: Option<String>,
}

/// The decision on pair `pair_id`, if any.
pub fn decision_of(conn: &mut DbConn, pair_id: i64) -> QueryResult<Option<DecisionRow>> {
    use erz_match_decision as d;
    d::table
        .filter(d::pair_id.eq(pair_id))
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

/// Records a decision; `false` when the pair already has one (the unique index: a decision
/// is final, also against a concurrent reviewer).
pub fn insert_decision(conn: &mut DbConn, row: &NewDecision) -> QueryResult<bool> {
    let result = conn.transaction(|conn| {
        diesel::insert_into(erz_match_decision::table)
            .values(row)
            .execute(conn)
    });
    match result {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---- merge links --------------------------------------------------------------------------------

/// A merge link.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_merge_link)]
pub struct LinkRow {
    pub id: i64,
    pub gone_person: i64,
    pub kept_person: i64,
    pub pair_id: Option<i64>,
    /// `auto`, `review` or `manual`.
    pub why: String,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    pub comment: Option<String>,
    pub superseded_at: Option<NaiveDateTime>,
    pub superseded_by: Option<String>,
    pub superseded_why: Option<String>,
    pub superseded_comment: Option<String>,
}

/// A link to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_merge_link)]
pub struct NewLink {
    pub gone_person: i64,
    pub kept_person: i64,
    pub pair_id: Option<i64>,
    pub why: String,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    pub comment: Option<String>,
}

/// Records a link; `None` when `gone_person` already has a current one (the partial unique
/// index), so two concurrent merges of one person cannot both succeed.
pub fn insert_link(conn: &mut DbConn, row: &NewLink) -> QueryResult<Option<i64>> {
    use erz_merge_link as l;
    let result = conn.transaction(|conn| match conn {
        DbConn::Pg(c) => diesel::insert_into(l::table)
            .values(row)
            .returning(l::id)
            .get_result::<i64>(c),
        DbConn::Sqlite(c) => {
            diesel::insert_into(l::table).values(row).execute(c)?;
            diesel::sql_query("SELECT last_insert_rowid() AS id")
                .get_result::<LastId>(c)
                .map(|r| r.id)
        }
    });
    match result {
        Ok(id) => Ok(Some(id)),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Supersedes link `id` (an unmerge) at `at`; `false` when it was no longer current.
pub fn supersede_link(
    conn: &mut DbConn,
    id: i64,
    at: NaiveDateTime,
    by: &str,
    why: &str,
    comment: Option<&str>,
) -> QueryResult<bool> {
    use erz_merge_link as l;
    let n = diesel::update(l::table.find(id).filter(l::superseded_at.is_null()))
        .set((
            l::superseded_at.eq(Some(at)),
            l::superseded_by.eq(Some(by)),
            l::superseded_why.eq(Some(why)),
            l::superseded_comment.eq(comment),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// The link of `gone` current at `as_of` (now when `None`), if `gone` is merged.
pub fn link_from(
    conn: &mut DbConn,
    gone: i64,
    as_of: Option<NaiveDateTime>,
) -> QueryResult<Option<LinkRow>> {
    use erz_merge_link as l;
    let mut query = l::table
        .filter(l::gone_person.eq(gone))
        .order(l::id.desc())
        .select(LinkRow::as_select())
        .into_boxed();
    query = match as_of {
        None => query.filter(l::superseded_at.is_null()),
        Some(at) => query
            .filter(l::recorded_at.le(at))
            .filter(l::superseded_at.is_null().or(l::superseded_at.gt(at))),
    };
    query.first(conn).optional()
}

/// Whether a link between `a` and `b` (either way) was ever recorded, current or not.
pub fn ever_linked(conn: &mut DbConn, a: i64, b: i64) -> QueryResult<bool> {
    use erz_merge_link as l;
    diesel::select(exists(
        l::table.filter(
            (l::gone_person.eq(a).and(l::kept_person.eq(b)))
                .or(l::gone_person.eq(b).and(l::kept_person.eq(a))),
        ),
    ))
    .get_result(conn)
}

/// The current link between `a` and `b` (either way), if any.
pub fn current_link_between(conn: &mut DbConn, a: i64, b: i64) -> QueryResult<Option<LinkRow>> {
    use erz_merge_link as l;
    l::table
        .filter(l::superseded_at.is_null())
        .filter(
            (l::gone_person.eq(a).and(l::kept_person.eq(b)))
                .or(l::gone_person.eq(b).and(l::kept_person.eq(a))),
        )
        .select(LinkRow::as_select())
        .first(conn)
        .optional()
}

/// Every link `person` took part in, either side, current or superseded, oldest first.
pub fn links_of(conn: &mut DbConn, person: i64) -> QueryResult<Vec<LinkRow>> {
    use erz_merge_link as l;
    l::table
        .filter(l::gone_person.eq(person).or(l::kept_person.eq(person)))
        .order(l::id.asc())
        .select(LinkRow::as_select())
        .load(conn)
}

/// The links current now that were recorded on a day of `[from, to]` and one of whose
/// persons has a current insurance episode of `insurer` valid on a day of `[from, to]`, in
/// record order (the CONFLICTLIST).
pub fn links_recorded_in(
    conn: &mut DbConn,
    insurer: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<LinkRow>> {
    use erz_insurance as i;
    use erz_merge_link as l;
    let start = from.and_time(NaiveTime::MIN);
    let end = to.succ_opt().unwrap_or(to).and_time(NaiveTime::MIN);
    l::table
        .filter(l::superseded_at.is_null())
        .filter(l::recorded_at.ge(start))
        .filter(l::recorded_at.lt(end))
        .filter(exists(
            i::table
                .filter(
                    i::person_id
                        .eq(l::gone_person)
                        .or(i::person_id.eq(l::kept_person)),
                )
                .filter(i::insurer_code.eq(insurer))
                .filter(i::superseded_at.is_null())
                .filter(i::valid_from.le(to))
                .filter(i::valid_to.is_null().or(i::valid_to.gt(from))),
        ))
        .order((l::recorded_at.asc(), l::id.asc()))
        .select(LinkRow::as_select())
        .load(conn)
}

/// Those of `persons` merged into someone now.
pub fn gone_now(conn: &mut DbConn, persons: &[i64]) -> QueryResult<HashSet<i64>> {
    use erz_merge_link as l;
    let mut out = HashSet::new();
    for chunk in persons.chunks(CHUNK) {
        out.extend(
            l::table
                .filter(l::superseded_at.is_null())
                .filter(l::gone_person.eq_any(chunk))
                .select(l::gone_person)
                .load::<i64>(conn)?,
        );
    }
    Ok(out)
}

/// The person `person` answers as at `as_of` (now when `None`): itself unless merged, else
/// the end of its chain of links.
pub fn survivor(conn: &mut DbConn, person: i64, as_of: Option<NaiveDateTime>) -> QueryResult<i64> {
    let mut at = person;
    let mut seen = vec![person];
    for _ in 0..MAX_CHAIN {
        match link_from(conn, at, as_of)? {
            Some(link) if !seen.contains(&link.kept_person) => {
                at = link.kept_person;
                seen.push(at);
            }
            _ => break,
        }
    }
    Ok(at)
}
