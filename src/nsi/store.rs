//! The classifier store in the database: importing packets entry by entry with history, and
//! the queries behind the API, the CLI export and the look-up snapshot.
//!
//! An entry is identified by (classifier, code, start of validity). Importing a packet compares
//! each entry with the current version: new ones are inserted, changed ones get a new version
//! (the old row is stamped `superseded_at`, never overwritten), identical ones are left alone,
//! so importing the same file twice changes nothing. Entries a newer packet omits stay as they
//! were: a classifier's history only grows. The only writer of the `nsi_*` tables.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::definitions::{self, Definition};
use super::packet::{self, Node, Packet, PacketError, PacketKind};
use crate::db::DbConn;
use crate::db::schema::{nsi_classifier, nsi_entry, nsi_import};
use crate::imports::{FileSummary, Outcome};

/// Column names that hold the start of an entry's validity, in the order they are tried.
const BEGIN_FIELDS: &[&str] = &["DATEBEG", "D_BEGIN", "DATE_BEGIN", "DATEB"];
/// Column names that hold the end of an entry's validity (inclusive).
const END_FIELDS: &[&str] = &["DATEEND", "D_END", "DATE_END", "DATEE"];

/// Rows inserted per statement.
const CHUNK: usize = 500;

/// Why a whole file was refused (entry-level problems are rejections in the summary instead).
#[derive(Debug, thiserror::Error)]
pub enum NsiError {
    /// The file is not a readable packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// A register packet (F001–F004) was given to the classifier import.
    #[error(
        "this is a register packet (TFOMS / insCompany / medCompany); import it with `omshub registers import`"
    )]
    RegisterPacket,
    /// Nothing says which classifier the packet holds.
    #[error(
        "cannot tell which classifier this packet holds: zglv/type is `{0}`; name it with --classifier"
    )]
    UnknownClassifier(String),
    /// The packet has no entry to learn the columns of an unknown classifier from.
    #[error(
        "classifier {0} is not known to the hub and the packet has no entry to learn its columns from"
    )]
    NoColumns(String),
    /// The database failed.
    #[error("database error while importing")]
    Db(#[from] diesel::result::Error),
}

impl NsiError {
    /// Stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Packet(e) => e.code(),
            Self::RegisterPacket => "register_packet",
            Self::UnknownClassifier(_) => "unknown_classifier",
            Self::NoColumns(_) => "unknown_columns",
            Self::Db(_) => "database_error",
        }
    }
}

/// What to import and how.
#[derive(Clone, Copy)]
pub struct ImportRequest<'a> {
    /// The packet file's bytes.
    pub bytes: &'a [u8],
    /// The file name, for the summary, the import log and classifier detection.
    pub source: &'a str,
    /// The classifier, when the caller knows it better than the packet.
    pub classifier: Option<&'a str>,
    /// Check and count, write nothing.
    pub dry_run: bool,
    /// Who imports (`admin`, `baseline`, an operator's name).
    pub by: &'a str,
    /// A progress bar advanced once per entry checked (the CLI's).
    pub progress: Option<&'a crate::imports::Progress>,
}

/// A classifier as the API lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClassifierInfo {
    /// `V006`.
    pub id: String,
    /// What it classifies.
    pub title: String,
    /// Column holding the code.
    pub key_field: String,
    /// Column holding the name.
    pub name_field: Option<String>,
    /// Current entries (all validity periods).
    pub entries: i64,
    /// Version named by the newest import, if any.
    pub version: Option<String>,
    /// When the newest import that changed something ran.
    pub last_import: Option<NaiveDateTime>,
}

/// One version of one entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// `V006`.
    pub classifier: String,
    /// The code (`1`).
    pub code: String,
    /// The name, from the classifier's name column.
    pub name: Option<String>,
    /// First day of validity.
    pub valid_from: NaiveDate,
    /// Last day of validity; `None` while still valid.
    pub valid_to: Option<NaiveDate>,
    /// Every column as the packet had it.
    pub fields: Value,
    /// When the hub recorded this version.
    pub recorded_at: NaiveDateTime,
    /// When a newer version replaced it; `None` for the current version.
    pub superseded_at: Option<NaiveDateTime>,
    /// The import that brought it.
    pub import_id: String,
}

