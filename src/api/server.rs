//! `omshub serve`: prepare the database, start the scheduled jobs, listen, and shut down
//! gracefully.
//!
//! SIGTERM (and Ctrl-C) stop accepting connections, let in-flight requests finish for up to
//! `server.shutdown_timeout_secs`, stop the scheduler, and exit 0. Called by `main.rs`.

use actix_web::HttpServer;

use super::{AppState, app};
use crate::config::Settings;
use crate::db::{self, Backend, Database};
use crate::jobs::Scheduler;

/// Switches of one `serve` run that are not configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Start no scheduled jobs (`--no-jobs`).
    pub no_jobs: bool,
}

/// Opens the database the way `serve` needs it: SQLite is migrated; PostgreSQL is migrated when
/// `database.migrate_on_start` is set, and otherwise must already be up to date.
fn prepare_database(settings: &Settings) -> anyhow::Result<Database> {
    let target = settings.database_target()?;
    let migrate =
        target.backend_name() == Backend::Sqlite.name() || settings.database.migrate_on_start;
    if migrate {
        let (database, applied) = db::migrate(&settings.database)?;
        for version in &applied {
            tracing::info!(migration = %version, "migration applied");
        }
        return Ok(database);
    }
    db::check_reachable(&settings.database).map_err(|e| {
        let detail = crate::telemetry::error_chain(&e);
        if detail.contains("does not exist") {
            anyhow::anyhow!(
                "{detail}; run `omshub migrate`, which creates the database and its schema"
            )
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let database = Database::open(&settings.database)?;
    let pending = db::migrations::pending(&mut *database.conn()?)?;
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

/// Runs the hub until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings, options: ServeOptions) -> anyhow::Result<()> {
    let prepared = settings.clone();
    let database =
        actix_web::rt::task::spawn_blocking(move || prepare_database(&prepared)).await??;
    tracing::info!(
        backend = database.backend().name(),
        version = env!("CARGO_PKG_VERSION"),
        "database ready"
    );

    let scheduler = if settings.jobs.enabled && !options.no_jobs {
        let mut scheduler = Scheduler::start(&settings.jobs, &database).await?;
        for (job, next) in scheduler.next_runs().await {
            tracing::info!(job, next_run = ?next, "job scheduled");
        }
        Some(scheduler)
    } else {
        tracing::info!("scheduled jobs are off for this run");
        None
    };

    let server_settings = settings.server.clone();
    let state = AppState::new(settings, database)?;
    let mut server = HttpServer::new(move || app(state.clone()))
        .shutdown_timeout(server_settings.shutdown_timeout_secs);
    if server_settings.workers > 0 {
        server = server.workers(server_settings.workers);
    }
    let server = server
        .bind(server_settings.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", server_settings.bind))?;
    for addr in server.addrs() {
        tracing::info!(address = %addr, "listening on http://{addr}");
    }
    server.run().await?;

    if let Some(scheduler) = scheduler {
        scheduler.shutdown().await;
    }
    tracing::info!("shutdown complete");
    Ok(())
}
