//! Signed packages through the API (issue 6, points 5 and 7, and the acceptance list): a clinic
//! with a registered signing certificate sends a package whose files carry detached CMS
//! signatures (inside the ZIP, beside it as multipart parts, or around the whole ZIP); the hub
//! verifies them against its trust store and the sender's registered certificates, refuses each
//! fault with its own code, and signs its receipts and protocols. The PKI is made at test time.

use std::io::{Cursor, Write as _};

use actix_web::test::TestRequest;
use omshub::r#gen::{AccountsOptions, Defects, write_package};
use omshub::intake::store;
use omshub::signature::{VerifyPolicy, verify_detached};
use serde_json::Value;
use zip::write::SimpleFileOptions;

use crate::signature::test_pki::{DETACHED, ENVELOPING, Identity, pki, sign};
use crate::support::{READER_TOKEN, TestApp, TestResponse};

/// The files of a generated account: (H name, H bytes, L name, L bytes, package name).
pub(crate) struct Account {
    h: (String, Vec<u8>),
    l: (String, Vec<u8>),
    pub(crate) package: String,
}

pub(crate) fn account(cases: u64, seed: u64) -> Account {
    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.defects = Defects::parse("").unwrap();
    let written = write_package(dir.path(), &options).unwrap();
    let file = |i: usize| {
        let path = &written.files[i].path;
        (
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(path).unwrap(),
        )
    };
    let (h, l, zip) = (file(0), file(1), file(2));
    assert!(
        h.0.starts_with('H') && l.0.starts_with('L'),
        "{} {}",
        h.0,
        l.0
    );
    Account {
        h,
        l,
        package: zip.0,
    }
}

impl Account {
    /// The package with the two files and `extra` entries.
    pub(crate) fn zip(&self, extra: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in [&self.h, &self.l].into_iter().chain(extra) {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// The package with each file signed by `signer` inside (`<file>.sig`).
    pub(crate) fn signed_zip(&self, signer: &Identity) -> Vec<u8> {
        self.zip(&[
            (
                format!("{}.sig", self.h.0),
                sign(signer, &self.h.1, DETACHED),
            ),
            (
                format!("{}.sig", self.l.0),
                sign(signer, &self.l.1, DETACHED),
            ),
        ])
    }

    /// The same account under another package number (so its name is new to the sender).
    pub(crate) fn renumbered(&self, number: &str) -> Self {
        let rename = |n: &str| n.replace("26011", number);
        let text = |b: &[u8]| {
            let t = encoding_rs::WINDOWS_1251.decode(b).0.into_owned();
            encoding_rs::WINDOWS_1251
                .encode(&t.replace("T75_26011", &format!("T75_{number}")))
                .0
                .into_owned()
        };
        Self {
            h: (rename(&self.h.0), text(&self.h.1)),
            l: (rename(&self.l.0), text(&self.l.1)),
            package: rename(&self.package),
        }
    }
}

/// The hub's settings: trust the test root, require `sig` on H and L, sign with the hub key.
pub(crate) struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = pki();
        std::fs::write(dir.path().join("root.pem"), p.root.cert.to_pem().unwrap()).unwrap();
        let mut hub = p.ec.cert.to_pem().unwrap();
        hub.extend(p.intermediate.cert.to_pem().unwrap());
        std::fs::write(dir.path().join("hub.pem"), hub).unwrap();
        std::fs::write(
            dir.path().join("hub.key"),
            p.ec.key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        Self { dir }
    }

    pub(crate) fn apply(&self, s: &mut omshub::config::Settings) {
        s.signature.trust_store = self.dir.path().join("root.pem");
        s.signature.hub_certificate = self.dir.path().join("hub.pem");
        s.signature.hub_key = self.dir.path().join("hub.key");
        s.signature.required = [
            ("H".to_owned(), vec!["sig".to_owned()]),
            ("L".to_owned(), vec!["sig".to_owned()]),
        ]
        .into_iter()
        .collect();
    }
}

/// The settings with the hub's keys, and without the business rules: these tests are about
/// signatures, and their clinic (750901, of the register fixtures) sends the generator's
/// account of clinic 750096, which the rules refuse (`tests/it/intake_rules.rs`).
pub(crate) fn without_rules(s: &mut omshub::config::Settings, keys: &Keys) {
    keys.apply(s);
    s.intake.business_rules = false;
}

/// A clinic participant with a token and `certificates` registered to it.
pub(crate) fn clinic(app: &TestApp, org: &str, certificates: &[&Identity]) -> String {
    let now = omshub::participants::now();
    let clinic = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Clinic,
            org_code: Some(org.into()),
            name: format!("Clinic {org}"),
            contact_email: Some(format!("it@clinic-{org}.example")),
            roles: None,
        },
        now,
    )
    .unwrap();
    for identity in certificates {
        let info = omshub::participants::certificate::info(&identity.cert).unwrap();
        omshub::participants::register_certificate(&mut app.conn(), clinic.id, &info, now).unwrap();
    }
    omshub::participants::issue_token(&mut app.conn(), clinic.id, None, 30, now)
        .unwrap()
        .token
}

