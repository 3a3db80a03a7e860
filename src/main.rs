//! The `omshub` command line: parses arguments, loads the configuration and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use omshub::api::server::{ServeOptions, serve};
use omshub::config::Settings;

/// Federal data-exchange hub of compulsory medical insurance (ОМС).
#[derive(Debug, Parser)]
#[command(name = "omshub", version, about)]
struct Cli {
    /// Configuration file read over config/default.toml (environment variables
    /// `OMSHUB__SECTION__KEY` override both).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and the scheduled jobs until SIGTERM or Ctrl-C.
    Serve {
        /// Start no scheduled jobs in this run.
        #[arg(long)]
        no_jobs: bool,
    },
    /// Create the database if needed and apply pending schema migrations.
    Migrate,
    /// Print the effective configuration (secrets masked) and exit.
    CheckConfig,
    /// Classifiers (НСИ): import packets, list, export.
    Nsi {
        #[command(subcommand)]
        command: NsiCommand,
    },
    /// Registers of organisations (F001–F004): import packets, export.
    Registers {
        #[command(subcommand)]
        command: omshub::registers::cli::RegistersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum NsiCommand {
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

/// Exit status for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;
/// Exit status of an import that rejected some entries.
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(&cli.command, settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::CheckConfig => {
            print!("{}", settings.to_masked_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Registers { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::registers::cli::run(command, &settings)
        }
        Command::Nsi { command } => {
            omshub::telemetry::init(&settings.log)?;
            let database = omshub::db::open_ready(&settings.database)?;
            nsi(command, &database)
        }
        Command::Migrate => {
            omshub::telemetry::init(&settings.log)?;
            let (database, applied) = omshub::db::migrate(&settings.database)?;
            if applied.is_empty() {
                println!("{} schema is up to date", database.backend().name());
            }
            for version in applied {
                println!("applied {version}");
            }
            for summary in omshub::nsi::prepare(&database, &settings.nsi)? {
                println!("baseline {summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { no_jobs } => {
            let no_jobs = *no_jobs;
            omshub::telemetry::init(&settings.log)?;
            actix_web::rt::System::new().block_on(serve(settings, ServeOptions { no_jobs }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn nsi(command: &NsiCommand, database: &omshub::db::Database) -> anyhow::Result<ExitCode> {
    use omshub::nsi::{FileResult, packet, store};
    match command {
        NsiCommand::Import {
            files,
            classifier,
            dry_run,
            by,
            json,
        } => {
            let results =
                omshub::nsi::import_files(database, files, classifier.as_deref(), *dry_run, by)?;
            let (mut refused, mut rejected) = (false, false);
            let mut out = Vec::new();
            for result in &results {
                match result {
                    FileResult::Imported(summary) => {
                        rejected |= !summary.rejected.is_empty();
                        if *json {
                            out.push(serde_json::to_value(summary)?);
                        } else {
                            println!("{summary}");
                        }
                    }
                    FileResult::Refused {
                        file,
                        code,
                        message,
                    } => {
                        refused = true;
                        if *json {
                            out.push(serde_json::json!({"file": file, "error": code, "message": message}));
                        } else {
                            println!("{file}: refused [{code}] {message}");
                        }
                    }
                }
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(if refused {
                ExitCode::FAILURE
            } else if rejected {
                ExitCode::from(EXIT_PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
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
            let encoding = match encoding.to_ascii_lowercase().as_str() {
                "utf-8" | "utf8" => packet::OutputEncoding::Utf8,
                "windows-1251" | "cp1251" => packet::OutputEncoding::Windows1251,
                other => {
                    anyhow::bail!("encoding `{other}` is not supported; use utf-8 or windows-1251")
                }
            };
            let id = id.to_ascii_uppercase();
            let mut conn = database.conn()?;
            if !store::has_classifier(&mut conn, &id)? {
                anyhow::bail!("classifier {id} is not loaded");
            }
            let bytes = packet::write_packet(&store::export(&mut conn, &id, *on)?, encoding)?;
            match out {
                Some(path) => std::fs::write(path, bytes)?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
