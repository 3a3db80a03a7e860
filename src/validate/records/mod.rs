//! Typed records ("parse, don't validate"): each child of a file's root (the header, the
//! account, each ZAP, PERS, OP, REP, REC, STOP, CONFLICT) is built into a typed value as the
//! schema check streams past it, and handed to a consumer when it ends without a finding.
//! The business rules (ФЛК/МЭК: sums, classifier codes on the case date, date order, check
//! digits, H ↔ L pairing, duplicates) read these values instead of XML.
//!
//! - `account`: the account files `ZL_LIST` (H 3.1/3.2, T, C, D 3.1): [`AccountBuilder`],
//!   [`AccountItem`] (ZGLV, SCHET, ZAP with PACIENT, `Z_SL`, SL, USL, SANK and the blocks below).
//! - `persons`: the personal-data files `PERS_LIST` (L 3.1/3.2): [`PersonsBuilder`],
//!   [`PersonsItem`] (ZGLV, PERS).
//! - `erz`: the ERZ lists (OPLIST, REPLIST, RECLIST, STOPLIST, CONFLICTLIST): [`ErzBuilder`],
//!   [`ErzItem`] (the list's header fields, OP, REP, REC, STOP, CONFLICT).
//! - this module: [`read`], which checks one file and picks the builder by its schema;
//!   [`Item`]; [`Summary`]; [`Personal`], the wrapper that keeps personal data out of `Debug`.
//!
//! The three builders are one generic [`Builder`] (a [`Sink`]) over a family (`Accounts`,
//! `Persons`, `ErzLists`): it records the elements of the current item in a small flat tree
//! (reused from item to item) and, when the check reports the item clean, has the family
//! convert it and calls the consumer. Only the item under construction is held, so memory does not grow with
//! the file. The check runs on a second thread when `Limits::pipelined` is on, so builders and
//! consumers are `Send`; the consumer may borrow from the caller (the thread is scoped).
//! Called by intake and the business rules; docs/VALIDATION.md, "Typed records", says what is
//! typed and what is kept raw.

mod account;
mod erz;
mod persons;
mod tree;

use std::fmt;
use std::io::Read;
use std::ops::Deref;

pub use account::{
    Account, AccountBuilder, AccountHeader, AccountItem, AccountRef, Accounts, Case, Consilium,
    Contraindication, Dose, Drug, Episode, KsgCoefficient, KsgKpg, MedicalDevice, Oncology,
    OncologyDiagnostic, OncologyDrug, OncologyService, Patient, Performer, Prescription, Referral,
    RefusedZap, Sanction, ScreeningDiagnosis, Service, Zap,
};
pub use erz::{
    Address, Attachment, Biometrics, Conflict, Correction, Deregistration, Document, ErzBuilder,
    ErzHeader, ErzItem, ErzList, ErzLists, ErzRecord, FederalStatus, Insurance, Operation, Person,
    Policy, PolicyOrder, PreviousPerson, Reply, Representative, Visit,
};
pub use persons::{Pers, Persons, PersonsBuilder, PersonsHeader, PersonsItem};
pub use tree::Builder;

use super::schema::{Limits, Sink};
use super::{FileReport, Validator};

/// Personal data (персональные данные) as the file has it: names, birth dates, policy
/// numbers, documents, SNILS, addresses, phones, doctors' codes. `Debug` prints
/// `Personal(***)`, so a record can be logged without them; the value is read through `Deref`
/// or [`Personal::get`].
///
/// The value is the file's text, not a domain type: a business rule parses it
/// (`Enp::parse(&zap.pacient.enp…)`) and reports what it refuses.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    /// Wraps a personal value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Personal<String> {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<T> Deref for Personal<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Personal(***)")
    }
}

/// What a builder did with one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records (ZAP, PERS, OP, …) built and handed to the consumer.
    pub records: u64,
    /// Records not built because the check found something in them (or the file ended inside
    /// them). With `records` this is the report's `records`.
    pub refused: u64,
    /// Other children of the root (ZGLV, SCHET, an ERZ list's header fields) not handed on
    /// because of a finding in them.
    pub headers_refused: u64,
    /// Values kept in an `other` list because no typed field took them: 0 for every file the
    /// current schemas accept (a test holds this for every sample); more means a schema grew
    /// an element the records do not type yet.
    pub unplaced: u64,
}

/// One item of any family, as [`read`] hands it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// From an account file (H, T, C, D).
    Account(AccountItem),
    /// From a personal-data file (L).
    Persons(PersonsItem),
    /// From an ERZ list.
    Erz(ErzItem),
}

