//! The streaming schema check: quick-xml events from the decoding reader drive the compiled
//! tables of one XSD (`xml::tables`), record by record, in memory that does not grow with the
//! file (the element stack, one text buffer, quick-xml's buffer of one event, at most
//! `Limits::max_event`, and 8 bytes per key of the 905 checks).
//!
//! Every problem becomes a [`Finding`] with its F012 code, the element and its parent, the
//! record context (`N_ZAP`, `ID_PAC`, `IDCASE`, `SL_ID`, `IDSERV`), line and column; after a structural
//! error the element's subtree is skipped and the rest of the file is still checked. Not
//! well-formed XML ends the check with one finding at its position.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::{self, BufRead, Read};

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::simple::{self, Patterns};
use super::{Context, Finding};
use crate::xml::reader::{DecodingReader, EncodingError};
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
            max_event: 256 * 1024,
        }
    }
}

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

struct Frame {
    /// `None` while skipping a subtree that is not in the schema.
    decl: Option<ElemId>,
    name: String,
    state: u16,
    text: String,
    /// The text grew past `max_text` (simple content) …
    too_long: bool,
    /// … or non-blank text appeared in element-only content.
    stray_text: bool,
    /// A child was out of place: the rest of this element's children are skipped without
    /// more 901 findings (one structural finding per element, as xmllint reports it).
    broken: bool,
    line: u64,
    column: u64,
}

/// Where a finding is: the element, its parent, line and column.
struct At<'a> {
    element: &'a str,
    parent: Option<&'a str>,
    line: u64,
    column: u64,
}

struct ActiveUnique {
    unique: usize,
    depth: usize,
    seen: HashSet<u64, foldhash::fast::FixedState>,
}

struct Checker<'s> {
    schema: &'s Schema,
    records: Vec<&'static str>,
    patterns: &'s Patterns,
    limits: Limits,
    stack: Vec<Frame>,
    uniques: Vec<ActiveUnique>,
    context: Context,
    record_open: bool,
    record_refused: bool,
    out: Outcome,
    hasher: foldhash::fast::FixedState,
    seen_root: bool,
}

