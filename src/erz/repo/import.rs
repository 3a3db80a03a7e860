//! The writers of a bulk load of the register (`omshub erz import`, migration 000010): the
//! journal row of an imported file (`erz_import`) and one batch of persons written as the same
//! bitemporal rows `erz apply` records for a first registration (`erz_person`, a person
//! version, a document, a registration address, an insurance episode, an attachment), with
//! `recorded_at` the import's time and an `erz_op` per batch as the operation that recorded them.
//!
//! A batch is one transaction that also advances the journal (rows committed, last line), so
//! after a crash the journal says exactly which lines are in the register. A person whose ENP
//! is already registered (from an earlier run, another file or `erz apply`) is not inserted
//! again; the ENP counters are raised past the loaded serials. SQLite takes multi-row INSERTs; PostgreSQL takes `COPY … FROM STDIN` (binary), with
//! the person ids drawn from the sequence first so the fact rows can name them. Called by
//! `erz::import`.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{NewFile, NewOp, insert_file, insert_op};
use crate::db::DbConn;
use crate::db::schema::{
    erz_address, erz_attachment, erz_document, erz_import, erz_insurance, erz_person,
    erz_person_version,
};

/// Rows per multi-row INSERT on SQLite (the widest row has 14 columns: 14,000 parameters, under
/// SQLite's 32,766).
const SQLITE_CHUNK: usize = 1_000;

/// One person of an import file, checked: identity, personal data, document, insurance.
#[derive(Clone)]
pub struct ImportPerson {
    /// The line (CSV) or the line of the `<REC>` tag (RECLIST).
    pub line: u64,
    /// ENP, 16 digits, checked.
    pub enp: String,
    /// FAM.
    pub fam: String,
    /// IM.
    pub im: Option<String>,
    /// OT.
    pub ot: Option<String>,
    /// W: 1 male, 2 female.
    pub sex: i32,
    /// DR.
    pub birth_date: NaiveDate,
    /// `TRUE_DR`: 1, 2 or 3.
    pub birth_accuracy: i32,
    /// `C_OKSM`.
    pub citizenship: Option<String>,
    /// SNILS, 11 digits, checked.
    pub snils: Option<String>,
    /// DDEATH.
    pub death_date: Option<NaiveDate>,
    /// DOC.
    pub document: ImportDocument,
    /// The registration address (`ADDRES_G`), when given.
    pub address: Option<ImportAddress>,
    /// INSURANCE/POLIS.
    pub insurance: ImportInsurance,
    /// ATTACHMENT: the fund's clinic id and the attachment kind.
    pub attachment: Option<(i64, i32)>,
}

/// An identity document of an imported person.
#[derive(Clone)]
pub struct ImportDocument {
    /// DOCTYPE (F011).
    pub doctype: i32,
    /// DOCSER.
    pub docser: Option<String>,
    /// DOCNUM.
    pub docnum: String,
    /// DOCDATE.
    pub docdate: NaiveDate,
    /// DOCEXP.
    pub docexp: Option<NaiveDate>,
    /// `NAME_VP`.
    pub issuer: Option<String>,
}

/// The registration address of an imported person.
#[derive(Clone)]
pub struct ImportAddress {
    /// OKATO.
    pub okato: Option<String>,
    /// INDX.
    pub postcode: Option<String>,
    /// The address as text.
    pub text: Option<String>,
    /// BOMG.
    pub homeless: bool,
    /// DREG (else the valid time of the personal data).
    pub since: Option<NaiveDate>,
}

