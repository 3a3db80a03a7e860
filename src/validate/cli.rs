//! `omshub validate`: checks exchange files against the federal formats and prints a report
//! per file. `main.rs` parses the command line into [`ValidateArgs`] and calls [`run`].
//!
//! Exit status: 0 when every file is accepted, 1 when any is refused, 2 when a file cannot be
//! read or the arguments are wrong.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::schema::Limits;
use super::{FileReport, Validator};

/// Exit status when a file is refused.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status when a file cannot be read.
pub const EXIT_UNREADABLE: u8 = 2;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable report for a person.
    Text,
    /// One JSON object per file per line.
    Json,
    /// The FLK_P protocol file of each file (`V` + its name, windows-1251), written to `--out`.
    Flk,
}

/// Arguments of `omshub validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Stop after the schema check (business rules come with a later issue; today this is
    /// the only check, so the flag changes nothing yet).
    #[arg(long)]
    pub schema_only: bool,
    /// Folder the `flk` protocols are written to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Findings listed per file at most (the rest are counted).
    #[arg(long, default_value_t = 1000)]
    pub max_findings: usize,
    /// Exchange files (.xml).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A readable report of one file.
#[must_use]
pub fn render_text(report: &FileReport) -> String {
    let what = match report.schema {
        Some(schema) => format!("{} {} ({schema})", report.kind, report.version),
        None => report.kind.clone(),
    };
    let mut out = if report.accepted {
        format!(
            "{}: {what}, {} records: accepted",
            report.file, report.records
        )
    } else {
        format!(
            "{}: {what}, {} records: refused, {} findings in {} records",
            report.file,
            report.records,
            report.findings.len() + usize::try_from(report.findings_dropped).unwrap_or(usize::MAX),
            report.refused_records
        )
    };
    for f in &report.findings {
        let mut place = f.element.clone();
        if let Some(parent) = &f.parent {
            let _ = write!(place, " in {parent}");
        }
        let mut keys = Vec::new();
        if let Some(n) = f.context.n_zap {
            keys.push(format!("N_ZAP {n}"));
        }
        if let Some(v) = &f.context.id_pac {
            keys.push(format!("ID_PAC {v}"));
        }
        if let Some(v) = f.context.idcase {
            keys.push(format!("IDCASE {v}"));
        }
        if let Some(v) = &f.context.sl_id {
            keys.push(format!("SL_ID {v}"));
        }
        if let Some(v) = &f.context.idserv {
            keys.push(format!("IDSERV {v}"));
        }
        let keys = if keys.is_empty() {
            String::new()
        } else {
            format!(" ({})", keys.join(", "))
        };
        let _ = write!(
            out,
            "\n  line {}:{} [{}] {place}{keys}: {}",
            f.line, f.column, f.code, f.message
        );
    }
    if report.findings_dropped > 0 {
        let _ = write!(out, "\n  … and {} more findings", report.findings_dropped);
    }
    out
}

/// Runs `omshub validate`; returns the exit status.
pub fn run(args: &ValidateArgs) -> anyhow::Result<u8> {
    let validator = Validator::new(crate::xml::schemas::ALL)?;
    let limits = Limits {
        max_findings: args.max_findings,
        ..Limits::default()
    };
    let mut status = 0;
    for path in &args.paths {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let report = match std::fs::File::open(path)
            .and_then(|f| validator.check_file(&name, std::io::BufReader::new(f), limits))
        {
            Ok(report) => report,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", path.display());
                status = EXIT_UNREADABLE;
                continue;
            }
        };
        match args.format {
            Format::Text => println!("{}", render_text(&report)),
            Format::Json => println!("{}", serde_json::to_string(&report)?),
            Format::Flk => {
                let path = args.out.join(format!(
                    "{}.xml",
                    super::protocol::protocol_name(&report.file)
                ));
                std::fs::write(&path, super::protocol::write_flk(&report))?;
                println!("{}: {} findings", path.display(), report.findings.len());
            }
        }
        if !report.accepted && status == 0 {
            status = EXIT_REFUSED;
        }
    }
    Ok(status)
}
