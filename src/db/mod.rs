//! Database layer: the connection enum over SQLite and PostgreSQL, the r2d2 pool, the embedded
//! migrations and the generated `schema.rs`.
//!
//! Everything that differs between the two dialects lives here or in a register's repository,
//! as an explicit `match` on [`DbConn`]. The pool builds each connection from the URL scheme
//! itself (diesel's `MultiConnection::establish` would try both backends and hide libpq's real
//! error), applies the SQLite PRAGMAs to every new SQLite connection, and switches a new SQLite
//! file to WAL once before the pool opens. Called by the CLI (`migrate`), by `api::server` and
//! by the services of later layers.

pub mod migrations;
pub mod schema;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::config::{DatabaseSettings, DatabaseTarget};

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend `$conn` holds,
/// compiling the body once per backend. For the statements diesel's `MultiConnection` cannot
/// compile through the enum: multi-row inserts and upserts.
///
/// ```ignore
/// per_backend!(conn, |c| diesel::insert_into(t::table).values(&rows).execute(c))?;
/// ```
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// One database connection, to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL, the production backend.
    Pg(PgConnection),
    /// Embedded SQLite, the default for a single machine.
    Sqlite(SqliteConnection),
}

/// Runs `f` in a transaction that holds the database's write lock from its first statement:
/// on SQLite `BEGIN IMMEDIATE`, so a second writer waits on the busy handler
/// (`database.sqlite_busy_timeout_ms`) instead of failing with "database is locked" when it
/// would upgrade a read transaction; on PostgreSQL an ordinary transaction (its writers wait on
/// row locks). For a transaction that reads and then writes what it read (the queue's claim,
/// the final duplicate check of a package).
pub fn write_transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConn::Pg(_) => conn.transaction(f),
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => {
                    <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(e) => {
                    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
                    Err(e)
                }
            }
        }
    }
}

