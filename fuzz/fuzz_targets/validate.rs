//! Fuzz target `validate`: arbitrary bytes checked as a whole exchange file.
//!
//! The first byte picks the file name (so the schema choice by name prefix, root and
//! `ZGLV/VERSION` is reached for every family), the rest is the file. `Validator::check_file`
//! runs with small limits (so that inputs of a few KiB reach every limit); it must not panic,
//! must not fail on an in-memory source, and its report must keep to the limits.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omshub::validate::Validator;
use omshub::validate::schema::Limits;

/// Names of real exchange files: accounts H/T/C/DP, personal data L/LT, protocols V…,
/// ERZ files, a classifier packet.
const NAMES: &[&str] = &[
    "HM750096T75_2601001.xml",
    "LM750096T75_2601001.xml",
    "TM750096T75_2104001.xml",
    "CM750096T75_2104001.xml",
    "DPM750096T75_2109001.xml",
    "LTM750096T75_2104001.xml",
    "VHM750096T75_2601001.xml",
    "p75001_75_01261.xml",
    "F003_medCompany.xml",
];

const LIMITS: Limits = Limits {
    max_findings: 8,
    max_text: 128,
    max_depth: 12,
    max_event: 1024,
};

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        Validator::new(omshub::xml::schemas::ALL).expect("the built-in schemas compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let report = validator()
        .check_file(name, file, LIMITS)
        .expect("reading a slice cannot fail");
    assert!(report.findings.len() <= LIMITS.max_findings);
    assert!(report.refused_records <= report.records);
    assert_eq!(
        report.accepted,
        report.findings.is_empty() && report.findings_dropped == 0
    );
    for f in &report.findings {
        assert!((901..=905).contains(&f.code), "code {}", f.code);
        assert!(f.line >= 1 && f.column >= 1);
        assert!(f.value.as_ref().is_none_or(|v| v.chars().count() <= 100));
    }
});
