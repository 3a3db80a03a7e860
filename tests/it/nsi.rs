//! The classifier store as its users meet it: the baseline after a fresh start, look-ups by
//! date, imports with history and rejections, export round trips, the API and the CLI.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::NaiveDate;
use omshub::imports::FileSummary;
use omshub::nsi::lookup::CodeStatus;
use omshub::nsi::packet::{self, OutputEncoding};
use omshub::nsi::store::{self, CodeOnDate, ImportRequest};
use omshub::nsi::{ClassifierLookup, NsiError, baseline};

use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn import(
    app: &TestApp,
    bytes: &[u8],
    source: &str,
    dry_run: bool,
) -> Result<FileSummary, NsiError> {
    store::import_packet(
        &mut app.conn(),
        ImportRequest {
            bytes,
            source,
            classifier: None,
            dry_run,
            by: "test",
            progress: None,
        },
    )
}

/// (inserted, updated, unchanged) of a summary as the API returns it.
fn counts(summary: &serde_json::Value) -> (u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap();
    (n("inserted"), n("updated"), n("unchanged"))
}

/// A V006 packet: the baseline's four codes, with code 4 closed on 31.12.2030 and a new code 5.
const V006_NEXT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<packet>
  <zglv><type>V006</type><version>2.0</version><date>01.02.2026</date></zglv>
  <zap><IDUMP>1</IDUMP><UMPNAME>Стационарно</UMPNAME><NAME_EN>inpatient</NAME_EN><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
  <zap><IDUMP>2</IDUMP><UMPNAME>В дневном стационаре</UMPNAME><NAME_EN>day hospital</NAME_EN><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
  <zap><IDUMP>3</IDUMP><UMPNAME>Амбулаторно</UMPNAME><NAME_EN>outpatient clinic</NAME_EN><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
  <zap><IDUMP>4</IDUMP><UMPNAME>Вне медицинской организации</UMPNAME><NAME_EN>ambulance</NAME_EN><DATEBEG>01.01.2013</DATEBEG><DATEEND>31.12.2030</DATEEND></zap>
  <zap><IDUMP>5</IDUMP><UMPNAME>Телемедицина</UMPNAME><DATEBEG>2027-01-01</DATEBEG><DATEEND></DATEEND></zap>
</packet>
"#;

#[test]
fn a_fresh_start_loads_every_baseline_classifier_once() {
    let app = TestApp::spawn();
    let list = store::classifiers(&mut app.conn()).unwrap();
    assert_eq!(list.len(), baseline::FILES.len());
    let v009 = list.iter().find(|c| c.id == "V009").unwrap();
    assert_eq!(v009.entries, 40);
    assert_eq!(v009.version.as_deref(), Some("omshub-baseline-1"));
    let f014 = list.iter().find(|c| c.id == "F014").unwrap();
    assert_eq!(f014.entries, 0, "F014 ships as structure only");
    // A second start loads nothing again.
    assert!(baseline::load_missing(&mut app.conn()).unwrap().is_empty());
    assert_eq!(store::revision(&mut app.conn()).unwrap(), 17);
}

#[test]
fn the_baseline_files_are_the_fixtures_directory() {
    let dir = format!("{}/fixtures/nsi", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        })
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = baseline::FILES
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    assert_eq!(
        embedded, on_disk,
        "src/nsi/baseline.rs must embed every fixtures/nsi file"
    );
}

#[actix_web::test]
async fn v006_1_is_inpatient_on_2024_01_01() {
    let app = TestApp::spawn();
    let res = app.read("/api/v1/nsi/V006/1?on=2024-01-01").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body: serde_json::Value = res.json();
    assert_eq!(body["valid_on"], "2024-01-01");
    assert_eq!(body["code"], "1");
    assert_eq!(body["name"], "Стационарно");
    assert_eq!(body["fields"]["NAME_EN"], "inpatient");
    assert_eq!(body["valid_from"], "2011-01-01");
    assert_eq!(body["valid_to"], serde_json::Value::Null);
}

#[actix_web::test]
async fn a_code_outside_its_validity_is_not_valid_on_that_date() {
    let app = TestApp::spawn();
    // V006 code 4 exists from 2013; F006 code 2 was closed on 2018-03-31.
    let res = app.read("/api/v1/nsi/V006/4?on=2012-06-01").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("nsi_code_not_valid_on_date", res.error());
    let res = app.read("/api/v1/nsi/f006/2?on=2018-04-01").await;
    assert_eq!(res.error().error, "nsi_code_not_valid_on_date");
    assert_eq!(
        app.read("/api/v1/nsi/F006/2?on=2018-03-31").await.status,
        StatusCode::OK
    );
    let snapshot = app.state.lookups.nsi();
    assert_eq!(
        snapshot.code_status("V006", "4", d(2012, 6, 1)),
        CodeStatus::NotValidOnDate
    );
    assert_eq!(
        snapshot.code_status("V006", "4", d(2013, 1, 1)),
        CodeStatus::Valid
    );
}

