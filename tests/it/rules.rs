//! The business rules over a generated account, against a real database of the test backend:
//! 1,000 cases of which 37 carry known defects (34 written into the files, 3 accepted in an
//! earlier package) yield exactly those 37 refusals with the right rule ids, OPLATA and SUMP;
//! the totals add up; two checks give byte-identical protocols; the fund-to-insurer H file is
//! valid and consistent; and the commands `omshub rules list` and `omshub validate --rules`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use diesel::RunQueryDsl;
use omshub::domain::Money;
use omshub::r#gen::{AccountsOptions, Package, RuleDefect, RuleDefects, write_package};
use omshub::validate::Validator;
use omshub::validate::package::{PackageLimits, PackageReport, check_package_into};
use omshub::validate::records::{self, AccountItem, Item, Zap};
use omshub::validate::rules::{self, FileKind, Outcome, Severity};
use omshub::validate::schema::Limits;

use crate::support::{TestApp, TestDb};

const DEFECTS: &str = "sumv=3,enp=3,facet=3,no-enp=3,duplicate=3,after-period=3,doctor=3,\
                       sex=3,id-pac=3,vidpom=3,setting=2,episode=2";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

fn generate(dir: &Path) -> Package {
    let mut options = AccountsOptions::new(1_000, 2026).unwrap();
    options.rule_defects = RuleDefects::parse(DEFECTS).unwrap();
    write_package(dir, &options).unwrap()
}

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

/// Every ZAP of the H file, typed.
fn zaps(path: &Path) -> Vec<Zap> {
    let mut out = Vec::new();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let file = std::fs::File::open(path).unwrap();
    let (report, _) = records::read(&validator(), &name, file, Limits::default(), |item| {
        if let Item::Account(AccountItem::Record(z)) = item {
            out.push(*z);
        }
    })
    .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    out
}

