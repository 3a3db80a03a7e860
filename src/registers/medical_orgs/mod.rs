//! Medical organisations (медицинские организации, МО): the register F003.
//!
//! The record, its checks (code, territory, INN, OGRN or OGRNIP, KPP, departmental affiliation
//! F007), its packet form (`medCompany`, formats.md 5.3) and, in `repo`, the only code that
//! writes the `medical_organisation` and `medical_organisation_version` tables. Clinics go
//! through the onboarding workflow; entries imported from an official packet are `active`.
//! A clinic may also hold a regional code (`mcod_reg`, a hub extension: some regions exchange
//! their own 6-digit codes, formats.md 5.3 and 6.4).

mod repo;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RegisterKind;
use super::check::{self, At, FieldError, RawText};
use super::ids::{Kpp, RegNumber, TerritoryOkato};
use super::model::{
    self, Address, Contacts, Inclusion, Notice, PersonParts, RawAddress, RawContacts, RawInclusion,
    RawNotice, RawPersonParts, Register, Span,
};
use super::xml::{self, Children};
use crate::domain::{Inn, InnKind, MoCode, TfomsCode};
use crate::nsi::packet::Node;

const HEAD: [&str; 3] = ["fam_ruk", "im_ruk", "ot_ruk"];
const LEGAL: [&str; 2] = ["index_j", "addr_j"];

/// F007 codes of departmental affiliation (formats.md 5.5): 1 municipal … 15 other.
const AFFILIATIONS: std::ops::RangeInclusive<u64> = 1..=15;

/// Медицинская организация: one entry of F003.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalOrganisation {
    /// `mcod`: 6 digits.
    pub code: MoCode,
    /// `tf_okato`: OKATO of the territory.
    pub okato: TerritoryOkato,
    /// `nam_mop`: full name.
    pub name_full: String,
    /// `nam_mok`: short name.
    pub name_short: String,
    /// `inn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inn: Option<Inn>,
    /// `Ogrn`: OGRN, or OGRNIP of an individual entrepreneur.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ogrn: Option<RegNumber>,
    /// `KPP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<Kpp>,
    /// `jurAddress` (`index_j`, `addr_j`).
    #[serde(default, skip_serializing_if = "Address::is_empty")]
    pub legal_address: Address,
    /// `okopf`: legal form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okopf: Option<String>,
    /// `vedpri`: departmental affiliation, a code of F007.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<u64>,
    /// `org`: organisation kind (N1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_kind: Option<u64>,
    /// `fam_ruk`, `im_ruk`, `ot_ruk`: the head.
    #[serde(default)]
    pub head: PersonParts,
    /// `phone`, `fax`, `e_mail`, `www`.
    #[serde(default)]
    pub contacts: Contacts,
    /// `doc`: licences.
    #[serde(default)]
    pub licences: Vec<MoLicence>,
    /// `medInclude`: periods of inclusion in the register.
    #[serde(default)]
    pub inclusions: Vec<Inclusion>,
    /// `medAdvice`: notices of intent to work.
    #[serde(default)]
    pub notices: Vec<Notice>,
    /// `mcod_reg`: the code the region uses in its own exchange, if it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_code: Option<MoCode>,
    /// `d_edit`: last edit in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_edit: Option<NaiveDate>,
}

/// A licence of a medical organisation (`doc`: `n_doc`, `d_start`, `data_e`, `d_term`, `mp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoLicence {
    /// Licence number.
    pub number: String,
    /// Valid from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    /// Valid until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    /// Terminated on (`d_term`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<NaiveDate>,
    /// Licensed kinds of care (`mp`), as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

/// Unchecked [`MoLicence`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMoLicence {
    /// Number.
    pub number: Option<RawText>,
    /// Valid from.
    pub start: Option<RawText>,
    /// Valid until.
    pub end: Option<RawText>,
    /// Terminated on.
    pub terminated: Option<RawText>,
    /// Kinds of care.
    #[serde(default)]
    pub profiles: Vec<RawText>,
}

impl RawMoLicence {
    fn from_node(n: &Node) -> Self {
        Self {
            number: xml::text(n, "n_doc"),
            start: xml::text(n, "d_start"),
            end: xml::text(n, "data_e"),
            terminated: xml::text(n, "d_term"),
            profiles: n
                .children_named("mp")
                .map(|m| RawText::from(m.text.as_str()))
                .collect(),
        }
    }

