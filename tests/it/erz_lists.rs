//! The register's lists for insurers and the look-ups beside the policy status (issue 8):
//! RECLIST, STOPLIST and CONFLICTLIST built from OPLISTs applied by the real `erz apply` path
//! and checked against their XSDs, death ending insurance, the policy status by names + birth
//! date + document, and the care billed for a person.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use omshub::db::schema::{erz_insurance, erz_list_export, erz_status_query};
use omshub::domain::{Enp, Sex, Snils, TfomsCode};
use omshub::erz::FileResult;
use omshub::erz::apply::{Names, apply};
use omshub::erz::lists::{ListKind, ListRequest, produce};
use omshub::participants::{self, Kind, NewParticipant};
use omshub::validate::Validator;
use omshub::validate::schema::Limits;
use serde_json::Value;

use crate::participants::import_registers;
use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

const OGRN_34901: &str = "1123400901018";
const OGRN_34902: &str = "1123400902020";

/// A synthetic person.
#[derive(Clone)]
struct P {
    fam: &'static str,
    im: &'static str,
    ot: &'static str,
    sex: Sex,
    birth: &'static str,
    snils: String,
    docser: &'static str,
    docnum: &'static str,
}

fn snils(n: u32) -> String {
    Snils::parse(&Snils::from_payload(n).unwrap().to_string())
        .unwrap()
        .to_string()
}

fn enp(p: &P, serial: u32) -> String {
    Enp::generate(&TfomsCode::parse("34").unwrap(), d(p.birth), p.sex, serial)
        .unwrap()
        .to_string()
}

fn person(n: u32, fam: &'static str, im: &'static str, sex: Sex, birth: &'static str) -> P {
    P {
        fam,
        im,
        ot: "Тестовна",
        sex,
        birth,
        snils: snils(223_456_700 + n),
        docser: "18 04",
        docnum: ["100001", "100002", "100003", "100004", "100005", "100006"][n as usize % 6],
    }
}

/// One OP.
struct Op<'a> {
    tip: u8,
    p: &'a P,
    enp: String,
    vpolis: &'static str,
    dbeg: &'static str,
    change: &'static str,
    ogrn: &'static str,
    dstop: Option<&'static str>,
    ddeath: Option<&'static str>,
}

impl<'a> Op<'a> {
    fn new(tip: u8, p: &'a P, enp: &str, dbeg: &'static str, ogrn: &'static str) -> Self {
        Self {
            tip,
            p,
            enp: enp.to_owned(),
            vpolis: if tip == 1 { "В" } else { "Э" },
            dbeg,
            change: dbeg,
            ogrn,
            dstop: None,
            ddeath: None,
        }
    }

    fn xml(&self, n: usize) -> String {
        let p = self.p;
        crate::erz::OpXml {
            n_rec: n,
            tip_op: self.tip,
            change: self.change,
            oper: "Оператор",
            fam: p.fam,
            im: p.im,
            ot: Some(p.ot),
            sex: p.sex,
            birth: p.birth,
            snils: &p.snils,
            ddeath: self.ddeath,
            docser: p.docser,
            docnum: p.docnum,
            docdate: "2020-01-15",
            enp: &self.enp,
            ogrn: self.ogrn,
            vpolis: self.vpolis,
            dbeg: self.dbeg,
            dstop: self.dstop,
            attachment: true,
        }
        .xml()
    }
}

/// Applies an OPLIST `stem` of `smocod` with `ops` at `now`; every OP must be accepted.
fn apply_ops(app: &TestApp, stem: &str, smocod: &str, ops: &[Op<'_>], now: &str) -> FileResult {
    let r = apply_any(app, stem, smocod, ops, now);
    assert_eq!(
        (r.status.as_str(), r.accepted),
        ("applied", i64::try_from(ops.len()).unwrap()),
        "{:?}\n{}",
        r.reply,
        r.protocol
    );
    r
}

/// Applies an OPLIST `stem` of `smocod` with `ops` at `now`.
fn apply_any(app: &TestApp, stem: &str, smocod: &str, ops: &[Op<'_>], now: &str) -> FileResult {
    let body: String = ops.iter().enumerate().map(|(i, o)| o.xml(i + 1)).collect();
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OPLIST>\n  <VERS>2.0</VERS>\n  \
         <FILENAME>{stem}</FILENAME>\n  <SMOCOD>{smocod}</SMOCOD>\n  <PRZCOD>{smocod}01</PRZCOD>\n  \
         <NRECORDS>{}</NRECORDS>\n{body}</OPLIST>\n",
        ops.len()
    );
    let file = format!("{stem}.xml");
    let sha = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
    );
    apply(
        &mut app.conn(),
        &validator(),
        &Names::of(&file).unwrap(),
        &sha,
        text.as_bytes(),
        t(now),
    )
    .unwrap()
}