#[actix_web::test]
async fn unknown_codes_and_classifiers_are_coded_404s() {
    let app = TestApp::spawn();
    let res = app.read("/api/v1/nsi/V006/99?on=2024-01-01").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("nsi_unknown_code", res.error());
    let res = app.read("/api/v1/nsi/V002/1").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("nsi_unknown_classifier", res.error());
    let res = app.read("/api/v1/nsi/V006/1?on=2024-13-01").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.error().error, "bad_request");
}

#[actix_web::test]
async fn reading_needs_a_token_and_importing_the_admin_token() {
    let app = TestApp::spawn();
    let res = app.get("/api/v1/nsi").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.header("www-authenticate").as_deref(), Some("Bearer"));
    insta::assert_json_snapshot!("unauthorized", res.error());
    let res = app
        .call(
            TestRequest::get()
                .uri("/api/v1/nsi")
                .insert_header(("Authorization", "Bearer not-a-known-token-at-all")),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app
        .call(
            TestRequest::post()
                .uri("/api/v1/nsi/import")
                .insert_header(("Authorization", format!("Bearer {READER_TOKEN}")))
                .set_payload(V006_NEXT),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    insta::assert_json_snapshot!("forbidden", res.error());
}

#[actix_web::test]
async fn admin_import_over_the_api_updates_history_and_the_snapshot() {
    let app = TestApp::spawn();
    let upload = |dry_run: bool| {
        TestRequest::post()
            .uri(&format!(
                "/api/v1/nsi/import?file=V006-2.0.xml&dry_run={dry_run}"
            ))
            .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}")))
            .set_payload(V006_NEXT)
    };
    let res = app.call(upload(true)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let dry: serde_json::Value = res.json();
    assert_eq!(counts(&dry), (1, 1, 3));
    assert_eq!(dry["dry_run"], true);
    assert!(!app.state.lookups.nsi().is_valid("V006", "5", d(2027, 6, 1)));

    let res = app.call(upload(false)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let done: serde_json::Value = res.json();
    assert_eq!(counts(&done), (1, 1, 3));
    assert_eq!(done["rejected"], serde_json::json!([]));
    // The snapshot follows at once.
    let snapshot = app.state.lookups.nsi();
    assert!(snapshot.is_valid("V006", "5", d(2027, 6, 1)));
    assert!(!snapshot.is_valid("V006", "4", d(2031, 1, 1)));
    assert!(snapshot.is_valid("V006", "4", d(2030, 12, 31)));

    // History keeps the baseline version of code 4 and the closed one.
    let res = app.read("/api/v1/nsi/V006/4/history").await;
    let versions: Vec<serde_json::Value> = res.json();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["valid_to"], serde_json::Value::Null);
    assert!(versions[0]["superseded_at"].is_string());
    assert_eq!(versions[1]["valid_to"], "2030-12-31");
    assert_eq!(versions[1]["superseded_at"], serde_json::Value::Null);

    // The same upload again changes nothing.
    let revision = store::revision(&mut app.conn()).unwrap();
    let again: serde_json::Value = app.call(upload(false)).await.json();
    assert_eq!(counts(&again), (0, 0, 5));
    assert_eq!(store::revision(&mut app.conn()).unwrap(), revision);
    assert_eq!(
        store::history(&mut app.conn(), "V006", "4").unwrap().len(),
        2
    );
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let app = TestApp::spawn();
    let first = import(&app, V006_NEXT.as_bytes(), "V006.xml", false).unwrap();
    assert!(first.changed());
    let revision = store::revision(&mut app.conn()).unwrap();
    let rows_before = store::history(&mut app.conn(), "V006", "1").unwrap();
    let second = import(&app, V006_NEXT.as_bytes(), "V006.xml", false).unwrap();
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 5)
    );
    assert_eq!(store::revision(&mut app.conn()).unwrap(), revision);
    assert_eq!(
        store::history(&mut app.conn(), "V006", "1").unwrap(),
        rows_before
    );
}

#[test]
fn a_dry_run_counts_but_writes_nothing() {
    let app = TestApp::spawn();
    let revision = store::revision(&mut app.conn()).unwrap();
    let summary = import(&app, V006_NEXT.as_bytes(), "V006.xml", true).unwrap();
    assert!(summary.dry_run);
    assert_eq!((summary.inserted, summary.updated), (1, 1));
    assert_eq!(store::revision(&mut app.conn()).unwrap(), revision);
    assert_eq!(
        store::code_on(&mut app.conn(), "V006", "5", d(2027, 6, 1)).unwrap(),
        CodeOnDate::UnknownCode
    );
}

