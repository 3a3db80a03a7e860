//! Configuration: the typed settings of the hub and the only place that reads the environment.
//!
//! Settings come from `config/default.toml` (built into the binary), then an optional file given
//! with `--config`, then environment variables `OMSHUB__SECTION__KEY`. Every struct denies
//! unknown fields and [`Settings::load`] validates the values, so a typo or a bad value stops
//! start-up with an error that names the key. `omshub check-config` prints
//! [`Settings::to_masked_toml`]. Called by `main.rs` and by the test harness.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

/// The defaults, exactly as shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variables that override settings (`OMSHUB__DATABASE__URL`).
pub const ENV_PREFIX: &str = "OMSHUB__";

/// The effective configuration of one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub nsi: NsiSettings,
    pub log: LogSettings,
    pub jobs: JobSettings,
    pub intake: IntakeSettings,
    pub mail: MailSettings,
    pub signature: SignatureSettings,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub json_limit_bytes: usize,
    /// The longest pause, in seconds, between two pieces of an upload's body; past it the
    /// upload is refused with `408 upload_timeout`.
    pub upload_idle_timeout_secs: u64,
    /// The longest, in seconds, a whole upload body may take to arrive (`408 upload_timeout`).
    pub upload_timeout_secs: u64,
    /// Uploads one sender may have arriving at once; more get `429 too_many_concurrent_uploads`.
    pub concurrent_uploads_per_sender: u32,
    /// The longest request target (path and query) the hub reads, in bytes; longer is
    /// `414 uri_too_long`. At most 65,534 (actix's own limit, answered without the envelope).
    pub max_uri_bytes: usize,
    /// The most bytes of header fields (names and values) the hub reads in one request; more is
    /// `431 headers_too_large`. At most 65,536 (actix stops reading a head at 128 KiB, answered
    /// without the envelope).
    pub max_header_bytes: usize,
    /// PEM file of the server certificate (and its chain); empty = plain HTTP.
    pub tls_certificate: String,
    /// PEM file of the server's private key; set together with `tls_certificate`.
    pub tls_key: String,
    /// PEM file of the CA certificates that issue client certificates; empty = no client
    /// certificates are asked for (bearer tokens only).
    pub tls_client_ca: String,
    /// Whether a client certificate is `optional` or `required` in the TLS handshake.
    pub tls_client_auth: ClientAuth,
}

impl ServerSettings {
    /// Whether the server speaks TLS.
    #[must_use]
    pub fn tls(&self) -> bool {
        !self.tls_certificate.is_empty()
    }
}

/// Whether the TLS server requires a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Asked for and verified when sent; a client without one may still use a bearer token.
    Optional,
    /// A handshake without a valid client certificate is refused.
    Required,
}

/// `[database]`: where the data lives.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_max_size: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
    pub migrate_on_start: bool,
    pub status_readers: u32,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &mask_url_password(&self.url))
            .field("pool_max_size", &self.pool_max_size)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("status_readers", &self.status_readers)
            .finish()
    }
}

/// `[auth]`: bearer tokens until participants are registered. Both are secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub admin_token: String,
    pub reader_tokens: Vec<String>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("admin_token", &mask_secret(&self.admin_token))
            .field(
                "reader_tokens",
                &self
                    .reader_tokens
                    .iter()
                    .map(|t| mask_secret(t))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Minimum length of a bearer token.
pub const MIN_TOKEN_LEN: usize = 24;

/// `[nsi]`: classifiers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NsiSettings {
    pub load_baseline: bool,
    pub refresh_secs: u64,
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[jobs]`: scheduled work inside `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub enabled: bool,
    pub db_maintenance_cron: String,
    pub erz_matching_cron: String,
}

/// `[intake]`: packages received, where they are kept, who checks them, and the limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub storage_dir: PathBuf,
    pub workers: usize,
    pub max_package_bytes: u64,
    pub max_entries: usize,
    pub max_uncompressed_bytes: u64,
    pub max_ratio: u64,
    pub max_findings: usize,
    pub business_rules: bool,
    pub uploads_per_minute: u32,
    pub inbox_dir: PathBuf,
    pub outbox_dir: PathBuf,
    pub inbox_poll_secs: u64,
}

