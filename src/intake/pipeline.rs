//! The check of one package, from its stored bytes to its protocols and its final state.
//!
//! [`Intake::accept`] records a spooled upload (or finds the sender's first package with the
//! same bytes or idempotency key); [`Intake::process_next`] takes the oldest received package,
//! refuses a name the sender already used (805), checks the ZIP and its files
//! (`validate::package`), writes the `FLK_P` protocols, and ends the package with
//! [`store::finish`], the commit point: until then, a crash leaves the package to be taken
//! again at the next start, and everything before is safe to repeat.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::spool::{Spooled, sync_dir};
use super::store::{self, Finished, NewCase, NewPackage, PackageRow, Recorded};
use super::{Channel, Status, Storage};
use crate::config::{IntakeSettings, MailSettings};
use crate::db::Database;
use crate::notify::Mailer;
use crate::validate::package::{PackageLimits, PackageReport, Protocol, check_package_into};
use crate::validate::records::{AccountItem, Item, Zap};
use crate::validate::schema::Limits;
use crate::validate::{Context, Finding, Validator};

/// F012 805: a package with this name was already registered from this sender.
pub const NAME_ALREADY_USED: u16 = 805;

/// Cases waiting for the writer at most, and cases per insert.
const CASES_IN_FLIGHT: usize = 4_096;
const CASE_BATCH: usize = 1_000;

/// Attempts at one package before it is rejected as one the hub cannot check.
pub const MAX_ATTEMPTS: i32 = 3;

