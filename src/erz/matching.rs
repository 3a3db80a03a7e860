//! Duplicate matching in the register of insured persons (issue 8, point 4; HAPI MDM and
//! `OpenCR` in anchors.md are the models): candidate pairs found by **blocking** over the
//! current data of every person, **scored** with string similarity (`strsim`'s Jaro-Winkler on
//! the normalised names) and agreement of birth date, sex, SNILS and document, then sorted:
//! a `sure` match is linked automatically (merged), a `possible` one waits in the review queue
//! (`erz::review`).
//!
//! Blocking keys (a pair is compared when it shares one):
//! - `birth_fam`: birth date + the first two letters of the family name + the first letter of
//!   the given name (a typo past the second letter, or a feminine ending, stays in the block);
//! - `birth_given`: birth date + given name + patronymic (a changed family name stays);
//! - `snils`: the same SNILS; `document`: the same document type, series and number.
//!
//! Rules that make reviewers' work stick: a pair with a reviewer's decision is never scored
//! again nor linked by the engine (only its `last_seen_at` moves); the engine links a pair at
//! most once (after an unmerge only a person links it again); a person merged into another is
//! not matched further. Memory is bounded per block: persons are read a few birth dates at a
//! time, shared SNILS and documents a page at a time; a block larger than `max_block` (a
//! degenerate key) is skipped and counted, and then no pair is marked `dropped` in that run.
//!
//! [`run`] goes over the whole register: `omshub erz match`, the API and the nightly job
//! (`jobs`). [`run_for`] matches only the persons one applied OPLIST touched, against the whole
//! register: `erz::apply` runs it after each applied file, so a duplicate registered by an
//! insurer waits in the review queue (or is linked) at once, not the next night, as HAPI MDM
//! matches on each create or update. Writes through `erz::repo::matching` only.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::names::normalise;
use super::repo::matching::{self as repo, NewLink, PairScoring};
use super::repo::{DocumentRow, PersonVersionRow};
use crate::db::DbConn;
use crate::imports::Progress;

/// Default score (thousandths) from which a pair that also shares an identifier is `sure`.
pub const DEFAULT_SURE: u16 = 900;
/// Default score (thousandths) from which a pair is `possible`.
pub const DEFAULT_POSSIBLE: u16 = 850;
/// Default largest block compared (pairs grow with its square).
pub const DEFAULT_MAX_BLOCK: usize = 500;
/// Birth dates read at once.
const DATES_PER_CHUNK: i64 = 32;
/// Shared SNILS or documents read at once.
const KEYS_PER_PAGE: i64 = 500;

/// Field weights of the score (out of 100 when every field is compared).
const W_FAM: u32 = 30;
const W_IM: u32 = 20;
const W_OT: u32 = 10;
const W_BIRTH: u32 = 20;
const W_SEX: u32 = 5;
const W_SNILS: u32 = 10;
const W_DOC: u32 = 5;

/// The two thresholds, in thousandths of the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `sure` from this score when an identifier (SNILS or document) agrees and no SNILS
    /// disagrees.
    pub sure: u16,
    /// `possible` from this score (or whenever an identifier agrees).
    pub possible: u16,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            sure: DEFAULT_SURE,
            possible: DEFAULT_POSSIBLE,
        }
    }
}

impl Thresholds {
    /// Checks `0 < possible <= sure <= 1000`.
    pub fn new(sure: u16, possible: u16) -> Result<Self, String> {
        if possible == 0 || possible > sure || sure > 1000 {
            return Err(format!(
                "thresholds must satisfy 0 < possible <= sure <= 1 (got possible {}, sure {})",
                share(possible),
                share(sure)
            ));
        }
        Ok(Self { sure, possible })
    }
}

/// Reads a share written `0.9`, `0.875`, `1` (at most three decimals) as thousandths.
pub fn parse_share(text: &str) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a number between 0 and 1 with at most 3 decimals");
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 3
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u16 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction: u16 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
    let value = whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)?;
    if value > 1000 {
        return Err(bad());
    }
    Ok(value)
}

/// Thousandths written as a share: `925` → `0.925`.
#[must_use]
pub fn share(thousandths: u16) -> String {
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

/// A document as compared: type, and series and number with only letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocKey {
    /// F011 type.
    pub doctype: i32,
    /// Series, compacted.
    pub series: String,
    /// Number, compacted.
    pub number: String,
}

