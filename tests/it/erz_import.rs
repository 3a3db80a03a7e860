//! The bulk load of the register (`omshub erz import`, issue 8 point 6) as an operator meets it:
//! a generated CSV imported and answered by the policy status, a RECLIST imported, refused
//! lines reported with their line and code, a load killed after its first committed batch and
//! resumed to exactly N persons (one of them registered by another route in between), the same
//! file again importing nothing; and the batched writer
//! of the policy-status audit losing no row.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use omshub::db::schema::{erz_import, erz_insurance, erz_person, erz_person_version};
use omshub::domain::TfomsCode;
use omshub::erz::import::{
    CSV_HEADER, DEFAULT_WRITERS, Format, ImportError, ImportOptions, ImportOutcome, import_path,
};
use omshub::validate::Validator;
use serde_json::Value;

use crate::cli::omshub;
use crate::support::{ADMIN_TOKEN, TestApp, TestDb};

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

fn persons_csv(path: &Path, count: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    omshub::r#gen::write_persons_csv(&mut file, count, seed, &TfomsCode::parse("75").unwrap())
        .unwrap();
    std::io::Write::flush(&mut file).unwrap();
}

fn options(format: Format, batch_size: usize) -> ImportOptions {
    ImportOptions {
        format,
        batch_size,
        progress: false,
        writers: DEFAULT_WRITERS,
    }
}

/// Imports `file` in `format` into the app's register, `batch` lines per batch, at `now`.
fn import(
    app: &TestApp,
    file: &Path,
    format: Format,
    batch: usize,
    now: chrono::NaiveDateTime,
) -> Result<ImportOutcome, ImportError> {
    import_path(
        &app.state.db,
        &validator(),
        file,
        options(format, batch),
        now,
    )
}

async fn status(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let res = app
        .call(
            TestRequest::get()
                .uri(&format!("/api/v1/policy-status?{query}"))
                .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}"))),
        )
        .await;
    (res.status, serde_json::from_slice(&res.body).unwrap())
}

macro_rules! count {
    ($app:expr, $table:path) => {
        $table.count().get_result::<i64>(&mut $app.conn()).unwrap()
    };
}

#[actix_web::test]
async fn a_generated_csv_is_imported_and_the_policy_status_answers_for_its_persons() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("persons.csv");
    persons_csv(&file, 57, 11);
    let now = omshub::participants::now();
    let outcome = import(&app, &file, Format::Csv, 10, now).unwrap();
    assert_eq!(
        (
            outcome.summary.inserted,
            outcome.summary.unchanged,
            outcome.summary.rejected.len()
        ),
        (57, 0, 0),
        "{}",
        outcome.summary
    );
    assert_eq!(outcome.batches, 6);
    assert_eq!(count!(app, erz_person::table), 57);
    assert_eq!(count!(app, erz_person_version::table), 57);
    assert_eq!(count!(app, erz_insurance::table), 57);

    let text = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(';').collect())
        .collect();
    // A person insured to this day (no DSTOP) and one whose insurance stopped, if any.
    let insured = rows.iter().find(|r| r[20].is_empty()).unwrap();
    let (code, body) = status(&app, &format!("enp={}&date=2027-06-01", insured[0])).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["insured"], true, "{body}");
    assert_eq!(body["insurer"]["code"], insured[13]);
    assert_eq!(body["policy"]["kind"], insured[14]);
    assert_eq!(body["policy"]["start"], insured[18]);
    assert_eq!(body["territory"], "76000");
    assert_eq!(
        body["attachments"][0]["lpu_id"],
        insured[24].parse::<i64>().unwrap()
    );
    // Before the policy began the person is known but not insured.
    let day_before = chrono::NaiveDate::parse_from_str(insured[18], "%Y-%m-%d")
        .unwrap()
        .pred_opt()
        .unwrap();
    let (code, body) = status(&app, &format!("enp={}&date={day_before}", insured[0])).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (body["insured"].clone(), body["reason"].clone()),
        (Value::Bool(false), Value::from("no_insurance"))
    );
    // By SNILS too.
    let (code, body) = status(&app, &format!("snils={}&date=2027-06-01", insured[1])).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["enp"], insured[0]);
    if let Some(stopped) = rows.iter().find(|r| !r[20].is_empty()) {
        let (_, body) = status(&app, &format!("enp={}&date=2099-01-01", stopped[0])).await;
        assert_eq!(body["insured"], false, "{body}");
    }

    // ENP issuance continues after the loaded serials of a facet.
    let loaded: u32 = insured[0][10..15].parse().unwrap();
    let next = omshub::erz::repo::next_enp_serial(&mut app.conn(), "75", &insured[0][2..10])
        .unwrap()
        .unwrap();
    assert!(next > loaded, "{next} after {loaded}");

    // The same file again imports nothing; the same persons in another file are not doubled.
    let again = import(&app, &file, Format::Csv, 10, now).unwrap();
    assert!(again.already_done);
    assert_eq!(again.summary.inserted, 0);
    let copy = dir.path().join("copy.csv");
    std::fs::write(&copy, format!("{text}\n")).unwrap();
    let other = import(&app, &copy, Format::Csv, 1000, now).unwrap();
    assert_eq!((other.summary.inserted, other.summary.unchanged), (0, 57));
    assert_eq!(count!(app, erz_person::table), 57);
    assert_eq!(count!(app, erz_person_version::table), 57);
}

