//! Why one OP of an OPLIST is refused: [`OpError`], one variant per reason, each with a stable
//! `snake_case` code (the REPLIST COMMENT starts with it), the error code of the ERZ channel
//! (formats.md 2.4: 102 data type, 103 table value not found, 204 unknown key, 205 duplicate
//! key, 206 record locked, 207 internal) that the `FLK_P` carries as OSHIB, and the element
//! and parent it names. Messages never carry personal values (the domain errors do not).

use chrono::NaiveDate;

use crate::domain::IdError;

/// A refused operation (answered AE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// PERSON/SS is not a valid SNILS.
    #[error("{0}")]
    BadSnils(IdError),
    /// INSURANCE/ENP (or `OLD_ENP`) is not a valid ENP.
    #[error("{0}")]
    BadEnp(IdError),
    /// The ENP's birth-date/sex facet is not the person's.
    #[error("ENP: positions 3-10 do not match the person's birth date and sex")]
    EnpFacetMismatch,
    /// The sending insurer is not in the register F002.
    #[error("insurer {code} is not in the register of insurers (F002)")]
    UnknownInsurer {
        /// SMOCOD.
        code: String,
    },
    /// The sending insurer is registered but not active on the date of the operation.
    #[error("insurer {code} is not active on {on}")]
    InsurerInactive {
        /// SMOCOD.
        code: String,
        /// The date of the operation.
        on: NaiveDate,
    },
    /// OGRNSMO is not the OGRN of the sending insurer.
    #[error("OGRNSMO is not the OGRN of insurer {code}")]
    InsurerOgrnMismatch {
        /// SMOCOD.
        code: String,
    },
    /// `TER_ST` is not the OKATO of a known territory.
    #[error("TER_ST is not the OKATO of a known territory")]
    UnknownTerritory,
    /// POLIS dates out of order (DEND or DSTOP before DBEG).
    #[error("POLIS/{element} is before POLIS/DBEG")]
    DatesOutOfOrder {
        /// DEND or DSTOP.
        element: &'static str,
    },
    /// The operation needs the person's ENP and the OP has none.
    #[error("TIP_OP {tip_op} needs INSURANCE/ENP of a registered person")]
    EnpRequired {
        /// The operation.
        tip_op: u8,
    },
    /// No person with that ENP is registered.
    #[error("no insured person with this ENP is registered")]
    UnknownPerson,
    /// A first registration for an ENP already registered.
    #[error("a person with this ENP is already registered")]
    AlreadyRegistered,
    /// A first registration of a person whose SNILS is already registered to someone.
    #[error("a person with this SNILS is already registered")]
    DuplicateSnils,
    /// The person is insured by another insurer on that date.
    #[error("the person is insured by insurer {current} on {on}, not by the sender")]
    NotCurrentInsurer {
        /// The insurer of record.
        current: String,
        /// The date.
        on: NaiveDate,
    },
    /// A change of insurer to the insurer already of record.
    #[error("the person is already insured by the sender on {on}")]
    SameInsurer {
        /// The date.
        on: NaiveDate,
    },
    /// A re-issue for a person without insurance on that date.
    #[error("the person has no insurance on {on} to re-issue")]
    NotInsured {
        /// The date.
        on: NaiveDate,
    },
    /// A policy (`TIP_OP` 6, 7, 8) starting after the death date on record.
    #[error("the person's death is on record before the policy start (DBEG)")]
    PersonDeceased,
    /// An annulment (`TIP_OP` 2) naming an ENP merged into another person: the survivor is
    /// not annulled for an old duplicate, and the merged record stays as it is.
    #[error(
        "the person with this ENP was merged into another; an annulment must name the ENP of the record that remains"
    )]
    PersonMerged,
    /// Every serial of the person's ENP facet is taken.
    #[error("no ENP serial left for this birth date and sex in territory {territory}")]
    EnpSerialsExhausted {
        /// The issuing territory.
        territory: String,
    },
}