/// One person as matching sees them: the current data, normalised.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `erz_person.id`.
    pub person: i64,
    /// Family name, normalised.
    pub fam: String,
    /// Given name, normalised.
    pub im: Option<String>,
    /// Patronymic, normalised.
    pub ot: Option<String>,
    /// 1 male, 2 female.
    pub sex: i32,
    /// Birth date.
    pub birth: NaiveDate,
    /// SNILS digits.
    pub snils: Option<String>,
    /// The current document.
    pub document: Option<DocKey>,
}

fn compact(text: Option<&str>) -> String {
    normalise(text).unwrap_or_default().replace(' ', "")
}

impl Candidate {
    /// From a person's open version and current document.
    #[must_use]
    pub fn new(v: &PersonVersionRow, d: Option<&DocumentRow>) -> Self {
        Self {
            person: v.person_id,
            fam: normalise(Some(&v.fam)).unwrap_or_default(),
            im: normalise(v.im.as_deref()),
            ot: normalise(v.ot.as_deref()),
            sex: v.sex,
            birth: v.birth_date,
            snils: v.snils.clone().filter(|s| !s.is_empty()),
            document: d.map(|d| DocKey {
                doctype: d.doctype,
                series: compact(d.docser.as_deref()),
                number: compact(Some(&d.docnum)),
            }),
        }
    }

    fn birth_fam(&self) -> (NaiveDate, String, String) {
        (
            self.birth,
            self.fam.chars().take(2).collect(),
            self.im
                .as_deref()
                .and_then(|i| i.chars().next())
                .map(String::from)
                .unwrap_or_default(),
        )
    }

    fn birth_given(&self) -> Option<(NaiveDate, String, String)> {
        Some((
            self.birth,
            self.im.clone()?,
            self.ot.clone().unwrap_or_default(),
        ))
    }
}

/// Per-field scores in thousandths; `None`: not compared (one side lacks the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldScores {
    /// Jaro-Winkler of the family names.
    pub fam: u16,
    /// Jaro-Winkler of the given names.
    pub im: Option<u16>,
    /// Jaro-Winkler of the patronymics.
    pub ot: Option<u16>,
    /// 1000 the same date, 500 one of day, month, year different (or day and month swapped),
    /// 0 otherwise.
    pub birth: u16,
    /// 1000 the same sex, 0 not.
    pub sex: u16,
    /// 1000 the same SNILS, 0 different.
    pub snils: Option<u16>,
    /// 1000 the same series and number of documents of one type, 0 different.
    pub document: Option<u16>,
}

/// A pair scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoring {
    /// The weighted mean of the compared fields, thousandths.
    pub score: u16,
    /// Each field.
    pub fields: FieldScores,
    /// The blocking keys the two share.
    pub keys: Vec<&'static str>,
}

impl Scoring {
    /// An identifier (SNILS or document) agrees.
    #[must_use]
    pub fn identifier_agrees(&self) -> bool {
        self.fields.snils == Some(1000) || self.fields.document == Some(1000)
    }

    /// The SNILS of both are known and differ.
    #[must_use]
    pub fn snils_conflict(&self) -> bool {
        self.fields.snils == Some(0)
    }
}

/// Where a scored pair goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// To the review queue.
    Possible,
    /// Linked automatically.
    Sure,
}

impl State {
    /// As stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Possible => "possible",
            Self::Sure => "sure",
        }
    }
}

#[expect(
    clippy::float_arithmetic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "strsim answers a similarity in [0, 1] as f64; it is turned into thousandths once, here"
)]
fn thousandths(similarity: f64) -> u16 {
    (similarity.clamp(0.0, 1.0) * 1000.0).round() as u16
}

fn jaro_winkler(a: &str, b: &str) -> u16 {
    thousandths(strsim::jaro_winkler(a, b))
}

fn birth_agreement(a: NaiveDate, b: NaiveDate) -> u16 {
    if a == b {
        return 1000;
    }
    let differ = [
        a.year() != b.year(),
        a.month() != b.month(),
        a.day() != b.day(),
    ]
    .into_iter()
    .filter(|d| *d)
    .count();
    let swapped = a.year() == b.year() && a.month() == b.day() && a.day() == b.month();
    if differ == 1 || swapped { 500 } else { 0 }
}

