//! Territorial funds of compulsory medical insurance (ТФОМС): the register F001.
//!
//! The record, its checks (code, OKATO of the same territory, OGRN, the settlement details
//! with INN and KPP), its packet form (`TFOMS`, formats.md 5.1, with one TFOMS's bank-detail
//! extension) and, in `repo`, the only code that writes `territorial_fund` (the foundation's
//! table, extended by this migration with one column per field) and
//! `territorial_fund_version`. Funds have no onboarding workflow: they are `active` until
//! `d_end`.

mod repo;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RegisterKind;
use super::check::{self, At, FieldError, RawText};
use super::ids::{Kpp, TerritoryOkato};
use super::model::{
    self, Address, Contacts, PersonParts, RawAddress, RawContacts, RawPersonParts, Register, Span,
};
use super::xml::{self, Children};
use crate::domain::{Inn, Ogrn, TfomsCode};
use crate::nsi::packet::Node;

const DIRECTOR: [&str; 3] = ["fam_dir", "im_dir", "ot_dir"];
const ADDRESS: [&str; 2] = ["index", "address"];

/// Территориальный фонд ОМС: one entry of F001.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fund {
    /// `tf_kod`: the 2-digit territory code.
    pub code: TfomsCode,
    /// `tf_okato`: the OKATO of the same territory.
    pub okato: TerritoryOkato,
    /// `tf_ogrn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ogrn: Option<Ogrn>,
    /// `name_tfp`: full name.
    pub name_full: String,
    /// `name_tfk`: short name.
    pub name_short: String,
    /// `index`, `address`.
    #[serde(default, skip_serializing_if = "Address::is_empty")]
    pub address: Address,
    /// `fam_dir`, `im_dir`, `ot_dir`: the director.
    #[serde(default)]
    pub director: PersonParts,
    /// `phone`, `fax`, `e_mail`, `www`.
    #[serde(default)]
    pub contacts: Contacts,
    /// `kf_tf` (meaning not established; kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kf_tf: Option<String>,
    /// Bank details for settlement (МТР).
    #[serde(default)]
    pub settlement: Settlement,
    /// `d_edit`: last edit in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_edit: Option<NaiveDate>,
    /// `d_end`: last day of the fund in the register; open while it works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_end: Option<NaiveDate>,
}

/// Bank details for settlement between funds (`bic`, `inn`, `kpp`, `kbk`, `oktmo`, and two
/// accounts `L_*` and `T_*`; a local extension of F001, formats.md 5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// `bic`: 9-digit BIC of the bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
    /// `inn`: the recipient's INN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inn: Option<Inn>,
    /// `kpp`: the recipient's KPP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<Kpp>,
    /// `kbk`: 20-digit budget classification code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbk: Option<String>,
    /// `oktmo`: 8 or 11 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oktmo: Option<String>,
    /// `L_NAIM`, `L_B`, `L_RS`: the "L" account (inferred: the personal account, лицевой счёт).
    #[serde(default)]
    pub l_account: Account,
    /// `T_NAIM`, `T_B`, `T_RS`: the "T" account (inferred: the treasury account).
    #[serde(default)]
    pub t_account: Account,
}

/// An account: holder name, bank, 20-digit number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Holder name (`*_NAIM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bank (`*_B`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// Account number (`*_RS`), 20 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// Unchecked [`Account`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    /// Holder.
    pub name: Option<RawText>,
    /// Bank.
    pub bank: Option<RawText>,
    /// Number.
    pub number: Option<RawText>,
}

impl RawAccount {
    fn from_node(n: &Node, prefix: &str) -> Self {
        Self {
            name: xml::text(n, &format!("{prefix}_NAIM")),
            bank: xml::text(n, &format!("{prefix}_B")),
            number: xml::text(n, &format!("{prefix}_RS")),
        }
    }

