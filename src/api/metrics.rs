//! Prometheus metrics of one app instance: request counts and latencies per route, pool
//! connections, build information. `GET /metrics` renders them in the text exposition format.
//!
//! Each app has its own registry (no globals), so tests that run in parallel do not see each
//! other's counts. The request middleware records; the handler renders.

use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::AppState;
use super::error::ApiError;

/// Label used for requests that matched no route, so unknown paths cannot grow the label set.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The metric families of one app.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    db_connections: IntGaugeVec,
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "omshub_http_requests_total",
                "HTTP requests answered, by method, route pattern and status.",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "omshub_http_request_duration_seconds",
                "Time from receiving a request to its response head, by method and route.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["method", "route"],
        )?;
        let in_flight = IntGauge::new(
            "omshub_http_requests_in_flight",
            "Requests being handled now.",
        )?;
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "omshub_db_pool_connections",
                "Database pool connections, by state (idle or busy).",
            ),
            &["state"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "omshub_build_info",
                "Version of the running hub (always 1).",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(db_connections.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Self {
            registry,
            requests,
            duration,
            in_flight,
            db_connections,
        })
    }

    /// Counts one request that has started.
    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    /// Records one answered request.
    pub fn request_finished(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.in_flight.dec();
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition of every family, with the pool gauges read now.
    pub fn render(&self, pool: (u32, u32)) -> Result<String, prometheus::Error> {
        let (open, idle) = pool;
        self.db_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.db_connections
            .with_label_values(&["busy"])
            .set(i64::from(open.saturating_sub(idle)));
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let body = state
        .metrics
        .render(state.db.pool_state())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(body))
}
