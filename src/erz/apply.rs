//! `omshub erz apply FILE`: one OPLIST from an insurer (formats.md 4.1) applied to the
//! register.
//!
//! 1. The name must be an OPLIST name (`i` + three `_`-separated parts); the answers are named
//!    with `p` (REPLIST) and `f` (`FLK_P`). A file already applied under the same name with the
//!    same SHA-256 is not applied again: its stored answers are returned. The same name with
//!    other content is refused (`file_name_reused`).
//! 2. In one transaction, the schema validator checks the file as it streams and
//!    `validate::records` builds each clean OP; each OP is applied in a savepoint of its own,
//!    so it is recorded whole or not at all, and refused with an [`OpError`] (AE). An OP with a
//!    schema finding is not built and is answered AR. Findings outside the OPs (the header, a
//!    FILENAME that is not the file's, NRECORDS that does not count the OPs, a truncated file)
//!    refuse the whole file: the transaction rolls back and only the `FLK_P` answers.
//! 3. The REPLIST and the `FLK_P` are stored with the file row and returned.
//! 4. Once the file is committed, the persons its accepted OPs touched are matched against the
//!    register (`erz::matching::run_for`, default thresholds): a duplicate it brought waits in
//!    the review queue, or is linked, at once. A failure there is logged and leaves the file
//!    applied (the nightly full run catches up).
//!
//! What each `TIP_OP` does is in docs/ERZ.md ("Operations"). An ENP merged into another
//! person (`erz::review`) names the survivor: the operation is applied to it and answered AA
//! with the survivor's ENP and COMMENT `enp_merged: …`; an annulment of such an ENP is
//! refused (`person_merged`).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection as _;
use diesel::result::Error as DieselError;
use sha2::{Digest, Sha256};

use super::refusal::OpError;
use super::reply::{self, FlkPr, Rep, RepInsurance, ReplyHeader};
use super::repo::{self, NewAddress, NewAttachment, NewDocument, NewFile, NewInsurance, NewOp};
use super::repo::{InsuranceRow, NewPersonVersion};
use crate::db::DbConn;
use crate::domain::{Enp, IdError, Okato, Snils, TfomsCode, territory_by_okato};
use crate::registers::insurers::Insurer;
use crate::registers::model::{Activity, Register as _, StoreError};
use crate::validate::protocol::f012_text;
use crate::validate::records::{
    Address, ErzBuilder, ErzHeader, ErzItem, ErzList, ErzRecord, Operation,
};
use crate::validate::schema::{Limits, Sink};
use crate::validate::{FileReport, Validator};

/// What applying a file gave (or gave the first time, for a repeat).
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The file row.
    pub file_id: i64,
    /// The same file (name and content) was applied before; nothing changed now.
    pub repeated: bool,
    /// `applied` or `rejected` (refused as a whole).
    pub status: String,
    /// OP records seen.
    pub records: i64,
    /// Answered AA.
    pub accepted: i64,
    /// Answered AE or AR.
    pub refused: i64,
    /// The REPLIST's file name, when the file was not refused as a whole.
    pub reply_name: Option<String>,
    /// The REPLIST.
    pub reply: Option<String>,
    /// The `FLK_P`'s file name.
    pub protocol_name: String,
    /// The `FLK_P`.
    pub protocol: String,
    /// Duplicate matching of the persons the file touched, run after it was committed: `None`
    /// when not run (a repeat, a file refused as a whole, no OP accepted), `Err` with the
    /// reason when it failed.
    pub matching: Option<Result<super::matching::Summary, String>>,
}

impl FileResult {
    fn of_row(row: repo::FileRow, repeated: bool) -> Self {
        Self {
            file_id: row.id,
            repeated,
            status: row.status,
            records: row.records,
            accepted: row.accepted,
            refused: row.refused,
            reply_name: row.reply_name,
            reply: row.reply,
            protocol_name: row.protocol_name,
            protocol: row.protocol,
            matching: None,
        }
    }
}

/// Why a file could not be applied at all (a refused file is a [`FileResult`], not this).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Not an OPLIST file name.
    #[error("{0} is not an OPLIST file name (i<insurer>_<territory>_<MMYY><number>.xml)")]
    BadFileName(String),
    /// Another content was applied under this name.
    #[error("a different file named {0} was applied before; send it under a new name")]
    NameReused(String),
    /// Reading the file failed.
    #[error("reading the file failed")]
    Io(#[from] std::io::Error),
    /// Reading the register of insurers failed.
    #[error("reading the register of insurers failed")]
    Registers(#[from] StoreError),
    /// The database failed.
    #[error("the database failed")]
    Db(#[from] DieselError),
}

impl ApplyError {
    /// A stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadFileName(_) => "bad_file_name",
            Self::NameReused(_) => "file_name_reused",
            Self::Io(_) => "io_error",
            Self::Registers(_) | Self::Db(_) => "database_error",
        }
    }
}

/// The names of a file and its answers, without extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The file name as given, without directories (`i75001_75_01261.xml`).
    pub file: String,
    /// Without extension (`i75001_75_01261`).
    pub stem: String,
    /// The REPLIST (`p75001_75_01261`).
    pub reply: String,
    /// The `FLK_P` (`f75001_75_01261`).
    pub protocol: String,
}

