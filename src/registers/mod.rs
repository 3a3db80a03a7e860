//! Registers of organisations (реестры): territorial funds (F001), insurers (F002, ЕРСМО),
//! medical organisations (F003) and experts of quality of care (F004), each with its full
//! history, the onboarding workflow of insurers and clinics, import and export of register
//! packets, and the in-memory look-up the validation rules read.
//!
//! Each register lives in its own module (`funds`, `insurers`, `medical_orgs`, `experts`):
//! the record type, its checks, its packet mapping and its repository, the only code that
//! writes that register's tables. The shared machinery is generic over [`Register`]:
//! `history` (versions, "state on a date"), `service` (what the API and the CLI call),
//! `workflow` (the onboarding graph), `import` / `export` (packets), `lookup`
//! ([`lookup::RegisterLookup`] and its snapshot). Called by `api::registers`, by `main.rs`
//! (`omshub registers …`) and, through `lookup`, by validation. See `docs/REGISTERS.md`.

pub mod check;
pub mod cli;
mod current;
pub mod experts;
pub mod export;
pub mod funds;
pub mod history;
pub mod ids;
pub mod import;
pub mod insurers;
pub mod lookup;
pub mod medical_orgs;
pub mod model;
pub mod service;
pub mod workflow;
pub mod xml;

use std::fmt;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::register_revision;

pub use model::{Activity, Register, Span, State, Status};
pub use service::ServiceError;

/// One of the four registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterKind {
    /// F001: territorial funds (ТФОМС).
    TerritorialFunds,
    /// F002: insurers (СМО, ЕРСМО).
    Insurers,
    /// F003: medical organisations (МО).
    MedicalOrganisations,
    /// F004: experts of quality of care (эксперты качества медицинской помощи).
    Experts,
}

impl RegisterKind {
    /// Every register, in classifier order.
    pub const ALL: [Self; 4] = [
        Self::TerritorialFunds,
        Self::Insurers,
        Self::MedicalOrganisations,
        Self::Experts,
    ];

    /// The name in URLs and on the command line (`insurers`).
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::TerritorialFunds => "territorial-funds",
            Self::Insurers => "insurers",
            Self::MedicalOrganisations => "medical-organisations",
            Self::Experts => "experts",
        }
    }

    /// The register named `slug`, if any.
    #[must_use]
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The federal classifier code (`F002`).
    #[must_use]
    pub fn classifier(self) -> &'static str {
        match self {
            Self::TerritorialFunds => "F001",
            Self::Insurers => "F002",
            Self::MedicalOrganisations => "F003",
            Self::Experts => "F004",
        }
    }

    /// The element of one entry in a register packet (`insCompany`).
    #[must_use]
    pub fn element(self) -> &'static str {
        match self {
            Self::TerritorialFunds => "TFOMS",
            Self::Insurers => "insCompany",
            Self::MedicalOrganisations => "medCompany",
            Self::Experts => "expert",
        }
    }

    /// The register whose entries are `element` elements (case-insensitive).
    #[must_use]
    pub fn from_element(element: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.element().eq_ignore_ascii_case(element))
    }

    /// Whether entries go through the onboarding workflow (insurers and clinics).
    #[must_use]
    pub fn has_workflow(self) -> bool {
        matches!(self, Self::Insurers | Self::MedicalOrganisations)
    }

    /// "insurer 34001" style noun for messages.
    #[must_use]
    pub fn noun(self) -> &'static str {
        match self {
            Self::TerritorialFunds => "territorial fund",
            Self::Insurers => "insurer",
            Self::MedicalOrganisations => "medical organisation",
            Self::Experts => "expert",
        }
    }
}

impl fmt::Display for RegisterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A number that grows in every transaction that changes any register. The server compares it
/// with the revision its [`lookup::RegisterSnapshot`] was built at and rebuilds on change.
pub fn revision(conn: &mut DbConn) -> QueryResult<i64> {
    register_revision::table
        .select(register_revision::revision)
        .find(1)
        .first(conn)
}

/// Moves the revision on by one. Called first in every writing transaction: on SQLite it takes
/// the write lock at once, on PostgreSQL it locks the row, so register writers queue instead of
/// failing on a lock upgrade.
pub(crate) fn bump_revision(conn: &mut DbConn) -> QueryResult<()> {
    diesel::update(register_revision::table.find(1))
        .set(register_revision::revision.eq(register_revision::revision + 1))
        .execute(conn)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::RegisterKind;

    #[test]
    fn slugs_and_elements_round_trip() {
        for kind in RegisterKind::ALL {
            assert_eq!(RegisterKind::from_slug(kind.slug()), Some(kind));
            assert_eq!(RegisterKind::from_element(kind.element()), Some(kind));
        }
        assert_eq!(
            RegisterKind::from_element("INSCOMPANY"),
            Some(RegisterKind::Insurers)
        );
        assert_eq!(RegisterKind::from_slug("banks"), None);
        assert!(RegisterKind::Insurers.has_workflow());
        assert!(!RegisterKind::Experts.has_workflow());
    }
}
