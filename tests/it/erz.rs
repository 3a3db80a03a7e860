//! The register of insured persons (issue 8) as insurers and clinics meet it: an OPLIST
//! applied with a REPLIST and an FLK_P back, a repeat that changes nothing, a change of insurer
//! seen by the policy status for May and June and "as known" before it, the status's errors and
//! its audit, and `omshub erz apply` end to end.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use omshub::db::schema::{erz_file, erz_op, erz_person, erz_status_query};
use omshub::domain::{Enp, Sex, Snils, TfomsCode};
use omshub::erz::apply::{Names, apply};
use omshub::erz::{FileResult, apply_path};
use omshub::participants::{self, Kind, NewParticipant};
use omshub::validate::Validator;
use omshub::validate::records::{self, ErzItem, ErzRecord, Item};
use omshub::validate::schema::Limits;
use serde_json::Value;

use crate::cli::{omshub, run};
use crate::participants::import_registers;
use crate::support::{ADMIN_TOKEN, TestApp, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

/// A synthetic person of an OP.
pub(crate) struct P {
    fam: &'static str,
    im: &'static str,
    sex: Sex,
    birth: &'static str,
    snils: String,
}

fn snils(n: u32) -> String {
    Snils::parse(&Snils::from_payload(n).unwrap().to_string())
        .unwrap()
        .to_string()
}

/// A SNILS whose check number is wrong.
fn bad_snils(n: u32) -> String {
    let good = snils(n);
    let (body, check) = good.split_at(12);
    let wrong = (check.parse::<u32>().unwrap() + 1) % 100;
    format!("{body}{wrong:02}")
}

pub(crate) fn enp(p: &P, serial: u32) -> String {
    Enp::generate(&TfomsCode::parse("34").unwrap(), d(p.birth), p.sex, serial)
        .unwrap()
        .to_string()
}

/// The fields of one OPLIST `<OP>` (formats.md 4.1); [`OpXml::xml`] is the one writer of OPs
/// for the ERZ tests (`erz`, `erz_matching`, `erz_lists`, the intake tests).
pub(crate) struct OpXml<'a> {
    pub(crate) n_rec: usize,
    pub(crate) tip_op: u8,
    /// The day of `CHANGE_DATE`.
    pub(crate) change: &'a str,
    pub(crate) oper: &'a str,
    pub(crate) fam: &'a str,
    pub(crate) im: &'a str,
    pub(crate) ot: Option<&'a str>,
    pub(crate) sex: Sex,
    pub(crate) birth: &'a str,
    pub(crate) snils: &'a str,
    pub(crate) ddeath: Option<&'a str>,
    pub(crate) docser: &'a str,
    pub(crate) docnum: &'a str,
    pub(crate) docdate: &'a str,
    /// Empty for a first registration.
    pub(crate) enp: &'a str,
    pub(crate) ogrn: &'a str,
    pub(crate) vpolis: &'a str,
    /// DBEG, also the day of the visit (DVIZIT).
    pub(crate) dbeg: &'a str,
    pub(crate) dstop: Option<&'a str>,
    /// With the attachment to clinic 340901.
    pub(crate) attachment: bool,
}

