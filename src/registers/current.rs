//! Reading the current-state tables of the registers that keep their record as JSON (insurers,
//! medical organisations, experts): they share the columns `code`, `territory`, `status`,
//! `status_since`, `periods`, `valid_from`, `search` and `record`, so the reads are generated
//! once per table by [`current_table_reads!`]. Writes stay in each register's `repo`.

use chrono::NaiveDate;

use super::RegisterKind;
use super::model::{Activity, Register, Span, State, Status, StoreError};

/// `(record, status, status_since, valid_from)` of a current-state row.
pub type StateColumns = (String, String, NaiveDate, NaiveDate);

/// Reads a current-state row back into a [`State`].
pub fn state_from_row<R: Register>(code: &str, row: StateColumns) -> Result<State<R>, StoreError> {
    let (record, status, status_since, valid_from) = row;
    let record =
        serde_json::from_str(&record).map_err(|e| StoreError::corrupt(R::KIND, code, e))?;
    Ok(State {
        record,
        status: parse_status(R::KIND, code, &status)?,
        status_since,
        valid_from,
    })
}

/// A stored status.
pub fn parse_status(kind: RegisterKind, code: &str, status: &str) -> Result<Status, StoreError> {
    Status::parse(status)
        .ok_or_else(|| StoreError::corrupt(kind, code, format!("status `{status}`")))
}

/// Reads the activity columns of a row.
pub fn activity_from_row(
    kind: RegisterKind,
    code: &str,
    status: &str,
    status_since: NaiveDate,
    periods: &str,
) -> Result<Activity, StoreError> {
    let periods: Vec<Span> =
        serde_json::from_str(periods).map_err(|e| StoreError::corrupt(kind, code, e))?;
    Ok(Activity {
        status: parse_status(kind, code, status)?,
        status_since,
        periods,
    })
}

/// The `periods` column of a state.
pub fn periods_json<R: Register>(state: &State<R>) -> String {
    super::model::record_json(&state.record.periods())
}

/// A `LIKE` pattern finding `text` anywhere, with `\` escaping `%`, `_` and itself.
#[must_use]
pub fn like_anywhere(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Generates `load_current`, `load_all` and `list_keys` for a current-state table whose record
/// is JSON.
macro_rules! current_table_reads {
    ($table:ident, $record:ty) => {
        /// The newest state of `code`.
        pub fn load_current(
            conn: &mut DbConn,
            code: &str,
        ) -> Result<Option<State<$record>>, StoreError> {
            use crate::db::schema::$table as t;
            use diesel::prelude::*;
            let row = t::table
                .find(code)
                .select((t::record, t::status, t::status_since, t::valid_from))
                .first::<$crate::registers::current::StateColumns>(conn)
                .optional()?;
            row.map(|r| $crate::registers::current::state_from_row(code, r))
                .transpose()
        }

        /// Every entry's newest state, ordered by code.
        pub fn load_all(conn: &mut DbConn) -> Result<Vec<State<$record>>, StoreError> {
            use crate::db::schema::$table as t;
            use diesel::prelude::*;
            let rows: Vec<(String, String, String, chrono::NaiveDate, chrono::NaiveDate)> =
                t::table
                    .select((
                        t::code,
                        t::record,
                        t::status,
                        t::status_since,
                        t::valid_from,
                    ))
                    .order(t::code.asc())
                    .load(conn)?;
            rows.into_iter()
                .map(|(code, record, status, since, from)| {
                    $crate::registers::current::state_from_row(&code, (record, status, since, from))
                })
                .collect()
        }

        /// Code and activity of the entries matching `filter`, ordered by code.
        pub fn list_keys(
            conn: &mut DbConn,
            filter: &ListFilter,
        ) -> Result<Vec<(String, Activity)>, StoreError> {
            use crate::db::schema::$table as t;
            use diesel::prelude::*;
            let mut query = t::table
                .select((t::code, t::status, t::status_since, t::periods))
                .order(t::code.asc())
                .into_boxed();
            if let Some(territory) = &filter.territory {
                query = query.filter(t::territory.eq(territory.as_str().to_owned()));
            }
            if let Some(status) = filter.status {
                query = query.filter(t::status.eq(status.as_str()));
            }
            if let Some(text) = &filter.q {
                query = query.filter(
                    t::search
                        .like($crate::registers::current::like_anywhere(text))
                        .escape('\\'),
                );
            }
            let rows: Vec<(String, String, chrono::NaiveDate, String)> = query.load(conn)?;
            rows.into_iter()
                .map(|(code, status, since, periods)| {
                    let activity = $crate::registers::current::activity_from_row(
                        <$record as Register>::KIND,
                        &code,
                        &status,
                        since,
                        &periods,
                    )?;
                    Ok((code, activity))
                })
                .collect()
        }
    };
}

pub(crate) use current_table_reads;

/// Generates, inside an `impl Register for X` block, the storage functions that only forward
/// to the register's `repo` module and its version table in `history`.
macro_rules! register_storage {
    ($versions:ident) => {
        fn load_current(
            conn: &mut $crate::db::DbConn,
            code: &str,
        ) -> Result<Option<$crate::registers::model::State<Self>>, $crate::registers::model::StoreError>
        {
            repo::load_current(conn, code)
        }

        fn load_all(
            conn: &mut $crate::db::DbConn,
        ) -> Result<Vec<$crate::registers::model::State<Self>>, $crate::registers::model::StoreError>
        {
            repo::load_all(conn)
        }

        fn list_keys(
            conn: &mut $crate::db::DbConn,
            filter: &$crate::registers::model::ListFilter,
        ) -> Result<
            Vec<(String, $crate::registers::model::Activity)>,
            $crate::registers::model::StoreError,
        > {
            repo::list_keys(conn, filter)
        }

        fn save_current(
            conn: &mut $crate::db::DbConn,
            state: &$crate::registers::model::State<Self>,
            now: chrono::NaiveDateTime,
        ) -> diesel::QueryResult<()> {
            repo::save_current(conn, state, now)
        }

        fn insert_version(
            conn: &mut $crate::db::DbConn,
            version: &$crate::registers::history::NewVersion<'_>,
        ) -> diesel::QueryResult<()> {
            super::history::$versions::insert(conn, version)
        }

        fn versions(
            conn: &mut $crate::db::DbConn,
            code: &str,
        ) -> diesel::QueryResult<Vec<$crate::registers::history::VersionRow>> {
            super::history::$versions::list(conn, code)
        }
    };
}
pub(crate) use register_storage;

#[cfg(test)]
mod tests {
    use super::like_anywhere;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_anywhere("мед"), "%мед%");
        assert_eq!(like_anywhere("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