    fn check(&self, at: &At) -> Result<MoLicence, FieldError> {
        let start = check::date(&at.field("start", "d_start"), self.start.as_ref())?;
        let end = check::date(&at.field("end", "data_e"), self.end.as_ref())?;
        check::period(&at.field("end", "data_e"), start, end)?;
        let mut profiles = Vec::new();
        for (i, p) in self.profiles.iter().enumerate() {
            if let Some(p) = check::text(&at.item("profiles", "mp", i), Some(p), 254)? {
                profiles.push(p);
            }
        }
        Ok(MoLicence {
            number: check::required_text(&at.field("number", "n_doc"), self.number.as_ref(), 30)?,
            start,
            end,
            terminated: check::date(&at.field("terminated", "d_term"), self.terminated.as_ref())?,
            profiles,
        })
    }
}

/// An unchecked [`MedicalOrganisation`], as the admin API receives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedicalOrganisation {
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
    /// OGRN or OGRNIP.
    pub ogrn: Option<RawText>,
    /// KPP.
    pub kpp: Option<RawText>,
    /// Legal address.
    #[serde(default)]
    pub legal_address: RawAddress,
    /// Legal form.
    pub okopf: Option<RawText>,
    /// F007 code.
    pub affiliation: Option<RawText>,
    /// Organisation kind.
    pub org_kind: Option<RawText>,
    /// Head.
    #[serde(default)]
    pub head: RawPersonParts,
    /// Contacts.
    #[serde(default)]
    pub contacts: RawContacts,
    /// Licences.
    #[serde(default)]
    pub licences: Vec<RawMoLicence>,
    /// Inclusion periods.
    #[serde(default)]
    pub inclusions: Vec<RawInclusion>,
    /// Notices.
    #[serde(default)]
    pub notices: Vec<RawNotice>,
    /// Regional code.
    pub regional_code: Option<RawText>,
    /// Last edit.
    pub d_edit: Option<RawText>,
}

impl RawMedicalOrganisation {
    /// Reads a `medCompany` element.
    #[must_use]
    pub fn from_node(n: &Node) -> Self {
        Self {
            code: xml::text(n, "mcod"),
            okato: xml::text(n, "tf_okato"),
            name_full: xml::text(n, "nam_mop"),
            name_short: xml::text(n, "nam_mok"),
            inn: xml::text(n, "inn"),
            ogrn: xml::text(n, "Ogrn"),
            kpp: xml::text(n, "KPP"),
            legal_address: xml::raw_address(n, "jurAddress", LEGAL),
            okopf: xml::text(n, "okopf"),
            affiliation: xml::text(n, "vedpri"),
            org_kind: xml::text(n, "org"),
            head: xml::raw_person(n, HEAD),
            contacts: xml::raw_contacts(n),
            licences: n
                .children_named("doc")
                .map(RawMoLicence::from_node)
                .collect(),
            inclusions: xml::raw_inclusions(n, "medInclude"),
            notices: xml::raw_notices(n, "medAdvice"),
            regional_code: xml::text(n, "mcod_reg"),
            d_edit: xml::text(n, "d_edit"),
        }
    }