/// `[mail]`: e-mail notices. `smtp_password` is a secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: String,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: MailSecurity,
    pub smtp_user: String,
    pub smtp_password: String,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("file_dir", &self.file_dir)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_password", &mask_secret(&self.smtp_password))
            .finish()
    }
}

/// How e-mail leaves the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// No e-mail.
    Off,
    /// One `.eml` file per message in `mail.file_dir`.
    File,
    /// An SMTP server.
    Smtp,
}

/// Encryption towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[signature]`: CMS signatures of packages and of what the hub sends (docs/SIGNATURES.md).
/// Paths are relative to the working directory; an empty path means "not set".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSettings {
    /// Trusted CA certificates: a PEM file (one or more certificates), a DER file, or a folder
    /// of such files.
    pub trust_store: PathBuf,
    /// Certificate revocation lists (PEM or DER files), read at start-up.
    pub crl: Vec<PathBuf>,
    /// Refuse a signer when no configured CRL covers a certificate of its chain.
    pub require_crl: bool,
    /// Largest content held in memory for a signature without signed attributes.
    pub max_in_memory_bytes: u64,
    /// The hub's signing certificate (PEM). Empty: the hub does not sign what it sends.
    pub hub_certificate: PathBuf,
    /// The hub's private key (unencrypted PEM). A secret file: keep it readable by the hub only.
    pub hub_key: PathBuf,
    /// Intermediate certificates (PEM) carried in the hub's signatures. May be empty.
    pub hub_chain: PathBuf,
    /// Signatures required per file kind (`H`, `T`, `C`, `D?`, `L`, `L?`, and [`OPLIST_KIND`]
    /// for an insurer's OPLIST sent as a package): a list of `sig` (`<file>.sig`), `BUH`, `ISP`,
    /// `DIR` (`<file>.BUH.SIG`…). A kind not listed needs none.
    pub required: BTreeMap<String, Vec<String>>,
}

/// The signature names `signature.required` lists.
pub const SIGNATURE_NAMES: [&str; 4] = ["sig", "BUH", "ISP", "DIR"];

/// The file kind of an insurer's OPLIST (`i….xml`) in `signature.required`.
pub const OPLIST_KIND: &str = "OPLIST";

impl SignatureSettings {
    /// The signatures required beside a file of `kind` (`H`, `LT`…), as listed in the
    /// configuration (`sig`, `BUH`, `ISP`, `DIR`); empty when none is required.
    #[must_use]
    pub fn required_for(&self, kind: &str) -> &[String] {
        self.required.get(kind).map_or(&[], Vec::as_slice)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: String| ConfigError::Invalid { key, problem };
        for (kind, names) in &self.required {
            if kind != OPLIST_KIND && crate::validate::kind_of(kind) != Some(kind.as_str()) {
                return Err(invalid(
                    "signature.required",
                    format!(
                        "has `{kind}`, which is not a file kind (H, T, C, D?, L, L?, \
                         {OPLIST_KIND})"
                    ),
                ));
            }
            for (i, name) in names.iter().enumerate() {
                if !SIGNATURE_NAMES.contains(&name.as_str()) {
                    return Err(invalid(
                        "signature.required",
                        format!(
                            "`{kind}` lists `{name}`; use {}",
                            SIGNATURE_NAMES.join(", ")
                        ),
                    ));
                }
                if names[..i].contains(name) {
                    return Err(invalid(
                        "signature.required",
                        format!("`{kind}` lists `{name}` twice"),
                    ));
                }
            }
        }
        let requires_any = self.required.values().any(|v| !v.is_empty());
        if self.trust_store.as_os_str().is_empty() {
            if requires_any {
                return Err(invalid(
                    "signature.trust_store",
                    "is empty, but signature.required asks for signatures".into(),
                ));
            }
        } else if !self.trust_store.exists() {
            return Err(invalid(
                "signature.trust_store",
                format!("names {}, which does not exist", self.trust_store.display()),
            ));
        }
        if let Some(missing) = self.crl.iter().find(|p| !p.is_file()) {
            return Err(invalid(
                "signature.crl",
                format!("names {}, which is not a file", missing.display()),
            ));
        }
        if self.require_crl && self.crl.is_empty() {
            return Err(invalid(
                "signature.require_crl",
                "is true, but signature.crl names no CRL".into(),
            ));
        }
        if self.max_in_memory_bytes == 0 {
            return Err(invalid(
                "signature.max_in_memory_bytes",
                "must be greater than 0".into(),
            ));
        }
        let set = |p: &PathBuf| !p.as_os_str().is_empty();
        match (set(&self.hub_certificate), set(&self.hub_key)) {
            (true, false) => {
                return Err(invalid(
                    "signature.hub_key",
                    "is empty, but signature.hub_certificate is set".into(),
                ));
            }
            (false, true) => {
                return Err(invalid(
                    "signature.hub_certificate",
                    "is empty, but signature.hub_key is set".into(),
                ));
            }
            _ => {}
        }
        if set(&self.hub_chain) && !set(&self.hub_certificate) {
            return Err(invalid(
                "signature.hub_chain",
                "is set, but signature.hub_certificate is empty".into(),
            ));
        }
        for (key, path) in [
            ("signature.hub_certificate", &self.hub_certificate),
            ("signature.hub_key", &self.hub_key),
            ("signature.hub_chain", &self.hub_chain),
        ] {
            if set(path) && !path.is_file() {
                return Err(invalid(
                    key,
                    format!("names {}, which is not a file", path.display()),
                ));
            }
        }
        Ok(())
    }
}

