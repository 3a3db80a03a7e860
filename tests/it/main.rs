//! The one integration-test binary. Every test runs the real app or the real binary against a
//! fresh database of the backend `OMSHUB_TEST_BACKEND` picks; the README's test command runs the
//! whole binary once per backend.

#[cfg(test)]
mod cli;
#[cfg(test)]
mod db;
#[cfg(test)]
mod erz;
#[cfg(test)]
mod erz_import;
#[cfg(test)]
mod erz_lists;
#[cfg(test)]
mod erz_matching;
#[cfg(test)]
mod r#gen;
#[cfg(test)]
mod holes_api;
#[cfg(test)]
mod holes_money;
#[cfg(test)]
mod holes_validate;
#[cfg(test)]
mod http;
#[cfg(test)]
mod intake;
#[cfg(test)]
mod intake_oplist;
#[cfg(test)]
mod intake_rules;
#[cfg(test)]
mod intake_signatures;
#[cfg(test)]
mod notify;
#[cfg(test)]
mod nsi;
#[cfg(test)]
mod package;
#[cfg(test)]
mod participants;
#[cfg(test)]
mod records;
#[cfg(test)]
mod registers;
#[cfg(test)]
mod rules;
#[cfg(test)]
mod schemas;
#[cfg(test)]
mod signature;
#[cfg(test)]
mod support;
#[cfg(test)]
mod tidy;
#[cfg(test)]
mod validate;
