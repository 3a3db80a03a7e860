//! `omshub participants …` and `omshub tokens …`: add, list, show and revoke participants,
//! register and revoke their client certificates, issue and revoke their bearer tokens.
//! `main.rs` parses the command line into [`ParticipantsCommand`] / [`TokensCommand`] and calls
//! [`run_participants`] / [`run_tokens`].
//!
//! A refused request (an unknown clinic, a revoked participant, an expired certificate) is an
//! error `[code] message` and exit status 1, like every other failure of the CLI. `tokens
//! issue` prints the token alone on standard output, once, and what was stored on standard
//! error, so `TOKEN=$(omshub tokens issue 7)` captures just the token.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDateTime;

use super::{
    CertificateRef, Kind, NewParticipant, Participant, ParticipantError, Roles, certificate, repo,
};
use crate::config::Settings;
use crate::db::DbConn;

/// Output format of listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tab-separated lines for people and `cut`.
    Text,
    /// JSON.
    Json,
}

/// The `participants` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ParticipantsCommand {
    /// Add a participant: a fund, insurer or clinic of the registers (active today), a federal
    /// auditor or an administrator.
    Add {
        /// fund, insurer, clinic, auditor or admin.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Register code: F001 fund code (2 digits), F002 smocod (5), F003 mcod (6). Not for
        /// auditors and administrators.
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// A name for people.
        #[arg(long)]
        name: String,
        /// Contact e-mail address.
        #[arg(long, value_name = "ADDRESS")]
        email: String,
        /// Roles, comma-separated (`upload`, `read_own`, `read_all`, `admin`); the kind's
        /// default when absent, and never more than it.
        #[arg(long, value_name = "LIST")]
        roles: Option<String>,
        /// Print the new participant as text or JSON.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List every participant, revoked ones included.
    List {
        /// text (tab-separated) or json.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// One participant with its tokens (never the tokens themselves) and certificates.
    Show {
        /// The participant's number.
        id: i64,
        /// text or json.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Revoke a participant and, with it, all its tokens and certificates.
    Revoke {
        /// The participant's number.
        id: i64,
    },
    /// Client certificates of participants (mutual TLS).
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
}

/// The `participants cert` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Register a client certificate (PEM or DER file, the certificate alone) to a participant.
    Add {
        /// The participant's number.
        id: i64,
        /// The certificate file.
        file: PathBuf,
    },
    /// Revoke a registered certificate, named by its number or its SHA-256 fingerprint.
    Revoke {
        /// Certificate number, or SHA-256 fingerprint (64 hex digits, colons allowed).
        certificate: String,
    },
}

/// The `tokens` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Issue a bearer token to a participant; the token is printed once and never stored.
    Issue {
        /// The participant's number.
        participant_id: i64,
        /// Days until the token expires (1 to 3650).
        #[arg(long, default_value_t = 365, value_name = "N")]
        expires_in_days: u32,
        /// What the token is for (e.g. the system that uses it).
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// Revoke a token.
    Revoke {
        /// The token's number (printed by `tokens issue` and `participants show`).
        token_id: i64,
    },
}

/// A refusal as the CLI reports it: `[code] message`.
fn refused(e: ParticipantError) -> anyhow::Error {
    match e {
        ParticipantError::Store(_)
        | ParticipantError::Register(_)
        | ParticipantError::Random(_) => anyhow::Error::new(e),
        other => anyhow::anyhow!("[{}] {other}", other.code()),
    }
}

fn open(settings: &Settings) -> anyhow::Result<crate::db::PooledConn> {
    let database = crate::db::open_ready(&settings.database)?;
    Ok(database.conn()?)
}

fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn status(revoked_at: Option<NaiveDateTime>) -> String {
    revoked_at.map_or_else(|| "active".to_owned(), |t| format!("revoked {}", time(t)))
}

fn participant_line(p: &Participant) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        p.id,
        p.kind,
        p.org_code.as_deref().unwrap_or("-"),
        p.name,
        p.roles,
        p.contact_email.as_deref().unwrap_or("-"),
        time(p.created_at),
        status(p.revoked_at)
    )
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs one `participants` subcommand.
pub fn run_participants(
    command: &ParticipantsCommand,
    settings: &Settings,
) -> anyhow::Result<ExitCode> {
    let mut conn = open(settings)?;
    let conn: &mut DbConn = &mut conn;
    match command {
        ParticipantsCommand::Add {
            kind,
            org,
            name,
            email,
            roles,
            format,
        } => {
            let kind = Kind::parse(kind).ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                anyhow::anyhow!(
                    "[invalid_kind] no kind `{kind}`; use one of {}",
                    names.join(", ")
                )
            })?;
            let roles = roles
                .as_deref()
                .map(Roles::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("[invalid_roles] {e}"))?;
            let new = NewParticipant {
                kind,
                org_code: org.clone(),
                name: name.clone(),
                contact_email: Some(email.clone()),
                roles,
            };
            let added = repo::add(conn, &new, repo::now()).map_err(refused)?;
            match format {
                Format::Json => print_json(&added)?,
                Format::Text => println!(
                    "participant {} added: {} {} «{}», roles {}",
                    added.id,
                    added.kind,
                    added.org_code.as_deref().unwrap_or(""),
                    added.name,
                    added.roles
                ),
            }
        }
        ParticipantsCommand::List { format } => {
            let all = repo::list(conn).map_err(refused)?;
            match format {
                Format::Json => print_json(&all)?,
                Format::Text => {
                    let mut out = std::io::stdout().lock();
                    for p in &all {
                        writeln!(out, "{}", participant_line(p))?;
                    }
                }
            }
        }
        ParticipantsCommand::Show { id, format } => show(conn, *id, *format)?,
        ParticipantsCommand::Revoke { id } => {
            let done = repo::revoke(conn, *id, repo::now()).map_err(refused)?;
            if done.already {
                println!(
                    "participant {id} was already {}",
                    status(done.revoked.revoked_at)
                );
            } else {
                println!(
                    "participant {id} revoked with {} token(s) and {} certificate(s)",
                    done.tokens, done.certificates
                );
            }
        }
        ParticipantsCommand::Cert { command } => cert(conn, command)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `participants show`.