impl Names {
    /// Checks an OPLIST name: `i`, then three non-empty `_`-separated parts, the third
    /// `MMYY` + a sequence number (at least 5 digits).
    pub fn of(file_name: &str) -> Result<Self, ApplyError> {
        let file = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .to_owned();
        let stem = match file.rsplit_once('.') {
            Some((s, ext)) if ext.eq_ignore_ascii_case("xml") => s.to_owned(),
            _ => file.clone(),
        };
        let bad = || ApplyError::BadFileName(file.clone());
        let rest = stem.strip_prefix('i').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('_').collect();
        let ok = parts.len() == 3
            && parts.iter().all(|p| !p.is_empty())
            && parts[2].len() >= 5
            && parts[2].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(bad());
        }
        Ok(Self {
            reply: format!("p{rest}"),
            protocol: format!("f{rest}"),
            stem,
            file,
        })
    }
}

/// Applies the OPLIST at `path` (see the module text).
pub fn apply_path(
    conn: &mut DbConn,
    validator: &Validator,
    path: &Path,
    now: NaiveDateTime,
) -> Result<FileResult, ApplyError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let names = Names::of(&name)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    let sha256 = hex(&hasher.finalize());
    apply(
        conn,
        validator,
        &names,
        &sha256,
        std::fs::File::open(path)?,
        now,
    )
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Applies an OPLIST read from `source`, whose SHA-256 is `sha256`.
pub fn apply<R: Read>(
    conn: &mut DbConn,
    validator: &Validator,
    names: &Names,
    sha256: &str,
    source: R,
    now: NaiveDateTime,
) -> Result<FileResult, ApplyError> {
    let earlier = repo::files_named(conn, &names.file)?;
    if let Some(same) = earlier.iter().find(|f| f.sha256 == sha256) {
        return Ok(FileResult::of_row(same.clone(), true));
    }
    if !earlier.is_empty() {
        return Err(ApplyError::NameReused(names.file.clone()));
    }
    let outcome = conn.transaction(|conn| run(conn, validator, names, sha256, source, now));
    match outcome {
        Ok(mut result) => {
            if result.status == "applied" && result.accepted > 0 {
                result.matching = Some(match_touched(conn, result.file_id, now));
            }
            Ok(result)
        }
        Err(Abort::Apply(e)) => Err(e),
        Err(Abort::Refused { smocod, prs }) => {
            let protocol = reply::write_flk(&names.protocol, &names.stem, &prs);
            let file = NewFile {
                file_name: names.file.clone(),
                sha256: sha256.to_owned(),
                smocod,
                received_at: now,
                status: "rejected".into(),
                records: 0,
                accepted: 0,
                refused: 0,
                reply_name: None,
                reply: None,
                protocol_name: format!("{}.xml", names.protocol),
                protocol,
            };
            let id = repo::insert_file(conn, &file)?;
            Ok(FileResult {
                file_id: id,
                repeated: false,
                status: file.status,
                records: 0,
                accepted: 0,
                refused: 0,
                reply_name: None,
                reply: None,
                protocol_name: file.protocol_name,
                protocol: file.protocol,
                matching: None,
            })
        }
    }
}

/// Matches the persons of the accepted OPs of the file `file_id` (step 4 of the module text).
fn match_touched(
    conn: &mut DbConn,
    file_id: i64,
    now: NaiveDateTime,
) -> Result<super::matching::Summary, String> {
    let started = std::time::Instant::now();
    let run = |conn: &mut DbConn| {
        let mut persons: Vec<i64> = repo::ops_of_file(conn, file_id)?
            .into_iter()
            .filter(|op| op.code_erp == "AA")
            .filter_map(|op| op.person_id)
            .collect();
        persons.sort_unstable();
        persons.dedup();
        super::matching::run_for(conn, &persons, &super::matching::Options::at(now))
    };
    run(conn)
        .inspect(|s| {
            tracing::info!(
                file_id,
                persons = s.persons,
                new_pairs = s.new_pairs,
                possible = s.possible,
                linked = s.linked,
                elapsed_ms = started.elapsed().as_millis(),
                "duplicate matching after an applied OPLIST"
            );
        })
        .map_err(|e| {
        tracing::warn!(file_id, error = %e, "duplicate matching after an applied OPLIST failed");
        e.to_string()
    })
}

/// Why the file's transaction rolls back.
enum Abort {
    /// The file is refused as a whole.
    Refused {
        smocod: Option<String>,
        prs: Vec<FlkPr>,
    },
    /// A failure.
    Apply(ApplyError),
}

impl From<DieselError> for Abort {
    fn from(e: DieselError) -> Self {
        Self::Apply(ApplyError::Db(e))
    }
}

/// One OP as the check saw it.
struct Seen {
    n_rec: String,
    line: u64,
    findings: u64,
}

/// The record builder with a note of every OP (its `N_REC`, line and findings), so refused OPs
/// are answered too and findings are placed on their record.
struct OpSink<'a> {
    /// The list the schema says the file is (`None`: not an ERZ list).
    list: Option<ErzList>,
    builder: ErzBuilder<'a>,
    ordinal: Arc<AtomicU64>,
    last_open: (&'static str, usize),
    n_rec: String,
    line: u64,
    seen: Vec<Seen>,
    record_findings: u64,
}

impl Sink for OpSink<'_> {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        if depth == 1 && name == "OP" {
            self.n_rec.clear();
            self.line = line;
        }
        self.last_open = (name, depth);
        self.builder.open(name, depth, line);
    }

    fn value(&mut self, name: &'static str, value: &str) {
        if name == "N_REC" && self.last_open == ("N_REC", 2) {
            value.trim().clone_into(&mut self.n_rec);
        }
        self.builder.value(name, value);
    }

    fn close(&mut self, name: &'static str, depth: usize) {
        self.builder.close(name, depth);
    }

    fn item(&mut self, name: &'static str, findings: u64) {
        if name == "OP" {
            let ordinal = self.seen.len() + 1;
            let n_rec = if self.n_rec.is_empty() {
                ordinal.to_string()
            } else {
                std::mem::take(&mut self.n_rec)
            };
            self.seen.push(Seen {
                n_rec,
                line: self.line,
                findings,
            });
            self.record_findings += findings;
            self.ordinal
                .store(u64::try_from(ordinal).unwrap_or(u64::MAX), Ordering::SeqCst);
        }
        self.builder.item(name, findings);
    }
}

