//! Business rules (ФЛК and МЭК) over accounts, with partial acceptance: the rule catalogue
//! (`catalogue`), the look-ups beyond classifiers and registers (`sources`), the rules of one
//! case (`case`), the decisions per case and the account totals (`decision`), and the
//! fund-to-insurer H file (`export`). docs/RULES.md lists every rule and every choice.
//!
//! [`Checker`] is the one entry point: it consumes the typed records `records::read` hands
//! over (the H file's header, account and ZAPs, the L file's PERS, in either file order),
//! runs the record rules as each record streams past, with look-ups in snapshots loaded once
//! (classifiers, registers, earlier cases, ERZ), keeps a few facts per case (not the case),
//! and at [`Checker::finish`] runs the rules that need both files or the whole account and
//! computes the decisions. Findings come out sorted by file, line and catalogue order, so the
//! same files give the same output every time. At most [`Checker::with_max_findings`] findings
//! are kept per file (the first in that order, in a bounded heap), the rest only counted, with
//! one summary finding ([`catalogue::FINDINGS_CAPPED`]) per file that had more: memory does not
//! grow with the count of findings, and every case is still decided.
//!
//! Called by `validate::cli` (`omshub validate`) and by intake (`intake::pipeline`);
//! `settlement::open_checker` builds one from the database.

mod case;
pub mod catalogue;
pub mod decision;
pub mod export;
mod sex;
pub mod sources;
#[cfg(test)]
mod tests;

use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::num::NonZeroU64;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use super::records::{Account, AccountItem, Item, Pers, PersonsItem, Zap};
use super::{Context, Finding};
use crate::domain::{Period, Sex, Snils};
use crate::nsi::ClassifierLookup;
use crate::registers::lookup::RegisterLookup;
pub use catalogue::{Catalogue, Reason, Rule, Severity};
pub use decision::{CaseDecision, DecisionSanction, Totals};
pub use sources::{
    CaseKey, PersonKey, PolicyLookup, PolicyStatus, PriorCase, PriorCaseIndex, PriorCases,
};

/// The F012 code rule findings carry in [`Finding::code`]: 804, a wrong element value. The
/// rule's own id is [`RuleFinding::rule`].
pub const RULE_F012: u16 = 804;

/// Which file of the package a finding is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum FileKind {
    /// The data file (H, T, C, D).
    #[serde(rename = "data")]
    Data,
    /// The personal-data file (L).
    #[serde(rename = "personal")]
    Personal,
}

/// One finding of a business rule: the rule and the finding as the protocol carries it
/// (`finding.code` is [`RULE_F012`]; the protocol's OSHIB is `rule.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFinding {
    /// The rule.
    pub rule: &'static Rule,
    /// The file it is in.
    pub file: FileKind,
    /// Element, parent, value, record keys, line, message.
    pub finding: Finding,
}

impl Serialize for RuleFinding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            rule: &'static str,
            severity: &'static str,
            file: FileKind,
            #[serde(flatten)]
            finding: &'a Finding,
        }
        Out {
            rule: self.rule.id,
            severity: self.rule.severity.as_str(),
            file: self.file,
            finding: &self.finding,
        }
        .serialize(s)
    }
}

/// Everything the rules look up, each a snapshot taken once for the whole check.
#[derive(Clone)]
pub struct Sources {
    /// Classifiers (НСИ).
    pub classifiers: Arc<dyn ClassifierLookup>,
    /// Registers of organisations; `None` skips the organisation rules.
    pub registers: Option<Arc<dyn RegisterLookup>>,
    /// Cases accepted earlier; `None` skips the double-billing rule.
    pub prior: Option<Arc<dyn PriorCases>>,
    /// The register of insured persons; `None` skips the ERZ rules.
    pub policies: Option<Arc<dyn PolicyLookup>>,
}

/// How to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check under the catalogue in force on this date instead of the account's reporting
    /// period (`omshub validate --rules-as-of`).
    pub as_of: Option<NaiveDate>,
    /// The day of the check: cases may not end after it; the date of the МЭК act.
    pub today: NaiveDate,
    /// Who sent the package: a clinic (6 digits) must be the account's `CODE_MO`, a fund
    /// (2 digits) the fund of its territory; anything else is not checked.
    pub sender: Option<String>,
}