fn app_with_registers() -> TestApp {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    app.state.lookups.refresh(&app.state.db, true).unwrap();
    app
}

/// The ENP the hub gave the `n`-th OP of a file (from its REPLIST).
fn issued(r: &FileResult, n: usize) -> String {
    let reply = r.reply.as_deref().unwrap();
    reply
        .split("<REP>")
        .nth(n)
        .and_then(|rep| rep.split("<ENP>").nth(1))
        .and_then(|rest| rest.split("</ENP>").next())
        .unwrap()
        .to_owned()
}

/// The list, checked against its XSD by the hub's validator.
fn list(app: &TestApp, kind: ListKind, insurer: &str, from: &str, to: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = produce(
        &mut app.conn(),
        ListRequest {
            kind,
            insurer,
            from: d(from),
            to: d(to),
        },
        "test",
        t("2024-07-01 08:00:00"),
        dir.path(),
    )
    .unwrap();
    // The list alone is left in the folder (the spooled records and the file under its
    // temporary name are gone).
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from(&f.name)]);
    assert_eq!(f.path, dir.path().join(&f.name));
    let content = std::fs::read_to_string(&f.path).unwrap();
    let report = validator()
        .check_file(&f.name, content.as_bytes(), Limits::default())
        .unwrap();
    assert!(report.accepted, "{:#?}\n{}", report.findings, content);
    assert_eq!(
        content
            .matches(match kind {
                ListKind::Reclist => "<REC>",
                ListKind::Stoplist => "<STOP>",
                ListKind::Conflictlist => "<CONFLICT>",
            })
            .count(),
        f.records
    );
    (f.name, content)
}

/// The values of `element` in `xml`, in order.
fn values(xml: &str, element: &str) -> Vec<String> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    xml.split(&open)
        .skip(1)
        .map(|s| s.split(&close).next().unwrap().to_owned())
        .collect()
}