/// The intake service: storage, database, validator and the workers' wake-up call.
pub struct Intake {
    /// Where packages and protocols are kept.
    pub storage: Storage,
    /// The database.
    pub db: Database,
    /// `[intake]`.
    pub settings: IntakeSettings,
    validator: Validator,
    limits: PackageLimits,
    mailer: Mailer,
    wake: (Mutex<u64>, Condvar),
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("storage", &self.storage)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// Opens the storage folders and prepares the validator.
    pub fn new(
        settings: &IntakeSettings,
        mail: &MailSettings,
        db: Database,
    ) -> anyhow::Result<Self> {
        let storage = Storage::open(&settings.storage_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the intake folders under {}: {e}",
                settings.storage_dir.display()
            )
        })?;
        let limits = PackageLimits {
            max_package_bytes: settings.max_package_bytes,
            max_entries: settings.max_entries,
            max_uncompressed_bytes: settings.max_uncompressed_bytes,
            max_ratio: settings.max_ratio,
            file: Limits {
                max_findings: settings.max_findings,
                ..Limits::default()
            },
            ..PackageLimits::default()
        };
        Ok(Self {
            storage,
            db,
            settings: settings.clone(),
            validator: Validator::new(crate::xml::schemas::ALL)?,
            limits,
            mailer: Mailer::from_settings(mail)?,
            wake: (Mutex::new(0), Condvar::new()),
        })
    }

    /// Records a spooled upload from `sender`, or finds its first package with the same bytes
    /// or idempotency key (then the new bytes are dropped).
    pub fn accept(
        &self,
        spooled: Spooled,
        sender: &str,
        channel: Channel,
        file_name: &str,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Recorded> {
        let id = uuid::Uuid::new_v4().to_string();
        let (sha256, size_bytes) = (spooled.sha256.clone(), spooled.size);
        let mut conn = self.db.conn()?;
        let new = NewPackage {
            id: &id,
            sender,
            channel,
            file_name,
            sha256: &sha256,
            size_bytes,
            idempotency_key,
        };
        // The bytes are in place before the row that promises them exists.
        let kept = spooled.keep(&self.storage, &id)?;
        let recorded = store::record(&mut conn, &new);
        match &recorded {
            Ok(Recorded::New(_)) => self.notify(),
            Ok(Recorded::Repeat(_)) | Err(_) => {
                let _ = std::fs::remove_file(&kept);
            }
        }
        Ok(recorded?)
    }

    /// Wakes a waiting worker.
    pub fn notify(&self) {
        let (lock, signal) = &self.wake;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        signal.notify_one();
    }

    /// Wakes every waiting worker (at shutdown).
    pub fn notify_all(&self) {
        let (lock, signal) = &self.wake;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        signal.notify_all();
    }

    /// Waits for [`Intake::notify`] at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let (lock, signal) = &self.wake;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = *guard;
        let _ = signal
            .wait_timeout_while(guard, timeout, |n| *n == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Gives packages left `checking` by a stopped process back to the queue; removes part
    /// files of uploads that never finished. Call once before the workers start.
    pub fn recover(&self) -> anyhow::Result<usize> {
        for entry in std::fs::read_dir(self.storage.incoming())? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let mut conn = self.db.conn()?;
        Ok(store::requeue_interrupted(&mut conn)?)
    }

    /// Takes the oldest received package and checks it; `false` when there was none.
    pub fn process_next(&self) -> anyhow::Result<bool> {
        let row = {
            let mut conn = self.db.conn()?;
            store::claim_next(&mut conn)?
        };
        let Some(row) = row else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let outcome = match self.process(&row) {
            Ok(outcome) => outcome,
            Err(e) => {
                self.give_back(&row, &e)?;
                return Err(e);
            }
        };
        tracing::info!(
            package = %row.id,
            sender = %row.sender,
            file = %row.file_name,
            status = outcome.status.as_str(),
            records = outcome.records,
            findings = outcome.findings,
            millis = started.elapsed().as_millis(),
            "package checked"
        );
        Ok(true)
    }

    /// After a failed attempt: the package goes back to the queue, or, after
    /// [`MAX_ATTEMPTS`], is rejected with the reason (and no protocol).
    fn give_back(&self, row: &PackageRow, error: &anyhow::Error) -> anyhow::Result<()> {
        let mut conn = self.db.conn()?;
        if row.attempts < MAX_ATTEMPTS {
            store::release(&mut conn, row)?;
            return Ok(());
        }
        let outcome = Finished {
            status: Status::Rejected,
            records: 0,
            refused_records: 0,
            findings: 0,
            refusal_code: Some("internal".into()),
            protocol_name: None,
            message: Some(format!(
                "the hub could not check this package in {MAX_ATTEMPTS} attempts: {error:#}"
            )),
        };
        store::finish(&mut conn, row, &outcome)?;
        Ok(())
    }

    fn process(&self, row: &PackageRow) -> anyhow::Result<Finished> {
        let earlier = {
            let mut conn = self.db.conn()?;
            store::earlier_with_name(&mut conn, &row.sender, &row.file_name, row.seq)?
        };
        let report = if let Some(first) = earlier {
            name_already_used(row, &first)
        } else {
            self.check_and_store_cases(row)?
        };
        let protocols = report.protocols();
        self.write_protocols(row, &protocols)?;
        let outcome = outcome_of(&report, &protocols);
        let mut conn = self.db.conn()?;
        if store::finish(&mut conn, row, &outcome)? {
            self.notify_sender(&mut conn, row, &outcome);
        } else {
            tracing::warn!(package = %row.id, "another worker finished this package first");
        }
        Ok(outcome)
    }

    /// Checks the stored package; the clean cases of its account file go, as the check
    /// streams, through a bounded channel to a writer thread that stores them in batches
    /// tagged with this attempt ([`store::finish`] keeps them or not). Memory stays that of
    /// the check plus the channel.
    fn check_and_store_cases(&self, row: &PackageRow) -> anyhow::Result<PackageReport> {
        let file = File::open(self.storage.package_file(&row.id))?;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<NewCase>(CASES_IN_FLIGHT);
            let db = &self.db;
            let writer = std::thread::Builder::new()
                .name("omshub-cases".into())
                .spawn_scoped(scope, move || -> anyhow::Result<u64> {
                    let mut conn = db.conn()?;
                    let mut batch = Vec::with_capacity(CASE_BATCH);
                    let mut written = 0;
                    for case in rx {
                        batch.push(case);
                        if batch.len() == CASE_BATCH {
                            store::insert_cases(&mut conn, &batch)?;
                            written += CASE_BATCH as u64;
                            batch.clear();
                        }
                    }
                    store::insert_cases(&mut conn, &batch)?;
                    Ok(written + batch.len() as u64)
                })?;
            let mut on_item = |item: Item| {
                if let Item::Account(AccountItem::Record(zap)) = item {
                    // A send fails only when the writer stopped on an error it reports.
                    let _ = tx.send(case_of(row, &zap));
                }
            };
            let report = check_package_into(
                &self.validator,
                &row.file_name,
                BufReader::with_capacity(256 * 1024, file),
                &self.limits,
                Some(&mut on_item),
            );
            drop(tx);
            let written = match writer.join() {
                Ok(result) => result?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            tracing::debug!(package = %row.id, cases = written, "cases stored");
            Ok(report?)
        })
    }

    /// E-mails the sender's contact address (a participant's) that the protocol is ready. A
    /// failure is logged; the package's outcome stands.
    fn notify_sender(&self, conn: &mut crate::db::DbConn, row: &PackageRow, outcome: &Finished) {
        if !self.mailer.is_on() {
            return;
        }
        let Some(id) = row
            .sender
            .strip_prefix("participant:")
            .and_then(|n| n.parse::<i64>().ok())
        else {
            return;
        };
        let to = match crate::participants::repo::get(conn, id) {
            Ok(p) => p.contact_email,
            Err(e) => {
                tracing::warn!(package = %row.id, error = %e, "no participant to notify");
                return;
            }
        };
        let Some(to) = to.filter(|t| !t.is_empty()) else {
            return;
        };
        let subject = format!(
            "omshub: protocol for {} ready: {}",
            row.file_name,
            outcome.status.as_str().replace('_', " ")
        );
        let body = format!(
            "Package {name} (id {id}, received {received} UTC)\n\
             Outcome: {status}\n\
             Records: {records}, refused: {refused}\n\
             Findings: {findings}\n\
             Protocol: {protocol}, at /api/v1/packages/{id}/protocol\n",
            name = row.file_name,
            id = row.id,
            received = row.received_at.format("%Y-%m-%d %H:%M:%S"),
            status = outcome.status.as_str(),
            records = outcome.records,
            refused = outcome.refused_records,
            findings = outcome.findings,
            protocol = outcome.protocol_name.as_deref().unwrap_or("none"),
        );
        match self.mailer.send(&to, &subject, &body) {
            Ok(()) => tracing::info!(package = %row.id, to = %to, "notice sent"),
            Err(e) => {
                tracing::warn!(package = %row.id, error = %format!("{e:#}"), "notice not sent");
            }
        }
    }

    fn write_protocols(&self, row: &PackageRow, protocols: &[Protocol]) -> anyhow::Result<()> {
        let dir = self.storage.protocol_dir(&row.id);
        std::fs::create_dir_all(&dir)?;
        for protocol in protocols {
            write_atomically(&dir, &protocol.name, &protocol.bytes)?;
        }
        if row.channel == Channel::Inbox.as_str()
            && !self.settings.outbox_dir.as_os_str().is_empty()
        {
            let outbox = self.settings.outbox_dir.join(&row.sender);
            std::fs::create_dir_all(&outbox)?;
            for protocol in protocols {
                write_atomically(&outbox, &protocol.name, &protocol.bytes)?;
            }
        }
        Ok(())
    }
}

