//! What the API and the CLI ask of the registers: list with filters and "active on a date",
//! one entry now or on a date, its history, create or update one entry, and onboarding steps.
//!
//! The public functions take a [`RegisterKind`] and return JSON-ready views, so callers need
//! not know the record types; inside, each is generic over [`Register`]. Every writing
//! transaction first moves the registers' revision (see [`super::bump_revision`]); when it
//! turns out to change nothing it is rolled back, so an unchanged re-import leaves the revision
//! and the history as they were.

use chrono::{NaiveDate, Utc};
use diesel::Connection;
use serde::Serialize;

use super::check::{At, FieldError};
use super::experts::Expert;
use super::funds::Fund;
use super::history::{self, Change, ChangeKind, Version};
use super::insurers::Insurer;
use super::medical_orgs::MedicalOrganisation;
use super::model::{Activity, ListFilter, Register, State, Status, StoreError};
use super::{RegisterKind, bump_revision, workflow};
use crate::db::DbConn;
use crate::imports::Outcome;

/// Runs `$body` with the type `$R` bound to the record type of register `$kind`.
macro_rules! with_register {
    ($kind:expr, |$R:ident| $body:expr) => {
        match $kind {
            RegisterKind::TerritorialFunds => {
                type $R = Fund;
                $body
            }
            RegisterKind::Insurers => {
                type $R = Insurer;
                $body
            }
            RegisterKind::MedicalOrganisations => {
                type $R = MedicalOrganisation;
                $body
            }
            RegisterKind::Experts => {
                type $R = Expert;
                $body
            }
        }
    };
}

pub(crate) use with_register;

/// Why a register request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No entry with that code.
    #[error("{} {code} is not in the register", .kind.noun())]
    EntryNotFound {
        /// The register.
        kind: RegisterKind,
        /// The code asked for.
        code: String,
    },
    /// The entry (or a request field) does not pass the checks.
    #[error("{}", .0.api_message())]
    Invalid(FieldError),
    /// The onboarding graph has no such step.
    #[error("{} {code} is {from}; it cannot become {to} ({})", .kind.noun(), allowed_text(*.from))]
    InvalidTransition {
        /// The register.
        kind: RegisterKind,
        /// The entry.
        code: String,
        /// Its status now.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// The register has no onboarding workflow.
    #[error("the register of {kind} has no onboarding workflow")]
    NoWorkflow {
        /// The register.
        kind: RegisterKind,
    },
    /// A workflow step dated before the entry's newest version.
    #[error(
        "the step cannot take effect on {day}: the newest state of the entry is in force from {newest}"
    )]
    DateBeforeNewest {
        /// The date asked for.
        day: NaiveDate,
        /// The newest version's `valid_from`.
        newest: NaiveDate,
    },
    /// The database failed or holds an unreadable row.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn allowed_text(from: Status) -> String {
    let next = workflow::next(from);
    if next.is_empty() {
        format!("{from} is final")
    } else {
        let names: Vec<&str> = next.iter().map(|s| s.as_str()).collect();
        format!("from {from} only to {}", names.join(" or "))
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

impl ServiceError {
    /// The stable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::EntryNotFound { .. } => "register_entry_not_found",
            Self::Invalid(e) => e.code,
            Self::InvalidTransition { .. } | Self::NoWorkflow { .. } => "invalid_transition",
            Self::DateBeforeNewest { .. } => "invalid_date",
            Self::Store(_) => "internal_error",
        }
    }
}

/// One entry as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    /// The register (`insurers`).
    pub register: &'static str,
    /// The entry's code.
    pub code: String,
    /// Its territory (2-digit TFOMS code).
    pub territory: String,
    /// Workflow status of the state shown.
    pub status: Status,
    /// Since when that status holds.
    pub status_since: NaiveDate,
    /// The business date from which the state shown is in force.
    pub valid_from: NaiveDate,
    /// The date asked about (today when none was asked).
    pub on: NaiveDate,
    /// Whether the entry is active on that date.
    pub active: bool,
    /// The full record of the state shown.
    pub record: serde_json::Value,
}

