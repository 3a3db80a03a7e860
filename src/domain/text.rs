//! The serde visitor behind the `Deserialize` of every domain type: it accepts a string and
//! hands it to the type's `parse`, and refuses every other input without quoting it.
//!
//! Private to `domain`; used only by the `text_value!` macro of `mod.rs`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, Visitor};

/// The message for a non-string input; it never contains the input.
const NOT_A_STRING: &str = "expected a string";

/// Deserializes a string through `parse`, refusing numbers, booleans, sequences and maps.
pub(super) struct TextVisitor<T> {
    parse: fn(&str) -> Result<T, String>,
    marker: PhantomData<T>,
}

impl<T> TextVisitor<T> {
    pub(super) fn new(parse: fn(&str) -> Result<T, String>) -> Self {
        Self {
            parse,
            marker: PhantomData,
        }
    }
}

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_i128<E: Error>(self, _: i128) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_u128<E: Error>(self, _: u128) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<T, E> {
        Err(E::custom(NOT_A_STRING))
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{Enp, Money, Snils};

    #[test]
    fn non_strings_are_refused_without_echo() {
        for json in [
            "5054910832000016",
            "5.054910832000016e15",
            "-5054910832000016",
            "true",
        ] {
            let e = serde_json::from_str::<Enp>(json).unwrap_err().to_string();
            assert!(e.starts_with("expected a string"), "{e}");
            assert!(!e.contains("505491083"), "{e}");
        }
        let e = serde_json::from_str::<Snils>("11223344595")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("112233"), "{e}");
        assert!(serde_json::from_str::<Money>("1.5").is_err());
        assert!(serde_json::from_str::<Enp>("[\"5054910832000016\"]").is_err());
        assert!(serde_json::from_str::<Enp>("{}").is_err());
    }

    #[test]
    fn strings_go_through_parse() {
        let enp: Enp = serde_json::from_str("\"5054910832000016\"").unwrap();
        assert_eq!(enp.as_str(), "5054910832000016");
        // Escaped strings arrive owned and are parsed the same way.
        let enp: Enp = serde_json::from_str("\"\\u0035054910832000016\"").unwrap();
        assert_eq!(enp.as_str(), "5054910832000016");
    }
}
