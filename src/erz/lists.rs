//! The lists the register produces for an insurer to download (formats.md 4.1): `RECLIST`
//! (the changes of a period that concern the insurer), `STOPLIST` (its insured whose insurance
//! ended in the period, or whose record was annulled) and `CONFLICTLIST` (conflicts the
//! register can see: a person insured by two insurers at once, two persons sharing a SNILS or
//! an identity document, two records that may be one person or were merged). Each is written
//! in UTF-8 with quick-xml, valid against `schemas/erz/1.0/<ROOT>.xsd`, named
//! `r|s|c<insurer>_<territory>_<MMYY><n>.xml` and recorded in the journal of lists (which hands
//! out `n`). Each record is written out as soon as it is found (into a spooled temporary file;
//! the header, which counts them, goes in front afterwards), so the memory does not grow with
//! the list. Called by `erz::cli` (`omshub erz export`) and `api::erz` (`GET
//! /api/v1/erz/lists/{kind}`). What goes into each list, and the reason codes the hub chose, are
//! in docs/ERZ.md ("Lists for insurers").

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::Connection as _;
use diesel::result::Error as DieselError;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::reply::fit;
use super::repo::lists::{self as reads, NewListExport, OpInFile, Snapshot};
use super::repo::matching;
use super::repo::{self, AddressRow, AttachmentRow, DocumentRow, InsuranceRow, PersonVersionRow};
use crate::db::DbConn;
use crate::domain::{InsurerCode, Snils};
use crate::registers::insurers::Insurer;
use crate::registers::model::{Register as _, StoreError};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `RECLIST`: the changes of a period.
    Reclist,
    /// `STOPLIST`: insurance ended or record annulled.
    Stoplist,
    /// `CONFLICTLIST`: conflicts in the register.
    Conflictlist,
}

impl ListKind {
    /// `reclist`, `stoplist` or `conflictlist`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "reclist" => Some(Self::Reclist),
            "stoplist" => Some(Self::Stoplist),
            "conflictlist" => Some(Self::Conflictlist),
            _ => None,
        }
    }

    /// The lower-case name (`reclist`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reclist => "reclist",
            Self::Stoplist => "stoplist",
            Self::Conflictlist => "conflictlist",
        }
    }

    /// The root element.
    #[must_use]
    pub fn root(self) -> &'static str {
        match self {
            Self::Reclist => "RECLIST",
            Self::Stoplist => "STOPLIST",
            Self::Conflictlist => "CONFLICTLIST",
        }
    }

    /// The first letter of the file name (the hub's choice; formats.md gives `i`, `p`, `f`
    /// only).
    #[must_use]
    pub fn prefix(self) -> char {
        match self {
            Self::Reclist => 'r',
            Self::Stoplist => 's',
            Self::Conflictlist => 'c',
        }
    }
}

/// STOP/REASON codes the hub writes (formats.md 8: the federal codes are not known).
pub mod stop_reason {
    /// The insurer ended the insurance (POLIS/DSTOP).
    pub const ENDED: u16 = 1;
    /// Another insurer insures the person from the next day (`TIP_OP` 7).
    pub const CHANGE_OF_INSURER: u16 = 2;
    /// The person died: insurance ended at the death date.
    pub const DEATH: u16 = 3;
    /// The record was annulled (`TIP_OP` 2).
    pub const ANNULLED: u16 = 4;
}

/// CONFLICT/REASON codes the hub writes.
pub mod conflict_reason {
    /// The person is insured by two insurers at once.
    pub const TWO_INSURERS: u16 = 1;
    /// Another person carries the same SNILS.
    pub const SHARED_SNILS: u16 = 2;
    /// Another person carries the same identity document.
    pub const SHARED_DOCUMENT: u16 = 3;
    /// The person and another may be one person: the pair waits in the review queue of
    /// duplicate matching.
    pub const POSSIBLE_DUPLICATE: u16 = 4;
    /// The person's record was merged into another's in the period: its ENP answers for the
    /// other person (`PERSON_CURR`, whose ENP is in `INSURANCE_CURR`) from then on.
    pub const MERGED_AWAY: u16 = 5;
    /// Another person's record was merged into the person's in the period.
    pub const MERGED_IN: u16 = 6;
}

