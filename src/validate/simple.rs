//! Checks one text value against a compiled simple type ([`SimpleType`]): whitespace, lengths
//! in characters, integers and decimals exactly (totalDigits, fractionDigits and bounds without
//! floats), dates as real calendar dates, patterns, enumerations.
//!
//! The answer says which F012 code a failure is: 903 for a wrong type or format, 904 for a
//! value outside an enumeration or a bound. The caller turns an empty mandatory value into 902.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::hash::BuildHasher;

use chrono::NaiveDate;
use regex::Regex;

use crate::xml::tables::{Primitive, Schema, SimpleType, WhiteSpace};

/// Why a value does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// F012 code: 903 (type or format) or 904 (value not allowed).
    pub code: u16,
    /// What is wrong, without the value (the caller shows it).
    pub reason: String,
}

fn wrong(reason: impl Into<String>) -> ValueError {
    ValueError {
        code: 903,
        reason: reason.into(),
    }
}

fn not_allowed(reason: impl Into<String>) -> ValueError {
    ValueError {
        code: 904,
        reason: reason.into(),
    }
}

/// The compiled patterns of every simple type of one schema, built once.
#[derive(Debug)]
pub struct Patterns {
    by_type: Vec<Vec<Regex>>,
}

impl Patterns {
    /// Compiles every pattern of `schema` (XSD patterns match the whole value).
    pub fn compile(schema: &Schema) -> Result<Self, regex::Error> {
        let mut by_type = Vec::with_capacity(schema.simple_types.len());
        for t in schema.simple_types {
            let mut list = Vec::with_capacity(t.patterns.len());
            for p in t.patterns {
                list.push(Regex::new(&format!("^(?:{p})$"))?);
            }
            by_type.push(list);
        }
        Ok(Self { by_type })
    }
}

/// Applies the type's whitespace rule.
#[must_use]
pub fn normalize(value: &str, ws: WhiteSpace) -> Cow<'_, str> {
    match ws {
        WhiteSpace::Preserve => Cow::Borrowed(value),
        WhiteSpace::Replace => {
            if value.contains(['\t', '\n', '\r']) {
                Cow::Owned(value.replace(['\t', '\n', '\r'], " "))
            } else {
                Cow::Borrowed(value)
            }
        }
        WhiteSpace::Collapse => {
            let trimmed = trim_xml(value);
            let mut after_space = false;
            let mut needs = false;
            for &c in trimmed.as_bytes() {
                match c {
                    b' ' if after_space => {
                        needs = true;
                        break;
                    }
                    b' ' => after_space = true,
                    b'\t' | b'\n' | b'\r' => {
                        needs = true;
                        break;
                    }
                    _ => after_space = false,
                }
            }
            if needs {
                Cow::Owned(
                    trimmed
                        .split([' ', '\t', '\n', '\r'])
                        .filter(|part| !part.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            } else {
                Cow::Borrowed(trimmed)
            }
        }
    }
}

/// `value` without the XML whitespace (space, tab, line feed, carriage return) at its ends.
fn trim_xml(value: &str) -> &str {
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let bytes = value.as_bytes();
    let start = bytes
        .iter()
        .position(|c| !is_space(c))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|c| !is_space(c))
        .map_or(start, |i| i + 1);
    // Both ends sit next to ASCII bytes, so they are character boundaries.
    value.get(start..end).unwrap_or(value)
}

/// A decimal read exactly: sign, integer digits without leading zeros, fraction digits without
/// trailing zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl<'a> Decimal<'a> {
    /// Reads the xs:decimal lexical form (`allow_point` false for xs:integer).
    fn parse(s: &'a str, allow_point: bool) -> Option<Self> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = match rest.split_once('.') {
            Some((i, f)) if allow_point => (i, f),
            Some(_) => return None,
            None => (rest, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let zero = int.is_empty() && frac.is_empty();
        Some(Self {
            negative: negative && !zero,
            int,
            frac,
        })
    }

    fn total_digits(&self) -> usize {
        if self.int.is_empty() {
            // 0.00123 has 3 significant digits.
            self.frac.trim_start_matches('0').len().max(1)
        } else {
            self.int.len() + self.frac.len()
        }
    }

    fn magnitude_cmp(&self, other: &Self) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(other.int))
            .then_with(|| self.frac.cmp(other.frac))
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.magnitude_cmp(other),
            (true, true) => other.magnitude_cmp(self),
        }
    }

    /// The canonical text, for comparing keys and enumerations by value.
    fn canonical(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        out.push_str(if self.int.is_empty() { "0" } else { self.int });
        if !self.frac.is_empty() {
            out.push('.');
            out.push_str(self.frac);
        }
        out
    }
}