/// The insurance episode of an imported person.
#[derive(Clone)]
pub struct ImportInsurance {
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

/// The journal row of one imported file.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erz_import)]
pub struct ImportJournal {
    pub id: i64,
    pub sha256: String,
    pub file_name: String,
    pub format: String,
    pub file_id: i64,
    pub status: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub batches: i64,
    pub rows_committed: i64,
    pub rows_present: i64,
    pub rows_refused: i64,
    pub last_line: i64,
}

/// The journal of the file with `sha256`, if it was ever started.
pub fn journal_of(conn: &mut DbConn, sha256: &str) -> QueryResult<Option<ImportJournal>> {
    erz_import::table
        .filter(erz_import::sha256.eq(sha256))
        .select(ImportJournal::as_select())
        .first(conn)
        .optional()
}

/// Starts the journal of a file (and the `erz_file` row its batches' operations hang on).
pub fn start_journal(
    conn: &mut DbConn,
    file_name: &str,
    sha256: &str,
    format: &str,
    now: NaiveDateTime,
) -> QueryResult<ImportJournal> {
    conn.transaction(|conn| {
        let file_id = insert_file(
            conn,
            &NewFile {
                // Not an OPLIST name, so `erz apply`'s look-up by name never meets it.
                file_name: format!("import:{file_name}"),
                sha256: sha256.to_owned(),
                smocod: None,
                received_at: now,
                status: "applied".into(),
                records: 0,
                accepted: 0,
                refused: 0,
                reply_name: None,
                reply: None,
                protocol_name: String::new(),
                protocol: String::new(),
            },
        )?;
        diesel::insert_into(erz_import::table)
            .values((
                erz_import::sha256.eq(sha256),
                erz_import::file_name.eq(file_name),
                erz_import::format.eq(format),
                erz_import::file_id.eq(file_id),
                erz_import::status.eq("running"),
                erz_import::started_at.eq(now),
                erz_import::batches.eq(0_i64),
                erz_import::rows_committed.eq(0_i64),
                erz_import::rows_present.eq(0_i64),
                erz_import::rows_refused.eq(0_i64),
                erz_import::last_line.eq(0_i64),
            ))
            .execute(conn)?;
        erz_import::table
            .filter(erz_import::sha256.eq(sha256))
            .select(ImportJournal::as_select())
            .first(conn)
    })
}

/// Marks the journal of a file finished, with the refusals after its last batch.
pub fn finish_journal(
    conn: &mut DbConn,
    id: i64,
    refused_after: i64,
    last_line: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    use crate::db::schema::erz_file as f;
    use erz_import as j;
    diesel::update(j::table.find(id))
        .set((
            j::status.eq("done"),
            j::finished_at.eq(Some(now)),
            j::rows_refused.eq(j::rows_refused + refused_after),
            j::last_line.eq(last_line),
        ))
        .execute(conn)?;
    let totals: (i64, i64, i64, i64) = j::table
        .find(id)
        .select((
            j::rows_committed,
            j::rows_present,
            j::rows_refused,
            j::file_id,
        ))
        .first(conn)?;
    let (committed, present, refused, file_id) = totals;
    diesel::update(f::table.find(file_id))
        .set((
            f::records.eq(committed + present + refused),
            f::accepted.eq(committed),
            f::refused.eq(refused),
        ))
        .execute(conn)?;
    Ok(())
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Persons registered.
    pub inserted: u64,
    /// Rows whose ENP was already registered (or repeated within the batch).
    pub present: u64,
    /// The lines of rows refused because their SNILS is registered to another person.
    pub snils_taken: Vec<u64>,
}

/// Writes one batch of `rows` and advances the journal `journal` to `last_line` (with
/// `refused` more refused rows), in one transaction. With `check_snils`, a row whose SNILS the
/// register gives to another ENP (in a current person version) is refused instead. `turn` is
/// called after the rows are written and before the journal is advanced: batches written on
/// several connections at once wait there for the earlier batches to commit, so the journal
/// only ever moves forward in file order (its error rolls the batch back).
///
/// Without `check_snils` (an initial load: the register held no person when the file was
/// started) the batch's ENPs are not looked up first: none can be registered, since the file's
/// repeats are refused before and a resumed load writes only lines after its committed ones.
/// Should another route register one of them meanwhile (an `erz apply` during the load), the
/// unique ENP refuses the batch, and it is written again, looked up, in a new transaction.
#[expect(
    clippy::too_many_arguments,
    reason = "the batch, its place in the journal, and how to check it"
)]
pub fn write_batch(
    conn: &mut DbConn,
    journal: &ImportJournal,
    batch: i64,
    rows: &[ImportPerson],
    last_line: u64,
    refused: u64,
    now: NaiveDateTime,
    check_snils: bool,
    turn: &dyn Fn() -> QueryResult<()>,
) -> QueryResult<BatchOutcome> {
    let write = |conn: &mut DbConn, look_up: bool| {
        write_batch_once(
            conn,
            journal,
            batch,
            rows,
            (last_line, refused),
            now,
            (check_snils, look_up),
            turn,
        )
    };
    if check_snils {
        return write(conn, true);
    }
    match write(conn, false) {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => write(conn, true),
        other => other,
    }
}

