//! Validation of ОМС files: findings with F012 codes, never `Err` for a faulty file.
//!
//! - `simple`: one value against a compiled simple type.
//! - `schema`: the streaming check of a whole document against one compiled XSD.
//! - this module: which schema a file gets (file-name prefix, root element, `ZGLV/VERSION`;
//!   an unknown version is a coded refusal) and the report of one file.
//! - `package`: ZIP packages (formats.md 1.1): limits, names, the H + L pair, each inner file
//!   streamed from the archive through the check of one file.
//! - `records`: the typed records (ZAP, PERS, OP, …) built from what passes the check, for the
//!   business rules.
//!
//! A faulty file is a normal outcome, so every function here returns a report; only the caller
//! (CLI, intake) does I/O errors. `validate` never touches the database: business rules will
//! take look-up traits (`ClassifierLookup`, `RegisterLookup`).

pub mod cli;
pub mod package;
pub mod protocol;
pub mod records;
pub mod rules;
pub mod schema;
pub mod simple;

use std::io::{Cursor, Read};

use serde::{Serialize, Serializer};

use crate::xml::reader::{DecodingReader, declared_encoding};
use crate::xml::tables::Schema;
use schema::Limits;
use simple::Patterns;

/// Where in the file a finding is: the keys of the record around it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Context {
    /// `ZAP/N_ZAP` of the record.
    pub n_zap: Option<u64>,
    /// `ID_PAC` of the patient.
    pub id_pac: Option<String>,
    /// `Z_SL/IDCASE` of the case.
    pub idcase: Option<u64>,
    /// `SL/SL_ID` of the episode.
    pub sl_id: Option<String>,
    /// `USL/IDSERV` of the service.
    pub idserv: Option<String>,
}

/// One problem, as the `FLK_P` protocol and the JSON report carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// F012 code: 901 order / missing, 902 empty mandatory, 903 type or format, 904 value not
    /// allowed, 905 duplicate key.
    pub code: u16,
    /// The element (`IM_POL`).
    pub element: String,
    /// Its parent (`BAS_EL`).
    pub parent: Option<String>,
    /// The offending value (`ZN_POL`, at most 100 characters), when there is one.
    pub value: Option<String>,
    /// The record keys around it.
    pub context: Context,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// A sentence for people, with the offending value.
    pub message: String,
    /// The hub's own code for what exactly was refused, where the F012 code covers several
    /// cases (`zip_bomb`, `path_traversal`, `signature_invalid`, `dtd`…): the package status
    /// and the JSON report carry it; the `FLK_P` protocol carries the F012 code and the message.
    /// `None` for the findings of the schema tables.
    pub reason: Option<&'static str>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            code: String,
            element: &'a str,
            parent: Option<&'a str>,
            n_zap: Option<u64>,
            id_pac: Option<&'a str>,
            idcase: Option<u64>,
            sl_id: Option<&'a str>,
            idserv: Option<&'a str>,
            line: u64,
            column: u64,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'static str>,
        }
        Out {
            code: self.code.to_string(),
            element: &self.element,
            parent: self.parent.as_deref(),
            n_zap: self.context.n_zap,
            id_pac: self.context.id_pac.as_deref(),
            idcase: self.context.idcase,
            sl_id: self.context.sl_id.as_deref(),
            idserv: self.context.idserv.as_deref(),
            line: self.line,
            column: self.column,
            message: &self.message,
            reason: self.reason,
        }
        .serialize(s)
    }
}

/// The result of checking one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file name.
    pub file: String,
    /// File type from the name (`H`, `T`, `C`, `DP`, `L`, `LT`, …) or the root element.
    pub kind: String,
    /// `ZGLV/VERSION` (or empty when the family has none).
    pub version: String,
    /// The schema used (`zl_list/3.2/H`), if one was chosen.
    pub schema: Option<&'static str>,
    /// `SCHET/NSCHET`, the account number, for the protocol.
    pub nschet: Option<String>,
    /// No finding at all.
    pub accepted: bool,
    /// Records seen (ZAP, PERS, …).
    pub records: u64,
    /// Records with a finding.
    pub refused_records: u64,
    /// Findings past the cap, counted but not listed.
    pub findings_dropped: u64,
    /// The findings, in file order.
    pub findings: Vec<Finding>,
}