impl Checker<'_> {
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

    fn finding(&self, code: u16, at: &At<'_>, value: Option<&str>, message: String) -> Finding {
        Finding {
            code,
            element: at.element.to_owned(),
            parent: at.parent.map(str::to_owned),
            value: value.map(|v| v.chars().take(100).collect()),
            context: self.context.clone(),
            line: at.line,
            column: at.column,
            message,
        }
    }

    fn report(&mut self, code: u16, at: &At<'_>, value: Option<&str>, message: String) {
        let f = self.finding(code, at, value, message);
        self.push_finding(f);
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
    fn enter_context(&mut self, name: &str, depth: usize) {
        if depth == 1 && self.records.contains(&name) {
            self.close_record();
            self.record_open = true;
            self.record_refused = false;
            self.out.records += 1;
            self.context = Context::default();
        }
        match name {
            "Z_SL" => {
                self.context.idcase = None;
                self.context.sl_id = None;
                self.context.idserv = None;
            }
            "SL" => {
                self.context.sl_id = None;
                self.context.idserv = None;
            }
            "USL" => self.context.idserv = None,
            _ => {}
        }
    }

    /// The declaration of a child `name` of the current element, advancing the parent's
    /// automaton; `None` (after a 901 finding) when it is not allowed there.
    fn child_decl(&mut self, name: &str, line: u64, column: u64) -> Option<ElemId> {
        let schema = self.schema;
        let Some(parent) = self.stack.last() else {
            let root = &schema.elements[usize::from(schema.root)];
            if root.name == name {
                return Some(schema.root);
            }
            let at = At {
                element: name,
                parent: None,
                line,
                column,
            };
            let message = format!(
                "the root element is {name}; {} expects {}",
                schema.name, root.name
            );
            self.report(901, &at, None, message);
            return None;
        };
        let content = parent
            .decl
            .map(|d| schema.elements[usize::from(d)].content)?;
        if parent.broken {
            return None;
        }
        let parent_name = parent.name.clone();
        let at = At {
            element: name,
            parent: Some(&parent_name),
            line,
            column,
        };
        match content {
            Content::Complex(model) => {
                let state = &schema.models[usize::from(model)].states[usize::from(parent.state)];
                if let Some(&(_, child, next)) = state.transitions.iter().find(|t| t.0 == name) {
                    if let Some(p) = self.stack.last_mut() {
                        p.state = next;
                    }
                    return Some(child);
                }
                let expected = self.expected(model, parent.state);
                let message = format!(
                    "element {name} is not expected here in {parent_name}; expected {expected}"
                );
                self.report(901, &at, None, message);
            }
            Content::Simple(_) | Content::Empty => {
                let message = format!(
                    "element {name} is not expected: {parent_name} holds a value, not elements"
                );
                self.report(901, &at, None, message);
            }
        }
        if let Some(p) = self.stack.last_mut() {
            p.broken = true;
        }
        None
    }

    fn start(&mut self, name: &str, line: u64, column: u64) {
        let depth = self.stack.len();
        self.enter_context(name, depth);
        let decl = self.child_decl(name, line, column);
        if let Some(d) = decl {
            for (i, u) in self.schema.uniques.iter().enumerate() {
                if u.scope == d {
                    self.uniques.push(ActiveUnique {
                        unique: i,
                        depth,
                        seen: HashSet::with_hasher(foldhash::fast::FixedState::default()),
                    });
                }
            }
        }
        let state = decl
            .and_then(|d| match self.schema.elements[usize::from(d)].content {
                Content::Complex(m) => Some(self.schema.models[usize::from(m)].start),
                _ => None,
            })
            .unwrap_or(0);
        self.stack.push(Frame {
            decl,
            name: name.to_owned(),
            state,
            text: String::new(),
            too_long: false,
            stray_text: false,
            broken: false,
            line,
            column,
        });
    }

    fn text(&mut self, text: &str) {
        let max = self.limits.max_text;
        let schema = self.schema;
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let simple = frame
            .decl
            .is_some_and(|d| matches!(schema.elements[usize::from(d)].content, Content::Simple(_)));
        if !simple {
            frame.stray_text |= !text.trim().is_empty();
        } else if frame.text.len() + text.len() > max {
            frame.too_long = true;
        } else {
            frame.text.push_str(text);
        }
    }

    fn end(&mut self) {
        let depth = self.stack.len().saturating_sub(1);
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let parent = self.stack.last().map(|p| p.name.clone());
        let at = At {
            element: &frame.name,
            parent: parent.as_deref(),
            line: frame.line,
            column: frame.column,
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
                        self.report(901, &at, None, message);
                    }
                    if frame.stray_text {
                        let message = format!("{} holds elements, not text", frame.name);
                        self.report(901, &at, None, message);
                    }
                }
                Content::Simple(type_id) => self.end_simple(&frame, &at, d, type_id, depth),
                Content::Empty => {}
            }
        }
        self.uniques.retain(|u| u.depth != depth);
        if depth == 1 && self.record_open && self.records.contains(&frame.name.as_str()) {
            self.close_record();
        }
    }

    fn end_simple(&mut self, frame: &Frame, at: &At<'_>, decl: ElemId, type_id: u16, depth: usize) {
        if frame.too_long {
            let message = format!(
                "{} is longer than {} bytes",
                frame.name, self.limits.max_text
            );
            self.report(903, at, None, message);
            return;
        }
        let value = frame.text.as_str();
        let trimmed = value.trim();
        match frame.name.as_str() {
            "N_ZAP" => self.context.n_zap = trimmed.parse().ok(),
            "ID_PAC" => self.context.id_pac = Some(trimmed.to_owned()),
            "IDCASE" => self.context.idcase = trimmed.parse().ok(),
            "SL_ID" => self.context.sl_id = Some(trimmed.to_owned()),
            "IDSERV" => self.context.idserv = Some(trimmed.to_owned()),
            "NSCHET" if at.parent == Some("SCHET") => self.out.nschet = Some(trimmed.to_owned()),
            _ => {}
        }
        let mandatory = self.schema.elements[usize::from(decl)].mandatory;
        if let Err(e) = simple::check(self.schema, self.patterns, type_id, value) {
            if mandatory && trimmed.is_empty() {
                let message = format!("mandatory element {} is empty", frame.name);
                self.report(902, at, None, message);
            } else {
                let shown: String = trimmed.chars().take(100).collect();
                let message = format!("{} = '{shown}': {}", frame.name, e.reason);
                self.report(e.code, at, Some(trimmed), message);
            }
            return;
        }
        self.check_uniques(frame, at, type_id, depth);
    }

    fn check_uniques(&mut self, frame: &Frame, at: &At<'_>, type_id: u16, depth: usize) {
        let mut duplicate = None;
        for active in &mut self.uniques {
            let u = &self.schema.uniques[active.unique];
            let len = u.selector.len() + u.field.len();
            if depth != active.depth + len || u.field.last() != Some(&frame.name.as_str()) {
                continue;
            }
            let path = self.stack[active.depth + 1..]
                .iter()
                .map(|f| f.name.as_str())
                .chain(std::iter::once(frame.name.as_str()));
            if !path.eq(u.selector.iter().chain(u.field.iter()).copied()) {
                continue;
            }
            let key = simple::canonical_key(self.schema, type_id, &frame.text);
            if !active.seen.insert(self.hasher.hash_one(&key)) {
                let scope = self.stack[active.depth].name.clone();
                duplicate = Some((key, scope));
            }
        }
        if let Some((key, scope)) = duplicate {
            let message = format!("{} = '{key}' appears twice in one {scope}", frame.name);
            self.report(905, at, Some(&key), message);
        }
    }

    /// Handles one event; `false` ends the check.
    fn on_event(&mut self, event: Event<'_>, line: u64, column: u64) -> bool {
        match event {
            Event::Start(start) => {
                if self.stack.len() >= self.limits.max_depth {
                    self.fatal(
                        line,
                        column,
                        format!("elements nest deeper than {}", self.limits.max_depth),
                    );
                    return false;
                }
                if self.seen_root && self.stack.is_empty() {
                    self.fatal(line, column, "a second root element".into());
                    return false;
                }
                self.seen_root = true;
                let name = start.name().0.to_owned();
                self.start(&name, line, column);
            }
            Event::End(_) => self.end(),
            Event::Text(text) => {
                let t: &str = &text;
                if self.stack.is_empty() {
                    if !t.trim().is_empty() {
                        self.fatal(line, column, "text outside the root element".into());
                        return false;
                    }
                } else {
                    self.text(t);
                }
            }
            Event::CData(data) => {
                self.text(&data);
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let Some(c) = resolve_reference(name) else {
                    self.fatal(line, column, format!("unknown entity &{name};"));
                    return false;
                };
                self.text(c.encode_utf8(&mut [0; 4]));
            }
            Event::DocType(_) => {
                self.fatal(
                    line,
                    column,
                    "a DTD is not allowed in an exchange file".into(),
                );
                return false;
            }
            Event::Eof => {
                if !self.seen_root {
                    self.fatal(line, column, "the file has no root element".into());
                } else if !self.stack.is_empty() {
                    self.fatal(line, column, "the file ends inside an element".into());
                }
                return false;
            }
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        true
    }

    fn close_record(&mut self) {
        if self.record_open && self.record_refused {
            self.out.refused_records += 1;
        }
        self.record_open = false;
        self.record_refused = false;
    }

    fn fatal(&mut self, line: u64, column: u64, message: String) {
        let element = self
            .stack
            .last()
            .map_or_else(String::new, |f| f.name.clone());
        let parent = self
            .stack
            .len()
            .checked_sub(2)
            .map(|i| self.stack[i].name.clone());
        let at = At {
            element: &element,
            parent: parent.as_deref(),
            line,
            column,
        };
        let f = self.finding(901, &at, None, message);
        // A fatal finding is always kept.
        if self.out.findings.len() >= self.limits.max_findings {
            self.out.findings.pop();
            self.out.findings_dropped += 1;
        }
        self.out.findings.push(f);
        self.out.fatal = true;
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

/// Checks one document from `source` against `schema`.
pub fn check<R: Read>(
    schema: &Schema,
    patterns: &Patterns,
    source: DecodingReader<R>,
    limits: Limits,
) -> Outcome {
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
    let mut checker = Checker {
        schema,
        records: record_names(schema),
        patterns,
        limits,
        stack: Vec::with_capacity(16),
        uniques: Vec::new(),
        context: Context::default(),
        record_open: false,
        record_refused: false,
        out: Outcome::default(),
        hasher: foldhash::fast::FixedState::default(),
        seen_root: false,
    };
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (line, column) = reader.get_ref().inner.position();
        reader.get_mut().left = limits.max_event;
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(event) => {
                if !checker.on_event(event, line, column) {
                    break;
                }
            }
            Err(e) => {
                let message = match &e {
                    quick_xml::Error::Io(io) => match io.get_ref() {
                        Some(i) if i.is::<EncodingError>() || i.is::<EventTooLong>() => {
                            i.to_string()
                        }
                        _ => format!("cannot read the file: {io}"),
                    },
                    other => format!("not well-formed XML: {other}"),
                };
                let (l, c) = reader.get_ref().inner.position();
                checker.fatal(l, c, message);
                break;
            }
        }
    }
    checker.close_record();
    checker.out
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
}
