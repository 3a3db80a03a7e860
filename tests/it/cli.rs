//! The `omshub` binary as an operator runs it: version, configuration errors, `check-config`,
//! `migrate`, and `serve` answering and then stopping cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{TestBackend, TestDb, backend};

/// The binary with a clean `OMSHUB__` environment, run in a scratch directory.
pub(crate) fn omshub(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omshub"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OMSHUB__") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir);
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// `omshub ARGS` in `dir` against the test database `db` (logging at `warn`): the output, its
/// standard output and its standard error.
pub(crate) fn against(
    db: &TestDb,
    dir: &std::path::Path,
) -> impl Fn(&[&str]) -> (Output, String, String) {
    let url = db.url.clone();
    let dir = dir.to_owned();
    move |args: &[&str]| {
        let mut c = omshub(&dir);
        c.args(args)
            .env("OMSHUB__DATABASE__URL", &url)
            .env("OMSHUB__LOG__LEVEL", "warn");
        run(&mut c)
    }
}

/// As [`against`], once `migrate` has run and the insurers of the F002 fixture are imported
/// (what an OPLIST's insurer needs).
pub(crate) fn against_with_insurers(
    db: &TestDb,
    dir: &std::path::Path,
) -> impl Fn(&[&str]) -> (Output, String, String) {
    let cmd = against(db, dir);
    let (out, _, stderr) = cmd(&["migrate"]);
    assert!(out.status.success(), "{stderr}");
    let f002 = format!("{}/fixtures/registers/F002.xml", env!("CARGO_MANIFEST_DIR"));
    let (out, _, stderr) = cmd(&["registers", "import", &f002]);
    assert!(out.status.success(), "{stderr}");
    cmd
}

#[test]
fn version_names_the_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stdout, _) = run(omshub(dir.path()).arg("--version"));
    assert!(out.status.success());
    assert_eq!(
        stdout.trim(),
        format!("omshub {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_config_prints_the_effective_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stdout, stderr) = run(omshub(dir.path())
        .arg("check-config")
        .env(
            "OMSHUB__DATABASE__URL",
            "postgres://omshub:VerySecret1@127.0.0.1/omshub",
        )
        .env("OMSHUB__SERVER__BIND", "0.0.0.0:9443"));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("bind = \"0.0.0.0:9443\""), "{stdout}");
    assert!(
        stdout.contains("postgres://omshub:****@127.0.0.1/omshub"),
        "{stdout}"
    );
    assert!(!stdout.contains("VerySecret1"), "{stdout}");
    // It is valid TOML that reads back into the same sections.
    let parsed: toml::Table = stdout.parse().unwrap();
    for section in ["server", "database", "log", "jobs"] {
        assert!(parsed.contains_key(section), "{section}");
    }
}

#[test]
fn a_bad_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(omshub(dir.path())
        .args(["serve", "--no-jobs"])
        .env("OMSHUB__DATABASE__POOL_MAX_SIZE", "0"));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`database.pool_max_size`"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing may be created on a bad config"
    );

    let (out, _, stderr) = run(omshub(dir.path())
        .arg("serve")
        .env("OMSHUB__SERVER__BIND", "localhost-ish"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("`server.bind`"), "{stderr}");
    assert!(stderr.contains("OMSHUB__SERVER__BIND"), "{stderr}");
}

#[test]
fn an_unknown_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("omshub.toml");
    std::fs::write(&file, "[database]\nurll = \"data/x.sqlite3\"\n").unwrap();
    let (out, _, stderr) = run(omshub(dir.path()).args(["serve", "--config"]).arg(&file));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown configuration key `database.urll`"),
        "{stderr}"
    );
    assert!(stderr.contains("omshub.toml"), "{stderr}");

    let (out, _, stderr) = run(omshub(dir.path())
        .arg("check-config")
        .env("OMSHUB__LOGG__LEVEL", "debug"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown configuration key `logg`"),
        "{stderr}"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) =
        run(omshub(dir.path()).args(["check-config", "--config", "nowhere.toml"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("nowhere.toml"), "{stderr}");
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (out, stdout, stderr) = run(omshub(dir.path())
        .arg("migrate")
        .env("OMSHUB__DATABASE__URL", &db.url));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("applied 20261123000001"), "{stdout}");
    let (out, stdout, _) = run(omshub(dir.path())
        .arg("migrate")
        .env("OMSHUB__DATABASE__URL", &db.url));
    assert!(out.status.success());
    assert!(stdout.contains("schema is up to date"), "{stdout}");
}

#[test]
fn serve_on_an_unmigrated_postgres_refuses_and_names_the_fix() {
    if backend() != TestBackend::Postgres {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (out, _, stderr) = run(omshub(dir.path())
        .args(["serve", "--no-jobs"])
        .env("OMSHUB__DATABASE__URL", &db.url)
        .env("OMSHUB__SERVER__BIND", "127.0.0.1:0"));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("omshub migrate"), "{stderr}");
    assert!(
        stderr.contains("20261123000001"),
        "names the pending migration: {stderr}"
    );

    // A database that does not exist at all: refused at once, with the server's words.
    let mut missing = url::Url::parse(&db.url).unwrap();
    missing.set_path("/omshub_test_never_created");
    let (out, _, stderr) = run(omshub(dir.path())
        .args(["serve", "--no-jobs"])
        .env("OMSHUB__DATABASE__URL", missing.as_str())
        .env("OMSHUB__SERVER__BIND", "127.0.0.1:0"));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("run `omshub migrate`"), "{stderr}");
    // The server's words and the hint are one line (libpq ends its message with a line break).
    let line = stderr
        .lines()
        .find(|l| l.contains("does not exist"))
        .unwrap_or_default();
    assert!(line.contains("run `omshub migrate`"), "{stderr}");
}

