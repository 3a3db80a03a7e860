//! Package intake through the API as a sender uses it: upload, receipt, the worker's check,
//! status and protocol; repeats, 805, refusals, limits, visibility, and a worker cut off in
//! the middle. Workers are driven by hand (`process_next`) so each step is observable.

use actix_web::test::TestRequest;
use omshub::r#gen::{AccountsOptions, Defects, write_package};
use omshub::intake::Status;
use omshub::intake::store;
use serde_json::Value;

use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp, TestResponse};

/// A generated package (`cases` cases, `defects` injected): its name and bytes.
fn package(cases: u64, seed: u64, defects: &str) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.defects = Defects::parse(defects).unwrap();
    let written = write_package(dir.path(), &options).unwrap();
    let zip = &written.files[2].path;
    let name = zip.file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(zip).unwrap())
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(&format!("/api/v1/packages?name={name}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/zip"))
            .set_payload(bytes.to_vec()),
    )
    .await
}

async fn get(app: &TestApp, token: &str, path: &str) -> TestResponse {
    app.call(
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
}

/// Runs the queue dry.
fn drain(app: &TestApp) -> usize {
    let mut n = 0;
    while app.state.intake.process_next().unwrap() {
        n += 1;
    }
    n
}

#[actix_web::test]
async fn a_valid_package_is_receipted_checked_and_accepted_once() {
    let app = TestApp::spawn();
    let (name, bytes) = package(20, 1, "");
    let res = upload(&app, READER_TOKEN, &name, &bytes).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let receipt: Value = res.json();
    let id = receipt["id"].as_str().unwrap().to_owned();
    assert_eq!(receipt["file_name"], name.as_str());
    assert_eq!(receipt["size_bytes"], bytes.len());
    assert_eq!(receipt["status"], "received");
    assert_eq!(receipt["repeat"], false);
    assert_eq!(
        receipt["sha256"],
        omshub::intake::spool::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    // Before a worker took it: received, no protocol yet.
    let status: Value = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "received");
    let early = get(
        &app,
        READER_TOKEN,
        &format!("/api/v1/packages/{id}/protocol"),
    )
    .await;
    assert_eq!(early.status, 409);
    assert_eq!(early.error().error, "protocol_not_ready");

    assert_eq!(drain(&app), 1);
    let status: Value = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "accepted", "{status}");
    // 20 cases in the H file and their patients in the L file.
    assert!(status["records"].as_i64().unwrap() > 20, "{status}");
    assert_eq!(status["findings"], 0);
    let protocol = get(
        &app,
        READER_TOKEN,
        &format!("/api/v1/packages/{id}/protocol"),
    )
    .await;
    assert_eq!(protocol.status, 200);
    let (xml, _, bad) = encoding_rs::WINDOWS_1251.decode(&protocol.body);
    assert!(!bad);
    assert!(xml.contains("<FLK_P>") && !xml.contains("<PR>"), "{xml}");
    let disposition = protocol.header("Content-Disposition").unwrap();
    assert!(disposition.contains(&format!("V{}", name.trim_end_matches(".zip"))));

    // The same bytes again: the first receipt, nothing new to check.
    let again = upload(&app, READER_TOKEN, &name, &bytes).await;
    assert_eq!(again.status, 200);
    let again: Value = again.json();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["repeat"], true);
    assert_eq!(drain(&app), 0);
    let stored = std::fs::read_dir(app.state.intake.storage.packages())
        .unwrap()
        .count();
    assert_eq!(stored, 1, "the repeat's bytes are not kept");
}

#[actix_web::test]
async fn an_idempotency_key_returns_the_first_receipt() {
    let app = TestApp::spawn();
    let (name, bytes) = package(5, 2, "");
    let send = |body: Vec<u8>| {
        app.call(
            TestRequest::post()
                .uri(&format!("/api/v1/packages?name={name}"))
                .insert_header(("Authorization", format!("Bearer {READER_TOKEN}")))
                .insert_header(("Idempotency-Key", "upload-42"))
                .set_payload(body),
        )
    };
    let first: Value = send(bytes.clone()).await.json();
    // A retry whose bytes differ (say, re-zipped) with the same key is the same upload.
    let mut other = bytes.clone();
    other.push(0);
    let second = send(other).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json::<Value>()["id"], first["id"]);
}