impl Entry {
    /// Whether this version is valid on `date` (both ends inclusive).
    #[must_use]
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|end| date <= end)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = nsi_entry)]
struct EntryRow {
    id: i64,
    classifier: String,
    code: String,
    name: Option<String>,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    fields: String,
    import_id: String,
    recorded_at: NaiveDateTime,
    superseded_at: Option<NaiveDateTime>,
}

impl From<EntryRow> for Entry {
    fn from(row: EntryRow) -> Self {
        Self {
            classifier: row.classifier,
            code: row.code,
            name: row.name,
            valid_from: row.valid_from,
            valid_to: row.valid_to,
            fields: serde_json::from_str(&row.fields).unwrap_or(Value::Null),
            recorded_at: row.recorded_at,
            superseded_at: row.superseded_at,
            import_id: row.import_id,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = nsi_entry)]
#[diesel(treat_none_as_default_value = false)]
struct NewEntry {
    classifier: String,
    code: String,
    name: Option<String>,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    fields: String,
    import_id: String,
    recorded_at: NaiveDateTime,
    superseded_at: Option<NaiveDateTime>,
}

/// An entry read from a packet and checked.
#[derive(Debug)]
struct Incoming {
    line: usize,
    code: String,
    name: Option<String>,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    fields: String,
}

/// The columns of the classifier a packet holds.
#[derive(Debug, Clone)]
struct Columns {
    id: String,
    title: String,
    key_field: String,
    name_field: Option<String>,
}

impl From<&Definition> for Columns {
    fn from(d: &Definition) -> Self {
        Self {
            id: d.id.to_owned(),
            title: d.title.to_owned(),
            key_field: d.key_field.to_owned(),
            name_field: Some(d.name_field.to_owned()),
        }
    }
}

/// Now, at the microsecond precision both backends keep.
fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond_micros()
}

trait MicroPrecision {
    fn with_nanosecond_micros(self) -> Self;
}

impl MicroPrecision for NaiveDateTime {
    fn with_nanosecond_micros(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(self.nanosecond() / 1_000 * 1_000)
            .unwrap_or(self)
    }
}

/// An element tree as a JSON object: text for leaves, objects for blocks, arrays for repeated
/// elements, in document order.
#[must_use]
pub fn node_to_json(node: &Node) -> Map<String, Value> {
    let mut map = Map::new();
    for child in &node.children {
        let value = if child.children.is_empty() {
            Value::String(child.text.trim().to_owned())
        } else {
            Value::Object(node_to_json(child))
        };
        match map.get_mut(&child.name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(child.name.clone(), value);
            }
        }
    }
    map
}

/// The reverse of [`node_to_json`]: the children of an element named `name`.
#[must_use]
pub fn json_to_node(name: &str, fields: &Map<String, Value>) -> Node {
    fn one(name: &str, value: &Value, out: &mut Vec<Node>) {
        match value {
            Value::Array(items) => {
                for item in items {
                    one(name, item, out);
                }
            }
            Value::Object(map) => out.push(json_to_node(name, map)),
            Value::String(text) => out.push(Node {
                name: name.to_owned(),
                text: text.clone(),
                children: Vec::new(),
                line: 0,
            }),
            other => out.push(Node {
                name: name.to_owned(),
                text: other.to_string(),
                children: Vec::new(),
                line: 0,
            }),
        }
    }
    let mut children = Vec::new();
    for (key, value) in fields {
        one(key, value, &mut children);
    }
    Node {
        name: name.to_owned(),
        text: String::new(),
        children,
        line: 0,
    }
}

