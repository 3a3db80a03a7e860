//! What the rules look up beyond classifiers and registers, as traits so that every rule is
//! tested with fakes and `validate` never touches the database: [`PriorCases`], the cases
//! accepted in earlier packages (double billing), with [`PriorCaseIndex`], the in-memory index
//! a caller fills once per check; and [`PolicyLookup`], the patient's policy in the register of
//! insured persons (ERZ), implemented by `erz::snapshot::PolicySnapshot`; the rules that need
//! it are skipped when the checker has none (an empty register).

use std::collections::HashMap;

use chrono::NaiveDate;

/// Who a case is for, in the double-billing key: the ENP when the case has a valid one,
/// otherwise the sender's patient key `ID_PAC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonKey {
    /// The 16 digits of the ENP as a number.
    Enp(u64),
    /// `ID_PAC`.
    IdPac(String),
}

impl PersonKey {
    /// The key of a case with the ENP text `enp` (when it is 16 digits) or `id_pac`.
    #[must_use]
    pub fn of(enp: Option<&str>, id_pac: &str) -> Self {
        match enp.and_then(enp_number) {
            Some(n) => Self::Enp(n),
            None => Self::IdPac(id_pac.to_owned()),
        }
    }
}

/// The 16 digits of an ENP as a number.
#[must_use]
pub fn enp_number(enp: &str) -> Option<u64> {
    (enp.len() == 16 && enp.bytes().all(|b| b.is_ascii_digit()))
        .then(|| enp.parse().ok())
        .flatten()
}

/// The double-billing key (docs/RULES.md): person, clinic (`Z_SL/LPU`), `DATE_Z_1`, `DATE_Z_2`
/// and care setting `USL_OK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseKey {
    /// The patient.
    pub person: PersonKey,
    /// The clinic that gave the care (LPU).
    pub code_mo: String,
    /// `DATE_Z_1`.
    pub date_1: NaiveDate,
    /// `DATE_Z_2`.
    pub date_2: NaiveDate,
    /// `USL_OK`.
    pub usl_ok: Option<u8>,
}

/// Where an earlier accepted case is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorCase {
    /// The package it came in.
    pub package_id: String,
    /// Its `N_ZAP` there.
    pub n_zap: u64,
    /// Its IDCASE there.
    pub idcase: u64,
}

/// Cases accepted in earlier packages.
pub trait PriorCases: Send + Sync {
    /// The earlier accepted case with `key`, if any.
    fn paid_before(&self, key: &CaseKey) -> Option<&PriorCase>;
}

/// An in-memory index of earlier accepted cases, filled once per check (a snapshot, never a
/// query per record).
#[derive(Debug, Clone, Default)]
pub struct PriorCaseIndex {
    cases: HashMap<CaseKey, PriorCase>,
}

impl PriorCaseIndex {
    /// Adds a case; the first one added under a key is kept.
    pub fn add(&mut self, key: CaseKey, case: PriorCase) {
        self.cases.entry(key).or_insert(case);
    }

    /// Number of keys held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether no case is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

impl PriorCases for PriorCaseIndex {
    fn paid_before(&self, key: &CaseKey) -> Option<&PriorCase> {
        self.cases.get(key)
    }
}

/// What the register of insured persons says of a person on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// The insurer (F002 code) of the policy valid on that date; `None`: no valid policy.
    pub insurer: Option<String>,
    /// The death date, when the register knows one.
    pub died: Option<NaiveDate>,
}

/// The register of insured persons (ERZ), as the insurance rules need it. Implemented by
/// `erz::snapshot::PolicySnapshot`.
pub trait PolicyLookup: Send + Sync {
    /// The state of the person with ENP `enp` on `on`; `None` when the register does not
    /// know the ENP.
    fn policy_on(&self, enp: &str, on: NaiveDate) -> Option<PolicyStatus>;
}
