//! INN, the taxpayer number: 10 digits for a legal entity, 12 for an individual, with their
//! weighted check digits.
//!
//! Called wherever registers and settlement carry the INN of a fund, insurer or clinic (F001
//! bank details, F002, F003). The algorithm is domain knowledge (the tax service's rule); the
//! reference sources of formats.md do not cover it.

use super::check::{digit, digit_char, digit_values, weighted_sum};
use super::error::IdError;

const WHAT: &str = "INN";
const LEGAL_WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INDIVIDUAL_WEIGHTS_11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INDIVIDUAL_WEIGHTS_12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// Who the INN belongs to, told by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnKind {
    /// Юридическое лицо: 10 digits.
    LegalEntity,
    /// Физическое лицо (including individual entrepreneurs): 12 digits.
    Individual,
}

/// Идентификационный номер налогоплательщика (INN).
///
/// - 10 digits (legal entity): the 10th digit is (Σ dᵢ·wᵢ mod 11) mod 10 with weights
///   2, 4, 10, 3, 5, 9, 4, 6, 8 over the first 9 digits.
/// - 12 digits (individual): the 11th digit by the same rule with weights
///   7, 2, 4, 10, 3, 5, 9, 4, 6, 8 over the first 10, the 12th with weights
///   3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8 over the first 11.
///
/// As with OGRN, a remainder of 10 is written as 0, so a one-digit error that moves a
/// remainder between 0 and 10 is not caught.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inn(String);

