//! The `expert` table: the newest state of each expert, with the searchable columns and the
//! full record as JSON. The only writer of that table; versions go through `history`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Expert;
use crate::db::DbConn;
use crate::db::schema::expert;
use crate::domain::PersonName;
use crate::registers::current::{current_table_reads, periods_json};
use crate::registers::model::{Activity, ListFilter, Register, State, StoreError, record_json};

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = expert, treat_none_as_null = true)]
struct Row<'a> {
    code: &'a str,
    territory: String,
    okato: &'a str,
    snils: &'a str,
    surname: &'a str,
    first_name: &'a str,
    patronymic: Option<String>,
    status: &'static str,
    status_since: chrono::NaiveDate,
    periods: String,
    valid_from: chrono::NaiveDate,
    search: String,
    record: String,
    updated_at: NaiveDateTime,
}

current_table_reads!(expert, Expert);

/// Writes `state` as the newest state of its expert.
pub fn save_current(
    conn: &mut DbConn,
    state: &State<Expert>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let r = &state.record;
    let row = Row {
        code: r.code.as_str(),
        territory: r.territory().as_str().to_owned(),
        okato: r.okato.as_str(),
        snils: r.snils.digits(),
        surname: r.surname.as_str(),
        first_name: r.first_name.as_str(),
        patronymic: r
            .patronymic
            .as_ref()
            .map(PersonName::as_str)
            .map(str::to_owned),
        status: state.status.as_str(),
        status_since: state.status_since,
        periods: periods_json(state),
        valid_from: state.valid_from,
        search: r.search_text(),
        record: record_json(r),
        updated_at: now,
    };
    let updated = diesel::update(expert::table.find(row.code))
        .set(&row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(expert::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}