/// A list produced.
#[derive(Debug, Clone)]
pub struct ListFile {
    /// Which list.
    pub kind: ListKind,
    /// The file name (`r34902_34_06241.xml`).
    pub name: String,
    /// Records (REC, STOP, CONFLICT) in it.
    pub records: usize,
    /// Where it was written: the folder given to [`produce`], joined with `name`.
    pub path: PathBuf,
}

/// Why a list could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// Not an insurer code.
    #[error("insurer must be a 5-digit F002 code")]
    InvalidInsurer,
    /// Not in the register of insurers.
    #[error("insurer {0} is not in the register of insurers (F002)")]
    UnknownInsurer(String),
    /// `from` after `to`.
    #[error("the period starts after it ends")]
    InvalidPeriod,
    /// Reading the register of insurers failed.
    #[error("the register of insurers could not be read")]
    Registers(#[from] StoreError),
    /// The database failed.
    #[error("the register of insured persons could not be read")]
    Db(#[from] DieselError),
    /// Writing the XML failed.
    #[error("the list could not be written")]
    Write(#[from] io::Error),
}

impl ListError {
    /// A stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInsurer => "invalid_insurer",
            Self::UnknownInsurer(_) => "unknown_insurer",
            Self::InvalidPeriod => "invalid_period",
            Self::Registers(_) | Self::Db(_) => "database_error",
            Self::Write(_) => "write_error",
        }
    }
}

/// Which list is asked for: the kind, the insurer (F002 code), the days (both included).
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    /// Which list.
    pub kind: ListKind,
    /// The insurer's F002 code, as given (checked by [`produce`]).
    pub insurer: &'a str,
    /// The first day of the period.
    pub from: NaiveDate,
    /// The last day of the period.
    pub to: NaiveDate,
}

/// Produces the list `asked` (kind, insurer, period), as the register knows it now, into the
/// folder `dir` (which must exist); records it in the journal as asked for by `caller` at `now`.
///
/// The register is read in one transaction and each record is written out as soon as it is
/// found, so the memory does not grow with the list; then, in a second and short transaction,
/// the journal hands out the file's name, and the file is written beside it under a temporary
/// name and renamed once the journal row is committed. A failure leaves no file (at worst a
/// journal row without its file, whose number the next list skips).
pub fn produce(
    conn: &mut DbConn,
    asked: ListRequest<'_>,
    caller: &str,
    now: NaiveDateTime,
    dir: &Path,
) -> Result<ListFile, ListError> {
    let ListRequest {
        kind,
        insurer,
        from,
        to,
    } = asked;
    let code = InsurerCode::parse(insurer.trim()).map_err(|_| ListError::InvalidInsurer)?;
    let insurer = code.as_str().to_owned();
    if from > to {
        return Err(ListError::InvalidPeriod);
    }
    if Insurer::load_current(conn, &insurer)?.is_none() {
        return Err(ListError::UnknownInsurer(insurer));
    }
    let mut body = Body::new(kind, dir)?;
    conn.transaction(|conn| {
        let mut ctx = Ctx {
            insurer: insurer.clone(),
            ogrn: HashMap::new(),
        };
        let mut emit = |r: Record| body.push(&r).map_err(ListError::Write);
        match kind {
            ListKind::Reclist => ctx.recs(conn, from, to, &mut emit),
            ListKind::Stoplist => ctx.stops(conn, from, to, &mut emit),
            ListKind::Conflictlist => ctx.conflicts(conn, from, to, &mut emit),
        }
    })?;
    let records = body.records;
    let stem = format!(
        "{}{insurer}_{}_{:02}{:02}",
        kind.prefix(),
        code.territory().as_str(),
        to.month(),
        to.year().rem_euclid(100)
    );
    let (name, file) = conn.transaction(|conn| {
        let name = reads::record_list_export(
            conn,
            &stem,
            &NewListExport {
                kind: kind.as_str().to_owned(),
                insurer: insurer.clone(),
                period_from: from,
                period_to: to,
                file_name: String::new(),
                records: i64::try_from(records).unwrap_or(i64::MAX),
                caller: caller.to_owned(),
                created_at: now,
            },
        )?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        let file_name = name.trim_end_matches(".xml");
        assemble(
            kind,
            &insurer,
            file_name,
            from,
            to,
            body,
            file.as_file_mut(),
        )?;
        file.as_file().sync_all()?;
        Ok::<_, ListError>((name, file))
    })?;
    let path = dir.join(&name);
    file.persist_noclobber(&path)
        .map_err(|e| ListError::Write(e.error))?;
    Ok(ListFile {
        kind,
        name,
        records,
        path,
    })
}

