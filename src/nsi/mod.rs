//! The classifier store (НСИ): ФФОМС classifier packets in, "is code X of classifier Y valid
//! on date D?" out.
//!
//! - `packet`: reads and writes packet files (windows-1251 or UTF-8).
//! - `definitions`: the classifiers the hub knows by name, with their key and name columns.
//! - `store`: the database side (the only writer of the `nsi_*` tables): import with history,
//!   queries, export.
//! - `baseline`: the classifiers built into the binary and loaded on first start.
//! - `lookup`: the `ClassifierLookup` trait validation rules use, and the in-memory snapshot
//!   behind it.
//!
//! Called by the CLI (`omshub nsi …`), the API (`/api/v1/nsi`), `serve` (baseline, snapshot
//! refresh) and, through `ClassifierLookup`, by validation.

pub mod baseline;
pub mod cli;
pub mod definitions;
pub mod lookup;
pub mod packet;
pub mod store;

pub use lookup::{ClassifierLookup, CodeStatus, NsiSnapshot};
pub use store::{CodeOnDate, Entry, ImportRequest, NsiError};

use crate::db::{Database, DbError};
use crate::imports::FileResult;
use crate::lookups::Lookups;

/// Rebuilds the look-up snapshot from the store when the store's revision differs from the
/// snapshot's, or always with `force`. Returns whether it rebuilt.
pub fn refresh_snapshot(db: &Database, lookups: &Lookups, force: bool) -> Result<bool, DbError> {
    let mut conn = db.conn()?;
    let revision = store::revision(&mut conn)?;
    if !force && revision == lookups.nsi().revision() {
        return Ok(false);
    }
    let rows = store::all_validity(&mut conn)?;
    let snapshot = NsiSnapshot::build(rows, revision);
    tracing::info!(
        revision,
        entries = snapshot.entries(),
        "classifier look-up snapshot rebuilt"
    );
    lookups.replace_nsi(snapshot);
    Ok(true)
}

/// What `migrate` and `serve` do for the store after the schema is up to date: load the
/// baseline classifiers the store lacks (when `nsi.load_baseline`). Returns what each baseline
/// import did.
pub fn prepare(
    db: &Database,
    settings: &crate::config::NsiSettings,
) -> anyhow::Result<Vec<crate::imports::FileSummary>> {
    if !settings.load_baseline {
        return Ok(Vec::new());
    }
    let mut conn = db.conn()?;
    Ok(baseline::load_missing(&mut conn)?)
}

/// Imports packet files one after the other (each file is its own transaction), with a
/// progress bar per file on a terminal.
pub fn import_files(
    db: &Database,
    files: &[std::path::PathBuf],
    classifier: Option<&str>,
    dry_run: bool,
    by: &str,
) -> Result<Vec<FileResult>, DbError> {
    let mut conn = db.conn()?;
    let mut results = Vec::with_capacity(files.len());
    for path in files {
        let file = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                results.push(FileResult::Refused {
                    file,
                    code: "unreadable_file",
                    message: e.to_string(),
                });
                continue;
            }
        };
        let progress = crate::imports::Progress::new(0, &file);
        let outcome = store::import_packet(
            &mut conn,
            ImportRequest {
                bytes: &bytes,
                source: &file,
                classifier,
                dry_run,
                by,
                progress: Some(&progress),
            },
        );
        progress.finish();
        results.push(match outcome {
            Ok(summary) => FileResult::Imported(summary),
            Err(NsiError::Db(e)) => return Err(DbError::Query(e)),
            Err(e) => FileResult::Refused {
                file,
                code: e.code(),
                message: e.to_string(),
            },
        });
    }
    Ok(results)
}
