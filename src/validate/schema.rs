//! The streaming schema check: quick-xml events from the decoding reader drive the compiled
//! tables of one XSD (`xml::tables`), record by record, in memory that does not grow with the
//! file (the element stack, one text buffer, quick-xml's buffer of one event, at most
//! `Limits::max_event`, and 8 bytes per key of the 905 checks).
//!
//! Every problem becomes a [`Finding`] with its F012 code, the element and its parent, the
//! record context (`N_ZAP`, `ID_PAC`, `IDCASE`, `SL_ID`, `IDSERV`), line and column; after a structural
//! error the element's subtree is skipped and the rest of the file is still checked. Not
//! well-formed XML ends the check with one finding at its position.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, BufRead, Read};

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::simple::{self, Patterns};
use super::{Context, Finding};
use crate::xml::reader::{ControlCharacter, DecodingReader, EncodingError};
use crate::xml::tables::{Content, ElemId, Schema};

/// Bounds of one check.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Findings kept; the rest are counted only.
    pub max_findings: usize,
    /// Longest text of one element, in bytes.
    pub max_text: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Parse on the calling thread and check on a second one (the same findings, in about
    /// the time of the parse alone); off, everything runs on the calling thread.
    pub pipelined: bool,
    /// Longest stretch quick-xml reads as one event (a text, a tag with its attributes, a
    /// comment), in bytes. quick-xml holds an event whole in memory, so past this the check
    /// stops with a fatal finding.
    pub max_event: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_findings: 10_000,
            max_text: 64 * 1024,
            max_depth: 64,
            pipelined: true,
            max_event: 256 * 1024,
        }
    }
}

/// What the check hands on as it passes, for the typed records of the business rules
/// (`validate::records`): the elements below the root that fit the schema, in document
/// order, each value already valid against its type. Elements of a subtree the check skips
/// (out of place, unknown) are not handed on; a record with findings says so in [`Sink::item`].
pub trait Sink: Send {
    /// An element starts; `depth` 1 is a child of the root.
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        let _ = (name, depth, line);
    }
    /// The text of an element with simple content that passed its type check (as written,
    /// not trimmed).
    fn value(&mut self, name: &'static str, value: &str) {
        let _ = (name, value);
    }
    /// An element ends.
    fn close(&mut self, name: &'static str, depth: usize) {
        let _ = (name, depth);
    }
    /// A child of the root ended (the header, the account, one record) after it was closed;
    /// `findings` were made inside it (a record with any is refused).
    fn item(&mut self, name: &'static str, findings: u64) {
        let _ = (name, findings);
    }
}

impl<T: Sink + ?Sized> Sink for &mut T {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        (**self).open(name, depth, line);
    }
    fn value(&mut self, name: &'static str, value: &str) {
        (**self).value(name, value);
    }
    fn close(&mut self, name: &'static str, depth: usize) {
        (**self).close(name, depth);
    }
    fn item(&mut self, name: &'static str, findings: u64) {
        (**self).item(name, findings);
    }
}

/// A sink that keeps nothing: the schema check alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl Sink for NoSink {}
/// An event longer than [`Limits::max_event`].
#[derive(Debug)]
struct EventTooLong(usize);

impl std::fmt::Display for EventTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a text, tag or comment longer than {} bytes; the check stops here",
            self.0
        )
    }
}

impl std::error::Error for EventTooLong {}

/// The decoding reader with a budget of bytes per quick-xml event, reset before each event:
/// quick-xml sees at most `left` more bytes, then an [`EventTooLong`] error.
struct Budgeted<R> {
    inner: DecodingReader<R>,
    max: usize,
    left: usize,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Budgeted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let (left, max) = (self.left, self.max);
        let available = self.inner.fill_buf()?;
        if left == 0 && !available.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                EventTooLong(max),
            ));
        }
        Ok(&available[..available.len().min(left)])
    }

    fn consume(&mut self, amt: usize) {
        self.left = self.left.saturating_sub(amt);
        self.inner.consume(amt);
    }
}

/// What the check of one file found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Records (ZAP, PERS, …) seen.
    pub records: u64,
    /// Records with at least one finding.
    pub refused_records: u64,
    /// The findings kept, in file order.
    pub findings: Vec<Finding>,
    /// Findings beyond `max_findings`, counted but not kept.
    pub findings_dropped: u64,
    /// `SCHET/NSCHET`, the account number, when the file has one.
    pub nschet: Option<String>,
    /// The file could not be read to its end (not well-formed, wrong encoding, a DTD); the
    /// last finding says where.
    pub fatal: bool,
}

