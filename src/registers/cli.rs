//! `omshub registers …`: import register packets and export a register as a packet. `main.rs`
//! parses the command line into [`RegistersCommand`] and calls [`run`].
//!
//! Import prints one summary per file (inserted / updated / unchanged / rejected with line and
//! reason) and a progress bar while it runs. Exit status: 0 all entries accepted, 3 some
//! entries rejected, 1 a file refused as a whole.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::RegisterKind;
use super::export::export_packet;
use super::import::{ImportOptions, import_packet};
use crate::config::Settings;
use crate::imports::{FileResult, Progress, report};
use crate::nsi::packet::{OutputEncoding, write_packet};

/// The `registers` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RegistersCommand {
    /// Import register packets (F001 TFOMS, F002 insCompany, F003 medCompany, F004 expert),
    /// windows-1251 or UTF-8. Exit status 3 when some entries were rejected, 1 when a file was
    /// refused as a whole.
    Import {
        /// Packet files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check and count only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Who imports: recorded in the history as `import:<file> by NAME`.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Print the summaries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a register's newest state as a packet file that imports back unchanged.
    Export {
        /// territorial-funds, insurers, medical-organisations or experts (or F001…F004).
        register: String,
        /// Output file; standard output when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// utf-8 or windows-1251.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
    },
}

/// Runs one `registers` subcommand.
pub fn run(command: &RegistersCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let database = crate::db::open_ready(&settings.database)?;
    let mut conn = database.conn()?;
    match command {
        RegistersCommand::Import {
            files,
            dry_run,
            by,
            json,
        } => {
            let mut results = Vec::with_capacity(files.len());
            for path in files {
                let file = path.display().to_string();
                let result = std::fs::read(path)
                    .map_err(|e| ("unreadable_file", e.to_string()))
                    .and_then(|bytes| {
                        let author = author(path, by.as_deref());
                        let progress = Progress::new(0, &file);
                        let summary = import_packet(
                            &mut conn,
                            &bytes,
                            ImportOptions {
                                file: &file,
                                dry_run: *dry_run,
                                author: &author,
                                progress: Some(&progress),
                            },
                        );
                        progress.finish();
                        summary.map_err(|e| (e.code(), e.to_string()))
                    });
                results.push(match result {
                    Ok(summary) => FileResult::Imported(summary),
                    Err((code, message)) => FileResult::Refused {
                        file,
                        code,
                        message,
                    },
                });
            }
            Ok(ExitCode::from(report(&results, *json)?))
        }
        RegistersCommand::Export {
            register,
            out,
            encoding,
        } => {
            let kind = register_named(register)?;
            let encoding = OutputEncoding::from_name(encoding).map_err(anyhow::Error::msg)?;
            let packet = export_packet(&mut conn, kind)?;
            let bytes = write_packet(&packet, encoding)?;
            match out {
                Some(path) => std::fs::write(path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The `changed_by` of an import: `import:<file name>`, with `by NAME` when given.
fn author(path: &Path, by: Option<&str>) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match by {
        Some(by) => format!("import:{name} by {by}"),
        None => format!("import:{name}"),
    }
}

/// The register named on the command line: its URL name or its classifier code.
fn register_named(name: &str) -> anyhow::Result<RegisterKind> {
    RegisterKind::from_slug(name)
        .or_else(|| {
            RegisterKind::ALL
                .into_iter()
                .find(|k| k.classifier().eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = RegisterKind::ALL.iter().map(|k| k.slug()).collect();
            anyhow::anyhow!("no register `{name}`; use one of {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_authors() {
        assert_eq!(register_named("insurers").unwrap(), RegisterKind::Insurers);
        assert_eq!(
            register_named("f003").unwrap(),
            RegisterKind::MedicalOrganisations
        );
        assert!(register_named("banks").is_err());
        assert_eq!(author(Path::new("/tmp/F002.xml"), None), "import:F002.xml");
        assert_eq!(
            author(Path::new("F002.xml"), Some("ivanova")),
            "import:F002.xml by ivanova"
        );
    }
}