impl Inn {
    /// Parses exactly 10 or 12 ASCII digits with matching check digit(s).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let found = s.chars().count();
        if found != 10 && found != 12 {
            return Err(IdError::Length {
                what: WHAT,
                expected: "10 or 12 digits",
                found,
            });
        }
        let digits = digit_values(WHAT, s)?;
        let (expected, found, rule) = if digits.len() == 10 {
            (
                vec![check(&digits, &LEGAL_WEIGHTS)],
                &digits[9..],
                "10-digit INN, weights 2,4,10,3,5,9,4,6,8, mod 11, then mod 10",
            )
        } else {
            // The 12th digit is computed over the expected 11th, so the error shows the
            // correct pair; acceptance is the same as checking each digit as given.
            let first = check(&digits, &INDIVIDUAL_WEIGHTS_11);
            let mut corrected = digits[..10].to_vec();
            corrected.push(first);
            (
                vec![first, check(&corrected, &INDIVIDUAL_WEIGHTS_12)],
                &digits[10..],
                "12-digit INN, digits 11 and 12, mod 11, then mod 10",
            )
        };
        if expected != found {
            return Err(IdError::CheckDigit {
                what: WHAT,
                expected: expected.iter().copied().map(digit_char).collect(),
                found: found.iter().copied().map(digit_char).collect(),
                rule,
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// Builds the 10-digit INN of a legal entity whose first 9 digits are `payload`
    /// (below 10⁹). For synthetic data and tests.
    pub fn legal_from_payload(payload: u32) -> Result<Self, IdError> {
        if payload >= 1_000_000_000 {
            return Err(IdError::Invalid {
                what: WHAT,
                reason: "payload must have at most 9 digits",
            });
        }
        Ok(Self(append_checks(
            format!("{payload:09}"),
            &[&LEGAL_WEIGHTS],
        )))
    }

    /// Builds the 12-digit INN of an individual whose first 10 digits are `payload`
    /// (below 10¹⁰). For synthetic data and tests.
    pub fn individual_from_payload(payload: u64) -> Result<Self, IdError> {
        if payload >= 10_000_000_000 {
            return Err(IdError::Invalid {
                what: WHAT,
                reason: "payload must have at most 10 digits",
            });
        }
        Ok(Self(append_checks(
            format!("{payload:010}"),
            &[&INDIVIDUAL_WEIGHTS_11, &INDIVIDUAL_WEIGHTS_12],
        )))
    }

    /// Legal entity (10 digits) or individual (12 digits).
    #[must_use]
    pub fn kind(&self) -> InnKind {
        if self.0.len() == 10 {
            InnKind::LegalEntity
        } else {
            InnKind::Individual
        }
    }
}

/// The check digit over the first `weights.len()` digits: (Σ dᵢ·wᵢ mod 11) mod 10.
fn check(digits: &[u8], weights: &[u32]) -> u8 {
    digit(weighted_sum(digits, weights) % 11 % 10)
}

/// Appends one check digit per weight list, each computed over the digits so far.
fn append_checks(mut text: String, weight_lists: &[&[u32]]) -> String {
    for weights in weight_lists {
        let values: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
        text.push(digit_char(check(&values, weights)));
    }
    text
}

text_value!(Inn, IdError, newtype);

#[cfg(test)]
mod tests {
    use super::{Inn, InnKind};
    use crate::domain::check::single_digit_corruptions;

    #[test]
    fn known_values_pass() {
        let legal = Inn::parse("7707083893").unwrap();
        assert_eq!(legal.kind(), InnKind::LegalEntity);
        assert_eq!(legal.to_string(), "7707083893");
        assert_eq!(Inn::legal_from_payload(770_708_389).unwrap(), legal);
        let person = Inn::parse("500100732259").unwrap();
        assert_eq!(person.kind(), InnKind::Individual);
        assert_eq!(person.as_str(), "500100732259");
        assert_eq!(Inn::individual_from_payload(5_001_007_322).unwrap(), person);
    }

    #[test]
    fn every_single_digit_corruption_fails() {
        for known in ["7707083893", "500100732259"] {
            for (_, corrupted) in single_digit_corruptions(known) {
                assert!(Inn::parse(&corrupted).is_err(), "{corrupted} passed");
            }
        }
    }

    #[test]
    fn refusals_and_messages() {
        let e = Inn::parse("7707083894").unwrap_err();
        assert_eq!(e.code(), "check_digit_mismatch");
        assert_eq!(
            e.to_string(),
            "INN: check digit is 4, expected 3 (10-digit INN, weights 2,4,10,3,5,9,4,6,8, mod 11, then mod 10)"
        );
        let e = Inn::parse("500100732268").unwrap_err();
        assert_eq!(
            e.to_string(),
            "INN: check digit is 68, expected 59 (12-digit INN, digits 11 and 12, mod 11, then mod 10)"
        );
        let e = Inn::parse("77070838931").unwrap_err();
        assert_eq!(e.to_string(), "INN: length is 11, expected 10 or 12 digits");
        assert_eq!(Inn::parse("").unwrap_err().code(), "invalid_length");
        assert_eq!(Inn::parse("77O7083893").unwrap_err().code(), "not_a_digit");
        assert!(Inn::legal_from_payload(1_000_000_000).is_err());
        assert!(Inn::individual_from_payload(10_000_000_000).is_err());
    }

    #[test]
    fn serde_and_from_str() {
        let inn: Inn = "7707083893".parse().unwrap();
        assert_eq!(serde_json::to_string(&inn).unwrap(), "\"7707083893\"");
        assert_eq!(serde_json::from_str::<Inn>("\"7707083893\"").unwrap(), inn);
        assert!(serde_json::from_str::<Inn>("\"7707083890\"").is_err());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{INDIVIDUAL_WEIGHTS_11, INDIVIDUAL_WEIGHTS_12, Inn, InnKind, LEGAL_WEIGHTS};
    use crate::domain::check::{single_digit_corruptions, weighted_sum};

    fn values(text: &str) -> Vec<u8> {
        text.bytes().map(|b| b - b'0').collect()
    }

    /// The remainders mod 11 before and after are 0 and 10 in some order (both written 0).
    fn blind(before: u32, after: u32) -> bool {
        matches!((before % 11, after % 11), (0, 10) | (10, 0))
    }

    proptest! {
        #[test]
        fn legal_round_trip(payload in 0_u32..1_000_000_000) {
            let inn = Inn::legal_from_payload(payload).unwrap();
            prop_assert_eq!(inn.kind(), InnKind::LegalEntity);
            prop_assert_eq!(Inn::parse(&inn.to_string()).unwrap(), inn);
        }

        #[test]
        fn individual_round_trip(payload in 0_u64..10_000_000_000) {
            let inn = Inn::individual_from_payload(payload).unwrap();
            prop_assert_eq!(inn.kind(), InnKind::Individual);
            prop_assert_eq!(Inn::parse(&inn.to_string()).unwrap(), inn);
        }

        /// A one-digit change of a legal INN passes only in the 0↔10 blind spot.
        #[test]
        fn legal_single_digit_changes(payload in 0_u32..1_000_000_000) {
            let inn = Inn::legal_from_payload(payload).unwrap();
            let before = weighted_sum(&values(inn.as_str()), &LEGAL_WEIGHTS);
            for (position, corrupted) in single_digit_corruptions(inn.as_str()) {
                let after = weighted_sum(&values(&corrupted), &LEGAL_WEIGHTS);
                let expected = position < 9 && blind(before, after);
                prop_assert_eq!(Inn::parse(&corrupted).is_ok(), expected, "position {}", position);
            }
        }

        /// A one-digit change of an individual INN passes only when it hits the blind spot
        /// of both check digits at once; a changed check digit always fails.
        #[test]
        fn individual_single_digit_changes(payload in 0_u64..10_000_000_000) {
            let inn = Inn::individual_from_payload(payload).unwrap();
            let original = values(inn.as_str());
            let before = (
                weighted_sum(&original, &INDIVIDUAL_WEIGHTS_11),
                weighted_sum(&original, &INDIVIDUAL_WEIGHTS_12),
            );
            for (position, corrupted) in single_digit_corruptions(inn.as_str()) {
                let changed = values(&corrupted);
                let after = (
                    weighted_sum(&changed, &INDIVIDUAL_WEIGHTS_11),
                    weighted_sum(&changed, &INDIVIDUAL_WEIGHTS_12),
                );
                let expected =
                    position < 10 && blind(before.0, after.0) && blind(before.1, after.1);
                prop_assert_eq!(Inn::parse(&corrupted).is_ok(), expected, "position {}", position);
            }
        }
    }
}
