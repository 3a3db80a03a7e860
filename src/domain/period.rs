//! The reporting period of an account: a year and a month (`SCHET/YEAR`, `SCHET/MONTH`, the
//! `YYMM` of file names), with its first and last day and its neighbours.
//!
//! Called by intake (file names, accounts), settlement, MTR and reports, and by the database
//! layer, which keys growing tables by territory and period.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate};

/// Why a text or a year/month pair is not a reporting period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not of the form `YYYY-MM`.
    #[error("period: expected YYYY-MM")]
    Format,
    /// The year is outside the supported range.
    #[error("period: year {found} is outside 1900..=2999")]
    YearOutOfRange {
        /// The year given.
        found: i32,
    },
    /// The month is not 1–12.
    #[error("period: month {found} is outside 1..=12")]
    MonthOutOfRange {
        /// The month given.
        found: u32,
    },
}

impl PeriodError {
    /// A stable `snake_case` code for protocols and API error bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Format => "invalid_format",
            Self::YearOutOfRange { .. } => "year_out_of_range",
            Self::MonthOutOfRange { .. } => "month_out_of_range",
        }
    }
}

/// Отчётный период: the year and month an account is for.
///
/// Years are limited to 1900..=2999: wide enough for any account and for synthetic data,
/// narrow enough to catch a two-digit or mistyped year (`0025`, `9202`). Ordered
/// chronologically; text form `YYYY-MM`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The first day of the month; its year is within the supported range.
    first: NaiveDate,
}

impl Period {
    /// The earliest supported year.
    pub const MIN_YEAR: i32 = 1900;
    /// The latest supported year.
    pub const MAX_YEAR: i32 = 2999;

    /// The period of `month` (1–12) of `year` (1900..=2999).
    pub fn new(year: i32, month: u32) -> Result<Self, PeriodError> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(PeriodError::YearOutOfRange { found: year });
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Self { first })
            .ok_or(PeriodError::MonthOutOfRange { found: month })
    }

    /// Parses exactly `YYYY-MM` (4 digits, `-`, 2 digits).
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        let bytes = s.as_bytes();
        let well_formed = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(PeriodError::Format);
        }
        let year = s[..4].parse().map_err(|_| PeriodError::Format)?;
        let month = s[5..].parse().map_err(|_| PeriodError::Format)?;
        Self::new(year, month)
    }

    /// The period that contains `date`.
    pub fn containing(date: NaiveDate) -> Result<Self, PeriodError> {
        Self::new(date.year(), date.month())
    }

    /// The year.
    #[must_use]
    pub fn year(self) -> i32 {
        self.first.year()
    }

    /// The month, 1–12.
    #[must_use]
    pub fn month(self) -> u32 {
        self.first.month()
    }

    /// The first day of the month.
    #[must_use]
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The last day of the month (29 February in leap years).
    #[must_use]
    pub fn last_day(self) -> NaiveDate {
        self.first + Days::new(u64::from(days_in_month(self.year(), self.month()) - 1))
    }

    /// Whether `date` falls within the month.
    #[must_use]
    pub fn contains(self, date: NaiveDate) -> bool {
        date.year() == self.year() && date.month() == self.month()
    }

    /// The following month, or `None` after December 2999.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        match self.month() {
            12 => Self::new(self.year() + 1, 1).ok(),
            m => Self::new(self.year(), m + 1).ok(),
        }
    }

    /// The preceding month, or `None` before January 1900.
    #[must_use]
    pub fn prev(self) -> Option<Self> {
        match self.month() {
            1 => Self::new(self.year() - 1, 12).ok(),
            m => Self::new(self.year(), m - 1).ok(),
        }
    }
}

/// The number of days of `month` in `year` (Gregorian).
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