    fn check(&self, at: &At, prefix: &str) -> Result<Account, FieldError> {
        Ok(Account {
            name: check::text(
                &at.field("name", &format!("{prefix}_NAIM")),
                self.name.as_ref(),
                254,
            )?,
            bank: check::text(
                &at.field("bank", &format!("{prefix}_B")),
                self.bank.as_ref(),
                254,
            )?,
            number: check::digits(
                &at.field("number", &format!("{prefix}_RS")),
                self.number.as_ref(),
                &[20],
                "invalid_account",
                "an account number",
            )?,
        })
    }
}

/// Unchecked [`Settlement`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettlement {
    /// BIC.
    pub bic: Option<RawText>,
    /// INN.
    pub inn: Option<RawText>,
    /// KPP.
    pub kpp: Option<RawText>,
    /// KBK.
    pub kbk: Option<RawText>,
    /// OKTMO.
    pub oktmo: Option<RawText>,
    /// L account.
    #[serde(default)]
    pub l_account: RawAccount,
    /// T account.
    #[serde(default)]
    pub t_account: RawAccount,
}

/// An unchecked [`Fund`], as the admin API receives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFund {
    /// Code.
    pub code: Option<RawText>,
    /// OKATO.
    pub okato: Option<RawText>,
    /// OGRN.
    pub ogrn: Option<RawText>,
    /// Full name.
    pub name_full: Option<RawText>,
    /// Short name.
    pub name_short: Option<RawText>,
    /// Address.
    #[serde(default)]
    pub address: RawAddress,
    /// Director.
    #[serde(default)]
    pub director: RawPersonParts,
    /// Contacts.
    #[serde(default)]
    pub contacts: RawContacts,
    /// `kf_tf`.
    pub kf_tf: Option<RawText>,
    /// Settlement details.
    #[serde(default)]
    pub settlement: RawSettlement,
    /// Last edit.
    pub d_edit: Option<RawText>,
    /// Last day.
    pub d_end: Option<RawText>,
}

impl RawFund {
    /// Reads a `TFOMS` element.
    #[must_use]
    pub fn from_node(n: &Node) -> Self {
        Self {
            code: xml::text(n, "tf_kod"),
            okato: xml::text(n, "tf_okato"),
            ogrn: xml::text(n, "tf_ogrn"),
            name_full: xml::text(n, "name_tfp"),
            name_short: xml::text(n, "name_tfk"),
            address: RawAddress {
                postal_index: xml::text(n, "index"),
                address: xml::text(n, "address"),
            },
            director: xml::raw_person(n, DIRECTOR),
            contacts: xml::raw_contacts(n),
            kf_tf: xml::text(n, "kf_tf"),
            settlement: RawSettlement {
                bic: xml::text(n, "bic"),
                inn: xml::text(n, "inn"),
                kpp: xml::text(n, "kpp"),
                kbk: xml::text(n, "kbk"),
                oktmo: xml::text(n, "oktmo"),
                l_account: RawAccount::from_node(n, "L"),
                t_account: RawAccount::from_node(n, "T"),
            },
            d_edit: xml::text(n, "d_edit"),
            d_end: xml::text(n, "d_end"),
        }
    }

