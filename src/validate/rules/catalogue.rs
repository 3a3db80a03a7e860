//! The rule catalogue: every business rule of the hub with its stable id, severity, element,
//! text, F014 refusal reason and validity period, and the choice of the rules in force on a
//! date. `omshub rules list` prints it; docs/RULES.md explains each choice.
//!
//! Ids: the federal Q-style ids where formats.md 2.3 gives one (`003K.00.0130`,
//! `H_0600/05500`, …), the hub's own otherwise, in the same `KKKK.RR.TTTT` form with the
//! category `OMSH` (`OMSH.00.0501`), so every id fits `FLK_P/PR/OSHIB`.

use std::fmt::Write as _;

use chrono::NaiveDate;

/// What a rule's finding does to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Refuses the whole account: every case is refused with the rule's reason.
    File,
    /// Refuses the case (or, with an episode in its context, the episode).
    Record,
    /// Reported; changes no decision.
    Warning,
}

impl Severity {
    /// `file`, `record` or `warning`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Record => "record",
            Self::Warning => "warning",
        }
    }
}

/// A refusal reason of F014: its code (`S_OSN`) and the item of the list of grounds it stands
/// for (`Osn`). The numeric codes are the hub's reading of the grounds (docs/RULES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason {
    /// F014 `Kod`, written to `SANK/S_OSN`.
    pub code: u16,
    /// F014 `Osn`, the item of the list of grounds (`5.7.2`).
    pub osn: &'static str,
}

/// 5.1.1: errors in the account's details.
pub const ACCOUNT_DETAILS: Reason = Reason {
    code: 511,
    osn: "5.1.1",
};
/// 5.1.2: the account total differs from the total of its cases.
pub const ACCOUNT_TOTAL: Reason = Reason {
    code: 512,
    osn: "5.1.2",
};
/// 5.1.4: a field of the register filled wrongly.
pub const WRONG_FIELD: Reason = Reason {
    code: 514,
    osn: "5.1.4",
};
/// 5.1.5: an arithmetic error in a position of the register.
pub const ARITHMETIC: Reason = Reason {
    code: 515,
    osn: "5.1.5",
};
/// 5.1.6: the date of care does not fit the reporting period.
pub const OUT_OF_PERIOD: Reason = Reason {
    code: 516,
    osn: "5.1.6",
};
/// 5.2.1: the patient is insured by another insurer.
pub const OTHER_INSURER: Reason = Reason {
    code: 521,
    osn: "5.2.1",
};
/// 5.2.2: the patient's data do not identify them.
pub const UNIDENTIFIED: Reason = Reason {
    code: 522,
    osn: "5.2.2",
};
/// 5.2.4: the insurance data are not current (no policy on the date, died before).
pub const NOT_CURRENT: Reason = Reason {
    code: 524,
    osn: "5.2.4",
};
/// 5.7.1: the case was paid before.
pub const PAID_BEFORE: Reason = Reason {
    code: 571,
    osn: "5.7.1",
};
/// 5.7.2: the case appears twice in one register.
pub const DUPLICATE: Reason = Reason {
    code: 572,
    osn: "5.7.2",
};

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The stable id (`FLK_P/PR/OSHIB`).
    pub id: &'static str,
    /// What a finding does.
    pub severity: Severity,
    /// The element it points at (`IM_POL`).
    pub element: &'static str,
    /// The parent of that element (`BAS_EL`).
    pub parent: &'static str,
    /// What it checks, one sentence.
    pub text: &'static str,
    /// The F014 reason a refusal carries (`None` for warnings).
    pub reason: Option<Reason>,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force (`None`: open).
    pub valid_to: Option<NaiveDate>,
}

impl Rule {
    /// Whether the rule is in force on `on`.
    #[must_use]
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on <= to)
    }
}

const fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => NaiveDate::MIN,
    }
}

/// The formats of Order 79 (2011): the start of most rules.
const ORDER_79: NaiveDate = day(2011, 1, 1);
/// H 3.2 with its ENP element (the hub's reading: in force from 2021).
const H_3_2: NaiveDate = day(2021, 1, 1);
/// IDDOKT and `CODE_MD` as the doctor's SNILS (the hub's reading: from 2019).
const DOCTOR_SNILS: NaiveDate = day(2019, 1, 1);

