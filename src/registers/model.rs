//! What the four registers have in common: the [`Register`] trait each record type implements,
//! the onboarding [`Status`], activity ([`Span`], [`Activity`]: "may it act on date D?"), the
//! stored [`State`] of an entry, and the parts several records share (names of a head, contacts,
//! addresses, licences, inclusion periods, notices) with their checks.
//!
//! Used by every register module and by the generic machinery (`history`, `service`,
//! `import`, `export`, `lookup`).

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::RegisterKind;
use super::check::{self, At, FieldError, RawText};
use super::history::{NewVersion, VersionRow};
use crate::db::DbConn;
use crate::domain::{PersonName, TfomsCode};
use crate::nsi::packet::Node;

/// Where an entry stands in the onboarding workflow (insurers and clinics). Funds and experts,
/// and every organisation imported from an official packet, are `Active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Applied to be included (заявление).
    Application,
    /// Application approved, not yet working in OMS.
    Approved,
    /// Application refused (final).
    Rejected,
    /// Included in the register and working.
    Active,
    /// Excluded from the register (final); active before the exclusion date only.
    Excluded,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Application,
        Self::Approved,
        Self::Rejected,
        Self::Active,
        Self::Excluded,
    ];

    /// The stored and JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Active => "active",
            Self::Excluded => "excluded",
        }
    }

    /// The status named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A period of dates, both ends inclusive, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First day, or open.
    pub from: Option<NaiveDate>,
    /// Last day, or open.
    pub to: Option<NaiveDate>,
}

impl Span {
    /// Whether `day` lies inside.
    #[must_use]
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }
}

/// Everything that decides whether an entry is active on a date.
///
/// Active on D = the status is `active` (or `excluded`, with the exclusion after D) **and** D
/// lies inside one of the periods (inclusion periods of insurers and clinics, up to `d_end` for
/// funds, from the registration date for experts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Workflow status.
    pub status: Status,
    /// Since when the status holds (for `excluded`: the first day out of the register).
    pub status_since: NaiveDate,
    /// Periods in which the entry may act.
    pub periods: Vec<Span>,
}

impl Activity {
    /// Whether the entry may act on `day`.
    #[must_use]
    pub fn active_on(&self, day: NaiveDate) -> bool {
        let status_allows = match self.status {
            Status::Active => true,
            Status::Excluded => day < self.status_since,
            Status::Application | Status::Approved | Status::Rejected => false,
        };
        status_allows && self.periods.iter().any(|p| p.contains(day))
    }
}

/// One entry as stored: its record, its workflow status and the date from which this state is
/// in force.
#[derive(Debug, Clone, PartialEq)]
pub struct State<R> {
    /// The register record.
    pub record: R,
    /// Workflow status.
    pub status: Status,
    /// Since when the status holds.
    pub status_since: NaiveDate,
    /// The business date from which this state is true.
    pub valid_from: NaiveDate,
}

impl<R: Register> State<R> {
    /// What decides activity.
    #[must_use]
    pub fn activity(&self) -> Activity {
        Activity {
            status: self.status,
            status_since: self.status_since,
            periods: self.record.periods(),
        }
    }
}

/// Filters of a register listing, applied in SQL.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this territory.
    pub territory: Option<TfomsCode>,
    /// Only this status.
    pub status: Option<Status>,
    /// Lower-cased text to find in the code or names.
    pub q: Option<String>,
}

/// A stored value that cannot be read back (a defect or a hand-edited database).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A statement failed.
    #[error("database statement failed")]
    Db(#[from] diesel::result::Error),
    /// A stored row does not parse.
    #[error("stored {register} entry {code} is unreadable: {detail}")]
    Corrupt {
        /// The register.
        register: RegisterKind,
        /// The entry.
        code: String,
        /// What failed.
        detail: String,
    },
}

impl StoreError {
    /// A corrupt-row error.
    pub fn corrupt(register: RegisterKind, code: &str, detail: impl fmt::Display) -> Self {
        Self::Corrupt {
            register,
            code: code.to_owned(),
            detail: detail.to_string(),
        }
    }
}