/// One version as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    /// Order of recording.
    pub id: i64,
    /// From when the state is true.
    pub valid_from: NaiveDate,
    /// When the hub recorded it (UTC).
    pub recorded_at: chrono::NaiveDateTime,
    /// Who changed it.
    pub changed_by: String,
    /// `created`, `updated` or `status_changed`.
    pub change_kind: ChangeKind,
    /// Status of this state.
    pub status: Status,
    /// Since when.
    pub status_since: NaiveDate,
    /// Comment of an onboarding step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The full record.
    pub record: serde_json::Value,
}

/// What a create-or-update did.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    /// Inserted, updated or unchanged.
    pub outcome: Outcome,
    /// The entry's newest state afterwards.
    pub entry: EntryView,
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn view<R: Register>(state: &State<R>, activity: &Activity, on: NaiveDate) -> EntryView {
    EntryView {
        register: R::KIND.slug(),
        code: state.record.code().to_owned(),
        territory: state.record.territory().as_str().to_owned(),
        status: state.status,
        status_since: state.status_since,
        valid_from: state.valid_from,
        on,
        active: activity.active_on(on),
        record: serde_json::to_value(&state.record).unwrap_or_default(),
    }
}

fn not_found<R: Register>(code: &str) -> ServiceError {
    ServiceError::EntryNotFound {
        kind: R::KIND,
        code: code.to_owned(),
    }
}

/// The state of `code` shown for `on`: the version in force then, or the newest state.
fn state_for<R: Register>(
    conn: &mut DbConn,
    current: State<R>,
    on: Option<NaiveDate>,
) -> Result<State<R>, ServiceError> {
    let Some(day) = on else {
        return Ok(current);
    };
    let versions = history::versions::<R>(conn, current.record.code())?;
    Ok(history::in_force_on(&versions, day).map_or(current, Version::state))
}

// ---- reads --------------------------------------------------------------------------------

/// A page of register `kind`: the entries matching `filter`, in code order; with `on`, only
/// those active on that date, each shown in its state on that date. Returns the page and the
/// number of matching entries.
pub fn list(
    conn: &mut DbConn,
    kind: RegisterKind,
    filter: &ListFilter,
    on: Option<NaiveDate>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<EntryView>, i64), ServiceError> {
    with_register!(kind, |R| list_of::<R>(conn, filter, on, offset, limit))
}

fn list_of<R: Register>(
    conn: &mut DbConn,
    filter: &ListFilter,
    on: Option<NaiveDate>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<EntryView>, i64), ServiceError> {
    let mut keys = R::list_keys(conn, filter)?;
    if let Some(day) = on {
        keys.retain(|(_, activity)| activity.active_on(day));
    }
    let total = i64::try_from(keys.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = usize::try_from(limit).unwrap_or(0);
    let day = on.unwrap_or_else(today);
    let mut items = Vec::with_capacity(take.min(keys.len()));
    for (code, activity) in keys.iter().skip(skip).take(take) {
        let current = R::load_current(conn, code)?.ok_or_else(|| not_found::<R>(code))?;
        let state = state_for(conn, current, on)?;
        items.push(view(&state, activity, day));
    }
    Ok((items, total))
}

/// Entry `code` of register `kind`: its newest state, or with `on` its state on that date
/// (the earliest known state for dates before it), and whether it is active then.
pub fn get(
    conn: &mut DbConn,
    kind: RegisterKind,
    code: &str,
    on: Option<NaiveDate>,
) -> Result<EntryView, ServiceError> {
    with_register!(kind, |R| get_of::<R>(conn, code, on))
}

fn get_of<R: Register>(
    conn: &mut DbConn,
    code: &str,
    on: Option<NaiveDate>,
) -> Result<EntryView, ServiceError> {
    let current = R::load_current(conn, code)?.ok_or_else(|| not_found::<R>(code))?;
    let activity = current.activity();
    let state = state_for(conn, current, on)?;
    Ok(view(&state, &activity, on.unwrap_or_else(today)))
}

/// Every version of entry `code`, in the order recorded.
pub fn history(
    conn: &mut DbConn,
    kind: RegisterKind,
    code: &str,
) -> Result<Vec<VersionView>, ServiceError> {
    with_register!(kind, |R| history_of::<R>(conn, code))
}

fn history_of<R: Register>(
    conn: &mut DbConn,
    code: &str,
) -> Result<Vec<VersionView>, ServiceError> {
    let versions = history::versions::<R>(conn, code)?;
    if versions.is_empty() {
        return Err(not_found::<R>(code));
    }
    Ok(versions
        .into_iter()
        .map(|v| VersionView {
            id: v.id,
            valid_from: v.valid_from,
            recorded_at: v.recorded_at,
            changed_by: v.changed_by,
            change_kind: v.change_kind,
            status: v.status,
            status_since: v.status_since,
            comment: v.comment,
            record: serde_json::to_value(&v.record).unwrap_or_default(),
        })
        .collect())
}

// ---- writes -------------------------------------------------------------------------------

/// What recording one checked record would do.
#[derive(Debug)]
pub(crate) enum Planned<R> {
    /// The hub holds exactly this already.
    Unchanged,
    /// A new entry.
    Insert(State<R>),
    /// A new version of an existing entry.
    Update {
        /// The new version.
        state: State<R>,
        /// The entry's current state.
        current: State<R>,
    },
}

impl<R> Planned<R> {
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            Self::Unchanged => Outcome::Unchanged,
            Self::Insert(_) => Outcome::Inserted,
            Self::Update { .. } => Outcome::Updated,
        }
    }
}