macro_rules! rules {
    ($( $name:ident = $id:literal, $sev:ident, $parent:literal / $el:literal, $reason:expr, $from:expr, $text:literal; )*) => {
        $(
            #[doc = concat!("Rule `", $id, "` (its text is [`Rule::text`]).")]
            pub const $name: &Rule = &Rule {
                id: $id,
                severity: Severity::$sev,
                element: $el,
                parent: $parent,
                text: $text,
                reason: $reason,
                valid_from: $from,
                valid_to: None,
            };
        )*
        /// Every rule, in the order findings of one record are reported.
        pub const ALL: &[&Rule] = &[$($name),*];
    };
}

rules! {
    SENDER = "OMSH.00.0201", File, "SCHET" / "CODE_MO", Some(ACCOUNT_DETAILS), ORDER_79,
        "The sender is the clinic named in CODE_MO, or the fund of its territory.";
    CODE_MO = "X_0300/00900", File, "SCHET" / "CODE_MO", Some(ACCOUNT_DETAILS), ORDER_79,
        "CODE_MO is a clinic of F003, active on the account date.";
    PLAT = "X_0300/01400", File, "SCHET" / "PLAT", Some(ACCOUNT_DETAILS), ORDER_79,
        "PLAT is an insurer of F002 or a fund of F001, active on the account date.";
    SUMMAV = "003K.00.0130", File, "SCHET" / "SUMMAV", Some(ACCOUNT_TOTAL), ORDER_79,
        "SUMMAV equals the sum of Z_SL/SUMV of all cases of the account.";
    SUMMAP = "003K.00.0140", File, "SCHET" / "SUMMAP", Some(ACCOUNT_TOTAL), ORDER_79,
        "SUMMAP, when given, equals the sum of Z_SL/SUMP.";
    USL_OK = "OMSH.00.0101", Record, "Z_SL" / "USL_OK", Some(WRONG_FIELD), ORDER_79,
        "USL_OK is a code of V006 valid on the case end date.";
    VIDPOM = "OMSH.00.0102", Record, "Z_SL" / "VIDPOM", Some(WRONG_FIELD), ORDER_79,
        "VIDPOM is a code of V008 valid on the case end date.";
    FOR_POM = "OMSH.00.0103", Record, "Z_SL" / "FOR_POM", Some(WRONG_FIELD), ORDER_79,
        "FOR_POM is a code of V014 valid on the case end date.";
    RSLT = "OMSH.00.0104", Record, "Z_SL" / "RSLT", Some(WRONG_FIELD), ORDER_79,
        "RSLT is a code of V009 valid on the case end date.";
    ISHOD = "OMSH.00.0105", Record, "Z_SL" / "ISHOD", Some(WRONG_FIELD), ORDER_79,
        "ISHOD is a code of V012 valid on the case end date.";
    IDSP = "OMSH.00.0106", Record, "Z_SL" / "IDSP", Some(WRONG_FIELD), ORDER_79,
        "IDSP is a code of V010 valid on the case end date.";
    PROFIL = "OMSH.00.0107", Record, "SL" / "PROFIL", Some(WRONG_FIELD), ORDER_79,
        "PROFIL of an episode or service is a code of V002 valid on its end date.";
    PRVS = "OMSH.00.0108", Record, "SL" / "PRVS", Some(WRONG_FIELD), ORDER_79,
        "PRVS of an episode or performer is a code of V021 valid on its end date.";
    DS = "OMSH.00.0109", Record, "SL" / "DS1", Some(WRONG_FIELD), ORDER_79,
        "DS0, DS1, DS2 and DS3 are codes of M001 valid on the episode end date.";
    P_CEL = "OMSH.00.0110", Record, "SL" / "P_CEL", Some(WRONG_FIELD), ORDER_79,
        "P_CEL is a code of V025 valid on the episode end date.";
    LPU = "OMSH.00.0202", Record, "Z_SL" / "LPU", Some(WRONG_FIELD), ORDER_79,
        "LPU is a clinic of F003, active on the case end date.";
    SMO = "OMSH.00.0203", Record, "PACIENT" / "SMO", Some(OTHER_INSURER), ORDER_79,
        "SMO of the patient is an insurer of F002, active on the case end date.";
    SUMV = "H_0600/05500", Record, "Z_SL" / "SUMV", Some(ARITHMETIC), ORDER_79,
        "SUMV equals the sum of SL/SUM_M of the case.";
    SUMP = "003K.00.0120", Record, "Z_SL" / "SUMP", Some(ARITHMETIC), ORDER_79,
        "SUMP, when given, equals SUMV less the sanctions of the case.";
    SANK_IT = "OMSH.00.0301", Record, "Z_SL" / "SANK_IT", Some(ARITHMETIC), ORDER_79,
        "SANK_IT, when given, equals the sum of SANK/S_SUM.";
    CASE_DATES = "OMSH.00.0401", Record, "Z_SL" / "DATE_Z_2", Some(WRONG_FIELD), ORDER_79,
        "DATE_Z_1 is not after DATE_Z_2.";
    EPISODE_DATES = "OMSH.00.0402", Record, "SL" / "DATE_2", Some(WRONG_FIELD), ORDER_79,
        "DATE_1 is not after DATE_2 and the episode lies within the case.";
    AFTER_PERIOD = "OMSH.00.0403", Record, "Z_SL" / "DATE_Z_2", Some(OUT_OF_PERIOD), ORDER_79,
        "The case ends inside or before the reporting period.";
    AFTER_DSCHET = "OMSH.00.0404", Record, "Z_SL" / "DATE_Z_2", Some(OUT_OF_PERIOD), ORDER_79,
        "The case ends on or before the account date DSCHET.";
    FUTURE = "OMSH.00.0405", Record, "Z_SL" / "DATE_Z_2", Some(OUT_OF_PERIOD), ORDER_79,
        "The case does not end after the day of the check.";
    ENP_CHECK = "OMSH.00.0501", Record, "PACIENT" / "ENP", Some(UNIDENTIFIED), ORDER_79,
        "The ENP (ENP, or NPOLIS when VPOLIS is 3) is 16 digits with its check digit.";
    ENP_FACET = "OMSH.00.0502", Record, "PACIENT" / "ENP", Some(UNIDENTIFIED), ORDER_79,
        "The birth-date/sex facet of the ENP agrees with DR and W of the patient in the L file.";
    ENP_MISSING = "H_0500/03101", Record, "PACIENT" / "ENP", Some(UNIDENTIFIED), H_3_2,
        "ENP is given when VPOLIS is 3.";
    DOCTOR = "OMSH.00.0503", Record, "SL" / "IDDOKT", Some(WRONG_FIELD), DOCTOR_SNILS,
        "IDDOKT and CODE_MD are SNILS with their check number.";
    ID_PAC = "OMSH.00.0504", Record, "PACIENT" / "ID_PAC", Some(UNIDENTIFIED), ORDER_79,
        "ID_PAC of the case has its PERS in the L file.";
    PERS_UNUSED = "OMSH.00.0505", Warning, "PERS" / "ID_PAC", None, ORDER_79,
        "Every PERS of the L file is the patient of a case of the H file.";
    PERS_SNILS = "OMSH.00.0506", Warning, "PERS" / "SNILS", None, ORDER_79,
        "SNILS of the patient, when given, has its check number.";
    RSLT_ISHOD = "003K.00.0200", Record, "Z_SL" / "ISHOD", Some(WRONG_FIELD), ORDER_79,
        "RSLT 407-414 or 417 requires ISHOD 402.";
    SETTING = "OMSH.00.0601", Record, "Z_SL" / "RSLT", Some(WRONG_FIELD), ORDER_79,
        "RSLT and ISHOD belong to the care setting USL_OK (their first digit).";
    SEX = "003K.00.0630", Record, "SL" / "DS1", Some(WRONG_FIELD), ORDER_79,
        "No diagnosis of the case is one of the other sex.";
    REFERRAL = "OMSH.00.0602", Record, "Z_SL" / "NPR_MO", Some(WRONG_FIELD), ORDER_79,
        "Planned care (FOR_POM 3) in a hospital or day hospital (USL_OK 1, 2) names NPR_MO.";
    ONCOLOGY = "006F.00.0360", Record, "Z_SL" / "RSLT", Some(WRONG_FIELD), ORDER_79,
        "With DS_ONK 1, RSLT is none of 317, 321, 332, 343, 347.";
    DUPLICATE_CASE = "003K.00.0410", Record, "Z_SL" / "IDCASE", Some(DUPLICATE), ORDER_79,
        "No two cases of the account share person, dates, setting, profile and specialty.";
    PAID_EARLIER = "OMSH.00.0701", Record, "Z_SL" / "IDCASE", Some(PAID_BEFORE), ORDER_79,
        "The case was not accepted in an earlier package (person, clinic, dates, setting).";
    POLICY = "OMSH.00.0801", Record, "PACIENT" / "ENP", Some(NOT_CURRENT), ORDER_79,
        "ERZ: the patient holds a policy valid on the case end date.";
    INSURER = "OMSH.00.0802", Record, "PACIENT" / "SMO", Some(OTHER_INSURER), ORDER_79,
        "ERZ: SMO of the case is the patient's insurer on the case end date.";
    ALIVE = "OMSH.00.0803", Record, "Z_SL" / "DATE_Z_1", Some(NOT_CURRENT), ORDER_79,
        "ERZ: the patient was alive when the case began.";
    OTHER_TERRITORY = "OMSH.00.0804", Warning, "PACIENT" / "SMO", None, ORDER_79,
        "A patient insured in another territory: the case goes to inter-territorial settlement.";
}

