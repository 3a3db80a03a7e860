//! `omshub gen …`: writes synthetic exchange files for tests and benchmarks. `main.rs` parses
//! the command line into [`GenCommand`] and calls [`run`].
//!
//! Prints one summary line per written file (name, records, bytes, defects by kind).

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write as _;

use anyhow::Context as _;

use super::{AccountsOptions, Defects, RuleDefects, write_package, write_persons_csv};
use crate::domain::{MoCode, Period, TfomsCode};

/// The `gen` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GenCommand {
    /// Write a synthetic H 3.2 account file, its L 3.2 personal-data file and the ZIP package
    /// holding both, in windows-1251, deterministic by --seed.
    Accounts {
        /// Number of cases (ZAP records).
        #[arg(long)]
        cases: u64,
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed of every generated value: the same seed gives byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Defects to inject, each at a different record: KIND=COUNT,... with KIND one of
        /// 901 (`DATE_Z_2` before `DATE_Z_1`), 902 (empty NHISTORY), 903 (impossible `DATE_1`),
        /// 904 (`PR_NOV` 2), 905 (`N_ZAP` of the previous record).
        #[arg(long, value_name = "KIND=COUNT,...", default_value = "")]
        defects: String,
        /// Business-rule defects to inject: NAME=COUNT,... with NAME one of sumv, enp, facet,
        /// no-enp, duplicate, after-period, doctor, sex, id-pac, vidpom, setting, episode
        /// (docs/RULES.md, "Generated defects").
        #[arg(long, value_name = "NAME=COUNT,...", default_value = "")]
        rule_defects: String,
        /// Code of the billing clinic (6 digits).
        #[arg(long, default_value = "750096")]
        mo: String,
        /// Code of the territorial fund billed (2 digits).
        #[arg(long, default_value = "75")]
        tf: String,
        /// Reporting month, YYYY-MM.
        #[arg(long, default_value = "2026-01")]
        period: String,
        /// Package number within the month (end of the file name).
        #[arg(long, default_value_t = 1)]
        package: u32,
    },
    /// Write synthetic insured persons as an `erz import` CSV (docs/ERZ.md), deterministic by
    /// --seed: valid ENP (check digit, birth-date/sex facet) unique in the file, valid SNILS.
    Persons {
        /// Number of persons.
        #[arg(long)]
        count: u64,
        /// Seed of every generated value.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output format (only `csv`).
        #[arg(long, default_value = "csv", value_parser = ["csv"])]
        format: String,
        /// Territory (2-digit TFOMS code) of the ENPs and insurers.
        #[arg(long, default_value = "75")]
        tf: String,
        /// Output file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs one `gen` subcommand.
pub fn run(command: &GenCommand) -> anyhow::Result<ExitCode> {
    match command {
        GenCommand::Accounts {
            cases,
            out,
            seed,
            defects,
            rule_defects,
            mo,
            tf,
            period,
            package,
        } => {
            let options = AccountsOptions {
                cases: *cases,
                seed: *seed,
                defects: Defects::parse(defects)?,
                rule_defects: RuleDefects::parse(rule_defects)?,
                mo: MoCode::parse(mo)?,
                tf: TfomsCode::parse(tf)?,
                period: Period::parse(period)?,
                package: *package,
            };
            let written = write_package(out, &options)?;
            for file in &written.files {
                println!("{file}");
            }
            println!("SUMMAV {}", written.total);
            Ok(ExitCode::SUCCESS)
        }
        GenCommand::Persons {
            count,
            seed,
            format: _,
            tf,
            out,
        } => {
            let tf = TfomsCode::parse(tf)?;
            if let Some(path) = out {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                let mut w = std::io::BufWriter::new(file);
                write_persons_csv(&mut w, *count, *seed, &tf)?;
                w.flush()?;
            } else {
                let stdout = std::io::stdout();
                let mut w = std::io::BufWriter::new(stdout.lock());
                write_persons_csv(&mut w, *count, *seed, &tf)?;
                w.flush()?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