pub(crate) async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(&format!("/api/v1/packages?name={name}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/zip"))
            .set_payload(bytes.to_vec()),
    )
    .await
}

/// A multipart upload: the package part and signature parts.
pub(crate) async fn upload_multipart(
    app: &TestApp,
    token: &str,
    package: (&str, &[u8]),
    signatures: &[(String, Vec<u8>)],
) -> TestResponse {
    let boundary = "omshub-test-boundary-7d3f";
    let mut body = Vec::new();
    let mut part = |field: &str, file: &str, bytes: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    };
    for (name, bytes) in signatures {
        part("signature", name, bytes);
    }
    part("package", package.0, package.1);
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    app.call(
        TestRequest::post()
            .uri("/api/v1/packages")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .set_payload(body),
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

fn drain(app: &TestApp) -> usize {
    let mut n = 0;
    while app.state.intake.process_next().unwrap() {
        n += 1;
    }
    n
}

async fn status(app: &TestApp, token: &str, receipt: &Value) -> Value {
    let id = receipt["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{receipt}"));
    get(app, token, &format!("/api/v1/packages/{id}"))
        .await
        .json()
}

async fn protocol(app: &TestApp, token: &str, receipt: &Value) -> String {
    let id = receipt["id"].as_str().unwrap();
    let res = get(app, token, &format!("/api/v1/packages/{id}/protocol")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    encoding_rs::WINDOWS_1251.decode(&res.body).0.into_owned()
}

fn hub_policy() -> VerifyPolicy {
    VerifyPolicy::new(vec![pki().root.cert.clone()])
}

#[actix_web::test]
async fn a_signed_package_from_a_registered_clinic_is_accepted_and_the_hub_signs_back() {
    let keys = Keys::new();
    let app = TestApp::spawn_with(|s| without_rules(s, &keys));
    crate::participants::import_registers(&mut app.conn());
    let token = clinic(&app, "750901", &[&pki().rsa]);
    let account = account(15, 21);
    let bytes = account.signed_zip(&pki().rsa);

    let res = upload(&app, &token, &account.package, &bytes).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let receipt: Value = res.json();
    // The receipt carries the hub's signature of the receipt as GET …/receipt gives it.
    let id = receipt["id"].as_str().unwrap().to_owned();
    let plain = get(&app, &token, &format!("/api/v1/packages/{id}/receipt")).await;
    let signature =
        openssl::base64::decode_block(receipt["receipt_signature"].as_str().unwrap()).unwrap();
    let verified = verify_detached(&plain.body, &signature, &hub_policy()).unwrap();
    assert_eq!(
        verified.signers[0].certificate.fingerprint.to_string(),
        omshub::participants::certificate::fingerprint(&pki().ec.cert).unwrap()
    );
    let sig = get(&app, &token, &format!("/api/v1/packages/{id}/receipt.sig")).await;
    assert_eq!(sig.status, 200);
    verify_detached(&plain.body, &sig.body, &hub_policy()).unwrap();

    assert_eq!(drain(&app), 1);
    let state = status(&app, &token, &receipt).await;
    assert_eq!(state["status"], "accepted", "{state}");
    let xml = protocol(&app, &token, &receipt).await;
    assert!(xml.contains("<FLK_P>") && !xml.contains("<PR>"), "{xml}");
    // The protocol's signature verifies over the protocol's bytes.
    let body = get(&app, &token, &format!("/api/v1/packages/{id}/protocol"))
        .await
        .body;
    let sig = get(&app, &token, &format!("/api/v1/packages/{id}/protocol.sig")).await;
    assert_eq!(sig.status, 200, "{}", sig.text());
    verify_detached(&body, &sig.body, &hub_policy()).unwrap();
    let mut tampered = body.to_vec();
    tampered[body.len() / 2] ^= 1;
    assert!(verify_detached(&tampered, &sig.body, &hub_policy()).is_err());
    // The notice went to the clinic.
    let mails = std::fs::read_dir(&app.state.settings.mail.file_dir)
        .unwrap()
        .count();
    assert_eq!(mails, 1);
    // The same package again: the first receipt.
    let again = upload(&app, &token, &account.package, &bytes).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json::<Value>()["id"], id.as_str());
    assert_eq!(drain(&app), 0);
}

