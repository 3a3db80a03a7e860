//! Synthetic account packages for tests and benchmarks (`omshub gen accounts`; insured persons
//! for the register's bulk load are `omshub gen persons`, in `persons`): an H 3.2
//! account file (`ZL_LIST`), its L 3.2 personal-data file (`PERS_LIST`) and the ZIP package holding
//! both, in windows-1251, with realistic variety and optional defects of the F012 codes 901–905.
//!
//! Everything is a function of the seed: the same options give byte-identical files. Files are
//! written record by record (one ZAP, one PERS at a time), so memory does not grow with the
//! number of cases; SCHET/SUMMAV, which precedes the records, comes from a first pass that only
//! adds up the sums. Called by `omshub gen` ([`cli`]), by the integration tests and by
//! `bench/`. The data is invented: names come from short lists of made-up surnames, ENP and
//! SNILS are generated with their check digits, and nothing generated is ever committed.

pub mod cli;
mod model;
mod persons;
mod rng;
mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::domain::{MoCode, Money, Period, TfomsCode};
pub use persons::write_persons_csv;
pub use xml::write_package;

/// A defect the generator can inject, named by the F012 code the validator gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// 901: `DATE_Z_2` written before `DATE_Z_1` (wrong element order).
    WrongOrder,
    /// 902: NHISTORY of the first SL written empty.
    EmptyMandatory,
    /// 903: `DATE_1` of the first SL is an impossible date (the 30th of February).
    BadFormat,
    /// 904: `PR_NOV` is 2, outside its enumeration.
    NotAllowed,
    /// 905: `N_ZAP` repeats the previous record's `N_ZAP`.
    DuplicateKey,
}

impl Defect {
    /// Every kind, in code order.
    pub const ALL: [Self; 5] = [
        Self::WrongOrder,
        Self::EmptyMandatory,
        Self::BadFormat,
        Self::NotAllowed,
        Self::DuplicateKey,
    ];

    /// The F012 code.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::WrongOrder => 901,
            Self::EmptyMandatory => 902,
            Self::BadFormat => 903,
            Self::NotAllowed => 904,
            Self::DuplicateKey => 905,
        }
    }

    /// The kind with F012 code `code`.
    #[must_use]
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// A defect of the business rules the generator can inject, named on the command line by
/// [`RuleDefect::name`] and expected to give the findings of [`RuleDefect::rules`] (and the
/// decision [`RuleDefect::oplata`]) and nothing else. Each takes a record of its own that
/// fits it (a continuing patient, one or several episodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleDefect {
    /// SUMV one kopeck more than the sum of `SUM_M` (SUMMAV follows, so it still adds up).
    Sumv,
    /// The ENP's check digit is wrong.
    EnpCheck,
    /// The ENP is valid but made for the other sex, so its facet disagrees with the L file.
    EnpFacet,
    /// VPOLIS 3 without ENP.
    EnpMissing,
    /// The case repeats the previous case of the same patient (new `N_ZAP` and IDCASE).
    Duplicate,
    /// `DATE_Z_2` is the day after the reporting period (before DSCHET).
    AfterPeriod,
    /// IDDOKT of a one-episode case has a wrong SNILS check number.
    Doctor,
    /// DS1 is a diagnosis of the other sex.
    Sex,
    /// `ID_PAC` of a continuing patient's case names no PERS.
    IdPac,
    /// VIDPOM 99, not in V008.
    Vidpom,
    /// RSLT 101, an inpatient result in an outpatient case.
    Setting,
    /// The second episode of a case with several has `DATE_1` after `DATE_2`: that episode is
    /// refused, the rest paid (OPLATA 3).
    Episode,
}

impl RuleDefect {
    /// Every kind.
    pub const ALL: [Self; 12] = [
        Self::Sumv,
        Self::EnpCheck,
        Self::EnpFacet,
        Self::EnpMissing,
        Self::Duplicate,
        Self::AfterPeriod,
        Self::Doctor,
        Self::Sex,
        Self::IdPac,
        Self::Vidpom,
        Self::Setting,
        Self::Episode,
    ];

