//! `omshub validate`: checks exchange files and ZIP packages against the federal formats and
//! prints a report per file and per package. `main.rs` parses the command line into
//! [`ValidateArgs`] and calls [`run`].
//!
//! With `--rules` (or `--rules-as-of DATE`) the business rules run too, over the look-ups the
//! caller gives ([`RulesSetup`]; `settlement::validate_command` reads them from the
//! database): a package's H and L files together, a single H file without the rules that need
//! its L file. `omshub rules list` prints the catalogue ([`RulesCommand`]).
//!
//! Exit status: 0 when every file and package is accepted, 1 when any is refused, 2 when a path
//! cannot be read or the arguments are wrong.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::package::{PackageLimits, PackageReport, check_package_into};
use super::records::{self, Item};
use super::rules::{self, Checker, Outcome, Sources};
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
    /// Stop after the schema check (the default unless `--rules` or `--rules-as-of` is given).
    #[arg(long, conflicts_with_all = ["rules", "rules_as_of"])]
    pub schema_only: bool,
    /// Run the business rules too, with the classifiers, registers and earlier cases of the
    /// configured database, under the catalogue of each account's reporting period.
    #[arg(long)]
    pub rules: bool,
    /// Run the business rules under the catalogue in force on DATE (YYYY-MM-DD) instead.
    #[arg(long, value_name = "DATE")]
    pub rules_as_of: Option<NaiveDate>,
    /// Folder the `flk` protocols are written to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Findings listed per file at most, of the schema check and of the rules each (the rest
    /// are counted, in a summary finding of the protocol).
    #[arg(long, default_value_t = 1000)]
    pub max_findings: usize,
    /// Exchange files (.xml) or packages (.zip: the naming and pairing rules apply too).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

impl ValidateArgs {
    /// Whether the business rules run.
    #[must_use]
    pub fn wants_rules(&self) -> bool {
        self.rules || self.rules_as_of.is_some()
    }
}

/// What the business rules of `omshub validate` look up, and the day of the check.
#[derive(Clone)]
pub struct RulesSetup {
    /// The snapshots.
    pub sources: Sources,
    /// The day of the check.
    pub today: NaiveDate,
}

/// `omshub rules`.
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Print the catalogue: id, severity, validity, F014 reason, element, text.
    List {
        /// Only the rules in force on DATE (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
}

/// Runs `omshub rules`.
pub fn run_rules(command: &RulesCommand) {
    match command {
        RulesCommand::List { as_of } => print!("{}", rules::catalogue::render_list(*as_of)),
    }
}

/// A readable report of the business rules over one account.
#[must_use]
pub fn render_rules_text(outcome: &Outcome) -> String {
    let t = &outcome.totals;
    let mut out = format!(
        "rules as of {}: {}, {} cases: {} paid, {} partly paid, {} refused; SUMMAV {}, SUMMAP {}, SANK_MEK {}",
        outcome.rules_as_of,
        if outcome.accepted {
            "account taken"
        } else {
            "account refused"
        },
        t.cases,
        t.paid,
        t.partly_paid,
        t.refused,
        t.summav,
        t.summap,
        t.sank_mek
    );
    for r in &outcome.findings {
        let f = &r.finding;
        let mut keys = Vec::new();
        if let Some(n) = f.context.n_zap {
            keys.push(format!("N_ZAP {n}"));
        }
        if let Some(v) = f.context.idcase {
            keys.push(format!("IDCASE {v}"));
        }
        if let Some(v) = &f.context.sl_id {
            keys.push(format!("SL_ID {v}"));
        }
        let keys = if keys.is_empty() {
            String::new()
        } else {
            format!(" ({})", keys.join(", "))
        };
        let element = if f.element.is_empty() {
            String::new()
        } else {
            format!(" {}", f.element)
        };
        let _ = write!(
            out,
            "\n  line {} [{}] {}{element}{keys}: {}",
            f.line,
            r.rule.id,
            r.rule.severity.as_str(),
            f.message
        );
    }
    out
}

/// The checker of one account under `setup` and `args`.
fn checker(setup: &RulesSetup, args: &ValidateArgs) -> Checker {
    Checker::new(
        setup.sources.clone(),
        rules::Options {
            as_of: args.rules_as_of,
            today: setup.today,
            sender: None,
        },
    )
    .with_max_findings(args.max_findings)
}