/// The database a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// Embedded SQLite: a file path, or `:memory:`.
    Sqlite(PathBuf),
    /// A PostgreSQL server: the full `postgres://` URL.
    Postgres(String),
}

impl DatabaseTarget {
    /// Reads `database.url`: a bare path or `sqlite://PATH` is SQLite, `postgres://` and
    /// `postgresql://` are PostgreSQL, any other scheme is refused.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("is empty; give a file path, sqlite://PATH or postgres://...".into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url::Url::parse(url).map_err(|e| format!("is not a valid PostgreSQL URL: {e}"))?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path after it".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!(
                "has the unsupported scheme `{scheme}`; use a file path, sqlite://PATH or postgres://..."
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(url)))
    }

    /// Short backend name for logs, metrics and `/health`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// A configuration that cannot be used, with the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A key has a value of the wrong type, an unknown key, or a file does not parse.
    #[error("{0}")]
    Parse(String),
    /// A value has the right type but is out of range or inconsistent.
    #[error("configuration key `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Settings {
    /// Loads the defaults, then `file` (if any), then the `OMSHUB__…` environment, and
    /// validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, Env::prefixed(ENV_PREFIX).split("__"))
    }

    /// Loads the defaults and `file` only, ignoring the environment (for tests and tools that
    /// must not be influenced by the caller's variables).
    pub fn load_without_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::extract(&Self::base_figment(file)?)
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        Self::extract(&Self::base_figment(file)?.merge(env))
    }

    fn base_figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment)
    }

    fn extract(figment: &Figment) -> Result<Self, ConfigError> {
        let settings: Self = figment.extract().map_err(|e| {
            ConfigError::Parse(
                e.into_iter()
                    .map(|one| describe_figment_error(&one))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that their types alone do not constrain.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: String| ConfigError::Invalid { key, problem };
        if self.server.bind.port() == 0 && self.server.bind.ip().is_unspecified() {
            return Err(invalid(
                "server.bind",
                "must name an address to listen on".into(),
            ));
        }
        if self.server.workers > 1024 {
            return Err(invalid(
                "server.workers",
                format!(
                    "is {}; use 0 (one per core) up to 1024",
                    self.server.workers
                ),
            ));
        }
        if self.server.shutdown_timeout_secs > 3600 {
            return Err(invalid(
                "server.shutdown_timeout_secs",
                "must be at most 3600 seconds".into(),
            ));
        }
        if self.server.json_limit_bytes == 0 {
            return Err(invalid(
                "server.json_limit_bytes",
                "must be greater than 0".into(),
            ));
        }
        self.validate_server_limits()?;
        self.validate_tls()?;
        DatabaseTarget::parse(&self.database.url).map_err(|p| invalid("database.url", p))?;
        if !(1..=512).contains(&self.database.pool_max_size) {
            return Err(invalid(
                "database.pool_max_size",
                format!("is {}; use 1 to 512", self.database.pool_max_size),
            ));
        }
        if !(1..=600).contains(&self.database.connect_timeout_secs) {
            return Err(invalid(
                "database.connect_timeout_secs",
                format!(
                    "is {}; use 1 to 600 seconds",
                    self.database.connect_timeout_secs
                ),
            ));
        }
        if !self.auth.admin_token.is_empty() && self.auth.admin_token.len() < MIN_TOKEN_LEN {
            return Err(invalid(
                "auth.admin_token",
                format!("is shorter than {MIN_TOKEN_LEN} characters"),
            ));
        }
        if self
            .auth
            .reader_tokens
            .iter()
            .any(|t| t.len() < MIN_TOKEN_LEN)
        {
            return Err(invalid(
                "auth.reader_tokens",
                format!("holds a token shorter than {MIN_TOKEN_LEN} characters"),
            ));
        }
        if !(1..=3600).contains(&self.nsi.refresh_secs) {
            return Err(invalid(
                "nsi.refresh_secs",
                format!("is {}; use 1 to 3600 seconds", self.nsi.refresh_secs),
            ));
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(&self.log.level)
            .map_err(|e| invalid("log.level", format!("is not a level or filter: {e}")))?;
        crate::jobs::validate_schedule(&self.jobs.db_maintenance_cron)
            .map_err(|e| invalid("jobs.db_maintenance_cron", e))?;
        if !self.jobs.erz_matching_cron.is_empty() {
            crate::jobs::validate_schedule(&self.jobs.erz_matching_cron)
                .map_err(|e| invalid("jobs.erz_matching_cron", e))?;
        }
        self.signature.validate()?;
        self.validate_intake()
    }

    fn validate_intake(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: String| ConfigError::Invalid { key, problem };
        let intake = &self.intake;
        if intake.storage_dir.as_os_str().is_empty() {
            return Err(invalid(
                "intake.storage_dir",
                "is empty; name the folder packages are kept in".into(),
            ));
        }
        if !(1..=64).contains(&intake.workers) {
            return Err(invalid(
                "intake.workers",
                format!("is {}; use 1 to 64", intake.workers),
            ));
        }
        if intake.max_package_bytes < 1024 {
            return Err(invalid(
                "intake.max_package_bytes",
                "must be at least 1024".into(),
            ));
        }
        if intake.max_entries == 0 || intake.max_ratio == 0 || intake.max_findings == 0 {
            let key = if intake.max_entries == 0 {
                "intake.max_entries"
            } else if intake.max_ratio == 0 {
                "intake.max_ratio"
            } else {
                "intake.max_findings"
            };
            return Err(invalid(key, "must be greater than 0".into()));
        }
        if intake.uploads_per_minute == 0 {
            return Err(invalid(
                "intake.uploads_per_minute",
                "must be greater than 0".into(),
            ));
        }
        if intake.inbox_dir.as_os_str().is_empty() != intake.outbox_dir.as_os_str().is_empty() {
            return Err(invalid(
                "intake.outbox_dir",
                "must be set together with intake.inbox_dir (both or neither)".into(),
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                format!("`{}` is not an e-mail address", self.mail.from),
            ));
        }
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp_host.trim().is_empty() {
            return Err(invalid(
                "mail.smtp_host",
                "is empty; the smtp transport needs a server".into(),
            ));
        }
        if !(1..=3600).contains(&intake.inbox_poll_secs) {
            return Err(invalid(
                "intake.inbox_poll_secs",
                format!("is {}; use 1 to 3600 seconds", intake.inbox_poll_secs),
            ));
        }
        Ok(())
    }

    /// The limits of `[server]` on uploads and request heads.
    fn validate_server_limits(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: String| ConfigError::Invalid { key, problem };
        for (key, secs) in [
            (
                "server.upload_idle_timeout_secs",
                self.server.upload_idle_timeout_secs,
            ),
            (
                "server.upload_timeout_secs",
                self.server.upload_timeout_secs,
            ),
        ] {
            if !(1..=86_400).contains(&secs) {
                return Err(invalid(key, format!("is {secs}; use 1 to 86400 seconds")));
            }
        }
        if !(256..=65_534).contains(&self.server.max_uri_bytes) {
            return Err(invalid(
                "server.max_uri_bytes",
                format!("is {}; use 256 to 65534", self.server.max_uri_bytes),
            ));
        }
        if !(1024..=65_536).contains(&self.server.max_header_bytes) {
            return Err(invalid(
                "server.max_header_bytes",
                format!("is {}; use 1024 to 65536", self.server.max_header_bytes),
            ));
        }
        if self.server.concurrent_uploads_per_sender == 0 {
            return Err(invalid(
                "server.concurrent_uploads_per_sender",
                "must be greater than 0".into(),
            ));
        }
        Ok(())
    }

    /// The TLS keys go together: a key with its certificate, client CAs and a required client
    /// certificate only on a TLS server, a required client certificate only with client CAs.
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let invalid = |key: &'static str, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.to_owned(),
        };
        if s.tls_certificate.is_empty() != s.tls_key.is_empty() {
            return Err(invalid(
                if s.tls_key.is_empty() {
                    "server.tls_key"
                } else {
                    "server.tls_certificate"
                },
                "must be set together with the other of server.tls_certificate and server.tls_key",
            ));
        }
        if !s.tls_client_ca.is_empty() && !s.tls() {
            return Err(invalid(
                "server.tls_client_ca",
                "needs server.tls_certificate and server.tls_key (client certificates need TLS)",
            ));
        }
        if s.tls_client_auth == ClientAuth::Required && s.tls_client_ca.is_empty() {
            return Err(invalid(
                "server.tls_client_auth",
                "is \"required\" but server.tls_client_ca names no CA to verify client certificates",
            ));
        }
        Ok(())
    }

    /// The database this configuration selects (validated at load time).
    pub fn database_target(&self) -> Result<DatabaseTarget, ConfigError> {
        DatabaseTarget::parse(&self.database.url).map_err(|problem| ConfigError::Invalid {
            key: "database.url",
            problem,
        })
    }

    /// The effective configuration as TOML, with passwords and other secrets replaced by `****`.
    pub fn to_masked_toml(&self) -> Result<String, toml::ser::Error> {
        let mut masked = self.clone();
        masked.database.url = mask_url_password(&masked.database.url);
        masked.auth.admin_token = mask_secret(&masked.auth.admin_token);
        masked.mail.smtp_password = mask_secret(&masked.mail.smtp_password);
        masked.auth.reader_tokens = masked
            .auth
            .reader_tokens
            .iter()
            .map(|t| mask_secret(t))
            .collect();
        toml::to_string_pretty(&masked)
    }
}

/// `****` for a set secret, the empty string for an unset one.
#[must_use]
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        "****".to_owned()
    }
}