/// The builder [`read`] picked for a schema.
enum AnyBuilder<'a> {
    Account(AccountBuilder<'a>),
    Persons(PersonsBuilder<'a>),
    Erz(ErzBuilder<'a>),
    /// FLK protocols and classifier packets: checked, no records.
    None,
}

impl AnyBuilder<'_> {
    fn sink(&mut self) -> Option<&mut dyn Sink> {
        match self {
            Self::Account(b) => Some(b),
            Self::Persons(b) => Some(b),
            Self::Erz(b) => Some(b),
            Self::None => None,
        }
    }

    fn finish(self) -> Summary {
        match self {
            Self::Account(b) => b.finish(),
            Self::Persons(b) => b.finish(),
            Self::Erz(b) => b.finish(),
            Self::None => Summary::default(),
        }
    }
}

impl Sink for AnyBuilder<'_> {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        if let Some(s) = self.sink() {
            s.open(name, depth, line);
        }
    }
    fn value(&mut self, name: &'static str, value: &str) {
        if let Some(s) = self.sink() {
            s.value(name, value);
        }
    }
    fn close(&mut self, name: &'static str, depth: usize) {
        if let Some(s) = self.sink() {
            s.close(name, depth);
        }
    }
    fn item(&mut self, name: &'static str, findings: u64) {
        if let Some(s) = self.sink() {
            s.item(name, findings);
        }
    }
}

