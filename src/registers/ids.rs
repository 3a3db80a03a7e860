//! Identifiers only the registers use: the KPP of an organisation and the code of an expert of
//! quality of care. They follow the `domain` types: `parse` is the only way in, the text form
//! is canonical, errors are [`IdError`] and never contain the value.
//!
//! Candidates to move into `domain` once another layer needs them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{IdError, Ogrn, Ogrnip, Okato, TfomsCode, territory_by_okato};

/// КПП (код причины постановки на учёт): 9 characters, 4 digits (the tax office), 2 digits or
/// capital Latin letters (the reason), 3 digits (a serial number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kpp(String);

impl Kpp {
    const WHAT: &'static str = "KPP";

    /// Parses `NNNNXXNNN`: positions 1–4 and 7–9 digits, 5–6 digits or `A`–`Z`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let found = s.chars().count();
        if found != 9 {
            return Err(IdError::Length {
                what: Self::WHAT,
                expected: "9 characters",
                found,
            });
        }
        for (index, c) in s.chars().enumerate() {
            let ok = match index {
                4 | 5 => c.is_ascii_digit() || c.is_ascii_uppercase(),
                _ => c.is_ascii_digit(),
            };
            if !ok {
                return Err(if matches!(index, 4 | 5) {
                    IdError::InvalidCharacter {
                        what: Self::WHAT,
                        position: index + 1,
                    }
                } else {
                    IdError::NotDigit {
                        what: Self::WHAT,
                        position: index + 1,
                    }
                });
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Код эксперта (F004 `n_expert`, `SANK/CODE_EXP`): 1 to 8 printable ASCII characters without
/// spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpertCode(String);

impl ExpertCode {
    const WHAT: &'static str = "expert code";

    /// Parses 1–8 ASCII letters, digits or punctuation (no spaces).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty { what: Self::WHAT });
        }
        let found = s.chars().count();
        if found > 8 {
            return Err(IdError::Length {
                what: Self::WHAT,
                expected: "1 to 8 characters",
                found,
            });
        }
        if let Some(index) = s.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(IdError::InvalidCharacter {
                what: Self::WHAT,
                position: index + 1,
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ОГРН of a legal entity (13 digits) or ОГРНИП of an individual entrepreneur (15 digits): a
/// medical organisation may be either (F003 `Ogrn`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegNumber {
    /// A legal entity.
    Ogrn(Ogrn),
    /// An individual entrepreneur.
    Ogrnip(Ogrnip),
}

impl RegNumber {
    /// Parses 13 digits as an OGRN, 15 as an OGRNIP (both with their check digit).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s.chars().count() {
            15 => Ogrnip::parse(s).map(Self::Ogrnip),
            13 => Ogrn::parse(s).map(Self::Ogrn),
            found => Err(IdError::Length {
                what: "OGRN",
                expected: "13 digits (OGRN) or 15 digits (OGRNIP)",
                found,
            }),
        }
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ogrn(o) => o.as_str(),
            Self::Ogrnip(o) => o.as_str(),
        }
    }

    /// Whether it is an individual entrepreneur's OGRNIP.
    #[must_use]
    pub fn is_individual(&self) -> bool {
        matches!(self, Self::Ogrnip(_))
    }
}

impl fmt::Display for RegNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RegNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The 5-digit OKATO of a known territory (`tf_okato`), with its 2-digit TFOMS code. Only
/// OKATOs of the territory table parse, so every register entry has a territory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TerritoryOkato {
    okato: Okato,
    territory: TfomsCode,
}

impl TerritoryOkato {
    /// Parses 5 digits naming a territory of the table (`18000` → territory 34).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let okato = Okato::parse(s)?;
        let territory = territory_by_okato(&okato)
            .ok_or(IdError::Invalid {
                what: "OKATO",
                reason: "not the OKATO of a known territory",
            })?
            .code();
        Ok(Self { okato, territory })
    }

    /// The OKATO.
    #[must_use]
    pub fn okato(&self) -> &Okato {
        &self.okato
    }

    /// The canonical text of the OKATO.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.okato.as_str()
    }

    /// The territory's TFOMS code.
    #[must_use]
    pub fn territory(&self) -> &TfomsCode {
        &self.territory
    }
}