#[actix_web::test]
async fn a_reclist_is_imported_through_the_schema_check() {
    let app = TestApp::spawn();
    let fixture = std::fs::read_to_string(format!(
        "{}/fixtures/xml/erz/1.0/r75001_75_01261.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let start = fixture.find("  <REC>").unwrap();
    let end = fixture.find("</RECLIST>").unwrap();
    let rec = &fixture[start..end];
    // A second REC whose ENP has a wrong check digit, a third one the schema refuses (W 3).
    let bad_enp = rec.replace("<ENP>7578350840000778</ENP>", "<ENP>7578350840000779</ENP>");
    let bad_schema = rec
        .replace("<W>1</W>", "<W>3</W>")
        .replace("7578350840000778", "7578350840000786");
    let text = format!(
        "{}{bad_enp}{bad_schema}</RECLIST>\n",
        &fixture[..end].replace("<NRECORDS>1</NRECORDS>", "<NRECORDS>3</NRECORDS>")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r75001_75_01261.xml");
    std::fs::write(&file, &text).unwrap();
    let outcome = import(
        &app,
        &file,
        Format::Reclist,
        100,
        omshub::participants::now(),
    )
    .unwrap();
    assert_eq!(outcome.summary.inserted, 1, "{}", outcome.summary);
    let rejected: Vec<(usize, &str)> = outcome
        .summary
        .rejected
        .iter()
        .map(|r| (r.line, r.code))
        .collect();
    let rec_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "<REC>")
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        rejected,
        [
            (rec_lines[1], "enp_check_digit_mismatch"),
            (rec_lines[2], "record_schema_invalid")
        ]
    );
    let (code, body) = status(&app, "enp=7578350840000778&date=2026-02-01").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["insured"], true);
    assert_eq!(body["insurer"]["code"], "75001");
    assert_eq!(body["policy"]["kind"], "П");
    assert_eq!(body["territory"], "76000");
    // An OPLIST is not a RECLIST.
    let oplist = dir.path().join("i75001_75_01261.xml");
    std::fs::write(
        &oplist,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OPLIST><FILENAME>i75001_75_01261</FILENAME></OPLIST>",
    )
    .unwrap();
    let err = import(
        &app,
        &oplist,
        Format::Reclist,
        100,
        omshub::participants::now(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "reclist_refused");
}

#[test]
fn refused_lines_are_reported_with_their_line_number_and_code() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against(&db, dir.path());
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let good = dir.path().join("good.csv");
    persons_csv(&good, 3, 2);
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut bad_check = lines[2].to_owned();
    // The ENP's last digit changed: its check digit no longer agrees.
    let last = bad_check.as_bytes()[15];
    bad_check.replace_range(15..16, if last == b'0' { "1" } else { "0" });
    let mut fields: Vec<&str> = lines[3].split(';').collect();
    fields[6] = "1990-02-30";
    let bad_date = fields.join(";");
    let file = dir.path().join("mixed.csv");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{bad_check}\n{bad_date}\nonly;three;fields\n",
            lines[0], lines[1]
        ),
    )
    .unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 inserted, 0 updated, 0 unchanged, 3 rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 3: [enp_check_digit_mismatch]"),
        "{stdout}"
    );
    assert!(stdout.contains("line 4: [date_invalid] dr:"), "{stdout}");
    assert!(stdout.contains("line 5: [field_count]"), "{stdout}");
    // No personal data in the report: the refused ENP is not printed.
    assert!(!stdout.contains(&bad_check[..16]), "{stdout}");

    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, format!("{}\n", lines[1])).unwrap();
    let (out, stdout, _) = cmd(&["erz", "import", headless.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("refused [csv_header_mismatch]"), "{stdout}");
    assert!(CSV_HEADER.starts_with("enp;snils;fam;"));
}