/// Checks one file (as [`Validator::check_file`]) and hands each clean item to `on_item` as
/// it passes, typed by the file's family: accounts for `zl_list/*`, persons for `pers_list/*`,
/// the ERZ records for `erz/*`. FLK protocols and classifier packets are checked and yield no
/// items. Items come in file order, the header and the account before the records; a record
/// with a finding is counted in [`Summary::refused`] and not built.
///
/// `on_item` runs on the checking thread (the second one when `limits.pipelined`); to consume
/// on a thread of one's own, send from it into a bounded channel
/// (`move |item| { let _ = tx.send(item); }`). Only reading `source` can fail.
pub fn read<R: Read>(
    validator: &Validator,
    file_name: &str,
    source: R,
    limits: Limits,
    on_item: impl FnMut(Item) + Send,
) -> std::io::Result<(FileReport, Summary)> {
    let mut on_item = on_item;
    let (report, builder) = validator.check_file_with(file_name, source, limits, |schema| {
        if schema.starts_with("zl_list/") {
            AnyBuilder::Account(AccountBuilder::new(move |i| on_item(Item::Account(i))))
        } else if schema.starts_with("pers_list/") {
            AnyBuilder::Persons(PersonsBuilder::new(move |i| on_item(Item::Persons(i))))
        } else if let Some(list) = ErzList::of_schema(schema) {
            AnyBuilder::Erz(ErzBuilder::new(list, move |i| on_item(Item::Erz(i))))
        } else {
            AnyBuilder::None
        }
    })?;
    Ok((report, builder.map(AnyBuilder::finish).unwrap_or_default()))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the builders' tests: the fixtures through the real validator.

    use std::path::Path;

    use super::{Item, Summary, read};
    use crate::validate::schema::Limits;
    use crate::validate::{FileReport, Validator};

    pub(crate) fn validator() -> Validator {
        Validator::new(crate::xml::schemas::ALL).unwrap()
    }

    /// Reads `bytes` as `name`, on one thread and on two, and checks both give the same.
    pub(crate) fn read_bytes(name: &str, bytes: &[u8]) -> (FileReport, Summary, Vec<Item>) {
        let validator = validator();
        let mut results = Vec::new();
        for pipelined in [false, true] {
            let mut items = Vec::new();
            let limits = Limits {
                pipelined,
                ..Limits::default()
            };
            let (report, summary) =
                read(&validator, name, bytes, limits, |item| items.push(item)).unwrap();
            results.push((report, summary, items));
        }
        let two = results.pop().unwrap();
        let one = results.pop().unwrap();
        assert_eq!(
            one.1, two.1,
            "{name}: the same summary on one thread and two"
        );
        assert_eq!(one.2, two.2, "{name}: the same items on one thread and two");
        two
    }

    /// Reads a file of `fixtures/xml`.
    pub(crate) fn read_fixture(path: &str) -> (FileReport, Summary, Vec<Item>) {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/xml")
            .join(path);
        let bytes = std::fs::read(&full).unwrap();
        let name = full.file_name().unwrap().to_string_lossy().into_owned();
        read_bytes(&name, &bytes)
    }

    /// A fixture as text (windows-1251 or UTF-8), to edit for a test.
    pub(crate) fn fixture_text(path: &str) -> String {
        let bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/xml")
                .join(path),
        )
        .unwrap();
        let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
        assert!(!bad);
        text.into_owned()
    }

    /// `text` encoded back to windows-1251.
    pub(crate) fn cp1251(text: &str) -> Vec<u8> {
        let (bytes, _, bad) = encoding_rs::WINDOWS_1251.encode(text);
        assert!(!bad);
        bytes.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{read_bytes, read_fixture};
    use super::*;

    #[test]
    fn personal_values_stay_out_of_debug() {
        let p = Personal::new("Снегирёв".to_owned());
        assert_eq!(format!("{p:?}"), "Personal(***)");
        assert_eq!(p.as_str(), "Снегирёв");
        assert_eq!(p.len(), "Снегирёв".len(), "Deref to the value");
    }

    /// Every sample the schemas accept converts without a value left over, and the summary
    /// agrees with the report.
    #[test]
    fn every_valid_sample_converts_completely() {
        let samples = [
            "zl_list/3.2/HM750096T75_2601001.xml",
            "zl_list/3.2/HM750096T75_2601002.xml",
            "zl_list/3.1/HM750096T75_2104001.xml",
            "zl_list/3.1/TM750096T75_2104001.xml",
            "zl_list/3.1/CM750096T75_2104001.xml",
            "zl_list/3.1/DPM750096T75_2109001.xml",
            "pers_list/3.2/LM750096T75_2601001.xml",
            "pers_list/3.2/LM750096T75_2601002.xml",
            "pers_list/3.1/LM750096T75_2104001.xml",
            "pers_list/3.1/LTM750096T75_2104001.xml",
            "pers_list/3.1/LCM750096T75_2104001.xml",
            "pers_list/3.1/LPM750096T75_2109001.xml",
            "erz/1.0/i75001_75_01261.xml",
            "erz/1.0/p75001_75_01261.xml",
            "erz/1.0/r75001_75_01261.xml",
            "erz/1.0/s75001_75_01261.xml",
            "erz/1.0/c75001_75_01261.xml",
        ];
        for path in samples {
            let (report, summary, items) = read_fixture(path);
            assert!(report.accepted, "{path}: {:#?}", report.findings);
            assert_eq!(summary.unplaced, 0, "{path}: {items:#?}");
            assert_eq!(summary.records, report.records, "{path}");
            assert_eq!((summary.refused, summary.headers_refused), (0, 0), "{path}");
            let records = items
                .iter()
                .filter(|i| {
                    matches!(
                        i,
                        Item::Account(AccountItem::Record(_))
                            | Item::Persons(PersonsItem::Record(_))
                            | Item::Erz(ErzItem::Record(_))
                    )
                })
                .count();
            assert_eq!(u64::try_from(records).unwrap(), summary.records, "{path}");
            assert_eq!(
                items.len() - records,
                if path.starts_with("zl_list") { 2 } else { 1 },
                "{path}: the header (and the account) come as items of their own"
            );
        }
    }

    #[test]
    fn protocols_are_checked_without_records() {
        let (report, summary, items) = read_fixture("flk_p/1.0/VLM750096T75_2601001.xml");
        assert!(report.accepted, "{:#?}", report.findings);
        assert_eq!(summary, Summary::default());
        assert!(items.is_empty());
    }

    #[test]
    fn a_file_refused_before_its_schema_yields_nothing() {
        let (report, summary, items) = read_bytes(
            "HM750096T75_2601001.xml",
            b"<?xml version=\"1.0\"?><ZL_LIST><ZGLV><VERSION>9.9</VERSION></ZGLV></ZL_LIST>",
        );
        assert_eq!(report.findings[0].code, 904);
        assert_eq!(summary, Summary::default());
        assert!(items.is_empty());
    }

    #[test]
    fn a_file_cut_short_counts_the_open_record_as_refused() {
        let text = super::testing::fixture_text("pers_list/3.2/LM750096T75_2601001.xml");
        let cut = &text[..text.find("<SNILS>567").unwrap()];
        let (report, summary, items) =
            read_bytes("LM750096T75_2601001.xml", &super::testing::cp1251(cut));
        assert!(!report.accepted);
        assert_eq!((summary.records, summary.refused), (2, 1));
        assert_eq!(items.len(), 3, "the header and two PERS");
    }
}