/// Where each record goes as soon as it is found (the list's [`Body`]).
type Emit<'a> = &'a mut dyn FnMut(Record) -> Result<(), ListError>;

/// One record of a list, ready to write.
enum Record {
    Rec(Box<Rec>),
    Stop(Box<Stop>),
    Conflict(Box<Conflict>),
}

/// What the register holds about a person, as one block of a record.
#[derive(Clone)]
struct PersonData {
    person: PersonVersionRow,
    doc: DocumentRow,
}

struct Rec {
    id: i64,
    tip_op: i32,
    active: bool,
    change: NaiveDateTime,
    state_begin: NaiveDate,
    state_end: Option<NaiveDate>,
    oper: String,
    data: PersonData,
    registration: Option<AddressRow>,
    actual: Option<AddressRow>,
    insurance: Ins,
    attachments: Vec<AttachmentRow>,
}

struct Stop {
    id: i64,
    reason: u16,
    enp: String,
    insurance: Ins,
    then: PersonData,
    current: PersonData,
}

struct Conflict {
    id: i64,
    reason: u16,
    data: PersonData,
    insurance: Ins,
    other: PersonData,
    other_insurance: Option<Ins>,
}

/// An episode with the OGRN of its insurer.
struct Ins {
    row: InsuranceRow,
    ogrn: String,
}

struct Ctx {
    insurer: String,
    ogrn: HashMap<String, String>,
}

/// The rows of `rows` valid on `on`, else the latest.
fn on_or_last<T>(
    rows: &[T],
    on: NaiveDate,
    span: impl Fn(&T) -> (NaiveDate, Option<NaiveDate>),
) -> Option<&T> {
    rows.iter()
        .rev()
        .find(|r| {
            let (f, t) = span(r);
            f <= on && t.is_none_or(|t| t > on)
        })
        .or_else(|| rows.last())
}

fn person_data(s: &Snapshot, on: Option<NaiveDate>) -> Option<PersonData> {
    let person = match on {
        Some(d) => on_or_last(&s.versions, d, |r| (r.valid_from, r.valid_to)),
        None => s.versions.last(),
    }?;
    let doc = match on {
        Some(d) => on_or_last(&s.documents, d, |r| (r.valid_from, r.valid_to)),
        None => s.documents.last(),
    }?;
    Some(PersonData {
        person: person.clone(),
        doc: doc.clone(),
    })
}

fn covers(row: &InsuranceRow, from: NaiveDate, to: NaiveDate) -> bool {
    row.valid_from <= to && row.valid_to.is_none_or(|end| end > from)
}

impl Ctx {
    fn ins(&mut self, conn: &mut DbConn, row: InsuranceRow) -> Result<Ins, ListError> {
        let ogrn = if let Some(o) = self.ogrn.get(&row.insurer_code) {
            o.clone()
        } else {
            let o = Insurer::load_current(conn, &row.insurer_code)?
                .map(|s| s.record.ogrn.as_str().to_owned())
                .unwrap_or_default();
            self.ogrn.insert(row.insurer_code.clone(), o.clone());
            o
        };
        Ok(Ins { row, ogrn })
    }