/// What the check of one account found and decided.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The date whose catalogue was applied.
    pub rules_as_of: NaiveDate,
    /// No finding of file severity: the account is taken (with its refused cases).
    pub accepted: bool,
    /// The findings, in file, line and catalogue order: at most the checker's cap per file,
    /// then, for a file that had more, one [`catalogue::FINDINGS_CAPPED`] summary with the
    /// count of the others.
    pub findings: Vec<RuleFinding>,
    /// Findings beyond the cap, counted but not listed (both files).
    pub findings_dropped: u64,
    /// The first refusing finding's rule (file or record severity), listed or not.
    #[serde(skip)]
    pub first_refusal: Option<&'static Rule>,
    /// One decision per case the rules saw, in file order.
    pub decisions: Vec<CaseDecision>,
    /// The account totals.
    pub totals: Totals,
    /// The account (SCHET) the decisions are about, if the rules saw it.
    #[serde(skip)]
    pub account: Option<Account>,
}

impl Outcome {
    /// The listed findings that refuse their record or the file (see
    /// [`Outcome::first_refusal`] for the first of all, listed or not).
    pub fn refusals(&self) -> impl Iterator<Item = &RuleFinding> {
        self.findings
            .iter()
            .filter(|f| f.rule.severity != Severity::Warning)
    }
}

/// Where a finding sorts: file, line, catalogue order, then arrival (so that equal keys
/// keep the order they came in).
type SortKey = (FileKind, u64, usize, u64);

/// A finding kept under the cap, ordered by its key alone.
#[derive(Debug)]
struct Kept {
    key: SortKey,
    finding: RuleFinding,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// The findings of one file under a cap: the `max` first in sort order, in a max-heap whose
/// top (the last kept) goes when a smaller one comes; the others are counted.
#[derive(Debug, Default)]
struct Listing {
    kept: BinaryHeap<Kept>,
    dropped: u64,
}

impl Listing {
    fn push(&mut self, max: usize, key: SortKey, finding: RuleFinding) {
        if self.kept.len() < max {
            self.kept.push(Kept { key, finding });
        } else if self.kept.peek().is_some_and(|top| key < top.key) {
            self.kept.pop();
            self.kept.push(Kept { key, finding });
            self.dropped += 1;
        } else {
            self.dropped += 1;
        }
    }
}

/// Findings listed per file when the caller sets no cap (as `schema::Limits`).
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;

/// A refusal of part of a case, kept until the decisions are made.
#[derive(Debug, Clone)]
struct Refusal {
    rule: &'static Rule,
    /// The episode refused (`None`: the whole case).
    sl_id: Option<String>,
}

/// What is kept of one case between its ZAP and the end of the check: 56 bytes, and more
/// only for the few cases with a refusal or a diagnosis of one sex.
#[derive(Debug, Clone)]
struct CaseState {
    line: u64,
    n_zap: u64,
    idcase: u64,
    sumv: crate::domain::Money,
    /// The ENP as a number, for the facet check against the L file.
    enp: Option<NonZeroU64>,
    extra: Option<Box<CaseExtra>>,
    patient: u32,
    mtr: bool,
}

/// What few cases need beyond [`CaseState`].
#[derive(Debug, Clone, Default)]
struct CaseExtra {
    /// `SUM_M` of each episode, only when an episode is refused.
    episode_sums: Vec<(String, crate::domain::Money)>,
    refusals: Vec<Refusal>,
    /// A diagnosis of one sex: (sex, code, episode).
    sex_only: Option<(Sex, String, String)>,
}

impl CaseState {
    fn refusals(&self) -> &[Refusal] {
        self.extra.as_ref().map_or(&[], |e| &e.refusals)
    }

    fn episode_sums(&self) -> &[(String, crate::domain::Money)] {
        self.extra.as_ref().map_or(&[], |e| &e.episode_sums)
    }

