//! Organisation and territory codes used throughout the exchange: the 2-digit TFOMS (subject)
//! code, the 5-digit insurer (SMO) code, the 6-digit medical organisation (MO) code and the
//! 5-digit OKATO of a territory (formats.md 6.4).
//!
//! These are format checks only (digits and length, plus "no territory 00"): whether a code
//! exists is a question for the classifiers (F001, F002, F003, F010) held by `nsi`. The
//! mapping between TFOMS codes and OKATO lives in `territory.rs`.

use super::check::fixed_digits;
use super::error::IdError;

/// Код территории (ТФОМС), the 2-digit subject code (F010 `KOD_TF`, F001 `tf_kod`).
///
/// Identifies a territorial fund and its territory; it is also the prefix of ENP, insurer
/// codes and federal MO codes. `00` is refused: there is no territory 00.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TfomsCode(String);

impl TfomsCode {
    const WHAT: &'static str = "TFOMS code";

    /// Parses exactly 2 ASCII digits, not `00`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = fixed_digits(Self::WHAT, s, 2, "2 digits")?;
        if digits == [0, 0] {
            return Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "00 is not a territory",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// Builds a code from two characters already known to be digits and not `00` (the prefix
    /// of a parsed ENP or insurer code, or an entry of the territory table).
    pub(super) fn from_checked(s: &str) -> Self {
        Self(s.to_owned())
    }
}

text_value!(TfomsCode, IdError, newtype);

/// Код СМО (`SMO`, `smocod`), the 5-digit code of an insurer in the register ЕРСМО (F002).
///
/// The first 2 digits are the TFOMS code of the insurer's home territory, the last 3 a number
/// within it (e.g. `34001`). A code starting with `00` is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InsurerCode(String);

impl InsurerCode {
    const WHAT: &'static str = "insurer code";

    /// Parses exactly 5 ASCII digits whose first two are not `00`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = fixed_digits(Self::WHAT, s, 5, "5 digits")?;
        if digits[..2] == [0, 0] {
            return Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "territory prefix (first 2 digits) is 00",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The home territory of the insurer (the first 2 digits).
    #[must_use]
    pub fn territory(&self) -> TfomsCode {
        TfomsCode::from_checked(&self.0[..2])
    }
}

text_value!(InsurerCode, IdError, newtype);

/// Код медицинской организации (`CODE_MO`, `mcod`), the 6-digit code of a medical
/// organisation in the register F003.
///
/// Federal codes are the 2-digit TFOMS code followed by 4 digits (e.g. `750096`), but some
/// regions exchange their own 6-digit codes (Volgograd uses `103001`), so any 6 digits are
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MoCode(String);

impl MoCode {
    const WHAT: &'static str = "MO code";

    /// Parses exactly 6 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        fixed_digits(Self::WHAT, s, 6, "6 digits")?;
        Ok(Self(s.to_owned()))
    }

    /// The first 2 digits as a TFOMS code, or `None` when they are `00`.
    ///
    /// Meaningful only for federal (F003) codes: a region that uses its own 6-digit codes
    /// gives a prefix that is not its territory (Volgograd's `103001` starts with 10, which is
    /// Karelia). Never derive the territory of a regional code from it.
    #[must_use]
    pub fn territory_prefix(&self) -> Option<TfomsCode> {
        TfomsCode::parse(&self.0[..2]).ok()
    }
}

text_value!(MoCode, IdError, newtype);

/// Код ОКАТО of a territory in its 5-digit form (`ST_OKATO`, F001 `tf_okato`, F010
/// `KOD_OKATO`, HL7 `HD.1`), e.g. `45000` for Moscow: the first 5 digits of the 11-digit OKATO.
///
/// The longer OKATO of a settlement (`OKATOG`/`OKATOP`, up to 11 digits) is not this type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Okato(String);

impl Okato {
    const WHAT: &'static str = "OKATO";

    /// Parses exactly 5 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        fixed_digits(Self::WHAT, s, 5, "5 digits")?;
        Ok(Self(s.to_owned()))
    }

    /// Builds a code from 5 characters already known to be digits (the territory table).
    pub(super) fn from_checked(s: &str) -> Self {
        Self(s.to_owned())
    }
}

text_value!(Okato, IdError, newtype);

