//! SNILS, the 11-digit personal insurance account number (formats.md 6.2): parsing from the
//! plain or the displayed form, the check-number rule, and the display form `NNN-NNN-NNN CC`.
//!
//! Called by intake and validation (`SNILS` of persons, `IDDOKT` / `CODE_MD` of doctors), by
//! the registers and the API. SNILS is personal data: `Debug` is fully masked.

use std::fmt;

use super::check::{number, weighted_sum};
use super::error::IdError;

const WHAT: &str = "SNILS";
const RULE: &str = "weights 9..1 over the first 9 digits, mod 101";
/// Numbers whose first 9 digits are at most 001-001-998 are not checked.
const UNCHECKED_MAX: u64 = 1_001_998;
const WEIGHTS: [u32; 9] = [9, 8, 7, 6, 5, 4, 3, 2, 1];

/// Страховой номер индивидуального лицевого счёта (SNILS): 9 digits and a 2-digit check number.
///
/// Accepted as 11 digits with any spaces, `-` and `_` in between (`112-233-445 95`,
/// `11223344595`). The check number is computed from the first 9 digits with weights 9..1
/// (s = Σ dᵢ·(10 − i)): s < 100 gives s; 100 and 101 give 00; above 101, s mod 101 with 100
/// written as 00. Numbers whose first 9 digits are ≤ 001-001-998 carry no check and are
/// accepted with any check number.
///
/// Blind spot of the official rule: a one-digit error goes unnoticed exactly when the
/// weighted sums before and after are ≡ 0 and ≡ 100 (mod 101), both giving 00. A single digit
/// moves the sum by at most 81, so this means the 9th digit (weight 1) off by one between sums
/// 100↔101, 201↔202, 302↔303 or 403↔404. A changed number that falls to 001-001-998 or below
/// is also accepted, being unchecked. Every other single-digit error is caught.
///
/// `Display` is `NNN-NNN-NNN CC` (14 characters); [`digits`](Self::digits) gives the 11 digits;
/// `Debug` is `Snils(***-***-*** **)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snils(String);

impl Snils {
    /// Parses 11 digits, ignoring spaces, `-` and `_` anywhere, and checks the check number
    /// when the first 9 digits exceed 001-001-998.
    ///
    /// A [`IdError::NotDigit`] position is counted in characters of the input as given.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let mut digits = String::with_capacity(11);
        for (index, c) in s.chars().enumerate() {
            match c {
                ' ' | '-' | '_' => {}
                '0'..='9' => digits.push(c),
                _ => {
                    return Err(IdError::NotDigit {
                        what: WHAT,
                        position: index + 1,
                    });
                }
            }
        }
        if digits.len() != 11 {
            return Err(IdError::Length {
                what: WHAT,
                expected: "11 digits (spaces, '-' and '_' ignored)",
                found: digits.len(),
            });
        }
        let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let (body, check) = values.split_at(9);
        if number(body) > UNCHECKED_MAX {
            let expected = control(body);
            let found = u32::from(check[0]) * 10 + u32::from(check[1]);
            if found != expected {
                return Err(IdError::CheckDigit {
                    what: WHAT,
                    expected: format!("{expected:02}"),
                    found: format!("{found:02}"),
                    rule: RULE,
                });
            }
        }
        Ok(Self(digits))
    }

    /// Builds the SNILS whose first 9 digits are `number` (0..=999 999 999), appending the
    /// computed check number. For synthetic data and tests.
    pub fn from_payload(number: u32) -> Result<Self, IdError> {
        if number > 999_999_999 {
            return Err(IdError::Invalid {
                what: WHAT,
                reason: "payload must have at most 9 digits",
            });
        }
        let body = format!("{number:09}");
        let values: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        Ok(Self(format!("{body}{:02}", control(&values))))
    }

    /// The 11 digits without separators.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }
}

/// The check number (0..=99) of the first 9 digits, written as the source states it. It is
/// the same as `s mod 101` with 100 written as 00 (101 mod 101 is already 0).
fn control(body: &[u8]) -> u32 {
    control_of_sum(weighted_sum(body, &WEIGHTS))
}

/// The check number of a weighted sum.
fn control_of_sum(sum: u32) -> u32 {
    let value = match sum {
        0..100 => sum,
        100 | 101 => 0,
        _ => sum % 101,
    };
    if value == 100 { 0 } else { value }
}