/// The sending insurer as the register has it.
struct Sender {
    code: String,
    /// `None`: not in the register.
    known: Option<(Activity, String)>,
}

/// What the record consumer keeps while the check streams.
struct Applier<'c> {
    conn: &'c mut DbConn,
    file_id: i64,
    now: NaiveDateTime,
    ordinal: Arc<AtomicU64>,
    header: Option<ErzHeader>,
    sender: Option<Sender>,
    fatal: Option<ApplyError>,
}

impl Applier<'_> {
    fn take(&mut self, item: ErzItem) {
        if self.fatal.is_some() {
            return;
        }
        match item {
            ErzItem::Header(header) => {
                let code = header.smocod.clone();
                match Insurer::load_current(self.conn, &code) {
                    Ok(state) => {
                        self.sender = Some(Sender {
                            code,
                            known: state.map(|s| {
                                let activity = s.activity();
                                (activity, s.record.ogrn.as_str().to_owned())
                            }),
                        });
                    }
                    Err(e) => self.fatal = Some(e.into()),
                }
                self.header = Some(header);
            }
            ErzItem::Record(ErzRecord::Op(op)) => {
                if let Err(e) = self.operation(&op) {
                    self.fatal = Some(e.into());
                }
            }
            ErzItem::Record(_) => {}
        }
    }

    fn operation(&mut self, op: &Operation) -> Result<(), DieselError> {
        // Without a clean header the file is refused as a whole; nothing to apply.
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let ordinal = i64::try_from(self.ordinal.load(Ordering::SeqCst)).unwrap_or(i64::MAX);
        let op_id = repo::insert_op(
            self.conn,
            &NewOp {
                file_id: self.file_id,
                ordinal,
                n_rec: op.n_rec.clone(),
                tip_op: Some(i32::from(op.tip_op)),
                code_erp: "AR".into(),
                reason: None,
                comment: None,
                person_id: None,
                recorded_at: self.now,
            },
        )?;
        let now = self.now;
        let result = self
            .conn
            .transaction(|conn| apply_op(conn, sender, op_id, now, op));
        match result {
            Ok(Applied {
                person,
                merged_into: None,
            }) => repo::set_op_answer(self.conn, op_id, "AA", None, None, Some(person)),
            Ok(Applied {
                person,
                merged_into: Some(survivor),
            }) => {
                let comment = format!(
                    "{ENP_MERGED}: the ENP was merged into {survivor}; the operation was \
                     applied to that person"
                );
                repo::set_op_answer(
                    self.conn,
                    op_id,
                    "AA",
                    Some(ENP_MERGED),
                    Some(&comment),
                    Some(person),
                )
            }
            Err(Refusal::Op(e)) => {
                let comment = format!("{}: {e}", e.code());
                repo::set_op_answer(self.conn, op_id, "AE", Some(e.code()), Some(&comment), None)
            }
            Err(Refusal::Noted(e, note)) => {
                let comment = format!("{}: {e}; {note}", e.code());
                repo::set_op_answer(self.conn, op_id, "AE", Some(e.code()), Some(&comment), None)
            }
            Err(Refusal::Db(e)) => Err(e),
        }
    }
}

/// The file's transaction.
fn run<R: Read>(
    conn: &mut DbConn,
    validator: &Validator,
    names: &Names,
    sha256: &str,
    source: R,
    now: NaiveDateTime,
) -> Result<FileResult, Abort> {
    let file_id = repo::insert_file(
        conn,
        &NewFile {
            file_name: names.file.clone(),
            sha256: sha256.to_owned(),
            smocod: None,
            received_at: now,
            status: "applied".into(),
            records: 0,
            accepted: 0,
            refused: 0,
            reply_name: None,
            reply: None,
            protocol_name: format!("{}.xml", names.protocol),
            protocol: String::new(),
        },
    )?;
    let ordinal = Arc::new(AtomicU64::new(0));
    let mut applier = Applier {
        conn,
        file_id,
        now,
        ordinal: Arc::clone(&ordinal),
        header: None,
        sender: None,
        fatal: None,
    };
    let (report, sink) = validator
        .check_file_with(&names.file, source, Limits::default(), |schema| {
            let list = ErzList::of_schema(schema);
            let builder = ErzBuilder::new(list.unwrap_or(ErzList::Oplist), |item| {
                applier.take(item);
            });
            OpSink {
                list,
                builder,
                ordinal,
                last_open: ("", 0),
                n_rec: String::new(),
                line: 0,
                seen: Vec::new(),
                record_findings: 0,
            }
        })
        .map_err(|e| Abort::Apply(e.into()))?;
    let (list, seen, record_findings) = sink.map_or((None, Vec::new(), 0), |s| {
        let OpSink {
            list,
            builder,
            seen,
            record_findings,
            ..
        } = s;
        let _summary = builder.finish();
        (list, seen, record_findings)
    });
    let Applier {
        conn,
        header,
        sender,
        fatal,
        ..
    } = applier;
    if let Some(e) = fatal {
        return Err(Abort::Apply(e));
    }

    let file_prs = file_findings(
        &report,
        list,
        record_findings,
        header.as_ref(),
        names,
        seen.len(),
    );
    if !file_prs.is_empty() {
        return Err(Abort::Refused {
            smocod: header.map(|h| h.smocod),
            prs: file_prs,
        });
    }
    let (Some(header), Some(sender)) = (header, sender) else {
        return Err(Abort::Refused {
            smocod: None,
            prs: Vec::new(),
        });
    };

    Ok(answer(
        conn, file_id, names, header, &sender, &seen, &report, now,
    )?)
}

