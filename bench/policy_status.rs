//! `GET /api/v1/policy-status` of the release `omshub serve` over a bulk-loaded register, on
//! SQLite and on PostgreSQL: requests per second, p99 latency and the server's peak memory
//! under `wrk` on loopback (a Lua script asks for a random ENP of the register each time, with
//! the bearer token of a participant added for the run, authenticated as a clinic's is),
//! beside `pgbench` running a prepared primary-key select on the same `erz_person` table in the
//! same run.
//!
//! Run: `cargo bench --bench policy_status` (release). `OMSHUB_BENCH_PERSONS` persons (default
//! 1,000,000) are generated as `omshub gen persons --seed 1` writes them and loaded with `erz
//! import` (not timed) into a fresh SQLite file and a fresh PostgreSQL database
//! (`OMSHUB_BENCH_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, where a
//! scratch database is created and dropped). `OMSHUB_BENCH_SECS` is each load's duration
//! (default 20), `OMSHUB_BENCH_CONNECTIONS` wrk's and pgbench's connection counts, one run each (default `4,8,16,32`). Needs
//! `wrk` (`apt-get install -y wrk`) and `pgbench`. Every call writes its audit row: the bench
//! checks after each run that the audit holds one row per answered request. Writes its table
//! to docs/PERFORMANCE.md between the `policy_status` markers. Target: ≥ 10,000 requests/s with
//! p99 < 5 ms.

#[path = "register.rs"]
mod register;
#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use omshub::validate::Validator;

const TOKEN: &str = "bench-admin-token-0123456789abcdef";
/// ENPs the load generator picks from.
const SAMPLE: usize = 20_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or_else(|e| panic!("{e}"), |a| a.port())
}

