//! The registers of organisations as their users meet them: packet imports with rejections and
//! history, the state on a date, the onboarding workflow, the API with its checks and auth,
//! export round trips, the look-up snapshot and the CLI.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::NaiveDate;
use omshub::domain::{InsurerCode, MoCode, TfomsCode};
use omshub::imports::FileSummary;
use omshub::nsi::packet::{OutputEncoding, write_packet};
use omshub::registers::export::export_packet;
use omshub::registers::import::{ImportOptions, import_packet};
use omshub::registers::lookup::{RegisterLookup, RegisterSnapshot, Standing};
use omshub::registers::{RegisterKind, revision};
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn fixture_path(name: &str) -> String {
    format!("{}/fixtures/registers/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn import(app: &TestApp, name: &str, bytes: &[u8], dry_run: bool) -> FileSummary {
    import_packet(
        &mut app.conn(),
        bytes,
        ImportOptions {
            file: name,
            dry_run,
            author: &format!("import:{name}"),
            progress: None,
        },
    )
    .unwrap()
}

fn import_fixture(app: &TestApp, name: &str) -> FileSummary {
    import(app, name, &fixture(name), false)
}

/// (inserted, updated, unchanged, rejected) of a summary.
fn counts(s: &FileSummary) -> (usize, usize, usize, usize) {
    (s.inserted, s.updated, s.unchanged, s.rejected.len())
}

fn current_revision(app: &TestApp) -> i64 {
    revision(&mut app.conn()).unwrap()
}

async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &Value,
) -> crate::support::TestResponse {
    app.call(
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(body),
    )
    .await
}

async fn admin(app: &TestApp, path: &str, body: &Value) -> crate::support::TestResponse {
    post(app, ADMIN_TOKEN, path, body).await
}

/// GET with the reader token; fails the test unless it is 200.
async fn read_ok(app: &TestApp, path: &str) -> Value {
    let res = app.read(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    res.json()
}

async fn active_on(app: &TestApp, register: &str, code: &str, day: &str) -> bool {
    let entry = read_ok(
        app,
        &format!("/api/v1/registers/{register}/{code}?on={day}"),
    )
    .await;
    assert_eq!(entry["on"], day);
    entry["active"].as_bool().unwrap()
}

async fn listed_codes(app: &TestApp, path: &str) -> Vec<String> {
    let page = read_ok(app, path).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap().to_owned())
        .collect()
}

/// A one-insurer F002 packet for insurer 34911 with the given short name and edit date.
fn insurer_packet(short_name: &str, d_edit: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<packet version="t" date="15.01.2026">
  <insCompany>
    <tf_okato>18000</tf_okato>
    <smocod>34911</smocod>
    <nam_smop>Общество с ограниченной ответственностью «{short_name}»</nam_smop>
    <nam_smok>ООО «{short_name}»</nam_smok>
    <inn>3440903030</inn>
    <Ogrn>1123400903031</Ogrn>
    <insInclude><d_begin>01.01.2020</d_begin></insInclude>
    <d_edit>{d_edit}</d_edit>
  </insCompany>
</packet>
"#
    )
}

/// A valid insurer in the JSON form of the admin API.
fn insurer_json() -> Value {
    json!({
        "code": "34921",
        "okato": "18000",
        "name_full": "Общество с ограниченной ответственностью «Новая тестовая СМО»",
        "name_short": "ООО «НТСМО»",
        "inn": "3440903030",
        "ogrn": "1123400903031",
        "kpp": "344001001",
        "licences": [{"number": "ОС № 0000-21", "start": "2025-01-01"}],
        "d_edit": "2026-01-10"
    })
}

/// A valid clinic in the JSON form of the admin API.
fn clinic_json() -> Value {
    json!({
        "code": "340955",
        "okato": "18000",
        "name_full": "Общество с ограниченной ответственностью «Тестовая клиника 55»",
        "name_short": "ООО «ТК-55»",
        "inn": "3445901012",
        "ogrn": "1133400901017",
        "affiliation": 15,
        "d_edit": "2026-01-10"
    })
}

/// A valid expert in the JSON form of the admin API.
fn expert_json() -> Value {
    json!({
        "code": "E3400077",
        "okato": "18000",
        "surname": "Тестова",
        "first_name": "Проба",
        "snils": "345-678-903 25",
        "specialties": [{"code": "76"}],
        "date_reg": "2024-02-01"
    })
}

// ---- acceptance ---------------------------------------------------------------------------