/// Records three clean cases as accepted in an earlier package; returns their `N_ZAP`.
fn accept_earlier(app: &TestApp, zaps: &[Zap], defective: &BTreeSet<u64>) -> Vec<u64> {
    let key = |z: &Zap| {
        (
            z.pacient.enp.as_ref().map(|e| e.as_str().to_owned()),
            z.case.date_z_1,
            z.case.date_z_2,
        )
    };
    let mut counts: HashMap<_, u32> = HashMap::new();
    for z in zaps {
        *counts.entry(key(z)).or_default() += 1;
    }
    let chosen: Vec<&Zap> = zaps
        .iter()
        .skip(100)
        .step_by(211)
        .filter(|z| !defective.contains(&z.n_zap) && counts[&key(z)] == 1)
        .take(3)
        .collect();
    assert_eq!(chosen.len(), 3);
    let mut conn = app.conn();
    diesel::sql_query(
        "INSERT INTO package (id, sender, channel, file_name, sha256, size_bytes, received_at, \
         status, attempts) VALUES ('earlier-package', '750096', 'api', 'HM750096T75_25121.zip', \
         'ab', 1, '2026-01-05 10:00:00', 'accepted', 1)",
    )
    .execute(&mut *conn)
    .unwrap();
    for (i, z) in chosen.iter().enumerate() {
        diesel::sql_query(format!(
            "INSERT INTO package_case (package_id, attempt, n_zap, idcase, id_pac, enp, code_mo, \
             date_1, date_2, usl_ok, sum_kopecks) VALUES ('earlier-package', 1, {}, {}, '{}', \
             '{}', '{}', '{}', '{}', 3, {})",
            i + 1,
            i + 1,
            z.pacient.id_pac,
            z.pacient.enp.as_ref().unwrap().as_str(),
            z.case.lpu,
            z.case.date_z_1,
            z.case.date_z_2,
            z.case.sumv.kopecks()
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    // A case of a package still being checked does not count.
    diesel::sql_query(
        "INSERT INTO package (id, sender, channel, file_name, sha256, size_bytes, received_at, \
         status, attempts) VALUES ('open-package', '750096', 'api', 'HM750096T75_25122.zip', \
         'cd', 1, '2026-01-06 10:00:00', 'checking', 1)",
    )
    .execute(&mut *conn)
    .unwrap();
    let z = zaps.iter().find(|z| !defective.contains(&z.n_zap)).unwrap();
    diesel::sql_query(format!(
        "INSERT INTO package_case (package_id, attempt, n_zap, idcase, id_pac, enp, code_mo, \
         date_1, date_2, usl_ok, sum_kopecks) VALUES ('open-package', 1, 1, 1, '{}', '{}', '{}', \
         '{}', '{}', 3, 1)",
        z.pacient.id_pac,
        z.pacient.enp.as_ref().unwrap().as_str(),
        z.case.lpu,
        z.case.date_z_1,
        z.case.date_z_2
    ))
    .execute(&mut *conn)
    .unwrap();
    chosen.iter().map(|z| z.n_zap).collect()
}

/// Checks the package's ZIP with the rules of the app's database.
fn check(app: &TestApp, zip: &Path) -> (PackageReport, Outcome) {
    let mut conn = app.conn();
    let mut checker = omshub::settlement::open_checker(
        &mut conn,
        &app.state.lookups,
        rules::Options {
            as_of: None,
            today: today(),
            sender: Some("750096".into()),
        },
        None,
    )
    .unwrap();
    let name = zip.file_name().unwrap().to_string_lossy().into_owned();
    let file = std::fs::File::open(zip).unwrap();
    let mut feed = |item: Item| checker.item(&item);
    let report = check_package_into(
        &validator(),
        &name,
        file,
        &PackageLimits::default(),
        Some(&mut feed),
    )
    .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    (report, checker.finish(0))
}

fn protocol(report: &PackageReport, outcome: &Outcome) -> Vec<u8> {
    let data: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.file == FileKind::Data)
        .cloned()
        .collect();
    omshub::validate::protocol::write_flk_with_rules(&report.files[0], &data)
}

#[test]
fn a_generated_account_yields_exactly_its_37_refusals() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path());
    let [h, _, zip] = &package.files;
    assert_eq!(package.rule_defects.len(), 34);
    let zaps = zaps(&h.path);
    let defective: BTreeSet<u64> = package.rule_defects.iter().map(|(n, _)| *n).collect();
    // The case a duplicate repeats shares its key too: keep it out of the earlier package.
    let paid_before = accept_earlier(&app, &zaps, &defective);

    let mut expected: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for (n_zap, kind) in &package.rule_defects {
        expected.insert(*n_zap, kind.rules().iter().copied().collect());
    }
    for n_zap in &paid_before {
        expected.insert(*n_zap, BTreeSet::from(["OMSH.00.0701"]));
    }
    assert_eq!(expected.len(), 37);

    let (report, outcome) = check(&app, &zip.path);
    assert!(outcome.accepted, "no finding refuses the account");
    assert_eq!(
        outcome.rules_as_of,
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    );
    let mut found: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for f in &outcome.findings {
        assert_eq!(f.rule.severity, Severity::Record, "{f:?}");
        found
            .entry(f.finding.context.n_zap.unwrap())
            .or_default()
            .insert(f.rule.id);
    }
    assert_eq!(found, expected);

    // Decisions: OPLATA and SUMP per case.
    let by_n_zap: HashMap<u64, &Zap> = zaps.iter().map(|z| (z.n_zap, z)).collect();
    let kinds: HashMap<u64, RuleDefect> = package.rule_defects.iter().copied().collect();
    assert_eq!(outcome.decisions.len(), 1_000);
    for d in &outcome.decisions {
        let z = by_n_zap[&d.n_zap];
        assert_eq!(d.sumv, z.case.sumv);
        let (oplata, sump) = match (kinds.get(&d.n_zap), expected.contains_key(&d.n_zap)) {
            (Some(RuleDefect::Episode), _) => {
                let second = z.case.episodes[1].sum_m;
                (3, z.case.sumv.checked_sub(second).unwrap())
            }
            (_, true) => (2, Money::ZERO),
            (_, false) => (1, z.case.sumv),
        };
        assert_eq!((d.oplata, d.sump), (oplata, sump), "N_ZAP {}", d.n_zap);
        if oplata != 1 {
            let s = &d.sanctions[0];
            assert_eq!(s.s_tip, 1);
            assert_eq!(s.s_sum, z.case.sumv.checked_sub(sump).unwrap());
            assert!(s.s_osn >= 500, "an F014 reason: {}", s.s_osn);
        }
    }

    // Totals add up.
    let t = &outcome.totals;
    assert_eq!(
        (t.cases, t.paid, t.partly_paid, t.refused),
        (1_000, 963, 2, 35)
    );
    assert_eq!(t.summav, package.total);
    assert_eq!(t.sumv, package.total);
    let summap = Money::checked_sum(outcome.decisions.iter().map(|d| d.sump)).unwrap();
    assert_eq!(t.summap, summap);
    assert_eq!(t.summap.checked_add(t.sank_mek), Some(t.summav));

    // The same account checked again: the same protocol, byte for byte, valid FLK_P.
    let first = protocol(&report, &outcome);
    let (report2, outcome2) = check(&app, &zip.path);
    assert_eq!(first, protocol(&report2, &outcome2));
    let checked = validator()
        .check_file("VHM750096T75_26011.xml", &first[..], Limits::default())
        .unwrap();
    assert!(checked.accepted, "{:#?}", checked.findings);
    assert_eq!(
        checked.records,
        u64::try_from(outcome.findings.len()).unwrap()
    );
    let text = encoding_rs::WINDOWS_1251.decode(&first).0.into_owned();
    assert!(text.contains("<OSHIB>003K.00.0410</OSHIB>"), "{text}");
    assert!(text.contains("<OSHIB>H_0600/05500</OSHIB>"), "{text}");

    assert_stored(&app, [&outcome2, &outcome], &expected, &package);
}