    /// Checks every field.
    pub fn check(&self) -> Result<MedicalOrganisation, FieldError> {
        let at = At::root();
        let code = check::required_id(
            &at.field("code", "mcod"),
            self.code.as_ref(),
            "invalid_code",
            MoCode::parse,
        )?;
        let okato_at = at.field("okato", "tf_okato");
        let okato = check::territory(&okato_at, self.okato.as_ref())?;
        let inn_at = at.field("inn", "inn");
        let inn = check::id(&inn_at, self.inn.as_ref(), "invalid_inn", Inn::parse)?;
        let ogrn = check::id(
            &at.field("ogrn", "Ogrn"),
            self.ogrn.as_ref(),
            "invalid_ogrn",
            RegNumber::parse,
        )?;
        if let (Some(inn), Some(ogrn)) = (&inn, &ogrn)
            && (inn.kind() == InnKind::Individual) != ogrn.is_individual()
        {
            return Err(inn_at.error(
                "identifier_mismatch",
                "a 10-digit INN goes with an OGRN, a 12-digit INN with an OGRNIP",
            ));
        }
        let affiliation_at = at.field("affiliation", "vedpri");
        let affiliation = check::number(&affiliation_at, self.affiliation.as_ref(), 3)?;
        if affiliation.is_some_and(|a| !AFFILIATIONS.contains(&a)) {
            return Err(affiliation_at.error(
                "invalid_affiliation",
                "not a code of F007 (departmental affiliation, 1 to 15)",
            ));
        }
        Ok(MedicalOrganisation {
            code,
            okato,
            name_full: check::required_text(
                &at.field("name_full", "nam_mop"),
                self.name_full.as_ref(),
                250,
            )?,
            name_short: check::required_text(
                &at.field("name_short", "nam_mok"),
                self.name_short.as_ref(),
                250,
            )?,
            inn,
            ogrn,
            kpp: check::id(
                &at.field("kpp", "KPP"),
                self.kpp.as_ref(),
                "invalid_kpp",
                Kpp::parse,
            )?,
            legal_address: self
                .legal_address
                .check(&at.field("legal_address", "jurAddress"), LEGAL)?,
            okopf: check::text(&at.field("okopf", "okopf"), self.okopf.as_ref(), 6)?,
            affiliation,
            org_kind: check::number(&at.field("org_kind", "org"), self.org_kind.as_ref(), 1)?,
            head: self.head.check(&at.field("head", ""), HEAD)?,
            contacts: self.contacts.check(&at.field("contacts", ""))?,
            licences: model::check_list(
                &at,
                "licences",
                "doc",
                &self.licences,
                RawMoLicence::check,
            )?,
            inclusions: model::check_list(
                &at,
                "inclusions",
                "medInclude",
                &self.inclusions,
                RawInclusion::check,
            )?,
            notices: model::check_list(
                &at,
                "notices",
                "medAdvice",
                &self.notices,
                RawNotice::check,
            )?,
            regional_code: check::id(
                &at.field("regional_code", "mcod_reg"),
                self.regional_code.as_ref(),
                "invalid_code",
                MoCode::parse,
            )?,
            d_edit: check::date(&at.field("d_edit", "d_edit"), self.d_edit.as_ref())?,
        })
    }
}

impl Register for MedicalOrganisation {
    const CODE_ELEMENT: &'static str = "mcod";
    const KIND: RegisterKind = RegisterKind::MedicalOrganisations;
    type Raw = RawMedicalOrganisation;

    fn check(raw: RawMedicalOrganisation) -> Result<Self, FieldError> {
        raw.check()
    }

    fn from_node(node: &Node) -> Result<Self, FieldError> {
        RawMedicalOrganisation::from_node(node).check()
    }

    fn to_node(&self) -> Node {
        let mut c = Children::new();
        c.text("tf_okato", self.okato.as_str())
            .text("mcod", self.code.as_str())
            .text("nam_mop", &self.name_full)
            .text("nam_mok", &self.name_short)
            .opt("inn", self.inn.as_ref().map(Inn::as_str))
            .opt("Ogrn", self.ogrn.as_ref().map(RegNumber::as_str))
            .opt("KPP", self.kpp.as_ref().map(Kpp::as_str))
            .address("jurAddress", &self.legal_address, LEGAL)
            .opt("okopf", self.okopf.as_deref())
            .number("vedpri", self.affiliation)
            .number("org", self.org_kind)
            .person(&self.head, HEAD)
            .contacts(&self.contacts);
        for l in &self.licences {
            let mut d = Children::new();
            d.text("n_doc", &l.number)
                .date("d_start", l.start)
                .date("data_e", l.end)
                .date("d_term", l.terminated);
            for p in &l.profiles {
                d.text("mp", p);
            }
            c.node(d.into_node("doc"));
        }
        c.inclusions("medInclude", &self.inclusions)
            .notices("medAdvice", &self.notices)
            .opt("mcod_reg", self.regional_code.as_ref().map(MoCode::as_str))
            .date("d_edit", self.d_edit);
        c.into_node(RegisterKind::MedicalOrganisations.element())
    }

    fn code(&self) -> &str {
        self.code.as_str()
    }

    fn territory(&self) -> TfomsCode {
        self.okato.territory().clone()
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
            self.regional_code.as_ref().map(MoCode::as_str),
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

    crate::registers::current::register_storage!(medical_org_versions);
}