#[actix_web::test]
async fn f002_with_a_broken_ogrn_inserts_one_reports_the_other_and_reimport_changes_nothing() {
    let app = TestApp::spawn();
    let bytes = fixture("F002_broken_ogrn.xml");

    let first = import(&app, "F002_broken_ogrn.xml", &bytes, false);
    assert_eq!(counts(&first), (1, 0, 0, 1), "{first}");
    let rejected = &first.rejected[0];
    assert_eq!(rejected.line, 17, "the line of the second <insCompany>");
    assert_eq!(rejected.key.as_deref(), Some("34904"));
    assert_eq!(rejected.code, "invalid_ogrn");
    assert!(
        rejected
            .message
            .starts_with("<Ogrn>: OGRN: check digit is 4, expected 3"),
        "{}",
        rejected.message
    );
    assert!(
        first
            .to_string()
            .contains("line 17 34904: [invalid_ogrn] <Ogrn>: OGRN: check digit is 4"),
        "{first}"
    );
    let good = read_ok(&app, "/api/v1/registers/insurers/34903").await;
    assert_eq!(
        good["status"], "active",
        "an official packet records it as active"
    );
    let res = app.read("/api/v1/registers/insurers/34904").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error().error, "register_entry_not_found");

    let revision_after_first = current_revision(&app);
    let again = import(&app, "F002_broken_ogrn.xml", &bytes, false);
    assert_eq!(counts(&again), (0, 0, 1, 1), "{again}");
    assert_eq!(again.rejected[0].code, "invalid_ogrn");
    assert_eq!(
        current_revision(&app),
        revision_after_first,
        "nothing changed"
    );
    let history = read_ok(&app, "/api/v1/registers/insurers/34903/history").await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