impl OpXml<'_> {
    pub(crate) fn xml(&self) -> String {
        let sex = if self.sex == Sex::Male { 1 } else { 2 };
        let ot = self
            .ot
            .map(|x| format!("\n      <OT>{x}</OT>"))
            .unwrap_or_default();
        let ddeath = self
            .ddeath
            .map(|x| format!("\n      <DDEATH>{x}</DDEATH>"))
            .unwrap_or_default();
        let dstop = self
            .dstop
            .map(|x| format!("\n        <DSTOP>{x}</DSTOP>"))
            .unwrap_or_default();
        let attachment = if self.attachment {
            "    <ATTACHMENT>\n      <ID_LPU>340901</ID_LPU>\n      <ID_ZTYPE>1</ID_ZTYPE>\n    </ATTACHMENT>\n"
        } else {
            ""
        };
        let OpXml {
            n_rec,
            tip_op,
            change,
            oper,
            fam,
            im,
            birth,
            snils,
            docser,
            docnum,
            docdate,
            enp,
            ogrn,
            vpolis,
            dbeg,
            ..
        } = self;
        format!(
            "  <OP>
    <N_REC>{n_rec}</N_REC>
    <TIP_OP>{tip_op}</TIP_OP>
    <CHANGE_DATE>{change}T09:00:00</CHANGE_DATE>
    <OPER>{oper}</OPER>
    <PERSON>
      <FAM>{fam}</FAM>
      <IM>{im}</IM>{ot}
      <W>{sex}</W>
      <DR>{birth}</DR>
      <TRUE_DR>1</TRUE_DR>
      <C_OKSM>RUS</C_OKSM>
      <SS>{snils}</SS>{ddeath}
    </PERSON>
    <DOC>
      <DOCTYPE>14</DOCTYPE>
      <DOCSER>{docser}</DOCSER>
      <DOCNUM>{docnum}</DOCNUM>
      <DOCDATE>{docdate}</DOCDATE>
    </DOC>
    <ADDRES_G>
      <SUBJ>18000</SUBJ>
      <OKATO>18401000000</OKATO>
      <UNSTRUCT_ADDRESS>г. Волгоград, ул. Тестовая, д. {n_rec}</UNSTRUCT_ADDRESS>
    </ADDRES_G>
    <VIZIT>
      <DVIZIT>{dbeg}</DVIZIT>
      <METHOD>1</METHOD>
      <PETITION>0</PETITION>
      <RSMO>1</RSMO>
      <RPOLIS>1</RPOLIS>
      <FPOLIS>Э</FPOLIS>
    </VIZIT>
    <INSURANCE>
      <TER_ST>18000</TER_ST>
      <ENP>{enp}</ENP>
      <OGRNSMO>{ogrn}</OGRNSMO>
      <POLIS>
        <VPOLIS>{vpolis}</VPOLIS>
        <NPOLIS></NPOLIS>
        <DBEG>{dbeg}</DBEG>{dstop}
      </POLIS>
    </INSURANCE>
{attachment}  </OP>
"
        )
    }
}

/// One OP: `tip_op` for `p`, with `enp` (empty for a first registration), policy from `dbeg`.
pub(crate) fn op(
    n_rec: u32,
    tip_op: u8,
    p: &P,
    enp: &str,
    vpolis: &str,
    dbeg: &str,
    ogrn: &str,
) -> String {
    OpXml {
        n_rec: n_rec as usize,
        tip_op,
        change: dbeg,
        oper: "Оператор 1",
        fam: p.fam,
        im: p.im,
        ot: None,
        sex: p.sex,
        birth: p.birth,
        snils: &p.snils,
        ddeath: None,
        docser: &format!("18 0{n_rec}"),
        docnum: &format!("10000{n_rec}"),
        docdate: &format!("2020-01-1{n_rec}"),
        enp,
        ogrn,
        vpolis,
        dbeg,
        dstop: None,
        attachment: true,
    }
    .xml()
}

pub(crate) fn oplist(stem: &str, smocod: &str, ops: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OPLIST>\n  <VERS>2.0</VERS>\n  \
         <FILENAME>{stem}</FILENAME>\n  <SMOCOD>{smocod}</SMOCOD>\n  <PRZCOD>{smocod}01</PRZCOD>\n  \
         <NRECORDS>{}</NRECORDS>\n{}</OPLIST>\n",
        ops.len(),
        ops.concat()
    )
}

pub(crate) const OGRN_34901: &str = "1123400901018";
pub(crate) const OGRN_34902: &str = "1123400902020";

pub(crate) fn apply_text(app: &TestApp, file: &str, text: &str, now: NaiveDateTime) -> FileResult {
    let names = Names::of(file).unwrap();
    let sha = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
    );
    apply(
        &mut app.conn(),
        &validator(),
        &names,
        &sha,
        text.as_bytes(),
        now,
    )
    .unwrap()
}

macro_rules! count {
    ($app:expr, $table:path) => {
        $table.count().get_result::<i64>(&mut $app.conn()).unwrap()
    };
}

/// The REPs of a REPLIST, through the validator (which also proves it valid).
fn reps(name: &str, text: &str) -> Vec<omshub::validate::records::Reply> {
    let mut out = Vec::new();
    let (report, _) = records::read(
        &validator(),
        name,
        text.as_bytes(),
        Limits::default(),
        |i| {
            if let Item::Erz(ErzItem::Record(ErzRecord::Rep(r))) = i {
                out.push(*r);
            }
        },
    )
    .unwrap();
    assert!(report.accepted, "{name}: {:#?}\n{text}", report.findings);
    out
}

