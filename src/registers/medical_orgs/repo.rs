//! The `medical_organisation` table: the newest state of each clinic, with the searchable
//! columns and the full record as JSON. The only writer of that table; versions go through
//! `history`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::MedicalOrganisation;
use crate::db::DbConn;
use crate::db::schema::medical_organisation;
use crate::domain::{Inn, MoCode};
use crate::registers::current::{current_table_reads, periods_json};
use crate::registers::ids::{Kpp, RegNumber};
use crate::registers::model::{Activity, ListFilter, Register, State, StoreError, record_json};

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = medical_organisation, treat_none_as_null = true)]
struct Row<'a> {
    code: &'a str,
    territory: String,
    okato: &'a str,
    inn: Option<String>,
    ogrn: Option<String>,
    kpp: Option<String>,
    regional_code: Option<String>,
    affiliation: Option<i32>,
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

current_table_reads!(medical_organisation, MedicalOrganisation);

/// Writes `state` as the newest state of its clinic.
pub fn save_current(
    conn: &mut DbConn,
    state: &State<MedicalOrganisation>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let r = &state.record;
    let row = Row {
        code: r.code.as_str(),
        territory: r.territory().as_str().to_owned(),
        okato: r.okato.as_str(),
        inn: r.inn.as_ref().map(Inn::as_str).map(str::to_owned),
        ogrn: r.ogrn.as_ref().map(RegNumber::as_str).map(str::to_owned),
        kpp: r.kpp.as_ref().map(Kpp::as_str).map(str::to_owned),
        regional_code: r
            .regional_code
            .as_ref()
            .map(MoCode::as_str)
            .map(str::to_owned),
        affiliation: r.affiliation.and_then(|a| i32::try_from(a).ok()),
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
    let updated = diesel::update(medical_organisation::table.find(row.code))
        .set(&row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(medical_organisation::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}