/// Reads `YYYY-MM-DD` with an optional time zone (`Z`, `+03:00`) as a real calendar date.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let date = if s.len() > 10 {
        let (d, tz) = s.split_at_checked(10)?;
        let tz_ok = tz == "Z"
            || (tz.len() == 6
                && matches!(tz.as_bytes()[0], b'+' | b'-')
                && tz.as_bytes()[3] == b':'
                && tz[1..3].bytes().all(|b| b.is_ascii_digit())
                && tz[4..6].bytes().all(|b| b.is_ascii_digit()));
        if !tz_ok {
            return None;
        }
        d
    } else {
        s
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    NaiveDate::from_ymd_opt(
        date[..4].parse().ok()?,
        date[5..7].parse().ok()?,
        date[8..10].parse().ok()?,
    )
}

fn parse_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else {
        return false;
    };
    if parse_date(date).is_none() {
        return false;
    }
    let time = time
        .strip_suffix('Z')
        .or_else(|| {
            time.len()
                .checked_sub(6)
                .filter(|&i| matches!(time.as_bytes()[i], b'+' | b'-'))
                .map(|i| &time[..i])
        })
        .unwrap_or(time);
    chrono::NaiveTime::parse_from_str(time, "%H:%M:%S%.f").is_ok()
}

/// The value in canonical form for comparing keys: integers and decimals by value, other types
/// as normalised text.
#[must_use]
pub fn canonical_key(schema: &Schema, type_id: u16, value: &str) -> String {
    let t = &schema.simple_types[usize::from(type_id)];
    let v = normalize(value, t.white_space);
    match t.primitive {
        Primitive::Integer => {
            Decimal::parse(&v, false).map_or_else(|| v.to_string(), |d| d.canonical())
        }
        Primitive::Decimal => {
            Decimal::parse(&v, true).map_or_else(|| v.to_string(), |d| d.canonical())
        }
        _ => v.into_owned(),
    }
}

/// A hash of the value's canonical form ([`canonical_key`]) without building it: the 905
/// checks keep only these 8 bytes per key.
#[must_use]
pub fn key_hash(schema: &Schema, type_id: u16, value: &str, hasher: &impl BuildHasher) -> u64 {
    let t = &schema.simple_types[usize::from(type_id)];
    let v = normalize(value, t.white_space);
    let number = match t.primitive {
        Primitive::Integer => Decimal::parse(&v, false),
        Primitive::Decimal => Decimal::parse(&v, true),
        _ => None,
    };
    match number {
        Some(d) => hasher.hash_one(&d),
        None => hasher.hash_one(v.as_ref()),
    }
}

/// A bound, what failing it means, and whether an ordering fails it.
type BoundCheck<'a> = (Option<&'a str>, &'static str, fn(Ordering) -> bool);

fn bound_violation(t: &SimpleType, cmp: &dyn Fn(&str) -> Option<Ordering>) -> Option<ValueError> {
    let checks: [BoundCheck<'_>; 4] = [
        (t.min_inclusive, "less than the minimum", |o| {
            o == Ordering::Less
        }),
        (t.max_inclusive, "greater than the maximum", |o| {
            o == Ordering::Greater
        }),
        (
            t.min_exclusive,
            "not greater than the exclusive minimum",
            |o| o != Ordering::Greater,
        ),
        (
            t.max_exclusive,
            "not less than the exclusive maximum",
            |o| o != Ordering::Less,
        ),
    ];
    for (bound, what, fails) in checks {
        if let Some(bound) = bound
            && let Some(order) = cmp(bound)
            && fails(order)
        {
            return Some(not_allowed(format!("{what} {bound}")));
        }
    }
    None
}

