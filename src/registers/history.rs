//! History of register entries: every state ever recorded is a row of the register's version
//! table (`<register>_version`), never updated or deleted, and "the state on date D" is read
//! from them.
//!
//! A version carries the full record, its status, the business date from which it is true
//! (`valid_from`), when the hub recorded it, who made the change (`import:<file>`, `admin`, …),
//! the kind of change and a comment. The version in force on D is the one with the latest
//! `valid_from` not after D (the later recorded wins a tie); before the first `valid_from` the
//! earliest version answers, because no earlier state is known. The current-state table holds
//! a copy of the newest version (latest `valid_from`, then latest recorded).
//!
//! Used by `service` (reads, imports, admin changes, workflow steps); the register modules
//! call the per-table functions generated here from their repositories.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;
use serde::Serialize;

use super::model::{Register, State, Status, StoreError, record_json};
use crate::db::DbConn;

/// What kind of change made a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The entry's first version.
    Created,
    /// The record changed (import or admin).
    Updated,
    /// An onboarding step changed the status.
    StatusChanged,
}

impl ChangeKind {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::StatusChanged => "status_changed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Created, Self::Updated, Self::StatusChanged]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A version about to be written.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// The entry's code.
    pub code: &'a str,
    /// From when this state is true.
    pub valid_from: NaiveDate,
    /// When the hub records it (UTC).
    pub recorded_at: NaiveDateTime,
    /// Who changed it.
    pub changed_by: &'a str,
    /// What kind of change.
    pub change_kind: ChangeKind,
    /// Status of this state.
    pub status: Status,
    /// Since when that status holds.
    pub status_since: NaiveDate,
    /// A comment (onboarding steps).
    pub comment: Option<&'a str>,
    /// The record as JSON.
    pub record: String,
}

/// A version as stored.
#[derive(Debug, Clone, diesel::Queryable)]
pub struct VersionRow {
    /// Order of recording.
    pub id: i64,
    /// The entry's code.
    pub code: String,
    /// From when the state is true.
    pub valid_from: NaiveDate,
    /// When the hub recorded it.
    pub recorded_at: NaiveDateTime,
    /// Who changed it.
    pub changed_by: String,
    /// `created`, `updated`, `status_changed`.
    pub change_kind: String,
    /// Status of this state.
    pub status: String,
    /// Since when.
    pub status_since: NaiveDate,
    /// Comment.
    pub comment: Option<String>,
    /// The record as JSON.
    pub record: String,
}

/// A version with its record read back.
#[derive(Debug, Clone, Serialize)]
pub struct Version<R> {
    /// Order of recording (grows with time).
    pub id: i64,
    /// From when the state is true.
    pub valid_from: NaiveDate,
    /// When the hub recorded it (UTC).
    pub recorded_at: NaiveDateTime,
    /// Who changed it.
    pub changed_by: String,
    /// What kind of change.
    pub change_kind: ChangeKind,
    /// Status of this state.
    pub status: Status,
    /// Since when that status holds.
    pub status_since: NaiveDate,
    /// Comment of an onboarding step.
    pub comment: Option<String>,
    /// The full record.
    pub record: R,
}

impl<R: Register> Version<R> {
    /// The state this version describes.
    #[must_use]
    pub fn state(&self) -> State<R> {
        State {
            record: self.record.clone(),
            status: self.status,
            status_since: self.status_since,
            valid_from: self.valid_from,
        }
    }
}

impl VersionRow {
    fn typed<R: Register>(self) -> Result<Version<R>, StoreError> {
        let corrupt = |detail: String| StoreError::corrupt(R::KIND, &self.code, detail);
        let status = Status::parse(&self.status)
            .ok_or_else(|| corrupt(format!("status `{}`", self.status)))?;
        let change_kind = ChangeKind::parse(&self.change_kind)
            .ok_or_else(|| corrupt(format!("change kind `{}`", self.change_kind)))?;
        let record = serde_json::from_str(&self.record).map_err(|e| corrupt(e.to_string()))?;
        Ok(Version {
            id: self.id,
            valid_from: self.valid_from,
            recorded_at: self.recorded_at,
            changed_by: self.changed_by,
            change_kind,
            status,
            status_since: self.status_since,
            comment: self.comment,
            record,
        })
    }
}

/// Every version of `code`, in the order recorded.
pub fn versions<R: Register>(conn: &mut DbConn, code: &str) -> Result<Vec<Version<R>>, StoreError> {
    R::versions(conn, code)?
        .into_iter()
        .map(VersionRow::typed)
        .collect()
}