/// The decisions of the check stored for settlement (the second store replaces the first),
/// read back.
fn assert_stored(
    app: &TestApp,
    outcomes: [&Outcome; 2],
    expected: &BTreeMap<u64, BTreeSet<&str>>,
    package: &Package,
) {
    let outcome = outcomes[1];
    let t = &outcome.totals;
    let mut conn = app.conn();
    diesel::sql_query(
        "INSERT INTO package (id, sender, channel, file_name, sha256, size_bytes, received_at, \
         status, attempts) VALUES ('checked-package', '750096', 'api', 'HM750096T75_26011.zip', \
         'ef', 1, '2026-02-05 10:00:00', 'partly_accepted', 1)",
    )
    .execute(&mut *conn)
    .unwrap();
    let at = NaiveDate::from_ymd_opt(2026, 2, 5)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    for o in outcomes {
        assert!(omshub::settlement::store_decisions(&mut conn, "checked-package", o, at).unwrap());
    }
    let (account, cases) = omshub::settlement::load_decisions(&mut conn, "checked-package")
        .unwrap()
        .unwrap();
    assert_eq!(
        (account.territory.as_str(), account.period.as_str()),
        ("75", "2026-01")
    );
    assert_eq!(account.summap, t.summap.kopecks());
    assert_eq!(account.sank_mek, t.sank_mek.kopecks());
    assert_eq!(
        (account.paid, account.partly_paid, account.refused),
        (963, 2, 35)
    );
    assert_eq!(cases.len(), 1_000);
    assert_eq!(
        cases.iter().map(|c| c.sump).sum::<i64>(),
        t.summap.kopecks()
    );
    for c in &cases {
        let n_zap = u64::try_from(c.n_zap).unwrap();
        match expected.get(&n_zap) {
            None => assert_eq!((c.oplata, c.rules.as_deref()), (1, None)),
            Some(ids) => {
                let stored: BTreeSet<&str> = c.rules.as_deref().unwrap().split(' ').collect();
                assert_eq!(&stored, ids, "N_ZAP {n_zap}");
                assert_eq!(c.sank, c.sumv - c.sump);
            }
        }
    }
    // Episode refusals name their episodes: the second one of `episode`, the only one of
    // `doctor` (which so refuses the whole case).
    let with_episodes: BTreeSet<u64> = cases
        .iter()
        .filter(|c| c.sl_ids.is_some())
        .map(|c| u64::try_from(c.n_zap).unwrap())
        .collect();
    let episode_kinds: BTreeSet<u64> = package
        .rule_defects
        .iter()
        .filter(|(_, k)| matches!(k, RuleDefect::Episode | RuleDefect::Doctor))
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(with_episodes, episode_kinds);
}

