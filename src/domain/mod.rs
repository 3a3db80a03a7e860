//! Domain value types of the OMS exchange: personal identifiers (ENP, SNILS), organisation
//! identifiers (OGRN, OGRNIP, INN), territory and organisation codes, the territory table,
//! sex and name parts, money, exact decimals and reporting periods.
//!
//! Every other module builds on these types. They follow "parse, don't validate": a value
//! exists only if `T::parse` (or a documented generator) accepted it, fields are private, and
//! `Display`, `FromStr` and serde all use the canonical text form. This module imports nothing
//! from the rest of the crate and does no I/O. Personal values (ENP, SNILS, names) never
//! appear in `Debug` output or in errors. See `docs/IDENTIFIERS.md`.

/// Implements `FromStr` (delegating to `parse`), `Serialize` (the `Display` text) and
/// `Deserialize` (a string, through `parse`) for a domain type; with `newtype`, also `as_str`
/// and `Display` for a type that keeps its canonical text.
///
/// A non-string input is refused with a fixed message: serde's own "invalid type" errors
/// would quote a number, and an ENP or SNILS sent as a JSON number must not reach a log.
macro_rules! text_value {
    // A newtype over its canonical `String`: also `as_str` and a `Display` that writes it.
    ($ty:ident, $err:ty, newtype) => {
        impl $ty {
            /// The canonical text form.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        text_value!($ty, $err);
    };
    ($ty:ty, $err:ty) => {
        impl ::std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                deserializer.deserialize_any(super::TextVisitor::<$ty>::new(|text| {
                    <$ty>::parse(text).map_err(|e| e.to_string())
                }))
            }
        }
    };
}

mod check;
mod codes;
mod decimal;
mod enp;
mod error;
mod inn;
mod money;
mod ogrn;
mod period;
mod person;
mod snils;
mod territory;
mod text;

use text::TextVisitor;

pub use codes::{InsurerCode, MoCode, Okato, TfomsCode};
pub use decimal::{Decimal, DecimalError};
pub use enp::Enp;
pub use error::IdError;
pub use inn::{Inn, InnKind};
pub use money::{Money, MoneyError};
pub use ogrn::{Ogrn, Ogrnip};
pub use period::{Period, PeriodError};
pub use person::{PersonName, Sex};
pub use snils::Snils;
pub use territory::{Territory, territories, territory, territory_by_okato};
