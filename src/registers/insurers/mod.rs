//! Insurers (страховые медицинские организации, СМО): the register ЕРСМО, classifier F002.
//!
//! The record, its checks (code, territory, INN, OGRN, KPP with the `domain` types and
//! [`Kpp`]), its packet form (`insCompany`, formats.md 5.2) and, in `repo`, the only code
//! that writes the `insurer` and `insurer_version` tables. Insurers go through the onboarding
//! workflow; entries imported from an official packet are `active`.

mod repo;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RegisterKind;
use super::check::{self, At, FieldError, RawText};
use super::ids::{Kpp, TerritoryOkato};
use super::model::{
    self, Address, Contacts, Inclusion, Licence, Notice, PersonParts, RawAddress, RawContacts,
    RawInclusion, RawLicence, RawNotice, RawPersonParts, Register, Span,
};
use super::xml::{self, Children};
use crate::domain::{Inn, InnKind, InsurerCode, Ogrn, TfomsCode};
use crate::nsi::packet::Node;

const HEAD: [&str; 3] = ["fam_ruk", "im_ruk", "ot_ruk"];
const LEGAL: [&str; 2] = ["index_j", "addr_j"];
const POSTAL: [&str; 2] = ["index_f", "addr_f"];

/// Страховая медицинская организация: one entry of F002.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insurer {
    /// `smocod`: 5 digits, the first two the home territory.
    pub code: InsurerCode,
    /// `tf_okato`: OKATO of the territory.
    pub okato: TerritoryOkato,
    /// `nam_smop`: full name.
    pub name_full: String,
    /// `nam_smok`: short name.
    pub name_short: String,
    /// `inn`: 10-digit INN of a legal entity.
    pub inn: Inn,
    /// `Ogrn`.
    pub ogrn: Ogrn,
    /// `KPP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<Kpp>,
    /// `jurAddress` (`index_j`, `addr_j`).
    #[serde(default, skip_serializing_if = "Address::is_empty")]
    pub legal_address: Address,
    /// `pstAddress` (`index_f`, `addr_f`).
    #[serde(default, skip_serializing_if = "Address::is_empty")]
    pub postal_address: Address,
    /// `okopf`: legal form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okopf: Option<String>,
    /// `fam_ruk`, `im_ruk`, `ot_ruk`: the head.
    #[serde(default)]
    pub head: PersonParts,
    /// `phone`, `fax`, `e_mail`, `www`.
    #[serde(default)]
    pub contacts: Contacts,
    /// `org`: organisation kind (N1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_kind: Option<u64>,
    /// `licenziy`: licences.
    #[serde(default)]
    pub licences: Vec<Licence>,
    /// `insInclude`: periods of inclusion in the register.
    #[serde(default)]
    pub inclusions: Vec<Inclusion>,
    /// `insAdvice`: notices of intent to work, with the number of insured.
    #[serde(default)]
    pub notices: Vec<Notice>,
    /// `d_edit`: last edit in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_edit: Option<NaiveDate>,
}

/// An unchecked [`Insurer`], as the admin API receives it (the same field names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInsurer {
    /// Code.
    pub code: Option<RawText>,
    /// OKATO.
    pub okato: Option<RawText>,
    /// Full name.
    pub name_full: Option<RawText>,
    /// Short name.
    pub name_short: Option<RawText>,
    /// INN.
    pub inn: Option<RawText>,
    /// OGRN.
    pub ogrn: Option<RawText>,
    /// KPP.
    pub kpp: Option<RawText>,
    /// Legal address.
    #[serde(default)]
    pub legal_address: RawAddress,
    /// Postal address.
    #[serde(default)]
    pub postal_address: RawAddress,
    /// Legal form.
    pub okopf: Option<RawText>,
    /// Head.
    #[serde(default)]
    pub head: RawPersonParts,
    /// Contacts.
    #[serde(default)]
    pub contacts: RawContacts,
    /// Organisation kind.
    pub org_kind: Option<RawText>,
    /// Licences.
    #[serde(default)]
    pub licences: Vec<RawLicence>,
    /// Inclusion periods.
    #[serde(default)]
    pub inclusions: Vec<RawInclusion>,
    /// Notices.
    #[serde(default)]
    pub notices: Vec<RawNotice>,
    /// Last edit.
    pub d_edit: Option<RawText>,
}

impl RawInsurer {
    /// Reads an `insCompany` element.
    #[must_use]
    pub fn from_node(n: &Node) -> Self {
        Self {
            code: xml::text(n, "smocod"),
            okato: xml::text(n, "tf_okato"),
            name_full: xml::text(n, "nam_smop"),
            name_short: xml::text(n, "nam_smok"),
            inn: xml::text(n, "inn"),
            ogrn: xml::text(n, "Ogrn"),
            kpp: xml::text(n, "KPP"),
            legal_address: xml::raw_address(n, "jurAddress", LEGAL),
            postal_address: xml::raw_address(n, "pstAddress", POSTAL),
            okopf: xml::text(n, "okopf"),
            head: xml::raw_person(n, HEAD),
            contacts: xml::raw_contacts(n),
            org_kind: xml::text(n, "org"),
            licences: xml::raw_licences(n, "licenziy"),
            inclusions: xml::raw_inclusions(n, "insInclude"),
            notices: xml::raw_notices(n, "insAdvice"),
            d_edit: xml::text(n, "d_edit"),
        }
    }