    /// Checks every field.
    pub fn check(&self) -> Result<Fund, FieldError> {
        let at = At::root();
        let code_at = at.field("code", "tf_kod");
        let code = check::required_id(
            &code_at,
            self.code.as_ref(),
            "invalid_code",
            TfomsCode::parse,
        )?;
        let okato = check::territory(&at.field("okato", "tf_okato"), self.okato.as_ref())?;
        if *okato.territory() != code {
            return Err(code_at.error(
                "territory_mismatch",
                format!(
                    "tf_okato {okato} is territory {}, not {code}",
                    okato.territory()
                ),
            ));
        }
        let s = &self.settlement;
        let sat = at.field("settlement", "");
        let settlement = Settlement {
            bic: check::digits(
                &sat.field("bic", "bic"),
                s.bic.as_ref(),
                &[9],
                "invalid_bic",
                "a BIC",
            )?,
            inn: check::id(
                &sat.field("inn", "inn"),
                s.inn.as_ref(),
                "invalid_inn",
                Inn::parse,
            )?,
            kpp: check::id(
                &sat.field("kpp", "kpp"),
                s.kpp.as_ref(),
                "invalid_kpp",
                Kpp::parse,
            )?,
            kbk: check::digits(
                &sat.field("kbk", "kbk"),
                s.kbk.as_ref(),
                &[20],
                "invalid_kbk",
                "a KBK",
            )?,
            oktmo: check::digits(
                &sat.field("oktmo", "oktmo"),
                s.oktmo.as_ref(),
                &[8, 11],
                "invalid_oktmo",
                "an OKTMO",
            )?,
            l_account: s.l_account.check(&sat.field("l_account", ""), "L")?,
            t_account: s.t_account.check(&sat.field("t_account", ""), "T")?,
        };
        Ok(Fund {
            code,
            okato,
            ogrn: check::id(
                &at.field("ogrn", "tf_ogrn"),
                self.ogrn.as_ref(),
                "invalid_ogrn",
                Ogrn::parse,
            )?,
            name_full: check::required_text(
                &at.field("name_full", "name_tfp"),
                self.name_full.as_ref(),
                254,
            )?,
            name_short: check::required_text(
                &at.field("name_short", "name_tfk"),
                self.name_short.as_ref(),
                254,
            )?,
            address: self.address.check(&at.field("address", ""), ADDRESS)?,
            director: self.director.check(&at.field("director", ""), DIRECTOR)?,
            contacts: self.contacts.check(&at.field("contacts", ""))?,
            kf_tf: check::text(&at.field("kf_tf", "kf_tf"), self.kf_tf.as_ref(), 40)?,
            settlement,
            d_edit: check::date(&at.field("d_edit", "d_edit"), self.d_edit.as_ref())?,
            d_end: check::date(&at.field("d_end", "d_end"), self.d_end.as_ref())?,
        })
    }
}

impl Register for Fund {
    const CODE_ELEMENT: &'static str = "tf_kod";
    const KIND: RegisterKind = RegisterKind::TerritorialFunds;
    type Raw = RawFund;

    fn check(raw: RawFund) -> Result<Self, FieldError> {
        raw.check()
    }

    fn from_node(node: &Node) -> Result<Self, FieldError> {
        RawFund::from_node(node).check()
    }

    fn to_node(&self) -> Node {
        let s = &self.settlement;
        let mut c = Children::new();
        c.text("tf_kod", self.code.as_str())
            .text("tf_okato", self.okato.as_str())
            .opt("tf_ogrn", self.ogrn.as_ref().map(Ogrn::as_str))
            .text("name_tfp", &self.name_full)
            .text("name_tfk", &self.name_short)
            .opt("index", self.address.postal_index.as_deref())
            .opt("address", self.address.address.as_deref())
            .person(&self.director, DIRECTOR)
            .contacts(&self.contacts)
            .opt("kf_tf", self.kf_tf.as_deref())
            .opt("bic", s.bic.as_deref())
            .opt("inn", s.inn.as_ref().map(Inn::as_str))
            .opt("kpp", s.kpp.as_ref().map(Kpp::as_str))
            .opt("kbk", s.kbk.as_deref())
            .opt("oktmo", s.oktmo.as_deref());
        for (prefix, account) in [("L", &s.l_account), ("T", &s.t_account)] {
            c.opt(&format!("{prefix}_NAIM"), account.name.as_deref())
                .opt(&format!("{prefix}_B"), account.bank.as_deref())
                .opt(&format!("{prefix}_RS"), account.number.as_deref());
        }
        c.date("d_edit", self.d_edit).date("d_end", self.d_end);
        c.into_node(RegisterKind::TerritorialFunds.element())
    }

    fn code(&self) -> &str {
        self.code.as_str()
    }

    fn territory(&self) -> TfomsCode {
        self.code.clone()
    }

    fn d_edit(&self) -> Option<NaiveDate> {
        self.d_edit
    }

    fn periods(&self) -> Vec<Span> {
        vec![Span {
            from: None,
            to: self.d_end,
        }]
    }

    fn search_text(&self) -> String {
        model::search_of(&[
            Some(self.code.as_str()),
            Some(&self.name_full),
            Some(&self.name_short),
        ])
    }

    crate::registers::current::register_storage!(fund_versions);
}