#[test]
fn bad_entries_are_rejected_with_their_line_and_the_rest_applied() {
    let app = TestApp::spawn();
    let packet = r#"<?xml version="1.0" encoding="UTF-8"?>
<packet>
  <zglv><type>V010</type><version>x</version><date>01.01.2026</date></zglv>
  <zap><IDSP>50</IDSP><SPNAME>new</SPNAME><DATEBEG>01.01.2026</DATEBEG></zap>
  <zap><IDSP></IDSP><SPNAME>no code</SPNAME><DATEBEG>01.01.2026</DATEBEG></zap>
  <zap><IDSP>51</IDSP><SPNAME>bad date</SPNAME><DATEBEG>31.02.2026</DATEBEG></zap>
  <zap><IDSP>52</IDSP><SPNAME>ends first</SPNAME><DATEBEG>01.01.2026</DATEBEG><DATEEND>01.01.2025</DATEEND></zap>
  <zap><IDSP>53</IDSP><SPNAME>no start</SPNAME></zap>
  <zap><IDSP>50</IDSP><SPNAME>twice</SPNAME><DATEBEG>01.01.2026</DATEBEG></zap>
</packet>
"#;
    let summary = import(&app, packet.as_bytes(), "V010-bad.xml", false).unwrap();
    assert_eq!(summary.inserted, 1);
    let got: Vec<(usize, Option<&str>, &str)> = summary
        .rejected
        .iter()
        .map(|r| (r.line, r.key.as_deref(), r.code))
        .collect();
    assert_eq!(
        got,
        vec![
            (5, None, "missing_code"),
            (6, Some("51"), "invalid_date"),
            (7, Some("52"), "invalid_period"),
            (8, Some("53"), "missing_date"),
            (9, Some("50"), "duplicate_entry"),
        ]
    );
    let mut conn = app.conn();
    assert!(matches!(
        store::code_on(&mut conn, "V010", "50", d(2026, 6, 1)).unwrap(),
        CodeOnDate::Valid(e) if e.name.as_deref() == Some("new")
    ));
    for never in ["51", "52", "53"] {
        assert_eq!(
            store::code_on(&mut conn, "V010", never, d(2026, 6, 1)).unwrap(),
            CodeOnDate::UnknownCode,
            "{never} must not be half-applied"
        );
    }
}

