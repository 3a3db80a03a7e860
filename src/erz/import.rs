//! `omshub erz import FILE`: the bulk load of an initial register of insured persons, from a
//! CSV file (the layout is [`CSV_HEADER`], documented in docs/ERZ.md "Bulk load") or a fund's
//! RECLIST (formats.md 4.1, streamed through the schema validator and the typed records of
//! `validate::records`, as `erz::apply` reads an OPLIST).
//!
//! Each row is checked (ENP with its check digit and its birth-date/sex facet, SNILS, dates,
//! codes; an ENP or a SNILS given twice in the file, a SNILS registered to another person); a
//! refused row is reported with its line and a stable code and the load goes on. Accepted rows
//! are written in batches by `erz::repo::import`, each batch one transaction that also advances
//! the file's journal (by SHA-256); on PostgreSQL the batches are written on several
//! connections at once (`ImportOptions::writers`) but still commit in file order (`Turn`), so
//! a load that stopped continues after its last committed batch, a person already registered is never inserted twice, and a finished file imports
//! nothing. A load into an empty register (an initial load) first sets aside the non-unique
//! indexes and foreign keys of the fact tables and builds them again at the end (migration
//! 000012). Memory holds one batch and the ENPs and SNILS seen (16 bytes each, in two hash
//! maps). Called by `erz::cli` and the benchmarks.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, mpsc};

use chrono::{NaiveDate, NaiveDateTime};
use sha2::{Digest, Sha256};

use super::repo::import::{
    self as writer, BatchOutcome, ImportAddress, ImportDocument, ImportInsurance, ImportJournal,
    ImportPerson,
};
use crate::db::{Backend, Database, DbConn};
use crate::domain::{Enp, IdError, InsurerCode, Okato, Sex, Snils, territory_by_okato};
use crate::imports::{FileSummary, Outcome, Progress};
use crate::validate::Validator;
use crate::validate::records::{Correction, ErzBuilder, ErzItem, ErzList, ErzRecord};
use crate::validate::schema::{Limits, Sink};

/// The header line of an import CSV: `;`-separated, UTF-8, dates `YYYY-MM-DD`, empty = absent.
pub const CSV_HEADER: &str = "enp;snils;fam;im;ot;w;dr;true_dr;c_oksm;doctype;docser;docnum;\
docdate;smocod;vpolis;spolis;npolis;fpolis;dbeg;dend;dstop;ter_st;okato;address;lpu_id;ztype";

/// The number of columns of [`CSV_HEADER`].
const CSV_COLUMNS: usize = 26;

/// The rows of a batch reserved at once at most (a larger `--batch-size` grows past it).
const MAX_BATCH_CAPACITY: usize = 100_000;

/// Rows per batch (one transaction) unless told otherwise. 20,000 rather than 5,000: a
/// 1,000,000-person load took about 7 % less time on PostgreSQL and 11 % less on SQLite (fewer
/// commits and per-batch statements), for about 120 MB more peak memory (docs/PERFORMANCE.md,
/// `erz_bulk_load`).
pub const DEFAULT_BATCH: usize = 20_000;

/// Connections writing batches at once on PostgreSQL unless told otherwise: one backend per
/// core of a 2-core machine (docs/PERFORMANCE.md, `erz_bulk_load`).
pub const DEFAULT_WRITERS: usize = 2;

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The CSV layout of [`CSV_HEADER`].
    Csv,
    /// A RECLIST (formats.md 4.1).
    Reclist,
}

impl Format {
    /// `csv` or `reclist`, as the journal keeps it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Reclist => "reclist",
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// The file's format.
    pub format: Format,
    /// Rows (accepted or refused) per committed batch.
    pub batch_size: usize,
    /// Draw a progress bar on standard error (when it is a terminal).
    pub progress: bool,
    /// Connections that write batches at once on PostgreSQL while the file is read (0 or 1:
    /// one, in turn with the reading). SQLite has one writer and ignores it.
    pub writers: usize,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// Persons inserted (`inserted`), rows whose ENP was already registered (`unchanged`),
    /// rows refused with their line and code (`rejected`), all for this run.
    pub summary: FileSummary,
    /// The file was imported in full before: nothing was read.
    pub already_done: bool,
    /// The run continued a stopped load after this line.
    pub resumed_after: Option<u64>,
    /// Batches committed by this run.
    pub batches: u64,
    /// Indexes and foreign keys an initial load set aside and this run built again.
    pub rebuilt: usize,
}

/// Why a file could not be imported (rows committed before the failure stay committed and the
/// journal says up to which line).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("the file could not be read: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV header is not the documented one.
    #[error("the first line is not the CSV header of docs/ERZ.md (\"enp;snils;fam;…\")")]
    CsvHeader,
    /// The file was started in another format.
    #[error("this file was started as {0}; import it with --format {0}")]
    FormatChanged(String),
    /// Not a RECLIST, or its header or structure refused by the schema check.
    #[error("not a readable RECLIST: {0}")]
    Reclist(String),
    /// Rows of the loaded tables name a person or an operation that does not exist (found when
    /// the foreign keys set aside for an initial load are checked again).
    #[error("{0} loaded rows break a foreign key of the register")]
    KeysBroken(i64),
    /// The database failed.
    #[error("the register could not be written")]
    Db(#[from] diesel::result::Error),
    /// No connection to the database.
    #[error("the database could not be reached: {0}")]
    Unreachable(#[from] crate::db::DbError),
    /// A thread writing batches stopped without an answer.
    #[error("a batch writer stopped unexpectedly")]
    WriterLost,
}

impl ImportError {
    /// A stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "file_unreadable",
            Self::CsvHeader => "csv_header_mismatch",
            Self::FormatChanged(_) => "format_changed",
            Self::Reclist(_) => "reclist_refused",
            Self::KeysBroken(_) => "foreign_keys_broken",
            Self::Db(_) | Self::WriterLost => "database_error",
            Self::Unreachable(_) => "database_unavailable",
        }
    }
}

