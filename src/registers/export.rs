//! Export of a register as a packet: `<packet version="omshub-<revision>" date="<today>">` with
//! one entry per organisation in its newest state, in code order, written by the packet
//! writer in UTF-8 or windows-1251. What it writes imports back unchanged. Called by the CLI
//! (`omshub registers export`).

use chrono::Utc;

use super::experts::Expert;
use super::funds::Fund;
use super::insurers::Insurer;
use super::medical_orgs::MedicalOrganisation;
use super::model::{Register, StoreError};
use super::service::with_register;
use super::{RegisterKind, revision};
use crate::db::DbConn;
use crate::nsi::packet::{Packet, PacketKind};

/// Register `kind` as a packet.
pub fn export_packet(conn: &mut DbConn, kind: RegisterKind) -> Result<Packet, StoreError> {
    let revision = revision(conn)?;
    let entries = with_register!(kind, |R| {
        R::load_all(conn)?
            .iter()
            .map(|state| state.record.to_node())
            .collect::<Vec<_>>()
    });
    Ok(Packet {
        kind: PacketKind::Register,
        version: Some(format!("omshub-{revision}")),
        date: Some(Utc::now().date_naive()),
        entries,
    })
}