/// The findings that refuse the whole file: schema findings outside the OPs, a file that is not
/// an OPLIST, a missing header, FILENAME not the file's name (42), NRECORDS not the number of
/// OPs (43; formats.md 2.4).
fn file_findings(
    report: &FileReport,
    list: Option<ErzList>,
    record_findings: u64,
    header: Option<&ErzHeader>,
    names: &Names,
    records: usize,
) -> Vec<FlkPr> {
    let total = u64::try_from(report.findings.len()).unwrap_or(u64::MAX) + report.findings_dropped;
    let mut file_prs: Vec<FlkPr> = Vec::new();
    if list != Some(ErzList::Oplist) && report.findings.is_empty() {
        file_prs.push(FlkPr {
            oshib: "41".into(),
            im_pol: report.kind.clone(),
            bas_el: String::new(),
            n_rec: String::new(),
            comment: "the file is not an OPLIST".into(),
        });
    }
    if total > record_findings || list != Some(ErzList::Oplist) {
        file_prs.extend(report.findings.iter().map(|f| schema_pr(f, "")));
    }
    if let Some(h) = header {
        if h.filename != names.stem {
            file_prs.push(FlkPr {
                oshib: "42".into(),
                im_pol: "FILENAME".into(),
                bas_el: "OPLIST".into(),
                n_rec: String::new(),
                comment: format!(
                    "FILENAME {} is not the name of the file ({})",
                    h.filename, names.stem
                ),
            });
        }
        if h.nrecords != u64::try_from(records).unwrap_or(u64::MAX) {
            file_prs.push(FlkPr {
                oshib: "43".into(),
                im_pol: "NRECORDS".into(),
                bas_el: "OPLIST".into(),
                n_rec: String::new(),
                comment: format!("NRECORDS is {}, the file has {} OP", h.nrecords, records),
            });
        }
    } else if file_prs.is_empty() {
        file_prs.push(FlkPr {
            oshib: "41".into(),
            im_pol: "OPLIST".into(),
            bas_el: String::new(),
            n_rec: String::new(),
            comment: "the header of the list is missing or refused".into(),
        });
    }
    file_prs
}

/// Answers the file whose operations are applied: AR for the records the check refused, the
/// REPLIST and the `FLK_P`, stored with the file row.
#[expect(clippy::too_many_arguments, reason = "the parts of one file's answer")]
fn answer(
    conn: &mut DbConn,
    file_id: i64,
    names: &Names,
    header: ErzHeader,
    sender: &Sender,
    seen: &[Seen],
    report: &FileReport,
    now: NaiveDateTime,
) -> Result<FileResult, DieselError> {
    record_format_refusals(conn, file_id, names, seen, now)?;

    // The protocol: schema findings on their records, then each refused operation.
    let mut prs: Vec<FlkPr> = report
        .findings
        .iter()
        .map(|f| {
            let at = seen.partition_point(|s| s.line <= f.line);
            let n_rec = at
                .checked_sub(1)
                .and_then(|i| seen.get(i))
                .map_or("", |s| s.n_rec.as_str());
            schema_pr(f, n_rec)
        })
        .collect();
    let ops = repo::ops_of_file(conn, file_id)?;
    let mut reps = Vec::with_capacity(ops.len());
    for op in &ops {
        let mut insurance = None;
        if op.code_erp == "AA" {
            let mut row = repo::insurance_of_op(conn, op.id)?;
            // An operation redirected to the survivor of a merge that recorded no episode (a
            // data change): the survivor's latest episode with the sender, so the sender
            // learns the ENP to use.
            if row.is_none()
                && op.reason.as_deref() == Some(ENP_MERGED)
                && let Some(person) = op.person_id
            {
                row = repo::current_insurance(conn, person)?
                    .into_iter()
                    .rev()
                    .find(|r| r.insurer_code == sender.code);
            }
            insurance = row.map(|row| rep_insurance(&row, sender));
        }
        if op.code_erp == "AE" {
            let (im_pol, bas_el, oshib) = op
                .reason
                .as_deref()
                .and_then(refusal_place)
                .unwrap_or(("", "", 207));
            prs.push(FlkPr {
                oshib: oshib.to_string(),
                im_pol: im_pol.into(),
                bas_el: bas_el.into(),
                n_rec: op.n_rec.clone(),
                comment: op.comment.clone().unwrap_or_default(),
            });
        }
        let comment = match op.code_erp.as_str() {
            "AA" => op.comment.clone(),
            _ => Some(format!(
                "{}; см. протокол ФЛК {}",
                op.comment.as_deref().unwrap_or(""),
                names.protocol
            )),
        };
        reps.push(Rep {
            n_rec: op.n_rec.clone(),
            id: op.person_id,
            code_erp: op.code_erp.clone(),
            comment,
            insurance,
        });
    }
    let reply_text = reply::write_replist(
        &ReplyHeader {
            file_name: names.reply.clone(),
            smocod: header.smocod.clone(),
            przcod: header.przcod.clone().unwrap_or_default(),
        },
        &reps,
    );
    let protocol = reply::write_flk(&names.protocol, &names.stem, &prs);
    let accepted = reps.iter().filter(|r| r.code_erp == "AA").count();
    let file = NewFile {
        file_name: names.file.clone(),
        // Name, digest and arrival were recorded at the start; `finish_file` keeps them.
        sha256: String::new(),
        smocod: Some(header.smocod),
        received_at: now,
        status: "applied".into(),
        records: i64::try_from(reps.len()).unwrap_or(i64::MAX),
        accepted: i64::try_from(accepted).unwrap_or(i64::MAX),
        refused: i64::try_from(reps.len() - accepted).unwrap_or(i64::MAX),
        reply_name: Some(format!("{}.xml", names.reply)),
        reply: Some(reply_text),
        protocol_name: format!("{}.xml", names.protocol),
        protocol,
    };
    repo::finish_file(conn, file_id, &file)?;
    Ok(FileResult {
        file_id,
        repeated: false,
        status: file.status,
        records: file.records,
        accepted: file.accepted,
        refused: file.refused,
        reply_name: file.reply_name,
        reply: file.reply,
        protocol_name: file.protocol_name,
        protocol: file.protocol,
        matching: None,
    })
}