/// The file-type prefix of an exchange file name (formats.md 1.1:
/// `^(C|T|H|D[DFOPRSUVAB]|L[TDFOPRSUVCAB]|L)`), if it has one.
#[must_use]
pub fn kind_of(file_name: &str) -> Option<&str> {
    let b = file_name.as_bytes();
    match b.first()? {
        b'D' if b.get(1).is_some_and(|c| b"DFOPRSUVAB".contains(c)) => Some(&file_name[..2]),
        b'L' if b.get(1).is_some_and(|c| b"TDFOPRSUVCAB".contains(c)) => Some(&file_name[..2]),
        b'C' | b'T' | b'H' | b'L' => Some(&file_name[..1]),
        _ => None,
    }
}

/// What the first bytes of a file say: its root element and `ZGLV/VERSION`.
fn peek(prefix: &str) -> (Option<String>, Option<String>) {
    let mut rest = prefix;
    let root = loop {
        let Some(i) = rest.find('<') else { break None };
        rest = &rest[i + 1..];
        match rest.as_bytes().first() {
            Some(b'?' | b'!') => {}
            Some(_) => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .unwrap_or(rest.len());
                break Some(rest[..end].to_owned());
            }
            None => break None,
        }
    };
    let version = prefix.find("<VERSION>").and_then(|i| {
        let after = &prefix[i + "<VERSION>".len()..];
        after
            .find("</VERSION>")
            .map(|j| after[..j].trim().to_owned())
    });
    (root, version)
}

/// What makes the first bytes of a file not XML before its schema is chosen from them (their
/// root and version could be read wrongly otherwise): a control character XML forbids (NUL
/// and the others below U+0020 but tab, line feed and carriage return), or a DOCTYPE before
/// the root element (where entities would be declared that the version could be made of).
/// The finding (901 with its reason); the stream check refuses the same faults further on.
fn malformed_prefix(text: &str) -> Option<Finding> {
    let found = |(line, column): (u64, u64), reason: &'static str, message: String| Finding {
        code: 901,
        element: String::new(),
        parent: None,
        value: None,
        context: Context::default(),
        line,
        column,
        message,
        reason: Some(reason),
    };
    let position = |at: usize| {
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (
            u64::try_from(line).unwrap_or(u64::MAX),
            u64::try_from(column).unwrap_or(u64::MAX),
        )
    };
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| u32::from(c) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Some(found(
            position(at),
            "not_well_formed",
            format!(
                "not well-formed XML: character U+{:04X} (a control character) is not allowed in XML",
                u32::from(c)
            ),
        ));
    }
    let mut at = 0;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        let rest = &text[start..];
        let skip_to = |end: &str| rest.find(end).map(|j| start + j + end.len());
        let next = if rest.starts_with("<!DOCTYPE") {
            return Some(found(
                position(start),
                "dtd",
                "a DTD is not allowed in an exchange file".into(),
            ));
        } else if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<?") {
            skip_to("?>")
        } else {
            // The root element: what follows is the stream check's.
            None
        };
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    None
}

/// Why a file is refused before its schema is chosen: the F012 code, the element, the message
/// and the hub's reason where the code covers several faults.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    code: u16,
    element: String,
    message: String,
    reason: Option<&'static str>,
}

impl Refusal {
    fn new(code: u16, element: impl Into<String>, message: String) -> Self {
        Self {
            code,
            element: element.into(),
            message,
            reason: None,
        }
    }
}

/// The root element a file of `kind` (its name's prefix) has: `ZL_LIST` for the data files
/// (H, T, C, D*), `PERS_LIST` for the personal-data files (L*).
fn expected_root(kind: &str) -> &'static str {
    if kind.starts_with('L') {
        "PERS_LIST"
    } else {
        "ZL_LIST"
    }
}

