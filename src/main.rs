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
        command: omshub::nsi::cli::NsiCommand,
    },
    /// Check exchange files (.xml) against the federal formats; exit 0 when all are accepted,
    /// 1 when any is refused, 2 when a file cannot be read.
    Validate(omshub::validate::cli::ValidateArgs),
    /// The business-rule catalogue (ФЛК/МЭК).
    Rules {
        #[command(subcommand)]
        command: omshub::validate::cli::RulesCommand,
    },
    /// Synthetic exchange files for tests and benchmarks.
    Gen {
        #[command(subcommand)]
        command: omshub::r#gen::cli::GenCommand,
    },
    /// Registers of organisations (F001–F004): import packets, export.
    Registers {
        #[command(subcommand)]
        command: omshub::registers::cli::RegistersCommand,
    },
    /// Participants of the exchange: add, list, show, revoke; their client certificates.
    Participants {
        #[command(subcommand)]
        command: omshub::participants::cli::ParticipantsCommand,
    },
    /// Bearer tokens of participants: issue (printed once), revoke.
    Tokens {
        #[command(subcommand)]
        command: omshub::participants::cli::TokensCommand,
    },
    /// The register of insured persons (ЕРЗ): apply an insurer's OPLIST; match, review and
    /// merge duplicate persons.
    Erz {
        #[command(subcommand)]
        command: omshub::erz::cli::ErzCommand,
    },
}

/// Exit status for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

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
        Command::Validate(args) => {
            omshub::telemetry::init(&settings.log)?;
            Ok(ExitCode::from(omshub::settlement::validate_command(
                args, &settings,
            )?))
        }
        Command::Rules { command } => {
            omshub::validate::cli::run_rules(command);
            Ok(ExitCode::SUCCESS)
        }
        Command::Gen { command } => omshub::r#gen::cli::run(command),
        Command::Registers { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::registers::cli::run(command, &settings)
        }
        Command::Participants { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::participants::cli::run_participants(command, &settings)
        }
        Command::Tokens { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::participants::cli::run_tokens(command, &settings)
        }
        Command::Erz { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::erz::cli::run(command, &settings)
        }
        Command::Nsi { command } => {
            omshub::telemetry::init(&settings.log)?;
            omshub::nsi::cli::run(command, &settings)
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
