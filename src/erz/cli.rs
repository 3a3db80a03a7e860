//! `omshub erz …`: the register of insured persons from the command line. `apply FILE`
//! applies an insurer's OPLIST (see `erz::apply`) and writes the REPLIST and the `FLK_P` beside
//! it (or into `--out`). Exit status 0 when the file was applied (some records may be
//! refused: the REPLIST says which), 1 when it was refused as a whole or could not be read.
//! `import FILE` bulk-loads persons from a CSV file or a RECLIST (see `erz::import`); exit
//! status 0 when every row was loaded or already present, 3 when some rows were refused (each
//! printed with its line and code), 1 when the file could not be imported.
//! `main.rs` parses [`ErzCommand`] and calls [`run`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::apply::{FileResult, apply_path};
use super::import::{DEFAULT_BATCH, Format, ImportOptions, import_path};
use crate::config::Settings;
use crate::validate::Validator;

/// The `erz` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ErzCommand {
    /// Apply an insurer's OPLIST (i….xml): each OP applied or refused, a REPLIST (p….xml) and
    /// an FLK_P (f….xml) written back. The same file again changes nothing.
    Apply {
        /// The OPLIST file.
        file: PathBuf,
        /// Folder for the REPLIST and the FLK_P (default: the file's folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Bulk-load persons (an initial register) from a CSV file (layout in docs/ERZ.md) or a
    /// RECLIST. Resumes a stopped load of the same file after its last committed batch; the
    /// same file again imports nothing.
    Import {
        /// The file.
        file: PathBuf,
        /// The file's format.
        #[arg(long, value_enum, default_value = "csv")]
        format: ImportFormat,
        /// Rows per committed batch (one transaction each).
        #[arg(long, default_value_t = DEFAULT_BATCH)]
        batch_size: usize,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The formats of `erz import`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    /// `;`-separated, with the header line of docs/ERZ.md.
    Csv,
    /// A RECLIST of formats.md 4.1.
    Reclist,
}

/// Runs one `erz` subcommand.
pub fn run(command: &ErzCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        ErzCommand::Apply { file, out } => {
            let database = crate::db::open_ready(&settings.database)?;
            let mut conn = database.conn()?;
            let validator = Validator::new(crate::xml::schemas::ALL)?;
            let now = crate::participants::now();
            let result = apply_path(&mut conn, &validator, file, now)
                .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))
                .with_context(|| format!("applying {}", file.display()))?;
            let dir = out
                .clone()
                .or_else(|| file.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            write_answers(&dir, &result)?;
            print!("{}", summary(&result));
            Ok(if result.status == "applied" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ErzCommand::Import {
            file,
            format,
            batch_size,
            json,
        } => {
            let database = crate::db::open_ready(&settings.database)?;
            let mut conn = database.conn()?;
            let validator = Validator::new(crate::xml::schemas::ALL)?;
            let options = ImportOptions {
                format: match format {
                    ImportFormat::Csv => Format::Csv,
                    ImportFormat::Reclist => Format::Reclist,
                },
                batch_size: *batch_size,
                progress: !json,
            };
            let name = file.display().to_string();
            let result = match import_path(
                &mut conn,
                &validator,
                file,
                options,
                crate::participants::now(),
            ) {
                Ok(outcome) => {
                    if !json {
                        if outcome.already_done {
                            println!("{name}: imported before: nothing to do");
                        } else if let Some(line) = outcome.resumed_after {
                            println!("{name}: resumed after line {line}");
                        }
                    }
                    crate::imports::FileResult::Imported(outcome.summary)
                }
                Err(e) => crate::imports::FileResult::Refused {
                    file: name,
                    code: e.code(),
                    message: e.to_string(),
                },
            };
            let status = crate::imports::report(&[result], *json)?;
            Ok(ExitCode::from(status))
        }
    }
}

fn write_answers(dir: &Path, result: &FileResult) -> anyhow::Result<()> {
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let (Some(name), Some(reply)) = (&result.reply_name, &result.reply) {
        let path = dir.join(name);
        std::fs::write(&path, reply).with_context(|| format!("writing {}", path.display()))?;
    }
    let path = dir.join(&result.protocol_name);
    std::fs::write(&path, &result.protocol)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What the command prints.
#[must_use]
pub fn summary(r: &FileResult) -> String {
    let repeat = if r.repeated {
        "repeat of a file already applied: nothing changed\n"
    } else {
        ""
    };
    match &r.reply_name {
        Some(reply) => format!(
            "{repeat}applied: {} records, {} accepted (AA), {} refused (AE/AR); reply {reply}, protocol {}\n",
            r.records, r.accepted, r.refused, r.protocol_name
        ),
        None => format!(
            "{repeat}refused as a whole: see protocol {}\n",
            r.protocol_name
        ),
    }
}
