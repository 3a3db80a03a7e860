//! Scheduled jobs that run inside `serve` (tokio-cron-scheduler on actix's runtime).
//!
//! Each job is a cron schedule from `[jobs]` plus a closure that does its database work in
//! `spawn_blocking`. Later issues add settlement, reports and archiving here. `serve --no-jobs`
//! or `jobs.enabled = false` starts none. Called by `api::server`; the schedule check is also
//! used by `config` at start-up.

use croner::parser::{CronParser, Seconds};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::JobSettings;
use crate::db::Database;

/// Checks a six-field cron expression (seconds first, UTC) the way the scheduler reads it.
pub fn validate_schedule(expr: &str) -> Result<(), String> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map(|_| ())
        .map_err(|e| format!("is not a six-field cron schedule (seconds first, UTC): {e}"))
}

/// A running scheduler and the jobs it holds.
pub struct Scheduler {
    inner: JobScheduler,
    jobs: Vec<(&'static str, uuid::Uuid)>,
}

impl Scheduler {
    /// Creates the scheduler, registers every job and starts it.
    pub async fn start(settings: &JobSettings, db: &Database) -> anyhow::Result<Self> {
        let inner = JobScheduler::new().await?;
        let mut jobs = Vec::new();

        let job = blocking_job("db-maintenance", &settings.db_maintenance_cron, db, |db| {
            db.maintenance().map_err(anyhow::Error::from)
        })?;
        jobs.push(("db-maintenance", inner.add(job).await?));
        if !settings.erz_matching_cron.is_empty() {
            let job = blocking_job("erz-matching", &settings.erz_matching_cron, db, |db| {
                let mut conn = db.conn()?;
                let options = crate::erz::matching::Options::at(crate::participants::now());
                let summary = crate::erz::matching::run(&mut conn, &options)?;
                tracing::info!(
                    job = "erz-matching",
                    persons = summary.persons,
                    "{}",
                    crate::erz::cli::match_summary(&summary).trim_end()
                );
                Ok(())
            })?;
            jobs.push(("erz-matching", inner.add(job).await?));
        }

        inner.start().await?;
        tracing::info!(count = jobs.len(), "scheduled jobs started");
        Ok(Self { inner, jobs })
    }

    /// Names of the registered jobs.
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|(name, _)| *name).collect()
    }

    /// Names of the registered jobs and the UTC time each runs next.
    pub async fn next_runs(
        &mut self,
    ) -> Vec<(&'static str, Option<chrono::DateTime<chrono::Utc>>)> {
        let mut out = Vec::with_capacity(self.jobs.len());
        for (name, id) in &self.jobs {
            let next = self.inner.next_tick_for_job(*id).await.ok().flatten();
            out.push((*name, next));
        }
        out
    }

    /// Stops the scheduler; a job already running finishes its blocking part on its own.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.inner.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not stop cleanly");
        }
    }
}

/// A job on `cron` that runs `work` on a blocking thread with the database, logging its start
/// and its end (or failure).
fn blocking_job(
    name: &'static str,
    cron: &str,
    db: &Database,
    work: fn(&Database) -> anyhow::Result<()>,
) -> anyhow::Result<Job> {
    let db = db.clone();
    Ok(Job::new_async(cron, move |_id, _lock| {
        let db = db.clone();
        Box::pin(async move {
            tracing::info!(job = name, "job started");
            match tokio::task::spawn_blocking(move || work(&db)).await {
                Ok(Ok(())) => tracing::info!(job = name, "job finished"),
                Ok(Err(e)) => tracing::error!(job = name, error = %format!("{e:#}"), "job failed"),
                Err(e) => tracing::error!(job = name, error = %e, "job panicked"),
            }
        })
    })?)
}

#[cfg(test)]
mod tests {
    use super::validate_schedule;

    #[test]
    fn schedules() {
        assert!(validate_schedule("0 30 3 * * *").is_ok());
        assert!(validate_schedule("*/10 * * * * *").is_ok());
        assert!(
            validate_schedule("30 3 * * *").is_err(),
            "five fields lack seconds"
        );
        assert!(validate_schedule("every night").is_err());
        assert!(validate_schedule("0 61 3 * * *").is_err());
    }
}
