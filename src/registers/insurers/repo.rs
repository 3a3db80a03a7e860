//! The `insurer` table: the newest state of each insurer, with the searchable columns and the
//! full record as JSON. The only writer of that table; versions go through `history`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Insurer;
use crate::db::DbConn;
use crate::db::schema::insurer;
use crate::registers::current::{current_table_reads, periods_json};
use crate::registers::ids::Kpp;
use crate::registers::model::{Activity, ListFilter, Register, State, StoreError, record_json};

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = insurer, treat_none_as_null = true)]
struct Row<'a> {
    code: &'a str,
    territory: String,
    okato: &'a str,
    inn: &'a str,
    ogrn: &'a str,
    kpp: Option<String>,
    name_full: &'a str,
    name_short: &'a str,
    status: &'static str,
    status_since: chrono::NaiveDate,
    periods: String,
    valid_from: chrono::NaiveDate,
    search: String,
    record: String,
    updated_at: NaiveDateTime,
}

current_table_reads!(insurer, Insurer);

/// Writes `state` as the newest state of its insurer.
pub fn save_current(
    conn: &mut DbConn,
    state: &State<Insurer>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let r = &state.record;
    let row = Row {
        code: r.code.as_str(),
        territory: r.territory().as_str().to_owned(),
        okato: r.okato.as_str(),
        inn: r.inn.as_str(),
        ogrn: r.ogrn.as_str(),
        kpp: r.kpp.as_ref().map(Kpp::as_str).map(str::to_owned),
        name_full: &r.name_full,
        name_short: &r.name_short,
        status: state.status.as_str(),
        status_since: state.status_since,
        periods: periods_json(state),
        valid_from: state.valid_from,
        search: r.search_text(),
        record: record_json(r),
        updated_at: now,
    };
    let updated = diesel::update(insurer::table.find(row.code))
        .set(&row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(insurer::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}
