//! The register of insured persons as the business rules read it: an immutable in-memory
//! snapshot of the current insurance episodes and death dates of every person, by ENP, that
//! implements `validate::rules::PolicyLookup` (insurance on the case date, the payer, the
//! patient alive). It is built once from the `erz_*` tables (read only) and kept in `Lookups`,
//! rebuilt only when the register's revision moves, so a package's check never queries the
//! register per record (ARCHITECTURE.md invariant 12).
//!
//! The snapshot answers "as known now": a rule checks a case against what the register holds
//! when the package is checked. Memory is about 24 bytes per person and 12 per episode (about
//! 40 MB for a million persons), in two sorted vectors. Called by `lookups` and
//! `settlement::open_checker`.

use chrono::NaiveDate;
use diesel::dsl::max;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{erz_insurance, erz_op, erz_person, erz_person_version};
use crate::validate::rules::sources::{PolicyLookup, PolicyStatus, enp_number};

/// What changes whenever the register changes: the newest operation, insurance row and person
/// version (every write of the register adds at least one of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revision {
    ops: Option<i64>,
    insurance: Option<i64>,
    versions: Option<i64>,
}

/// The register's revision now.
pub fn revision(conn: &mut DbConn) -> QueryResult<Revision> {
    Ok(Revision {
        ops: erz_op::table.select(max(erz_op::id)).first(conn)?,
        insurance: erz_insurance::table
            .select(max(erz_insurance::id))
            .first(conn)?,
        versions: erz_person_version::table
            .select(max(erz_person_version::id))
            .first(conn)?,
    })
}

#[derive(Debug, Clone, Copy)]
struct Person {
    enp: u64,
    died: Option<NaiveDate>,
    /// Index of the first episode in `episodes`.
    first: u32,
    /// Number of episodes.
    count: u32,
}

#[derive(Debug, Clone, Copy)]
struct Episode {
    /// First day insured.
    from: NaiveDate,
    /// First day no longer insured (`None`: open).
    to: Option<NaiveDate>,
    /// Index into `insurers`.
    insurer: u32,
}

/// The snapshot (see the module text). `Default` is the empty register, revision unknown.
#[derive(Debug, Clone, Default)]
pub struct PolicySnapshot {
    revision: Option<Revision>,
    persons: Vec<Person>,
    episodes: Vec<Episode>,
    insurers: Vec<String>,
}

/// One current insurance row as read: ENP, valid from, valid to, planned end, insurer.
type InsuranceLine = (
    String,
    NaiveDate,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
);

impl PolicySnapshot {
    /// Reads the current register (rows not superseded) at revision `revision`.
    pub fn load(conn: &mut DbConn, revision: Revision) -> QueryResult<Self> {
        let mut persons: Vec<Person> = Vec::new();
        let versions = erz_person_version::table
            .inner_join(erz_person::table)
            .filter(erz_person_version::superseded_at.is_null())
            .select((erz_person::enp, erz_person_version::death_date))
            .load_iter::<(String, Option<NaiveDate>), diesel::connection::DefaultLoadingMode>(
                conn,
            )?;
        for row in versions {
            let (enp, died) = row?;
            if let Some(enp) = enp_number(&enp) {
                persons.push(Person {
                    enp,
                    died,
                    first: 0,
                    count: 0,
                });
            }
        }
        // One entry per person; a death date from any current version (the latest, if two).
        persons.sort_unstable_by(|a, b| a.enp.cmp(&b.enp).then(a.died.cmp(&b.died)));
        persons.dedup_by(|later, kept| {
            if later.enp == kept.enp {
                kept.died = kept.died.max(later.died);
                true
            } else {
                false
            }
        });
        persons.shrink_to_fit();

        let mut insurers: Vec<String> = Vec::new();
        let mut lines: Vec<(u64, Episode)> = Vec::new();
        let rows = erz_insurance::table
            .inner_join(erz_person::table)
            .filter(erz_insurance::superseded_at.is_null())
            .select((
                erz_person::enp,
                erz_insurance::valid_from,
                erz_insurance::valid_to,
                erz_insurance::planned_end,
                erz_insurance::insurer_code,
            ))
            .load_iter::<InsuranceLine, diesel::connection::DefaultLoadingMode>(conn)?;
        for row in rows {
            let (enp, from, valid_to, planned_end, insurer) = row?;
            let Some(enp) = enp_number(&enp) else {
                continue;
            };
            // Insured up to the planned end (DEND) inclusive, when it comes first.
            let after_end = planned_end.and_then(|d| d.succ_opt());
            let to = match (valid_to, after_end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let insurer = if let Some(i) = insurers.iter().position(|i| *i == insurer) {
                i
            } else {
                insurers.push(insurer);
                insurers.len() - 1
            };
            lines.push((
                enp,
                Episode {
                    from,
                    to,
                    insurer: u32::try_from(insurer).unwrap_or(u32::MAX),
                },
            ));
        }
        lines.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.from.cmp(&b.1.from)));
        let mut episodes = Vec::with_capacity(lines.len());
        let mut at = 0;
        for person in &mut persons {
            while at < lines.len() && lines[at].0 < person.enp {
                at += 1;
            }
            person.first = u32::try_from(episodes.len()).unwrap_or(u32::MAX);
            while at < lines.len() && lines[at].0 == person.enp {
                episodes.push(lines[at].1);
                at += 1;
            }
            person.count = u32::try_from(episodes.len()).unwrap_or(u32::MAX) - person.first;
        }
        Ok(Self {
            revision: Some(revision),
            persons,
            episodes,
            insurers,
        })
    }

    /// The revision this snapshot was read at (`None`: never read).
    #[must_use]
    pub fn revision(&self) -> Option<Revision> {
        self.revision
    }

    /// Number of persons held.
    #[must_use]
    pub fn persons(&self) -> usize {
        self.persons.len()
    }

    /// Whether the register held nobody.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }
}

impl PolicyLookup for PolicySnapshot {
    fn policy_on(&self, enp: &str, on: NaiveDate) -> Option<PolicyStatus> {
        let n = enp_number(enp)?;
        let i = self.persons.binary_search_by(|p| p.enp.cmp(&n)).ok()?;
        let person = self.persons[i];
        let first = person.first as usize;
        let episodes = &self.episodes[first..first + person.count as usize];
        // The latest episode valid on that day, as `erz::status` answers it.
        let insurer = episodes
            .iter()
            .rev()
            .find(|e| e.from <= on && e.to.is_none_or(|to| on < to))
            .and_then(|e| self.insurers.get(e.insurer as usize).cloned());
        Some(PolicyStatus {
            insurer,
            died: person.died,
        })
    }
}
