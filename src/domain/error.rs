//! The one error type shared by every identifier and code of the domain: [`IdError`].
//!
//! It is returned by `parse` (and the generators) of [`Enp`](super::Enp), [`Snils`](super::Snils),
//! [`Ogrn`](super::Ogrn), [`Ogrnip`](super::Ogrnip), [`Inn`](super::Inn), the organisation and
//! territory codes, [`Sex`](super::Sex) and [`PersonName`](super::PersonName). Callers (intake,
//! validation, the API) turn it into findings or error bodies through [`IdError::code`] and the
//! `Display` message. No variant ever carries the rejected value itself: personal identifiers
//! and names must not reach logs or protocols through an error. Positions, lengths and check
//! digits are safe and are reported.

/// Why a text could not be parsed as an identifier or code.
///
/// Every variant names the identifier (`what`, e.g. `"ENP"`), and its message reads on its own,
/// e.g. `ENP: check digit is 7, expected 6 (Luhn over the first 15 digits)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing left after trimming (names) or an empty input.
    #[error("{what}: empty")]
    Empty {
        /// The identifier, e.g. `"person name"`.
        what: &'static str,
    },
    /// Wrong number of characters (or of digits, for SNILS, after removing separators).
    #[error("{what}: length is {found}, expected {expected}")]
    Length {
        /// The identifier, e.g. `"ENP"`.
        what: &'static str,
        /// The accepted length(s), e.g. `"16 digits"`, `"10 or 12 digits"`.
        expected: &'static str,
        /// The length found, counted in characters.
        found: usize,
    },
    /// A character that must be a digit is not one.
    #[error("{what}: character {position} is not a digit")]
    NotDigit {
        /// The identifier.
        what: &'static str,
        /// 1-based position of the character in the input, counted in characters.
        position: usize,
    },
    /// A character that is not allowed at all (control characters in names).
    #[error("{what}: character {position} is not allowed")]
    InvalidCharacter {
        /// The identifier.
        what: &'static str,
        /// 1-based position of the character in the input, counted in characters.
        position: usize,
    },
    /// The check digit(s) do not match the ones computed from the payload.
    #[error("{what}: check digit is {found}, expected {expected} ({rule})")]
    CheckDigit {
        /// The identifier.
        what: &'static str,
        /// The check digit(s) computed from the payload.
        expected: String,
        /// The check digit(s) present in the input.
        found: String,
        /// A short name of the algorithm, e.g. `"Luhn over the first 15 digits"`.
        rule: &'static str,
    },
    /// The ENP birth-date/sex facet (positions 3–10) differs from the one computed from the
    /// person's birth date and sex.
    #[error(
        "{what}: positions 3-10 (birth date and sex facet) do not match the given birth date and sex"
    )]
    FacetMismatch {
        /// The identifier (`"ENP"`).
        what: &'static str,
    },
    /// Well-formed but not an acceptable value (territory 00, serial out of range, ...).
    #[error("{what}: {reason}")]
    Invalid {
        /// The identifier.
        what: &'static str,
        /// Why the value is refused, without the value itself.
        reason: &'static str,
    },
}

impl IdError {
    /// A stable `snake_case` code for protocols and API error bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::Length { .. } => "invalid_length",
            Self::NotDigit { .. } => "not_a_digit",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::CheckDigit { .. } => "check_digit_mismatch",
            Self::FacetMismatch { .. } => "facet_mismatch",
            Self::Invalid { .. } => "invalid_value",
        }
    }

    /// The name of the identifier that was refused, e.g. `"ENP"`, `"SNILS"`, `"OGRN"`.
    #[must_use]
    pub fn what(&self) -> &'static str {
        match self {
            Self::Empty { what }
            | Self::Length { what, .. }
            | Self::NotDigit { what, .. }
            | Self::InvalidCharacter { what, .. }
            | Self::CheckDigit { what, .. }
            | Self::FacetMismatch { what }
            | Self::Invalid { what, .. } => what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdError;

    #[test]
    fn codes_are_stable_and_distinct() {
        let all = [
            IdError::Empty { what: "x" },
            IdError::Length {
                what: "x",
                expected: "2 digits",
                found: 3,
            },
            IdError::NotDigit {
                what: "x",
                position: 1,
            },
            IdError::InvalidCharacter {
                what: "x",
                position: 1,
            },
            IdError::CheckDigit {
                what: "x",
                expected: "1".into(),
                found: "2".into(),
                rule: "r",
            },
            IdError::FacetMismatch { what: "x" },
            IdError::Invalid {
                what: "x",
                reason: "r",
            },
        ];
        let codes: Vec<&str> = all.iter().map(IdError::code).collect();
        assert_eq!(
            codes,
            [
                "empty",
                "invalid_length",
                "not_a_digit",
                "invalid_character",
                "check_digit_mismatch",
                "facet_mismatch",
                "invalid_value"
            ]
        );
        assert!(all.iter().all(|e| e.what() == "x"));
    }

    #[test]
    fn messages_read_on_their_own() {
        let e = IdError::CheckDigit {
            what: "ENP",
            expected: "6".into(),
            found: "7".into(),
            rule: "Luhn over the first 15 digits",
        };
        assert_eq!(
            e.to_string(),
            "ENP: check digit is 7, expected 6 (Luhn over the first 15 digits)"
        );
        let e = IdError::Length {
            what: "INN",
            expected: "10 or 12 digits",
            found: 11,
        };
        assert_eq!(e.to_string(), "INN: length is 11, expected 10 or 12 digits");
        let e = IdError::NotDigit {
            what: "OGRN",
            position: 4,
        };
        assert_eq!(e.to_string(), "OGRN: character 4 is not a digit");
    }
}