impl fmt::Display for Snils {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{}-{}-{} {}", &d[..3], &d[3..6], &d[6..9], &d[9..])
    }
}

impl fmt::Debug for Snils {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Snils(***-***-*** **)")
    }
}

text_value!(Snils, IdError);

#[cfg(test)]
mod tests {
    use super::{Snils, control_of_sum};
    use crate::domain::check::single_digit_corruptions;

    #[test]
    fn known_value_in_both_forms() {
        let displayed = Snils::parse("112-233-445 95").unwrap();
        let plain = Snils::parse("11223344595").unwrap();
        assert_eq!(displayed, plain);
        assert_eq!(plain.digits(), "11223344595");
        assert_eq!(plain.to_string(), "112-233-445 95");
        assert_eq!(plain.to_string().chars().count(), 14);
        assert_eq!(Snils::parse("112 233 445 95").unwrap(), plain);
        assert_eq!(Snils::parse("112_233_445_95").unwrap(), plain);
        assert_eq!(Snils::from_payload(112_233_445).unwrap(), plain);
    }

    #[test]
    fn every_single_digit_corruption_fails() {
        for (_, corrupted) in single_digit_corruptions("112-233-445 95") {
            assert!(Snils::parse(&corrupted).is_err(), "{corrupted} passed");
        }
        assert_eq!(single_digit_corruptions("11223344595").len(), 99);
    }

    #[test]
    fn small_numbers_are_not_checked() {
        // First 9 digits ≤ 001-001-998: any check number is accepted.
        assert!(Snils::parse("001-001-998 00").is_ok());
        assert!(Snils::parse("001-001-998 47").is_ok());
        assert!(Snils::parse("000-000-000 00").is_ok());
        assert!(Snils::parse("000-000-001 99").is_ok());
        // 001-001-999 is checked: its check number is 1·7 + 1·4 + 9·3 + 9·2 + 9·1 = 65.
        assert!(Snils::parse("001-001-999 65").is_ok());
        let e = Snils::parse("001-001-999 00").unwrap_err();
        assert_eq!(e.code(), "check_digit_mismatch");
    }

    #[test]
    fn control_number_rule() {
        // Sum < 100 is the check number itself: 100-000-002 → 9 + 2 = 11.
        assert!(Snils::parse("100-000-002 11").is_ok());
        // Sum 100 and 101 → 00; above 101 → mod 101.
        assert!(Snils::parse("100-018-999 00").is_ok()); // 9+5+32+27+18+9 = 100
        assert!(Snils::parse("100-019-899 00").is_ok()); // 101
        assert!(Snils::parse("100-199-999 49").is_ok()); // 150 mod 101 = 49
        assert!(Snils::parse("100-199-999 50").is_err());
        // 102-899-897 has the weighted sum 201 and 102-899-898 has 202: 201 mod 101 = 100 → 00
        // and 202 mod 101 = 0, so both carry 00. A one-digit slip between them goes unnoticed
        // although neither sum is 100 or 101: the blind spot is {≡0, ≡100 (mod 101)}.
        assert_eq!(
            Snils::from_payload(102_899_897).unwrap().to_string(),
            "102-899-897 00"
        );
        assert_eq!(
            Snils::from_payload(102_899_898).unwrap().to_string(),
            "102-899-898 00"
        );
    }

    #[test]
    fn blind_spot_is_only_the_ninth_digit_off_by_one() {
        // Every weighted sum (0..=405) and every single-digit change (weight w, delta d).
        let mut collisions = Vec::new();
        for sum in 0..=405_i32 {
            for weight in 1..=9_i32 {
                for delta in (-9..=9_i32).filter(|&d| d != 0) {
                    let changed = sum + weight * delta;
                    if (0..=405).contains(&changed)
                        && control_of_sum(sum.unsigned_abs())
                            == control_of_sum(changed.unsigned_abs())
                    {
                        collisions.push((sum, changed, weight));
                    }
                }
            }
        }
        let mut expected: Vec<(i32, i32, i32)> = [(100, 101), (201, 202), (302, 303), (403, 404)]
            .into_iter()
            .flat_map(|(a, b)| [(a, b, 1), (b, a, 1)])
            .collect();
        collisions.sort_unstable();
        expected.sort_unstable();
        assert_eq!(collisions, expected);
    }