/// Scores the pair `a`, `b` (see the module text and docs/ERZ.md for the weights).
#[must_use]
pub fn score(a: &Candidate, b: &Candidate) -> Scoring {
    let both = |x: Option<&String>, y: Option<&String>| Some(jaro_winkler(x?, y?));
    let fields = FieldScores {
        fam: jaro_winkler(&a.fam, &b.fam),
        im: both(a.im.as_ref(), b.im.as_ref()),
        ot: both(a.ot.as_ref(), b.ot.as_ref()),
        birth: birth_agreement(a.birth, b.birth),
        sex: if a.sex == b.sex { 1000 } else { 0 },
        snils: match (&a.snils, &b.snils) {
            (Some(x), Some(y)) => Some(if x == y { 1000 } else { 0 }),
            _ => None,
        },
        document: match (&a.document, &b.document) {
            (Some(x), Some(y)) if x.doctype == y.doctype => {
                Some(if x.number == y.number && x.series == y.series {
                    1000
                } else {
                    0
                })
            }
            _ => None,
        },
    };
    let parts = [
        (W_FAM, Some(fields.fam)),
        (W_IM, fields.im),
        (W_OT, fields.ot),
        (W_BIRTH, Some(fields.birth)),
        (W_SEX, Some(fields.sex)),
        (W_SNILS, fields.snils),
        (W_DOC, fields.document),
    ];
    let (sum, weights) = parts
        .iter()
        .filter_map(|(w, s)| s.map(|s| (w * u32::from(s), *w)))
        .fold((0, 0), |(s, w), (x, y)| (s + x, w + y));
    // Rounded to the nearest thousandth; the weights of family name, birth date and sex are
    // always counted, so `weights` is never 0.
    let score = u16::try_from((sum + weights / 2) / weights.max(1)).unwrap_or(1000);
    let mut keys = Vec::new();
    if a.birth_fam() == b.birth_fam() {
        keys.push("birth_fam");
    }
    if a.birth_given().is_some() && a.birth_given() == b.birth_given() {
        keys.push("birth_given");
    }
    if a.snils.is_some() && a.snils == b.snils {
        keys.push("snils");
    }
    if a.document.is_some() && a.document == b.document {
        keys.push("document");
    }
    Scoring {
        score,
        fields,
        keys,
    }
}

/// Where a scoring goes under `t`: `sure` needs the score, an agreeing identifier and no
/// conflicting SNILS; `possible` needs the score or an agreeing identifier (two persons
/// sharing a SNILS or a document always deserve a look); `None`: not a candidate.
#[must_use]
pub fn classify(s: &Scoring, t: Thresholds) -> Option<State> {
    if s.score >= t.sure && s.identifier_agrees() && !s.snils_conflict() {
        Some(State::Sure)
    } else if s.score >= t.possible || s.identifier_agrees() {
        Some(State::Possible)
    } else {
        None
    }
}

/// How a run goes.
pub struct Options<'a> {
    /// The thresholds.
    pub thresholds: Thresholds,
    /// Blocks larger than this are skipped (and counted).
    pub max_block: usize,
    /// The time of the run: `found_at`, `last_seen_at`, `recorded_at` of automatic links.
    pub now: NaiveDateTime,
    /// A progress bar over the persons, for the command line.
    pub progress: Option<&'a Progress>,
}

impl Options<'_> {
    /// The defaults, at `now`, without a progress bar.
    #[must_use]
    pub fn at(now: NaiveDateTime) -> Options<'static> {
        Options {
            thresholds: Thresholds::default(),
            max_block: DEFAULT_MAX_BLOCK,
            now,
            progress: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Persons with current data.
    pub persons: i64,
    /// Blocks compared.
    pub blocks: u64,
    /// Blocks skipped as larger than `max_block`.
    pub oversized_blocks: u64,
    /// Pairs compared (a pair sharing several keys is counted once per block).
    pub comparisons: u64,
    /// Pairs found for the first time.
    pub new_pairs: u64,
    /// Undecided pairs scored `possible` in this run.
    pub possible: u64,
    /// Undecided pairs scored `sure` in this run.
    pub sure: u64,
    /// Links made automatically.
    pub linked: u64,
    /// Pairs seen that a reviewer has decided (left as they are).
    pub decided: u64,
    /// Pairs no longer found (or no longer scoring) marked `dropped`.
    pub dropped: u64,
}