/// Which schema name a file gets, or the finding that refuses it. A file whose name announces
/// a kind (formats.md 1.1: H, T, C, D*, L*) must have that kind's root element: an L file
/// holding an account (or an H file holding personal data, a protocol, an ERZ list) is
/// refused with 901 `wrong_root`, never checked as what its content says it is.
fn schema_name(file_name: &str, root: &str, version: Option<&str>) -> Result<String, Refusal> {
    let kind = kind_of(file_name);
    if let Some(kind) = kind {
        let expected = expected_root(kind);
        if root != expected {
            return Err(Refusal {
                reason: Some("wrong_root"),
                ..Refusal::new(
                    901,
                    root,
                    format!(
                        "the name announces a {kind} file, whose root element is {expected}, \
                         but the root element is {root}"
                    ),
                )
            });
        }
    }
    let versioned = |family: &str, letter: &str, supported: &[&str]| -> Result<String, Refusal> {
        let Some(v) = version else {
            return Err(Refusal::new(
                901,
                "VERSION",
                "ZGLV/VERSION is missing".into(),
            ));
        };
        if supported.contains(&v) {
            Ok(format!("{family}/{v}/{letter}"))
        } else {
            Err(Refusal::new(
                904,
                "VERSION",
                format!(
                    "version {v} of a {letter} file is not supported (supported: {})",
                    supported.join(", ")
                ),
            ))
        }
    };
    match root {
        "ZL_LIST" => match kind.map(|k| &k[..1]) {
            Some("T") => versioned("zl_list", "T", &["3.1"]),
            Some("C") => versioned("zl_list", "C", &["3.1"]),
            Some("D") => versioned("zl_list", "D", &["3.1"]),
            _ => versioned("zl_list", "H", &["3.1", "3.2"]),
        },
        "PERS_LIST" => versioned("pers_list", "L", &["3.1", "3.2"]),
        "FLK_P" if file_name.starts_with('V') => Ok("flk_p/1.0/FLK_P".into()),
        "FLK_P" => Ok("flk_p/erz/FLK_P".into()),
        "OPLIST" | "REPLIST" | "RECLIST" | "STOPLIST" | "CONFLICTLIST" => {
            Ok(format!("erz/1.0/{root}"))
        }
        other => Err(Refusal::new(
            901,
            other,
            format!("root element {other} is not an exchange file the hub knows"),
        )),
    }
}

