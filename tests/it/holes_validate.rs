//! Issue 21, the holes of validation, the XML reader and the business rules: rule findings
//! under a cap with a summary while every case is still decided (point 4); a file whose root
//! is not the one its name announces (point 5); archive and reader looseness, each refused as
//! malformed (point 10); no "person without a case" warning for a patient whose case the
//! schema check refused (point 15).

use std::io::{Cursor, Write as _};
use std::path::Path;
use std::process::Command;

use actix_web::test::TestRequest;
use omshub::r#gen::{AccountsOptions, Defects, RuleDefects, write_package};
use omshub::validate::package::{PackageLimits, PackageReport, check_package, check_package_into};
use omshub::validate::records::Item;
use omshub::validate::rules::{self, Outcome};
use omshub::validate::schema::Limits;
use omshub::validate::{FileReport, Validator};
use serde_json::Value;
use zip::write::SimpleFileOptions;

use crate::support::{READER_TOKEN, TestApp, TestResponse};

const PERSON_WITHOUT_CASE: &str = "OMSH.00.0505";

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

fn check_bytes(name: &str, bytes: &[u8]) -> FileReport {
    validator()
        .check_file(name, bytes, Limits::default())
        .unwrap()
}

fn cp1251(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1251.encode(text).0.into_owned()
}

fn decode(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned()
}

/// The valid H 3.2 sample, as text.
fn sample_h() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/xml/zl_list/3.2/HM750096T75_2601001.xml");
    decode(&std::fs::read(path).unwrap())
}

/// A ZIP of `entries` (name, bytes), deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A generated package (H, L, ZIP) in `dir`: `cases` cases, schema `defects`, rule defects.
fn generate(dir: &Path, cases: u64, defects: &str, rule_defects: &str) -> [Vec<u8>; 3] {
    generate_with_seed(dir, cases, 21, defects, rule_defects)
}

fn generate_with_seed(
    dir: &Path,
    cases: u64,
    seed: u64,
    defects: &str,
    rule_defects: &str,
) -> [Vec<u8>; 3] {
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.defects = Defects::parse(defects).unwrap();
    options.rule_defects = RuleDefects::parse(rule_defects).unwrap();
    let written = write_package(dir, &options).unwrap();
    written.files.map(|f| std::fs::read(&f.path).unwrap())
}

const H: &str = "HM750096T75_26011.xml";
const L: &str = "LM750096T75_26011.xml";
const ZIP: &str = "HM750096T75_26011.zip";

