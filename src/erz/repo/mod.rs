//! The only writer of the `erz_*` tables (migration 000008): the bitemporal fact tables
//! (person versions, documents, addresses, insurance episodes, attachments), persons by ENP,
//! the ENP counters, the journal of applied files and operations, and the audit of
//! policy-status queries.
//!
//! A fact row is never changed except to set `superseded_at` once. [`replace_insurance_from`]
//! and its siblings record a change valid from a date: every current row still valid on or
//! after that date is superseded, the part of it before the date is recorded again (cut at the
//! date), and the new row is recorded. Reads take a valid date and an optional record time
//! ("as known at"; `None` = now). Called by `erz::apply` and `erz::status`.
//!
//! Later parts of the register keep their own writers in submodules of this one (so that the
//! rule "only `erz::repo` writes `erz_*`" holds): each declared below.
//!
//! - `care`: reads the cases billed for a person (intake's and settlement's tables, read only).
//! - `lists`: the reads behind the lists for insurers and the look-up by names + document,
//!   the journal of lists produced, and the end of insurance at death.
//! - `audit`: the batch writer of the policy-status audit (many rows per transaction).
//! - `import`: the journal of bulk loads and the batch writer (multi-row INSERT on SQLite,
//!   COPY on PostgreSQL) of `omshub erz import`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub mod audit;
pub mod import;

use crate::db::DbConn;
use crate::db::schema::{
    erz_address, erz_attachment, erz_document, erz_enp_counter, erz_file, erz_insurance, erz_op,
    erz_person, erz_person_version, erz_status_query,
};

pub mod care;
pub mod lists;
/// Duplicate matching: candidate pairs, reviewers' decisions, merge links (migration 000009).
pub mod matching;
pub mod status;