/// The children of the root that repeat (ZAP, PERS, PR, REP, OP, …): each is one record.
/// Read from the root's automaton: a name is a record when the state its transition reaches
/// can take the same name again.
fn record_names(schema: &Schema) -> Vec<&'static str> {
    let Content::Complex(model) = schema.elements[usize::from(schema.root)].content else {
        return Vec::new();
    };
    let states = schema.models[usize::from(model)].states;
    let mut names = Vec::new();
    for state in states {
        for &(name, _, next) in state.transitions {
            let repeats = states[usize::from(next)]
                .transitions
                .iter()
                .any(|t| t.0 == name);
            if repeats && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// What an element means for the record context, read once per declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    None,
    NZap,
    IdPac,
    Idcase,
    SlId,
    Idserv,
    Nschet,
    /// `Z_SL` opens a case: its keys start empty.
    ZSl,
    /// `SL` opens an episode.
    Sl,
    /// `USL` opens a service.
    Usl,
}

fn key_of(name: &str) -> Key {
    match name {
        "N_ZAP" => Key::NZap,
        "ID_PAC" => Key::IdPac,
        "IDCASE" => Key::Idcase,
        "SL_ID" => Key::SlId,
        "IDSERV" => Key::Idserv,
        "NSCHET" => Key::Nschet,
        "Z_SL" => Key::ZSl,
        "SL" => Key::Sl,
        "USL" => Key::Usl,
        _ => Key::None,
    }
}

struct Frame {
    /// `None` while skipping a subtree that is not in the schema.
    decl: Option<ElemId>,
    /// The declaration's name; owned only for an element the schema does not know.
    name: Cow<'static, str>,
    key: Key,
    /// The automaton state (complex content) or the simple type (simple content).
    state: u16,
    simple: bool,
    /// Text the element cannot hold: longer than `max_text` in simple content, or not blank
    /// in element-only content.
    bad_text: bool,
    /// A child was out of place: the rest of this element's children are skipped without
    /// more 901 findings (one structural finding per element, as xmllint reports it).
    broken: bool,
    line: u64,
    column: u64,
}

/// Where a finding is: the element, its parent, line and column.
struct At {
    element: String,
    parent: Option<String>,
    line: u64,
    column: u64,
}

struct ActiveUnique {
    unique: usize,
    depth: usize,
    seen: HashSet<u64, foldhash::fast::FixedState>,
}

/// How a child element fits its parent.
enum Step {
    /// Declared there: its declaration and the parent's next state.
    Child(ElemId, u16),
    /// The root element.
    Root(ElemId),
    /// Inside a subtree already skipped: no finding.
    Skip,
    /// Not allowed there: a 901 finding with this message.
    Refuse(String),
}

struct Checker<'s, S> {
    sink: S,
    /// Findings made before the current child of the root opened.
    item_mark: u64,
    schema: &'s Schema,
    records: Vec<&'static str>,
    /// [`Key`] of each element declaration.
    keys: Vec<Key>,
    patterns: &'s Patterns,
    limits: Limits,
    stack: Vec<Frame>,
    /// Text of the innermost element with simple content (such an element has no declared
    /// children, so one buffer serves the whole file).
    text: String,
    uniques: Vec<ActiveUnique>,
    /// Emptied key sets, kept for the next scope (a case opens one per `Z_SL`).
    spare_sets: Vec<HashSet<u64, foldhash::fast::FixedState>>,
    context: Context,
    record_open: bool,
    record_refused: bool,
    out: Outcome,
    hasher: foldhash::fast::FixedState,
    seen_root: bool,
}

impl<'s, S: Sink> Checker<'s, S> {
    fn new(schema: &'s Schema, patterns: &'s Patterns, limits: Limits, sink: S) -> Self {
        Checker {
            sink,
            item_mark: 0,
            schema,
            records: record_names(schema),
            keys: schema.elements.iter().map(|e| key_of(e.name)).collect(),
            patterns,
            limits,
            stack: Vec::with_capacity(16),
            text: String::with_capacity(256),
            uniques: Vec::new(),
            spare_sets: Vec::new(),
            context: Context::default(),
            record_open: false,
            record_refused: false,
            out: Outcome::default(),
            hasher: foldhash::fast::FixedState::default(),
            seen_root: false,
        }
    }

    fn push_finding(&mut self, finding: Finding) {
        if self.record_open {
            self.record_refused = true;
        }
        if self.out.findings.len() < self.limits.max_findings {
            self.out.findings.push(finding);
        } else {
            self.out.findings_dropped += 1;
        }
    }

    fn finding(&self, code: u16, at: At, value: Option<&str>, message: String) -> Finding {
        Finding {
            code,
            element: at.element,
            parent: at.parent,
            value: value.map(|v| v.chars().take(100).collect()),
            context: self.context.clone(),
            line: at.line,
            column: at.column,
            message,
            reason: None,
        }
    }

    fn report(&mut self, code: u16, at: At, value: Option<&str>, message: String) {
        let f = self.finding(code, at, value, message);
        self.push_finding(f);
    }

    /// Where `frame` is, its parent being the top of the stack.
    fn at(&self, frame: &Frame) -> At {
        At {
            element: frame.name.to_string(),
            parent: self.stack.last().map(|p| p.name.to_string()),
            line: frame.line,
            column: frame.column,
        }
    }

    fn expected(&self, model: u16, state: u16) -> String {
        let m = &self.schema.models[usize::from(model)];
        let names: Vec<&str> = m.states[usize::from(state)]
            .transitions
            .iter()
            .map(|t| t.0)
            .collect();
        if names.is_empty() {
            "no further element".to_owned()
        } else {
            names.join(" or ")
        }
    }

    /// Opens a record or clears the context keys of a case, episode or service.
    fn enter_context(&mut self, name: &str, key: Key, depth: usize) {
        if depth == 1 && self.records.contains(&name) {
            self.close_record();
            self.record_open = true;
            self.record_refused = false;
            self.out.records += 1;
            self.context = Context::default();
        }
        match key {
            Key::ZSl => {
                self.context.idcase = None;
                self.context.sl_id = None;
                self.context.idserv = None;
            }
            Key::Sl => {
                self.context.sl_id = None;
                self.context.idserv = None;
            }
            Key::Usl => self.context.idserv = None,
            _ => {}
        }
    }

    /// How a child `name` fits the current element (without changing anything).
    fn step(&self, name: &str) -> Step {
        let schema = self.schema;
        let Some(parent) = self.stack.last() else {
            let root = &schema.elements[usize::from(schema.root)];
            if root.name == name {
                return Step::Root(schema.root);
            }
            return Step::Refuse(format!(
                "the root element is {name}; {} expects {}",
                schema.name, root.name
            ));
        };
        let Some(decl) = parent.decl else {
            return Step::Skip;
        };
        if parent.broken {
            return Step::Skip;
        }
        match schema.elements[usize::from(decl)].content {
            Content::Complex(model) => {
                let state = &schema.models[usize::from(model)].states[usize::from(parent.state)];
                if let Some(&(_, child, next)) = state.transitions.iter().find(|t| t.0 == name) {
                    return Step::Child(child, next);
                }
                let expected = self.expected(model, parent.state);
                Step::Refuse(format!(
                    "element {name} is not expected here in {}; expected {expected}",
                    parent.name
                ))
            }
            Content::Simple(_) | Content::Empty => Step::Refuse(format!(
                "element {name} is not expected: {} holds a value, not elements",
                parent.name
            )),
        }
    }

