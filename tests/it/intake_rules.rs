//! The business rules run by intake (issue 7): an uploaded account with known rule defects is
//! partly accepted, its protocol names each rule, its refused cases are counted and its
//! decisions stored for settlement; an account the sender may not send is rejected with the
//! rule's id as the reason, nothing stored; and the ERZ snapshot the insurance rules read
//! answers the insurer of the day, as the policy status does.

use actix_web::test::TestRequest;
use chrono::NaiveDate;
use omshub::r#gen::{AccountsOptions, RuleDefect, RuleDefects, write_package};
use omshub::intake::store;
use omshub::participants::{self, Kind, NewParticipant};
use omshub::validate::rules::PolicyLookup;
use serde_json::Value;

use crate::erz::{OGRN_34901, OGRN_34902, apply_text, enp, op, oplist, people, t};
use crate::participants::import_registers;
use crate::support::{READER_TOKEN, TestApp, TestResponse};

/// A generated package of `cases` cases with `defects`: its name, bytes and the defects.
fn package(cases: u64, defects: &str) -> (String, Vec<u8>, Vec<(u64, RuleDefect)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(cases, 7).unwrap();
    options.rule_defects = RuleDefects::parse(defects).unwrap();
    let written = write_package(dir.path(), &options).unwrap();
    let zip = &written.files[2].path;
    let name = zip.file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(zip).unwrap(), written.rule_defects)
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let res = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/packages?name={name}"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", "application/zip"))
                .set_payload(bytes.to_vec()),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.text());
    let receipt: Value = res.json();
    receipt["id"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, token: &str, path: &str) -> TestResponse {
    app.call(
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
}

fn drain(app: &TestApp) {
    while app.state.intake.process_next().unwrap() {}
}

#[actix_web::test]
async fn an_account_with_rule_defects_is_partly_accepted_with_its_decisions_stored() {
    let app = TestApp::spawn();
    let (name, bytes, defects) = package(60, "sumv=2,enp=2,duplicate=1,sex=1,episode=1");
    let id = upload(&app, READER_TOKEN, &name, &bytes).await;
    drain(&app);

    let refused: Vec<u64> = defects
        .iter()
        .filter(|(_, d)| d.oplata() == 2)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(refused.len(), 6);
    let status: Value = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "partly_accepted", "{status}");
    assert_eq!(status["refused_records"], 6, "{status}");
    assert_eq!(status["refusal_code"], "804", "{status}");

    // The protocol names each broken rule, once per defective record.
    let protocol = get(
        &app,
        READER_TOKEN,
        &format!("/api/v1/packages/{id}/protocol"),
    )
    .await;
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol.body);
    for (n_zap, defect) in &defects {
        for rule in defect.rules() {
            assert!(
                xml.contains(&format!("<OSHIB>{rule}</OSHIB>")),
                "N_ZAP {n_zap}: {rule} missing\n{xml}"
            );
        }
    }
    assert_eq!(xml.matches("<OSHIB>H_0600/05500</OSHIB>").count(), 2);

    // Every clean case is stored (the refused ones too: their decision says OPLATA 2).
    assert_eq!(store::case_count(&mut app.conn(), &id).unwrap(), 60);
    let (account, cases) = omshub::settlement::load_decisions(&mut app.conn(), &id)
        .unwrap()
        .expect("decisions stored with the package");
    assert_eq!(account.code_mo, "750096");
    assert_eq!(
        (account.cases, account.refused, account.partly_paid),
        (60, 6, 1)
    );
    assert_eq!(account.accepted, 1);
    assert_eq!(cases.len(), 60);
    let refused_stored: Vec<u64> = cases
        .iter()
        .filter(|c| c.oplata == 2)
        .map(|c| u64::try_from(c.n_zap).unwrap())
        .collect();
    let mut expected = refused.clone();
    expected.sort_unstable();
    assert_eq!(refused_stored, expected);
    assert_eq!(
        account.summap + account.sank_mek,
        account.summav,
        "SUMMAP + SANK_MEK = SUMMAV"
    );
}

#[actix_web::test]
async fn an_account_its_sender_may_not_send_is_rejected_by_the_rule_and_nothing_is_stored() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let clinic = participants::add(
        &mut app.conn(),
        &NewParticipant {
            kind: Kind::Clinic,
            org_code: Some("750901".into()),
            name: "clinic 750901".into(),
            contact_email: None,
            roles: None,
        },
        participants::now(),
    )
    .unwrap();
    let token =
        participants::issue_token(&mut app.conn(), clinic.id, None, 30, participants::now())
            .unwrap()
            .token;
    // The generated account is clinic 750096's.
    let (name, bytes, _) = package(10, "");
    let id = upload(&app, &token, &name, &bytes).await;
    drain(&app);
    let status: Value = get(&app, &token, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "rejected", "{status}");
    assert_eq!(status["refusal_code"], "804", "{status}");
    assert_eq!(status["refusal_reason"], "OMSH.00.0201", "{status}");
    let protocol = get(&app, &token, &format!("/api/v1/packages/{id}/protocol")).await;
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol.body);
    assert!(xml.contains("<OSHIB>OMSH.00.0201</OSHIB>"), "{xml}");
    assert_eq!(store::case_count(&mut app.conn(), &id).unwrap(), 0);
    assert!(
        omshub::settlement::load_decisions(&mut app.conn(), &id)
            .unwrap()
            .is_none()
    );
}

