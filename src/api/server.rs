//! `omshub serve`: prepare the database, start the scheduled jobs, listen, and shut down
//! gracefully.
//!
//! SIGTERM (and Ctrl-C) stop accepting connections, let in-flight requests finish for up to
//! `server.shutdown_timeout_secs`, stop the scheduler, and exit 0. Called by `main.rs`.

use std::time::Duration;

use actix_web::HttpServer;

use super::{AppState, app};
use crate::config::Settings;
use crate::db::{self, Database};
use crate::intake::worker::Workers;
use crate::jobs::Scheduler;
use crate::nsi;

/// Switches of one `serve` run that are not configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Start no scheduled jobs (`--no-jobs`).
    pub no_jobs: bool,
}

/// Rebuilds the look-up snapshots whenever another process (`omshub nsi import`) changed the
/// store; runs until the server stops.
async fn refresh_lookups(state: AppState, every: Duration) {
    let mut interval = actix_web::rt::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        let (database, lookups) = (state.db.clone(), state.lookups.clone());
        match actix_web::rt::task::spawn_blocking(move || lookups.refresh(&database, false)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "look-up snapshot refresh failed");
            }
            Err(e) => tracing::error!(error = %e, "look-up snapshot refresh panicked"),
        }
    }
}

/// Runs the hub until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings, options: ServeOptions) -> anyhow::Result<()> {
    let prepared = settings.clone();
    let database = actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Database> {
        let database = db::open_ready(&prepared.database)?;
        for summary in nsi::prepare(&database, &prepared.nsi)? {
            tracing::info!(classifier = %summary.target, inserted = summary.inserted, "baseline classifier loaded");
        }
        Ok(database)
    })
    .await??;
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
    let refresh_every = Duration::from_secs(settings.nsi.refresh_secs);
    let state = AppState::new(settings, database)?;
    {
        let (database, lookups) = (state.db.clone(), state.lookups.clone());
        actix_web::rt::task::spawn_blocking(move || lookups.refresh(&database, true)).await??;
    }
    let refresher = actix_web::rt::spawn(refresh_lookups(state.clone(), refresh_every));
    let workers = {
        let (intake, count) = (state.intake.clone(), state.settings.intake.workers);
        actix_web::rt::task::spawn_blocking(move || Workers::start(intake, count)).await??
    };
    tracing::info!(
        workers = state.settings.intake.workers,
        "intake workers started"
    );
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
    let run_result = server.run().await;
    refresher.abort();
    actix_web::rt::task::spawn_blocking(move || workers.stop()).await?;
    run_result?;

    if let Some(scheduler) = scheduler {
        scheduler.shutdown().await;
    }
    tracing::info!("shutdown complete");
    Ok(())
}
