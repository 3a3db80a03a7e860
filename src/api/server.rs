//! `omshub serve`: listen, prepare the database, start the scheduled jobs, serve, and shut down
//! gracefully.
//!
//! The port is bound before anything else: a second `serve` on a port in use exits 1 before it
//! opens the database, puts back the packages another process is checking, or starts a
//! thread; whatever fails later, every thread started is stopped (and the pool closed) before
//! `serve` returns.
//!
//! SIGTERM (and Ctrl-C) stop accepting connections, let in-flight requests finish for up to
//! `server.shutdown_timeout_secs`, commit the queued policy-status audit rows (`erz::audit`),
//! stop the scheduler, and exit 0. Called by `main.rs`.
//!
//! With `server.tls_certificate` and `server.tls_key` the server speaks TLS (OpenSSL); with
//! `server.tls_client_ca` it asks for client certificates, verifies them against those CAs
//! (purpose: TLS client) and, for a verified one, puts its SHA-256 fingerprint in the
//! connection data as [`PeerCertificate`], where `auth` finds the participant it is registered
//! to. `server.tls_client_auth = "required"` refuses handshakes without one.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Extensions;
use anyhow::Context as _;
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::{X509Name, X509PurposeId, X509VerifyResult};

use super::auth::PeerCertificate;
use super::{AppState, app};
use crate::config::{ClientAuth, ServerSettings, Settings};
use crate::db::{self, Backend, Database};
use crate::erz::audit::AuditWriter;
use crate::erz::status_batch::StatusBatcher;
use crate::intake::worker::Workers;
use crate::jobs::Scheduler;
use crate::nsi;
use crate::participants::certificate;

/// How long the policy-status audit writer lets rows gather before it commits them.
const AUDIT_BATCH_MS: u64 = 50;

/// The TLS acceptor the `[server]` settings describe.
fn tls_acceptor(server: &ServerSettings) -> anyhow::Result<SslAcceptorBuilder> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder
        .set_certificate_chain_file(&server.tls_certificate)
        .with_context(|| {
            format!(
                "server.tls_certificate: cannot read a PEM certificate from {}",
                server.tls_certificate
            )
        })?;
    builder
        .set_private_key_file(&server.tls_key, SslFiletype::PEM)
        .with_context(|| {
            format!(
                "server.tls_key: cannot read a PEM private key from {}",
                server.tls_key
            )
        })?;
    builder
        .check_private_key()
        .context("server.tls_key is not the key of server.tls_certificate")?;
    if !server.tls_client_ca.is_empty() {
        let ca = &server.tls_client_ca;
        builder.set_ca_file(ca).with_context(|| {
            format!("server.tls_client_ca: cannot read PEM CA certificates from {ca}")
        })?;
        builder.set_client_ca_list(X509Name::load_client_ca_file(ca).with_context(|| {
            format!("server.tls_client_ca: cannot read PEM CA certificates from {ca}")
        })?);
        // Verify client certificates for what they are: TLS clients (extended key usage
        // clientAuth), whatever default the library would pick.
        builder
            .verify_param_mut()
            .set_purpose(X509PurposeId::SSL_CLIENT)?;
        let mut mode = SslVerifyMode::PEER;
        if server.tls_client_auth == ClientAuth::Required {
            mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
        }
        builder.set_verify(mode);
    }
    Ok(builder)
}

/// `on_connect` of a TLS listener: the fingerprint of the client certificate the handshake
/// verified, if the client sent one.
fn peer_certificate(connection: &dyn Any, data: &mut Extensions) {
    type Tls = actix_tls::accept::openssl::TlsStream<actix_web::rt::net::TcpStream>;
    let Some(tls) = connection.downcast_ref::<Tls>() else {
        return;
    };
    let ssl = tls.ssl();
    if ssl.verify_result() != X509VerifyResult::OK {
        return;
    }
    if let Some(cert) = ssl.peer_certificate() {
        match certificate::fingerprint(&cert) {
            Ok(fingerprint) => {
                data.insert(PeerCertificate(fingerprint));
            }
            Err(e) => tracing::warn!(error = %e, "cannot fingerprint a client certificate"),
        }
    }
}

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

/// The threads of the policy status: the batched audit writer, and on PostgreSQL the batched
/// reads; both put in `state`.
fn start_status_threads(
    state: &mut AppState,
) -> anyhow::Result<(Arc<AuditWriter>, Option<Arc<StatusBatcher>>)> {
    // Every 50 ms: on SQLite each commit makes every other connection drop its page cache, so
    // fewer, larger batches keep the readers' caches warm (docs/ERZ.md).
    let status_audit = Arc::new(AuditWriter::start(
        state.db.clone(),
        Duration::from_millis(AUDIT_BATCH_MS),
    )?);
    state.status_audit = Some(Arc::clone(&status_audit));
    // On PostgreSQL the policy statuses of concurrent requests are read in one statement
    // (erz::status_batch); SQLite reads in-process, where a direct read is cheaper.
    let readers = usize::try_from(state.settings.database.status_readers).unwrap_or(0);
    let status_batch = match state.db.backend() {
        Backend::Postgres if readers > 0 => {
            let batcher = Arc::new(StatusBatcher::start(&state.db, readers)?);
            state.status_batch = Some(Arc::clone(&batcher));
            Some(batcher)
        }
        Backend::Postgres | Backend::Sqlite => None,
    };
    Ok((status_audit, status_batch))
}

/// Connections the kernel queues before they are accepted (actix's default).
const LISTEN_BACKLOG: u32 = 1024;