/// Decides what recording `record`, true from `valid_from`, does. It is unchanged when the hub
/// holds exactly this record as the newest state or as the state in force on `valid_from`.
/// A new entry gets `new_status`; a new version keeps the status of the state it follows.
pub(crate) fn plan<R: Register>(
    conn: &mut DbConn,
    record: R,
    valid_from: NaiveDate,
    new_status: Status,
) -> Result<Planned<R>, StoreError> {
    let Some(current) = R::load_current(conn, record.code())? else {
        return Ok(Planned::Insert(State {
            record,
            status: new_status,
            status_since: valid_from,
            valid_from,
        }));
    };
    if current.record == record {
        return Ok(Planned::Unchanged);
    }
    let versions = history::versions::<R>(conn, record.code())?;
    let base =
        history::in_force_on(&versions, valid_from).map_or_else(|| current.clone(), Version::state);
    if base.record == record {
        return Ok(Planned::Unchanged);
    }
    Ok(Planned::Update {
        state: State {
            record,
            status: base.status,
            status_since: base.status_since,
            valid_from,
        },
        current,
    })
}

/// Writes what [`plan`] decided.
pub(crate) fn apply<R: Register>(
    conn: &mut DbConn,
    planned: &Planned<R>,
    author: &str,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    let change = |kind| Change {
        author,
        kind,
        comment: None,
        now,
    };
    match planned {
        Planned::Unchanged => Ok(()),
        Planned::Insert(state) => history::record(conn, state, None, &change(ChangeKind::Created)),
        Planned::Update { state, current } => {
            history::record(conn, state, Some(current), &change(ChangeKind::Updated))
        }
    }
}

/// The failure of a writing transaction, or "nothing changed" with the value to return.
enum TxEnd<T> {
    Failed(ServiceError),
    NothingChanged(T),
}

impl<T> From<diesel::result::Error> for TxEnd<T> {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// Runs `f` in a writing transaction that first moves the registers' revision. `f` returns its
/// value and whether it changed anything; when it did not, the transaction is rolled back.
pub(crate) fn write_changes<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<(T, bool), ServiceError>,
) -> Result<T, ServiceError> {
    let result = conn.transaction::<T, TxEnd<T>, _>(|c| {
        bump_revision(c)?;
        match f(c) {
            Ok((value, true)) => Ok(value),
            Ok((value, false)) => Err(TxEnd::NothingChanged(value)),
            Err(e) => Err(TxEnd::Failed(e)),
        }
    });
    match result {
        Ok(value) | Err(TxEnd::NothingChanged(value)) => Ok(value),
        Err(TxEnd::Failed(e)) => Err(e),
    }
}

