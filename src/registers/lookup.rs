//! Fast register look-ups for validation: the [`RegisterLookup`] trait the rules depend on
//! ("does this organisation exist, and may it send this or be named as payer on that date?"),
//! and [`RegisterSnapshot`], an immutable in-memory copy of what the answers need.
//!
//! The trait and its answer types know nothing of the database, so rules are tested with
//! fakes. The snapshot is built by [`RegisterSnapshot::load`] and held in [`SharedRegisters`],
//! which [`refresh_snapshot`] swaps whole when [`super::revision`] has moved; readers never
//! lock. No personal data is kept: experts are held by code, territory and specialty codes.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::NaiveDate;
use hashbrown::HashMap;

use super::RegisterKind;
use super::experts::Expert;
use super::funds::Fund;
use super::insurers::Insurer;
use super::medical_orgs::MedicalOrganisation;
use super::model::{Activity, Register, State, StoreError};
use crate::db::{Database, DbConn, DbError};
use crate::domain::{InsurerCode, MoCode, TfomsCode};

/// Whether a registered organisation may act on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The register has no such code.
    Unknown,
    /// Registered, but not active on that date (not yet or no longer included, excluded, or
    /// still in onboarding).
    Inactive,
    /// Active on that date.
    Active,
}

/// What validation needs to know about a fund, insurer or clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    /// Its code.
    pub code: String,
    /// Its territory.
    pub territory: TfomsCode,
    /// Short name, for messages.
    pub name: String,
    /// What decides whether it is active on a date.
    pub activity: Activity,
}

/// What validation needs to know about an expert (no names or SNILS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertInfo {
    /// The expert's code (`CODE_EXP`).
    pub code: String,
    /// Territory of the expert's fund.
    pub territory: TfomsCode,
    /// Specialty codes.
    pub specialties: Vec<String>,
    /// Registered from (`date_reg`).
    pub activity: Activity,
}

fn standing(activity: Option<&Activity>, on: NaiveDate) -> Standing {
    match activity {
        None => Standing::Unknown,
        Some(a) if a.active_on(on) => Standing::Active,
        Some(_) => Standing::Inactive,
    }
}

/// Register look-ups as validation rules need them. Implement the five getters; the standing
/// questions follow from them.
pub trait RegisterLookup: Send + Sync {
    /// The territorial fund `code`.
    fn fund(&self, code: &TfomsCode) -> Option<&OrgInfo>;
    /// The insurer `code`.
    fn insurer(&self, code: &InsurerCode) -> Option<&OrgInfo>;
    /// The medical organisation `code` (its federal F003 code).
    fn medical_org(&self, code: &MoCode) -> Option<&OrgInfo>;
    /// The medical organisation a region knows by its own code `regional`.
    fn medical_org_by_regional_code(
        &self,
        territory: &TfomsCode,
        regional: &MoCode,
    ) -> Option<&OrgInfo>;
    /// The expert `code` (`SANK/CODE_EXP`).
    fn expert(&self, code: &str) -> Option<&ExpertInfo>;

    /// Whether fund `code` exists and works on `on`.
    fn fund_standing(&self, code: &TfomsCode, on: NaiveDate) -> Standing {
        standing(self.fund(code).map(|o| &o.activity), on)
    }

    /// Whether insurer `code` exists and is active on `on` (may send, may be named as payer).
    fn insurer_standing(&self, code: &InsurerCode, on: NaiveDate) -> Standing {
        standing(self.insurer(code).map(|o| &o.activity), on)
    }

    /// Whether clinic `code` exists and is active on `on`.
    fn medical_org_standing(&self, code: &MoCode, on: NaiveDate) -> Standing {
        standing(self.medical_org(code).map(|o| &o.activity), on)
    }

    /// Whether expert `code` exists and is registered on `on`.
    fn expert_standing(&self, code: &str, on: NaiveDate) -> Standing {
        standing(self.expert(code).map(|e| &e.activity), on)
    }

    /// Shorthand: insurer `code` is active on `on`.
    fn insurer_active_on(&self, code: &InsurerCode, on: NaiveDate) -> bool {
        self.insurer_standing(code, on) == Standing::Active
    }