/// A register record type: its checks, its packet form, and its repository (the only code that
/// writes the register's tables).
pub trait Register:
    Sized + Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned + Send + 'static
{
    /// Which register.
    const KIND: RegisterKind;
    /// The packet element holding the entry's code (`smocod`), to name rejected entries.
    const CODE_ELEMENT: &'static str;
    /// The unchecked form, as the admin API receives it in JSON.
    type Raw: DeserializeOwned;

    /// Checks every field of an unchecked entry.
    fn check(raw: Self::Raw) -> Result<Self, FieldError>;
    /// Reads and checks one packet entry.
    fn from_node(node: &Node) -> Result<Self, FieldError>;
    /// The packet entry of this record (export).
    fn to_node(&self) -> Node;

    /// The entry's code.
    fn code(&self) -> &str;
    /// The entry's territory.
    fn territory(&self) -> TfomsCode;
    /// The last edit date the source gave (`d_edit`, `date_reg` for experts), if any.
    fn d_edit(&self) -> Option<NaiveDate>;
    /// Periods in which the entry may act.
    fn periods(&self) -> Vec<Span>;
    /// Lower-case text searched by `q`: code and names.
    fn search_text(&self) -> String;
    /// Workflow: the entry becomes active on `day` (open an inclusion period).
    fn include_from(&mut self, _day: NaiveDate) {}
    /// Workflow: the entry is excluded from `day` on (close its inclusion periods the day
    /// before).
    fn exclude_from(&mut self, _day: NaiveDate) {}

    /// The newest state of `code`.
    fn load_current(conn: &mut DbConn, code: &str) -> Result<Option<State<Self>>, StoreError>;
    /// Every entry's newest state, ordered by code.
    fn load_all(conn: &mut DbConn) -> Result<Vec<State<Self>>, StoreError>;
    /// Code and activity of the entries matching `filter`, ordered by code.
    fn list_keys(
        conn: &mut DbConn,
        filter: &ListFilter,
    ) -> Result<Vec<(String, Activity)>, StoreError>;
    /// Writes `state` as the newest state (insert or replace).
    fn save_current(conn: &mut DbConn, state: &State<Self>, now: NaiveDateTime) -> QueryResult<()>;
    /// Appends a version.
    fn insert_version(conn: &mut DbConn, version: &NewVersion<'_>) -> QueryResult<()>;
    /// Every version of `code`, in the order recorded.
    fn versions(conn: &mut DbConn, code: &str) -> QueryResult<Vec<VersionRow>>;
}

/// Serializes a record for the `record` column: compact JSON.
pub fn record_json<R: Serialize>(record: &R) -> String {
    // A record of strings, dates and numbers always serializes.
    serde_json::to_string(record).unwrap_or_default()
}

/// Lower-cases and joins the searchable texts.
#[must_use]
pub fn search_of(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- shared parts -------------------------------------------------------------------------

/// The names of a head or director (fam / im / ot); each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonParts {
    /// Фамилия.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<PersonName>,
    /// Имя.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<PersonName>,
    /// Отчество.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<PersonName>,
}

/// Unchecked [`PersonParts`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPersonParts {
    /// Фамилия.
    pub surname: Option<RawText>,
    /// Имя.
    pub first_name: Option<RawText>,
    /// Отчество.
    pub patronymic: Option<RawText>,
}

impl RawPersonParts {
    /// Checks the three parts; `xml` names their elements (`fam_ruk`, `im_ruk`, `ot_ruk`).
    pub fn check(&self, at: &At, xml: [&str; 3]) -> Result<PersonParts, FieldError> {
        Ok(PersonParts {
            surname: check::person_name(&at.field("surname", xml[0]), self.surname.as_ref())?,
            first_name: check::person_name(
                &at.field("first_name", xml[1]),
                self.first_name.as_ref(),
            )?,
            patronymic: check::person_name(
                &at.field("patronymic", xml[2]),
                self.patronymic.as_ref(),
            )?,
        })
    }
}

/// Phone, fax, e-mail and web site of an organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Fax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fax: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Web site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub www: Option<String>,
}

/// Unchecked [`Contacts`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContacts {
    /// Phone.
    pub phone: Option<RawText>,
    /// Fax.
    pub fax: Option<RawText>,
    /// E-mail.
    pub email: Option<RawText>,
    /// Web site.
    pub www: Option<RawText>,
}

/// Longest contact text (formats.md: T40–T100).
pub const CONTACT_MAX: usize = 100;

impl RawContacts {
    /// Checks the contacts (elements `phone`, `fax`, `e_mail`, `www`).
    pub fn check(&self, at: &At) -> Result<Contacts, FieldError> {
        Ok(Contacts {
            phone: check::text(
                &at.field("phone", "phone"),
                self.phone.as_ref(),
                CONTACT_MAX,
            )?,
            fax: check::text(&at.field("fax", "fax"), self.fax.as_ref(), CONTACT_MAX)?,
            email: check::text(
                &at.field("email", "e_mail"),
                self.email.as_ref(),
                CONTACT_MAX,
            )?,
            www: check::text(&at.field("www", "www"), self.www.as_ref(), CONTACT_MAX)?,
        })
    }
}

/// A postal index and an address line (`jurAddress` / `pstAddress`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// 6-digit postal index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_index: Option<String>,
    /// The address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Address {
    /// Whether both parts are missing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.postal_index.is_none() && self.address.is_none()
    }
}