/// The stored form of one clean case.
fn case_of(row: &PackageRow, zap: &Zap) -> NewCase {
    let patient = &zap.pacient;
    // The ENP: its own element, or the policy number of a single-form policy (VPOLIS 3).
    let enp = patient.enp.as_ref().map(|e| e.get().clone()).or_else(|| {
        (patient.vpolis == 3)
            .then(|| patient.npolis.as_ref().map(|n| n.get().clone()))
            .flatten()
    });
    NewCase {
        package_id: row.id.clone(),
        attempt: row.attempts,
        n_zap: i64::try_from(zap.n_zap).unwrap_or(i64::MAX),
        idcase: i64::try_from(zap.case.idcase).unwrap_or(i64::MAX),
        id_pac: patient.id_pac.clone(),
        enp,
        code_mo: zap.case.lpu.clone(),
        date_1: zap.case.date_z_1,
        date_2: zap.case.date_z_2,
        usl_ok: zap.case.usl_ok.map(i32::from),
        sum_kopecks: zap.case.sumv.kopecks(),
    }
}

/// Writes `name` in `dir` by a temporary file and a rename, so a reader never sees half.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// The report of a package whose name the sender already used: one 805 finding.
fn name_already_used(row: &PackageRow, first: &PackageRow) -> PackageReport {
    PackageReport {
        package: row.file_name.clone(),
        accepted: false,
        entries: Vec::new(),
        signatures: Vec::new(),
        findings: vec![Finding {
            code: NAME_ALREADY_USED,
            element: String::new(),
            parent: None,
            value: Some(row.file_name.clone()),
            context: Context::default(),
            line: 0,
            column: 0,
            message: format!(
                "a package named {} was already received from this sender on {} (package {})",
                row.file_name,
                first.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
                first.id
            ),
        }],
        files: Vec::new(),
    }
}

/// The final state of a checked package: rejected on a package-level finding or when no
/// record of its data file was accepted, partly accepted when some were, accepted when every
/// file is.
fn outcome_of(report: &PackageReport, protocols: &[Protocol]) -> Finished {
    let records: u64 = report.files.iter().map(|f| f.records).sum();
    let refused: u64 = report.files.iter().map(|f| f.refused_records).sum();
    let findings: u64 = protocols
        .iter()
        .map(|p| u64::try_from(p.findings).unwrap_or(u64::MAX))
        .sum::<u64>()
        + report.files.iter().map(|f| f.findings_dropped).sum::<u64>();
    let first_code = report
        .findings
        .iter()
        .chain(report.files.iter().flat_map(|f| f.findings.iter()))
        .map(|f| f.code.to_string())
        .next();
    let data_accepted = report
        .files
        .first()
        .map_or(0, |f| f.records.saturating_sub(f.refused_records));
    let whole_file_refused = report
        .files
        .iter()
        .any(|f| f.findings.iter().any(|x| x.line > 0 && f.records == 0));
    let status = if report.accepted {
        Status::Accepted
    } else if !report.findings.is_empty() || data_accepted == 0 || whole_file_refused {
        Status::Rejected
    } else {
        Status::PartlyAccepted
    };
    let message = match status {
        Status::Accepted => format!("accepted: {records} records"),
        Status::PartlyAccepted => {
            format!("partly accepted: {refused} of {records} records refused")
        }
        _ => format!("rejected: {findings} findings"),
    };
    Finished {
        status,
        records,
        refused_records: refused,
        findings,
        refusal_code: if status == Status::Accepted {
            None
        } else {
            first_code
        },
        protocol_name: protocols.first().map(|p| p.name.clone()),
        message: Some(message),
    }
}