    fn extra_mut(&mut self) -> &mut CaseExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

/// What is known of one patient (`ID_PAC`) across the two files: 24 bytes, the `ID_PAC`
/// itself in the checker's arena.
#[derive(Debug, Clone, Default)]
struct PatientState {
    /// Where the `ID_PAC` is in [`Checker::id_pacs`]: start and length.
    id_pac: (u32, u16),
    /// Sex and birth date from the L file.
    pers: Option<(Sex, NaiveDate)>,
    pers_line: u64,
    in_h: bool,
}

/// Key of the duplicate check within the account (003K.00.0410): 24 bytes, one per case in
/// [`Checker::duplicate_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DuplicateKey {
    /// The ENP as a number, or [`PATIENT_KEY`] with the patient's index.
    person: u64,
    date_1: NaiveDate,
    date_2: NaiveDate,
    /// PROFIL of the first episode, [`NONE_U16`] when absent.
    profil: u16,
    /// PRVS of the first episode, [`NONE_U16`] when absent.
    prvs: u16,
    /// `USL_OK`, [`NONE_U8`] when absent.
    usl_ok: u8,
}

/// An absent code in a [`DuplicateKey`] (no classifier code is this large).
const NONE_U16: u16 = u16::MAX;
/// An absent `USL_OK` in a [`DuplicateKey`].
const NONE_U8: u8 = u8::MAX;

/// Marks a patient index in [`DuplicateKey::person`] (an ENP is below 10^16 < 2^63).
const PATIENT_KEY: u64 = 1 << 63;

/// Runs the business rules over the typed records of one account package (an H file and its
/// L file) and decides each case. See the module documentation.
pub struct Checker {
    sources: Sources,
    options: Options,
    catalogue: Option<Catalogue>,
    version: String,
    account: Option<Account>,
    cases: Vec<CaseState>,
    patients: Vec<PatientState>,
    /// Every patient's `ID_PAC`, one after the other (a box each would cost more than the
    /// text).
    id_pacs: String,
    /// Indices into `patients`, hashed by `ID_PAC` (the text is kept once, in `id_pacs`).
    patient_index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// The duplicate key of each case, by the case's index in `cases`.
    duplicate_keys: Vec<DuplicateKey>,
    /// Indices into `duplicate_keys` of the first case with each key, hashed by the key.
    duplicate_index: hashbrown::HashTable<u32>,
    /// The findings of the data file and of the personal-data file, each under the cap.
    listings: [Listing; 2],
    max_findings: usize,
    /// Findings so far (the arrival part of their sort key).
    arrived: u64,
    /// The smallest key of a file-severity finding, and its rule.
    file_refusal: Option<(SortKey, &'static Rule)>,
    /// The smallest key of any refusing finding, and its rule.
    first_refusal: Option<(SortKey, &'static Rule)>,
    /// Findings of the L file, reported at `finish` under the catalogue chosen by then.
    waiting: Vec<(&'static Rule, Finding)>,
    /// Σ SUMV of the cases seen (`None` on overflow).
    sumv_total: Option<crate::domain::Money>,
    /// Σ SUMP of the cases that give one.
    sump_total: Option<crate::domain::Money>,
    saw_persons: bool,
    saw_account: bool,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("options", &self.options)
            .field("cases", &self.cases.len())
            .field("patients", &self.patients.len())
            .field(
                "findings",
                &self.listings.iter().map(|l| l.kept.len()).sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

/// The summary finding of a file whose rule findings went beyond the cap: how many more there
/// are. Line 0 (about the file, not a place in it); a warning, so it refuses nothing.
fn capped(file: FileKind, dropped: u64, max: usize) -> RuleFinding {
    RuleFinding {
        rule: catalogue::FINDINGS_CAPPED,
        file,
        finding: Finding {
            reason: None,
            code: RULE_F012,
            element: String::new(),
            parent: None,
            value: Some(dropped.to_string()),
            context: Context::default(),
            line: 0,
            column: 0,
            message: format!(
                "{dropped} more findings of the business rules in this file are not listed (at \
                 most {max} are); every case is decided all the same"
            ),
        },
    }
}

/// The `ID_PAC` of `patient` in the arena `ids`.
fn id_pac_of<'a>(ids: &'a str, patient: &PatientState) -> &'a str {
    let (start, len) = patient.id_pac;
    ids.get(start as usize..start as usize + usize::from(len))
        .unwrap_or_default()
}

impl Checker {
    /// A checker over `sources` with `options`.
    #[must_use]
    pub fn new(sources: Sources, options: Options) -> Self {
        Self {
            sources,
            options,
            catalogue: None,
            version: String::new(),
            account: None,
            cases: Vec::new(),
            patients: Vec::new(),
            id_pacs: String::new(),
            patient_index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            duplicate_keys: Vec::new(),
            duplicate_index: hashbrown::HashTable::new(),
            listings: [Listing::default(), Listing::default()],
            max_findings: DEFAULT_MAX_FINDINGS,
            arrived: 0,
            file_refusal: None,
            first_refusal: None,
            waiting: Vec::new(),
            sumv_total: Some(crate::domain::Money::ZERO),
            sump_total: None,
            saw_persons: false,
            saw_account: false,
        }
    }

    /// Lists at most `max` findings per file (at least 1); the others are counted and summed
    /// up in one [`catalogue::FINDINGS_CAPPED`] finding. Decisions do not depend on it.
    #[must_use]
    pub fn with_max_findings(mut self, max: usize) -> Self {
        self.max_findings = max.max(1);
        self
    }

    /// Hands one typed record over, as `records::read` yields it.
    pub fn item(&mut self, item: &Item) {
        match item {
            Item::Account(AccountItem::Header(h)) => {
                self.saw_account = true;
                self.version.clone_from(&h.version);
            }
            Item::Account(AccountItem::Account(a)) => {
                self.saw_account = true;
                self.account(a);
            }
            Item::Account(AccountItem::Record(zap)) => {
                self.saw_account = true;
                self.zap(zap);
            }
            Item::Account(AccountItem::Refused(refused)) => {
                // Not a case the rules judge, but its patient has a case in the H file.
                self.saw_account = true;
                if let Some(id_pac) = &refused.id_pac {
                    let patient = self.patient(id_pac);
                    if let Some(p) = self.patients.get_mut(patient as usize) {
                        p.in_h = true;
                    }
                }
            }
            Item::Persons(PersonsItem::Header(_)) => self.saw_persons = true,
            Item::Persons(PersonsItem::Record(p)) => {
                self.saw_persons = true;
                self.pers(p);
            }
            Item::Erz(_) => {}
        }
    }

    /// The catalogue, chosen on the first use: `--rules-as-of`, else the first day of the
    /// account's reporting period, else the day of the check.
    fn catalogue(&mut self) -> &Catalogue {
        let on = self.options.as_of.unwrap_or_else(|| {
            self.account
                .as_ref()
                .and_then(|a| a.period().ok())
                .map_or(self.options.today, Period::first_day)
        });
        self.catalogue.get_or_insert_with(|| Catalogue::on(on))
    }

    fn in_force(&mut self, rule: &Rule) -> bool {
        self.catalogue().has(rule)
    }

    /// Adds a finding of `rule` if it is in force; `true` when added.
    fn report(&mut self, rule: &'static Rule, file: FileKind, finding: Finding) -> bool {
        if !self.in_force(rule) {
            return false;
        }
        let key = (file, finding.line, catalogue::order(rule), self.arrived);
        self.arrived += 1;
        let smaller = |slot: &Option<(SortKey, &'static Rule)>| slot.is_none_or(|(k, _)| key < k);
        if rule.severity == Severity::File && smaller(&self.file_refusal) {
            self.file_refusal = Some((key, rule));
        }
        if rule.severity != Severity::Warning && smaller(&self.first_refusal) {
            self.first_refusal = Some((key, rule));
        }
        let listing = match file {
            FileKind::Data => &mut self.listings[0],
            FileKind::Personal => &mut self.listings[1],
        };
        listing.push(
            self.max_findings,
            key,
            RuleFinding {
                rule,
                file,
                finding,
            },
        );
        true
    }

    fn account(&mut self, a: &Account) {
        self.account = Some(a.clone());
        self.catalogue();
        let mut found = Vec::new();
        case::account_rules(a, &self.sources, &self.options, &mut found);
        for (rule, finding) in found {
            self.report(rule, FileKind::Data, finding);
        }
    }

    fn patient(&mut self, id_pac: &str) -> u32 {
        let hash = self.hasher.hash_one(id_pac);
        let (patients, ids) = (&self.patients, &self.id_pacs);
        if let Some(&i) = self
            .patient_index
            .find(hash, |&i| id_pac_of(ids, &patients[i as usize]) == id_pac)
        {
            return i;
        }
        let i = u32::try_from(self.patients.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(self.id_pacs.len()).unwrap_or(u32::MAX);
        // ID_PAC is T(36) by the schema; a longer one (not schema-valid) is cut for the key.
        let mut len = id_pac.len().min(usize::from(u16::MAX));
        while !id_pac.is_char_boundary(len) {
            len -= 1;
        }
        self.id_pacs.push_str(&id_pac[..len]);
        self.patients.push(PatientState {
            id_pac: (start, u16::try_from(len).unwrap_or(u16::MAX)),
            ..PatientState::default()
        });
        let (patients, ids, hasher) = (&self.patients, &self.id_pacs, &self.hasher);
        self.patient_index.insert_unique(hash, i, |&j| {
            hasher.hash_one(id_pac_of(ids, &patients[j as usize]))
        });
        i
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the rules of one case, then the two duplicate checks"
    )]
    fn zap(&mut self, zap: &Zap) {
        self.catalogue();
        let patient = self.patient(&zap.pacient.id_pac);
        if let Some(p) = self.patients.get_mut(patient as usize) {
            p.in_h = true;
        }
        let facts = case::case_rules(
            zap,
            &self.version,
            self.account.as_ref(),
            &self.sources,
            &self.options,
        );
        let mut state = CaseState {
            line: zap.line,
            n_zap: zap.n_zap,
            idcase: zap.case.idcase,
            patient,
            sumv: zap.case.sumv,
            enp: facts.enp.and_then(NonZeroU64::new),
            extra: facts.sex_only.map(|only| {
                Box::new(CaseExtra {
                    sex_only: Some(*only),
                    ..CaseExtra::default()
                })
            }),
            mtr: facts.mtr,
        };
        let mut found = facts.findings;
        // Duplicates within the account.
        let first = zap.case.episodes.first();
        let key = DuplicateKey {
            person: facts.enp.unwrap_or(PATIENT_KEY | u64::from(patient)),
            date_1: zap.case.date_z_1,
            date_2: zap.case.date_z_2,
            usl_ok: zap.case.usl_ok.unwrap_or(NONE_U8),
            profil: first.and_then(|e| e.profil).unwrap_or(NONE_U16),
            prvs: first.and_then(|e| e.prvs).unwrap_or(NONE_U16),
        };
        let hash = self.hasher.hash_one(&key);
        let keys = &self.duplicate_keys;
        let earlier = self
            .duplicate_index
            .find(hash, |&i| keys[i as usize] == key)
            .map(|&i| self.cases[i as usize].n_zap);
        if let Some(earlier) = earlier {
            found.push((
                catalogue::DUPLICATE_CASE,
                case::finding(
                    zap,
                    catalogue::DUPLICATE_CASE,
                    None,
                    Some(zap.case.idcase.to_string()),
                    format!(
                        "the case repeats the case of N_ZAP {earlier} (same person, dates {} to {}, \
                         setting, profile and specialty)",
                        zap.case.date_z_1, zap.case.date_z_2
                    ),
                ),
            ));
        } else {
            let i = u32::try_from(self.cases.len()).unwrap_or(u32::MAX);
            let (keys, hasher) = (&self.duplicate_keys, &self.hasher);
            self.duplicate_index
                .insert_unique(hash, i, |&j| hasher.hash_one(&keys[j as usize]));
        }
        self.duplicate_keys.push(key);
        // Cases accepted in earlier packages.
        if let Some(prior) = &self.sources.prior {
            let key = CaseKey {
                person: facts.enp.map_or_else(
                    || PersonKey::IdPac(zap.pacient.id_pac.clone()),
                    PersonKey::Enp,
                ),
                code_mo: zap.case.lpu.clone(),
                date_1: zap.case.date_z_1,
                date_2: zap.case.date_z_2,
                usl_ok: zap.case.usl_ok,
            };
            if let Some(earlier) = prior.paid_before(&key) {
                found.push((
                    catalogue::PAID_EARLIER,
                    case::finding(
                        zap,
                        catalogue::PAID_EARLIER,
                        None,
                        Some(zap.case.idcase.to_string()),
                        format!(
                            "the case was accepted before: package {}, N_ZAP {}, IDCASE {}",
                            earlier.package_id, earlier.n_zap, earlier.idcase
                        ),
                    ),
                ));
            }
        }
        self.sumv_total = self.sumv_total.and_then(|t| t.checked_add(zap.case.sumv));
        if let Some(sump) = zap.case.sump {
            self.sump_total = Some(
                self.sump_total
                    .unwrap_or(crate::domain::Money::ZERO)
                    .checked_add(sump)
                    .unwrap_or(crate::domain::Money::ZERO),
            );
        }
        let mut episode_level = false;
        for (rule, finding) in found {
            let sl_id = finding.context.sl_id.clone();
            if self.report(rule, FileKind::Data, finding) && rule.severity == Severity::Record {
                episode_level |= sl_id.is_some();
                state.extra_mut().refusals.push(Refusal { rule, sl_id });
            }
        }
        if episode_level {
            state.extra_mut().episode_sums = zap
                .case
                .episodes
                .iter()
                .map(|e| (e.sl_id.clone(), e.sum_m))
                .collect();
        }
        self.cases.push(state);
    }

    /// A PERS: its facts for the rules that need both files, and its own warnings, which wait
    /// for `finish` (the L file may come before the account that chooses the catalogue).
    fn pers(&mut self, p: &Pers) {
        let i = self.patient(&p.id_pac);
        if let Some(state) = self.patients.get_mut(i as usize) {
            state.pers = Some((p.w, *p.dr));
            state.pers_line = p.line;
        }
        if let Some(snils) = &p.snils
            && let Err(e) = Snils::parse(snils)
        {
            self.waiting.push((
                catalogue::PERS_SNILS,
                Finding {
                    reason: None,
                    code: RULE_F012,
                    element: "SNILS".into(),
                    parent: None,
                    value: None,
                    context: Context {
                        id_pac: Some(p.id_pac.clone()),
                        ..Context::default()
                    },
                    line: p.line,
                    column: 1,
                    message: format!("SNILS of the patient: {e}"),
                },
            ));
        }
    }

    /// Ends the check: the rules that need both files and the account totals, then the
    /// decisions. `schema_refused` is the number of records the schema check refused in the
    /// files given (their `FileReport::refused_records`): the rules never see those records,
    /// so the account totals are not compared when it is not 0.
    #[must_use]
    pub fn finish(mut self, schema_refused: u64) -> Outcome {
        self.catalogue();
        for (rule, finding) in std::mem::take(&mut self.waiting) {
            self.report(rule, FileKind::Personal, finding);
        }
        self.cross_file_rules();
        self.totals_rules(schema_refused);
        // What the decisions do not need goes before they are made.
        self.duplicate_keys = Vec::new();
        self.duplicate_index = hashbrown::HashTable::new();
        self.patient_index = hashbrown::HashTable::new();
        self.patients = Vec::new();
        self.id_pacs = String::new();
        let catalogue = self
            .catalogue
            .clone()
            .unwrap_or_else(|| Catalogue::on(self.options.today));
        let mut findings = Vec::new();
        let mut findings_dropped = 0;
        for (listing, file) in std::mem::take(&mut self.listings)
            .into_iter()
            .zip([FileKind::Data, FileKind::Personal])
        {
            findings.extend(
                listing
                    .kept
                    .into_sorted_vec()
                    .into_iter()
                    .map(|k| k.finding),
            );
            if listing.dropped > 0 {
                findings_dropped += listing.dropped;
                findings.push(capped(file, listing.dropped, self.max_findings));
            }
        }
        let file_refusal = self.file_refusal.map(|(_, rule)| rule);
        let (decisions, totals) = decision::decide(
            &self.cases,
            self.account.as_ref(),
            file_refusal,
            &self.options,
        );
        Outcome {
            rules_as_of: catalogue.date(),
            accepted: file_refusal.is_none(),
            findings,
            findings_dropped,
            first_refusal: self.first_refusal.map(|(_, rule)| rule),
            decisions,
            totals,
            account: self.account.take(),
        }
    }

    /// `ID_PAC` both ways, the ENP facet against DR and W, the diagnoses against W.
    #[expect(
        clippy::too_many_lines,
        reason = "three rules and the warning, each spelled out"
    )]
    fn cross_file_rules(&mut self) {
        if !(self.saw_persons && self.saw_account) {
            return;
        }
        let mut found: Vec<(usize, &'static Rule, Finding)> = Vec::new();
        let ids = &self.id_pacs;
        for (i, case) in self.cases.iter().enumerate() {
            let patient = &self.patients[case.patient as usize];
            let id_pac = id_pac_of(ids, patient);
            let context = Context {
                n_zap: Some(case.n_zap),
                id_pac: Some(id_pac.to_owned()),
                idcase: Some(case.idcase),
                ..Context::default()
            };
            let at = |rule: &'static Rule, value: Option<String>, message: String| Finding {
                reason: None,
                code: RULE_F012,
                element: rule.element.to_owned(),
                parent: Some(rule.parent.to_owned()),
                value,
                context: context.clone(),
                line: case.line,
                column: 1,
                message,
            };
            let Some((sex, birth)) = patient.pers else {
                found.push((
                    i,
                    catalogue::ID_PAC,
                    at(
                        catalogue::ID_PAC,
                        Some(id_pac.to_owned()),
                        "the L file has no PERS with this ID_PAC".into(),
                    ),
                ));
                continue;
            };
            if let Some(enp) = case.enp
                && let Ok(enp) = crate::domain::Enp::parse(&format!("{:016}", enp.get()))
                && let Err(e) = enp.check_birth_and_sex(birth, sex)
            {
                found.push((
                    i,
                    catalogue::ENP_FACET,
                    at(
                        catalogue::ENP_FACET,
                        None,
                        format!("{e}: the ENP does not agree with DR and W of the L file"),
                    ),
                ));
            }
            if let Some((only, code, sl_id)) = case.extra.as_ref().and_then(|e| e.sex_only.as_ref())
                && *only != sex
            {
                let mut f = at(
                    catalogue::SEX,
                    Some(code.clone()),
                    format!(
                        "diagnosis {code} is one of the other sex (W of the patient is {})",
                        sex.code()
                    ),
                );
                f.context.sl_id = Some(sl_id.clone());
                found.push((i, catalogue::SEX, f));
            }
        }
        for patient in &self.patients {
            if patient.pers.is_some() && !patient.in_h {
                let id_pac = id_pac_of(ids, patient);
                found.push((
                    usize::MAX,
                    catalogue::PERS_UNUSED,
                    Finding {
                        reason: None,
                        code: RULE_F012,
                        element: "ID_PAC".into(),
                        parent: None,
                        value: Some(id_pac.to_owned()),
                        context: Context {
                            id_pac: Some(id_pac.to_owned()),
                            ..Context::default()
                        },
                        line: patient.pers_line,
                        column: 1,
                        message: "no case of the H file is for this PERS".into(),
                    },
                ));
            }
        }
        for (i, rule, finding) in found {
            let file = if i == usize::MAX {
                FileKind::Personal
            } else {
                FileKind::Data
            };
            let sl_id = finding.context.sl_id.clone();
            if self.report(rule, file, finding)
                && rule.severity == Severity::Record
                && let Some(case) = self.cases.get_mut(i)
            {
                // The sex rule names its episode, but a wrong patient is the whole case.
                case.extra_mut().refusals.push(Refusal {
                    rule,
                    sl_id: if rule.id == catalogue::SEX.id {
                        None
                    } else {
                        sl_id
                    },
                });
            }
        }
    }

    /// SUMMAV and SUMMAP against the cases.
    fn totals_rules(&mut self, schema_refused: u64) {
        let Some(account) = self.account.clone() else {
            return;
        };
        if schema_refused > 0 {
            return;
        }
        let at = |rule: &'static Rule, value: String, message: String| Finding {
            reason: None,
            code: RULE_F012,
            element: rule.element.to_owned(),
            parent: Some(rule.parent.to_owned()),
            value: Some(value),
            context: Context::default(),
            line: account.line,
            column: 1,
            message,
        };
        match self.sumv_total {
            Some(total) if total == account.summav => {}
            Some(total) => {
                self.report(
                    catalogue::SUMMAV,
                    FileKind::Data,
                    at(
                        catalogue::SUMMAV,
                        account.summav.to_string(),
                        format!(
                            "SUMMAV {} differs from the sum of SUMV of the cases, {total}",
                            account.summav
                        ),
                    ),
                );
            }
            None => {
                self.report(
                    catalogue::SUMMAV,
                    FileKind::Data,
                    at(
                        catalogue::SUMMAV,
                        account.summav.to_string(),
                        "the sum of SUMV of the cases overflows".into(),
                    ),
                );
            }
        }
        if let Some(summap) = account.summap {
            let total = self.sump_total.unwrap_or(crate::domain::Money::ZERO);
            if total != summap {
                self.report(
                    catalogue::SUMMAP,
                    FileKind::Data,
                    at(
                        catalogue::SUMMAP,
                        summap.to_string(),
                        format!(
                            "SUMMAP {summap} differs from the sum of SUMP of the cases, {total}"
                        ),
                    ),
                );
            }
        }
    }
}