    fn start(&mut self, name: &str, line: u64, column: u64) {
        let depth = self.stack.len();
        let step = self.step(name);
        let decl = match step {
            Step::Child(d, _) | Step::Root(d) => Some(d),
            Step::Skip | Step::Refuse(_) => None,
        };
        let key = decl.map_or_else(|| key_of(name), |d| self.keys[usize::from(d)]);
        self.enter_context(name, key, depth);
        match step {
            Step::Child(_, next) => {
                if let Some(p) = self.stack.last_mut() {
                    p.state = next;
                }
            }
            Step::Refuse(message) => {
                let at = At {
                    element: name.to_owned(),
                    parent: self.stack.last().map(|p| p.name.to_string()),
                    line,
                    column,
                };
                self.report(901, at, None, message);
                if let Some(p) = self.stack.last_mut() {
                    p.broken = true;
                }
            }
            Step::Root(_) | Step::Skip => {}
        }
        let (name, state, simple) = match decl {
            Some(d) => {
                let element = &self.schema.elements[usize::from(d)];
                if self.schema.uniques.iter().any(|u| u.scope == d) {
                    self.open_uniques(d, depth);
                }
                match element.content {
                    Content::Complex(m) => (
                        Cow::Borrowed(element.name),
                        self.schema.models[usize::from(m)].start,
                        false,
                    ),
                    Content::Simple(t) => {
                        self.text.clear();
                        (Cow::Borrowed(element.name), t, true)
                    }
                    Content::Empty => (Cow::Borrowed(element.name), 0, false),
                }
            }
            None => (Cow::Owned(name.to_owned()), 0, false),
        };
        if depth >= 1
            && let Cow::Borrowed(declared) = name
        {
            if depth == 1 {
                self.item_mark = self.findings_made();
            }
            self.sink.open(declared, depth, line);
        }
        self.stack.push(Frame {
            decl,
            name,
            key,
            state,
            simple,
            bad_text: false,
            broken: false,
            line,
            column,
        });
    }

    fn open_uniques(&mut self, scope: ElemId, depth: usize) {
        for (i, u) in self.schema.uniques.iter().enumerate() {
            if u.scope == scope {
                let seen = self
                    .spare_sets
                    .pop()
                    .unwrap_or_else(|| HashSet::with_hasher(foldhash::fast::FixedState::default()));
                self.uniques.push(ActiveUnique {
                    unique: i,
                    depth,
                    seen,
                });
            }
        }
    }

    fn close_uniques(&mut self, depth: usize) {
        while self.uniques.last().is_some_and(|u| u.depth == depth) {
            if let Some(mut closed) = self.uniques.pop() {
                // Keep small sets for reuse; a file-wide set is let go.
                if closed.seen.capacity() <= 1024 && self.spare_sets.len() < 16 {
                    closed.seen.clear();
                    self.spare_sets.push(closed.seen);
                }
            }
        }
    }

