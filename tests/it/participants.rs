//! Participants and their credentials as operators and callers meet them: adding against the
//! registers, listing and revoking, tokens that work until revoked or expired, certificates
//! found by fingerprint, the CLI end to end, and mutual TLS against the real server with a CA,
//! server and client certificates made at test time (no key is ever committed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Duration as Days, NaiveDateTime};
use diesel::prelude::*;
use omshub::db::schema::{participant_tokens, participants as participants_table};
use omshub::participants::{
    self, AuthFailure, CertificateRef, Kind, NewParticipant, Participant, Role, Roles, certificate,
    token,
};
use omshub::registers::RegisterKind;
use omshub::registers::import::{ImportOptions, import_packet};
use omshub::registers::service as register_service;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::{Value, json};

use crate::cli::{Served, message_is, omshub, run};
use crate::support::{ADMIN_TOKEN, TestApp, TestDb};

fn now() -> NaiveDateTime {
    participants::now()
}

pub(crate) fn import_registers(conn: &mut omshub::db::DbConn) {
    for name in ["F001.xml", "F002.xml", "F003.xml"] {
        let bytes = std::fs::read(format!(
            "{}/fixtures/registers/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let summary = import_packet(
            conn,
            &bytes,
            ImportOptions {
                file: name,
                dry_run: false,
                author: "test",
                progress: None,
            },
        )
        .unwrap();
        assert!(
            summary.rejected.is_empty(),
            "{name}: {:?}",
            summary.rejected
        );
    }
}

fn new(kind: Kind, org: Option<&str>) -> NewParticipant {
    NewParticipant {
        kind,
        org_code: org.map(str::to_owned),
        name: format!("{kind} {}", org.unwrap_or("-")),
        contact_email: Some("it@example.ru".into()),
        roles: None,
    }
}

fn add(app: &TestApp, kind: Kind, org: Option<&str>) -> Participant {
    participants::add(&mut app.conn(), &new(kind, org), now()).unwrap()
}

fn refused_code(app: &TestApp, new: &NewParticipant) -> &'static str {
    participants::add(&mut app.conn(), new, now())
        .unwrap_err()
        .code()
}

async fn get_with(app: &TestApp, token: &str, path: &str) -> crate::support::TestResponse {
    app.call(
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
}

async fn post_with(
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

// ---- the model --------------------------------------------------------------------------------

#[actix_web::test]
async fn participants_are_added_listed_and_revoked() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());

    let clinic = add(&app, Kind::Clinic, Some("340901"));
    assert_eq!(clinic.kind, Kind::Clinic);
    assert_eq!(clinic.org_code.as_deref(), Some("340901"));
    assert_eq!(clinic.roles, Roles::of(&[Role::Upload, Role::ReadOwn]));
    assert_eq!(clinic.contact_email.as_deref(), Some("it@example.ru"));
    assert!(clinic.revoked_at.is_none());
    let fund = add(&app, Kind::Fund, Some("34"));
    let insurer = add(&app, Kind::Insurer, Some("34901"));
    let auditor = participants::add(
        &mut app.conn(),
        &NewParticipant {
            name: "Счётная палата, аудитор".into(),
            contact_email: None,
            ..new(Kind::Auditor, None)
        },
        now(),
    )
    .unwrap();
    assert_eq!(auditor.roles.to_string(), "read_all");
    let admin = add(&app, Kind::Admin, None);
    assert_eq!(admin.roles.to_string(), "read_all,admin");

    let listed = participants::list(&mut app.conn()).unwrap();
    let ids: Vec<i64> = listed.iter().map(|p| p.id).collect();
    assert_eq!(ids, [clinic.id, fund.id, insurer.id, auditor.id, admin.id]);
    assert_eq!(listed[0], clinic, "reads back as written");
    assert_eq!(
        participants::get(&mut app.conn(), insurer.id).unwrap(),
        insurer
    );
    assert_eq!(
        participants::get(&mut app.conn(), 9999).unwrap_err().code(),
        "participant_not_found"
    );

    // One active participant per organisation.
    assert_eq!(
        refused_code(&app, &new(Kind::Clinic, Some("340901"))),
        "participant_exists"
    );

    let token =
        participants::issue_token(&mut app.conn(), clinic.id, Some("МИС"), 30, now()).unwrap();
    let done = participants::revoke(&mut app.conn(), clinic.id, now()).unwrap();
    assert!(!done.already);
    assert_eq!((done.tokens, done.certificates), (1, 0));
    assert!(done.revoked.revoked_at.is_some());
    let again = participants::revoke(&mut app.conn(), clinic.id, now()).unwrap();
    assert!(again.already);
    assert_eq!(again.revoked.revoked_at, done.revoked.revoked_at);
    let tokens = participants::tokens(&mut app.conn(), clinic.id).unwrap();
    assert_eq!(tokens[0].id, token.info.id);
    assert!(
        tokens[0].revoked_at.is_some(),
        "revoked with its participant"
    );
    assert_eq!(
        participants::issue_token(&mut app.conn(), clinic.id, None, 30, now())
            .unwrap_err()
            .code(),
        "participant_revoked"
    );

    // Once revoked, the organisation may be added again.
    let successor = add(&app, Kind::Clinic, Some("340901"));
    assert!(successor.id > clinic.id);
}