#[actix_web::test]
async fn a_name_already_used_is_805_and_refusals_have_their_codes() {
    let app = TestApp::spawn();
    let (name, bytes) = package(5, 3, "");
    let (_, other_bytes) = package(6, 4, "");
    let first: Value = upload(&app, READER_TOKEN, &name, &bytes).await.json();
    let second: Value = upload(&app, READER_TOKEN, &name, &other_bytes).await.json();
    let not_zip: Value = upload(
        &app,
        READER_TOKEN,
        "HM750096T75_26012.zip",
        b"not a zip at all",
    )
    .await
    .json();
    let (defective_name, defective) = package(30, 5, "904=2");
    let defective_name = defective_name.replace("26011", "26013");
    let partly: Value = upload(&app, READER_TOKEN, &defective_name, &defective)
        .await
        .json();
    assert_eq!(drain(&app), 4);
    let state = |v: &Value| {
        let app = &app;
        let id = v["id"].as_str().unwrap().to_owned();
        async move {
            get(app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
                .await
                .json::<Value>()
        }
    };
    assert_eq!(state(&first).await["status"], "accepted");
    let second = state(&second).await;
    assert_eq!(second["status"], "rejected");
    assert_eq!(second["refusal_code"], "805");
    let not_zip = state(&not_zip).await;
    assert_eq!(not_zip["status"], "rejected");
    assert_eq!(
        store::case_count(&mut app.conn(), first["id"].as_str().unwrap()).unwrap(),
        5
    );

    assert_eq!(not_zip["refusal_code"], "801");
    // A renamed package fails the inner names (802); its records are not read as accepted.
    let partly = state(&partly).await;
    assert_eq!(partly["status"], "rejected", "{partly}");
    assert_eq!(partly["refusal_code"], "802", "{partly}");
    // A rejected package keeps no case, even the clean ones its data file had.
    assert_eq!(
        store::case_count(&mut app.conn(), partly["id"].as_str().unwrap()).unwrap(),
        0
    );
    let protocol = get(
        &app,
        READER_TOKEN,
        &format!(
            "/api/v1/packages/{}/protocol",
            second["id"].as_str().unwrap()
        ),
    )
    .await;
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol.body);
    assert!(xml.contains("<OSHIB>805</OSHIB>"), "{xml}");
}

#[actix_web::test]
async fn records_with_errors_make_a_partly_accepted_package() {
    let app = TestApp::spawn();
    let (name, bytes) = package(40, 6, "904=3");
    let receipt: Value = upload(&app, READER_TOKEN, &name, &bytes).await.json();
    drain(&app);
    let id = receipt["id"].as_str().unwrap();
    let status: Value = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "partly_accepted", "{status}");
    assert_eq!(status["refused_records"], 3);
    // The 37 clean cases are stored, the 3 refused are not.
    assert_eq!(store::case_count(&mut app.conn(), id).unwrap(), 37);
    assert_eq!(status["refusal_code"], "904");
    let protocol = get(
        &app,
        READER_TOKEN,
        &format!("/api/v1/packages/{id}/protocol"),
    )
    .await;
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol.body);
    assert_eq!(xml.matches("<OSHIB>904</OSHIB>").count(), 3, "{xml}");
}

#[actix_web::test]
async fn senders_see_their_own_packages_and_the_admin_sees_all() {
    let app = TestApp::spawn();
    let (name, bytes) = package(3, 7, "");
    let mine: Value = upload(&app, ADMIN_TOKEN, &name, &bytes).await.json();
    let id = mine["id"].as_str().unwrap();
    let theirs = get(&app, READER_TOKEN, &format!("/api/v1/packages/{id}")).await;
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.error().error, "package_unknown");
    let list: Value = get(&app, READER_TOKEN, "/api/v1/packages").await.json();
    assert_eq!(list["total"], 0);
    let list: Value = get(&app, ADMIN_TOKEN, "/api/v1/packages").await.json();
    assert_eq!(list["total"], 1);
    let anonymous = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/packages?name={name}"))
                .set_payload(bytes),
        )
        .await;
    assert_eq!(anonymous.status, 401);
}

#[actix_web::test]
async fn size_and_rate_limits_answer_413_and_429() {
    let app = TestApp::spawn_with(|s| {
        s.intake.max_package_bytes = 4096;
        s.intake.uploads_per_minute = 2;
    });
    let big = upload(
        &app,
        READER_TOKEN,
        "HM750096T75_26011.zip",
        &vec![b'x'; 5000],
    )
    .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.error().error, "payload_too_large");
    assert_eq!(
        std::fs::read_dir(app.state.intake.storage.incoming())
            .unwrap()
            .count(),
        0,
        "nothing of a refused upload stays on disk"
    );
    // A body refused for its declared size is not counted against the sender.
    for (n, body) in [b"small 1", b"small 2"].iter().enumerate() {
        let name = format!("HM750096T75_2601{n}.zip");
        assert_eq!(upload(&app, READER_TOKEN, &name, *body).await.status, 202);
    }
    let third = upload(&app, READER_TOKEN, "HM750096T75_26012.zip", b"small 3").await;
    assert_eq!(third.status, 429);
    assert_eq!(third.error().error, "too_many_requests");
    assert!(third.header("Retry-After").is_some());
    // Another sender has its own share.
    let other = upload(&app, ADMIN_TOKEN, "HM750096T75_26012.zip", b"small 4").await;
    assert_eq!(other.status, 202);
}