impl fmt::Display for TerritoryOkato {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TerritoryOkato {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TerritoryOkato {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

macro_rules! text_id {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_id!(Kpp);
text_id!(ExpertCode);

#[cfg(test)]
mod tests {
    use super::{ExpertCode, Kpp, RegNumber, TerritoryOkato};

    #[test]
    fn kpp_accepts_digits_and_reason_letters() {
        for good in ["770101001", "3401AB001", "7701Z9001", "000000000"] {
            assert_eq!(Kpp::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn kpp_refusals_name_the_position() {
        assert_eq!(Kpp::parse("77010100").unwrap_err().code(), "invalid_length");
        assert_eq!(
            Kpp::parse("7701010011").unwrap_err().code(),
            "invalid_length"
        );
        let e = Kpp::parse("7701ab001").unwrap_err();
        assert_eq!(e.code(), "invalid_character");
        assert_eq!(e.to_string(), "KPP: character 5 is not allowed");
        let e = Kpp::parse("77A101001").unwrap_err();
        assert_eq!(e.to_string(), "KPP: character 3 is not a digit");
        assert_eq!(Kpp::parse("770101A01").unwrap_err().code(), "not_a_digit");
        assert!(
            Kpp::parse("7701АБ001").is_err(),
            "Cyrillic letters are not Latin"
        );
    }

    #[test]
    fn expert_code_is_one_to_eight_printable_characters() {
        assert_eq!(ExpertCode::parse("E3400017").unwrap().as_str(), "E3400017");
        assert_eq!(ExpertCode::parse("7").unwrap().to_string(), "7");
        assert_eq!(ExpertCode::parse("").unwrap_err().code(), "empty");
        assert_eq!(
            ExpertCode::parse("E34000171").unwrap_err().code(),
            "invalid_length"
        );
        assert_eq!(
            ExpertCode::parse("E34 0017").unwrap_err().code(),
            "invalid_character"
        );
        assert!(ExpertCode::parse("Э1").is_err());
    }

    #[test]
    fn registration_number_is_ogrn_or_ogrnip() {
        assert!(!RegNumber::parse("1134401012712").unwrap().is_individual());
        let ip = RegNumber::parse("304500116000157").unwrap();
        assert!(ip.is_individual());
        assert_eq!(ip.to_string(), "304500116000157");
        assert_eq!(
            RegNumber::parse("1134401012713").unwrap_err().code(),
            "check_digit_mismatch"
        );
        let e = RegNumber::parse("12345").unwrap_err();
        assert_eq!(
            e.to_string(),
            "OGRN: length is 5, expected 13 digits (OGRN) or 15 digits (OGRNIP)"
        );
    }

    #[test]
    fn territory_okato_knows_its_territory() {
        let t = TerritoryOkato::parse("76000").unwrap();
        assert_eq!((t.as_str(), t.territory().as_str()), ("76000", "75"));
        assert_eq!(
            TerritoryOkato::parse("76001").unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!(
            TerritoryOkato::parse("7600").unwrap_err().code(),
            "invalid_length"
        );
        assert!(serde_json::from_str::<TerritoryOkato>("\"76001\"").is_err());
    }

    #[test]
    fn serde_goes_through_parse() {
        let kpp: Kpp = serde_json::from_str("\"3401AB001\"").unwrap();
        assert_eq!(serde_json::to_string(&kpp).unwrap(), "\"3401AB001\"");
        assert!(serde_json::from_str::<Kpp>("\"34ab01001\"").is_err());
        assert!(serde_json::from_str::<ExpertCode>("\"\"").is_err());
    }
}
