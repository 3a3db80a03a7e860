//! ZIP packages of exchange files (formats.md 1.1): one package is one account, a data file
//! (H, T, C, D*) and its personal-data file (L*), zipped together and named after the data file
//! (`HM750096T75_26011.zip` holds `HM750096T75_26011.xml` and `LM750096T75_26011.xml`).
//!
//! [`check_package`] opens a package from any `Read + Seek`, refuses what is unsafe or not by
//! the rules with F012 findings 801 (not a ZIP, or not one the hub opens), 802 (a name not by
//! the rules) and 803 (a file of the pair missing), and streams each inner XML file straight
//! from the archive through [`Validator::check_file`]: nothing is extracted to disk and no entry
//! is held in memory. [`PackageLimits`] bounds what a package may make the hub decompress, and
//! the bounds are enforced while reading too, because a ZIP header can lie about sizes.
//! [`ExchangeName`] parses the file names of formats.md 1.1.
//!
//! Signature files of formats.md 7 (`<file>.sig`, `<file>.BUH.SIG`, `.ISP.SIG`, `.DIR.SIG`) may
//! sit in a package beside the files they sign; they are listed in the report. Verifying them
//! is package intake's ([`check_package_with`] hands a [`PackageView`] of the opened archive to
//! a verifier between the checks of the archive and the reading of its files).
//!
//! [`check_single_file`] gives the same archive checks to a package of one file and its
//! signatures (an insurer's OPLIST in a ZIP, `i….zip` holding `i….xml`), and hands that file to
//! its caller instead of the schema check.
//!
//! Called by `omshub validate` ([`super::cli`]) for `.zip` paths, and by package intake next.
//! Like the rest of `validate`, a faulty package is a report, never an `Err`; only reading the
//! source itself can fail.

use std::io::{self, Read, Seek, SeekFrom};

use serde::{Serialize, Serializer};
use zip::CompressionMethod;

use super::protocol::{protocol_name, write_flk_with_rules};
use super::records::{self, Item};
use super::rules::{FileKind, RuleFinding};
use super::schema::Limits;
use super::{Context, FileReport, Finding, Validator, kind_of};
use crate::domain::{IdError, InsurerCode, MoCode, TfomsCode};

/// F012 801: the package is not a ZIP archive, or not one the hub opens (damaged, encrypted,
/// beyond the limits, a path leaving the archive, an archive inside).
pub const NOT_A_ZIP: u16 = 801;
/// F012 802: the package name, or the name of a file inside, does not follow the rules.
pub const BAD_NAME: u16 = 802;
/// F012 803: the package lacks its data file or its personal-data file.
pub const MISSING_FILE: u16 = 803;

/// Longest file name without extension: `ZGLV/FILENAME` is T(26) (formats.md 1.2, 1.4).
const MAX_NAME_CHARS: usize = 26;

/// Extensions of archives and compressed files, which a package must not hold.
const ARCHIVES: [&str; 11] = [
    ".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".zst", ".arj", ".cab",
];

/// Signature suffixes of formats.md 7, longest first, with the name `signature.required`
/// gives each.
pub const SIGNATURES: [(&str, &str); 4] = [
    (".buh.sig", "BUH"),
    (".isp.sig", "ISP"),
    (".dir.sig", "DIR"),
    (".sig", "sig"),
];

/// The signature suffix of `name` (ignoring ASCII case): the name without it and the
/// signature's name (`sig`, `BUH`, `ISP`, `DIR`).
#[must_use]
pub fn signature_suffix(name: &str) -> Option<(&str, &'static str)> {
    SIGNATURES
        .iter()
        .find_map(|(suffix, kind)| strip_suffix_ci(name, suffix).map(|rest| (rest, *kind)))
}

/// What a package may make the hub read and decompress.
///
/// The defaults fit an account of a few million cases: a generated H 3.2 file deflates about 21
/// times (the 1 GB file of the benchmark to about 50 MB) and its L file about 6 times, while a
/// zip bomb deflates hundreds to a thousand times.
#[derive(Debug, Clone, Copy)]
pub struct PackageLimits {
    /// Size of the package itself (compressed), in bytes. Default 1 GiB.
    pub max_package_bytes: u64,
    /// Entries in the archive, signatures and folders included. Default 16 (a pair and up to
    /// three signatures of each file is 8).
    pub max_entries: usize,
    /// The inner XML files together, uncompressed, in bytes: checked against the sizes the
    /// headers declare before anything is read, and against the bytes actually read. Default
    /// 8 GiB.
    pub max_uncompressed_bytes: u64,
    /// Uncompressed size over compressed size of one XML file. Default 200.
    pub max_ratio: u64,
    /// Files of at most this many uncompressed bytes are never refused for their ratio (a small
    /// file of repeated text can compress well without being a bomb). Default 1 MiB.
    pub ratio_applies_above: u64,
    /// The bounds of the schema check of each inner file.
    pub file: Limits,
}

impl Default for PackageLimits {
    fn default() -> Self {
        Self {
            max_package_bytes: 1 << 30,
            max_entries: 16,
            max_uncompressed_bytes: 8 << 30,
            max_ratio: 200,
            ratio_applies_above: 1 << 20,
            file: Limits::default(),
        }
    }
}

/// The result of checking one package.
#[derive(Debug, Clone)]
pub struct PackageReport {
    /// The package file name (`HM750096T75_26011.zip`).
    pub package: String,
    /// No package-level finding and every inner file accepted.
    pub accepted: bool,
    /// The names of the entries, in archive order (empty when the archive was not opened).
    pub entries: Vec<String>,
    /// Signature entries (formats.md 7), listed; intake verifies them (`Hooks::verify`).
    pub signatures: Vec<String>,
    /// Package-level findings (801, 802, 803), with line and column 0 (not inside a file)
    /// and the entry name, if any, as the value.
    pub findings: Vec<Finding>,
    /// One report per inner XML file that was read: the data file first, then the
    /// personal-data file.
    pub files: Vec<FileReport>,
}

/// One `FLK_P` protocol file of a package.
#[derive(Debug, Clone)]
pub struct Protocol {
    /// File name: `V` + the source name + `.xml`.
    pub name: String,
    /// The `PR` elements in it.
    pub findings: usize,
    /// The file, windows-1251.
    pub bytes: Vec<u8>,
}

impl PackageReport {
    /// The `FLK_P` protocols of the package: the first is `V` + the package name and holds the
    /// package-level findings followed by those of the data file of the same name (which would
    /// get the same protocol name on its own); every other inner file gets its own `V` + its
    /// name.
    #[must_use]
    pub fn protocols(&self) -> Vec<Protocol> {
        self.protocols_with_rules(&[])
    }

    /// [`Self::protocols`] with the findings of the business rules added to the protocol of
    /// the file each is in: those of the data file (the first file) to its protocol, those of
    /// the personal-data file to the L file's.
    #[must_use]
    pub fn protocols_with_rules(&self, rules: &[RuleFinding]) -> Vec<Protocol> {
        let stem = strip_suffix_ci(&self.package, ".zip").unwrap_or(&self.package);
        let mut combined = FileReport {
            file: self.package.clone(),
            kind: "ZIP".into(),
            version: String::new(),
            schema: None,
            nschet: None,
            accepted: self.findings.is_empty(),
            records: 0,
            refused_records: 0,
            findings_dropped: 0,
            findings: self.findings.clone(),
        };
        let file_kind = |i: usize, file: &FileReport| {
            if i > 0 && file.kind.starts_with('L') {
                FileKind::Personal
            } else {
                FileKind::Data
            }
        };
        let mut combined_kind = None;
        let mut others = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            if strip_suffix_ci(&file.file, ".xml") == Some(stem) {
                combined.nschet.clone_from(&file.nschet);
                combined.findings.extend(file.findings.iter().cloned());
                combined.findings_dropped = file.findings_dropped;
                combined_kind = Some(file_kind(i, file));
            } else {
                others.push((Some(file_kind(i, file)), file));
            }
        }
        let of = |kind: Option<FileKind>| -> Vec<RuleFinding> {
            rules
                .iter()
                .filter(|r| Some(r.file) == kind)
                .cloned()
                .collect()
        };
        std::iter::once((combined_kind, &combined))
            .chain(others)
            .map(|(kind, report)| {
                let found = of(kind);
                Protocol {
                    name: format!("{}.xml", protocol_name(&report.file)),
                    findings: report.findings.len()
                        + usize::from(report.findings_dropped > 0)
                        + found.len(),
                    bytes: write_flk_with_rules(report, &found),
                }
            })
            .collect()
    }
}