/// The journal of the first import: status, rows committed, last line.
fn journal(conn: &mut omshub::db::DbConn) -> Option<(String, i64, i64)> {
    erz_import::table
        .order(erz_import::id)
        .select((
            erz_import::status,
            erz_import::rows_committed,
            erz_import::last_line,
        ))
        .first::<(String, i64, i64)>(conn)
        .optional()
        .unwrap()
}

/// Persons, distinct ENPs, person versions, insurance episodes.
fn counts(conn: &mut omshub::db::DbConn) -> (i64, i64, i64, i64) {
    let enps = erz_person::table
        .select(erz_person::enp)
        .distinct()
        .load::<String>(conn)
        .unwrap();
    (
        erz_person::table.count().get_result::<i64>(conn).unwrap(),
        i64::try_from(enps.len()).unwrap(),
        erz_person_version::table
            .count()
            .get_result::<i64>(conn)
            .unwrap(),
        erz_insurance::table
            .count()
            .get_result::<i64>(conn)
            .unwrap(),
    )
}

/// Loads the last line of the CSV `file` alone (a one-line `erz import`).
fn register_last_line_alone(
    cmd: &impl Fn(&[&str]) -> (std::process::Output, String, String),
    file: &Path,
) {
    let text = std::fs::read_to_string(file).unwrap();
    let one = file.with_file_name("one.csv");
    std::fs::write(
        &one,
        format!("{CSV_HEADER}\n{}\n", text.lines().last().unwrap()),
    )
    .unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "import", one.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 inserted, 0 updated, 0 unchanged, 0 rejected"),
        "{stdout}"
    );
}