#[test]
fn the_insurer_file_carries_the_decisions_and_is_valid() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path());
    let [h, _, zip] = &package.files;
    let (_, outcome) = check(&app, &zip.path);
    let name = "HT75T75_26011";
    let out = dir.path().join(format!("{name}.xml"));
    let exported = rules::export::write_insurer_file(
        std::fs::File::open(&h.path).unwrap(),
        std::fs::File::create(&out).unwrap(),
        &outcome,
        name,
    )
    .unwrap();
    assert_eq!((exported.records, exported.left_out), (1_000, 0));
    // Valid H 3.2, and its decisions read back as the checker made them.
    let mut decisions = Vec::new();
    let mut schet = None;
    let (report, _) = records::read(
        &validator(),
        &format!("{name}.xml"),
        std::fs::File::open(&out).unwrap(),
        Limits::default(),
        |item| match item {
            Item::Account(AccountItem::Account(a)) => schet = Some(a),
            Item::Account(AccountItem::Record(z)) => {
                decisions.push((z.n_zap, z.case.oplata, z.case.sump, z.case.sank.len()));
            }
            _ => {}
        },
    )
    .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    let schet = schet.unwrap();
    assert_eq!(schet.summap, Some(outcome.totals.summap));
    assert_eq!(schet.sank_mek, Some(outcome.totals.sank_mek));
    for (d, (n_zap, oplata, sump, sank)) in outcome.decisions.iter().zip(&decisions) {
        assert_eq!(d.n_zap, *n_zap);
        assert_eq!(Some(d.oplata), *oplata);
        assert_eq!(Some(d.sump), *sump);
        assert_eq!(d.sanctions.len(), *sank);
    }
    // The rules over the exported file find its sums consistent.
    let mut checker = rules::Checker::new(
        rules::Sources {
            classifiers: app.state.lookups.nsi(),
            registers: None,
            prior: None,
            policies: None,
        },
        rules::Options {
            as_of: None,
            today: today(),
            sender: None,
        },
    );
    let (_, _) = records::read(
        &validator(),
        &format!("{name}.xml"),
        std::fs::File::open(&out).unwrap(),
        Limits::default(),
        |item| checker.item(&item),
    )
    .unwrap();
    let again = checker.finish(0);
    for id in [
        "003K.00.0120",
        "003K.00.0130",
        "003K.00.0140",
        "OMSH.00.0301",
    ] {
        assert!(
            again.findings.iter().all(|f| f.rule.id != id),
            "{id}: {:#?}",
            again.findings
        );
    }
}

fn omshub(args: &[&str], db: &TestDb) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args(args)
        .env("OMSHUB__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_commands_list_the_catalogue_and_check_with_the_rules() {
    let db = TestDb::new();
    let (code, stdout, stderr) = omshub(&["rules", "list"], &db);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("003K.00.0130") && stdout.contains("H_0500/03101"),
        "{stdout}"
    );
    let (_, older, _) = omshub(&["rules", "list", "--as-of", "2020-06-01"], &db);
    assert!(
        older.contains("003K.00.0130") && !older.contains("H_0500/03101"),
        "{older}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(50, 5).unwrap();
    options.rule_defects = RuleDefects::parse("no-enp=1,sumv=1").unwrap();
    let package = write_package(dir.path(), &options).unwrap();
    let zip = package.files[2].path.to_str().unwrap().to_owned();
    let (code, stdout, stderr) = omshub(&["validate", "--rules", "--format", "json", &zip], &db);
    assert_eq!(
        code,
        Some(0),
        "partly refused cases do not refuse the account: {stdout}{stderr}"
    );
    let rules_line: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v.get("rules_for").is_some())
        .unwrap();
    let ids: BTreeSet<&str> = rules_line["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["H_0500/03101", "H_0600/05500"]));
    assert_eq!(rules_line["totals"]["refused"], 2);
    // Under the catalogue of 2020 the ENP rule is not in force yet.
    let (_, stdout, _) = omshub(
        &[
            "validate",
            "--rules-as-of",
            "2020-06-01",
            "--format",
            "json",
            &zip,
        ],
        &db,
    );
    assert!(!stdout.contains("H_0500/03101"), "{stdout}");
    assert!(stdout.contains("H_0600/05500"), "{stdout}");
}