fn check_length(t: &SimpleType, v: &str) -> Result<(), ValueError> {
    let len = u32::try_from(v.chars().count()).unwrap_or(u32::MAX);
    if let Some(n) = t.length
        && len != n
    {
        return Err(wrong(format!("length is {len} characters, must be {n}")));
    }
    if let Some(n) = t.min_length
        && len < n
    {
        return Err(wrong(format!(
            "length is {len} characters, at least {n} required"
        )));
    }
    if let Some(n) = t.max_length
        && len > n
    {
        return Err(wrong(format!(
            "length is {len} characters, at most {n} allowed"
        )));
    }
    Ok(())
}

fn check_number(t: &SimpleType, v: &str) -> Result<(), ValueError> {
    let is_decimal = t.primitive == Primitive::Decimal;
    let d = Decimal::parse(v, is_decimal).ok_or_else(|| {
        wrong(if is_decimal {
            "not a decimal number"
        } else {
            "not an integer"
        })
    })?;
    if let Some(n) = t.total_digits
        && d.total_digits() > usize::from(n)
    {
        return Err(wrong(format!("more than {n} digits")));
    }
    if let Some(n) = t.fraction_digits
        && d.frac.len() > usize::from(n)
    {
        return Err(wrong(format!("more than {n} digits after the point")));
    }
    bound_violation(t, &|b| Decimal::parse(b, true).map(|b| d.cmp_value(&b))).map_or(Ok(()), Err)
}