/// Imports the file at `path` into the register at `now`.
pub fn import_path(
    db: &Database,
    validator: &Validator,
    path: &Path,
    options: ImportOptions,
    now: NaiveDateTime,
) -> Result<ImportOutcome, ImportError> {
    let mut pooled = db.conn()?;
    let conn: &mut DbConn = &mut pooled;
    let (sha256, lines) = digest(path)?;
    let file_name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut summary = FileSummary::new(file_name.clone(), "ERZ", false);
    let Some(journal) = open_journal(conn, &file_name, &sha256, options.format, now)? else {
        return Ok(ImportOutcome {
            summary,
            already_done: true,
            resumed_after: None,
            batches: 0,
            rebuilt: 0,
        });
    };
    let initial = writer::has_set_aside(conn, journal.id)?;
    if initial {
        writer::sqlite_foreign_keys(conn, false)?;
    }
    // (Left tuned if the load fails: only memory and the checkpoints' cadence differ.)
    writer::sqlite_tuned_for_load(conn, true)?;
    let resume_after = u64::try_from(journal.last_line).unwrap_or(0);
    let progress = options
        .progress
        .then(|| Progress::new(lines.saturating_sub(resume_after), "ERZ import"));
    let writers = match db.backend() {
        Backend::Postgres if options.writers > 1 => options.writers,
        Backend::Postgres | Backend::Sqlite => 0,
    };
    let check_snils = !initial;
    let loader = std::thread::scope(|scope| {
        let ahead =
            (writers > 0).then(|| Ahead::start(scope, db, &journal, now, check_snils, writers));
        let loader = Mutex::new(Loader {
            conn,
            journal,
            now,
            batch_size: options.batch_size.max(1),
            resume_after,
            rows: Vec::new(),
            refused: 0,
            last_line: resume_after,
            batches: 0,
            summary: &mut summary,
            progress: progress.as_ref(),
            fatal: None,
            initial,
            seen_enp: HashMap::new(),
            seen_snils: HashMap::new(),
            ahead,
        });
        let result = match options.format {
            Format::Csv => File::open(path)
                .map_err(ImportError::from)
                .and_then(|f| load_csv(&loader, f)),
            Format::Reclist => File::open(path)
                .map_err(ImportError::from)
                .and_then(|f| load_reclist(&loader, validator, &file_name, f)),
        };
        let mut loader = loader
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = loader.fatal.take() {
            return Err(e);
        }
        result?;
        loader.flush()?;
        // Wait for the batches written ahead (the writers stop when the queue closes).
        loader.settle()?;
        Ok(loader)
    })?;
    // A line's checks refuse it as it is read, the register's own refusals (a SNILS or ENP
    // the register gives to another person) arrive as its batch commits: report every refusal
    // in file order, whichever backend and writers loaded it.
    loader.summary.rejected.sort_by_key(|r| r.line);
    let Loader {
        conn,
        journal,
        refused,
        last_line,
        batches,
        seen_enp,
        ..
    } = loader;
    if let Some(bar) = &progress {
        bar.finish();
    }
    writer::advance_counters(conn, seen_enp.into_keys())?;
    let rebuilt = if initial {
        rebuild(conn, db, journal.id, options.progress, now)?
    } else {
        0
    };
    writer::finish_journal(conn, journal.id, to_i64(refused), to_i64(last_line), now)?;
    writer::sqlite_tuned_for_load(conn, false)?;
    Ok(ImportOutcome {
        summary,
        already_done: false,
        resumed_after: (resume_after > 0).then_some(resume_after),
        batches,
        rebuilt,
    })
}

/// The journal of the file with `sha256`, started now if it never was (setting the indexes
/// aside when the register is empty); `None` when the file was imported in full before.
fn open_journal(
    conn: &mut DbConn,
    file_name: &str,
    sha256: &str,
    format: Format,
    now: NaiveDateTime,
) -> Result<Option<ImportJournal>, ImportError> {
    Ok(match writer::journal_of(conn, sha256)? {
        Some(j) if j.format != format.name() => {
            return Err(ImportError::FormatChanged(j.format));
        }
        Some(j) if j.status == "done" => None,
        Some(j) => Some(j),
        None => {
            let empty = writer::register_is_empty(conn)?;
            let j = writer::start_journal(conn, file_name, sha256, format.name(), now)?;
            // An initial load: the indexes are built once at the end instead of kept up row by
            // row (a load into a register that holds persons keeps them).
            if empty {
                writer::set_aside(conn, j.id)?;
            }
            Some(j)
        }
    })
}