impl Serialize for PackageReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            file: &'a str,
            kind: &'static str,
            accepted: bool,
            entries: &'a [String],
            signatures: &'a [String],
            findings: &'a [Finding],
            files: &'a [FileReport],
        }
        Out {
            file: &self.package,
            kind: "ZIP",
            accepted: self.accepted,
            entries: &self.entries,
            signatures: &self.signatures,
            findings: &self.findings,
            files: &self.files,
        }
        .serialize(s)
    }
}

/// Who sends or receives a file: formats.md 1.1 `Pi`/`Pp` with the code `Ni`/`Np`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// `M` + 6 digits: a medical organisation (F003).
    Clinic(MoCode),
    /// `S` + 5 digits: an insurer (СМО, F002).
    Insurer(InsurerCode),
    /// `T` + 2 digits: a territorial fund (ТФОМС, F001).
    Fund(TfomsCode),
}

/// Why a file name does not follow formats.md 1.1. The messages name the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// More characters than `ZGLV/FILENAME` holds.
    #[error("more than 26 characters (ZGLV/FILENAME is T(26))")]
    TooLong,
    /// No known file kind at the start.
    #[error(
        "no file kind at the start (H, T, C, D[DFOPRSUVAB] for data; L, L[TDFOPRSUVCAB] for \
         personal data)"
    )]
    Kind,
    /// The letter before a code is not `M`, `S` or `T`.
    #[error("the {role} must be M (clinic), S (insurer) or T (territorial fund) and its code")]
    PartyKind {
        /// `sender` or `receiver`.
        role: &'static str,
    },
    /// The code after `M`, `S` or `T` is wrong.
    #[error("the {role} code is wrong: {source}")]
    PartyCode {
        /// `sender` or `receiver`.
        role: &'static str,
        /// What the code's parser said.
        source: IdError,
    },
    /// No `_` after the receiver.
    #[error("`_` must follow the receiver code")]
    Separator,
    /// `YYMM` missing or the month outside 01–12.
    #[error("`_` must be followed by the period YYMM with a month 01-12")]
    Period,
    /// No package number, or not digits.
    #[error("the package number after YYMM must be one or more digits")]
    Number,
}

/// An exchange file name by formats.md 1.1: `XX` + `Pi` + `Ni` + `Pp` + `Np` + `_` + `YY` +
/// `MM` + `NN`, e.g. `HM750096T75_26011` (clinic 750096 to fund 75, January 2026, package 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeName {
    name: String,
    kind_len: usize,
    sender: Party,
    receiver: Party,
    year: u8,
    month: u8,
}

impl ExchangeName {
    /// Parses a name without extension. Where the kind could be read two ways (`LS28004T28_…`
    /// is `L` from insurer 28004, not `LS`), the reading that makes the rest valid wins, the
    /// two-letter kind first, as the TFOMS regex `^(C|T|H|D[…]|L[…]|L)` tries it.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        let kind = kind_of(name).ok_or(NameError::Kind)?;
        match Self::parse_with_kind(name, kind.len()) {
            Err(e) if kind.len() == 2 && kind.starts_with('L') => {
                Self::parse_with_kind(name, 1).map_err(|_| e)
            }
            other => other,
        }
    }

    fn parse_with_kind(name: &str, kind_len: usize) -> Result<Self, NameError> {
        let mut rest = &name[kind_len..];
        let sender = party(&mut rest, "sender")?;
        let receiver = party(&mut rest, "receiver")?;
        let rest = rest.strip_prefix('_').ok_or(NameError::Separator)?;
        let period = rest.get(..4).ok_or(NameError::Period)?;
        if !period.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::Period);
        }
        let year = period[..2].parse().map_err(|_| NameError::Period)?;
        let month = period[2..].parse().map_err(|_| NameError::Period)?;
        if !(1..=12).contains(&month) {
            return Err(NameError::Period);
        }
        let number = &rest[4..];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::Number);
        }
        Ok(Self {
            name: name.to_owned(),
            kind_len,
            sender,
            receiver,
            year,
            month,
        })
    }

    /// The whole name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The file kind: `H`, `T`, `C`, `DP`, `L`, `LT`, …
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.name[..self.kind_len]
    }

    /// The sender (`Pi` + `Ni`).
    #[must_use]
    pub fn sender(&self) -> &Party {
        &self.sender
    }

    /// The receiver (`Pp` + `Np`).
    #[must_use]
    pub fn receiver(&self) -> &Party {
        &self.receiver
    }

    /// The reporting year, two digits (`YY`).
    #[must_use]
    pub fn year(&self) -> u8 {
        self.year
    }

    /// The reporting month, 1–12 (`MM`).
    #[must_use]
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The package number within the month (`NN`), as written.
    #[must_use]
    pub fn number(&self) -> &str {
        let at = self.name.rfind('_').map_or(self.name.len(), |i| i + 5);
        &self.name[at..]
    }

    /// A personal-data file (`L`, `LT`, …).
    #[must_use]
    pub fn is_personal(&self) -> bool {
        self.kind().starts_with('L')
    }

    /// For a data file, the name of its personal-data file: H→`L`, T→`LT`, C→`LC`,
    /// D*→`L*` (DP→`LP`), with the rest of the name unchanged. `None` for an L file.
    #[must_use]
    pub fn personal_name(&self) -> Option<String> {
        let kind = match self.kind() {
            "H" => "L".to_owned(),
            "T" => "LT".to_owned(),
            "C" => "LC".to_owned(),
            d if d.starts_with('D') => format!("L{}", &d[1..]),
            _ => return None,
        };
        Some(format!("{kind}{}", &self.name[self.kind_len..]))
    }
}

/// Reads `M`/`S`/`T` and the digits after it from the front of `rest`.
fn party(rest: &mut &str, role: &'static str) -> Result<Party, NameError> {
    let mut chars = rest.chars();
    let letter = chars.next().ok_or(NameError::PartyKind { role })?;
    let tail = chars.as_str();
    let end = tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len());
    let code = &tail[..end];
    let wrap = |source| NameError::PartyCode { role, source };
    let party = match letter {
        'M' => Party::Clinic(MoCode::parse(code).map_err(wrap)?),
        'S' => Party::Insurer(InsurerCode::parse(code).map_err(wrap)?),
        'T' => Party::Fund(TfomsCode::parse(code).map_err(wrap)?),
        _ => return Err(NameError::PartyKind { role }),
    };
    *rest = &tail[end..];
    Ok(party)
}

/// `name` without `suffix`, compared ignoring ASCII case.
#[must_use]
pub fn strip_suffix_ci<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let at = name.len().checked_sub(suffix.len())?;
    (name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(suffix)).then(|| &name[..at])
}

/// A package-level finding: no element, no line; the entry (or package) name as the value,
/// and the hub's `reason`. Intake makes its own (805–808) with it too.
#[must_use]
pub fn package_finding(code: u16, reason: &'static str, value: &str, message: String) -> Finding {
    Finding {
        code,
        element: String::new(),
        parent: None,
        value: Some(value.to_owned()),
        context: Context::default(),
        line: 0,
        column: 0,
        message,
        reason: Some(reason),
    }
}

