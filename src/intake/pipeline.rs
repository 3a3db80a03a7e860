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

use anyhow::Context as _;

use super::files::write_atomically;
use super::notices::{self, NewNotice};
use super::signatures::{External, PackageSignature, SIGNATURE_REFUSED, SignatureCheck};
use super::spool::{Spooled, sync_dir};
use super::store::{self, Finished, NewCase, NewPackage, PackageRow, Recorded};
use super::{Channel, Status, Storage};
use crate::config::{IntakeSettings, Settings, SignatureSettings};
use crate::db::Database;
use crate::lookups::Lookups;
use crate::notify::Mailer;
use crate::signature::{
    Fingerprint, Signer, VerifyPolicy, verify_detached_file, verify_enveloping,
};
use crate::validate::package::{
    Hooks, LoneFile, PackageLimits, PackageReport, PackageView, Protocol, check_package_with,
    check_single_file, package_finding, signature_suffix, strip_suffix_ci,
};
use crate::validate::records::{AccountItem, Item, Zap};
use crate::validate::rules::{self, Checker};
use crate::validate::schema::Limits;
use crate::validate::{Finding, Validator};

/// F012 805: a package with this name was already registered from this sender.
pub const NAME_ALREADY_USED: u16 = 805;

/// F012 802: a file name not by the rules.
const BAD_NAME: u16 = 802;

/// An insurer's OPLIST sent as a package: `i….xml`, or `i….zip` holding it, either of them
/// possibly inside an enveloping signature (`i….zip.sig`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OplistPackage {
    /// The OPLIST's names (`i….xml` and its answers), whatever form the package has.
    names: crate::erz::apply::Names,
    /// The package is a ZIP holding the OPLIST.
    zipped: bool,
    /// The package came inside an enveloping signature: the name inside (`i….zip`) and the
    /// signature's name (`sig`, `BUH`…).
    enveloping: Option<(String, &'static str)>,
}

/// What `file_name` is as an OPLIST package, when it is one.
fn oplist_package(file_name: &str) -> Option<OplistPackage> {
    if !file_name.starts_with('i') {
        return None;
    }
    let (inner, enveloping) = match signature_suffix(file_name) {
        Some((inner, kind)) => (inner, Some((inner.to_owned(), kind))),
        None => (file_name, None),
    };
    let (names, zipped) = if strip_suffix_ci(inner, ".xml").is_some() {
        (crate::erz::apply::Names::of(inner).ok()?, false)
    } else {
        let stem = strip_suffix_ci(inner, ".zip")?;
        (
            crate::erz::apply::Names::of(&format!("{stem}.xml")).ok()?,
            true,
        )
    };
    Some(OplistPackage {
        names,
        zipped,
        enveloping,
    })
}

/// Cases waiting for the writer at most, and cases per insert.
const CASES_IN_FLIGHT: usize = 4_096;
const CASE_BATCH: usize = 1_000;

/// Checks of one package within one attempt when cases of it keep being accepted in other
/// packages meanwhile (each round sees the packages accepted before it).
pub const CHECK_ROUNDS: u32 = 4;

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
    /// `[signature]`: which signatures each file kind needs.
    pub signature: SignatureSettings,
    /// The trust store and CRLs; `None` when `signature.trust_store` is empty.
    policy: Option<VerifyPolicy>,
    /// The hub's own key, which signs protocols and receipts; `None` when not configured.
    signer: Option<Signer>,
    validator: Validator,
    limits: PackageLimits,
    mailer: Mailer,
    /// The snapshots the business rules read (shared with the API's state).
    lookups: Lookups,
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

/// The rules' checker of a package (its look-ups and the clinic's earlier cases are read from
/// the database), opened on the first record, so that a package refused for its archive or its
/// signatures has not paid for it.
struct LazyChecker<'a> {
    intake: &'a Intake,
    row: &'a PackageRow,
    /// Whether the first record came (and the checker was opened, or failed to be).
    opened: bool,
    /// The checker (`None`: not opened yet, or the rules are turned off).
    checker: Option<Checker>,
    failed: Option<anyhow::Error>,
}

impl LazyChecker<'_> {
    fn item(&mut self, item: &Item) {
        if !self.opened {
            self.opened = true;
            match self.intake.open_checker(self.row) {
                Ok(checker) => self.checker = checker,
                Err(e) => self.failed = Some(e),
            }
        }
        if let Some(checker) = self.checker.as_mut() {
            checker.item(item);
        }
    }

    /// The checker, if one was opened; the error if opening it failed.
    fn finish(self) -> anyhow::Result<Option<Checker>> {
        match self.failed {
            Some(e) => Err(e.context("opening the business rules")),
            None => Ok(self.checker),
        }
    }
}

