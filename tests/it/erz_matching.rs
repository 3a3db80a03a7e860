//! Duplicate persons in the register of insured persons (issue 8, point 4) as reviewers and
//! clinics meet them: an applied OPLIST's persons are matched as it is applied (against a
//! register loaded in bulk, which the nightly job matches); two near-identical persons wait in
//! the review queue and a reviewer's
//! `distinct` survives a rerun (even when the pair would now score as sure); a sure match is
//! merged, the gone ENP answers for the survivor, an unmerge restores it with the history kept
//! and the engine does not merge it again; a reviewer's `duplicate` merges; the API's coded
//! errors; the commands end to end. An OPLIST operation naming a merged-away ENP changes the
//! survivor (an annulment is refused); the CONFLICTLIST reports queued pairs and merges.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use omshub::db::schema::{erz_match_decision, erz_match_pair, erz_merge_link};
use omshub::domain::{Enp, Sex, Snils, TfomsCode};
use omshub::erz::FileResult;
use omshub::erz::apply::{Names, apply};
use omshub::erz::lists::{ListKind, ListRequest, produce};
use omshub::erz::matching::{self, Options, Summary, Thresholds};
use omshub::erz::review;
use serde_json::{Value, json};

use crate::participants::import_registers;
use crate::support::{ADMIN_TOKEN, READER_TOKEN, TestApp, TestDb};

const OGRN_34901: &str = "1123400901018";
const OGRN_34902: &str = "1123400902020";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// A synthetic person.
#[derive(Clone)]
struct P {
    fam: &'static str,
    im: &'static str,
    ot: &'static str,
    sex: Sex,
    birth: &'static str,
    snils: String,
    doc: (&'static str, &'static str),
    serial: u32,
}

impl P {
    fn enp(&self) -> String {
        Enp::generate(
            &TfomsCode::parse("34").unwrap(),
            self.birth.parse().unwrap(),
            self.sex,
            self.serial,
        )
        .unwrap()
        .to_string()
    }
}

fn snils(n: u32) -> String {
    Snils::from_payload(n).unwrap().to_string()
}

/// One OP for `p` with its ENP: `tip_op` 6 registers, 4 changes the data from `date`.
fn op(n_rec: u32, tip_op: u8, p: &P, date: &str, ogrn: &str) -> String {
    crate::erz::OpXml {
        n_rec: n_rec as usize,
        tip_op,
        change: date,
        oper: "Оператор 1",
        fam: p.fam,
        im: p.im,
        ot: Some(p.ot),
        sex: p.sex,
        birth: p.birth,
        snils: &p.snils,
        ddeath: None,
        docser: p.doc.0,
        docnum: p.doc.1,
        docdate: "2020-01-15",
        enp: &p.enp(),
        ogrn,
        vpolis: "Э",
        dbeg: date,
        dstop: None,
        attachment: false,
    }
    .xml()
}

fn oplist(stem: &str, smocod: &str, ops: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OPLIST>\n  <VERS>2.0</VERS>\n  \
         <FILENAME>{stem}</FILENAME>\n  <SMOCOD>{smocod}</SMOCOD>\n  <PRZCOD>{smocod}01</PRZCOD>\n  \
         <NRECORDS>{}</NRECORDS>\n{}</OPLIST>\n",
        ops.len(),
        ops.concat()
    )
}

fn validator() -> omshub::validate::Validator {
    omshub::validate::Validator::new(omshub::xml::schemas::ALL).unwrap()
}

/// Applies an OPLIST of `ops` from `smocod` at `now`.
fn apply_file(app: &TestApp, stem: &str, smocod: &str, ops: &[String], now: &str) -> FileResult {
    let text = oplist(stem, smocod, ops);
    let sha = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
    );
    apply(
        &mut app.conn(),
        &validator(),
        &Names::of(&format!("{stem}.xml")).unwrap(),
        &sha,
        text.as_bytes(),
        t(now),
    )
    .unwrap()
}

/// Applies an OPLIST of `ops` from `smocod` at `now`; every OP must be accepted.
fn apply_ops(app: &TestApp, stem: &str, smocod: &str, ops: &[String], now: &str) -> FileResult {
    let r = apply_file(app, stem, smocod, ops, now);
    assert_eq!(
        r.accepted,
        i64::try_from(ops.len()).unwrap(),
        "{:?}",
        r.reply
    );
    r
}

fn app() -> TestApp {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    app.state.lookups.refresh(&app.state.db, true).unwrap();
    app
}

fn run_match(app: &TestApp, thresholds: Thresholds, now: &str) -> Summary {
    matching::run(
        &mut app.conn(),
        &Options {
            thresholds,
            ..Options::at(t(now))
        },
    )
    .unwrap()
}

/// Иванова / Иванава: one letter apart, the same birth date, no SNILS, other documents.
fn near_identical() -> (P, P) {
    let a = P {
        fam: "Иванова",
        im: "Мария",
        ot: "Петровна",
        sex: Sex::Female,
        birth: "1980-05-06",
        snils: String::new(),
        doc: ("18 01", "100001"),
        serial: 11,
    };
    let b = P {
        fam: "Иванава",
        doc: ("18 02", "200002"),
        serial: 12,
        ..a.clone()
    };
    (a, b)
}

