//! Checking one register entry, field by field: the raw text (from a packet element or a JSON
//! body) goes in, a typed value or a [`FieldError`] naming the field and a stable code comes
//! out. Identifiers go through the `domain` types (and [`super::ids`]); the rest are dates,
//! bounded texts and fixed-length digit strings.
//!
//! Import and the admin API share these checks, so a bad entry is refused the same way from
//! either side: the import reports the XML element path, the API the JSON field path.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::ids::TerritoryOkato;
use crate::domain::{IdError, Okato, PersonName};

/// Why one entry was refused: where, a stable code, and a sentence without the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON path of the field (`licences[0].start`); empty for the entry as a whole.
    pub field: String,
    /// The packet element path (`licenziy[1]/d_start`); empty for the entry as a whole.
    pub element: String,
    /// Stable `snake_case` code (`invalid_ogrn`, `missing_field`, …).
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// An error about the entry as a whole (no single field).
    #[must_use]
    pub fn entry(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: String::new(),
            element: String::new(),
            code,
            message: message.into(),
        }
    }

    /// The message with the JSON field in front, for the API.
    #[must_use]
    pub fn api_message(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("field `{}`: {}", self.field, self.message)
        }
    }

    /// The message with the packet element in front, for import summaries.
    #[must_use]
    pub fn import_message(&self) -> String {
        if self.element.is_empty() {
            self.message.clone()
        } else {
            format!("<{}>: {}", self.element, self.message)
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.api_message())
    }
}

impl std::error::Error for FieldError {}

/// Where a field is: its JSON path and its packet element path.
#[derive(Debug, Clone, Default)]
pub struct At {
    json: String,
    xml: String,
}

impl At {
    /// The entry itself.
    #[must_use]
    pub fn root() -> Self {
        Self::default()
    }

    /// The field `json` (element `xml`) inside this one.
    #[must_use]
    pub fn field(&self, json: &str, xml: &str) -> Self {
        Self {
            json: join(&self.json, json, "."),
            xml: join(&self.xml, xml, "/"),
        }
    }

    /// Item `index` (0-based) of the list `json` (repeated element `xml`, counted from 1).
    #[must_use]
    pub fn item(&self, json: &str, xml: &str, index: usize) -> Self {
        Self {
            json: format!("{}[{index}]", join(&self.json, json, ".")),
            xml: format!("{}[{}]", join(&self.xml, xml, "/"), index + 1),
        }
    }

    /// An error at this place.
    #[must_use]
    pub fn error(&self, code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: self.json.clone(),
            element: self.xml.clone(),
            code,
            message: message.into(),
        }
    }

    fn id_error(&self, code: &'static str, e: &IdError) -> FieldError {
        self.error(code, e.to_string())
    }
}

/// Joins a path; an empty `name` (a JSON group with no element of its own) adds nothing.
fn join(prefix: &str, name: &str, sep: &str) -> String {
    if name.is_empty() {
        prefix.to_owned()
    } else if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}{sep}{name}")
    }
}

const NOT_TEXT: &str = "expected a string or an integer";

/// A field as it arrived: text from a packet, or a JSON string or integer. Numbers are kept as
/// their decimal text so that both sources go through the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawText(pub String);

impl RawText {
    /// The text, trimmed; `None` when nothing is left.
    #[must_use]
    pub fn trimmed(&self) -> Option<&str> {
        let t = self.0.trim();
        (!t.is_empty()).then_some(t)
    }
}