#[test]
fn a_windows_1251_packet_imports_like_utf8() {
    let app = TestApp::spawn();
    let text = V006_NEXT.replace("encoding=\"UTF-8\"", "encoding=\"windows-1251\"");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
    assert!(!unmappable);
    let summary = import(&app, &bytes, "V006-1251.xml", false).unwrap();
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (1, 1, 3)
    );
    match store::code_on(&mut app.conn(), "V006", "5", d(2027, 1, 1)).unwrap() {
        CodeOnDate::Valid(e) => assert_eq!(e.name.as_deref(), Some("Телемедицина")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn whole_file_refusals_are_coded() {
    let app = TestApp::spawn();
    let register = r#"<?xml version="1.0" encoding="UTF-8"?><packet version="1" date="01.01.2026"><insCompany><smocod>75001</smocod></insCompany></packet>"#;
    assert_eq!(
        import(&app, register.as_bytes(), "F002.xml", false)
            .unwrap_err()
            .code(),
        "register_packet"
    );
    let unnamed = r#"<?xml version="1.0" encoding="UTF-8"?><packet><zglv><type>Something</type><version>1</version><date>01.01.2026</date></zglv></packet>"#;
    assert_eq!(
        import(&app, unnamed.as_bytes(), "x.xml", false)
            .unwrap_err()
            .code(),
        "unknown_classifier"
    );
    assert_eq!(
        import(&app, b"not xml at all <", "y.xml", false)
            .unwrap_err()
            .code(),
        "not_xml"
    );
    let dtd = r#"<?xml version="1.0"?><!DOCTYPE packet [<!ENTITY x "y">]><packet/>"#;
    assert_eq!(
        import(&app, dtd.as_bytes(), "z.xml", false)
            .unwrap_err()
            .code(),
        "dtd_forbidden"
    );
}

#[test]
fn an_unknown_classifier_learns_its_columns_from_the_packet() {
    let app = TestApp::spawn();
    let packet = r#"<?xml version="1.0" encoding="UTF-8"?>
<packet>
  <zglv><type>N018</type><version>1</version><date>01.01.2026</date></zglv>
  <zap><ID_REAS>1</ID_REAS><REAS_NAME>Первичное лечение</REAS_NAME><DATEBEG>01.01.2019</DATEBEG><DATEEND></DATEEND></zap>
</packet>"#;
    let summary = import(&app, packet.as_bytes(), "N018.xml", false).unwrap();
    assert_eq!(summary.target, "N018");
    let info = store::classifiers(&mut app.conn()).unwrap();
    let n018 = info.iter().find(|c| c.id == "N018").unwrap();
    assert_eq!(n018.key_field, "ID_REAS");
    assert_eq!(n018.name_field.as_deref(), Some("REAS_NAME"));
}

#[test]
fn every_baseline_classifier_exports_and_reimports_unchanged() {
    let app = TestApp::spawn();
    for (name, _) in baseline::FILES {
        let id = name.trim_end_matches(".xml");
        for encoding in [OutputEncoding::Utf8, OutputEncoding::Windows1251] {
            let packet = store::export(&mut app.conn(), id, None).unwrap();
            let bytes = packet::write_packet(&packet, encoding).unwrap();
            let summary = import(&app, &bytes, name, false).unwrap();
            assert!(!summary.changed(), "{id} {encoding:?}: {summary}");
            assert!(summary.rejected.is_empty(), "{id}: {summary}");
        }
    }
}

#[test]
fn the_snapshot_agrees_with_the_store() {
    let app = TestApp::spawn();
    import(&app, V006_NEXT.as_bytes(), "V006.xml", false).unwrap();
    omshub::nsi::refresh_snapshot(&app.state.db, &app.state.lookups, false).unwrap();
    let snapshot = app.state.lookups.nsi();
    let mut conn = app.conn();
    let dates = [
        d(2010, 12, 31),
        d(2011, 1, 1),
        d(2013, 1, 1),
        d(2018, 3, 31),
        d(2018, 4, 1),
        d(2026, 1, 1),
        d(2031, 1, 1),
    ];
    for (classifier, code, _, _) in store::all_validity(&mut conn).unwrap() {
        for date in dates {
            let from_store = match store::code_on(&mut conn, &classifier, &code, date).unwrap() {
                CodeOnDate::Valid(_) => CodeStatus::Valid,
                CodeOnDate::NotValidOn(_) => CodeStatus::NotValidOnDate,
                CodeOnDate::UnknownCode => CodeStatus::UnknownCode,
                CodeOnDate::UnknownClassifier => CodeStatus::ClassifierNotLoaded,
            };
            assert_eq!(
                snapshot.code_status(&classifier, &code, date),
                from_store,
                "{classifier}/{code} on {date}"
            );
        }
    }
}

#[actix_web::test]
async fn lists_page_and_filter_by_date() {
    let app = TestApp::spawn();
    let res = app.read("/api/v1/nsi/V009?per_page=10&page=2").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let page: serde_json::Value = res.json();
    assert_eq!(page["total"], 40);
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert_eq!(page["page"], 2);
    let res = app.read("/api/v1/nsi/V006?on=2012-01-01").await;
    let page: serde_json::Value = res.json();
    assert_eq!(page["total"], 3, "code 4 starts in 2013");
    let q: String = url::form_urlencoded::byte_serialize("Забайкал".as_bytes()).collect();
    let res = app.read(&format!("/api/v1/nsi/F010?q={q}")).await;
    let page: serde_json::Value = res.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["code"], "75");
    assert_eq!(
        app.read("/api/v1/nsi/V009?per_page=5000").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn export_over_the_api_is_a_packet_file() {
    let app = TestApp::spawn();
    let res = app
        .read("/api/v1/nsi/V006/export?encoding=windows-1251")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/xml; charset=windows-1251")
    );
    let packet = packet::read_packet(&res.body).unwrap();
    assert_eq!(packet.entries.len(), 4);
    assert_eq!(packet.entries[0].text_of("UMPNAME"), Some("Стационарно"));
}

#[test]
fn the_server_notices_an_import_made_by_another_process() {
    let app = TestApp::spawn();
    let before = app.state.lookups.nsi().revision();
    assert!(
        !omshub::nsi::refresh_snapshot(&app.state.db, &app.state.lookups, false).unwrap(),
        "nothing changed yet"
    );
    // As `omshub nsi import` would, through its own connection.
    import(&app, V006_NEXT.as_bytes(), "V006.xml", false).unwrap();
    assert!(!app.state.lookups.nsi().is_valid("V006", "5", d(2027, 6, 1)));
    assert!(omshub::nsi::refresh_snapshot(&app.state.db, &app.state.lookups, false).unwrap());
    let after = app.state.lookups.nsi();
    assert!(after.revision() > before);
    assert!(after.is_valid("V006", "5", d(2027, 6, 1)));
}

#[test]
fn the_exported_packet_is_stable() {
    let app = TestApp::spawn();
    let packet = store::export(&mut app.conn(), "V006", Some(d(2012, 1, 1))).unwrap();
    let bytes = packet::write_packet(&packet, OutputEncoding::Utf8).unwrap();
    insta::assert_snapshot!("v006_export_2012", String::from_utf8(bytes).unwrap());
}
