//! What the store knows about each classifier before reading it: its id, title, key and name
//! columns, and the other names its packets use in `zglv/type`.
//!
//! A packet of a classifier missing from this table is still imported when its id is known
//! (from `--classifier`, `zglv/type` or the file name): the key is then the first column of an
//! entry and the name the first column whose name says so (`…NAME`, `NAIM`, `Opis`).

/// One known classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// Identifier as ФФОМС publishes it (`V006`).
    pub id: &'static str,
    /// What it classifies.
    pub title: &'static str,
    /// Column holding the code.
    pub key_field: &'static str,
    /// Column holding the name.
    pub name_field: &'static str,
    /// Other values of `zglv/type` that mean this classifier.
    pub aliases: &'static [&'static str],
}

const fn def(
    id: &'static str,
    title: &'static str,
    key_field: &'static str,
    name_field: &'static str,
    aliases: &'static [&'static str],
) -> Definition {
    Definition {
        id,
        title,
        key_field,
        name_field,
        aliases,
    }
}

/// The classifiers the hub knows by name (formats.md section 5; the column names marked
/// (inferred) in docs/NSI-BASELINE.md are the hub's choice).
pub const DEFINITIONS: &[Definition] = &[
    def("F005", "payment status (OPLATA)", "IDIDST", "STNAME", &[]),
    def(
        "F006",
        "kind of control (S_TIP)",
        "IDVID",
        "VIDNAME",
        &["VidExp"],
    ),
    def(
        "F007",
        "departmental affiliation of a clinic",
        "IDVED",
        "VEDNAME",
        &[],
    ),
    def(
        "F008",
        "type of insurance document (VPOLIS)",
        "IDDOC",
        "DOCNAME",
        &[],
    ),
    def(
        "F009",
        "status of the insured person",
        "IDSTATUS",
        "STATUSNAME",
        &[],
    ),
    def(
        "F010",
        "subjects of the Russian Federation",
        "KOD_TF",
        "SUBNAME",
        &[],
    ),
    def(
        "F011",
        "types of identity document",
        "IDDoc",
        "DocName",
        &[],
    ),
    def("F012", "format-logical control errors", "Kod", "Opis", &[]),
    def(
        "F014",
        "reasons for refusal and sanctions",
        "Kod",
        "Naim",
        &[],
    ),
    def("F015", "federal districts", "KOD_OK", "OKRNAME", &[]),
    def(
        "V001",
        "nomenclature of medical services",
        "IDRB",
        "RBNAME",
        &[],
    ),
    def("V002", "care profiles", "IDPR", "PRNAME", &[]),
    def("V005", "sex", "IDPOL", "POLNAME", &[]),
    def("V006", "care setting (USL_OK)", "IDUMP", "UMPNAME", &[]),
    def("V008", "kind of care (VIDPOM)", "IDVMP", "VMPNAME", &[]),
    def(
        "V009",
        "result of the visit (RSLT)",
        "IDRMP",
        "RMPNAME",
        &[],
    ),
    def("V010", "payment method (IDSP)", "IDSP", "SPNAME", &[]),
    def(
        "V012",
        "outcome of the disease (ISHOD)",
        "IDIZ",
        "IZNAME",
        &[],
    ),
    def(
        "V014",
        "form of care (FOR_POM)",
        "IDFRMMP",
        "FRMMPNAME",
        &[],
    ),
    def("V016", "screening types (DISP)", "IDDT", "DTNAME", &[]),
    def(
        "V021",
        "medical specialties (PRVS)",
        "IDSPEC",
        "SPECNAME",
        &[],
    ),
    def(
        "V023",
        "diagnosis-related groups (KSG)",
        "K_KSG",
        "N_KSG",
        &["KSG"],
    ),
    def("V025", "purpose of the visit (P_CEL)", "IDPC", "N_PC", &[]),
    def(
        "V027",
        "character of the disease (C_ZAB)",
        "IDCZ",
        "N_CZ",
        &[],
    ),
    def("M001", "ICD-10 diagnoses", "IDDS", "DSNAME", &[]),
];

/// The definition of `id_or_alias`: an id (`V006`, any case) or a `zglv/type` alias.
#[must_use]
pub fn find(id_or_alias: &str) -> Option<&'static Definition> {
    let wanted = id_or_alias.trim();
    DEFINITIONS.iter().find(|d| {
        d.id.eq_ignore_ascii_case(wanted)
            || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(wanted))
    })
}

/// Whether `s` has the form of a classifier id: a letter and three digits (`F003`, `V006`,
/// `Q015`, `M001`, `N001`).
#[must_use]
pub fn looks_like_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4 && b[0].is_ascii_alphabetic() && b[1..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<_> = DEFINITIONS.iter().map(|d| d.id).collect();
        assert!(ids.iter().all(|id| looks_like_id(id)));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFINITIONS.len());
    }

    #[test]
    fn aliases_and_case() {
        assert_eq!(find("VidExp").map(|d| d.id), Some("F006"));
        assert_eq!(find("v006").map(|d| d.id), Some("V006"));
        assert_eq!(find("KSG").map(|d| d.id), Some("V023"));
        assert!(find("X999").is_none());
        assert!(!looks_like_id("V06"));
        assert!(!looks_like_id("1006"));
    }
}