/// Builds again what an initial load set aside, checks the foreign keys and turns their
/// enforcement back on; how many indexes and keys were built. On PostgreSQL the indexes, the
/// keys (each validated on its own, see [`writer::restore_one`]) and the statistics of the
/// six tables are shared out between the command's connection and a second one, each taking
/// the next piece of work as it is free: checking a key is one backend's work, so one
/// connection left a core of a 2-core machine idle for about 4 s of a 1,000,000-person load.
fn rebuild(
    conn: &mut DbConn,
    db: &Database,
    import_id: i64,
    progress: bool,
    now: NaiveDateTime,
) -> Result<usize, ImportError> {
    let pending = writer::set_aside_pending(conn, import_id)?;
    let pg = matches!(conn, DbConn::Pg(_));
    let mut work: std::collections::VecDeque<Rebuild> = pending
        .iter()
        .map(|(id, _)| Rebuild::Restore(*id))
        .collect();
    if pg {
        work.extend(writer::REGISTER_TABLES.iter().map(|t| Rebuild::Analyze(t)));
    }
    let bar = progress.then(|| {
        Progress::new(
            work.len() as u64,
            "ERZ import: building the indexes set aside",
        )
    });
    let broken = if pg {
        rebuild_on_two(conn, db, work, now, bar.as_ref())?;
        0
    } else {
        for piece in work {
            piece.run(conn, now)?;
            if let Some(bar) = &bar {
                bar.inc();
            }
        }
        writer::sqlite_broken_keys(conn)?
    };
    if let Some(bar) = &bar {
        bar.finish();
    }
    writer::sqlite_foreign_keys(conn, true)?;
    if broken > 0 {
        return Err(ImportError::KeysBroken(broken));
    }
    Ok(pending.len())
}

/// A piece of the rebuild at the end of an initial load.
#[derive(Clone, Copy)]
enum Rebuild {
    /// An index or key of `erz_import_deferred`.
    Restore(i64),
    /// The planner's statistics of a table.
    Analyze(&'static str),
}

impl Rebuild {
    fn run(self, conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<()> {
        match self {
            Self::Restore(id) => writer::restore_one(conn, id, now),
            Self::Analyze(table) => writer::analyze(conn, table),
        }
    }
}

/// Runs `work` on `conn` and on a second connection of `db` at once, each taking the next
/// piece when it is free; the first failure stops both (after the piece each is running).
fn rebuild_on_two(
    conn: &mut DbConn,
    db: &Database,
    work: std::collections::VecDeque<Rebuild>,
    now: NaiveDateTime,
    bar: Option<&Progress>,
) -> Result<(), ImportError> {
    let queue = Mutex::new(work);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let drain = |conn: &mut DbConn| -> Result<(), ImportError> {
        while !failed.load(std::sync::atomic::Ordering::Relaxed) {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(piece) = next else { break };
            if let Err(e) = piece.run(conn, now) {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e.into());
            }
            if let Some(bar) = bar {
                bar.inc();
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        // Without a second connection the command's own does all the work.
        let other = scope.spawn(|| match db.conn() {
            Ok(mut second) => drain(&mut second),
            Err(_) => Ok(()),
        });
        let mine = drain(conn);
        let theirs = other.join().unwrap_or(Err(ImportError::WriterLost));
        mine.and(theirs)
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The file's SHA-256 (hex) and its number of lines.
fn digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; 1 << 16];
    let mut lines = 0_u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        #[expect(
            clippy::naive_bytecount,
            reason = "the total of a progress bar, once per file; not worth a dependency"
        )]
        let newlines = buf[..n].iter().filter(|b| **b == b'\n').count();
        lines += newlines as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
    Ok((hex, lines))
}

/// A refused row: its stable code and why (without the row's personal data).
#[derive(Debug)]
struct Refused {
    code: &'static str,
    message: String,
}

impl Refused {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The batch being filled and the journal it advances.
struct Loader<'c, 's, 'p> {
    conn: &'c mut DbConn,
    journal: ImportJournal,
    now: NaiveDateTime,
    batch_size: usize,
    /// Lines up to this one were committed by an earlier run.
    resume_after: u64,
    rows: Vec<ImportPerson>,
    /// Rows refused since the last committed batch.
    refused: u64,
    last_line: u64,
    batches: u64,
    summary: &'s mut FileSummary,
    progress: Option<&'p Progress>,
    fatal: Option<ImportError>,
    /// An initial load: the register was empty when the file was started, so the file's own
    /// ENPs and SNILS are all the register holds (no look-up of SNILS in the database).
    initial: bool,
    /// The ENPs of the file's accepted rows so far (as numbers), with their lines.
    seen_enp: HashMap<u64, u64>,
    /// The SNILS of the file's accepted rows so far (as numbers), with their lines.
    seen_snils: HashMap<u64, u64>,
    /// The connections writing batches while the file is read (PostgreSQL), if any.
    ahead: Option<Ahead>,
}

impl Loader<'_, '_, '_> {
    /// Refuses a row whose ENP or SNILS an earlier row of the file gave, else remembers them.
    fn first_sighting(&mut self, line: u64, person: ImportPerson) -> Result<ImportPerson, Refused> {
        // Both are digits, checked by `person`.
        let enp = person.enp.parse::<u64>().unwrap_or(0);
        if let Some(first) = self.seen_enp.get(&enp) {
            return Err(Refused::new(
                "enp_repeated",
                format!("the ENP was given before, on line {first}"),
            ));
        }
        let snils = person.snils.as_deref().and_then(|s| s.parse::<u64>().ok());
        if let Some(snils) = snils {
            match self.seen_snils.entry(snils) {
                Entry::Occupied(first) => {
                    return Err(Refused::new(
                        "snils_taken",
                        format!(
                            "the SNILS was given to another person before, on line {}",
                            first.get()
                        ),
                    ));
                }
                Entry::Vacant(v) => {
                    v.insert(line);
                }
            }
        }
        self.seen_enp.insert(enp, line);
        Ok(person)
    }