fn omshub(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args(args)
        .env_remove("OMSHUB__DATABASE__URL")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn upload(app: &TestApp, name: &str, bytes: &[u8]) -> String {
    let res = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/packages?name={name}"))
                .insert_header(("Authorization", format!("Bearer {READER_TOKEN}")))
                .insert_header(("Content-Type", "application/zip"))
                .set_payload(bytes.to_vec()),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.text());
    let receipt: Value = res.json();
    receipt["id"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.call(
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {READER_TOKEN}"))),
    )
    .await
}

fn drain(app: &TestApp) {
    while app.state.intake.process_next().unwrap() {}
}

// Point 4: rule findings under a cap.

#[actix_web::test]
async fn rule_findings_beyond_max_findings_are_one_summary_and_every_case_is_still_decided() {
    let app = TestApp::spawn_with(|s| s.intake.max_findings = 5);
    let dir = tempfile::tempdir().unwrap();
    let [_, _, zip] = generate(dir.path(), 60, "", "sumv=20");
    let id = upload(&app, ZIP, &zip).await;
    drain(&app);

    let status: Value = get(&app, &format!("/api/v1/packages/{id}")).await.json();
    assert_eq!(status["status"], "partly_accepted", "{status}");
    assert_eq!(status["refused_records"], 20, "{status}");
    assert_eq!(status["refusal_code"], "804", "{status}");
    assert_eq!(status["refusal_reason"], "H_0600/05500", "{status}");

    let protocol = get(&app, &format!("/api/v1/packages/{id}/protocol")).await;
    assert_eq!(protocol.status, 200);
    let xml = decode(&protocol.body);
    assert_eq!(
        xml.matches("<PR>").count(),
        6,
        "the cap (5) and the summary\n{xml}"
    );
    assert_eq!(
        xml.matches("<OSHIB>H_0600/05500</OSHIB>").count(),
        5,
        "{xml}"
    );
    assert!(
        xml.contains("<OSHIB>OMSH.00.0001</OSHIB>\n    <ZN_POL>15</ZN_POL>"),
        "the summary counts the 15 not listed\n{xml}"
    );

    // Every case is decided, the 20 refused ones included.
    let (account, cases) = omshub::settlement::load_decisions(&mut app.conn(), &id)
        .unwrap()
        .expect("decisions stored");
    assert_eq!((account.cases, account.refused), (60, 20));
    assert_eq!(cases.len(), 60);
    assert_eq!(cases.iter().filter(|c| c.oplata == 2).count(), 20);
}

// Point 5: the root a file's name announces.

#[test]
fn an_l_file_holding_an_account_is_refused_as_901_wrong_root_by_omshub_validate() {
    let dir = tempfile::tempdir().unwrap();
    let [h, _, _] = generate(dir.path(), 5, "", "");
    let path = dir.path().join("wrong").join(L);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &h).unwrap();
    let path = path.to_str().unwrap();

    let (code, stdout, stderr) = omshub(&["validate", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("accepted"), "{stdout}");
    assert!(stdout.contains("[901]"), "{stdout}");

    let (code, stdout, _) = omshub(&["validate", "--format", "json", path]);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["accepted"], false, "{report}");
    assert_eq!(report["schema"], Value::Null, "{report}");
    assert_eq!(report["findings"][0]["code"], "901", "{report}");
    assert_eq!(report["findings"][0]["reason"], "wrong_root", "{report}");
    assert_eq!(report["findings"][0]["element"], "ZL_LIST", "{report}");

    // And the other way: an H file holding personal data.
    let l = std::fs::read(dir.path().join(L)).unwrap();
    let report = check_bytes(H, &l);
    assert!(!report.accepted);
    assert_eq!(
        (report.findings[0].code, report.findings[0].reason),
        (901, Some("wrong_root"))
    );
}

#[actix_web::test]
async fn a_package_whose_l_file_holds_the_account_ends_rejected_with_a_protocol() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let [h, _, _] = generate(dir.path(), 20, "", "");
    let zip = zip_of(&[(H, &h), (L, &h)]);
    let id = upload(&app, ZIP, &zip).await;
    drain(&app);

    let status: Value = get(&app, &format!("/api/v1/packages/{id}")).await.json();
    assert_eq!(status["status"], "rejected", "{status}");
    assert_eq!(status["refusal_code"], "901", "{status}");
    assert_eq!(status["refusal_reason"], "wrong_root", "{status}");
    assert_eq!(status["attempts"], 1, "{status}");
    let protocol = get(&app, &format!("/api/v1/packages/{id}/protocol")).await;
    assert_eq!(protocol.status, 200, "{}", protocol.text());
}

// Point 10: looseness of the archive and of the reader, each refused as malformed.

/// The sample with `edit` applied, checked under `name`: the first finding's code and reason.
fn first_finding(name: &str, bytes: &[u8]) -> (u16, Option<&'static str>, String) {
    let report = check_bytes(name, bytes);
    assert!(!report.accepted, "{name}: accepted");
    let f = &report.findings[0];
    (f.code, f.reason, f.message.clone())
}

#[test]
fn a_doctype_is_refused_as_901_dtd_whatever_it_declares() {
    let h = sample_h();
    let cases = [
        (
            "an entity the version is made of",
            h.replacen(
                "<ZL_LIST>",
                "<!DOCTYPE ZL_LIST [<!ENTITY v \"3.2\">]>\n<ZL_LIST>",
                1,
            )
            .replacen("<VERSION>3.2</VERSION>", "<VERSION>&v;</VERSION>", 1),
        ),
        (
            "an external DTD",
            h.replacen(
                "<ZL_LIST>",
                "<!DOCTYPE ZL_LIST SYSTEM \"http://127.0.0.1/x.dtd\">\n<ZL_LIST>",
                1,
            ),
        ),
        (
            "a version inside the DTD",
            h.replacen(
                "<ZL_LIST>",
                "<!DOCTYPE ZL_LIST [<!ENTITY v \"<VERSION>9.9</VERSION>\">]>\n<ZL_LIST>",
                1,
            ),
        ),
    ];
    for (what, text) in cases {
        let (code, reason, message) = first_finding("HM750096T75_2601001.xml", &cp1251(&text));
        assert_eq!((code, reason), (901, Some("dtd")), "{what}: {message}");
    }
}

