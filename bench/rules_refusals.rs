//! A package whose every case the business rules refuse, checked by a child `omshub validate
//! --rules --format flk` process as an operator runs it: wall time, peak resident memory of
//! the child and the size of the rules' protocol, with the findings under the cap (the
//! default `--max-findings`, 1000) and without a cap (`--max-findings` above the count, as
//! every finding was kept before issue 21). Memory must not grow with the count of findings.
//!
//! Run: `cargo bench --bench rules_refusals` (release). `OMSHUB_BENCH_CASES` cases (default
//! 1,000,000) are generated for the reporting month 2099-01, so every case ends after the day
//! of the check and OMSH.00.0405 refuses it: one finding per case. `OMSHUB_BENCH_UNCAPPED=0`
//! skips the run without a cap. The classifiers come from a temporary SQLite database with the
//! baseline. The child's peak is `/usr/bin/time -f %M` (GNU time; "n/a" without it). Writes
//! its table to docs/PERFORMANCE.md between the `rules_refusals` markers.

#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use omshub::domain::Period;
use omshub::r#gen::{AccountsOptions, write_package};

/// What one child run gave.
struct Run {
    seconds: f64,
    peak_mb: Option<u64>,
    protocol_mb: f64,
    listed: usize,
    summarised: Option<u64>,
}

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "sizes for a report"
)]
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// `omshub validate --rules --format flk --max-findings <max> <zip>` against the database
/// `db`, its protocols written to `out`.
fn run(zip: &Path, db: &Path, out: &Path, max: u64) -> Run {
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{e}"));
    let rss = out.join("peak_kib");
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss);
        c.arg(env!("CARGO_BIN_EXE_omshub"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_omshub"))
    };
    for (key, _) in std::env::vars() {
        if key.starts_with("OMSHUB__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OMSHUB__DATABASE__URL", db)
        .args(["validate", "--rules", "--format", "flk", "--max-findings"])
        .arg(max.to_string())
        .arg("--out")
        .arg(out)
        .arg(zip);
    let started = Instant::now();
    let output = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "omshub validate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let peak_mb = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|s| s.trim().lines().last()?.trim().parse::<u64>().ok())
        .map(|kib| kib / 1024);
    let stem = zip
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let protocol = out.join(format!("V{stem}.rules.xml"));
    let bytes = std::fs::read(&protocol).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&bytes);
    let listed = text.matches("<PR>").count();
    let summarised = text
        .split("<OSHIB>OMSH.00.0001</OSHIB>")
        .nth(1)
        .and_then(|rest| rest.split("<ZN_POL>").nth(1))
        .and_then(|rest| rest.split("</ZN_POL>").next())
        .and_then(|n| n.parse().ok());
    Run {
        seconds,
        peak_mb,
        protocol_mb: megabytes(bytes.len() as u64),
        listed,
        summarised,
    }
}

fn main() {
    let cases = std::env::var("OMSHUB_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let uncapped = !matches!(std::env::var("OMSHUB_BENCH_UNCAPPED").as_deref(), Ok("0"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut options = AccountsOptions::new(cases, 1).unwrap_or_else(|e| panic!("{e}"));
    options.period = Period::new(2099, 1).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let package = write_package(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    let generated = started.elapsed().as_secs_f64();
    let zip = &package.files[2];

    // The database the child reads its classifiers from.
    let mut settings =
        omshub::config::Settings::load_without_env(None).unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("db/omshub.sqlite3");
    settings.database.url = db.display().to_string();
    let (database, _) = omshub::db::migrate(&settings.database).unwrap_or_else(|e| panic!("{e}"));
    omshub::nsi::prepare(&database, &settings.nsi).unwrap_or_else(|e| panic!("{e}"));
    drop(database);

    // One finding per case: the listed ones and the summary's count make every case, so
    // every case was refused.
    let capped = run(&zip.path, &db, &dir.path().join("capped"), 1000);
    if cases > 1000 {
        assert_eq!(capped.listed, 1001, "the cap and the summary");
        assert_eq!(capped.summarised, Some(cases - 1000));
    }
    let all = uncapped.then(|| run(&zip.path, &db, &dir.path().join("all"), cases + 1));
    if let Some(all) = &all {
        assert_eq!(all.listed as u64, cases, "one finding per case");
    }

    let today = chrono::Utc::now().date_naive();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### A million refused cases (`cargo bench --bench rules_refusals`), {today}\n"
    );
    let _ = writeln!(
        out,
        "Machine: {}. Package: `omshub gen accounts --cases {cases} --seed 1 --period 2099-01`: ZIP {} MB (generated in {generated:.0} s); every case ends after the day of the check, so OMSH.00.0405 refuses each, one finding per case. Command: `/usr/bin/time -f %M omshub validate --rules --format flk --max-findings N --out DIR <zip>` (a child process; peak = its maximum resident set).\n",
        report::machine(),
        zip.bytes / 1_000_000
    );
    let _ = writeln!(
        out,
        "| findings listed | time | peak memory | rules protocol | PR in it | counted in the summary |\n|---|---|---|---|---|---|"
    );
    let row = |out: &mut String, what: &str, r: &Run| {
        let _ = writeln!(
            out,
            "| {what} | {:.1} s | {} | {:.1} MB | {} | {} |",
            r.seconds,
            r.peak_mb
                .map_or_else(|| "n/a".to_owned(), |mb| format!("{mb} MB")),
            r.protocol_mb,
            r.listed,
            r.summarised
                .map_or_else(|| "–".to_owned(), |n| n.to_string())
        );
    };
    row(&mut out, "at most 1000 (`--max-findings` default)", &capped);
    if let Some(all) = &all {
        row(&mut out, "all (no cap, as before issue 21)", all);
    }
    let _ = writeln!(
        out,
        "\nEvery case is decided either way (OPLATA 2 for all {cases}); only the listing is capped."
    );
    println!("{out}");
    report::write_section("rules_refusals", &out);
}
