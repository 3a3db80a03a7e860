//! `omshub nsi …`: import classifier packets, list the store, export a classifier. `main.rs`
//! parses the command line into [`NsiCommand`] and calls [`run`].
//!
//! Import prints one summary per file (inserted / updated / unchanged / rejected with line and
//! reason) and a progress bar while it runs. Exit status: 0 all entries accepted, 3 some
//! entries rejected, 1 a file refused as a whole.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::packet::{OutputEncoding, write_packet};
use super::store;
use crate::config::Settings;
use crate::imports::report;

/// The `nsi` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum NsiCommand {
    /// Import classifier packet files (windows-1251 or UTF-8). Exit status 3 when some entries
    /// were rejected, 1 when a file was refused as a whole.
    Import {
        /// Packet files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The classifier the files hold, when their zglv/type or name does not say it.
        #[arg(long, value_name = "ID")]
        classifier: Option<String>,
        /// Check and count only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Name recorded as the importer in the import log.
        #[arg(long, default_value = "cli")]
        by: String,
        /// Print the summaries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the classifiers in the store.
    List,
    /// Write a classifier's current entries as a packet file.
    Export {
        /// Classifier id, e.g. V006.
        id: String,
        /// Only entries valid on this date (YYYY-MM-DD).
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        /// Output file; standard output when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// utf-8 or windows-1251.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
    },
}

/// Runs one `nsi` subcommand.
pub fn run(command: &NsiCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let database = crate::db::open_ready(&settings.database)?;
    match command {
        NsiCommand::Import {
            files,
            classifier,
            dry_run,
            by,
            json,
        } => {
            let results =
                super::import_files(&database, files, classifier.as_deref(), *dry_run, by)?;
            Ok(ExitCode::from(report(&results, *json)?))
        }
        NsiCommand::List => {
            let mut conn = database.conn()?;
            for c in store::classifiers(&mut conn)? {
                println!(
                    "{}\t{}\t{} entries\tversion {}\t{}",
                    c.id,
                    c.title,
                    c.entries,
                    c.version.as_deref().unwrap_or("-"),
                    c.last_import.map(|t| t.to_string()).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        NsiCommand::Export {
            id,
            on,
            out,
            encoding,
        } => {
            let encoding = OutputEncoding::from_name(encoding).map_err(anyhow::Error::msg)?;
            let id = id.to_ascii_uppercase();
            let mut conn = database.conn()?;
            if !store::has_classifier(&mut conn, &id)? {
                anyhow::bail!("classifier {id} is not loaded");
            }
            let bytes = write_packet(&store::export(&mut conn, &id, *on)?, encoding)?;
            match out {
                Some(path) => std::fs::write(path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
