//! Sums of money in roubles as exact integer kopecks: parsing the `xs:decimal` text of the
//! account files (`SUMMAV`, `SUMV`, `TARIF`, `SUM_M`, `S_SUM`, ...: `N(15,2)`), checked
//! arithmetic, and the canonical two-decimal text form.
//!
//! Called by intake and validation (sum rules such as SUMMAV = Σ SUMV), settlement, MTR and
//! reports. No floating point anywhere: the database stores the kopecks as `BigInt`.

use std::fmt;

use super::decimal::{LexError, Lexed, lex};

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is empty.
    #[error("amount: empty")]
    Empty,
    /// A character other than a leading sign, digits and one `.`.
    #[error("amount: character {position} is not allowed (expected [+-]digits[.digits])")]
    InvalidCharacter {
        /// 1-based position, counted in characters.
        position: usize,
    },
    /// A sign and/or a point but no digit (`"."`, `"-"`).
    #[error("amount: no digits")]
    NoDigits,
    /// A non-zero digit after the second decimal place: not a whole number of kopecks.
    #[error("amount: more than 2 decimal places (not a whole number of kopecks)")]
    TooManyFractionDigits,
    /// Does not fit 64-bit kopecks.
    #[error("amount: out of range")]
    OutOfRange,
}

impl MoneyError {
    /// A stable `snake_case` code for protocols and API error bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::NoDigits => "no_digits",
            Self::TooManyFractionDigits => "too_many_fraction_digits",
            Self::OutOfRange => "out_of_range",
        }
    }
}

/// Сумма в рублях: an amount of money held as a whole number of kopecks (`i64`).
///
/// [`parse`](Self::parse) accepts the `xs:decimal` lexical form limited to the value space of
/// `fractionDigits = 2`: an optional `+`/`-`, digits, an optional `.` and digits, where digits
/// after the second decimal place must be zeros (`"1.500"` is 150 kopecks, `"115.091"` is
/// refused). `Display` always prints two decimals (`"115.10"`, `"-0.05"`), and serde uses that
/// text. The 15-digit limit of `N(15,2)` is a schema check, not enforced here.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(i64);

impl Money {
    /// Zero roubles.
    pub const ZERO: Self = Self(0);

