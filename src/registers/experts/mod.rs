//! Experts of quality of care (эксперты качества медицинской помощи): the register F004.
//!
//! The record, its checks (code T(8), territory, SNILS with its check digits, names), its
//! packet form (`expert`, formats.md 5.4; the element name and the `specialty` list are
//! inferred, see docs/REGISTERS.md) and, in `repo`, the only code that writes the `expert` and
//! `expert_version` tables. Experts have no onboarding workflow: they are `active` from their
//! registration date. Names and SNILS are personal data: their `Debug` is masked.

mod repo;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RegisterKind;
use super::check::{self, At, FieldError, RawText};
use super::ids::{ExpertCode, TerritoryOkato};
use super::model::{self, Register, Span};
use super::xml::{self, Children};
use crate::domain::{PersonName, Snils, TfomsCode};
use crate::nsi::packet::Node;

/// Эксперт качества медицинской помощи: one entry of F004.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expert {
    /// `n_expert`: the code used in `SANK/CODE_EXP`.
    pub code: ExpertCode,
    /// `tf_okato`: OKATO of the territory.
    pub okato: TerritoryOkato,
    /// `fam`.
    pub surname: PersonName,
    /// `im`.
    pub first_name: PersonName,
    /// `ot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<PersonName>,
    /// `snils`.
    pub snils: Snils,
    /// `specialty` (inferred): the expert's specialties.
    #[serde(default)]
    pub specialties: Vec<Specialty>,
    /// `phone1`, `phone2`, `e_mail1`, `e_mail2`.
    #[serde(default)]
    pub contacts: ExpertContacts,
    /// `date_reg`: registration date; the expert is active from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_reg: Option<NaiveDate>,
}

/// A specialty of an expert (`specialty`: `code`, `name`; inferred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specialty {
    /// Specialty code, as the source writes it (e.g. a V021 code).
    pub code: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Two phones and two e-mail addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertContacts {
    /// `phone1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    /// `phone2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone2: Option<String>,
    /// `e_mail1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email1: Option<String>,
    /// `e_mail2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email2: Option<String>,
}

/// Unchecked [`Specialty`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpecialty {
    /// Code.
    pub code: Option<RawText>,
    /// Name.
    pub name: Option<RawText>,
}

/// Unchecked [`ExpertContacts`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpertContacts {
    /// Phone 1.
    pub phone1: Option<RawText>,
    /// Phone 2.
    pub phone2: Option<RawText>,
    /// E-mail 1.
    pub email1: Option<RawText>,
    /// E-mail 2.
    pub email2: Option<RawText>,
}

/// An unchecked [`Expert`], as the admin API receives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpert {
    /// Code.
    pub code: Option<RawText>,
    /// OKATO.
    pub okato: Option<RawText>,
    /// Surname.
    pub surname: Option<RawText>,
    /// First name.
    pub first_name: Option<RawText>,
    /// Patronymic.
    pub patronymic: Option<RawText>,
    /// SNILS.
    pub snils: Option<RawText>,
    /// Specialties.
    #[serde(default)]
    pub specialties: Vec<RawSpecialty>,
    /// Contacts.
    #[serde(default)]
    pub contacts: RawExpertContacts,
    /// Registration date.
    pub date_reg: Option<RawText>,
}

const CONTACT_MAX: usize = model::CONTACT_MAX;

impl RawExpert {
    /// Reads an `expert` element.
    #[must_use]
    pub fn from_node(n: &Node) -> Self {
        Self {
            code: xml::text(n, "n_expert"),
            okato: xml::text(n, "tf_okato"),
            surname: xml::text(n, "fam"),
            first_name: xml::text(n, "im"),
            patronymic: xml::text(n, "ot"),
            snils: xml::text(n, "snils"),
            specialties: n
                .children_named("specialty")
                .map(|s| RawSpecialty {
                    code: xml::text(s, "code"),
                    name: xml::text(s, "name"),
                })
                .collect(),
            contacts: RawExpertContacts {
                phone1: xml::text(n, "phone1"),
                phone2: xml::text(n, "phone2"),
                email1: xml::text(n, "e_mail1"),
                email2: xml::text(n, "e_mail2"),
            },
            date_reg: xml::text(n, "date_reg"),
        }
    }