/// Replaces the password of a URL (`postgres://user:secret@host/db`) by `****`; anything that is
/// not a URL with a password is returned unchanged.
#[must_use]
pub fn mask_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            if parsed.set_password(Some("****")).is_ok() {
                parsed.to_string()
            } else {
                "****".to_owned()
            }
        }
        _ => raw.to_owned(),
    }
}

/// One figment error as a sentence naming the dotted key and where the value came from.
fn describe_figment_error(error: &figment::Error) -> String {
    use figment::error::Kind;
    let path = error.path.join(".");
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {src})"),
            None if m.name.contains("environment") && !path.is_empty() => format!(
                " (from environment variable {ENV_PREFIX}{})",
                path.to_uppercase().replace('.', "__")
            ),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    match &error.kind {
        Kind::UnknownField(field, _) => {
            format!(
                "unknown configuration key `{}`{source}",
                join_key(&path, field)
            )
        }
        Kind::MissingField(field) => {
            format!(
                "missing configuration key `{}`{source}",
                join_key(&path, field)
            )
        }
        other => {
            if path.is_empty() {
                format!("configuration error: {other}{source}")
            } else {
                format!("configuration key `{path}`: {other}{source}")
            }
        }
    }
}

/// The dotted key of `field` under `path` (figment sometimes already ends the path with it).
fn join_key(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else if path == field || path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let s = Settings::load_without_env(None).unwrap();
        assert_eq!(s.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            s.database_target().unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("data/omshub.sqlite3"))
        );
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn database_url_schemes() {
        assert_eq!(
            DatabaseTarget::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            DatabaseTarget::parse("postgresql://u@h/db")
                .unwrap()
                .backend_name(),
            "postgres"
        );
        let err = DatabaseTarget::parse("mysql://root@localhost/x").unwrap_err();
        assert!(err.contains("`mysql`"), "{err}");
        assert!(DatabaseTarget::parse("").is_err());
        assert!(DatabaseTarget::parse("sqlite://").is_err());
    }

    #[test]
    fn password_is_masked() {
        assert_eq!(
            mask_url_password("postgres://omshub:s3cret@db.example/omshub"),
            "postgres://omshub:****@db.example/omshub"
        );
        assert_eq!(
            mask_url_password("data/omshub.sqlite3"),
            "data/omshub.sqlite3"
        );
        let mut s = Settings::load_without_env(None).unwrap();
        s.database.url = "postgres://omshub:s3cret@db.example/omshub".into();
        let shown = s.to_masked_toml().unwrap();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!format!("{s:?}").contains("s3cret"));
        s.auth.admin_token = "admin-token-admin-token-01".into();
        s.auth.reader_tokens = vec!["reader-token-reader-token-1".into()];
        let shown = s.to_masked_toml().unwrap();
        assert!(!shown.contains("admin-token-admin"), "{shown}");
        assert!(!shown.contains("reader-token-reader"), "{shown}");
        assert!(!format!("{s:?}").contains("admin-token-admin"));
    }

    #[test]
    fn short_tokens_are_refused() {
        let err = load_from("[auth]\nadmin_token = \"short\"\n").unwrap_err();
        assert!(err.to_string().contains("`auth.admin_token`"), "{err}");
        let err = load_from("[auth]\nreader_tokens = [\"short\"]\n").unwrap_err();
        assert!(err.to_string().contains("`auth.reader_tokens`"), "{err}");
    }

    fn load_from(toml: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omshub.toml");
        std::fs::write(&path, toml).unwrap();
        Settings::load_without_env(Some(&path))
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load_from("[server]\nbnd = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("`server.bnd`"), "{err}");
        let err = load_from("[smtp]\nhost = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("`smtp`"), "{err}");
        let err = load_from("[mail]\nhost = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("`mail.host`"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = load_from("[server]\nbind = \"not an address\"\n").unwrap_err();
        assert!(err.to_string().contains("`server.bind`"), "{err}");
        let err = load_from("[database]\npool_max_size = 0\n").unwrap_err();
        assert!(
            err.to_string().contains("`database.pool_max_size`"),
            "{err}"
        );
        let err = load_from("[database]\nurl = \"mysql://x\"\n").unwrap_err();
        assert!(err.to_string().contains("`database.url`"), "{err}");
        let err = load_from("[log]\nformat = \"xml\"\n").unwrap_err();
        assert!(err.to_string().contains("`log.format`"), "{err}");
        let err = load_from("[jobs]\ndb_maintenance_cron = \"every day\"\n").unwrap_err();
        assert!(
            err.to_string().contains("`jobs.db_maintenance_cron`"),
            "{err}"
        );
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure type is fixed by figment"
    )]
    fn environment_overrides_file_and_names_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "[server]\nbind = \"127.0.0.1:9000\"\n")?;
            jail.set_env("OMSHUB__SERVER__BIND", "127.0.0.1:9100");
            jail.set_env(
                "OMSHUB__DATABASE__URL",
                "postgres://postgres@127.0.0.1/omshub",
            );
            let s = Settings::load(Some(Path::new("f.toml"))).unwrap();
            assert_eq!(s.server.bind.port(), 9100);
            assert_eq!(s.database_target().unwrap().backend_name(), "postgres");
            jail.set_env("OMSHUB__DATABASE__POOL_MAX_SIZE", "many");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("`database.pool_max_size`"), "{err}");
            assert!(err.contains("OMSHUB__"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn tls_keys_go_together() {
        let err = load_from("[server]\ntls_certificate = \"server.pem\"\n").unwrap_err();
        assert!(err.to_string().contains("`server.tls_key`"), "{err}");
        let err = load_from("[server]\ntls_client_ca = \"ca.pem\"\n").unwrap_err();
        assert!(err.to_string().contains("`server.tls_client_ca`"), "{err}");
        let err = load_from(
            "[server]\ntls_certificate = \"s.pem\"\ntls_key = \"k.pem\"\ntls_client_auth = \"required\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`server.tls_client_auth`"),
            "{err}"
        );
        let err = load_from("[server]\ntls_client_auth = \"sometimes\"\n").unwrap_err();
        assert!(
            err.to_string().contains("`server.tls_client_auth`"),
            "{err}"
        );
        let s = load_from(
            "[server]\ntls_certificate = \"s.pem\"\ntls_key = \"k.pem\"\ntls_client_ca = \"ca.pem\"\ntls_client_auth = \"required\"\n",
        )
        .unwrap();
        assert!(s.server.tls());
        assert_eq!(s.server.tls_client_auth, ClientAuth::Required);
        assert!(!Settings::load_without_env(None).unwrap().server.tls());
    }

    #[test]
    fn signature_defaults_require_nothing() {
        let s = Settings::load_without_env(None).unwrap();
        assert!(s.signature.required.is_empty());
        assert!(s.signature.required_for("H").is_empty());
        assert!(s.signature.hub_certificate.as_os_str().is_empty());
    }

    #[test]
    fn signature_settings_are_checked_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let ca = ca.display().to_string();
        for (toml, key) in [
            (
                "[signature.required]\nH = [\"sig\"]\n",
                "`signature.trust_store`",
            ),
            (
                "[signature]\ntrust_store = \"/nonexistent/ca.pem\"\n",
                "`signature.trust_store`",
            ),
            (
                "[signature.required]\nX = [\"sig\"]\n",
                "`signature.required`",
            ),
            (
                "[signature.required]\nOPLISTS = [\"sig\"]\n",
                "`signature.required`",
            ),
            (
                "[signature.required]\nH = [\"BUX\"]\n",
                "`signature.required`",
            ),
            (
                "[signature.required]\nH = [\"sig\", \"sig\"]\n",
                "`signature.required`",
            ),
            (
                "[signature]\ncrl = [\"/nonexistent.crl\"]\n",
                "`signature.crl`",
            ),
            (
                "[signature]\nrequire_crl = true\n",
                "`signature.require_crl`",
            ),
            (
                "[signature]\nhub_certificate = \"/nonexistent.pem\"\n",
                "`signature.hub_key`",
            ),
            (
                "[signature]\nhub_key = \"/nonexistent.pem\"\n",
                "`signature.hub_certificate`",
            ),
            (
                "[signature]\nhub_certificate = \"/nonexistent.pem\"\nhub_key = \"/n.pem\"\n",
                "`signature.hub_certificate`",
            ),
            (
                "[signature]\nmax_in_memory_bytes = 0\n",
                "`signature.max_in_memory_bytes`",
            ),
            ("[signature]\ntrustore = \"x\"\n", "`signature.trustore`"),
        ] {
            let err = load_from(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        let ok = format!(
            "[signature]\ntrust_store = \"{ca}\"\n[signature.required]\nH = [\"sig\"]\nL = [\"BUH\", \"DIR\"]\nOPLIST = [\"sig\"]\n"
        );
        let s = load_from(&ok).unwrap();
        assert_eq!(s.signature.required_for("H"), ["sig"]);
        assert_eq!(s.signature.required_for(OPLIST_KIND), ["sig"]);
        assert_eq!(s.signature.required_for("L"), ["BUH", "DIR"]);
        assert!(s.signature.required_for("T").is_empty());
    }

    #[test]
    fn missing_file_is_refused() {
        let err =
            Settings::load_without_env(Some(Path::new("/nonexistent/omshub.toml"))).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }
}
