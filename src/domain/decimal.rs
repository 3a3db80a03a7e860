//! Exact decimal numbers of the exchange files that are not money (`N(p,s)` elements such as
//! `ED_COL` and `KOL_USL`, units of care; KD, bed-days in 3.2; WEI, weight; `KOEF_Z` and the other
//! DRG coefficients, N(7,5); `DOSE_INJ`, SOD, BSA): parsed from the `xs:decimal` text without
//! floating point, compared by value, printed in canonical form.
//!
//! Called by the typed records of validation (`validate::records`) and the business rules
//! that read them. Money has its own type, [`Money`](super::Money), in kopecks.

use std::cmp::Ordering;
use std::fmt;

/// Why a text is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is empty.
    #[error("decimal: empty")]
    Empty,
    /// A character other than a leading sign, digits and one `.`.
    #[error("decimal: character {position} is not allowed (expected [+-]digits[.digits])")]
    InvalidCharacter {
        /// 1-based position, counted in characters.
        position: usize,
    },
    /// A sign and/or a point but no digit (`"."`, `"-"`).
    #[error("decimal: no digits")]
    NoDigits,
    /// More than 18 significant digits, or more than 18 after the point.
    #[error("decimal: more than 18 significant digits")]
    OutOfRange,
}

impl DecimalError {
    /// A stable `snake_case` code for protocols and API error bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::NoDigits => "no_digits",
            Self::OutOfRange => "out_of_range",
        }
    }
}

/// Десятичное число: `units / 10^scale`, exactly, with at most 18 significant digits (every
/// `N(p,s)` of the formats has `p` ≤ 15).
///
/// [`parse`](Self::parse) accepts the `xs:decimal` lexical form: an optional `+`/`-`, digits,
/// an optional `.` and digits (`"1.00"`, `"81.5"`, `".5"`, `"5."`, `"-0.25"`). The value is
/// kept normalised (no trailing zeros after the point), so `1.00` equals `1` and prints as
/// `"1"`: equality, hashing and ordering are by value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    units: i64,
    scale: u8,
}

/// The most significant digits a [`Decimal`] holds.
const MAX_DIGITS: usize = 18;

/// The parts of an `xs:decimal` text: sign, digits before and after the point (both ASCII
/// digits only, not both empty). Shared by [`Decimal::parse`] and `Money::parse`.
pub(super) struct Lexed<'a> {
    pub negative: bool,
    pub integer: &'a str,
    pub fraction: &'a str,
}

/// Why a text is not an `xs:decimal` lexically.
pub(super) enum LexError {
    Empty,
    /// 1-based position of the first character not allowed, counted in characters.
    InvalidCharacter {
        position: usize,
    },
    NoDigits,
}

/// Splits `[+-]digits[.digits]` into its parts.
pub(super) fn lex(s: &str) -> Result<Lexed<'_>, LexError> {
    let (negative, unsigned, offset) = match s.as_bytes().first() {
        None => return Err(LexError::Empty),
        Some(b'-') => (true, &s[1..], 1),
        Some(b'+') => (false, &s[1..], 1),
        Some(_) => (false, s, 0),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let point = usize::from(unsigned.contains('.'));
    if let Some(index) = integer.chars().position(|c| !c.is_ascii_digit()) {
        return Err(LexError::InvalidCharacter {
            position: offset + index + 1,
        });
    }
    if let Some(index) = fraction.chars().position(|c| !c.is_ascii_digit()) {
        return Err(LexError::InvalidCharacter {
            position: offset + integer.len() + point + index + 1,
        });
    }
    if integer.is_empty() && fraction.is_empty() {
        return Err(LexError::NoDigits);
    }
    Ok(Lexed {
        negative,
        integer,
        fraction,
    })
}

impl Decimal {
    /// Zero.
    pub const ZERO: Self = Self { units: 0, scale: 0 };

