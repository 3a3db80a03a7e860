//! Partial acceptance: the decision on each case (OPLATA 1 full, 2 refused, 3 partial; SUMP;
//! the МЭК sanction SANK with `S_TIP` 1 and the F014 reason) and the account totals (SUMMAP,
//! `SANK_MEK`). A refusal of the whole account refuses every case with its reason; a record
//! refusal without an episode refuses the case; refusals of episodes refuse their `SUM_M`
//! and leave the rest of the case paid.

use chrono::NaiveDate;
use serde::Serialize;

use super::catalogue::{self, Rule};
use super::{CaseState, Options};
use crate::domain::Money;
use crate::validate::records::Account;

/// `S_TIP` of the hub's sanctions: МЭК (F006 code 1).
pub const S_TIP_MEK: u8 = 1;
/// `S_IST` of the hub's sanctions (the hub's reading; docs/RULES.md).
pub const S_IST_FUND: u8 = 1;

/// One МЭК sanction on a case (SANK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionSanction {
    /// `S_CODE`, unique in the case: `MEK-<N_ZAP>-1`.
    pub s_code: String,
    /// `S_SUM`, the amount refused.
    pub s_sum: Money,
    /// `S_TIP`: 1, МЭК.
    pub s_tip: u8,
    /// `SL_ID` of the refused episodes (empty: the whole case).
    pub sl_id: Vec<String>,
    /// `S_OSN`, the F014 reason.
    pub s_osn: u16,
    /// `DATE_ACT`, the day of the check.
    pub date_act: NaiveDate,
    /// `NUM_ACT`: `MEK-<SCHET/CODE>`.
    pub num_act: String,
    /// `S_COM`: the ids of the rules that refused.
    pub s_com: String,
    /// `S_IST`.
    pub s_ist: u8,
}

/// The decision on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseDecision {
    /// `N_ZAP`.
    pub n_zap: u64,
    /// IDCASE.
    pub idcase: u64,
    /// SUMV, billed.
    pub sumv: Money,
    /// OPLATA: 1 full, 2 refused, 3 partial.
    pub oplata: u8,
    /// SUMP, accepted.
    pub sump: Money,
    /// The sanctions (none when paid in full).
    pub sanctions: Vec<DecisionSanction>,
    /// Insured in another territory: settled inter-territorially.
    pub mtr: bool,
}

/// The account totals after the decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// SUMMAV as billed (the account's, or Σ SUMV without an account).
    pub summav: Money,
    /// Σ SUMV of the cases decided.
    pub sumv: Money,
    /// SUMMAP = Σ SUMP.
    pub summap: Money,
    /// `SANK_MEK` = Σ `S_SUM`.
    pub sank_mek: Money,
    /// Cases decided.
    pub cases: u64,
    /// OPLATA 1.
    pub paid: u64,
    /// OPLATA 2.
    pub refused: u64,
    /// OPLATA 3.
    pub partly_paid: u64,
    /// Cases for inter-territorial settlement.
    pub mtr: u64,
}

fn sanction(
    case: &CaseState,
    amount: Money,
    rules: &[&'static Rule],
    sl_id: Vec<String>,
    num_act: &str,
    options: &Options,
) -> DecisionSanction {
    let first = rules.first().copied();
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    ids.dedup();
    DecisionSanction {
        s_code: format!("MEK-{}-1", case.n_zap),
        s_sum: amount,
        s_tip: S_TIP_MEK,
        sl_id,
        s_osn: first.and_then(|r| r.reason).map_or(0, |r| r.code),
        date_act: options.today,
        num_act: num_act.to_owned(),
        s_com: ids.join(" "),
        s_ist: S_IST_FUND,
    }
}

/// Decides every case and adds up the account.
pub(super) fn decide(
    cases: &[CaseState],
    account: Option<&Account>,
    file_refusal: Option<&'static Rule>,
    options: &Options,
) -> (Vec<CaseDecision>, Totals) {
    let num_act = account.map_or_else(|| "MEK".to_owned(), |a| format!("MEK-{}", a.code));
    let mut totals = Totals::default();
    let mut decisions = Vec::with_capacity(cases.len());
    for case in cases {
        let mut rules: Vec<&'static Rule> = case.refusals().iter().map(|r| r.rule).collect();
        rules.sort_by_key(|r| catalogue::order(r));
        let whole = file_refusal.is_some() || case.refusals().iter().any(|r| r.sl_id.is_none());
        let (oplata, sump, sanctions) = if whole {
            let mut why = rules.clone();
            if let Some(rule) = file_refusal {
                why.insert(0, rule);
            }
            let s = sanction(case, case.sumv, &why, Vec::new(), &num_act, options);
            (2, Money::ZERO, vec![s])
        } else if case.refusals().is_empty() {
            (1, case.sumv, Vec::new())
        } else {
            let mut sl_ids: Vec<String> = Vec::new();
            let mut refused = Money::ZERO;
            for (sl_id, sum_m) in case.episode_sums() {
                if case
                    .refusals()
                    .iter()
                    .any(|r| r.sl_id.as_ref() == Some(sl_id))
                {
                    sl_ids.push(sl_id.clone());
                    refused = refused.checked_add(*sum_m).unwrap_or(case.sumv);
                }
            }
            match case.sumv.checked_sub(refused) {
                Some(rest) if rest.kopecks() > 0 && refused.kopecks() > 0 => {
                    let s = sanction(case, refused, &rules, sl_ids, &num_act, options);
                    (3, rest, vec![s])
                }
                _ => {
                    let s = sanction(case, case.sumv, &rules, sl_ids, &num_act, options);
                    (2, Money::ZERO, vec![s])
                }
            }
        };
        totals.cases += 1;
        match oplata {
            1 => totals.paid += 1,
            2 => totals.refused += 1,
            _ => totals.partly_paid += 1,
        }
        totals.mtr += u64::from(case.mtr);
        totals.sumv = totals.sumv.checked_add(case.sumv).unwrap_or(totals.sumv);
        totals.summap = totals.summap.checked_add(sump).unwrap_or(totals.summap);
        for s in &sanctions {
            totals.sank_mek = totals
                .sank_mek
                .checked_add(s.s_sum)
                .unwrap_or(totals.sank_mek);
        }
        decisions.push(CaseDecision {
            n_zap: case.n_zap,
            idcase: case.idcase,
            sumv: case.sumv,
            oplata,
            sump,
            sanctions,
            mtr: case.mtr,
        });
    }
    totals.summav = account.map_or(totals.sumv, |a| a.summav);
    (decisions, totals)
}
