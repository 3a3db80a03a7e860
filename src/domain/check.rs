//! Digit helpers shared by the identifier types of `domain`: reading a fixed number of ASCII
//! digits, weighted sums, the Luhn check digit and the value of a run of digits.
//!
//! Private to `domain`; each identifier module calls these from its `parse` and generator so
//! that the digit loops exist once.

use super::error::IdError;

/// Checks that `s` is exactly `len` ASCII digits and returns their values (0–9).
///
/// The length is counted in characters; `expected` is the human form of `len` used in the
/// error (e.g. `"16 digits"`). Errors: [`IdError::Length`], then [`IdError::NotDigit`] with the
/// 1-based position of the first offending character.
pub(super) fn fixed_digits(
    what: &'static str,
    s: &str,
    len: usize,
    expected: &'static str,
) -> Result<Vec<u8>, IdError> {
    let found = s.chars().count();
    if found != len {
        return Err(IdError::Length {
            what,
            expected,
            found,
        });
    }
    digit_values(what, s)
}

/// Returns the values of the digits of `s`, or [`IdError::NotDigit`] at the first character
/// that is not an ASCII digit (1-based, counted in characters).
pub(super) fn digit_values(what: &'static str, s: &str) -> Result<Vec<u8>, IdError> {
    if let Some(index) = s.chars().position(|c| !c.is_ascii_digit()) {
        return Err(IdError::NotDigit {
            what,
            position: index + 1,
        });
    }
    Ok(s.bytes().map(|b| b - b'0').collect())
}

/// Σ digit × weight over the pairs of `digits` and `weights` (the shorter one decides).
pub(super) fn weighted_sum(digits: &[u8], weights: &[u32]) -> u32 {
    digits
        .iter()
        .zip(weights)
        .map(|(&d, &w)| u32::from(d) * w)
        .sum()
}

/// The value of a run of at most 19 digits read as one decimal number.
pub(super) fn number(digits: &[u8]) -> u64 {
    digits.iter().fold(0_u64, |n, &d| n * 10 + u64::from(d))
}

/// The Luhn check digit of `payload` (the digit to append so that the whole passes Luhn).
///
/// From the rightmost payload digit leftwards, every other digit (starting with the rightmost)
/// is doubled and 9 subtracted when the result exceeds 9; the check digit is
/// `(10 − sum mod 10) mod 10`.
pub(super) fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    digit((10 - sum % 10) % 10)
}

/// The last decimal digit of `n` as a `u8` (callers pass values already reduced to 0–9).
pub(super) fn digit(n: impl Into<u64>) -> u8 {
    u8::try_from(n.into() % 10).unwrap_or_default()
}

/// The ASCII character of a digit value 0–9.
pub(super) fn digit_char(d: u8) -> char {
    char::from(b'0' + d % 10)
}

/// Test support: every string obtained from `s` by replacing one digit with another digit,
/// with the 0-based position that was changed.
#[cfg(test)]
pub(super) fn single_digit_corruptions(s: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, original) in s.char_indices() {
        for replacement in '0'..='9' {
            if replacement != original {
                let mut corrupted = String::with_capacity(s.len());
                corrupted.push_str(&s[..i]);
                corrupted.push(replacement);
                corrupted.push_str(&s[i + 1..]);
                out.push((i, corrupted));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fixed_digits, luhn_check_digit, number, single_digit_corruptions, weighted_sum};
    use crate::domain::IdError;

    #[test]
    fn fixed_digits_reports_length_then_position() {
        assert_eq!(
            fixed_digits("X", "0123", 4, "4 digits"),
            Ok(vec![0, 1, 2, 3])
        );
        assert_eq!(
            fixed_digits("X", "012", 4, "4 digits"),
            Err(IdError::Length {
                what: "X",
                expected: "4 digits",
                found: 3
            })
        );
        // Length is counted in characters, not bytes.
        assert_eq!(
            fixed_digits("X", "01Я3", 4, "4 digits"),
            Err(IdError::NotDigit {
                what: "X",
                position: 3
            })
        );
        // Non-ASCII digits are not digits.
        assert!(fixed_digits("X", "01٣3", 4, "4 digits").is_err());
    }

    #[test]
    fn luhn_matches_known_values() {
        // 7992739871 -> 3 is the textbook Luhn example.
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
        assert_eq!(luhn_check_digit(&[0]), 0);
    }

    #[test]
    fn sums_and_numbers() {
        assert_eq!(weighted_sum(&[1, 2, 3], &[3, 2, 1]), 10);
        assert_eq!(number(&[0, 4, 2]), 42);
        assert_eq!(single_digit_corruptions("12").len(), 18);
    }
}