#[actix_web::test]
async fn the_erz_snapshot_of_the_rules_answers_the_insurer_of_the_day() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    // Before anyone is registered, the snapshot is empty: the ERZ rules are skipped.
    app.state.lookups.refresh_erz(&app.state.db, false).unwrap();
    assert!(app.state.lookups.erz().is_empty());

    let people = people();
    let p = &people[0];
    let number = enp(p, 41);
    let text = oplist(
        "i34902_34_01241",
        "34902",
        &[op(1, 6, p, &number, "Э", "2024-01-10", OGRN_34902)],
    );
    assert_eq!(
        apply_text(&app, "i34902_34_01241.xml", &text, t("2024-01-10 12:00:00")).accepted,
        1
    );
    let text = oplist(
        "i34901_34_05241",
        "34901",
        &[op(1, 7, p, &number, "Э", "2024-06-01", OGRN_34901)],
    );
    assert_eq!(
        apply_text(&app, "i34901_34_05241.xml", &text, t("2024-05-20 12:00:00")).accepted,
        1
    );

    // The refresh sees the register's new revision and rebuilds the snapshot once.
    app.state.lookups.refresh_erz(&app.state.db, false).unwrap();
    let erz = app.state.lookups.erz();
    assert_eq!(erz.persons(), 1);
    let insurer = |on: &str| erz.policy_on(&number, d(on)).map(|s| s.insurer);
    assert_eq!(insurer("2024-05-31"), Some(Some("34902".to_owned())));
    assert_eq!(insurer("2024-06-01"), Some(Some("34901".to_owned())));
    assert_eq!(insurer("2023-12-01"), Some(None), "registered, not insured");
    let other = enp(&people[1], 42);
    assert_eq!(erz.policy_on(&other, d("2024-06-01")), None, "unknown ENP");
    app.state.lookups.refresh_erz(&app.state.db, false).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&erz, &app.state.lookups.erz()),
        "no change, no rebuild"
    );
}

/// Whether docs/INTAKE.md's table of refusal codes lists `code` with `reason` (a rule id for
/// 804, a named reason or `–` for the others), so the status a user reads is documented.
pub(crate) fn documented_refusal(code: &str, reason: Option<&str>) -> bool {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/INTAKE.md")).unwrap();
    let table = doc
        .split("### Refusal codes")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").find(|block| block.starts_with("| code")))
        .unwrap_or_default();
    table.lines().skip(2).any(|row| {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (codes, reasons) = (cells.get(1).copied(), cells.get(2).copied());
        let (Some(codes), Some(reasons)) = (codes, reasons) else {
            return false;
        };
        let code_listed = match codes.split_once('–') {
            Some((from, to)) => {
                let (Ok(from), Ok(to), Ok(n)) =
                    (from.parse::<u16>(), to.parse::<u16>(), code.parse::<u16>())
                else {
                    return false;
                };
                (from..=to).contains(&n)
            }
            None => codes.trim_matches('`') == code,
        };
        let reason_listed = match reason {
            None => reasons == "–",
            Some(r) if code == "804" => {
                reasons.contains("rule id") && omshub::validate::rules::catalogue::find(r).is_some()
            }
            Some(r) => reasons.split(", ").any(|x| x.trim_matches('`') == r),
        };
        code_listed && reason_listed
    })
}

#[actix_web::test]
async fn a_partly_accepted_package_carries_a_refusal_code_the_intake_table_lists() {
    let app = TestApp::spawn();
    let (name, bytes, _) = package(30, "sumv=1,duplicate=1");
    let id = upload(&app, READER_TOKEN, &name, &bytes).await;
    drain(&app);
    let status: Value = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "partly_accepted", "{status}");
    let code = status["refusal_code"].as_str().unwrap();
    let reason = status["refusal_reason"].as_str();
    assert!(documented_refusal(code, reason), "{status}");
    // The check itself can fail: a code or a reason the table does not list.
    assert!(!documented_refusal("804", Some("no_such_reason")));
    assert!(!documented_refusal("809", None));
    assert!(documented_refusal("905", None));
    assert!(documented_refusal("801", Some("zip_bomb")));
}
