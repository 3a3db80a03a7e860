//! Tidy checks: the architecture invariants of docs/ARCHITECTURE.md, read from the source.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

/// Source lines that are code, not comments.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn violations(files: &[PathBuf], bad: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        for (n, line) in code_lines(file) {
            if bad(&line) {
                found.push(format!("{}:{n}: {}", rel(file), line.trim()));
            }
        }
    }
    found
}

#[test]
fn domain_imports_nothing_from_the_crate() {
    let files = rust_files(&root().join("src/domain"));
    assert!(!files.is_empty(), "src/domain is missing");
    let found = violations(&files, |l| {
        l.contains("crate::") && !l.contains("crate::domain")
    });
    assert!(
        found.is_empty(),
        "domain must not import the crate:\n{}",
        found.join("\n")
    );
}

#[test]
fn nothing_imports_api() {
    let files: Vec<PathBuf> = rust_files(&root().join("src"))
        .into_iter()
        .filter(|f| !f.starts_with(root().join("src/api")) && !f.ends_with("src/main.rs"))
        .collect();
    let found = violations(&files, |l| {
        l.contains("crate::api") || l.contains("omshub::api")
    });
    assert!(
        found.is_empty(),
        "only main.rs may use api:\n{}",
        found.join("\n")
    );
}

#[test]
fn validate_never_touches_the_database() {
    let files = rust_files(&root().join("src/validate"));
    let found = violations(&files, |l| l.contains("crate::db") || l.contains("diesel"));
    assert!(
        found.is_empty(),
        "validate takes look-up traits, not the database:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_config_reads_the_environment() {
    let files: Vec<PathBuf> = rust_files(&root().join("src"))
        .into_iter()
        .filter(|f| !f.ends_with("src/config.rs"))
        .collect();
    let found = violations(&files, |l| {
        l.contains("env::var") || l.contains("Env::prefixed") || l.contains("env::vars")
    });
    assert!(
        found.is_empty(),
        "read settings through config.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_allow_attributes() {
    let mut files = rust_files(&root().join("src"));
    files.extend(rust_files(&root().join("tests")));
    let (outer, inner) = (concat!("#[", "allow("), concat!("#![", "allow("));
    let found = violations(&files, |l| l.contains(outer) || l.contains(inner));
    assert!(
        found.is_empty(),
        "write #[expect(lint, reason = ..)]:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_opens_with_a_doc_paragraph() {
    let mut missing = Vec::new();
    for file in rust_files(&root().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            missing.push(rel(&file));
        }
    }
    assert!(
        missing.is_empty(),
        "start these with a //! paragraph: {missing:?}"
    );
}

#[test]
fn migration_directories_match_between_dialects() {
    let list = |dialect: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root().join("migrations").join(dialect))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = list("sqlite");
    let postgres = list("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must have the same names"
    );
    for dialect in ["sqlite", "postgres"] {
        for name in &sqlite {
            for file in ["up.sql", "down.sql"] {
                let path = root()
                    .join("migrations")
                    .join(dialect)
                    .join(name)
                    .join(file);
                assert!(path.is_file(), "{} is missing", rel(&path));
            }
        }
    }
}
