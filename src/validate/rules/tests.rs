//! One table-driven test per rule: the sample account (H 3.2 + L 3.2 of `fixtures/xml`) passes
//! every rule; each row changes it so that exactly its rule fires, and the unchanged sample is
//! the row's negative case. Look-ups are fakes: a classifier snapshot built here, registers in
//! a map, earlier cases in a `PriorCaseIndex`, an ERZ in a map.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::*;
use crate::domain::{Money, TfomsCode};
use crate::nsi::NsiSnapshot;
use crate::registers::lookup::{ExpertInfo, OrgInfo};
use crate::registers::{Activity, Span, Status};
use crate::validate::records::testing::read_fixture;
use crate::validate::records::{Personal, Zap};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[derive(Debug, Default)]
struct FakeRegisters {
    funds: HashMap<String, OrgInfo>,
    insurers: HashMap<String, OrgInfo>,
    clinics: HashMap<String, OrgInfo>,
}

fn org(code: &str, from: NaiveDate, to: Option<NaiveDate>) -> OrgInfo {
    OrgInfo {
        code: code.to_owned(),
        territory: TfomsCode::parse(&code[..2]).unwrap(),
        name: format!("org {code}"),
        activity: Activity {
            status: Status::Active,
            status_since: from,
            periods: vec![Span {
                from: Some(from),
                to,
            }],
        },
    }
}

impl RegisterLookup for FakeRegisters {
    fn fund(&self, code: &TfomsCode) -> Option<&OrgInfo> {
        self.funds.get(code.as_str())
    }
    fn insurer(&self, code: &crate::domain::InsurerCode) -> Option<&OrgInfo> {
        self.insurers.get(code.as_str())
    }
    fn medical_org(&self, code: &crate::domain::MoCode) -> Option<&OrgInfo> {
        self.clinics.get(code.as_str())
    }
    fn medical_org_by_regional_code(
        &self,
        _territory: &TfomsCode,
        _regional: &crate::domain::MoCode,
    ) -> Option<&OrgInfo> {
        None
    }
    fn expert(&self, _code: &str) -> Option<&ExpertInfo> {
        None
    }
}

#[derive(Debug, Default)]
struct FakeErz(HashMap<String, PolicyStatus>);

impl PolicyLookup for FakeErz {
    fn policy_on(&self, enp: &str, _on: NaiveDate) -> Option<PolicyStatus> {
        self.0.get(enp).cloned()
    }
}

/// Everything a row may change: the records, the look-ups, the options.
struct Fixture {
    items: Vec<Item>,
    nsi: NsiSnapshot,
    registers: FakeRegisters,
    prior: PriorCaseIndex,
    erz: Option<FakeErz>,
    options: Options,
}

fn nsi() -> NsiSnapshot {
    let mut s = NsiSnapshot::default();
    let from = d(2011, 1, 1);
    let mut add = |classifier: &str, codes: &mut dyn Iterator<Item = String>| {
        for code in codes {
            s.add(classifier, &code, from, None);
        }
    };
    add("V006", &mut (1..=4).map(|c| c.to_string()));
    add(
        "V008",
        &mut [1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 31, 32, 33]
            .iter()
            .map(ToString::to_string),
    );
    add("V014", &mut (1..=3).map(|c| c.to_string()));
    add(
        "V009",
        &mut (101..=110)
            .chain(201..=208)
            .chain(301..=336)
            .chain(401..=417)
            .map(|c| c.to_string()),
    );
    add(
        "V012",
        &mut (101..=106)
            .chain(201..=206)
            .chain(301..=306)
            .chain(401..=403)
            .map(|c| c.to_string()),
    );
    add(
        "V010",
        &mut [24, 25, 28, 29, 30, 31, 32, 33, 36, 44]
            .iter()
            .map(ToString::to_string),
    );
    add("V002", &mut (1..=200).map(|c| c.to_string()));
    add("V021", &mut (1..=300).map(|c| c.to_string()));
    add(
        "V025",
        &mut ["1.0", "1.1", "1.3", "2.1", "3.0"]
            .iter()
            .map(ToString::to_string),
    );
    s
}

fn fixture() -> Fixture {
    let (h, _, mut items) = read_fixture("zl_list/3.2/HM750096T75_2601001.xml");
    assert!(h.accepted);
    let (l, _, persons) = read_fixture("pers_list/3.2/LM750096T75_2601001.xml");
    assert!(l.accepted);
    items.extend(persons);
    let mut registers = FakeRegisters::default();
    registers
        .clinics
        .insert("750096".into(), org("750096", d(2015, 1, 1), None));
    registers
        .insurers
        .insert("75001".into(), org("75001", d(2015, 1, 1), None));
    registers
        .funds
        .insert("75".into(), org("75", d(2011, 1, 1), None));
    Fixture {
        items,
        nsi: nsi(),
        registers,
        prior: PriorCaseIndex::default(),
        erz: None,
        options: Options {
            as_of: None,
            today: d(2026, 2, 10),
            sender: Some("750096".into()),
        },
    }
}

