//! What importing a packet file did, entry by entry, in the openIMIS style: inserted, updated,
//! unchanged, or rejected with the reason and the entry's position; and the progress bar of
//! long imports.
//!
//! Shared by the classifier store (`nsi`) and the registers; printed by the CLI and returned
//! by the admin API.

use std::fmt::{self, Write as _};

use serde::Serialize;

/// What happened to one accepted entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New to the hub.
    Inserted,
    /// Known, and changed: the previous version stays in the history.
    Updated,
    /// Known and identical: nothing was written.
    Unchanged,
}

/// One entry that was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// 1-based line of the entry's start tag in the file.
    pub line: usize,
    /// The entry's key (code), when it could be read.
    pub key: Option<String>,
    /// Stable snake_case reason code.
    pub code: &'static str,
    /// The reason, for people.
    pub message: String,
}

/// The result of importing one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// The file as named on the command line or upload.
    pub file: String,
    /// What it was imported into (`V006`, `insurers`, …).
    pub target: String,
    /// Nothing was written: the counts say what would have happened.
    pub dry_run: bool,
    /// Entries new to the hub.
    pub inserted: usize,
    /// Entries changed.
    pub updated: usize,
    /// Entries already identical.
    pub unchanged: usize,
    /// Entries refused, with position and reason.
    pub rejected: Vec<Rejection>,
}

impl FileSummary {
    /// An empty summary for `file` imported into `target`.
    #[must_use]
    pub fn new(file: impl Into<String>, target: impl Into<String>, dry_run: bool) -> Self {
        Self {
            file: file.into(),
            target: target.into(),
            dry_run,
            ..Self::default()
        }
    }

    /// Counts one accepted entry.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Inserted => self.inserted += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    /// Records one refused entry.
    pub fn reject(
        &mut self,
        line: usize,
        key: Option<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.rejected.push(Rejection {
            line,
            key,
            code,
            message: message.into(),
        });
    }

    /// Whether the file changed anything (or would have, in a dry run).
    #[must_use]
    pub fn changed(&self) -> bool {
        self.inserted + self.updated > 0
    }
}

impl fmt::Display for FileSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!(
            "{} -> {}{}: {} inserted, {} updated, {} unchanged, {} rejected",
            self.file,
            self.target,
            if self.dry_run {
                " (dry run, nothing written)"
            } else {
                ""
            },
            self.inserted,
            self.updated,
            self.unchanged,
            self.rejected.len()
        );
        for r in &self.rejected {
            let key = r
                .key
                .as_deref()
                .map(|k| format!(" {k}"))
                .unwrap_or_default();
            let _ = write!(out, "\n  line {}{key}: [{}] {}", r.line, r.code, r.message);
        }
        f.write_str(&out)
    }
}

/// What an import command did with one file.
#[derive(Debug)]
pub enum FileResult {
    /// Imported (possibly with rejected entries).
    Imported(FileSummary),
    /// Refused as a whole.
    Refused {
        /// The file.
        file: String,
        /// Stable snake_case code.
        code: &'static str,
        /// Why.
        message: String,
    },
}

/// Exit status of an import that applied some entries and rejected others.
pub const EXIT_PARTIAL: u8 = 3;

/// Prints the results of an import command, as text (a summary line per file and a line per
/// rejected entry) or as one JSON array, and returns its exit status: 0 everything applied,
/// 3 some entries rejected, 1 a file refused as a whole.
pub fn report(results: &[FileResult], json: bool) -> Result<u8, serde_json::Error> {
    let (mut refused, mut rejected) = (false, false);
    let mut out = Vec::new();
    for result in results {
        match result {
            FileResult::Imported(summary) => {
                rejected |= !summary.rejected.is_empty();
                if json {
                    out.push(serde_json::to_value(summary)?);
                } else {
                    println!("{summary}");
                }
            }
            FileResult::Refused {
                file,
                code,
                message,
            } => {
                refused = true;
                if json {
                    out.push(serde_json::json!({"file": file, "error": code, "message": message}));
                } else {
                    println!("{file}: refused [{code}] {message}");
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(if refused {
        1
    } else if rejected {
        EXIT_PARTIAL
    } else {
        0
    })
}

/// A progress bar on standard error, drawn only when it is a terminal.
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    /// A bar for `total` entries of `what`.
    #[must_use]
    pub fn new(total: u64, what: &str) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} entries ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Self(bar)
    }

    /// Sets the number of entries once it is known.
    pub fn set_length(&self, total: usize) {
        self.0.set_length(u64::try_from(total).unwrap_or(u64::MAX));
    }

    /// One more entry done.
    pub fn inc(&self) {
        self.0.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_renders() {
        let mut s = FileSummary::new("F002.xml", "insurers", false);
        s.record(Outcome::Inserted);
        s.record(Outcome::Unchanged);
        s.reject(
            12,
            Some("75002".into()),
            "invalid_ogrn",
            "OGRN: check digit is 1, expected 3",
        );
        assert!(s.changed());
        let text = s.to_string();
        assert!(
            text.starts_with(
                "F002.xml -> insurers: 1 inserted, 0 updated, 1 unchanged, 1 rejected"
            )
        );
        assert!(text.contains("line 12 75002: [invalid_ogrn] OGRN: check digit"));
    }
}