/// A name that would leave the folder it is extracted to: absolute, a drive, `..`, NUL.
fn leaves_archive(name: &str) -> bool {
    name.starts_with(['/', '\\'])
        || name.as_bytes().get(1) == Some(&b':')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|part| part == "..")
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// The entry names of the central directory, read from the archive itself: the zip crate keeps
/// one entry per name, so a repeated name would go unseen through it. The entry count is
/// checked against `max_entries` before the directory is read. `Ok(Err(why))`: the package is
/// refused with 801 and `why`.
fn central_names<R: Read + Seek>(
    source: &mut R,
    len: u64,
    max_entries: usize,
) -> io::Result<Result<Vec<String>, (&'static str, String)>> {
    const EOCD: usize = 22;
    const EOCD_LEN: u64 = 22;
    let not_zip = |why: &str| {
        Ok(Err((
            "not_zip",
            format!("the package is not a ZIP archive: {why}"),
        )))
    };
    if len < EOCD_LEN {
        return not_zip("it is too short");
    }
    let tail_len = len.min(EOCD_LEN + 0xFFFF);
    source.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0; usize::try_from(tail_len).unwrap_or(EOCD)];
    source.read_exact(&mut tail)?;
    let Some(at) = (0..=tail.len() - EOCD).rev().find(|&i| {
        tail[i..i + 4] == *b"PK\x05\x06"
            && i + EOCD + usize::from(le16(&tail, i + 20)) <= tail.len()
    }) else {
        return not_zip("no end of central directory record");
    };
    let e = &tail[at..];
    if le16(e, 4) != 0 || le16(e, 6) != 0 {
        return Ok(Err((
            "split_archive",
            "the package is a split (multi-volume) archive; send one ZIP file".into(),
        )));
    }
    let eocd_at = len - tail_len + at as u64;
    let (mut count, mut size, mut offset) = (
        u64::from(le16(e, 10)),
        u64::from(le32(e, 12)),
        u64::from(le32(e, 16)),
    );
    let mut directory_end = eocd_at;
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        let damaged = || not_zip("the ZIP64 end of central directory is missing or damaged");
        let Some(locator_at) = eocd_at.checked_sub(20) else {
            return damaged();
        };
        let mut locator = [0; 20];
        source.seek(SeekFrom::Start(locator_at))?;
        source.read_exact(&mut locator)?;
        let record_at = le64(&locator, 8);
        if locator[..4] != *b"PK\x06\x07" || record_at.saturating_add(56) > locator_at {
            return damaged();
        }
        let mut record = [0; 56];
        source.seek(SeekFrom::Start(record_at))?;
        source.read_exact(&mut record)?;
        if record[..4] != *b"PK\x06\x06" {
            return damaged();
        }
        (count, size, offset) = (le64(&record, 32), le64(&record, 40), le64(&record, 48));
        directory_end = record_at;
    }
    if count > max_entries as u64 {
        return Ok(Err((
            "too_many_entries",
            format!(
                "the package holds {count} entries, more than the {max_entries} a package may \
                 hold"
            ),
        )));
    }
    if directory_end.checked_sub(size) != Some(offset) {
        return not_zip(
            "the central directory is not where the archive says (data before the archive, or \
             a damaged archive)",
        );
    }
    source.seek(SeekFrom::Start(offset))?;
    let mut names = Vec::new();
    let mut locals = Vec::new();
    let mut header = [0; 46];
    for _ in 0..count {
        if source.read_exact(&mut header).is_err() || header[..4] != *b"PK\x01\x02" {
            return not_zip("the central directory is damaged");
        }
        let mut name_and_extra =
            vec![0; usize::from(le16(&header, 28)) + usize::from(le16(&header, 30))];
        match source.read_exact(&mut name_and_extra) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return not_zip("the central directory is damaged");
            }
            Err(e) => return Err(e),
        }
        source.seek(SeekFrom::Current(i64::from(le16(&header, 32))))?;
        let extra = name_and_extra.split_off(usize::from(le16(&header, 28)));
        let Some(local_at) = local_header_offset(&header, &extra) else {
            return not_zip("the ZIP64 fields of an entry are missing or damaged");
        };
        names.push(String::from_utf8_lossy(&name_and_extra).into_owned());
        locals.push((local_at, name_and_extra));
    }
    if let Err(refusal) = local_names_agree(source, len, locals)? {
        return Ok(Err(refusal));
    }
    Ok(Ok(names))
}

/// Each entry's local header must name it as the central directory does (`locals`: the
/// local header's offset and the central name): where they differ, a tool reading local
/// headers (a streaming unzip) and one reading the directory (this hub, the zip crate) would
/// take two different files. `Ok(Err(why))`: the package is refused with 801 and `why`.
fn local_names_agree<R: Read + Seek>(
    source: &mut R,
    len: u64,
    locals: Vec<(u64, Vec<u8>)>,
) -> io::Result<Result<(), (&'static str, String)>> {
    for (local_at, central) in locals {
        let mut local = [0; 30];
        source.seek(SeekFrom::Start(local_at))?;
        if local_at.saturating_add(30) > len
            || source.read_exact(&mut local).is_err()
            || local[..4] != *b"PK\x03\x04"
        {
            return Ok(Err((
                "not_zip",
                "the package is not a ZIP archive: the local header of an entry is missing or \
                 damaged"
                    .into(),
            )));
        }
        let mut name = vec![0; usize::from(le16(&local, 26))];
        if source.read_exact(&mut name).is_err() || name != central {
            let shown = String::from_utf8_lossy(&central).into_owned();
            return Ok(Err((
                "local_name_mismatch",
                format!(
                    "{shown}: the entry's local header names it `{}`, not as the central \
                     directory does; two tools would read two different files, so the package is \
                     not opened",
                    String::from_utf8_lossy(&name)
                ),
            )));
        }
    }
    Ok(Ok(()))
}

/// The offset of an entry's local header from its central header and extra field: the
/// 4-byte field, or the ZIP64 extra (0x0001) when that field is `0xFFFF_FFFF` (after the
/// sizes the extra holds in their turn). `None`: the ZIP64 extra is missing or short.
fn local_header_offset(header: &[u8], extra: &[u8]) -> Option<u64> {
    let offset = le32(header, 42);
    if offset != 0xFFFF_FFFF {
        return Some(u64::from(offset));
    }
    let mut rest = extra;
    while rest.len() >= 4 {
        let (id, size) = (le16(rest, 0), usize::from(le16(rest, 2)));
        let data = rest.get(4..4 + size)?;
        if id == 1 {
            let skip = 8
                * (usize::from(le32(header, 24) == 0xFFFF_FFFF)
                    + usize::from(le32(header, 20) == 0xFFFF_FFFF));
            return data.get(skip..skip + 8).map(|b| le64(b, 0));
        }
        rest = &rest[4 + size..];
    }
    None
}

/// An entry's reader that refuses to give more bytes than its header declares, so that the
/// declared size, checked against the limits before reading, bounds what is decompressed.
/// It keeps the first problem for the package report.
struct Bounded<R> {
    inner: R,
    read: u64,
    declared: u64,
    problem: Option<String>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(problem) = &self.problem {
            return Err(io::Error::other(problem.clone()));
        }
        // One byte past the declared size is enough to catch a lie.
        let room = usize::try_from(self.declared - self.read + 1).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        match self.inner.read(&mut buf[..want]) {
            Ok(n) => {
                self.read += n as u64;
                if self.read > self.declared {
                    let problem = format!(
                        "holds more than the {} bytes its header declares (a forged size); \
                         reading stopped",
                        self.declared
                    );
                    self.problem = Some(problem.clone());
                    return Err(io::Error::other(problem));
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.problem = Some(format!("cannot be read: {e}"));
                Err(e)
            }
        }
    }
}

/// What an entry is to the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Data,
    Personal,
    Signature,
}

/// A signature file inside the package and the entry it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// The signature's entry name (`HM750096T75_26011.XML.BUH.SIG`).
    pub name: String,
    /// `sig`, `BUH`, `ISP` or `DIR` (the names of `signature.required`).
    pub kind: &'static str,
    /// The entry it signs; `None` when that file is not in the package (an 803 finding).
    pub signs: Option<String>,
}

/// Reads an entry of the opened archive.
trait OpenEntry {
    fn open_entry(&mut self, name: &str, max: u64) -> io::Result<Box<dyn Read + '_>>;
}