    /// Parses an `xs:decimal` amount with at most 2 significant decimals.
    ///
    /// Accepted: `"115.09"`, `"115.1"`, `"115"`, `"0.5"`, `"-3.00"`, `"+7"`, `".5"`, `"5."`,
    /// `"1.500"`. Refused: `""`, `"."`, `"1e5"`, `"1,5"`, `"NaN"`, `"inf"`, any whitespace,
    /// `"115.091"`, and values outside `i64` kopecks.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let Lexed {
            negative,
            integer,
            fraction,
        } = lex(s).map_err(|e| match e {
            LexError::Empty => MoneyError::Empty,
            LexError::InvalidCharacter { position } => MoneyError::InvalidCharacter { position },
            LexError::NoDigits => MoneyError::NoDigits,
        })?;
        let (kopecks, rest) = fraction.split_at(fraction.len().min(2));
        if rest.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooManyFractionDigits);
        }
        let mut value: i128 = 0;
        for b in integer.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or(MoneyError::OutOfRange)?;
        }
        let mut cents = 0_i128;
        let mut scale = 10_i128;
        for b in kopecks.bytes() {
            cents += i128::from(b - b'0') * scale;
            scale /= 10;
        }
        let value = value
            .checked_mul(100)
            .and_then(|v| v.checked_add(cents))
            .ok_or(MoneyError::OutOfRange)?;
        let value = if negative { -value } else { value };
        i64::try_from(value)
            .map(Self)
            .map_err(|_| MoneyError::OutOfRange)
    }

    /// The amount of `kopecks` kopecks.
    #[must_use]
    pub const fn from_kopecks(kopecks: i64) -> Self {
        Self(kopecks)
    }

    /// The amount in kopecks.
    #[must_use]
    pub const fn kopecks(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self − other`, or `None` on overflow.
    #[must_use]
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// The sum of `amounts`, or `None` on overflow (e.g. SUMMAV = Σ SUMV).
    #[must_use]
    pub fn checked_sum<I: IntoIterator<Item = Self>>(amounts: I) -> Option<Self> {
        amounts.into_iter().try_fold(Self::ZERO, Self::checked_add)
    }

    /// Below zero.
    #[must_use]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

text_value!(Money, MoneyError);

#[cfg(test)]
mod tests {
    use super::{Money, MoneyError};

    fn k(s: &str) -> i64 {
        Money::parse(s).unwrap().kopecks()
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(k("115.09"), 11_509);
        assert_eq!(k("115.1"), 11_510);
        assert_eq!(k("115"), 11_500);
        assert_eq!(k("0.5"), 50);
        assert_eq!(k("-3.00"), -300);
        assert_eq!(k("+7"), 700);
        assert_eq!(k(".5"), 50);
        assert_eq!(k("5."), 500);
        assert_eq!(k("007.50"), 750);
        assert_eq!(k("-0.00"), 0);
        assert_eq!(k("1.500"), 150);
        assert_eq!(k("1.0000000"), 100);
        assert_eq!(k("92233720368547758.07"), i64::MAX);
        assert_eq!(k("-92233720368547758.08"), i64::MIN);
    }

    #[test]
    fn refused_forms() {
        let cases = [
            ("", "empty"),
            (".", "no_digits"),
            ("-", "no_digits"),
            ("+.", "no_digits"),
            ("1e5", "invalid_character"),
            ("1,5", "invalid_character"),
            ("NaN", "invalid_character"),
            ("inf", "invalid_character"),
            ("-inf", "invalid_character"),
            (" 1", "invalid_character"),
            ("1 ", "invalid_character"),
            ("1 000", "invalid_character"),
            ("1.2.3", "invalid_character"),
            ("--1", "invalid_character"),
            ("1-", "invalid_character"),
            ("115.091", "too_many_fraction_digits"),
            ("0.001", "too_many_fraction_digits"),
            ("92233720368547758.08", "out_of_range"),
            ("-92233720368547758.09", "out_of_range"),
            ("99999999999999999999999999999999999999999", "out_of_range"),
        ];
        for (text, code) in cases {
            assert_eq!(Money::parse(text).unwrap_err().code(), code, "{text:?}");
        }
        assert_eq!(
            Money::parse("1.2x"),
            Err(MoneyError::InvalidCharacter { position: 4 })
        );
        assert_eq!(
            Money::parse("-12,5"),
            Err(MoneyError::InvalidCharacter { position: 4 })
        );
        assert_eq!(
            Money::parse("1,5").unwrap_err().to_string(),
            "amount: character 2 is not allowed (expected [+-]digits[.digits])"
        );
    }

    #[test]
    fn display_has_two_decimals() {
        assert_eq!(Money::from_kopecks(11_510).to_string(), "115.10");
        assert_eq!(Money::from_kopecks(-5).to_string(), "-0.05");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::from_kopecks(100).to_string(), "1.00");
        assert_eq!(
            Money::from_kopecks(i64::MIN).to_string(),
            "-92233720368547758.08"
        );
        assert_eq!(format!("{:?}", Money::from_kopecks(-5)), "Money(-0.05)");
    }

    #[test]
    fn arithmetic() {
        let a = Money::from_kopecks(150);
        let b = Money::from_kopecks(275);
        assert_eq!(a.checked_add(b), Some(Money::from_kopecks(425)));
        assert_eq!(a.checked_sub(b), Some(Money::from_kopecks(-125)));
        assert!(a.checked_sub(b).unwrap().is_negative());
        assert!(!Money::ZERO.is_negative());
        assert_eq!(
            Money::from_kopecks(i64::MAX).checked_add(Money::from_kopecks(1)),
            None
        );
        assert_eq!(
            Money::from_kopecks(i64::MIN).checked_sub(Money::from_kopecks(1)),
            None
        );
        assert_eq!(
            Money::checked_sum([a, b, a]),
            Some(Money::from_kopecks(575))
        );
        assert_eq!(Money::checked_sum([]), Some(Money::ZERO));
        assert_eq!(
            Money::checked_sum([Money::from_kopecks(i64::MAX), Money::from_kopecks(1)]),
            None
        );
        assert!(Money::from_kopecks(-1) < Money::ZERO);
    }

    #[test]
    fn serde_is_the_two_decimal_text() {
        let m = Money::parse("115.1").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"115.10\"");
        assert_eq!(serde_json::from_str::<Money>("\"115.10\"").unwrap(), m);
        assert!(
            serde_json::from_str::<Money>("115.1").is_err(),
            "JSON numbers are refused"
        );
        let err = serde_json::from_str::<Money>("\"1e5\"").unwrap_err();
        assert!(err.to_string().contains("amount: character 2"));
        assert_eq!("-3.00".parse::<Money>().unwrap().kopecks(), -300);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::Money;

    proptest! {
        #[test]
        fn display_parse_round_trip(kopecks in any::<i64>()) {
            let m = Money::from_kopecks(kopecks);
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        }

        #[test]
        fn parse_is_exact(
            negative in any::<bool>(),
            integer in 0_i64..=90_000_000_000_000_000,
            decimals in 0_usize..=2,
            fraction in 0_i64..100,
            trailing_zeros in 0_usize..=3,
        ) {
            let (fraction_text, fraction_kopecks) = match decimals {
                0 => (String::new(), 0),
                1 => (format!(".{}", fraction / 10), fraction / 10 * 10),
                _ => (format!(".{fraction:02}"), fraction),
            };
            let zeros = if decimals == 0 { String::new() } else { "0".repeat(trailing_zeros) };
            let sign = if negative { "-" } else { "" };
            let text = format!("{sign}{integer}{fraction_text}{zeros}");
            let magnitude = integer * 100 + fraction_kopecks;
            let expected = if negative { -magnitude } else { magnitude };
            prop_assert_eq!(Money::parse(&text).unwrap().kopecks(), expected);
        }

        #[test]
        fn a_third_non_zero_decimal_is_refused(
            integer in 0_u32..1_000_000, fraction in 0_u32..100, third in 1_u32..10,
        ) {
            let text = format!("{integer}.{fraction:02}{third}");
            prop_assert_eq!(Money::parse(&text).unwrap_err().code(), "too_many_fraction_digits");
        }
    }
}
