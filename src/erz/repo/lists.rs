//! Reads behind the lists for insurers (RECLIST, STOPLIST, CONFLICTLIST; `erz::lists`) and
//! the look-up by names + birth date + document (`erz::status`), plus the one write of that
//! part: the journal of lists produced (`erz_list_export`, migration 000011), which also hands
//! out their sequence numbers. Also the end of insurance at death (`erz::apply`), recorded
//! with the bitemporal machinery of the parent module.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Date, Text};

use super::{
    AddressRow, AttachmentRow, DocumentRow, InsuranceRow, OpRow, PersonVersionRow,
    replace_insurance_from,
};
use crate::db::DbConn;
use crate::db::schema::{
    erz_address, erz_attachment, erz_document, erz_file, erz_insurance, erz_list_export, erz_op,
    erz_person_version,
};

/// Everything on record about a person at one record time.
#[derive(Default)]
pub struct Snapshot {
    /// Person versions, by valid time (oldest first).
    pub versions: Vec<PersonVersionRow>,
    /// Documents, by valid time.
    pub documents: Vec<DocumentRow>,
    /// Addresses, by valid time.
    pub addresses: Vec<AddressRow>,
    /// Insurance episodes, by valid time.
    pub insurance: Vec<InsuranceRow>,
    /// Attachments, by valid time.
    pub attachments: Vec<AttachmentRow>,
}

/// The rows of `person` on record at `as_of` (now when `None`), every valid time.
macro_rules! known {
    ($conn:expr, $table:ident, $row:ty, $person:expr, $as_of:expr) => {{
        use $table as t;
        let mut query = t::table
            .filter(t::person_id.eq($person))
            .order((t::valid_from.asc(), t::id.asc()))
            .select(<$row>::as_select())
            .into_boxed();
        query = match $as_of {
            None => query.filter(t::superseded_at.is_null()),
            Some(at) => query
                .filter(t::recorded_at.le(at))
                .filter(t::superseded_at.is_null().or(t::superseded_at.gt(at))),
        };
        query.load($conn)?
    }};
}

/// What the register held about `person` at `as_of` (now when `None`).
pub fn snapshot(
    conn: &mut DbConn,
    person: i64,
    as_of: Option<NaiveDateTime>,
) -> QueryResult<Snapshot> {
    Ok(Snapshot {
        versions: known!(conn, erz_person_version, PersonVersionRow, person, as_of),
        documents: known!(conn, erz_document, DocumentRow, person, as_of),
        addresses: known!(conn, erz_address, AddressRow, person, as_of),
        insurance: known!(conn, erz_insurance, InsuranceRow, person, as_of),
        attachments: known!(conn, erz_attachment, AttachmentRow, person, as_of),
    })
}