pub(crate) fn people() -> Vec<P> {
    vec![
        P {
            fam: "Синицына",
            im: "Вера",
            sex: Sex::Female,
            birth: "1985-03-12",
            snils: snils(123_456_701),
        },
        P {
            fam: "Дроздов",
            im: "Пётр",
            sex: Sex::Male,
            birth: "1950-11-02",
            snils: snils(123_456_702),
        },
        P {
            fam: "Чижова",
            im: "Ольга",
            sex: Sex::Female,
            birth: "2003-07-30",
            snils: bad_snils(123_456_703),
        },
        P {
            fam: "Грачёв",
            im: "Илья",
            sex: Sex::Male,
            birth: "1999-01-01",
            snils: snils(123_456_704),
        },
        P {
            fam: "Соколова",
            im: "Анна",
            sex: Sex::Female,
            birth: "2012-12-24",
            snils: String::new(),
        },
    ]
}

fn app_with_registers() -> TestApp {
    let app = TestApp::spawn();
    import_registers(&mut app.conn());
    app.state.lookups.refresh(&app.state.db, true).unwrap();
    app
}

#[actix_web::test]
async fn an_oplist_of_five_with_a_bad_snils_applies_four_and_a_repeat_changes_nothing() {
    let app = app_with_registers();
    let people = people();
    let given = enp(&people[1], 77);
    let ops: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = u32::try_from(i + 1).unwrap();
            // The second comes with the ENP of a final policy; the others are first
            // registrations with a temporary certificate, their ENP issued by the hub.
            if i == 1 {
                op(n, 6, p, &given, "Э", "2024-01-10", OGRN_34902)
            } else {
                op(n, 1, p, "", "В", "2024-01-10", OGRN_34902)
            }
        })
        .collect();
    let text = oplist("i34902_34_01241", "34902", &ops);
    let first = apply_text(&app, "i34902_34_01241.xml", &text, t("2024-01-10 12:00:00"));
    assert_eq!(first.status, "applied");
    assert_eq!((first.records, first.accepted, first.refused), (5, 4, 1));
    assert_eq!(first.reply_name.as_deref(), Some("p34902_34_01241.xml"));
    assert_eq!(first.protocol_name, "f34902_34_01241.xml");

    let reply = first.reply.clone().unwrap();
    let reps = reps("p34902_34_01241.xml", &reply);
    let codes: Vec<&str> = reps.iter().map(|r| r.code_erp.as_str()).collect();
    assert_eq!(codes, ["AA", "AA", "AE", "AA", "AA"]);
    let refused = &reps[2];
    assert_eq!(refused.n_rec, "3");
    let comment = refused.comment.as_deref().unwrap();
    assert!(
        comment.starts_with("snils_invalid: SNILS: check digit"),
        "{comment}"
    );
    assert!(refused.insurance.is_none());
    // Each AA carries an ENP that passes its check digit and fits the person.
    for (r, p) in reps.iter().zip(&people).filter(|(r, _)| r.code_erp == "AA") {
        let i = r.insurance.as_ref().unwrap();
        let enp = Enp::parse(i.enp.as_ref().unwrap()).unwrap();
        enp.check_birth_and_sex(d(p.birth), p.sex).unwrap();
        assert_eq!(enp.territory_code().as_str(), "34");
        assert_eq!(i.ogrnsmo.as_deref(), Some(OGRN_34902));
    }
    assert_eq!(
        reps[1]
            .insurance
            .as_ref()
            .unwrap()
            .enp
            .as_ref()
            .map(omshub::validate::records::Personal::as_str),
        Some(given.as_str())
    );
    let issued: std::collections::HashSet<String> = reps
        .iter()
        .filter_map(|r| Some(r.insurance.as_ref()?.enp.as_ref()?.as_str().to_owned()))
        .collect();
    assert_eq!(issued.len(), 4, "four distinct ENPs");

    // The protocol names the refused record and the element.
    let report = validator()
        .check_file(
            "f34902_34_01241.xml",
            first.protocol.as_bytes(),
            Limits::default(),
        )
        .unwrap();
    assert!(report.accepted, "{:#?}", report.findings);
    assert!(
        first.protocol.contains("<OSHIB>102</OSHIB>"),
        "{}",
        first.protocol
    );
    assert!(first.protocol.contains("<IM_POL>SS</IM_POL>"));
    assert!(first.protocol.contains("<N_REC>3</N_REC>"));
    assert_eq!(first.protocol.matches("<PR>").count(), 1);

    assert_eq!(count!(app, erz_person::table), 4);
    assert_eq!(count!(app, erz_op::table), 5);

    // The same file again: the same answers, nothing changed.
    let again = apply_text(&app, "i34902_34_01241.xml", &text, t("2024-01-11 12:00:00"));
    assert!(again.repeated);
    assert_eq!(again.reply, first.reply);
    assert_eq!(again.protocol, first.protocol);
    assert_eq!(count!(app, erz_person::table), 4);
    assert_eq!(count!(app, erz_op::table), 5);
    assert_eq!(count!(app, erz_file::table), 1);

    // The same name with another content is refused, and changes nothing either.
    let other = text.replace("Оператор 1", "Оператор 2");
    let names = Names::of("i34902_34_01241.xml").unwrap();
    let err = apply(
        &mut app.conn(),
        &validator(),
        &names,
        "00",
        other.as_bytes(),
        t("2024-01-12 12:00:00"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "file_name_reused");
    assert_eq!(count!(app, erz_person::table), 4);

    // Registering the person with the given ENP once more is refused with a coded reason.
    let dup = oplist(
        "i34902_34_01242",
        "34902",
        &[op(1, 1, &people[1], &given, "В", "2024-02-01", OGRN_34902)],
    );
    let r = apply_text(&app, "i34902_34_01242.xml", &dup, t("2024-02-01 12:00:00"));
    let reps = reps_of(&r);
    assert_eq!(reps[0].code_erp, "AE");
    assert!(
        reps[0]
            .comment
            .as_deref()
            .unwrap()
            .starts_with("already_registered")
    );
}

