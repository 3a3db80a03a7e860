//! Fuzz target `package`: arbitrary bytes as a ZIP package of exchange files.
//!
//! `validate::package::check_package` opens the bytes as `HM750096T75_2601001.zip` with small
//! limits (entries, uncompressed bytes, ratio) and checks the inner files it finds, then the
//! package's `FLK_P` protocols are written. It must not panic, must not fail on an in-memory
//! source, and an accepted package has no finding. Memory is held by the limits (a ZIP header
//! can lie about sizes); `-rss_limit_mb` catches what they miss.

#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omshub::validate::Validator;
use omshub::validate::package::{PackageLimits, check_package};
use omshub::validate::schema::Limits;

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        Validator::new(omshub::xml::schemas::ALL).expect("the built-in schemas compile")
    })
}

/// Small limits, so that inputs of a few KiB reach every one of them.
#[expect(
    clippy::needless_update,
    reason = "a field Limits gains later takes its default instead of breaking the build"
)]
fn limits() -> PackageLimits {
    PackageLimits {
        max_package_bytes: 1 << 20,
        max_entries: 8,
        max_uncompressed_bytes: 4 << 20,
        max_ratio: 200,
        ratio_applies_above: 64 << 10,
        file: Limits {
            max_findings: 8,
            max_text: 128,
            max_depth: 12,
            max_event: 1024,
            pipelined: false,
            ..Limits::default()
        },
        ..PackageLimits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = limits();
    let report = check_package(
        validator(),
        "HM750096T75_2601001.zip",
        Cursor::new(data),
        &limits,
    )
    .expect("reading a slice cannot fail");
    if report.accepted {
        assert!(report.findings.is_empty());
        assert!(report.files.iter().all(|f| f.accepted));
    }
    assert!(!report.protocols().is_empty());
});