    /// The name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sumv => "sumv",
            Self::EnpCheck => "enp",
            Self::EnpFacet => "facet",
            Self::EnpMissing => "no-enp",
            Self::Duplicate => "duplicate",
            Self::AfterPeriod => "after-period",
            Self::Doctor => "doctor",
            Self::Sex => "sex",
            Self::IdPac => "id-pac",
            Self::Vidpom => "vidpom",
            Self::Setting => "setting",
            Self::Episode => "episode",
        }
    }

    /// The ids of the rules it breaks (docs/RULES.md).
    #[must_use]
    pub fn rules(self) -> &'static [&'static str] {
        match self {
            Self::Sumv => &["H_0600/05500"],
            Self::EnpCheck => &["OMSH.00.0501"],
            Self::EnpFacet => &["OMSH.00.0502"],
            Self::EnpMissing => &["H_0500/03101"],
            Self::Duplicate => &["003K.00.0410"],
            Self::AfterPeriod => &["OMSH.00.0403"],
            Self::Doctor => &["OMSH.00.0503"],
            Self::Sex => &["003K.00.0630"],
            Self::IdPac => &["OMSH.00.0504"],
            Self::Vidpom => &["OMSH.00.0102"],
            Self::Setting => &["OMSH.00.0601"],
            Self::Episode => &["OMSH.00.0402"],
        }
    }

    /// The decision the case gets: 2 refused, 3 partly paid.
    #[must_use]
    pub fn oplata(self) -> u8 {
        if self == Self::Episode { 3 } else { 2 }
    }
}

/// How many rule defects of each kind to inject: `NAME=COUNT,...` (`sumv=2,duplicate=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDefects(BTreeMap<RuleDefect, u64>);

impl RuleDefects {
    /// Parses `NAME=COUNT` pairs separated by commas; an empty string is none.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let mut counts = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, count)) = part.split_once('=') else {
                bail!("rule defect `{part}`: expected NAME=COUNT, e.g. sumv=3");
            };
            let Some(kind) = RuleDefect::ALL
                .into_iter()
                .find(|d| d.name() == name.trim())
            else {
                let names: Vec<_> = RuleDefect::ALL.iter().map(|d| d.name()).collect();
                bail!("rule defect `{name}` is unknown; use {}", names.join(", "));
            };
            let count: u64 = count
                .trim()
                .parse()
                .with_context(|| format!("defect count `{count}` is not a number"))?;
            *counts.entry(kind).or_insert(0) += count;
        }
        Ok(Self(counts))
    }

    /// The number of defects of `kind`.
    #[must_use]
    pub fn count(&self, kind: RuleDefect) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// The number of defects of all kinds.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// How many defects of each kind to inject: parsed from `KIND=COUNT,...` (`902=3,905=2`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeMap<Defect, u64>);

impl Defects {
    /// Parses `KIND=COUNT` pairs separated by commas; an empty string is no defects.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let mut counts = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, count)) = part.split_once('=') else {
                bail!("defect `{part}`: expected KIND=COUNT, e.g. 902=3");
            };
            let code: u16 = kind
                .trim()
                .parse()
                .with_context(|| format!("defect kind `{kind}` is not a number"))?;
            let Some(defect) = Defect::from_code(code) else {
                bail!("defect kind {code} is unknown; use 901, 902, 903, 904 or 905");
            };
            let count: u64 = count
                .trim()
                .parse()
                .with_context(|| format!("defect count `{count}` is not a number"))?;
            *counts.entry(defect).or_insert(0) += count;
        }
        Ok(Self(counts))
    }

    /// The number of defects of `kind`.
    #[must_use]
    pub fn count(&self, kind: Defect) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// The number of defects of all kinds.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

impl fmt::Display for Defects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (kind, count) in self.0.iter().filter(|(_, c)| **c > 0) {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{}={count}", kind.code())?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct AccountsOptions {
    /// Number of cases (ZAP records), 1..=99,999,999 (`N_ZAP` is N(8)).
    pub cases: u64,
    /// The seed every value is derived from.
    pub seed: u64,
    /// Defects to inject, each at a different record.
    pub defects: Defects,
    /// Business-rule defects to inject, each at a different record (and apart from
    /// `defects`).
    pub rule_defects: RuleDefects,
    /// The clinic that bills (`CODE_MO`, LPU).
    pub mo: MoCode,
    /// The territorial fund the account goes to.
    pub tf: TfomsCode,
    /// The reporting month; every case date falls inside it.
    pub period: Period,
    /// Package number within the month (the last part of the file name).
    pub package: u32,
}