impl From<&str> for RawText {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawText, E> {
                Ok(RawText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawText, E> {
                Ok(RawText(v.to_string()))
            }
            // serde's own messages would quote the value, and a SNILS must not be echoed.
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawText, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawText, E> {
                Err(E::custom(NOT_TEXT))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A raw optional field's trimmed text.
fn present(value: Option<&RawText>) -> Option<&str> {
    value.and_then(RawText::trimmed)
}

/// An optional free text of at most `max` characters, trimmed; control characters refused.
pub fn text(at: &At, value: Option<&RawText>, max: usize) -> Result<Option<String>, FieldError> {
    let Some(t) = present(value) else {
        return Ok(None);
    };
    if let Some(position) = t.chars().position(char::is_control) {
        return Err(at.error(
            "invalid_text",
            format!("character {} is a control character", position + 1),
        ));
    }
    let found = t.chars().count();
    if found > max {
        return Err(at.error(
            "too_long",
            format!("{found} characters, at most {max} allowed"),
        ));
    }
    Ok(Some(t.to_owned()))
}

/// A required free text of at most `max` characters.
pub fn required_text(at: &At, value: Option<&RawText>, max: usize) -> Result<String, FieldError> {
    text(at, value, max)?.ok_or_else(|| missing(at))
}

/// The error for a required field that is absent or empty.
#[must_use]
pub fn missing(at: &At) -> FieldError {
    at.error("missing_field", "required, but missing or empty")
}

/// Parses a date written `DD.MM.YYYY` (classifier packets) or `YYYY-MM-DD` (ISO, JSON).
#[must_use]
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%d.%m.%Y")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

/// An optional date.
pub fn date(at: &At, value: Option<&RawText>) -> Result<Option<NaiveDate>, FieldError> {
    let Some(t) = present(value) else {
        return Ok(None);
    };
    parse_date(t).map(Some).ok_or_else(|| {
        at.error(
            "invalid_date",
            "not a date (write DD.MM.YYYY or YYYY-MM-DD)",
        )
    })
}

/// A required date.
pub fn required_date(at: &At, value: Option<&RawText>) -> Result<NaiveDate, FieldError> {
    date(at, value)?.ok_or_else(|| missing(at))
}

/// An optional identifier parsed by `parse`; a refusal gets `code`.
pub fn id<T>(
    at: &At,
    value: Option<&RawText>,
    code: &'static str,
    parse: impl Fn(&str) -> Result<T, IdError>,
) -> Result<Option<T>, FieldError> {
    present(value)
        .map(|t| parse(t).map_err(|e| at.id_error(code, &e)))
        .transpose()
}

/// A required identifier parsed by `parse`.
pub fn required_id<T>(
    at: &At,
    value: Option<&RawText>,
    code: &'static str,
    parse: impl Fn(&str) -> Result<T, IdError>,
) -> Result<T, FieldError> {
    id(at, value, code, parse)?.ok_or_else(|| missing(at))
}

/// An optional string of ASCII digits whose length is one of `lengths` (BIC, account numbers,
/// OKTMO, postal index). `what` names it in the message.
pub fn digits(
    at: &At,
    value: Option<&RawText>,
    lengths: &[usize],
    code: &'static str,
    what: &str,
) -> Result<Option<String>, FieldError> {
    let Some(t) = present(value) else {
        return Ok(None);
    };
    if !t.bytes().all(|b| b.is_ascii_digit()) || !lengths.contains(&t.len()) {
        let expected: Vec<String> = lengths.iter().map(ToString::to_string).collect();
        return Err(at.error(
            code,
            format!("{what} must be {} digits", expected.join(" or ")),
        ));
    }
    Ok(Some(t.to_owned()))
}

/// An optional non-negative integer of at most `max_digits` digits.
pub fn number(
    at: &At,
    value: Option<&RawText>,
    max_digits: usize,
) -> Result<Option<u64>, FieldError> {
    let Some(t) = present(value) else {
        return Ok(None);
    };
    if t.is_empty() || t.len() > max_digits || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at.error(
            "invalid_number",
            format!("must be a whole number of at most {max_digits} digits"),
        ));
    }
    t.parse()
        .map(Some)
        .map_err(|_| at.error("invalid_number", "not a whole number"))
}

/// An optional part of a person's name.
pub fn person_name(at: &At, value: Option<&RawText>) -> Result<Option<PersonName>, FieldError> {
    id(at, value, "invalid_name", PersonName::parse)
}

/// Refuses an end date before the start date.
pub fn period(at: &At, start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<(), FieldError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => {
            Err(at.error("invalid_period", format!("ends {e} before it starts {s}")))
        }
        _ => Ok(()),
    }
}

/// A required `tf_okato`: 5 digits (`invalid_okato`) naming a known territory
/// (`unknown_territory`).
pub fn territory(at: &At, value: Option<&RawText>) -> Result<TerritoryOkato, FieldError> {
    let okato = required_id(at, value, "invalid_okato", Okato::parse)?;
    TerritoryOkato::parse(okato.as_str()).map_err(|_| {
        at.error(
            "unknown_territory",
            format!("OKATO {okato} is not a known territory"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_field_both_ways() {
        let at = At::root()
            .item("licences", "licenziy", 1)
            .field("start", "d_start");
        let e = at.error("invalid_date", "bad");
        assert_eq!(e.field, "licences[1].start");
        assert_eq!(e.element, "licenziy[2]/d_start");
        assert_eq!(e.api_message(), "field `licences[1].start`: bad");
        assert_eq!(e.import_message(), "<licenziy[2]/d_start>: bad");
    }

    #[test]
    fn texts_are_trimmed_bounded_and_clean() {
        let at = At::root().field("name_full", "nam_smop");
        assert_eq!(
            text(&at, Some(&RawText::from("  АО  ")), 5)
                .unwrap()
                .as_deref(),
            Some("АО")
        );
        assert_eq!(text(&at, Some(&RawText::from("   ")), 5).unwrap(), None);
        assert_eq!(text(&at, None, 5).unwrap(), None);
        assert_eq!(
            text(&at, Some(&RawText::from("абвгде")), 5)
                .unwrap_err()
                .code,
            "too_long"
        );
        assert_eq!(
            text(&at, Some(&RawText::from("a\u{7}b")), 5)
                .unwrap_err()
                .code,
            "invalid_text"
        );
        assert_eq!(
            required_text(&at, Some(&RawText::from("")), 5)
                .unwrap_err()
                .code,
            "missing_field"
        );
    }

    #[test]
    fn dates_in_both_spellings() {
        let at = At::root().field("d_edit", "d_edit");
        let d = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(date(&at, Some(&RawText::from("01.03.2024"))).unwrap(), d);
        assert_eq!(date(&at, Some(&RawText::from("2024-03-01"))).unwrap(), d);
        assert_eq!(date(&at, Some(&RawText::from(""))).unwrap(), None);
        assert_eq!(
            date(&at, Some(&RawText::from("31.02.2024")))
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(
            date(&at, Some(&RawText::from("2024/03/01")))
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(required_date(&at, None).unwrap_err().code, "missing_field");
        assert_eq!(
            period(&at, d, NaiveDate::from_ymd_opt(2024, 2, 1))
                .unwrap_err()
                .code,
            "invalid_period"
        );
        assert!(period(&at, d, d).is_ok());
    }

    #[test]
    fn digits_numbers_and_identifiers() {
        let at = At::root();
        assert_eq!(
            digits(
                &at,
                Some(&RawText::from("044525225")),
                &[9],
                "invalid_bic",
                "BIC"
            )
            .unwrap()
            .as_deref(),
            Some("044525225")
        );
        let e = digits(
            &at,
            Some(&RawText::from("04452522")),
            &[9],
            "invalid_bic",
            "BIC",
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("invalid_bic", "BIC must be 9 digits")
        );
        assert_eq!(
            number(&at, Some(&RawText::from("1200")), 10).unwrap(),
            Some(1200)
        );
        assert_eq!(
            number(&at, Some(&RawText::from("-1")), 10)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            number(&at, Some(&RawText::from("12345")), 4)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        let e = required_id(
            &at,
            Some(&RawText::from("1134401012713")),
            "invalid_ogrn",
            crate::domain::Ogrn::parse,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_ogrn");
        assert!(
            e.message.starts_with("OGRN: check digit is 3"),
            "{}",
            e.message
        );
    }

    #[test]
    fn territory_must_be_known() {
        let at = At::root().field("okato", "tf_okato");
        let volgograd = territory(&at, Some(&RawText::from("18000"))).unwrap();
        assert_eq!(volgograd.territory().as_str(), "34");
        let e = territory(&at, Some(&RawText::from("18001"))).unwrap_err();
        assert_eq!(
            (e.code, e.element.as_str()),
            ("unknown_territory", "tf_okato")
        );
        assert_eq!(
            territory(&at, Some(&RawText::from("1800")))
                .unwrap_err()
                .code,
            "invalid_okato"
        );
        assert_eq!(territory(&at, None).unwrap_err().code, "missing_field");
    }

    #[test]
    fn raw_text_reads_strings_and_integers() {
        let v: Vec<RawText> = serde_json::from_str(r#"["a", 12, -3]"#).unwrap();
        assert_eq!(
            v,
            [RawText::from("a"), RawText::from("12"), RawText::from("-3")]
        );
        let e = serde_json::from_str::<RawText>("112233445.95").unwrap_err();
        assert!(!e.to_string().contains("112233"), "{e}");
        assert!(serde_json::from_str::<RawText>("true").is_err());
    }
}
