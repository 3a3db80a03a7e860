//! The unified policy number ENP (16 digits, formats.md 6.1): its parser with the Luhn
//! check, its parts (territory, birth-date/sex facet, serial), the facet check against a
//! person's birth date and sex, and the generator used for synthetic data.
//!
//! Called by intake and validation (every `ENP` / `NPOLIS` element), by the ERZ registers and
//! by the API's policy look-up. The ENP is personal data: `Debug` keeps only the territory.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::check::{digit_char, fixed_digits, luhn_check_digit};
use super::codes::TfomsCode;
use super::error::IdError;
use super::person::Sex;

const WHAT: &str = "ENP";
const LEN: usize = 16;
const LUHN: &str = "Luhn over the first 15 digits";

/// Единый номер полиса (ENP): the 16-digit number of an OMS policy, unique in Russia.
///
/// | positions | content |
/// |---|---|
/// | 1–2 | TFOMS code of the issuing territory (never `00`) |
/// | 3–10 | birth-date/sex facet |
/// | 11–15 | serial number within the facet |
/// | 16 | Luhn check digit of positions 1–15 |
///
/// The facet is not decoded at parse time: [`check_birth_and_sex`](Self::check_birth_and_sex)
/// compares it with a known birth date and sex. `Debug` prints `Enp(50**************)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Enp(String);