    #[test]
    fn refusals_and_messages() {
        let e = Snils::parse("112-233-445 94").unwrap_err();
        assert_eq!(
            e.to_string(),
            "SNILS: check digit is 94, expected 95 (weights 9..1 over the first 9 digits, mod 101)"
        );
        assert!(!e.to_string().contains("112"));
        let e = Snils::parse("112-233-445 9").unwrap_err();
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(
            e.to_string(),
            "SNILS: length is 10, expected 11 digits (spaces, '-' and '_' ignored)"
        );
        let e = Snils::parse("112-233-445/95").unwrap_err();
        assert_eq!(e.to_string(), "SNILS: character 12 is not a digit");
        assert_eq!(Snils::parse("").unwrap_err().code(), "invalid_length");
        assert_eq!(
            Snils::parse("112\t233-445 95").unwrap_err().code(),
            "not_a_digit"
        );
        assert_eq!(
            Snils::from_payload(1_000_000_000).unwrap_err().code(),
            "invalid_value"
        );
    }

    #[test]
    fn debug_is_masked_and_serde_uses_display() {
        let snils = Snils::parse("11223344595").unwrap();
        let debug = format!("{snils:?}");
        assert_eq!(debug, "Snils(***-***-*** **)");
        assert!(!debug.contains("112") && !debug.contains("95"));
        let json = serde_json::to_string(&snils).unwrap();
        assert_eq!(json, "\"112-233-445 95\"");
        assert_eq!(serde_json::from_str::<Snils>(&json).unwrap(), snils);
        assert_eq!(
            serde_json::from_str::<Snils>("\"11223344595\"").unwrap(),
            snils
        );
        assert!(serde_json::from_str::<Snils>("\"11223344594\"").is_err());
        assert_eq!("11223344595".parse::<Snils>().unwrap(), snils);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{Snils, UNCHECKED_MAX, WEIGHTS, control};
    use crate::domain::check::weighted_sum;

    fn checked_body() -> impl Strategy<Value = u32> {
        1_001_999_u32..=999_999_999
    }

    fn digits_of(body: u32) -> Vec<u8> {
        format!("{body:09}").bytes().map(|b| b - b'0').collect()
    }

    proptest! {
        #[test]
        fn built_from_payload_parses_and_round_trips(body in 0_u32..=999_999_999) {
            let snils = Snils::from_payload(body).unwrap();
            prop_assert_eq!(Snils::parse(snils.digits()).unwrap(), snils.clone());
            prop_assert_eq!(Snils::parse(&snils.to_string()).unwrap(), snils.clone());
            prop_assert_eq!(snils.to_string().len(), 14);
        }

        #[test]
        fn a_corrupted_check_number_always_fails(body in checked_body(), shift in 1_u32..100) {
            let expected = control(&digits_of(body));
            let other = (expected + shift) % 100;
            let text = format!("{body:09}{other:02}");
            prop_assert_eq!(Snils::parse(&text).unwrap_err().code(), "check_digit_mismatch");
        }

        #[test]
        fn a_corrupted_payload_digit_fails_outside_the_blind_spot(
            body in checked_body(), position in 0_usize..9, shift in 1_u8..10,
        ) {
            let original = digits_of(body);
            let mut corrupted = original.clone();
            corrupted[position] = (original[position] + shift) % 10;
            let corrupted_body: u64 = corrupted.iter().fold(0, |n, &d| n * 10 + u64::from(d));
            let text: String = corrupted
                .iter()
                .map(|&d| char::from(b'0' + d))
                .chain(format!("{:02}", control(&original)).chars())
                .collect();
            let residues = [
                weighted_sum(&original, &WEIGHTS) % 101,
                weighted_sum(&corrupted, &WEIGHTS) % 101,
            ];
            // The blind spot: one sum ≡ 0 and the other ≡ 100 (mod 101); both give 00.
            let blind = residues == [0, 100] || residues == [100, 0];
            let unchecked = corrupted_body <= UNCHECKED_MAX;
            prop_assert_eq!(Snils::parse(&text).is_ok(), blind || unchecked);
        }
    }
}