/// [`write_batch`] in one transaction: `look_up` the batch's ENPs first or not; `ends` is the
/// last line and the refused rows, `checks` (`check_snils`, `look_up`).
#[expect(
    clippy::too_many_arguments,
    reason = "the batch, its place in the journal, and how to check it"
)]
fn write_batch_once(
    conn: &mut DbConn,
    journal: &ImportJournal,
    batch: i64,
    rows: &[ImportPerson],
    ends: (u64, u64),
    now: NaiveDateTime,
    checks: (bool, bool),
    turn: &dyn Fn() -> QueryResult<()>,
) -> QueryResult<BatchOutcome> {
    use erz_import as j;
    let (last_line, refused) = ends;
    let (check_snils, look_up) = checks;
    conn.transaction(|conn| {
        let present_before = if look_up {
            registered_among(conn, rows)?
        } else {
            HashSet::new()
        };
        let mut seen = HashSet::with_capacity(rows.len());
        let candidates: Vec<&ImportPerson> = rows
            .iter()
            .filter(|r| !present_before.contains(r.enp.as_str()) && seen.insert(r.enp.as_str()))
            .collect();
        let owners = if check_snils {
            snils_owners(conn, &candidates)?
        } else {
            HashMap::new()
        };
        let mut snils_taken = Vec::new();
        let mut new: Vec<&ImportPerson> = candidates
            .into_iter()
            .filter(|r| {
                let taken = r
                    .snils
                    .as_deref()
                    .and_then(|s| owners.get(s))
                    .is_some_and(|enp| *enp != r.enp);
                if taken {
                    snils_taken.push(r.line);
                }
                !taken
            })
            .collect();
        // Written in ENP order, ids given in that order: the unique ENP index then takes the
        // batch's keys leaf after leaf instead of at random (psql `\copy` of 1,000,000 persons
        // in batches of 20,000 into a table with that index: 3.9 s in file order, 3.2 s sorted;
        // a SQLite load 25.5 s against 27.2 s, a PostgreSQL load about even).
        new.sort_unstable_by(|a, b| a.enp.cmp(&b.enp));
        let outcome = BatchOutcome {
            inserted: new.len() as u64,
            present: (rows.len() - new.len() - snils_taken.len()) as u64,
            snils_taken,
        };
        let first = rows.first().map_or(last_line, |r| r.line);
        let op_id = insert_op(
            conn,
            &NewOp {
                file_id: journal.file_id,
                ordinal: batch,
                n_rec: format!("lines {first}-{last_line}"),
                tip_op: None,
                code_erp: "AA".into(),
                reason: None,
                comment: None,
                person_id: None,
                recorded_at: now,
            },
        )?;
        if !new.is_empty() {
            match conn {
                DbConn::Sqlite(c) => write_sqlite(c, &new, op_id, now)?,
                DbConn::Pg(c) => write_pg(c, &new, op_id, now)?,
            }
        }
        turn()?;
        let last = i64::try_from(last_line).unwrap_or(i64::MAX);
        diesel::update(j::table.find(journal.id))
            .set((
                j::batches.eq(batch),
                j::rows_committed.eq(j::rows_committed + to_i64(outcome.inserted)),
                j::rows_present.eq(j::rows_present + to_i64(outcome.present)),
                j::rows_refused.eq(j::rows_refused
                    + to_i64(refused)
                    + to_i64(outcome.snils_taken.len() as u64)),
                j::last_line.eq(last),
            ))
            .execute(conn)?;
        Ok(outcome)
    })
}

/// Raises the ENP counter of each territory and facet of `enps` (16-digit ENPs as numbers) to
/// at least the highest serial among them, so that issuance (`erz apply`) starts after the
/// loaded numbers instead of trying each taken one. Once per load, at its end, in one
/// transaction (a load that stopped before it leaves issuance correct, only slower: a taken
/// number is skipped by the unique ENP).
pub fn advance_counters(conn: &mut DbConn, enps: impl Iterator<Item = u64>) -> QueryResult<()> {
    let mut highest: HashMap<(u8, u32), i32> = HashMap::new();
    for enp in enps {
        // ENP: territory (2 digits), facet (8), serial (5), check digit.
        let serial = i32::try_from(enp / 10 % 100_000).unwrap_or(0);
        let facet = u32::try_from(enp / 1_000_000 % 100_000_000).unwrap_or(0);
        let territory = u8::try_from(enp / 100_000_000_000_000).unwrap_or(0);
        let top = highest.entry((territory, facet)).or_insert(0);
        *top = (*top).max(serial);
    }
    let keys: Vec<(String, String, i32)> = highest
        .into_iter()
        .map(|((territory, facet), serial)| {
            (format!("{territory:02}"), format!("{facet:08}"), serial)
        })
        .collect();
    conn.transaction(|conn| write_counters(conn, &keys))
}