impl Enp {
    /// Parses exactly 16 ASCII digits (no trimming, no separators) whose last digit is the
    /// Luhn check digit of the first 15 and whose first two are not `00`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = fixed_digits(WHAT, s, LEN, "16 digits")?;
        let expected = luhn_check_digit(&digits[..LEN - 1]);
        let found = digits[LEN - 1];
        if found != expected {
            return Err(IdError::CheckDigit {
                what: WHAT,
                expected: expected.to_string(),
                found: found.to_string(),
                rule: LUHN,
            });
        }
        if digits[..2] == [0, 0] {
            return Err(IdError::Invalid {
                what: WHAT,
                reason: "territory code (positions 1-2) is 00",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// Builds the ENP that territory `territory` issues as number `serial` (0..=99999) for a
    /// person born on `birth` (year 1..=9999) of sex `sex`, with its check digit.
    ///
    /// This is how a TFOMS numbers policies; the hub uses it for synthetic data and tests.
    pub fn generate(
        territory: &TfomsCode,
        birth: NaiveDate,
        sex: Sex,
        serial: u32,
    ) -> Result<Self, IdError> {
        if serial > 99_999 {
            return Err(IdError::Invalid {
                what: WHAT,
                reason: "serial must be in 0..=99999",
            });
        }
        let mut number = format!("{territory}{}{serial:05}", facet(birth, sex)?);
        let payload: Vec<u8> = number.bytes().map(|b| b - b'0').collect();
        number.push(digit_char(luhn_check_digit(&payload)));
        Ok(Self(number))
    }

    /// The territory that issued the policy (positions 1–2).
    #[must_use]
    pub fn territory_code(&self) -> TfomsCode {
        TfomsCode::from_checked(&self.0[..2])
    }

    /// The birth-date/sex facet (positions 3–10), as 8 digits.
    #[must_use]
    pub fn facet(&self) -> &str {
        &self.0[2..10]
    }

    /// The serial number within the facet (positions 11–15), 0..=99999.
    #[must_use]
    pub fn serial(&self) -> u32 {
        self.0[10..15]
            .bytes()
            .fold(0, |n, b| n * 10 + u32::from(b - b'0'))
    }

    /// Checks that positions 3–10 are the facet of `birth` and `sex` (the decoder's
    /// `CheckBirthdayAndGender`).
    ///
    /// Errors: [`IdError::FacetMismatch`] when they differ, [`IdError::Invalid`] when the birth
    /// year is outside 1..=9999 and so has no facet. Neither carries the ENP.
    pub fn check_birth_and_sex(&self, birth: NaiveDate, sex: Sex) -> Result<(), IdError> {
        if self.facet() == facet(birth, sex)? {
            Ok(())
        } else {
            Err(IdError::FacetMismatch { what: WHAT })
        }
    }
}

/// The 8-digit facet of a birth date and sex (`EnpChecker.GetFacet`).
///
/// m = month + 20 when the year is ≤ 1950, + 40 when 1951–2000, + 0 after 2000;
/// d = day + 50 for males, the plain day for females. The facet is m (2 digits), the year's
/// digits in reverse order (units, tens, hundreds, thousands) and d (2 digits), each digit x
/// written as 9 − x. For a two-digit number n, complementing both digits gives 99 − n.
fn facet(birth: NaiveDate, sex: Sex) -> Result<String, IdError> {
    let year = birth.year();
    if !(1..=9999).contains(&year) {
        return Err(IdError::Invalid {
            what: WHAT,
            reason: "birth year must be in 1..=9999 to have a facet",
        });
    }
    let year = year.unsigned_abs();
    let month_offset = match year {
        ..=1950 => 20,
        1951..=2000 => 40,
        _ => 0,
    };
    let day_offset = match sex {
        Sex::Male => 50,
        Sex::Female => 0,
    };
    let m = birth.month() + month_offset;
    let d = birth.day() + day_offset;
    Ok(format!(
        "{:02}{}{}{}{}{:02}",
        99 - m,
        9 - year % 10,
        9 - year / 10 % 10,
        9 - year / 100 % 10,
        9 - year / 1000,
        99 - d
    ))
}

impl fmt::Debug for Enp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Enp({}**************)", &self.0[..2])
    }
}

text_value!(Enp, IdError, newtype);

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Enp, facet};
    use crate::domain::check::single_digit_corruptions;
    use crate::domain::{IdError, Sex, TfomsCode};

    const EXAMPLE: &str = "5054910832000016";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn worked_example_of_formats_md() {
        let birth = date(1980, 5, 17);
        assert_eq!(facet(birth, Sex::Male).unwrap(), "54910832");
        let tf = TfomsCode::parse("50").unwrap();
        let enp = Enp::generate(&tf, birth, Sex::Male, 1).unwrap();
        assert_eq!(enp.as_str(), EXAMPLE);
        let parsed = Enp::parse(EXAMPLE).unwrap();
        assert_eq!(parsed, enp);
        assert_eq!(parsed.territory_code(), tf);
        assert_eq!(parsed.facet(), "54910832");
        assert_eq!(parsed.serial(), 1);
        assert_eq!(parsed.to_string(), EXAMPLE);
        assert_eq!(parsed.check_birth_and_sex(birth, Sex::Male), Ok(()));
    }

    #[test]
    fn month_offsets_and_day_by_sex() {
        // Year ≤ 1950: month + 20.
        assert_eq!(facet(date(1950, 12, 31), Sex::Female).unwrap(), "67940868");
        assert_eq!(facet(date(1950, 12, 31), Sex::Male).unwrap(), "67940818");
        // 1951–2000: month + 40.
        assert_eq!(facet(date(1951, 1, 1), Sex::Male).unwrap(), "58840848");
        assert_eq!(facet(date(2000, 12, 31), Sex::Male).unwrap(), "47999718");
        // After 2000: the plain month.
        assert_eq!(facet(date(2001, 1, 1), Sex::Female).unwrap(), "98899798");
        assert_eq!(facet(date(2001, 1, 1), Sex::Male).unwrap(), "98899748");
        // Years before 1000 are written with leading zeros before reversal.
        assert_eq!(facet(date(812, 3, 4), Sex::Female).unwrap(), "76781995");
        assert_eq!(
            facet(date(0, 3, 4), Sex::Female).unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!(
            facet(date(10000, 3, 4), Sex::Male).unwrap_err().code(),
            "invalid_value"
        );
    }

    #[test]
    fn every_single_digit_corruption_fails() {
        let corruptions = single_digit_corruptions(EXAMPLE);
        assert_eq!(corruptions.len(), 16 * 9);
        for (_, corrupted) in corruptions {
            assert!(Enp::parse(&corrupted).is_err(), "{corrupted} passed");
        }
    }

    #[test]
    fn refusals_and_messages() {
        let e = Enp::parse("5054910832000017").unwrap_err();
        assert_eq!(e.code(), "check_digit_mismatch");
        assert_eq!(
            e.to_string(),
            "ENP: check digit is 7, expected 6 (Luhn over the first 15 digits)"
        );
        assert!(!e.to_string().contains("505491083200001"));
        let e = Enp::parse("505491083200001").unwrap_err();
        assert_eq!(e.to_string(), "ENP: length is 15, expected 16 digits");
        assert_eq!(
            Enp::parse(" 5054910832000016").unwrap_err().code(),
            "invalid_length"
        );
        assert_eq!(
            Enp::parse("5054910832000016 ").unwrap_err().code(),
            "invalid_length"
        );
        assert_eq!(
            Enp::parse("5054-10832000016").unwrap_err(),
            IdError::NotDigit {
                what: "ENP",
                position: 5
            }
        );
        assert_eq!(Enp::parse("").unwrap_err().code(), "invalid_length");
        // Territory 00 with a valid Luhn digit.
        let e = Enp::parse("0054910832000017").unwrap_err();
        assert_eq!(e.code(), "invalid_value");
    }

    #[test]
    fn facet_mismatch() {
        let enp = Enp::parse(EXAMPLE).unwrap();
        let e = enp
            .check_birth_and_sex(date(1980, 5, 17), Sex::Female)
            .unwrap_err();
        assert_eq!(e.code(), "facet_mismatch");
        assert!(!e.to_string().contains("5491"));
        assert_eq!(
            enp.check_birth_and_sex(date(1980, 5, 18), Sex::Male)
                .unwrap_err()
                .code(),
            "facet_mismatch"
        );
    }

    #[test]
    fn generator_limits() {
        let tf = TfomsCode::parse("34").unwrap();
        let birth = date(2010, 2, 28);
        assert_eq!(
            Enp::generate(&tf, birth, Sex::Female, 99_999)
                .unwrap()
                .serial(),
            99_999
        );
        assert_eq!(
            Enp::generate(&tf, birth, Sex::Female, 100_000)
                .unwrap_err()
                .code(),
            "invalid_value"
        );
        assert!(Enp::generate(&tf, date(-5, 1, 1), Sex::Male, 1).is_err());
    }

    #[test]
    fn debug_is_masked() {
        let enp = Enp::parse(EXAMPLE).unwrap();
        let debug = format!("{enp:?}");
        assert_eq!(debug, "Enp(50**************)");
        assert!(!debug.contains("54910832"));
        assert!(!format!("{:?}", vec![enp]).contains("000016"));
    }

    #[test]
    fn serde_is_the_canonical_string() {
        let enp = Enp::parse(EXAMPLE).unwrap();
        assert_eq!(
            serde_json::to_string(&enp).unwrap(),
            format!("\"{EXAMPLE}\"")
        );
        let back: Enp = serde_json::from_str(&format!("\"{EXAMPLE}\"")).unwrap();
        assert_eq!(back, enp);
        let err = serde_json::from_str::<Enp>("\"5054910832000017\"").unwrap_err();
        assert!(err.to_string().contains("check digit is 7"));
        assert!(!err.to_string().contains("505491083200001"));
        assert!(serde_json::from_str::<Enp>("5054910832000016").is_err());
        assert_eq!(EXAMPLE.parse::<Enp>().unwrap(), enp);
    }
}

