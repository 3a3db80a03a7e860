//! `GET /health`: is the hub able to serve? It asks the database a trivial statement and
//! answers 200 with the backend and version, or 503 `database_unavailable`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;

/// Body of a healthy answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// Always `ok` in a 200 answer.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Version of the running hub.
    pub version: String,
}

/// Pings the database through the pool (waiting at most `database.connect_timeout_secs`).
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    web::block(move || db.ping())
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::DatabaseUnavailable(e.into()))?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
        database: state.db.backend().name().into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}