struct ArchiveEntries<'e, R> {
    archive: &'e mut zip::ZipArchive<R>,
    entries: &'e [EntryInfo],
}

impl<R: Read + Seek> OpenEntry for ArchiveEntries<'_, R> {
    fn open_entry(&mut self, name: &str, max: u64) -> io::Result<Box<dyn Read + '_>> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no entry {name}")))?;
        if entry.size > max {
            return Err(io::Error::other(format!(
                "{name} is {} bytes, more than the {max} allowed here",
                entry.size
            )));
        }
        let inner = self
            .archive
            .by_index(entry.index)
            .map_err(io::Error::other)?;
        Ok(Box::new(Bounded {
            inner,
            read: 0,
            declared: entry.size,
            problem: None,
        }))
    }
}

/// What a verifier sees of an opened package whose archive passed its checks: the files of
/// the pair that are present, the signatures beside them, and a reader of any entry, bounded by
/// its declared size (already checked against [`PackageLimits`]).
pub struct PackageView<'v> {
    /// The entries of the pair present in the package, the data file first.
    pub files: Vec<String>,
    /// The signature entries, in archive order.
    pub signatures: Vec<SignatureEntry>,
    open: &'v mut dyn OpenEntry,
}

impl<'v> PackageView<'v> {
    /// The view of a file sent by itself, not in a ZIP: a package of that one file, without
    /// signature entries (its signatures came beside it).
    pub fn lone(file: &'v mut LoneFile) -> Self {
        Self {
            files: vec![file.name.clone()],
            signatures: Vec::new(),
            open: file,
        }
    }

    /// A reader of entry `name`; refused when its declared size is more than `max` bytes.
    pub fn open(&mut self, name: &str, max: u64) -> io::Result<Box<dyn Read + '_>> {
        self.open.open_entry(name, max)
    }
}

/// A file that came by itself, not in a ZIP (an insurer's OPLIST sent as its XML), as a
/// verifier sees it: [`PackageView::lone`].
#[derive(Debug, Clone)]
pub struct LoneFile {
    name: String,
    path: std::path::PathBuf,
}

impl LoneFile {
    /// The file `name`, stored at `path`.
    #[must_use]
    pub fn new(name: &str, path: &std::path::Path) -> Self {
        Self {
            name: name.to_owned(),
            path: path.to_owned(),
        }
    }
}

impl OpenEntry for LoneFile {
    fn open_entry(&mut self, name: &str, max: u64) -> io::Result<Box<dyn Read + '_>> {
        if name != self.name {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no file {name}"),
            ));
        }
        let file = std::fs::File::open(&self.path)?;
        let size = file.metadata()?.len();
        if size > max {
            return Err(io::Error::other(format!(
                "{name} is {size} bytes, more than the {max} allowed here"
            )));
        }
        Ok(Box::new(io::BufReader::new(file)))
    }
}

/// What [`check_package_with`] calls while it checks.
#[derive(Default)]
pub struct Hooks<'f> {
    /// Gets the typed records of the files as they stream past (see [`check_package_into`]).
    pub on_item: Option<&'f mut (dyn FnMut(Item) + Send + 'f)>,
    /// Called once the archive, its names and sizes passed (no 801, no repeated name), before
    /// any file is read; the findings it returns are package findings, and when there are any
    /// the files are not read (their content is not trusted). Intake verifies signatures here.
    pub verify: Option<&'f mut Verifier<'f>>,
    /// Stop after the archive checks and `verify`: the files are not read (`files` stays
    /// empty and `accepted` means "no package finding"). What the intake benchmark measures as
    /// the overhead before the schema check.
    pub skip_files: bool,
}

/// The verifier of [`Hooks::verify`].
pub type Verifier<'f> = dyn FnMut(&mut PackageView<'_>) -> Vec<Finding> + 'f;

/// Checks the package `package_name` read from `source`: the archive, the names, the pair,
/// then each inner XML file streamed through `validator`.
///
/// Order and stops: the package name (802); the package size, the central directory and the
/// entry count (801: nothing more is done); a repeated name (802); then every entry: a path
/// leaving the archive, encryption, an archive inside, an unsupported compression method, sizes
/// and ratio beyond `limits` (801), folders, names not by the rules or of another package, files
/// other than the pair and its signatures (802); then the pair (803). A package with an 801 or
/// a repeated name is not read further; otherwise the data file and the personal-data file
/// present are checked, data file first, so the sender gets every finding at once.
///
/// Only reading `source` can fail (a damaged archive is an 801 finding, not an `Err`).
pub fn check_package<R: Read + Seek>(
    validator: &Validator,
    package_name: &str,
    source: R,
    limits: &PackageLimits,
) -> io::Result<PackageReport> {
    check_package_into(validator, package_name, source, limits, None)
}

/// As [`check_package`], handing the typed records of its files (`validate::records`) to
/// `on_item` as they stream past: the clean records of the data file, then of the
/// personal-data file. Intake stores the accepted cases this way.
pub fn check_package_into<'f, R: Read + Seek>(
    validator: &Validator,
    package_name: &str,
    source: R,
    limits: &PackageLimits,
    on_item: Option<&'f mut (dyn FnMut(Item) + Send + 'f)>,
) -> io::Result<PackageReport> {
    check_package_with(
        validator,
        package_name,
        source,
        limits,
        Hooks {
            on_item,
            verify: None,
            skip_files: false,
        },
    )
}

/// As [`check_package`], with the [`Hooks`] of package intake: the typed records, and a
/// verifier of signatures between the checks of the archive and the reading of its files.
pub fn check_package_with<R: Read + Seek>(
    validator: &Validator,
    package_name: &str,
    mut source: R,
    limits: &PackageLimits,
    hooks: Hooks<'_>,
) -> io::Result<PackageReport> {
    let Hooks {
        mut on_item,
        mut verify,
        skip_files,
    } = hooks;
    let mut report = PackageReport {
        package: package_name.to_owned(),
        accepted: false,
        entries: Vec::new(),
        signatures: Vec::new(),
        findings: Vec::new(),
        files: Vec::new(),
    };
    let mut data_name = package_data_name(package_name, &mut report.findings);

    let Some((mut archive, raw_names)) =
        open(&mut source, package_name, limits, &mut report.findings)?
    else {
        return Ok(report);
    };
    let mut stop = repeated_names(&raw_names, &mut report.findings);
    if !stop && archive.len() != raw_names.len() {
        report.findings.push(package_finding(
            NOT_A_ZIP,
            "not_zip",
            package_name,
            "the package cannot be opened as a ZIP archive: its central directory is inconsistent"
                .into(),
        ));
        return Ok(report);
    }
    let Some(entries) = entry_infos(&mut archive, &mut report.findings) else {
        return Ok(report);
    };
    report.entries = entries.iter().map(|e| e.name.clone()).collect();

    // Without a valid package name, the pair is the one of the only data file inside.
    if data_name.is_none() {
        let mut inside = entries.iter().filter_map(|e| {
            let stem = strip_suffix_ci(&e.name, ".xml")?;
            ExchangeName::parse(stem).ok().filter(|n| !n.is_personal())
        });
        if let (Some(only), None) = (inside.next(), inside.next()) {
            data_name = Some(only);
        }
    }
    let personal_name = data_name.as_ref().and_then(ExchangeName::personal_name);
    let expected = Expected {
        data: data_name.as_ref().map(ExchangeName::as_str),
        personal: personal_name.as_deref(),
    };

    let mut to_read: Vec<(Role, &EntryInfo)> = Vec::new();
    let mut total: u64 = 0;
    for entry in &entries {
        let Some(role) = classify(entry, &expected, &mut report.findings) else {
            continue;
        };
        if role == Role::Signature {
            report.signatures.push(entry.name.clone());
            continue;
        }
        let before = report.findings.len();
        check_sizes(entry, limits, &mut total, &mut report.findings);
        if report.findings.len() == before {
            to_read.push((role, entry));
        }
    }
    stop |= report.findings.iter().any(|f| f.code == NOT_A_ZIP);
    missing_files(&entries, &expected, package_name, &mut report.findings);
    if !stop && let Some(verify) = verify.as_mut() {
        let files: Vec<String> = to_read.iter().map(|(_, e)| e.name.clone()).collect();
        let mut open = ArchiveEntries {
            archive: &mut archive,
            entries: &entries,
        };
        let mut view = PackageView {
            signatures: signature_entries(&report.signatures, &files),
            files,
            open: &mut open,
        };
        let refused = verify(&mut view);
        stop |= !refused.is_empty();
        report.findings.extend(refused);
    }
    if !stop && !skip_files {
        to_read.sort_by_key(|(role, _)| *role == Role::Personal);
        for (_, entry) in to_read {
            read_entry(
                validator,
                &mut archive,
                entry,
                limits,
                &mut report,
                on_item.as_deref_mut(),
            )?;
        }
    }
    report.accepted = report.findings.is_empty() && report.files.iter().all(|f| f.accepted);
    Ok(report)
}