/// Not a check, so not in [`ALL`] nor in `omshub rules list`: the id of the summary finding
/// a file gets when its rule findings went beyond the cap (`intake.max_findings`,
/// `--max-findings`), with the count of those not listed. A warning: it refuses nothing.
pub const FINDINGS_CAPPED: &Rule = &Rule {
    id: "OMSH.00.0001",
    severity: Severity::Warning,
    element: "",
    parent: "",
    text: "More findings of the business rules than are listed: their count.",
    reason: None,
    valid_from: ORDER_79,
    valid_to: None,
};

/// The rules in force on a date.
#[derive(Debug, Clone)]
pub struct Catalogue {
    on: NaiveDate,
    rules: Vec<&'static Rule>,
}

impl Catalogue {
    /// The rules of [`ALL`] in force on `on`.
    #[must_use]
    pub fn on(on: NaiveDate) -> Self {
        Self {
            on,
            rules: ALL.iter().copied().filter(|r| r.in_force(on)).collect(),
        }
    }

    /// The date the catalogue was chosen for.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        self.on
    }

    /// Whether `rule` is in force.
    #[must_use]
    pub fn has(&self, rule: &Rule) -> bool {
        self.rules.iter().any(|r| r.id == rule.id)
    }

    /// The rules in force, in catalogue order.
    #[must_use]
    pub fn rules(&self) -> &[&'static Rule] {
        &self.rules
    }
}