fn show(conn: &mut DbConn, id: i64, format: Format) -> anyhow::Result<()> {
    let participant = repo::get(conn, id).map_err(refused)?;
    let tokens = repo::tokens(conn, id).map_err(refused)?;
    let certificates = repo::certificates(conn, id).map_err(refused)?;
    if format == Format::Json {
        return print_json(&serde_json::json!({
            "participant": participant,
            "tokens": tokens,
            "certificates": certificates,
        }));
    }
    println!("{}", participant_line(&participant));
    for t in &tokens {
        println!(
            "token {}\t{}\tissued {}\texpires {}\tlast used {}\t{}",
            t.id,
            t.label.as_deref().unwrap_or("-"),
            time(t.created_at),
            time(t.expires_at),
            t.last_used_at.map_or_else(|| "never".to_owned(), time),
            status(t.revoked_at)
        );
    }
    for c in &certificates {
        println!(
            "certificate {}\t{}\tserial {}\tvalid until {}\tsha256 {}\t{}",
            c.id,
            c.subject,
            c.serial,
            time(c.not_after),
            c.fingerprint_sha256,
            status(c.revoked_at)
        );
    }
    Ok(())
}

/// `participants cert …`.
fn cert(conn: &mut DbConn, command: &CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Add { id, file } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let info = certificate::read(&bytes).map_err(refused)?;
            let cert =
                repo::register_certificate(conn, *id, &info, repo::now()).map_err(refused)?;
            println!(
                "certificate {} registered to participant {id}: {}, serial {}, valid until {}, sha256 {}",
                cert.id,
                cert.subject,
                cert.serial,
                time(cert.not_after),
                cert.fingerprint_sha256
            );
        }
        CertCommand::Revoke { certificate } => {
            let which = CertificateRef::parse(certificate).map_err(refused)?;
            let done = repo::revoke_certificate(conn, &which, repo::now()).map_err(refused)?;
            let cert = &done.revoked;
            if done.already {
                println!(
                    "certificate {} of participant {} was already {}",
                    cert.id,
                    cert.participant_id,
                    status(cert.revoked_at)
                );
            } else {
                println!(
                    "certificate {} of participant {} revoked ({})",
                    cert.id, cert.participant_id, cert.subject
                );
            }
        }
    }
    Ok(())
}

/// Runs one `tokens` subcommand.
pub fn run_tokens(command: &TokensCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut conn = open(settings)?;
    let conn: &mut DbConn = &mut conn;
    match command {
        TokensCommand::Issue {
            participant_id,
            expires_in_days,
            label,
        } => {
            let issued = repo::issue_token(
                conn,
                *participant_id,
                label.as_deref(),
                *expires_in_days,
                repo::now(),
            )
            .map_err(refused)?;
            println!("{}", issued.token);
            eprintln!(
                "token {} issued to participant {participant_id}, expires {}; it is shown only this once",
                issued.info.id,
                time(issued.info.expires_at)
            );
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Revoke { token_id } => {
            let done = repo::revoke_token(conn, *token_id, repo::now()).map_err(refused)?;
            if done.already {
                println!(
                    "token {token_id} was already {}",
                    status(done.revoked.revoked_at)
                );
            } else {
                println!(
                    "token {token_id} of participant {} revoked",
                    done.revoked.participant_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