#[cfg(test)]
mod proptests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::Enp;
    use crate::domain::check::single_digit_corruptions;
    use crate::domain::{Sex, TfomsCode};

    fn territory() -> impl Strategy<Value = TfomsCode> {
        (1_u32..=99).prop_map(|n| TfomsCode::parse(&format!("{n:02}")).unwrap())
    }

    fn birth() -> impl Strategy<Value = NaiveDate> {
        (1_i32..=9999, 1_u32..=12, 1_u32..=31)
            .prop_filter_map("no such day", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
    }

    fn sex() -> impl Strategy<Value = Sex> {
        prop_oneof![Just(Sex::Male), Just(Sex::Female)]
    }

    fn other(sex: Sex) -> Sex {
        match sex {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        }
    }

    proptest! {
        #[test]
        fn generate_parse_round_trip(
            tf in territory(), b in birth(), s in sex(), serial in 0_u32..=99_999,
        ) {
            let enp = Enp::generate(&tf, b, s, serial).unwrap();
            let parsed = Enp::parse(enp.as_str()).unwrap();
            prop_assert_eq!(&parsed, &enp);
            prop_assert_eq!(parsed.territory_code(), tf);
            prop_assert_eq!(parsed.serial(), serial);
            let json = serde_json::to_string(&enp).unwrap();
            prop_assert_eq!(serde_json::from_str::<Enp>(&json).unwrap(), enp);
        }

        #[test]
        fn facet_check_is_exact(tf in territory(), b in birth(), s in sex(), b2 in birth()) {
            let enp = Enp::generate(&tf, b, s, 7).unwrap();
            prop_assert!(enp.check_birth_and_sex(b, s).is_ok());
            prop_assert_eq!(
                enp.check_birth_and_sex(b, other(s)).unwrap_err().code(),
                "facet_mismatch"
            );
            prop_assert_eq!(enp.check_birth_and_sex(b2, s).is_ok(), b2 == b);
        }

        #[test]
        fn luhn_catches_every_single_digit_change(
            tf in territory(), b in birth(), s in sex(), serial in 0_u32..=99_999,
        ) {
            let enp = Enp::generate(&tf, b, s, serial).unwrap();
            for (position, corrupted) in single_digit_corruptions(enp.as_str()) {
                prop_assert!(Enp::parse(&corrupted).is_err(), "change at {} passed", position);
            }
        }
    }
}