/// Prints the rules' outcome of one account.
fn emit_rules(args: &ValidateArgs, source: &str, outcome: &Outcome) -> anyhow::Result<()> {
    match args.format {
        Format::Text => println!("{}", render_rules_text(outcome)),
        Format::Json => {
            let mut line = serde_json::to_value(outcome)?;
            if let Some(object) = line.as_object_mut() {
                object.insert("rules_for".into(), source.into());
                object.remove("decisions");
            }
            println!("{line}");
        }
        Format::Flk => {}
    }
    Ok(())
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

/// Prints (or, for `flk`, writes) the report of one package, with the rules' findings of its
/// data file when the rules ran.
fn emit_package(
    args: &ValidateArgs,
    report: &PackageReport,
    outcome: Option<&Outcome>,
) -> anyhow::Result<()> {
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
            if let Some(outcome) = outcome {
                write_rule_protocols(args, &report.files, outcome)?;
            }
        }
    }
    if let Some(outcome) = outcome {
        emit_rules(args, &report.package, outcome)?;
    }
    Ok(())
}

/// The protocols of `files` with the rules' findings in each (`V` + name + `.rules.xml`, beside
/// the schema protocols).
fn write_rule_protocols(
    args: &ValidateArgs,
    files: &[FileReport],
    outcome: &Outcome,
) -> anyhow::Result<()> {
    for (i, file) in files.iter().enumerate() {
        let kind = if i == 0 || !file.kind.starts_with('L') {
            rules::FileKind::Data
        } else {
            rules::FileKind::Personal
        };
        let found: Vec<_> = outcome
            .findings
            .iter()
            .filter(|f| f.file == kind)
            .cloned()
            .collect();
        let path = args.out.join(format!(
            "{}.rules.xml",
            super::protocol::protocol_name(&file.file)
        ));
        std::fs::write(&path, super::protocol::write_flk_with_rules(file, &found))?;
        println!("{}: {} rule findings", path.display(), found.len());
    }
    Ok(())
}

/// Prints (or, for `flk`, writes) the report of one file, with the rules' findings when they
/// ran (in the same protocol).
fn emit_file(
    args: &ValidateArgs,
    report: &FileReport,
    outcome: Option<&Outcome>,
) -> anyhow::Result<()> {
    match args.format {
        Format::Text => println!("{}", render_text(report)),
        Format::Json => println!("{}", serde_json::to_string(report)?),
        Format::Flk => {
            let path = args.out.join(format!(
                "{}.xml",
                super::protocol::protocol_name(&report.file)
            ));
            let rules = outcome.map_or(&[][..], |o| &o.findings[..]);
            std::fs::write(&path, super::protocol::write_flk_with_rules(report, rules))?;
            println!(
                "{}: {} findings",
                path.display(),
                report.findings.len() + rules.len()
            );
        }
    }
    if let Some(outcome) = outcome {
        emit_rules(args, &report.file, outcome)?;
    }
    Ok(())
}

/// Runs `omshub validate`; returns the exit status. A path ending in `.zip` (any case) is a
/// package; anything else is one exchange file. `rules`: the look-ups of the business rules,
/// when they run.
pub fn run(args: &ValidateArgs, rules: Option<&RulesSetup>) -> anyhow::Result<u8> {
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
            let mut checker = rules.map(|setup| checker(setup, args));
            let result = opened.and_then(|f| {
                let mut feed = |item: Item| {
                    if let Some(c) = checker.as_mut() {
                        c.item(&item);
                    }
                };
                check_package_into(&validator, &name, f, &package_limits, Some(&mut feed))
            });
            match result {
                Ok(report) => {
                    let refused: u64 = report.files.iter().map(|f| f.refused_records).sum();
                    let outcome = checker.map(|c| c.finish(refused));
                    emit_package(args, &report, outcome.as_ref())?;
                    report.accepted && outcome.is_none_or(|o| o.accepted)
                }
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", path.display());
                    status = EXIT_UNREADABLE;
                    continue;
                }
            }
        } else {
            let mut checker = rules.map(|setup| checker(setup, args));
            let result = opened.and_then(|f| {
                records::read(&validator, &name, f, limits, |item| {
                    if let Some(c) = checker.as_mut() {
                        c.item(&item);
                    }
                })
            });
            match result {
                Ok((report, _)) => {
                    let outcome = checker.map(|c| c.finish(report.refused_records));
                    emit_file(args, &report, outcome.as_ref())?;
                    report.accepted && outcome.is_none_or(|o| o.accepted)
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