#[actix_web::test]
async fn detached_signatures_beside_the_package_and_an_enveloping_package_are_accepted() {
    let keys = Keys::new();
    let app = TestApp::spawn_with(|s| without_rules(s, &keys));
    crate::participants::import_registers(&mut app.conn());
    let token = clinic(&app, "750901", &[&pki().rsa]);
    let p = pki();

    // 1. Multipart: the files' signatures as parts beside an unsigned ZIP.
    let a = account(6, 31).renumbered("26021");
    let beside = [
        (format!("{}.sig", a.h.0), sign(&p.rsa, &a.h.1, DETACHED)),
        (format!("{}.sig", a.l.0), sign(&p.rsa, &a.l.1, DETACHED)),
    ];
    let res = upload_multipart(&app, &token, (&a.package, &a.zip(&[])), &beside).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let by_files: Value = res.json();
    assert_eq!(by_files["file_name"], a.package.as_str());

    // 2. Multipart: one signature over the whole ZIP (`<package>.sig`).
    let b = account(6, 32).renumbered("26022");
    let zip = b.zip(&[]);
    let whole = [(format!("{}.sig", b.package), sign(&p.rsa, &zip, DETACHED))];
    let by_package: Value = upload_multipart(&app, &token, (&b.package, &zip), &whole)
        .await
        .json();

    // 3. The ZIP inside an enveloping signature, sent as `<package>.sig`.
    let c = account(6, 33).renumbered("26023");
    let enveloped = sign(&p.rsa, &c.zip(&[]), ENVELOPING);
    let res = upload(&app, &token, &format!("{}.sig", c.package), &enveloped).await;
    assert_eq!(res.status, 202, "{}", res.text());
    let enveloping: Value = res.json();

    // 4. The same unsigned ZIP as 2 without its signature: refused, 806 for each file.
    let d = account(6, 32).renumbered("26024");
    let unsigned: Value = upload(&app, &token, &d.package, &d.zip(&[])).await.json();

    assert_eq!(drain(&app), 4);
    for receipt in [&by_files, &by_package, &enveloping] {
        let state = status(&app, &token, receipt).await;
        assert_eq!(state["status"], "accepted", "{state}");
        let id = receipt["id"].as_str().unwrap();
        assert!(store::case_count(&mut app.conn(), id).unwrap() == 6);
    }
    // The enveloping package's protocol is named after the ZIP inside.
    let xml = protocol(&app, &token, &enveloping).await;
    assert!(
        xml.contains(&format!("<FNAME>V{}", c.package.trim_end_matches(".zip"))),
        "{xml}"
    );
    let state = status(&app, &token, &unsigned).await;
    assert_eq!(state["status"], "rejected", "{state}");
    assert_eq!(state["refusal_code"], "806", "{state}");
    assert_eq!(state["refusal_reason"], "signature_missing", "{state}");
    let xml = protocol(&app, &token, &unsigned).await;
    assert_eq!(xml.matches("<OSHIB>806</OSHIB>").count(), 2, "{xml}");
    assert_eq!(
        store::case_count(&mut app.conn(), unsigned["id"].as_str().unwrap()).unwrap(),
        0
    );
}