impl OpError {
    /// The stable code (REPLIST COMMENT, `erz_op.reason`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSnils(_) => "snils_invalid",
            Self::BadEnp(_) => "enp_invalid",
            Self::EnpFacetMismatch => "enp_facet_mismatch",
            Self::UnknownInsurer { .. } => "unknown_insurer",
            Self::InsurerInactive { .. } => "insurer_inactive",
            Self::InsurerOgrnMismatch { .. } => "insurer_ogrn_mismatch",
            Self::UnknownTerritory => "unknown_territory",
            Self::DatesOutOfOrder { .. } => "dates_out_of_order",
            Self::EnpRequired { .. } => "enp_required",
            Self::UnknownPerson => "unknown_person",
            Self::AlreadyRegistered => "already_registered",
            Self::DuplicateSnils => "duplicate_snils",
            Self::NotCurrentInsurer { .. } => "not_current_insurer",
            Self::SameInsurer { .. } => "same_insurer",
            Self::NotInsured { .. } => "not_insured",
            Self::PersonDeceased => "person_deceased",
            Self::PersonMerged => "person_merged",
            Self::EnpSerialsExhausted { .. } => "enp_serials_exhausted",
        }
    }

    /// The error code of the ERZ channel (formats.md 2.4), the `FLK_P` OSHIB.
    #[must_use]
    pub fn channel_code(&self) -> u16 {
        match self {
            Self::BadSnils(_)
            | Self::BadEnp(_)
            | Self::EnpFacetMismatch
            | Self::DatesOutOfOrder { .. } => 102,
            Self::UnknownInsurer { .. }
            | Self::InsurerInactive { .. }
            | Self::InsurerOgrnMismatch { .. }
            | Self::UnknownTerritory => 103,
            Self::EnpRequired { .. } | Self::UnknownPerson | Self::NotInsured { .. } => 204,
            Self::AlreadyRegistered | Self::DuplicateSnils => 205,
            Self::NotCurrentInsurer { .. }
            | Self::SameInsurer { .. }
            | Self::PersonDeceased
            | Self::PersonMerged => 206,
            Self::EnpSerialsExhausted { .. } => 207,
        }
    }

    /// The element named (`IM_POL`) and its parent (`BAS_EL`).
    #[must_use]
    pub fn element(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadSnils(_) | Self::DuplicateSnils => ("SS", "PERSON"),
            Self::BadEnp(_)
            | Self::EnpFacetMismatch
            | Self::EnpRequired { .. }
            | Self::UnknownPerson
            | Self::AlreadyRegistered
            | Self::PersonMerged
            | Self::EnpSerialsExhausted { .. } => ("ENP", "INSURANCE"),
            Self::UnknownInsurer { .. }
            | Self::InsurerInactive { .. }
            | Self::NotCurrentInsurer { .. }
            | Self::SameInsurer { .. } => ("SMOCOD", "OPLIST"),
            Self::InsurerOgrnMismatch { .. } => ("OGRNSMO", "INSURANCE"),
            Self::UnknownTerritory => ("TER_ST", "INSURANCE"),
            Self::DatesOutOfOrder { element } => (element, "POLIS"),
            Self::NotInsured { .. } => ("POLIS", "INSURANCE"),
            Self::PersonDeceased => ("DBEG", "POLIS"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_channel_codes_are_those_of_formats_2_4() {
        let on = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        let id = IdError::Empty { what: "x" };
        let all = [
            OpError::BadSnils(id.clone()),
            OpError::BadEnp(id),
            OpError::EnpFacetMismatch,
            OpError::UnknownInsurer { code: "1".into() },
            OpError::InsurerInactive {
                code: "1".into(),
                on,
            },
            OpError::InsurerOgrnMismatch { code: "1".into() },
            OpError::UnknownTerritory,
            OpError::DatesOutOfOrder { element: "DEND" },
            OpError::EnpRequired { tip_op: 4 },
            OpError::UnknownPerson,
            OpError::AlreadyRegistered,
            OpError::DuplicateSnils,
            OpError::NotCurrentInsurer {
                current: "1".into(),
                on,
            },
            OpError::SameInsurer { on },
            OpError::NotInsured { on },
            OpError::PersonDeceased,
            OpError::PersonMerged,
            OpError::EnpSerialsExhausted {
                territory: "34".into(),
            },
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(OpError::code).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!([102, 103, 204, 205, 206, 207].contains(&e.channel_code()));
            assert!(e.code().len() + e.to_string().len() < 240, "fits COMMENT");
        }
    }
}
