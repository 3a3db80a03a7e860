//! Classifier and register packets (НСИ): reads and writes the ФФОМС `packet` files.
//!
//! Two forms share the root element `packet` (formats.md section 5):
//!
//! - the generic classifier form, `<packet><zglv><type>V006</type><version>…</version>
//!   <date>DD.MM.YYYY</date></zglv><zap>…</zap>…</packet>`, whose entries are the `zap`
//!   elements;
//! - the register form of F001, F002 and F003, `<packet version=".." date="..">`, whose entries
//!   are the `TFOMS`, `insCompany`, `medCompany` (or other) children.
//!
//! Either way each entry is kept as a small [`Node`] tree that remembers the line it started on,
//! so an importer can say "entry at line N". The reader honours the XML declaration
//! (`windows-1251` or UTF-8), refuses document type declarations (so no entity tricks), and
//! limits nesting and text size, because the files come from outside. The writer produces what
//! the reader accepts, and refuses characters windows-1251 cannot hold instead of replacing them.
//!
//! Called by the NSI store and the register importers; it uses nothing else from the crate.

use std::borrow::Cow;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use encoding_rs::{DecoderResult, Encoder, EncoderResult, Encoding, UTF_8, WINDOWS_1251};
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

/// Deepest element nesting accepted; the root `packet` is level 1.
pub const MAX_DEPTH: usize = 32;

/// Longest text of one element, in bytes of UTF-8 after decoding and trimming.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One element of a packet: its name, its own trimmed text and its child elements.
///
/// Attributes are not kept, except `version` and `date` on the root (see [`Packet`]).
///
/// `Debug` shows names, lines and text lengths but never the text: register packets carry
/// experts' names and SNILS, which must not reach a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Element name as written in the file (`Ogrn`, `OGRN`, `insCompany`, …).
    pub name: String,
    /// The element's own character data with leading and trailing whitespace removed;
    /// empty for `<d_end/>`, `<d_end></d_end>` and for pure containers.
    pub text: String,
    /// Child elements in file order.
    pub children: Vec<Node>,
    /// 1-based line of the start tag in the file; 0 for a node built in memory.
    pub line: usize,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Node");
        d.field("name", &self.name)
            .field("line", &self.line)
            .field("text_chars", &self.text.chars().count());
        if !self.children.is_empty() {
            d.field("children", &self.children);
        }
        d.finish()
    }
}

impl Node {
    /// A node with text and no children, as built in memory (line 0).
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
            line: 0,
        }
    }

    /// A node with children and no text, as built in memory (line 0).
    pub fn branch(name: impl Into<String>, children: Vec<Node>) -> Node {
        Node {
            name: name.into(),
            text: String::new(),
            children,
            line: 0,
        }
    }

    /// The first direct child called `name`, compared ASCII-case-insensitively
    /// (real packets mix `Ogrn` and `OGRN`).
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children_named(name).next()
    }

    /// Every direct child called `name` (ASCII-case-insensitive), in file order.
    pub fn children_named(&self, name: &str) -> impl Iterator<Item = &Node> {
        self.children
            .iter()
            .filter(move |child| child.name.eq_ignore_ascii_case(name))
    }

    /// Trimmed text of the direct child `name`: `None` when there is no such child,
    /// `Some("")` when it is empty.
    #[must_use]
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| trim_xml(&child.text))
    }
}

/// A classifier or register packet as read from, or written to, a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Which of the two forms the file has.
    pub kind: PacketKind,
    /// Version of the classifier (`zglv/version` or the `version` attribute).
    pub version: Option<String>,
    /// Date of the classifier edition (`zglv/date` or the `date` attribute).
    pub date: Option<NaiveDate>,
    /// The records: every `zap` of a classifier packet, every child of a register packet
    /// other than its header (`zglv`, `version`, `date`).
    pub entries: Vec<Node>,
}

/// The two forms of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketKind {
    /// Generic form with a `zglv` header; `type_name` is `zglv/type` (`VidExp`, `KSG`, …).
    Classifier { type_name: String },
    /// Register form (F001, F002, F003) with `version` and `date` on the root element.
    Register,
}

/// Character encoding of a written packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    Utf8,
    /// The encoding ФФОМС and the territorial funds use.
    Windows1251,
}

impl OutputEncoding {
    /// Reads the name a user gives: `utf-8` / `utf8`, `windows-1251` / `cp1251` (any case).
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "windows-1251" | "cp1251" => Ok(Self::Windows1251),
            other => Err(format!(
                "encoding `{other}` is not supported; use utf-8 or windows-1251"
            )),
        }
    }

    /// The name used in the XML declaration and in `charset=`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            OutputEncoding::Utf8 => "UTF-8",
            OutputEncoding::Windows1251 => "windows-1251",
        }
    }
}

/// Why a packet could not be read or written. Reading errors name the line of the file or
/// the byte offset; writing errors name the line of the output where the problem would be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The text is not well-formed XML (or uses an entity other than the five predefined).
    #[error("line {line}: not well-formed XML: {reason}")]
    NotXml { line: usize, reason: String },
    /// The bytes contradict the declared (or default UTF-8) encoding.
    #[error("byte offset {offset}: {found}, but the file declares {declared}")]
    EncodingMismatch {
        offset: usize,
        declared: &'static str,
        found: &'static str,
    },
    /// The XML declaration names an encoding other than windows-1251 or UTF-8.
    #[error(
        "line 1: the XML declaration names encoding `{label}`; only windows-1251 and UTF-8 are accepted"
    )]
    UnknownEncoding { label: String },
    /// The file has a document type declaration, and with it possibly entity declarations.
    #[error("line {line}: a document type declaration (<!DOCTYPE …>) is not allowed")]
    DtdForbidden { line: usize },
    /// The root element is not `packet`.
    #[error("line {line}: the root element is `{root}`, not `packet`")]
    NotAPacket { line: usize, root: String },
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("line {line}: elements nest deeper than {max} levels", max = MAX_DEPTH)]
    TooDeep { line: usize },
    /// One element's text is longer than [`MAX_TEXT_BYTES`].
    #[error("line {line}: the text of `{element}` is longer than {max} bytes", max = MAX_TEXT_BYTES)]
    TextTooLong { line: usize, element: String },
    /// The header date is neither `DD.MM.YYYY` nor `YYYY-MM-DD`.
    #[error("line {line}: header date `{value}` is neither DD.MM.YYYY nor YYYY-MM-DD")]
    BadHeaderDate { line: usize, value: String },
    /// Writing: a character has no windows-1251 code.
    #[error(
        "line {line} of the output: `{element}` holds {character:?} (U+{code:04X}), which windows-1251 cannot encode",
        code = u32::from(*character)
    )]
    Unencodable {
        line: usize,
        element: String,
        character: char,
    },
    /// Writing: a node name is not an XML element name.
    #[error("`{name}` is not a valid XML element name")]
    InvalidName { name: String },
    /// Writing: an entry's name does not fit the packet form, so reading would lose it.
    #[error("entry {index} is named `{name}`: {rule}")]
    BadEntryName {
        index: usize,
        name: String,
        rule: &'static str,
    },
    /// Writing: the header date has a year outside 1..=9999, so it has no `DD.MM.YYYY` form.
    #[error("header date {date} cannot be written as DD.MM.YYYY")]
    UnwritableDate { date: NaiveDate },
}