/// Answers AR to each OP the schema check refused (their findings go to the protocol).
fn record_format_refusals(
    conn: &mut DbConn,
    file_id: i64,
    names: &Names,
    seen: &[Seen],
    now: NaiveDateTime,
) -> Result<(), DieselError> {
    let comment_ar = format!(
        "record refused by the format check, see protocol {}",
        names.protocol
    );
    for (i, s) in seen.iter().enumerate() {
        if s.findings > 0 {
            repo::insert_op(
                conn,
                &NewOp {
                    file_id,
                    ordinal: i64::try_from(i + 1).unwrap_or(i64::MAX),
                    n_rec: s.n_rec.clone(),
                    tip_op: None,
                    code_erp: "AR".into(),
                    reason: Some("format_check".into()),
                    comment: Some(comment_ar.clone()),
                    person_id: None,
                    recorded_at: now,
                },
            )?;
        }
    }

    Ok(())
}

/// The element, parent and channel code of a stored refusal reason.
fn refusal_place(reason: &str) -> Option<(&'static str, &'static str, u16)> {
    let on = NaiveDate::MIN;
    let id = IdError::Empty { what: "" };
    let all = [
        OpError::BadSnils(id.clone()),
        OpError::BadEnp(id),
        OpError::EnpFacetMismatch,
        OpError::UnknownInsurer {
            code: String::new(),
        },
        OpError::InsurerInactive {
            code: String::new(),
            on,
        },
        OpError::InsurerOgrnMismatch {
            code: String::new(),
        },
        OpError::UnknownTerritory,
        OpError::DatesOutOfOrder { element: "DEND" },
        OpError::EnpRequired { tip_op: 0 },
        OpError::UnknownPerson,
        OpError::AlreadyRegistered,
        OpError::DuplicateSnils,
        OpError::NotCurrentInsurer {
            current: String::new(),
            on,
        },
        OpError::SameInsurer { on },
        OpError::NotInsured { on },
        OpError::PersonDeceased,
        OpError::PersonMerged,
        OpError::EnpSerialsExhausted {
            territory: String::new(),
        },
    ];
    all.iter().find(|e| e.code() == reason).map(|e| {
        let (im_pol, bas_el) = e.element();
        (im_pol, bas_el, e.channel_code())
    })
}

/// A schema finding as a PR: F012 codes mapped to the ERZ channel's (formats.md 2.4):
/// 903 → 102 (data type), 904 → 103 (value not in the table), 905 → 205 (duplicate key),
/// the rest → 41 (XSD validation failed).
fn schema_pr(f: &crate::validate::Finding, n_rec: &str) -> FlkPr {
    let oshib = match f.code {
        903 => 102,
        904 => 103,
        905 => 205,
        _ => 41,
    };
    FlkPr {
        oshib: oshib.to_string(),
        im_pol: f.element.clone(),
        bas_el: f.parent.clone().unwrap_or_default(),
        n_rec: n_rec.to_owned(),
        comment: format!(
            "{} (F012 {}, строка {}): {}",
            f012_text(f.code),
            f.code,
            f.line,
            f.message
        ),
    }
}

fn rep_insurance(row: &InsuranceRow, sender: &Sender) -> RepInsurance {
    RepInsurance {
        ter_st: row.territory.clone(),
        enp: row.enp.clone(),
        ogrnsmo: sender.known.as_ref().map(|(_, ogrn)| ogrn.clone()),
        vpolis: row.policy_kind.clone(),
        npolis: row.policy_number.clone(),
        spolis: row.policy_series.clone(),
        dbeg: row.start_date,
        dend: row.planned_end,
        dstop: row.stop_date,
    }
}

// ---- one operation ----------------------------------------------------------------------------

/// The `erz_op.reason` (and the start of the REPLIST COMMENT) of an accepted operation whose
/// ENP was merged into another person: it was applied to the survivor.
const ENP_MERGED: &str = "enp_merged";

/// An accepted operation.
struct Applied {
    /// The person it changed.
    person: i64,
    /// The survivor's ENP, when the OP named an ENP merged into another person (`person` is
    /// the survivor).
    merged_into: Option<String>,
}

/// Why an operation's savepoint rolls back.
enum Refusal {
    Op(OpError),
    /// Refused, with a note for the sender that the error's message does not carry (it names
    /// personal data: an ENP).
    Noted(OpError, String),
    Db(DieselError),
}