fn write_counters(conn: &mut DbConn, keys: &[(String, String, i32)]) -> QueryResult<()> {
    use crate::db::schema::erz_enp_counter as c;
    for keys in keys.chunks(SQLITE_CHUNK) {
        let chunk: Vec<_> = keys
            .iter()
            .map(|(territory, facet, serial)| {
                (
                    c::territory.eq(territory),
                    c::facet.eq(facet),
                    c::last_serial.eq(*serial),
                )
            })
            .collect();
        match conn {
            DbConn::Sqlite(conn) => diesel::insert_into(c::table)
                .values(&chunk)
                .on_conflict((c::territory, c::facet))
                .do_update()
                .set(
                    c::last_serial.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                        "max(erz_enp_counter.last_serial, excluded.last_serial)",
                    )),
                )
                .execute(conn)?,
            DbConn::Pg(conn) => diesel::insert_into(c::table)
                .values(&chunk)
                .on_conflict((c::territory, c::facet))
                .do_update()
                .set(
                    c::last_serial.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                        "GREATEST(erz_enp_counter.last_serial, excluded.last_serial)",
                    )),
                )
                .execute(conn)?,
        };
    }
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The SNILS of `rows` registered now (in a current person version), with the ENP they are
/// registered to.
fn snils_owners(conn: &mut DbConn, rows: &[&ImportPerson]) -> QueryResult<HashMap<String, String>> {
    let mut owners = HashMap::new();
    let all: Vec<&str> = rows.iter().filter_map(|r| r.snils.as_deref()).collect();
    for chunk in all.chunks(SQLITE_CHUNK) {
        let found: Vec<(Option<String>, String)> = erz_person_version::table
            .inner_join(erz_person::table)
            .filter(erz_person_version::snils.eq_any(chunk))
            .filter(erz_person_version::superseded_at.is_null())
            .select((erz_person_version::snils, erz_person::enp))
            .load(conn)?;
        owners.extend(found.into_iter().filter_map(|(s, enp)| s.map(|s| (s, enp))));
    }
    Ok(owners)
}

/// The ENPs of `rows` already registered.
fn registered_among(conn: &mut DbConn, rows: &[ImportPerson]) -> QueryResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in rows.chunks(SQLITE_CHUNK) {
        let enps: Vec<&str> = chunk.iter().map(|r| r.enp.as_str()).collect();
        let taken: Vec<String> = erz_person::table
            .filter(erz_person::enp.eq_any(&enps))
            .select(erz_person::enp)
            .load(conn)?;
        found.extend(taken);
    }
    Ok(found)
}

// ---- rows as inserted (explicit NULLs, so multi-row INSERT and COPY take them) ---------------

/// The insert structs, borrowing from the batch.
mod rows {
    #![expect(
        clippy::ref_option_ref,
        reason = "diesel's Insertable derive borrows each Option<&str> field"
    )]

    use chrono::{NaiveDate, NaiveDateTime};
    use diesel::prelude::*;

    use crate::db::schema::{
        erz_address, erz_attachment, erz_document, erz_insurance, erz_person, erz_person_version,
    };

    #[derive(Insertable)]
    #[diesel(table_name = erz_person)]
    pub(super) struct PersonIn<'a> {
        pub(super) enp: &'a str,
        pub(super) created_at: NaiveDateTime,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_person)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct PersonWithId<'a> {
        pub(super) id: i64,
        pub(super) enp: &'a str,
        pub(super) created_at: NaiveDateTime,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_person_version)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct VersionIn<'a> {
        pub(super) person_id: i64,
        pub(super) fam: &'a str,
        pub(super) im: Option<&'a str>,
        pub(super) ot: Option<&'a str>,
        pub(super) sex: i32,
        pub(super) birth_date: NaiveDate,
        pub(super) birth_accuracy: i32,
        pub(super) citizenship: Option<&'a str>,
        pub(super) snils: Option<&'a str>,
        pub(super) death_date: Option<NaiveDate>,
        pub(super) valid_from: NaiveDate,
        pub(super) valid_to: Option<NaiveDate>,
        pub(super) recorded_at: NaiveDateTime,
        pub(super) op_id: i64,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_document)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct DocumentIn<'a> {
        pub(super) person_id: i64,
        pub(super) doctype: i32,
        pub(super) docser: Option<&'a str>,
        pub(super) docnum: &'a str,
        pub(super) docdate: NaiveDate,
        pub(super) docexp: Option<NaiveDate>,
        pub(super) issuer: Option<&'a str>,
        pub(super) valid_from: NaiveDate,
        pub(super) valid_to: Option<NaiveDate>,
        pub(super) recorded_at: NaiveDateTime,
        pub(super) op_id: i64,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_address)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct AddressIn<'a> {
        pub(super) person_id: i64,
        pub(super) kind: &'a str,
        pub(super) okato: Option<&'a str>,
        pub(super) postcode: Option<&'a str>,
        pub(super) text: Option<&'a str>,
        pub(super) homeless: i32,
        pub(super) valid_from: NaiveDate,
        pub(super) valid_to: Option<NaiveDate>,
        pub(super) recorded_at: NaiveDateTime,
        pub(super) op_id: i64,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_insurance)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct InsuranceIn<'a> {
        pub(super) person_id: i64,
        pub(super) enp: &'a str,
        pub(super) insurer_code: &'a str,
        pub(super) policy_kind: &'a str,
        pub(super) policy_series: Option<&'a str>,
        pub(super) policy_number: Option<&'a str>,
        pub(super) policy_form: Option<&'a str>,
        pub(super) territory: Option<&'a str>,
        pub(super) start_date: NaiveDate,
        pub(super) planned_end: Option<NaiveDate>,
        pub(super) stop_date: Option<NaiveDate>,
        pub(super) valid_from: NaiveDate,
        pub(super) valid_to: Option<NaiveDate>,
        pub(super) recorded_at: NaiveDateTime,
        pub(super) op_id: i64,
    }

    #[derive(Insertable)]
    #[diesel(table_name = erz_attachment)]
    #[diesel(treat_none_as_default_value = false)]
    pub(super) struct AttachmentIn {
        pub(super) person_id: i64,
        pub(super) lpu_id: i64,
        pub(super) kind: i32,
        pub(super) valid_from: NaiveDate,
        pub(super) valid_to: Option<NaiveDate>,
        pub(super) recorded_at: NaiveDateTime,
        pub(super) op_id: i64,
    }
}