impl PacketError {
    /// Stable `snake_case` code for protocols and API bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            PacketError::NotXml { .. } => "not_xml",
            PacketError::EncodingMismatch { .. } => "encoding_mismatch",
            PacketError::UnknownEncoding { .. } => "unknown_encoding",
            PacketError::DtdForbidden { .. } => "dtd_forbidden",
            PacketError::NotAPacket { .. } => "not_a_packet",
            PacketError::TooDeep { .. } => "too_deep",
            PacketError::TextTooLong { .. } => "text_too_long",
            PacketError::BadHeaderDate { .. } => "bad_header_date",
            PacketError::Unencodable { .. } => "unencodable",
            PacketError::InvalidName { .. } => "invalid_name",
            PacketError::BadEntryName { .. } => "bad_entry_name",
            PacketError::UnwritableDate { .. } => "unwritable_date",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Reads a packet file.
///
/// The encoding comes from the XML declaration: `windows-1251` or UTF-8 (the default when
/// there is no declaration). The packet is the generic classifier form when the root has a
/// `zglv` child with a `type`; otherwise it is the register form, whose `version` and `date`
/// are attributes of `packet` or, failing that, its child elements.
pub fn read_packet(bytes: &[u8]) -> Result<Packet, PacketError> {
    let text = decode(bytes)?;
    let (root, attributes) = read_tree(&text)?;
    packet_from_tree(root, &attributes)
}

/// Parses a date written `DD.MM.YYYY` or `YYYY-MM-DD` (surrounding whitespace ignored).
#[must_use]
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = trim_xml(s);
    if s.len() != 10 || !s.is_ascii() {
        return None;
    }
    let bytes = s.as_bytes();
    let (year, month, day) = if bytes[2] == b'.' && bytes[5] == b'.' {
        (&s[6..10], &s[3..5], &s[0..2])
    } else if bytes[4] == b'-' && bytes[7] == b'-' {
        (&s[0..4], &s[5..7], &s[8..10])
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(digits(year)?, digits(month)?, digits(day)?)
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Removes XML whitespace (space, tab, CR, LF) from both ends; other Unicode spaces stay.
fn trim_xml(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Decodes the file to UTF-8 text according to its declaration.
fn decode(bytes: &[u8]) -> Result<String, PacketError> {
    let (body, base) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (bytes, 0),
    };
    let encoding = declared_encoding(body)?.unwrap_or(UTF_8);
    if base > 0 && encoding == WINDOWS_1251 {
        return Err(PacketError::EncodingMismatch {
            offset: 0,
            declared: "windows-1251",
            found: "a UTF-8 byte order mark",
        });
    }
    decode_strict(encoding, body, base)
}

/// The encoding named by the XML declaration; `None` when there is no declaration or it
/// names no encoding. The declaration is ASCII in both accepted encodings.
fn declared_encoding(body: &[u8]) -> Result<Option<&'static Encoding>, PacketError> {
    let is_declaration = body.starts_with(b"<?xml")
        && matches!(body.get(5), Some(b' ' | b'\t' | b'\r' | b'\n' | b'?'));
    if !is_declaration {
        return Ok(None);
    }
    let not_xml = |reason: String| PacketError::NotXml { line: 1, reason };
    let end = body
        .windows(2)
        .position(|pair| pair == b"?>")
        .ok_or_else(|| not_xml("the XML declaration is not closed".to_owned()))?;
    let declaration = std::str::from_utf8(&body[..end + 2])
        .map_err(|_| not_xml("the XML declaration is not ASCII".to_owned()))?;
    let label = match Reader::from_str(declaration).read_event() {
        Ok(Event::Decl(decl)) => match decl.encoding() {
            None => return Ok(None),
            Some(Ok(label)) => label.into_owned(),
            Some(Err(error)) => return Err(not_xml(error.to_string())),
        },
        Ok(_) => return Ok(None),
        Err(error) => return Err(not_xml(error.to_string())),
    };
    match Encoding::for_label(label.as_bytes()) {
        Some(encoding) if encoding == UTF_8 || encoding == WINDOWS_1251 => Ok(Some(encoding)),
        _ => Err(PacketError::UnknownEncoding { label }),
    }
}

/// Decodes without replacement characters; the first malformed byte is reported with its
/// offset in the file (`base` is the length of a skipped byte order mark).
fn decode_strict(
    encoding: &'static Encoding,
    bytes: &[u8],
    base: usize,
) -> Result<String, PacketError> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut text = String::with_capacity(bytes.len());
    let mut done = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[done..], &mut text, true);
        done += read;
        match result {
            DecoderResult::InputEmpty => return Ok(text),
            DecoderResult::OutputFull => {
                let remaining = bytes.len() - done;
                text.reserve(
                    decoder
                        .max_utf8_buffer_length_without_replacement(remaining)
                        .unwrap_or(remaining),
                );
            }
            DecoderResult::Malformed(bad, after) => {
                return Err(PacketError::EncodingMismatch {
                    offset: base + done - usize::from(bad) - usize::from(after),
                    declared: if encoding == UTF_8 {
                        "UTF-8"
                    } else {
                        "windows-1251"
                    },
                    found: "a byte sequence that is not valid in that encoding",
                });
            }
        }
    }
}