    /// Parses an `xs:decimal` text.
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        let Lexed {
            negative,
            integer,
            fraction,
        } = lex(s).map_err(|e| match e {
            LexError::Empty => DecimalError::Empty,
            LexError::InvalidCharacter { position } => DecimalError::InvalidCharacter { position },
            LexError::NoDigits => DecimalError::NoDigits,
        })?;
        let integer = integer.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        let significant = if integer.is_empty() {
            fraction.trim_start_matches('0').len()
        } else {
            integer.len() + fraction.len()
        };
        if significant > MAX_DIGITS || fraction.len() > MAX_DIGITS {
            return Err(DecimalError::OutOfRange);
        }
        let mut units: i64 = 0;
        for b in integer.bytes().chain(fraction.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(b - b'0')))
                .ok_or(DecimalError::OutOfRange)?;
        }
        let scale = u8::try_from(fraction.len()).map_err(|_| DecimalError::OutOfRange)?;
        Ok(Self {
            units: if negative { -units } else { units },
            scale,
        })
    }

    /// The value as `units / 10^scale`: the digits without the point.
    #[must_use]
    pub const fn units(self) -> i64 {
        self.units
    }

    /// Digits after the point (0 for a whole number).
    #[must_use]
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// The value with exactly `scale` digits after the point, as a whole number
    /// (`1.5` at scale 2 is `150`); `None` when digits would be lost or it overflows.
    #[must_use]
    pub fn units_at(self, scale: u8) -> Option<i64> {
        let shift = scale.checked_sub(self.scale)?;
        10_i64
            .checked_pow(u32::from(shift))
            .and_then(|f| self.units.checked_mul(f))
    }

    /// Below zero.
    #[must_use]
    pub const fn is_negative(self) -> bool {
        self.units < 0
    }

    /// The digits at `scale` (≥ `self.scale`, at most 18 more): below 10^36, so no overflow.
    fn widened(self, scale: u8) -> i128 {
        i128::from(self.units) * 10_i128.pow(u32::from(scale.saturating_sub(self.scale)))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.widened(scale).cmp(&other.widened(scale))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

text_value!(Decimal, DecimalError);

#[cfg(test)]
mod tests {
    use super::{Decimal, DecimalError};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn accepted_forms_are_normalised() {
        assert_eq!((d("1.00").units(), d("1.00").scale()), (1, 0));
        assert_eq!((d("81.5").units(), d("81.5").scale()), (815, 1));
        assert_eq!((d("1.42000").units(), d("1.42000").scale()), (142, 2));
        assert_eq!((d(".5").units(), d(".5").scale()), (5, 1));
        assert_eq!((d("5.").units(), d("5.").scale()), (5, 0));
        assert_eq!((d("-0.25").units(), d("-0.25").scale()), (-25, 2));
        assert_eq!((d("+007.050").units(), d("+007.050").scale()), (705, 2));
        assert_eq!(d("-0.000"), Decimal::ZERO);
        assert_eq!(d("0.00001").scale(), 5);
        assert_eq!(d("999999999999999999").units(), 999_999_999_999_999_999);
        assert_eq!(d("0.000000000000000001").scale(), 18);
    }

    #[test]
    fn refused_forms() {
        for (text, code) in [
            ("", "empty"),
            (".", "no_digits"),
            ("-", "no_digits"),
            ("1e5", "invalid_character"),
            ("1,5", "invalid_character"),
            (" 1", "invalid_character"),
            ("1.2.3", "invalid_character"),
            ("NaN", "invalid_character"),
            ("1000000000000000000", "out_of_range"),
            ("0.0000000000000000001", "out_of_range"),
        ] {
            assert_eq!(Decimal::parse(text).unwrap_err().code(), code, "{text:?}");
        }
        assert_eq!(
            Decimal::parse("1.x"),
            Err(DecimalError::InvalidCharacter { position: 3 })
        );
    }

    #[test]
    fn display_is_canonical() {
        for (text, shown) in [
            ("1.00", "1"),
            ("81.50", "81.5"),
            ("0.05", "0.05"),
            ("-0.25", "-0.25"),
            ("1.10500", "1.105"),
            ("0", "0"),
            ("120", "120"),
        ] {
            assert_eq!(d(text).to_string(), shown, "{text}");
        }
        assert_eq!(format!("{:?}", d("9.0")), "Decimal(9)");
    }

    #[test]
    fn order_and_equality_are_by_value() {
        assert_eq!(d("1.5"), d("1.50"));
        assert!(d("1.5") < d("1.55"));
        assert!(d("-2") < d("-1.999"));
        assert!(d("10") > d("9.99999"));
        assert!(d("0.000000000000000001") > Decimal::ZERO);
        assert_eq!(d("1.5").units_at(2), Some(150));
        assert_eq!(d("1.505").units_at(2), None);
        assert_eq!(d("3").units_at(0), Some(3));
    }

    #[test]
    fn serde_is_the_canonical_text() {
        let v = d("1.10500");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"1.105\"");
        assert_eq!(serde_json::from_str::<Decimal>("\"1.105\"").unwrap(), v);
        assert!(serde_json::from_str::<Decimal>("1.105").is_err());
        assert_eq!("2.50".parse::<Decimal>().unwrap(), d("2.5"));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::Decimal;

    proptest! {
        #[test]
        fn display_parse_round_trip(units in -999_999_999_999_999_999_i64..=999_999_999_999_999_999, scale in 0_u8..=18) {
            let v = Decimal::parse(&scaled(units, scale)).unwrap();
            prop_assert_eq!(Decimal::parse(&v.to_string()).unwrap(), v);
            prop_assert_eq!(v.units_at(scale), Some(units));
        }

        #[test]
        fn order_agrees_with_scaled_integers(a in -1_000_000_i64..1_000_000, b in -1_000_000_i64..1_000_000, sa in 0_u8..6, sb in 0_u8..6) {
            let va = Decimal::parse(&scaled(a, sa)).unwrap();
            let vb = Decimal::parse(&scaled(b, sb)).unwrap();
            let wa = i128::from(a) * 10_i128.pow(u32::from(6 - sa));
            let wb = i128::from(b) * 10_i128.pow(u32::from(6 - sb));
            prop_assert_eq!(va.cmp(&vb), wa.cmp(&wb));
            prop_assert_eq!(va == vb, wa == wb);
        }
    }

    fn scaled(units: i64, scale: u8) -> String {
        let digits = units.unsigned_abs().to_string();
        let scale = usize::from(scale);
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if units < 0 { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}