#[test]
fn a_killed_import_resumes_after_its_last_batch_to_exactly_n_persons() {
    const N: u64 = 30_000;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against(&db, dir.path());
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let file = dir.path().join("register.csv");
    let (out, _, stderr) = cmd(&[
        "gen",
        "persons",
        "--count",
        &N.to_string(),
        "--seed",
        "9",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{stderr}");

    let settings = db.settings();
    let database = omshub::db::Database::open(&settings.database).unwrap();
    // Start the load in small batches and kill it (SIGKILL) once a batch is committed.
    let mut child = omshub(dir.path())
        .args([
            "erz",
            "import",
            file.to_str().unwrap(),
            "--batch-size",
            "10",
        ])
        .env("OMSHUB__DATABASE__URL", &db.url)
        .env("OMSHUB__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut conn = database.conn().unwrap();
    loop {
        if journal(&mut conn).is_some_and(|(_, rows, _)| rows > 0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no batch committed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended early"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (state, committed, last_line) = journal(&mut conn).unwrap();
    assert_eq!(state, "running", "killed before the end");
    assert!(committed > 0 && committed < i64::try_from(N).unwrap());
    let persons = erz_person::table
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap();
    // Every committed batch is whole: the journal and the register agree.
    assert_eq!(persons, committed);
    assert_eq!(last_line, committed + 1);

    // Meanwhile the file's last person is registered by another route: the resumed initial
    // load, which does not look its ENPs up, meets the unique ENP, writes that batch again
    // looking them up, and counts the person unchanged.
    register_last_line_alone(&cmd, &file);

    let (out, stdout, stderr) = cmd(&["erz", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("resumed after line {last_line}")),
        "{stdout}"
    );
    let rest = N - u64::try_from(committed).unwrap() - 1;
    assert!(
        stdout.contains(&format!(
            "{rest} inserted, 0 updated, 1 unchanged, 0 rejected"
        )),
        "{stdout}"
    );
    let n = i64::try_from(N).unwrap();
    assert_eq!(counts(&mut conn), (n, n, n, n));
    assert_eq!(
        journal(&mut conn).unwrap(),
        ("done".to_owned(), n - 1, n + 1)
    );

    // The same file again imports nothing.
    let (out, stdout, _) = cmd(&["erz", "import", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        stdout.contains("imported before: nothing to do"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 inserted, 0 updated, 0 unchanged, 0 rejected"),
        "{stdout}"
    );
    assert_eq!(counts(&mut conn), (n, n, n, n));
}

#[test]
fn the_batched_audit_writer_commits_every_queued_row_by_the_time_it_closes() {
    use omshub::db::schema::erz_status_query;
    use omshub::erz::audit::AuditWriter;
    use omshub::erz::repo::NewStatusQuery;

    let app = TestApp::spawn();
    let writer = AuditWriter::start(app.state.db.clone(), Duration::from_millis(5)).unwrap();
    let now = omshub::participants::now();
    let row = |i: i64| NewStatusQuery {
        asked_at: now,
        caller: "admin".into(),
        participant_id: None,
        by_key: "enp".into(),
        subject: format!("{i:016}"),
        on_date: now.date(),
        as_of: None,
        person_id: (i % 2 == 0).then_some(i),
        outcome: "not_found".into(),
    };
    // From several threads, more rows than one transaction takes.
    std::thread::scope(|s| {
        for t in 0..4 {
            let writer = &writer;
            s.spawn(move || {
                for i in 0..1_500 {
                    assert!(writer.submit(row(t * 10_000 + i)).is_none());
                }
            });
        }
    });
    writer.close();
    assert_eq!(count!(app, erz_status_query::table), 6_000);
    // Once closed, a row is written by the caller itself.
    writer.write(&mut app.conn(), row(99_999)).unwrap();
    assert_eq!(count!(app, erz_status_query::table), 6_001);
    let distinct = erz_status_query::table
        .select(erz_status_query::subject)
        .distinct()
        .load::<String>(&mut app.conn())
        .unwrap();
    assert_eq!(distinct.len(), 6_001);
}

/// `GET path` with the admin token: the response, or `None` when the server did not answer.
fn get_with_token(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_audits_every_answered_status_query_including_those_answered_while_it_stops() {
    use omshub::db::schema::erz_status_query;

    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against(&db, dir.path());
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let file = dir.path().join("persons.csv");
    persons_csv(&file, 20, 4);
    let (out, stdout, stderr) = cmd(&["erz", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    let text = std::fs::read_to_string(&file).unwrap();
    let enps: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(';').next().unwrap())
        .collect();

    let mut served = crate::cli::Served::start_with(
        dir.path(),
        &db,
        &[
            ("OMSHUB__AUTH__ADMIN_TOKEN", ADMIN_TOKEN),
            ("OMSHUB__JOBS__ENABLED", "false"),
        ],
    );
    let listening = served.wait_for("listening", |v| crate::cli::message_is(v, "listening on"));
    let addr = listening["address"].as_str().unwrap().to_owned();
    // Four clients ask without pause and SIGTERM arrives while they do: every query answered,
    // before or during the graceful stop, is in the audit once the process has exited. (The
    // flush of rows still queued at close is proven by the writer's own test above.)
    let stop = std::sync::atomic::AtomicBool::new(false);
    let answered = std::sync::atomic::AtomicI64::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (addr, enps, stop, answered) = (&addr, &enps, &stop, &answered);
            s.spawn(move || {
                let mut i = t;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let enp = enps[i % enps.len()];
                    i += 1;
                    let Some(response) =
                        get_with_token(addr, &format!("/api/v1/policy-status?enp={enp}"))
                    else {
                        break;
                    };
                    if response.starts_with("HTTP/1.1 200") {
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    } else {
                        break;
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        let status = std::process::Command::new("kill")
            .args(["-TERM", &served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let asked = answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(asked > 0);
    served.wait_for("shutdown complete", |v| {
        crate::cli::message_is(v, "shutdown complete")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while served.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let database = omshub::db::Database::open(&db.settings().database).unwrap();
    let mut conn = database.conn().unwrap();
    let audited: i64 = erz_status_query::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(audited, asked);
}

/// The indexes of the register's fact tables, by name, and on PostgreSQL their primary keys and
/// the foreign keys that are validated (a key added `NOT VALID` and never checked is not
/// listed).
fn fact_indexes(conn: &mut omshub::db::DbConn) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables = "'erz_person_version', 'erz_document', 'erz_address', 'erz_insurance', \
                  'erz_attachment'";
    let names: Vec<Name> = match conn {
        omshub::db::DbConn::Sqlite(c) => diesel::sql_query(format!(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({tables}) \
             ORDER BY name"
        ))
        .load(c)
        .unwrap(),
        omshub::db::DbConn::Pg(c) => diesel::sql_query(format!(
            "SELECT indexname::text AS name FROM pg_indexes WHERE tablename IN ({tables}) \
             AND schemaname = current_schema() UNION ALL \
             SELECT conname::text FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             WHERE c.contype IN ('f', 'p') AND c.convalidated AND t.relname IN ({tables}) \
             ORDER BY 1"
        ))
        .load(c)
        .unwrap(),
    };
    names.into_iter().map(|n| n.name).collect()
}

#[actix_web::test]
async fn an_initial_load_builds_its_indexes_at_the_end_and_a_later_load_refuses_a_taken_snils() {
    let app = TestApp::spawn();
    let before = fact_indexes(&mut app.conn());
    assert!(before.len() >= 10, "{before:?}");
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.csv");
    persons_csv(&first, 40, 21);
    let text = std::fs::read_to_string(&first).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Line 42 repeats the ENP of line 2; line 43 gives the SNILS of line 3 to a new person.
    let second_person: Vec<&str> = lines[2].split(';').collect();
    let mut other: Vec<String> = lines[4].split(';').map(str::to_owned).collect();
    let fresh = dir.path().join("fresh.csv");
    persons_csv(&fresh, 2, 99);
    let fresh_text = std::fs::read_to_string(&fresh).unwrap();
    let fresh_rows: Vec<&str> = fresh_text.lines().skip(1).collect();
    let newcomer: Vec<&str> = fresh_rows[0].split(';').collect();
    newcomer[0].clone_into(&mut other[0]);
    newcomer[5].clone_into(&mut other[5]);
    newcomer[6].clone_into(&mut other[6]);
    second_person[1].clone_into(&mut other[1]);
    let file = dir.path().join("initial.csv");
    std::fs::write(&file, format!("{text}{}\n{}\n", lines[1], other.join(";"))).unwrap();
    let now = omshub::participants::now();
    let outcome = import(&app, &file, Format::Csv, 7, now).unwrap();
    let rejected: Vec<(usize, &str)> = outcome
        .summary
        .rejected
        .iter()
        .map(|r| (r.line, r.code))
        .collect();
    assert_eq!(
        rejected,
        [(42, "enp_repeated"), (43, "snils_taken")],
        "{}",
        outcome.summary
    );
    assert!(outcome.summary.rejected[0].message.contains("line 2"));
    assert_eq!(outcome.summary.inserted, 40);
    // The register was empty: its indexes and keys were set aside and are all back.
    assert!(outcome.rebuilt > 0);
    assert_eq!(fact_indexes(&mut app.conn()), before);
    let pending: i64 = omshub::db::schema::erz_import_deferred::table
        .filter(omshub::db::schema::erz_import_deferred::restored_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(pending, 0);
    // On PostgreSQL the five fact tables' primary keys were among them (SQLite's are rowids).
    let keys: i64 = omshub::db::schema::erz_import_deferred::table
        .filter(omshub::db::schema::erz_import_deferred::kind.eq("primary_key"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let postgres = crate::support::backend() == crate::support::TestBackend::Postgres;
    assert_eq!(keys, if postgres { 5 } else { 0 });

    // A second file, into a register that holds persons: nothing is set aside, and a SNILS the
    // register gives to another person is refused (the database is asked, per batch).
    let later = dir.path().join("later.csv");
    let mut taken: Vec<&str> = fresh_rows[1].split(';').collect();
    taken[1] = second_person[1];
    std::fs::write(
        &later,
        format!("{}\n{}\n{}\n", CSV_HEADER, fresh_rows[0], taken.join(";")),
    )
    .unwrap();
    let outcome = import(&app, &later, Format::Csv, 100, now).unwrap();
    assert_eq!(outcome.rebuilt, 0);
    assert_eq!(outcome.summary.inserted, 1, "{}", outcome.summary);
    let rejected: Vec<(usize, &str)> = outcome
        .summary
        .rejected
        .iter()
        .map(|r| (r.line, r.code))
        .collect();
    assert_eq!(rejected, [(3, "snils_taken")]);
    assert_eq!(fact_indexes(&mut app.conn()), before);

    // The one-statement answer (by ENP, as known now) equals the general path's (asked with
    // as_of = now, a read per part) for every person, on dates around their policies.
    let as_of = (now + chrono::Duration::minutes(1))
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for row in text.lines().skip(1).chain([fresh_rows[0]]) {
        let f: Vec<&str> = row.split(';').collect();
        for date in [f[18], "2027-06-01", "1999-01-01"] {
            let (code, mut quick) = status(&app, &format!("enp={}&date={date}", f[0])).await;
            let (_, mut general) =
                status(&app, &format!("enp={}&date={date}&as_of={as_of}", f[0])).await;
            assert_eq!(code, StatusCode::OK, "{quick}");
            quick["as_of"] = Value::Null;
            general["as_of"] = Value::Null;
            assert_eq!(quick, general);
        }
    }
    let (code, body) = status(&app, "enp=7578350840000778&date=2026-02-01").await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "person_not_found");
}

#[actix_web::test]
async fn batched_status_reads_answer_every_concurrent_request_as_a_direct_read_does() {
    use omshub::erz::status_batch::StatusBatcher;
    use std::sync::Arc;

    let mut app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("persons.csv");
    persons_csv(&file, 24, 5);
    let now = omshub::participants::now();
    import(&app, &file, Format::Csv, 10, now).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(';').map(str::to_owned).collect())
        .collect();
    // Every person on two dates (one before their policy), one ENP asked twice at once, and an
    // ENP nobody has.
    let mut queries: Vec<String> = rows
        .iter()
        .flat_map(|f| {
            [
                format!("enp={}&date={}", f[0], f[18]),
                format!("enp={}&date=1999-01-01", f[0]),
            ]
        })
        .collect();
    queries.push(queries[0].clone());
    queries.push("enp=7578350840000778&date=2026-02-01".to_owned());

    // Direct reads first (no batcher), then the same questions at once through one.
    let mut direct = Vec::new();
    for q in &queries {
        direct.push(status(&app, q).await);
    }
    app.state.status_batch = Some(Arc::new(StatusBatcher::start(&app.state.db, 1).unwrap()));
    let app = Arc::new(app);
    let handles: Vec<_> = queries
        .iter()
        .map(|q| {
            let (app, q) = (Arc::clone(&app), q.clone());
            actix_web::rt::spawn(async move { status(&app, &q).await })
        })
        .collect();
    for ((handle, expected), q) in handles.into_iter().zip(&direct).zip(&queries) {
        let got = handle.await.unwrap();
        assert_eq!(&got, expected, "{q}");
    }
    assert_eq!(direct.last().unwrap().0, StatusCode::NOT_FOUND);
    assert!(direct.iter().filter(|(c, _)| *c == StatusCode::OK).count() >= 48);
    // Every answer was audited, by both paths.
    assert_eq!(
        count!(app, omshub::db::schema::erz_status_query::table),
        2 * i64::try_from(queries.len()).unwrap()
    );

    // The batcher's own answers, asked at once, name each ENP's own person.
    let batcher = app.state.status_batch.clone().unwrap();
    let on = chrono::NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    let asked: Vec<_> = rows
        .iter()
        .map(|f| {
            let (batcher, enp) = (Arc::clone(&batcher), f[0].clone());
            actix_web::rt::spawn(async move { batcher.ask(&enp, on, false).await })
        })
        .collect();
    for (handle, f) in asked.into_iter().zip(&rows) {
        let facts = handle.await.unwrap().unwrap().facts.unwrap().unwrap();
        let direct =
            omshub::erz::repo::status::status_by_enp_now(&mut app.conn(), &f[0], on).unwrap();
        assert_eq!(Some(facts), direct, "{}", f[0]);
    }
    batcher.close();
    assert!(batcher.ask(&rows[0][0], on, false).await.is_none());
}

/// Issue 21 points 17 and 18: the CSV is read with quoting (an address holding the delimiter,
/// a doubled quote and a line break, as spreadsheets and database exports write it), and the
/// refusals are printed in line order even when the register's own refusal (a SNILS of
/// another person, known only when its batch is written) comes before a line's own check.
#[test]
fn quoted_fields_are_read_and_refusals_are_printed_in_line_order() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against(&db, dir.path());
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let first = dir.path().join("first.csv");
    persons_csv(&first, 2, 5);
    let (out, stdout, stderr) = cmd(&["erz", "import", first.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    let first_text = std::fs::read_to_string(&first).unwrap();
    let registered: Vec<&str> = first_text.lines().nth(1).unwrap().split(';').collect();

    let fresh = dir.path().join("fresh.csv");
    persons_csv(&fresh, 3, 6);
    let fresh_text = std::fs::read_to_string(&fresh).unwrap();
    let rows: Vec<Vec<&str>> = fresh_text
        .lines()
        .skip(1)
        .map(|l| l.split(';').collect())
        .collect();
    let mut taken = rows[0].clone();
    taken[1] = registered[1];
    let mut quoted = rows[1].clone();
    let address = "\"г. Чита; ул. \"\"Ленина\"\", д. 1\nкв. 2\"";
    quoted[23] = address;
    let mut bad_date = rows[2].clone();
    bad_date[6] = "1990-02-30";
    let file = dir.path().join("second.csv");
    std::fs::write(
        &file,
        format!(
            "{CSV_HEADER}\n{}\nonly;three;fields\n{}\n{}\n",
            taken.join(";"),
            quoted.join(";"),
            bad_date.join(";")
        ),
    )
    .unwrap();
    let (out, stdout, stderr) = cmd(&[
        "erz",
        "import",
        file.to_str().unwrap(),
        "--writers",
        "1",
        "--batch-size",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 inserted, 0 updated, 0 unchanged, 3 rejected"),
        "{stdout}"
    );
    // The quoted row spans lines 4 and 5, so the row after it starts on line 6.
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in {stdout}"))
    };
    let (taken_at, count_at, date_at) = (
        at("line 2: [snils_taken]"),
        at("line 3: [field_count]"),
        at("line 6: [date_invalid]"),
    );
    assert!(taken_at < count_at && count_at < date_at, "{stdout}");

    let mut conn = omshub::db::Database::open(&db.settings().database)
        .unwrap()
        .conn()
        .unwrap();
    let texts: Vec<Option<String>> = omshub::db::schema::erz_address::table
        .filter(omshub::db::schema::erz_address::text.like("%Ленина%"))
        .select(omshub::db::schema::erz_address::text)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        texts,
        [Some("г. Чита; ул. \"Ленина\", д. 1\nкв. 2".to_owned())]
    );
}

/// A row that is not UTF-8 (a windows-1251 export) is refused with its line and code, and the
/// rows around it are loaded.
#[test]
fn a_row_that_is_not_utf8_is_refused_and_the_load_goes_on() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let cmd = crate::cli::against(&db, dir.path());
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let csv = dir.path().join("persons.csv");
    persons_csv(&csv, 3, 9);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut bytes = format!("{}\n{}\n", lines[0], lines[1]).into_bytes();
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(lines[2]);
    bytes.extend_from_slice(&cp1251);
    bytes.extend_from_slice(format!("\n{}\n", lines[3]).as_bytes());
    let file = dir.path().join("mixed.csv");
    std::fs::write(&file, bytes).unwrap();
    let (out, stdout, stderr) = cmd(&["erz", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 inserted, 0 updated, 0 unchanged, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("line 3: [encoding_invalid]"), "{stdout}");
}