/// The position of `rule` in [`ALL`] (the order of findings within one record).
#[must_use]
pub fn order(rule: &Rule) -> usize {
    ALL.iter()
        .position(|r| r.id == rule.id)
        .unwrap_or(usize::MAX)
}

/// The rule with id `id`.
#[must_use]
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// The catalogue as `omshub rules list` prints it: id, severity, validity, F014 reason,
/// element and text; only the rules in force on `on` when given.
#[must_use]
pub fn render_list(on: Option<NaiveDate>) -> String {
    let mut out = String::new();
    for rule in ALL.iter().filter(|r| on.is_none_or(|d| r.in_force(d))) {
        let to = rule
            .valid_to
            .map_or_else(|| "…".to_owned(), |d| d.to_string());
        let reason = rule
            .reason
            .map_or_else(|| "-".to_owned(), |r| format!("{} ({})", r.code, r.osn));
        let _ = writeln!(
            out,
            "{:<13} {:<7} {}..{:<10} F014 {:<11} {}/{}: {}",
            rule.id,
            rule.severity.as_str(),
            rule.valid_from,
            to,
            reason,
            rule.parent,
            rule.element,
            rule.text
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_fit_oshib() {
        let pattern =
            regex::Regex::new(r"^([0-9A-Z]{4}\.[0-9]{2}\.[0-9]{4}|[A-Z]_[0-9]{4}/[0-9]{5})$")
                .unwrap();
        let mut seen = std::collections::HashSet::new();
        for rule in ALL.iter().chain([&FINDINGS_CAPPED]) {
            assert!(pattern.is_match(rule.id), "{}", rule.id);
            assert!(seen.insert(rule.id), "{} twice", rule.id);
            assert_eq!(
                rule.reason.is_none(),
                rule.severity == Severity::Warning,
                "{}: refusals carry a reason, warnings none",
                rule.id
            );
        }
    }

    #[test]
    fn the_catalogue_follows_the_date() {
        let old = Catalogue::on(day(2020, 6, 1));
        let new = Catalogue::on(day(2026, 1, 1));
        assert!(!old.has(ENP_MISSING), "no ENP element before 3.2");
        assert!(new.has(ENP_MISSING));
        assert!(old.has(SUMMAV) && new.has(SUMMAV));
        assert!(!Catalogue::on(day(2018, 1, 1)).has(DOCTOR));
        assert_eq!(new.rules().len(), ALL.len());
        let listed = render_list(Some(day(2020, 6, 1)));
        assert!(!listed.contains("H_0500/03101") && listed.contains("003K.00.0130"));
        assert_eq!(find("003K.00.0410"), Some(DUPLICATE_CASE));
        assert!(order(SENDER) < order(SUMMAV));
    }
}