    /// RECLIST: one REC per accepted operation recorded in the period that concerns the
    /// insurer, with the person as the register held them right after it.
    fn recs(
        &mut self,
        conn: &mut DbConn,
        from: NaiveDate,
        to: NaiveDate,
        emit: Emit<'_>,
    ) -> Result<(), ListError> {
        let start = from.and_time(chrono::NaiveTime::MIN);
        let end = to.succ_opt().unwrap_or(to).and_time(chrono::NaiveTime::MIN);
        for OpInFile { op, file_name, .. } in
            reads::ops_for_insurer(conn, &self.insurer, start, end)?
        {
            let Some(person) = op.person_id else { continue };
            let annulled = op.tip_op == Some(2);
            let at = if annulled {
                op.recorded_at - Duration::microseconds(1)
            } else {
                op.recorded_at
            };
            let s = reads::snapshot(conn, person, Some(at))?;
            let Some(data) = person_data(&s, None) else {
                continue;
            };
            let chosen = s
                .insurance
                .iter()
                .rev()
                .find(|r| r.op_id == op.id && r.insurer_code == self.insurer)
                .or_else(|| s.insurance.iter().rev().find(|r| r.op_id == op.id))
                .or_else(|| s.insurance.last())
                .cloned();
            let Some(episode) = chosen else { continue };
            let active = !annulled && !repo::current_person_versions(conn, person)?.is_empty();
            let last_of = |kind: &str| s.addresses.iter().rev().find(|a| a.kind == kind).cloned();
            emit(Record::Rec(Box::new(Rec {
                id: person,
                tip_op: op.tip_op.unwrap_or(4),
                active,
                change: op.recorded_at,
                state_begin: episode.valid_from,
                state_end: episode.stop_date,
                oper: file_name,
                registration: last_of("registration"),
                actual: last_of("actual"),
                attachments: s
                    .attachments
                    .iter()
                    .filter(|a| a.valid_to.is_none())
                    .cloned()
                    .collect(),
                insurance: self.ins(conn, episode)?,
                data,
            })))?;
        }
        Ok(())
    }

    /// STOPLIST: the insurer's episodes whose last day falls in the period (not continued by
    /// the insurer the next day), and the records it annulled in the period.
    fn stops(
        &mut self,
        conn: &mut DbConn,
        from: NaiveDate,
        to: NaiveDate,
        emit: Emit<'_>,
    ) -> Result<(), ListError> {
        for e in reads::stopped_episodes(conn, &self.insurer, from, to)? {
            let Some(stop) = e.stop_date else { continue };
            let Some(next_day) = stop.succ_opt() else {
                continue;
            };
            let current = repo::current_insurance(conn, e.person_id)?;
            let next = current.iter().find(|r| {
                r.id != e.id && r.valid_from <= next_day && r.valid_to.is_none_or(|t| t > next_day)
            });
            if next.is_some_and(|n| n.insurer_code == self.insurer) {
                continue;
            }
            let reason = if reads::death_date_of(conn, e.person_id, None)? == Some(stop) {
                stop_reason::DEATH
            } else if next.is_some() {
                stop_reason::CHANGE_OF_INSURER
            } else {
                stop_reason::ENDED
            };
            let s = reads::snapshot(conn, e.person_id, None)?;
            let (Some(then), Some(now)) = (person_data(&s, Some(stop)), person_data(&s, None))
            else {
                continue;
            };
            emit(Record::Stop(Box::new(Stop {
                id: e.person_id,
                reason,
                enp: e.enp.clone(),
                insurance: self.ins(conn, e)?,
                then,
                current: now,
            })))?;
        }
        let start = from.and_time(chrono::NaiveTime::MIN);
        let end = to.succ_opt().unwrap_or(to).and_time(chrono::NaiveTime::MIN);
        for OpInFile { op, smocod, .. } in reads::ops_for_insurer(conn, &self.insurer, start, end)?
        {
            let Some(person) = op.person_id else { continue };
            if op.tip_op != Some(2) || smocod.as_deref() != Some(self.insurer.as_str()) {
                continue;
            }
            let s = reads::snapshot(
                conn,
                person,
                Some(op.recorded_at - Duration::microseconds(1)),
            )?;
            let episode = s
                .insurance
                .iter()
                .rev()
                .find(|r| r.insurer_code == self.insurer)
                .or_else(|| s.insurance.last())
                .cloned();
            let (Some(episode), Some(data)) = (episode, person_data(&s, None)) else {
                continue;
            };
            emit(Record::Stop(Box::new(Stop {
                id: person,
                reason: stop_reason::ANNULLED,
                enp: episode.enp.clone(),
                insurance: self.ins(conn, episode)?,
                then: data.clone(),
                current: data,
            })))?;
        }
        Ok(())
    }

