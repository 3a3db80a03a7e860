//! The rules of one account (SCHET) and of one case (ZAP) that need nothing beyond the record,
//! the snapshots and the account: organisations, classifier codes on the date, sums, dates,
//! identity, consistency, insurance. Each returns `(rule, finding)` pairs; the checker keeps
//! those in force. The rules that need the L file or the whole account are in the checker.

use chrono::NaiveDate;

use super::catalogue::{self as c, Rule};
use super::{Options, RULE_F012, Sources, sex, sources};
use crate::domain::{Enp, InsurerCode, MoCode, Money, Sex, Snils, TfomsCode};
use crate::nsi::CodeStatus;
use crate::registers::lookup::Standing;
use crate::validate::records::{Account, Episode, Zap};
use crate::validate::{Context, Finding};

/// A rule and what it found.
pub(super) type Found = (&'static Rule, Finding);

/// What the checker keeps of a case besides its findings.
pub(super) struct CaseFacts {
    pub findings: Vec<Found>,
    /// The valid ENP as a number.
    pub enp: Option<u64>,
    /// A diagnosis of one sex: (sex, code, `SL_ID`).
    pub sex_only: Option<Box<(Sex, String, String)>>,
    /// Insured in another territory.
    pub mtr: bool,
}

/// A finding of `rule` in `zap`, at the episode `sl` when given.
pub(super) fn finding(
    zap: &Zap,
    rule: &'static Rule,
    sl: Option<&Episode>,
    value: Option<String>,
    message: String,
) -> Finding {
    Finding {
        reason: None,
        code: RULE_F012,
        element: rule.element.to_owned(),
        parent: Some(rule.parent.to_owned()),
        value,
        context: Context {
            n_zap: Some(zap.n_zap),
            id_pac: Some(zap.pacient.id_pac.clone()),
            idcase: Some(zap.case.idcase),
            sl_id: sl.map(|e| e.sl_id.clone()),
            idserv: None,
        },
        line: sl.map_or(zap.case.line, |e| e.line),
        column: 1,
        message,
    }
}

fn account_finding(
    a: &Account,
    rule: &'static Rule,
    value: Option<&str>,
    message: String,
) -> Found {
    (
        rule,
        Finding {
            reason: None,
            code: RULE_F012,
            element: rule.element.to_owned(),
            parent: Some(rule.parent.to_owned()),
            value: value.map(str::to_owned),
            context: Context::default(),
            line: a.line,
            column: 1,
            message,
        },
    )
}

fn standing_text(standing: Standing, register: &str, on: NaiveDate) -> Option<String> {
    match standing {
        Standing::Active => None,
        Standing::Unknown => Some(format!("is not in {register}")),
        Standing::Inactive => Some(format!("is in {register} but not active on {on}")),
    }
}

/// The rules of SCHET: the sender, `CODE_MO`, PLAT.
pub(super) fn account_rules(
    a: &Account,
    sources: &Sources,
    options: &Options,
    out: &mut Vec<Found>,
) {
    if let Some(sender) = options.sender.as_deref() {
        let mo_prefix = a.code_mo.get(..2).unwrap_or_default();
        let refused = match sender.len() {
            6 if sender.bytes().all(|b| b.is_ascii_digit()) => sender != a.code_mo,
            2 if sender.bytes().all(|b| b.is_ascii_digit()) => sender != mo_prefix,
            5 if sender.bytes().all(|b| b.is_ascii_digit()) => true,
            _ => false,
        };
        if refused {
            out.push(account_finding(
                a,
                c::SENDER,
                Some(&a.code_mo),
                format!(
                    "the account of clinic {} was sent by {sender}, which may not send it",
                    a.code_mo
                ),
            ));
        }
    }
    let Some(registers) = &sources.registers else {
        return;
    };
    let clinic = MoCode::parse(&a.code_mo).map_or(Standing::Unknown, |code| {
        registers.medical_org_standing(&code, a.dschet)
    });
    if let Some(why) = standing_text(clinic, "F003", a.dschet) {
        out.push(account_finding(
            a,
            c::CODE_MO,
            Some(&a.code_mo),
            format!("CODE_MO {} {why}", a.code_mo),
        ));
    }
    if let Some(plat) = &a.plat {
        let payer = match plat.len() {
            5 => InsurerCode::parse(plat).map_or(Standing::Unknown, |code| {
                registers.insurer_standing(&code, a.dschet)
            }),
            2 => TfomsCode::parse(plat).map_or(Standing::Unknown, |code| {
                registers.fund_standing(&code, a.dschet)
            }),
            _ => Standing::Unknown,
        };
        if let Some(why) = standing_text(payer, "F002 or F001", a.dschet) {
            out.push(account_finding(
                a,
                c::PLAT,
                Some(plat),
                format!("PLAT {plat} {why}"),
            ));
        }
    }
}

/// Checks one code of `classifier` on `on`.
fn code(
    sources: &Sources,
    zap: &Zap,
    out: &mut Vec<Found>,
    rule: &'static Rule,
    sl: Option<&Episode>,
    element: &str,
    (classifier, value, on): (&str, &str, NaiveDate),
) {
    let why = match sources.classifiers.code_status(classifier, value, on) {
        CodeStatus::Valid | CodeStatus::ClassifierNotLoaded => return,
        CodeStatus::UnknownCode => format!("is not a code of {classifier}"),
        CodeStatus::NotValidOnDate => format!("is a code of {classifier} not valid on {on}"),
    };
    let mut f = finding(
        zap,
        rule,
        sl,
        Some(value.to_owned()),
        format!("{element} {value} {why}"),
    );
    element.clone_into(&mut f.element);
    out.push((rule, f));
}

/// The diagnoses of an episode with their elements: DS0, DS1, DS2, DS3.
fn diagnoses(e: &Episode) -> impl Iterator<Item = (&'static str, &str)> {
    e.ds0
        .iter()
        .map(|d| ("DS0", d.as_str()))
        .chain(std::iter::once(("DS1", e.ds1.as_str())))
        .chain(e.ds2.iter().map(|d| ("DS2", d.as_str())))
        .chain(e.ds3.iter().map(|d| ("DS3", d.as_str())))
}

/// The territory a patient is insured in: the insurer's code, else `ST_OKATO`.
fn insuring_territory(zap: &Zap) -> Option<String> {
    if let Some(smo) = &zap.pacient.smo
        && let Ok(code) = InsurerCode::parse(smo)
    {
        return Some(code.territory().as_str().to_owned());
    }
    let okato = zap.pacient.st_okato.as_deref()?;
    crate::domain::Okato::parse(okato)
        .ok()?
        .tfoms_code()
        .map(|t| t.as_str().to_owned())
}

/// The rules of one case.
#[expect(
    clippy::too_many_lines,
    reason = "one list of independent rules, in catalogue order"
)]
pub(super) fn case_rules(
    zap: &Zap,
    version: &str,
    account: Option<&Account>,
    sources: &Sources,
    options: &Options,
) -> CaseFacts {
    let mut out = Vec::new();
    let z = &zap.case;
    let end = z.date_z_2;

    // Classifier codes on the case's end date, the episodes' on theirs.
    if let Some(v) = z.usl_ok {
        code(
            sources,
            zap,
            &mut out,
            c::USL_OK,
            None,
            "USL_OK",
            ("V006", &v.to_string(), end),
        );
    }
    code(
        sources,
        zap,
        &mut out,
        c::VIDPOM,
        None,
        "VIDPOM",
        ("V008", &z.vidpom.to_string(), end),
    );
    if let Some(v) = z.for_pom {
        code(
            sources,
            zap,
            &mut out,
            c::FOR_POM,
            None,
            "FOR_POM",
            ("V014", &v.to_string(), end),
        );
    }
    if let Some(v) = z.rslt {
        code(
            sources,
            zap,
            &mut out,
            c::RSLT,
            None,
            "RSLT",
            ("V009", &v.to_string(), end),
        );
    }
    if let Some(v) = z.ishod {
        code(
            sources,
            zap,
            &mut out,
            c::ISHOD,
            None,
            "ISHOD",
            ("V012", &v.to_string(), end),
        );
    }
    code(
        sources,
        zap,
        &mut out,
        c::IDSP,
        None,
        "IDSP",
        ("V010", &z.idsp.to_string(), end),
    );
    for e in &z.episodes {
        let on = e.date_2;
        if let Some(v) = e.profil {
            code(
                sources,
                zap,
                &mut out,
                c::PROFIL,
                Some(e),
                "PROFIL",
                ("V002", &v.to_string(), on),
            );
        }
        for s in &e.services {
            if let Some(v) = s.profil {
                let at = ("V002", &*v.to_string(), s.date_out);
                code(sources, zap, &mut out, c::PROFIL, Some(e), "PROFIL", at);
            }
        }
        if let Some(v) = e.prvs {
            code(
                sources,
                zap,
                &mut out,
                c::PRVS,
                Some(e),
                "PRVS",
                ("V021", &v.to_string(), on),
            );
        }
        for s in &e.services {
            let prvs = s.mr_usl_n.iter().filter_map(|p| p.prvs).chain(s.prvs);
            for v in prvs {
                code(
                    sources,
                    zap,
                    &mut out,
                    c::PRVS,
                    Some(e),
                    "PRVS",
                    ("V021", &v.to_string(), s.date_out),
                );
            }
        }
        for (element, ds) in diagnoses(e) {
            code(
                sources,
                zap,
                &mut out,
                c::DS,
                Some(e),
                element,
                ("M001", ds, on),
            );
        }
        if let Some(v) = &e.p_cel {
            code(
                sources,
                zap,
                &mut out,
                c::P_CEL,
                Some(e),
                "P_CEL",
                ("V025", v, on),
            );
        }
    }

    // Organisations.
    if let Some(registers) = &sources.registers {
        let clinic = MoCode::parse(&z.lpu).map_or(Standing::Unknown, |code| {
            registers.medical_org_standing(&code, end)
        });
        if let Some(why) = standing_text(clinic, "F003", end) {
            out.push((
                c::LPU,
                finding(
                    zap,
                    c::LPU,
                    None,
                    Some(z.lpu.clone()),
                    format!("LPU {} {why}", z.lpu),
                ),
            ));
        }
        if let Some(smo) = &zap.pacient.smo {
            let insurer = InsurerCode::parse(smo).map_or(Standing::Unknown, |code| {
                registers.insurer_standing(&code, end)
            });
            if let Some(why) = standing_text(insurer, "F002", end) {
                out.push((
                    c::SMO,
                    finding(
                        zap,
                        c::SMO,
                        None,
                        Some(smo.clone()),
                        format!("SMO {smo} {why}"),
                    ),
                ));
            }
        }
    }

    // Sums, in kopecks.
    match Money::checked_sum(z.episodes.iter().map(|e| e.sum_m)) {
        Some(total) if total == z.sumv => {}
        total => {
            let total = total.map_or_else(|| "an overflow".to_owned(), |t| t.to_string());
            out.push((
                c::SUMV,
                finding(
                    zap,
                    c::SUMV,
                    None,
                    Some(z.sumv.to_string()),
                    format!(
                        "SUMV {} differs from the sum of SUM_M of the episodes, {total}",
                        z.sumv
                    ),
                ),
            ));
        }
    }
    let sanctions = Money::checked_sum(z.sank.iter().map(|s| s.s_sum));
    if let Some(it) = z.sank_it
        && sanctions != Some(it)
    {
        out.push((
            c::SANK_IT,
            finding(
                zap,
                c::SANK_IT,
                None,
                Some(it.to_string()),
                format!(
                    "SANK_IT {it} differs from the sum of S_SUM, {}",
                    sanctions.unwrap_or(Money::ZERO)
                ),
            ),
        ));
    }
    if let Some(sump) = z.sump {
        let expected = sanctions.and_then(|s| z.sumv.checked_sub(s));
        if expected != Some(sump) {
            out.push((
                c::SUMP,
                finding(
                    zap,
                    c::SUMP,
                    None,
                    Some(sump.to_string()),
                    format!(
                        "SUMP {sump} is not SUMV {} less the sanctions {}",
                        z.sumv,
                        sanctions.unwrap_or(Money::ZERO)
                    ),
                ),
            ));
        }
    }

    // Dates.
    if z.date_z_1 > z.date_z_2 {
        out.push((
            c::CASE_DATES,
            finding(
                zap,
                c::CASE_DATES,
                None,
                Some(z.date_z_2.to_string()),
                format!("DATE_Z_1 {} is after DATE_Z_2 {}", z.date_z_1, z.date_z_2),
            ),
        ));
    }
    for e in &z.episodes {
        let why = if e.date_1 > e.date_2 {
            Some(format!("DATE_1 {} is after DATE_2 {}", e.date_1, e.date_2))
        } else if z.date_z_1 <= z.date_z_2 && (e.date_1 < z.date_z_1 || e.date_2 > z.date_z_2) {
            Some(format!(
                "the episode {} to {} lies outside the case {} to {}",
                e.date_1, e.date_2, z.date_z_1, z.date_z_2
            ))
        } else {
            None
        };
        if let Some(why) = why {
            out.push((
                c::EPISODE_DATES,
                finding(
                    zap,
                    c::EPISODE_DATES,
                    Some(e),
                    Some(e.date_2.to_string()),
                    why,
                ),
            ));
        }
    }
    if let Some(a) = account {
        if let Ok(period) = a.period()
            && end > period.last_day()
        {
            out.push((
                c::AFTER_PERIOD,
                finding(
                    zap,
                    c::AFTER_PERIOD,
                    None,
                    Some(end.to_string()),
                    format!("the case ends on {end}, after the reporting period {period}"),
                ),
            ));
        }
        if end > a.dschet {
            out.push((
                c::AFTER_DSCHET,
                finding(
                    zap,
                    c::AFTER_DSCHET,
                    None,
                    Some(end.to_string()),
                    format!(
                        "the case ends on {end}, after the account date {}",
                        a.dschet
                    ),
                ),
            ));
        }
    }
    if end > options.today {
        out.push((
            c::FUTURE,
            finding(
                zap,
                c::FUTURE,
                None,
                Some(end.to_string()),
                format!(
                    "the case ends on {end}, after the day of the check {}",
                    options.today
                ),
            ),
        ));
    }

    // Identity.
    let p = &zap.pacient;
    let enp_text = match (&p.enp, p.vpolis) {
        (Some(enp), _) => Some(enp.as_str()),
        (None, 3) if version != "3.2" => p.npolis.as_deref().map(String::as_str),
        _ => None,
    };
    let mut enp = None;
    if p.vpolis == 3 && p.enp.is_none() && version == "3.2" {
        out.push((
            c::ENP_MISSING,
            finding(
                zap,
                c::ENP_MISSING,
                None,
                None,
                "VPOLIS is 3 but ENP is empty".into(),
            ),
        ));
    }
    if let Some(text) = enp_text {
        match Enp::parse(text) {
            Ok(_) => enp = sources::enp_number(text),
            Err(e) => out.push((
                c::ENP_CHECK,
                finding(zap, c::ENP_CHECK, None, None, e.to_string()),
            )),
        }
    }
    for e in &z.episodes {
        let doctors =
            e.iddokt
                .iter()
                .map(|d| ("IDDOKT", d, None))
                .chain(e.services.iter().flat_map(|s| {
                    s.mr_usl_n
                        .iter()
                        .filter_map(|m| m.code_md.as_ref())
                        .chain(s.code_md.as_ref())
                        .map(|d| ("CODE_MD", d, Some(s.idserv.clone())))
                }));
        for (element, doctor, idserv) in doctors {
            if let Err(err) = Snils::parse(doctor) {
                let mut f = finding(zap, c::DOCTOR, Some(e), None, format!("{element}: {err}"));
                element.clone_into(&mut f.element);
                f.context.idserv = idserv;
                out.push((c::DOCTOR, f));
            }
        }
    }

    // Consistency.
    if let (Some(rslt), Some(ishod)) = (z.rslt, z.ishod) {
        if (matches!(rslt, 407..=414 | 417)) && ishod != 402 {
            out.push((
                c::RSLT_ISHOD,
                finding(
                    zap,
                    c::RSLT_ISHOD,
                    None,
                    Some(ishod.to_string()),
                    format!("RSLT {rslt} requires ISHOD 402, not {ishod}"),
                ),
            ));
        }
        // Only for a setting of V006 (an unknown one is the classifier rule's).
        if let Some(usl_ok) = z.usl_ok.filter(|u| (1..=4).contains(u))
            && (rslt / 100 != u16::from(usl_ok) || ishod / 100 != u16::from(usl_ok))
        {
            out.push((
                c::SETTING,
                finding(
                    zap,
                    c::SETTING,
                    None,
                    Some(rslt.to_string()),
                    format!("RSLT {rslt} and ISHOD {ishod} do not both belong to USL_OK {usl_ok}"),
                ),
            ));
        }
    }
    if z.for_pom == Some(3) && matches!(z.usl_ok, Some(1 | 2)) && z.npr_mo.is_none() {
        out.push((
            c::REFERRAL,
            finding(
                zap,
                c::REFERRAL,
                None,
                None,
                "planned care in a hospital or day hospital without NPR_MO".into(),
            ),
        ));
    }
    if let Some(rslt) = z.rslt
        && matches!(rslt, 317 | 321 | 332 | 343 | 347)
        && z.episodes.iter().any(|e| e.ds_onk == Some(true))
    {
        out.push((
            c::ONCOLOGY,
            finding(
                zap,
                c::ONCOLOGY,
                None,
                Some(rslt.to_string()),
                format!("RSLT {rslt} is not allowed with DS_ONK 1"),
            ),
        ));
    }
    let sex_only = z.episodes.iter().find_map(|e| {
        diagnoses(e)
            .find_map(|(_, ds)| sex::only_for(ds).map(|s| (s, ds.to_owned(), e.sl_id.clone())))
    });

    // Insurance: another territory goes to inter-territorial settlement; the ERZ rules.
    let home = account.and_then(|a| a.code_mo.get(..2)).map(str::to_owned);
    let mtr = matches!((insuring_territory(zap), &home), (Some(t), Some(h)) if &t != h);
    if mtr {
        out.push((
            c::OTHER_TERRITORY,
            finding(
                zap,
                c::OTHER_TERRITORY,
                None,
                p.smo.clone().or_else(|| p.st_okato.clone()),
                "the patient is insured in another territory: the case is settled inter-territorially".into(),
            ),
        ));
    } else if let (Some(policies), Some(text)) =
        (&sources.policies, enp_text.filter(|_| enp.is_some()))
    {
        match policies.policy_on(text, end) {
            None => out.push((
                c::POLICY,
                finding(
                    zap,
                    c::POLICY,
                    None,
                    None,
                    "ERZ does not know the ENP".into(),
                ),
            )),
            Some(status) => {
                match (&status.insurer, &p.smo) {
                    (None, _) => out.push((
                        c::POLICY,
                        finding(
                            zap,
                            c::POLICY,
                            None,
                            None,
                            format!("ERZ holds no policy valid on {end}"),
                        ),
                    )),
                    (Some(insurer), Some(smo)) if insurer != smo => out.push((
                        c::INSURER,
                        finding(
                            zap,
                            c::INSURER,
                            None,
                            Some(smo.clone()),
                            format!("SMO {smo} is not the patient's insurer on {end}, {insurer}"),
                        ),
                    )),
                    _ => {}
                }
                if let Some(died) = status.died
                    && died < z.date_z_1
                {
                    out.push((
                        c::ALIVE,
                        finding(
                            zap,
                            c::ALIVE,
                            None,
                            Some(z.date_z_1.to_string()),
                            format!(
                                "the case begins on {}, after the death date ERZ knows",
                                z.date_z_1
                            ),
                        ),
                    ));
                }
            }
        }
    }

    CaseFacts {
        findings: out,
        enp,
        sex_only: sex_only.map(Box::new),
        mtr,
    }
}