fn reps_of(r: &FileResult) -> Vec<omshub::validate::records::Reply> {
    reps(
        r.reply_name.as_deref().unwrap(),
        r.reply.as_deref().unwrap(),
    )
}

#[actix_web::test]
async fn refusals_are_coded_per_record_and_a_broken_header_refuses_the_file() {
    let app = app_with_registers();
    let people = people();
    let good = enp(&people[0], 5);
    let mut bad_enp = good.clone();
    let last = bad_enp.pop().unwrap();
    bad_enp.push(char::from_digit((last.to_digit(10).unwrap() + 1) % 10, 10).unwrap());
    let ops = vec![
        // Check digit of the ENP wrong.
        op(1, 6, &people[0], &bad_enp, "Э", "2024-01-10", OGRN_34902),
        // OGRNSMO of another insurer.
        op(2, 1, &people[1], "", "В", "2024-01-10", OGRN_34901),
        // A change of insurer for nobody registered.
        op(
            3,
            7,
            &people[3],
            &enp(&people[3], 9),
            "Э",
            "2024-01-10",
            OGRN_34902,
        ),
        // After 34902 left the register (30.06.2025).
        op(4, 1, &people[4], "", "В", "2025-07-01", OGRN_34902),
    ];
    let text = oplist("i34902_34_03241", "34902", &ops);
    let r = apply_text(&app, "i34902_34_03241.xml", &text, t("2024-03-01 12:00:00"));
    let reasons: Vec<String> = reps_of(&r)
        .iter()
        .map(|x| {
            x.comment
                .clone()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "enp_invalid",
            "insurer_ogrn_mismatch",
            "unknown_person",
            "insurer_inactive"
        ]
    );
    assert_eq!(count!(app, erz_person::table), 0);

    // An unknown sender: every record unknown_insurer.
    let text = oplist(
        "i34999_34_03241",
        "34999",
        &[op(1, 1, &people[0], "", "В", "2024-01-10", "")],
    );
    let r = apply_text(&app, "i34999_34_03241.xml", &text, t("2024-03-01 12:00:00"));
    assert!(
        reps_of(&r)[0]
            .comment
            .as_deref()
            .unwrap()
            .starts_with("unknown_insurer")
    );

    // NRECORDS that does not count the OPs refuses the whole file: no REPLIST, nothing kept.
    let text = oplist(
        "i34902_34_03242",
        "34902",
        &[op(1, 1, &people[0], "", "В", "2024-01-10", OGRN_34902)],
    )
    .replace("<NRECORDS>1</NRECORDS>", "<NRECORDS>2</NRECORDS>");
    let r = apply_text(&app, "i34902_34_03242.xml", &text, t("2024-03-01 12:00:00"));
    assert_eq!(r.status, "rejected");
    assert!(r.reply.is_none());
    assert!(r.protocol.contains("<OSHIB>43</OSHIB>"), "{}", r.protocol);
    assert_eq!(count!(app, erz_person::table), 0);
    assert_eq!(count!(app, erz_op::table), 5);

    // A record with a schema finding is answered AR and named in the protocol.
    let ops = vec![
        op(1, 1, &people[0], "", "В", "2024-01-10", OGRN_34902),
        op(2, 1, &people[1], "", "В", "2024-01-10", OGRN_34902).replace("<W>1</W>", "<W>7</W>"),
    ];
    let text = oplist("i34902_34_03243", "34902", &ops);
    let r = apply_text(&app, "i34902_34_03243.xml", &text, t("2024-03-01 12:00:00"));
    let codes: Vec<String> = reps_of(&r).iter().map(|x| x.code_erp.clone()).collect();
    assert_eq!(codes, ["AA", "AR"]);
    assert!(r.protocol.contains("<IM_POL>W</IM_POL>"), "{}", r.protocol);
    assert!(r.protocol.contains("<N_REC>2</N_REC>"));
    assert_eq!(count!(app, erz_person::table), 1);
}