/// The text of each record `<record>…</record>`.
fn records(xml: &str, record: &str) -> Vec<String> {
    let close = format!("</{record}>");
    xml.split(&format!("<{record}>"))
        .skip(1)
        .map(|s| s.split(&close).next().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn reclist_stoplist_and_conflictlist_come_from_the_applied_operations() {
    let app = app_with_registers();
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    let b = person(2, "Скворцов", "Пётр", Sex::Male, "1950-11-02");
    // C carries B's passport: two persons, one document.
    let mut c = person(3, "Клестова", "Ольга", Sex::Female, "1970-07-30");
    c.docnum = b.docnum;
    let dd = person(4, "Зябликов", "Илья", Sex::Male, "1999-01-01");
    let e = person(5, "Щеглова", "Анна", Sex::Female, "2001-12-24");
    let first = apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            Op::new(1, &a, "", "2024-01-10", OGRN_34902),
            Op::new(1, &b, "", "2024-01-10", OGRN_34902),
            Op::new(1, &c, "", "2024-01-10", OGRN_34902),
            Op::new(1, &dd, "", "2024-01-10", OGRN_34902),
            Op::new(1, &e, "", "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
    let [ea, eb, ec, ed, ee] = [1, 2, 3, 4, 5].map(|n| issued(&first, n));
    // A moves to 34901 from June.
    apply_ops(
        &app,
        "i34901_34_05241",
        "34901",
        &[Op::new(7, &a, &ea, "2024-06-01", OGRN_34901)],
        "2024-05-20 12:00:00",
    );
    // B's insurance ends on 15 June; C dies on 20 June; D's record is annulled; E takes B's
    // SNILS by a data change.
    let mut b_stop = Op::new(8, &b, &eb, "2024-01-10", OGRN_34902);
    b_stop.dstop = Some("2024-06-15");
    let mut c_dead = Op::new(4, &c, &ec, "2024-01-10", OGRN_34902);
    c_dead.change = "2024-06-21";
    c_dead.ddeath = Some("2024-06-20");
    let mut d_annul = Op::new(2, &dd, &ed, "2024-01-10", OGRN_34902);
    d_annul.change = "2024-06-25";
    let mut e_snils = e.clone();
    e_snils.snils = b.snils.clone();
    let mut e_change = Op::new(4, &e_snils, &ee, "2024-01-10", OGRN_34902);
    e_change.change = "2024-06-25";
    apply_ops(
        &app,
        "i34902_34_06241",
        "34902",
        &[b_stop, c_dead, d_annul, e_change],
        "2024-06-25 12:00:00",
    );

    // RECLIST of 34902 for the half year: its 5 + 4 operations and 34901's change of insurer,
    // which ended A's episode with 34902.
    let (name, rec) = list(&app, ListKind::Reclist, "34902", "2024-01-01", "2024-06-30");
    assert_eq!(name, "r34902_34_06241.xml");
    insta::assert_snapshot!("reclist_34902_2024h1", rec);
    assert_eq!(values(&rec, "FILENAME"), ["r34902_34_06241"]);
    assert_eq!(values(&rec, "NRECORDS"), ["10"]);
    assert_eq!(
        values(&rec, "TIP_OP"),
        ["1", "1", "1", "1", "1", "7", "8", "4", "2", "4"]
    );
    let recs = records(&rec, "REC");
    // The change of insurer shows 34902 its own episode, cut on 31 May.
    assert!(recs[5].contains(&ea), "{}", recs[5]);
    assert!(recs[5].contains("<DSTOP>2024-05-31</DSTOP>"), "{}", recs[5]);
    assert!(recs[5].contains(OGRN_34902), "{}", recs[5]);
    // The annulled record is inactive, shown as it was before.
    assert!(recs[8].contains("<IS_ACTIVE>0</IS_ACTIVE>"), "{}", recs[8]);
    assert!(recs[8].contains("Зябликов"));
    assert!(
        recs[7].contains("<DDEATH>2024-06-20</DDEATH>"),
        "{}",
        recs[7]
    );
    assert!(recs[7].contains("<DSTOP>2024-06-20</DSTOP>"), "{}", recs[7]);
    // A period is a period: June only, and the next export of the month is number 2.
    let (name, june) = list(&app, ListKind::Reclist, "34902", "2024-06-01", "2024-06-30");
    assert_eq!(name, "r34902_34_06242.xml");
    assert_eq!(values(&june, "TIP_OP"), ["8", "4", "2", "4"]);
    // 34901 sees only its own operation, with its own episode.
    let (_, other) = list(&app, ListKind::Reclist, "34901", "2024-01-01", "2024-06-30");
    assert_eq!(values(&other, "TIP_OP"), ["7"]);
    assert_eq!(values(&other, "DBEG"), ["2024-06-01"]);
    assert_eq!(values(&other, "OGRNSMO"), [OGRN_34901]);

    // STOPLIST of 34902 for May and June: A (change of insurer), B (ended), C (death), D
    // (annulled).
    let (name, stop) = list(
        &app,
        ListKind::Stoplist,
        "34902",
        "2024-05-01",
        "2024-06-30",
    );
    assert_eq!(name, "s34902_34_06241.xml");
    insta::assert_snapshot!("stoplist_34902_2024_05_06", stop);
    let stops = records(&stop, "STOP");
    let got: Vec<(String, String)> = stops
        .iter()
        .map(|s| (values(s, "REASON")[0].clone(), values(s, "ENP")[0].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("2".to_owned(), ea.clone()),
            ("1".to_owned(), eb.clone()),
            ("3".to_owned(), ec.clone()),
            ("4".to_owned(), ed.clone()),
        ]
    );
    assert_eq!(values(&stops[0], "DSTOP"), ["2024-05-31", "2024-05-31"]);
    assert_eq!(values(&stops[1], "DSTOP")[0], "2024-06-15");
    assert_eq!(values(&stops[2], "DSTOP")[0], "2024-06-20");
    // Nothing stopped in January; 34901 stopped nobody.
    let (_, none) = list(
        &app,
        ListKind::Stoplist,
        "34902",
        "2024-01-01",
        "2024-01-31",
    );
    assert_eq!(values(&none, "NRECORDS"), ["0"]);
    let (_, none) = list(
        &app,
        ListKind::Stoplist,
        "34901",
        "2024-01-01",
        "2024-06-30",
    );
    assert_eq!(values(&none, "NRECORDS"), ["0"]);

    // CONFLICTLIST of 34902: B and E share a SNILS, B and C a passport; each side once. Each
    // shared identifier also put the pair in the review queue as the file was applied
    // (matching at apply), so each pair is listed again as queued (REASON 4).
    let (name, conf) = list(
        &app,
        ListKind::Conflictlist,
        "34902",
        "2024-01-01",
        "2024-06-30",
    );
    assert_eq!(name, "c34902_34_06241.xml");
    insta::assert_snapshot!("conflictlist_34902_2024h1", conf);
    let mut got: Vec<(String, String, String)> = records(&conf, "CONFLICT")
        .iter()
        .map(|x| {
            (
                values(x, "REASON")[0].clone(),
                values(x, "ENP")[0].clone(),
                values(x, "ENP")[1].clone(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        ("2".to_owned(), eb.clone(), ee.clone()),
        ("2".to_owned(), ee.clone(), eb.clone()),
        ("3".to_owned(), eb.clone(), ec.clone()),
        ("3".to_owned(), ec.clone(), eb.clone()),
        ("4".to_owned(), eb.clone(), ee.clone()),
        ("4".to_owned(), ee.clone(), eb.clone()),
        ("4".to_owned(), eb.clone(), ec.clone()),
        ("4".to_owned(), ec.clone(), eb.clone()),
    ];
    want.sort();
    assert_eq!(got, want);
    // 34901 insures none of them.
    let (_, none) = list(
        &app,
        ListKind::Conflictlist,
        "34901",
        "2024-01-01",
        "2024-06-30",
    );
    assert_eq!(values(&none, "NRECORDS"), ["0"]);

    // A person insured by two insurers at once (as a bulk load or a merge could leave it):
    // 34901 also claims E from March.
    {
        let mut conn = app.conn();
        let person = omshub::erz::repo::person_by_enp(&mut conn, &ee)
            .unwrap()
            .unwrap();
        let row = omshub::erz::repo::current_insurance(&mut conn, person)
            .unwrap()
            .pop()
            .unwrap();
        diesel::insert_into(erz_insurance::table)
            .values((
                erz_insurance::person_id.eq(person),
                erz_insurance::enp.eq(&ee),
                erz_insurance::insurer_code.eq("34901"),
                erz_insurance::policy_kind.eq("Э"),
                erz_insurance::start_date.eq(d("2024-03-01")),
                erz_insurance::valid_from.eq(d("2024-03-01")),
                erz_insurance::recorded_at.eq(t("2024-06-26 12:00:00")),
                erz_insurance::op_id.eq(row.op_id),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    for (insurer, mine, theirs) in [("34902", "34902", "34901"), ("34901", "34901", "34902")] {
        let (_, conf) = list(
            &app,
            ListKind::Conflictlist,
            insurer,
            "2024-01-01",
            "2024-06-30",
        );
        let two: Vec<String> = records(&conf, "CONFLICT")
            .into_iter()
            .filter(|x| values(x, "REASON")[0] == "1")
            .collect();
        assert_eq!(two.len(), 1, "{conf}");
        assert_eq!(values(&two[0], "ENP"), [ee.clone(), ee.clone()]);
        let ins = values(&two[0], "INSURANCE")[0].clone();
        let cur = values(&two[0], "INSURANCE_CURR")[0].clone();
        let ogrn = |code: &str| {
            if code == "34901" {
                OGRN_34901
            } else {
                OGRN_34902
            }
        };
        assert!(ins.contains(ogrn(mine)), "{ins}");
        assert!(cur.contains(ogrn(theirs)), "{cur}");
    }
    assert_eq!(
        erz_list_export::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        10
    );
}

/// `uri` with every byte outside ASCII percent-encoded.
fn enc(uri: &str) -> String {
    uri.bytes()
        .map(|b| {
            if b.is_ascii() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn get(app: &TestApp, token: &str, uri: &str) -> crate::support::TestResponse {
    app.call(
        TestRequest::get()
            .uri(&enc(uri))
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
}

fn json(res: &crate::support::TestResponse) -> Value {
    serde_json::from_slice(&res.body).unwrap()
}

fn participant(app: &TestApp, kind: Kind, code: &str) -> (i64, String) {
    let p = participants::add(
        &mut app.conn(),
        &NewParticipant {
            kind,
            org_code: Some(code.into()),
            name: format!("participant {code}"),
            contact_email: Some("it@example.ru".into()),
            roles: None,
        },
        participants::now(),
    )
    .unwrap();
    let token = participants::issue_token(&mut app.conn(), p.id, None, 30, participants::now())
        .unwrap()
        .token;
    (p.id, token)
}

#[actix_web::test]
async fn an_insurer_downloads_its_own_lists_and_others_may_not() {
    let app = app_with_registers();
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    apply_ops(
        &app,
        "i34901_34_01241",
        "34901",
        &[Op::new(1, &a, "", "2024-01-10", OGRN_34901)],
        "2024-01-10 12:00:00",
    );
    // 34902 left the register in 2025: only 34901 can be a participant today.
    let (_, insurer) = participant(&app, Kind::Insurer, "34901");
    let (_, clinic) = participant(&app, Kind::Clinic, "340901");
    let res = get(
        &app,
        &insurer,
        "/api/v1/erz/lists/reclist?from=2024-01-01&to=2024-01-31",
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.header("content-disposition").as_deref(),
        Some("attachment; filename=\"r34901_34_01241.xml\"")
    );
    let body = res.text();
    assert_eq!(values(&body, "TIP_OP"), ["1"]);
    let report = validator()
        .check_file("r34901_34_01241.xml", body.as_bytes(), Limits::default())
        .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    // Streamed from the file it was written to, with its length; nothing is left behind.
    assert_eq!(
        res.header("content-length"),
        Some(body.len().to_string()),
        "{:?}",
        res.headers
    );
    assert_eq!(res.header("x-records").as_deref(), Some("1"));
    let storage = &app.state.settings.intake.storage_dir;
    let left: Vec<_> = std::fs::read_dir(storage)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with(".list-")),
        "{left:?}"
    );
    // Its own code may be named; another's may not.
    let res = get(
        &app,
        &insurer,
        "/api/v1/erz/lists/stoplist?from=2024-01-01&to=2024-01-31&insurer=34901",
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = get(
        &app,
        &insurer,
        "/api/v1/erz/lists/stoplist?from=2024-01-01&to=2024-01-31&insurer=34902",
    )
    .await;
    assert_eq!(
        (res.status, res.error().error.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    // A clinic and the reader token: 403.
    for token in [clinic.as_str(), READER_TOKEN] {
        let res = get(
            &app,
            token,
            "/api/v1/erz/lists/reclist?from=2024-01-01&to=2024-01-31",
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    // The admin names the insurer.
    let res = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/erz/lists/conflictlist?from=2024-01-01&to=2024-01-31&insurer=34902",
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    for (uri, status, code) in [
        (
            "/api/v1/erz/lists/conflictlist?from=2024-01-01&to=2024-01-31",
            StatusCode::BAD_REQUEST,
            "insurer_required",
        ),
        (
            "/api/v1/erz/lists/reclist?from=2024-02-01&to=2024-01-31&insurer=34901",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        (
            "/api/v1/erz/lists/reclist?from=2024-01-01&to=2024-01-31&insurer=34999",
            StatusCode::NOT_FOUND,
            "unknown_insurer",
        ),
        (
            "/api/v1/erz/lists/reclist?from=2024-01-01&to=2024-01-31&insurer=3490",
            StatusCode::BAD_REQUEST,
            "invalid_insurer",
        ),
        (
            "/api/v1/erz/lists/reclist?to=2024-01-31&insurer=34901",
            StatusCode::BAD_REQUEST,
            "invalid_date",
        ),
        (
            "/api/v1/erz/lists/otherlist?from=2024-01-01&to=2024-01-31&insurer=34901",
            StatusCode::NOT_FOUND,
            "unknown_list",
        ),
    ] {
        let res = get(&app, ADMIN_TOKEN, uri).await;
        assert_eq!(
            (res.status, res.error().error.as_str()),
            (status, code),
            "{uri}"
        );
    }
}

async fn status(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let res = get(app, token, &format!("/api/v1/policy-status?{query}")).await;
    (res.status, json(&res))
}

#[actix_web::test]
async fn death_ends_insurance_at_the_death_date() {
    let app = app_with_registers();
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    let number = enp(&a, 41);
    apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[Op::new(6, &a, &number, "2024-01-10", OGRN_34902)],
        "2024-01-10 12:00:00",
    );
    let mut death = Op::new(4, &a, &number, "2024-01-10", OGRN_34902);
    death.change = "2024-06-21";
    death.ddeath = Some("2024-06-20");
    apply_ops(
        &app,
        "i34902_34_06241",
        "34902",
        &[death],
        "2024-06-22 12:00:00",
    );

    let (s, last_day) = status(&app, ADMIN_TOKEN, &format!("enp={number}&date=2024-06-20")).await;
    assert_eq!(s, StatusCode::OK, "{last_day}");
    assert_eq!(last_day["insured"], true);
    assert_eq!(last_day["policy"]["stop"], "2024-06-20");
    assert_eq!(last_day["death_date"], Value::Null);
    let (_, after) = status(&app, ADMIN_TOKEN, &format!("enp={number}&date=2024-06-21")).await;
    assert_eq!(after["insured"], false, "{after}");
    assert_eq!(after["reason"], "deceased");
    assert_eq!(after["death_date"], "2024-06-20");
    assert_eq!(after["insurer"], Value::Null);
    // As known before the death was reported, the person was insured in July.
    let (_, before) = status(
        &app,
        ADMIN_TOKEN,
        &format!("enp={number}&date=2024-07-01&as_of=2024-06-01T00:00:00Z"),
    )
    .await;
    assert_eq!(before["insured"], true, "{before}");
    assert_eq!(before["death_date"], Value::Null);
    // The open episode was superseded, not changed: its cut copy ends on the death date.
    let rows: Vec<(Option<NaiveDate>, Option<NaiveDate>, bool)> = erz_insurance::table
        .select((
            erz_insurance::stop_date,
            erz_insurance::valid_to,
            erz_insurance::superseded_at.is_null(),
        ))
        .order(erz_insurance::id.asc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        rows,
        [
            (None, None, false),
            (Some(d("2024-06-20")), Some(d("2024-06-21")), true)
        ]
    );
    // No policy starts after the death: a change of insurer in July is refused.
    let r = apply_any(
        &app,
        "i34901_34_07241",
        "34901",
        &[Op::new(7, &a, &number, "2024-07-01", OGRN_34901)],
        "2024-06-23 12:00:00",
    );
    assert_eq!(r.accepted, 0);
    let reply = r.reply.unwrap();
    assert!(reply.contains("<COMMENT>person_deceased:"), "{reply}");
    assert!(
        r.protocol.contains("<IM_POL>DBEG</IM_POL>"),
        "{}",
        r.protocol
    );
    assert!(r.protocol.contains("<OSHIB>206</OSHIB>"), "{}", r.protocol);
    let (_, after) = status(&app, ADMIN_TOKEN, &format!("enp={number}&date=2024-07-02")).await;
    assert_eq!(after["reason"], "deceased");
    // A first registration that reports a death ends its episode at once.
    let b = person(2, "Скворцов", "Пётр", Sex::Male, "1950-11-02");
    let mut dead = Op::new(1, &b, "", "2024-01-10", OGRN_34902);
    dead.ddeath = Some("2024-03-05");
    let r = apply_ops(
        &app,
        "i34902_34_06242",
        "34902",
        &[dead],
        "2024-06-23 12:00:00",
    );
    let eb = issued(&r, 1);
    // The REPLIST answers the episode as recorded: ended at the death.
    assert!(
        r.reply
            .as_deref()
            .unwrap()
            .contains("<DSTOP>2024-03-05</DSTOP>"),
        "{:?}",
        r.reply
    );
    let (_, s) = status(&app, ADMIN_TOKEN, &format!("enp={eb}&date=2024-03-06")).await;
    assert_eq!(
        (s["insured"].as_bool(), s["death_date"].as_str()),
        (Some(false), Some("2024-03-05"))
    );
    let (_, s) = status(&app, ADMIN_TOKEN, &format!("enp={eb}&date=2024-03-05")).await;
    assert_eq!(s["insured"], true);
}

#[actix_web::test]
async fn the_status_by_names_birth_date_and_document_finds_one_none_or_several() {
    let app = app_with_registers();
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    // Two records of one look: same names, birth date and passport, other SNILS.
    let b = person(2, "Скворцов", "Пётр", Sex::Male, "1950-11-02");
    let mut b2 = b.clone();
    b2.snils = snils(223_456_799);
    let r = apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            Op::new(1, &a, "", "2024-01-10", OGRN_34902),
            Op::new(1, &b, "", "2024-01-10", OGRN_34902),
            Op::new(1, &b2, "", "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
    let ea = issued(&r, 1);
    let (_, clinic) = participant(&app, Kind::Clinic, "340901");

    // Names in another case and with Ё for Е, the series without its space.
    let q = |fam: &str, dr: &str, num: &str| {
        format!("fam={fam}&im=вера&dr={dr}&doctype=14&docser=1804&docnum={num}&date=2024-06-01")
    };
    let (s, one) = status(&app, &clinic, &q("ИВОЛГИНА", "1985-03-12", a.docnum)).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one["enp"], ea.as_str());
    assert_eq!(one["insured"], true);
    assert_eq!(one["insurer"]["code"], "34902");
    let (s, _) = status(&app, &clinic, &q("иволгина", "1985-03-12", a.docnum)).await;
    assert_eq!(s, StatusCode::OK);
    // Another birth date: nobody.
    let (s, none) = status(&app, &clinic, &q("Иволгина", "1985-03-13", a.docnum)).await;
    assert_eq!(
        (s, none["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("person_not_found"))
    );
    // Another first name: nobody either.
    let (s, _) = status(
        &app,
        &clinic,
        &format!(
            "fam=Иволгина&im=Анна&dr=1985-03-12&doctype=14&docnum={}",
            a.docnum
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Two records: ambiguous.
    let (s, two) = status(
        &app,
        &clinic,
        &format!(
            "fam=Скворцов&im=Петр&dr=1950-11-02&doctype=14&docnum={}&date=2024-06-01",
            b.docnum
        ),
    )
    .await;
    assert_eq!(
        (s, two["error"].as_str()),
        (StatusCode::CONFLICT, Some("person_ambiguous"))
    );
    // A key without the document number, or mixed with an ENP: 400.
    let (s, bad) = status(&app, &clinic, "fam=Иволгина&dr=1985-03-12&doctype=14").await;
    assert_eq!(
        (s, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("names_key_invalid"))
    );
    assert!(bad["message"].as_str().unwrap().contains("docnum"), "{bad}");
    let (s, bad) = status(
        &app,
        &clinic,
        &format!("enp={ea}&fam=Иволгина&dr=1985-03-12&doctype=14&docnum=1"),
    )
    .await;
    assert_eq!(
        (s, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("key_required"))
    );

    // Audited like the other keys, without the names.
    let audit: Vec<(String, String, String, Option<i64>)> = erz_status_query::table
        .filter(erz_status_query::by_key.eq("names"))
        .select((
            erz_status_query::subject,
            erz_status_query::outcome,
            erz_status_query::caller,
            erz_status_query::person_id,
        ))
        .order(erz_status_query::id.asc())
        .load(&mut app.conn())
        .unwrap();
    let outcomes: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(
        outcomes,
        ["insured", "insured", "not_found", "not_found", "not_found"]
    );
    assert!(
        audit
            .iter()
            .all(|a| a.0.starts_with("sha256:") && a.0.len() == 71)
    );
    assert!(audit.iter().all(|a| !a.0.contains("ИВОЛГИНА")));
    // The same person asked in two spellings is one subject.
    assert_eq!(audit[0].0, audit[1].0);
    assert!(audit[0].3.is_some() && audit[2].3.is_none());
}

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut *app.conn()).unwrap();
}

#[actix_web::test]
async fn the_care_of_a_person_lists_the_cases_of_accepted_packages_newest_first() {
    let app = app_with_registers();
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    let number = enp(&a, 41);
    let (clinic_id, clinic) = participant(&app, Kind::Clinic, "340901");
    let uri = format!("/api/v1/persons/{number}/care");

    // Nothing billed by this clinic: it may read none of the person's care (issue 21,
    // point 12), and learns nothing more.
    let res = get(&app, &clinic, &uri).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert_eq!(res.error().error, "care_not_visible");

    // An accepted package (its second attempt counts), a partly accepted one, one still
    // being checked and a refused one.
    for (id, status, attempts) in [
        ("pkg-accepted", "accepted", 2),
        ("pkg-partly", "partly_accepted", 1),
        ("pkg-checking", "checking", 1),
        ("pkg-refused", "rejected", 1),
    ] {
        exec(
            &app,
            &format!(
                "INSERT INTO package (id, sender, channel, file_name, sha256, size_bytes, \
                 received_at, status, attempts) VALUES ('{id}', '340901', 'api', \
                 'HM340901T34_{id}.zip', '{id}', 1, '2024-07-01 10:00:00', '{status}', {attempts})"
            ),
        );
    }
    let case = |pkg: &str, attempt: i32, n: i64, enp: &str, d1: &str, d2: &str, sum: i64| {
        exec(
            &app,
            &format!(
                "INSERT INTO package_case (package_id, attempt, n_zap, idcase, id_pac, enp, \
                 code_mo, date_1, date_2, usl_ok, sum_kopecks) VALUES ('{pkg}', {attempt}, {n}, \
                 {n}, 'pac{n}', '{enp}', '340901', '{d1}', '{d2}', 3, {sum})"
            ),
        );
    };
    case(
        "pkg-accepted",
        1,
        1,
        &number,
        "2024-02-01",
        "2024-02-01",
        111,
    );
    case(
        "pkg-accepted",
        2,
        1,
        &number,
        "2024-02-01",
        "2024-02-02",
        150_000,
    );
    case(
        "pkg-accepted",
        2,
        2,
        &enp(&a, 42),
        "2024-02-01",
        "2024-02-02",
        999,
    );
    case(
        "pkg-partly",
        1,
        7,
        &number,
        "2024-05-10",
        "2024-05-20",
        250_050,
    );
    case("pkg-checking", 1, 1, &number, "2024-06-01", "2024-06-01", 1);
    case("pkg-refused", 1, 1, &number, "2024-06-01", "2024-06-01", 1);
    exec(
        &app,
        "INSERT INTO account_decision (package_id, territory, period, code_mo, nschet, \
         rules_as_of, decided_at, accepted, summav, summap, sank_mek, cases, paid, partly_paid, \
         refused) VALUES ('pkg-partly', '34', '2024-05', '340901', '1', '2024-07-01', \
         '2024-07-01 10:00:00', 1, 250050, 200000, 50050, 1, 0, 1, 0)",
    );
    exec(
        &app,
        "INSERT INTO case_decision (package_id, territory, period, n_zap, idcase, oplata, sumv, \
         sump, sank, mtr) VALUES ('pkg-partly', '34', '2024-05', 7, 7, 3, 250050, 200000, 50050, 0)",
    );

    let res = get(&app, &clinic, &uri).await;
    let page = json(&res);
    assert_eq!(page["total"], 2, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["package_id"], "pkg-partly");
    assert_eq!(items[0]["billed_kopecks"], 250_050);
    assert_eq!(items[0]["oplata"], 3);
    assert_eq!(items[0]["paid_kopecks"], 200_000);
    assert_eq!(items[0]["date_2"], "2024-05-20");
    assert_eq!(items[1]["package_id"], "pkg-accepted");
    assert_eq!(items[1]["billed_kopecks"], 150_000);
    assert_eq!(items[1]["oplata"], Value::Null);
    // Paged as the other lists.
    let res = get(&app, &clinic, &format!("{uri}?page=2&per_page=1")).await;
    let second = json(&res);
    assert_eq!(
        (second["page"].as_u64(), second["total"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(second["items"][0]["package_id"], "pkg-accepted");
    let res = get(&app, &clinic, &format!("{uri}?per_page=0")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // A malformed ENP names the failed check; the reader token and no token are refused.
    let mut broken = number.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == '0' { '1' } else { '0' });
    let res = get(&app, &clinic, &format!("/api/v1/persons/{broken}/care")).await;
    assert_eq!(
        (res.status, res.error().error.as_str()),
        (StatusCode::BAD_REQUEST, "enp_check_digit_mismatch")
    );
    let res = get(&app, READER_TOKEN, &uri).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app.get(&uri).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Every read is audited (the refused first call read nothing).
    let audit: Vec<(String, String, Option<i64>)> = erz_status_query::table
        .filter(erz_status_query::by_key.eq("care"))
        .select((
            erz_status_query::subject,
            erz_status_query::outcome,
            erz_status_query::participant_id,
        ))
        .order(erz_status_query::id.asc())
        .load(&mut app.conn())
        .unwrap();
    let outcomes: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(outcomes, ["found", "found"]);
    assert!(
        audit
            .iter()
            .all(|a| a.0 == number && a.2 == Some(clinic_id))
    );
}

#[test]
fn the_cli_exports_a_list_into_a_folder() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against_with_insurers(&db, dir.path());
    let a = person(1, "Иволгина", "Вера", Sex::Female, "1985-03-12");
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OPLIST>\n  <VERS>2.0</VERS>\n  \
         <FILENAME>i34902_34_01241</FILENAME>\n  <SMOCOD>34902</SMOCOD>\n  \
         <PRZCOD>3490201</PRZCOD>\n  <NRECORDS>1</NRECORDS>\n{}</OPLIST>\n",
        Op::new(1, &a, "", "2024-01-10", OGRN_34902).xml(1)
    );
    let file = dir.path().join("i34902_34_01241.xml");
    std::fs::write(&file, text).unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "apply", file.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lists = dir.path().join("lists");
    let today = chrono::Utc::now().date_naive().to_string();
    let (out, stdout, stderr) = cmd(&[
        "erz",
        "export",
        "reclist",
        "--insurer",
        "34902",
        "--from",
        "2020-01-01",
        "--to",
        &today,
        "--out",
        lists.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{stdout}{stderr}");
    let written: Vec<String> = std::fs::read_dir(&lists)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written.len(), 1);
    assert!(written[0].starts_with("r34902_34_") && written[0].ends_with("1.xml"));
    assert!(
        stdout.starts_with(&format!("{}: 1 records", written[0])),
        "{stdout}"
    );
    let body = std::fs::read_to_string(lists.join(&written[0])).unwrap();
    let report = validator()
        .check_file(&written[0], body.as_bytes(), Limits::default())
        .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    let (out, _, stderr) = cmd(&[
        "erz",
        "export",
        "stoplist",
        "--insurer",
        "3490",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-31",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[invalid_insurer]"), "{stderr}");
}
