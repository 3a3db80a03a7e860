//! Shared by the benchmarks of the register of insured persons (`erz_bulk_load`,
//! `policy_status`): the settings for a database URL, the generated persons, their load by
//! `erz import`, and the heading of a report.

use std::path::Path;
use std::time::Instant;

use omshub::domain::TfomsCode;
use omshub::erz::import::{
    DEFAULT_BATCH, DEFAULT_WRITERS, Format, ImportOptions, ImportOutcome, import_path,
};
use omshub::validate::Validator;

/// The default settings with the database at `url`.
pub fn settings(url: &str) -> omshub::config::Settings {
    let mut s = omshub::config::Settings::load_without_env(None).unwrap_or_else(|e| panic!("{e}"));
    url.clone_into(&mut s.database.url);
    s
}

/// Writes `persons` persons to `csv` as `omshub gen persons --seed 1` does (territory 75).
pub fn persons_csv(csv: &Path, persons: u64) {
    let file = std::fs::File::create(csv).unwrap_or_else(|e| panic!("{e}"));
    let mut w = std::io::BufWriter::new(file);
    let tf = TfomsCode::parse("75").unwrap_or_else(|e| panic!("{e}"));
    omshub::r#gen::write_persons_csv(&mut w, persons, 1, &tf).unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::flush(&mut w).unwrap_or_else(|e| panic!("{e}"));
}

/// Migrates the database at `url` and loads `csv` into its register as the CLI does (default
/// batch and writers, no refusal allowed): the seconds the load took, its outcome, and the connection.
pub fn load(
    url: &str,
    csv: &Path,
    validator: &Validator,
) -> (f64, ImportOutcome, omshub::db::PooledConn) {
    let (db, _) = omshub::db::migrate(&settings(url).database).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let outcome = import_path(
        &db,
        validator,
        csv,
        ImportOptions {
            format: Format::Csv,
            batch_size: DEFAULT_BATCH,
            progress: false,
            writers: DEFAULT_WRITERS,
        },
        omshub::participants::now(),
    )
    .unwrap_or_else(|e| panic!("[{}] {e}", e.code()));
    let seconds = started.elapsed().as_secs_f64();
    assert!(outcome.summary.rejected.is_empty(), "{}", outcome.summary);
    let conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
    (seconds, outcome, conn)
}

/// The heading of a report, `### TITLE, today`, with the run's note (if any) in bold.
pub fn heading(title: &str, note: &str) -> String {
    let today = chrono::Utc::now().date_naive();
    let mut out = format!("### {title}, {today}\n\n");
    if !note.is_empty() {
        out.push_str("**");
        out.push_str(note);
        out.push_str("**\n\n");
    }
    out
}
