//! Fast classifier look-ups for validation: the [`ClassifierLookup`] trait the rules depend
//! on, and [`NsiSnapshot`], an immutable in-memory copy of every current entry's validity.
//!
//! The snapshot is built from the store and swapped whole when the store changes (see
//! `crate::lookups::Lookups`); readers never lock. Rules take `&dyn ClassifierLookup`, so they are tested
//! with fakes and never touch the database. Answers "code X of classifier Y, valid on D?" in a
//! few tens of nanoseconds (`bench/nsi_lookup.rs` measures it).

use chrono::{Datelike, NaiveDate};
use hashbrown::HashMap;

/// The answer to "is code X of classifier Y valid on date D?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    /// Valid on that date.
    Valid,
    /// The code exists, but no validity period covers the date.
    NotValidOnDate,
    /// The classifier has no such code.
    UnknownCode,
    /// The classifier is not loaded: a rule should skip the check ("as far as loaded").
    ClassifierNotLoaded,
}

/// Classifier look-ups as validation rules need them.
pub trait ClassifierLookup: Send + Sync {
    /// The status of `code` in `classifier` on `on`.
    fn code_status(&self, classifier: &str, code: &str, on: NaiveDate) -> CodeStatus;

    /// Whether `code` of `classifier` is valid on `on`.
    fn is_valid(&self, classifier: &str, code: &str, on: NaiveDate) -> bool {
        self.code_status(classifier, code, on) == CodeStatus::Valid
    }

    /// Whether `classifier` is loaded at all.
    fn is_loaded(&self, classifier: &str) -> bool;
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// A validity period as days from the common era, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: i32,
    to: i32,
}

impl Span {
    fn covers(self, day: i32) -> bool {
        self.from <= day && day <= self.to
    }
}

/// The periods of one code: most codes have one, kept inline.
#[derive(Debug, Clone)]
struct Periods {
    first: Span,
    more: Vec<Span>,
}

impl Periods {
    fn covers(&self, day: i32) -> bool {
        self.first.covers(day) || self.more.iter().any(|s| s.covers(day))
    }
}

/// The codes of one classifier.
#[derive(Debug, Clone, Default)]
pub struct CodeTable {
    codes: FastMap<Box<str>, Periods>,
}

impl CodeTable {
    /// The status of `code` on `on` in this classifier.
    #[must_use]
    pub fn status(&self, code: &str, on: NaiveDate) -> CodeStatus {
        match self.codes.get(code) {
            Some(periods) if periods.covers(on.num_days_from_ce()) => CodeStatus::Valid,
            Some(_) => CodeStatus::NotValidOnDate,
            None => CodeStatus::UnknownCode,
        }
    }

    /// Number of distinct codes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the classifier has no code.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    fn add(&mut self, code: &str, span: Span) {
        match self.codes.get_mut(code) {
            Some(periods) => periods.more.push(span),
            None => {
                self.codes.insert(
                    code.into(),
                    Periods {
                        first: span,
                        more: Vec::new(),
                    },
                );
            }
        }
    }
}

/// Classifier ids are four ASCII characters (`V006`): packed into a `u32` key.
fn id_key(id: &str) -> Option<u32> {
    let bytes: [u8; 4] = id.as_bytes().try_into().ok()?;
    Some(u32::from_le_bytes(bytes.map(|b| b.to_ascii_uppercase())))
}

/// An immutable copy of every current classifier entry's validity.
#[derive(Debug, Clone)]
pub struct NsiSnapshot {
    classifiers: FastMap<u32, CodeTable>,
    /// Classifiers whose id is not four characters (rare; operators' own), by name.
    other: FastMap<Box<str>, CodeTable>,
    revision: i64,
    entries: usize,
}

impl Default for NsiSnapshot {
    /// An empty snapshot at revision -1, so the first refresh always builds.
    fn default() -> Self {
        Self {
            classifiers: FastMap::default(),
            other: FastMap::default(),
            revision: -1,
            entries: 0,
        }
    }
}