    /// CONFLICTLIST: overlapping episodes of the insurer and another insurer; the insurer's
    /// persons (insured in the period) sharing a SNILS or a document with another (unless the
    /// two were merged into one), waiting in the review queue with another, or merged with
    /// another in the period.
    fn conflicts(
        &mut self,
        conn: &mut DbConn,
        from: NaiveDate,
        to: NaiveDate,
        emit: Emit<'_>,
    ) -> Result<(), ListError> {
        for (a, b) in reads::overlapping_episodes(conn, &self.insurer, from, to)? {
            let (a, b) = (reads::episode(conn, a)?, reads::episode(conn, b)?);
            let s = reads::snapshot(conn, a.person_id, None)?;
            let Some(data) = person_data(&s, None) else {
                continue;
            };
            let other = data.clone();
            emit(Record::Conflict(Box::new(Conflict {
                id: a.person_id,
                reason: conflict_reason::TWO_INSURERS,
                data,
                insurance: self.ins(conn, a)?,
                other,
                other_insurance: Some(self.ins(conn, b)?),
            })))?;
        }
        let mut groups: Vec<(u16, Vec<i64>)> = Vec::new();
        for persons in reads::shared_snils_groups(conn)? {
            groups.push((conflict_reason::SHARED_SNILS, persons));
        }
        for persons in reads::shared_document_groups(conn)? {
            groups.push((conflict_reason::SHARED_DOCUMENT, persons));
        }
        // The groups' persons are read a slice at a time, one statement per table for the
        // slice (a read per person took most of the list's time at 1,000,000 persons), so
        // memory holds one slice of snapshots whatever the count of groups.
        let mut start = 0;
        while start < groups.len() {
            let mut end = start;
            let mut persons: Vec<i64> = Vec::new();
            while end < groups.len() && (end == start || persons.len() < SNAPSHOT_SLICE) {
                persons.extend_from_slice(&groups[end].1);
                end += 1;
            }
            persons.sort_unstable();
            persons.dedup();
            let snapshots = reads::current_snapshots(conn, &persons)?;
            let merged = reads::merged_away(conn, &persons)?;
            for (reason, persons) in &groups[start..end] {
                let mut survivors = Vec::with_capacity(persons.len());
                for &p in persons {
                    survivors.push(if merged.contains(&p) {
                        matching::survivor(conn, p, None)?
                    } else {
                        p
                    });
                }
                for (i, &p) in persons.iter().enumerate() {
                    for (j, &q) in persons.iter().enumerate() {
                        // Persons merged into one are one person (their merge is listed as such).
                        if i == j || survivors[i] == survivors[j] {
                            continue;
                        }
                        let (Some(ps), Some(qs)) = (snapshots.get(&p), snapshots.get(&q)) else {
                            continue;
                        };
                        if let Some(r) = self.side_of(conn, *reason, p, ps, qs, from, to)? {
                            emit(r)?;
                        }
                    }
                }
            }
            start = end;
        }
        for pair in matching::queued_pairs_insured_by(conn, &self.insurer, from, to)? {
            for (p, q) in [
                (pair.person_a, pair.person_b),
                (pair.person_b, pair.person_a),
            ] {
                let reason = conflict_reason::POSSIBLE_DUPLICATE;
                if let Some(r) = self.side(conn, reason, p, q, from, to)? {
                    emit(r)?;
                }
            }
        }
        for link in matching::links_recorded_in(conn, &self.insurer, from, to)? {
            let (gone, kept) = (link.gone_person, link.kept_person);
            for (reason, p, q) in [
                (conflict_reason::MERGED_AWAY, gone, kept),
                (conflict_reason::MERGED_IN, kept, gone),
            ] {
                if let Some(r) = self.side(conn, reason, p, q, from, to)? {
                    emit(r)?;
                }
            }
        }
        Ok(())
    }