    /// Checks every field.
    pub fn check(&self) -> Result<Insurer, FieldError> {
        let at = At::root();
        let code_at = at.field("code", "smocod");
        let code = check::required_id(
            &code_at,
            self.code.as_ref(),
            "invalid_code",
            InsurerCode::parse,
        )?;
        let okato_at = at.field("okato", "tf_okato");
        let okato = check::territory(&okato_at, self.okato.as_ref())?;
        let territory = okato.territory();
        if code.territory() != *territory {
            return Err(code_at.error(
                "territory_mismatch",
                format!(
                    "the code starts with territory {}, but tf_okato {okato} is territory {territory}",
                    code.territory()
                ),
            ));
        }
        let inn_at = at.field("inn", "inn");
        let inn = check::required_id(&inn_at, self.inn.as_ref(), "invalid_inn", Inn::parse)?;
        if inn.kind() != InnKind::LegalEntity {
            return Err(inn_at.error(
                "invalid_inn",
                "an insurer is a legal entity: its INN has 10 digits",
            ));
        }
        Ok(Insurer {
            code,
            okato,
            name_full: check::required_text(
                &at.field("name_full", "nam_smop"),
                self.name_full.as_ref(),
                254,
            )?,
            name_short: check::required_text(
                &at.field("name_short", "nam_smok"),
                self.name_short.as_ref(),
                250,
            )?,
            inn,
            ogrn: check::required_id(
                &at.field("ogrn", "Ogrn"),
                self.ogrn.as_ref(),
                "invalid_ogrn",
                Ogrn::parse,
            )?,
            kpp: check::id(
                &at.field("kpp", "KPP"),
                self.kpp.as_ref(),
                "invalid_kpp",
                Kpp::parse,
            )?,
            legal_address: self
                .legal_address
                .check(&at.field("legal_address", "jurAddress"), LEGAL)?,
            postal_address: self
                .postal_address
                .check(&at.field("postal_address", "pstAddress"), POSTAL)?,
            okopf: check::text(&at.field("okopf", "okopf"), self.okopf.as_ref(), 5)?,
            head: self.head.check(&at.field("head", ""), HEAD)?,
            contacts: self.contacts.check(&at.field("contacts", ""))?,
            org_kind: check::number(&at.field("org_kind", "org"), self.org_kind.as_ref(), 1)?,
            licences: model::check_list(
                &at,
                "licences",
                "licenziy",
                &self.licences,
                RawLicence::check,
            )?,
            inclusions: model::check_list(
                &at,
                "inclusions",
                "insInclude",
                &self.inclusions,
                RawInclusion::check,
            )?,
            notices: model::check_list(
                &at,
                "notices",
                "insAdvice",
                &self.notices,
                RawNotice::check,
            )?,
            d_edit: check::date(&at.field("d_edit", "d_edit"), self.d_edit.as_ref())?,
        })
    }
}

impl Register for Insurer {
    const CODE_ELEMENT: &'static str = "smocod";
    const KIND: RegisterKind = RegisterKind::Insurers;
    type Raw = RawInsurer;

    fn check(raw: RawInsurer) -> Result<Self, FieldError> {
        raw.check()
    }

    fn from_node(node: &Node) -> Result<Self, FieldError> {
        RawInsurer::from_node(node).check()
    }

    fn to_node(&self) -> Node {
        let mut c = Children::new();
        c.text("tf_okato", self.okato.as_str())
            .text("smocod", self.code.as_str())
            .text("nam_smop", &self.name_full)
            .text("nam_smok", &self.name_short)
            .text("inn", self.inn.as_str())
            .text("Ogrn", self.ogrn.as_str())
            .opt("KPP", self.kpp.as_ref().map(Kpp::as_str))
            .address("jurAddress", &self.legal_address, LEGAL)
            .address("pstAddress", &self.postal_address, POSTAL)
            .opt("okopf", self.okopf.as_deref())
            .person(&self.head, HEAD)
            .contacts(&self.contacts)
            .number("org", self.org_kind)
            .licences("licenziy", &self.licences)
            .inclusions("insInclude", &self.inclusions)
            .notices("insAdvice", &self.notices)
            .date("d_edit", self.d_edit);
        c.into_node(RegisterKind::Insurers.element())
    }

    fn code(&self) -> &str {
        self.code.as_str()
    }

    fn territory(&self) -> TfomsCode {
        self.code.territory()
    }

    fn d_edit(&self) -> Option<NaiveDate> {
        self.d_edit
    }

    fn periods(&self) -> Vec<Span> {
        model::inclusion_spans(&self.inclusions)
    }

    fn search_text(&self) -> String {
        model::search_of(&[
            Some(self.code.as_str()),
            Some(&self.name_full),
            Some(&self.name_short),
        ])
    }

    fn include_from(&mut self, day: NaiveDate) {
        model::include_from(&mut self.inclusions, day);
    }

    fn exclude_from(&mut self, day: NaiveDate) {
        model::exclude_from(&mut self.inclusions, day);
    }

    crate::registers::current::register_storage!(insurer_versions);
}