impl NsiSnapshot {
    /// Builds a snapshot from (classifier, code, valid from, valid to) rows, as
    /// `nsi::store::all_validity` returns them, at store revision `revision`.
    pub fn build<I>(rows: I, revision: i64) -> Self
    where
        I: IntoIterator<Item = (String, String, NaiveDate, Option<NaiveDate>)>,
    {
        let mut snapshot = Self {
            revision,
            ..Self::default()
        };
        for (classifier, code, from, to) in rows {
            snapshot.add(&classifier, &code, from, to);
        }
        snapshot
    }

    /// Adds one period of one code (also for tests and fakes).
    pub fn add(&mut self, classifier: &str, code: &str, from: NaiveDate, to: Option<NaiveDate>) {
        let span = Span {
            from: from.num_days_from_ce(),
            to: to.map_or(i32::MAX, |d| d.num_days_from_ce()),
        };
        let table = match id_key(classifier) {
            Some(key) => self.classifiers.entry(key).or_default(),
            None => self.other.entry(classifier.into()).or_default(),
        };
        table.add(code, span);
        self.entries += 1;
    }

    /// The codes of one classifier, to resolve it once and look up many codes.
    #[must_use]
    pub fn classifier(&self, id: &str) -> Option<&CodeTable> {
        match id_key(id) {
            Some(key) => self.classifiers.get(&key),
            None => self.other.get(id),
        }
    }

    /// The store revision this snapshot was built at.
    #[must_use]
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Number of validity periods held.
    #[must_use]
    pub fn entries(&self) -> usize {
        self.entries
    }
}

impl ClassifierLookup for NsiSnapshot {
    fn code_status(&self, classifier: &str, code: &str, on: NaiveDate) -> CodeStatus {
        self.classifier(classifier)
            .map_or(CodeStatus::ClassifierNotLoaded, |t| t.status(code, on))
    }

    fn is_loaded(&self, classifier: &str) -> bool {
        self.classifier(classifier).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn sample() -> NsiSnapshot {
        NsiSnapshot::build(
            vec![
                ("V006".into(), "1".into(), d(2011, 1, 1), None),
                ("V006".into(), "4".into(), d(2013, 1, 1), None),
                (
                    "F006".into(),
                    "2".into(),
                    d(2011, 1, 1),
                    Some(d(2018, 3, 31)),
                ),
                // A code closed and later reopened: two periods.
                (
                    "V010".into(),
                    "25".into(),
                    d(2011, 1, 1),
                    Some(d(2012, 12, 31)),
                ),
                ("V010".into(), "25".into(), d(2015, 1, 1), None),
                ("LOCAL1".into(), "x".into(), d(2020, 1, 1), None),
            ],
            7,
        )
    }

    #[test]
    fn statuses() {
        let s = sample();
        assert_eq!(s.code_status("V006", "1", d(2024, 1, 1)), CodeStatus::Valid);
        assert_eq!(s.code_status("v006", "1", d(2024, 1, 1)), CodeStatus::Valid);
        assert_eq!(
            s.code_status("V006", "4", d(2012, 12, 31)),
            CodeStatus::NotValidOnDate
        );
        assert_eq!(s.code_status("V006", "4", d(2013, 1, 1)), CodeStatus::Valid);
        assert_eq!(
            s.code_status("F006", "2", d(2018, 3, 31)),
            CodeStatus::Valid
        );
        assert_eq!(
            s.code_status("F006", "2", d(2018, 4, 1)),
            CodeStatus::NotValidOnDate
        );
        assert_eq!(
            s.code_status("V006", "9", d(2024, 1, 1)),
            CodeStatus::UnknownCode
        );
        assert_eq!(
            s.code_status("V002", "1", d(2024, 1, 1)),
            CodeStatus::ClassifierNotLoaded
        );
        assert_eq!(
            s.code_status("LOCAL1", "x", d(2024, 1, 1)),
            CodeStatus::Valid
        );
        assert!(s.is_loaded("V010"));
        assert!(!s.is_loaded("V002"));
        assert_eq!((s.revision(), s.entries()), (7, 6));
    }

    #[test]
    fn gaps_between_periods() {
        let s = sample();
        assert!(s.is_valid("V010", "25", d(2012, 6, 1)));
        assert!(!s.is_valid("V010", "25", d(2014, 6, 1)));
        assert!(s.is_valid("V010", "25", d(2015, 1, 1)));
    }
}
