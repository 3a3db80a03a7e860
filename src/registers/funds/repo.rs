//! The `territorial_fund` table: the newest state of each fund, one column per F001 field
//! (settlement and МТР read the bank details from the columns). The only writer of that
//! table; versions go through `history`.
//!
//! A row is read back by running its texts through the same checks as an import
//! ([`RawFund::check`]), so a row edited by hand into something invalid is reported, not
//! trusted. With at most one fund per territory the `q` filter runs in memory.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{Fund, RawAccount, RawFund, RawSettlement};
use crate::db::DbConn;
use crate::db::schema::territorial_fund;
use crate::domain::{Inn, Ogrn, PersonName};
use crate::registers::check::RawText;
use crate::registers::current::parse_status;
use crate::registers::ids::Kpp;
use crate::registers::model::{
    Activity, ListFilter, RawAddress, RawContacts, RawPersonParts, Register, State, StoreError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = territorial_fund)]
struct FundRow {
    code: String,
    okato: String,
    ogrn: Option<String>,
    name_full: String,
    name_short: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    postal_index: Option<String>,
    address: Option<String>,
    director_surname: Option<String>,
    director_first_name: Option<String>,
    director_patronymic: Option<String>,
    phone: Option<String>,
    fax: Option<String>,
    email: Option<String>,
    www: Option<String>,
    kf_tf: Option<String>,
    bank_bic: Option<String>,
    bank_inn: Option<String>,
    bank_kpp: Option<String>,
    bank_kbk: Option<String>,
    bank_oktmo: Option<String>,
    l_account_name: Option<String>,
    l_account_bank: Option<String>,
    l_account_number: Option<String>,
    t_account_name: Option<String>,
    t_account_bank: Option<String>,
    t_account_number: Option<String>,
    d_edit: Option<NaiveDate>,
    status: String,
}

fn raw(value: Option<String>) -> Option<RawText> {
    value.map(RawText)
}

fn raw_date(value: Option<NaiveDate>) -> Option<RawText> {
    value.map(|d| RawText(d.to_string()))
}

