//! Schema check plus business rules over a generated account package, against the schema check
//! alone on the same package: wall time and peak memory of each, in process.
//!
//! Run: `cargo bench --bench rules_throughput` (release). The package (H 3.2 + L 3.2 in a ZIP,
//! `OMSHUB_BENCH_CASES` cases, default 1,000,000, with a few rule defects) is generated into a
//! temporary folder; the look-ups come from a temporary SQLite database with the baseline
//! classifiers, as `settlement::open_checker` builds them for intake. Peak memory is the
//! process's `VmHWM`, reset through `/proc/self/clear_refs` before each run (Linux). Writes its
//! table to docs/PERFORMANCE.md between the `rules_throughput` markers.

#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use omshub::r#gen::{AccountsOptions, RuleDefects, write_package};
use omshub::validate::Validator;
use omshub::validate::package::{PackageLimits, check_package, check_package_into};
use omshub::validate::records::Item;

/// Resets the peak resident size (Linux `clear_refs` 5); false where it is not supported.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident size since the last reset, in MB.
fn peak_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn memory(reset: bool, mb: Option<u64>) -> String {
    match (reset, mb) {
        (true, Some(mb)) => format!("{mb} MB"),
        _ => "n/a".into(),
    }
}

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "rates for a report"
)]
fn per_second(n: u64, seconds: f64) -> f64 {
    n as f64 / seconds
}

/// The look-ups, as intake gets them: a database in `dir` with the baseline classifiers.
fn lookups(dir: &Path) -> (omshub::db::Database, omshub::lookups::Lookups) {
    let mut settings =
        omshub::config::Settings::load_without_env(None).unwrap_or_else(|e| panic!("{e}"));
    settings.database.url = dir.join("db/omshub.sqlite3").display().to_string();
    let (db, _) = omshub::db::migrate(&settings.database).unwrap_or_else(|e| panic!("{e}"));
    omshub::nsi::prepare(&db, &settings.nsi).unwrap_or_else(|e| panic!("{e}"));
    let lookups = omshub::lookups::Lookups::default();
    lookups.refresh(&db, true).unwrap_or_else(|e| panic!("{e}"));
    (db, lookups)
}

#[expect(
    clippy::too_many_lines,
    reason = "one measured run, written out step by step"
)]
fn main() {
    let cases = std::env::var("OMSHUB_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut options = AccountsOptions::new(cases, 1).unwrap_or_else(|e| panic!("{e}"));
    options.rule_defects = RuleDefects::parse("sumv=10,duplicate=10,episode=10,facet=10")
        .unwrap_or_else(|e| panic!("{e}"));
    let gen_started = Instant::now();
    let package = write_package(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    let generated = gen_started.elapsed().as_secs_f64();
    let [h, l, zip] = &package.files;
    let zip_name = zip
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let (db, lookups) = lookups(dir.path());
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap_or_else(|e| panic!("{e}"));
    let limits = PackageLimits::default();
    let open = |p: &Path| std::fs::File::open(p).unwrap_or_else(|e| panic!("{e}"));

    let reset = reset_peak();
    let started = Instant::now();
    let schema = check_package(&validator, &zip_name, open(&zip.path), &limits)
        .unwrap_or_else(|e| panic!("{e}"));
    let schema_s = started.elapsed().as_secs_f64();
    let schema_mb = peak_mb();
    assert!(
        schema.accepted,
        "the generated package passes the schema check"
    );

    let reset = reset && reset_peak();
    let started = Instant::now();
    let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
    let mut checker = omshub::settlement::open_checker(
        &mut conn,
        &lookups,
        omshub::validate::rules::Options {
            as_of: None,
            today: chrono::Utc::now().date_naive(),
            sender: Some(options.mo.to_string()),
        },
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut feed = |item: Item| checker.item(&item);
    let full = check_package_into(
        &validator,
        &zip_name,
        open(&zip.path),
        &limits,
        Some(&mut feed),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = checker.finish(0);
    let rules_s = started.elapsed().as_secs_f64();
    let rules_mb = peak_mb();
    assert!(full.accepted && outcome.accepted);
    let t = &outcome.totals;

    let today = chrono::Utc::now().date_naive();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Schema check and business rules of an account package (`cargo bench --bench rules_throughput`), {today}\n"
    );
    let _ = writeln!(
        out,
        "Machine: {}. Package: `omshub gen accounts --cases {cases} --seed 1` with 40 rule defects: H {} MB, L {} MB, ZIP {} MB (generated in {generated:.0} s). Look-ups: the baseline classifiers from a SQLite database, no registers, no earlier cases.\n",
        report::machine(),
        h.bytes / 1_000_000,
        l.bytes / 1_000_000,
        zip.bytes / 1_000_000
    );
    let _ = writeln!(
        out,
        "| check | time | cases/s | peak memory |\n|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| schema only (`check_package`) | {schema_s:.1} s | {:.0} | {} |",
        per_second(cases, schema_s),
        memory(reset, schema_mb)
    );
    let _ = writeln!(
        out,
        "| schema + rules (`check_package_into` + `rules::Checker`) | {rules_s:.1} s | {:.0} | {} |",
        per_second(cases, rules_s),
        memory(reset, rules_mb)
    );
    let _ = writeln!(
        out,
        "\nOutcome: {} paid, {} partly paid, {} refused, {} findings. Targets: schema + rules under 60 s, peak memory under 256 MB apart from the look-up snapshot.",
        t.paid,
        t.partly_paid,
        t.refused,
        outcome.findings.len()
    );
    // Every finding should be one of an injected defect; any other is named, with the record,
    // so a coincidence of the generated data or a fault of a rule can be told apart.
    let expected: std::collections::HashSet<(u64, &str)> = package
        .rule_defects
        .iter()
        .flat_map(|(n, d)| d.rules().iter().map(move |r| (*n, *r)))
        .collect();
    let unexpected: Vec<String> = outcome
        .findings
        .iter()
        .filter(|f| !expected.contains(&(f.finding.context.n_zap.unwrap_or(0), f.rule.id)))
        .map(|f| {
            format!(
                "N_ZAP {} {}: {}",
                f.finding.context.n_zap.unwrap_or(0),
                f.rule.id,
                f.finding.message
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "Findings beyond the {} injected defects: {}.",
        package.rule_defects.len(),
        if unexpected.is_empty() {
            "none".to_owned()
        } else {
            unexpected.join("; ")
        }
    );
    println!("{out}");
    report::write_section("rules_throughput", &out);
}