/// Checks a package that holds one file, `file_name`, and the signatures of that file (an
/// insurer's OPLIST in a ZIP: `i….zip` holding `i….xml`), and hands the file to `read` when
/// nothing refuses it.
///
/// The archive gets the checks of [`check_package_with`] and their findings: the package size,
/// the central directory and the entry count (801, nothing more is done), a repeated name
/// (802), then every entry: a path leaving the archive, encryption, an archive inside, the
/// compression method, sizes and ratio (801), folders (802); any entry but `file_name` (by
/// name, the extension in any case) and its signatures is a `foreign_file` (another `.xml`) or
/// an `unexpected_file` (802); the file missing is an 803. Unless an 801 or a repeated name
/// stopped it, `verify` then sees the archive, as for a pair. Only when there is no finding at
/// all is the file read, once to its end, for its SHA-256 (hex) and the archive's checks under
/// it (a checksum, a size its header understates: 801 `damaged_entry`), and then given to
/// `read` with its SHA-256, read from the start again and bounded by its declared size. `read`'s
/// answer is `None` when the package was refused (the report's findings say why).
///
/// Only reading `source` can fail.
pub fn check_single_file<R: Read + Seek, T>(
    package_name: &str,
    file_name: &str,
    mut source: R,
    limits: &PackageLimits,
    verify: Option<&mut Verifier<'_>>,
    read: impl FnOnce(&mut dyn Read, &str) -> T,
) -> io::Result<(PackageReport, Option<T>)> {
    let mut report = PackageReport {
        package: package_name.to_owned(),
        accepted: false,
        entries: Vec::new(),
        signatures: Vec::new(),
        findings: Vec::new(),
        files: Vec::new(),
    };
    let Some((mut archive, raw_names)) =
        open(&mut source, package_name, limits, &mut report.findings)?
    else {
        return Ok((report, None));
    };
    let mut stop = repeated_names(&raw_names, &mut report.findings);
    if !stop && archive.len() != raw_names.len() {
        report.findings.push(package_finding(
            NOT_A_ZIP,
            "not_zip",
            package_name,
            "the package cannot be opened as a ZIP archive: its central directory is inconsistent"
                .into(),
        ));
        return Ok((report, None));
    }
    let Some(entries) = entry_infos(&mut archive, &mut report.findings) else {
        return Ok((report, None));
    };
    report.entries = entries.iter().map(|e| e.name.clone()).collect();
    let stem = strip_suffix_ci(file_name, ".xml").unwrap_or(file_name);
    let mut file = None;
    let mut total: u64 = 0;
    for entry in &entries {
        match classify_single(entry, stem, file_name, &mut report.findings) {
            Some(Role::Signature) => report.signatures.push(entry.name.clone()),
            Some(_) => {
                let before = report.findings.len();
                check_sizes(entry, limits, &mut total, &mut report.findings);
                if report.findings.len() == before {
                    file = Some(entry);
                }
            }
            None => {}
        }
    }
    stop |= report.findings.iter().any(|f| f.code == NOT_A_ZIP);
    if !entries
        .iter()
        .any(|e| strip_suffix_ci(&e.name, ".xml") == Some(stem))
    {
        report.findings.push(package_finding(
            MISSING_FILE,
            "missing_file",
            file_name,
            format!("the package lacks its file {file_name}"),
        ));
    }
    if !stop && let Some(verify) = verify {
        let files: Vec<String> = file.iter().map(|e| e.name.clone()).collect();
        let mut open = ArchiveEntries {
            archive: &mut archive,
            entries: &entries,
        };
        let mut view = PackageView {
            signatures: signature_entries(&report.signatures, &files),
            files,
            open: &mut open,
        };
        let refused = verify(&mut view);
        report.findings.extend(refused);
    }
    let Some(entry) = file.filter(|_| report.findings.is_empty()) else {
        return Ok((report, None));
    };
    let mut open = ArchiveEntries {
        archive: &mut archive,
        entries: &entries,
    };
    let sha256 = match entry_sha256(&mut open, &entry.name) {
        Ok(sha256) => sha256,
        Err(e) => {
            report.findings.push(package_finding(
                NOT_A_ZIP,
                "damaged_entry",
                &entry.name,
                format!("{}: {e}", entry.name),
            ));
            return Ok((report, None));
        }
    };
    let mut reader = open.open_entry(&entry.name, u64::MAX)?;
    let answer = read(&mut reader, &sha256);
    report.accepted = true;
    Ok((report, Some(answer)))
}

/// The SHA-256 (hex) of entry `name`, read to its end: an error when the archive under it is
/// damaged (a checksum, more bytes than its header declares).
fn entry_sha256(open: &mut dyn OpenEntry, name: &str) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let mut hasher = Sha256::new();
    io::copy(&mut open.open_entry(name, u64::MAX)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        }))
}

/// [`classify`] for a package of the one file `file_name` (`stem` without `.xml`): `Some`
/// for the file and for its signatures.
fn classify_single(
    entry: &EntryInfo,
    stem: &str,
    file_name: &str,
    findings: &mut Vec<Finding>,
) -> Option<Role> {
    if refuse_entry(entry, findings) {
        return None;
    }
    let name = entry.name.as_str();
    let mut refuse = |reason: &'static str, message: String| {
        findings.push(package_finding(
            BAD_NAME,
            reason,
            name,
            format!("{name}: {message}"),
        ));
        None
    };
    if let Some((signed, _)) = signature_suffix(name) {
        if strip_suffix_ci(signed, ".xml").unwrap_or(signed) == stem {
            return Some(Role::Signature);
        }
        return refuse(
            "unexpected_signature",
            format!("a signature of a file that is not in this package (it holds {file_name})"),
        );
    }
    match strip_suffix_ci(name, ".xml") {
        Some(inner) if inner == stem => Some(Role::Data),
        Some(_) => refuse(
            "foreign_file",
            format!(
                "not the file this package is named after; a package holds the one file of its \
                 name ({file_name}) and its signatures"
            ),
        ),
        None => refuse(
            "unexpected_file",
            format!("not a file this package holds: only {file_name} and its signatures"),
        ),
    }
}

/// The signature entries `names` with what each signs among `files`.
fn signature_entries(names: &[String], files: &[String]) -> Vec<SignatureEntry> {
    names
        .iter()
        .filter_map(|name| {
            let (signed, kind) = signature_suffix(name)?;
            let stem = strip_suffix_ci(signed, ".xml").unwrap_or(signed);
            let signs = files
                .iter()
                .find(|f| strip_suffix_ci(f, ".xml") == Some(stem))
                .cloned();
            Some(SignatureEntry {
                name: name.clone(),
                kind,
                signs,
            })
        })
        .collect()
}