/// Runs matching over the whole register at `options.now`.
pub fn run(conn: &mut DbConn, options: &Options<'_>) -> QueryResult<Summary> {
    let mut engine = Engine {
        options,
        summary: Summary {
            persons: repo::open_person_count(conn)?,
            ..Summary::default()
        },
        only: None,
    };
    if let Some(p) = options.progress {
        p.set_length(usize::try_from(engine.summary.persons).unwrap_or(usize::MAX));
    }
    engine.by_birth(conn)?;
    engine.by_snils(conn)?;
    engine.by_document(conn)?;
    if engine.summary.oversized_blocks == 0 {
        engine.summary.dropped =
            u64::try_from(repo::drop_unseen(conn, options.now)?).unwrap_or(u64::MAX);
    }
    Ok(engine.summary)
}

/// Runs matching at `options.now` for `persons` only: each of them is compared with the
/// persons of every block it falls in (its birth date and names, its SNILS, its document), by
/// the same scores and rules as [`run`]; pairs of two other persons are left to the full run.
/// A person without open data now (annulled), or merged into another, is not matched. No pair
/// is marked `dropped` (only a full run sees every pair). `summary.persons` counts the persons
/// matched.
pub fn run_for(conn: &mut DbConn, persons: &[i64], options: &Options<'_>) -> QueryResult<Summary> {
    let mut engine = Engine {
        options,
        summary: Summary::default(),
        only: Some(persons.iter().copied().collect()),
    };
    let mut dates = BTreeSet::new();
    let mut snils = BTreeSet::new();
    let mut documents = BTreeSet::new();
    let versions = repo::open_versions_of(conn, persons)?;
    let (candidates, mut document_rows) = Engine::candidates_and_documents(conn, &versions)?;
    for c in candidates {
        engine.summary.persons += 1;
        dates.insert(c.birth);
        snils.extend(c.snils);
        if let Some(d) = document_rows.remove(&c.person) {
            documents.insert((d.doctype, d.docnum));
        }
    }
    if let Some(p) = options.progress {
        p.set_length(dates.len() + snils.len() + documents.len());
    }
    for date in dates {
        let versions = repo::open_versions_born(conn, date, date)?;
        engine.birth_blocks(conn, &versions)?;
        engine.tick();
    }
    for key in snils {
        engine.snils_block(conn, &key)?;
        engine.tick();
    }
    for (doctype, docnum) in documents {
        engine.document_blocks(conn, doctype, &docnum)?;
        engine.tick();
    }
    Ok(engine.summary)
}

struct Engine<'a, 'b> {
    options: &'a Options<'b>,
    summary: Summary,
    /// [`run_for`]: only pairs with one of these persons are compared.
    only: Option<HashSet<i64>>,
}

impl Engine<'_, '_> {
    /// Candidates of `versions` (one open version per person), without persons merged into
    /// another.
    fn candidates(conn: &mut DbConn, versions: &[PersonVersionRow]) -> QueryResult<Vec<Candidate>> {
        Ok(Self::candidates_and_documents(conn, versions)?.0)
    }

    /// [`Self::candidates`], and the current document of each person of `versions` by person.
    fn candidates_and_documents(
        conn: &mut DbConn,
        versions: &[PersonVersionRow],
    ) -> QueryResult<(Vec<Candidate>, HashMap<i64, DocumentRow>)> {
        let ids: Vec<i64> = versions.iter().map(|v| v.person_id).collect();
        let gone = repo::gone_now(conn, &ids)?;
        let mut documents: HashMap<i64, DocumentRow> = HashMap::new();
        for d in repo::open_documents_of(conn, &ids)? {
            documents.insert(d.person_id, d);
        }
        let candidates = versions
            .iter()
            .filter(|v| !gone.contains(&v.person_id))
            .map(|v| Candidate::new(v, documents.get(&v.person_id)))
            .collect();
        Ok((candidates, documents))
    }