#[actix_web::test]
async fn a_worker_cut_off_mid_check_leaves_the_package_to_be_checked_again_once() {
    let app = TestApp::spawn();
    let (name, bytes) = package(10, 8, "");
    let receipt: Value = upload(&app, READER_TOKEN, &name, &bytes).await.json();
    let id = receipt["id"].as_str().unwrap();
    // A worker takes the package and dies before it ends it.
    let taken = store::claim_next(&mut app.conn()).unwrap().unwrap();
    assert_eq!(taken.status(), Some(Status::Checking));
    assert_eq!(drain(&app), 0, "a package being checked is not taken twice");
    // The next start gives it back and a worker finishes it.
    assert_eq!(app.state.intake.recover().unwrap(), 1);
    assert_eq!(drain(&app), 1);
    let row = store::get(&mut app.conn(), id).unwrap().unwrap();
    assert_eq!(row.status(), Some(Status::Accepted));
    assert_eq!(row.attempts, 2);
    assert_eq!(store::case_count(&mut app.conn(), id).unwrap(), 10);
    // The dead worker's attempt can no longer end it.
    let late = store::Finished {
        status: Status::Rejected,
        records: 0,
        refused_records: 0,
        findings: 0,
        refusal_code: None,
        refusal_reason: None,
        protocol_name: None,
        message: None,
    };
    assert!(!store::finish(&mut app.conn(), &taken, &late, None).unwrap());
    assert_eq!(
        store::get(&mut app.conn(), id).unwrap().unwrap().status(),
        Some(Status::Accepted)
    );
}

#[actix_web::test]
async fn the_inbox_folder_is_a_second_channel() {
    let folders = tempfile::tempdir().unwrap();
    let (inbox_dir, outbox_dir) = (folders.path().join("in"), folders.path().join("out"));
    let app = TestApp::spawn_with(|s| {
        s.intake.inbox_dir.clone_from(&inbox_dir);
        s.intake.outbox_dir.clone_from(&outbox_dir);
        // About the channel; the business rules over an inbox package are tested in
        // holes_money.rs.
        s.intake.business_rules = false;
    });
    // The folder is the register code of a participant (issue 21): clinic 750901, which sends
    // its own account.
    crate::participants::import_registers(&mut app.conn());
    let participant = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Clinic,
            org_code: Some("750901".into()),
            name: "Clinic 750901".into(),
            contact_email: None,
            roles: None,
        },
        omshub::participants::now(),
    )
    .unwrap();
    let (name, bytes) = {
        let dir = tempfile::tempdir().unwrap();
        let mut options = AccountsOptions::new(8, 9).unwrap();
        options.mo = omshub::domain::MoCode::parse("750901").unwrap();
        let written = write_package(dir.path(), &options).unwrap();
        let zip = &written.files[2].path;
        let name = zip.file_name().unwrap().to_string_lossy().into_owned();
        (name, std::fs::read(zip).unwrap())
    };
    let clinic = inbox_dir.join("750901");
    std::fs::create_dir_all(&clinic).unwrap();
    std::fs::write(clinic.join(&name), &bytes).unwrap();
    let mut inbox = omshub::intake::inbox::Inbox::default();
    // The first look only notes the file (its writer may not be done); the second takes it.
    assert_eq!(inbox.poll(&app.state.intake).unwrap(), 0);
    assert_eq!(inbox.poll(&app.state.intake).unwrap(), 1);
    assert!(
        !clinic.join(&name).exists(),
        "a taken file leaves the inbox"
    );
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(
            outbox_dir
                .join("750901")
                .join(format!("{name}.receipt.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["sender"], format!("participant:{}", participant.id));
    assert_eq!(drain(&app), 1);
    let protocol = outbox_dir
        .join("750901")
        .join(format!("V{}.xml", name.trim_end_matches(".zip")));
    let protocol = std::fs::read(protocol).unwrap();
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol);
    assert!(xml.contains("<FLK_P>") && !xml.contains("<PR>"), "{xml}");
    let row = store::get(&mut app.conn(), receipt["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.channel.as_str(), row.status()),
        ("inbox", Some(Status::Accepted))
    );
}

#[actix_web::test]
async fn a_participant_uploads_and_its_contact_address_gets_the_notice() {
    // About notices: clinic 750901 sends the generator's account of 750096, which the business
    // rules would refuse (tests/it/intake_rules.rs), so they are off here.
    let app = TestApp::spawn_with(|s| s.intake.business_rules = false);
    crate::participants::import_registers(&mut app.conn());
    let now = omshub::participants::now();
    let clinic = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Clinic,
            org_code: Some("750901".into()),
            name: "Clinic 750901".into(),
            contact_email: Some("it@clinic-750901.example".into()),
            roles: None,
        },
        now,
    )
    .unwrap();
    let token = omshub::participants::issue_token(&mut app.conn(), clinic.id, None, 30, now)
        .unwrap()
        .token;
    let (name, bytes) = package(12, 10, "902=1");
    let receipt: Value = upload(&app, &token, &name, &bytes).await.json();
    assert_eq!(receipt["sender"], format!("participant:{}", clinic.id));
    assert_eq!(drain(&app), 1);
    let mail_dir = app.state.settings.mail.file_dir.clone();
    let mails: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains("To: it@clinic-750901.example"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("partly accepted"), "{}", mails[0]);
    assert!(mails[0].contains("Findings: 1"), "{}", mails[0]);
    // An auditor reads every sender's packages but may not upload.
    let auditor = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Auditor,
            org_code: None,
            name: "Federal auditor".into(),
            contact_email: None,
            roles: None,
        },
        now,
    )
    .unwrap();
    let audit_token = omshub::participants::issue_token(&mut app.conn(), auditor.id, None, 30, now)
        .unwrap()
        .token;
    let id = receipt["id"].as_str().unwrap();
    let seen = get(&app, &audit_token, &format!("/api/v1/packages/{id}")).await;
    assert_eq!(seen.status, 200);
    let refused = upload(&app, &audit_token, &name, &bytes).await;
    assert_eq!(refused.status, 403);
}