    /// One row read at `line`: accepted or refused. Rows up to the line an earlier run
    /// committed are only remembered (their ENP and SNILS).
    fn offer(&mut self, line: u64, row: Result<ImportPerson, Refused>) {
        if self.fatal.is_some() {
            return;
        }
        let row = row.and_then(|person| self.first_sighting(line, person));
        if line <= self.resume_after {
            return;
        }
        match row {
            Ok(person) => self.rows.push(person),
            Err(r) => {
                self.refused += 1;
                self.summary.reject(
                    usize::try_from(line).unwrap_or(usize::MAX),
                    None,
                    r.code,
                    r.message,
                );
            }
        }
        self.last_line = line;
        if let Some(bar) = self.progress {
            bar.inc();
        }
        if self.rows.len() + usize::try_from(self.refused).unwrap_or(usize::MAX) >= self.batch_size
            && let Err(e) = self.flush()
        {
            self.fatal = Some(e);
        }
    }

    /// Commits the batch (rows and refusals so far) and advances the journal, or hands it to
    /// the writers ahead.
    fn flush(&mut self) -> Result<(), ImportError> {
        if self.rows.is_empty() && self.refused == 0 {
            return Ok(());
        }
        let batch = self.journal.batches + 1;
        // The next batch's rows are kept in place from the start, not grown and copied.
        let capacity = self.batch_size.min(MAX_BATCH_CAPACITY);
        let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(capacity));
        if let Some(ahead) = &self.ahead {
            let job = Job {
                batch,
                rows,
                last_line: self.last_line,
                refused: self.refused,
            };
            ahead.jobs.send(job).map_err(|_| ImportError::WriterLost)?;
            let done: Vec<_> = ahead.results.try_iter().collect();
            for outcome in done {
                self.record(&outcome?);
            }
        } else {
            let outcome = writer::write_batch(
                self.conn,
                &self.journal,
                batch,
                &rows,
                self.last_line,
                self.refused,
                self.now,
                !self.initial,
                &|| Ok(()),
            )?;
            self.record(&outcome);
        }
        self.journal.batches = batch;
        self.batches += 1;
        self.refused = 0;
        Ok(())
    }

    /// Counts what a committed batch did.
    fn record(&mut self, outcome: &BatchOutcome) {
        for line in &outcome.snils_taken {
            self.summary.reject(
                usize::try_from(*line).unwrap_or(usize::MAX),
                None,
                "snils_taken",
                "the SNILS is registered to another person".to_owned(),
            );
        }
        for _ in 0..outcome.inserted {
            self.summary.record(Outcome::Inserted);
        }
        for _ in 0..outcome.present {
            self.summary.record(Outcome::Unchanged);
        }
    }

    /// Closes the writers' queue and counts every batch they commit; the first error of a
    /// batch, if any (the batches after it are rolled back).
    fn settle(&mut self) -> Result<(), ImportError> {
        let Some(Ahead { jobs, results }) = self.ahead.take() else {
            return Ok(());
        };
        drop(jobs);
        let mut first_error = None;
        for outcome in results {
            match outcome {
                Ok(o) => self.record(&o),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

// ---- batches written ahead, on several connections (PostgreSQL) ------------------------------

/// A batch handed to the writers.
struct Job {
    batch: i64,
    rows: Vec<ImportPerson>,
    last_line: u64,
    refused: u64,
}

/// The queue to the writer threads and their outcomes, as the batches commit.
struct Ahead {
    jobs: mpsc::SyncSender<Job>,
    results: mpsc::Receiver<Result<BatchOutcome, ImportError>>,
}

/// The order in which batches commit: each waits until the one before it committed, so the
/// journal's last line only moves forward and a stopped load resumes exactly after it.
struct Turn {
    /// The last batch committed, and whether a batch failed.
    state: Mutex<(i64, bool)>,
    moved: Condvar,
}

impl Turn {
    /// Waits until `batch - 1` is committed; an error (rolling the batch back) when a batch
    /// failed meanwhile.
    fn wait_for(&self, batch: i64) -> diesel::QueryResult<()> {
        let Ok(mut state) = self.state.lock() else {
            return Err(diesel::result::Error::RollbackTransaction);
        };
        while !state.1 && state.0 != batch - 1 {
            state = match self.moved.wait(state) {
                Ok(s) => s,
                Err(_) => return Err(diesel::result::Error::RollbackTransaction),
            };
        }
        if state.1 {
            Err(diesel::result::Error::RollbackTransaction)
        } else {
            Ok(())
        }
    }

    /// `batch` committed (`true`) or failed.
    fn settle(&self, batch: i64, committed: bool) {
        if let Ok(mut state) = self.state.lock() {
            if committed {
                state.0 = batch;
            } else {
                state.1 = true;
            }
        }
        self.moved.notify_all();
    }
}

impl Ahead {
    /// Starts `writers` threads in `scope`, each with its own connection of `db`, writing the
    /// batches of `journal` as [`writer::write_batch`] does, in turn.
    fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        db: &'scope Database,
        journal: &ImportJournal,
        now: NaiveDateTime,
        check_snils: bool,
        writers: usize,
    ) -> Self {
        // A batch queued per writer: memory holds at most twice that many batches.
        let (jobs, queue) = mpsc::sync_channel::<Job>(writers);
        let (done, results) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let turn = Arc::new(Turn {
            state: Mutex::new((journal.batches, false)),
            moved: Condvar::new(),
        });
        for _ in 0..writers {
            let (queue, turn, done, journal) = (
                Arc::clone(&queue),
                Arc::clone(&turn),
                done.clone(),
                journal.clone(),
            );
            scope.spawn(move || {
                let mut conn = match db.conn() {
                    Ok(c) => c,
                    Err(e) => {
                        turn.settle(0, false);
                        let _ = done.send(Err(ImportError::from(e)));
                        return;
                    }
                };
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let outcome = writer::write_batch(
                        &mut conn,
                        &journal,
                        job.batch,
                        &job.rows,
                        job.last_line,
                        job.refused,
                        now,
                        check_snils,
                        &|| turn.wait_for(job.batch),
                    );
                    turn.settle(job.batch, outcome.is_ok());
                    let _ = done.send(outcome.map_err(ImportError::from));
                }
            });
        }
        Self { jobs, results }
    }
}

// ---- CSV ---------------------------------------------------------------------------------------

/// Reads the CSV with the `csv` crate: `;` between fields, fields in double quotes may hold `;`,
/// a doubled quote or a line break (as spreadsheets and database exports write addresses); one
/// `StringRecord` reused for every row, so the load allocates no vector per line. A row is
/// numbered by the line it starts on; a row that is not UTF-8 or not well quoted is refused
/// with its line and the reader goes on.
fn load_csv(loader: &Mutex<Loader<'_, '_, '_>>, file: File) -> Result<(), ImportError> {
    let mut reader = csv_reader(file);
    let mut record = csv::StringRecord::new();
    let Ok(mut loader) = loader.lock() else {
        return Ok(());
    };
    let mut first = true;
    loop {
        let read = reader.read_record(&mut record);
        let number = record
            .position()
            .or_else(|| reader.position().into())
            .map_or(0, csv::Position::line);
        let (number, row) = match read {
            Ok(false) => break,
            Ok(true) => {
                if std::mem::take(&mut first) {
                    let header = record.iter().collect::<Vec<_>>().join(";");
                    if header.trim_start_matches('\u{feff}') != CSV_HEADER {
                        return Err(ImportError::CsvHeader);
                    }
                    continue;
                }
                if record.len() == 1 && record[0].trim().is_empty() {
                    continue;
                }
                (number, csv_row(number, &record))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(std::io::Error::from(e).into()),
                _ if std::mem::take(&mut first) => return Err(ImportError::CsvHeader),
                csv::ErrorKind::Utf8 { pos, .. } => (
                    pos.as_ref().map_or(number, csv::Position::line),
                    Err(Refused::new("encoding_invalid", "the line is not UTF-8")),
                ),
                _ => (number, Err(Refused::new("csv_malformed", e.to_string()))),
            },
        };
        loader.offer(number, row);
        if loader.fatal.is_some() {
            break;
        }
    }
    Ok(())
}

/// The reader of the bulk-load CSV: `;`, double quotes, rows of any field count (a wrong count
/// is refused per row by [`csv_row`]), the header checked by hand.
fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(input)
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn date(column: &'static str, s: &str) -> Result<Option<NaiveDate>, Refused> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    // The usual `YYYY-MM-DD` is read digit by digit (chrono's parser was 7 % of a load's CPU);
    // anything else goes to chrono's `FromStr`, which reads the same format.
    iso_date(t)
        .map_or_else(|| t.parse::<NaiveDate>(), Ok)
        .map(Some)
        .map_err(|_| Refused::new("date_invalid", format!("{column}: not a date YYYY-MM-DD")))
}

/// `YYYY-MM-DD` of exactly ten characters as a valid date, or `None` (not of that shape, or
/// not a day of the calendar).
fn iso_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0_u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

fn required<T>(column: &'static str, v: Option<T>) -> Result<T, Refused> {
    v.ok_or_else(|| Refused::new("field_required", format!("{column}: required")))
}

fn number<T: std::str::FromStr>(column: &'static str, s: &str) -> Result<Option<T>, Refused> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| Refused::new("number_invalid", format!("{column}: not a number")))
}

/// One CSV row as a person, or why not.
fn csv_row(line: u64, record: &csv::StringRecord) -> Result<ImportPerson, Refused> {
    let mut f = [""; CSV_COLUMNS];
    let count = record.len();
    for (slot, field) in f.iter_mut().zip(record) {
        *slot = field;
    }
    if count != CSV_COLUMNS {
        return Err(Refused::new(
            "field_count",
            format!("{count} fields, expected {CSV_COLUMNS}"),
        ));
    }
    let sex = match f[5].trim() {
        "1" => Sex::Male,
        "2" => Sex::Female,
        _ => return Err(Refused::new("sex_invalid", "w: expected 1 or 2")),
    };
    let birth = required("dr", date("dr", f[6])?)?;
    let fields = Fields {
        enp: f[0],
        snils: f[1],
        fam: f[2],
        im: opt(f[3]),
        ot: opt(f[4]),
        sex,
        birth,
        true_dr: number("true_dr", f[7])?,
        c_oksm: opt(f[8]),
        death: None,
        document: ImportDocument {
            doctype: required("doctype", number("doctype", f[9])?)?,
            docser: opt(f[10]),
            docnum: required("docnum", opt(f[11]))?,
            docdate: required("docdate", date("docdate", f[12])?)?,
            docexp: None,
            issuer: None,
        },
        insurance: ImportInsurance {
            insurer_code: f[13].trim().to_owned(),
            policy_kind: f[14].trim().to_owned(),
            policy_series: opt(f[15]),
            policy_number: opt(f[16]),
            policy_form: opt(f[17]),
            territory: opt(f[21]),
            start_date: required("dbeg", date("dbeg", f[18])?)?,
            planned_end: date("dend", f[19])?,
            stop_date: date("dstop", f[20])?,
        },
        address: (opt(f[22]).is_some() || opt(f[23]).is_some()).then(|| ImportAddress {
            okato: opt(f[22]),
            postcode: None,
            text: opt(f[23]),
            homeless: false,
            since: None,
        }),
        attachment: match (
            number::<i64>("lpu_id", f[24])?,
            number::<i32>("ztype", f[25])?,
        ) {
            (Some(lpu), kind) => Some((lpu, kind.unwrap_or(1))),
            (None, Some(_)) => return Err(Refused::new("field_required", "lpu_id: required")),
            (None, None) => None,
        },
    };
    person(line, fields)
}

/// The fields of a row, as read, before the checks.
struct Fields<'a> {
    enp: &'a str,
    snils: &'a str,
    fam: &'a str,
    im: Option<String>,
    ot: Option<String>,
    sex: Sex,
    birth: NaiveDate,
    true_dr: Option<i32>,
    c_oksm: Option<String>,
    death: Option<NaiveDate>,
    document: ImportDocument,
    insurance: ImportInsurance,
    address: Option<ImportAddress>,
    attachment: Option<(i64, i32)>,
}

