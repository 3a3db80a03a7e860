//! Fuzz target `validate`: arbitrary bytes checked as a whole exchange file.
//!
//! The first byte picks the file name (so the schema choice by name prefix, root and
//! `ZGLV/VERSION` is reached for every family), the rest is the file. `records::read` checks it
//! (`Validator::check_file` with the typed-record builders as the sink) with small limits, once
//! on one thread and once on two (`Limits::pipelined`). It must not panic, must not fail on an
//! in-memory source, the report must keep to the limits, and both runs must give the same
//! report, summary and records.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omshub::validate::records::{self, Item, Summary};
use omshub::validate::schema::Limits;
use omshub::validate::{FileReport, Validator};

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

/// Small limits, so that inputs of a few KiB reach every one of them.
#[expect(
    clippy::needless_update,
    reason = "a field Limits gains later takes its default instead of breaking the build"
)]
fn limits(pipelined: bool) -> Limits {
    Limits {
        max_findings: 8,
        max_text: 128,
        max_depth: 12,
        max_event: 1024,
        pipelined,
        ..Limits::default()
    }
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        Validator::new(omshub::xml::schemas::ALL).expect("the built-in schemas compile")
    })
}

/// Checks `file` as `name` and builds its typed records; asserts what must hold of any report.
fn read(name: &str, file: &[u8], pipelined: bool) -> (FileReport, Summary, Vec<Item>) {
    let limits = limits(pipelined);
    let mut items = Vec::new();
    let (report, summary) = records::read(validator(), name, file, limits, |item| items.push(item))
        .expect("reading a slice cannot fail");
    assert!(report.findings.len() <= limits.max_findings);
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
    (report, summary, items)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let one = read(name, file, false);
    let two = read(name, file, true);
    assert_eq!(
        format!("{:?}", one.0),
        format!("{:?}", two.0),
        "one thread and two give different reports"
    );
    assert_eq!(one.1, two.1, "one thread and two give different summaries");
    assert!(one.2 == two.2, "one thread and two give different records");
});