text_value!(Period, PeriodError);

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Period, PeriodError};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    #[test]
    fn parse_and_display() {
        let period = p("2025-03");
        assert_eq!(period.year(), 2025);
        assert_eq!(period.month(), 3);
        assert_eq!(period.to_string(), "2025-03");
        assert_eq!(format!("{period:?}"), "Period(2025-03)");
        assert_eq!(Period::new(2025, 3), Ok(period));
        assert_eq!("2025-03".parse::<Period>(), Ok(period));
    }

    #[test]
    fn refusals() {
        for bad in [
            "", "2025-3", "2025/03", "25-03", "2025-003", " 2025-03", "2025-0a", "+025-03",
        ] {
            assert_eq!(Period::parse(bad), Err(PeriodError::Format), "{bad:?}");
        }
        assert_eq!(
            Period::parse("2025-13").unwrap_err().code(),
            "month_out_of_range"
        );
        assert_eq!(
            Period::parse("2025-00").unwrap_err().code(),
            "month_out_of_range"
        );
        assert_eq!(
            Period::parse("1899-12").unwrap_err().code(),
            "year_out_of_range"
        );
        assert_eq!(
            Period::new(3000, 1).unwrap_err().code(),
            "year_out_of_range"
        );
        assert_eq!(
            Period::new(2025, 13).unwrap_err().to_string(),
            "period: month 13 is outside 1..=12"
        );
        assert!(Period::new(1900, 1).is_ok() && Period::new(2999, 12).is_ok());
    }

    #[test]
    fn first_and_last_days() {
        assert_eq!(p("2024-02").first_day(), date(2024, 2, 1));
        assert_eq!(p("2024-02").last_day(), date(2024, 2, 29));
        assert_eq!(p("2025-02").last_day(), date(2025, 2, 28));
        assert_eq!(p("2000-02").last_day(), date(2000, 2, 29));
        assert_eq!(p("1900-02").last_day(), date(1900, 2, 28));
        assert_eq!(p("2025-04").last_day(), date(2025, 4, 30));
        assert_eq!(p("2025-12").last_day(), date(2025, 12, 31));
        assert_eq!(p("2999-12").last_day(), date(2999, 12, 31));
    }

    #[test]
    fn contains() {
        let feb = p("2024-02");
        assert!(feb.contains(date(2024, 2, 1)));
        assert!(feb.contains(date(2024, 2, 29)));
        assert!(!feb.contains(date(2024, 3, 1)));
        assert!(!feb.contains(date(2024, 1, 31)));
        assert!(!feb.contains(date(2023, 2, 15)));
        assert_eq!(Period::containing(date(2024, 2, 29)), Ok(feb));
        assert!(Period::containing(date(1812, 9, 7)).is_err());
    }

    #[test]
    fn neighbours_and_order() {
        assert_eq!(p("2024-12").next(), Some(p("2025-01")));
        assert_eq!(p("2025-01").prev(), Some(p("2024-12")));
        assert_eq!(p("2025-05").next(), Some(p("2025-06")));
        assert_eq!(p("2025-05").prev(), Some(p("2025-04")));
        assert_eq!(p("2999-12").next(), None);
        assert_eq!(p("1900-01").prev(), None);
        assert!(p("2024-12") < p("2025-01"));
        assert!(p("2025-02") > p("2025-01"));
    }

    #[test]
    fn serde_is_the_text_form() {
        assert_eq!(serde_json::to_string(&p("2025-01")).unwrap(), "\"2025-01\"");
        assert_eq!(
            serde_json::from_str::<Period>("\"2025-01\"").unwrap(),
            p("2025-01")
        );
        assert!(serde_json::from_str::<Period>("\"2025-1\"").is_err());
    }
}

#[cfg(test)]
mod proptests {
    use chrono::Days;
    use proptest::prelude::*;

    use super::Period;

    proptest! {
        #[test]
        fn text_round_trip_and_neighbours(year in 1900_i32..=2999, month in 1_u32..=12) {
            let period = Period::new(year, month).unwrap();
            prop_assert_eq!(Period::parse(&period.to_string()), Ok(period));
            prop_assert!(period.first_day() <= period.last_day());
            prop_assert!(period.contains(period.first_day()) && period.contains(period.last_day()));
            if let Some(next) = period.next() {
                prop_assert!(next > period);
                prop_assert_eq!(next.prev(), Some(period));
                prop_assert_eq!(period.last_day() + Days::new(1), next.first_day());
            }
        }
    }
}