/// The version in force on `day`: the latest `valid_from` not after `day` (the later recorded
/// wins a tie); for a day before every version, the earliest version.
#[must_use]
pub fn in_force_on<R>(versions: &[Version<R>], day: NaiveDate) -> Option<&Version<R>> {
    versions
        .iter()
        .filter(|v| v.valid_from <= day)
        .max_by_key(|v| (v.valid_from, v.id))
        .or_else(|| {
            let first = versions.iter().map(|v| v.valid_from).min()?;
            versions
                .iter()
                .filter(|v| v.valid_from == first)
                .max_by_key(|v| v.id)
        })
}

/// Who makes a change, and how.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Recorded as `changed_by`.
    pub author: &'a str,
    /// What kind of change.
    pub kind: ChangeKind,
    /// Comment (onboarding steps).
    pub comment: Option<&'a str>,
    /// The recording time (UTC).
    pub now: NaiveDateTime,
}

/// Records `state` as a new version and, when it is the newest (its `valid_from` is not before
/// the current state's), as the current state. `current` is the entry's current state, if any.
pub fn record<R: Register>(
    conn: &mut DbConn,
    state: &State<R>,
    current: Option<&State<R>>,
    change: &Change<'_>,
) -> QueryResult<()> {
    let newest = current.is_none_or(|c| state.valid_from >= c.valid_from);
    if newest {
        // First, so that the version's foreign key finds a new entry.
        R::save_current(conn, state, change.now)?;
    }
    R::insert_version(
        conn,
        &NewVersion {
            code: state.record.code(),
            valid_from: state.valid_from,
            recorded_at: change.now,
            changed_by: change.author,
            change_kind: change.kind,
            status: state.status,
            status_since: state.status_since,
            comment: change.comment,
            record: record_json(&state.record),
        },
    )
}

/// Generates `insert` and `list` for one version table (they all have the same columns).
macro_rules! version_table {
    ($module:ident, $table:ident) => {
        /// Statements on one register's version table.
        pub mod $module {
            use diesel::prelude::*;

            use super::{NewVersion, VersionRow};
            use crate::db::DbConn;
            use crate::db::schema::$table as t;

            /// Appends a version.
            pub fn insert(conn: &mut DbConn, v: &NewVersion<'_>) -> QueryResult<()> {
                diesel::insert_into(t::table)
                    .values((
                        t::code.eq(v.code),
                        t::valid_from.eq(v.valid_from),
                        t::recorded_at.eq(v.recorded_at),
                        t::changed_by.eq(v.changed_by),
                        t::change_kind.eq(v.change_kind.as_str()),
                        t::status.eq(v.status.as_str()),
                        t::status_since.eq(v.status_since),
                        t::comment.eq(v.comment),
                        t::record.eq(&v.record),
                    ))
                    .execute(conn)
                    .map(drop)
            }

            /// Every version of `code`, in the order recorded.
            pub fn list(conn: &mut DbConn, code: &str) -> QueryResult<Vec<VersionRow>> {
                t::table
                    .filter(t::code.eq(code))
                    .order(t::id.asc())
                    .select((
                        t::id,
                        t::code,
                        t::valid_from,
                        t::recorded_at,
                        t::changed_by,
                        t::change_kind,
                        t::status,
                        t::status_since,
                        t::comment,
                        t::record,
                    ))
                    .load(conn)
            }
        }
    };
}

version_table!(fund_versions, territorial_fund_version);
version_table!(insurer_versions, insurer_version);
version_table!(medical_org_versions, medical_organisation_version);
version_table!(expert_versions, expert_version);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: i64, from: &str) -> Version<()> {
        Version {
            id,
            valid_from: from.parse().unwrap(),
            recorded_at: NaiveDateTime::default(),
            changed_by: "t".into(),
            change_kind: ChangeKind::Updated,
            status: Status::Active,
            status_since: from.parse().unwrap(),
            comment: None,
            record: (),
        }
    }

    fn id_on(versions: &[Version<()>], day: &str) -> Option<i64> {
        in_force_on(versions, day.parse().unwrap()).map(|v| v.id)
    }

    #[test]
    fn the_version_in_force_is_the_latest_started() {
        // Recorded out of business order: a backdated correction (3) and a same-day fix (4).
        let list = [
            v(1, "2024-01-01"),
            v(2, "2025-01-01"),
            v(3, "2024-06-01"),
            v(4, "2025-01-01"),
        ];
        assert_eq!(id_on(&list, "2024-03-01"), Some(1));
        assert_eq!(id_on(&list, "2024-06-01"), Some(3));
        assert_eq!(id_on(&list, "2024-12-31"), Some(3));
        assert_eq!(
            id_on(&list, "2025-01-01"),
            Some(4),
            "later recorded wins a tie"
        );
        assert_eq!(id_on(&list, "2030-01-01"), Some(4));
        assert_eq!(
            id_on(&list, "2020-01-01"),
            Some(1),
            "before all: the earliest"
        );
        assert_eq!(id_on(&[], "2020-01-01"), None);
    }
}