#[actix_web::test]
async fn a_participant_must_be_an_active_entry_of_its_register() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());

    assert_eq!(
        refused_code(&app, &new(Kind::Clinic, Some("750096"))),
        "participant_org_unknown"
    );
    let err =
        participants::add(&mut app.conn(), &new(Kind::Clinic, Some("750096")), now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "medical organisation 750096 is not in the register F003"
    );
    assert_eq!(
        refused_code(&app, &new(Kind::Insurer, Some("34999"))),
        "participant_org_unknown"
    );
    assert_eq!(
        refused_code(&app, &new(Kind::Fund, Some("99"))),
        "participant_org_unknown"
    );
    // A clinic code is not an insurer code, and the other way round.
    assert_eq!(
        refused_code(&app, &new(Kind::Insurer, Some("340901"))),
        "invalid_org_code"
    );
    assert_eq!(
        refused_code(&app, &new(Kind::Clinic, None)),
        "invalid_org_code"
    );
    assert_eq!(
        refused_code(&app, &new(Kind::Auditor, Some("340901"))),
        "invalid_org_code"
    );
    assert_eq!(
        refused_code(
            &app,
            &NewParticipant {
                roles: Some(Roles::of(&[Role::Upload, Role::Admin])),
                ..new(Kind::Clinic, Some("340901"))
            }
        ),
        "invalid_roles"
    );
    assert_eq!(
        refused_code(
            &app,
            &NewParticipant {
                contact_email: Some("nobody".into()),
                ..new(Kind::Clinic, Some("340901"))
            }
        ),
        "invalid_email"
    );

    // Excluded from today: in the register, not active.
    register_service::transition(
        &mut app.conn(),
        RegisterKind::MedicalOrganisations,
        "340902",
        omshub::registers::Status::Excluded,
        None,
        "licence withdrawn",
        "test",
    )
    .unwrap();
    let err =
        participants::add(&mut app.conn(), &new(Kind::Clinic, Some("340902")), now()).unwrap_err();
    assert_eq!(err.code(), "participant_org_inactive");
    assert!(err.to_string().contains("its status is excluded"), "{err}");

    // Narrower roles than the default are fine.
    let reader = participants::add(
        &mut app.conn(),
        &NewParticipant {
            roles: Some(Roles::of(&[Role::ReadOwn])),
            ..new(Kind::Clinic, Some("340901"))
        },
        now(),
    )
    .unwrap();
    assert_eq!(reader.roles.to_string(), "read_own");
    assert!(participants::list(&mut app.conn()).unwrap().len() == 1);
}

// ---- tokens over HTTP -------------------------------------------------------------------------

