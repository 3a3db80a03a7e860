//! The embedded baseline classifiers (`fixtures/nsi/*.xml`, see docs/NSI-BASELINE.md): built
//! into the binary and loaded for every classifier the store does not have yet, so a fresh
//! install validates offline. An operator's official packets, imported later, extend them.
//!
//! Called by `serve` and `migrate` (when `nsi.load_baseline` is on) and by tests.

use super::store::{self, ImportRequest, NsiError};
use crate::db::DbConn;
use crate::imports::FileSummary;

/// Who the baseline's imports are recorded as.
pub const BASELINE_IMPORTER: &str = "baseline";

/// The baseline packet files, by name.
pub const FILES: &[(&str, &[u8])] = &[
    ("F005.xml", include_bytes!("../../fixtures/nsi/F005.xml")),
    ("F006.xml", include_bytes!("../../fixtures/nsi/F006.xml")),
    ("F007.xml", include_bytes!("../../fixtures/nsi/F007.xml")),
    ("F008.xml", include_bytes!("../../fixtures/nsi/F008.xml")),
    ("F009.xml", include_bytes!("../../fixtures/nsi/F009.xml")),
    ("F010.xml", include_bytes!("../../fixtures/nsi/F010.xml")),
    ("F011.xml", include_bytes!("../../fixtures/nsi/F011.xml")),
    ("F012.xml", include_bytes!("../../fixtures/nsi/F012.xml")),
    ("F014.xml", include_bytes!("../../fixtures/nsi/F014.xml")),
    ("F015.xml", include_bytes!("../../fixtures/nsi/F015.xml")),
    ("V005.xml", include_bytes!("../../fixtures/nsi/V005.xml")),
    ("V006.xml", include_bytes!("../../fixtures/nsi/V006.xml")),
    ("V008.xml", include_bytes!("../../fixtures/nsi/V008.xml")),
    ("V009.xml", include_bytes!("../../fixtures/nsi/V009.xml")),
    ("V010.xml", include_bytes!("../../fixtures/nsi/V010.xml")),
    ("V012.xml", include_bytes!("../../fixtures/nsi/V012.xml")),
    ("V014.xml", include_bytes!("../../fixtures/nsi/V014.xml")),
];

/// Imports each baseline file whose classifier the store does not hold yet; returns what each
/// import did (nothing for a store that has them all).
pub fn load_missing(conn: &mut DbConn) -> Result<Vec<FileSummary>, NsiError> {
    let mut done = Vec::new();
    for (name, bytes) in FILES {
        let id = name.trim_end_matches(".xml");
        if store::has_classifier(conn, id)? {
            continue;
        }
        let summary = store::import_packet(
            conn,
            ImportRequest {
                bytes,
                source: name,
                classifier: Some(id),
                dry_run: false,
                by: BASELINE_IMPORTER,
                progress: None,
            },
        )?;
        done.push(summary);
    }
    Ok(done)
}
