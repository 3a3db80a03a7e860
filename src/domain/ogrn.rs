//! State registration numbers: OGRN of a legal entity (13 digits) and OGRNIP of an individual
//! entrepreneur (15 digits), with their check digit (formats.md 6.3).
//!
//! Called wherever a register carries `tf_ogrn`, insurer or MO OGRN (F001, F002, F003) and by
//! the API. Both share one rule: the payload read as a number, mod a prime, then mod 10.

use super::check::{digit, digit_char, fixed_digits, number};
use super::error::IdError;

/// Checks the last digit of `digits` against (payload mod `modulus`) mod 10.
fn check_mod(
    what: &'static str,
    digits: &[u8],
    modulus: u64,
    rule: &'static str,
) -> Result<(), IdError> {
    let (payload, check) = digits.split_at(digits.len() - 1);
    let expected = check_digit(payload, modulus);
    if check[0] == expected {
        Ok(())
    } else {
        Err(IdError::CheckDigit {
            what,
            expected: expected.to_string(),
            found: check[0].to_string(),
            rule,
        })
    }
}

/// (payload as a number mod `modulus`) mod 10.
fn check_digit(payload: &[u8], modulus: u64) -> u8 {
    digit(number(payload) % modulus % 10)
}

/// Appends the check digit to the zero-padded `payload` of `width` digits.
fn with_check_digit(payload: u64, width: usize, modulus: u64) -> String {
    let mut text = format!("{payload:0width$}");
    let values: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
    text.push(digit_char(check_digit(&values, modulus)));
    text
}

/// Основной государственный регистрационный номер (OGRN) of a legal entity: 13 digits.
///
/// The 13th digit is (first 12 digits as a number mod 11) mod 10 (`OgrnChecker.cs`). When the
/// remainder is 10 it is written as 0, so for such numbers a one-digit error that brings the
/// remainder to 0 goes unnoticed (a blind spot of the official rule); otherwise every
/// one-digit error is caught. The first digit (1 or 5 for an OGRN proper) is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ogrn(String);

impl Ogrn {
    const WHAT: &'static str = "OGRN";
    const RULE: &'static str = "first 12 digits mod 11, then mod 10";
    const MODULUS: u64 = 11;

    /// Parses exactly 13 ASCII digits with a matching check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = fixed_digits(Self::WHAT, s, 13, "13 digits")?;
        check_mod(Self::WHAT, &digits, Self::MODULUS, Self::RULE)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds the OGRN whose first 12 digits are `payload` (below 10¹²), appending the check
    /// digit. For synthetic data and tests.
    pub fn from_payload(payload: u64) -> Result<Self, IdError> {
        if payload >= 1_000_000_000_000 {
            return Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "payload must have at most 12 digits",
            });
        }
        Ok(Self(with_check_digit(payload, 12, Self::MODULUS)))
    }
}

text_value!(Ogrn, IdError, newtype);

/// Основной государственный регистрационный номер индивидуального предпринимателя (OGRNIP):
/// 15 digits.
///
/// The 15th digit is (first 14 digits as a number mod 13) mod 10. This rule is domain
/// knowledge, not seen in the reference sources (formats.md 6.3). Remainders 10, 11 and 12 are
/// written as 0, 1 and 2, so a one-digit error turning remainder r into r ± 10 goes
/// unnoticed. The first digit (3 for an OGRNIP proper) is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ogrnip(String);

impl Ogrnip {
    const WHAT: &'static str = "OGRNIP";
    const RULE: &'static str = "first 14 digits mod 13, then mod 10";
    const MODULUS: u64 = 13;

    /// Parses exactly 15 ASCII digits with a matching check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = fixed_digits(Self::WHAT, s, 15, "15 digits")?;
        check_mod(Self::WHAT, &digits, Self::MODULUS, Self::RULE)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds the OGRNIP whose first 14 digits are `payload` (below 10¹⁴), appending the
    /// check digit. For synthetic data and tests.
    pub fn from_payload(payload: u64) -> Result<Self, IdError> {
        if payload >= 100_000_000_000_000 {
            return Err(IdError::Invalid {
                what: Self::WHAT,
                reason: "payload must have at most 14 digits",
            });
        }
        Ok(Self(with_check_digit(payload, 14, Self::MODULUS)))
    }
}

text_value!(Ogrnip, IdError, newtype);

#[cfg(test)]
mod tests {
    use super::{Ogrn, Ogrnip};
    use crate::domain::check::single_digit_corruptions;

    #[test]
    fn known_ogrns_pass() {
        for known in ["1024400519330", "1134401012712"] {
            let ogrn = Ogrn::parse(known).unwrap();
            assert_eq!(ogrn.as_str(), known);
            assert_eq!(ogrn.to_string(), known);
        }
        assert_eq!(
            Ogrn::from_payload(113_440_101_271).unwrap().as_str(),
            "1134401012712"
        );
        assert_eq!(
            Ogrn::from_payload(102_440_051_933).unwrap().as_str(),
            "1024400519330"
        );
    }

    #[test]
    fn every_corruption_of_1134401012712_fails() {
        for (_, corrupted) in single_digit_corruptions("1134401012712") {
            assert!(Ogrn::parse(&corrupted).is_err(), "{corrupted} passed");
        }
    }