use rows::{AddressIn, AttachmentIn, DocumentIn, InsuranceIn, PersonIn, PersonWithId, VersionIn};

/// The fact rows of a batch, for persons whose ids are known.
struct Facts<'a> {
    versions: Vec<VersionIn<'a>>,
    documents: Vec<DocumentIn<'a>>,
    addresses: Vec<AddressIn<'a>>,
    insurance: Vec<InsuranceIn<'a>>,
    attachments: Vec<AttachmentIn>,
}

/// The rows `erz apply` records for a first registration: personal data, document and
/// attachment valid from the birth date, the address from DREG (else the birth date), the
/// episode from DBEG to DSTOP + 1 day.
fn facts<'a>(people: &[(i64, &'a ImportPerson)], op_id: i64, now: NaiveDateTime) -> Facts<'a> {
    let mut f = Facts {
        versions: Vec::with_capacity(people.len()),
        documents: Vec::with_capacity(people.len()),
        addresses: Vec::new(),
        insurance: Vec::with_capacity(people.len()),
        attachments: Vec::new(),
    };
    for &(id, p) in people {
        let from = p.birth_date;
        f.versions.push(VersionIn {
            person_id: id,
            fam: &p.fam,
            im: p.im.as_deref(),
            ot: p.ot.as_deref(),
            sex: p.sex,
            birth_date: p.birth_date,
            birth_accuracy: p.birth_accuracy,
            citizenship: p.citizenship.as_deref(),
            snils: p.snils.as_deref(),
            death_date: p.death_date,
            valid_from: from,
            valid_to: None,
            recorded_at: now,
            op_id,
        });
        let d = &p.document;
        f.documents.push(DocumentIn {
            person_id: id,
            doctype: d.doctype,
            docser: d.docser.as_deref(),
            docnum: &d.docnum,
            docdate: d.docdate,
            docexp: d.docexp,
            issuer: d.issuer.as_deref(),
            valid_from: from,
            valid_to: None,
            recorded_at: now,
            op_id,
        });
        if let Some(a) = &p.address {
            f.addresses.push(AddressIn {
                person_id: id,
                kind: "registration",
                okato: a.okato.as_deref(),
                postcode: a.postcode.as_deref(),
                text: a.text.as_deref(),
                homeless: i32::from(a.homeless),
                valid_from: a.since.unwrap_or(from),
                valid_to: None,
                recorded_at: now,
                op_id,
            });
        }
        let i = &p.insurance;
        f.insurance.push(InsuranceIn {
            person_id: id,
            enp: &p.enp,
            insurer_code: &i.insurer_code,
            policy_kind: &i.policy_kind,
            policy_series: i.policy_series.as_deref(),
            policy_number: i.policy_number.as_deref(),
            policy_form: i.policy_form.as_deref(),
            territory: i.territory.as_deref(),
            start_date: i.start_date,
            planned_end: i.planned_end,
            stop_date: i.stop_date,
            valid_from: i.start_date,
            valid_to: i.stop_date.and_then(|d| d.succ_opt()),
            recorded_at: now,
            op_id,
        });
        if let Some((lpu_id, kind)) = p.attachment {
            f.attachments.push(AttachmentIn {
                person_id: id,
                lpu_id,
                kind,
                valid_from: from,
                valid_to: None,
                recorded_at: now,
                op_id,
            });
        }
    }
    f
}