impl From<DieselError> for Refusal {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl From<OpError> for Refusal {
    fn from(e: OpError) -> Self {
        Self::Op(e)
    }
}

fn text(value: Option<&crate::validate::records::Personal<String>>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn plain(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The episode of `rows` valid on `on`, else the latest.
fn episode_on(rows: &[InsuranceRow], on: NaiveDate) -> Option<&InsuranceRow> {
    rows.iter()
        .rev()
        .find(|r| r.valid_from <= on && r.valid_to.is_none_or(|to| to > on))
        .or_else(|| rows.last())
}

/// The checks every operation passes before it touches the register: the sender active on
/// `on` with the OGRN the OP names, SNILS and ENP (check digits, the ENP's facet against the
/// person), the territory, the order of the POLIS dates.
fn check_op(
    sender: &Sender,
    op: &Operation,
    on: NaiveDate,
) -> Result<(Option<Snils>, Option<Enp>), OpError> {
    let polis = &op.insurance.polis;
    let Some((activity, ogrn)) = &sender.known else {
        return Err(OpError::UnknownInsurer {
            code: sender.code.clone(),
        });
    };
    if !activity.active_on(on) {
        return Err(OpError::InsurerInactive {
            code: sender.code.clone(),
            on,
        });
    }
    if plain(op.insurance.ogrnsmo.as_ref()).is_some_and(|o| &o != ogrn) {
        return Err(OpError::InsurerOgrnMismatch {
            code: sender.code.clone(),
        });
    }
    let snils = text(op.person.ss.as_ref())
        .map(|s| Snils::parse(&s))
        .transpose()
        .map_err(OpError::BadSnils)?;
    let enp = text(op.insurance.enp.as_ref())
        .map(|s| Enp::parse(&s))
        .transpose()
        .map_err(OpError::BadEnp)?;
    if let Some(enp) = &enp {
        enp.check_birth_and_sex(*op.person.dr, op.person.w)
            .map_err(|e| match e {
                IdError::FacetMismatch { .. } => OpError::EnpFacetMismatch,
                other => OpError::BadEnp(other),
            })?;
    }
    if let Some(ter) = plain(op.insurance.ter_st.as_ref())
        && Okato::parse(&ter)
            .ok()
            .and_then(|o| territory_by_okato(&o))
            .is_none()
    {
        return Err(OpError::UnknownTerritory);
    }
    if polis.dend.is_some_and(|d| d < polis.dbeg) {
        return Err(OpError::DatesOutOfOrder { element: "DEND" });
    }
    if polis.dstop.is_some_and(|d| d < polis.dbeg) {
        return Err(OpError::DatesOutOfOrder { element: "DSTOP" });
    }
    Ok((snils, enp))
}

/// The registered person an OP's ENP names, as the register answers for that ENP now.
struct Named {
    /// The person an operation applies to: the one registered under the ENP, or, when that
    /// one was merged into another, the end of its chain of merge links (the survivor).
    person: i64,
    /// The ENP of `person`.
    enp: String,
    /// The ENP was merged into another person (`person` is the survivor).
    merged: bool,
}

/// The person registered under `enp` (if any), resolved through the current merge links.
fn named(conn: &mut DbConn, enp: Option<&Enp>) -> Result<Option<Named>, DieselError> {
    let Some(enp) = enp else { return Ok(None) };
    let Some(registered) = repo::person_by_enp(conn, enp.as_str())? else {
        return Ok(None);
    };
    let person = repo::matching::survivor(conn, registered, None)?;
    Ok(Some(if person == registered {
        Named {
            person,
            enp: enp.as_str().to_owned(),
            merged: false,
        }
    } else {
        Named {
            person,
            enp: repo::enp_of(conn, person)?,
            merged: true,
        }
    }))
}

/// Applies one OP in its savepoint; returns the person it concerned. An OP naming an ENP
/// merged into another person is applied to the survivor, except an annulment, which is
/// refused (`person_merged`): an old duplicate named must not annul the record that remains.
fn apply_op(
    conn: &mut DbConn,
    sender: &Sender,
    op_id: i64,
    now: NaiveDateTime,
    op: &Operation,
) -> Result<Applied, Refusal> {
    let polis = &op.insurance.polis;
    let on = match op.tip_op {
        2 | 4 => op.change_date,
        _ => polis.dbeg,
    };
    let (snils, enp) = check_op(sender, op, on)?;
    let named = named(conn, enp.as_ref())?;
    if op.tip_op == 2
        && let Some(n) = &named
        && n.merged
    {
        return Err(Refusal::Noted(
            OpError::PersonMerged,
            format!("merged into {}", n.enp),
        ));
    }
    // No policy starts after a death on record.
    if matches!(op.tip_op, 6..=8)
        && let Some(n) = &named
        && repo::lists::death_date_of(conn, n.person, None)?.is_some_and(|death| death < polis.dbeg)
    {
        return Err(OpError::PersonDeceased.into());
    }
    let ctx = Ctx {
        sender,
        op_id,
        now,
        op,
        snils: snils.map(|s| s.digits().to_owned()),
    };
    let person = match op.tip_op {
        1 | 6 => ctx.issue(conn, enp, named.as_ref()),
        2 => {
            let person = ctx.registered(enp.as_ref(), named.as_ref())?.person;
            ctx.check_current_insurer(conn, person, on)?;
            repo::annul_person_versions(conn, person, now)?;
            repo::annul_documents(conn, person, now)?;
            repo::annul_addresses(conn, person, now)?;
            repo::annul_insurance(conn, person, now)?;
            repo::annul_attachments(conn, person, now)?;
            Ok(person)
        }
        4 => {
            let person = ctx.registered(enp.as_ref(), named.as_ref())?.person;
            ctx.check_current_insurer(conn, person, on)?;
            ctx.record_person_data(conn, person, on)?;
            Ok(person)
        }
        7 => {
            let n = ctx.registered(enp.as_ref(), named.as_ref())?;
            let person = n.person;
            let rows = repo::current_insurance(conn, person)?;
            if let Some(current) = episode_on(&rows, on)
                && current.insurer_code == sender.code
                && current.valid_to.is_none_or(|to| to > on)
            {
                return Err(OpError::SameInsurer { on }.into());
            }
            ctx.record_episode(conn, person, &n.enp)?;
            Ok(person)
        }
        8 => {
            let n = ctx.registered(enp.as_ref(), named.as_ref())?;
            let person = n.person;
            let rows = repo::current_insurance(conn, person)?;
            let current = rows
                .iter()
                .find(|r| r.valid_from <= on && r.valid_to.is_none_or(|to| to > on))
                .ok_or(OpError::NotInsured { on })?;
            if current.insurer_code != sender.code {
                return Err(OpError::NotCurrentInsurer {
                    current: current.insurer_code.clone(),
                    on,
                }
                .into());
            }
            ctx.record_episode(conn, person, &n.enp)?;
            Ok(person)
        }
        other => Err(OpError::EnpRequired { tip_op: other }.into()),
    }?;
    // Death ends insurance: whatever the operation, no episode stays valid after the death
    // date on record (an annulled person has no current data, so nothing is cut).
    if let Some(death) = repo::lists::death_date_of(conn, person, None)? {
        repo::lists::end_insurance_at_death(conn, person, death, now, op_id)?;
    }
    Ok(Applied {
        person,
        merged_into: named.filter(|n| n.merged).map(|n| n.enp),
    })
}

/// One operation being applied.
struct Ctx<'a> {
    sender: &'a Sender,
    op_id: i64,
    now: NaiveDateTime,
    op: &'a Operation,
    snils: Option<String>,
}

impl Ctx<'_> {
    /// The registered person the OP's ENP names (`named`, see [`named`]).
    fn registered<'n>(
        &self,
        enp: Option<&Enp>,
        named: Option<&'n Named>,
    ) -> Result<&'n Named, Refusal> {
        if enp.is_none() {
            return Err(OpError::EnpRequired {
                tip_op: self.op.tip_op,
            }
            .into());
        }
        Ok(named.ok_or(OpError::UnknownPerson)?)
    }

    /// Refuses unless the sender insures `person` on `on` (or last insured them).
    fn check_current_insurer(
        &self,
        conn: &mut DbConn,
        person: i64,
        on: NaiveDate,
    ) -> Result<(), Refusal> {
        let rows = repo::current_insurance(conn, person)?;
        match episode_on(&rows, on) {
            Some(current) if current.insurer_code != self.sender.code => {
                Err(OpError::NotCurrentInsurer {
                    current: current.insurer_code.clone(),
                    on,
                }
                .into())
            }
            _ => Ok(()),
        }
    }

    /// `TIP_OP` 1 (temporary certificate) or 6 (final policy); `named` is the person the
    /// OP's ENP names, when registered.
    fn issue(
        &self,
        conn: &mut DbConn,
        enp: Option<Enp>,
        named: Option<&Named>,
    ) -> Result<i64, Refusal> {
        if let Some(n) = named {
            if self.op.tip_op == 1 {
                return Err(OpError::AlreadyRegistered.into());
            }
            // The final policy replaces the temporary certificate of the same insurer.
            self.check_current_insurer(conn, n.person, self.op.insurance.polis.dbeg)?;
            self.record_episode(conn, n.person, &n.enp)?;
            return Ok(n.person);
        }
        if let Some(snils) = &self.snils
            && !repo::persons_with_snils(conn, snils)?.is_empty()
        {
            return Err(OpError::DuplicateSnils.into());
        }
        let (person, enp) = match enp {
            Some(enp) => {
                let id = repo::insert_person(conn, enp.as_str(), self.now)?
                    .ok_or(OpError::AlreadyRegistered)?;
                (id, enp)
            }
            None => self.issue_enp(conn)?,
        };
        let birth = *self.op.person.dr;
        self.record_person_data(conn, person, birth)?;
        self.record_episode(conn, person, enp.as_str())?;
        Ok(person)
    }

    /// A new ENP (formats.md 6.1) for the OP's person, registered: territory of the sender,
    /// facet of the birth date and sex, the next serial of that facet, skipping numbers
    /// already registered (e.g. loaded from elsewhere).
    fn issue_enp(&self, conn: &mut DbConn) -> Result<(i64, Enp), Refusal> {
        let territory =
            TfomsCode::parse(self.sender.code.get(..2).unwrap_or("")).map_err(OpError::BadEnp)?;
        let birth = *self.op.person.dr;
        let sex = self.op.person.w;
        let facet = Enp::generate(&territory, birth, sex, 0)
            .map_err(OpError::BadEnp)?
            .facet()
            .to_owned();
        let exhausted = || OpError::EnpSerialsExhausted {
            territory: territory.to_string(),
        };
        loop {
            let serial =
                repo::next_enp_serial(conn, territory.as_str(), &facet)?.ok_or_else(exhausted)?;
            let enp = Enp::generate(&territory, birth, sex, serial).map_err(OpError::BadEnp)?;
            if let Some(id) = repo::insert_person(conn, enp.as_str(), self.now)? {
                return Ok((id, enp));
            }
        }
    }

    /// PERSON, DOC, the addresses and the attachments of the OP, valid from `from`.
    fn record_person_data(
        &self,
        conn: &mut DbConn,
        person: i64,
        from: NaiveDate,
    ) -> Result<(), DieselError> {
        let p = &self.op.person;
        let (now, op_id) = (self.now, self.op_id);
        let version = NewPersonVersion {
            person_id: person,
            fam: p.fam.trim().to_owned(),
            im: text(p.im.as_ref()),
            ot: text(p.ot.as_ref()),
            sex: i32::from(p.w.code()),
            birth_date: *p.dr,
            birth_accuracy: i32::from(p.true_dr.unwrap_or(1)),
            citizenship: plain(p.c_oksm.as_ref()),
            snils: self.snils.clone(),
            death_date: p.ddeath,
            valid_from: from,
            valid_to: None,
            recorded_at: now,
            op_id,
        };
        repo::replace_person_from(conn, person, from, now, op_id, |_| true, &[version])?;
        let d = &self.op.doc;
        let doc = NewDocument {
            person_id: person,
            doctype: i32::from(d.doctype),
            docser: text(d.docser.as_ref()),
            docnum: d.docnum.trim().to_owned(),
            docdate: *d.docdate,
            docexp: d.docexp.as_ref().map(|x| **x),
            issuer: text(d.name_vp.as_ref()),
            valid_from: from,
            valid_to: None,
            recorded_at: now,
            op_id,
        };
        repo::replace_documents_from(conn, person, from, now, op_id, |_| true, &[doc])?;
        let addresses = [
            Some(("registration", &self.op.addres_g)),
            self.op.addres_p.as_ref().map(|a| ("actual", a)),
        ];
        for (kind, address) in addresses.into_iter().flatten() {
            let new = new_address(person, kind, address, from, now, op_id);
            repo::replace_addresses_from(
                conn,
                person,
                from,
                now,
                op_id,
                |r| r.kind == kind,
                &[new],
            )?;
        }
        if !self.op.attachment.is_empty() {
            let new: Vec<NewAttachment> = self
                .op
                .attachment
                .iter()
                .map(|a| NewAttachment {
                    person_id: person,
                    lpu_id: i64::try_from(a.id_lpu).unwrap_or(i64::MAX),
                    kind: i32::from(a.id_ztype),
                    valid_from: from,
                    valid_to: None,
                    recorded_at: now,
                    op_id,
                })
                .collect();
            repo::replace_attachments_from(conn, person, from, now, op_id, |_| true, &new)?;
        }
        Ok(())
    }

    /// The OP's insurance as the person's episode from POLIS/DBEG on (the sender insuring).
    fn record_episode(&self, conn: &mut DbConn, person: i64, enp: &str) -> Result<(), DieselError> {
        let i = &self.op.insurance;
        let polis = &i.polis;
        let episode = NewInsurance {
            person_id: person,
            enp: enp.to_owned(),
            insurer_code: self.sender.code.clone(),
            policy_kind: polis.vpolis.trim().to_owned(),
            policy_series: text(polis.spolis.as_ref()),
            policy_number: text(polis.npolis.as_ref()),
            policy_form: plain(self.op.vizit.fpolis.as_ref()),
            territory: plain(i.ter_st.as_ref()),
            start_date: polis.dbeg,
            planned_end: polis.dend,
            stop_date: polis.dstop,
            valid_from: polis.dbeg,
            valid_to: polis.dstop.and_then(|d| d.succ_opt()),
            recorded_at: self.now,
            op_id: self.op_id,
        };
        repo::replace_insurance_from(
            conn,
            person,
            polis.dbeg,
            self.now,
            self.op_id,
            |_| true,
            &[episode],
        )
    }
}

