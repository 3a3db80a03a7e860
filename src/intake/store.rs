//! The `package` and `package_case` tables. A package row is written before its receipt is
//! sent; a worker takes the oldest `received` row (`claim_next`), and ends it with
//! [`finish`], which writes the outcome and the cases of the accepted records in one
//! transaction and only while the row is still the worker's (`checking` with the attempt the
//! worker took). A process killed in between leaves the row `checking`; [`requeue_interrupted`]
//! gives it back at the next start.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Channel, Receipt, Status};
use crate::db::DbConn;
use crate::db::schema::{package, package_case};

/// Now, at the microsecond precision both backends keep.
#[must_use]
pub fn now() -> NaiveDateTime {
    use chrono::Timelike;
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// One row of `package`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = package)]
pub struct PackageRow {
    #[serde(skip)]
    pub seq: i64,
    pub id: String,
    pub sender: String,
    pub channel: String,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    pub received_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub records: Option<i64>,
    pub refused_records: Option<i64>,
    pub findings: Option<i64>,
    pub refusal_code: Option<String>,
    pub protocol_name: Option<String>,
    pub message: Option<String>,
    /// Identifies the signature files sent beside the package ('' when none).
    #[serde(skip)]
    pub signatures: String,
    /// The hub's own code of the first refusal (`zip_bomb`, `signature_invalid`…).
    pub refusal_reason: Option<String>,
}

impl PackageRow {
    /// The receipt of this package.
    #[must_use]
    pub fn receipt(&self) -> Receipt {
        Receipt {
            id: self.id.clone(),
            file_name: self.file_name.clone(),
            sender: self.sender.clone(),
            sha256: self.sha256.clone(),
            size_bytes: u64::try_from(self.size_bytes).unwrap_or(0),
            received_at: self.received_at,
        }
    }

    /// The status, as the enum.
    #[must_use]
    pub fn status(&self) -> Option<Status> {
        Status::parse(&self.status)
    }
}

/// A package about to be recorded.
#[derive(Debug, Clone)]
pub struct NewPackage<'a> {
    pub id: &'a str,
    pub sender: &'a str,
    pub channel: Channel,
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub size_bytes: u64,
    pub idempotency_key: Option<&'a str>,
    /// See [`PackageRow::signatures`].
    pub signatures: &'a str,
}

/// What recording a package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new package, to be checked.
    New(PackageRow),
    /// The sender already sent these bytes, or this idempotency key: the first package.
    Repeat(PackageRow),
}

fn find_repeat(conn: &mut DbConn, new: &NewPackage<'_>) -> QueryResult<Option<PackageRow>> {
    if let Some(key) = new.idempotency_key {
        let by_key = package::table
            .filter(package::sender.eq(new.sender))
            .filter(package::idempotency_key.eq(key))
            .select(PackageRow::as_select())
            .first(conn)
            .optional()?;
        if by_key.is_some() {
            return Ok(by_key);
        }
    }
    package::table
        .filter(package::sender.eq(new.sender))
        .filter(package::sha256.eq(new.sha256))
        .filter(package::signatures.eq(new.signatures))
        .select(PackageRow::as_select())
        .first(conn)
        .optional()
}

/// Records a received package as `received`, or finds the sender's earlier package with the
/// same bytes or idempotency key. Two requests racing with the same bytes both end with the
/// one row the unique index lets in.
pub fn record(conn: &mut DbConn, new: &NewPackage<'_>) -> QueryResult<Recorded> {
    if let Some(first) = find_repeat(conn, new)? {
        return Ok(Recorded::Repeat(first));
    }
    let inserted = diesel::insert_into(package::table)
        .values((
            package::id.eq(new.id),
            package::sender.eq(new.sender),
            package::channel.eq(new.channel.as_str()),
            package::file_name.eq(new.file_name),
            package::sha256.eq(new.sha256),
            package::size_bytes.eq(i64::try_from(new.size_bytes).unwrap_or(i64::MAX)),
            package::idempotency_key.eq(new.idempotency_key),
            package::signatures.eq(new.signatures),
            package::received_at.eq(now()),
            package::status.eq(Status::Received.as_str()),
            package::attempts.eq(0),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            if let Some(first) = find_repeat(conn, new)? {
                return Ok(Recorded::Repeat(first));
            }
        }
        Err(e) => return Err(e),
    }
    get(conn, new.id)?
        .map(Recorded::New)
        .ok_or(diesel::result::Error::NotFound)
}