    fn text(&mut self, text: &str) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if !frame.simple {
            if frame.decl.is_some() {
                frame.bad_text |= !text.trim_ascii().is_empty();
            }
        } else if self.text.len() + text.len() > self.limits.max_text {
            frame.bad_text = true;
        } else {
            self.text.push_str(text);
        }
    }

    fn end(&mut self) {
        let depth = self.stack.len().saturating_sub(1);
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if let Some(d) = frame.decl {
            match self.schema.elements[usize::from(d)].content {
                Content::Complex(model) => {
                    let m = &self.schema.models[usize::from(model)];
                    if !frame.broken && !m.states[usize::from(frame.state)].accepting {
                        let expected = self.expected(model, frame.state);
                        let message = format!(
                            "{} ends too early: a mandatory {expected} is missing",
                            frame.name
                        );
                        self.report(901, self.at(&frame), None, message);
                    }
                    if frame.bad_text {
                        let message = format!("{} holds elements, not text", frame.name);
                        self.report(901, self.at(&frame), None, message);
                    }
                }
                Content::Simple(type_id) => {
                    let text = std::mem::take(&mut self.text);
                    self.end_simple(&frame, &text, d, type_id, depth);
                    self.text = text;
                }
                Content::Empty => {}
            }
        }
        self.close_uniques(depth);
        if depth >= 1
            && frame.decl.is_some()
            && let Cow::Borrowed(declared) = frame.name
        {
            self.sink.close(declared, depth);
            if depth == 1 {
                let made = self.findings_made() - self.item_mark;
                self.sink.item(declared, made);
            }
        }
        if depth == 1 && self.record_open && self.records.contains(&&*frame.name) {
            self.close_record();
        }
    }

    fn findings_made(&self) -> u64 {
        u64::try_from(self.out.findings.len()).unwrap_or(u64::MAX) + self.out.findings_dropped
    }

    fn end_simple(&mut self, frame: &Frame, value: &str, decl: ElemId, type_id: u16, depth: usize) {
        if frame.bad_text {
            let message = format!(
                "{} is longer than {} bytes",
                frame.name, self.limits.max_text
            );
            self.report(903, self.at(frame), None, message);
            return;
        }
        let trimmed = value.trim();
        match frame.key {
            Key::NZap => self.context.n_zap = trimmed.parse().ok(),
            Key::IdPac => set_key(&mut self.context.id_pac, trimmed),
            Key::Idcase => self.context.idcase = trimmed.parse().ok(),
            Key::SlId => set_key(&mut self.context.sl_id, trimmed),
            Key::Idserv => set_key(&mut self.context.idserv, trimmed),
            Key::Nschet if self.stack.last().is_some_and(|p| p.name == "SCHET") => {
                self.out.nschet = Some(trimmed.to_owned());
            }
            _ => {}
        }
        if let Err(e) = simple::check(self.schema, self.patterns, type_id, value) {
            let mandatory = self.schema.elements[usize::from(decl)].mandatory;
            if mandatory && trimmed.is_empty() {
                let message = format!("mandatory element {} is empty", frame.name);
                self.report(902, self.at(frame), None, message);
            } else {
                let shown: String = trimmed.chars().take(100).collect();
                let message = format!("{} = '{shown}': {}", frame.name, e.reason);
                self.report(e.code, self.at(frame), Some(trimmed), message);
            }
            return;
        }
        if !self.uniques.is_empty() {
            self.check_uniques(frame, value, type_id, depth);
        }
        if let Cow::Borrowed(declared) = frame.name {
            self.sink.value(declared, value);
        }
    }

    fn check_uniques(&mut self, frame: &Frame, value: &str, type_id: u16, depth: usize) {
        let mut duplicate = None;
        for active in &mut self.uniques {
            let u = &self.schema.uniques[active.unique];
            let len = u.selector.len() + u.field.len();
            if depth != active.depth + len || u.field.last() != Some(&&*frame.name) {
                continue;
            }
            let path = self.stack[active.depth + 1..]
                .iter()
                .map(|f| &*f.name)
                .chain(std::iter::once(&*frame.name));
            if !path.eq(u.selector.iter().chain(u.field.iter()).copied()) {
                continue;
            }
            let hash = simple::key_hash(self.schema, type_id, value, &self.hasher);
            if !active.seen.insert(hash) {
                duplicate = Some(active.depth);
            }
        }
        if let Some(scope_depth) = duplicate {
            let key = simple::canonical_key(self.schema, type_id, value);
            let scope = self.stack[scope_depth].name.to_string();
            let message = format!("{} = '{key}' appears twice in one {scope}", frame.name);
            self.report(905, self.at(frame), Some(&key), message);
        }
    }

    /// Handles one event; `false` ends the check.
    fn on_event(&mut self, event: Ev<'_>, line: u64, column: u64) -> bool {
        match event {
            Ev::Start(name) => {
                if self.stack.len() >= self.limits.max_depth {
                    self.fatal(
                        line,
                        column,
                        "depth",
                        format!("elements nest deeper than {}", self.limits.max_depth),
                    );
                    return false;
                }
                if self.seen_root && self.stack.is_empty() {
                    self.fatal(
                        line,
                        column,
                        "not_well_formed",
                        "a second root element".into(),
                    );
                    return false;
                }
                self.seen_root = true;
                self.start(name, line, column);
            }
            Ev::End => self.end(),
            Ev::Text(text) => {
                if self.stack.is_empty() {
                    if !text.trim().is_empty() {
                        self.fatal(
                            line,
                            column,
                            "not_well_formed",
                            "text outside the root element".into(),
                        );
                        return false;
                    }
                } else {
                    self.text(text);
                }
            }
            Ev::CData(data) => self.text(data),
            Ev::Ref(name) => {
                let Some(c) = resolve_reference(name) else {
                    self.fatal(
                        line,
                        column,
                        "unknown_entity",
                        format!("unknown entity &{name};"),
                    );
                    return false;
                };
                self.text(c.encode_utf8(&mut [0; 4]));
            }
            Ev::DocType => {
                self.fatal(
                    line,
                    column,
                    "dtd",
                    "a DTD is not allowed in an exchange file".into(),
                );
                return false;
            }
            Ev::Eof => {
                if !self.seen_root {
                    self.fatal(
                        line,
                        column,
                        "not_well_formed",
                        "the file has no root element".into(),
                    );
                } else if !self.stack.is_empty() {
                    self.fatal(
                        line,
                        column,
                        "not_well_formed",
                        "the file ends inside an element".into(),
                    );
                }
                return false;
            }
            Ev::Broken(message) => {
                self.fatal(line, column, "not_well_formed", message.to_owned());
                return false;
            }
            Ev::Ignored => {}
        }
        true
    }

    /// The outcome once the events have ended, and the sink.
    fn finish(mut self) -> (Outcome, S) {
        self.close_record();
        (self.out, self.sink)
    }

    fn close_record(&mut self) {
        if self.record_open && self.record_refused {
            self.out.refused_records += 1;
        }
        self.record_open = false;
        self.record_refused = false;
    }

    /// A finding that ends the check (901): the file cannot be read further. `reason` says why:
    /// `dtd` (a DOCTYPE, where external entities would be declared), `unknown_entity`, `depth`,
    /// `not_well_formed`.
    fn fatal(&mut self, line: u64, column: u64, reason: &'static str, message: String) {
        let n = self.stack.len();
        let at = At {
            element: self
                .stack
                .last()
                .map_or_else(String::new, |f| f.name.to_string()),
            parent: n.checked_sub(2).map(|i| self.stack[i].name.to_string()),
            line,
            column,
        };
        let mut f = self.finding(901, at, None, message);
        f.reason = Some(reason);
        // A fatal finding is always kept.
        if self.out.findings.len() >= self.limits.max_findings {
            self.out.findings.pop();
            self.out.findings_dropped += 1;
        }
        self.out.findings.push(f);
        self.out.fatal = true;
    }
}

/// Sets a context key, reusing the slot's buffer.
fn set_key(slot: &mut Option<String>, value: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(value);
        }
        None => *slot = Some(value.to_owned()),
    }
}

