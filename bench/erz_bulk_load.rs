//! The bulk load of the register of insured persons (`omshub erz import`) on SQLite and on
//! PostgreSQL, in rows per second, against the plain load of the same CSV rows into a bare
//! table of text columns by the databases' own tools: `sqlite3 .import` and psql `\copy`.
//!
//! Run: `cargo bench --bench erz_bulk_load` (release). `OMSHUB_BENCH_PERSONS` persons (default
//! 1,000,000) are generated as `omshub gen persons --seed 1` writes them; the register is
//! loaded in process through `erz::import::import_path` (the CLI's code path, default batch and writers)
//! into a fresh SQLite file and a fresh PostgreSQL database (`OMSHUB_BENCH_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, where a scratch database is created and
//! dropped). Needs the `sqlite3` and `psql` programs (`apt-get install -y sqlite3
//! postgresql-client`). Writes its table to docs/PERFORMANCE.md between the `erz_bulk_load`
//! markers. Target: at least half the rows/s of the plain COPY.

#[path = "register.rs"]
mod register;
#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use omshub::erz::import::DEFAULT_BATCH;
use omshub::validate::Validator;

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "rates for a report"
)]
fn per_second(n: u64, seconds: f64) -> f64 {
    n as f64 / seconds
}

#[expect(clippy::float_arithmetic, reason = "a ratio for a report")]
fn ratio(a: f64, b: f64) -> f64 {
    a / b
}

/// The bare table the peers load: the 26 CSV columns as text.
fn bare_table() -> String {
    let columns: Vec<String> = omshub::erz::import::CSV_HEADER
        .split(';')
        .map(|c| format!("{c} TEXT"))
        .collect();
    format!("CREATE TABLE bare ({})", columns.join(", "))
}

/// The rows of the register's tables a load writes (persons and their five fact tables).
fn rows_written(conn: &mut omshub::db::DbConn) -> u64 {
    use diesel::prelude::*;
    use omshub::db::schema::{
        erz_address, erz_attachment, erz_document, erz_insurance, erz_person, erz_person_version,
    };
    let counts: [i64; 6] = [
        erz_person::table.count().get_result(conn).unwrap_or(0),
        erz_person_version::table
            .count()
            .get_result(conn)
            .unwrap_or(0),
        erz_document::table.count().get_result(conn).unwrap_or(0),
        erz_address::table.count().get_result(conn).unwrap_or(0),
        erz_insurance::table.count().get_result(conn).unwrap_or(0),
        erz_attachment::table.count().get_result(conn).unwrap_or(0),
    ];
    counts.iter().map(|n| u64::try_from(*n).unwrap_or(0)).sum()
}

/// Loads `csv` into the register at `url`: (seconds, persons inserted, rows written).
fn load(url: &str, csv: &Path, validator: &Validator) -> (f64, u64, u64) {
    let (seconds, outcome, mut conn) = register::load(url, csv, validator);
    (
        seconds,
        outcome.summary.inserted as u64,
        rows_written(&mut conn),
    )
}

