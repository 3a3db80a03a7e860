//! An insurer's OPLIST sent as a package through the intake API (issue 8, point 2): applied to
//! the register by the worker, answered by the REPLIST (the package's protocol) and the
//! `FLK_P`, both listed and downloadable; the insurer the file name names is the only one
//! that may send it; the same bytes again are the first receipt.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use omshub::db::schema::erz_person;
use omshub::participants::{self, Kind, NewParticipant};
use serde_json::Value;

use crate::erz::{OGRN_34901, enp, op, oplist, people};
use crate::participants::import_registers;
use crate::support::{TestApp, TestResponse};

fn insurer(app: &TestApp, code: &str) -> String {
    let p = participants::add(
        &mut app.conn(),
        &NewParticipant {
            kind: Kind::Insurer,
            org_code: Some(code.into()),
            name: format!("insurer {code}"),
            contact_email: None,
            roles: None,
        },
        participants::now(),
    )
    .unwrap();
    participants::issue_token(&mut app.conn(), p.id, None, 30, participants::now())
        .unwrap()
        .token
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(&format!("/api/v1/packages?name={name}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/xml"))
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

fn drain(app: &TestApp) {
    while app.state.intake.process_next().unwrap() {}
}

#[actix_web::test]
async fn an_oplist_sent_as_a_package_is_applied_and_answered() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let token = insurer(&app, "34901");
    let other = insurer(&app, "75901");
    let people = people();
    // The first person is valid; the third carries a SNILS with a wrong check number.
    let ops = [
        op(
            1,
            6,
            &people[0],
            &enp(&people[0], 51),
            "Э",
            "2024-01-10",
            OGRN_34901,
        ),
        op(
            2,
            6,
            &people[2],
            &enp(&people[2], 52),
            "Э",
            "2024-01-10",
            OGRN_34901,
        ),
    ];
    let name = "i34901_34_01241.xml";
    let text = oplist("i34901_34_01241", "34901", &ops);

    // Another insurer may not send it.
    let res = upload(&app, &other, name, text.as_bytes()).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let foreign = res.json::<Value>()["id"].as_str().unwrap().to_owned();
    drain(&app);
    let status: Value = get(&app, &other, &format!("/api/v1/packages/{foreign}"))
        .await
        .json();
    assert_eq!(status["status"], "rejected", "{status}");
    assert_eq!(status["refusal_code"], "802");
    assert_eq!(status["refusal_reason"], "not_the_senders_file");
    assert_eq!(
        erz_person::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0,
        "nothing applied"
    );

    // Its own insurer sends it.
    let res = upload(&app, &token, name, text.as_bytes()).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let id = res.json::<Value>()["id"].as_str().unwrap().to_owned();
    drain(&app);
    let status: Value = get(&app, &token, &format!("/api/v1/packages/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "partly_accepted", "{status}");
    assert_eq!(
        (
            status["records"].as_i64(),
            status["refused_records"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(status["protocol_name"], "p34901_34_01241.xml");
    assert_eq!(
        erz_person::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        1
    );

    // The REPLIST is the protocol: AA for the first, AE for the second.
    let reply = get(&app, &token, &format!("/api/v1/packages/{id}/protocol")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type").unwrap(),
        "application/xml; charset=utf-8"
    );
    let reply = reply.text();
    assert!(reply.contains("<REPLIST>"), "{reply}");
    assert_eq!(
        reply.matches("<CODE_ERP>AA</CODE_ERP>").count(),
        1,
        "{reply}"
    );
    assert_eq!(
        reply.matches("<CODE_ERP>AE</CODE_ERP>").count(),
        1,
        "{reply}"
    );

    // Both answers are listed and each can be fetched by name.
    let list: Value = get(&app, &token, &format!("/api/v1/packages/{id}/protocols"))
        .await
        .json();
    let files: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"p34901_34_01241.xml"), "{list}");
    assert!(files.contains(&"f34901_34_01241.xml"), "{list}");
    let flk = get(
        &app,
        &token,
        &format!("/api/v1/packages/{id}/protocols/f34901_34_01241.xml"),
    )
    .await;
    assert_eq!(flk.status, 200);
    assert!(flk.text().contains("<FLK_P>"));
    let missing = get(
        &app,
        &token,
        &format!("/api/v1/packages/{id}/protocols/nothing.xml"),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error().error, "protocol_unknown");

    // The same bytes again: the first receipt, nothing applied twice.
    let again = upload(&app, &token, name, text.as_bytes()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json::<Value>()["id"], id.as_str());
    drain(&app);
    assert_eq!(
        erz_person::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        1
    );
}