async fn status_with(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let res = app
        .call(
            TestRequest::get()
                .uri(&format!("/api/v1/policy-status?{query}"))
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await;
    (res.status, serde_json::from_slice(&res.body).unwrap())
}

#[actix_web::test]
async fn a_change_of_insurer_on_june_first_answers_the_old_insurer_for_may_and_the_new_for_june() {
    let app = app_with_registers();
    let people = people();
    let p = &people[0];
    let number = enp(p, 41);
    let text = oplist(
        "i34902_34_01241",
        "34902",
        &[op(1, 6, p, &number, "Э", "2024-01-10", OGRN_34902)],
    );
    let r = apply_text(&app, "i34902_34_01241.xml", &text, t("2024-01-10 12:00:00"));
    assert_eq!(r.accepted, 1, "{:?}", r.reply);
    let text = oplist(
        "i34901_34_05241",
        "34901",
        &[op(1, 7, p, &number, "Э", "2024-06-01", OGRN_34901)],
    );
    let r = apply_text(&app, "i34901_34_05241.xml", &text, t("2024-05-20 12:00:00"));
    assert_eq!(r.accepted, 1, "{:?}", r.reply);

    // A clinic asks, with its own token.
    let clinic = participants::add(
        &mut app.conn(),
        &NewParticipant {
            kind: Kind::Clinic,
            org_code: Some("340901".into()),
            name: "clinic 340901".into(),
            contact_email: Some("it@example.ru".into()),
            roles: None,
        },
        participants::now(),
    )
    .unwrap();
    let token =
        participants::issue_token(&mut app.conn(), clinic.id, None, 30, participants::now())
            .unwrap()
            .token;

    let (status, may) = status_with(&app, &token, &format!("enp={number}&date=2024-05-31")).await;
    assert_eq!(status, StatusCode::OK, "{may}");
    assert_eq!(may["insured"], true);
    assert_eq!(may["insurer"]["code"], "34902");
    assert_eq!(may["insurer"]["name"], "ООО «ТСМК-2»");
    assert_eq!(may["policy"]["stop"], "2024-05-31");
    assert_eq!(may["territory"], "18000");
    assert_eq!(may["attachments"][0]["lpu_id"], 340_901);
    let (_, june) = status_with(&app, &token, &format!("enp={number}&date=2024-06-01")).await;
    assert_eq!(june["insured"], true);
    assert_eq!(june["insurer"]["code"], "34901");
    assert_eq!(june["policy"]["kind"], "Э");
    assert_eq!(june["policy"]["start"], "2024-06-01");
    // As the register knew it before the change arrived, June was still the old insurer's.
    let (_, then) = status_with(
        &app,
        &token,
        &format!("enp={number}&date=2024-06-15&as_of=2024-05-01T00:00:00Z"),
    )
    .await;
    assert_eq!(then["insurer"]["code"], "34902");
    // Before the person was registered at all, nobody was known.
    let (status, before) = status_with(
        &app,
        &token,
        &format!("enp={number}&date=2024-06-15&as_of=2023-12-31T00:00:00Z"),
    )
    .await;
    assert_eq!(
        (status, before["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("person_not_found"))
    );
    // Before the policy started: registered, not insured.
    let (_, early) = status_with(&app, &token, &format!("enp={number}&date=2023-12-01")).await;
    assert_eq!(
        (early["insured"].as_bool(), early["reason"].as_str()),
        (Some(false), Some("no_insurance"))
    );
    // By SNILS.
    let (_, by_snils) = status_with(
        &app,
        &token,
        &format!("snils={}&date=2024-06-01", p.snils.replace(' ', "%20")),
    )
    .await;
    assert_eq!(by_snils["enp"], number.as_str());

    // Every call is audited: who asked about whom.
    let audit: Vec<(String, Option<i64>, String, String)> = erz_status_query::table
        .select((
            erz_status_query::caller,
            erz_status_query::participant_id,
            erz_status_query::subject,
            erz_status_query::outcome,
        ))
        .order(erz_status_query::id.asc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(audit.len(), 6);
    assert!(
        audit
            .iter()
            .all(|a| a.0 == format!("participant:{}", clinic.id) && a.1 == Some(clinic.id))
    );
    assert_eq!(audit[0].2, number);
    let outcomes: Vec<&str> = audit.iter().map(|a| a.3.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "insured",
            "insured",
            "insured",
            "not_found",
            "not_insured",
            "insured"
        ]
    );
}

#[actix_web::test]
async fn policy_status_errors_are_coded() {
    let app = app_with_registers();
    let unknown = enp(&people()[0], 99);
    let (status, body) =
        status_with(&app, ADMIN_TOKEN, &format!("enp={unknown}&date=2024-06-01")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("person_not_found"))
    );
    let mut broken = unknown.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == '0' { '1' } else { '0' });
    let (status, body) =
        status_with(&app, ADMIN_TOKEN, &format!("enp={broken}&date=2024-06-01")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "enp_check_digit_mismatch");
    assert!(body["message"].as_str().unwrap().contains("Luhn"), "{body}");
    let (status, body) = status_with(&app, ADMIN_TOKEN, "enp=123&date=2024-06-01").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("enp_invalid_length"))
    );
    let (status, body) =
        status_with(&app, ADMIN_TOKEN, &format!("enp={unknown}&date=2024-13-01")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_date"))
    );
    // Not a participant: the bootstrap reader token.
    let (status, _) = status_with(
        &app,
        crate::support::READER_TOKEN,
        &format!("enp={unknown}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = app
        .get(&format!("/api/v1/policy-status?enp={unknown}"))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_cli_applies_a_file_writes_the_answers_and_a_repeat_changes_nothing() {
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
    let people = people();
    let ops: Vec<String> = people[..2]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            op(
                u32::try_from(i + 1).unwrap(),
                1,
                p,
                "",
                "В",
                "2024-01-10",
                OGRN_34902,
            )
        })
        .collect();
    let file = dir.path().join("i34902_34_01241.xml");
    std::fs::write(&file, oplist("i34902_34_01241", "34902", &ops)).unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "apply", file.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "applied: 2 records, 2 accepted (AA), 0 refused (AE/AR); reply p34902_34_01241.xml, protocol f34902_34_01241.xml\n\
         matching of the 2 persons touched: 0 pairs compared, 0 new, 0 possible (review queue), 0 sure, 0 linked"
    );
    let reply = std::fs::read_to_string(dir.path().join("p34902_34_01241.xml")).unwrap();
    assert_eq!(reps("p34902_34_01241.xml", &reply).len(), 2);
    assert!(dir.path().join("f34902_34_01241.xml").exists());
    let (out, stdout, _) = cmd(&["erz", "apply", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        stdout.starts_with("repeat of a file already applied: nothing changed"),
        "{stdout}"
    );
    let renamed = dir.path().join("x34902.xml");
    std::fs::copy(&file, &renamed).unwrap();
    let (out, _, stderr) = cmd(&["erz", "apply", renamed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("[bad_file_name]"), "{stderr}");
    let _ = apply_path;
}

#[test]
fn concurrent_enp_issuance_never_gives_a_serial_twice() {
    let app = TestApp::spawn();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = app.state.db.clone();
            std::thread::spawn(move || {
                let mut serials = Vec::new();
                let mut conn = db.conn().unwrap();
                while serials.len() < 25 {
                    // SQLite may answer "busy" to a writer that lost the race: the
                    // transaction rolls back and is tried again, as a client would.
                    let taken = conn
                        .transaction(|c| omshub::erz::repo::next_enp_serial(c, "34", "54910832"));
                    if let Ok(serial) = taken {
                        serials.push(serial.unwrap());
                    }
                }
                serials
            })
        })
        .collect();
    let mut all: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u32>>());
}