/// Turns byte positions in the decoded text into 1-based line numbers, counting forward
/// from the last position asked for.
struct Lines<'a> {
    text: &'a [u8],
    position: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            position: 0,
            line: 1,
        }
    }

    fn at(&mut self, position: u64) -> usize {
        let position =
            usize::try_from(position).map_or(self.text.len(), |p| p.min(self.text.len()));
        if position < self.position {
            self.position = 0;
            self.line = 1;
        }
        let newlines = self.text[self.position..position]
            .iter()
            .map(|&b| usize::from(b == b'\n'))
            .sum::<usize>();
        self.line += newlines;
        self.position = position;
        self.line
    }
}

/// An element whose end tag has not been read yet.
struct OpenElement {
    node: Node,
    text: String,
}

/// Builds the element tree from reader events.
#[derive(Default)]
struct TreeBuilder {
    open: Vec<OpenElement>,
    root: Option<Node>,
    /// Attributes of the root element (name, value), for the register header.
    root_attributes: Vec<(String, String)>,
}

impl TreeBuilder {
    fn start(&mut self, tag: &BytesStart, line: usize) -> Result<(), PacketError> {
        let name = tag.name().as_ref().to_owned();
        if self.open.is_empty() {
            if self.root.is_some() {
                return Err(PacketError::NotXml {
                    line,
                    reason: format!("a second root element `{name}`"),
                });
            }
            if !name.eq_ignore_ascii_case("packet") {
                return Err(PacketError::NotAPacket { line, root: name });
            }
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(PacketError::TooDeep { line });
        }
        let mut attributes = Vec::new();
        for attribute in tag.attributes() {
            let attribute = attribute.map_err(|error| PacketError::NotXml {
                line,
                reason: error.to_string(),
            })?;
            if self.open.is_empty() {
                let value = attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|error| PacketError::NotXml {
                        line,
                        reason: error.to_string(),
                    })?;
                let key = attribute.key.as_ref().to_owned();
                attributes.push((key, trim_xml(&value).to_owned()));
            }
        }
        if self.open.is_empty() {
            self.root_attributes = attributes;
        }
        self.open.push(OpenElement {
            node: Node {
                name,
                text: String::new(),
                children: Vec::new(),
                line,
            },
            text: String::new(),
        });
        Ok(())
    }

    fn end(&mut self, line: usize) -> Result<(), PacketError> {
        let Some(element) = self.open.pop() else {
            return Err(PacketError::NotXml {
                line,
                reason: "an end tag without a start tag".to_owned(),
            });
        };
        let mut node = element.node;
        let text = trim_xml(&element.text);
        if text.len() > MAX_TEXT_BYTES {
            return Err(PacketError::TextTooLong {
                line: node.line,
                element: node.name,
            });
        }
        text.clone_into(&mut node.text);
        match self.open.last_mut() {
            Some(parent) => parent.node.children.push(node),
            None => self.root = Some(node),
        }
        Ok(())
    }

    fn text(&mut self, piece: &str, line: usize) -> Result<(), PacketError> {
        match self.open.last_mut() {
            // Leading whitespace would be trimmed anyway; dropping it early keeps the
            // indentation between thousands of entries out of the root's buffer.
            Some(element) if element.text.is_empty() => {
                element
                    .text
                    .push_str(piece.trim_start_matches(is_xml_space));
            }
            Some(element) => element.text.push_str(piece),
            None if trim_xml(piece).is_empty() => {}
            None => {
                let content = piece.trim_start_matches(is_xml_space);
                let leading = &piece[..piece.len() - content.len()];
                return Err(PacketError::NotXml {
                    line: line + leading.matches('\n').count(),
                    reason: "text outside the root element".to_owned(),
                });
            }
        }
        Ok(())
    }

    fn reference(&mut self, reference: &BytesRef, line: usize) -> Result<(), PacketError> {
        let resolved: Cow<str> = match reference.resolve_char_ref() {
            Ok(Some(c)) => Cow::Owned(c.to_string()),
            Ok(None) => match resolve_xml_entity(reference) {
                Some(s) => Cow::Borrowed(s),
                None => {
                    return Err(PacketError::NotXml {
                        line,
                        reason: format!("undefined entity `&{};`", &**reference),
                    });
                }
            },
            Err(error) => {
                return Err(PacketError::NotXml {
                    line,
                    reason: error.to_string(),
                });
            }
        };
        self.text(&resolved, line)
    }

    fn finish(self, line: usize) -> Result<(Node, Vec<(String, String)>), PacketError> {
        if let Some(element) = self.open.last() {
            return Err(PacketError::NotXml {
                line,
                reason: format!(
                    "`{}` opened at line {} is never closed",
                    element.node.name, element.node.line
                ),
            });
        }
        match self.root {
            Some(root) => Ok((root, self.root_attributes)),
            None => Err(PacketError::NotXml {
                line,
                reason: "the file has no root element".to_owned(),
            }),
        }
    }
}

/// Reads the decoded text into the element tree under the root, plus the root's attributes.
fn read_tree(xml: &str) -> Result<(Node, Vec<(String, String)>), PacketError> {
    let mut reader = Reader::from_str(xml);
    let mut lines = Lines::new(xml);
    let mut tree = TreeBuilder::default();
    loop {
        let line = lines.at(reader.buffer_position());
        let event = reader.read_event().map_err(|error| PacketError::NotXml {
            line: lines.at(reader.error_position()),
            reason: error.to_string(),
        })?;
        match event {
            Event::Start(tag) => tree.start(&tag, line)?,
            Event::Empty(tag) => {
                tree.start(&tag, line)?;
                tree.end(line)?;
            }
            Event::End(_) => tree.end(line)?,
            Event::Text(text) => tree.text(&text.xml10_content(), line)?,
            Event::CData(data) => tree.text(&data.xml10_content(), line)?,
            Event::GeneralRef(reference) => tree.reference(&reference, line)?,
            Event::DocType(_) => return Err(PacketError::DtdForbidden { line }),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return tree.finish(line),
        }
    }
}

