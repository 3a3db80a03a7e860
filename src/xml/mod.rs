//! XML plumbing shared by the validators and writers: the decoding, position-counting byte
//! stream (`reader`) and the validation tables compiled from `schemas/` (`tables`).
//!
//! Called by `validate` (schema checks) and, later, by intake and the protocol writers.

pub mod reader;
pub mod schemas;
pub mod tables;