/// Which classifier a packet holds: the caller's word, then `zglv/type`, then the file name.
fn classifier_of(packet_type: &str, source: &str, given: Option<&str>) -> Result<String, NsiError> {
    if let Some(given) = given {
        return Ok(definitions::find(given)
            .map_or_else(|| given.trim().to_ascii_uppercase(), |d| d.id.to_owned()));
    }
    if let Some(d) = definitions::find(packet_type) {
        return Ok(d.id.to_owned());
    }
    if definitions::looks_like_id(packet_type.trim()) {
        return Ok(packet_type.trim().to_ascii_uppercase());
    }
    let stem = std::path::Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(prefix) = stem.get(..4).filter(|p| definitions::looks_like_id(p)) {
        return Ok(definitions::find(prefix)
            .map_or_else(|| prefix.to_ascii_uppercase(), |d| d.id.to_owned()));
    }
    Err(NsiError::UnknownClassifier(packet_type.to_owned()))
}

/// The columns of classifier `id`: stored ones first (an operator's earlier import), then the
/// built-in definitions, then guessed from the first entry.
fn columns_of(conn: &mut DbConn, id: &str, first: Option<&Node>) -> Result<Columns, NsiError> {
    let stored: Option<(String, String, Option<String>)> = nsi_classifier::table
        .find(id)
        .select((
            nsi_classifier::title,
            nsi_classifier::key_field,
            nsi_classifier::name_field,
        ))
        .first(conn)
        .optional()?;
    if let Some((title, key_field, name_field)) = stored {
        return Ok(Columns {
            id: id.to_owned(),
            title,
            key_field,
            name_field,
        });
    }
    if let Some(d) = definitions::find(id) {
        return Ok(Columns::from(d));
    }
    let first = first.ok_or_else(|| NsiError::NoColumns(id.to_owned()))?;
    let key_field = first
        .children
        .first()
        .map(|c| c.name.clone())
        .ok_or_else(|| NsiError::NoColumns(id.to_owned()))?;
    let name_field = first.children.iter().map(|c| c.name.clone()).find(|n| {
        let upper = n.to_ascii_uppercase();
        upper.contains("NAME") || upper.contains("NAIM") || upper == "OPIS"
    });
    Ok(Columns {
        id: id.to_owned(),
        title: format!("classifier {id}"),
        key_field,
        name_field,
    })
}

fn date_field(node: &Node, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        node.text_of(n)
            .map(|text| ((*n).to_owned(), text.trim().to_owned()))
    })
}

/// Checks one `zap`; `Err((key, code, message))` rejects it.
fn read_entry(
    node: &Node,
    columns: &Columns,
) -> Result<Incoming, (Option<String>, &'static str, String)> {
    let code = node
        .text_of(&columns.key_field)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            (
                None,
                "missing_code",
                format!("the key column {} is missing or empty", columns.key_field),
            )
        })?
        .to_owned();
    let key = Some(code.clone());
    let name = columns
        .name_field
        .as_deref()
        .and_then(|f| node.text_of(f))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let (begin_field, begin_text) = date_field(node, BEGIN_FIELDS).ok_or_else(|| {
        (
            key.clone(),
            "missing_date",
            "the start of validity (DATEBEG) is missing".to_owned(),
        )
    })?;
    let valid_from = packet::parse_date(&begin_text).ok_or_else(|| {
        (
            key.clone(),
            "invalid_date",
            format!("{begin_field} `{begin_text}` is not a date (DD.MM.YYYY or YYYY-MM-DD)"),
        )
    })?;
    let valid_to = match date_field(node, END_FIELDS) {
        Some((_, text)) if text.is_empty() => None,
        Some((field, text)) => Some(packet::parse_date(&text).ok_or_else(|| {
            (
                key.clone(),
                "invalid_date",
                format!("{field} `{text}` is not a date (DD.MM.YYYY or YYYY-MM-DD)"),
            )
        })?),
        None => None,
    };
    if let Some(end) = valid_to
        && end < valid_from
    {
        return Err((
            key,
            "invalid_period",
            format!("validity ends ({end}) before it begins ({valid_from})"),
        ));
    }
    let fields = Value::Object(node_to_json(node)).to_string();
    Ok(Incoming {
        line: node.line,
        code,
        name,
        valid_from,
        valid_to,
        fields,
    })
}