#[test]
fn a_nul_byte_is_refused_as_901_not_well_formed_wherever_it_is() {
    let h = sample_h();
    // A comment that puts what follows beyond the 64 KiB read before the check.
    let far = format!("<!--{}-->", " ".repeat(70 * 1024));
    let cases = [
        (
            "in the version",
            h.replacen("<VERSION>3.2</VERSION>", "<VERSION>3.2\0</VERSION>", 1),
        ),
        ("in a tag name", h.replacen("<SCHET>", "<SCH\0ET>", 1)),
        (
            "in a value",
            h.replacen(
                "<NSCHET>0001-01/26</NSCHET>",
                "<NSCHET>0001\0-01</NSCHET>",
                1,
            ),
        ),
        (
            "past the first 64 KiB",
            h.replacen("<SCHET>", &format!("{far}<SCHET>"), 1).replacen(
                "<NSCHET>0001-01/26</NSCHET>",
                "<NSCHET>0001\0-01</NSCHET>",
                1,
            ),
        ),
        (
            "another control character",
            h.replacen(
                "<NSCHET>0001-01/26</NSCHET>",
                "<NSCHET>0001\u{1}-01</NSCHET>",
                1,
            ),
        ),
    ];
    for (what, text) in cases {
        let (code, reason, message) = first_finding("HM750096T75_2601001.xml", &cp1251(&text));
        assert_eq!(
            (code, reason),
            (901, Some("not_well_formed")),
            "{what}: {message}"
        );
        assert!(message.contains("U+00"), "{what}: {message}");
    }
}

#[test]
fn a_repeated_or_malformed_attribute_is_refused_as_901_not_well_formed() {
    let h = sample_h();
    let cases = [
        (
            "repeated on the root",
            h.replacen("<ZL_LIST>", "<ZL_LIST a=\"1\" a=\"2\">", 1),
        ),
        (
            "repeated deeper",
            h.replacen("<SCHET>", "<SCHET x='1' x='1'>", 1),
        ),
        ("without a value", h.replacen("<SCHET>", "<SCHET x>", 1)),
    ];
    for (what, text) in cases {
        let (code, reason, message) = first_finding("HM750096T75_2601001.xml", &cp1251(&text));
        assert_eq!(
            (code, reason),
            (901, Some("not_well_formed")),
            "{what}: {message}"
        );
    }
}

#[test]
fn an_xml_declaration_not_of_xml_1_is_refused_as_901_not_well_formed() {
    let h = sample_h();
    let cases = [
        (
            "version 2.0",
            h.replacen("version=\"1.0\"", "version=\"2.0\"", 1),
        ),
        (
            "version 1",
            h.replacen("version=\"1.0\"", "version=\"1\"", 1),
        ),
        (
            "no version",
            h.replacen("version=\"1.0\" encoding", "encoding", 1),
        ),
    ];
    for (what, text) in cases {
        let (code, reason, message) = first_finding("HM750096T75_2601001.xml", &cp1251(&text));
        assert_eq!(
            (code, reason),
            (901, Some("not_well_formed")),
            "{what}: {message}"
        );
    }
    // 1.0 and 1.1 stay XML 1.0 documents.
    let report = check_bytes(
        "HM750096T75_2601001.xml",
        &cp1251(&h.replacen("version=\"1.0\"", "version=\"1.1\"", 1)),
    );
    assert!(report.accepted, "{:#?}", report.findings);
}

/// `zip` with the local header's name of `entry` replaced by `local` (of the same length).
fn with_local_name(zip: &[u8], entry: &str, local: &str) -> Vec<u8> {
    assert_eq!(entry.len(), local.len());
    let mut out = zip.to_vec();
    // The first occurrence is the local header's: local headers precede the directory.
    let at = out
        .windows(entry.len())
        .position(|w| w == entry.as_bytes())
        .unwrap();
    assert_eq!(&out[at - 30..at - 26], b"PK\x03\x04");
    out[at..at + entry.len()].copy_from_slice(local.as_bytes());
    out
}

