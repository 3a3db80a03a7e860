//! Duplicate persons in the register of insured persons (issue 8, point 4) as reviewers and
//! clinics meet them: two near-identical persons wait in the review queue and a reviewer's
//! `distinct` survives a rerun (even when the pair would now score as sure); a sure match is
//! merged, the gone ENP answers for the survivor, an unmerge restores it with the history kept
//! and the engine does not merge it again; a reviewer's `duplicate` merges; the API's coded
//! errors; the commands end to end.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use omshub::db::schema::{erz_match_decision, erz_match_pair, erz_merge_link};
use omshub::domain::{Enp, Sex, Snils, TfomsCode};
use omshub::erz::apply::{Names, apply};
use omshub::erz::matching::{self, Options, Summary, Thresholds};
use omshub::erz::review;
use serde_json::{Value, json};

use crate::cli::{omshub, run};
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
    let sex = if p.sex == Sex::Male { 1 } else { 2 };
    format!(
        "  <OP>
    <N_REC>{n_rec}</N_REC>
    <TIP_OP>{tip_op}</TIP_OP>
    <CHANGE_DATE>{date}T09:00:00</CHANGE_DATE>
    <OPER>Оператор 1</OPER>
    <PERSON>
      <FAM>{}</FAM>
      <IM>{}</IM>
      <OT>{}</OT>
      <W>{sex}</W>
      <DR>{}</DR>
      <TRUE_DR>1</TRUE_DR>
      <C_OKSM>RUS</C_OKSM>
      <SS>{}</SS>
    </PERSON>
    <DOC>
      <DOCTYPE>14</DOCTYPE>
      <DOCSER>{}</DOCSER>
      <DOCNUM>{}</DOCNUM>
      <DOCDATE>2020-01-15</DOCDATE>
    </DOC>
    <ADDRES_G>
      <SUBJ>18000</SUBJ>
      <OKATO>18401000000</OKATO>
      <UNSTRUCT_ADDRESS>г. Волгоград, ул. Тестовая, д. {n_rec}</UNSTRUCT_ADDRESS>
    </ADDRES_G>
    <VIZIT>
      <DVIZIT>{date}</DVIZIT>
      <METHOD>1</METHOD>
      <PETITION>0</PETITION>
      <RSMO>1</RSMO>
      <RPOLIS>1</RPOLIS>
      <FPOLIS>Э</FPOLIS>
    </VIZIT>
    <INSURANCE>
      <TER_ST>18000</TER_ST>
      <ENP>{}</ENP>
      <OGRNSMO>{ogrn}</OGRNSMO>
      <POLIS>
        <VPOLIS>Э</VPOLIS>
        <NPOLIS></NPOLIS>
        <DBEG>{date}</DBEG>
      </POLIS>
    </INSURANCE>
  </OP>
",
        p.fam,
        p.im,
        p.ot,
        p.birth,
        p.snils,
        p.doc.0,
        p.doc.1,
        p.enp()
    )
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

/// Applies an OPLIST of `ops` from `smocod` at `now`; every OP must be accepted.
fn apply_ops(app: &TestApp, stem: &str, smocod: &str, ops: &[String], now: &str) {
    let text = oplist(stem, smocod, ops);
    let validator = omshub::validate::Validator::new(omshub::xml::schemas::ALL).unwrap();
    let sha = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
    );
    let r = apply(
        &mut app.conn(),
        &validator,
        &Names::of(&format!("{stem}.xml")).unwrap(),
        &sha,
        text.as_bytes(),
        t(now),
    )
    .unwrap();
    assert_eq!(
        r.accepted,
        i64::try_from(ops.len()).unwrap(),
        "{:?}",
        r.reply
    );
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
    apply_ops(
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
    let first = run_match(&app, Thresholds::default(), "2024-02-01 10:00:00");
    assert_eq!(first.persons, 3);
    assert_eq!(
        (first.new_pairs, first.possible, first.sure, first.linked),
        (1, 1, 0, 0),
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
    apply_ops(
        &app,
        "i34902_34_03241",
        "34902",
        &[
            op(1, 4, &a2, "2024-03-01", OGRN_34902),
            op(2, 4, &b2, "2024-03-01", OGRN_34902),
        ],
        "2024-03-01 12:00:00",
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
    apply_ops(
        &app,
        "i34901_34_01241",
        "34901",
        &[op(1, 6, &kept, "2024-01-10", OGRN_34901)],
        "2024-01-10 12:00:00",
    );
    apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[op(1, 6, &gone, "2024-01-11", OGRN_34902)],
        "2024-01-11 12:00:00",
    );
    // The second insurer adds the SNILS: now both carry it.
    apply_ops(
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
    let s = run_match(&app, Thresholds::default(), "2024-02-10 10:00:00");
    assert_eq!((s.sure, s.linked, s.possible), (1, 1, 0), "{s:?}");
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
    // The SNILS of two merged persons names one person now; before the merge it named two.
    let by_snils = format!("snils={}&date=2024-06-01", shared.replace(' ', "%20"));
    let (code, s1) = status(&app, &by_snils).await;
    assert_eq!((code, &s1["enp"]), (StatusCode::OK, &json!(kept.enp())));
    let (code, _) = status(&app, &format!("{by_snils}&as_of=2024-02-05T00:00:00Z")).await;
    assert_eq!(code, StatusCode::CONFLICT);

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
    assert_eq!(history[0].recorded_at, t("2024-02-10 10:00:00"));
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
    let cmd = |args: &[&str]| {
        let mut c = omshub(dir.path());
        c.args(args)
            .env("OMSHUB__DATABASE__URL", &db.url)
            .env("OMSHUB__LOG__LEVEL", "warn");
        run(&mut c)
    };
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let f002 = format!("{}/fixtures/registers/F002.xml", env!("CARGO_MANIFEST_DIR"));
    let (out, _, stderr) = cmd(&["registers", "import", &f002]);
    assert!(out.status.success(), "{stderr}");
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

    let (out, stdout, stderr) = cmd(&["erz", "match"]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("persons: 2, blocks: 2, comparisons: 2\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 new, 1 possible (review queue), 0 sure, 0 linked"),
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

#[actix_web::test]
async fn the_scheduled_job_finds_the_pairs_without_a_command() {
    let app = app();
    let (a, b) = near_identical();
    apply_ops(
        &app,
        "i34902_34_01241",
        "34902",
        &[
            op(1, 6, &a, "2024-01-10", OGRN_34902),
            op(2, 6, &b, "2024-01-10", OGRN_34902),
        ],
        "2024-01-10 12:00:00",
    );
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