    #[test]
    fn blind_spot_of_1024400519330() {
        // 102440051933 mod 11 = 10, written as 0: a slip that brings the remainder to 0
        // keeps the check digit 0. Exactly these ten corruptions pass.
        let passing: Vec<String> = single_digit_corruptions("1024400519330")
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| Ogrn::parse(c).is_ok())
            .collect();
        assert_eq!(
            passing,
            [
                "0024400519330",
                "1124400519330",
                "1014400519330",
                "1025400519330",
                "1024300519330",
                "1024410519330",
                "1024400619330",
                "1024400509330",
                "1024400519230",
                "1024400519340",
            ]
        );
    }

    #[test]
    fn ogrn_refusals() {
        let e = Ogrn::parse("1134401012713").unwrap_err();
        assert_eq!(e.code(), "check_digit_mismatch");
        assert_eq!(
            e.to_string(),
            "OGRN: check digit is 3, expected 2 (first 12 digits mod 11, then mod 10)"
        );
        assert_eq!(
            Ogrn::parse("113440101271").unwrap_err().code(),
            "invalid_length"
        );
        assert_eq!(
            Ogrn::parse("113440101271O").unwrap_err().code(),
            "not_a_digit"
        );
        assert_eq!(
            Ogrn::from_payload(1_000_000_000_000).unwrap_err().code(),
            "invalid_value"
        );
    }

    #[test]
    fn known_ogrnip_passes_and_every_corruption_fails() {
        let ogrnip = Ogrnip::parse("304500116000157").unwrap();
        assert_eq!(ogrnip.to_string(), "304500116000157");
        assert_eq!(Ogrnip::from_payload(30_450_011_600_015).unwrap(), ogrnip);
        for (_, corrupted) in single_digit_corruptions("304500116000157") {
            assert!(Ogrnip::parse(&corrupted).is_err(), "{corrupted} passed");
        }
        let e = Ogrnip::parse("304500116000158").unwrap_err();
        assert_eq!(
            e.to_string(),
            "OGRNIP: check digit is 8, expected 7 (first 14 digits mod 13, then mod 10)"
        );
        assert_eq!(
            Ogrnip::parse("1134401012712").unwrap_err().code(),
            "invalid_length"
        );
        assert!(Ogrnip::from_payload(100_000_000_000_000).is_err());
    }

    #[test]
    fn serde_and_from_str() {
        let ogrn: Ogrn = "1024400519330".parse().unwrap();
        assert_eq!(serde_json::to_string(&ogrn).unwrap(), "\"1024400519330\"");
        assert_eq!(
            serde_json::from_str::<Ogrn>("\"1024400519330\"").unwrap(),
            ogrn
        );
        assert!(serde_json::from_str::<Ogrn>("\"1024400519331\"").is_err());
        let ogrnip: Ogrnip = "304500116000157".parse().unwrap();
        assert_eq!(
            serde_json::from_str::<Ogrnip>("\"304500116000157\"").unwrap(),
            ogrnip
        );
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{Ogrn, Ogrnip};
    use crate::domain::check::single_digit_corruptions;

    fn payload_of(text: &str, len: usize) -> u64 {
        text[..len].parse().unwrap()
    }

    proptest! {
        #[test]
        fn ogrn_round_trip(payload in 0_u64..1_000_000_000_000) {
            let ogrn = Ogrn::from_payload(payload).unwrap();
            prop_assert_eq!(Ogrn::parse(&ogrn.to_string()).unwrap(), ogrn);
        }

        /// A one-digit change passes exactly when it moves the remainder mod 11 between
        /// 0 and 10 (both written 0); a changed check digit always fails.
        #[test]
        fn ogrn_single_digit_changes(payload in 0_u64..1_000_000_000_000) {
            let ogrn = Ogrn::from_payload(payload).unwrap();
            let r = payload % 11;
            for (position, corrupted) in single_digit_corruptions(ogrn.as_str()) {
                let passes = Ogrn::parse(&corrupted).is_ok();
                let r2 = payload_of(&corrupted, 12) % 11;
                let blind = position < 12 && ((r == 0 && r2 == 10) || (r == 10 && r2 == 0));
                prop_assert_eq!(passes, blind, "position {}", position);
            }
        }

        #[test]
        fn ogrnip_round_trip(payload in 0_u64..100_000_000_000_000) {
            let ogrnip = Ogrnip::from_payload(payload).unwrap();
            prop_assert_eq!(Ogrnip::parse(&ogrnip.to_string()).unwrap(), ogrnip);
        }

        /// A one-digit change passes exactly when it moves the remainder mod 13 by ±10
        /// (0↔10, 1↔11, 2↔12); a changed check digit always fails.
        #[test]
        fn ogrnip_single_digit_changes(payload in 0_u64..100_000_000_000_000) {
            let ogrnip = Ogrnip::from_payload(payload).unwrap();
            let r = payload % 13;
            for (position, corrupted) in single_digit_corruptions(ogrnip.as_str()) {
                let passes = Ogrnip::parse(&corrupted).is_ok();
                let r2 = payload_of(&corrupted, 14) % 13;
                let blind = position < 14 && r.abs_diff(r2) == 10;
                prop_assert_eq!(passes, blind, "position {}", position);
            }
        }
    }
}