fn run(f: Fixture) -> Outcome {
    run_capped(f, DEFAULT_MAX_FINDINGS)
}

fn run_capped(f: Fixture, max_findings: usize) -> Outcome {
    let sources = Sources {
        classifiers: Arc::new(f.nsi),
        registers: Some(Arc::new(f.registers)),
        prior: Some(Arc::new(f.prior)),
        policies: f.erz.map(|e| Arc::new(e) as Arc<dyn PolicyLookup>),
    };
    let mut checker = Checker::new(sources, f.options).with_max_findings(max_findings);
    for item in &f.items {
        checker.item(item);
    }
    checker.finish(0)
}

fn zap(f: &mut Fixture, n: u64) -> &mut Zap {
    f.items
        .iter_mut()
        .find_map(|i| match i {
            Item::Account(AccountItem::Record(z)) if z.n_zap == n => Some(z.as_mut()),
            _ => None,
        })
        .unwrap()
}

fn account(f: &mut Fixture) -> &mut Account {
    f.items
        .iter_mut()
        .find_map(|i| match i {
            Item::Account(AccountItem::Account(a)) => Some(a),
            _ => None,
        })
        .unwrap()
}

fn pers<'a>(f: &'a mut Fixture, id_pac: &str) -> &'a mut Pers {
    f.items
        .iter_mut()
        .find_map(|i| match i {
            Item::Persons(PersonsItem::Record(p)) if p.id_pac == id_pac => Some(p.as_mut()),
            _ => None,
        })
        .unwrap()
}

fn add_kopecks(m: Money, k: i64) -> Money {
    Money::from_kopecks(m.kopecks() + k)
}

type Change = fn(&mut Fixture);