/// Opens the archive: its size, the central directory read directly (the raw entry names, the
/// count against the limit), then the zip crate's view. `None`: refused with an 801 finding.
fn open<'a, R: Read + Seek>(
    source: &'a mut R,
    package_name: &str,
    limits: &PackageLimits,
    findings: &mut Vec<Finding>,
) -> io::Result<Option<(zip::ZipArchive<&'a mut R>, Vec<String>)>> {
    let len = source.seek(SeekFrom::End(0))?;
    if len > limits.max_package_bytes {
        findings.push(package_finding(
            NOT_A_ZIP,
            "package_too_large",
            package_name,
            format!(
                "the package is {len} bytes, more than the {} a package may have",
                limits.max_package_bytes
            ),
        ));
        return Ok(None);
    }
    let raw_names = match central_names(source, len, limits.max_entries)? {
        Ok(names) => names,
        Err((reason, why)) => {
            findings.push(package_finding(NOT_A_ZIP, reason, package_name, why));
            return Ok(None);
        }
    };
    match zip::ZipArchive::new(source) {
        Ok(archive) => Ok(Some((archive, raw_names))),
        Err(e) => {
            findings.push(package_finding(
                NOT_A_ZIP,
                "not_zip",
                package_name,
                format!("the package cannot be opened as a ZIP archive: {e}"),
            ));
            Ok(None)
        }
    }
}

/// 802 for every name that repeats an earlier one, ignoring ASCII case (the same file on
/// Windows and in most ZIP tools); `true` when one does.
fn repeated_names(names: &[String], findings: &mut Vec<Finding>) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut repeated = false;
    for name in names {
        if !seen.insert(name.to_ascii_lowercase()) {
            findings.push(package_finding(
                BAD_NAME,
                "repeated_entry",
                name,
                format!("{name}: the name appears more than once in the package"),
            ));
            repeated = true;
        }
    }
    repeated
}

/// What the central directory says of each entry; `None`: an entry cannot be opened (801).
fn entry_infos<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    findings: &mut Vec<Finding>,
) -> Option<Vec<EntryInfo>> {
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let name = archive.name_for_index(index).unwrap_or_default().to_owned();
        let info = archive.by_index_raw(index).map(|entry| EntryInfo {
            index,
            name: entry.name().to_owned(),
            encrypted: entry.encrypted(),
            method: entry.compression(),
            size: entry.size(),
            compressed: entry.compressed_size(),
        });
        match info {
            Ok(info) => entries.push(info),
            Err(e) => {
                findings.push(package_finding(
                    NOT_A_ZIP,
                    "damaged_entry",
                    &name,
                    format!("{name}: the entry cannot be opened: {e}"),
                ));
                return None;
            }
        }
    }
    Some(entries)
}

/// 803 for each file of the pair that is not in the package.
fn missing_files(
    entries: &[EntryInfo],
    expected: &Expected,
    package_name: &str,
    findings: &mut Vec<Finding>,
) {
    for (role, name, what) in [
        (Role::Data, expected.data, "data file"),
        (Role::Personal, expected.personal, "personal-data file"),
    ] {
        if entries
            .iter()
            .any(|e| strip_suffix_ci(&e.name, ".xml").is_some_and(|s| Some(s) == name))
        {
            continue;
        }
        let message = match name {
            Some(name) => format!("the package lacks its {what} {name}.xml"),
            None if role == Role::Data => {
                "the package lacks a data file (H, T, C or D*) named by the rules".to_owned()
            }
            None => continue,
        };
        let value = name.map_or_else(|| package_name.to_owned(), |n| format!("{n}.xml"));
        findings.push(package_finding(
            MISSING_FILE,
            "missing_file",
            &value,
            message,
        ));
    }
}

/// The names a package expects inside, without `.xml`.
struct Expected<'a> {
    data: Option<&'a str>,
    personal: Option<&'a str>,
}

/// What the central directory says of one entry.
struct EntryInfo {
    index: usize,
    name: String,
    encrypted: bool,
    method: CompressionMethod,
    size: u64,
    compressed: u64,
}

/// Checks the package name; returns the data-file name it carries, if valid.
fn package_data_name(package_name: &str, findings: &mut Vec<Finding>) -> Option<ExchangeName> {
    let Some(stem) = strip_suffix_ci(package_name, ".zip") else {
        findings.push(package_finding(
            BAD_NAME,
            "bad_package_name",
            package_name,
            format!("package name {package_name}: a package is a .zip file"),
        ));
        return None;
    };
    match ExchangeName::parse(stem) {
        Ok(name) if name.is_personal() => {
            findings.push(package_finding(
                BAD_NAME,
                "bad_package_name",
                package_name,
                format!(
                    "package name {package_name}: a package is named after its data file (H, T, \
                     C or D*), not after the personal-data file"
                ),
            ));
            None
        }
        Ok(name) => Some(name),
        Err(e) => {
            findings.push(package_finding(
                BAD_NAME,
                "bad_package_name",
                package_name,
                format!("package name {package_name} is not by the rules of formats.md 1.1: {e}"),
            ));
            None
        }
    }
}

/// The refusals of an entry whatever the package holds: a path that leaves the archive,
/// encryption, an archive inside (801), a folder (802). `true` when the entry is refused.
fn refuse_entry(entry: &EntryInfo, findings: &mut Vec<Finding>) -> bool {
    let name = entry.name.as_str();
    let lower = name.to_ascii_lowercase();
    let mut refuse = |code: u16, reason: &'static str, message: String| {
        findings.push(package_finding(
            code,
            reason,
            name,
            format!("{name}: {message}"),
        ));
        true
    };
    if leaves_archive(name) {
        return refuse(
            NOT_A_ZIP,
            "path_traversal",
            "a path that leaves the archive (absolute, a drive or `..`); the package is not \
             opened"
                .into(),
        );
    }
    if entry.encrypted {
        return refuse(
            NOT_A_ZIP,
            "encrypted_entry",
            "the entry is encrypted; a package is not encrypted (signatures protect it)".into(),
        );
    }
    if ARCHIVES.iter().any(|ext| lower.ends_with(ext)) {
        return refuse(
            NOT_A_ZIP,
            "nested_archive",
            "an archive inside the package; nested archives are not opened: put the files at \
             the root of one ZIP"
                .into(),
        );
    }
    if name.ends_with(['/', '\\']) {
        return refuse(
            BAD_NAME,
            "folder",
            "a folder; the files of a package lie at the root of the archive".into(),
        );
    }
    if name.contains(['/', '\\']) {
        return refuse(
            BAD_NAME,
            "folder",
            "inside a folder; the files of a package lie at the root of the archive".into(),
        );
    }
    false
}

/// Decides what an entry is, pushing the findings of names and kinds; `Some` for the two XML
/// files of the pair, which are then read, and for their signatures, which are listed.
fn classify(entry: &EntryInfo, expected: &Expected, findings: &mut Vec<Finding>) -> Option<Role> {
    if refuse_entry(entry, findings) {
        return None;
    }
    let name = entry.name.as_str();
    let mut refuse = |code: u16, reason: &'static str, message: String| {
        findings.push(package_finding(
            code,
            reason,
            name,
            format!("{name}: {message}"),
        ));
        None
    };
    if let Some((signed, _)) = signature_suffix(name) {
        let signed = strip_suffix_ci(signed, ".xml").unwrap_or(signed);
        if Some(signed) == expected.data || Some(signed) == expected.personal {
            return Some(Role::Signature);
        }
        return refuse(
            BAD_NAME,
            "unexpected_signature",
            "a signature of a file that is not in this package".into(),
        );
    }
    let Some(stem) = strip_suffix_ci(name, ".xml") else {
        return refuse(
            BAD_NAME,
            "unexpected_file",
            "not a file a package holds: only its data file, its personal-data file (.xml) and \
             their signatures"
                .into(),
        );
    };
    if Some(stem) == expected.data {
        return Some(Role::Data);
    }
    if Some(stem) == expected.personal {
        return Some(Role::Personal);
    }
    match (ExchangeName::parse(stem), expected.data, expected.personal) {
        (Ok(_), Some(data), Some(personal)) => refuse(
            BAD_NAME,
            "foreign_file",
            format!("belongs to another package; this one holds {data}.xml and {personal}.xml"),
        ),
        (Ok(_), _, _) => refuse(
            BAD_NAME,
            "foreign_file",
            "belongs to another package than the package name says".into(),
        ),
        (Err(e), _, _) => refuse(
            BAD_NAME,
            "bad_file_name",
            format!("the name is not by the rules of formats.md 1.1: {e}"),
        ),
    }
}

