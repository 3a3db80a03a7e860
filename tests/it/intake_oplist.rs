//! An insurer's OPLIST sent as a package through the intake API (issue 8, point 2): applied to
//! the register by the worker, answered by the REPLIST (the package's protocol) and the
//! `FLK_P`, both listed and downloadable; the insurer the file name names is the only one
//! that may send it; the same bytes again are the first receipt. It may come in a ZIP holding
//! only it and its signatures, and its signatures are verified as an account package's: a
//! package refused for its archive or its signatures changes nothing in the register.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use omshub::db::schema::erz_person;
use omshub::participants::{self, Kind, NewParticipant};
use serde_json::Value;

use crate::erz::{OGRN_34901, enp, op, oplist, people};
use crate::intake_signatures::{Keys, raw_zip, upload_multipart};
use crate::participants::import_registers;
use crate::signature::test_pki::{DETACHED, ENVELOPING, Identity, pki, sign};
use crate::support::{TestApp, TestResponse};

fn insurer(app: &TestApp, code: &str) -> String {
    insurer_with(app, code, &[])
}

/// An insurer participant with a token and `certificates` registered to it.
fn insurer_with(app: &TestApp, code: &str, certificates: &[&Identity]) -> String {
    let now = participants::now();
    let p = participants::add(
        &mut app.conn(),
        &NewParticipant {
            kind: Kind::Insurer,
            org_code: Some(code.into()),
            name: format!("insurer {code}"),
            contact_email: None,
            roles: None,
        },
        now,
    )
    .unwrap();
    for identity in certificates {
        let info = participants::certificate::info(&identity.cert).unwrap();
        participants::register_certificate(&mut app.conn(), p.id, &info, now).unwrap();
    }
    participants::issue_token(&mut app.conn(), p.id, None, 30, now)
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
        registration(1, &people[0], 51),
        registration(2, &people[2], 52),
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

/// The insured persons in the register.
fn persons(app: &TestApp) -> i64 {
    erz_person::table
        .count()
        .get_result::<i64>(&mut app.conn())
        .unwrap()
}

/// A first registration (`TIP_OP` 6) of `p` by insurer 34901 under the ENP of `serial`, its
/// electronic policy from 2024-01-10.
fn registration(n_rec: u32, p: &crate::erz::P, serial: u32) -> String {
    op(n_rec, 6, p, &enp(p, serial), "Э", "2024-01-10", OGRN_34901)
}

/// An OPLIST of insurer 34901 named `i34901_34_0124<number>`, registering `people()[person]`
/// (a valid person: 0, 1 or 3) as its only OP: (the XML's name, its bytes).
fn one_person(number: u32, person: usize) -> (String, Vec<u8>) {
    let people = people();
    let p = &people[person];
    let n_rec = u32::try_from(person).unwrap() + 1;
    let stem = format!("i34901_34_0124{number}");
    let ops = [registration(n_rec, p, 60 + n_rec)];
    (
        format!("{stem}.xml"),
        oplist(&stem, "34901", &ops).into_bytes(),
    )
}

/// `name` with `.xml` turned into `.zip`.
fn zip_name(name: &str) -> String {
    name.replace(".xml", ".zip")
}

/// The package of `receipt` (an upload's answer), once the worker ended it.
async fn state_of(app: &TestApp, token: &str, receipt: &TestResponse) -> Value {
    assert_eq!(receipt.status, 202, "{}", receipt.text());
    let id = receipt.json::<Value>()["id"].as_str().unwrap().to_owned();
    drain(app);
    get(app, token, &format!("/api/v1/packages/{id}"))
        .await
        .json()
}

/// The `FLK_P` protocol of a refused package, which names the refusal.
async fn refusal_protocol(app: &TestApp, token: &str, state: &Value) -> String {
    let id = state["id"].as_str().unwrap();
    let res = get(app, token, &format!("/api/v1/packages/{id}/protocol")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    encoding_rs::WINDOWS_1251.decode(&res.body).0.into_owned()
}

/// The hub's keys (`tests/it/intake_signatures.rs`), and `OPLIST = ["sig"]` when `required`.
fn signed_hub(keys: &Keys, required: bool) -> TestApp {
    TestApp::spawn_with(|s| {
        keys.apply(s);
        s.signature.required.clear();
        if required {
            s.signature
                .required
                .insert("OPLIST".into(), vec!["sig".into()]);
        }
    })
}

#[actix_web::test]
async fn an_oplist_in_a_zip_is_applied_and_answered_by_its_replist() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let token = insurer(&app, "34901");
    let people = people();
    let ops = [
        registration(1, &people[0], 51),
        registration(2, &people[1], 52),
    ];
    let text = oplist("i34901_34_01241", "34901", &ops);
    let zip = raw_zip(&[("i34901_34_01241.xml", text.as_bytes())]);

    let res = crate::intake_signatures::upload(&app, &token, "i34901_34_01241.zip", &zip).await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(
        (state["records"].as_i64(), state["refused_records"].as_i64()),
        (Some(2), Some(0))
    );
    assert_eq!(state["protocol_name"], "p34901_34_01241.xml");
    assert_eq!(persons(&app), 2);

    // The REPLIST is the protocol: AA for both.
    let id = state["id"].as_str().unwrap();
    let reply = get(&app, &token, &format!("/api/v1/packages/{id}/protocol"))
        .await
        .text();
    assert!(reply.contains("<REPLIST>"), "{reply}");
    assert_eq!(
        reply.matches("<CODE_ERP>AA</CODE_ERP>").count(),
        2,
        "{reply}"
    );
    let list: Value = get(&app, &token, &format!("/api/v1/packages/{id}/protocols"))
        .await
        .json();
    assert!(
        list["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "f34901_34_01241.xml"),
        "{list}"
    );

    // The same OPLIST sent bare afterwards: a package name is used once whatever form
    // carries it (issue 21), so 805, and nothing is applied twice.
    let bare = upload(&app, &token, "i34901_34_01241.xml", text.as_bytes()).await;
    let again = state_of(&app, &token, &bare).await;
    assert_eq!(again["status"], "rejected", "{again}");
    assert_eq!(again["refusal_code"], "805", "{again}");
    assert_eq!(again["refusal_reason"], "name_already_used", "{again}");
    assert_eq!(persons(&app), 2);
}

#[actix_web::test]
async fn a_zip_around_an_oplist_holding_anything_else_is_refused_with_its_code() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let token = insurer(&app, "34901");
    let (name, xml) = one_person(1, 0);
    // Another OPLIST for the wrong inner name, so that its bytes are not those of the good ZIP
    // at the end (the same bytes again would be a repeat of this refused package).
    let (_, other_xml) = one_person(1, 1);
    let cases: [(&str, &str, &str, Vec<u8>); 4] = [
        (
            "802",
            "foreign_file",
            "i34901_34_01249.zip",
            raw_zip(&[(name.as_str(), &other_xml)]),
        ),
        (
            "802",
            "unexpected_file",
            "i34901_34_01241.zip",
            raw_zip(&[(name.as_str(), &xml), ("readme.txt", b"see the OPLIST")]),
        ),
        (
            "801",
            "nested_archive",
            "i34901_34_01241.zip",
            raw_zip(&[(name.as_str(), &xml), ("i34901_34_01241.zip", b"PK")]),
        ),
        ("801", "not_zip", "i34901_34_01241.zip", xml.clone()),
    ];
    for (code, reason, package, bytes) in &cases {
        let res = crate::intake_signatures::upload(&app, &token, package, bytes).await;
        let state = state_of(&app, &token, &res).await;
        assert_eq!(state["status"], "rejected", "{reason}: {state}");
        assert_eq!(state["refusal_code"], *code, "{reason}: {state}");
        assert_eq!(state["refusal_reason"], *reason, "{reason}: {state}");
        let xml = refusal_protocol(&app, &token, &state).await;
        assert!(xml.contains(&format!("<OSHIB>{code}</OSHIB>")), "{xml}");
        if *reason == "foreign_file" {
            // The file the ZIP's name promises is named as missing too.
            assert!(xml.contains("<OSHIB>803</OSHIB>"), "{xml}");
            assert!(xml.contains("i34901_34_01249.xml"), "{xml}");
        }
        assert_eq!(persons(&app), 0, "{reason}: nothing applied");
    }

    // The right one is applied, even under the name of a refused package.
    let res = crate::intake_signatures::upload(
        &app,
        &token,
        "i34901_34_01241.zip",
        &raw_zip(&[(name.as_str(), &xml)]),
    )
    .await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(persons(&app), 1);
}

#[actix_web::test]
async fn a_signed_oplist_from_its_insurer_is_applied_in_every_form() {
    let keys = Keys::new();
    let app = signed_hub(&keys, true);
    import_registers(&mut app.conn());
    let p = pki();
    let token = insurer_with(&app, "34901", &[&p.rsa]);

    // 1. A ZIP holding the OPLIST and its signature.
    let (a, a_xml) = one_person(1, 0);
    let zip = raw_zip(&[
        (a.as_str(), &a_xml),
        (&format!("{a}.sig"), &sign(&p.rsa, &a_xml, DETACHED)),
    ]);
    let res = crate::intake_signatures::upload(&app, &token, &zip_name(&a), &zip).await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(persons(&app), 1);

    // 2. The bare OPLIST with its signature as a multipart part.
    let (b, b_xml) = one_person(2, 1);
    let beside = [(format!("{b}.sig"), sign(&p.rsa, &b_xml, DETACHED))];
    let res = upload_multipart(&app, &token, (&b, &b_xml), &beside).await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(persons(&app), 2);

    // 3. The ZIP inside an enveloping signature.
    let (c, c_xml) = one_person(3, 3);
    let enveloped = sign(&p.rsa, &raw_zip(&[(c.as_str(), &c_xml)]), ENVELOPING);
    let res = crate::intake_signatures::upload(
        &app,
        &token,
        &format!("{}.sig", zip_name(&c)),
        &enveloped,
    )
    .await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(state["protocol_name"], "p34901_34_01243.xml");
    assert_eq!(persons(&app), 3);

    // 4. Unsigned, while `signature.required` asks a signature of OPLISTs: 806, nothing applied.
    let (d, d_xml) = one_person(4, 4);
    for (package, bytes) in [
        (zip_name(&d), raw_zip(&[(d.as_str(), &d_xml)])),
        (d.clone(), d_xml.clone()),
    ] {
        let res = crate::intake_signatures::upload(&app, &token, &package, &bytes).await;
        let state = state_of(&app, &token, &res).await;
        assert_eq!(state["status"], "rejected", "{package}: {state}");
        assert_eq!(state["refusal_code"], "806", "{package}: {state}");
        assert_eq!(
            state["refusal_reason"], "signature_missing",
            "{package}: {state}"
        );
        let xml = refusal_protocol(&app, &token, &state).await;
        assert!(xml.contains(&format!("{d}.sig")), "{xml}");
    }
    assert_eq!(persons(&app), 3);
}

#[actix_web::test]
async fn a_tampered_signature_refuses_the_oplist_807_and_the_register_is_unchanged() {
    let keys = Keys::new();
    let app = signed_hub(&keys, false);
    import_registers(&mut app.conn());
    let p = pki();
    let token = insurer_with(&app, "34901", &[&p.rsa]);
    let (name, xml) = one_person(1, 0);
    let good = sign(&p.rsa, &xml, DETACHED);
    // The last byte of a detached CMS is its signer's signature value.
    let mut tampered = good.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    let zip =
        |signature: &[u8]| raw_zip(&[(name.as_str(), &xml), (&format!("{name}.sig"), signature)]);

    // In the ZIP, and beside the bare OPLIST: 807 each, nothing applied, no ERZ file recorded.
    let res =
        crate::intake_signatures::upload(&app, &token, &zip_name(&name), &zip(&tampered)).await;
    let in_zip = state_of(&app, &token, &res).await;
    let beside = [(format!("{name}.sig"), tampered.clone())];
    let res = upload_multipart(&app, &token, (&name, &xml), &beside).await;
    let bare = state_of(&app, &token, &res).await;
    for state in [&in_zip, &bare] {
        assert_eq!(state["status"], "rejected", "{state}");
        assert_eq!(state["refusal_code"], "807", "{state}");
        assert_eq!(state["refusal_reason"], "signature_invalid", "{state}");
        let protocol = refusal_protocol(&app, &token, state).await;
        assert!(protocol.contains("<OSHIB>807</OSHIB>"), "{protocol}");
    }
    assert_eq!(persons(&app), 0);
    let files: i64 = omshub::db::schema::erz_file::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(files, 0, "no ERZ file recorded");

    // The same OPLIST with its true signature, under the same name, is applied.
    let res = crate::intake_signatures::upload(&app, &token, &zip_name(&name), &zip(&good)).await;
    let state = state_of(&app, &token, &res).await;
    assert_eq!(state["status"], "accepted", "{state}");
    assert_eq!(persons(&app), 1);
}

#[actix_web::test]
async fn an_oplist_signed_by_another_participants_certificate_is_refused_808() {
    let keys = Keys::new();
    let app = signed_hub(&keys, false);
    import_registers(&mut app.conn());
    let p = pki();
    let token = insurer_with(&app, "34901", &[&p.rsa]);
    let _other = insurer_with(&app, "75901", &[&p.ec]);
    let (name, xml) = one_person(1, 0);
    let by_other = sign(&p.ec, &xml, DETACHED);

    let zip = raw_zip(&[(name.as_str(), &xml), (&format!("{name}.sig"), &by_other)]);
    let res = crate::intake_signatures::upload(&app, &token, &zip_name(&name), &zip).await;
    let in_zip = state_of(&app, &token, &res).await;
    let beside = [(format!("{name}.sig"), by_other.clone())];
    let res = upload_multipart(&app, &token, (&name, &xml), &beside).await;
    let bare = state_of(&app, &token, &res).await;
    for state in [&in_zip, &bare] {
        assert_eq!(state["status"], "rejected", "{state}");
        assert_eq!(state["refusal_code"], "808", "{state}");
        assert_eq!(state["refusal_reason"], "signer_not_registered", "{state}");
    }
    assert_eq!(persons(&app), 0);
}