/// A socket listening on `addr` (address reuse on, as actix binds), handed to actix later.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        actix_web::rt::net::TcpSocket::new_v4()?
    } else {
        actix_web::rt::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

/// What `serve` started, stopped in reverse order on every way out ([`Started::stop`]): the
/// scheduler, the look-up refresher, the policy-status threads and the intake workers. None of
/// them may outlive `serve`: a thread still using libpq while the process exits can crash it
/// (issue 21, point 11).
#[derive(Default)]
struct Started {
    scheduler: Option<Scheduler>,
    refresher: Option<actix_web::rt::task::JoinHandle<()>>,
    status_audit: Option<Arc<AuditWriter>>,
    status_batch: Option<Arc<StatusBatcher>>,
    workers: Option<Workers>,
}

impl Started {
    /// Stops everything started, waiting for each thread: the workers first (they finish the
    /// package in hand), then the status threads (the audit writer commits what is queued),
    /// the refresher and the scheduler.
    async fn stop(self) {
        if let Some(workers) = self.workers
            && let Err(e) = actix_web::rt::task::spawn_blocking(move || workers.stop()).await
        {
            tracing::error!(error = %e, "the intake workers did not stop cleanly");
        }
        if let Some(refresher) = self.refresher {
            refresher.abort();
        }
        if let Some(batcher) = self.status_batch
            && let Err(e) = actix_web::rt::task::spawn_blocking(move || batcher.close()).await
        {
            tracing::error!(error = %e, "the status readers did not stop cleanly");
        }
        if let Some(audit) = self.status_audit
            && let Err(e) = actix_web::rt::task::spawn_blocking(move || audit.close()).await
        {
            tracing::error!(error = %e, "the audit writer did not stop cleanly");
        }
        if let Some(scheduler) = self.scheduler {
            scheduler.shutdown().await;
        }
    }
}

/// Runs the hub until SIGTERM or Ctrl-C.
///
/// The port is bound first: a `serve` that cannot listen (another one runs) stops before it
/// opens the database, touches the queue or starts a thread. Whatever fails later, everything
/// started is stopped before this returns.
pub async fn serve(settings: Settings, options: ServeOptions) -> anyhow::Result<()> {
    // Read the TLS files first: a wrong path stops start-up before anything else happens.
    let acceptor = if settings.server.tls() {
        Some(tls_acceptor(&settings.server)?)
    } else {
        None
    };
    let bind = settings.server.bind;
    let listener = listen(bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let mut started = Started::default();
    let result = run(settings, options, acceptor, listener, &mut started).await;
    started.stop().await;
    if result.is_ok() {
        tracing::info!("shutdown complete");
    }
    result
}

/// `serve` once the port is bound: everything it starts goes into `started`.
async fn run(
    settings: Settings,
    options: ServeOptions,
    acceptor: Option<SslAcceptorBuilder>,
    listener: std::net::TcpListener,
    started: &mut Started,
) -> anyhow::Result<()> {
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

    if settings.jobs.enabled && !options.no_jobs {
        let scheduler = started
            .scheduler
            .insert(Scheduler::start(&settings.jobs, &database).await?);
        for (job, next) in scheduler.next_runs().await {
            tracing::info!(job, next_run = ?next, "job scheduled");
        }
    } else {
        tracing::info!("scheduled jobs are off for this run");
    }

    let server_settings = settings.server.clone();
    let pool_size = settings.database.pool_max_size;
    let refresh_every = Duration::from_secs(settings.nsi.refresh_secs);
    let mut state = AppState::new(settings, database)?;
    let (status_audit, status_batch) = start_status_threads(&mut state)?;
    started.status_audit = Some(status_audit);
    started.status_batch = status_batch;
    {
        let (database, lookups) = (state.db.clone(), state.lookups.clone());
        actix_web::rt::task::spawn_blocking(move || lookups.refresh(&database, true)).await??;
    }
    started.refresher = Some(actix_web::rt::spawn(refresh_lookups(
        state.clone(),
        refresh_every,
    )));
    let (intake, worker_count) = (state.intake.clone(), state.settings.intake.workers);
    // Every database call of a handler runs on the worker's blocking threads. The calls are
    // short (a policy status is five indexed reads): a few threads per worker keep the cores
    // busy, and more only queue for connections and switch (actix's default is 512 per
    // worker). Measured under load: 4 per worker gave the most requests per second
    // (docs/PERFORMANCE.md, policy_status).
    let blocking = usize::try_from(pool_size).unwrap_or(4).clamp(2, 4);
    let mut server = HttpServer::new(move || app(state.clone()))
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .worker_max_blocking_threads(blocking);
    if server_settings.workers > 0 {
        server = server.workers(server_settings.workers);
    }
    let bind = server_settings.bind;
    let scheme = if let Some(acceptor) = acceptor {
        server = server
            .on_connect(peer_certificate)
            .listen_openssl(listener, acceptor)
            .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
        "https"
    } else {
        server = server
            .listen(listener)
            .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
        "http"
    };
    let client_certificates = match (
        server_settings.tls_client_ca.is_empty(),
        server_settings.tls_client_auth,
    ) {
        (true, _) => "off",
        (false, ClientAuth::Optional) => "optional",
        (false, ClientAuth::Required) => "required",
    };
    for addr in server.addrs() {
        tracing::info!(address = %addr, client_certificates, "listening on {scheme}://{addr}");
    }
    // The queue is touched only now that the hub serves: packages left `checking` by the last
    // stop are queued again and the workers start.
    started.workers = Some(
        actix_web::rt::task::spawn_blocking(move || Workers::start(intake, worker_count)).await??,
    );
    tracing::info!(workers = worker_count, "intake workers started");
    server.run().await?;
    Ok(())
}