impl Intake {
    /// Opens the storage folders, loads the trust store, CRLs and the hub's signing key, and
    /// prepares the validator; the business rules read `lookups` (refreshed before each
    /// package).
    pub fn new(all: &Settings, db: Database, lookups: Lookups) -> anyhow::Result<Self> {
        let settings = &all.intake;
        let policy = if all.signature.trust_store.as_os_str().is_empty() {
            None
        } else {
            Some(VerifyPolicy::from_settings(&all.signature)?)
        };
        let signer = Signer::from_settings(&all.signature)?;
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
            signature: all.signature.clone(),
            policy,
            signer,
            validator: Validator::new(crate::xml::schemas::ALL)?,
            limits,
            mailer: Mailer::from_settings(&all.mail)?,
            lookups,
            wake: (Mutex::new(0), Condvar::new()),
        })
    }

    /// Records a spooled upload from `sender`, with the detached signature files sent beside
    /// it (`(name, bytes)`), or finds its first package with the same bytes and signatures or
    /// the same idempotency key (then the new bytes are dropped).
    pub fn accept(
        &self,
        spooled: Spooled,
        sender: &str,
        channel: Channel,
        file_name: &str,
        idempotency_key: Option<&str>,
        signatures: &[(String, Vec<u8>)],
    ) -> anyhow::Result<Recorded> {
        let id = uuid::Uuid::new_v4().to_string();
        let (sha256, size_bytes) = (spooled.sha256.clone(), spooled.size);
        let signatures_digest = signatures_digest(signatures);
        let mut conn = self.db.conn()?;
        let new = NewPackage {
            id: &id,
            sender,
            channel,
            file_name,
            sha256: &sha256,
            size_bytes,
            idempotency_key,
            signatures: &signatures_digest,
        };
        // The bytes are in place before the row that promises them exists.
        let sig_dir = self.storage.signature_dir(&id);
        if !signatures.is_empty()
            && let Err(e) = write_signatures(&sig_dir, signatures)
        {
            let _ = spooled.discard();
            let _ = std::fs::remove_dir_all(&sig_dir);
            return Err(e.into());
        }
        let kept = spooled.keep(&self.storage, &id)?;
        let recorded = store::record(&mut conn, &new);
        match &recorded {
            Ok(Recorded::New(_)) => self.notify(),
            Ok(Recorded::Repeat(_)) | Err(_) => {
                let _ = std::fs::remove_file(&kept);
                let _ = std::fs::remove_dir_all(&sig_dir);
            }
        }
        Ok(recorded?)
    }

    /// The hub's detached signature (DER) of `bytes`, when the hub has a key.
    pub fn sign(&self, bytes: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
        match &self.signer {
            Some(signer) => Ok(Some(signer.sign_detached(bytes)?)),
            None => Ok(None),
        }
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
            refusal_reason: Some("internal".into()),
            protocol_name: None,
            message: Some(format!(
                "the hub could not check this package in {MAX_ATTEMPTS} attempts: {error:#}"
            )),
        };
        let notice = self.notice_for(&mut conn, row, &outcome);
        if store::finish(&mut conn, row, &outcome, notice.as_ref())? {
            self.deliver_notices();
        }
        Ok(())
    }

    /// Checks package `row` and ends it. When the final duplicate check finds cases a package
    /// accepted meanwhile holds ([`crate::settlement::paid_elsewhere`]), nothing is stored and
    /// the package is checked again (its rules now see that package's cases), at most
    /// [`CHECK_ROUNDS`] times in one attempt.
    fn process(&self, row: &PackageRow) -> anyhow::Result<Finished> {
        for round in 1..=CHECK_ROUNDS {
            match self.check_and_finish(row)? {
                Ok(outcome) => return Ok(outcome),
                Err(elsewhere) => {
                    tracing::info!(
                        package = %row.id,
                        round,
                        cases = elsewhere.len(),
                        other = %elsewhere.first().map_or("", |e| e.package_id.as_str()),
                        "cases accepted meanwhile in another package: checking again"
                    );
                    store::discard_cases(&mut *self.db.conn()?, row)?;
                }
            }
        }
        Err(anyhow::anyhow!(
            "cases of this package were accepted in other packages while it was checked, \
             {CHECK_ROUNDS} times"
        ))
    }

    /// One check of package `row` and its end; `Err` with the cases held elsewhere when the
    /// final duplicate check refused to store its decisions (nothing was changed then).
    fn check_and_finish(
        &self,
        row: &PackageRow,
    ) -> anyhow::Result<Result<Finished, Vec<crate::settlement::PaidElsewhere>>> {
        let (earlier, registered) = {
            let mut conn = self.db.conn()?;
            (
                store::earlier_with_name(&mut conn, &row.sender, &row.file_name, row.seq)?,
                registered_certificates(&mut conn, &row.sender)?,
            )
        };
        let (protocols, outcome, rules) = if let Some(first) = earlier {
            let report = name_already_used(row, &first);
            let protocols = report.protocols();
            let outcome = outcome_of(&report, None, &protocols);
            (protocols, outcome, None)
        } else if let Some(oplist) = oplist_package(&row.file_name) {
            let (protocols, outcome) = self.apply_oplist(row, &oplist, &registered)?;
            (protocols, outcome, None)
        } else {
            let (report, rules) = self.check_and_store_cases(row, &registered)?;
            let protocols =
                report.protocols_with_rules(rules.as_ref().map_or(&[], |o| &o.findings));
            let outcome = outcome_of(&report, rules.as_ref(), &protocols);
            (protocols, outcome, rules)
        };
        self.write_protocols(row, &protocols)?;
        let decisions = rules
            .as_ref()
            .filter(|_| outcome.status != Status::Rejected);
        let mut conn = self.db.conn()?;
        let notice = self.notice_for(&mut conn, row, &outcome);
        let decided_at = crate::participants::now();
        let mut elsewhere = Vec::new();
        let finished = store::finish_with(&mut conn, row, &outcome, notice.as_ref(), |conn| {
            let Some(d) = decisions else {
                return Ok(());
            };
            // The final duplicate check, under the lock of the cases' territories.
            elsewhere = crate::settlement::paid_elsewhere(conn, &row.id, row.attempts, d)?;
            if !elsewhere.is_empty() {
                return Err(diesel::result::Error::RollbackTransaction);
            }
            crate::settlement::store_decisions(conn, &row.id, d, decided_at).map(|_| ())
        });
        let finished = match finished {
            Err(diesel::result::Error::RollbackTransaction) if !elsewhere.is_empty() => {
                return Ok(Err(elsewhere));
            }
            other => other?,
        };
        if finished {
            drop(conn);
            self.deliver_notices();
        } else {
            tracing::warn!(package = %row.id, "another worker finished this package first");
        }
        Ok(Ok(outcome))
    }

    /// An insurer's OPLIST sent as a package (`i….xml`, or `i….zip` holding it and its
    /// signatures, either possibly inside an enveloping signature): only the insurer the file
    /// name names may send it (802 `not_the_senders_file`); then [`Self::check_and_apply`]
    /// checks its archive and signatures and applies it to the register of insured persons
    /// (`erz::apply`, idempotent by name and content, so a check interrupted after the apply and
    /// taken again answers the same). Answered by the REPLIST (the package's protocol) and the
    /// `FLK_P`; a package with any finding (801–808) is refused whole and nothing is applied.
    fn apply_oplist(
        &self,
        row: &PackageRow,
        oplist: &OplistPackage,
        registered: &[Fingerprint],
    ) -> anyhow::Result<(Vec<Protocol>, Finished)> {
        use crate::erz::apply::ApplyError;
        let refused = |code: u16, reason: &'static str, message: String| {
            let finding = package_finding(code, reason, &row.file_name, message);
            refused_answer(&refused_report(&row.file_name, vec![finding]))
        };
        let insurer = oplist
            .names
            .stem
            .get(1..)
            .and_then(|rest| rest.split('_').next())
            .unwrap_or_default()
            .to_owned();
        let mut conn = self.db.conn()?;
        if sender_code(&mut conn, &row.sender).as_deref() != Some(insurer.as_str()) {
            return Ok(refused(
                BAD_NAME,
                "not_the_senders_file",
                format!(
                    "{} is an OPLIST of insurer {insurer}; only that insurer may send it",
                    row.file_name
                ),
            ));
        }
        let (report, result) = self.check_and_apply(&mut conn, row, oplist, registered)?;
        match result {
            None => Ok(refused_answer(&report)),
            Some(Ok(result)) => Ok(oplist_answer(&result)),
            Some(Err(ApplyError::NameReused(name))) => Ok(refused(
                NAME_ALREADY_USED,
                "name_already_used",
                format!("a different file named {name} was applied to the register before"),
            )),
            Some(Err(e @ ApplyError::BadFileName(_))) => {
                Ok(refused(BAD_NAME, "bad_package_name", e.to_string()))
            }
            Some(Err(e)) => Err(anyhow::Error::new(e).context("applying the OPLIST")),
        }
    }

    /// The checks of an OPLIST package before its apply, as an account package's: its
    /// enveloping signature, if it came in one; for a ZIP, the archive (`check_single_file`);
    /// every signature ([`SignatureCheck`]). Then, only when there is no finding, the apply.
    /// The report has the findings; the apply's result is `None` when it was refused.
    fn check_and_apply(
        &self,
        conn: &mut crate::db::DbConn,
        row: &PackageRow,
        oplist: &OplistPackage,
        registered: &[Fingerprint],
    ) -> anyhow::Result<(PackageReport, Option<OplistApplied>)> {
        let names = &oplist.names;
        // An enveloping package: what is inside, once its signature verifies.
        let mut package_signatures = Vec::new();
        let (path, name) = match &oplist.enveloping {
            Some((inner, kind)) => {
                match self.open_enveloping(row, inner, kind)? {
                    Ok(signature) => package_signatures.push(signature),
                    Err(finding) => return Ok((refused_report(inner, vec![*finding]), None)),
                }
                (self.storage.content_file(&row.id), inner.clone())
            }
            None => (self.storage.package_file(&row.id), row.file_name.clone()),
        };
        let mut refused = Vec::new();
        let external =
            self.external_signatures(row, &path, &name, &mut package_signatures, &mut refused)?;
        let check = SignatureCheck {
            policy: self.policy.as_ref(),
            settings: &self.signature,
            registered,
            package: &name,
            external: &external,
            package_signatures: &package_signatures,
        };
        let mut verified = false;
        let mut verify = |view: &mut PackageView<'_>| {
            verified = true;
            let mut findings = std::mem::take(&mut refused);
            findings.extend(check.check(view));
            findings
        };
        let now = crate::participants::now();
        let mut apply = |source: &mut dyn std::io::Read, sha256: &str| {
            crate::erz::apply::apply(conn, &self.validator, names, sha256, source, now)
        };
        let (mut report, result) = if oplist.zipped {
            check_single_file(
                &name,
                &names.file,
                BufReader::new(File::open(&path)?),
                &self.limits,
                Some(&mut verify),
                apply,
            )?
        } else {
            let mut lone = LoneFile::new(&name, &path);
            let findings = verify(&mut PackageView::lone(&mut lone));
            let result = if findings.is_empty() {
                let sha256 = if oplist.enveloping.is_some() {
                    sha256_file(&path)?
                } else {
                    row.sha256.clone()
                };
                Some(apply(&mut BufReader::new(File::open(&path)?), &sha256))
            } else {
                None
            };
            (refused_report(&name, findings), result)
        };
        if !verified {
            // The archive was refused before the signatures could be looked at.
            report.findings.append(&mut refused);
        }
        Ok((report, result))
    }

    /// The business-rule checker of a package from `row`'s sender: the look-ups refreshed if
    /// their stores changed, the earlier accepted cases, the rules in force on the account's
    /// period. `None` when `intake.business_rules` is off.
    fn open_checker(&self, row: &PackageRow) -> anyhow::Result<Option<Checker>> {
        if !self.settings.business_rules {
            return Ok(None);
        }
        self.lookups.refresh(&self.db, false)?;
        self.lookups.refresh_erz(&self.db, false)?;
        let mut conn = self.db.conn()?;
        let sender = rules_sender(&mut conn, &row.sender)?;
        let options = rules::Options {
            as_of: None,
            today: chrono::Utc::now().date_naive(),
            sender: Some(sender),
        };
        crate::settlement::open_checker(&mut conn, &self.lookups, options, Some(&row.id))
            .map(|c| Some(c.with_max_findings(self.settings.max_findings)))
    }

    /// Sends the e-mail notices that are due (this package's, and earlier ones whose sending
    /// failed and whose next attempt has come). A failure is logged; the notices stay queued.
    pub fn deliver_notices(&self) {
        let delivered = self
            .db
            .conn()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(notices::deliver_due(&mut conn, &self.mailer, 100)?));
        if let Err(e) = delivered {
            tracing::warn!(error = %format!("{e:#}"), "notices not delivered");
        }
    }

    /// Checks the stored package; the clean cases of its account file go, as the check
    /// streams, through a bounded channel to a writer thread that stores them in batches
    /// tagged with this attempt ([`store::finish`] keeps them or not), and through the
    /// business rules. Memory stays that of the check, the channel and the rules' facts per
    /// case. The rules' outcome comes back when they saw an account in a package whose archive
    /// and files were not refused as a whole.
    fn check_and_store_cases(
        &self,
        row: &PackageRow,
        registered: &[Fingerprint],
    ) -> anyhow::Result<(PackageReport, Option<rules::Outcome>)> {
        let mut refused = Vec::new();
        let mut package_signatures = Vec::new();
        // An enveloping package (`….zip.sig`): the ZIP inside, once its signature verifies.
        let (path, name) = match signature_suffix(&row.file_name) {
            Some((inner, kind)) => {
                match self.open_enveloping(row, inner, kind)? {
                    Ok(signature) => package_signatures.push(signature),
                    Err(finding) => {
                        return Ok((refused_report(inner, vec![*finding]), None));
                    }
                }
                (self.storage.content_file(&row.id), inner.to_owned())
            }
            None => (self.storage.package_file(&row.id), row.file_name.clone()),
        };
        let external =
            self.external_signatures(row, &path, &name, &mut package_signatures, &mut refused)?;
        let check = SignatureCheck {
            policy: self.policy.as_ref(),
            settings: &self.signature,
            registered,
            package: &name,
            external: &external,
            package_signatures: &package_signatures,
        };
        let mut verified = false;
        let mut verify = |view: &mut crate::validate::package::PackageView<'_>| {
            verified = true;
            let mut findings = std::mem::take(&mut refused);
            findings.extend(check.check(view));
            findings
        };
        let mut checker = LazyChecker {
            intake: self,
            row,
            opened: false,
            checker: None,
            failed: None,
        };
        let file = File::open(&path)?;
        let mut report = std::thread::scope(|scope| {
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
                checker.item(&item);
                if let Item::Account(AccountItem::Record(zap)) = item {
                    // A send fails only when the writer stopped on an error it reports.
                    let _ = tx.send(case_of(row, &zap));
                }
            };
            let report = check_package_with(
                &self.validator,
                &name,
                BufReader::with_capacity(256 * 1024, file),
                &self.limits,
                Hooks {
                    on_item: Some(&mut on_item),
                    verify: Some(&mut verify),
                    skip_files: false,
                },
            );
            drop(tx);
            let written = match writer.join() {
                Ok(result) => result?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            tracing::debug!(package = %row.id, cases = written, "cases stored");
            Ok::<_, anyhow::Error>(report?)
        })?;
        let checker = checker.finish()?;
        if !verified {
            // The archive was refused before the signatures could be looked at.
            report.findings.append(&mut refused);
        }
        report.accepted &= report.findings.is_empty();
        let schema_refused = report.files.first().map_or(0, |f| f.refused_records);
        let rules = checker
            .filter(|_| report.findings.is_empty())
            .map(|c| c.finish(schema_refused))
            .filter(|o| o.account.is_some());
        Ok((report, rules))
    }

    /// Verifies the enveloping signature a package came in and writes the ZIP inside to
    /// `content_file`; `Ok(Err(finding))` when it is refused.
    fn open_enveloping(
        &self,
        row: &PackageRow,
        inner: &str,
        kind: &'static str,
    ) -> anyhow::Result<Result<PackageSignature, Box<Finding>>> {
        let refuse = |reason: &'static str, message: String| {
            Ok(Err(Box::new(package_finding(
                SIGNATURE_REFUSED,
                reason,
                &row.file_name,
                message,
            ))))
        };
        let Some(policy) = &self.policy else {
            return refuse(
                "signature_unverifiable",
                format!(
                    "{}: a package inside a signature, but this hub has no trust store \
                     (signature.trust_store) to verify it with; send the ZIP itself",
                    row.file_name
                ),
            );
        };
        let path = self.storage.package_file(&row.id);
        let limit = self.signature.max_in_memory_bytes;
        if u64::try_from(row.size_bytes).unwrap_or(u64::MAX) > limit {
            return refuse(
                "content_too_large",
                format!(
                    "{}: a package inside a signature is held in memory to verify it, and it \
                     is larger than the {limit} bytes allowed (signature.max_in_memory_bytes); \
                     send the ZIP with a detached signature instead",
                    row.file_name
                ),
            );
        }
        let bytes = std::fs::read(&path)?;
        match verify_enveloping(&bytes, policy) {
            Ok((verified, content)) => {
                drop(bytes);
                let target = self.storage.content_file(&row.id);
                write_atomically(
                    &self.storage.packages(),
                    target
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default(),
                    &content,
                )?;
                tracing::debug!(package = %row.id, inner, "enveloping signature verified");
                Ok(Ok(PackageSignature {
                    kind,
                    name: row.file_name.clone(),
                    verified,
                }))
            }
            Err(crate::signature::SignatureError::Io(e)) => Err(anyhow::anyhow!(e)),
            Err(e) => refuse(e.code(), format!("{}: {e}", row.file_name)),
        }
    }

    /// The signature files sent beside package `row`: those named after the package are
    /// verified here against the whole ZIP at `path` (into `package_signatures`, or a finding
    /// into `refused`); the others, which sign an entry, are returned.
    fn external_signatures(
        &self,
        row: &PackageRow,
        path: &Path,
        package_name: &str,
        package_signatures: &mut Vec<PackageSignature>,
        refused: &mut Vec<Finding>,
    ) -> anyhow::Result<Vec<External>> {
        let dir = self.storage.signature_dir(&row.id);
        let mut external = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(external),
            Err(e) => return Err(e.into()),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                files.push((name.to_owned(), entry.path()));
            }
        }
        files.sort();
        for (name, file) in files {
            let Some((signed, kind)) = signature_suffix(&name) else {
                continue;
            };
            if !signed.eq_ignore_ascii_case(package_name) {
                external.push(External { name, path: file });
                continue;
            }
            let Some(policy) = &self.policy else {
                continue;
            };
            let bytes = std::fs::read(&file)?;
            match verify_detached_file(path, &bytes, policy) {
                Ok(verified) => package_signatures.push(PackageSignature {
                    kind,
                    name,
                    verified,
                }),
                Err(crate::signature::SignatureError::Io(e)) => {
                    return Err(anyhow::anyhow!(e));
                }
                Err(e) => {
                    refused.push(package_finding(
                        SIGNATURE_REFUSED,
                        e.code(),
                        &name,
                        format!("{name}: {e}"),
                    ));
                }
            }
        }
        Ok(external)
    }

    /// The notice to the sender's contact address (a participant's) that the protocol is
    /// ready, if the hub sends e-mail and the sender has an address.
    fn notice_for(
        &self,
        conn: &mut crate::db::DbConn,
        row: &PackageRow,
        outcome: &Finished,
    ) -> Option<NewNotice> {
        if !self.mailer.is_on() {
            return None;
        }
        let id = row
            .sender
            .strip_prefix("participant:")
            .and_then(|n| n.parse::<i64>().ok())?;
        let to = match crate::participants::repo::get(conn, id) {
            Ok(p) => p.contact_email,
            Err(e) => {
                tracing::warn!(package = %row.id, error = %e, "no participant to notify");
                return None;
            }
        };
        let recipient = to.filter(|t| !t.is_empty())?;
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
        Some(NewNotice {
            recipient,
            subject,
            body,
        })
    }

    fn write_protocols(&self, row: &PackageRow, protocols: &[Protocol]) -> anyhow::Result<()> {
        let dir = self.storage.protocol_dir(&row.id);
        std::fs::create_dir_all(&dir)?;
        // The hub's detached signature beside each protocol (`V….xml.sig`), written first so
        // that a protocol a reader sees has its signature.
        let mut signed = Vec::with_capacity(protocols.len());
        for protocol in protocols {
            let signature = self.sign(&protocol.bytes)?;
            if let Some(der) = &signature {
                write_atomically(&dir, &format!("{}.sig", protocol.name), der)?;
            }
            write_atomically(&dir, &protocol.name, &protocol.bytes)?;
            signed.push(signature);
        }
        if row.channel == Channel::Inbox.as_str()
            && !self.settings.outbox_dir.as_os_str().is_empty()
        {
            // The participant's folder: its register code (`inbox`).
            let folder = sender_code(&mut *self.db.conn()?, &row.sender)
                .unwrap_or_else(|| row.sender.clone());
            let outbox = self.settings.outbox_dir.join(folder);
            std::fs::create_dir_all(&outbox)?;
            for (protocol, signature) in protocols.iter().zip(&signed) {
                if let Some(der) = signature {
                    write_atomically(&outbox, &format!("{}.sig", protocol.name), der)?;
                }
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

/// What applying an OPLIST gave.
type OplistApplied = Result<crate::erz::apply::FileResult, crate::erz::apply::ApplyError>;

/// The protocols and final state of a package refused as a whole.
fn refused_answer(report: &PackageReport) -> (Vec<Protocol>, Finished) {
    let protocols = report.protocols();
    let outcome = outcome_of(report, None, &protocols);
    (protocols, outcome)
}

/// The protocols (the REPLIST, when there is one, then the `FLK_P`) and final state of an
/// applied OPLIST: rejected when the file was refused as a whole or no OP applied, partly
/// accepted when some OP was refused.
fn oplist_answer(result: &crate::erz::apply::FileResult) -> (Vec<Protocol>, Finished) {
    let mut protocols = Vec::new();
    if let (Some(name), Some(reply)) = (&result.reply_name, &result.reply) {
        protocols.push(Protocol {
            name: name.clone(),
            findings: usize::try_from(result.refused).unwrap_or(usize::MAX),
            bytes: reply.clone().into_bytes(),
        });
    }
    protocols.push(Protocol {
        name: result.protocol_name.clone(),
        findings: 0,
        bytes: result.protocol.clone().into_bytes(),
    });
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let status = if result.status != "applied" || (result.accepted == 0 && result.records > 0) {
        Status::Rejected
    } else if result.refused > 0 {
        Status::PartlyAccepted
    } else {
        Status::Accepted
    };
    let outcome = Finished {
        status,
        records: count(result.records),
        refused_records: count(result.refused),
        findings: count(result.refused),
        refusal_code: (status == Status::Rejected && result.status != "applied")
            .then(|| "erz_file_refused".to_owned()),
        refusal_reason: None,
        protocol_name: protocols.first().map(|p| p.name.clone()),
        message: Some(crate::erz::cli::summary(result).trim_end().to_owned()),
    };
    (protocols, outcome)
}

/// The SHA-256 of the file at `path`, hex.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(super::spool::hex(&hasher.finalize()))
}

/// The report of a package whose name the sender already used: one 805 finding.
fn name_already_used(row: &PackageRow, first: &PackageRow) -> PackageReport {
    let finding = package_finding(
        NAME_ALREADY_USED,
        "name_already_used",
        &row.file_name,
        format!(
            "a package named {} was already received from this sender on {} (package {})",
            row.file_name,
            first.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
            first.id
        ),
    );
    refused_report(&row.file_name, vec![finding])
}

/// The report of a package refused before its archive was opened.
fn refused_report(name: &str, findings: Vec<Finding>) -> PackageReport {
    PackageReport {
        package: name.to_owned(),
        accepted: false,
        entries: Vec::new(),
        signatures: Vec::new(),
        findings,
        files: Vec::new(),
    }
}

/// What identifies the signature files sent beside a package, for repeats: SHA-256 over their
/// names and bytes in name order, hex; empty without any.
fn signatures_digest(signatures: &[(String, Vec<u8>)]) -> String {
    use sha2::{Digest, Sha256};
    if signatures.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<_> = signatures.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (name, bytes) in sorted {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    super::spool::hex(&hasher.finalize())
}

/// Writes the signature files into `dir` (synced), before the row that refers to them.
fn write_signatures(dir: &Path, signatures: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in signatures {
        write_atomically(dir, name, bytes)?;
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The fingerprints of the certificates registered to `sender` (`participant:<id>`) and not
/// revoked; empty for a sender that is not a participant.
fn registered_certificates(
    conn: &mut crate::db::DbConn,
    sender: &str,
) -> anyhow::Result<Vec<Fingerprint>> {
    let Some(id) = sender
        .strip_prefix("participant:")
        .and_then(|n| n.parse::<i64>().ok())
    else {
        return Ok(Vec::new());
    };
    let certificates = crate::participants::repo::certificates(conn, id)?;
    Ok(certificates
        .iter()
        .filter(|c| c.revoked_at.is_none())
        .filter_map(|c| c.fingerprint_sha256.parse().ok())
        .collect())
}

/// The participant code a package's sender stands for, as the rules check it against the
/// account's `CODE_MO`: a participant's register code (F001, F002, F003), or a sender name
/// that is itself such a code (the inbox channel's folder); `None` for anyone else.
fn sender_code(conn: &mut crate::db::DbConn, sender: &str) -> Option<String> {
    match sender
        .strip_prefix("participant:")
        .and_then(|n| n.parse::<i64>().ok())
    {
        Some(id) => crate::participants::repo::get(conn, id)
            .ok()
            .and_then(|p| p.org_code),
        None => (matches!(sender.len(), 2 | 5 | 6) && sender.bytes().all(|b| b.is_ascii_digit()))
            .then(|| sender.to_owned()),
    }
}

/// Who sent a package, as rule `OMSH.00.0201` checks it against the account's `CODE_MO`
/// (run for every package): a participant's register code; else the sender's name (a
/// participant without a code, the hub's own admin and reader tokens; an inbox package of
/// before the inbox folders were tied to participants carries its folder's name).
fn rules_sender(conn: &mut crate::db::DbConn, sender: &str) -> anyhow::Result<String> {
    match sender
        .strip_prefix("participant:")
        .and_then(|n| n.parse::<i64>().ok())
    {
        Some(id) => Ok(crate::participants::repo::get(conn, id)
            .context("the sender of the package")?
            .org_code
            .unwrap_or_else(|| sender.to_owned())),
        None => Ok(sender.to_owned()),
    }
}

/// The final state of a checked package: rejected on a package-level finding, when no record
/// of its data file was accepted, or when a business rule refuses the account; partly
/// accepted when some records were refused (by the schema or by the rules); accepted when
/// every file is and no case is refused.
fn outcome_of(
    report: &PackageReport,
    rules: Option<&rules::Outcome>,
    protocols: &[Protocol],
) -> Finished {
    let records: u64 = report.files.iter().map(|f| f.records).sum();
    let by_rules = rules.map_or(0, |o| o.totals.refused);
    let refused: u64 = report.files.iter().map(|f| f.refused_records).sum::<u64>() + by_rules;
    let findings: u64 = protocols
        .iter()
        .map(|p| u64::try_from(p.findings).unwrap_or(u64::MAX))
        .sum::<u64>()
        + report.files.iter().map(|f| f.findings_dropped).sum::<u64>()
        + rules.map_or(0, |o| o.findings_dropped);
    let rule_refusal = rules.and_then(|o| o.first_refusal);
    let first = report
        .findings
        .iter()
        .chain(report.files.iter().flat_map(|f| f.findings.iter()))
        .next()
        .map(|f| (f.code.to_string(), f.reason))
        .or_else(|| rule_refusal.map(|r| (rules::RULE_F012.to_string(), Some(r.id))));
    let data_accepted = report
        .files
        .first()
        .map_or(0, |f| f.records.saturating_sub(f.refused_records))
        .saturating_sub(by_rules);
    let whole_file_refused = report
        .files
        .iter()
        .any(|f| f.findings.iter().any(|x| x.line > 0 && f.records == 0));
    let rules_refuse_account = rules.is_some_and(|o| !o.accepted);
    let status = if report.accepted && by_rules == 0 && !rules_refuse_account {
        Status::Accepted
    } else if !report.findings.is_empty()
        || data_accepted == 0
        || whole_file_refused
        || rules_refuse_account
    {
        Status::Rejected
    } else {
        Status::PartlyAccepted
    };
    let message = match status {
        Status::Accepted => format!("accepted: {records} records"),
        Status::PartlyAccepted => {
            format!("partly accepted: {refused} of {records} records refused")
        }
        _ if rules_refuse_account => format!(
            "rejected by the business rules: {}",
            rule_refusal.map_or("", |r| r.id)
        ),
        _ => format!("rejected: {findings} findings"),
    };
    let refusal = first.filter(|_| status != Status::Accepted);
    Finished {
        status,
        records,
        refused_records: refused,
        findings,
        refusal_code: refusal.as_ref().map(|(code, _)| code.clone()),
        refusal_reason: refusal.and_then(|(_, reason)| reason).map(str::to_owned),
        protocol_name: protocols.first().map(|p| p.name.clone()),
        message: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oplist_packages_are_known_by_their_names() {
        for (name, expected) in [
            ("i34901_34_01241.xml", Some((false, None))),
            ("i34901_34_01241.XML", Some((false, None))),
            ("i34901_34_01241.zip", Some((true, None))),
            (
                "i34901_34_01241.zip.sig",
                Some((true, Some(("i34901_34_01241.zip", "sig")))),
            ),
            (
                "i34901_34_01241.xml.sig",
                Some((false, Some(("i34901_34_01241.xml", "sig")))),
            ),
            ("HM750096T75_26011.zip", None),
            ("i34901_34.zip", None),
            ("i34901_34_01241.rar", None),
            ("I34901_34_01241.zip", None),
        ] {
            let found = oplist_package(name);
            assert_eq!(
                found.as_ref().map(|p| (
                    p.zipped,
                    p.enveloping.as_ref().map(|(n, k)| (n.as_str(), *k))
                )),
                expected,
                "{name}"
            );
            if let Some(p) = found {
                assert_eq!(p.names.stem, "i34901_34_01241", "{name}");
                assert_eq!(p.names.reply, "p34901_34_01241", "{name}");
            }
        }
    }
}