fn http_get(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The running `omshub serve`, stopped by SIGTERM (then SIGKILL) when dropped.
struct Server(Child);

impl Server {
    fn start(config: &Path, log: &Path, port: u16) -> Self {
        let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_omshub"))
            .args(["serve", "--no-jobs", "--config"])
            .arg(config)
            .stdout(log_file.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let server = Self(child);
        let deadline = Instant::now() + Duration::from_secs(300);
        while http_get(port, "/health") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "serve did not start; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one load run measured.
struct Run {
    rps: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    rss_mb: Option<u64>,
}

/// Milliseconds of a wrk latency (`812.00us`, `1.20ms`, `2.01s`).
#[expect(clippy::float_arithmetic, reason = "units of a report")]
fn millis(text: &str) -> f64 {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, ""), |i| text.split_at(i));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

fn wrk(port: u16, script: &Path, seconds: u64, connections: u64, pid: u32) -> Run {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("wrk: {e} (apt-get install -y wrk)"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(prefix.split_whitespace().count()))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Run {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        p99_ms: millis(&field("99%")),
        requests,
        non_2xx: field("Non-2xx or 3xx responses:").parse().unwrap_or(0),
        rss_mb: status_kib(pid, "VmHWM:").map(|k| k / 1024),
    }
}

/// pgbench: a prepared primary-key select on `erz_person`, `connections` clients: (tps, p99 ms
/// is not printed by pgbench; the average latency instead).
fn pgbench(url: &str, dir: &Path, persons: u64, seconds: u64, connections: u64) -> (f64, f64) {
    let script = dir.join("pk.sql");
    std::fs::write(
        &script,
        format!("\\set id random(1, {persons})\nSELECT enp FROM erz_person WHERE id = :id;\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("pgbench: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    let number = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.trim_start_matches(prefix).split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0)
    };
    (number("tps = "), number("latency average = "))
}

fn audit_rows(url: &str) -> i64 {
    let db = omshub::db::Database::open(&register::settings(url).database)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
    omshub::db::schema::erz_status_query::table
        .count()
        .get_result(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A bearer token of a participant added for the run: the requests authenticate as a clinic's
/// do (a participant's credential, not a configured token).
fn participant_token(conn: &mut omshub::db::DbConn) -> String {
    let now = omshub::participants::now();
    let new = omshub::participants::NewParticipant {
        kind: omshub::participants::Kind::Auditor,
        org_code: None,
        name: "policy_status bench".into(),
        contact_email: None,
        roles: None,
    };
    let added = omshub::participants::add(conn, &new, now).unwrap_or_else(|e| panic!("{e}"));
    omshub::participants::issue_token(conn, added.id, Some("bench"), 1, now)
        .unwrap_or_else(|e| panic!("{e}"))
        .token
}

/// The Lua script of wrk: a random ENP of `enps` per request, asked with `token`.
fn status_script(dir: &Path, name: &str, enps: &[String], token: &str) -> std::path::PathBuf {
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(
        &script,
        format!(
            "local enps = {{{}}}\nmath.randomseed(os.time())\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/policy-status?enp=\" .. enps[math.random(#enps)] .. \"&date=2026-06-01\")\nend\n",
            enps.join(",")
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    script
}

/// Serves `url` and loads it with wrk: the run and the audit rows it wrote.
fn serve_and_load(
    dir: &Path,
    url: &str,
    name: &str,
    script: &Path,
    seconds: u64,
    conns: u64,
) -> (Run, i64) {
    let port = free_port();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\n\n[database]\nurl = \"{url}\"\npool_max_size = {conns}\n\n[auth]\nadmin_token = \"{TOKEN}\"\n\n[log]\nlevel = \"warn\"\n\n[intake]\nstorage_dir = \"{}\"\n\n[mail]\nfile_dir = \"{}\"\n\n[jobs]\nenabled = false\n",
            dir.join("store").display(),
            dir.join("mail").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let before = audit_rows(url);
    let run = {
        let server = Server::start(&config, &dir.join(format!("{name}.log")), port);
        let run = wrk(port, script, seconds, conns, server.0.id());
        drop(server);
        run
    };
    (run, audit_rows(url) - before)
}

/// What one run measured, for the report.
struct Figures<'a> {
    persons: u64,
    seconds: u64,
    sample: usize,
    note: &'a str,
    sqlite: &'a [(u64, Run, i64)],
    postgres: &'a [(u64, Run, i64)],
    peer: &'a [(u64, f64, f64)],
}

/// The report's Markdown.
fn render(f: &Figures<'_>) -> String {
    let Figures {
        persons,
        seconds,
        sample,
        note,
        sqlite,
        postgres,
        peer,
    } = *f;
    let mut out = register::heading(
        "Policy status under load (`cargo bench --bench policy_status`)",
        note,
    );
    let _ = writeln!(
        out,
        "Machine: {}. Register: `omshub gen persons --count {persons} --seed 1` loaded by `erz import`. Load: `wrk -t2 -cN -d{seconds}s --latency` on 127.0.0.1 with N connections, a Lua script asking `GET /api/v1/policy-status?enp=…&date=2026-06-01` with a participant's bearer token (authenticated as a clinic's is) for a random ENP of {} sampled from the register; the release `omshub serve` (`pool_max_size = N`, started afresh for each run), every call writing its audit row. Peer: `pgbench -M prepared -cN -j2 -T{seconds}` with `SELECT enp FROM erz_person WHERE id = :id` (random id) on the same database in the same run. PostgreSQL is reached over TCP with libpq's defaults by both.\n",
        report::machine(),
        sample
    );
    let _ = writeln!(
        out,
        "| backend | client | connections | requests/s | p99 | requests (non-2xx) | audit rows written | server peak RSS |\n|---|---|---|---|---|---|---|---|"
    );
    for (backend, runs) in [("SQLite", sqlite), ("PostgreSQL", postgres)] {
        for (c, run, audit) in runs {
            let _ = writeln!(
                out,
                "| {backend} | wrk → `omshub serve` | {c} | {:.0} | {:.2} ms | {} ({}) | {audit} | {} |",
                run.rps,
                run.p99_ms,
                run.requests,
                run.non_2xx,
                run.rss_mb
                    .map_or_else(|| "n/a".into(), |m| format!("{m} MB"))
            );
        }
    }
    for (c, tps, ms) in peer {
        let _ = writeln!(
            out,
            "| PostgreSQL | pgbench, prepared PK select | {c} | {tps:.0} | (average {ms:.2} ms) | | | |"
        );
    }
    let _ = writeln!(
        out,
        "\nTarget: ≥ 10,000 requests/s with p99 < 5 ms. wrk counts the requests it completed; the audit may hold a few more (requests in flight when wrk stopped)."
    );
    out
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("policy_status runs only under `cargo bench --bench policy_status`");
        return;
    }
    let persons = env_u64("OMSHUB_BENCH_PERSONS", 1_000_000);
    let seconds = env_u64("OMSHUB_BENCH_SECS", 20);
    // The concurrency levels: a few connections for latency, many for throughput.
    let levels: Vec<u64> = std::env::var("OMSHUB_BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "4,8,16,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let note = std::env::var("OMSHUB_BENCH_NOTE").unwrap_or_default();
    let admin = std::env::var("OMSHUB_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let csv = dir.path().join("persons.csv");
    register::persons_csv(&csv, persons);
    // The Lua script: a random ENP of a sample of the register per request.
    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{e}"));
    let total = text.lines().count().saturating_sub(1).max(1);
    let step = (total / SAMPLE).max(1);
    let enps: Vec<String> = text
        .lines()
        .skip(1)
        .step_by(step)
        .filter_map(|l| l.split(';').next().map(|e| format!("\"{e}\"")))
        .collect();
    drop(text);
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap_or_else(|e| panic!("{e}"));

    let sqlite_url = dir.path().join("db/omshub.sqlite3").display().to_string();
    let (_, _, mut conn) = register::load(&sqlite_url, &csv, &validator);
    let script = status_script(dir.path(), "sqlite", &enps, &participant_token(&mut conn));
    drop(conn);
    let sqlite: Vec<(u64, Run, i64)> = levels
        .iter()
        .map(|&c| {
            let (run, audit) =
                serve_and_load(dir.path(), &sqlite_url, "sqlite", &script, seconds, c);
            (c, run, audit)
        })
        .collect();

    let name = format!("omshub_bench_status_{}", std::process::id());
    let mut pg = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| panic!("{e}"));
    pg.batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut url = url::Url::parse(&admin).unwrap_or_else(|e| panic!("{e}"));
    url.set_path(&format!("/{name}"));
    let pg_url = url.to_string();
    let (_, _, mut conn) = register::load(&pg_url, &csv, &validator);
    let script = status_script(dir.path(), "postgres", &enps, &participant_token(&mut conn));
    drop(conn);
    let postgres: Vec<(u64, Run, i64)> = levels
        .iter()
        .map(|&c| {
            let (run, audit) = serve_and_load(dir.path(), &pg_url, "postgres", &script, seconds, c);
            (c, run, audit)
        })
        .collect();
    let peer: Vec<(u64, f64, f64)> = levels
        .iter()
        .map(|&c| {
            let (tps, ms) = pgbench(&pg_url, dir.path(), persons, seconds, c);
            (c, tps, ms)
        })
        .collect();
    let _ = pg.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));

    let out = render(&Figures {
        persons,
        seconds,
        sample: enps.len(),
        note: &note,
        sqlite: &sqlite,
        postgres: &postgres,
        peer: &peer,
    });
    println!("{out}");
    report::write_section("policy_status", &out);
}