impl FundRow {
    fn into_state(self) -> Result<State<Fund>, StoreError> {
        let status = parse_status(Fund::KIND, &self.code, &self.status)?;
        let code = self.code.clone();
        let raw_fund = RawFund {
            code: Some(RawText(self.code)),
            okato: Some(RawText(self.okato)),
            ogrn: raw(self.ogrn),
            name_full: Some(RawText(self.name_full)),
            name_short: Some(RawText(self.name_short)),
            address: RawAddress {
                postal_index: raw(self.postal_index),
                address: raw(self.address),
            },
            director: RawPersonParts {
                surname: raw(self.director_surname),
                first_name: raw(self.director_first_name),
                patronymic: raw(self.director_patronymic),
            },
            contacts: RawContacts {
                phone: raw(self.phone),
                fax: raw(self.fax),
                email: raw(self.email),
                www: raw(self.www),
            },
            kf_tf: raw(self.kf_tf),
            settlement: RawSettlement {
                bic: raw(self.bank_bic),
                inn: raw(self.bank_inn),
                kpp: raw(self.bank_kpp),
                kbk: raw(self.bank_kbk),
                oktmo: raw(self.bank_oktmo),
                l_account: RawAccount {
                    name: raw(self.l_account_name),
                    bank: raw(self.l_account_bank),
                    number: raw(self.l_account_number),
                },
                t_account: RawAccount {
                    name: raw(self.t_account_name),
                    bank: raw(self.t_account_bank),
                    number: raw(self.t_account_number),
                },
            },
            d_edit: raw_date(self.d_edit),
            d_end: raw_date(self.valid_to),
        };
        let record = raw_fund
            .check()
            .map_err(|e| StoreError::corrupt(Fund::KIND, &code, e.api_message()))?;
        Ok(State {
            record,
            status,
            status_since: self.valid_from,
            valid_from: self.valid_from,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = territorial_fund, treat_none_as_null = true)]
struct Row<'a> {
    code: &'a str,
    okato: &'a str,
    ogrn: Option<String>,
    name_full: &'a str,
    name_short: &'a str,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    updated_at: NaiveDateTime,
    postal_index: Option<String>,
    address: Option<String>,
    director_surname: Option<String>,
    director_first_name: Option<String>,
    director_patronymic: Option<String>,
    phone: Option<String>,
    fax: Option<String>,
    email: Option<String>,
    www: Option<String>,
    kf_tf: Option<String>,
    bank_bic: Option<String>,
    bank_inn: Option<String>,
    bank_kpp: Option<String>,
    bank_kbk: Option<String>,
    bank_oktmo: Option<String>,
    l_account_name: Option<String>,
    l_account_bank: Option<String>,
    l_account_number: Option<String>,
    t_account_name: Option<String>,
    t_account_bank: Option<String>,
    t_account_number: Option<String>,
    d_edit: Option<NaiveDate>,
    status: &'static str,
}

/// The newest state of fund `code`.
pub fn load_current(conn: &mut DbConn, code: &str) -> Result<Option<State<Fund>>, StoreError> {
    let row = territorial_fund::table
        .find(code)
        .select(FundRow::as_select())
        .first(conn)
        .optional()?;
    row.map(FundRow::into_state).transpose()
}

/// Every fund's newest state, ordered by code.
pub fn load_all(conn: &mut DbConn) -> Result<Vec<State<Fund>>, StoreError> {
    let rows = territorial_fund::table
        .select(FundRow::as_select())
        .order(territorial_fund::code.asc())
        .load(conn)?;
    rows.into_iter().map(FundRow::into_state).collect()
}

/// Code and activity of the funds matching `filter`, ordered by code.
pub fn list_keys(
    conn: &mut DbConn,
    filter: &ListFilter,
) -> Result<Vec<(String, Activity)>, StoreError> {
    let mut keys = Vec::new();
    for state in load_all(conn)? {
        let record = &state.record;
        let matches = filter.territory.as_ref().is_none_or(|t| *t == record.code)
            && filter.status.is_none_or(|s| s == state.status)
            && filter
                .q
                .as_ref()
                .is_none_or(|q| record.search_text().contains(q.as_str()));
        if matches {
            keys.push((record.code.as_str().to_owned(), state.activity()));
        }
    }
    Ok(keys)
}

fn name(n: Option<&PersonName>) -> Option<&str> {
    n.map(PersonName::as_str)
}

/// Writes `state` as the newest state of its fund.
pub fn save_current(conn: &mut DbConn, state: &State<Fund>, now: NaiveDateTime) -> QueryResult<()> {
    let r = &state.record;
    let s = &r.settlement;
    let row = Row {
        code: r.code.as_str(),
        okato: r.okato.as_str(),
        ogrn: r.ogrn.as_ref().map(Ogrn::as_str).map(str::to_owned),
        name_full: &r.name_full,
        name_short: &r.name_short,
        valid_from: state.valid_from,
        valid_to: r.d_end,
        updated_at: now,
        postal_index: r.address.postal_index.as_deref().map(str::to_owned),
        address: r.address.address.as_deref().map(str::to_owned),
        director_surname: name(r.director.surname.as_ref()).map(str::to_owned),
        director_first_name: name(r.director.first_name.as_ref()).map(str::to_owned),
        director_patronymic: name(r.director.patronymic.as_ref()).map(str::to_owned),
        phone: r.contacts.phone.as_deref().map(str::to_owned),
        fax: r.contacts.fax.as_deref().map(str::to_owned),
        email: r.contacts.email.as_deref().map(str::to_owned),
        www: r.contacts.www.as_deref().map(str::to_owned),
        kf_tf: r.kf_tf.as_deref().map(str::to_owned),
        bank_bic: s.bic.as_deref().map(str::to_owned),
        bank_inn: s.inn.as_ref().map(Inn::as_str).map(str::to_owned),
        bank_kpp: s.kpp.as_ref().map(Kpp::as_str).map(str::to_owned),
        bank_kbk: s.kbk.as_deref().map(str::to_owned),
        bank_oktmo: s.oktmo.as_deref().map(str::to_owned),
        l_account_name: s.l_account.name.as_deref().map(str::to_owned),
        l_account_bank: s.l_account.bank.as_deref().map(str::to_owned),
        l_account_number: s.l_account.number.as_deref().map(str::to_owned),
        t_account_name: s.t_account.name.as_deref().map(str::to_owned),
        t_account_bank: s.t_account.bank.as_deref().map(str::to_owned),
        t_account_number: s.t_account.number.as_deref().map(str::to_owned),
        d_edit: r.d_edit,
        status: state.status.as_str(),
    };
    let updated = diesel::update(territorial_fund::table.find(row.code))
        .set(&row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(territorial_fund::table)
            .values((&row, territorial_fund::created_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}