    fn by_birth(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        let mut after = None;
        loop {
            let dates = repo::open_birth_dates_after(conn, after, DATES_PER_CHUNK)?;
            let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
                return Ok(());
            };
            after = Some(*last);
            let versions = repo::open_versions_born(conn, *first, *last)?;
            self.birth_blocks(conn, &versions)?;
            if let Some(p) = self.options.progress {
                for _ in &versions {
                    p.inc();
                }
            }
        }
    }

    fn by_snils(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        let mut after = String::new();
        loop {
            let page = repo::shared_snils_after(conn, &after, KEYS_PER_PAGE)?;
            if page.is_empty() {
                return Ok(());
            }
            for snils in page.into_iter().flatten() {
                self.snils_block(conn, &snils)?;
                after = snils;
            }
        }
    }

    fn by_document(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        let mut after = (i32::MIN, String::new());
        loop {
            let page = repo::shared_documents_after(conn, (after.0, &after.1), KEYS_PER_PAGE)?;
            if page.is_empty() {
                return Ok(());
            }
            for (doctype, docnum) in page {
                self.document_blocks(conn, doctype, &docnum)?;
                after = (doctype, docnum);
            }
        }
    }

    /// The blocks by birth date and names of `versions` (every open version born on some
    /// dates), each compared.
    fn birth_blocks(
        &mut self,
        conn: &mut DbConn,
        versions: &[PersonVersionRow],
    ) -> QueryResult<()> {
        let candidates = Self::candidates(conn, versions)?;
        let mut blocks: HashMap<(&'static str, NaiveDate, String, String), Vec<&Candidate>> =
            HashMap::new();
        for c in &candidates {
            let (d, f, i) = c.birth_fam();
            blocks.entry(("birth_fam", d, f, i)).or_default().push(c);
            if let Some((d, i, o)) = c.birth_given() {
                blocks.entry(("birth_given", d, i, o)).or_default().push(c);
            }
        }
        for members in blocks.values() {
            self.block(conn, members)?;
        }
        Ok(())
    }

    /// The block of the persons whose open version carries `snils`, compared.
    fn snils_block(&mut self, conn: &mut DbConn, snils: &str) -> QueryResult<()> {
        let persons = repo::open_persons_with_snils(conn, snils)?;
        let versions = repo::open_versions_of(conn, &persons)?;
        let candidates = Self::candidates(conn, &versions)?;
        let members: Vec<&Candidate> = candidates.iter().collect();
        self.block(conn, &members)
    }

    /// The blocks of the persons whose open document is of `doctype` with number `docnum`
    /// (one per series and number as compacted), each compared.
    fn document_blocks(
        &mut self,
        conn: &mut DbConn,
        doctype: i32,
        docnum: &str,
    ) -> QueryResult<()> {
        let persons = repo::open_persons_with_document(conn, doctype, docnum)?;
        let versions = repo::open_versions_of(conn, &persons)?;
        let candidates = Self::candidates(conn, &versions)?;
        let mut blocks: HashMap<&DocKey, Vec<&Candidate>> = HashMap::new();
        for c in &candidates {
            if let Some(d) = &c.document {
                blocks.entry(d).or_default().push(c);
            }
        }
        for members in blocks.values() {
            self.block(conn, members)?;
        }
        Ok(())
    }

    /// One step of [`run_for`]'s progress bar.
    fn tick(&self) {
        if let Some(p) = self.options.progress {
            p.inc();
        }
    }

    /// Whether pairs with `person` are compared in this run: always in a full run, only for
    /// the persons of [`run_for`] otherwise.
    fn concerns(&self, person: i64) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&person))
    }

    /// Compares every pair of one block, in one transaction.
    fn block(&mut self, conn: &mut DbConn, members: &[&Candidate]) -> QueryResult<()> {
        if members.len() < 2 || !members.iter().any(|m| self.concerns(m.person)) {
            return Ok(());
        }
        if members.len() > self.options.max_block {
            self.summary.oversized_blocks += 1;
            return Ok(());
        }
        self.summary.blocks += 1;
        conn.transaction(|conn| {
            for (i, x) in members.iter().enumerate() {
                for y in &members[i + 1..] {
                    self.pair(conn, x, y)?;
                }
            }
            Ok(())
        })
    }

    fn pair(&mut self, conn: &mut DbConn, one: &Candidate, other: &Candidate) -> QueryResult<()> {
        let (a, b) = if one.person < other.person {
            (one, other)
        } else {
            (other, one)
        };
        if a.person == b.person || !(self.concerns(a.person) || self.concerns(b.person)) {
            return Ok(());
        }
        self.summary.comparisons += 1;
        let now = self.options.now;
        let existing = repo::pair_of(conn, a.person, b.person)?;
        if existing.as_ref().is_some_and(|p| p.last_seen_at == now) {
            return Ok(()); // already handled in this run, through another key
        }
        let scoring = score(a, b);
        let state = classify(&scoring, self.options.thresholds);
        if existing.is_none() && state.is_none() {
            return Ok(());
        }
        // A person merged earlier in this run is not matched further.
        if !repo::gone_now(conn, &[a.person, b.person])?.is_empty() {
            return Ok(());
        }
        let row = stored(&scoring, state, now);
        let id = match existing {
            None => {
                self.summary.new_pairs += 1;
                repo::insert_pair(conn, a.person, b.person, &row)?
            }
            Some(found) => {
                if repo::decision_of(conn, found.id)?.is_some() {
                    // A reviewer decided: the engine neither scores nor links it again.
                    self.summary.decided += 1;
                    return repo::touch_pair(conn, found.id, now);
                }
                repo::rescore_pair(conn, found.id, &row)?;
                found.id
            }
        };
        match state {
            Some(State::Possible) => self.summary.possible += 1,
            Some(State::Sure) => {
                self.summary.sure += 1;
                self.link(conn, id, a.person, b.person)?;
            }
            None => {}
        }
        Ok(())
    }

    /// Links a sure pair: the person registered later (`b`) answers as the earlier (`a`);
    /// never a pair linked before (an unmerge stands until a person links it again).
    fn link(&mut self, conn: &mut DbConn, pair_id: i64, a: i64, b: i64) -> QueryResult<()> {
        if repo::ever_linked(conn, a, b)? {
            return Ok(());
        }
        let made = repo::insert_link(
            conn,
            &NewLink {
                gone_person: b,
                kept_person: a,
                pair_id: Some(pair_id),
                why: "auto".into(),
                recorded_by: "matching".into(),
                recorded_at: self.options.now,
                comment: None,
            },
        )?;
        if made.is_some() {
            self.summary.linked += 1;
        }
        Ok(())
    }
}