/// Checks `value` (raw element text) against simple type `type_id` of `schema`.
pub fn check(
    schema: &Schema,
    patterns: &Patterns,
    type_id: u16,
    value: &str,
) -> Result<(), ValueError> {
    let t = &schema.simple_types[usize::from(type_id)];
    if let Primitive::Union(members) = t.primitive {
        let mut first = None;
        for &m in members {
            match check(schema, patterns, m, value) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        return Err(first.unwrap_or_else(|| wrong(format!("not a value of {}", t.name))));
    }
    let v = normalize(value, t.white_space);
    let v = v.as_ref();
    match t.primitive {
        Primitive::String | Primitive::Union(_) => check_length(t, v)?,
        Primitive::Integer | Primitive::Decimal => check_number(t, v)?,
        Primitive::Date => {
            let date = parse_date(v).ok_or_else(|| wrong("not a calendar date (YYYY-MM-DD)"))?;
            if let Some(e) = bound_violation(t, &|b| parse_date(b).map(|b| date.cmp(&b))) {
                return Err(e);
            }
        }
        Primitive::DateTime => {
            if !parse_date_time(v) {
                return Err(wrong("not a date and time (YYYY-MM-DDThh:mm:ss)"));
            }
        }
        Primitive::Boolean => {
            if !matches!(v, "true" | "false" | "1" | "0") {
                return Err(wrong("not a boolean (true, false, 1, 0)"));
            }
        }
    }
    for re in &patterns.by_type[usize::from(type_id)] {
        if !re.is_match(v) {
            return Err(wrong(format!("does not match the pattern {}", re.as_str())));
        }
    }
    if !t.enumeration.is_empty() {
        let allowed = match t.primitive {
            Primitive::Integer | Primitive::Decimal => {
                let d = Decimal::parse(v, t.primitive == Primitive::Decimal);
                d.is_some() && t.enumeration.iter().any(|e| Decimal::parse(e, true) == d)
            }
            _ => t.enumeration.contains(&v),
        };
        if !allowed {
            return Err(not_allowed(format!(
                "not one of {}",
                t.enumeration.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::tables::{Content, ElementDecl};

    const fn st(name: &'static str, primitive: Primitive) -> SimpleType {
        SimpleType {
            name,
            primitive,
            white_space: WhiteSpace::Collapse,
            length: None,
            min_length: None,
            max_length: None,
            total_digits: None,
            fraction_digits: None,
            min_inclusive: None,
            max_inclusive: None,
            min_exclusive: None,
            max_exclusive: None,
            patterns: &[],
            enumeration: &[],
        }
    }

    static TYPES: [SimpleType; 7] = [
        SimpleType {
            min_length: Some(1),
            max_length: Some(5),
            ..st("Text1to5", Primitive::String)
        },
        SimpleType {
            total_digits: Some(15),
            fraction_digits: Some(2),
            min_inclusive: Some("0"),
            ..st("Money", Primitive::Decimal)
        },
        SimpleType {
            total_digits: Some(2),
            min_inclusive: Some("0"),
            ..st("Int2", Primitive::Integer)
        },
        SimpleType {
            enumeration: &["0", "1"],
            ..st("PrNov", Primitive::Integer)
        },
        st("Date", Primitive::Date),
        SimpleType {
            patterns: &[r"\d{3}-\d{3}-\d{3} \d{2}"],
            ..st("Snils", Primitive::String)
        },
        SimpleType {
            primitive: Primitive::Union(&[4, 0]),
            ..st("DateOrText", Primitive::String)
        },
    ];

    static SCHEMA: Schema = Schema {
        name: "test",
        root: 0,
        elements: &[ElementDecl {
            name: "X",
            mandatory: true,
            content: Content::Simple(0),
        }],
        models: &[],
        simple_types: &TYPES,
        uniques: &[],
    };

    fn code(t: u16, v: &str) -> Option<u16> {
        let patterns = Patterns::compile(&SCHEMA).unwrap();
        check(&SCHEMA, &patterns, t, v).err().map(|e| e.code)
    }

    #[test]
    fn strings_count_characters_after_collapsing() {
        assert_eq!(
            code(0, "Иванъ"),
            None,
            "5 Cyrillic letters are 5 characters"
        );
        assert_eq!(code(0, "Иваныч"), Some(903));
        assert_eq!(code(0, "  ab  "), None);
        assert_eq!(code(0, "   "), Some(903), "blank collapses to empty");
    }

    #[test]
    fn decimals_are_exact() {
        for ok in ["115.09", "115.1", "115", "0", "0.00", "115.100", ".5", "5."] {
            assert_eq!(code(1, ok), None, "{ok}");
        }
        assert_eq!(code(1, "9999999999999999.99"), Some(903), "18 digits");
        assert_eq!(code(1, "1234567890123.45"), None, "15 digits");
        assert_eq!(code(1, "115.091"), Some(903));
        assert_eq!(code(1, "1e5"), Some(903));
        assert_eq!(code(1, "1,5"), Some(903));
        assert_eq!(code(1, "-0.01"), Some(904));
        assert_eq!(code(1, "-0.00"), None, "negative zero is zero");
    }

    #[test]
    fn integers_digits_bounds_and_enumerations_by_value() {
        assert_eq!(code(2, "04"), None, "leading zeros are not digits");
        assert_eq!(code(2, "100"), Some(903));
        assert_eq!(code(2, "1.0"), Some(903));
        assert_eq!(code(2, "-1"), Some(904));
        assert_eq!(code(3, "1"), None);
        assert_eq!(code(3, "01"), None);
        assert_eq!(code(3, "2"), Some(904));
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        assert_eq!(code(4, "2024-02-29"), None);
        assert_eq!(code(4, "2023-02-29"), Some(903));
        assert_eq!(code(4, "2021-02-31"), Some(903));
        assert_eq!(code(4, "2024-1-5"), Some(903));
        assert_eq!(code(4, "2024-01-05Z"), None);
        assert_eq!(code(4, "2024-01-05+03:00"), None);
        assert_eq!(code(4, "05.01.2024"), Some(903));
    }

    #[test]
    fn a_date_with_a_multibyte_character_at_byte_ten_is_refused() {
        // Found by fuzzing: `split_at(10)` inside the two bytes of '°' panicked.
        assert_eq!(code(4, "2026-01-2°0"), Some(903));
        assert_eq!(code(4, "2026-01-20°"), Some(903));
        assert_eq!(code(4, "2026-01-2Ж+03:00"), Some(903));
    }

    #[test]
    fn patterns_match_the_whole_value() {
        assert_eq!(code(5, "112-233-445 95"), None);
        assert_eq!(code(5, "x112-233-445 95"), Some(903));
        assert_eq!(code(5, "112-233-445 95 "), None, "collapsed first");
    }

    #[test]
    fn unions_accept_any_member() {
        assert_eq!(code(6, "2024-01-05"), None);
        assert_eq!(code(6, "abc"), None);
        assert_eq!(code(6, "abcdef"), Some(903));
    }

    #[test]
    fn keys_compare_by_value() {
        assert_eq!(
            canonical_key(&SCHEMA, 2, "01"),
            canonical_key(&SCHEMA, 2, "1")
        );
        assert_eq!(canonical_key(&SCHEMA, 1, "1.50"), "1.5");
        assert_eq!(canonical_key(&SCHEMA, 0, " a  b "), "a b");
    }
}
