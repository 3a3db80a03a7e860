//! Logging set-up: one `tracing` subscriber for the process, text or JSON, filtered by
//! `log.level`. Called once by `main.rs`; tests do not install it.
//!
//! Personal data never reaches a log: the domain types mask themselves in `Debug`, and
//! handlers log identifiers of packages and organisations, never of persons.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber writing to standard error. Fails if one is already set.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::builder().parse(&settings.level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    }
    .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// An error and all its causes on one line, `outer: cause: root cause`, for logs and the CLI.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