/// Inside a transaction: waits for, then holds until the transaction ends, the lock named
/// `key` of the namespace `space`. PostgreSQL: `pg_advisory_xact_lock(space, key)`. SQLite:
/// nothing, because a [`write_transaction`] already holds the one write lock of the file.
pub fn lock_in_transaction(conn: &mut DbConn, space: i32, key: i32) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::Integer;
    match conn {
        DbConn::Pg(c) => diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<Integer, _>(space)
            .bind::<Integer, _>(key)
            .execute(c)
            .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Which backend a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Short name used in logs, metrics and `/health`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A connection borrowed from the pool.
pub type PooledConn = r2d2::PooledConnection<ConnManager>;

/// Failures of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The configuration names no usable database.
    #[error("database.url {0}")]
    Target(String),
    /// A connection could not be opened.
    #[error("cannot connect to the {backend} database")]
    Connect {
        backend: &'static str,
        #[source]
        source: ConnectionError,
    },
    /// No connection became free in time, or none could be opened.
    #[error("no database connection available")]
    Pool(#[from] r2d2::Error),
    /// A statement failed.
    #[error("database statement failed")]
    Query(#[from] diesel::result::Error),
    /// Applying or reverting migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A file-system step (creating the SQLite directory) failed.
    #[error("cannot prepare the SQLite file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Opens connections for the pool from the configured target.
#[derive(Debug, Clone)]
pub struct ConnManager {
    target: DatabaseTarget,
    sqlite_busy_timeout_ms: u32,
}

impl ConnManager {
    fn establish(&self) -> Result<DbConn, DbError> {
        match &self.target {
            DatabaseTarget::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(&path.to_string_lossy()).map_err(|source| {
                        DbError::Connect {
                            backend: "sqlite",
                            source,
                        }
                    })?;
                // Every SQLite connection: enforce foreign keys, write-ahead log, wait for
                // locks instead of failing, fsync at checkpoints only (safe with WAL). No
                // memory map: SQLite unmaps it on every read that follows another connection's
                // write, and the server writes (the status audit) while it reads, so a map cost
                // more in page-table work than it saved in copies (docs/PERFORMANCE.md).
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
                     PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = 0;",
                    self.sqlite_busy_timeout_ms
                ))?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseTarget::Postgres(url) => {
                PgConnection::establish(url)
                    .map(DbConn::Pg)
                    .map_err(|source| DbError::Connect {
                        backend: "postgres",
                        source,
                    })
            }
        }
    }
}

/// Error type the pool reports for [`ConnManager`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ManagerError(Box<DbError>);

impl r2d2::ManageConnection for ConnManager {
    type Connection = DbConn;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConn, ManagerError> {
        self.establish().map_err(|e| ManagerError(Box::new(e)))
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ManagerError> {
        conn.ping()
            .map_err(|e| ManagerError(Box::new(DbError::Query(e))))
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// Sends the pool's connection failures to `tracing` instead of the `log` crate.
#[derive(Debug)]
struct TracingErrorHandler;

impl r2d2::HandleError<ManagerError> for TracingErrorHandler {
    fn handle_error(&self, error: ManagerError) {
        tracing::warn!(
            error = %crate::telemetry::error_chain(&error),
            "database connection failed"
        );
    }
}

/// The pool and the backend it serves. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<ConnManager>,
    backend: Backend,
    /// Opens connections outside the pool ([`Database::dedicated`]).
    manager: ConnManager,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.pool.state();
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("connections", &state.connections)
            .field("idle", &state.idle_connections)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Prepares the target and opens the pool. For SQLite it creates the file's directory and
    /// switches the file to WAL once; the pool itself connects lazily, so an unreachable
    /// PostgreSQL server is reported by [`Database::ping`] (and `/health`) rather than here.
    pub fn open(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let target = DatabaseTarget::parse(&settings.url).map_err(DbError::Target)?;
        let manager = ConnManager {
            target: target.clone(),
            sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        };
        let backend = match &target {
            DatabaseTarget::Sqlite(path) => {
                prepare_sqlite_file(path)?;
                // Switch to WAL on one connection before the pool opens several at once:
                // concurrent first connections race on the journal-mode change.
                drop(manager.establish()?);
                Backend::Sqlite
            }
            DatabaseTarget::Postgres(_) => Backend::Postgres,
        };
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_max_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .error_handler(Box::new(TracingErrorHandler))
            .build_unchecked(manager.clone());
        Ok(Self {
            pool,
            backend,
            manager,
        })
    }

    /// The backend behind this pool.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Borrows a connection, waiting at most `database.connect_timeout_secs`.
    pub fn conn(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Opens a connection outside the pool, set up as the pool's are, for a thread that keeps
    /// one for its whole life (`erz::status_batch`).
    pub fn dedicated(&self) -> Result<DbConn, DbError> {
        self.manager.establish()
    }

    /// Checks that the database answers a trivial statement.
    pub fn ping(&self) -> Result<(), DbError> {
        self.conn()?.ping()?;
        Ok(())
    }

    /// Open and idle connections of the pool, for metrics.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Housekeeping run by the scheduled job: SQLite refreshes its planner statistics and
    /// truncates the write-ahead log; PostgreSQL refreshes statistics with `ANALYZE`.
    pub fn maintenance(&self) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        match &mut *conn {
            DbConn::Sqlite(c) => {
                c.batch_execute("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")?;
            }
            DbConn::Pg(c) => c.batch_execute("ANALYZE")?,
        }
        Ok(())
    }
}

fn prepare_sqlite_file(path: &Path) -> Result<(), DbError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Opens one connection outside the pool, so that a server that is down or a database that does
/// not exist is reported at once with the server's own words (the pool would retry until its
/// timeout). `serve` calls it before checking the schema.
pub fn check_reachable(settings: &DatabaseSettings) -> Result<(), DbError> {
    let target = DatabaseTarget::parse(&settings.url).map_err(DbError::Target)?;
    let manager = ConnManager {
        target,
        sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
    };
    manager.establish().map(drop)
}

/// Creates the PostgreSQL database named in `url` if the server says it does not exist, by
/// connecting to the `postgres` maintenance database of the same server. Returns whether it was
/// created. SQLite targets need nothing (the file is created on first connection).
pub fn create_database_if_missing(target: &DatabaseTarget) -> Result<bool, DbError> {
    let DatabaseTarget::Postgres(url) = target else {
        return Ok(false);
    };
    match PgConnection::establish(url) {
        Ok(_) => Ok(false),
        Err(ConnectionError::BadConnection(msg)) if msg.contains("does not exist") => {
            let mut parsed =
                url::Url::parse(url).map_err(|e| DbError::Target(format!("is invalid: {e}")))?;
            let name = parsed.path().trim_start_matches('/').to_owned();
            if name.is_empty() {
                return Err(DbError::Target("names no database".into()));
            }
            parsed.set_path("/postgres");
            let mut admin =
                PgConnection::establish(parsed.as_str()).map_err(|source| DbError::Connect {
                    backend: "postgres",
                    source,
                })?;
            admin.batch_execute(&format!(
                "CREATE DATABASE \"{}\"",
                name.replace('"', "\"\"")
            ))?;
            tracing::info!(database = %name, "created the PostgreSQL database");
            Ok(true)
        }
        Err(source) => Err(DbError::Connect {
            backend: "postgres",
            source,
        }),
    }
}

/// What `omshub migrate` does: creates the PostgreSQL database if it is missing (SQLite creates
/// its file), opens the pool and applies every pending migration. Returns the pool and the
/// versions applied.
pub fn migrate(settings: &DatabaseSettings) -> Result<(Database, Vec<String>), DbError> {
    let target = DatabaseTarget::parse(&settings.url).map_err(DbError::Target)?;
    create_database_if_missing(&target)?;
    let database = Database::open(settings)?;
    let applied = migrations::run_pending(&mut *database.conn()?)?;
    Ok((database, applied))
}

/// Opens the database the way `serve` and the data commands need it: SQLite is migrated; PostgreSQL is migrated when
/// `database.migrate_on_start` is set, and otherwise must already be up to date.
pub fn open_ready(settings: &DatabaseSettings) -> anyhow::Result<Database> {
    let target = DatabaseTarget::parse(&settings.url).map_err(DbError::Target)?;
    if matches!(target, DatabaseTarget::Sqlite(_)) || settings.migrate_on_start {
        let (database, applied) = migrate(settings)?;
        for version in &applied {
            tracing::info!(migration = %version, "migration applied");
        }
        return Ok(database);
    }
    check_reachable(settings).map_err(|e| {
        // libpq ends its messages with a line break: the hint stays on one line.
        let detail = crate::telemetry::error_chain(&e)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if detail.contains("does not exist") {
            anyhow::anyhow!(
                "{detail}; run `omshub migrate`, which creates the database and its schema"
            )
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let database = Database::open(settings)?;
    let pending = migrations::pending(&mut *database.conn()?)?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the PostgreSQL schema is behind this version by {} migration(s) ({}); run `omshub migrate` \
             or set database.migrate_on_start = true",
            pending.len(),
            pending.join(", ")
        );
    }
    Ok(database)
}
