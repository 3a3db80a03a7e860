//! The in-memory snapshots validation reads: classifiers (`nsi::NsiSnapshot`), registers
//! (`registers::lookup::RegisterSnapshot`) and the register of insured persons
//! (`erz::snapshot::PolicySnapshot`, built only when the business rules first need it), each
//! swapped whole when its store changes.
//!
//! Readers take an `Arc` of one snapshot and keep it for a whole package, so a rebuild never
//! changes the answers mid-package, and never lock. `serve` builds both at start, rebuilds
//! after a change made through the API, and polls the stores' revisions every
//! `nsi.refresh_secs` for changes made by another process (the CLI).

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::db::Database;
use crate::erz::snapshot::{self, PolicySnapshot};
use crate::nsi::NsiSnapshot;
use crate::registers::lookup::{RegisterSnapshot, SharedRegisters};

/// The snapshots. Cheap to clone; clones share the snapshots.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    nsi: Arc<ArcSwap<NsiSnapshot>>,
    registers: SharedRegisters,
    erz: Arc<ArcSwap<PolicySnapshot>>,
}

impl Lookups {
    /// The classifier snapshot now.
    #[must_use]
    pub fn nsi(&self) -> Arc<NsiSnapshot> {
        self.nsi.load_full()
    }

    /// Replaces the classifier snapshot.
    pub fn replace_nsi(&self, snapshot: NsiSnapshot) {
        self.nsi.store(Arc::new(snapshot));
    }

    /// The register snapshot now.
    #[must_use]
    pub fn registers(&self) -> Arc<RegisterSnapshot> {
        self.registers.current()
    }

    /// The shared register snapshot, for its refresher.
    #[must_use]
    pub fn registers_shared(&self) -> &SharedRegisters {
        &self.registers
    }

    /// The snapshot of the register of insured persons now.
    #[must_use]
    pub fn erz(&self) -> Arc<PolicySnapshot> {
        self.erz.load_full()
    }

    /// Rebuilds the classifier and register snapshots whose store changed (both with
    /// `force`). The ERZ snapshot is not among them: only the business rules read it, and
    /// they refresh it themselves ([`Self::refresh_erz`]), so a server that checks no account
    /// never holds the register in memory.
    pub fn refresh(&self, db: &Database, force: bool) -> anyhow::Result<()> {
        crate::nsi::refresh_snapshot(db, self, force)?;
        crate::registers::lookup::refresh_snapshot(db, &self.registers, force)?;
        Ok(())
    }

    /// Rebuilds the ERZ snapshot when the register's revision moved (or with `force`); three
    /// indexed reads when nothing changed. Called before a check by the business rules.
    pub fn refresh_erz(&self, db: &Database, force: bool) -> anyhow::Result<()> {
        let mut conn = db.conn()?;
        let revision = snapshot::revision(&mut conn)?;
        if !force && self.erz.load().revision() == Some(revision) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let loaded = PolicySnapshot::load(&mut conn, revision)?;
        tracing::info!(
            persons = loaded.persons(),
            millis = started.elapsed().as_millis(),
            "ERZ snapshot rebuilt"
        );
        self.erz.store(Arc::new(loaded));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::nsi::ClassifierLookup;

    #[test]
    fn swapping_keeps_old_readers_consistent() {
        let lookups = Lookups::default();
        let mut snapshot = NsiSnapshot::default();
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        snapshot.add(
            "V006",
            "1",
            NaiveDate::from_ymd_opt(2011, 1, 1).unwrap(),
            None,
        );
        lookups.replace_nsi(snapshot);
        let held = lookups.nsi();
        lookups.replace_nsi(NsiSnapshot::default());
        assert!(
            held.is_valid("V006", "1", day),
            "a held snapshot does not change"
        );
        assert!(!lookups.nsi().is_loaded("V006"));
        let clone = lookups.clone();
        clone.replace_nsi(held.as_ref().clone());
        assert!(
            lookups.nsi().is_valid("V006", "1", day),
            "clones share the snapshots"
        );
    }
}
