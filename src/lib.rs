//! omshub: the federal data-exchange hub of Russia's compulsory medical insurance (ОМС).
//!
//! Territorial funds, insurers and clinics send signed XML packages; the hub checks them against
//! the federal formats, keeps the unified registers and runs settlement and reporting. This
//! library holds every layer; `main.rs` is only the command line. See `docs/ARCHITECTURE.md`
//! for the code map and the invariants.

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod erz;
pub mod r#gen;
pub mod imports;
pub mod intake;
pub mod jobs;
pub mod lookups;
pub mod notify;
pub mod nsi;
pub mod participants;
pub mod registers;
pub mod settlement;
pub mod signature;
pub mod telemetry;
pub mod validate;
pub mod xml;
