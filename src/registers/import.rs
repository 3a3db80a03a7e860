//! Import of register packets: `<packet version=".." date="..">` with `TFOMS`, `insCompany`,
//! `medCompany` or `expert` entries (formats.md 5.1–5.4), windows-1251 or UTF-8.
//!
//! Every entry is checked completely before anything is written; a bad entry is reported with
//! its line and a coded reason and never half-applied. The good entries of a file are applied
//! in one transaction; an entry identical to what the hub holds is `unchanged`, so importing
//! the same file twice changes nothing. Organisations in an official packet are in the federal
//! register already: new ones are recorded as `active`. A version is true from the entry's
//! `d_edit`, else from the packet date, else from the day of the import. Called by the CLI
//! (`omshub registers import`) and by tests.

use std::collections::HashSet;

use chrono::Utc;

use super::RegisterKind;
use super::experts::Expert;
use super::funds::Fund;
use super::insurers::Insurer;
use super::medical_orgs::MedicalOrganisation;
use super::model::{Register, Status, StoreError};
use super::service::{self, ServiceError, with_register};
use crate::db::DbConn;
use crate::imports::{FileSummary, Outcome, Progress};
use crate::nsi::packet::{Node, Packet, PacketError, PacketKind, read_packet};

/// How to import one file.
#[derive(Clone, Copy)]
pub struct ImportOptions<'a> {
    /// The file as the summary names it.
    pub file: &'a str,
    /// Check and count only.
    pub dry_run: bool,
    /// Recorded as `changed_by` of every version written.
    pub author: &'a str,
    /// Advanced once per entry.
    pub progress: Option<&'a Progress>,
}

/// Why a file was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a readable packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// A classifier packet was given to the register import.
    #[error("this is a classifier packet ({type_name}); import it with `omshub nsi import`")]
    ClassifierPacket {
        /// Its `zglv/type`.
        type_name: String,
    },
    /// No entry names a register.
    #[error(
        "the packet holds no register entries (TFOMS, insCompany, medCompany or expert elements)"
    )]
    NoEntries,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] ServiceError),
}

impl ImportError {
    /// Stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Packet(e) => e.code(),
            Self::ClassifierPacket { .. } => "classifier_packet",
            Self::NoEntries => "no_register_entries",
            Self::Store(_) => "internal_error",
            Self::Write(e) => e.code(),
        }
    }
}

/// Imports one packet file's bytes.
pub fn import_packet(
    conn: &mut DbConn,
    bytes: &[u8],
    options: ImportOptions<'_>,
) -> Result<FileSummary, ImportError> {
    let packet = read_packet(bytes)?;
    if let PacketKind::Classifier { type_name } = &packet.kind {
        return Err(ImportError::ClassifierPacket {
            type_name: type_name.clone(),
        });
    }
    // One register per file: the register of the first entry that names one.
    let kind = packet
        .entries
        .iter()
        .find_map(|e| RegisterKind::from_element(&e.name))
        .ok_or(ImportError::NoEntries)?;
    with_register!(kind, |R| import_entries::<R>(conn, &packet, options))
}

fn entry_key<R: Register>(entry: &Node) -> Option<String> {
    entry
        .text_of(R::CODE_ELEMENT)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

fn import_entries<R: Register>(
    conn: &mut DbConn,
    packet: &Packet,
    options: ImportOptions<'_>,
) -> Result<FileSummary, ImportError> {
    let mut summary = FileSummary::new(options.file, R::KIND.slug(), options.dry_run);
    let progress = |n: usize| {
        if let Some(p) = options.progress {
            for _ in 0..n {
                p.inc();
            }
        }
    };
    if let Some(p) = options.progress {
        p.set_length(packet.entries.len());
    }
    let default_from = packet.date.unwrap_or_else(|| Utc::now().date_naive());

    // 1. Check every entry; keep the good ones.
    let mut seen = HashSet::new();
    let mut good = Vec::new();
    for entry in &packet.entries {
        if RegisterKind::from_element(&entry.name) != Some(R::KIND) {
            summary.reject(
                entry.line,
                None,
                "unexpected_entry",
                format!(
                    "<{}> in a packet of <{}> entries: one register per file",
                    entry.name,
                    R::KIND.element()
                ),
            );
            progress(1);
            continue;
        }
        match R::from_node(entry) {
            Err(e) => {
                summary.reject(
                    entry.line,
                    entry_key::<R>(entry),
                    e.code,
                    e.import_message(),
                );
                progress(1);
            }
            Ok(record) => {
                if seen.insert(record.code().to_owned()) {
                    let valid_from = record.d_edit().unwrap_or(default_from);
                    good.push((record, valid_from));
                } else {
                    summary.reject(
                        entry.line,
                        Some(record.code().to_owned()),
                        "duplicate_entry",
                        "the same code appears earlier in this file",
                    );
                    progress(1);
                }
            }
        }
    }

    // 2. Plan (dry run) or plan and write in one transaction.
    let outcomes = if options.dry_run {
        let mut outcomes = Vec::with_capacity(good.len());
        for (record, valid_from) in good {
            outcomes.push(service::plan(conn, record, valid_from, Status::Active)?.outcome());
            progress(1);
        }
        outcomes
    } else {
        let now = Utc::now().naive_utc();
        service::write_changes(conn, |c| {
            let mut outcomes = Vec::with_capacity(good.len());
            for (record, valid_from) in good {
                let planned = service::plan(c, record, valid_from, Status::Active)?;
                service::apply(c, &planned, options.author, now)?;
                outcomes.push(planned.outcome());
                progress(1);
            }
            let changed = outcomes.iter().any(|o| *o != Outcome::Unchanged);
            Ok((outcomes, changed))
        })?
    };
    for outcome in outcomes {
        summary.record(outcome);
    }
    Ok(summary)
}