/// The declared sizes of an XML entry against the limits (801), before anything is read.
fn check_sizes(
    entry: &EntryInfo,
    limits: &PackageLimits,
    total: &mut u64,
    findings: &mut Vec<Finding>,
) {
    let name = entry.name.as_str();
    let mut refuse = |reason: &'static str, message: String| {
        findings.push(package_finding(
            NOT_A_ZIP,
            reason,
            name,
            format!("{name}: {message}"),
        ));
    };
    if !matches!(
        entry.method,
        CompressionMethod::Stored | CompressionMethod::Deflated
    ) {
        refuse(
            "compression_method",
            format!(
                "compression method {} is not accepted; use Deflate (or none)",
                entry.method
            ),
        );
        return;
    }
    if entry.size > limits.ratio_applies_above
        && entry.size > entry.compressed.saturating_mul(limits.max_ratio)
    {
        refuse(
            "zip_bomb",
            format!(
                "{} bytes compressed to {}: more than {} times (a zip bomb?)",
                entry.size, entry.compressed, limits.max_ratio
            ),
        );
        return;
    }
    let before = *total;
    *total = total.saturating_add(entry.size);
    // Said once, at the file that crosses the limit.
    if *total > limits.max_uncompressed_bytes && before <= limits.max_uncompressed_bytes {
        refuse(
            "zip_bomb",
            format!(
                "the files of the package declare {} bytes uncompressed, more than the {} a package \
             may have",
                *total, limits.max_uncompressed_bytes
            ),
        );
    }
}

