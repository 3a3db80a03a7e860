//! The unified register of insured persons (ЕРЗ, единый регистр застрахованных лиц): persons,
//! their documents, addresses, insurance episodes and clinic attachments, each kept with two
//! kinds of time (valid time: from when a fact is true; record time: when the hub learned it
//! and when a later operation replaced it), so "who insured this person on D, as known at T"
//! has an answer and history is never overwritten.
//!
//! - `refusal`: [`OpError`], why one OP of an OPLIST is refused, with its stable code and the
//!   error code of the ERZ channel (formats.md 2.4).
//! - `repo`: the only writer of the `erz_*` tables: bitemporal rows, ENP issuance
//!   (a counter row per territory and facet), the operations journal, the audit of queries.
//! - `apply`: `omshub erz apply FILE`: an OPLIST checked by the schema validator, its typed
//!   records applied one by one (each OP atomically), answered by a REPLIST and an `FLK_P`;
//!   idempotent by file name and content.
//! - `reply`: the writers of the REPLIST and of the ERZ `FLK_P`.
//! - `import`: `omshub erz import FILE`: the bulk load of an initial register from a CSV file or
//!   a RECLIST, checked row by row, written in batches, resumable by its journal.
//! - `status`: the policy status of a person on a date (as known now or at a time), with the
//!   audit row of every query.
//! - `status_batch`: the policy status of concurrent requests read in one statement
//!   (`omshub serve` on PostgreSQL).
//! - `lists`: RECLIST, STOPLIST and CONFLICTLIST for an insurer to download.
//! - `care`: the care cases billed for a person, from accepted packages.
//! - `audit`: the batched writer of the policy-status audit that `omshub serve` uses (rows
//!   committed every 50 ms, flushed on shutdown).
//! - `names`: the normal form of names for look-ups and duplicate matching.
//! - `snapshot`: the register in memory for the business rules (`rules::PolicyLookup`), kept
//!   in `Lookups` and rebuilt when the register's revision moves.
//! - `matching`: duplicate matching (`omshub erz match`): blocking, scoring with `strsim`,
//!   a sure pair linked, a possible one queued; reviewers' decisions are never overridden.
//! - `review`: the review queue, reviewers' decisions (final), merge and unmerge.
//! - `cli`: `omshub erz …`.
//!
//! Called by `main.rs` (the commands), `api::erz` (the policy status, the lists, the care)
//! and `api::erz_review` (the review queue). Reads insurers through `registers`; never writes
//! them. See docs/ERZ.md.

pub mod apply;
pub mod audit;
pub mod care;
pub mod cli;
pub mod import;
pub mod lists;
pub mod matching;
pub mod names;
pub mod refusal;
pub mod reply;
pub mod repo;
pub mod review;
pub mod snapshot;
pub mod status;
pub mod status_batch;

pub use apply::{ApplyError, FileResult, apply_path};
pub use refusal::OpError;
pub use status::{PolicyStatus, StatusError, StatusKey, policy_status};