/// The package `id`.
pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Option<PackageRow>> {
    package::table
        .filter(package::id.eq(id))
        .select(PackageRow::as_select())
        .first(conn)
        .optional()
}

/// The sender's packages, newest first.
pub fn list(
    conn: &mut DbConn,
    sender: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<(i64, Vec<PackageRow>)> {
    let query = || {
        let mut q = package::table.into_boxed();
        if let Some(s) = sender {
            q = q.filter(package::sender.eq(s.to_owned()));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(package::seq.desc())
        .limit(limit)
        .offset(offset)
        .select(PackageRow::as_select())
        .load(conn)?;
    Ok((total, rows))
}

diesel::define_sql_function! {
    /// SQL `lower(text)`, on both backends.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The name a package is known by, whatever form carries it: without the suffix of an
/// enveloping signature (`.sig`, `.BUH.SIG`…) and without `.zip` or `.xml`, in lower case.
/// `HM750901T75_26018.zip`, `HM750901T75_26018.zip.sig` and, for an OPLIST, `i….xml`,
/// `i….zip` and `i….zip.sig` each name one package.
#[must_use]
pub fn name_key(file_name: &str) -> String {
    use crate::validate::package::{signature_suffix, strip_suffix_ci};
    let inner = signature_suffix(file_name).map_or(file_name, |(inner, _)| inner);
    let stem = strip_suffix_ci(inner, ".zip")
        .or_else(|| strip_suffix_ci(inner, ".xml"))
        .unwrap_or(inner);
    stem.to_ascii_lowercase()
}

/// An earlier package of `sender` with the same name ([`name_key`]: in any form, bare, zipped
/// or inside an enveloping signature) that was accepted (wholly or partly) or is still being
/// handled: a second one is refused with F012 805. A refused package's name may be sent again.
pub fn earlier_with_name(
    conn: &mut DbConn,
    sender: &str,
    file_name: &str,
    before_seq: i64,
) -> QueryResult<Option<PackageRow>> {
    let key = name_key(file_name);
    // The prefix narrows the rows read (`_` matches any one character: it only widens them);
    // the key decides.
    let candidates = package::table
        .filter(package::sender.eq(sender))
        .filter(lower(package::file_name).like(format!("{key}%")))
        .filter(package::seq.lt(before_seq))
        .filter(package::status.ne(Status::Rejected.as_str()))
        .order(package::seq.asc())
        .select(PackageRow::as_select())
        .load(conn)?;
    Ok(candidates
        .into_iter()
        .find(|row| name_key(&row.file_name) == key))
}

/// Takes the oldest `received` package for a worker: `checking`, one more attempt. The
/// transaction holds the write lock from its start ([`crate::db::write_transaction`]), so two
/// workers claiming at once on SQLite wait for each other (the busy timeout) instead of the
/// second failing with "database is locked".
pub fn claim_next(conn: &mut DbConn) -> QueryResult<Option<PackageRow>> {
    crate::db::write_transaction(conn, |conn| {
        loop {
            let next: Option<i64> = package::table
                .filter(package::status.eq(Status::Received.as_str()))
                .order(package::seq.asc())
                .select(package::seq)
                .first(conn)
                .optional()?;
            let Some(seq) = next else {
                return Ok(None);
            };
            let taken = diesel::update(
                package::table
                    .filter(package::seq.eq(seq))
                    .filter(package::status.eq(Status::Received.as_str())),
            )
            .set((
                package::status.eq(Status::Checking.as_str()),
                package::attempts.eq(package::attempts + 1),
                package::started_at.eq(Some(now())),
            ))
            .execute(conn)?;
            if taken == 1 {
                return package::table
                    .filter(package::seq.eq(seq))
                    .select(PackageRow::as_select())
                    .first(conn)
                    .map(Some);
            }
            // Another worker took it between the two statements: look again.
        }
    })
}

/// Gives every `checking` package back to the queue (at start: whoever was checking it is
/// gone). Returns how many.
pub fn requeue_interrupted(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::update(package::table.filter(package::status.eq(Status::Checking.as_str())))
        .set(package::status.eq(Status::Received.as_str()))
        .execute(conn)
}

/// Gives package `row` back to the queue after a failed attempt (while it is still this
/// attempt's).
pub fn release(conn: &mut DbConn, row: &PackageRow) -> QueryResult<bool> {
    diesel::update(
        package::table
            .filter(package::seq.eq(row.seq))
            .filter(package::status.eq(Status::Checking.as_str()))
            .filter(package::attempts.eq(row.attempts)),
    )
    .set(package::status.eq(Status::Received.as_str()))
    .execute(conn)
    .map(|n| n == 1)
}

/// The outcome of a check, as [`finish`] stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub status: Status,
    pub records: u64,
    pub refused_records: u64,
    pub findings: u64,
    pub refusal_code: Option<String>,
    /// The hub's own code of the first refusal.
    pub refusal_reason: Option<String>,
    pub protocol_name: Option<String>,
    pub message: Option<String>,
}

/// One accepted case to store.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = package_case)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewCase {
    pub package_id: String,
    pub attempt: i32,
    pub n_zap: i64,
    pub idcase: i64,
    pub id_pac: String,
    pub enp: Option<String>,
    pub code_mo: String,
    pub date_1: NaiveDate,
    pub date_2: NaiveDate,
    pub usl_ok: Option<i32>,
    pub sum_kopecks: i64,
}

/// Writes cases of the attempt in hand (outside the transaction that ends the package, so a
/// large account does not hold a write lock for the length of its check).
pub fn insert_cases(conn: &mut DbConn, cases: &[NewCase]) -> QueryResult<()> {
    for chunk in cases.chunks(1_000) {
        if chunk.is_empty() {
            continue;
        }
        crate::per_backend!(conn, |c| diesel::insert_into(package_case::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Ends package `row` (taken by [`claim_next`] as attempt `row.attempts`) with `outcome`, in
/// one transaction that also keeps only this attempt's cases (none when it is rejected).
/// `false` (and nothing changed) when the row is no longer this attempt's: another worker
/// finished or took it. The sender's e-mail `notice`, if any, is written in the same
/// transaction, so a finished package never lacks its notice.
pub fn finish(
    conn: &mut DbConn,
    row: &PackageRow,
    outcome: &Finished,
    notice: Option<&super::notices::NewNotice>,
) -> QueryResult<bool> {
    finish_with(conn, row, outcome, notice, |_| Ok(()))
}

/// [`finish`], running `also` in the same transaction once the package is ended (the
/// business rules' decisions are stored so: they exist exactly when the package is final).
/// The transaction holds the write lock from its start ([`crate::db::write_transaction`]): on
/// SQLite two finishers run one after the other, which the final duplicate check relies on.
/// An error of `also` rolls everything back.
pub fn finish_with(
    conn: &mut DbConn,
    row: &PackageRow,
    outcome: &Finished,
    notice: Option<&super::notices::NewNotice>,
    also: impl FnOnce(&mut DbConn) -> QueryResult<()>,
) -> QueryResult<bool> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    crate::db::write_transaction(conn, |conn| {
        let updated = diesel::update(
            package::table
                .filter(package::seq.eq(row.seq))
                .filter(package::status.eq(Status::Checking.as_str()))
                .filter(package::attempts.eq(row.attempts)),
        )
        .set((
            package::status.eq(outcome.status.as_str()),
            package::finished_at.eq(Some(now())),
            package::records.eq(Some(count(outcome.records))),
            package::refused_records.eq(Some(count(outcome.refused_records))),
            package::findings.eq(Some(count(outcome.findings))),
            package::refusal_code.eq(&outcome.refusal_code),
            package::refusal_reason.eq(&outcome.refusal_reason),
            package::protocol_name.eq(&outcome.protocol_name),
            package::message.eq(&outcome.message),
        ))
        .execute(conn)?;
        if updated != 1 {
            return Ok(false);
        }
        let of_package = package_case::table.filter(package_case::package_id.eq(&row.id));
        if outcome.status == Status::Rejected {
            diesel::delete(of_package).execute(conn)?;
        } else {
            diesel::delete(of_package.filter(package_case::attempt.ne(row.attempts)))
                .execute(conn)?;
        }
        if let Some(notice) = notice {
            super::notices::insert(conn, &row.id, notice)?;
        }
        also(conn)?;
        Ok(true)
    })
}

/// Removes the cases attempt `row.attempts` of package `row` wrote (before it checks the
/// package again within the same attempt).
pub fn discard_cases(conn: &mut DbConn, row: &PackageRow) -> QueryResult<usize> {
    diesel::delete(
        package_case::table
            .filter(package_case::package_id.eq(&row.id))
            .filter(package_case::attempt.eq(row.attempts)),
    )
    .execute(conn)
}

/// Cases stored for package `id`.
pub fn case_count(conn: &mut DbConn, id: &str) -> QueryResult<i64> {
    package_case::table
        .filter(package_case::package_id.eq(id))
        .count()
        .get_result(conn)
}
