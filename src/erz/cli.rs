//! `omshub erz …`: the register of insured persons from the command line. `apply FILE`
//! applies an insurer's OPLIST (see `erz::apply`) and writes the REPLIST and the `FLK_P` beside
//! it (or into `--out`). Exit status 0 when the file was applied (some records may be
//! refused: the REPLIST says which), 1 when it was refused as a whole or could not be read.
//! `export reclist|stoplist|conflictlist --insurer CODE --from DATE --to DATE` writes a list
//! for an insurer (see `erz::lists`) into `--out` (default: the current folder).
//! `main.rs` parses [`ErzCommand`] and calls [`run`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;

use super::apply::{FileResult, apply_path};
use super::lists::{ListKind, produce};
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
    /// Write a list for an insurer: RECLIST (r….xml, the changes of the period that concern
    /// it), STOPLIST (s….xml, its insured whose insurance ended) or CONFLICTLIST (c….xml).
    Export {
        /// Which list.
        #[arg(value_enum)]
        list: ExportList,
        /// The insurer (F002 code).
        #[arg(long, value_name = "CODE")]
        insurer: String,
        /// First day of the period (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        /// Last day of the period (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
        /// Folder for the file (default: the current folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// The lists `erz export` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportList {
    /// RECLIST.
    Reclist,
    /// STOPLIST.
    Stoplist,
    /// CONFLICTLIST.
    Conflictlist,
}

impl From<ExportList> for ListKind {
    fn from(l: ExportList) -> Self {
        match l {
            ExportList::Reclist => Self::Reclist,
            ExportList::Stoplist => Self::Stoplist,
            ExportList::Conflictlist => Self::Conflictlist,
        }
    }
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
        ErzCommand::Export {
            list,
            insurer,
            from,
            to,
            out,
        } => {
            let database = crate::db::open_ready(&settings.database)?;
            let mut conn = database.conn()?;
            let now = crate::participants::now();
            let file = produce(&mut conn, (*list).into(), insurer, *from, *to, "cli", now)
                .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
            let dir = out.clone().unwrap_or_default();
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let path = dir.join(&file.name);
            std::fs::write(&path, &file.content)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "{}: {} records, written to {}",
                file.name,
                file.records,
                path.display()
            );
            Ok(ExitCode::SUCCESS)
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