/// (rule, change that makes exactly this rule fire).
#[expect(clippy::too_many_lines, reason = "one row per rule of the catalogue")]
fn table() -> Vec<(&'static Rule, Change)> {
    vec![
        (catalogue::SENDER, |f| {
            f.options.sender = Some("750001".into());
        }),
        (catalogue::CODE_MO, |f| {
            f.registers.clinics.insert(
                "750096".into(),
                org("750096", d(2015, 1, 1), Some(d(2025, 12, 31))),
            );
            // The cases' LPU is the same clinic: name another, active one there.
            f.registers
                .clinics
                .insert("750097".into(), org("750097", d(2015, 1, 1), None));
            for n in 1..=3 {
                zap(f, n).case.lpu = "750097".into();
            }
            f.options.sender = None;
        }),
        (catalogue::PLAT, |f| account(f).plat = Some("75009".into())),
        (catalogue::SUMMAV, |f| {
            let a = account(f);
            a.summav = add_kopecks(a.summav, 1);
        }),
        (catalogue::SUMMAP, |f| {
            account(f).summap = Some(Money::from_kopecks(1));
        }),
        (catalogue::USL_OK, |f| zap(f, 1).case.usl_ok = Some(9)),
        (catalogue::VIDPOM, |f| zap(f, 1).case.vidpom = 99),
        (catalogue::FOR_POM, |f| zap(f, 1).case.for_pom = Some(7)),
        (catalogue::RSLT, |f| zap(f, 1).case.rslt = Some(399)),
        (catalogue::ISHOD, |f| zap(f, 1).case.ishod = Some(399)),
        (catalogue::IDSP, |f| zap(f, 1).case.idsp = 99),
        (catalogue::PROFIL, |f| {
            zap(f, 1).case.episodes[0].profil = Some(999);
        }),
        (catalogue::PRVS, |f| {
            zap(f, 1).case.episodes[0].prvs = Some(999);
        }),
        (catalogue::DS, |f| {
            for code in ["J06.9", "I11.9", "J02.9"] {
                f.nsi.add("M001", code, d(2011, 1, 1), None);
            }
            zap(f, 1).case.episodes[0].ds2 = vec!["Q99.9".into()];
        }),
        (catalogue::P_CEL, |f| {
            zap(f, 1).case.episodes[0].p_cel = Some("9.9".into());
        }),
        (catalogue::LPU, |f| zap(f, 1).case.lpu = "750098".into()),
        (catalogue::SMO, |f| {
            zap(f, 1).pacient.smo = Some("75009".into());
        }),
        (catalogue::SUMV, |f| {
            let z = zap(f, 1);
            z.case.sumv = add_kopecks(z.case.sumv, 100);
            let a = account(f);
            a.summav = add_kopecks(a.summav, 100);
        }),
        (catalogue::SUMP, |f| {
            zap(f, 1).case.sump = Some(Money::from_kopecks(1));
        }),
        (catalogue::SANK_IT, |f| {
            zap(f, 1).case.sank_it = Some(Money::from_kopecks(1));
        }),
        (catalogue::CASE_DATES, |f| {
            zap(f, 1).case.date_z_1 = d(2026, 1, 13);
        }),
        (catalogue::EPISODE_DATES, |f| {
            zap(f, 2).case.episodes[0].date_1 = d(2026, 1, 10);
        }),
        (catalogue::AFTER_PERIOD, |f| {
            let z = zap(f, 1);
            z.case.date_z_2 = d(2026, 2, 1);
        }),
        (catalogue::AFTER_DSCHET, |f| {
            account(f).dschet = d(2026, 1, 20);
        }),
        (catalogue::FUTURE, |f| f.options.today = d(2026, 1, 20)),
        (catalogue::ENP_CHECK, |f| {
            zap(f, 1).pacient.enp = Some(Personal::new("7556510837000175".into()));
        }),
        (catalogue::ENP_FACET, |f| {
            pers(f, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21").dr = Personal::new(d(1984, 3, 13));
        }),
        (catalogue::ENP_MISSING, |f| zap(f, 1).pacient.enp = None),
        (catalogue::DOCTOR, |f| {
            zap(f, 1).case.episodes[0].iddokt = Some(Personal::new("789-123-456 45".into()));
        }),
        (catalogue::ID_PAC, |f| {
            f.items.retain(|i| {
                !matches!(i, Item::Persons(PersonsItem::Record(p))
                    if p.id_pac == "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21")
            });
        }),
        (catalogue::PERS_UNUSED, |f| {
            let mut extra = pers(f, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21").clone();
            extra.id_pac = "no-case".into();
            f.items
                .push(Item::Persons(PersonsItem::Record(Box::new(extra))));
        }),
        (catalogue::PERS_SNILS, |f| {
            pers(f, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21").snils =
                Some(Personal::new("345-678-912 27".into()));
        }),
        (catalogue::RSLT_ISHOD, |f| {
            let z = zap(f, 1);
            z.case.usl_ok = Some(4);
            z.case.rslt = Some(407);
            z.case.ishod = Some(401);
        }),
        (catalogue::SETTING, |f| zap(f, 1).case.rslt = Some(101)),
        (catalogue::SEX, |f| {
            zap(f, 1).case.episodes[0].ds1 = "N95.1".into();
        }),
        (catalogue::REFERRAL, |f| {
            let z = zap(f, 1);
            z.case.usl_ok = Some(2);
            z.case.rslt = Some(201);
            z.case.ishod = Some(201);
        }),
        (catalogue::ONCOLOGY, |f| {
            let z = zap(f, 1);
            z.case.rslt = Some(317);
            z.case.episodes[0].ds_onk = Some(true);
        }),
        (catalogue::DUPLICATE_CASE, |f| {
            let mut copy = zap(f, 1).clone();
            copy.n_zap = 4;
            copy.case.idcase = 100_004;
            let a = account(f);
            a.summav = a.summav.checked_add(copy.case.sumv).unwrap();
            let at = f
                .items
                .iter()
                .rposition(|i| matches!(i, Item::Account(_)))
                .unwrap();
            f.items
                .insert(at + 1, Item::Account(AccountItem::Record(Box::new(copy))));
        }),
        (catalogue::PAID_EARLIER, |f| {
            let z = zap(f, 2).clone();
            f.prior.add(
                CaseKey {
                    person: PersonKey::of(
                        z.pacient
                            .enp
                            .as_ref()
                            .map(super::super::records::Personal::as_str),
                        &z.pacient.id_pac,
                    ),
                    code_mo: z.case.lpu.clone(),
                    date_1: z.case.date_z_1,
                    date_2: z.case.date_z_2,
                    usl_ok: z.case.usl_ok,
                },
                PriorCase {
                    package_id: "earlier".into(),
                    n_zap: 7,
                    idcase: 7,
                },
            );
        }),
        (catalogue::POLICY, |f| {
            let mut erz = fake_erz(f);
            erz.0.get_mut("7556510837000174").unwrap().insurer = None;
            f.erz = Some(erz);
        }),
        (catalogue::INSURER, |f| {
            let mut erz = fake_erz(f);
            erz.0.get_mut("7556510837000174").unwrap().insurer = Some("75002".into());
            f.erz = Some(erz);
        }),
        (catalogue::ALIVE, |f| {
            let mut erz = fake_erz(f);
            erz.0.get_mut("7556510837000174").unwrap().died = Some(d(2026, 1, 1));
            f.erz = Some(erz);
        }),
        (catalogue::OTHER_TERRITORY, |f| {
            f.registers
                .insurers
                .insert("46001".into(), org("46001", d(2015, 1, 1), None));
            zap(f, 1).pacient.smo = Some("46001".into());
        }),
    ]
}

/// An ERZ that knows every patient of the sample, insured where the sample says.
fn fake_erz(f: &mut Fixture) -> FakeErz {
    let mut erz = FakeErz::default();
    for i in &f.items {
        if let Item::Account(AccountItem::Record(z)) = i {
            erz.0.insert(
                z.pacient.enp.as_ref().unwrap().as_str().to_owned(),
                PolicyStatus {
                    insurer: z.pacient.smo.clone(),
                    died: None,
                },
            );
        }
    }
    erz
}

#[test]
fn the_sample_passes_every_rule() {
    let mut f = fixture();
    f.erz = Some(fake_erz(&mut f));
    let outcome = run(f);
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert!(outcome.accepted);
    assert_eq!(outcome.rules_as_of, d(2026, 1, 1));
    assert!(
        outcome
            .decisions
            .iter()
            .all(|d| d.oplata == 1 && d.sump == d.sumv)
    );
    assert_eq!(outcome.totals.summap, outcome.totals.summav);
}

#[test]
fn every_rule_has_a_row() {
    let covered: Vec<&str> = table().iter().map(|(r, _)| r.id).collect();
    for rule in catalogue::ALL {
        assert!(covered.contains(&rule.id), "no row for {}", rule.id);
    }
}

#[test]
fn each_rule_fires_on_its_row_alone() {
    let mut wrong: Vec<String> = Vec::new();
    for (rule, change) in table() {
        let mut f = fixture();
        change(&mut f);
        let outcome = run(f);
        let ids: Vec<&str> = outcome.findings.iter().map(|f| f.rule.id).collect();
        if ids.is_empty() || ids.iter().any(|id| *id != rule.id) {
            wrong.push(format!("{}: {ids:?}", rule.id));
            continue;
        }
        let f = &outcome.findings[0];
        assert!(!f.finding.message.is_empty());
        assert_eq!(f.finding.code, RULE_F012);
        match rule.severity {
            Severity::File => {
                assert!(!outcome.accepted, "{}", rule.id);
                assert!(
                    outcome.decisions.iter().all(|d| d.oplata == 2),
                    "{}",
                    rule.id
                );
            }
            Severity::Record => {
                assert!(outcome.accepted, "{}", rule.id);
                let n_zap = f.finding.context.n_zap.unwrap();
                let refused: Vec<_> = outcome.decisions.iter().filter(|d| d.oplata != 1).collect();
                assert_eq!(refused.len(), 1, "{}", rule.id);
                assert_eq!(refused[0].n_zap, n_zap, "{}", rule.id);
                let s = &refused[0].sanctions[0];
                assert_eq!(
                    (s.s_tip, s.s_osn),
                    (1, rule.reason.unwrap().code),
                    "{}",
                    rule.id
                );
                assert!(s.s_com.contains(rule.id));
            }
            Severity::Warning => {
                assert!(
                    outcome.decisions.iter().all(|d| d.oplata == 1),
                    "{}",
                    rule.id
                );
            }
        }
        let t = &outcome.totals;
        assert_eq!(
            t.summap.checked_add(t.sank_mek),
            Some(t.sumv),
            "{}",
            rule.id
        );
    }
    assert!(
        wrong.is_empty(),
        "rows with other findings:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn an_episode_refusal_is_a_partial_payment() {
    let mut f = fixture();
    // Give case 3 a second episode, with an unknown profile.
    let z = zap(&mut f, 3);
    let mut second = z.case.episodes[0].clone();
    second.sl_id = "second".into();
    second.profil = Some(999);
    z.case.sumv = z.case.sumv.checked_add(second.sum_m).unwrap();
    let added = second.sum_m;
    z.case.episodes.push(second);
    let a = account(&mut f);
    a.summav = a.summav.checked_add(added).unwrap();
    let z = zap(&mut f, 3);
    let second = z.case.episodes[1].sum_m;
    let sumv = z.case.sumv;
    let sl_id = z.case.episodes[1].sl_id.clone();
    let outcome = run(f);
    let d3 = outcome.decisions.iter().find(|d| d.n_zap == 3).unwrap();
    assert_eq!(d3.oplata, 3);
    assert_eq!(d3.sump, sumv.checked_sub(second).unwrap());
    assert_eq!(d3.sanctions[0].sl_id, [sl_id]);
    assert_eq!(d3.sanctions[0].s_sum, second);
    assert_eq!(outcome.totals.partly_paid, 1);
}

#[test]
fn the_catalogue_of_an_older_period_leaves_newer_rules_out() {
    let mut f = fixture();
    zap(&mut f, 1).pacient.enp = None;
    f.options.as_of = Some(d(2020, 6, 1));
    let outcome = run(f);
    assert_eq!(outcome.rules_as_of, d(2020, 6, 1));
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
}

#[test]
fn files_in_either_order_give_the_same_outcome() {
    let mut reversed = fixture();
    let (data, personal): (Vec<Item>, Vec<Item>) = std::mem::take(&mut reversed.items)
        .into_iter()
        .partition(|i| matches!(i, Item::Account(_)));
    reversed.items = personal.into_iter().chain(data).collect();
    pers(&mut reversed, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21").dr = Personal::new(d(1984, 3, 13));
    let mut g = fixture();
    pers(&mut g, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21").dr = Personal::new(d(1984, 3, 13));
    reversed.options.today = d(2026, 11, 1);
    g.options.today = d(2026, 11, 1);
    let a = run(g);
    let b = run(reversed);
    assert_eq!(
        (a.rules_as_of, b.rules_as_of),
        (d(2026, 1, 1), d(2026, 1, 1)),
        "the account's period chooses the catalogue, whichever file comes first"
    );
    assert_eq!(
        a.findings.len(),
        1,
        "the facet of case 1: {:#?}",
        a.findings
    );
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.decisions, b.decisions);
}

#[test]
fn what_is_kept_per_case_stays_small() {
    // 1,000,000 cases keep 56 MB of these, plus their duplicate keys; see docs/RULES.md.
    assert!(std::mem::size_of::<CaseState>() <= 56);
    assert!(std::mem::size_of::<DuplicateKey>() <= 32);
}

/// Every case of the sample refused by `USL_OK` 9 (not in V006).
fn every_case_refused() -> Fixture {
    let mut f = fixture();
    for n in 1..=3 {
        zap(&mut f, n).case.usl_ok = Some(9);
    }
    f
}

#[test]
fn findings_beyond_the_cap_are_counted_in_one_summary_and_every_case_is_still_decided() {
    let all = run(every_case_refused());
    let ids: Vec<&str> = all.findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(ids, ["OMSH.00.0101"; 3], "{:#?}", all.findings);
    assert_eq!(all.findings_dropped, 0);

    let capped = run_capped(every_case_refused(), 1);
    assert_eq!(capped.findings.len(), 2, "{:#?}", capped.findings);
    assert_eq!(
        capped.findings[0], all.findings[0],
        "the first in order is listed"
    );
    let summary = &capped.findings[1];
    assert_eq!(summary.rule.id, catalogue::FINDINGS_CAPPED.id);
    assert_eq!(summary.rule.severity, Severity::Warning);
    assert_eq!(summary.file, FileKind::Data);
    assert_eq!(summary.finding.value.as_deref(), Some("2"));
    assert!(
        summary.finding.message.contains("2 more"),
        "{}",
        summary.finding.message
    );
    assert_eq!(capped.findings_dropped, 2);
    // The decisions do not depend on the cap: all three cases refused, with their reason.
    assert_eq!(capped.decisions, all.decisions);
    assert!(capped.decisions.iter().all(|d| d.oplata == 2));
    assert_eq!(capped.decisions.len(), 3);
    assert_eq!(capped.totals.refused, 3);
    assert_eq!(capped.first_refusal.map(|r| r.id), Some("OMSH.00.0101"));
    assert!(capped.accepted);
}

#[test]
fn a_finding_that_sorts_first_displaces_the_listed_ones_and_refuses_the_account() {
    // SUMMAV is judged at the end, but its line (SCHET) comes before every case: with one
    // finding listed, it is that one, and it refuses the account even so.
    let mut f = every_case_refused();
    account(&mut f).summav = Money::ZERO;
    let capped = run_capped(f, 1);
    let ids: Vec<&str> = capped.findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(
        ids,
        ["003K.00.0130", "OMSH.00.0001"],
        "{:#?}",
        capped.findings
    );
    assert_eq!(capped.findings_dropped, 3);
    assert!(!capped.accepted);
    assert!(capped.decisions.iter().all(|d| d.oplata == 2));
}