#[actix_web::test]
async fn a_notice_the_mail_transport_refused_is_kept_and_sent_later() {
    use diesel::prelude::*;
    use omshub::db::schema::notice;
    use omshub::intake::notices;

    // About notices; the business rules are off as in the test above.
    let app = TestApp::spawn_with(|s| s.intake.business_rules = false);
    crate::participants::import_registers(&mut app.conn());
    let now = omshub::participants::now();
    let clinic = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Clinic,
            org_code: Some("750901".into()),
            name: "Clinic 750901".into(),
            contact_email: Some("it@clinic-750901.example".into()),
            roles: None,
        },
        now,
    )
    .unwrap();
    let token = omshub::participants::issue_token(&mut app.conn(), clinic.id, None, 30, now)
        .unwrap()
        .token;
    // The mail folder becomes a file: the file transport cannot write the message.
    let mail_dir = app.state.settings.mail.file_dir.clone();
    std::fs::remove_dir_all(&mail_dir).unwrap();
    std::fs::write(&mail_dir, b"not a folder").unwrap();

    let (name, bytes) = package(8, 12, "");
    let receipt: Value = upload(&app, &token, &name, &bytes).await.json();
    let id = receipt["id"].as_str().unwrap().to_owned();
    assert_eq!(drain(&app), 1);
    let kept = notices::of_package(&mut app.conn(), &id).unwrap().unwrap();
    assert_eq!(kept.attempts, 1);
    assert!(
        kept.sent_at.is_none() && kept.last_error.is_some(),
        "{kept:?}"
    );
    assert_eq!(kept.recipient, "it@clinic-750901.example");
    // The package's outcome stands.
    let status: Value = get(&app, &token, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "accepted");

    // The transport works again; the retry waits for its time, then sends once.
    std::fs::remove_file(&mail_dir).unwrap();
    std::fs::create_dir_all(&mail_dir).unwrap();
    app.state.intake.deliver_notices();
    assert!(
        notices::of_package(&mut app.conn(), &id)
            .unwrap()
            .unwrap()
            .sent_at
            .is_none(),
        "not before its time"
    );
    diesel::update(notice::table.filter(notice::package_id.eq(&id)))
        .set(notice::next_attempt_at.eq(now - chrono::Duration::minutes(1)))
        .execute(&mut app.conn())
        .unwrap();
    app.state.intake.deliver_notices();
    app.state.intake.deliver_notices();
    let sent = notices::of_package(&mut app.conn(), &id).unwrap().unwrap();
    assert_eq!(sent.attempts, 2);
    assert!(
        sent.sent_at.is_some() && sent.last_error.is_none(),
        "{sent:?}"
    );
    let mails: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 1, "sent once");
    assert!(mails[0].contains(&name), "{}", mails[0]);
}