/// The policy kinds (VPOLIS letters, formats.md 4.1).
const POLICY_KINDS: [&str; 5] = ["С", "В", "П", "Э", "К"];

fn enp_code(e: &IdError) -> &'static str {
    match e {
        IdError::CheckDigit { .. } => "enp_check_digit_mismatch",
        IdError::Length { .. } => "enp_invalid_length",
        IdError::NotDigit { .. } => "enp_not_a_digit",
        IdError::FacetMismatch { .. } => "enp_facet_mismatch",
        _ => "enp_invalid",
    }
}

fn snils_code(e: &IdError) -> &'static str {
    match e {
        IdError::CheckDigit { .. } => "snils_check_digit_mismatch",
        IdError::Length { .. } => "snils_invalid_length",
        IdError::NotDigit { .. } => "snils_not_a_digit",
        _ => "snils_invalid",
    }
}

/// The checks every row passes, whatever its format.
fn person(line: u64, f: Fields<'_>) -> Result<ImportPerson, Refused> {
    let enp_text = f.enp.trim();
    if enp_text.is_empty() {
        return Err(Refused::new("enp_required", "enp: required"));
    }
    let enp = Enp::parse(enp_text).map_err(|e| Refused::new(enp_code(&e), e.to_string()))?;
    enp.check_birth_and_sex(f.birth, f.sex)
        .map_err(|e| Refused::new(enp_code(&e), e.to_string()))?;
    let snils = match f.snils.trim() {
        "" => None,
        s => Some(
            Snils::parse(s)
                .map_err(|e| Refused::new(snils_code(&e), e.to_string()))?
                .digits()
                .to_owned(),
        ),
    };
    let fam = f.fam.trim();
    if fam.is_empty() {
        return Err(Refused::new("field_required", "fam: required"));
    }
    let accuracy = f.true_dr.unwrap_or(1);
    if !(1..=3).contains(&accuracy) {
        return Err(Refused::new(
            "true_dr_invalid",
            "true_dr: expected 1, 2 or 3",
        ));
    }
    let i = &f.insurance;
    InsurerCode::parse(&i.insurer_code)
        .map_err(|e| Refused::new("insurer_invalid", e.to_string()))?;
    if !POLICY_KINDS.contains(&i.policy_kind.as_str()) {
        return Err(Refused::new(
            "vpolis_invalid",
            "vpolis: expected one of С, В, П, Э, К",
        ));
    }
    if let Some(ter) = &i.territory
        && Okato::parse(ter)
            .ok()
            .and_then(|o| territory_by_okato(&o))
            .is_none()
    {
        return Err(Refused::new(
            "unknown_territory",
            "ter_st: not the OKATO of a territory",
        ));
    }
    let order = [
        ("docdate", Some(f.document.docdate), f.birth),
        ("dend", i.planned_end, i.start_date),
        ("dstop", i.stop_date, i.start_date),
    ];
    for (column, later, earlier) in order {
        if later.is_some_and(|d| d < earlier) {
            return Err(Refused::new(
                "dates_out_of_order",
                format!("{column}: before the date it follows"),
            ));
        }
    }
    if f.document.docnum.trim().is_empty() {
        return Err(Refused::new("field_required", "docnum: required"));
    }
    Ok(ImportPerson {
        line,
        enp: enp.as_str().to_owned(),
        fam: fam.to_owned(),
        im: f.im,
        ot: f.ot,
        sex: i32::from(f.sex.code()),
        birth_date: f.birth,
        birth_accuracy: accuracy,
        citizenship: f.c_oksm,
        snils,
        death_date: f.death,
        document: f.document,
        address: f.address,
        insurance: f.insurance,
        attachment: f.attachment,
    })
}