fn run_ok(cmd: &mut Command, what: &str) -> f64 {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Figures {
    persons: u64,
    csv_mb: u64,
    generated: f64,
    sqlite_s: f64,
    dot_import_s: f64,
    pg_s: f64,
    copy_s: f64,
    /// Rows omshub wrote into the register's six tables.
    sqlite_rows: u64,
    pg_rows: u64,
}

fn report(f: &Figures, note: &str) -> String {
    let Figures {
        persons,
        csv_mb,
        generated,
        sqlite_s,
        dot_import_s,
        pg_s,
        copy_s,
        sqlite_rows,
        pg_rows,
    } = *f;
    let mut out = register::heading(
        "Bulk load of the register of insured persons (`cargo bench --bench erz_bulk_load`)",
        note,
    );
    let _ = writeln!(
        out,
        "Machine: {}. Data: `omshub gen persons --count {persons} --seed 1`, {csv_mb} MB of CSV (generated in {generated:.0} s). omshub: `erz import` in process into an empty register (an initial load: the non-unique indexes and foreign keys of the fact tables are set aside and built again at the end, included in the time), batches of {DEFAULT_BATCH} lines, each batch one transaction writing up to 6 rows per person (person, person version, document, registration address, insurance episode, attachment) plus the journal; multi-row INSERTs on SQLite, binary COPY on PostgreSQL; every line checked (ENP, SNILS, dates, codes, repeats). Peers: the same CSV into a bare table of 26 text columns (no index, no check), one row per person.\n",
        report::machine(),
    );
    let _ = writeln!(
        out,
        "| backend | loader | time | persons (CSV lines)/s | omshub / peer | table rows written | table rows/s |\n|---|---|---|---|---|---|---|"
    );
    let sqlite_rate = per_second(persons, sqlite_s);
    let dot_import_rate = per_second(persons, dot_import_s);
    let pg_rate = per_second(persons, pg_s);
    let copy_rate = per_second(persons, copy_s);
    let _ = writeln!(
        out,
        "| SQLite | `omshub erz import` | {sqlite_s:.1} s | {sqlite_rate:.0} | {:.2} | {sqlite_rows} | {:.0} |",
        ratio(sqlite_rate, dot_import_rate),
        per_second(sqlite_rows, sqlite_s)
    );
    let _ = writeln!(
        out,
        "| SQLite | `sqlite3 .import` (bare table) | {dot_import_s:.1} s | {dot_import_rate:.0} | | {persons} | {dot_import_rate:.0} |"
    );
    let _ = writeln!(
        out,
        "| PostgreSQL | `omshub erz import` | {pg_s:.1} s | {pg_rate:.0} | {:.2} | {pg_rows} | {:.0} |",
        ratio(pg_rate, copy_rate),
        per_second(pg_rows, pg_s)
    );
    let _ = writeln!(
        out,
        "| PostgreSQL | psql `\\copy` (bare table) | {copy_s:.1} s | {copy_rate:.0} | | {persons} | {copy_rate:.0} |"
    );
    let _ = writeln!(
        out,
        "\nTarget: at least half the rows/s of the plain COPY (ratio ≥ 0.50), counted in persons (the CSV's rows); the last column counts what each loader writes into its tables."
    );
    out
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: never run there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("erz_bulk_load runs only under `cargo bench --bench erz_bulk_load`");
        return;
    }
    let persons = std::env::var("OMSHUB_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let admin = std::env::var("OMSHUB_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let note = std::env::var("OMSHUB_BENCH_NOTE").unwrap_or_default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let csv = dir.path().join("persons.csv");
    let started = Instant::now();
    register::persons_csv(&csv, persons);
    let generated = started.elapsed().as_secs_f64();
    let csv_mb = std::fs::metadata(&csv).map_or(0, |m| m.len()) / 1_000_000;
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap_or_else(|e| panic!("{e}"));

    // SQLite: omshub, then sqlite3 .import into a bare table of another file.
    let sqlite_url = dir.path().join("db/omshub.sqlite3").display().to_string();
    let (sqlite_s, inserted, sqlite_rows) = load(&sqlite_url, &csv, &validator);
    assert_eq!(inserted, persons);
    let bare_db = dir.path().join("bare.sqlite3");
    let script = format!(
        "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n{};\n.separator ;\n.import --skip 1 {} bare\n",
        bare_table(),
        csv.display()
    );
    let script_path = dir.path().join("import.sql");
    std::fs::write(&script_path, script).unwrap_or_else(|e| panic!("{e}"));
    let dot_import_s = run_ok(
        Command::new("sqlite3")
            .arg(&bare_db)
            .arg(format!(".read {}", script_path.display())),
        "sqlite3 .import",
    );

    // PostgreSQL: a scratch database; omshub, then psql \copy into a bare table.
    let name = format!("omshub_bench_erz_{}", std::process::id());
    let mut pg = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| panic!("{e}"));
    pg.batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut url = url::Url::parse(&admin).unwrap_or_else(|e| panic!("{e}"));
    url.set_path(&format!("/{name}"));
    let pg_url = url.to_string();
    let (pg_s, inserted, pg_rows) = load(&pg_url, &csv, &validator);
    assert_eq!(inserted, persons);
    run_ok(
        Command::new("psql")
            .arg(&pg_url)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(bare_table()),
        "psql create",
    );
    let copy_s = run_ok(
        Command::new("psql")
            .arg(&pg_url)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "\\copy bare FROM '{}' WITH (FORMAT csv, DELIMITER ';', HEADER true)",
                csv.display()
            )),
        "psql \\copy",
    );
    drop(pg);
    if let Ok(mut pg) = diesel::PgConnection::establish(&admin) {
        let _ = pg.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    }

    let figures = Figures {
        persons,
        csv_mb,
        generated,
        sqlite_s,
        dot_import_s,
        pg_s,
        copy_s,
        sqlite_rows,
        pg_rows,
    };
    let out = report(&figures, &note);
    println!("{out}");
    report::write_section("erz_bulk_load", &out);
}
