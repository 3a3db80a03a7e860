//! `omshub validate`: checks exchange files and ZIP packages against the federal formats and
//! prints a report per file and per package. `main.rs` parses the command line into
//! [`ValidateArgs`] and calls [`run`].
//!
//! Exit status: 0 when every file and package is accepted, 1 when any is refused, 2 when a path
//! cannot be read or the arguments are wrong.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::package::{PackageLimits, PackageReport, check_package};
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
    /// One JSON object per file per line; a package gives its own object, then its files'.
    Json,
    /// The FLK_P protocol file of each file (`V` + its name, windows-1251), written to `--out`;
    /// a package's own findings go into the protocol of its data file (`V` + the package name).
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
    /// Exchange files (.xml) or packages (.zip: the naming and pairing rules apply too).
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

/// A readable report of one package: its line, its own findings, its signatures, then the
/// report of each inner file, indented.
#[must_use]
pub fn render_package_text(report: &PackageReport) -> String {
    let files = match report.files.len() {
        1 => "1 file checked".to_owned(),
        n => format!("{n} files checked"),
    };
    let mut out = if report.accepted {
        format!("{}: ZIP package, {files}: accepted", report.package)
    } else {
        let findings = match report.findings.len() {
            1 => "1 package finding".to_owned(),
            n => format!("{n} package findings"),
        };
        format!(
            "{}: ZIP package, {files}: refused, {findings}",
            report.package
        )
    };
    for f in &report.findings {
        let _ = write!(out, "\n  [{}] {}", f.code, f.message);
    }
    for s in &report.signatures {
        let _ = write!(out, "\n  {s}: signature, not checked yet");
    }
    for file in &report.files {
        for line in render_text(file).lines() {
            let _ = write!(out, "\n  {line}");
        }
    }
    out
}

/// Prints (or, for `flk`, writes) the report of one package.
fn emit_package(args: &ValidateArgs, report: &PackageReport) -> anyhow::Result<()> {
    match args.format {
        Format::Text => println!("{}", render_package_text(report)),
        Format::Json => {
            let mut line = serde_json::to_value(report)?;
            if let Some(object) = line.as_object_mut() {
                object.remove("files");
            }
            println!("{line}");
            for file in &report.files {
                let mut line = serde_json::to_value(file)?;
                if let Some(object) = line.as_object_mut() {
                    object.insert("package".into(), report.package.clone().into());
                }
                println!("{line}");
            }
        }
        Format::Flk => {
            for protocol in report.protocols() {
                let path = args.out.join(&protocol.name);
                std::fs::write(&path, &protocol.bytes)?;
                println!("{}: {} findings", path.display(), protocol.findings);
            }
        }
    }
    Ok(())
}

/// Prints (or, for `flk`, writes) the report of one file.
fn emit_file(args: &ValidateArgs, report: &FileReport) -> anyhow::Result<()> {
    match args.format {
        Format::Text => println!("{}", render_text(report)),
        Format::Json => println!("{}", serde_json::to_string(report)?),
        Format::Flk => {
            let path = args.out.join(format!(
                "{}.xml",
                super::protocol::protocol_name(&report.file)
            ));
            std::fs::write(&path, super::protocol::write_flk(report))?;
            println!("{}: {} findings", path.display(), report.findings.len());
        }
    }
    Ok(())
}

/// Runs `omshub validate`; returns the exit status. A path ending in `.zip` (any case) is a
/// package; anything else is one exchange file.
pub fn run(args: &ValidateArgs) -> anyhow::Result<u8> {
    let validator = Validator::new(crate::xml::schemas::ALL)?;
    let limits = Limits {
        max_findings: args.max_findings,
        ..Limits::default()
    };
    let package_limits = PackageLimits {
        file: limits,
        ..PackageLimits::default()
    };
    let mut status = 0;
    for path in &args.paths {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let opened = std::fs::File::open(path).map(std::io::BufReader::new);
        let accepted = if is_zip {
            match opened.and_then(|f| check_package(&validator, &name, f, &package_limits)) {
                Ok(report) => {
                    emit_package(args, &report)?;
                    report.accepted
                }
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", path.display());
                    status = EXIT_UNREADABLE;
                    continue;
                }
            }
        } else {
            match opened.and_then(|f| validator.check_file(&name, f, limits)) {
                Ok(report) => {
                    emit_file(args, &report)?;
                    report.accepted
                }
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", path.display());
                    status = EXIT_UNREADABLE;
                    continue;
                }
            }
        };
        if !accepted && status == 0 {
            status = EXIT_REFUSED;
        }
    }
    Ok(status)
}