// ---- RECLIST -----------------------------------------------------------------------------------

/// The record builder, with the line of each REC so that a REC the schema check refused is
/// reported on its line.
struct RecSink<'a, 'l, 'c, 's, 'p> {
    /// The list the schema says the file is (`None`: not an ERZ list).
    list: Option<ErzList>,
    builder: ErzBuilder<'a>,
    loader: &'l Mutex<Loader<'c, 's, 'p>>,
    line: u64,
    record_findings: u64,
}

impl Sink for RecSink<'_, '_, '_, '_, '_> {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        if depth == 1 && name == "REC" {
            self.line = line;
        }
        self.builder.open(name, depth, line);
    }

    fn value(&mut self, name: &'static str, value: &str) {
        self.builder.value(name, value);
    }

    fn close(&mut self, name: &'static str, depth: usize) {
        self.builder.close(name, depth);
    }

    fn item(&mut self, name: &'static str, findings: u64) {
        if name == "REC" && findings > 0 {
            self.record_findings += findings;
            if let Ok(mut loader) = self.loader.lock() {
                loader.offer(
                    self.line,
                    Err(Refused::new(
                        "record_schema_invalid",
                        format!("REC refused by the schema check ({findings} findings)"),
                    )),
                );
            }
        }
        self.builder.item(name, findings);
    }
}

