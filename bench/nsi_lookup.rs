//! Classifier look-ups per second: the in-memory snapshot (what validation uses) against the
//! per-code SQL query that regional validators run against their F/V tables (the same query
//! through omshub's own store, on SQLite and, when a server answers, PostgreSQL).
//!
//! Run: `cargo bench --bench nsi_lookup` (release build). Data: the embedded baseline (250
//! entries) plus synthetic classifiers of realistic size generated here (an ICD-10-like
//! M001 with 15,000 codes and a service list V001 with 100,000 codes, a tenth of them with two
//! validity periods). Writes its table to docs/PERFORMANCE.md between the `nsi_lookup` markers.

#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use omshub::config::Settings;
use omshub::db;
use omshub::nsi::store::{self, CodeOnDate, ImportRequest};
use omshub::nsi::{ClassifierLookup, NsiSnapshot, baseline};

const SNAPSHOT_LOOKUPS: usize = 50_000_000;
const SQL_LOOKUPS: usize = 20_000;

/// A tiny deterministic generator (xorshift), so every run asks the same questions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// A synthetic generic packet of `n` codes for classifier `id`.
fn synthetic_packet(
    id: &str,
    key: &str,
    name: &str,
    n: usize,
    code: impl Fn(usize) -> String,
) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<packet><zglv><type>{id}</type><version>bench</version><date>01.01.2026</date></zglv>\n"
    );
    for i in 0..n {
        let c = code(i);
        if i % 10 == 0 {
            // Closed and later reopened: two periods.
            let _ = writeln!(
                xml,
                "<zap><{key}>{c}</{key}><{name}>Синтетическая позиция {i}</{name}><DATEBEG>01.01.2011</DATEBEG><DATEEND>31.12.2015</DATEEND></zap>\n<zap><{key}>{c}</{key}><{name}>Синтетическая позиция {i}</{name}><DATEBEG>01.01.2018</DATEBEG><DATEEND></DATEEND></zap>"
            );
        } else {
            let _ = writeln!(
                xml,
                "<zap><{key}>{c}</{key}><{name}>Синтетическая позиция {i}</{name}><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>"
            );
        }
    }
    xml.push_str("</packet>\n");
    xml
}

fn m001_code(i: usize) -> String {
    let letter = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
    format!("{letter}{:02}.{}", (i / 26) % 100, (i / 2600) % 10)
}

fn v001_code(i: usize) -> String {
    format!(
        "A{:02}.{:02}.{:03}.{:03}",
        i % 27,
        (i / 27) % 31,
        (i / 837) % 1000,
        i % 997
    )
}

struct Query {
    classifier: &'static str,
    code: String,
    on: NaiveDate,
}

fn queries(n: usize, codes: &[(&'static str, String)]) -> Vec<Query> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| {
            let (classifier, code) = &codes[rng.below(codes.len())];
            // One question in ten is about a code the classifier does not have.
            let code = if rng.below(10) == 0 {
                format!("{code}X")
            } else {
                code.clone()
            };
            let on = day(
                2010 + i32::try_from(rng.below(17)).unwrap_or(0),
                1 + u32::try_from(rng.below(12)).unwrap_or(0),
                15,
            );
            Query {
                classifier,
                code,
                on,
            }
        })
        .collect()
}

fn import(conn: &mut db::DbConn, bytes: &[u8], source: &str) {
    if let Err(e) = store::import_packet(
        conn,
        ImportRequest {
            bytes,
            source,
            classifier: None,
            dry_run: false,
            by: "bench",
            progress: None,
        },
    ) {
        panic!("bench import of {source} failed: {e}");
    }
}