/// Streams one XML entry through the validator; a problem of the archive under it (a forged
/// size, a bad checksum) is an 801 finding of the package.
fn read_entry<'f, R: Read + Seek>(
    validator: &Validator,
    archive: &mut zip::ZipArchive<R>,
    entry: &EntryInfo,
    limits: &PackageLimits,
    report: &mut PackageReport,
    on_item: Option<&mut (dyn FnMut(Item) + Send + 'f)>,
) -> io::Result<()> {
    let name = entry.name.as_str();
    let inner = match archive.by_index(entry.index) {
        Ok(inner) => inner,
        Err(e) => {
            report.findings.push(package_finding(
                NOT_A_ZIP,
                "damaged_entry",
                name,
                format!("{name}: the entry cannot be opened: {e}"),
            ));
            return Ok(());
        }
    };
    let mut bounded = Bounded {
        inner,
        read: 0,
        declared: entry.size,
        problem: None,
    };
    let checked = match on_item {
        Some(on_item) => records::read(validator, name, &mut bounded, limits.file, |item| {
            on_item(item);
        })
        .map(|(report, _)| report),
        None => validator.check_file(name, &mut bounded, limits.file),
    };
    if let Ok(file) = &checked {
        // An accepted file is read to its end, so that the checksum is checked too.
        if file.accepted && bounded.problem.is_none() {
            let _ = io::copy(&mut bounded, &mut io::sink());
        }
    }
    match (checked, bounded.problem) {
        (Ok(file), problem) => {
            report.files.push(file);
            if let Some(problem) = problem {
                report.findings.push(package_finding(
                    NOT_A_ZIP,
                    "damaged_entry",
                    name,
                    format!("{name}: {problem}"),
                ));
            }
        }
        (Err(_), Some(problem)) => {
            report.findings.push(package_finding(
                NOT_A_ZIP,
                "damaged_entry",
                name,
                format!("{name}: {problem}"),
            ));
        }
        (Err(e), None) => return Err(e),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Result<ExchangeName, NameError> {
        ExchangeName::parse(name)
    }

    #[test]
    fn names_by_the_rules_parse() {
        let n = parse("HM750096T75_26011").unwrap();
        assert_eq!(n.kind(), "H");
        assert_eq!(n.sender(), &Party::Clinic(MoCode::parse("750096").unwrap()));
        assert_eq!(n.receiver(), &Party::Fund(TfomsCode::parse("75").unwrap()));
        assert_eq!((n.year(), n.month(), n.number()), (26, 1, "1"));
        assert_eq!(n.personal_name().as_deref(), Some("LM750096T75_26011"));
        assert!(!n.is_personal());

        let n = parse("HM750096T75_2601001").unwrap();
        assert_eq!(n.number(), "001");
        // 26 characters fit ZGLV/FILENAME T(26); 27 do not (below).
        assert_eq!(
            parse("HM750096T75_26010012345678").unwrap().number(),
            "0012345678"
        );
        assert_eq!(n.personal_name().as_deref(), Some("LM750096T75_2601001"));

        let n = parse("DOM750052T75_21041").unwrap();
        assert_eq!(n.kind(), "DO");
        assert_eq!(n.personal_name().as_deref(), Some("LOM750052T75_21041"));
        assert_eq!(
            parse("TM750096T75_21041")
                .unwrap()
                .personal_name()
                .as_deref(),
            Some("LTM750096T75_21041")
        );
        assert_eq!(
            parse("CM750096S34007_260112")
                .unwrap()
                .personal_name()
                .as_deref(),
            Some("LCM750096S34007_260112")
        );
        assert_eq!(parse("LTM750096T75_21041").unwrap().kind(), "LT");
        assert!(parse("LTM750096T75_21041").unwrap().is_personal());
        assert_eq!(parse("LTM750096T75_21041").unwrap().personal_name(), None);
    }

    #[test]
    fn an_ambiguous_l_kind_takes_the_reading_that_fits() {
        // [PY-amur]: L from insurer 28004 to fund 28, not LS (the DS personal file).
        let n = parse("LS28004T28_26013").unwrap();
        assert_eq!(n.kind(), "L");
        assert_eq!(
            n.sender(),
            &Party::Insurer(InsurerCode::parse("28004").unwrap())
        );
        // LS followed by a sender is the DS personal file.
        assert_eq!(parse("LSM750096T75_26011").unwrap().kind(), "LS");
        // L from a fund: LT would read T75 as a kind T and fail, L reads it as the sender.
        let n = parse("LT75S28004_26011").unwrap();
        assert_eq!(n.kind(), "L");
        assert_eq!(n.sender(), &Party::Fund(TfomsCode::parse("75").unwrap()));
        assert_eq!(
            parse("HS28004T28_26013")
                .unwrap()
                .personal_name()
                .as_deref(),
            Some("LS28004T28_26013")
        );
    }

    #[test]
    fn names_not_by_the_rules_say_which_part_is_wrong() {
        let cases: [(&str, NameError); 9] = [
            ("XM750096T75_26011", NameError::Kind),
            ("DXM750096T75_26011", NameError::Kind),
            ("hm750096T75_26011", NameError::Kind),
            ("HX750096T75_26011", NameError::PartyKind { role: "sender" }),
            (
                "HM750096X75_26011",
                NameError::PartyKind { role: "receiver" },
            ),
            ("HM750096T75-26011", NameError::Separator),
            ("HM750096T75_26131", NameError::Period),
            ("HM750096T75_2601", NameError::Number),
            ("HM750096T75_260100123456789", NameError::TooLong),
        ];
        for (name, expected) in cases {
            assert_eq!(parse(name).unwrap_err(), expected, "{name}");
        }
        for (name, role) in [
            ("HM75009T75_26011", "sender"),
            ("HM750096T7_26011", "receiver"),
            ("HM750096T00_26011", "receiver"),
            ("HS00004T75_26011", "sender"),
        ] {
            assert!(
                matches!(parse(name), Err(NameError::PartyCode { role: r, .. }) if r == role),
                "{name}: {:?}",
                parse(name)
            );
        }
        assert!(matches!(parse("HM750096T75_2601x"), Err(NameError::Number)));
        assert!(matches!(parse("HM750096T75_26"), Err(NameError::Period)));
        assert!(matches!(parse("HM750096T75"), Err(NameError::Separator)));
        assert!(matches!(
            parse("HM750096"),
            Err(NameError::PartyKind { role: "receiver" })
        ));
        let message = parse("HM75009T75_26011").unwrap_err().to_string();
        assert_eq!(
            message,
            "the sender code is wrong: MO code: length is 5, expected 6 digits"
        );
    }

    #[test]
    fn paths_that_leave_the_archive() {
        for bad in [
            "../HM1.xml",
            "a/../../HM1.xml",
            "/etc/HM1.xml",
            "\\HM1.xml",
            "C:HM1.xml",
            "a\\..\\HM1.xml",
        ] {
            assert!(leaves_archive(bad), "{bad}");
        }
        for good in ["HM1.xml", "a/HM1.xml", "..HM1.xml"] {
            assert!(!leaves_archive(good), "{good}");
        }
    }

    #[test]
    fn a_central_directory_name_past_the_end_is_an_801_not_an_error() {
        // Found by the package fuzz target: a central directory entry whose name length runs
        // past the end of the file made check_package return Err(UnexpectedEof) instead of a
        // report. This archive: one central header (name length 100) and the end record.
        let mut zip = vec![0; 46];
        zip[..4].copy_from_slice(b"PK\x01\x02");
        zip[28] = 100;
        let mut end = vec![0; 22];
        end[..4].copy_from_slice(b"PK\x05\x06");
        end[8] = 1; // entries on this disk
        end[10] = 1; // entries
        end[12] = 46; // size of the central directory, at offset 0
        zip.extend_from_slice(&end);
        let validator = Validator::new(crate::xml::schemas::ALL).unwrap();
        let report = check_package(
            &validator,
            "HM750096T75_26011.zip",
            io::Cursor::new(zip),
            &PackageLimits::default(),
        )
        .unwrap();
        assert_eq!(report.findings[0].code, NOT_A_ZIP, "{:?}", report.findings);
        assert!(!report.accepted);
    }

    #[test]
    fn suffixes_ignore_case() {
        assert_eq!(strip_suffix_ci("HM1.XML", ".xml"), Some("HM1"));
        assert_eq!(strip_suffix_ci("HM1.zip", ".xml"), None);
        assert_eq!(strip_suffix_ci("ml", ".xml"), None);
        assert_eq!(strip_suffix_ci("абв", ".xml"), None);
    }

    #[test]
    fn the_bounded_reader_stops_past_the_declared_size() {
        let data = [b'a'; 100];
        let mut r = Bounded {
            inner: &data[..],
            read: 0,
            declared: 10,
            problem: None,
        };
        let mut sink = Vec::new();
        assert!(r.read_to_end(&mut sink).is_err());
        assert!(sink.len() <= 10);
        assert!(r.problem.unwrap().contains("10 bytes its header declares"));
        let mut r = Bounded {
            inner: &data[..],
            read: 0,
            declared: 100,
            problem: None,
        };
        assert_eq!(r.read_to_end(&mut Vec::new()).unwrap(), 100);
        assert!(r.problem.is_none());
    }

    /// A ZIP of `entries` as they are (names not checked), deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write as _;
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// A case of a package of one file: what it is, its entries, the (code, reason) expected.
    type OneFileCase<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, &'a [(u16, &'a str)]);

    #[test]
    fn a_package_of_one_file_holds_that_file_and_its_signatures_only() {
        use sha2::{Digest, Sha256};
        const FILE: &str = "i34901_34_01241.xml";
        let xml: &[u8] = b"<?xml version=\"1.0\"?><OPLIST/>";
        let sig: &[u8] = b"not checked here";
        let zeros = vec![0; 4 << 20];
        let cases: [OneFileCase<'_>; 11] = [
            ("the file", vec![(FILE, xml)], &[]),
            (
                "the file and its signatures",
                vec![
                    (FILE, xml),
                    ("i34901_34_01241.xml.sig", sig),
                    ("i34901_34_01241.BUH.SIG", sig),
                ],
                &[],
            ),
            (
                "the extension in capitals",
                vec![("i34901_34_01241.XML", xml)],
                &[],
            ),
            (
                "another name inside",
                vec![("i34901_34_01242.xml", xml)],
                &[(802, "foreign_file"), (803, "missing_file")],
            ),
            (
                "another file beside",
                vec![(FILE, xml), ("readme.txt", sig)],
                &[(802, "unexpected_file")],
            ),
            (
                "a signature of another file",
                vec![(FILE, xml), ("i34901_34_01242.xml.sig", sig)],
                &[(802, "unexpected_signature")],
            ),
            (
                "an archive inside",
                vec![(FILE, xml), ("i34901_34_01241.zip", sig)],
                &[(801, "nested_archive")],
            ),
            (
                "a path leaving the archive",
                vec![(FILE, xml), ("../../etc/evil", sig)],
                &[(801, "path_traversal")],
            ),
            (
                "in a folder",
                vec![("in/i34901_34_01241.xml", xml)],
                &[(802, "folder"), (803, "missing_file")],
            ),
            (
                "a zip bomb",
                vec![(FILE, zeros.as_slice())],
                &[(801, "zip_bomb")],
            ),
            ("nothing", vec![], &[(803, "missing_file")]),
        ];
        for (case, entries, expected) in cases {
            let (report, read) = check_single_file(
                "i34901_34_01241.zip",
                FILE,
                io::Cursor::new(zip_of(&entries)),
                &PackageLimits::default(),
                None,
                |reader, sha256| {
                    let mut content = Vec::new();
                    reader.read_to_end(&mut content).unwrap();
                    (content, sha256.to_owned())
                },
            )
            .unwrap();
            let found: Vec<(u16, &str)> = report
                .findings
                .iter()
                .map(|f| (f.code, f.reason.unwrap_or_default()))
                .collect();
            assert_eq!(found, expected, "{case}");
            assert_eq!(report.accepted, expected.is_empty(), "{case}");
            match read {
                Some((content, sha256)) => {
                    assert!(expected.is_empty(), "{case}: read although refused");
                    assert_eq!(content, xml, "{case}");
                    assert_eq!(sha256, format!("{:x}", Sha256::digest(xml)), "{case}");
                }
                None => assert!(!expected.is_empty(), "{case}: not read"),
            }
        }
    }

    #[test]
    fn a_package_of_one_file_that_is_not_a_zip_is_an_801() {
        const FILE: &str = "i34901_34_01241.xml";
        let (report, read) = check_single_file(
            "i34901_34_01241.zip",
            FILE,
            io::Cursor::new(b"not a zip at all".to_vec()),
            &PackageLimits::default(),
            None,
            |_, _| (),
        )
        .unwrap();
        assert_eq!(report.findings[0].reason, Some("not_zip"));
        assert!(read.is_none());
    }

    #[test]
    fn a_package_of_one_file_is_not_read_when_its_verifier_refuses_it() {
        const FILE: &str = "i34901_34_01241.xml";
        let bytes = zip_of(&[(FILE, b"<OPLIST/>"), ("i34901_34_01241.xml.sig", b"sig")]);
        for refuse in [false, true] {
            let mut seen = None;
            let mut verify = |view: &mut PackageView<'_>| {
                let mut signature = Vec::new();
                view.open("i34901_34_01241.xml.sig", 100)
                    .unwrap()
                    .read_to_end(&mut signature)
                    .unwrap();
                seen = Some((view.files.clone(), view.signatures.clone(), signature));
                if refuse {
                    vec![package_finding(
                        807,
                        "signature_invalid",
                        FILE,
                        "bad".into(),
                    )]
                } else {
                    Vec::new()
                }
            };
            let (report, read) = check_single_file(
                "i34901_34_01241.zip",
                FILE,
                io::Cursor::new(bytes.clone()),
                &PackageLimits::default(),
                Some(&mut verify),
                |_, _| "read",
            )
            .unwrap();
            let (files, signatures, signature) = seen.unwrap();
            assert_eq!(files, [FILE]);
            assert_eq!(
                signatures,
                [SignatureEntry {
                    name: "i34901_34_01241.xml.sig".into(),
                    kind: "sig",
                    signs: Some(FILE.into()),
                }]
            );
            assert_eq!(signature, b"sig");
            assert_eq!(read.is_none(), refuse);
            assert_eq!(report.findings.len(), usize::from(refuse));
        }
    }
}