fn load_reclist(
    loader: &Mutex<Loader<'_, '_, '_>>,
    validator: &Validator,
    file_name: &str,
    file: File,
) -> Result<(), ImportError> {
    let insurer_cell: Mutex<Option<String>> = Mutex::new(None);
    let insurer = &insurer_cell;
    let (report, sink) = validator.check_file_with(
        file_name,
        BufReader::new(file),
        Limits::default(),
        |schema| {
            let list = ErzList::of_schema(schema);
            let builder = ErzBuilder::new(ErzList::Reclist, move |item| match item {
                ErzItem::Header(h) => {
                    if let Ok(mut code) = insurer.lock() {
                        *code = Some(h.smocod);
                    }
                }
                ErzItem::Record(ErzRecord::Rec(rec)) if list == Some(ErzList::Reclist) => {
                    let code = insurer.lock().ok().and_then(|c| c.clone());
                    let row = match code {
                        Some(code) => correction(&rec, code),
                        None => Err(Refused::new(
                            "header_refused",
                            "the RECLIST header was refused",
                        )),
                    };
                    if let Ok(mut loader) = loader.lock() {
                        loader.offer(rec.line, row);
                    }
                }
                ErzItem::Record(_) => {}
            });
            RecSink {
                list,
                builder,
                loader,
                line: 0,
                record_findings: 0,
            }
        },
    )?;
    let Some(sink) = sink else {
        return Err(ImportError::Reclist(format!(
            "{} findings, the file's kind could not be told",
            report.findings.len()
        )));
    };
    let (list, record_findings) = (sink.list, sink.record_findings);
    let _summary = sink.builder.finish();
    if list != Some(ErzList::Reclist) {
        return Err(ImportError::Reclist(format!(
            "the file is a {}",
            report.kind
        )));
    }
    let total = report.findings.len() as u64 + report.findings_dropped;
    if total > record_findings {
        let first = report
            .findings
            .first()
            .map(|f| format!("line {}: {}", f.line, f.code))
            .unwrap_or_default();
        return Err(ImportError::Reclist(format!(
            "{} findings outside the records ({first})",
            total - record_findings
        )));
    }
    Ok(())
}