#[cfg(test)]
mod tests {
    use super::{InsurerCode, MoCode, Okato, TfomsCode};

    #[test]
    fn tfoms_code() {
        assert_eq!(TfomsCode::parse("34").unwrap().as_str(), "34");
        assert_eq!(TfomsCode::parse("07").unwrap().to_string(), "07");
        for bad in ["", "3", "345", "3a", " 34", "٣٤"] {
            assert!(TfomsCode::parse(bad).is_err(), "{bad:?}");
        }
        let e = TfomsCode::parse("00").unwrap_err();
        assert_eq!(e.code(), "invalid_value");
        assert_eq!(e.to_string(), "TFOMS code: 00 is not a territory");
        assert_eq!(
            TfomsCode::parse("3x").unwrap_err().code(),
            "not_a_digit",
            "format errors are reported as such"
        );
    }

    #[test]
    fn insurer_code() {
        let c = InsurerCode::parse("34001").unwrap();
        assert_eq!(c.territory(), TfomsCode::parse("34").unwrap());
        assert_eq!(
            InsurerCode::parse("07004").unwrap().territory().as_str(),
            "07"
        );
        assert_eq!(
            InsurerCode::parse("00123").unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!(
            InsurerCode::parse("3400").unwrap_err().code(),
            "invalid_length"
        );
        assert_eq!(
            InsurerCode::parse("34O01").unwrap_err().code(),
            "not_a_digit"
        );
    }

    #[test]
    fn mo_code() {
        let federal = MoCode::parse("750096").unwrap();
        assert_eq!(
            federal.territory_prefix(),
            Some(TfomsCode::parse("75").unwrap())
        );
        // A regional code parses; its prefix is not its territory.
        assert_eq!(MoCode::parse("103001").unwrap().as_str(), "103001");
        assert_eq!(MoCode::parse("000123").unwrap().territory_prefix(), None);
        assert!(MoCode::parse("M750096").is_err());
        assert!(MoCode::parse("75009").is_err());
    }

    #[test]
    fn okato() {
        assert_eq!(Okato::parse("45000").unwrap().to_string(), "45000");
        assert_eq!(Okato::parse("01000").unwrap().as_str(), "01000");
        assert!(Okato::parse("4500").is_err());
        assert!(Okato::parse("45000000000").is_err());
    }

    #[test]
    fn ordering_and_serde() {
        let mut codes = [
            TfomsCode::parse("75").unwrap(),
            TfomsCode::parse("07").unwrap(),
            TfomsCode::parse("34").unwrap(),
        ];
        codes.sort();
        let sorted: Vec<&str> = codes.iter().map(TfomsCode::as_str).collect();
        assert_eq!(sorted, ["07", "34", "75"]);

        let json = serde_json::to_string(&InsurerCode::parse("34001").unwrap()).unwrap();
        assert_eq!(json, "\"34001\"");
        let back: InsurerCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "34001");
        assert!(serde_json::from_str::<TfomsCode>("\"00\"").is_err());
        assert!(
            serde_json::from_str::<MoCode>("750096").is_err(),
            "numbers are not codes"
        );
        assert_eq!("34".parse::<TfomsCode>().unwrap().as_str(), "34");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{InsurerCode, MoCode, Okato, TfomsCode};

    proptest! {
        #[test]
        fn any_digits_of_the_right_length_parse(s in "[0-9]{6}") {
            prop_assert_eq!(MoCode::parse(&s).unwrap().to_string(), s.clone());
            prop_assert_eq!(Okato::parse(&s[..5]).unwrap().to_string(), &s[..5]);
            let insurer = InsurerCode::parse(&s[..5]);
            let tfoms = TfomsCode::parse(&s[..2]);
            prop_assert_eq!(insurer.is_ok(), &s[..2] != "00");
            prop_assert_eq!(tfoms.is_ok(), &s[..2] != "00");
            if let (Ok(insurer), Ok(tfoms)) = (insurer, tfoms) {
                prop_assert_eq!(insurer.territory(), tfoms);
            }
        }

        #[test]
        fn anything_else_is_refused(s in "\\PC{0,8}") {
            let is_digits = |n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(MoCode::parse(&s).is_ok(), is_digits(6));
            prop_assert_eq!(Okato::parse(&s).is_ok(), is_digits(5));
        }
    }
}