#[derive(QueryableByName)]
struct LastId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Inserts one row and returns its generated `id` (RETURNING on PostgreSQL,
/// `last_insert_rowid()` on SQLite).
macro_rules! insert_returning_id {
    ($conn:expr, $table:path, $id:path, $row:expr) => {
        match $conn {
            DbConn::Pg(c) => diesel::insert_into($table)
                .values($row)
                .returning($id)
                .get_result::<i64>(c),
            DbConn::Sqlite(c) => {
                diesel::insert_into($table).values($row).execute(c)?;
                diesel::sql_query("SELECT last_insert_rowid() AS id")
                    .get_result::<LastId>(c)
                    .map(|r| r.id)
            }
        }
    };
}

// ---- fact rows ----------------------------------------------------------------------------

/// One version of a person's data (PERSON).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = erz_person_version)]
pub struct PersonVersionRow {
    pub id: i64,
    pub person_id: i64,
    pub fam: String,
    pub im: Option<String>,
    pub ot: Option<String>,
    pub sex: i32,
    pub birth_date: NaiveDate,
    pub birth_accuracy: i32,
    pub citizenship: Option<String>,
    pub snils: Option<String>,
    pub death_date: Option<NaiveDate>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
    pub op_id: i64,
}

/// A person version to record.
#[derive(Clone, Insertable)]
#[diesel(table_name = erz_person_version)]
pub struct NewPersonVersion {
    pub person_id: i64,
    pub fam: String,
    pub im: Option<String>,
    pub ot: Option<String>,
    pub sex: i32,
    pub birth_date: NaiveDate,
    pub birth_accuracy: i32,
    pub citizenship: Option<String>,
    pub snils: Option<String>,
    pub death_date: Option<NaiveDate>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub op_id: i64,
}

impl PersonVersionRow {
    fn cut(&self, to: NaiveDate, op_id: i64, now: NaiveDateTime) -> NewPersonVersion {
        NewPersonVersion {
            person_id: self.person_id,
            fam: self.fam.clone(),
            im: self.im.clone(),
            ot: self.ot.clone(),
            sex: self.sex,
            birth_date: self.birth_date,
            birth_accuracy: self.birth_accuracy,
            citizenship: self.citizenship.clone(),
            snils: self.snils.clone(),
            death_date: self.death_date,
            valid_from: self.valid_from,
            valid_to: Some(to),
            recorded_at: now,
            op_id,
        }
    }
}

/// One identity document (DOC).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = erz_document)]
pub struct DocumentRow {
    pub id: i64,
    pub person_id: i64,
    pub doctype: i32,
    pub docser: Option<String>,
    pub docnum: String,
    pub docdate: NaiveDate,
    pub docexp: Option<NaiveDate>,
    pub issuer: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
    pub op_id: i64,
}

/// A document to record.
#[derive(Clone, Insertable)]
#[diesel(table_name = erz_document)]
pub struct NewDocument {
    pub person_id: i64,
    pub doctype: i32,
    pub docser: Option<String>,
    pub docnum: String,
    pub docdate: NaiveDate,
    pub docexp: Option<NaiveDate>,
    pub issuer: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub op_id: i64,
}

impl DocumentRow {
    fn cut(&self, to: NaiveDate, op_id: i64, now: NaiveDateTime) -> NewDocument {
        NewDocument {
            person_id: self.person_id,
            doctype: self.doctype,
            docser: self.docser.clone(),
            docnum: self.docnum.clone(),
            docdate: self.docdate,
            docexp: self.docexp,
            issuer: self.issuer.clone(),
            valid_from: self.valid_from,
            valid_to: Some(to),
            recorded_at: now,
            op_id,
        }
    }
}

/// One address (`ADDRES_G` registration or `ADDRES_P` actual).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = erz_address)]
pub struct AddressRow {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub okato: Option<String>,
    pub postcode: Option<String>,
    pub text: Option<String>,
    pub homeless: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
    pub op_id: i64,
}

/// An address to record.
#[derive(Clone, Insertable)]
#[diesel(table_name = erz_address)]
pub struct NewAddress {
    pub person_id: i64,
    pub kind: String,
    pub okato: Option<String>,
    pub postcode: Option<String>,
    pub text: Option<String>,
    pub homeless: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub op_id: i64,
}

impl AddressRow {
    fn cut(&self, to: NaiveDate, op_id: i64, now: NaiveDateTime) -> NewAddress {
        NewAddress {
            person_id: self.person_id,
            kind: self.kind.clone(),
            okato: self.okato.clone(),
            postcode: self.postcode.clone(),
            text: self.text.clone(),
            homeless: self.homeless,
            valid_from: self.valid_from,
            valid_to: Some(to),
            recorded_at: now,
            op_id,
        }
    }
}

/// One insurance episode (INSURANCE/POLIS).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = erz_insurance)]
pub struct InsuranceRow {
    pub id: i64,
    pub person_id: i64,
    pub enp: String,
    pub insurer_code: String,
    pub policy_kind: String,
    pub policy_series: Option<String>,
    pub policy_number: Option<String>,
    pub policy_form: Option<String>,
    pub territory: Option<String>,
    pub start_date: NaiveDate,
    pub planned_end: Option<NaiveDate>,
    pub stop_date: Option<NaiveDate>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
    pub op_id: i64,
}

/// An insurance episode to record.
#[derive(Clone, Insertable)]
#[diesel(table_name = erz_insurance)]
pub struct NewInsurance {
    pub person_id: i64,
    pub enp: String,
    pub insurer_code: String,
    pub policy_kind: String,
    pub policy_series: Option<String>,
    pub policy_number: Option<String>,
    pub policy_form: Option<String>,
    pub territory: Option<String>,
    pub start_date: NaiveDate,
    pub planned_end: Option<NaiveDate>,
    pub stop_date: Option<NaiveDate>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub op_id: i64,
}

impl InsuranceRow {
    /// The part before `to`: the episode stops on the day before (unless it stopped earlier).
    fn cut(&self, to: NaiveDate, op_id: i64, now: NaiveDateTime) -> NewInsurance {
        let last_day = to.pred_opt().unwrap_or(to);
        NewInsurance {
            person_id: self.person_id,
            enp: self.enp.clone(),
            insurer_code: self.insurer_code.clone(),
            policy_kind: self.policy_kind.clone(),
            policy_series: self.policy_series.clone(),
            policy_number: self.policy_number.clone(),
            policy_form: self.policy_form.clone(),
            territory: self.territory.clone(),
            start_date: self.start_date,
            planned_end: self.planned_end,
            stop_date: Some(self.stop_date.map_or(last_day, |s| s.min(last_day))),
            valid_from: self.valid_from,
            valid_to: Some(to),
            recorded_at: now,
            op_id,
        }
    }
}

/// One clinic attachment (ATTACHMENT).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = erz_attachment)]
pub struct AttachmentRow {
    pub id: i64,
    pub person_id: i64,
    pub lpu_id: i64,
    pub kind: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
    pub op_id: i64,
}

/// An attachment to record.
#[derive(Clone, Insertable)]
#[diesel(table_name = erz_attachment)]
pub struct NewAttachment {
    pub person_id: i64,
    pub lpu_id: i64,
    pub kind: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
    pub op_id: i64,
}

impl AttachmentRow {
    fn cut(&self, to: NaiveDate, op_id: i64, now: NaiveDateTime) -> NewAttachment {
        NewAttachment {
            person_id: self.person_id,
            lpu_id: self.lpu_id,
            kind: self.kind,
            valid_from: self.valid_from,
            valid_to: Some(to),
            recorded_at: now,
            op_id,
        }
    }
}

/// Generates, for one fact table: `current` (the rows of a person not superseded, by valid
/// time), `replace_from` (a change valid from a date, see the module text), `at` (the rows
/// valid on a date as known at a time) and `annul` (supersede every current row).
macro_rules! fact_table {
    ($table:ident, $row:ty, $new:ty, $current:ident, $replace:ident, $at:ident, $annul:ident) => {
        /// The rows of `person` not superseded, by valid time.
        pub fn $current(conn: &mut DbConn, person: i64) -> QueryResult<Vec<$row>> {
            use $table as t;
            t::table
                .filter(t::person_id.eq(person))
                .filter(t::superseded_at.is_null())
                .order((t::valid_from.asc(), t::id.asc()))
                .select(<$row>::as_select())
                .load(conn)
        }

        /// Records `new` (if any) as valid from `from`: each current row of `person` that
        /// `matches` and is still valid on or after `from` is superseded at `now`, its part
        /// before `from` recorded again.
        pub fn $replace(
            conn: &mut DbConn,
            person: i64,
            from: NaiveDate,
            now: NaiveDateTime,
            op_id: i64,
            matches: impl Fn(&$row) -> bool,
            new: &[$new],
        ) -> QueryResult<()> {
            use $table as t;
            for row in $current(conn, person)? {
                if !matches(&row) || row.valid_to.is_some_and(|to| to <= from) {
                    continue;
                }
                diesel::update(t::table.find(row.id).filter(t::superseded_at.is_null()))
                    .set(t::superseded_at.eq(Some(now)))
                    .execute(conn)?;
                if row.valid_from < from {
                    diesel::insert_into(t::table)
                        .values(&row.cut(from, op_id, now))
                        .execute(conn)?;
                }
            }
            for n in new {
                diesel::insert_into(t::table).values(n).execute(conn)?;
            }
            Ok(())
        }

        /// The rows of `person` valid on `on`, as recorded at `as_of` (now when `None`).
        pub fn $at(
            conn: &mut DbConn,
            person: i64,
            on: NaiveDate,
            as_of: Option<NaiveDateTime>,
        ) -> QueryResult<Vec<$row>> {
            use $table as t;
            let mut query = t::table
                .filter(t::person_id.eq(person))
                .filter(t::valid_from.le(on))
                .filter(t::valid_to.is_null().or(t::valid_to.gt(on)))
                .order((t::valid_from.desc(), t::id.desc()))
                .select(<$row>::as_select())
                .into_boxed();
            query = match as_of {
                None => query.filter(t::superseded_at.is_null()),
                Some(at) => query
                    .filter(t::recorded_at.le(at))
                    .filter(t::superseded_at.is_null().or(t::superseded_at.gt(at))),
            };
            query.load(conn)
        }

        /// Supersedes every current row of `person` at `now`.
        pub fn $annul(conn: &mut DbConn, person: i64, now: NaiveDateTime) -> QueryResult<usize> {
            use $table as t;
            diesel::update(
                t::table
                    .filter(t::person_id.eq(person))
                    .filter(t::superseded_at.is_null()),
            )
            .set(t::superseded_at.eq(Some(now)))
            .execute(conn)
        }
    };
}

fact_table!(
    erz_person_version,
    PersonVersionRow,
    NewPersonVersion,
    current_person_versions,
    replace_person_from,
    person_at,
    annul_person_versions
);
fact_table!(
    erz_document,
    DocumentRow,
    NewDocument,
    current_documents,
    replace_documents_from,
    documents_at,
    annul_documents
);
fact_table!(
    erz_address,
    AddressRow,
    NewAddress,
    current_addresses,
    replace_addresses_from,
    addresses_at,
    annul_addresses
);
fact_table!(
    erz_insurance,
    InsuranceRow,
    NewInsurance,
    current_insurance,
    replace_insurance_from,
    insurance_at,
    annul_insurance
);
fact_table!(
    erz_attachment,
    AttachmentRow,
    NewAttachment,
    current_attachments,
    replace_attachments_from,
    attachments_at,
    annul_attachments
);

// ---- persons and ENP issuance ----------------------------------------------------------------

/// The person with `enp`, if registered.
pub fn person_by_enp(conn: &mut DbConn, enp: &str) -> QueryResult<Option<i64>> {
    erz_person::table
        .filter(erz_person::enp.eq(enp))
        .select(erz_person::id)
        .first(conn)
        .optional()
}

/// The death dates of the current (not superseded) versions of `person`, newest valid time
/// first (`None` for a version without one); empty when the person has no current version
/// (never registered, or annulled). One read for the policy status: registered, and dead.
pub fn current_death_dates(conn: &mut DbConn, person: i64) -> QueryResult<Vec<Option<NaiveDate>>> {
    erz_person_version::table
        .filter(erz_person_version::person_id.eq(person))
        .filter(erz_person_version::superseded_at.is_null())
        .order((
            erz_person_version::valid_from.desc(),
            erz_person_version::id.desc(),
        ))
        .select(erz_person_version::death_date)
        .load(conn)
}

/// The ENP of person `id`.
pub fn enp_of(conn: &mut DbConn, id: i64) -> QueryResult<String> {
    erz_person::table
        .find(id)
        .select(erz_person::enp)
        .first(conn)
}

/// Registers a person under `enp`; `None` when the ENP is taken (unique index).
pub fn insert_person(conn: &mut DbConn, enp: &str, now: NaiveDateTime) -> QueryResult<Option<i64>> {
    let row = (erz_person::enp.eq(enp), erz_person::created_at.eq(now));
    // In a savepoint: on PostgreSQL a failed statement would abort the whole transaction.
    let result = conn
        .transaction(|conn| insert_returning_id!(conn, erz_person::table, erz_person::id, &row));
    match result {
        Ok(id) => Ok(Some(id)),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The persons whose SNILS is `snils` in a current version (any valid time).
pub fn persons_with_snils(conn: &mut DbConn, snils: &str) -> QueryResult<Vec<i64>> {
    use erz_person_version as v;
    v::table
        .filter(v::snils.eq(snils))
        .filter(v::superseded_at.is_null())
        .select(v::person_id)
        .distinct()
        .load(conn)
}

/// The persons whose SNILS was `snils` on `on`, as recorded at `as_of` (now when `None`).
pub fn persons_with_snils_at(
    conn: &mut DbConn,
    snils: &str,
    on: NaiveDate,
    as_of: Option<NaiveDateTime>,
) -> QueryResult<Vec<i64>> {
    use erz_person_version as v;
    let mut query = v::table
        .filter(v::snils.eq(snils))
        .filter(v::valid_from.le(on))
        .filter(v::valid_to.is_null().or(v::valid_to.gt(on)))
        .select(v::person_id)
        .distinct()
        .into_boxed();
    query = match as_of {
        None => query.filter(v::superseded_at.is_null()),
        Some(at) => query
            .filter(v::recorded_at.le(at))
            .filter(v::superseded_at.is_null().or(v::superseded_at.gt(at))),
    };
    query.load(conn)
}

/// Takes the next ENP serial of `territory` and `facet` (1, 2, …), or `None` when 99 999 are
/// taken. The UPDATE locks the counter row until the transaction ends, so concurrent callers
/// get distinct serials; the first serial of a facet inserts the row, and a caller that loses
/// that race takes the UPDATE path again.
pub fn next_enp_serial(
    conn: &mut DbConn,
    territory: &str,
    facet: &str,
) -> QueryResult<Option<u32>> {
    use erz_enp_counter as c;
    for _ in 0..3 {
        let current: Option<i32> = c::table
            .find((territory, facet))
            .select(c::last_serial)
            .first(conn)
            .optional()?;
        if current.is_some_and(|n| n >= 99_999) {
            return Ok(None);
        }
        if current.is_some() {
            diesel::update(
                c::table
                    .find((territory, facet))
                    .filter(c::last_serial.lt(99_999)),
            )
            .set(c::last_serial.eq(c::last_serial + 1))
            .execute(conn)?;
            let n: i32 = c::table
                .find((territory, facet))
                .select(c::last_serial)
                .first(conn)?;
            return Ok(u32::try_from(n).ok());
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(c::table)
                .values((
                    c::territory.eq(territory),
                    c::facet.eq(facet),
                    c::last_serial.eq(1),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(Some(1)),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(DieselError::RollbackTransaction)
}

// ---- the journal of files and operations -----------------------------------------------------

/// A stored file, as the repeat of it answers.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_file)]
pub struct FileRow {
    pub id: i64,
    pub file_name: String,
    pub sha256: String,
    pub smocod: Option<String>,
    pub received_at: NaiveDateTime,
    pub status: String,
    pub records: i64,
    pub accepted: i64,
    pub refused: i64,
    pub reply_name: Option<String>,
    pub reply: Option<String>,
    pub protocol_name: String,
    pub protocol: String,
}

/// A file to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_file)]
pub struct NewFile {
    pub file_name: String,
    pub sha256: String,
    pub smocod: Option<String>,
    pub received_at: NaiveDateTime,
    pub status: String,
    pub records: i64,
    pub accepted: i64,
    pub refused: i64,
    pub reply_name: Option<String>,
    pub reply: Option<String>,
    pub protocol_name: String,
    pub protocol: String,
}

/// The files recorded under `file_name`.
pub fn files_named(conn: &mut DbConn, file_name: &str) -> QueryResult<Vec<FileRow>> {
    erz_file::table
        .filter(erz_file::file_name.eq(file_name))
        .select(FileRow::as_select())
        .order(erz_file::id.asc())
        .load(conn)
}

/// Records a file; returns its id.
pub fn insert_file(conn: &mut DbConn, file: &NewFile) -> QueryResult<i64> {
    insert_returning_id!(conn, erz_file::table, erz_file::id, file)
}

/// Sets the outcome of file `id` once its operations are applied.
pub fn finish_file(conn: &mut DbConn, id: i64, file: &NewFile) -> QueryResult<()> {
    use erz_file as f;
    diesel::update(f::table.find(id))
        .set((
            f::smocod.eq(&file.smocod),
            f::status.eq(&file.status),
            f::records.eq(file.records),
            f::accepted.eq(file.accepted),
            f::refused.eq(file.refused),
            f::reply_name.eq(&file.reply_name),
            f::reply.eq(&file.reply),
            f::protocol_name.eq(&file.protocol_name),
            f::protocol.eq(&file.protocol),
        ))
        .execute(conn)?;
    Ok(())
}

/// One operation's answer.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_op)]
pub struct OpRow {
    pub id: i64,
    pub file_id: i64,
    pub ordinal: i64,
    pub n_rec: String,
    pub tip_op: Option<i32>,
    pub code_erp: String,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub person_id: Option<i64>,
    pub recorded_at: NaiveDateTime,
}

/// An operation to record (its answer set by [`set_op_answer`] once known).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_op)]
pub struct NewOp {
    pub file_id: i64,
    pub ordinal: i64,
    pub n_rec: String,
    pub tip_op: Option<i32>,
    pub code_erp: String,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub person_id: Option<i64>,
    pub recorded_at: NaiveDateTime,
}

/// Records an operation; returns its id.
pub fn insert_op(conn: &mut DbConn, op: &NewOp) -> QueryResult<i64> {
    insert_returning_id!(conn, erz_op::table, erz_op::id, op)
}

/// Sets the answer of operation `id`.
pub fn set_op_answer(
    conn: &mut DbConn,
    id: i64,
    code_erp: &str,
    reason: Option<&str>,
    comment: Option<&str>,
    person_id: Option<i64>,
) -> QueryResult<()> {
    use erz_op as o;
    diesel::update(o::table.find(id))
        .set((
            o::code_erp.eq(code_erp),
            o::reason.eq(reason),
            o::comment.eq(comment),
            o::person_id.eq(person_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The operations of file `file_id`, in file order.
pub fn ops_of_file(conn: &mut DbConn, file_id: i64) -> QueryResult<Vec<OpRow>> {
    erz_op::table
        .filter(erz_op::file_id.eq(file_id))
        .order(erz_op::ordinal.asc())
        .select(OpRow::as_select())
        .load(conn)
}

/// The insurance episode operation `op_id` recorded as current (not a cut copy), if any:
/// of its rows still current the latest by valid time (a row the same operation cut again, at
/// a death, counts as its cut copy), else the latest.
pub fn insurance_of_op(conn: &mut DbConn, op_id: i64) -> QueryResult<Option<InsuranceRow>> {
    use erz_insurance as i;
    let rows: Vec<InsuranceRow> = i::table
        .filter(i::op_id.eq(op_id))
        .order((i::valid_from.desc(), i::id.desc()))
        .select(InsuranceRow::as_select())
        .load(conn)?;
    Ok(rows
        .iter()
        .find(|r| r.superseded_at.is_none())
        .or(rows.first())
        .cloned())
}

// ---- audit ------------------------------------------------------------------------------------

/// One policy-status query to audit.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erz_status_query)]
pub struct NewStatusQuery {
    pub asked_at: NaiveDateTime,
    pub caller: String,
    pub participant_id: Option<i64>,
    pub by_key: String,
    pub subject: String,
    pub on_date: NaiveDate,
    pub as_of: Option<NaiveDateTime>,
    pub person_id: Option<i64>,
    pub outcome: String,
}

/// Writes the audit row of a query.
pub fn insert_status_query(conn: &mut DbConn, row: &NewStatusQuery) -> QueryResult<()> {
    diesel::insert_into(erz_status_query::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// How many versions of `person` were on record at `at`.
pub fn person_versions_known_at(
    conn: &mut DbConn,
    person: i64,
    at: NaiveDateTime,
) -> QueryResult<i64> {
    use erz_person_version as v;
    v::table
        .filter(v::person_id.eq(person))
        .filter(v::recorded_at.le(at))
        .filter(v::superseded_at.is_null().or(v::superseded_at.gt(at)))
        .count()
        .get_result(conn)
}