fn new_address(
    person: i64,
    kind: &str,
    a: &Address,
    from: NaiveDate,
    now: NaiveDateTime,
    op_id: i64,
) -> NewAddress {
    let joined = [
        a.indx.clone(),
        plain(a.npname.as_ref()),
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
    NewAddress {
        person_id: person,
        kind: kind.to_owned(),
        okato: plain(a.okato.as_ref()),
        postcode: plain(a.indx.as_ref()),
        text: text(a.unstruct_address.as_ref()).or_else(|| (!joined.is_empty()).then_some(joined)),
        homeless: i32::from(a.bomg.unwrap_or(false)),
        valid_from: a.dreg.unwrap_or(from),
        valid_to: None,
        recorded_at: now,
        op_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oplist_names_and_their_answers() {
        let n = Names::of("/tmp/x/i75001_75_01261.xml").unwrap();
        assert_eq!(n.file, "i75001_75_01261.xml");
        assert_eq!(n.stem, "i75001_75_01261");
        assert_eq!(n.reply, "p75001_75_01261");
        assert_eq!(n.protocol, "f75001_75_01261");
        for bad in [
            "p75001_75_01261.xml",
            "i75001_75.xml",
            "i75001_75_0126.xml",
            "i75001__01261.xml",
            "i75001_75_0126x.xml",
        ] {
            assert_eq!(Names::of(bad).unwrap_err().code(), "bad_file_name", "{bad}");
        }
    }

    #[test]
    fn every_refusal_reason_has_its_place_in_the_protocol() {
        for code in [
            "snils_invalid",
            "enp_invalid",
            "unknown_insurer",
            "dates_out_of_order",
            "not_current_insurer",
            "person_merged",
            "enp_serials_exhausted",
        ] {
            assert!(refusal_place(code).is_some(), "{code}");
        }
        assert_eq!(refusal_place("snils_invalid"), Some(("SS", "PERSON", 102)));
        assert_eq!(
            refusal_place("person_merged"),
            Some(("ENP", "INSURANCE", 206))
        );
        assert_eq!(refusal_place("nope"), None);
    }
}