#[actix_web::test]
async fn a_token_works_until_it_is_revoked() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let clinic = add(&app, Kind::Clinic, Some("340901"));
    let issued = participants::issue_token(
        &mut app.conn(),
        clinic.id,
        Some(" МИС клиники "),
        365,
        now(),
    )
    .unwrap();
    assert!(token::looks_like_token(&issued.token));
    assert_eq!(issued.info.label.as_deref(), Some("МИС клиники"));
    assert_eq!(
        issued.info.expires_at - issued.info.created_at,
        Days::days(365)
    );
    assert!(
        !format!("{issued:?}").contains(&issued.token),
        "Debug masks it"
    );

    // Only the digest is stored.
    let stored: Vec<String> = participant_tokens::table
        .select(participant_tokens::token_sha256)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(stored, [token::digest(&issued.token)]);

    let res = get_with(
        &app,
        &issued.token,
        "/api/v1/registers/medical-organisations/340901",
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let tokens = participants::tokens(&mut app.conn(), clinic.id).unwrap();
    assert!(tokens[0].last_used_at.is_some(), "the use is recorded");

    // Any participant reads registers; only the admin role writes.
    let res = post_with(
        &app,
        &issued.token,
        "/api/v1/registers/insurers/34901/status",
        &json!({"status": "excluded", "comment": "x"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error().message, "this endpoint needs the admin role");

    let done = participants::revoke_token(&mut app.conn(), issued.info.id, now()).unwrap();
    assert!(!done.already);
    let res = get_with(
        &app,
        &issued.token,
        "/api/v1/registers/medical-organisations/340901",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error().error, "token_revoked");
    assert_eq!(res.header("www-authenticate").as_deref(), Some("Bearer"));
    assert!(
        participants::revoke_token(&mut app.conn(), issued.info.id, now())
            .unwrap()
            .already
    );
    assert_eq!(
        participants::revoke_token(&mut app.conn(), 9999, now())
            .unwrap_err()
            .code(),
        "token_not_found"
    );

    // A well-formed token nobody issued, and garbage, are both plain 401.
    let unknown = token::generate().unwrap();
    let res = get_with(&app, &unknown, "/api/v1/registers/insurers").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error().error, "unauthorized");
    assert_eq!(res.error().message, "the token is not known");
}

#[actix_web::test]
async fn an_expired_token_is_401_token_expired() {
    let app = TestApp::spawn();
    let auditor = add(&app, Kind::Auditor, None);
    let long_ago = now() - Days::days(400);
    let issued =
        participants::issue_token(&mut app.conn(), auditor.id, None, 365, long_ago).unwrap();
    let res = get_with(&app, &issued.token, "/api/v1/registers/insurers").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let body = res.error();
    assert_eq!(body.error, "token_expired");
    assert!(
        body.message.starts_with("the token expired on "),
        "{}",
        body.message
    );

    assert_eq!(
        participants::issue_token(&mut app.conn(), auditor.id, None, 0, now())
            .unwrap_err()
            .code(),
        "invalid_expiry"
    );
    assert_eq!(
        participants::issue_token(&mut app.conn(), auditor.id, None, 3651, now())
            .unwrap_err()
            .code(),
        "invalid_expiry"
    );
}

#[actix_web::test]
async fn an_admin_participant_writes_and_the_bootstrap_tokens_still_work() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let admin = add(&app, Kind::Admin, None);
    let issued = participants::issue_token(&mut app.conn(), admin.id, None, 1, now()).unwrap();
    let res = post_with(
        &app,
        &issued.token,
        "/api/v1/registers/insurers/34902/status",
        &json!({"status": "excluded", "comment": "licence withdrawn"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let history = get_with(
        &app,
        ADMIN_TOKEN,
        "/api/v1/registers/insurers/34902/history",
    )
    .await;
    let versions: Value = history.json();
    let last = versions.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["changed_by"], format!("participant:{}", admin.id));

    // The participant revoked behind the tokens' back (a hand edit) still cannot act.
    diesel::update(participants_table::table.find(admin.id))
        .set(participants_table::revoked_at.eq(now()))
        .execute(&mut *app.conn())
        .unwrap();
    let res = get_with(&app, &issued.token, "/api/v1/registers/insurers").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error().error, "participant_revoked");
    assert!(matches!(
        participants::authenticate_token(&mut app.conn(), &token::digest(&issued.token), now()),
        Err(AuthFailure::ParticipantRevoked { .. })
    ));

    let res = app.read("/api/v1/registers/insurers").await;
    assert_eq!(res.status, StatusCode::OK);
}

// ---- certificates -----------------------------------------------------------------------------

/// A test PKI: a CA, a server certificate for 127.0.0.1 and client certificates, all made now.
struct Pki {
    ca: X509,
    ca_key: PKey<Private>,
}

/// `last_used_at` of token `id`, which only a look-up in the database writes.
fn last_used(app: &TestApp, id: i64) -> Option<NaiveDateTime> {
    participant_tokens::table
        .find(id)
        .select(participant_tokens::last_used_at)
        .first(&mut *app.conn())
        .unwrap()
}

fn forget_use(app: &TestApp, id: i64) {
    diesel::update(participant_tokens::table.find(id))
        .set(participant_tokens::last_used_at.eq(None::<NaiveDateTime>))
        .execute(&mut *app.conn())
        .unwrap();
}

#[actix_web::test]
async fn the_policy_status_keeps_authenticated_participants_but_sees_every_revocation() {
    // Once with each read: direct, and through the batched reader (as `serve` runs on
    // PostgreSQL), on the backend under test.
    for batched in [false, true] {
        let mut app = TestApp::spawn();
        if batched {
            app.state.status_batch = Some(std::sync::Arc::new(
                omshub::erz::status_batch::StatusBatcher::start(&app.state.db, 1).unwrap(),
            ));
        }
        let path = "/api/v1/policy-status?enp=7578350840000778&date=2026-02-01";
        let auditor = add(&app, Kind::Auditor, None);
        let issued =
            participants::issue_token(&mut app.conn(), auditor.id, None, 30, now()).unwrap();
        let other =
            participants::issue_token(&mut app.conn(), auditor.id, None, 30, now()).unwrap();

        // Authenticated (nobody has the ENP): looked up once, then kept.
        let res = get_with(&app, &issued.token, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
        assert_eq!(res.error().error, "person_not_found");
        assert_eq!(app.state.credentials.len(), 1, "batched: {batched}");
        assert!(last_used(&app, issued.info.id).is_some());
        forget_use(&app, issued.info.id);
        let res = get_with(&app, &issued.token, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(
            last_used(&app, issued.info.id),
            None,
            "the second call is served from the cache (batched: {batched})"
        );
        // Other routes look the token up every time.
        let res = get_with(&app, &issued.token, "/api/v1/registers/insurers").await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(last_used(&app, issued.info.id).is_some());
        forget_use(&app, issued.info.id);

        // Another credential's revocation moves the epoch: the next call looks up again.
        participants::revoke_token(&mut app.conn(), other.info.id, now()).unwrap();
        let res = get_with(&app, &issued.token, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert!(last_used(&app, issued.info.id).is_some());
        let res = get_with(&app, &other.token, path).await;
        assert_eq!(res.error().error, "token_revoked");

        // A revocation straight in the database (as the CLI or another server makes it)
        // refuses the very next call, even one with a malformed ENP.
        let res = get_with(&app, &issued.token, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        participants::revoke_token(&mut app.conn(), issued.info.id, now()).unwrap();
        let malformed = "/api/v1/policy-status?enp=7578350840000779&date=2026-02-01";
        let res = get_with(&app, &issued.token, malformed).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "batched: {batched}");
        assert_eq!(res.error().error, "token_revoked");
        let res = get_with(&app, &issued.token, path).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "batched: {batched}");
        assert_eq!(res.error().error, "token_revoked");
        assert!(app.state.credentials.is_empty());

        // So does a hand edit of the participant behind a cached token.
        let fresh =
            participants::issue_token(&mut app.conn(), auditor.id, None, 30, now()).unwrap();
        let res = get_with(&app, &fresh.token, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        diesel::update(participants_table::table.find(auditor.id))
            .set(participants_table::revoked_at.eq(now()))
            .execute(&mut *app.conn())
            .unwrap();
        let res = get_with(&app, &fresh.token, path).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.error().error, "participant_revoked");

        // The audit names the participant for every answered call.
        let audited: i64 = omshub::db::schema::erz_status_query::table
            .filter(
                omshub::db::schema::erz_status_query::caller
                    .eq(format!("participant:{}", auditor.id)),
            )
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(audited, 5, "batched: {batched}");
        if let Some(batcher) = &app.state.status_batch {
            batcher.close();
        }
    }
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> openssl::x509::X509Name {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "omshub test").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    name.build()
}

fn builder(
    subject: &str,
    key: &PKey<Private>,
    serial: u32,
    days: (i64, i64),
) -> openssl::x509::X509Builder {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap())
        .unwrap();
    b.set_subject_name(&name(subject)).unwrap();
    b.set_pubkey(key).unwrap();
    let start = chrono::Utc::now().timestamp() + days.0 * 86_400;
    let end = chrono::Utc::now().timestamp() + days.1 * 86_400;
    b.set_not_before(&Asn1Time::from_unix(start).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(end).unwrap()).unwrap();
    b
}

impl Pki {
    fn new(cn: &str) -> Self {
        let ca_key = key();
        let mut b = builder(cn, &ca_key, 1, (-1, 30));
        b.set_issuer_name(&name(cn)).unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        Self {
            ca: b.build(),
            ca_key,
        }
    }

    fn issue(
        &self,
        cn: &str,
        serial: u32,
        server: bool,
        days: (i64, i64),
    ) -> (X509, PKey<Private>) {
        let key = key();
        let mut b = builder(cn, &key, serial, days);
        b.set_issuer_name(self.ca.subject_name()).unwrap();
        b.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .build()
                .unwrap(),
        )
        .unwrap();
        let usage = if server {
            ExtendedKeyUsage::new().server_auth().build().unwrap()
        } else {
            ExtendedKeyUsage::new().client_auth().build().unwrap()
        };
        b.append_extension(usage).unwrap();
        if server {
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(&self.ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
        b.sign(&self.ca_key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    fn client(&self, cn: &str, serial: u32) -> (X509, PKey<Private>) {
        self.issue(cn, serial, false, (-1, 10))
    }
}

#[actix_web::test]
async fn a_registered_certificate_identifies_its_participant() {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    let insurer = add(&app, Kind::Insurer, Some("34901"));
    let pki = Pki::new("test CA");
    let (cert, _) = pki.client("insurer 34901", 0x51);
    let info = certificate::info(&cert).unwrap();
    assert_eq!(info.subject, "O=omshub test, CN=insurer 34901");
    assert_eq!(info.serial, "51");

    let registered =
        participants::register_certificate(&mut app.conn(), insurer.id, &info, now()).unwrap();
    assert_eq!(registered.fingerprint_sha256, info.fingerprint_sha256);
    assert_eq!(registered.not_after, info.not_after);
    let who =
        participants::authenticate_certificate(&mut app.conn(), &info.fingerprint_sha256, now())
            .unwrap();
    assert_eq!(who.id, insurer.id);
    assert_eq!(who.kind, Kind::Insurer);
    assert_eq!(who.org_code.as_deref(), Some("34901"));
    assert!(who.roles.contains(Role::Upload));
    assert!(matches!(
        participants::authenticate_certificate(&mut app.conn(), &"0".repeat(64), now()),
        Err(AuthFailure::Unknown)
    ));
    // After its end of validity the certificate no longer authenticates.
    assert!(matches!(
        participants::authenticate_certificate(
            &mut app.conn(),
            &info.fingerprint_sha256,
            info.not_after
        ),
        Err(AuthFailure::Expired(_))
    ));

    let err =
        participants::register_certificate(&mut app.conn(), insurer.id, &info, now()).unwrap_err();
    assert_eq!(err.code(), "certificate_exists");
    let (old, _) = pki.issue("old", 0x52, false, (-30, -1));
    let err = participants::register_certificate(
        &mut app.conn(),
        insurer.id,
        &certificate::info(&old).unwrap(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "certificate_expired");

    let listed = participants::certificates(&mut app.conn(), insurer.id).unwrap();
    assert_eq!(listed, std::slice::from_ref(&registered));
    let by_fingerprint = CertificateRef::parse(&info.fingerprint_sha256.to_uppercase()).unwrap();
    let done = participants::revoke_certificate(&mut app.conn(), &by_fingerprint, now()).unwrap();
    assert_eq!(done.revoked.id, registered.id);
    assert!(matches!(
        participants::authenticate_certificate(&mut app.conn(), &info.fingerprint_sha256, now()),
        Err(AuthFailure::Revoked(_))
    ));
    let err =
        participants::register_certificate(&mut app.conn(), insurer.id, &info, now()).unwrap_err();
    assert!(
        err.to_string().contains("revoked; issue a new certificate"),
        "{err}"
    );
    assert_eq!(
        participants::revoke_certificate(&mut app.conn(), &CertificateRef::Id(999), now())
            .unwrap_err()
            .code(),
        "certificate_not_found"
    );
}

// ---- the CLI ----------------------------------------------------------------------------------

/// The binary on one test database.
struct Cli {
    dir: tempfile::TempDir,
    db: TestDb,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            db: TestDb::new(),
        }
    }

    fn run(&self, args: &[&str]) -> (std::process::Output, String, String) {
        let mut cmd = omshub(self.dir.path());
        cmd.args(args)
            .env("OMSHUB__DATABASE__URL", &self.db.url)
            .env("OMSHUB__DATABASE__MIGRATE_ON_START", "true")
            .env("OMSHUB__LOG__LEVEL", "warn");
        run(&mut cmd)
    }

    /// Imports F003 and adds clinic 340901 as participant 1.
    fn with_clinic(&self) {
        let f003 = format!("{}/fixtures/registers/F003.xml", env!("CARGO_MANIFEST_DIR"));
        let (out, stdout, stderr) = self.run(&["registers", "import", &f003]);
        assert!(out.status.success(), "{stdout}{stderr}");
        let (out, stdout, stderr) = self.run(&ADD_CLINIC);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stdout.trim(),
            "participant 1 added: clinic 340901 «ГБУЗ «Тестовая больница»», roles upload,read_own"
        );
    }
}

const ADD_CLINIC: [&str; 10] = [
    "participants",
    "add",
    "--kind",
    "clinic",
    "--org",
    "340901",
    "--name",
    "ГБУЗ «Тестовая больница»",
    "--email",
    "it@hospital.example",
];

#[test]
fn the_cli_adds_lists_and_revokes_participants() {
    let t = Cli::new();
    let cli = |args: &[&str]| t.run(args);
    let (out, _, stderr) = cli(&ADD_CLINIC);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: [participant_org_unknown] medical organisation 340901 is not in the register F003"
        ),
        "{stderr}"
    );
    t.with_clinic();
    let (out, stdout, stderr) = cli(&[
        "participants",
        "add",
        "--kind",
        "auditor",
        "--name",
        "Аудитор",
        "--email",
        "audit@example.ru",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{stderr}");
    let auditor: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(auditor["kind"], "auditor");
    assert_eq!(auditor["roles"], json!(["read_all"]));
    assert_eq!(auditor["org_code"], Value::Null);
    let (out, _, stderr) = cli(&[
        "participants",
        "add",
        "--kind",
        "bank",
        "--name",
        "x",
        "--email",
        "a@b.ru",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[invalid_kind]"), "{stderr}");
    let (out, _, stderr) = cli(&[
        "participants",
        "add",
        "--kind",
        "auditor",
        "--name",
        "x",
        "--email",
        "a@b.ru",
        "--roles",
        "read_all,root",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("[invalid_roles] unknown role(s) root"),
        "{stderr}"
    );

    let (out, stdout, _) = cli(&["participants", "list"]);
    assert!(out.status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(
            "1\tclinic\t340901\tГБУЗ «Тестовая больница»\tupload,read_own\tit@hospital.example\t"
        ),
        "{stdout}"
    );
    assert!(lines[0].ends_with("\tactive"), "{stdout}");
    assert!(
        lines[1].starts_with("2\tauditor\t-\tАудитор\tread_all\t"),
        "{stdout}"
    );
    let (out, stdout, _) = cli(&["participants", "list", "--format", "json"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["org_code"], "340901");

    let (out, stdout, _) = cli(&["participants", "revoke", "2"]);
    assert!(out.status.success());
    assert_eq!(
        stdout.trim(),
        "participant 2 revoked with 0 token(s) and 0 certificate(s)"
    );
    let (out, stdout, _) = cli(&["participants", "list"]);
    assert!(out.status.success());
    assert!(
        stdout.lines().nth(1).unwrap().contains("\trevoked "),
        "{stdout}"
    );
}

#[test]
fn the_cli_issues_tokens_and_registers_certificates() {
    let t = Cli::new();
    let cli = |args: &[&str]| t.run(args);
    t.with_clinic();
    let dir = &t.dir;
    let db = &t.db;

    // The token is printed once, alone on standard output; only its digest is stored.
    let (out, stdout, stderr) = cli(&[
        "tokens",
        "issue",
        "1",
        "--expires-in-days",
        "30",
        "--label",
        "МИС",
    ]);
    assert!(out.status.success(), "{stderr}");
    let issued = stdout.trim().to_owned();
    assert!(token::looks_like_token(&issued), "{stdout}");
    assert!(
        stderr.contains("token 1 issued to participant 1"),
        "{stderr}"
    );
    assert!(stderr.contains("shown only this once"), "{stderr}");
    let (database, _) = omshub::db::migrate(&db.settings().database).unwrap();
    let who = participants::authenticate_token(
        &mut database.conn().unwrap(),
        &token::digest(&issued),
        now(),
    )
    .unwrap();
    assert_eq!(who.id, 1);
    let (out, _, stderr) = cli(&["tokens", "issue", "1", "--expires-in-days", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[invalid_expiry]"), "{stderr}");

    // A certificate from a PEM file; a file with a key is refused.
    let pki = Pki::new("cli CA");
    let (cert, key) = pki.client("clinic 340901", 7);
    let pem = dir.path().join("client.pem");
    std::fs::write(&pem, cert.to_pem().unwrap()).unwrap();
    let (out, stdout, stderr) = cli(&["participants", "cert", "add", "1", pem.to_str().unwrap()]);
    assert!(out.status.success(), "{stderr}");
    let fingerprint = certificate::fingerprint(&cert).unwrap();
    assert!(
        stdout.contains(
            "certificate 1 registered to participant 1: O=omshub test, CN=clinic 340901, serial 07"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&fingerprint), "{stdout}");
    let with_key = dir.path().join("with-key.pem");
    let mut bytes = cert.to_pem().unwrap();
    bytes.extend(key.private_key_to_pem_pkcs8().unwrap());
    std::fs::write(&with_key, bytes).unwrap();
    let (out, _, stderr) = cli(&[
        "participants",
        "cert",
        "add",
        "2",
        with_key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[certificate_unreadable]"), "{stderr}");

    let (out, stdout, _) = cli(&["participants", "show", "1"]);
    assert!(out.status.success());
    assert!(stdout.contains("token 1\tМИС\tissued "), "{stdout}");
    assert!(stdout.contains("last used "), "{stdout}");
    assert!(
        stdout.contains(&format!("sha256 {fingerprint}\tactive")),
        "{stdout}"
    );
    assert!(!stdout.contains(&issued), "the token is never shown again");

    let (out, stdout, _) = cli(&["tokens", "revoke", "1"]);
    assert!(out.status.success());
    assert_eq!(stdout.trim(), "token 1 of participant 1 revoked");
    let (out, stdout, _) = cli(&["tokens", "revoke", "1"]);
    assert!(out.status.success());
    assert!(
        stdout.starts_with("token 1 was already revoked "),
        "{stdout}"
    );
    let (out, _, stderr) = cli(&["tokens", "revoke", "42"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("[token_not_found] there is no token 42"),
        "{stderr}"
    );

    let (out, stdout, _) = cli(&["participants", "cert", "revoke", &fingerprint]);
    assert!(out.status.success());
    assert_eq!(
        stdout.trim(),
        "certificate 1 of participant 1 revoked (O=omshub test, CN=clinic 340901)"
    );
}

// ---- mutual TLS against the real server -----------------------------------------------------

/// One HTTP/1.1 GET over TLS, trusting `ca`, with an optional client certificate and token.
/// `Err` when the handshake or the exchange fails before any byte of a response arrived.
fn tls_get(
    addr: &str,
    ca: &X509,
    client: Option<&(X509, PKey<Private>)>,
    token: Option<&str>,
    path: &str,
) -> Result<String, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.cert_store_mut().add_cert(ca.clone()).unwrap();
    if let Some((cert, key)) = client {
        b.set_certificate(cert).unwrap();
        b.set_private_key(key).unwrap();
    }
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = b
        .build()
        .connect("127.0.0.1", tcp)
        .map_err(|e| format!("handshake: {e}"))?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            // A peer that closes without close_notify after the whole response.
            Err(_) if !response.is_empty() => break,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

fn write_pem(dir: &Path, file: &str, pem: &[u8]) -> String {
    let path = dir.join(file);
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

#[test]
fn mutual_tls_authenticates_registered_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let pki = Pki::new("omshub test CA");
    let (server_cert, server_key) = pki.issue("127.0.0.1", 2, true, (-1, 10));
    let registered = pki.client("clinic 340901", 3);
    let unregistered = pki.client("clinic 340902", 4);
    let stranger = Pki::new("someone else's CA").client("clinic 340901", 3);

    // The database as an operator prepares it: registers, a participant with a certificate, an
    // auditor with a token.
    let token = {
        let (database, _) = omshub::db::migrate(&db.settings().database).unwrap();
        let mut conn = database.conn().unwrap();
        import_registers(&mut conn);
        let clinic =
            participants::add(&mut conn, &new(Kind::Clinic, Some("340901")), now()).unwrap();
        participants::register_certificate(
            &mut conn,
            clinic.id,
            &certificate::info(&registered.0).unwrap(),
            now(),
        )
        .unwrap();
        let auditor = participants::add(&mut conn, &new(Kind::Auditor, None), now()).unwrap();
        participants::issue_token(&mut conn, auditor.id, None, 1, now())
            .unwrap()
            .token
    };

    let ca = write_pem(dir.path(), "ca.pem", &pki.ca.to_pem().unwrap());
    let cert = write_pem(dir.path(), "server.pem", &server_cert.to_pem().unwrap());
    let key = write_pem(
        dir.path(),
        "server.key",
        &server_key.private_key_to_pem_pkcs8().unwrap(),
    );
    let start = |client_auth: &str| {
        let mut served = Served::start_with(
            dir.path(),
            &db,
            &[
                ("OMSHUB__SERVER__TLS_CERTIFICATE", cert.as_str()),
                ("OMSHUB__SERVER__TLS_KEY", key.as_str()),
                ("OMSHUB__SERVER__TLS_CLIENT_CA", ca.as_str()),
                ("OMSHUB__SERVER__TLS_CLIENT_AUTH", client_auth),
            ],
        );
        let listening = served.wait_for("listening", |v| message_is(v, "listening on https://"));
        assert_eq!(listening["client_certificates"], client_auth, "{listening}");
        let addr = listening["address"].as_str().unwrap().to_owned();
        (served, addr)
    };
    let path = "/api/v1/registers/medical-organisations/340901";

    let (served, addr) = start("optional");
    let ok = tls_get(&addr, &pki.ca, Some(&registered), None, path).unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("\"code\":\"340901\""), "{ok}");
    let refused = tls_get(&addr, &pki.ca, Some(&unregistered), None, path).unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused.contains("\"error\":\"unauthorized\""), "{refused}");
    assert!(
        refused.contains("the client certificate is not registered"),
        "{refused}"
    );
    // Without a certificate a bearer token still works when certificates are optional.
    let by_token = tls_get(&addr, &pki.ca, None, Some(&token), path).unwrap();
    assert!(by_token.starts_with("HTTP/1.1 200"), "{by_token}");
    let nothing = tls_get(&addr, &pki.ca, None, None, path).unwrap();
    assert!(nothing.starts_with("HTTP/1.1 401"), "{nothing}");
    // A certificate of another CA does not pass the handshake.
    assert!(tls_get(&addr, &pki.ca, Some(&stranger), None, path).is_err());
    drop(served);

    let (served, addr) = start("required");
    let refused = tls_get(&addr, &pki.ca, None, Some(&token), path);
    assert!(
        refused.is_err(),
        "no certificate, no handshake: {refused:?}"
    );
    let ok = tls_get(&addr, &pki.ca, Some(&registered), None, path).unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    drop(served);
}