/// Resolves a general entity or character reference (`amp`, `#1055`, `#x41F`).
fn resolve_reference(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// One parsed event as the checker sees it: quick-xml's events reduced to what the check
/// needs, borrowed from the parser's buffer or from a batch.
#[derive(Debug, Clone, Copy)]
enum Ev<'a> {
    Start(&'a str),
    End,
    Text(&'a str),
    CData(&'a str),
    /// A general entity or character reference, by name (`amp`, `#1055`).
    Ref(&'a str),
    DocType,
    Eof,
    /// The file cannot be read on: not well-formed, wrong encoding, an I/O error.
    Broken(&'a str),
    /// Declarations, comments, processing instructions.
    Ignored,
}

impl Ev<'_> {
    fn code(self) -> u8 {
        match self {
            Ev::Start(_) => 0,
            Ev::End => 1,
            Ev::Text(_) => 2,
            Ev::CData(_) => 3,
            Ev::Ref(_) => 4,
            Ev::DocType => 5,
            Ev::Eof => 6,
            Ev::Broken(_) => 7,
            Ev::Ignored => 8,
        }
    }
}

/// Reads the next event; `Err` carries the message of a file that cannot be read on.
fn next_event<'b, R: Read>(
    reader: &mut Reader<Budgeted<R>>,
    buf: &'b mut Vec<u8>,
) -> Result<Event<'b>, String> {
    buf.clear();
    let budgeted = reader.get_mut();
    budgeted.left = budgeted.max;
    reader.read_event_into(buf).map_err(|e| match &e {
        quick_xml::Error::Io(io) => match io.get_ref() {
            Some(i)
                if i.is::<EncodingError>()
                    || i.is::<EventTooLong>()
                    || i.is::<ControlCharacter>() =>
            {
                i.to_string()
            }
            _ => format!("cannot read the file: {io}"),
        },
        other => format!("not well-formed XML: {other}"),
    })
}

/// The reduced form of a quick-xml event. The parser does not look at attributes or at the
/// XML declaration by itself: a tag whose attributes are not well-formed (one given twice,
/// one without `=` or quotes) and a declaration without a version or of a version other than
/// 1.x end the check as not well-formed.
fn reduce<'a>(event: &'a Event<'_>) -> Ev<'a> {
    match event {
        Event::Start(start) => match attributes_fault(start) {
            Some(fault) => Ev::Broken(fault),
            None => Ev::Start(start.name().0),
        },
        Event::Empty(start) => attributes_fault(start).map_or(Ev::Ignored, Ev::Broken),
        Event::Decl(decl) => declaration_fault(decl).map_or(Ev::Ignored, Ev::Broken),
        Event::End(_) => Ev::End,
        Event::Text(text) => Ev::Text(text),
        Event::CData(data) => Ev::CData(data),
        Event::GeneralRef(r) => Ev::Ref(r),
        Event::DocType(_) => Ev::DocType,
        Event::Eof => Ev::Eof,
        Event::Comment(_) | Event::PI(_) => Ev::Ignored,
    }
}

/// Why the attributes of a tag are not well-formed XML, if they are not (XML 1.0 3.1: an
/// attribute name appears at most once in a tag; each has `=` and a quoted value).
fn attributes_fault(start: &quick_xml::events::BytesStart<'_>) -> Option<&'static str> {
    use quick_xml::events::attributes::AttrError;
    start.attributes().find_map(|a| match a {
        Ok(_) => None,
        Err(AttrError::Duplicated(..)) => {
            Some("not well-formed XML: an attribute appears twice in one tag")
        }
        Err(_) => Some("not well-formed XML: an attribute without `=` or a quoted value"),
    })
}

/// Why the XML declaration is not one of XML 1.0, if it is not (2.8: `version` comes first
/// and is `1.` and digits).
fn declaration_fault(decl: &quick_xml::events::BytesDecl<'_>) -> Option<&'static str> {
    match decl.version() {
        Ok(v) => {
            let digits = v.strip_prefix("1.").unwrap_or("");
            (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
                .then_some("not well-formed XML: the XML declaration's version is not 1.0")
        }
        Err(_) => Some("not well-formed XML: the XML declaration has no version first"),
    }
}

/// Events handed from the parsing thread to the checking thread, in one text buffer.
#[derive(Default)]
struct Batch {
    text: String,
    /// Kind, text range, line, column.
    events: Vec<(u8, u32, u32, u64, u64)>,
}

/// Events per batch, and text bytes per batch: a batch is a few hundred kilobytes.
const BATCH_EVENTS: usize = 8 * 1024;
const BATCH_TEXT: usize = 256 * 1024;
/// Batches in flight between the two threads (bounds the memory of the pipeline).
const BATCHES_IN_FLIGHT: usize = 2;

impl Batch {
    fn push(&mut self, ev: Ev<'_>, line: u64, column: u64) {
        let text = match ev {
            Ev::Start(s) | Ev::Text(s) | Ev::CData(s) | Ev::Ref(s) | Ev::Broken(s) => s,
            Ev::End | Ev::DocType | Ev::Eof | Ev::Ignored => "",
        };
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(text);
        let end = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.events.push((ev.code(), start, end, line, column));
    }

    fn is_full(&self) -> bool {
        self.events.len() >= BATCH_EVENTS || self.text.len() >= BATCH_TEXT
    }

    fn clear(&mut self) {
        self.text.clear();
        self.events.clear();
    }

    /// Feeds the batch to `checker`; `false` once the check has ended.
    fn replay<S: Sink>(&self, checker: &mut Checker<'_, S>) -> bool {
        for &(code, start, end, line, column) in &self.events {
            let s = self
                .text
                .get(usize::try_from(start).unwrap_or(0)..usize::try_from(end).unwrap_or(0))
                .unwrap_or("");
            let ev = match code {
                0 => Ev::Start(s),
                1 => Ev::End,
                2 => Ev::Text(s),
                3 => Ev::CData(s),
                4 => Ev::Ref(s),
                5 => Ev::DocType,
                6 => Ev::Eof,
                7 => Ev::Broken(s),
                _ => Ev::Ignored,
            };
            if !checker.on_event(ev, line, column) {
                return false;
            }
        }
        true
    }
}

/// Checks on the calling thread, event by event.
fn sequential<R: Read, S: Sink>(
    reader: &mut Reader<Budgeted<R>>,
    mut checker: Checker<'_, S>,
) -> (Outcome, S) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (line, column) = reader.get_ref().inner.position();
        let go_on = match next_event(reader, &mut buf) {
            Ok(event) => checker.on_event(reduce(&event), line, column),
            Err(message) => {
                let (l, c) = reader.get_ref().inner.position();
                checker.on_event(Ev::Broken(&message), l, c)
            }
        };
        if !go_on {
            break;
        }
    }
    checker.finish()
}

/// Parses on the calling thread and checks on one more, the events passing in batches
/// through a bounded channel: the same findings in the same order as [`sequential`], in
/// about the time of the parse alone. `None` when the second thread cannot be started.
fn pipelined<R: Read, S: Sink>(
    reader: &mut Reader<Budgeted<R>>,
    schema: &Schema,
    patterns: &Patterns,
    limits: Limits,
    sink: &mut S,
) -> Option<Outcome> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
        let handle = std::thread::Builder::new()
            .name("omshub-check".into())
            .spawn_scoped(scope, move || {
                let mut checker = Checker::new(schema, patterns, limits, sink);
                for batch in full_rx {
                    let go_on = batch.replay(&mut checker);
                    let _ = empty_tx.send(batch);
                    if !go_on {
                        break;
                    }
                }
                checker.finish().0
            })
            .ok()?;
        let mut buf = Vec::with_capacity(4096);
        let mut batch = Batch::default();
        loop {
            let (line, column) = reader.get_ref().inner.position();
            let last = match next_event(reader, &mut buf) {
                Ok(event) => {
                    let ev = reduce(&event);
                    batch.push(ev, line, column);
                    matches!(ev, Ev::Eof)
                }
                Err(message) => {
                    let (l, c) = reader.get_ref().inner.position();
                    batch.push(Ev::Broken(&message), l, c);
                    true
                }
            };
            if last || batch.is_full() {
                // A send fails once the checker has ended (a fatal finding): stop reading.
                if full_tx.send(batch).is_err() || last {
                    break;
                }
                batch = empty_rx.try_recv().unwrap_or_default();
                batch.clear();
            }
        }
        drop(full_tx);
        match handle.join() {
            Ok(outcome) => Some(outcome),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Checks one document from `source` against `schema`.
pub fn check<R: Read>(
    schema: &Schema,
    patterns: &Patterns,
    source: DecodingReader<R>,
    limits: Limits,
) -> Outcome {
    check_into(schema, patterns, source, limits, NoSink).0
}

/// Checks one document from `source` against `schema`, handing what passes to `sink`.
pub fn check_into<R: Read, S: Sink>(
    schema: &Schema,
    patterns: &Patterns,
    source: DecodingReader<R>,
    limits: Limits,
    sink: S,
) -> (Outcome, S) {
    let mut reader = Reader::from_reader(Budgeted {
        inner: source,
        max: limits.max_event,
        left: limits.max_event,
    });
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = true;
        config.check_end_names = true;
    }
    let mut sink = sink;
    if limits.pipelined
        && let Some(outcome) = pipelined(&mut reader, schema, patterns, limits, &mut sink)
    {
        return (outcome, sink);
    }
    sequential(&mut reader, Checker::new(schema, patterns, limits, sink))
}

#[cfg(test)]
mod tests {
    use encoding_rs::{UTF_8, WINDOWS_1251};

    use super::*;
    use crate::xml::tables::{
        ContentModel, ElementDecl, ModelState, Primitive, SimpleType, Unique, WhiteSpace,
    };

    const fn st(name: &'static str, primitive: Primitive) -> SimpleType {
        SimpleType {
            name,
            primitive,
            white_space: WhiteSpace::Collapse,
            length: None,
            min_length: None,
            max_length: None,
            total_digits: None,
            fraction_digits: None,
            min_inclusive: None,
            max_inclusive: None,
            min_exclusive: None,
            max_exclusive: None,
            patterns: &[],
            enumeration: &[],
        }
    }

    // ROOT = (HDR, ZAP+); ZAP = (N_ZAP, NAME?, DATE, W); unique N_ZAP over ROOT/ZAP.
    static TYPES: [SimpleType; 4] = [
        SimpleType {
            total_digits: Some(8),
            min_inclusive: Some("0"),
            ..st("Int8", Primitive::Integer)
        },
        SimpleType {
            min_length: Some(1),
            max_length: Some(10),
            ..st("Text1to10", Primitive::String)
        },
        st("Date", Primitive::Date),
        SimpleType {
            enumeration: &["1", "2"],
            ..st("W", Primitive::Integer)
        },
    ];
    // 0 ROOT, 1 HDR, 2 ZAP, 3 N_ZAP, 4 NAME, 5 DATE, 6 W
    static ELEMENTS: [ElementDecl; 7] = [
        ElementDecl {
            name: "ROOT",
            mandatory: true,
            content: Content::Complex(0),
        },
        ElementDecl {
            name: "HDR",
            mandatory: true,
            content: Content::Simple(1),
        },
        ElementDecl {
            name: "ZAP",
            mandatory: true,
            content: Content::Complex(1),
        },
        ElementDecl {
            name: "N_ZAP",
            mandatory: true,
            content: Content::Simple(0),
        },
        ElementDecl {
            name: "NAME",
            mandatory: false,
            content: Content::Simple(1),
        },
        ElementDecl {
            name: "DATE",
            mandatory: true,
            content: Content::Simple(2),
        },
        ElementDecl {
            name: "W",
            mandatory: true,
            content: Content::Simple(3),
        },
    ];
    static MODELS: [ContentModel; 2] = [
        ContentModel {
            start: 0,
            states: &[
                ModelState {
                    accepting: false,
                    transitions: &[("HDR", 1, 1)],
                },
                ModelState {
                    accepting: false,
                    transitions: &[("ZAP", 2, 2)],
                },
                ModelState {
                    accepting: true,
                    transitions: &[("ZAP", 2, 2)],
                },
            ],
        },
        ContentModel {
            start: 0,
            states: &[
                ModelState {
                    accepting: false,
                    transitions: &[("N_ZAP", 3, 1)],
                },
                ModelState {
                    accepting: false,
                    transitions: &[("NAME", 4, 2), ("DATE", 5, 3)],
                },
                ModelState {
                    accepting: false,
                    transitions: &[("DATE", 5, 3)],
                },
                ModelState {
                    accepting: false,
                    transitions: &[("W", 6, 4)],
                },
                ModelState {
                    accepting: true,
                    transitions: &[],
                },
            ],
        },
    ];
    static UNIQUES: [Unique; 1] = [Unique {
        name: "uq_N_ZAP",
        scope: 0,
        selector: &["ZAP"],
        field: &["N_ZAP"],
        is_key: false,
    }];
    static SCHEMA: Schema = Schema {
        name: "test/1.0/ROOT",
        root: 0,
        elements: &ELEMENTS,
        models: &MODELS,
        simple_types: &TYPES,
        uniques: &UNIQUES,
    };

    fn zap(n: &str, rest: &str) -> String {
        format!("<ZAP><N_ZAP>{n}</N_ZAP>{rest}</ZAP>")
    }

    fn run(body: &str) -> Outcome {
        run_limited(body, Limits::default())
    }

    fn run_limited(body: &str, limits: Limits) -> Outcome {
        let doc = format!("<?xml version=\"1.0\"?>\n<ROOT><HDR>x</HDR>\n{body}\n</ROOT>\n");
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        check(
            &SCHEMA,
            &patterns,
            DecodingReader::new(doc.as_bytes(), UTF_8),
            limits,
        )
    }

    fn codes(o: &Outcome) -> Vec<(u16, &str)> {
        o.findings
            .iter()
            .map(|f| (f.code, f.element.as_str()))
            .collect()
    }

    const OK: &str = "<DATE>2026-01-31</DATE><W>1</W>";

    #[test]
    fn a_valid_document_has_no_finding() {
        let o = run(&format!(
            "{}{}",
            zap("1", OK),
            zap("2", &format!("<NAME>Ёж</NAME>{OK}"))
        ));
        assert_eq!(codes(&o), vec![]);
        assert_eq!((o.records, o.refused_records, o.fatal), (2, 0, false));
    }

    #[test]
    fn each_f012_code_with_its_context() {
        let o = run(&[
            zap("1", "<W>1</W><DATE>2026-01-31</DATE>"), // 901 order
            zap("2", "<DATE>2026-01-31</DATE>"),         // 901 missing W
            zap("3", "<NAME> </NAME><DATE>2026-01-31</DATE><W>1</W>"), // 903: optional but empty
            zap("4", "<DATE></DATE><W>1</W>"),           // 902
            zap("5", "<DATE>2026-02-30</DATE><W>1</W>"), // 903
            zap("6", "<DATE>2026-02-28</DATE><W>3</W>"), // 904
            zap("6", OK),                                // 905
            zap("7", OK),
        ]
        .concat());
        assert_eq!(
            codes(&o),
            vec![
                (901, "W"),
                (901, "ZAP"),
                (903, "NAME"),
                (902, "DATE"),
                (903, "DATE"),
                (904, "W"),
                (905, "N_ZAP"),
            ]
        );
        assert_eq!(o.findings[0].context.n_zap, Some(1));
        assert_eq!(o.findings[0].parent.as_deref(), Some("ZAP"));
        assert!(
            o.findings[0].message.contains("expected NAME or DATE"),
            "{}",
            o.findings[0].message
        );
        assert!(
            o.findings[1].message.contains("a mandatory W is missing"),
            "{}",
            o.findings[1].message
        );
        assert_eq!(o.findings[4].value.as_deref(), Some("2026-02-30"));
        assert_eq!(o.findings[5].context.n_zap, Some(6));
        assert_eq!(o.findings[6].value.as_deref(), Some("6"));
        assert_eq!((o.records, o.refused_records), (8, 7));
        assert_eq!(o.findings[4].line, 3, "line of the element's start tag");
    }

    #[test]
    fn keys_compare_by_value() {
        let o = run(&[zap("01", OK), zap("1", OK)].concat());
        assert_eq!(codes(&o), vec![(905, "N_ZAP")]);
    }

    #[test]
    fn an_unknown_element_is_skipped_and_the_rest_checked() {
        let o = run(&[
            zap("1", "<X><Y>deep</Y></X><DATE>2026-01-31</DATE><W>1</W>"),
            zap("2", "<W>9</W>"),
        ]
        .concat());
        assert_eq!(
            codes(&o),
            vec![(901, "X"), (901, "W")],
            "one structural finding per element: the rest of each ZAP is skipped"
        );
    }

    #[test]
    fn not_well_formed_xml_ends_the_check_with_its_position() {
        let o = run(&format!("{}<ZAP><N_ZAP>2</N_ZAP></ZIP>", zap("1", OK)));
        assert!(o.fatal);
        let last = o.findings.last().unwrap();
        assert!(last.message.contains("not well-formed"), "{}", last.message);
        assert_eq!(last.line, 3);
    }

    #[test]
    fn dtds_and_unknown_entities_are_refused() {
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        let doc = "<?xml version=\"1.0\"?><!DOCTYPE ROOT [<!ENTITY a \"b\">]><ROOT/>";
        let o = check(
            &SCHEMA,
            &patterns,
            DecodingReader::new(doc.as_bytes(), UTF_8),
            Limits::default(),
        );
        assert!(o.fatal && o.findings[0].message.contains("DTD"));
        let o = run(&zap(
            "1",
            "<NAME>a&x;</NAME><DATE>2026-01-31</DATE><W>1</W>",
        ));
        assert!(o.fatal && o.findings[0].message.contains("&x;"));
        let o = run(&zap(
            "1",
            "<NAME>a&amp;&#1025;</NAME><DATE>2026-01-31</DATE><W>1</W>",
        ));
        assert_eq!(codes(&o), vec![]);
    }

    #[test]
    fn windows_1251_text_counts_characters() {
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?><ROOT><HDR>Заголовок</HDR>{}</ROOT>",
            zap(
                "1",
                "<NAME>Иванова Анн</NAME><DATE>2026-01-31</DATE><W>2</W>"
            )
        );
        let (bytes, _, _) = WINDOWS_1251.encode(&doc);
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        let o = check(
            &SCHEMA,
            &patterns,
            DecodingReader::new(&bytes[..], WINDOWS_1251),
            Limits::default(),
        );
        assert_eq!(codes(&o), vec![(903, "NAME")], "11 characters > 10");
    }

    #[test]
    fn findings_past_the_cap_are_counted_not_kept() {
        let body: String = (1..=50).map(|i| zap(&i.to_string(), "<W>1</W>")).collect();
        let o = run_limited(
            &body,
            Limits {
                max_findings: 10,
                ..Limits::default()
            },
        );
        assert_eq!(o.findings.len(), 10);
        assert_eq!(o.findings_dropped, 40, "one structural finding per record");
        assert_eq!((o.records, o.refused_records), (50, 50));
    }

    /// A source over `bytes` that counts what the check has read.
    struct Counting<'a> {
        bytes: &'a [u8],
        read: &'a std::cell::Cell<usize>,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.bytes.read(buf)?;
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn an_endless_text_stops_the_check_instead_of_filling_memory() {
        // quick-xml buffers a whole text, tag or comment: a 16 MiB text node took 16 MiB of
        // memory (a 1 GB one, 1 GB) before the 64 KiB text limit could say anything.
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        for (open, close) in [("<ROOT><HDR>", "</HDR>"), ("<ROOT><!--", "-->")] {
            let mut doc = open.as_bytes().to_vec();
            doc.resize(16 << 20, b'x');
            doc.extend_from_slice(close.as_bytes());
            doc.extend_from_slice(b"</ROOT>");
            let read = std::cell::Cell::new(0);
            let source = Counting {
                bytes: &doc,
                read: &read,
            };
            let o = check(
                &SCHEMA,
                &patterns,
                DecodingReader::new(source, UTF_8),
                Limits::default(),
            );
            assert!(read.get() < 1 << 20, "{open}: read {} bytes", read.get());
            assert!(o.fatal, "{open}: {:?}", codes(&o));
            let last = o.findings.last().unwrap();
            assert!(last.message.contains("longer than"), "{}", last.message);
            assert_eq!(last.line, 1);
        }
    }

    #[test]
    fn a_missing_mandatory_element_of_the_root_is_reported() {
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        let doc = "<ROOT><HDR>x</HDR></ROOT>";
        let o = check(
            &SCHEMA,
            &patterns,
            DecodingReader::new(doc.as_bytes(), UTF_8),
            Limits::default(),
        );
        assert_eq!(codes(&o), vec![(901, "ROOT")]);
    }

    /// Writes what a sink is handed, one line per call.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Sink for Log {
        fn open(&mut self, name: &'static str, depth: usize, line: u64) {
            self.0.push(format!("open {name} {depth} @{line}"));
        }
        fn value(&mut self, name: &'static str, value: &str) {
            self.0.push(format!("{name}={value}"));
        }
        fn close(&mut self, name: &'static str, depth: usize) {
            self.0.push(format!("close {name} {depth}"));
        }
        fn item(&mut self, name: &'static str, findings: u64) {
            self.0.push(format!("item {name} {findings}"));
        }
    }

    #[test]
    fn the_sink_gets_what_passes_and_each_item_with_its_findings() {
        for pipelined in [false, true] {
            let body = [
                zap("1", OK),
                zap("2", "<DATE>2026-02-30</DATE><W>1</W>"),
                zap("3", "<W>1</W><DATE>2026-01-31</DATE>"),
            ]
            .join("\n");
            let doc = format!("<?xml version=\"1.0\"?>\n<ROOT><HDR>x</HDR>\n{body}\n</ROOT>\n");
            let patterns = Patterns::compile(&SCHEMA).unwrap();
            let limits = Limits {
                pipelined,
                ..Limits::default()
            };
            let (outcome, log) = check_into(
                &SCHEMA,
                &patterns,
                DecodingReader::new(doc.as_bytes(), UTF_8),
                limits,
                Log::default(),
            );
            assert_eq!(outcome.findings.len(), 2);
            assert_eq!(
                log.0,
                [
                    "open HDR 1 @2",
                    "HDR=x",
                    "close HDR 1",
                    "item HDR 0",
                    "open ZAP 1 @3",
                    "open N_ZAP 2 @3",
                    "N_ZAP=1",
                    "close N_ZAP 2",
                    "open DATE 2 @3",
                    "DATE=2026-01-31",
                    "close DATE 2",
                    "open W 2 @3",
                    "W=1",
                    "close W 2",
                    "close ZAP 1",
                    "item ZAP 0",
                    // A wrong value is not handed on; the record counts its finding.
                    "open ZAP 1 @4",
                    "open N_ZAP 2 @4",
                    "N_ZAP=2",
                    "close N_ZAP 2",
                    "open DATE 2 @4",
                    "close DATE 2",
                    "open W 2 @4",
                    "W=1",
                    "close W 2",
                    "close ZAP 1",
                    "item ZAP 1",
                    // After an element out of place the rest of the record is skipped.
                    "open ZAP 1 @5",
                    "open N_ZAP 2 @5",
                    "N_ZAP=3",
                    "close N_ZAP 2",
                    "close ZAP 1",
                    "item ZAP 1",
                ],
                "pipelined: {pipelined}"
            );
        }
    }
}