fn write_sqlite(
    c: &mut diesel::SqliteConnection,
    new: &[&ImportPerson],
    op_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(new.len());
    for chunk in new.chunks(SQLITE_CHUNK) {
        let rows: Vec<PersonIn<'_>> = chunk
            .iter()
            .map(|p| PersonIn {
                enp: &p.enp,
                created_at: now,
            })
            .collect();
        diesel::insert_into(erz_person::table)
            .values(&rows)
            .execute(c)?;
        let enps: Vec<&str> = chunk.iter().map(|p| p.enp.as_str()).collect();
        let pairs: Vec<(i64, String)> = erz_person::table
            .filter(erz_person::enp.eq_any(&enps))
            .select((erz_person::id, erz_person::enp))
            .load(c)?;
        ids.extend(pairs.into_iter().map(|(id, enp)| (enp, id)));
    }
    let people: Vec<(i64, &ImportPerson)> = new
        .iter()
        .filter_map(|p| ids.get(&p.enp).map(|id| (*id, *p)))
        .collect();
    let f = facts(&people, op_id, now);
    for chunk in f.versions.chunks(SQLITE_CHUNK) {
        diesel::insert_into(erz_person_version::table)
            .values(chunk)
            .execute(c)?;
    }
    for chunk in f.documents.chunks(SQLITE_CHUNK) {
        diesel::insert_into(erz_document::table)
            .values(chunk)
            .execute(c)?;
    }
    for chunk in f.addresses.chunks(SQLITE_CHUNK) {
        diesel::insert_into(erz_address::table)
            .values(chunk)
            .execute(c)?;
    }
    for chunk in f.insurance.chunks(SQLITE_CHUNK) {
        diesel::insert_into(erz_insurance::table)
            .values(chunk)
            .execute(c)?;
    }
    for chunk in f.attachments.chunks(SQLITE_CHUNK) {
        diesel::insert_into(erz_attachment::table)
            .values(chunk)
            .execute(c)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct NextId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

fn write_pg(
    c: &mut diesel::PgConnection,
    new: &[&ImportPerson],
    op_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let count = i64::try_from(new.len()).unwrap_or(i64::MAX);
    let ids: Vec<NextId> = diesel::sql_query(
        // OFFSET 0 keeps the sequence's name looked up once, not once per id.
        "SELECT nextval(q.s) AS id \
         FROM (SELECT pg_get_serial_sequence('erz_person', 'id') AS s OFFSET 0) q, \
              generate_series(1, $1)",
    )
    .bind::<diesel::sql_types::BigInt, _>(count)
    .load(c)?;
    let people: Vec<(i64, &ImportPerson)> =
        ids.iter().map(|n| n.id).zip(new.iter().copied()).collect();
    let persons: Vec<PersonWithId<'_>> = people
        .iter()
        .map(|(id, p)| PersonWithId {
            id: *id,
            enp: &p.enp,
            created_at: now,
        })
        .collect();
    diesel::copy_from(erz_person::table)
        .from_insertable(&persons)
        .execute(c)?;
    let f = facts(&people, op_id, now);
    diesel::copy_from(erz_person_version::table)
        .from_insertable(&f.versions)
        .execute(c)?;
    diesel::copy_from(erz_document::table)
        .from_insertable(&f.documents)
        .execute(c)?;
    if !f.addresses.is_empty() {
        diesel::copy_from(erz_address::table)
            .from_insertable(&f.addresses)
            .execute(c)?;
    }
    diesel::copy_from(erz_insurance::table)
        .from_insertable(&f.insurance)
        .execute(c)?;
    if !f.attachments.is_empty() {
        diesel::copy_from(erz_attachment::table)
            .from_insertable(&f.attachments)
            .execute(c)?;
    }
    Ok(())
}

// ---- indexes and keys set aside for an initial load (migration 000012) -------------------------

/// The tables of a person's facts. An initial load sets aside their non-unique indexes and, on
/// PostgreSQL, their primary and foreign keys; unique indexes stay.
const FACT_TABLES: [&str; 5] = [
    "erz_person_version",
    "erz_document",
    "erz_address",
    "erz_insurance",
    "erz_attachment",
];

/// Whether the register holds no person at all.
pub fn register_is_empty(conn: &mut DbConn) -> QueryResult<bool> {
    let any: Option<i64> = erz_person::table
        .select(erz_person::id)
        .first(conn)
        .optional()?;
    Ok(any.is_none())
}

/// An index or a foreign key as the database describes it.
#[derive(QueryableByName)]
struct SetAside {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    definition: String,
}

fn quoted_list() -> String {
    FACT_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Saves the definitions of the fact tables' non-unique indexes (and, on PostgreSQL, their
/// primary keys and foreign keys) for the import `import_id` and drops them, in one
/// transaction; how many. A fact row's id comes only from its table's sequence, so no row can
/// take another's while the primary key is away (SQLite's are rowids: nothing to set aside);
/// the persons' primary key and unique ENP stay.
pub fn set_aside(conn: &mut DbConn, import_id: i64) -> QueryResult<usize> {
    use crate::db::schema::erz_import_deferred as d;
    let list = quoted_list();
    conn.transaction(|conn| {
        let found: Vec<SetAside> = match conn {
            DbConn::Sqlite(c) => diesel::sql_query(format!(
                "SELECT 'index' AS kind, tbl_name AS table_name, name, sql AS definition \
                 FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                 AND tbl_name IN ({list}) AND upper(sql) NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
            ))
            .load(c)?,
            DbConn::Pg(c) => diesel::sql_query(format!(
                "SELECT 'index' AS kind, t.relname::text AS table_name, i.relname::text AS name, \
                        pg_get_indexdef(i.oid) AS definition \
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid \
                 WHERE t.relname IN ({list}) AND t.relnamespace = current_schema()::regnamespace \
                   AND NOT x.indisunique AND NOT x.indisprimary \
                 UNION ALL \
                 SELECT CASE c.contype WHEN 'p' THEN 'primary_key' ELSE 'foreign_key' END, \
                        t.relname::text, c.conname::text, \
                        format('ALTER TABLE %I ADD CONSTRAINT %I %s', t.relname, c.conname, \
                               pg_get_constraintdef(c.oid)) \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 WHERE c.contype IN ('p', 'f') AND t.relname IN ({list}) \
                   AND t.relnamespace = current_schema()::regnamespace \
                 ORDER BY 1 DESC, 2, 3"
            ))
            .load(c)?,
        };
        for f in &found {
            diesel::insert_into(d::table)
                .values((
                    d::import_id.eq(import_id),
                    d::kind.eq(&f.kind),
                    d::table_name.eq(&f.table_name),
                    d::name.eq(&f.name),
                    d::definition.eq(&f.definition),
                ))
                .execute(conn)?;
            // A primary key's index goes with its constraint.
            let drop = if f.kind == "index" {
                format!("DROP INDEX \"{}\"", f.name)
            } else {
                format!(
                    "ALTER TABLE \"{}\" DROP CONSTRAINT \"{}\"",
                    f.table_name, f.name
                )
            };
            diesel::sql_query(drop).execute(conn)?;
        }
        Ok(found.len())
    })
}

/// Whether the import `import_id` has indexes or keys set aside and not built again.
pub fn has_set_aside(conn: &mut DbConn, import_id: i64) -> QueryResult<bool> {
    use crate::db::schema::erz_import_deferred as d;
    let pending: i64 = d::table
        .filter(d::import_id.eq(import_id))
        .filter(d::restored_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(pending > 0)
}

/// How many indexes and keys of the import `import_id` wait to be built again.
pub fn set_aside_pending(conn: &mut DbConn, import_id: i64) -> QueryResult<Vec<(i64, String)>> {
    use crate::db::schema::erz_import_deferred as d;
    d::table
        .filter(d::import_id.eq(import_id))
        .filter(d::restored_at.is_null())
        .order((d::kind.desc(), d::id))
        .select((d::id, d::name))
        .load(conn)
}

/// Builds again the index or key `id` of `erz_import_deferred` from its saved definition and
/// marks it built (primary keys, then indexes, then foreign keys: [`set_aside_pending`]'s
/// order). An index is built and marked in one transaction; a primary key likewise, its saved
/// `ADD CONSTRAINT … PRIMARY KEY` (which locks its table from the start, so it never waits
/// for a lock while holding one on the same table). A PostgreSQL foreign key is added
/// `NOT VALID` in a short transaction of its own (unless a stopped run added it already),
/// then validated and marked in a second: adding a key locks the table it names against
/// another key being added, while validating one does not, so several keys naming
/// `erz_person` are checked at once on several connections. The check is planned as a merge
/// of the two tables' indexes on the key (built just before) instead of a hash of
/// `erz_person`, and without JIT compilation: 0.29 s against 0.58 s per 1,000,000 rows on the
/// machine of docs/PERFORMANCE.md.
pub fn restore_one(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    use crate::db::schema::erz_import_deferred as d;
    let (kind, table, name, definition): (String, String, String, String) = d::table
        .find(id)
        .select((d::kind, d::table_name, d::name, d::definition))
        .first(conn)?;
    let key = kind == "foreign_key" && matches!(conn, DbConn::Pg(_));
    if key {
        conn.transaction(|conn| {
            let there: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname = $1 \
                 AND conrelid = $2::regclass",
            )
            .bind::<diesel::sql_types::Text, _>(&name)
            .bind::<diesel::sql_types::Text, _>(&table)
            .get_result(conn)?;
            if there.n == 0 {
                diesel::sql_query(format!("{definition} NOT VALID")).execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
    }
    conn.transaction(|conn| {
        if let DbConn::Pg(c) = conn {
            // Room to sort an index in memory instead of in temporary files.
            diesel::sql_query("SET LOCAL maintenance_work_mem = '256MB'").execute(c)?;
        }
        if key {
            diesel::sql_query("SET LOCAL enable_hashjoin = off").execute(conn)?;
            diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
            diesel::sql_query(format!(
                "ALTER TABLE \"{table}\" VALIDATE CONSTRAINT \"{name}\""
            ))
            .execute(conn)?;
        } else {
            diesel::sql_query(definition.as_str()).execute(conn)?;
        }
        diesel::update(d::table.find(id))
            .set(d::restored_at.eq(Some(now)))
            .execute(conn)?;
        Ok(())
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The register's tables a load writes: the persons and their five fact tables (an initial
/// load refreshes their planner statistics at its end, [`analyze`]).
pub const REGISTER_TABLES: [&str; 6] = [
    "erz_person",
    "erz_person_version",
    "erz_document",
    "erz_address",
    "erz_insurance",
    "erz_attachment",
];

/// Refreshes PostgreSQL's planner statistics of `table` (nothing on SQLite).
pub fn analyze(conn: &mut DbConn, table: &str) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        diesel::sql_query(format!("ANALYZE \"{table}\"")).execute(c)?;
    }
    Ok(())
}

/// After an initial load on SQLite: the rows of the fact tables whose foreign keys do not hold
/// (their enforcement was off for the load's connection). 0 on PostgreSQL, whose keys are
/// checked as they are validated again ([`restore_one`]).
pub fn sqlite_broken_keys(conn: &mut DbConn) -> QueryResult<i64> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(0);
    };
    let mut broken = 0;
    for table in FACT_TABLES {
        let n: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pragma_foreign_key_check('{table}')"
        ))
        .get_result(c)?;
        broken += n.n;
    }
    Ok(broken)
}

/// Turns the enforcement of foreign keys of this SQLite connection off (`false`) for a load,
/// or on again; nothing on PostgreSQL (its keys are dropped by [`set_aside`] instead).
pub fn sqlite_foreign_keys(conn: &mut DbConn, on: bool) -> QueryResult<()> {
    if let DbConn::Sqlite(c) = conn {
        diesel::sql_query(format!(
            "PRAGMA foreign_keys = {}",
            if on { "ON" } else { "OFF" }
        ))
        .execute(c)?;
    }
    Ok(())
}

/// Tunes this SQLite connection for a load (`true`) or puts the defaults back (`false`): a page
/// cache of 128 MiB instead of 2 MiB, so that a batch's changed pages are not spilled to the
/// write-ahead log before its commit; a checkpoint every 16,384 pages instead of 1,000; the
/// statement journals of multi-row INSERTs in memory. Nothing on PostgreSQL.
pub fn sqlite_tuned_for_load(conn: &mut DbConn, on: bool) -> QueryResult<()> {
    use diesel::connection::SimpleConnection as _;
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute(if on {
            "PRAGMA cache_size = -131072; PRAGMA wal_autocheckpoint = 16384; \
             PRAGMA temp_store = MEMORY;"
        } else {
            "PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000; \
             PRAGMA temp_store = DEFAULT;"
        })?;
    }
    Ok(())
}