    /// A CONFLICT of `reason` about person `p` and the other person `q`, when `p` is the
    /// insurer's person insured in the period: PERSON/DOC/INSURANCE are `p`'s (the insurer's
    /// episode), the `_CURR` blocks `q`'s latest data and episode.
    fn side(
        &mut self,
        conn: &mut DbConn,
        reason: u16,
        p: i64,
        q: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Record>, ListError> {
        let mine = repo::current_insurance(conn, p)?
            .iter()
            .any(|r| r.insurer_code == self.insurer && covers(r, from, to));
        if !mine {
            return Ok(None);
        }
        let (ps, qs) = (
            reads::snapshot(conn, p, None)?,
            reads::snapshot(conn, q, None)?,
        );
        self.side_of(conn, reason, p, &ps, &qs, from, to)
    }

    /// [`Self::side`] over what the register holds now about `p` (`ps`) and the other person
    /// (`qs`), read beforehand.
    #[expect(
        clippy::too_many_arguments,
        reason = "the pair, their snapshots and the period, as `side` takes them"
    )]
    fn side_of(
        &mut self,
        conn: &mut DbConn,
        reason: u16,
        p: i64,
        ps: &Snapshot,
        qs: &Snapshot,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Record>, ListError> {
        // `ps.insurance` is the person's current episodes by valid time, as
        // `repo::current_insurance` reads them.
        let mine = ps
            .insurance
            .iter()
            .rev()
            .find(|r| r.insurer_code == self.insurer && covers(r, from, to))
            .cloned();
        let Some(mine) = mine else { return Ok(None) };
        let Some(data) = person_data(ps, None) else {
            return Ok(None);
        };
        let Some(other) = person_data(qs, None) else {
            return Ok(None);
        };
        let other_insurance = match qs.insurance.last().cloned() {
            Some(row) => Some(self.ins(conn, row)?),
            None => None,
        };
        Ok(Some(Record::Conflict(Box::new(Conflict {
            id: p,
            reason,
            data,
            insurance: self.ins(conn, mine)?,
            other,
            other_insurance,
        }))))
    }
}

/// How many persons of the CONFLICTLIST's shared groups are read at once.
const SNAPSHOT_SLICE: usize = 500;

// ---- writing ----------------------------------------------------------------------------------

/// A quick-xml writer with the few calls the lists need.
struct Xml<W: Write>(Writer<W>);

impl<W: Write> Xml<W> {
    fn new(out: W) -> Self {
        Self(Writer::new_with_indent(out, b' ', 2))
    }

    fn decl(&mut self) -> io::Result<()> {
        self.0
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
    }

    fn open(&mut self, name: &str) -> io::Result<()> {
        self.0.write_event(Event::Start(BytesStart::new(name)))
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.0.write_event(Event::End(BytesEnd::new(name)))
    }

    fn el(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.0
            .create_element(name)
            .write_text_content(BytesText::new(value))?;
        Ok(())
    }