/// The compiled schemas with their patterns, built once per process.
pub struct Validator {
    schemas: Vec<(&'static Schema, Patterns)>,
}

impl Validator {
    /// Prepares `schemas` (compiles their patterns once).
    pub fn new(schemas: &[&'static Schema]) -> Result<Self, regex::Error> {
        let mut prepared = Vec::with_capacity(schemas.len());
        for &schema in schemas {
            prepared.push((schema, Patterns::compile(schema)?));
        }
        Ok(Self { schemas: prepared })
    }

    /// Checks one file, streaming, against the schema its name, root and version select.
    /// Only reading `source` can fail; a faulty file is a report with findings.
    pub fn check_file<R: Read>(
        &self,
        file_name: &str,
        source: R,
        limits: Limits,
    ) -> std::io::Result<FileReport> {
        check_file(&self.schemas, file_name, source, limits, schema::NoSink).map(|(r, _)| r)
    }

    /// Checks one file as [`Validator::check_file`] does, handing what passes the check to
    /// `sink` as it streams (the typed records of `validate::records`). A file refused before
    /// its schema is known (name, encoding, version) reaches the sink not at all.
    pub fn check_file_into<R: Read, S: schema::Sink>(
        &self,
        file_name: &str,
        source: R,
        limits: Limits,
        sink: S,
    ) -> std::io::Result<(FileReport, S)> {
        check_file(&self.schemas, file_name, source, limits, sink)
    }

    /// Checks one file as [`Validator::check_file_into`] does, with the sink made by
    /// `make_sink` once the schema is chosen (it gets the schema's name, `zl_list/3.2/H`), so
    /// the sink can fit the file (`records::read` picks its record builder so). `None` when the
    /// file is refused before its schema is known.
    pub fn check_file_with<R: Read, S: schema::Sink>(
        &self,
        file_name: &str,
        source: R,
        limits: Limits,
        make_sink: impl FnOnce(&'static str) -> S,
    ) -> std::io::Result<(FileReport, Option<S>)> {
        Ok(match open_file(&self.schemas, file_name, source)? {
            Ok(opened) => {
                let sink = make_sink(opened.schema.name);
                let (report, sink) = opened.check(limits, sink);
                (report, Some(sink))
            }
            Err(report) => (report, None),
        })
    }
}

/// A file whose schema is chosen, its first bytes read, ready for the check.
struct Opened<'v, R> {
    report: FileReport,
    schema: &'static Schema,
    patterns: &'v Patterns,
    reader: DecodingReader<std::io::Chain<Cursor<Vec<u8>>, R>>,
}

impl<R: Read> Opened<'_, R> {
    /// Checks the rest of the file.
    fn check<S: schema::Sink>(self, limits: Limits, sink: S) -> (FileReport, S) {
        let mut report = self.report;
        let (outcome, sink) =
            schema::check_into(self.schema, self.patterns, self.reader, limits, sink);
        report.records = outcome.records;
        report.refused_records = outcome.refused_records;
        report.findings_dropped = outcome.findings_dropped;
        report.findings = outcome.findings;
        report.nschet = outcome.nschet;
        report.accepted = report.findings.is_empty() && report.findings_dropped == 0;
        (report, sink)
    }
}

fn check_file<R: Read, S: schema::Sink>(
    schemas: &[(&'static Schema, Patterns)],
    file_name: &str,
    source: R,
    limits: Limits,
    sink: S,
) -> std::io::Result<(FileReport, S)> {
    Ok(match open_file(schemas, file_name, source)? {
        Ok(opened) => opened.check(limits, sink),
        Err(report) => (report, sink),
    })
}

/// Reads the first 64 KiB of a file and chooses its schema, or the report refusing it.
fn open_file<'v, R: Read>(
    schemas: &'v [(&'static Schema, Patterns)],
    file_name: &str,
    mut source: R,
) -> std::io::Result<Result<Opened<'v, R>, FileReport>> {
    let mut prefix = vec![0; 64 * 1024];
    let mut filled = 0;
    while filled < prefix.len() {
        let n = source.read(&mut prefix[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    prefix.truncate(filled);
    let kind = kind_of(file_name).unwrap_or("").to_owned();
    let mut report = FileReport {
        file: file_name.to_owned(),
        kind,
        version: String::new(),
        schema: None,
        nschet: None,
        accepted: false,
        records: 0,
        refused_records: 0,
        findings_dropped: 0,
        findings: Vec::new(),
    };
    let refuse = |report: &mut FileReport, code: u16, element: String, message: String| {
        report.findings.push(Finding {
            code,
            parent: (element == "VERSION").then(|| "ZGLV".to_owned()),
            element,
            value: None,
            context: Context::default(),
            line: 1,
            column: 1,
            message,
            reason: None,
        });
    };
    let encoding = match declared_encoding(&prefix) {
        Ok(e) => e,
        Err(label) => {
            refuse(
                &mut report,
                903,
                "xml".into(),
                format!(
                    "the declared encoding `{label}` is not supported; use windows-1251 or UTF-8"
                ),
            );
            return Ok(Err(report));
        }
    };
    let (text, _, _) = encoding.decode(&prefix);
    if let Some(finding) = malformed_prefix(&text) {
        report.findings.push(finding);
        return Ok(Err(report));
    }
    let (root, version) = peek(&text);
    report.version = version.clone().unwrap_or_default();
    if report.kind.is_empty() {
        report.kind = root.clone().unwrap_or_default();
    }
    let name = match root
        .as_deref()
        .map(|r| schema_name(file_name, r, version.as_deref()))
    {
        Some(Ok(name)) => name,
        Some(Err(refusal)) => {
            refuse(&mut report, refusal.code, refusal.element, refusal.message);
            if let Some(f) = report.findings.last_mut() {
                f.reason = refusal.reason;
            }
            return Ok(Err(report));
        }
        None => {
            refuse(
                &mut report,
                901,
                String::new(),
                "the file has no root element".into(),
            );
            return Ok(Err(report));
        }
    };
    let Some((schema, patterns)) = schemas.iter().find(|(s, _)| s.name == name) else {
        refuse(
            &mut report,
            904,
            "VERSION".into(),
            format!("no schema {name} is built into this hub"),
        );
        return Ok(Err(report));
    };
    report.schema = Some(schema.name);
    let reader = DecodingReader::new(Cursor::new(prefix).chain(source), encoding);
    Ok(Ok(Opened {
        report,
        schema,
        patterns,
        reader,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_name_rules() {
        assert_eq!(kind_of("HM750096T75_2601001.xml"), Some("H"));
        assert_eq!(kind_of("DPM750052T75_21041"), Some("DP"));
        assert_eq!(kind_of("LTM750096T75_21041"), Some("LT"));
        assert_eq!(kind_of("LM750096T75_21041"), Some("L"));
        assert_eq!(kind_of("DXM1"), None);
        assert_eq!(kind_of("VHM750096T75_21041"), None);
    }

    #[test]
    fn versions_select_or_refuse() {
        assert_eq!(
            schema_name("HM1", "ZL_LIST", Some("3.2")).unwrap(),
            "zl_list/3.2/H"
        );
        assert_eq!(
            schema_name("TM1", "ZL_LIST", Some("3.1")).unwrap(),
            "zl_list/3.1/T"
        );
        assert_eq!(
            schema_name("LM1", "PERS_LIST", Some("3.2")).unwrap(),
            "pers_list/3.2/L"
        );
        let refusal = schema_name("HM1", "ZL_LIST", Some("6.0")).unwrap_err();
        assert_eq!((refusal.code, refusal.element.as_str()), (904, "VERSION"));
        assert!(refusal.message.contains("3.1, 3.2"), "{}", refusal.message);
        assert_eq!(
            schema_name("TM1", "ZL_LIST", Some("3.2")).unwrap_err().code,
            904
        );
        assert_eq!(schema_name("HM1", "ZL_LIST", None).unwrap_err().code, 901);
        assert_eq!(schema_name("x", "html", None).unwrap_err().code, 901);
    }

    #[test]
    fn the_root_must_be_the_one_the_name_announces() {
        for (name, root) in [
            ("LM750096T75_2601001", "ZL_LIST"),
            ("LTM750096T75_2104001", "ZL_LIST"),
            ("HM750096T75_2601001", "PERS_LIST"),
            ("DPM750096T75_2109001", "PERS_LIST"),
            ("HM750096T75_2601001", "FLK_P"),
            ("LM750096T75_2601001", "OPLIST"),
        ] {
            let refusal = schema_name(name, root, Some("3.2")).unwrap_err();
            assert_eq!(
                (refusal.code, refusal.reason, refusal.element.as_str()),
                (901, Some("wrong_root"), root),
                "{name} with {root}"
            );
        }
        assert_eq!(
            schema_name("LM1", "PERS_LIST", Some("3.2")).unwrap(),
            "pers_list/3.2/L"
        );
        assert_eq!(
            schema_name("VHM1", "FLK_P", None).unwrap(),
            "flk_p/1.0/FLK_P"
        );
    }

    #[test]
    fn the_peek_finds_root_and_version() {
        let (root, version) =
            peek("<?xml version=\"1.0\"?>\n<!-- c --><ZL_LIST><ZGLV><VERSION> 3.2 </VERSION>");
        assert_eq!(root.as_deref(), Some("ZL_LIST"));
        assert_eq!(version.as_deref(), Some("3.2"));
    }
}
