//! Compiles the XSDs of `schemas/` into validation tables at build time
//! (`$OUT_DIR/schemas.rs`, included by `src/xml/schemas.rs`) with `src/xml/compile.rs`, which
//! reads them through xsd-parser. A schema the tables cannot express fails the build, except
//! the ones listed in `NOT_COMPILED` with their reason (schemas/README.md explains each).

#[path = "src/xml/compile.rs"]
mod compile;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Schemas deliberately left out of the tables, with the reason.
const NOT_COMPILED: &[(&str, &str)] = &[
    (
        "nsi/1.0/packet.xsd",
        "open content (xs:any): classifier packets are checked by nsi::packet and the importer",
    ),
    (
        "nsi/1.0/register-packet.xsd",
        "open content (xs:any) and attributes: register packets are checked by the registers importer",
    ),
];

fn main() {
    let dir = Path::new("schemas");
    println!("cargo::rerun-if-changed=schemas");
    println!("cargo::rerun-if-changed=src/xml/compile.rs");
    let files = match compile::list_schema_files(dir) {
        Ok(files) => files,
        Err(e) => panic!("cannot list the schemas: {e}"),
    };
    let mut out = String::new();
    let mut idents = Vec::new();
    for rel in &files {
        if NOT_COMPILED.iter().any(|(name, _)| name == rel) {
            continue;
        }
        let ident = compile::static_ident(rel);
        match compile::compile_schema(dir, rel, &ident) {
            Ok(code) => {
                out.push_str(&code);
                idents.push(ident);
            }
            Err(e) => panic!("schemas/{rel} cannot be compiled into validation tables: {e}"),
        }
    }
    out.push_str("/// Every compiled schema.\npub static ALL: &[&Schema] = &[");
    for ident in &idents {
        let _ = write!(out, "&{ident}, ");
    }
    out.push_str("];\n");
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        panic!("cargo did not set OUT_DIR");
    };
    if let Err(e) = std::fs::write(PathBuf::from(out_dir).join("schemas.rs"), out) {
        panic!("cannot write the generated schemas: {e}");
    }
}