fn stored(s: &Scoring, state: Option<State>, now: NaiveDateTime) -> PairScoring {
    let f = s.fields;
    let int = |x: Option<u16>| x.map(i32::from);
    PairScoring {
        score: i32::from(s.score),
        keys: s.keys.join(","),
        fam_score: Some(i32::from(f.fam)),
        im_score: int(f.im),
        ot_score: int(f.ot),
        birth_score: Some(i32::from(f.birth)),
        sex_score: Some(i32::from(f.sex)),
        snils_score: int(f.snils),
        doc_score: int(f.document),
        state: state.map_or("dropped", State::as_str).to_owned(),
        last_seen_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(
        id: i64,
        fam: &str,
        im: &str,
        ot: Option<&str>,
        birth: &str,
        snils: Option<&str>,
        doc: Option<(i32, &str, &str)>,
    ) -> Candidate {
        Candidate {
            person: id,
            fam: normalise(Some(fam)).unwrap(),
            im: normalise(Some(im)),
            ot: normalise(ot),
            sex: 2,
            birth: birth.parse().unwrap(),
            snils: snils.map(str::to_owned),
            document: doc.map(|(t, s, n)| DocKey {
                doctype: t,
                series: compact(Some(s)),
                number: compact(Some(n)),
            }),
        }
    }

    #[test]
    fn one_letter_off_without_identifiers_is_possible_never_sure() {
        let a = person(
            1,
            "Иванова",
            "Мария",
            Some("Петровна"),
            "1980-05-06",
            None,
            None,
        );
        let b = person(
            2,
            "Иванава",
            "Мария",
            Some("Петровна"),
            "1980-05-06",
            None,
            None,
        );
        let s = score(&a, &b);
        assert!(s.fields.fam < 1000 && s.fields.fam > 900, "{s:?}");
        assert!(s.score >= DEFAULT_SURE, "{s:?}");
        assert_eq!(s.keys, ["birth_fam", "birth_given"]);
        // High score, but no identifier agrees: a person must look.
        assert_eq!(classify(&s, Thresholds::default()), Some(State::Possible));
    }

    #[test]
    fn the_same_snils_names_and_birth_date_is_sure() {
        let a = person(
            1,
            "Иванова",
            "Мария",
            None,
            "1980-05-06",
            Some("11223344595"),
            None,
        );
        let b = person(
            2,
            "ИВАНОВА",
            "мария",
            None,
            "1980-05-06",
            Some("11223344595"),
            None,
        );
        let s = score(&a, &b);
        assert_eq!(s.score, 1000);
        assert_eq!(s.keys, ["birth_fam", "birth_given", "snils"]);
        assert_eq!(classify(&s, Thresholds::default()), Some(State::Sure));
        // One letter off: still sure by default, kept for review under a stricter threshold.
        let c = person(
            3,
            "Иванава",
            "Мария",
            None,
            "1980-05-06",
            Some("11223344595"),
            None,
        );
        let s = score(&a, &c);
        assert!(s.score > DEFAULT_SURE && s.score < 1000, "{s:?}");
        assert_eq!(classify(&s, Thresholds::default()), Some(State::Sure));
        let strict = Thresholds::new(s.score + 1, 850).unwrap();
        assert_eq!(classify(&s, strict), Some(State::Possible));
    }

    #[test]
    fn a_conflicting_snils_is_never_sure_and_a_shared_one_always_reviewed() {
        let a = person(
            1,
            "Иванова",
            "Мария",
            None,
            "1980-05-06",
            Some("11223344595"),
            Some((14, "18 01", "100001")),
        );
        let b = person(
            2,
            "Иванова",
            "Мария",
            None,
            "1980-05-06",
            Some("11223344596"),
            Some((14, "1801", "100001")),
        );
        let s = score(&a, &b);
        assert_eq!(
            s.fields.document,
            Some(1000),
            "series compared without spaces"
        );
        assert_eq!(s.fields.snils, Some(0));
        assert_ne!(classify(&s, Thresholds::default()), Some(State::Sure));
        // Same SNILS, everything else different: not sure, but reviewed.
        let c = person(
            3,
            "Петров",
            "Олег",
            None,
            "1960-01-01",
            Some("11223344595"),
            None,
        );
        let s = score(&a, &c);
        assert!(s.score < DEFAULT_POSSIBLE, "{s:?}");
        assert_eq!(classify(&s, Thresholds::default()), Some(State::Possible));
    }

    #[test]
    fn different_people_in_one_block_are_not_candidates() {
        let a = person(
            1,
            "Иванова",
            "Мария",
            Some("Петровна"),
            "1980-05-06",
            None,
            Some((14, "1801", "1")),
        );
        let b = person(
            2,
            "Ивченко",
            "Мирослава",
            Some("Олеговна"),
            "1980-05-06",
            None,
            Some((14, "1802", "2")),
        );
        let s = score(&a, &b);
        assert_eq!(s.keys, ["birth_fam"]);
        assert_eq!(classify(&s, Thresholds::default()), None, "{s:?}");
    }

    #[test]
    fn birth_dates_agree_in_part_on_one_typo_or_a_swap() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(birth_agreement(d("1980-05-06"), d("1980-05-06")), 1000);
        assert_eq!(birth_agreement(d("1980-05-06"), d("1981-05-06")), 500);
        assert_eq!(birth_agreement(d("1980-05-06"), d("1980-06-05")), 500);
        assert_eq!(birth_agreement(d("1980-05-06"), d("1979-06-07")), 0);
    }

    #[test]
    fn shares_parse_without_floating_point() {
        assert_eq!(parse_share("0.9"), Ok(900));
        assert_eq!(parse_share("0.875"), Ok(875));
        assert_eq!(parse_share("1"), Ok(1000));
        assert_eq!(parse_share(".85"), Ok(850));
        for bad in ["", ".", "1.5", "0.8755", "-0.1", "x", "2"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
        assert_eq!(share(925), "0.925");
        assert!(Thresholds::new(800, 900).is_err());
        assert!(Thresholds::new(900, 0).is_err());
    }
}