#[actix_web::test]
async fn an_insurer_excluded_from_the_register_on_a_date_is_valid_before_it_and_not_after() {
    let app = TestApp::spawn();
    let summary = import_fixture(&app, "F002.xml");
    assert_eq!(counts(&summary), (3, 0, 0, 0), "{summary}");

    // By the official register: 34902's inclusion ends on 30.06.2025, its last day in.
    assert!(active_on(&app, "insurers", "34902", "2025-06-30").await);
    assert!(!active_on(&app, "insurers", "34902", "2025-07-01").await);
    assert!(
        !active_on(&app, "insurers", "34902", "2014-12-31").await,
        "not yet included"
    );

    // By the workflow: 34901 is excluded from 01.02.2026 on.
    let res = admin(
        &app,
        "/api/v1/registers/insurers/34901/status",
        &json!({"status": "excluded", "comment": "Лицензия отозвана", "date": "2026-02-01"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body: Value = res.json();
    assert_eq!(body["status"], "excluded");
    assert!(active_on(&app, "insurers", "34901", "2026-01-31").await);
    assert!(!active_on(&app, "insurers", "34901", "2026-02-01").await);
    assert!(!active_on(&app, "insurers", "34901", "2030-01-01").await);

    // Listing on a date shows only those active then.
    let before = listed_codes(&app, "/api/v1/registers/insurers?on=2026-01-31").await;
    assert_eq!(before, ["34901", "75901"]);
    let after = listed_codes(&app, "/api/v1/registers/insurers?on=2026-02-01").await;
    assert_eq!(after, ["75901"]);
    let mid_2025 = listed_codes(&app, "/api/v1/registers/insurers?on=2025-06-30").await;
    assert_eq!(mid_2025, ["34901", "34902", "75901"]);

    // The validation look-up agrees.
    let snapshot = RegisterSnapshot::load(&mut app.conn()).unwrap();
    let code = |c: &str| InsurerCode::parse(c).unwrap();
    assert!(snapshot.insurer_active_on(&code("34901"), d("2026-01-31")));
    assert!(!snapshot.insurer_active_on(&code("34901"), d("2026-02-01")));
    assert!(snapshot.insurer_active_on(&code("34902"), d("2025-06-30")));
    assert_eq!(
        snapshot.insurer_standing(&code("34902"), d("2025-07-01")),
        Standing::Inactive
    );
    assert_eq!(
        snapshot.insurer_standing(&code("34999"), d("2025-07-01")),
        Standing::Unknown
    );

    // The state before the exclusion is kept.
    let history = read_ok(&app, "/api/v1/registers/insurers/34901/history").await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["change_kind"], "created");
    assert_eq!(history[0]["changed_by"], "import:F002.xml");
    assert_eq!(history[1]["change_kind"], "status_changed");
    assert_eq!(history[1]["changed_by"], "admin");
    assert_eq!(history[1]["comment"], "Лицензия отозвана");
    assert_eq!(history[1]["valid_from"], "2026-02-01");
    assert_eq!(history[1]["record"]["inclusions"][0]["d_end"], "2026-01-31");
    let old = read_ok(&app, "/api/v1/registers/insurers/34901?on=2025-01-01").await;
    assert_eq!(old["status"], "active");
    assert!(
        old["record"]["inclusions"][0].get("d_end").is_none(),
        "{old}"
    );
}

// ---- history and the state on a date ------------------------------------------------------

#[actix_web::test]
async fn history_keeps_every_state_and_on_shows_the_one_in_force() {
    let app = TestApp::spawn();
    let v1 = insurer_packet("Первое имя", "10.01.2024");
    let v2 = insurer_packet("Второе имя", "01.03.2025");
    assert_eq!(
        counts(&import(&app, "v1.xml", v1.as_bytes(), false)),
        (1, 0, 0, 0)
    );
    assert_eq!(
        counts(&import(&app, "v2.xml", v2.as_bytes(), false)),
        (0, 1, 0, 0)
    );

    let history = read_ok(&app, "/api/v1/registers/insurers/34911/history").await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (&history[0]["valid_from"], &history[0]["change_kind"]),
        (&json!("2024-01-10"), &json!("created"))
    );
    assert_eq!(
        (&history[1]["valid_from"], &history[1]["changed_by"]),
        (&json!("2025-03-01"), &json!("import:v2.xml"))
    );

    let name_on = |entry: &Value| entry["record"]["name_short"].as_str().unwrap().to_owned();
    let newest = read_ok(&app, "/api/v1/registers/insurers/34911").await;
    assert_eq!(name_on(&newest), "ООО «Второе имя»");
    let on_2024 = read_ok(&app, "/api/v1/registers/insurers/34911?on=2024-06-01").await;
    assert_eq!(name_on(&on_2024), "ООО «Первое имя»");
    assert_eq!(on_2024["valid_from"], "2024-01-10");
    let on_change = read_ok(&app, "/api/v1/registers/insurers/34911?on=2025-03-01").await;
    assert_eq!(name_on(&on_change), "ООО «Второе имя»");
    let before_all = read_ok(&app, "/api/v1/registers/insurers/34911?on=2023-01-01").await;
    assert_eq!(
        name_on(&before_all),
        "ООО «Первое имя»",
        "the earliest known state"
    );
    let listed = read_ok(&app, "/api/v1/registers/insurers?on=2024-06-01").await;
    assert_eq!(name_on(&listed["items"][0]), "ООО «Первое имя»");

    // The older file is the state in force on its date: nothing to change.
    assert_eq!(
        counts(&import(&app, "v1.xml", v1.as_bytes(), false)),
        (0, 0, 1, 0)
    );
    let history = read_ok(&app, "/api/v1/registers/insurers/34911/history").await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    let newest = read_ok(&app, "/api/v1/registers/insurers/34911").await;
    assert_eq!(
        name_on(&newest),
        "ООО «Второе имя»",
        "an older file does not win"
    );
}

#[actix_web::test]
async fn a_dry_run_counts_what_would_happen_and_writes_nothing() {
    let app = TestApp::spawn();
    let bytes = fixture("F003.xml");
    let dry = import(&app, "F003.xml", &bytes, true);
    assert!(dry.dry_run);
    assert_eq!(counts(&dry), (3, 0, 0, 0));
    assert!(dry.to_string().contains("(dry run, nothing written)"));
    let page = read_ok(&app, "/api/v1/registers/medical-organisations").await;
    assert_eq!(page["total"], 0, "{page}");
    assert_eq!(current_revision(&app), 0);

    assert_eq!(
        counts(&import(&app, "F003.xml", &bytes, false)),
        (3, 0, 0, 0)
    );
    let changed = String::from_utf8(bytes)
        .unwrap()
        .replace("ГБУЗ «ТБ № 2»", "ГБУЗ «ТБ № 2 имени Примера»");
    let revision = current_revision(&app);
    let dry = import(&app, "F003.xml", changed.as_bytes(), true);
    assert_eq!(counts(&dry), (0, 1, 2, 0));
    assert_eq!(current_revision(&app), revision);
    let entry = read_ok(&app, "/api/v1/registers/medical-organisations/340902").await;
    assert_eq!(entry["record"]["name_short"], "ГБУЗ «ТБ № 2»");
}

#[actix_web::test]
async fn every_register_exports_a_packet_that_imports_back_unchanged() {
    let app = TestApp::spawn();
    let mut sizes = Vec::new();
    for file in ["F001.xml", "F002.xml", "F003.xml", "F004.xml"] {
        let summary = import_fixture(&app, file);
        assert!(summary.rejected.is_empty(), "{summary}");
        assert!(summary.inserted >= 2, "{summary}");
        sizes.push(summary.inserted);
    }
    // A workflow step changes a record (its inclusion closes); the export carries it.
    let res = admin(
        &app,
        "/api/v1/registers/insurers/34901/status",
        &json!({"status": "excluded", "comment": "тест", "date": "2026-02-01"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let revision = current_revision(&app);
    for (kind, size) in RegisterKind::ALL.into_iter().zip(sizes) {
        for encoding in [OutputEncoding::Utf8, OutputEncoding::Windows1251] {
            let packet = export_packet(&mut app.conn(), kind).unwrap();
            assert_eq!(packet.entries.len(), size, "{kind}");
            let bytes = write_packet(&packet, encoding).unwrap();
            let name = format!("export-{kind}.xml");
            let summary = import(&app, &name, &bytes, false);
            assert_eq!(
                counts(&summary),
                (0, 0, size, 0),
                "{kind} {encoding:?}: {summary}"
            );
        }
    }
    assert_eq!(current_revision(&app), revision);
    let exported = write_packet(
        &export_packet(&mut app.conn(), RegisterKind::Insurers).unwrap(),
        OutputEncoding::Utf8,
    )
    .unwrap();
    let text = String::from_utf8(exported).unwrap();
    assert!(text.contains("<d_end>31.01.2026</d_end>"), "{text}");
    assert!(text.contains("<KPP>3401AB001</KPP>"));
}

// ---- onboarding ---------------------------------------------------------------------------

#[actix_web::test]
async fn onboarding_goes_application_approved_active_and_refuses_other_steps() {
    let app = TestApp::spawn();
    let res = admin(
        &app,
        "/api/v1/registers/medical-organisations",
        &clinic_json(),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let saved: Value = res.json();
    assert_eq!(saved["outcome"], "inserted");
    assert_eq!(saved["entry"]["status"], "application");
    assert_eq!(saved["entry"]["active"], false);

    let step = |status: &str, date: &str| json!({"status": status, "comment": format!("шаг {status}"), "date": date});
    let path = "/api/v1/registers/medical-organisations/340955/status";
    let res = admin(&app, path, &step("active", "2026-02-01")).await;
    assert_eq!(
        res.status,
        StatusCode::CONFLICT,
        "application -> active skips approval"
    );
    assert_eq!(res.error().error, "invalid_transition");
    let res = admin(&app, path, &step("approved", "2026-02-01")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = admin(&app, path, &step("excluded", "2026-02-15")).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "approved -> excluded");
    let res = admin(&app, path, &step("active", "2026-03-01")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let entry: Value = res.json();
    assert_eq!(entry["status"], "active");
    assert_eq!(
        entry["record"]["inclusions"],
        json!([{"d_begin": "2026-03-01"}])
    );
    assert!(!active_on(&app, "medical-organisations", "340955", "2026-02-28").await);
    assert!(active_on(&app, "medical-organisations", "340955", "2026-03-01").await);
    // The validation snapshot follows an API change at once.
    let clinic = MoCode::parse("340955").unwrap();
    let snapshot = app.state.lookups.registers();
    assert!(snapshot.medical_org_active_on(&clinic, d("2026-03-01")));
    assert!(!snapshot.medical_org_active_on(&clinic, d("2026-02-28")));
    let res = admin(&app, path, &step("approved", "2026-04-01")).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "active -> approved");
    let res = admin(&app, path, &step("excluded", "2026-02-20")).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert_eq!(res.error().error, "invalid_date", "before the newest state");

    let history = read_ok(
        &app,
        "/api/v1/registers/medical-organisations/340955/history",
    )
    .await;
    let steps: Vec<(String, String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["status"].as_str().unwrap().to_owned(),
                v["changed_by"].as_str().unwrap().to_owned(),
                v["comment"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("application".into(), "admin".into(), String::new()),
            ("approved".into(), "admin".into(), "шаг approved".into()),
            ("active".into(), "admin".into(), "шаг active".into()),
        ]
    );

    // The other branch: a rejected application is final.
    let res = admin(&app, "/api/v1/registers/insurers", &insurer_json()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let path = "/api/v1/registers/insurers/34921/status";
    let res = admin(&app, path, &step("rejected", "2026-02-01")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    for next in ["approved", "active", "application"] {
        let res = admin(&app, path, &step(next, "2026-03-01")).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "rejected -> {next}");
        assert_eq!(res.error().error, "invalid_transition");
    }
}

#[actix_web::test]
async fn onboarding_steps_need_a_workflow_a_comment_and_a_known_status() {
    let app = TestApp::spawn();
    import_fixture(&app, "F004.xml");
    let res = admin(
        &app,
        "/api/v1/registers/experts/E3400001/status",
        &json!({"status": "excluded", "comment": "x"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "experts have no workflow");
    assert_eq!(res.error().error, "invalid_transition");

    admin(&app, "/api/v1/registers/insurers", &insurer_json()).await;
    let path = "/api/v1/registers/insurers/34921/status";
    let res = admin(&app, path, &json!({"status": "approved", "comment": "  "})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.error().error, "missing_field");
    let res = admin(&app, path, &json!({"status": "on_hold", "comment": "x"})).await;
    assert_eq!(res.error().error, "invalid_status");
    let res = admin(
        &app,
        path,
        &json!({"status": "approved", "comment": "x", "date": "1.2.26"}),
    )
    .await;
    assert_eq!(res.error().error, "invalid_date");
    let res = admin(
        &app,
        "/api/v1/registers/insurers/34999/status",
        &json!({"status": "approved", "comment": "x"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error().error, "register_entry_not_found");
    let entry = read_ok(&app, "/api/v1/registers/insurers/34921").await;
    assert_eq!(entry["status"], "application", "no refused step changed it");
}

// ---- API ----------------------------------------------------------------------------------

#[actix_web::test]
async fn reads_need_a_token_and_writes_need_the_admin_token() {
    let app = TestApp::spawn();
    import_fixture(&app, "F002.xml");

    let res = app.get("/api/v1/registers/insurers").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error().error, "unauthorized");
    let res = app.get("/api/v1/registers/insurers/34901/history").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    let res = post(
        &app,
        READER_TOKEN,
        "/api/v1/registers/insurers",
        &insurer_json(),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error().error, "forbidden");
    let res = post(
        &app,
        READER_TOKEN,
        "/api/v1/registers/insurers/34901/status",
        &json!({"status": "excluded", "comment": "x"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .call(
            TestRequest::post()
                .uri("/api/v1/registers/insurers")
                .set_json(insurer_json()),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        app.read("/api/v1/registers/insurers/34921").await.status,
        StatusCode::NOT_FOUND
    );
    let entry = read_ok(&app, "/api/v1/registers/insurers/34901").await;
    assert_eq!(
        entry["status"], "active",
        "the refused step changed nothing"
    );
    let res = admin(&app, "/api/v1/registers/insurers", &insurer_json()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

#[actix_web::test]
async fn lists_filter_by_territory_status_text_and_date_and_page() {
    let app = TestApp::spawn();
    import_fixture(&app, "F002.xml");
    import_fixture(&app, "F003.xml");
    admin(&app, "/api/v1/registers/insurers", &insurer_json()).await;

    let all = read_ok(&app, "/api/v1/registers/insurers").await;
    assert_eq!(all["total"], 4);
    assert_eq!(
        listed_codes(&app, "/api/v1/registers/insurers?territory=75").await,
        ["75901"]
    );
    assert_eq!(
        listed_codes(&app, "/api/v1/registers/insurers?status=application").await,
        ["34921"]
    );
    assert_eq!(
        listed_codes(
            &app,
            "/api/v1/registers/insurers?q=%D1%82%D1%81%D0%BC%D0%BA"
        )
        .await,
        ["34901", "34902"],
        "q=тсмк finds ТСМК in any case"
    );
    assert_eq!(
        listed_codes(&app, "/api/v1/registers/insurers?q=%5F").await,
        Vec::<String>::new(),
        "_ is a character, not a wildcard"
    );
    let page = read_ok(&app, "/api/v1/registers/insurers?page=2&per_page=3").await;
    assert_eq!(
        (page["total"].as_i64(), page["page"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["code"], "75901");

    // 340902 was out of the register in 2020; 750901 came in 2022.
    assert_eq!(
        listed_codes(
            &app,
            "/api/v1/registers/medical-organisations?on=2020-06-01"
        )
        .await,
        ["340901"]
    );
    assert_eq!(
        listed_codes(
            &app,
            "/api/v1/registers/medical-organisations?on=2023-01-01&territory=34"
        )
        .await,
        ["340901", "340902"]
    );
    assert_eq!(
        listed_codes(&app, "/api/v1/registers/medical-organisations?q=103001").await,
        ["340902"],
        "the regional code is searchable"
    );

    for bad in [
        "/api/v1/registers/insurers?territory=00",
        "/api/v1/registers/insurers?status=alive",
        "/api/v1/registers/insurers?on=2024-02-30",
        "/api/v1/registers/insurers?per_page=0",
    ] {
        let res = app.read(bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text());
        assert_eq!(res.error().error, "bad_request");
    }
}

/// (register, valid body, the edit that breaks it, expected code, field named in the message).
type CheckCase = (
    &'static str,
    fn() -> Value,
    fn(&mut Value),
    &'static str,
    &'static str,
);

#[actix_web::test]
async fn admin_writes_are_checked_like_imports() {
    let app = TestApp::spawn();
    let cases: Vec<CheckCase> = vec![
        (
            "insurers",
            insurer_json,
            |v| v["ogrn"] = json!("1123400903032"),
            "invalid_ogrn",
            "ogrn",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["inn"] = json!("753090101039"),
            "invalid_inn",
            "inn",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["inn"] = json!("3440903031"),
            "invalid_inn",
            "inn",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["kpp"] = json!("3440ab001"),
            "invalid_kpp",
            "kpp",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["okato"] = json!("18001"),
            "unknown_territory",
            "okato",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["okato"] = json!("1800"),
            "invalid_okato",
            "okato",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["code"] = json!("75921"),
            "territory_mismatch",
            "code",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["code"] = json!("3492"),
            "invalid_code",
            "code",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["name_full"] = json!(" "),
            "missing_field",
            "name_full",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["licences"][0]["start"] = json!("2025-13-01"),
            "invalid_date",
            "licences[0].start",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["inclusions"] = json!([{"d_begin": "2025-02-01", "d_end": "2025-01-31"}]),
            "invalid_period",
            "inclusions[0].d_end",
        ),
        (
            "insurers",
            insurer_json,
            |v| v["colour"] = json!("red"),
            "unknown_field",
            "",
        ),
        (
            "medical-organisations",
            clinic_json,
            |v| v["affiliation"] = json!(16),
            "invalid_affiliation",
            "affiliation",
        ),
        (
            "medical-organisations",
            clinic_json,
            |v| v["ogrn"] = json!("304750090101016"),
            "identifier_mismatch",
            "inn",
        ),
        (
            "medical-organisations",
            clinic_json,
            |v| v["regional_code"] = json!("10300"),
            "invalid_code",
            "regional_code",
        ),
        (
            "experts",
            expert_json,
            |v| v["snils"] = json!("345-678-903 26"),
            "invalid_snils",
            "snils",
        ),
        (
            "experts",
            expert_json,
            |v| v["surname"] = json!(null),
            "missing_field",
            "surname",
        ),
        (
            "experts",
            expert_json,
            |v| v["code"] = json!("E34000771"),
            "invalid_code",
            "code",
        ),
        (
            "territorial-funds",
            fund_json,
            |v| v["okato"] = json!("76000"),
            "territory_mismatch",
            "code",
        ),
        (
            "territorial-funds",
            fund_json,
            |v| v["settlement"]["bic"] = json!("04000003"),
            "invalid_bic",
            "settlement.bic",
        ),
        (
            "territorial-funds",
            fund_json,
            |v| v["settlement"]["l_account"]["number"] = json!("0310064300000001290"),
            "invalid_account",
            "settlement.l_account.number",
        ),
    ];
    for (register, base, edit, code, field) in cases {
        let mut body = base();
        edit(&mut body);
        let res = admin(&app, &format!("/api/v1/registers/{register}"), &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{register} {code}: {}",
            res.text()
        );
        let error = res.error();
        assert_eq!(error.error, code, "{}", error.message);
        if !field.is_empty() {
            assert!(
                error.message.starts_with(&format!("field `{field}`: ")),
                "{code}: {}",
                error.message
            );
        }
    }
    assert_eq!(current_revision(&app), 0, "nothing was written");

    // The unedited entries pass, once; the same body again changes nothing.
    for (register, base) in [
        ("insurers", insurer_json as fn() -> Value),
        ("medical-organisations", clinic_json),
        ("experts", expert_json),
        ("territorial-funds", fund_json),
    ] {
        let path = format!("/api/v1/registers/{register}");
        let res = admin(&app, &path, &base()).await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "{register}: {}",
            res.text()
        );
        let res = admin(&app, &path, &base()).await;
        assert_eq!(res.status, StatusCode::OK, "{register}: {}", res.text());
        assert_eq!(res.json::<Value>()["outcome"], "unchanged");
    }
    let fund = read_ok(&app, "/api/v1/registers/territorial-funds/34").await;
    assert_eq!(fund["status"], "active", "funds have no workflow");
    let expert = read_ok(&app, "/api/v1/registers/experts/E3400077").await;
    assert_eq!(expert["record"]["snils"], "345-678-903 25");

    // An update keeps the status and adds a version.
    let mut changed = clinic_json();
    changed["name_short"] = json!("ООО «ТК-55 плюс»");
    let res = admin(
        &app,
        "/api/v1/registers/medical-organisations?valid_from=2026-02-01",
        &changed,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let saved: Value = res.json();
    assert_eq!(saved["outcome"], "updated");
    assert_eq!(saved["entry"]["status"], "application");
    assert_eq!(saved["entry"]["valid_from"], "2026-02-01");
}

fn fund_json() -> Value {
    json!({
        "code": "34",
        "okato": "18000",
        "ogrn": "1023400000018",
        "name_full": "Тестовый территориальный фонд ОМС № 34",
        "name_short": "Тестовый ТФОМС-34",
        "director": {"surname": "Примеров", "first_name": "Пример"},
        "settlement": {
            "bic": "040000034",
            "inn": "3440000014",
            "kpp": "344001001",
            "l_account": {"name": "УФК (тест)", "number": "03100643000000012900"}
        }
    })
}

#[actix_web::test]
async fn error_register_unknown() {
    let app = TestApp::spawn();
    let res = app.read("/api/v1/registers/banks").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("register_unknown", res.error());
    let res = admin(&app, "/api/v1/registers/banks", &insurer_json()).await;
    assert_eq!(res.error().error, "register_unknown");
}

#[actix_web::test]
async fn error_register_entry_not_found() {
    let app = TestApp::spawn();
    import_fixture(&app, "F002.xml");
    let res = app
        .read("/api/v1/registers/insurers/34999?on=2025-01-01")
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("register_entry_not_found", res.error());
    let res = app.read("/api/v1/registers/experts/34901/history").await;
    assert_eq!(
        res.error().error,
        "register_entry_not_found",
        "codes are per register"
    );
}

#[actix_web::test]
async fn error_invalid_transition() {
    let app = TestApp::spawn();
    import_fixture(&app, "F002.xml");
    let res = admin(
        &app,
        "/api/v1/registers/insurers/34901/status",
        &json!({"status": "approved", "comment": "повторная проверка"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    insta::assert_json_snapshot!("invalid_transition", res.error());
}

#[actix_web::test]
async fn error_invalid_ogrn() {
    let app = TestApp::spawn();
    let mut body = insurer_json();
    body["ogrn"] = json!("1123400903032");
    let res = admin(&app, "/api/v1/registers/insurers", &body).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("invalid_ogrn", res.error());
}

// ---- imports ------------------------------------------------------------------------------

#[actix_web::test]
async fn every_fixture_imports_with_its_nested_lists() {
    let app = TestApp::spawn();
    for (file, inserted) in [
        ("F001.xml", 2),
        ("F002.xml", 3),
        ("F003.xml", 3),
        ("F004.xml", 2),
    ] {
        let summary = import_fixture(&app, file);
        assert_eq!(counts(&summary), (inserted, 0, 0, 0), "{summary}");
    }
    let fund = read_ok(&app, "/api/v1/registers/territorial-funds/34").await;
    assert_eq!(
        fund["record"]["settlement"]["l_account"]["number"],
        "03100643000000012900"
    );
    assert_eq!(fund["record"]["director"]["patronymic"], "Примерович");
    let insurer = read_ok(&app, "/api/v1/registers/insurers/34901").await;
    assert_eq!(insurer["territory"], "34");
    assert_eq!(
        insurer["record"]["notices"][0],
        json!({"date": "2023-09-01", "insured": 120_000, "year": 2024})
    );
    assert_eq!(insurer["record"]["licences"][0]["number"], "ОС № 0000-01");
    assert_eq!(insurer["record"]["legal_address"]["postal_index"], "400002");
    let clinic = read_ok(&app, "/api/v1/registers/medical-organisations/340901").await;
    assert_eq!(
        clinic["record"]["licences"][0]["profiles"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(clinic["record"]["affiliation"], 2);
    let ip = read_ok(&app, "/api/v1/registers/medical-organisations/750901").await;
    assert_eq!(ip["record"]["ogrn"], "304750090101016");
    let expert = read_ok(&app, "/api/v1/registers/experts/E3400001").await;
    assert_eq!(expert["record"]["specialties"][1]["code"], "28");
    assert!(active_on(&app, "experts", "E3400001", "2019-03-01").await);
    assert!(!active_on(&app, "experts", "E3400001", "2019-02-28").await);

    let snapshot = RegisterSnapshot::load(&mut app.conn()).unwrap();
    let counts: Vec<usize> = snapshot.counts().iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [2, 3, 3, 2]);
    let volgograd = TfomsCode::parse("34").unwrap();
    assert_eq!(
        snapshot.fund_standing(&volgograd, d("2026-01-01")),
        Standing::Active
    );
    let regional = snapshot
        .medical_org_by_regional_code(&volgograd, &MoCode::parse("103001").unwrap())
        .unwrap();
    assert_eq!(regional.code, "340902");
    assert!(!snapshot.medical_org_active_on(&MoCode::parse("340902").unwrap(), d("2020-06-01")));
    assert_eq!(
        snapshot.expert_standing("E7500001", d("2022-05-15")),
        Standing::Active
    );
}

#[test]
fn packets_that_are_not_register_packets_are_refused_whole() {
    let app = TestApp::spawn();
    let options = ImportOptions {
        file: "x.xml",
        dry_run: false,
        author: "test",
        progress: None,
    };
    let classifier = std::fs::read(format!(
        "{}/fixtures/nsi/F007.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let e = import_packet(&mut app.conn(), &classifier, options).unwrap_err();
    assert_eq!(e.code(), "classifier_packet");
    let e = import_packet(&mut app.conn(), b"<packet><bank/></packet>", options).unwrap_err();
    assert_eq!(e.code(), "no_register_entries");
    let e = import_packet(&mut app.conn(), b"<packet><insCompany>", options).unwrap_err();
    assert_eq!(e.code(), "not_xml");
    assert_eq!(current_revision(&app), 0);
}

#[test]
fn one_register_per_file_and_each_code_once() {
    let app = TestApp::spawn();
    let packet = r#"<packet date="2026-01-15">
  <TFOMS><tf_kod>34</tf_kod><tf_okato>18000</tf_okato><name_tfp>Фонд</name_tfp><name_tfk>Ф</name_tfk></TFOMS>
  <insCompany><smocod>34901</smocod></insCompany>
  <TFOMS><tf_kod>34</tf_kod><tf_okato>18000</tf_okato><name_tfp>Фонд 2</name_tfp><name_tfk>Ф2</name_tfk></TFOMS>
  <TFOMS><tf_kod>75</tf_kod><tf_okato>76000</tf_okato><name_tfp>Фонд</name_tfp></TFOMS>
</packet>"#;
    let summary = import(&app, "mixed.xml", packet.as_bytes(), false);
    assert_eq!(counts(&summary), (1, 0, 0, 3), "{summary}");
    let codes: Vec<(usize, &str)> = summary.rejected.iter().map(|r| (r.line, r.code)).collect();
    assert_eq!(
        codes,
        [
            (3, "unexpected_entry"),
            (4, "duplicate_entry"),
            (5, "missing_field")
        ]
    );
    assert_eq!(summary.rejected[2].key.as_deref(), Some("75"));
    assert!(
        summary.rejected[2].message.starts_with("<name_tfk>"),
        "{}",
        summary.rejected[2].message
    );
}

#[test]
fn the_revision_moves_on_every_change_and_only_then() {
    let app = TestApp::spawn();
    assert_eq!(current_revision(&app), 0);
    import_fixture(&app, "F001.xml");
    assert_eq!(current_revision(&app), 1, "one transaction per file");
    import_fixture(&app, "F001.xml");
    assert_eq!(current_revision(&app), 1, "unchanged");
    import_fixture(&app, "F002.xml");
    assert_eq!(current_revision(&app), 2);
    let snapshot = RegisterSnapshot::load(&mut app.conn()).unwrap();
    assert_eq!(snapshot.revision(), 2);

    let shared = omshub::registers::lookup::SharedRegisters::default();
    let refresh =
        |force| omshub::registers::lookup::refresh_snapshot(&app.state.db, &shared, force).unwrap();
    assert!(refresh(false), "an empty snapshot is always rebuilt");
    assert!(!refresh(false), "same revision");
    import_fixture(&app, "F004.xml");
    assert!(refresh(false));
    assert_eq!(shared.current().revision(), 3);
    assert!(shared.current().expert("E3400001").is_some());
}

// ---- command line -------------------------------------------------------------------------

fn omshub(db: &TestDb) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_omshub"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OMSHUB__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OMSHUB__DATABASE__URL", &db.url)
        .env("OMSHUB__LOG__LEVEL", "warn");
    cmd
}

fn run(cmd: &mut std::process::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_imports_reports_and_exports() {
    let db = TestDb::new();
    omshub::db::migrate(&db.settings().database).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (status, stdout, stderr) = run(omshub(&db)
        .args(["registers", "import", "--dry-run"])
        .arg(fixture_path("F001.xml")));
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("-> territorial-funds (dry run, nothing written): 2 inserted"),
        "{stdout}"
    );

    let (status, stdout, stderr) = run(omshub(&db)
        .args(["registers", "import", "--by", "ivanova"])
        .arg(fixture_path("F002_broken_ogrn.xml")));
    assert_eq!(status, 3, "some entries rejected: {stdout}{stderr}");
    assert!(
        stdout.contains("-> insurers: 1 inserted, 0 updated, 0 unchanged, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("line 17 34904: [invalid_ogrn]"), "{stdout}");

    let out = dir.path().join("insurers.xml");
    let (status, stdout, stderr) = run(omshub(&db)
        .args([
            "registers",
            "export",
            "insurers",
            "--encoding",
            "windows-1251",
            "--out",
        ])
        .arg(&out));
    assert_eq!(status, 0, "{stdout}{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    let (status, stdout, _) = run(omshub(&db).args(["registers", "import"]).arg(&out));
    assert_eq!(status, 0, "{stdout}");
    assert!(
        stdout.contains("-> insurers: 0 inserted, 0 updated, 1 unchanged, 0 rejected"),
        "{stdout}"
    );

    let (status, stdout, _) = run(omshub(&db).args(["registers", "import"]).arg(format!(
        "{}/fixtures/nsi/F007.xml",
        env!("CARGO_MANIFEST_DIR")
    )));
    assert_eq!(status, 1, "{stdout}");
    assert!(stdout.contains("refused [classifier_packet]"), "{stdout}");
    let (status, _, stderr) = run(omshub(&db).args(["registers", "export", "banks"]));
    assert_eq!(status, 1);
    assert!(stderr.contains("no register `banks`"), "{stderr}");

    // The history names the file and who imported it.
    let database = omshub::db::Database::open(&db.settings().database).unwrap();
    let history = omshub::registers::service::history(
        &mut database.conn().unwrap(),
        RegisterKind::Insurers,
        "34903",
    )
    .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].changed_by,
        "import:F002_broken_ogrn.xml by ivanova"
    );
}