/// Unchecked [`Address`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddress {
    /// Postal index.
    pub postal_index: Option<RawText>,
    /// Address line.
    pub address: Option<RawText>,
}

/// Longest address line (T254).
pub const ADDRESS_MAX: usize = 254;

impl RawAddress {
    /// Checks an address whose elements are `xml` (`index_j`, `addr_j`).
    pub fn check(&self, at: &At, xml: [&str; 2]) -> Result<Address, FieldError> {
        Ok(Address {
            postal_index: check::digits(
                &at.field("postal_index", xml[0]),
                self.postal_index.as_ref(),
                &[6],
                "invalid_postal_index",
                "a postal index",
            )?,
            address: check::text(
                &at.field("address", xml[1]),
                self.address.as_ref(),
                ADDRESS_MAX,
            )?,
        })
    }
}

/// A licence (`licenziy`: `n_doc`, `d_start`, `data_e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    /// Licence number.
    pub number: String,
    /// Valid from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    /// Valid until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// Unchecked [`Licence`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLicence {
    /// Licence number.
    pub number: Option<RawText>,
    /// Valid from.
    pub start: Option<RawText>,
    /// Valid until.
    pub end: Option<RawText>,
}

impl RawLicence {
    /// Checks one licence.
    pub fn check(&self, at: &At) -> Result<Licence, FieldError> {
        let start = check::date(&at.field("start", "d_start"), self.start.as_ref())?;
        let end = check::date(&at.field("end", "data_e"), self.end.as_ref())?;
        check::period(&at.field("end", "data_e"), start, end)?;
        Ok(Licence {
            number: check::required_text(&at.field("number", "n_doc"), self.number.as_ref(), 20)?,
            start,
            end,
        })
    }
}

/// A period of inclusion in the register (`insInclude` / `medInclude`): from `d_begin` to
/// `d_end` (the last day in the register), with the reasons (`name_e`) and the `Nal_p` flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inclusion {
    /// First day in the register.
    pub d_begin: NaiveDate,
    /// Last day in the register; open while included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_end: Option<NaiveDate>,
    /// Reasons of the inclusion or exclusion (`name_e`, T15 each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// `Nal_p` (T1; meaning not established).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nal_p: Option<String>,
}

/// Unchecked [`Inclusion`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInclusion {
    /// First day.
    pub d_begin: Option<RawText>,
    /// Last day.
    pub d_end: Option<RawText>,
    /// Reasons.
    #[serde(default)]
    pub reasons: Vec<RawText>,
    /// `Nal_p`.
    pub nal_p: Option<RawText>,
}

impl RawInclusion {
    /// Checks one inclusion period.
    pub fn check(&self, at: &At) -> Result<Inclusion, FieldError> {
        let d_begin = check::required_date(&at.field("d_begin", "d_begin"), self.d_begin.as_ref())?;
        let d_end = check::date(&at.field("d_end", "d_end"), self.d_end.as_ref())?;
        check::period(&at.field("d_end", "d_end"), Some(d_begin), d_end)?;
        let mut reasons = Vec::new();
        for (i, r) in self.reasons.iter().enumerate() {
            if let Some(r) = check::text(&at.item("reasons", "name_e", i), Some(r), 15)? {
                reasons.push(r);
            }
        }
        Ok(Inclusion {
            d_begin,
            d_end,
            reasons,
            nal_p: check::text(&at.field("nal_p", "Nal_p"), self.nal_p.as_ref(), 1)?,
        })
    }
}

/// The activity periods of a list of inclusions.
#[must_use]
pub fn inclusion_spans(inclusions: &[Inclusion]) -> Vec<Span> {
    inclusions
        .iter()
        .map(|i| Span {
            from: Some(i.d_begin),
            to: i.d_end,
        })
        .collect()
}

/// Workflow activation on `day`: opens an inclusion period from `day` unless one covers it.
pub fn include_from(inclusions: &mut Vec<Inclusion>, day: NaiveDate) {
    let covered = inclusion_spans(inclusions).iter().any(|s| s.contains(day));
    if !covered {
        inclusions.push(Inclusion {
            d_begin: day,
            d_end: None,
            reasons: Vec::new(),
            nal_p: None,
        });
    }
}

/// Workflow exclusion on `day` (the first day out): every period that started before `day`
/// and is still open on it now ends the day before.
pub fn exclude_from(inclusions: &mut [Inclusion], day: NaiveDate) {
    let Some(last_day) = day.pred_opt() else {
        return;
    };
    for inclusion in inclusions {
        if inclusion.d_begin < day && inclusion.d_end.is_none_or(|end| end >= day) {
            inclusion.d_end = Some(last_day);
        }
    }
}