/// Someone else born the same day, in the same name block.
fn other() -> P {
    P {
        fam: "Ивченко",
        im: "Мирослава",
        ot: "Олеговна",
        sex: Sex::Female,
        birth: "1980-05-06",
        snils: String::new(),
        doc: ("18 09", "900009"),
        serial: 19,
    }
}

async fn admin(app: &TestApp, req: TestRequest) -> (StatusCode, Value) {
    let res = app
        .call(req.insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}"))))
        .await;
    let body = if res.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&res.body).unwrap()
    };
    (res.status, body)
}

async fn status(app: &TestApp, query: &str) -> (StatusCode, Value) {
    admin(
        app,
        TestRequest::get().uri(&format!("/api/v1/policy-status?{query}")),
    )
    .await
}

async fn queue(app: &TestApp) -> Value {
    let (code, body) = admin(app, TestRequest::get().uri("/api/v1/erz/review")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

async fn decide(app: &TestApp, pair: &Value, body: Value) -> (StatusCode, Value) {
    admin(
        app,
        TestRequest::post()
            .uri(&format!("/api/v1/erz/review/{pair}"))
            .set_json(body),
    )
    .await
}

fn links(app: &TestApp) -> i64 {
    erz_merge_link::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn near_identical_persons_wait_for_review_and_distinct_survives_a_rerun() {
    let app = app();
    let (a, b) = near_identical();
    let c = other();
    let applied = apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            op(1, 6, &a, "2024-01-10", OGRN_34902),
            op(2, 6, &b, "2024-01-10", OGRN_34902),
            op(3, 6, &c, "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
    // Matched as the file is applied: the pair waits for review at once.
    let at_apply = applied.matching.unwrap().unwrap();
    assert_eq!(at_apply.persons, 3);
    assert_eq!(
        (
            at_apply.new_pairs,
            at_apply.possible,
            at_apply.sure,
            at_apply.linked
        ),
        (1, 1, 0, 0),
        "{at_apply:?}"
    );
    assert_eq!(queue(&app).await["total"], 1);
    // The full run finds the same pair again, not a second one.
    let first = run_match(&app, Thresholds::default(), "2024-02-01 10:00:00");
    assert_eq!(first.persons, 3);
    assert_eq!(
        (first.new_pairs, first.possible, first.sure, first.linked),
        (0, 1, 0, 0),
        "{first:?}"
    );
    assert_eq!(links(&app), 0);

    // The queue shows the pair with both persons, the keys and the per-field scores.
    let q = queue(&app).await;
    assert_eq!(q["total"], 1, "{q}");
    let item = &q["items"][0];
    assert_eq!(item["state"], "possible");
    assert_eq!(item["a"]["enp"], a.enp().as_str());
    assert_eq!(item["b"]["enp"], b.enp().as_str());
    assert_eq!(item["b"]["fam"], "Иванава");
    assert_eq!(item["keys"], json!(["birth_fam", "birth_given"]));
    assert_eq!(item["fields"]["im"], 1000);
    assert_eq!(item["fields"]["snils"], Value::Null);
    assert_eq!(item["fields"]["document"], 0);
    let fam = item["fields"]["fam"].as_i64().unwrap();
    assert!(fam > 900 && fam < 1000, "{item}");
    let pair = item["id"].clone();

    // Only the admin reviews.
    let res = app
        .call(
            TestRequest::get()
                .uri("/api/v1/erz/review")
                .insert_header(("Authorization", format!("Bearer {READER_TOKEN}"))),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Coded errors.
    let (code, body) = decide(&app, &json!(9999), json!({"decision": "distinct"})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("pair_not_found"))
    );
    let (code, body) = decide(&app, &pair, json!({"decision": "perhaps"})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_decision"))
    );

    // The reviewer says: two different women.
    let (code, body) = decide(
        &app,
        &pair,
        json!({"decision": "distinct", "comment": "different mothers' names in the archive"}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "distinct");
    assert_eq!(body["decided_by"], "admin");
    assert_eq!(body["linked"], Value::Null);
    // Final: a second decision, either way, is refused.
    let (code, body) = decide(&app, &pair, json!({"decision": "duplicate"})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("decision_final"))
    );
    assert_eq!(queue(&app).await["total"], 0);

    // Both get the same SNILS (a data change): the pair would now be sure...
    let shared = snils(234_567_801);
    let (a2, b2) = (
        P {
            snils: shared.clone(),
            ..a.clone()
        },
        P {
            snils: shared,
            ..b.clone()
        },
    );
    let changed = apply_ops(
        &app,
        "i34902_34_03241",
        "34902",
        &[
            op(1, 4, &a2, "2024-03-01", OGRN_34902),
            op(2, 4, &b2, "2024-03-01", OGRN_34902),
        ],
        "2024-03-01 12:00:00",
    );
    // Matching at apply leaves the decided pair as it is too.
    let at_apply = changed.matching.unwrap().unwrap();
    assert_eq!(
        (at_apply.decided, at_apply.linked, at_apply.sure),
        (1, 0, 0),
        "{at_apply:?}"
    );
    let pair_row = |app: &TestApp| -> (i32, String, Option<i32>, NaiveDateTime) {
        erz_match_pair::table
            .select((
                erz_match_pair::score,
                erz_match_pair::state,
                erz_match_pair::snils_score,
                erz_match_pair::last_seen_at,
            ))
            .first(&mut app.conn())
            .unwrap()
    };
    let before = pair_row(&app);
    // ...but the reviewer's decision stands: not re-scored, not linked.
    let again = run_match(&app, Thresholds::default(), "2024-03-02 10:00:00");
    assert_eq!(
        (again.decided, again.linked, again.sure, again.new_pairs),
        (1, 0, 0, 0),
        "{again:?}"
    );
    let after = pair_row(&app);
    assert_eq!(
        (&after.0, &after.1, &after.2),
        (&before.0, &before.1, &before.2)
    );
    assert_eq!(after.1, "possible");
    assert_eq!(after.3, t("2024-03-02 10:00:00"), "seen again");
    assert_eq!(links(&app), 0);
    let decisions: Vec<(String, String, Option<String>)> = erz_match_decision::table
        .select((
            erz_match_decision::decision,
            erz_match_decision::decided_by,
            erz_match_decision::comment,
        ))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        decisions,
        [(
            "distinct".to_owned(),
            "admin".to_owned(),
            Some("different mothers' names in the archive".to_owned())
        )]
    );
    // Each ENP still answers for itself; the shared SNILS names two persons.
    let (_, s) = status(&app, &format!("enp={}&date=2024-06-01", b.enp())).await;
    assert_eq!(
        (&s["enp"], &s["merged_into"]),
        (&json!(b.enp()), &Value::Null)
    );
    let (code, _) = status(
        &app,
        &format!("snils={}&date=2024-06-01", b2.snils.replace(' ', "%20")),
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn a_sure_match_is_merged_answers_for_the_survivor_and_an_unmerge_keeps_the_history() {
    let app = app();
    let shared = snils(234_567_802);
    let kept = P {
        fam: "Сорокина",
        im: "Анна",
        ot: "Ильинична",
        sex: Sex::Female,
        birth: "1975-02-03",
        snils: shared.clone(),
        doc: ("18 03", "300003"),
        serial: 21,
    };
    // Registered again by another insurer without the SNILS, with another passport.
    let gone = P {
        snils: String::new(),
        doc: ("18 04", "400004"),
        serial: 22,
        ..kept.clone()
    };
    register_at_two_insurers(&app, &kept, &gone);
    // The second insurer adds the SNILS: now both carry it, and matching at apply links them.
    let changed = apply_ops(
        &app,
        "i34902_34_02241",
        "34902",
        &[op(
            1,
            4,
            &P {
                snils: shared.clone(),
                ..gone.clone()
            },
            "2024-02-01",
            OGRN_34902,
        )],
        "2024-02-01 12:00:00",
    );
    let s = changed.matching.unwrap().unwrap();
    assert_eq!((s.sure, s.linked, s.possible), (1, 1, 0), "{s:?}");
    // A full run leaves the merged person alone.
    let s = run_match(&app, Thresholds::default(), "2024-02-10 10:00:00");
    assert_eq!((s.sure, s.linked, s.comparisons), (0, 0, 0), "{s:?}");
    let link: (String, Option<NaiveDateTime>) = erz_merge_link::table
        .select((erz_merge_link::why, erz_merge_link::superseded_at))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(link, ("auto".to_owned(), None));
    assert_eq!(
        queue(&app).await["total"],
        0,
        "a linked pair is not in the queue"
    );

    // The gone ENP answers for the survivor: insured by 34901, says merged_into.
    let (code, g) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(code, StatusCode::OK, "{g}");
    assert_eq!(g["enp"], gone.enp().as_str());
    assert_eq!(g["merged_into"], kept.enp().as_str());
    assert_eq!(g["insurer"]["code"], "34901");
    // The survivor answers for itself.
    let (_, k) = status(&app, &format!("enp={}&date=2024-06-01", kept.enp())).await;
    assert_eq!(
        (&k["merged_into"], &k["insurer"]["code"]),
        (&Value::Null, &json!("34901"))
    );
    // The SNILS of two merged persons names one person.
    let by_snils = format!("snils={}&date=2024-06-01", shared.replace(' ', "%20"));
    let (code, s1) = status(&app, &by_snils).await;
    assert_eq!((code, &s1["enp"]), (StatusCode::OK, &json!(kept.enp())));

    // Unmerge: the gone ENP answers for itself again; the link stays, superseded.
    let undone = review::unmerge(
        &mut app.conn(),
        &gone.enp(),
        "admin",
        Some("twins, checked by the fund"),
        t("2024-03-01 09:00:00"),
    )
    .unwrap();
    assert_eq!(undone.superseded_at, Some(t("2024-03-01 09:00:00")));
    assert_eq!(undone.superseded_why.as_deref(), Some("manual"));
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(
        (&g["merged_into"], &g["insurer"]["code"]),
        (&Value::Null, &json!("34902"))
    );
    // As known while it was merged, it answered for the survivor.
    let (_, then) = status(
        &app,
        &format!(
            "enp={}&date=2024-06-01&as_of=2024-02-20T00:00:00Z",
            gone.enp()
        ),
    )
    .await;
    assert_eq!(then["merged_into"], kept.enp().as_str());
    let history = review::links(&mut app.conn(), &gone.enp()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].recorded_at, t("2024-02-01 12:00:00"));
    assert_eq!(
        history[0].superseded_comment.as_deref(),
        Some("twins, checked by the fund")
    );
    assert_eq!(
        review::unmerge(
            &mut app.conn(),
            &gone.enp(),
            "admin",
            None,
            t("2024-03-01 10:00:00")
        )
        .unwrap_err()
        .code(),
        "not_merged"
    );

    // Matching again does not merge them again: the pair waits for a reviewer.
    let s = run_match(&app, Thresholds::default(), "2024-03-05 10:00:00");
    assert_eq!((s.sure, s.linked), (1, 0), "{s:?}");
    assert_eq!(links(&app), 1);
    let q = queue(&app).await;
    assert_eq!(
        (&q["total"], &q["items"][0]["state"]),
        (&json!(1), &json!("sure"))
    );

    // The reviewer decides duplicate after all: linked again, by review; both links on record.
    let (code, d) = decide(&app, &q["items"][0]["id"], json!({"decision": "duplicate"})).await;
    assert_eq!(code, StatusCode::OK, "{d}");
    assert_eq!(d["linked"]["why"], "review");
    assert_eq!(d["linked"]["gone_enp"], gone.enp().as_str());
    assert_eq!(d["linked"]["kept_enp"], kept.enp().as_str());
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(g["merged_into"], kept.enp().as_str());
    let history = review::links(&mut app.conn(), &kept.enp()).unwrap();
    let whys: Vec<(&str, bool)> = history
        .iter()
        .map(|l| (l.why.as_str(), l.superseded_at.is_some()))
        .collect();
    assert_eq!(whys, [("auto", true), ("review", false)]);
}

#[actix_web::test]
async fn a_reviewers_duplicate_merges_and_manual_merges_are_checked() {
    let app = app();
    let a = P {
        fam: "Кузнецов",
        im: "Олег",
        ot: "Иванович",
        sex: Sex::Male,
        birth: "1990-10-10",
        snils: String::new(),
        doc: ("18 05", "500005"),
        serial: 31,
    };
    let b = P {
        ot: "Иваноич",
        doc: ("18 06", "600006"),
        serial: 32,
        ..a.clone()
    };
    let c = P {
        fam: "Морозов",
        im: "Глеб",
        ot: "Юрьевич",
        birth: "1960-01-01",
        doc: ("18 07", "700007"),
        serial: 33,
        ..a.clone()
    };
    // Another possible pair, which a data change later parts.
    let d = P {
        fam: "Белова",
        im: "Нина",
        ot: "Юрьевна",
        sex: Sex::Female,
        birth: "1970-07-07",
        doc: ("18 08", "800008"),
        serial: 34,
        ..a.clone()
    };
    let e = P {
        ot: "Юрьева",
        doc: ("18 09", "900009"),
        serial: 35,
        ..d.clone()
    };
    apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            op(1, 6, &a, "2024-01-10", OGRN_34902),
            op(2, 6, &b, "2024-01-10", OGRN_34902),
            op(3, 6, &c, "2024-01-10", OGRN_34902),
            op(4, 6, &d, "2024-01-10", OGRN_34902),
            op(5, 6, &e, "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
    let s = run_match(&app, Thresholds::default(), "2024-02-01 10:00:00");
    assert_eq!((s.possible, s.linked), (2, 0), "{s:?}");
    let q = queue(&app).await;
    assert_eq!(q["total"], 2, "{q}");
    let ab = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["a"]["enp"] == a.enp().as_str())
        .unwrap();
    let (code, d) = decide(
        &app,
        &ab["id"],
        json!({"decision": "duplicate", "comment": "same passport history"}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{d}");
    assert_eq!(d["linked"]["why"], "review");
    assert_eq!(d["linked"]["recorded_by"], "admin");
    assert_eq!(d["linked"]["comment"], "same passport history");
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", b.enp())).await;
    assert_eq!(g["merged_into"], a.enp().as_str());
    // The second pair is parted by a data change (a new name from February).
    let renamed = P {
        fam: "Громова",
        im: "Дарья",
        ot: "Олеговна",
        ..e.clone()
    };
    apply_ops(
        &app,
        "i34902_34_02241",
        "34902",
        &[op(1, 4, &renamed, "2024-02-01", OGRN_34902)],
        "2024-02-01 12:00:00",
    );
    // A rerun, even with a low threshold: the merged person is not matched further, the
    // parted pair is no longer found and leaves the queue as dropped.
    let s = run_match(
        &app,
        Thresholds::new(900, 500).unwrap(),
        "2024-02-02 10:00:00",
    );
    assert_eq!(
        (s.decided, s.linked, s.new_pairs, s.dropped),
        (0, 0, 0, 1),
        "{s:?}"
    );
    assert_eq!(links(&app), 1);
    assert_eq!(queue(&app).await["total"], 0);
    let states: Vec<String> = erz_match_pair::table
        .select(erz_match_pair::state)
        .order(erz_match_pair::state.asc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(states, ["dropped", "possible"]);

    // Manual merges: refusals are coded.
    let mut pooled = app.conn();
    let conn: &mut omshub::db::DbConn = &mut pooled;
    let now = t("2024-03-01 10:00:00");
    let code = |r: Result<review::LinkView, review::ReviewError>| r.unwrap_err().code();
    assert_eq!(
        code(review::merge(conn, &a.enp(), &b.enp(), "admin", None, now)),
        "already_merged"
    );
    assert_eq!(
        code(review::merge(conn, &b.enp(), &a.enp(), "admin", None, now)),
        "merge_cycle"
    );
    assert_eq!(
        code(review::merge(conn, &a.enp(), &a.enp(), "admin", None, now)),
        "same_person"
    );
    let nobody = P {
        serial: 99,
        ..c.clone()
    };
    assert_eq!(
        code(review::merge(
            conn,
            &a.enp(),
            &nobody.enp(),
            "admin",
            None,
            now
        )),
        "person_not_found"
    );
    assert_eq!(
        code(review::merge(conn, &a.enp(), "123", "admin", None, now)),
        "enp_invalid"
    );
    // A chain: c into b (itself merged into a) answers for a.
    let l = review::merge(conn, &b.enp(), &c.enp(), "admin", Some("by hand"), now).unwrap();
    assert_eq!(l.why, "manual");
    drop(pooled);
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", c.enp())).await;
    assert_eq!(g["merged_into"], a.enp().as_str());
}

#[test]
fn the_commands_match_review_merge_and_unmerge() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against_with_insurers(&db, dir.path());
    let (a, b) = near_identical();
    let file = dir.path().join("i34902_34_01241.xml");
    std::fs::write(
        &file,
        oplist(
            "i34902_34_01241",
            "34902",
            &[
                op(1, 6, &a, "2024-01-10", OGRN_34902),
                op(2, 6, &b, "2024-01-10", OGRN_34902),
            ],
        ),
    )
    .unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "apply", file.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "matching of the 2 persons touched: 2 pairs compared, 1 new, 1 possible (review queue), 0 sure, 0 linked"
        ),
        "{stdout}"
    );

    let (out, stdout, stderr) = cmd(&["erz", "match"]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("persons: 2, blocks: 2, comparisons: 2\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 new, 1 possible (review queue), 0 sure, 0 linked"),
        "{stdout}"
    );
    let (out, _, stderr) = cmd(&["erz", "match", "--sure", "0.8", "--possible", "0.9"]);
    assert!(!out.status.success());
    assert!(stderr.contains("possible <= sure"), "{stderr}");

    let (out, stdout, _) = cmd(&["erz", "review", "list"]);
    assert!(out.status.success());
    assert!(stdout.starts_with("1 pairs to review\npair "), "{stdout}");
    assert!(stdout.contains("Иванава"), "{stdout}");
    let pair = stdout
        .lines()
        .nth(1)
        .unwrap()
        .split([' ', ':'])
        .nth(1)
        .unwrap()
        .to_owned();

    let (out, stdout, stderr) = cmd(&[
        "erz",
        "review",
        "decide",
        &pair,
        "distinct",
        "--comment",
        "checked",
        "--by",
        "petrova",
    ]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), format!("pair {pair}: distinct"));
    let (out, _, stderr) = cmd(&["erz", "review", "decide", &pair, "duplicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[decision_final]"), "{stderr}");
    let (_, stdout, _) = cmd(&["erz", "match"]);
    assert!(
        stdout.contains("1 decided by a reviewer (unchanged)"),
        "{stdout}"
    );
    let (_, stdout, _) = cmd(&["erz", "review", "list"]);
    assert!(stdout.starts_with("0 pairs to review"), "{stdout}");

    // By hand: merge, a second merge refused, unmerge, a second unmerge refused.
    let (out, stdout, stderr) = cmd(&["erz", "merge", &a.enp(), &b.enp(), "--comment", "same"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("merged: link "), "{stdout}");
    let (out, _, stderr) = cmd(&["erz", "merge", &a.enp(), &b.enp()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[already_merged]"), "{stderr}");
    let (out, stdout, stderr) = cmd(&["erz", "unmerge", &b.enp(), "--by", "petrova"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("unmerged: link "), "{stdout}");
    let (out, _, stderr) = cmd(&["erz", "unmerge", &b.enp()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[not_merged]"), "{stderr}");
}

/// Loads `persons` by `erz import` (a CSV, insured by 34902 from 2024-01-10) at `now`.
fn load(app: &TestApp, persons: &[&P], now: &str) {
    use std::fmt::Write as _;

    use omshub::erz::import::{CSV_HEADER, Format, ImportOptions, import_path};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.csv");
    let mut text = format!("{CSV_HEADER}\n");
    for p in persons {
        let sex = if p.sex == Sex::Male { 1 } else { 2 };
        writeln!(
            text,
            "{};{};{};{};{};{sex};{};1;RUS;14;{};{};2020-01-15;34902;Э;;;;2024-01-10;;;;;;;",
            p.enp(),
            p.snils,
            p.fam,
            p.im,
            p.ot,
            p.birth,
            p.doc.0,
            p.doc.1
        )
        .unwrap();
    }
    std::fs::write(&file, text).unwrap();
    let options = ImportOptions {
        format: Format::Csv,
        batch_size: 100,
        progress: false,
        writers: 1,
    };
    let loaded = import_path(&app.state.db, &validator(), &file, options, t(now)).unwrap();
    assert_eq!(loaded.summary.inserted, persons.len(), "{loaded:?}");
}

#[actix_web::test]
async fn an_applied_file_matches_the_persons_it_touched_against_the_register() {
    let app = app();
    // Loaded in bulk, so not matched yet: Иванова and Иванава wait for the full run.
    let (a, b) = near_identical();
    load(&app, &[&a, &b], "2024-01-05 12:00:00");
    assert_eq!(queue(&app).await["total"], 0);
    // An insurer registers Иванова again under another ENP, with another passport.
    let c = P {
        doc: ("18 03", "300003"),
        serial: 13,
        ..a.clone()
    };
    let file = [op(1, 6, &c, "2024-01-10", OGRN_34902)];
    let applied = apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &file,
        "2024-01-10 12:00:00",
    );
    let s = applied.matching.unwrap().unwrap();
    // Compared with both loaded persons of its blocks, not them with each other.
    assert_eq!(
        (s.persons, s.new_pairs, s.possible, s.sure, s.linked),
        (1, 2, 2, 0, 0),
        "{s:?}"
    );
    let mut got: Vec<(i64, i64)> = erz_match_pair::table
        .select((erz_match_pair::person_a, erz_match_pair::person_b))
        .load(&mut app.conn())
        .unwrap();
    let id = |p: &P| -> i64 {
        omshub::db::schema::erz_person::table
            .filter(omshub::db::schema::erz_person::enp.eq(p.enp()))
            .select(omshub::db::schema::erz_person::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let mut want = vec![(id(&a), id(&c)), (id(&b), id(&c))];
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    // The queue has them at once; the full run adds the loaded pair.
    assert_eq!(queue(&app).await["total"], 2);
    let full = run_match(&app, Thresholds::default(), "2024-02-01 10:00:00");
    assert_eq!((full.new_pairs, full.possible), (1, 3), "{full:?}");
    // The same file again is a repeat: nothing is applied, nothing matched.
    let again = apply_file(
        &app,
        "i34902_34_01241",
        "34902",
        &file,
        "2024-02-02 12:00:00",
    );
    assert!(again.repeated);
    assert!(again.matching.is_none());
}

#[actix_web::test]
async fn the_scheduled_job_finds_the_pairs_without_a_command() {
    let app = app();
    let (a, b) = near_identical();
    // A bulk load is not matched as it goes (an applied OPLIST is): the nightly job finds them.
    load(&app, &[&a, &b], "2024-01-10 12:00:00");
    let pairs = |app: &TestApp| {
        erz_match_pair::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap()
    };
    assert_eq!(pairs(&app), 0);
    // Every second, so that the test sees a run; the default is nightly.
    let settings = omshub::config::JobSettings {
        enabled: true,
        db_maintenance_cron: "0 30 3 * * *".into(),
        erz_matching_cron: "* * * * * *".into(),
    };
    let scheduler = omshub::jobs::Scheduler::start(&settings, &app.state.db)
        .await
        .unwrap();
    assert_eq!(scheduler.names(), ["db-maintenance", "erz-matching"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while pairs(&app) == 0 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    scheduler.shutdown().await;
    assert_eq!(pairs(&app), 1, "the job queued the near-identical pair");
    let state: String = erz_match_pair::table
        .select(erz_match_pair::state)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(state, "possible");
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

fn person_id(app: &TestApp, enp: &str) -> i64 {
    omshub::erz::repo::person_by_enp(&mut app.conn(), enp)
        .unwrap()
        .unwrap()
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

/// Registers `kept` at insurer 34901 on 2024-01-10 and `gone` at 34902 on 2024-01-11.
fn register_at_two_insurers(app: &TestApp, kept: &P, gone: &P) {
    apply_ops(
        app,
        "i34901_34_01241",
        "34901",
        &[op(1, 6, kept, "2024-01-10", OGRN_34901)],
        "2024-01-10 12:00:00",
    );
    apply_ops(
        app,
        "i34902_34_01241",
        "34902",
        &[op(1, 6, gone, "2024-01-11", OGRN_34902)],
        "2024-01-11 12:00:00",
    );
}

/// Лебедева (34901) and the same woman registered again by 34902 without the SNILS, with
/// another passport.
fn registered_twice() -> (P, P) {
    let kept = P {
        fam: "Лебедева",
        im: "Ольга",
        ot: "Сергеевна",
        sex: Sex::Female,
        birth: "1982-04-15",
        snils: snils(234_567_803),
        doc: ("18 11", "110011"),
        serial: 41,
    };
    let gone = P {
        snils: String::new(),
        doc: ("18 12", "120012"),
        serial: 42,
        ..kept.clone()
    };
    (kept, gone)
}

#[actix_web::test]
async fn an_operation_on_a_merged_away_enp_changes_the_survivor_and_an_annulment_is_refused() {
    let app = app();
    let (kept, gone) = registered_twice();
    register_at_two_insurers(&app, &kept, &gone);
    let (kept_id, gone_id) = (person_id(&app, &kept.enp()), person_id(&app, &gone.enp()));
    review::merge(
        &mut app.conn(),
        &kept.enp(),
        &gone.enp(),
        "admin",
        Some("one woman"),
        t("2024-02-01 10:00:00"),
    )
    .unwrap();

    // 34902 sends a change of insurer naming the merged-away ENP: the survivor moves.
    let r = apply_ops(
        &app,
        "i34902_34_03241",
        "34902",
        &[op(1, 7, &gone, "2024-03-01", OGRN_34902)],
        "2024-03-01 12:00:00",
    );
    let reply = r.reply.unwrap();
    let report = validator()
        .check_file(
            r.reply_name.as_deref().unwrap(),
            reply.as_bytes(),
            omshub::validate::schema::Limits::default(),
        )
        .unwrap();
    assert!(report.accepted, "{:#?}\n{reply}", report.findings);
    assert_eq!(values(&reply, "ID"), [kept_id.to_string()], "{reply}");
    assert_eq!(values(&reply, "ENP"), [kept.enp()], "{reply}");
    assert_eq!(values(&reply, "DBEG"), ["2024-03-01"]);
    assert_eq!(
        values(&reply, "COMMENT"),
        [format!(
            "enp_merged: the ENP was merged into {}; the operation was applied to that person",
            kept.enp()
        )]
    );
    let insurer = |s: &Value| s["insurer"]["code"].clone();
    let (code, k) = status(&app, &format!("enp={}&date=2024-06-01", kept.enp())).await;
    assert_eq!(code, StatusCode::OK, "{k}");
    assert_eq!(
        (insurer(&k), &k["merged_into"]),
        (json!("34902"), &Value::Null)
    );
    let (_, before) = status(&app, &format!("enp={}&date=2024-02-15", kept.enp())).await;
    assert_eq!(insurer(&before), json!("34901"));
    assert_eq!(before["policy"]["stop"], "2024-02-29");
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(
        (insurer(&g), &g["merged_into"]),
        (json!("34902"), &json!(kept.enp()))
    );
    // The merged-away person's own rows are not touched.
    let own = omshub::erz::repo::current_insurance(&mut app.conn(), gone_id).unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(
        (own[0].insurer_code.as_str(), own[0].start_date.to_string()),
        ("34902", "2024-01-11".to_owned())
    );

    // A data change naming the merged-away ENP: a new name and passport for the survivor.
    let renamed = P {
        fam: "Орлова",
        snils: kept.snils.clone(),
        doc: ("18 13", "130013"),
        ..gone.clone()
    };
    let r = apply_ops(
        &app,
        "i34902_34_04241",
        "34902",
        &[op(1, 4, &renamed, "2024-04-01", OGRN_34902)],
        "2024-04-01 12:00:00",
    );
    let reply = r.reply.unwrap();
    assert_eq!(values(&reply, "ID"), [kept_id.to_string()], "{reply}");
    // The answer carries the survivor's episode with the sender: the ENP to use.
    assert_eq!(values(&reply, "ENP"), [kept.enp()], "{reply}");
    assert!(
        values(&reply, "COMMENT")[0].starts_with("enp_merged: "),
        "{reply}"
    );
    let by_names = |date: &str| {
        enc(&format!(
            "fam=Орлова&im=Ольга&dr=1982-04-15&doctype=14&docnum=130013&date={date}"
        ))
    };
    let (code, n) = status(&app, &by_names("2024-06-01")).await;
    assert_eq!(code, StatusCode::OK, "{n}");
    assert_eq!(
        (&n["enp"], insurer(&n)),
        (&json!(kept.enp()), json!("34902"))
    );
    let (code, _) = status(&app, &by_names("2024-03-15")).await;
    assert_eq!(
        code,
        StatusCode::NOT_FOUND,
        "the new passport counts from April"
    );
    let fams = |id: i64| -> Vec<String> {
        omshub::erz::repo::current_person_versions(&mut app.conn(), id)
            .unwrap()
            .into_iter()
            .map(|v| v.fam)
            .collect()
    };
    assert_eq!(fams(kept_id), ["Лебедева", "Орлова"]);
    assert_eq!(fams(gone_id), ["Лебедева"]);

    // An annulment naming the merged-away ENP is refused: the survivor stays registered.
    let r = apply_file(
        &app,
        "i34902_34_05241",
        "34902",
        &[op(1, 2, &gone, "2024-05-01", OGRN_34902)],
        "2024-05-01 12:00:00",
    );
    assert_eq!((r.accepted, r.refused), (0, 1));
    let reply = r.reply.unwrap();
    assert_eq!(values(&reply, "CODE_ERP"), ["AE"]);
    let comment = &values(&reply, "COMMENT")[0];
    assert!(comment.starts_with("person_merged: "), "{comment}");
    assert!(
        comment.contains(&format!("merged into {}", kept.enp())),
        "{comment}"
    );
    assert_eq!(values(&r.protocol, "OSHIB"), ["206"], "{}", r.protocol);
    assert_eq!(values(&r.protocol, "IM_POL"), ["ENP"]);
    let (code, k) = status(&app, &format!("enp={}&date=2024-06-01", kept.enp())).await;
    assert_eq!((code, &k["insured"]), (StatusCode::OK, &json!(true)));
    let (_, g) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(g["merged_into"], kept.enp().as_str());

    // Unmerged, the ENP names its own person again: the same annulment annuls that one.
    review::unmerge(
        &mut app.conn(),
        &gone.enp(),
        "admin",
        Some("two women after all"),
        t("2024-05-10 09:00:00"),
    )
    .unwrap();
    let r = apply_ops(
        &app,
        "i34902_34_05242",
        "34902",
        &[op(1, 2, &gone, "2024-05-11", OGRN_34902)],
        "2024-05-11 12:00:00",
    );
    let reply = r.reply.unwrap();
    assert_eq!(values(&reply, "ID"), [gone_id.to_string()], "{reply}");
    assert!(values(&reply, "COMMENT").is_empty(), "{reply}");
    let (code, _) = status(&app, &format!("enp={}&date=2024-06-01", gone.enp())).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, k) = status(&app, &format!("enp={}&date=2024-06-01", kept.enp())).await;
    assert_eq!((code, insurer(&k)), (StatusCode::OK, json!("34902")));
}

/// The CONFLICTLIST of `insurer` for `[from, to]` (checked against its XSD) as (REASON, the
/// insurer's ENP, the other ENP), sorted, and the XML.
fn conflicts(
    app: &TestApp,
    insurer: &str,
    from: &str,
    to: &str,
) -> (Vec<(String, String, String)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = produce(
        &mut app.conn(),
        ListRequest {
            kind: ListKind::Conflictlist,
            insurer,
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        },
        "test",
        t("2024-07-01 08:00:00"),
        dir.path(),
    )
    .unwrap();
    let content = std::fs::read_to_string(&f.path).unwrap();
    let report = validator()
        .check_file(
            &f.name,
            content.as_bytes(),
            omshub::validate::schema::Limits::default(),
        )
        .unwrap();
    assert!(report.accepted, "{:#?}\n{}", report.findings, content);
    assert_eq!(content.matches("<CONFLICT>").count(), f.records);
    let mut got: Vec<(String, String, String)> = content
        .split("<CONFLICT>")
        .skip(1)
        .map(|c| {
            let enps = values(c, "ENP");
            (
                values(c, "REASON")[0].clone(),
                enps[0].clone(),
                enps[1].clone(),
            )
        })
        .collect();
    got.sort();
    (got, content)
}

fn conflict(reason: &str, mine: &P, other: &P) -> (String, String, String) {
    (reason.to_owned(), mine.enp(), other.enp())
}

fn sorted(mut v: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    v.sort();
    v
}

#[actix_web::test]
async fn the_conflictlist_reports_queued_pairs_and_the_merges_of_the_period() {
    let app = app();
    let (a, b) = near_identical();
    let (kept, gone) = registered_twice();
    apply_ops(
        &app,
        "i34901_34_01241",
        "34901",
        &[op(1, 6, &kept, "2024-01-10", OGRN_34901)],
        "2024-01-10 11:00:00",
    );
    apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            op(1, 6, &a, "2024-01-10", OGRN_34902),
            op(2, 6, &b, "2024-01-10", OGRN_34902),
            op(3, 6, &gone, "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
    // 34902 adds the SNILS: two records share it.
    let with_snils = P {
        snils: kept.snils.clone(),
        ..gone.clone()
    };
    apply_ops(
        &app,
        "i34902_34_01242",
        "34902",
        &[op(1, 4, &with_snils, "2024-01-20", OGRN_34902)],
        "2024-01-20 12:00:00",
    );
    // Matching as each file is applied queued Иванова/Иванава (the first file) and merged the
    // two records sharing the SNILS (the second), in January.
    let (jan, xml) = conflicts(&app, "34902", "2024-01-01", "2024-01-31");
    insta::assert_snapshot!("conflictlist_34902_merge_2024_01", xml);
    assert_eq!(
        jan,
        sorted(vec![
            conflict("4", &a, &b),
            conflict("4", &b, &a),
            conflict("5", &gone, &kept),
        ])
    );
    // The merged record's CONFLICT shows the survivor and its insurer.
    let merged = xml
        .split("<CONFLICT>")
        .find(|c| values(c, "REASON") == ["5"])
        .unwrap();
    assert_eq!(
        values(merged, "OGRNSMO"),
        [OGRN_34902.to_owned(), OGRN_34901.to_owned()]
    );
    let (jan_34901, _) = conflicts(&app, "34901", "2024-01-01", "2024-01-31");
    assert_eq!(jan_34901, [conflict("6", &kept, &gone)]);
    // A full run finds nothing new: the pair is queued, the merged record not matched further.
    let s = run_match(&app, Thresholds::default(), "2024-02-01 10:00:00");
    assert_eq!(
        (s.new_pairs, s.possible, s.sure, s.linked),
        (0, 1, 0, 0),
        "{s:?}"
    );
    // Another period: the queue (as it is now) is still there, the merge is not; merged, the
    // shared SNILS is no conflict any more.
    for (from, to) in [("2024-03-01", "2024-03-31"), ("2024-02-01", "2024-02-29")] {
        let (other, _) = conflicts(&app, "34902", from, to);
        assert_eq!(
            other,
            sorted(vec![conflict("4", &a, &b), conflict("4", &b, &a)])
        );
    }

    // Unmerged: the link is superseded and no longer listed; the pair waits in the queue and
    // the two records share a SNILS again.
    review::unmerge(
        &mut app.conn(),
        &gone.enp(),
        "admin",
        None,
        t("2024-02-20 09:00:00"),
    )
    .unwrap();
    let (feb, _) = conflicts(&app, "34902", "2024-02-01", "2024-02-29");
    assert_eq!(
        feb,
        sorted(vec![
            conflict("2", &gone, &kept),
            conflict("4", &a, &b),
            conflict("4", &b, &a),
            conflict("4", &gone, &kept),
        ])
    );
    let (feb_34901, _) = conflicts(&app, "34901", "2024-02-01", "2024-02-29");
    assert_eq!(
        feb_34901,
        [conflict("2", &kept, &gone), conflict("4", &kept, &gone)]
    );
    // A reviewer's decision takes a pair out of the queue (and out of the list).
    let q = queue(&app).await;
    let ab = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["a"]["enp"] == a.enp().as_str())
        .unwrap();
    let (code, _) = decide(&app, &ab["id"], json!({"decision": "distinct"})).await;
    assert_eq!(code, StatusCode::OK);
    let (mar, _) = conflicts(&app, "34902", "2024-03-01", "2024-03-31");
    assert_eq!(
        mar,
        [conflict("2", &gone, &kept), conflict("4", &gone, &kept)]
    );
}