impl AccountsOptions {
    /// Options with the defaults of the command line: clinic 750096, territory 75,
    /// January 2026, package 1, no defects.
    pub fn new(cases: u64, seed: u64) -> anyhow::Result<Self> {
        Ok(Self {
            cases,
            seed,
            defects: Defects::default(),
            rule_defects: RuleDefects::default(),
            mo: MoCode::parse("750096")?,
            tf: TfomsCode::parse("75")?,
            period: Period::new(2026, 1)?,
            package: 1,
        })
    }

    /// The file name without extension: `HM<mo>T<tf>_<yymm><n>` (formats.md 1.1).
    #[must_use]
    pub fn h_name(&self) -> String {
        format!(
            "HM{}T{}_{:02}{:02}{}",
            self.mo,
            self.tf,
            self.period.year() % 100,
            self.period.month(),
            self.package
        )
    }

    /// The name of the paired personal-data file: the H name with L in place of H.
    #[must_use]
    pub fn l_name(&self) -> String {
        format!("L{}", &self.h_name()[1..])
    }
}

/// One written file, as the summary line reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Where it was written.
    pub path: PathBuf,
    /// Records (ZAP, PERS) or, for the ZIP, files inside.
    pub records: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Defects injected into it.
    pub defects: Defects,
}

impl fmt::Display for WrittenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_zip = self
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let unit = if is_zip { "files" } else { "records" };
        write!(
            f,
            "{name}: {} {unit}, {} bytes, defects {}",
            self.records, self.bytes, self.defects
        )
    }
}

/// What [`write_package`] wrote: the H file, the L file and the ZIP, and the account total.
#[derive(Debug, Clone)]
pub struct Package {
    /// The H, L and ZIP files, in that order.
    pub files: [WrittenFile; 3],
    /// SCHET/SUMMAV.
    pub total: Money,
    /// The records that carry a rule defect: (`N_ZAP`, kind), in file order.
    pub rule_defects: Vec<(u64, RuleDefect)>,
}

/// Checks the options before anything is written.
fn check(options: &AccountsOptions) -> anyhow::Result<()> {
    if !(1..=99_999_999).contains(&options.cases) {
        bail!("--cases must be between 1 and 99999999 (N_ZAP is N(8))");
    }
    let total = options.defects.total() + 2 * options.rule_defects.total();
    if total > options.cases {
        bail!(
            "the defects need up to {total} different records (a rule defect may keep a \
             neighbour free), but there are only {} cases",
            options.cases
        );
    }
    if options.defects.count(Defect::DuplicateKey) >= options.cases {
        bail!("905 repeats the previous N_ZAP, so the first record cannot carry it");
    }
    Ok(())
}

/// The output paths for `options` in `dir`: H, L and ZIP.
fn paths(dir: &Path, options: &AccountsOptions) -> [PathBuf; 3] {
    let h = options.h_name();
    [
        dir.join(format!("{h}.xml")),
        dir.join(format!("{}.xml", options.l_name())),
        dir.join(format!("{h}.zip")),
    ]
}

#[cfg(test)]
mod tests {
    use super::{AccountsOptions, Defect, Defects};

    #[test]
    fn defects_parse_and_print() {
        let d = Defects::parse("902=3, 905=2,902=1").unwrap();
        assert_eq!(d.count(Defect::EmptyMandatory), 4);
        assert_eq!(d.count(Defect::DuplicateKey), 2);
        assert_eq!(d.count(Defect::WrongOrder), 0);
        assert_eq!(d.total(), 6);
        assert_eq!(d.to_string(), "902=4 905=2");
        assert_eq!(Defects::parse("").unwrap().to_string(), "none");
        assert!(Defects::parse("906=1").is_err());
        assert!(Defects::parse("902").is_err());
        assert!(Defects::parse("902=x").is_err());
    }

    #[test]
    fn file_names_follow_the_federal_pattern() {
        let o = AccountsOptions::new(10, 1).unwrap();
        assert_eq!(o.h_name(), "HM750096T75_26011");
        assert_eq!(o.l_name(), "LM750096T75_26011");
    }

    #[test]
    fn too_many_defects_are_refused() {
        let mut o = AccountsOptions::new(3, 1).unwrap();
        o.defects = Defects::parse("902=2,903=2").unwrap();
        assert!(super::check(&o).is_err());
        o.defects = Defects::parse("905=3").unwrap();
        assert!(super::check(&o).is_err());
        o.defects = Defects::parse("905=2,901=1").unwrap();
        assert!(super::check(&o).is_ok());
    }
}