/// Loads the baseline and the synthetic classifiers into a fresh database at `url`.
fn prepare(url: &str, m001: &str, v001: &str) -> db::Database {
    let mut settings = Settings::load_without_env(None).unwrap_or_else(|e| panic!("{e}"));
    url.clone_into(&mut settings.database.url);
    let (database, _) = db::migrate(&settings.database).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = database.conn().unwrap_or_else(|e| panic!("{e}"));
    baseline::load_missing(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    import(&mut conn, m001.as_bytes(), "M001-synthetic.xml");
    import(&mut conn, v001.as_bytes(), "V001-synthetic.xml");
    drop(conn);
    database
}

fn sql_rate(database: &db::Database, qs: &[Query]) -> (f64, usize) {
    let mut conn = database.conn().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut valid = 0;
    for q in qs {
        if matches!(
            store::code_on(&mut conn, q.classifier, &q.code, q.on),
            Ok(CodeOnDate::Valid(_))
        ) {
            valid += 1;
        }
    }
    (per_second(qs.len(), started.elapsed()), valid)
}

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "a rate for a report"
)]
fn per_second(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

#[expect(clippy::float_arithmetic, reason = "formatting a rate")]
fn millions(rate: f64) -> String {
    format!("{:.1} M/s", rate / 1e6)
}

#[expect(clippy::too_many_lines, reason = "one linear benchmark script")]
fn main() {
    let m001 = synthetic_packet("M001", "IDDS", "DSNAME", 15_000, m001_code);
    let v001 = synthetic_packet("V001", "IDRB", "RBNAME", 100_000, v001_code);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    let load_started = Instant::now();
    let sqlite_url = dir.path().join("bench.sqlite3").display().to_string();
    let sqlite = prepare(&sqlite_url, &m001, &v001);
    let load_sqlite = load_started.elapsed();

    // The snapshot, built exactly as serve builds it.
    let build_started = Instant::now();
    let rows = store::all_validity(&mut sqlite.conn().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let snapshot = NsiSnapshot::build(rows, 0);
    let build = build_started.elapsed();
    let entries = snapshot.entries();
    let classifiers = store::classifiers(&mut sqlite.conn().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .filter(|c| c.entries > 0)
        .count();

    let mut codes: Vec<(&'static str, String)> = Vec::new();
    for i in 0..15_000 {
        codes.push(("M001", m001_code(i)));
    }
    for i in 0..100_000 {
        codes.push(("V001", v001_code(i)));
    }
    for (classifier, code) in [
        ("V006", "1"),
        ("V006", "4"),
        ("V009", "101"),
        ("V010", "33"),
        ("F006", "2"),
        ("V012", "301"),
    ] {
        codes.push((classifier, code.to_owned()));
    }
    let qs = queries(1 << 20, &codes);

    // Warm up, then one core, all questions through the trait as rules ask them.
    let mut valid = 0usize;
    for q in qs.iter().take(100_000) {
        valid += usize::from(snapshot.is_valid(q.classifier, &q.code, q.on));
    }
    black_box(valid);
    let started = Instant::now();
    let mut valid = 0usize;
    for i in 0..SNAPSHOT_LOOKUPS {
        let q = &qs[i & ((1 << 20) - 1)];
        valid += usize::from(black_box(&snapshot).is_valid(
            black_box(q.classifier),
            black_box(&q.code),
            black_box(q.on),
        ));
    }
    let snapshot_rate = per_second(SNAPSHOT_LOOKUPS, started.elapsed());
    black_box(valid);

    let sql_qs = &qs[..SQL_LOOKUPS];
    let (sqlite_rate, sqlite_valid) = sql_rate(&sqlite, sql_qs);
    let snapshot_valid = sql_qs
        .iter()
        .filter(|q| snapshot.is_valid(q.classifier, &q.code, q.on))
        .count();
    assert_eq!(
        snapshot_valid, sqlite_valid,
        "the snapshot and the store must agree"
    );

    let pg = std::env::var("OMSHUB_BENCH_PG_URL").ok().or_else(|| {
        std::net::TcpStream::connect("127.0.0.1:5432")
            .ok()
            .map(|_| "postgres://postgres@127.0.0.1:5432/omshub_bench".to_owned())
    });
    let pg_line = pg.map(|url| {
        let _ = db::create_database_if_missing(&omshub::config::DatabaseTarget::Postgres(url.clone()));
        let database = prepare(&url, &m001, &v001);
        let (rate, pg_valid) = sql_rate(&database, sql_qs);
        assert_eq!(pg_valid, snapshot_valid, "PostgreSQL and the snapshot must agree");
        format!(
            "| per-code SQL query, PostgreSQL 127.0.0.1 (regional-validator style) | {SQL_LOOKUPS} | {rate:.0} /s |
"
        )
    });

    let today = chrono::Utc::now().date_naive();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "### Classifier look-ups (`cargo bench --bench nsi_lookup`), {today}\n"
    );
    let _ = writeln!(
        report,
        "Machine: {}. Data: {entries} validity periods in {} classifiers (baseline + synthetic M001 15,000 codes + V001 100,000 codes, a tenth with two periods); questions: random code and date, one in ten about an unknown code. One thread.\n",
        report::machine(),
        classifiers
    );
    let _ = writeln!(report, "| how | look-ups | rate |\n|---|---|---|");
    let _ = writeln!(
        report,
        "| omshub in-memory snapshot (`ClassifierLookup::is_valid`) | {SNAPSHOT_LOOKUPS} | {} |",
        millions(snapshot_rate)
    );
    let _ = writeln!(
        report,
        "| per-code SQL query, SQLite file (regional-validator style) | {SQL_LOOKUPS} | {sqlite_rate:.0} /s |"
    );
    if let Some(line) = &pg_line {
        report.push_str(line);
    }
    let _ = writeln!(
        report,
        "\nTarget: at least 10 M look-ups/s on one core. Snapshot build from the store: {} ms; loading the packets into SQLite: {} ms.",
        build.as_millis(),
        load_sqlite.as_millis()
    );
    println!("{report}");
    report::write_section("nsi_lookup", &report);
}