/// Creates or updates one entry of register `kind` from its JSON form, with the same checks as
/// an import. A new insurer or clinic starts as an `application`; a new fund or expert is
/// `active`. The new state is true from `valid_from`, else from the record's `d_edit`, else
/// from today.
pub fn save(
    conn: &mut DbConn,
    kind: RegisterKind,
    body: serde_json::Value,
    valid_from: Option<NaiveDate>,
    author: &str,
) -> Result<Saved, ServiceError> {
    with_register!(kind, |R| save_of::<R>(conn, body, valid_from, author))
}

fn save_of<R: Register>(
    conn: &mut DbConn,
    body: serde_json::Value,
    valid_from: Option<NaiveDate>,
    author: &str,
) -> Result<Saved, ServiceError> {
    let raw: R::Raw = serde_json::from_value(body).map_err(|e| {
        let message = e.to_string();
        let code = if message.starts_with("unknown field") {
            "unknown_field"
        } else {
            "invalid_entry"
        };
        ServiceError::Invalid(FieldError::entry(code, message))
    })?;
    let record = R::check(raw).map_err(ServiceError::Invalid)?;
    let code = record.code().to_owned();
    let valid_from = valid_from.or(record.d_edit()).unwrap_or_else(today);
    let new_status = if R::KIND.has_workflow() {
        Status::Application
    } else {
        Status::Active
    };
    let now = Utc::now().naive_utc();
    let outcome = write_changes(conn, |c| {
        let planned = plan(c, record, valid_from, new_status)?;
        apply(c, &planned, author, now)?;
        let outcome = planned.outcome();
        Ok((outcome, outcome != Outcome::Unchanged))
    })?;
    let current = R::load_current(conn, &code)?.ok_or_else(|| not_found::<R>(&code))?;
    Ok(Saved {
        outcome,
        entry: view(&current, &current.activity(), today()),
    })
}

/// One onboarding step of entry `code`: to status `to`, taking effect on `day` (today when
/// absent), recorded with `author` and `comment`.
pub fn transition(
    conn: &mut DbConn,
    kind: RegisterKind,
    code: &str,
    to: Status,
    day: Option<NaiveDate>,
    comment: &str,
    author: &str,
) -> Result<EntryView, ServiceError> {
    with_register!(kind, |R| transition_of::<R>(
        conn, code, to, day, comment, author
    ))
}

fn transition_of<R: Register>(
    conn: &mut DbConn,
    code: &str,
    to: Status,
    day: Option<NaiveDate>,
    comment: &str,
    author: &str,
) -> Result<EntryView, ServiceError> {
    if !R::KIND.has_workflow() {
        return Err(ServiceError::NoWorkflow { kind: R::KIND });
    }
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(ServiceError::Invalid(
            At::root()
                .field("comment", "")
                .error("missing_field", "every onboarding step needs a comment"),
        ));
    }
    let day = day.unwrap_or_else(today);
    let now = Utc::now().naive_utc();
    let state = write_changes(conn, |c| {
        let current = R::load_current(c, code)?.ok_or_else(|| not_found::<R>(code))?;
        if !workflow::allowed(current.status, to) {
            return Err(ServiceError::InvalidTransition {
                kind: R::KIND,
                code: code.to_owned(),
                from: current.status,
                to,
            });
        }
        if day < current.valid_from {
            return Err(ServiceError::DateBeforeNewest {
                day,
                newest: current.valid_from,
            });
        }
        let mut record = current.record.clone();
        match to {
            Status::Active => record.include_from(day),
            Status::Excluded => record.exclude_from(day),
            Status::Application | Status::Approved | Status::Rejected => {}
        }
        let state = State {
            record,
            status: to,
            status_since: day,
            valid_from: day,
        };
        let change = Change {
            author,
            kind: ChangeKind::StatusChanged,
            comment: Some(comment),
            now,
        };
        history::record(c, &state, Some(&current), &change)?;
        Ok((state, true))
    })?;
    Ok(view(&state, &state.activity(), day))
}