/// What the register holds now about each of `persons` (every valid time, rows not
/// superseded), read with one statement per table for the whole slice: what [`snapshot`] with
/// `as_of` `None` gives for one person, for the CONFLICTLIST's groups. Keep the slice to a
/// few hundred persons (the statements bind every id).
pub fn current_snapshots(
    conn: &mut DbConn,
    persons: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Snapshot>> {
    let mut out: std::collections::HashMap<i64, Snapshot> =
        persons.iter().map(|&p| (p, Snapshot::default())).collect();
    macro_rules! rows_into {
        ($table:ident, $row:ty, $field:ident) => {{
            use $table as t;
            let rows = t::table
                .filter(t::person_id.eq_any(persons))
                .filter(t::superseded_at.is_null())
                .order((t::person_id.asc(), t::valid_from.asc(), t::id.asc()))
                .select(<$row>::as_select())
                .load::<$row>(conn)?;
            for r in rows {
                if let Some(s) = out.get_mut(&r.person_id) {
                    s.$field.push(r);
                }
            }
        }};
    }
    rows_into!(erz_person_version, PersonVersionRow, versions);
    rows_into!(erz_document, DocumentRow, documents);
    rows_into!(erz_address, AddressRow, addresses);
    rows_into!(erz_insurance, InsuranceRow, insurance);
    rows_into!(erz_attachment, AttachmentRow, attachments);
    Ok(out)
}

/// Those of `persons` merged away into another person now (a current link from them): the
/// only ones whose survivor is not themselves.
pub fn merged_away(
    conn: &mut DbConn,
    persons: &[i64],
) -> QueryResult<std::collections::HashSet<i64>> {
    use crate::db::schema::erz_merge_link as l;
    Ok(l::table
        .filter(l::gone_person.eq_any(persons))
        .filter(l::superseded_at.is_null())
        .select(l::gone_person)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// The latest death date of `person` on record at `as_of` (now when `None`).
pub fn death_date_of(
    conn: &mut DbConn,
    person: i64,
    as_of: Option<NaiveDateTime>,
) -> QueryResult<Option<NaiveDate>> {
    use erz_person_version as v;
    let mut query = v::table
        .filter(v::person_id.eq(person))
        .filter(v::death_date.is_not_null())
        .select(v::death_date)
        .order((v::valid_from.desc(), v::id.desc()))
        .into_boxed();
    query = match as_of {
        None => query.filter(v::superseded_at.is_null()),
        Some(at) => query
            .filter(v::recorded_at.le(at))
            .filter(v::superseded_at.is_null().or(v::superseded_at.gt(at))),
    };
    Ok(query.first::<Option<NaiveDate>>(conn).optional()?.flatten())
}

/// Ends every insurance episode of `person` still valid after `death` at the death date
/// (the death date is the last day insured): the rows valid on or after the next day are
/// superseded and their part up to the death recorded again, by `op_id` at `now`. Returns
/// whether anything was cut.
pub fn end_insurance_at_death(
    conn: &mut DbConn,
    person: i64,
    death: NaiveDate,
    now: NaiveDateTime,
    op_id: i64,
) -> QueryResult<bool> {
    let Some(after) = death.succ_opt() else {
        return Ok(false);
    };
    let open = super::current_insurance(conn, person)?
        .iter()
        .any(|r| r.valid_to.is_none_or(|to| to > after));
    if open {
        replace_insurance_from(conn, person, after, now, op_id, |_| true, &[])?;
    }
    Ok(open)
}

/// An accepted operation with the file it came in.
pub struct OpInFile {
    /// The operation.
    pub op: OpRow,
    /// The OPLIST's name.
    pub file_name: String,
    /// The sender (OPLIST/SMOCOD).
    pub smocod: Option<String>,
}

/// The accepted (AA) operations recorded in `[from, to)` that concern `insurer`: sent by it,
/// or recording (or cutting) an episode of it. In record order.
pub fn ops_for_insurer(
    conn: &mut DbConn,
    insurer: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<OpInFile>> {
    use erz_op as o;
    let rows: Vec<(OpRow, String, Option<String>)> = o::table
        .inner_join(erz_file::table)
        .filter(o::code_erp.eq("AA"))
        .filter(o::person_id.is_not_null())
        .filter(o::recorded_at.ge(from))
        .filter(o::recorded_at.lt(to))
        .order(o::id.asc())
        .select((OpRow::as_select(), erz_file::file_name, erz_file::smocod))
        .load(conn)?;
    let others: Vec<i64> = rows
        .iter()
        .filter(|(_, _, s)| s.as_deref() != Some(insurer))
        .map(|(op, _, _)| op.id)
        .collect();
    let mut touching = std::collections::HashSet::new();
    for chunk in others.chunks(500) {
        let ids: Vec<i64> = erz_insurance::table
            .filter(erz_insurance::op_id.eq_any(chunk))
            .filter(erz_insurance::insurer_code.eq(insurer))
            .select(erz_insurance::op_id)
            .distinct()
            .load(conn)?;
        touching.extend(ids);
    }
    Ok(rows
        .into_iter()
        .filter(|(op, _, s)| s.as_deref() == Some(insurer) || touching.contains(&op.id))
        .map(|(op, file_name, smocod)| OpInFile {
            op,
            file_name,
            smocod,
        })
        .collect())
}

/// The current episodes of `insurer` whose last day (`stop_date`) falls in `[from, to]`.
pub fn stopped_episodes(
    conn: &mut DbConn,
    insurer: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<InsuranceRow>> {
    use erz_insurance as i;
    i::table
        .filter(i::insurer_code.eq(insurer))
        .filter(i::superseded_at.is_null())
        .filter(i::stop_date.ge(from))
        .filter(i::stop_date.le(to))
        .order((i::stop_date.asc(), i::person_id.asc(), i::id.asc()))
        .select(InsuranceRow::as_select())
        .load(conn)
}

#[derive(QueryableByName)]
struct Overlap {
    #[diesel(sql_type = BigInt)]
    a_id: i64,
    #[diesel(sql_type = BigInt)]
    b_id: i64,
}

/// `text` with its `$n` placeholders as the backend writes them (`?n` on SQLite, which would
/// number `$n` by first appearance).
fn dialect(conn: &DbConn, text: &str) -> String {
    match conn {
        DbConn::Pg(_) => text.to_owned(),
        DbConn::Sqlite(_) => text.replace('$', "?"),
    }
}

/// Runs a raw query on either backend.
macro_rules! load_raw {
    ($conn:expr, $query:expr) => {
        match $conn {
            DbConn::Pg(c) => $query.load(c),
            DbConn::Sqlite(c) => $query.load(c),
        }
    };
}

/// Stands for an open end of valid time in comparisons (within every backend's date range).
fn open_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

#[derive(QueryableByName)]
struct GroupMember {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    person_id: i64,
}

/// Rows `(key, person_id)` ordered by key, then person, cut into the persons of each key.
fn groups(rows: Vec<GroupMember>) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut last: Option<String> = None;
    for row in rows {
        if last.as_deref() == Some(row.key.as_str()) {
            if let Some(group) = out.last_mut() {
                group.push(row.person_id);
            }
        } else {
            out.push(vec![row.person_id]);
            last = Some(row.key);
        }
    }
    out
}

/// The persons of each SNILS carried by more than one person in their latest current version,
/// one group per SNILS (in SNILS order, persons in id order). One statement: the index on
/// `snils` is not looked up once per key.
pub fn shared_snils_groups(conn: &mut DbConn) -> QueryResult<Vec<Vec<i64>>> {
    let q = diesel::sql_query(
        "SELECT snils AS key, person_id FROM ( \
           SELECT snils, person_id, COUNT(*) OVER (PARTITION BY snils) AS n FROM ( \
             SELECT DISTINCT snils, person_id FROM erz_person_version \
             WHERE superseded_at IS NULL AND valid_to IS NULL AND snils IS NOT NULL) d) w \
         WHERE n > 1 ORDER BY snils, person_id",
    );
    let rows: Vec<GroupMember> = load_raw!(conn, q)?;
    Ok(groups(rows))
}

/// The persons of each identity document (type, series, number) held by more than one person
/// in their current open rows, one group per document (ordered by `doctype|docser|docnum` as
/// text, persons in id order). One statement over the current documents: a key built per row
/// and compared to a parameter, which no index covers, is never looked up per document (it
/// took about 290 ms a key at 1,000,000 persons).
pub fn shared_document_groups(conn: &mut DbConn) -> QueryResult<Vec<Vec<i64>>> {
    let q = diesel::sql_query(
        "SELECT CAST(doctype AS TEXT) || '|' || docser || '|' || docnum AS key, person_id FROM ( \
           SELECT doctype, docser, docnum, person_id, \
                  COUNT(*) OVER (PARTITION BY doctype, docser, docnum) AS n FROM ( \
             SELECT DISTINCT doctype, COALESCE(docser, '') AS docser, docnum, person_id \
             FROM erz_document WHERE superseded_at IS NULL AND valid_to IS NULL) d) w \
         WHERE n > 1 ORDER BY 1, person_id",
    );
    let rows: Vec<GroupMember> = load_raw!(conn, q)?;
    Ok(groups(rows))
}

/// Pairs of current episodes of one person, the first of `insurer`, the second of another
/// insurer, that overlap in valid time, the first overlapping `[from, to]`. As (first id,
/// second id).
pub fn overlapping_episodes(
    conn: &mut DbConn,
    insurer: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(i64, i64)>> {
    let text = dialect(
        conn,
        "SELECT a.id AS a_id, b.id AS b_id FROM erz_insurance a \
         JOIN erz_insurance b ON b.person_id = a.person_id AND b.id <> a.id \
           AND b.insurer_code <> a.insurer_code AND b.superseded_at IS NULL \
         WHERE a.superseded_at IS NULL AND a.insurer_code = $1 \
           AND a.valid_from < COALESCE(b.valid_to, $4) AND b.valid_from < COALESCE(a.valid_to, $4) \
           AND a.valid_from <= $3 AND COALESCE(a.valid_to, $4) > $2 \
         ORDER BY a.person_id, a.id, b.id",
    );
    let q = diesel::sql_query(text)
        .bind::<Text, _>(insurer)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .bind::<Date, _>(open_end());
    let rows: Vec<Overlap> = load_raw!(conn, q)?;
    Ok(rows.into_iter().map(|r| (r.a_id, r.b_id)).collect())
}

/// The episode `id`.
pub fn episode(conn: &mut DbConn, id: i64) -> QueryResult<InsuranceRow> {
    erz_insurance::table
        .find(id)
        .select(InsuranceRow::as_select())
        .first(conn)
}

/// The persons whose document `doctype` + `docnum` (and `docser`, when given, compared without
/// spaces) is valid on `on`, as recorded at `as_of` (now when `None`).
pub fn persons_with_document_at(
    conn: &mut DbConn,
    doctype: i32,
    docser: Option<&str>,
    docnum: &str,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> QueryResult<Vec<i64>> {
    use erz_document as t;
    let mut query = t::table
        .filter(t::doctype.eq(doctype))
        .filter(t::docnum.eq(docnum))
        .filter(t::valid_from.le(on))
        .filter(t::valid_to.is_null().or(t::valid_to.gt(on)))
        .select((t::person_id, t::docser))
        .into_boxed();
    query = match as_of {
        None => query.filter(t::superseded_at.is_null()),
        Some(at) => query
            .filter(t::recorded_at.le(at))
            .filter(t::superseded_at.is_null().or(t::superseded_at.gt(at))),
    };
    let rows: Vec<(i64, Option<String>)> = query.load(conn)?;
    let squeeze = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let mut persons: Vec<i64> = rows
        .into_iter()
        .filter(|(_, ser)| {
            docser.is_none_or(|want| squeeze(ser.as_deref().unwrap_or("")) == squeeze(want))
        })
        .map(|(p, _)| p)
        .collect();
    persons.sort_unstable();
    persons.dedup();
    Ok(persons)
}

/// A list produced, for the journal.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_list_export)]
pub struct NewListExport {
    pub kind: String,
    pub insurer: String,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub file_name: String,
    pub records: i64,
    pub caller: String,
    pub created_at: NaiveDateTime,
}

/// Records a list (before it is written: its name goes into it) whose name is `stem` + a sequence number + `.xml`: the next number of the
/// lists already named with `stem` (1, 2, …). Returns the name recorded. A writer that loses
/// the race for a number takes the next one.
pub fn record_list_export(
    conn: &mut DbConn,
    stem: &str,
    row: &NewListExport,
) -> QueryResult<String> {
    use erz_list_export as l;
    let names: Vec<String> = l::table
        .filter(l::kind.eq(&row.kind))
        .filter(l::insurer.eq(&row.insurer))
        .select(l::file_name)
        .load(conn)?;
    let taken = names.iter().filter(|n| n.starts_with(stem)).count();
    for n in (taken + 1)..(taken + 20) {
        let name = format!("{stem}{n}.xml");
        let new = NewListExport {
            file_name: name.clone(),
            ..row.clone()
        };
        let inserted = conn.transaction(|c| diesel::insert_into(l::table).values(&new).execute(c));
        match inserted {
            Ok(_) => return Ok(name),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(DieselError::RollbackTransaction)
}