/// A ZIP of `entries` as they are (names not checked).
pub(crate) fn raw_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[actix_web::test]
async fn each_refusal_of_the_acceptance_list_has_its_own_code_and_the_server_stays_healthy() {
    let keys = Keys::new();
    let app = TestApp::spawn_with(|s| without_rules(s, &keys));
    crate::participants::import_registers(&mut app.conn());
    let p = pki();
    // The clinic registered the RSA certificate; another clinic the ECDSA one.
    let token = clinic(&app, "750901", &[&p.rsa]);
    let _other = clinic(&app, "340901", &[&p.ec]);

    let base = account(4, 41);
    let numbered = |n: &str| base.renumbered(n);
    let mut cases: Vec<(&str, &str, String, Vec<u8>)> = Vec::new();

    // Not a ZIP.
    let a = numbered("26031");
    cases.push((
        "801",
        "not_zip",
        a.package.clone(),
        b"no zip at all".to_vec(),
    ));
    // A zip bomb: a file that deflates far beyond the allowed ratio.
    let b = numbered("26032");
    let mut bomb = b.h.1.clone();
    bomb.resize(bomb.len() + (8 << 20), b' ');
    let bomb_zip = raw_zip(&[(&b.h.0, &bomb), (&b.l.0, &b.l.1)]);
    cases.push(("801", "zip_bomb", b.package.clone(), bomb_zip));
    // A path leaving the archive.
    let c = numbered("26033");
    let traversal = raw_zip(&[
        (&c.h.0, &c.h.1),
        (&c.l.0, &c.l.1),
        ("../../etc/cron.d/evil", b"* * * * * root true"),
    ]);
    cases.push(("801", "path_traversal", c.package.clone(), traversal));
    // A wrong package name.
    let d = numbered("26034");
    cases.push((
        "802",
        "bad_package_name",
        "accounts-november.zip".into(),
        d.signed_zip(&p.rsa),
    ));
    // A missing L file.
    let e = numbered("26035");
    let no_l = raw_zip(&[
        (&e.h.0, &e.h.1),
        (&format!("{}.sig", e.h.0), &sign(&p.rsa, &e.h.1, DETACHED)),
    ]);
    cases.push(("803", "missing_file", e.package.clone(), no_l));
    // A bad signature: the H file's signature is over other bytes.
    let f = numbered("26036");
    let bad = f.zip(&[
        (
            format!("{}.sig", f.h.0),
            sign(&p.rsa, b"<ZL_LIST/>", DETACHED),
        ),
        (format!("{}.sig", f.l.0), sign(&p.rsa, &f.l.1, DETACHED)),
    ]);
    cases.push(("807", "content_mismatch", f.package.clone(), bad));
    // Signed with another organisation's registered certificate.
    let g = numbered("26037");
    cases.push((
        "808",
        "signer_not_registered",
        g.package.clone(),
        g.signed_zip(&p.ec),
    ));
    // Signed with a certificate that had expired.
    let h = numbered("26038");
    cases.push((
        "807",
        "certificate_expired",
        h.package.clone(),
        h.signed_zip(&p.expired),
    ));
    // An XML with an external entity (a DTD), correctly signed.
    let i = numbered("26039");
    let text = encoding_rs::WINDOWS_1251.decode(&i.h.1).0.into_owned();
    let (decl, rest) = text.split_at(text.find("?>").unwrap() + 2);
    let evil = format!(
        "{decl}<!DOCTYPE ZL_LIST [<!ENTITY secret SYSTEM \"file:///etc/passwd\">]>{}",
        rest.replacen("<COMENTSL>", "<COMENTSL>&secret;", 1)
    );
    let evil = encoding_rs::WINDOWS_1251.encode(&evil).0.into_owned();
    let evil_account = Account {
        h: (i.h.0.clone(), evil),
        l: i.l.clone(),
        package: i.package.clone(),
    };
    cases.push((
        "901",
        "dtd",
        i.package.clone(),
        evil_account.signed_zip(&p.rsa),
    ));

    let mut receipts = Vec::new();
    for (code, reason, name, bytes) in &cases {
        let res = upload(&app, &token, name, bytes).await;
        assert_eq!(res.status, 202, "{reason}: {}", res.text());
        receipts.push((*code, *reason, res.json::<Value>()));
    }
    assert_eq!(drain(&app), cases.len());
    for (code, reason, receipt) in &receipts {
        let state = status(&app, &token, receipt).await;
        assert_eq!(state["status"], "rejected", "{reason}: {state}");
        assert_eq!(state["refusal_code"], *code, "{reason}: {state}");
        assert_eq!(state["refusal_reason"], *reason, "{reason}: {state}");
        let xml = protocol(&app, &token, receipt).await;
        assert!(xml.contains(&format!("<OSHIB>{code}</OSHIB>")), "{xml}");
        let id = receipt["id"].as_str().unwrap();
        assert_eq!(
            store::case_count(&mut app.conn(), id).unwrap(),
            0,
            "{reason}"
        );
    }
    // Still healthy: the health check answers and a good package goes through.
    let health = get(&app, READER_TOKEN, "/health").await;
    assert_eq!(health.status, 200);
    let ok = numbered("26040");
    let receipt: Value = upload(&app, &token, &ok.package, &ok.signed_zip(&p.rsa))
        .await
        .json();
    assert_eq!(drain(&app), 1);
    assert_eq!(status(&app, &token, &receipt).await["status"], "accepted");
}