/// A started `omshub serve` and the lines it has logged so far.
pub(crate) struct Served {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(dir: &std::path::Path, db: &TestDb) -> Self {
        Self::start_with(dir, db, &[])
    }

    /// `serve` with extra `OMSHUB__…` variables.
    pub(crate) fn start_with(dir: &std::path::Path, db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut child = omshub(dir)
            .args(["serve"])
            .envs(env.iter().copied())
            .env("OMSHUB__DATABASE__URL", &db.url)
            .env("OMSHUB__DATABASE__MIGRATE_ON_START", "true")
            .env("OMSHUB__SERVER__BIND", "127.0.0.1:0")
            .env("OMSHUB__SERVER__WORKERS", "1")
            .env("OMSHUB__LOG__FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 60 s) for a log line that satisfies `pred`.
    pub(crate) fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
                        && pred(&value)
                    {
                        return value;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no log line for {what}; seen:\n{}", self.seen.join("\n"));
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(addr: &str, path: &str, request_id: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: {request_id}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

pub(crate) fn message_is(v: &serde_json::Value, text: &str) -> bool {
    v["message"].as_str().is_some_and(|m| m.starts_with(text))
}

#[test]
fn serve_answers_then_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let mut served = Served::start(dir.path(), &db);
    let job = served.wait_for("jobs", |v| message_is(v, "job scheduled"));
    assert_eq!(job["job"], "db-maintenance", "{job}");
    let listening = served.wait_for("listening", |v| message_is(v, "listening on"));
    let addr = listening["address"].as_str().unwrap().to_owned();

    let response = http_get(&addr, "/health", "sigterm-test-1");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("x-request-id: sigterm-test-1"),
        "{response}"
    );
    let logged = served.wait_for("request log", |v| message_is(v, "request finished"));
    assert_eq!(logged["span"]["request.id"], "sigterm-test-1", "{logged}");
    assert_eq!(logged["http.status"], 200, "{logged}");

    let metrics = http_get(&addr, "/metrics", "sigterm-test-2");
    assert!(
        metrics
            .contains(r#"omshub_http_requests_total{method="GET",route="/health",status="200"} 1"#),
        "{metrics}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    served.wait_for("graceful start", |v| {
        v["message"].as_str().is_some_and(|m| m.contains("SIGTERM"))
    });
    served.wait_for("shutdown complete", |v| message_is(v, "shutdown complete"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = served.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the port must be closed after shutdown"
    );
}

#[test]
fn nsi_import_reports_each_file_and_exits_3_on_rejected_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let good = dir.path().join("V014.xml");
    std::fs::write(
        &good,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<packet><zglv><type>V014</type><version>2</version><date>01.01.2026</date></zglv>
<zap><IDFRMMP>1</IDFRMMP><FRMMPNAME>Экстренная</FRMMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
<zap><IDFRMMP>2</IDFRMMP><FRMMPNAME>Неотложная</FRMMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
<zap><IDFRMMP>9</IDFRMMP><FRMMPNAME>Без даты</FRMMPNAME><DATEBEG>нет</DATEBEG></zap>
</packet>
"#,
    )
    .unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<packet><zglv>").unwrap();

    let nsi = |args: &[&str]| {
        let mut cmd = omshub(dir.path());
        cmd.arg("nsi")
            .args(args)
            .env("OMSHUB__DATABASE__URL", &db.url)
            .env("OMSHUB__DATABASE__MIGRATE_ON_START", "true");
        run(&mut cmd)
    };
    let (out, stdout, stderr) = nsi(&["import", "--dry-run", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("(dry run, nothing written): 2 inserted"),
        "{stdout}"
    );
    assert!(stdout.contains("line 5 9: [invalid_date]"), "{stdout}");

    let (out, stdout, _) = nsi(&["import", good.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused file fails the run: {stdout}"
    );
    assert!(
        stdout.contains("V014: 2 inserted, 0 updated, 0 unchanged, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("broken.xml: refused [not_xml]"), "{stdout}");

    let (out, stdout, _) = nsi(&["import", "--json", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json[0]["unchanged"], 2);
    assert_eq!(json[0]["rejected"][0]["code"], "invalid_date");

    let (out, stdout, _) = nsi(&["list"]);
    assert!(out.status.success());
    assert!(
        stdout.contains("V014\tform of care (FOR_POM)\t2 entries\tversion 2"),
        "{stdout}"
    );

    let exported = dir.path().join("V014-out.xml");
    let (out, _, stderr) = nsi(&[
        "export",
        "v014",
        "--encoding",
        "windows-1251",
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{stderr}");
    let bytes = std::fs::read(&exported).unwrap();
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad);
    assert!(text.contains("Экстренная"));
    let (out, stdout, _) = nsi(&["import", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 inserted, 0 updated, 2 unchanged, 0 rejected"),
        "{stdout}"
    );
}

fn http_post(addr: &str, path: &str, token: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn packages_survive_kill_9_and_each_ends_once() {
    const TOKEN: &str = "kill-test-admin-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let storage = dir.path().join("store");
    let storage_str = storage.display().to_string();
    let env = [
        ("OMSHUB__AUTH__ADMIN_TOKEN", TOKEN),
        ("OMSHUB__INTAKE__STORAGE_DIR", storage_str.as_str()),
        ("OMSHUB__INTAKE__WORKERS", "2"),
    ];
    let mut served = Served::start_with(dir.path(), &db, &env);
    let listening = served.wait_for("listening", |v| message_is(v, "listening on"));
    let addr = listening["address"].as_str().unwrap().to_owned();
    let generated = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for n in 0..10_u64 {
        let mut options = omshub::r#gen::AccountsOptions::new(1_500, n + 1).unwrap();
        options.package = u32::try_from(n + 1).unwrap();
        let out = generated.path().join(n.to_string());
        std::fs::create_dir_all(&out).unwrap();
        let written = omshub::r#gen::write_package(&out, &options).unwrap();
        let zip = &written.files[2].path;
        let name = zip.file_name().unwrap().to_string_lossy().into_owned();
        let response = http_post(
            &addr,
            &format!("/api/v1/packages?name={name}"),
            TOKEN,
            &std::fs::read(zip).unwrap(),
        );
        assert!(response.starts_with("HTTP/1.1 202"), "{response}");
        let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
        let receipt: serde_json::Value = serde_json::from_str(body).unwrap();
        ids.push(receipt["id"].as_str().unwrap().to_owned());
    }
    // Killed while the workers are in the middle of the queue.
    served.wait_for("a first package checked", |v| {
        message_is(v, "package checked")
    });
    let status = Command::new("kill")
        .args(["-KILL", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = served.child.wait();
    drop(served);

    let settings = db.settings();
    let database = omshub::db::Database::open(&settings.database).unwrap();
    let unfinished = |database: &omshub::db::Database| {
        let mut conn = database.conn().unwrap();
        ids.iter()
            .filter(|id| {
                let row = omshub::intake::store::get(&mut conn, id).unwrap().unwrap();
                !row.status().unwrap().is_final()
            })
            .count()
    };
    assert!(
        unfinished(&database) > 0,
        "the kill came too late to test anything"
    );

    let mut again = Served::start_with(dir.path(), &db, &env);
    again.wait_for("listening again", |v| message_is(v, "listening on"));
    let deadline = Instant::now() + Duration::from_secs(300);
    while unfinished(&database) > 0 {
        assert!(
            Instant::now() < deadline,
            "packages not finished after restart"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut conn = database.conn().unwrap();
    for id in &ids {
        let row = omshub::intake::store::get(&mut conn, id).unwrap().unwrap();
        assert_eq!(
            row.status(),
            Some(omshub::intake::Status::Accepted),
            "{row:?}"
        );
        // One protocol for the package (data file) and one for its personal-data file.
        let protocols = std::fs::read_dir(storage.join("protocols").join(id))
            .unwrap()
            .count();
        assert_eq!(protocols, 2, "{id}");
        assert_eq!(
            omshub::intake::store::case_count(&mut conn, id).unwrap(),
            1_500,
            "each case stored exactly once, whatever attempt was cut off"
        );
    }
    let (total, _) = omshub::intake::store::list(&mut conn, None, 100, 0).unwrap();
    assert_eq!(total, 10, "no package recorded twice");
}