/// Imports one classifier packet. Entry-level problems are rejections in the summary; the
/// accepted entries are written in one transaction (nothing when `dry_run`).
pub fn import_packet(conn: &mut DbConn, req: ImportRequest<'_>) -> Result<FileSummary, NsiError> {
    let packet = packet::read_packet(req.bytes)?;
    let type_name = match &packet.kind {
        PacketKind::Classifier { type_name } => type_name.clone(),
        PacketKind::Register => return Err(NsiError::RegisterPacket),
    };
    let id = classifier_of(&type_name, req.source, req.classifier)?;
    let columns = columns_of(conn, &id, packet.entries.first())?;
    let mut summary = FileSummary::new(req.source, &id, req.dry_run);

    // Check every entry before anything is written.
    let mut incoming = Vec::with_capacity(packet.entries.len());
    let mut seen = HashSet::new();
    if let Some(progress) = req.progress {
        progress.set_length(packet.entries.len());
    }
    for node in &packet.entries {
        if let Some(progress) = req.progress {
            progress.inc();
        }
        match read_entry(node, &columns) {
            Ok(entry) => {
                if seen.insert((entry.code.clone(), entry.valid_from)) {
                    incoming.push(entry);
                } else {
                    summary.reject(
                        entry.line,
                        Some(entry.code.clone()),
                        "duplicate_entry",
                        format!(
                            "code {} with validity from {} appears earlier in this file",
                            entry.code, entry.valid_from
                        ),
                    );
                }
            }
            Err((key, code, message)) => summary.reject(node.line, key, code, message),
        }
    }

    let current: HashMap<(String, NaiveDate), EntryRow> = nsi_entry::table
        .filter(nsi_entry::classifier.eq(&id))
        .filter(nsi_entry::superseded_at.is_null())
        .select(EntryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| ((row.code.clone(), row.valid_from), row))
        .collect();

    let mut to_insert = Vec::new();
    let mut to_supersede = Vec::new();
    for entry in incoming {
        match current.get(&(entry.code.clone(), entry.valid_from)) {
            None => {
                summary.record(Outcome::Inserted);
                to_insert.push(entry);
            }
            Some(row)
                if row.name == entry.name
                    && row.valid_to == entry.valid_to
                    && row.fields == entry.fields =>
            {
                summary.record(Outcome::Unchanged);
            }
            Some(row) => {
                summary.record(Outcome::Updated);
                to_supersede.push(row.id);
                to_insert.push(entry);
            }
        }
    }

    // A classifier seen for the first time is recorded even without entries (F014's baseline
    // is its structure only), so that it is listed and not loaded again.
    let known = has_classifier(conn, &id)?;
    if req.dry_run || (to_insert.is_empty() && known) {
        return Ok(summary);
    }
    let digest = hex(&Sha256::digest(req.bytes));
    conn.transaction(|conn| {
        write_import(
            conn,
            &columns,
            &packet,
            &summary,
            &digest,
            req.by,
            &to_supersede,
            to_insert,
        )
    })?;
    Ok(summary)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one transaction's worth of already-checked inputs"
)]
fn write_import(
    conn: &mut DbConn,
    columns: &Columns,
    packet: &Packet,
    summary: &FileSummary,
    digest: &str,
    by: &str,
    to_supersede: &[i64],
    to_insert: Vec<Incoming>,
) -> QueryResult<()> {
    let at = now();
    let known: i64 = nsi_classifier::table
        .filter(nsi_classifier::id.eq(&columns.id))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(nsi_classifier::table)
            .values((
                nsi_classifier::id.eq(&columns.id),
                nsi_classifier::title.eq(&columns.title),
                nsi_classifier::key_field.eq(&columns.key_field),
                nsi_classifier::name_field.eq(&columns.name_field),
                nsi_classifier::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    let import_id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(nsi_import::table)
        .values((
            nsi_import::id.eq(&import_id),
            nsi_import::classifier.eq(&columns.id),
            nsi_import::version.eq(&packet.version),
            nsi_import::packet_date.eq(packet.date),
            nsi_import::source.eq(&summary.file),
            nsi_import::sha256.eq(digest),
            nsi_import::imported_at.eq(at),
            nsi_import::imported_by.eq(by),
            nsi_import::inserted.eq(count(summary.inserted)),
            nsi_import::updated.eq(count(summary.updated)),
            nsi_import::unchanged.eq(count(summary.unchanged)),
            nsi_import::rejected.eq(count(summary.rejected.len())),
        ))
        .execute(conn)?;
    for ids in to_supersede.chunks(CHUNK) {
        diesel::update(nsi_entry::table.filter(nsi_entry::id.eq_any(ids)))
            .set(nsi_entry::superseded_at.eq(Some(at)))
            .execute(conn)?;
    }
    let rows: Vec<NewEntry> = to_insert
        .into_iter()
        .map(|e| NewEntry {
            classifier: columns.id.clone(),
            code: e.code,
            name: e.name,
            valid_from: e.valid_from,
            valid_to: e.valid_to,
            fields: e.fields,
            import_id: import_id.clone(),
            recorded_at: at,
            superseded_at: None,
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        crate::per_backend!(conn, |c| diesel::insert_into(nsi_entry::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Every classifier in the store with its size and newest import.
pub fn classifiers(conn: &mut DbConn) -> QueryResult<Vec<ClassifierInfo>> {
    let list: Vec<(String, String, String, Option<String>)> = nsi_classifier::table
        .order(nsi_classifier::id)
        .select((
            nsi_classifier::id,
            nsi_classifier::title,
            nsi_classifier::key_field,
            nsi_classifier::name_field,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(list.len());
    for (id, title, key_field, name_field) in list {
        let entries: i64 = nsi_entry::table
            .filter(nsi_entry::classifier.eq(&id))
            .filter(nsi_entry::superseded_at.is_null())
            .count()
            .get_result(conn)?;
        let newest: Option<(Option<String>, NaiveDateTime)> = nsi_import::table
            .filter(nsi_import::classifier.eq(&id))
            .order(nsi_import::imported_at.desc())
            .select((nsi_import::version, nsi_import::imported_at))
            .first(conn)
            .optional()?;
        out.push(ClassifierInfo {
            id,
            title,
            key_field,
            name_field,
            entries,
            version: newest.as_ref().and_then(|(v, _)| v.clone()),
            last_import: newest.map(|(_, at)| at),
        });
    }
    Ok(out)
}

/// Whether the store holds classifier `id`.
pub fn has_classifier(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let n: i64 = nsi_classifier::table
        .filter(nsi_classifier::id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The answer to "code X of classifier Y, valid on date D?".
#[derive(Debug, Clone, PartialEq)]
pub enum CodeOnDate {
    /// Valid: the version in force on that date.
    Valid(Entry),
    /// The code exists but none of its periods covers the date; these are its periods.
    NotValidOn(Vec<Entry>),
    /// The classifier has no such code.
    UnknownCode,
    /// The store has no such classifier.
    UnknownClassifier,
}

/// Looks a code up on a date, in the database (the API; validation uses the snapshot).
pub fn code_on(
    conn: &mut DbConn,
    classifier: &str,
    code: &str,
    on: NaiveDate,
) -> QueryResult<CodeOnDate> {
    if !has_classifier(conn, classifier)? {
        return Ok(CodeOnDate::UnknownClassifier);
    }
    let versions: Vec<Entry> = nsi_entry::table
        .filter(nsi_entry::classifier.eq(classifier))
        .filter(nsi_entry::code.eq(code))
        .filter(nsi_entry::superseded_at.is_null())
        .order(nsi_entry::valid_from)
        .select(EntryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Entry::from)
        .collect();
    if versions.is_empty() {
        return Ok(CodeOnDate::UnknownCode);
    }
    match versions.iter().rev().find(|e| e.valid_on(on)) {
        Some(entry) => Ok(CodeOnDate::Valid(entry.clone())),
        None => Ok(CodeOnDate::NotValidOn(versions)),
    }
}

/// Every version ever recorded of a code, superseded ones included, oldest first.
pub fn history(conn: &mut DbConn, classifier: &str, code: &str) -> QueryResult<Vec<Entry>> {
    Ok(nsi_entry::table
        .filter(nsi_entry::classifier.eq(classifier))
        .filter(nsi_entry::code.eq(code))
        .order((nsi_entry::valid_from, nsi_entry::recorded_at, nsi_entry::id))
        .select(EntryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Entry::from)
        .collect())
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only entries valid on this date.
    pub on: Option<NaiveDate>,
    /// Only codes starting with, or names containing, this text.
    pub q: Option<String>,
}

/// Current entries of a classifier, ordered by code and start of validity, one page of them,
/// and how many match in all.
pub fn list(
    conn: &mut DbConn,
    classifier: &str,
    filter: &ListFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Entry>, i64)> {
    let query = || {
        let mut q = nsi_entry::table
            .filter(nsi_entry::classifier.eq(classifier.to_owned()))
            .filter(nsi_entry::superseded_at.is_null())
            .into_boxed();
        if let Some(on) = filter.on {
            q = q
                .filter(nsi_entry::valid_from.le(on))
                .filter(nsi_entry::valid_to.is_null().or(nsi_entry::valid_to.ge(on)));
        }
        if let Some(text) = filter.q.as_deref().filter(|t| !t.is_empty()) {
            q = q.filter(
                nsi_entry::code
                    .like(format!("{text}%"))
                    .or(nsi_entry::name.like(format!("%{text}%"))),
            );
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows: Vec<EntryRow> = query()
        .order((nsi_entry::code, nsi_entry::valid_from))
        .offset(offset)
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?;
    Ok((rows.into_iter().map(Entry::from).collect(), total))
}

/// The current entries of a classifier as a packet (only those valid on `on`, when given):
/// exporting and importing the result again changes nothing.
pub fn export(conn: &mut DbConn, classifier: &str, on: Option<NaiveDate>) -> QueryResult<Packet> {
    let last: Option<(Option<String>, Option<NaiveDate>)> = nsi_import::table
        .filter(nsi_import::classifier.eq(classifier))
        .order(nsi_import::imported_at.desc())
        .select((nsi_import::version, nsi_import::packet_date))
        .first(conn)
        .optional()?;
    let rows: Vec<EntryRow> = nsi_entry::table
        .filter(nsi_entry::classifier.eq(classifier))
        .filter(nsi_entry::superseded_at.is_null())
        .order((nsi_entry::code, nsi_entry::valid_from))
        .select(EntryRow::as_select())
        .load(conn)?;
    let entries = rows
        .into_iter()
        .map(Entry::from)
        .filter(|e| on.is_none_or(|d| e.valid_on(d)))
        .map(|e| match e.fields {
            Value::Object(map) => json_to_node("zap", &map),
            _ => json_to_node("zap", &Map::new()),
        })
        .collect();
    let (version, date) = last.unwrap_or((None, None));
    Ok(Packet {
        kind: PacketKind::Classifier {
            type_name: classifier.to_owned(),
        },
        version,
        date,
        entries,
    })
}

/// Grows with every change to the store (one import row per changing import); the server polls
/// it to know when to rebuild the look-up snapshot.
pub fn revision(conn: &mut DbConn) -> QueryResult<i64> {
    nsi_import::table.count().get_result(conn)
}

/// One validity period of one current entry: (classifier, code, from, to).
pub type ValidityRow = (String, String, NaiveDate, Option<NaiveDate>);

/// Every current entry's validity, for the look-up snapshot.
pub fn all_validity(conn: &mut DbConn) -> QueryResult<Vec<ValidityRow>> {
    nsi_entry::table
        .filter(nsi_entry::superseded_at.is_null())
        .select((
            nsi_entry::classifier,
            nsi_entry::code,
            nsi_entry::valid_from,
            nsi_entry::valid_to,
        ))
        .load(conn)
}