    /// Shorthand: clinic `code` is active on `on`.
    fn medical_org_active_on(&self, code: &MoCode, on: NaiveDate) -> bool {
        self.medical_org_standing(code, on) == Standing::Active
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// An immutable copy of every register entry's newest state, as much as validation needs.
#[derive(Debug, Clone)]
pub struct RegisterSnapshot {
    funds: FastMap<Box<str>, OrgInfo>,
    insurers: FastMap<Box<str>, OrgInfo>,
    medical_orgs: FastMap<Box<str>, OrgInfo>,
    /// (territory, regional code) → federal code.
    regional_codes: FastMap<(Box<str>, Box<str>), Box<str>>,
    experts: FastMap<Box<str>, ExpertInfo>,
    revision: i64,
}

impl Default for RegisterSnapshot {
    /// An empty snapshot at revision -1, so the first refresh always builds.
    fn default() -> Self {
        Self {
            funds: FastMap::default(),
            insurers: FastMap::default(),
            medical_orgs: FastMap::default(),
            regional_codes: FastMap::default(),
            experts: FastMap::default(),
            revision: -1,
        }
    }
}

fn org_info<R: Register>(state: &State<R>, name: &str) -> OrgInfo {
    OrgInfo {
        code: state.record.code().to_owned(),
        territory: state.record.territory(),
        name: name.to_owned(),
        activity: state.activity(),
    }
}

impl RegisterSnapshot {
    /// Reads every register. The revision is read first, so a change made meanwhile moves the
    /// revision past the snapshot's and the next refresh rebuilds.
    pub fn load(conn: &mut DbConn) -> Result<Self, StoreError> {
        let mut snapshot = Self {
            revision: super::revision(conn)?,
            ..Self::default()
        };
        for fund in Fund::load_all(conn)? {
            snapshot.add_fund(&fund);
        }
        for insurer in Insurer::load_all(conn)? {
            snapshot.add_insurer(&insurer);
        }
        for mo in MedicalOrganisation::load_all(conn)? {
            snapshot.add_medical_org(&mo);
        }
        for expert in Expert::load_all(conn)? {
            snapshot.add_expert(&expert);
        }
        Ok(snapshot)
    }

    /// Adds (or replaces) a fund.
    pub fn add_fund(&mut self, state: &State<Fund>) {
        let info = org_info(state, &state.record.name_short);
        self.funds.insert(info.code.clone().into(), info);
    }

    /// Adds (or replaces) an insurer.
    pub fn add_insurer(&mut self, state: &State<Insurer>) {
        let info = org_info(state, &state.record.name_short);
        self.insurers.insert(info.code.clone().into(), info);
    }

    /// Adds (or replaces) a medical organisation.
    pub fn add_medical_org(&mut self, state: &State<MedicalOrganisation>) {
        let info = org_info(state, &state.record.name_short);
        if let Some(regional) = &state.record.regional_code {
            self.regional_codes.insert(
                (info.territory.as_str().into(), regional.as_str().into()),
                info.code.clone().into(),
            );
        }
        self.medical_orgs.insert(info.code.clone().into(), info);
    }

    /// Adds (or replaces) an expert.
    pub fn add_expert(&mut self, state: &State<Expert>) {
        let r = &state.record;
        let info = ExpertInfo {
            code: r.code.as_str().to_owned(),
            territory: r.territory(),
            specialties: r.specialties.iter().map(|s| s.code.clone()).collect(),
            activity: state.activity(),
        };
        self.experts.insert(info.code.clone().into(), info);
    }

    /// The registers' revision this snapshot was built at.
    #[must_use]
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Number of entries held, per register.
    #[must_use]
    pub fn counts(&self) -> [(RegisterKind, usize); 4] {
        [
            (RegisterKind::TerritorialFunds, self.funds.len()),
            (RegisterKind::Insurers, self.insurers.len()),
            (RegisterKind::MedicalOrganisations, self.medical_orgs.len()),
            (RegisterKind::Experts, self.experts.len()),
        ]
    }
}

impl RegisterLookup for RegisterSnapshot {
    fn fund(&self, code: &TfomsCode) -> Option<&OrgInfo> {
        self.funds.get(code.as_str())
    }

    fn insurer(&self, code: &InsurerCode) -> Option<&OrgInfo> {
        self.insurers.get(code.as_str())
    }

    fn medical_org(&self, code: &MoCode) -> Option<&OrgInfo> {
        self.medical_orgs.get(code.as_str())
    }

    fn medical_org_by_regional_code(
        &self,
        territory: &TfomsCode,
        regional: &MoCode,
    ) -> Option<&OrgInfo> {
        let key: (Box<str>, Box<str>) = (territory.as_str().into(), regional.as_str().into());
        self.regional_codes
            .get(&key)
            .and_then(|code| self.medical_orgs.get(code))
    }

    fn expert(&self, code: &str) -> Option<&ExpertInfo> {
        self.experts.get(code)
    }
}

/// The current register snapshot, shared by every worker and swapped whole on change.
#[derive(Debug, Clone, Default)]
pub struct SharedRegisters(Arc<ArcSwap<RegisterSnapshot>>);

impl SharedRegisters {
    /// The snapshot now; hold it for the whole of one package's checks.
    #[must_use]
    pub fn current(&self) -> Arc<RegisterSnapshot> {
        self.0.load_full()
    }

    /// Replaces the snapshot.
    pub fn replace(&self, snapshot: RegisterSnapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

/// Failure of a snapshot refresh.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// No connection.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Reading the registers failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rebuilds the snapshot when the registers' revision differs from the snapshot's, or always
/// with `force`. Returns whether it rebuilt. The server calls it every `nsi.refresh_secs`.
pub fn refresh_snapshot(
    db: &Database,
    shared: &SharedRegisters,
    force: bool,
) -> Result<bool, RefreshError> {
    let mut conn = db.conn()?;
    let revision = super::revision(&mut conn).map_err(StoreError::Db)?;
    if !force && revision == shared.current().revision() {
        return Ok(false);
    }
    let snapshot = RegisterSnapshot::load(&mut conn)?;
    tracing::info!(
        revision = snapshot.revision(),
        "register look-up snapshot rebuilt"
    );
    shared.replace(snapshot);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::model::{Span, Status};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A fake register: one insurer excluded from 2025-07-01, one clinic in onboarding.
    struct Fake {
        insurer: OrgInfo,
        clinic: OrgInfo,
    }

    impl RegisterLookup for Fake {
        fn fund(&self, _: &TfomsCode) -> Option<&OrgInfo> {
            None
        }
        fn insurer(&self, code: &InsurerCode) -> Option<&OrgInfo> {
            (code.as_str() == self.insurer.code).then_some(&self.insurer)
        }
        fn medical_org(&self, code: &MoCode) -> Option<&OrgInfo> {
            (code.as_str() == self.clinic.code).then_some(&self.clinic)
        }
        fn medical_org_by_regional_code(&self, _: &TfomsCode, _: &MoCode) -> Option<&OrgInfo> {
            None
        }
        fn expert(&self, _: &str) -> Option<&ExpertInfo> {
            None
        }
    }

    /// The kind of rule validation will write: may this insurer be named as payer on the date
    /// of the account? Returns the finding code, if any.
    fn payer_rule(lookup: &dyn RegisterLookup, payer: &str, on: NaiveDate) -> Option<&'static str> {
        let Ok(code) = InsurerCode::parse(payer) else {
            return Some("payer_code_malformed");
        };
        match lookup.insurer_standing(&code, on) {
            Standing::Unknown => Some("payer_unknown"),
            Standing::Inactive => Some("payer_not_active_on_date"),
            Standing::Active => None,
        }
    }

    fn fake() -> Fake {
        let territory = TfomsCode::parse("34").unwrap();
        Fake {
            insurer: OrgInfo {
                code: "34901".into(),
                territory: territory.clone(),
                name: "СК Тест".into(),
                activity: Activity {
                    status: Status::Excluded,
                    status_since: d("2025-07-01"),
                    periods: vec![Span {
                        from: Some(d("2020-01-01")),
                        to: Some(d("2025-06-30")),
                    }],
                },
            },
            clinic: OrgInfo {
                code: "340901".into(),
                territory,
                name: "Клиника Тест".into(),
                activity: Activity {
                    status: Status::Approved,
                    status_since: d("2026-01-10"),
                    periods: Vec::new(),
                },
            },
        }
    }

    #[test]
    fn rules_read_registers_through_the_trait() {
        let fake = fake();
        assert_eq!(payer_rule(&fake, "34901", d("2025-06-30")), None);
        assert_eq!(
            payer_rule(&fake, "34901", d("2025-07-01")),
            Some("payer_not_active_on_date")
        );
        assert_eq!(
            payer_rule(&fake, "34901", d("2019-12-31")),
            Some("payer_not_active_on_date")
        );
        assert_eq!(
            payer_rule(&fake, "34902", d("2025-01-01")),
            Some("payer_unknown")
        );
        assert_eq!(
            payer_rule(&fake, "3490", d("2025-01-01")),
            Some("payer_code_malformed")
        );
        let clinic = MoCode::parse("340901").unwrap();
        assert_eq!(
            fake.medical_org_standing(&clinic, d("2026-02-01")),
            Standing::Inactive
        );
        assert!(!fake.medical_org_active_on(&clinic, d("2026-02-01")));
    }

    #[test]
    fn the_snapshot_answers_like_the_fake() {
        let fake = fake();
        let mut snapshot = RegisterSnapshot::default();
        snapshot
            .insurers
            .insert("34901".into(), fake.insurer.clone());
        snapshot
            .medical_orgs
            .insert("340901".into(), fake.clinic.clone());
        snapshot
            .regional_codes
            .insert(("34".into(), "103001".into()), "340901".into());
        for day in ["2019-12-31", "2020-01-01", "2025-06-30", "2025-07-01"] {
            assert_eq!(
                payer_rule(&snapshot, "34901", d(day)),
                payer_rule(&fake, "34901", d(day))
            );
        }
        let regional = snapshot
            .medical_org_by_regional_code(
                &TfomsCode::parse("34").unwrap(),
                &MoCode::parse("103001").unwrap(),
            )
            .unwrap();
        assert_eq!(regional.code, "340901");
        assert_eq!(snapshot.revision(), -1);
    }
}