#[test]
fn the_rules_protocol_and_the_insurer_file_of_a_small_account() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(4, 11).unwrap();
    options.rule_defects = RuleDefects::parse("sumv=1").unwrap();
    let package = write_package(dir.path(), &options).unwrap();
    let [h, _, zip] = &package.files;
    let (report, outcome) = check(&app, &zip.path);
    let flk = encoding_rs::WINDOWS_1251
        .decode(&protocol(&report, &outcome))
        .0
        .into_owned();
    insta::assert_snapshot!("rules_flk_p_sumv", flk);
    let mut exported = Vec::new();
    rules::export::write_insurer_file(
        std::fs::File::open(&h.path).unwrap(),
        &mut exported,
        &outcome,
        "HT75T75_26011",
    )
    .unwrap();
    let checked = validator()
        .check_file("HT75T75_26011.xml", &exported[..], Limits::default())
        .unwrap();
    assert!(checked.accepted, "{:#?}", checked.findings);
    let text = encoding_rs::WINDOWS_1251.decode(&exported).0.into_owned();
    insta::assert_snapshot!("rules_insurer_file_sumv", text);
}

#[test]
fn a_case_refused_before_may_come_again() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let package = write_package(dir.path(), &AccountsOptions::new(6, 3).unwrap()).unwrap();
    let [h, _, zip] = &package.files;
    let zaps = zaps(&h.path);
    let mut conn = app.conn();
    diesel::sql_query(
        "INSERT INTO package (id, sender, channel, file_name, sha256, size_bytes, received_at, \
         status, attempts) VALUES ('earlier', '750096', 'api', 'HM750096T75_25121.zip', 'ab', \
         1, '2026-01-05 10:00:00', 'partly_accepted', 1)",
    )
    .execute(&mut *conn)
    .unwrap();
    for z in &zaps[..2] {
        diesel::sql_query(format!(
            "INSERT INTO package_case (package_id, attempt, n_zap, idcase, id_pac, enp, code_mo, \
             date_1, date_2, usl_ok, sum_kopecks) VALUES ('earlier', 1, {}, {}, '{}', '{}', \
             '{}', '{}', '{}', 3, 1)",
            z.n_zap,
            z.case.idcase,
            z.pacient.id_pac,
            z.pacient.enp.as_ref().unwrap().as_str(),
            z.case.lpu,
            z.case.date_z_1,
            z.case.date_z_2
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    // The earlier check refused the second case (OPLATA 2): it was not paid.
    diesel::sql_query(
        "INSERT INTO account_decision (package_id, territory, period, code_mo, plat, nschet, \
         rules_as_of, decided_at, accepted, summav, summap, sank_mek, cases, paid, partly_paid, \
         refused) VALUES ('earlier', '75', '2025-12', '750096', '75', '1', '2025-12-01', \
         '2026-01-05 10:00:00', 1, 2, 1, 1, 2, 1, 0, 1)",
    )
    .execute(&mut *conn)
    .unwrap();
    for (n, oplata) in [(zaps[0].n_zap, 1), (zaps[1].n_zap, 2)] {
        diesel::sql_query(format!(
            "INSERT INTO case_decision (package_id, territory, period, n_zap, idcase, oplata, \
             sumv, sump, sank, mtr) VALUES ('earlier', '75', '2025-12', {n}, {n}, {oplata}, 1, \
             {}, {}, 0)",
            i32::from(oplata == 1),
            i32::from(oplata == 2)
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    drop(conn);
    let (_, outcome) = check(&app, &zip.path);
    let paid_before: Vec<u64> = outcome
        .findings
        .iter()
        .filter(|f| f.rule.id == "OMSH.00.0701")
        .map(|f| f.finding.context.n_zap.unwrap())
        .collect();
    assert_eq!(paid_before, [zaps[0].n_zap]);
    assert_eq!(outcome.findings.len(), 1, "{:#?}", outcome.findings);
}