    fn opt(&mut self, name: &str, value: Option<&str>) -> io::Result<()> {
        match value {
            Some(v) => self.el(name, v),
            None => Ok(()),
        }
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The records of a list, written as they are found into an unnamed temporary file, so a list
/// of any length takes the memory of one record; the header, which counts them, is written
/// afterwards by [`assemble`].
struct Body {
    xml: Xml<BufWriter<File>>,
    /// Bytes of the opening root tag the body starts with (written only to indent the
    /// records as the whole file indents them; skipped by [`assemble`]).
    skip: u64,
    records: usize,
}

impl Body {
    fn new(kind: ListKind, dir: &Path) -> io::Result<Self> {
        let mut xml = Xml::new(BufWriter::new(tempfile::tempfile_in(dir)?));
        xml.open(kind.root())?;
        Ok(Self {
            xml,
            skip: u64::try_from(kind.root().len() + 2).unwrap_or(u64::MAX),
            records: 0,
        })
    }

    fn push(&mut self, record: &Record) -> io::Result<()> {
        self.records += 1;
        match record {
            Record::Rec(r) => write_rec(&mut self.xml, r),
            Record::Stop(s) => write_stop(&mut self.xml, s),
            Record::Conflict(c) => write_conflict(&mut self.xml, c),
        }
    }

    /// The file of the records, at their first byte.
    fn into_records(self) -> io::Result<File> {
        let mut file = self
            .xml
            .0
            .into_inner()
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(self.skip))?;
        Ok(file)
    }
}

/// The list's file: the declaration, the header with the number of records, the records of
/// `body`, the end.
fn assemble(
    kind: ListKind,
    insurer: &str,
    file_name: &str,
    from: NaiveDate,
    to: NaiveDate,
    body: Body,
    out: &mut File,
) -> io::Result<()> {
    let records = body.records;
    let mut records_file = body.into_records()?;
    let mut x = Xml::new(BufWriter::new(out));
    x.decl()?;
    x.open(kind.root())?;
    if kind == ListKind::Reclist {
        x.el("VERS", "2.0")?;
    }
    x.el("FILENAME", &fit(file_name, 100))?;
    x.el("SMOCOD", insurer)?;
    match kind {
        ListKind::Reclist => {
            x.el("START_DATE", &date(from))?;
            x.el("END_DATE", &date(to))?;
        }
        // The lists are the fund's: PRZCOD (the issuing point) is the insurer's code.
        ListKind::Stoplist | ListKind::Conflictlist => x.el("PRZCOD", insurer)?,
    }
    x.el("NRECORDS", &records.to_string())?;
    io::copy(&mut records_file, x.0.get_mut())?;
    x.close(kind.root())?;
    let mut w = x.0.into_inner();
    w.write_all(b"\n")?;
    w.flush()
}

fn write_rec<W: Write>(x: &mut Xml<W>, r: &Rec) -> io::Result<()> {
    x.open("REC")?;
    x.el("ID", &r.id.to_string())?;
    x.el("TIP_OP", &r.tip_op.to_string())?;
    x.el("IS_ACTIVE", if r.active { "1" } else { "0" })?;
    x.el(
        "CHANGE_DATE",
        &r.change.format("%Y-%m-%dT%H:%M:%S").to_string(),
    )?;
    x.el("STATE_BEGIN_DATE", &date(r.state_begin))?;
    x.opt("STATE_END_DATE", r.state_end.map(date).as_deref())?;
    x.el("OPER", &fit(&r.oper, 100))?;
    write_person(x, "PERSON", &r.data.person)?;
    write_doc(x, "DOC", &r.data.doc)?;
    write_address(x, "ADDRES_G", r.registration.as_ref())?;
    if let Some(a) = &r.actual {
        write_address(x, "ADDRES_P", Some(a))?;
    }
    write_insurance(x, "INSURANCE", &r.insurance)?;
    for a in &r.attachments {
        x.open("ATTACHMENT")?;
        x.el("ID_LPU", &a.lpu_id.to_string())?;
        x.el("ID_ZTYPE", &a.kind.to_string())?;
        x.close("ATTACHMENT")?;
    }
    x.close("REC")
}

fn write_stop<W: Write>(x: &mut Xml<W>, s: &Stop) -> io::Result<()> {
    x.open("STOP")?;
    x.el("ID", &s.id.to_string())?;
    x.el("REASON", &s.reason.to_string())?;
    x.el("ENP", &s.enp)?;
    write_polis(x, &s.insurance.row)?;
    write_insurance(x, "INSURANCE", &s.insurance)?;
    write_person(x, "PERSON", &s.then.person)?;
    write_doc(x, "DOC", &s.then.doc)?;
    write_person(x, "PERSON_CURR", &s.current.person)?;
    write_doc(x, "DOC_CURR", &s.current.doc)?;
    x.close("STOP")
}

fn write_conflict<W: Write>(x: &mut Xml<W>, c: &Conflict) -> io::Result<()> {
    x.open("CONFLICT")?;
    x.el("ID", &c.id.to_string())?;
    x.el("REASON", &c.reason.to_string())?;
    write_person(x, "PERSON", &c.data.person)?;
    write_doc(x, "DOC", &c.data.doc)?;
    write_insurance(x, "INSURANCE", &c.insurance)?;
    write_person(x, "PERSON_CURR", &c.other.person)?;
    write_doc(x, "DOC_CURR", &c.other.doc)?;
    if let Some(i) = &c.other_insurance {
        write_insurance(x, "INSURANCE_CURR", i)?;
    }
    x.close("CONFLICT")
}

fn write_person<W: Write>(x: &mut Xml<W>, name: &str, p: &PersonVersionRow) -> io::Result<()> {
    x.open(name)?;
    x.el("FAM", &fit(&p.fam, 40))?;
    x.el("IM", &fit(p.im.as_deref().unwrap_or(""), 40))?;
    x.opt("OT", p.ot.as_deref().map(|o| fit(o, 40)).as_deref())?;
    x.el("W", &p.sex.to_string())?;
    x.el("DR", &date(p.birth_date))?;
    x.el("TRUE_DR", &p.birth_accuracy.to_string())?;
    x.opt("C_OKSM", p.citizenship.as_deref())?;
    // SNILS as the lists write it: NNN-NNN-NNN NN.
    let snils = p
        .snils
        .as_deref()
        .map(|s| Snils::parse(s).map_or_else(|_| s.to_owned(), |v| v.to_string()));
    x.opt("SS", snils.as_deref())?;
    x.opt("DDEATH", p.death_date.map(date).as_deref())?;
    x.close(name)
}

fn write_doc<W: Write>(x: &mut Xml<W>, name: &str, d: &DocumentRow) -> io::Result<()> {
    x.open(name)?;
    x.el("DOCTYPE", &d.doctype.to_string())?;
    x.opt("DOCSER", d.docser.as_deref().map(|s| fit(s, 10)).as_deref())?;
    x.el("DOCNUM", &fit(&d.docnum, 20))?;
    x.el("DOCDATE", &date(d.docdate))?;
    x.opt("DOCEXP", d.docexp.map(date).as_deref())?;
    x.opt(
        "NAME_VP",
        d.issuer.as_deref().map(|s| fit(s, 1000)).as_deref(),
    )?;
    x.close(name)
}

fn write_address<W: Write>(x: &mut Xml<W>, name: &str, a: Option<&AddressRow>) -> io::Result<()> {
    x.open(name)?;
    if let Some(a) = a {
        x.el("BOMG", if a.homeless == 0 { "0" } else { "1" })?;
        x.opt("INDX", a.postcode.as_deref().map(|s| fit(s, 6)).as_deref())?;
        x.opt("OKATO", a.okato.as_deref().map(|s| fit(s, 11)).as_deref())?;
        x.el("DREG", &date(a.valid_from))?;
        x.opt(
            "UNSTRUCT_ADDRESS",
            a.text.as_deref().map(|s| fit(s, 1000)).as_deref(),
        )?;
    }
    x.close(name)
}

fn write_polis<W: Write>(x: &mut Xml<W>, e: &InsuranceRow) -> io::Result<()> {
    x.open("POLIS")?;
    x.el("VPOLIS", &e.policy_kind)?;
    x.el("NPOLIS", &fit(e.policy_number.as_deref().unwrap_or(""), 20))?;
    x.opt(
        "SPOLIS",
        e.policy_series.as_deref().map(|s| fit(s, 10)).as_deref(),
    )?;
    x.el("DBEG", &date(e.start_date))?;
    x.opt("DEND", e.planned_end.map(date).as_deref())?;
    x.opt("DSTOP", e.stop_date.map(date).as_deref())?;
    x.close("POLIS")
}

fn write_insurance<W: Write>(x: &mut Xml<W>, name: &str, i: &Ins) -> io::Result<()> {
    x.open(name)?;
    x.el("TER_ST", &fit(i.row.territory.as_deref().unwrap_or(""), 5))?;
    x.el("ENP", &i.row.enp)?;
    x.el("OGRNSMO", &i.ogrn)?;
    write_polis(x, &i.row)?;
    x.close(name)
}
