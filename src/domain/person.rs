//! Attributes of an insured person that are not identifiers: sex (classifier V005) and the
//! parts of the name (FAM / IM / OT of the L-file `PERS_LIST` and ERZ lists).
//!
//! Used by intake and validation when reading persons, and by [`Enp`](super::Enp) for the
//! birth-date/sex facet. Names are personal data: their `Debug` is masked.

use std::fmt;

use super::error::IdError;

/// Пол (V005, element `W`): 1 male, 2 female.
///
/// Canonical text form (`Display`, `parse`, serde) is the classifier code, `"1"` or `"2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    /// Мужской, V005 code 1.
    Male = 1,
    /// Женский, V005 code 2.
    Female = 2,
}

impl Sex {
    const WHAT: &'static str = "sex (V005)";

    /// The sex with V005 code `code` (1 or 2).
    pub fn from_code(code: u8) -> Result<Self, IdError> {
        match code {
            1 => Ok(Self::Male),
            2 => Ok(Self::Female),
            _ => Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "expected code 1 (male) or 2 (female)",
            }),
        }
    }

    /// The V005 code: 1 male, 2 female.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Male => 1,
            Self::Female => 2,
        }
    }

    /// Parses the V005 code as text: exactly `"1"` or `"2"`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s {
            "1" => Ok(Self::Male),
            "2" => Ok(Self::Female),
            _ => Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "expected \"1\" (male) or \"2\" (female)",
            }),
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

text_value!(Sex, IdError);

/// Фамилия, имя или отчество (FAM, IM, OT): one part of a person's name.
///
/// Parsing trims surrounding whitespace and refuses an empty result, more than 40 characters
/// (counted as characters, not bytes: the XSD type is `T(0..40)`) and control characters.
/// Letters are not restricted: foreign names, hyphens, apostrophes and inner spaces occur.
/// A missing part (no patronymic) is `Option<PersonName>`, never an empty name.
///
/// `Debug` prints `PersonName(***)`; only `Display` and [`as_str`](Self::as_str) give the text.
/// No `Ord`: byte order is not an alphabetical collation of Russian names.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    const WHAT: &'static str = "person name";
    /// The longest accepted name, in characters.
    pub const MAX_CHARS: usize = 40;

    /// Trims surrounding whitespace, then refuses an empty name, a control character
    /// (position counted in characters of the untrimmed input, 1-based) or more than
    /// [`MAX_CHARS`](Self::MAX_CHARS) characters.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(IdError::Empty { what: Self::WHAT });
        }
        let leading = s.chars().count() - s.trim_start().chars().count();
        if let Some(index) = trimmed.chars().position(char::is_control) {
            return Err(IdError::InvalidCharacter {
                what: Self::WHAT,
                position: leading + index + 1,
            });
        }
        let found = trimmed.chars().count();
        if found > Self::MAX_CHARS {
            return Err(IdError::Length {
                what: Self::WHAT,
                expected: "1 to 40 characters",
                found,
            });
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(***)")
    }
}

text_value!(PersonName, IdError, newtype);

#[cfg(test)]
mod tests {
    use super::{PersonName, Sex};

    #[test]
    fn sex_codes() {
        assert_eq!(Sex::from_code(1), Ok(Sex::Male));
        assert_eq!(Sex::from_code(2), Ok(Sex::Female));
        assert_eq!(Sex::from_code(0).unwrap_err().code(), "invalid_value");
        assert_eq!(Sex::from_code(3).unwrap_err().code(), "invalid_value");
        assert_eq!(Sex::Male.code(), 1);
        assert_eq!(Sex::Female.code(), 2);
        assert_eq!(Sex::parse("2"), Ok(Sex::Female));
        assert!(Sex::parse(" 1").is_err());
        assert!(Sex::parse("M").is_err());
        assert_eq!(Sex::Female.to_string(), "2");
        assert_eq!(serde_json::to_string(&Sex::Male).unwrap(), "\"1\"");
        assert_eq!(serde_json::from_str::<Sex>("\"2\"").unwrap(), Sex::Female);
        assert!(serde_json::from_str::<Sex>("\"3\"").is_err());
    }

    #[test]
    fn name_is_trimmed_and_kept() {
        let name = PersonName::parse("  Салтыков-Щедрин \t").unwrap();
        assert_eq!(name.as_str(), "Салтыков-Щедрин");
        assert_eq!(name.to_string(), "Салтыков-Щедрин");
        assert_eq!(
            PersonName::parse("Д'Артаньян").unwrap().as_str(),
            "Д'Артаньян"
        );
        assert_eq!(
            PersonName::parse("Анна Мария").unwrap().as_str(),
            "Анна Мария"
        );
    }

    #[test]
    fn name_refusals() {
        assert_eq!(PersonName::parse("").unwrap_err().code(), "empty");
        assert_eq!(PersonName::parse(" \n ").unwrap_err().code(), "empty");
        let e = PersonName::parse(" Ив\u{0}анов").unwrap_err();
        assert_eq!(e.code(), "invalid_character");
        assert_eq!(e.to_string(), "person name: character 4 is not allowed");
        assert!(!e.to_string().contains("Ив"));
    }

    #[test]
    fn name_length_counts_characters() {
        let forty = "Я".repeat(40); // 80 bytes
        assert_eq!(PersonName::parse(&forty).unwrap().as_str(), forty);
        let e = PersonName::parse(&"Я".repeat(41)).unwrap_err();
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(
            e.to_string(),
            "person name: length is 41, expected 1 to 40 characters"
        );
        // Surrounding spaces do not count.
        assert!(PersonName::parse(&format!("  {forty}  ")).is_ok());
    }

    #[test]
    fn name_debug_is_masked() {
        let name = PersonName::parse("Иванов").unwrap();
        let debug = format!("{name:?}");
        assert_eq!(debug, "PersonName(***)");
        assert!(!debug.contains("Иванов"));
        let nested = format!("{:?}", Some(&name));
        assert!(!nested.contains("Иванов"));
    }

    #[test]
    fn name_serde_goes_through_parse() {
        let name = PersonName::parse("Петрова").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Петрова\"");
        let back: PersonName = serde_json::from_str("\" Петрова \"").unwrap();
        assert_eq!(back, name);
        let err = serde_json::from_str::<PersonName>("\"   \"").unwrap_err();
        assert!(err.to_string().contains("person name: empty"));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::PersonName;

    proptest! {
        #[test]
        fn display_parse_round_trip(s in "\\PC{0,45}") {
            match PersonName::parse(&s) {
                Ok(name) => {
                    prop_assert_eq!(name.as_str(), s.trim());
                    prop_assert!(name.as_str().chars().count() <= PersonName::MAX_CHARS);
                    prop_assert_eq!(PersonName::parse(&name.to_string()), Ok(name.clone()));
                    prop_assert_eq!(format!("{name:?}"), "PersonName(***)");
                }
                Err(e) => prop_assert!(
                    s.trim().is_empty() || s.trim().chars().count() > PersonName::MAX_CHARS,
                    "unexpected refusal {}", e
                ),
            }
        }

        #[test]
        fn control_characters_are_refused(
            prefix in "[а-я]{1,10}",
            c in proptest::char::range('\u{0}', '\u{1f}'),
            suffix in "[а-я]{1,10}",
        ) {
            let s = format!("{prefix}{c}{suffix}");
            let e = PersonName::parse(&s).unwrap_err();
            prop_assert_eq!(e.code(), "invalid_character");
        }
    }
}