#[test]
fn a_zip_entry_whose_local_name_differs_from_its_central_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let [h, l, _] = generate(dir.path(), 5, "", "");
    let zip = zip_of(&[(H, &h), (L, &l)]);
    let clean = check_package(
        &validator(),
        ZIP,
        Cursor::new(&zip),
        &PackageLimits::default(),
    )
    .unwrap();
    assert!(clean.accepted, "{:#?}", clean.findings);

    let traversal = format!("../../{}.xml", "e".repeat(L.len() - 10));
    for (what, entry, local) in [
        ("a path out of the archive", L, traversal.as_str()),
        ("another file's name", H, "HM750096T75_26019.xml"),
    ] {
        let forged = with_local_name(&zip, entry, local);
        let report: PackageReport = check_package(
            &validator(),
            ZIP,
            Cursor::new(&forged),
            &PackageLimits::default(),
        )
        .unwrap();
        assert!(!report.accepted, "{what}");
        let f = &report.findings[0];
        assert_eq!(
            (f.code, f.reason),
            (801, Some("local_name_mismatch")),
            "{what}: {:#?}",
            report.findings
        );
        assert!(report.files.is_empty(), "{what}: no file is read");
    }
}

// Point 15: a person whose case the schema refused has a case.

/// The rules over the package `zip` (named [`ZIP`]) with the classifiers of the app's database.
fn rules_over(app: &TestApp, zip: &[u8]) -> (PackageReport, Outcome) {
    let mut checker = omshub::settlement::open_checker(
        &mut app.conn(),
        &app.state.lookups,
        rules::Options {
            as_of: None,
            today: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            sender: None,
        },
        None,
    )
    .unwrap();
    let mut feed = |item: Item| checker.item(&item);
    let report = check_package_into(
        &validator(),
        ZIP,
        Cursor::new(zip),
        &PackageLimits::default(),
        Some(&mut feed),
    )
    .unwrap();
    let refused = report.files.first().map_or(0, |f| f.refused_records);
    (report, checker.finish(refused))
}

fn persons_without_case(outcome: &Outcome) -> Vec<String> {
    outcome
        .findings
        .iter()
        .filter(|f| f.rule.id == PERSON_WITHOUT_CASE)
        .map(|f| f.finding.value.clone().unwrap_or_default())
        .collect()
}

#[test]
fn a_patient_whose_only_case_the_schema_refused_is_no_person_without_a_case() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    // Seed 1: each of the five refused cases is its patient's only case (as `omshub gen
    // accounts --cases 100 --defects 901=1,902=1,903=1,904=1,905=1` writes them).
    let [_, _, zip] = generate_with_seed(dir.path(), 100, 1, "901=1,902=1,903=1,904=1,905=1", "");
    let (report, outcome) = rules_over(&app, &zip);
    assert_eq!(report.files[0].refused_records, 5, "{:#?}", report.files[0]);
    assert_eq!(persons_without_case(&outcome), Vec::<String>::new());

    // A PERS of nobody's case is still one.
    let [h, l, _] = generate(dir.path(), 100, "", "");
    let text = decode(&l);
    let start = text.find("<PERS>").unwrap();
    let end = text.find("</PERS>").unwrap() + "</PERS>".len();
    let first = &text[start..end];
    let id_start = first.find("<ID_PAC>").unwrap() + "<ID_PAC>".len();
    let id_end = first.find("</ID_PAC>").unwrap();
    let stranger = first.replace(&first[id_start..id_end], "nobody-s-case-0001");
    let text = text.replacen("</PERS_LIST>", &format!("{stranger}\n</PERS_LIST>"), 1);
    let zip = zip_of(&[(H, &h), (L, &cp1251(&text))]);
    let (report, outcome) = rules_over(&app, &zip);
    assert!(report.accepted, "{:#?}", report.files);
    assert_eq!(persons_without_case(&outcome), ["nobody-s-case-0001"]);
}