/// Interprets the element tree as one of the two packet forms.
fn packet_from_tree(root: Node, attributes: &[(String, String)]) -> Result<Packet, PacketError> {
    let classifier_header = root.child("zglv").and_then(|zglv| {
        let type_name = zglv.text_of("type")?.to_owned();
        Some((
            type_name,
            zglv.text_of("version").map(str::to_owned),
            zglv.child("date"),
        ))
    });
    if let Some((type_name, version, date)) = classifier_header {
        let date = header_date(date.map(|node| (node.text.as_str(), node.line)))?;
        let entries = root
            .children
            .into_iter()
            .filter(|child| child.name.eq_ignore_ascii_case("zap"))
            .collect();
        return Ok(Packet {
            kind: PacketKind::Classifier { type_name },
            version,
            date,
            entries,
        });
    }

    let attribute = |name: &str| {
        attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let version = attribute("version")
        .or_else(|| root.text_of("version"))
        .map(str::to_owned);
    let date = match attribute("date") {
        Some(value) => Some((value, root.line)),
        None => root
            .child("date")
            .map(|node| (node.text.as_str(), node.line)),
    };
    let date = header_date(date)?;
    let entries = root
        .children
        .into_iter()
        .filter(|child| !is_register_header(&child.name))
        .collect();
    Ok(Packet {
        kind: PacketKind::Register,
        version,
        date,
        entries,
    })
}

fn is_register_header(name: &str) -> bool {
    ["zglv", "version", "date"]
        .iter()
        .any(|header| name.eq_ignore_ascii_case(header))
}

/// An absent or empty header date is `None`; anything else must parse.
fn header_date(found: Option<(&str, usize)>) -> Result<Option<NaiveDate>, PacketError> {
    match found {
        Some((value, line)) if !trim_xml(value).is_empty() => parse_date(value)
            .map(Some)
            .ok_or_else(|| PacketError::BadHeaderDate {
                line,
                value: trim_xml(value).to_owned(),
            }),
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes a packet as indented XML in the given encoding, with the XML declaration.
///
/// A classifier packet gets a `zglv` header (`type`, `version`, `date` as `DD.MM.YYYY`) and
/// its entries must be named `zap`; a register packet gets `<packet version=".." date="..">`.
/// Everything [`read_packet`] would refuse is refused here too, so what is written reads back
/// as the same packet (apart from line numbers).
pub fn write_packet(packet: &Packet, encoding: OutputEncoding) -> Result<Vec<u8>, PacketError> {
    let date = packet.date.map(format_date).transpose()?;
    let mut out = Output::new(encoding);
    out.push(
        &format!(
            "<?xml version=\"1.0\" encoding=\"{}\"?>\n",
            encoding.label()
        ),
        "packet",
    )?;
    match &packet.kind {
        PacketKind::Classifier { type_name } => {
            out.push("<packet>\n", "packet")?;
            let mut header = vec![Node::leaf("type", type_name.as_str())];
            if let Some(version) = &packet.version {
                header.push(Node::leaf("version", version.as_str()));
            }
            if let Some(date) = date {
                header.push(Node::leaf("date", date));
            }
            write_node(&mut out, &Node::branch("zglv", header), 2)?;
            for (index, entry) in packet.entries.iter().enumerate() {
                if !entry.name.eq_ignore_ascii_case("zap") {
                    return Err(bad_entry(
                        index,
                        entry,
                        "a classifier packet holds only `zap` entries",
                    ));
                }
                write_node(&mut out, entry, 2)?;
            }
        }
        PacketKind::Register => {
            out.push("<packet", "packet")?;
            if let Some(version) = &packet.version {
                out.push(&format!(" version=\"{}\"", escape(version, true)), "packet")?;
            }
            if let Some(date) = date {
                out.push(&format!(" date=\"{date}\""), "packet")?;
            }
            out.push(">\n", "packet")?;
            for (index, entry) in packet.entries.iter().enumerate() {
                if is_register_header(&entry.name) {
                    return Err(bad_entry(
                        index,
                        entry,
                        "`zglv`, `version` and `date` are header names in a register packet",
                    ));
                }
                write_node(&mut out, entry, 2)?;
            }
        }
    }
    out.push("</packet>\n", "packet")?;
    Ok(out.bytes)
}

fn bad_entry(index: usize, entry: &Node, rule: &'static str) -> PacketError {
    PacketError::BadEntryName {
        index: index + 1,
        name: entry.name.clone(),
        rule,
    }
}

fn format_date(date: NaiveDate) -> Result<String, PacketError> {
    if (1..=9999).contains(&date.year()) {
        Ok(format!(
            "{:02}.{:02}.{:04}",
            date.day(),
            date.month(),
            date.year()
        ))
    } else {
        Err(PacketError::UnwritableDate { date })
    }
}

/// Writes one element and its subtree; `depth` is its nesting level (the root is 1).
fn write_node(out: &mut Output, node: &Node, depth: usize) -> Result<(), PacketError> {
    let name = node.name.as_str();
    if !is_xml_name(name) {
        return Err(PacketError::InvalidName {
            name: name.to_owned(),
        });
    }
    if depth > MAX_DEPTH {
        return Err(PacketError::TooDeep { line: out.line });
    }
    let text = trim_xml(&node.text);
    if text.len() > MAX_TEXT_BYTES {
        return Err(PacketError::TextTooLong {
            line: out.line,
            element: name.to_owned(),
        });
    }
    let indent = "  ".repeat(depth - 1);
    let text = escape(text, false);
    if node.children.is_empty() {
        if text.is_empty() {
            out.push(&format!("{indent}<{name}/>\n"), name)?;
        } else {
            out.push(&format!("{indent}<{name}>"), name)?;
            out.push(&text, name)?;
            out.push(&format!("</{name}>\n"), name)?;
        }
        return Ok(());
    }
    out.push(&format!("{indent}<{name}>"), name)?;
    out.push(&text, name)?;
    out.push("\n", name)?;
    for child in &node.children {
        write_node(out, child, depth + 1)?;
    }
    out.push(&format!("{indent}</{name}>\n"), name)
}

/// Element names the writer accepts: a letter or `_`, then letters, digits, `_ - . :`.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Escapes markup characters. `\r` is written as a reference so that end-of-line
/// normalisation keeps it; in attributes `"`, `\n` and `\t` are too, for the same reason.
fn escape(s: &str, attribute: bool) -> Cow<'_, str> {
    let needs_escape = |c: char| {
        matches!(c, '&' | '<' | '>' | '\r') || (attribute && matches!(c, '"' | '\n' | '\t'))
    };
    if !s.contains(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The output bytes, encoded as they are written, with the current output line.
struct Output {
    bytes: Vec<u8>,
    /// `None` for UTF-8, which needs no encoding.
    encoder: Option<Encoder>,
    /// Fixed buffer the encoder writes into. (Encoding straight into `bytes` would make
    /// `encoding_rs` zero its whole spare capacity on every call: quadratic on big packets.)
    scratch: Vec<u8>,
    line: usize,
}

impl Output {
    fn new(encoding: OutputEncoding) -> Self {
        Output {
            bytes: Vec::new(),
            encoder: match encoding {
                OutputEncoding::Utf8 => None,
                OutputEncoding::Windows1251 => Some(WINDOWS_1251.new_encoder()),
            },
            scratch: vec![0; 4096],
            line: 1,
        }
    }

    /// Appends `s`; `element` names the element it belongs to, for the error message.
    fn push(&mut self, s: &str, element: &str) -> Result<(), PacketError> {
        if let Some(encoder) = &mut self.encoder {
            let mut done = 0;
            loop {
                let (result, read, written) = encoder.encode_from_utf8_without_replacement(
                    &s[done..],
                    &mut self.scratch,
                    false,
                );
                self.bytes.extend_from_slice(&self.scratch[..written]);
                done += read;
                match result {
                    EncoderResult::InputEmpty => break,
                    EncoderResult::OutputFull => {}
                    EncoderResult::Unmappable(character) => {
                        return Err(PacketError::Unencodable {
                            line: self.line + s[..done].matches('\n').count(),
                            element: element.to_owned(),
                            character,
                        });
                    }
                }
            }
        } else {
            self.bytes.extend_from_slice(s.as_bytes());
        }
        self.line += s.matches('\n').count();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// F002 in the register form: two insurers, nested `jurAddress` and `insInclude`, mixed
    /// `Ogrn` / `OGRN` spelling. Synthetic data.
    const F002: &str = r#"<?xml version="1.0" encoding="windows-1251"?>
<packet version="2.1" date="15.01.2024">
  <insCompany>
    <tf_okato>18000</tf_okato>
    <smocod>34007</smocod>
    <nam_smop>Волгоградский филиал ООО «Страховая компания "Пример"»</nam_smop>
    <nam_smok>СК Пример</nam_smok>
    <Ogrn>1020000000001</Ogrn>
    <jurAddress>
      <index_j>400005</index_j>
      <addr_j>г. Волгоград, пр-т им. В.И. Ленина, д. 1</addr_j>
    </jurAddress>
    <insInclude>
      <d_begin>01.01.2011</d_begin>
      <d_end/>
    </insInclude>
  </insCompany>
  <insCompany>
    <tf_okato>76000</tf_okato>
    <smocod>75001</smocod>
    <nam_smop>Забайкальская страховая медицинская организация &amp; партнёры</nam_smop>
    <OGRN>1027500000002</OGRN>
    <jurAddress>
      <index_j>672000</index_j>
      <addr_j>г. Чита, ул. Примерная, д. 2</addr_j>
    </jurAddress>
    <insInclude>
      <d_begin>01.01.2011</d_begin>
      <d_end>31.12.2015</d_end>
    </insInclude>
    <insInclude>
      <d_begin>01.01.2016</d_begin>
      <d_end></d_end>
    </insInclude>
  </insCompany>
</packet>
"#;

    /// V006 (care setting) in the generic form, header date in ISO form.
    const V006: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<packet>
  <zglv>
    <type>V006</type>
    <version>1.0</version>
    <date>2013-01-01</date>
  </zglv>
  <zap><IDUMP>1</IDUMP><UMPNAME>Стационарно</UMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>
  <zap><IDUMP>2</IDUMP><UMPNAME>В дневном стационаре</UMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>
  <zap><IDUMP>3</IDUMP><UMPNAME>Амбулаторно</UMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>
  <zap><IDUMP>4</IDUMP><UMPNAME>Вне медицинской организации</UMPNAME><DATEBEG>01.01.2013</DATEBEG><DATEEND/></zap>
</packet>
"#;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn windows_1251(text: &str) -> Vec<u8> {
        let (bytes, _, had_errors) = WINDOWS_1251.encode(text);
        assert!(!had_errors);
        bytes.into_owned()
    }

    fn utf8_declared(text: &str) -> String {
        text.replacen("encoding=\"windows-1251\"", "encoding=\"UTF-8\"", 1)
    }

    fn clear_lines(nodes: &mut [Node]) {
        for node in nodes {
            node.line = 0;
            clear_lines(&mut node.children);
        }
    }

    fn check_f002(packet: &Packet) {
        assert_eq!(packet.kind, PacketKind::Register);
        assert_eq!(packet.version.as_deref(), Some("2.1"));
        assert_eq!(packet.date, Some(date(2024, 1, 15)));
        assert_eq!(packet.entries.len(), 2);
        let [first, second] = packet.entries.as_slice() else {
            panic!("two insurers expected");
        };
        assert_eq!((first.name.as_str(), first.line), ("insCompany", 3));
        assert_eq!((second.name.as_str(), second.line), ("insCompany", 18));
        assert_eq!(first.text_of("smocod"), Some("34007"));
        assert_eq!(
            first.text_of("nam_smop"),
            Some("Волгоградский филиал ООО «Страховая компания \"Пример\"»")
        );
        assert_eq!(
            first.child("jurAddress").and_then(|a| a.text_of("addr_j")),
            Some("г. Волгоград, пр-т им. В.И. Ленина, д. 1")
        );
        assert_eq!(first.child("jurAddress").map(|a| a.line), Some(9));
        assert_eq!(
            second.text_of("nam_smop"),
            Some("Забайкальская страховая медицинская организация & партнёры")
        );
        let includes: Vec<_> = second.children_named("insInclude").collect();
        assert_eq!(includes.len(), 2);
        assert_eq!(includes[0].text_of("d_end"), Some("31.12.2015"));
        assert_eq!(includes[1].text_of("d_end"), Some(""));
        assert_eq!(
            first.child("insInclude").unwrap().text_of("d_end"),
            Some("")
        );
    }

    #[test]
    fn reads_f002_register_packet_from_windows_1251_bytes() {
        let bytes = windows_1251(F002);
        assert!(
            bytes.contains(&0xC2),
            "Cyrillic is single-byte in windows-1251"
        );
        check_f002(&read_packet(&bytes).unwrap());
    }

    #[test]
    fn reads_f002_register_packet_from_utf8_with_and_without_bom() {
        let text = utf8_declared(F002);
        check_f002(&read_packet(text.as_bytes()).unwrap());
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(text.as_bytes());
        check_f002(&read_packet(&with_bom).unwrap());
        let undeclared = text.replacen(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "", 1);
        assert_eq!(read_packet(undeclared.as_bytes()).unwrap().entries.len(), 2);
    }

    #[test]
    fn accepts_windows_1251_aliases() {
        let text = F002.replacen("windows-1251", "CP1251", 1);
        check_f002(&read_packet(&windows_1251(&text)).unwrap());
    }

    #[test]
    fn child_matches_names_case_insensitively() {
        let packet = read_packet(&windows_1251(F002)).unwrap();
        for entry in &packet.entries {
            let upper = entry.child("OGRN").map(|n| n.name.as_str());
            let lower = entry.child("ogrn").map(|n| n.name.as_str());
            assert_eq!(upper, lower);
            assert!(upper.is_some());
        }
        assert_eq!(packet.entries[0].child("OGRN").unwrap().name, "Ogrn");
        assert_eq!(packet.entries[1].text_of("Ogrn"), Some("1027500000002"));
        assert_eq!(packet.entries[1].children_named("INSINCLUDE").count(), 2);
        assert_eq!(packet.entries[0].child("kpp"), None);
        assert_eq!(packet.entries[0].text_of("kpp"), None);
    }

    #[test]
    fn reads_v006_classifier_packet() {
        let packet = read_packet(V006.as_bytes()).unwrap();
        assert_eq!(
            packet.kind,
            PacketKind::Classifier {
                type_name: "V006".to_owned()
            }
        );
        assert_eq!(packet.version.as_deref(), Some("1.0"));
        assert_eq!(packet.date, Some(date(2013, 1, 1)));
        let names: Vec<_> = packet
            .entries
            .iter()
            .map(|zap| (zap.text_of("IDUMP").unwrap(), zap.line))
            .collect();
        assert_eq!(names, [("1", 8), ("2", 9), ("3", 10), ("4", 11)]);
        assert_eq!(packet.entries[2].text_of("umpname"), Some("Амбулаторно"));
        assert_eq!(packet.entries[0].text_of("DATEEND"), Some(""));
    }

    #[test]
    fn register_header_may_be_child_elements() {
        let xml = "<packet>\n<version>3.0</version>\n<date>2020-12-31</date>\n\
                   <TFOMS><tf_kod>34</tf_kod></TFOMS>\n<expert><n_expert>1</n_expert></expert>\n</packet>";
        let packet = read_packet(xml.as_bytes()).unwrap();
        assert_eq!(packet.kind, PacketKind::Register);
        assert_eq!(packet.version.as_deref(), Some("3.0"));
        assert_eq!(packet.date, Some(date(2020, 12, 31)));
        let names: Vec<_> = packet.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["TFOMS", "expert"]);
    }

    #[test]
    fn zglv_without_type_is_a_register_header_and_skipped() {
        let xml = r#"<packet version="1" date=""><zglv><x>1</x></zglv><medCompany><mcod>340001</mcod></medCompany></packet>"#;
        let packet = read_packet(xml.as_bytes()).unwrap();
        assert_eq!(packet.kind, PacketKind::Register);
        assert_eq!(packet.date, None);
        assert_eq!(packet.entries.len(), 1);
        assert_eq!(packet.entries[0].text_of("mcod"), Some("340001"));
    }

    #[test]
    fn text_keeps_references_cdata_and_inner_spaces() {
        let xml = "<packet><zglv><type>T</type></zglv><zap><a> x &amp; y &#1103; <![CDATA[<b>]]> </a></zap></packet>";
        let packet = read_packet(xml.as_bytes()).unwrap();
        assert_eq!(packet.entries[0].text_of("a"), Some("x & y я <b>"));
    }

    #[test]
    fn parse_date_accepts_both_forms_only() {
        assert_eq!(parse_date("15.01.2024"), Some(date(2024, 1, 15)));
        assert_eq!(parse_date("2024-01-15"), Some(date(2024, 1, 15)));
        assert_eq!(parse_date(" 29.02.2024\n"), Some(date(2024, 2, 29)));
        for bad in [
            "",
            "29.02.2023",
            "1.1.2024",
            "15/01/2024",
            "2024.01.15",
            "+1.01.2024",
            "15.01.+024",
            "2024-1-15x",
            "15.01.2024 12:00",
            "я5.01.2024",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn writes_the_generic_form_in_the_documented_layout() {
        let packet = Packet {
            kind: PacketKind::Classifier {
                type_name: "V006".to_owned(),
            },
            version: Some("1.0".to_owned()),
            date: Some(date(2013, 1, 1)),
            entries: vec![Node::branch(
                "zap",
                vec![
                    Node::leaf("IDUMP", "1"),
                    Node::leaf("UMPNAME", "Стационарно & <прочее>"),
                    Node::leaf("DATEEND", ""),
                ],
            )],
        };
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<packet>
  <zglv>
    <type>V006</type>
    <version>1.0</version>
    <date>01.01.2013</date>
  </zglv>
  <zap>
    <IDUMP>1</IDUMP>
    <UMPNAME>Стационарно &amp; &lt;прочее&gt;</UMPNAME>
    <DATEEND/>
  </zap>
</packet>
"#;
        let utf8 = write_packet(&packet, OutputEncoding::Utf8).unwrap();
        assert_eq!(String::from_utf8(utf8).unwrap(), expected);

        let cp1251 = write_packet(&packet, OutputEncoding::Windows1251).unwrap();
        assert_eq!(
            cp1251,
            windows_1251(&expected.replacen("UTF-8", "windows-1251", 1))
        );
    }

    #[test]
    fn writes_the_register_form_with_attributes() {
        let mut packet = read_packet(&windows_1251(F002)).unwrap();
        packet.version = Some("2.1 \"β\"".to_owned());
        let written = write_packet(&packet, OutputEncoding::Utf8).unwrap();
        let text = String::from_utf8(written.clone()).unwrap();
        assert!(text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<packet version=\"2.1 &quot;β&quot;\" date=\"15.01.2024\">\n  <insCompany>\n"
        ));
        let mut back = read_packet(&written).unwrap();
        assert_eq!(back.version.as_deref(), Some("2.1 \"β\""));
        clear_lines(&mut back.entries);
        clear_lines(&mut packet.entries);
        assert_eq!(back, packet);
    }

    #[test]
    fn f002_round_trips_through_windows_1251() {
        let packet = read_packet(&windows_1251(F002)).unwrap();
        let written = write_packet(&packet, OutputEncoding::Windows1251).unwrap();
        assert!(written.starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n"));
        let back = read_packet(&written).unwrap();
        // The writer keeps the source layout here, so even the lines agree.
        assert_eq!(back, packet);
    }

    // ---- refusals, one test per code -------------------------------------------------------

    fn refused(bytes: impl AsRef<[u8]>) -> PacketError {
        read_packet(bytes.as_ref()).unwrap_err()
    }

    #[test]
    fn not_xml() {
        let cases = [
            ("<packet>\n<zap>\n</packet>", 3),
            ("<packet>\n<a>x &nbsp; y</a></packet>", 2),
            ("<packet/>\n<packet/>", 2),
            ("<packet/>\ntrailing text", 2),
            ("<packet>\n<a b='1' b='2'/></packet>", 2),
            ("", 1),
            ("<packet>\n<zap>", 2),
        ];
        for (xml, line) in cases {
            let error = refused(xml);
            assert_eq!(error.code(), "not_xml", "{xml:?}: {error}");
            let PacketError::NotXml { line: got, .. } = &error else {
                unreachable!()
            };
            assert_eq!(*got, line, "{xml:?}: {error}");
            assert!(error.to_string().starts_with(&format!("line {line}: ")));
        }
        assert!(
            refused("<packet><a>&nbsp;</a></packet>")
                .to_string()
                .contains("undefined entity `&nbsp;`")
        );
        assert!(read_packet(b"<!-- c --><?pi x?><packet/>").is_ok());
    }

    #[test]
    fn encoding_mismatch() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<packet>".to_vec();
        let offset = bytes.len();
        bytes.extend_from_slice(&windows_1251("Тест"));
        bytes.extend_from_slice(b"</packet>");
        let error = refused(&bytes);
        assert_eq!(error.code(), "encoding_mismatch");
        assert_eq!(
            error,
            PacketError::EncodingMismatch {
                offset,
                declared: "UTF-8",
                found: "a byte sequence that is not valid in that encoding",
            }
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("byte offset {offset}: "))
        );

        // No declaration means UTF-8.
        let error = refused([b"<packet>\xD2</packet>".as_slice()].concat());
        assert!(matches!(
            error,
            PacketError::EncodingMismatch { offset: 8, .. }
        ));

        // A UTF-8 byte order mark contradicts a windows-1251 declaration.
        let bom_1251 = [UTF8_BOM, windows_1251(F002).as_slice()].concat();
        let error = refused(bom_1251);
        assert_eq!(error.code(), "encoding_mismatch");
        assert!(matches!(
            error,
            PacketError::EncodingMismatch { offset: 0, .. }
        ));
    }

    #[test]
    fn unknown_encoding() {
        for label in ["KOI8-R", "utf-16", "x-no-such-charset"] {
            let xml = format!("<?xml version=\"1.0\" encoding=\"{label}\"?><packet/>");
            let error = refused(xml);
            assert_eq!(error.code(), "unknown_encoding");
            assert_eq!(
                error,
                PacketError::UnknownEncoding {
                    label: label.to_owned()
                }
            );
        }
    }

    #[test]
    fn dtd_forbidden() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE packet [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<packet><zglv><type>&lol2;</type></zglv></packet>"#;
        let error = refused(laughs);
        assert_eq!(error.code(), "dtd_forbidden");
        assert_eq!(error, PacketError::DtdForbidden { line: 2 });
        let external = r#"<!DOCTYPE packet SYSTEM "file:///etc/passwd"><packet/>"#;
        assert_eq!(refused(external).code(), "dtd_forbidden");
    }

    #[test]
    fn not_a_packet() {
        let error = refused("<?xml version=\"1.0\"?>\n<ZL_LIST><ZGLV/></ZL_LIST>");
        assert_eq!(error.code(), "not_a_packet");
        assert_eq!(
            error,
            PacketError::NotAPacket {
                line: 2,
                root: "ZL_LIST".to_owned()
            }
        );
        assert!(read_packet(b"<PACKET/>").is_ok());
    }

    fn nested(levels_below_root: usize) -> String {
        let mut xml = String::from("<packet>\n");
        for _ in 0..levels_below_root {
            xml.push_str("<a>\n");
        }
        for _ in 0..levels_below_root {
            xml.push_str("</a>");
        }
        xml.push_str("</packet>");
        xml
    }

    #[test]
    fn too_deep() {
        assert!(read_packet(nested(MAX_DEPTH - 1).as_bytes()).is_ok());
        let error = refused(nested(MAX_DEPTH));
        assert_eq!(error.code(), "too_deep");
        assert_eq!(
            error,
            PacketError::TooDeep {
                line: MAX_DEPTH + 1
            }
        );
        let self_closing = nested(MAX_DEPTH - 1).replacen("<a>\n</a>", "<a>\n<b/></a>", 1);
        assert_eq!(refused(self_closing).code(), "too_deep");

        let mut deep = Node::leaf("leaf", "x");
        for _ in 0..MAX_DEPTH - 1 {
            deep = Node::branch("a", vec![deep]);
        }
        let packet = Packet {
            kind: PacketKind::Register,
            version: None,
            date: None,
            entries: vec![deep],
        };
        let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
        assert_eq!(error.code(), "too_deep");
    }

    #[test]
    fn text_too_long() {
        let longest = "я".repeat(MAX_TEXT_BYTES / 2);
        let ok = format!("<packet>\n<e><t>  {longest}\n</t></e></packet>");
        let packet = read_packet(ok.as_bytes()).unwrap();
        assert_eq!(
            packet.entries[0].text_of("t").map(str::len),
            Some(MAX_TEXT_BYTES)
        );

        let too_long = format!("<packet>\n<e>\n<t>{longest}!</t></e></packet>");
        let error = refused(too_long);
        assert_eq!(error.code(), "text_too_long");
        assert_eq!(
            error,
            PacketError::TextTooLong {
                line: 3,
                element: "t".to_owned()
            }
        );

        let packet = Packet {
            kind: PacketKind::Register,
            version: None,
            date: None,
            entries: vec![Node::leaf("e", format!("{longest}!"))],
        };
        let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
        assert_eq!(error.code(), "text_too_long");
    }

    #[test]
    fn bad_header_date() {
        let error = refused("<packet version=\"1\" date=\"2024/01/15\"/>");
        assert_eq!(error.code(), "bad_header_date");
        assert_eq!(
            error,
            PacketError::BadHeaderDate {
                line: 1,
                value: "2024/01/15".to_owned()
            }
        );
        let error = refused(V006.replacen("2013-01-01", "31.02.2013", 1));
        assert_eq!(
            error,
            PacketError::BadHeaderDate {
                line: 6,
                value: "31.02.2013".to_owned()
            }
        );
    }

    fn v006_with_name(name: &str) -> Packet {
        let mut packet = read_packet(V006.as_bytes()).unwrap();
        packet.entries[1].children[1].text = name.to_owned();
        packet
    }

    #[test]
    fn unencodable() {
        let packet = v006_with_name("Дневной стационар (Tagesklinik, Ä) 🏥");
        let error = write_packet(&packet, OutputEncoding::Windows1251).unwrap_err();
        assert_eq!(error.code(), "unencodable");
        assert_eq!(
            error,
            PacketError::Unencodable {
                line: 16,
                element: "UMPNAME".to_owned(),
                character: 'Ä',
            }
        );
        assert!(error.to_string().contains("(U+00C4)"));
        let utf8 = write_packet(&packet, OutputEncoding::Utf8).unwrap();
        assert_eq!(
            read_packet(&utf8).unwrap().entries[1].text_of("UMPNAME"),
            Some("Дневной стационар (Tagesklinik, Ä) 🏥")
        );

        // Everything windows-1251 has is written, including № and «».
        let packet = v006_with_name("№ 1 «Дневной»");
        let written = write_packet(&packet, OutputEncoding::Windows1251).unwrap();
        assert_eq!(
            read_packet(&written).unwrap().entries[1].text_of("UMPNAME"),
            Some("№ 1 «Дневной»")
        );
    }

    #[test]
    fn invalid_name() {
        for name in ["", "1abc", "a b", "a<b", "zap/"] {
            let mut packet = read_packet(V006.as_bytes()).unwrap();
            packet.entries[0].children[0].name = name.to_owned();
            let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
            assert_eq!(error.code(), "invalid_name");
            assert_eq!(
                error,
                PacketError::InvalidName {
                    name: name.to_owned()
                }
            );
        }
    }

    #[test]
    fn bad_entry_name() {
        let mut packet = read_packet(V006.as_bytes()).unwrap();
        packet.entries[2].name = "rec".to_owned();
        let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
        assert_eq!(error.code(), "bad_entry_name");
        assert!(matches!(error, PacketError::BadEntryName { index: 3, .. }));

        let mut packet = read_packet(&windows_1251(F002)).unwrap();
        packet.entries[0].name = "Date".to_owned();
        let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
        assert!(matches!(error, PacketError::BadEntryName { index: 1, .. }));
    }

    #[test]
    fn unwritable_date() {
        let mut packet = read_packet(V006.as_bytes()).unwrap();
        packet.date = NaiveDate::from_ymd_opt(10_000, 1, 1);
        let error = write_packet(&packet, OutputEncoding::Utf8).unwrap_err();
        assert_eq!(error.code(), "unwritable_date");
    }

    // ---- round trip over generated packets ----------------------------------------------

    /// Trimmed text with Cyrillic, markup characters and inner whitespace.
    fn text() -> impl Strategy<Value = String> {
        "[а-яА-ЯёЁa-zA-Z0-9 <>&\"'.,;№«»\\-\t\n\r]{0,16}".prop_map(|s| trim_xml(&s).to_owned())
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "tf_okato",
            "smocod",
            "Ogrn",
            "OGRN",
            "jurAddress",
            "addr_j",
            "d_begin",
            "insInclude",
            "имя_поля",
            "x:doc",
        ])
        .prop_map(str::to_owned)
    }

    fn subtree() -> impl Strategy<Value = Node> {
        let leaf = (field_name(), text()).prop_map(|(name, text)| Node::leaf(name, text));
        leaf.prop_recursive(3, 24, 4, |inner| {
            (field_name(), text(), prop::collection::vec(inner, 0..4)).prop_map(
                |(name, text, children)| Node {
                    name,
                    text,
                    children,
                    line: 0,
                },
            )
        })
    }

    fn entry(names: Vec<&'static str>) -> impl Strategy<Value = Node> {
        (
            prop::sample::select(names),
            text(),
            prop::collection::vec(subtree(), 0..4),
        )
            .prop_map(|(name, text, children)| Node {
                name: name.to_owned(),
                text,
                children,
                line: 0,
            })
    }

    /// Version and date (year, month, day) of a generated header.
    fn header() -> impl Strategy<Value = (Option<String>, Option<(i32, u32, u32)>)> {
        (
            prop::option::of(text()),
            prop::option::of((1900i32..2100, 1u32..=12, 1u32..=28)),
        )
    }

    fn packet() -> impl Strategy<Value = Packet> {
        let classifier = (
            text(),
            header(),
            prop::collection::vec(entry(vec!["zap", "ZAP"]), 0..4),
        )
            .prop_map(|(type_name, (version, ymd), entries)| Packet {
                kind: PacketKind::Classifier { type_name },
                version,
                date: ymd.map(|(y, m, d)| date(y, m, d)),
                entries,
            });
        let register = (
            header(),
            prop::collection::vec(
                entry(vec![
                    "TFOMS",
                    "insCompany",
                    "medCompany",
                    "expert",
                    "Организация",
                ]),
                0..4,
            ),
        )
            .prop_map(|((version, ymd), entries)| Packet {
                kind: PacketKind::Register,
                version,
                date: ymd.map(|(y, m, d)| date(y, m, d)),
                entries,
            });
        prop_oneof![classifier, register]
    }

    proptest! {
        #[test]
        fn round_trip_in_both_encodings(packet in packet()) {
            for encoding in [OutputEncoding::Utf8, OutputEncoding::Windows1251] {
                let written = write_packet(&packet, encoding).unwrap();
                let mut back = read_packet(&written).unwrap();
                prop_assert!(back.entries.iter().all(|e| e.line > 1));
                clear_lines(&mut back.entries);
                prop_assert_eq!(&back, &packet);
            }
        }
    }
}

#[cfg(test)]
mod debug_tests {
    use super::Node;

    #[test]
    fn debug_never_shows_text() {
        let node = Node::branch(
            "expert",
            vec![
                Node::leaf("fam", "Иванова"),
                Node::leaf("snils", "112-233-445 95"),
            ],
        );
        let shown = format!("{node:?}");
        assert!(
            !shown.contains("Иванова") && !shown.contains("112-233"),
            "{shown}"
        );
        assert!(
            shown.contains("snils") && shown.contains("text_chars: 14"),
            "{shown}"
        );
    }
}
