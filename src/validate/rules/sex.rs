//! Diagnoses of one sex (rule 003K.00.0630): the ICD-10 blocks that only a man or only a woman
//! can have. M001 as the hub stores it has no sex column, so the blocks are the hub's table,
//! taken from the chapters of ICD-10 (docs/RULES.md); a code outside them fits either sex.

use crate::domain::Sex;

/// ICD-10 ranges (first three characters, both ends inclusive) and the sex they belong to.
const BLOCKS: &[(&str, &str, Sex)] = &[
    // Malignant neoplasms of the female genital organs; of the male genital organs.
    ("C51", "C58", Sex::Female),
    ("C60", "C63", Sex::Male),
    // Benign neoplasms of the female genital organs (D25-D28); of the male ones (D29).
    ("D25", "D28", Sex::Female),
    ("D29", "D29", Sex::Male),
    // Neoplasms of uncertain behaviour: female genital organs (D39), male (D40).
    ("D39", "D39", Sex::Female),
    ("D40", "D40", Sex::Male),
    // Diseases of the male genital organs.
    ("N40", "N51", Sex::Male),
    // Inflammatory and other diseases of the female pelvic and genital organs.
    ("N70", "N98", Sex::Female),
    // Pregnancy, childbirth and the puerperium.
    ("O00", "O99", Sex::Female),
];

/// The sex a diagnosis `code` (`N40`, `N95.1`) belongs to, if it belongs to one.
#[must_use]
pub fn only_for(code: &str) -> Option<Sex> {
    let head = code.get(..3)?.to_ascii_uppercase();
    BLOCKS
        .iter()
        .find(|(from, to, _)| *from <= head.as_str() && head.as_str() <= *to)
        .map(|(_, _, sex)| *sex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        assert_eq!(only_for("N40"), Some(Sex::Male));
        assert_eq!(only_for("n51.8"), Some(Sex::Male));
        assert_eq!(only_for("N95.1"), Some(Sex::Female));
        assert_eq!(only_for("O80.0"), Some(Sex::Female));
        assert_eq!(only_for("C61"), Some(Sex::Male));
        assert_eq!(only_for("J06.9"), None);
        assert_eq!(only_for("N39.0"), None);
        assert_eq!(only_for("N6"), None);
    }
}