/// A REC as a person insured by `insurer` (the RECLIST's SMOCOD).
fn correction(rec: &Correction, insurer: String) -> Result<ImportPerson, Refused> {
    if rec.is_active == 0 {
        return Err(Refused::new(
            "record_inactive",
            "IS_ACTIVE 0: an inactive record is not loaded",
        ));
    }
    let p = &rec.person;
    let i = &rec.insurance;
    let polis = &i.polis;
    let text =
        |v: Option<&crate::validate::records::Personal<String>>| v.and_then(|s| opt(s.as_str()));
    let a = &rec.addres_g;
    let address_text = text(a.unstruct_address.as_ref()).or_else(|| {
        let joined = [
            a.npname.clone(),
            text(a.ul.as_ref()),
            text(a.dom.as_ref()),
            text(a.korp.as_ref()),
            text(a.kv.as_ref()),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
        (!joined.is_empty()).then_some(joined)
    });
    let enp = text(i.enp.as_ref()).unwrap_or_default();
    let snils = text(p.ss.as_ref()).unwrap_or_default();
    let fields = Fields {
        enp: &enp,
        snils: &snils,
        fam: p.fam.as_str(),
        im: text(p.im.as_ref()),
        ot: text(p.ot.as_ref()),
        sex: p.w,
        birth: *p.dr,
        true_dr: p.true_dr.map(i32::from),
        c_oksm: p.c_oksm.clone(),
        death: p.ddeath,
        document: ImportDocument {
            doctype: i32::from(rec.doc.doctype),
            docser: text(rec.doc.docser.as_ref()),
            docnum: rec.doc.docnum.trim().to_owned(),
            docdate: *rec.doc.docdate,
            docexp: rec.doc.docexp.as_ref().map(|d| **d),
            issuer: text(rec.doc.name_vp.as_ref()),
        },
        insurance: ImportInsurance {
            insurer_code: insurer,
            policy_kind: polis.vpolis.trim().to_owned(),
            policy_series: text(polis.spolis.as_ref()),
            policy_number: text(polis.npolis.as_ref()),
            policy_form: rec.vizit.as_ref().and_then(|v| v.fpolis.clone()),
            territory: i.ter_st.clone(),
            start_date: polis.dbeg,
            planned_end: polis.dend,
            stop_date: polis.dstop,
        },
        address: Some(ImportAddress {
            okato: a.okato.clone(),
            postcode: a.indx.clone(),
            text: address_text,
            homeless: a.bomg.unwrap_or(false),
            since: a.dreg,
        }),
        attachment: rec.attachment.first().map(|x| {
            (
                i64::try_from(x.id_lpu).unwrap_or(i64::MAX),
                i32::from(x.id_ztype),
            )
        }),
    };
    person(rec.line, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TfomsCode;

    #[test]
    fn batches_written_at_once_commit_in_file_order_and_stop_after_a_failure() {
        let turn = Turn {
            state: Mutex::new((4, false)),
            moved: Condvar::new(),
        };
        let order = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            // Batches 7, 6, 5 start in the wrong order; each commits only after the one before.
            for batch in [7_i64, 6, 5] {
                let (turn, order) = (&turn, &order);
                scope.spawn(move || {
                    let waited = turn.wait_for(batch);
                    if let Ok(mut o) = order.lock() {
                        o.push(batch);
                    }
                    turn.settle(batch, waited.is_ok());
                });
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        assert_eq!(order.into_inner().ok(), Some(vec![5, 6, 7]));
        // Batch 8 fails: 9, waiting for it, rolls back instead of committing.
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| turn.wait_for(9));
            std::thread::sleep(std::time::Duration::from_millis(20));
            turn.settle(8, false);
            assert!(matches!(
                waiting.join().ok(),
                Some(Err(diesel::result::Error::RollbackTransaction))
            ));
        });
        assert!(turn.wait_for(8).is_err());
    }

    fn row(enp: &str, snils: &str, dr: &str, w: &str) -> String {
        format!(
            "{enp};{snils};Снегирёв;Пётр;;{w};{dr};1;RUS;14;75 01;123456;2020-01-01;75001;Э;;;;2024-01-10;;;76000;;;;"
        )
    }

    #[test]
    fn dates_are_read_as_chrono_reads_them() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(iso_date("2024-02-29"), day(2024, 2, 29));
        assert_eq!(iso_date("0001-01-01"), day(1, 1, 1));
        // Not a day of the calendar, or not of the usual shape: chrono decides.
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "2024/01/01",
            "+2024-01-01",
            "20a4-01-01",
            "2024-01-011",
        ] {
            assert_eq!(iso_date(text), None, "{text}");
        }
        for text in [
            "2024-02-29",
            "1980-05-17",
            "2024-1-5",
            "2023-02-29",
            "2024-13-01",
            "x",
        ] {
            assert_eq!(
                date("dr", text).ok().flatten(),
                text.parse::<NaiveDate>().ok(),
                "{text}"
            );
        }
        assert_eq!(date("dr", "  ").ok(), Some(None));
    }

    /// `text` read as one row, the way `load_csv` reads it.
    fn record(text: &str) -> csv::StringRecord {
        let mut reader = csv_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        assert!(reader.read_record(&mut record).unwrap());
        record
    }

    #[test]
    fn quoted_fields_may_hold_the_delimiter_quotes_and_line_breaks() {
        let birth = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
        let tf = TfomsCode::parse("75").unwrap();
        let enp = Enp::generate(&tf, birth, Sex::Male, 7).unwrap().to_string();
        let snils = Snils::from_payload(2_345_678).unwrap().to_string();
        let plain = row(&enp, &snils, "1980-05-17", "1");
        let fields: Vec<&str> = plain.split(';').collect();
        let mut quoted: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        // The address (column 23): a semicolon, a doubled quote and a line break inside quotes.
        quoted[23] = "\"г. Чита; ул. \"\"Ленина\"\", д. 1\nкв. 2\"".to_owned();
        let person = csv_row(2, &record(&quoted.join(";"))).unwrap();
        let address = person.address.unwrap();
        assert_eq!(
            address.text.as_deref(),
            Some("г. Чита; ул. \"Ленина\", д. 1\nкв. 2")
        );
    }

    #[test]
    fn csv_rows_are_checked_with_coded_refusals() {
        let birth = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
        let tf = TfomsCode::parse("75").unwrap();
        let enp = Enp::generate(&tf, birth, Sex::Male, 7).unwrap().to_string();
        let snils = Snils::from_payload(2_345_678).unwrap().to_string();
        assert_eq!(CSV_HEADER.split(';').count(), CSV_COLUMNS);
        let ok = csv_row(2, &record(&row(&enp, &snils, "1980-05-17", "1"))).unwrap();
        assert_eq!(ok.enp, enp);
        assert_eq!(ok.insurance.territory.as_deref(), Some("76000"));
        let code = |text: String| csv_row(2, &record(&text)).err().unwrap().code;
        assert_eq!(
            code(row(&enp, &snils, "1980-05-17", "2")),
            "enp_facet_mismatch"
        );
        let mut bad = enp.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            code(row(&bad, &snils, "1980-05-17", "1")),
            "enp_check_digit_mismatch"
        );
        assert_eq!(
            code(row(&enp, "123", "1980-05-17", "1")),
            "snils_invalid_length"
        );
        assert_eq!(code(row(&enp, &snils, "1980-02-30", "1")), "date_invalid");
        assert_eq!(code(row(&enp, &snils, "1980-05-17", "3")), "sex_invalid");
        assert_eq!(code("a;b".to_owned()), "field_count");
    }
}