/// A notice of intent to work in OMS (`insAdvice` / `medAdvice`: `DUVED`, `kol_zl`,
/// `YEAR_WORK`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Date of the notice.
    pub date: NaiveDate,
    /// Number of insured persons (`kol_zl`, N10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insured: Option<u64>,
    /// The year it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u64>,
}

/// Unchecked [`Notice`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotice {
    /// Date of the notice.
    pub date: Option<RawText>,
    /// Number of insured.
    pub insured: Option<RawText>,
    /// Year.
    pub year: Option<RawText>,
}

impl RawNotice {
    /// Checks one notice.
    pub fn check(&self, at: &At) -> Result<Notice, FieldError> {
        let year_at = at.field("year", "YEAR_WORK");
        let year = check::number(&year_at, self.year.as_ref(), 4)?;
        if year.is_some_and(|y| !(1991..=2200).contains(&y)) {
            return Err(year_at.error("invalid_number", "not a plausible year"));
        }
        Ok(Notice {
            date: check::required_date(&at.field("date", "DUVED"), self.date.as_ref())?,
            insured: check::number(&at.field("insured", "kol_zl"), self.insured.as_ref(), 10)?,
            year,
        })
    }
}

/// Checks every item of a list with `check`, naming the item on failure.
pub fn check_list<R, T>(
    at: &At,
    json: &str,
    xml: &str,
    raws: &[R],
    check: impl Fn(&R, &At) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    raws.iter()
        .enumerate()
        .map(|(i, raw)| check(raw, &at.item(json, xml, i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn inclusion(from: &str, to: Option<&str>) -> Inclusion {
        Inclusion {
            d_begin: d(from),
            d_end: to.map(d),
            reasons: Vec::new(),
            nal_p: None,
        }
    }

    #[test]
    fn active_needs_the_status_and_a_period() {
        let mut a = Activity {
            status: Status::Active,
            status_since: d("2020-01-01"),
            periods: inclusion_spans(&[inclusion("2020-01-01", Some("2020-12-31"))]),
        };
        assert!(a.active_on(d("2020-01-01")));
        assert!(a.active_on(d("2020-12-31")), "d_end is the last day in");
        assert!(!a.active_on(d("2021-01-01")));
        assert!(!a.active_on(d("2019-12-31")));
        a.status = Status::Approved;
        assert!(!a.active_on(d("2020-06-01")));
        a.status = Status::Excluded;
        a.status_since = d("2020-07-01");
        assert!(a.active_on(d("2020-06-30")));
        assert!(!a.active_on(d("2020-07-01")), "the exclusion day is out");
        a.periods.clear();
        a.status = Status::Active;
        assert!(!a.active_on(d("2020-06-01")), "no period, never active");
    }

    #[test]
    fn workflow_opens_and_closes_inclusions() {
        let mut list = vec![inclusion("2020-01-01", Some("2020-12-31"))];
        include_from(&mut list, d("2020-06-01"));
        assert_eq!(list.len(), 1, "already covered");
        include_from(&mut list, d("2022-01-01"));
        assert_eq!(list[1], inclusion("2022-01-01", None));
        exclude_from(&mut list, d("2023-03-01"));
        assert_eq!(
            list[0],
            inclusion("2020-01-01", Some("2020-12-31")),
            "closed ones stay"
        );
        assert_eq!(list[1], inclusion("2022-01-01", Some("2023-02-28")));
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(Status::parse("Active"), None);
    }

    #[test]
    fn shared_parts_check_their_fields() {
        let raw = RawInclusion {
            d_begin: Some("01.02.2024".into()),
            d_end: Some("31.01.2024".into()),
            ..RawInclusion::default()
        };
        let e = raw
            .check(&At::root().item("inclusions", "insInclude", 0))
            .unwrap_err();
        assert_eq!(e.code, "invalid_period");
        assert_eq!(e.field, "inclusions[0].d_end");
        let raw = RawNotice {
            date: Some("2024-01-10".into()),
            insured: Some("120000".into()),
            year: Some("24".into()),
        };
        assert_eq!(
            raw.check(&At::root()).unwrap_err().code,
            "invalid_number",
            "a two-digit year is refused"
        );
        let head = RawPersonParts {
            surname: Some("Тестов".into()),
            first_name: Some("  ".into()),
            patronymic: None,
        }
        .check(
            &At::root().field("head", ""),
            ["fam_ruk", "im_ruk", "ot_ruk"],
        )
        .unwrap();
        assert_eq!(head.surname.unwrap().as_str(), "Тестов");
        assert_eq!(head.first_name, None);
        let e = RawAddress {
            postal_index: Some("4000".into()),
            address: None,
        }
        .check(
            &At::root().field("legal_address", "jurAddress"),
            ["index_j", "addr_j"],
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.element.as_str()),
            ("invalid_postal_index", "jurAddress/index_j")
        );
    }
}
