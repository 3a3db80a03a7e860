//! The in-memory snapshots validation reads: classifiers (`nsi::NsiSnapshot`) and registers
//! (`registers::lookup::RegisterSnapshot`), each swapped whole when its store changes.
//!
//! Readers take an `Arc` of one snapshot and keep it for a whole package, so a rebuild never
//! changes the answers mid-package, and never lock. `serve` builds both at start, rebuilds
//! after a change made through the API, and polls the stores' revisions every
//! `nsi.refresh_secs` for changes made by another process (the CLI).

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::db::Database;
use crate::nsi::NsiSnapshot;
use crate::registers::lookup::{RegisterSnapshot, SharedRegisters};

/// Both snapshots. Cheap to clone; clones share the snapshots.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    nsi: Arc<ArcSwap<NsiSnapshot>>,
    registers: SharedRegisters,
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

    /// Rebuilds each snapshot whose store changed (every one with `force`).
    pub fn refresh(&self, db: &Database, force: bool) -> anyhow::Result<()> {
        crate::nsi::refresh_snapshot(db, self, force)?;
        crate::registers::lookup::refresh_snapshot(db, &self.registers, force)?;
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
