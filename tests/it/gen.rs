//! `omshub gen accounts`: the generated H and L files pass the schema check, injected defects
//! come back as exactly their findings, the same seed gives the same bytes, the ZIP holds the
//! pair, and the sums add up.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use omshub::domain::Money;
use omshub::r#gen::{AccountsOptions, Defects, Package, write_package};
use omshub::validate::schema::Limits;
use omshub::validate::{FileReport, Validator};

fn generate(dir: &Path, cases: u64, seed: u64, defects: &str) -> Package {
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.defects = Defects::parse(defects).unwrap();
    write_package(dir, &options).unwrap()
}

fn check(path: &Path) -> FileReport {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    Validator::new(omshub::xml::schemas::ALL)
        .unwrap()
        .check_file(&name, std::fs::File::open(path).unwrap(), Limits::default())
        .unwrap()
}

fn text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad);
    text.into_owned()
}

/// The text of every `<name>` element, in order.
fn values(text: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    text.match_indices(&open)
        .map(|(at, _)| {
            let rest = &text[at + open.len()..];
            rest[..rest.find(&close).unwrap()].to_owned()
        })
        .collect()
}

fn money(s: &str) -> i64 {
    Money::parse(s).unwrap().kopecks()
}

#[test]
fn generated_files_without_defects_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 300, 11, "");
    let [h, l, _] = &package.files;
    for file in [h, l] {
        let report = check(&file.path);
        assert!(report.accepted, "{}: {:#?}", file, report.findings);
        assert_eq!(report.records, file.records);
        assert_eq!(report.version, "3.2");
    }
    assert_eq!(h.records, 300);
    assert!(l.records > 100 && l.records <= 300, "{}", l.records);
    let h_text = text(&h.path);
    let l_text = text(&l.path);
    assert!(h_text.starts_with("<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    assert_eq!(values(&h_text, "SD_Z"), ["300"]);
    assert_eq!(values(&l_text, "FILENAME1"), ["HM750096T75_26011"]);
    // Every ID_PAC of H is in L and vice versa; L lists each once.
    let in_h: BTreeSet<String> = values(&h_text, "ID_PAC").into_iter().collect();
    let in_l_list = values(&l_text, "ID_PAC");
    let in_l: BTreeSet<String> = in_l_list.iter().cloned().collect();
    assert_eq!(in_l.len(), in_l_list.len());
    assert_eq!(in_h, in_l);
    // ENP agrees with birth date and sex of the L file.
    let enps = values(&h_text, "ENP");
    assert_eq!(enps.len(), 300);
    for enp in &enps {
        omshub::domain::Enp::parse(enp).unwrap();
    }
    for snils in values(&l_text, "SNILS") {
        omshub::domain::Snils::parse(&snils).unwrap();
    }
}

#[test]
fn sums_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 200, 5, "");
    let h_text = text(&package.files[0].path);
    let summav = money(&values(&h_text, "SUMMAV")[0]);
    let sumv: i64 = values(&h_text, "SUMV").iter().map(|s| money(s)).sum();
    assert_eq!(summav, sumv);
    assert_eq!(summav, package.total.kopecks());
    // Within each case: SUMV = Σ SUM_M, and within each SL: SUM_M = Σ SUMV_USL.
    for zap in h_text.split("<ZAP>").skip(1) {
        let sumv = money(&values(zap, "SUMV")[0]);
        let mut sum_m_total = 0;
        for sl in zap.split("<SL>").skip(1) {
            let sum_m = money(&values(sl, "SUM_M")[0]);
            let usl: i64 = values(sl, "SUMV_USL").iter().map(|s| money(s)).sum();
            assert_eq!(sum_m, usl);
            sum_m_total += sum_m;
        }
        assert_eq!(sumv, sum_m_total);
    }
}

#[test]
fn injected_defects_are_exactly_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 250, 3, "902=3,905=2");
    assert_eq!(package.files[0].defects.to_string(), "902=3 905=2");
    let report = check(&package.files[0].path);
    assert!(!report.accepted);
    let count = |code| report.findings.iter().filter(|f| f.code == code).count();
    assert_eq!(count(902), 3, "{:#?}", report.findings);
    assert_eq!(count(905), 2, "{:#?}", report.findings);
    assert_eq!(report.findings.len(), 5, "{:#?}", report.findings);
    assert_eq!(report.refused_records, 5);
    assert!(check(&package.files[1].path).accepted);
}

#[test]
fn every_defect_kind_gives_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 100, 8, "901=2,902=1,903=2,904=1,905=1");
    let report = check(&package.files[0].path);
    let codes: Vec<u16> = report.findings.iter().map(|f| f.code).collect();
    for (code, n) in [(901, 2), (902, 1), (903, 2), (904, 1), (905, 1)] {
        assert_eq!(
            codes.iter().filter(|c| **c == code).count(),
            n,
            "{code}: {:#?}",
            report.findings
        );
    }
    assert_eq!(report.refused_records, 7);
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let first = generate(dirs[0].path(), 150, 42, "903=2");
    let again = generate(dirs[1].path(), 150, 42, "903=2");
    let other = generate(dirs[2].path(), 150, 43, "903=2");
    for i in 0..3 {
        let bytes = std::fs::read(&first.files[i].path).unwrap();
        assert!(
            bytes == std::fs::read(&again.files[i].path).unwrap(),
            "{} differs",
            first.files[i]
        );
        assert_ne!(bytes, std::fs::read(&other.files[i].path).unwrap());
    }
}

#[test]
fn the_zip_holds_exactly_the_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 120, 2, "");
    let [h, l, zip] = &package.files;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip.path).unwrap()).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["HM750096T75_26011.xml", "LM750096T75_26011.xml"]);
    for file in [h, l] {
        let name = file.path.file_name().unwrap().to_str().unwrap();
        let mut inner = archive.by_name(name).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut inner, &mut bytes).unwrap();
        assert_eq!(bytes, std::fs::read(&file.path).unwrap());
    }
}

#[test]
fn the_command_prints_a_line_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args(["gen", "accounts", "--cases", "40", "--seed", "9"])
        .args(["--defects", "904=2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("HM750096T75_26011.xml: 40 records, "),
        "{stdout}"
    );
    assert!(lines[0].ends_with("defects 904=2"), "{stdout}");
    assert!(lines[1].starts_with("LM750096T75_26011.xml: "), "{stdout}");
    assert!(
        lines[2].starts_with("HM750096T75_26011.zip: 2 files, "),
        "{stdout}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args([
            "gen",
            "accounts",
            "--cases",
            "2",
            "--defects",
            "909=1",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

fn check_with(path: &Path, pipelined: bool) -> FileReport {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let limits = Limits {
        pipelined,
        ..Limits::default()
    };
    Validator::new(omshub::xml::schemas::ALL)
        .unwrap()
        .check_file(&name, std::fs::File::open(path).unwrap(), limits)
        .unwrap()
}

#[test]
fn the_two_thread_check_finds_exactly_what_the_one_thread_check_finds() {
    // 3,000 cases are some 300,000 events: dozens of batches between the two threads.
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 3_000, 11, "901=40,902=40,903=40,904=40,905=40");
    for file in &package.files {
        let one = check_with(&file.path, false);
        let two = check_with(&file.path, true);
        assert_eq!(one.findings, two.findings);
        assert_eq!(
            (one.records, one.refused_records, one.findings_dropped),
            (two.records, two.refused_records, two.findings_dropped)
        );
    }
    let h = check_with(&package.files[0].path, true);
    assert_eq!(h.findings.len(), 200, "{:#?}", h.findings);
}
