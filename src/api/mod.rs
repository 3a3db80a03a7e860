//! HTTP API (actix-web): the app factory, shared state, and one module per resource.
//!
//! Handlers are thin: parse the request, call a service, map the result to JSON or to
//! [`ApiError`]. Database work runs in `web::block` because diesel is synchronous. Nothing in
//! the crate imports this module; `main.rs` starts it through [`server::serve`], tests through
//! [`app`].

pub mod auth;
pub mod error;
pub mod erz;
pub mod erz_review;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod nsi;
pub mod packages;
pub mod paging;
pub mod registers;
pub mod scope;
pub mod server;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, web};

use crate::config::Settings;
use crate::db::Database;
use crate::intake::pipeline::Intake;
use crate::lookups::Lookups;
pub use error::{ApiError, ErrorBody};
use metrics::Metrics;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The effective configuration.
    pub settings: Arc<Settings>,
    /// The database pool.
    pub db: Database,
    /// This app's metric families.
    pub metrics: Arc<Metrics>,
    /// The in-memory look-up snapshots of classifiers and registers.
    pub lookups: Lookups,
    /// Package intake: storage, queue, checks.
    pub intake: Arc<Intake>,
    /// Uploads per sender per minute.
    pub upload_limiter: Arc<packages::RateLimiter>,
    /// The batched writer of the policy-status audit (`serve` starts it; `None`: each audit
    /// row is written in its request).
    pub status_audit: Option<Arc<crate::erz::audit::AuditWriter>>,
    /// The batched reads of the policy status by ENP (`serve` starts them on PostgreSQL;
    /// `None`: each request reads its own).
    pub status_batch: Option<Arc<crate::erz::status_batch::StatusBatcher>>,
    /// The participants the policy-status route authenticated (`participants::cache`).
    pub credentials: Arc<crate::participants::cache::CredentialCache>,
}

impl AppState {
    /// Builds the state around an opened database.
    pub fn new(settings: Settings, db: Database) -> anyhow::Result<Self> {
        let lookups = Lookups::default();
        let intake = Arc::new(Intake::new(&settings, db.clone(), lookups.clone())?);
        Ok(Self {
            settings: Arc::new(settings),
            db,
            metrics: Arc::new(Metrics::new()?),
            lookups,
            intake,
            upload_limiter: Arc::default(),
            status_audit: None,
            status_batch: None,
            credentials: Arc::default(),
        })
    }
}

/// The application with every route and middleware; `HttpServer` calls it once per worker and
/// tests call it through `actix_web::test::init_service`.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let json_limit = state.settings.server.json_limit_bytes;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(json_limit)
                .error_handler(move |err, _| error::json_error(err, json_limit).into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|err, _| error::bad_request(&err).into()),
        )
        .app_data(
            web::PathConfig::default().error_handler(|err, _| error::bad_request(&err).into()),
        )
        // Registered first, so it runs inside `observe`: its refusals are logged and counted.
        .wrap(actix_web::middleware::from_fn(middleware::screen))
        .wrap(actix_web::middleware::from_fn(middleware::observe))
        .service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/metrics").route(web::get().to(metrics::metrics)))
        // The register's routes first: the router (and the metrics middleware's route name)
        // tries the resources in this order, a dynamic pattern by a regex each, and the
        // policy status is the route clinics call most (docs/PERFORMANCE.md). No two
        // patterns overlap, so the order changes nothing else.
        .configure(erz::routes)
        .configure(nsi::routes)
        .configure(registers::routes)
        .configure(packages::routes)
        .configure(erz_review::routes)
        .default_service(web::to(not_found))
}

/// Runs a handler's database work on the blocking pool with a pooled connection; a pool that
/// cannot give one is `503 database_unavailable`.
pub(crate) async fn with_conn<T, E, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ApiError>,
{
    let database = state.db.clone();
    web::block(move || {
        let mut conn = database
            .conn()
            .map_err(|e| ApiError::DatabaseUnavailable(e.into()))?;
        f(&mut conn).map_err(Into::into)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Rebuilds the look-up snapshots after a change made through the API, so the next package
/// is checked against it at once.
pub(crate) async fn refresh_lookups(state: &AppState) -> Result<(), ApiError> {
    let (database, lookups) = (state.db.clone(), state.lookups.clone());
    web::block(move || lookups.refresh(&database, false))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// A resource whose unknown methods answer `405 method_not_allowed` in the JSON envelope.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}