    /// Checks every field.
    pub fn check(&self) -> Result<Expert, FieldError> {
        let at = At::root();
        let contacts_at = at.field("contacts", "");
        let c = &self.contacts;
        Ok(Expert {
            code: check::required_id(
                &at.field("code", "n_expert"),
                self.code.as_ref(),
                "invalid_code",
                ExpertCode::parse,
            )?,
            okato: check::territory(&at.field("okato", "tf_okato"), self.okato.as_ref())?,
            surname: check::person_name(&at.field("surname", "fam"), self.surname.as_ref())?
                .ok_or_else(|| check::missing(&at.field("surname", "fam")))?,
            first_name: check::person_name(
                &at.field("first_name", "im"),
                self.first_name.as_ref(),
            )?
            .ok_or_else(|| check::missing(&at.field("first_name", "im")))?,
            patronymic: check::person_name(
                &at.field("patronymic", "ot"),
                self.patronymic.as_ref(),
            )?,
            snils: check::required_id(
                &at.field("snils", "snils"),
                self.snils.as_ref(),
                "invalid_snils",
                Snils::parse,
            )?,
            specialties: model::check_list(
                &at,
                "specialties",
                "specialty",
                &self.specialties,
                |s, at| {
                    Ok(Specialty {
                        code: check::required_text(&at.field("code", "code"), s.code.as_ref(), 20)?,
                        name: check::text(&at.field("name", "name"), s.name.as_ref(), 254)?,
                    })
                },
            )?,
            contacts: ExpertContacts {
                phone1: check::text(
                    &contacts_at.field("phone1", "phone1"),
                    c.phone1.as_ref(),
                    CONTACT_MAX,
                )?,
                phone2: check::text(
                    &contacts_at.field("phone2", "phone2"),
                    c.phone2.as_ref(),
                    CONTACT_MAX,
                )?,
                email1: check::text(
                    &contacts_at.field("email1", "e_mail1"),
                    c.email1.as_ref(),
                    CONTACT_MAX,
                )?,
                email2: check::text(
                    &contacts_at.field("email2", "e_mail2"),
                    c.email2.as_ref(),
                    CONTACT_MAX,
                )?,
            },
            date_reg: check::date(&at.field("date_reg", "date_reg"), self.date_reg.as_ref())?,
        })
    }
}

impl Register for Expert {
    const CODE_ELEMENT: &'static str = "n_expert";
    const KIND: RegisterKind = RegisterKind::Experts;
    type Raw = RawExpert;

    fn check(raw: RawExpert) -> Result<Self, FieldError> {
        raw.check()
    }

    fn from_node(node: &Node) -> Result<Self, FieldError> {
        RawExpert::from_node(node).check()
    }

    fn to_node(&self) -> Node {
        let mut c = Children::new();
        c.text("tf_okato", self.okato.as_str())
            .text("n_expert", self.code.as_str())
            .text("fam", self.surname.as_str())
            .text("im", self.first_name.as_str())
            .opt("ot", self.patronymic.as_ref().map(PersonName::as_str))
            .text("snils", &self.snils.to_string())
            .opt("phone1", self.contacts.phone1.as_deref())
            .opt("phone2", self.contacts.phone2.as_deref())
            .opt("e_mail1", self.contacts.email1.as_deref())
            .opt("e_mail2", self.contacts.email2.as_deref())
            .date("date_reg", self.date_reg);
        for s in &self.specialties {
            let mut sc = Children::new();
            sc.text("code", &s.code).opt("name", s.name.as_deref());
            c.node(sc.into_node("specialty"));
        }
        c.into_node(RegisterKind::Experts.element())
    }

    fn code(&self) -> &str {
        self.code.as_str()
    }

    fn territory(&self) -> TfomsCode {
        self.okato.territory().clone()
    }

    /// F004 carries no edit date: versions start on the packet date.
    fn d_edit(&self) -> Option<NaiveDate> {
        None
    }

    fn periods(&self) -> Vec<Span> {
        vec![Span {
            from: self.date_reg,
            to: None,
        }]
    }

    fn search_text(&self) -> String {
        model::search_of(&[
            Some(self.code.as_str()),
            Some(self.surname.as_str()),
            Some(self.first_name.as_str()),
            self.patronymic.as_ref().map(PersonName::as_str),
        ])
    }

    crate::registers::current::register_storage!(expert_versions);
}
