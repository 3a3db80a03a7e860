//! The request middleware: a request id on every response and log line, one log line per
//! request, metrics per route, and the single log entry of every 5xx with its cause chain.
//!
//! The id is the caller's `X-Request-Id` when it is a short token (so a chain of systems can
//! share one id), otherwise a new UUID. Handlers read it with the [`RequestId`] extractor.
//!
//! The path is logged with every segment of 16 digits (an ENP, as in
//! `/api/v1/persons/{enp}/care`) written `{enp}`: personal data never reaches a log.
//!
//! [`screen`] refuses what no route reads, in the envelope: a request target longer than
//! `server.max_uri_bytes` (`414 uri_too_long`), header fields past `server.max_header_bytes`
//! (`431 headers_too_large`), and a NUL character in the path, the query or a JSON body
//! (`400 nul_character`: no text the hub stores or looks up may hold one; PostgreSQL refuses it
//! in text, so without this check it would end as a 500 there and as a miss on SQLite).

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tracing::Instrument;

use super::AppState;
use super::error::ApiError;
use super::metrics::UNMATCHED_ROUTE;

/// Header carrying the request id, in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string()));
        ready(Ok(id))
    }
}

/// Accepts a caller's id only if it is 1–64 characters of `[A-Za-z0-9._-]`.
fn usable_incoming_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

/// `path` with every segment of 16 ASCII digits (an ENP) replaced by `{enp}`.
fn loggable_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.len() == 16 && segment.bytes().all(|b| b.is_ascii_digit()) {
                "{enp}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the path or the query of `req` holds a NUL once percent-decoded. The request line
/// of HTTP cannot carry a raw NUL byte (the parser refuses it), and percent-decoding yields
/// one exactly where `%00` is written, so that is what is looked for.
fn uri_holds_nul(req: &ServiceRequest) -> bool {
    req.uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"))
}

/// Whether any string or key of `value` holds a NUL.
fn json_holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_holds_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || json_holds_nul(v)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

fn nul_refusal(req: ServiceRequest, what: &str) -> ServiceResponse<BoxBody> {
    let error = ApiError::BadRequestCoded {
        code: "nul_character",
        message: format!("the request's {what} holds a NUL character (%00 or \\u0000)"),
    };
    req.error_response(error)
}

/// The refusal of a request head past the `[server]` limits, if it is.
fn oversized_head(
    req: &ServiceRequest,
    server: &crate::config::ServerSettings,
) -> Option<ApiError> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > server.max_uri_bytes {
        return Some(ApiError::HeadTooLarge {
            code: "uri_too_long",
            message: format!(
                "the request target is {target} bytes; the hub reads at most {}",
                server.max_uri_bytes
            ),
        });
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers > server.max_header_bytes).then(|| ApiError::HeadTooLarge {
        code: "headers_too_large",
        message: format!(
            "the header fields are {headers} bytes; the hub reads at most {}",
            server.max_header_bytes
        ),
    })
}

/// Refuses an oversized request head and a NUL character in the path, the query or a JSON
/// body: see the module documentation. A JSON body is read here (up to
/// `server.json_limit_bytes`; past it, `413 payload_too_large` as the JSON extractor answers)
/// and handed on unchanged.
pub async fn screen<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(refusal) = state
        .as_ref()
        .and_then(|s| oversized_head(&req, &s.settings.server))
    {
        return Ok(req.error_response(refusal));
    }
    if uri_holds_nul(&req) {
        return Ok(nul_refusal(req, "path or query"));
    }
    if is_json(&req) {
        let limit = state
            .as_ref()
            .map_or(usize::MAX, |s| s.settings.server.json_limit_bytes);
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
            let Ok(chunk) = chunk else {
                // A body broken off: the extractor answers it as it does without this check.
                break;
            };
            if body.len() + chunk.len() > limit {
                return Ok(req.error_response(ApiError::PayloadTooLarge { limit }));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| json_holds_nul(&v)) {
            return Ok(nul_refusal(req, "JSON body"));
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Wraps every request: see the module documentation.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(usable_incoming_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request.id = %id,
        http.method = %method,
        http.path = %loggable_path(req.path()),
    );
    if let Some(state) = &state {
        state.metrics.request_started();
    }
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let status = res.status().as_u16();
    if let Some(state) = &state {
        state
            .metrics
            .request_finished(&method, &route, status, elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        if res.status().is_server_error() {
            let cause = res.response().error().map_or_else(
                || "no error attached".to_owned(),
                |e| {
                    e.as_error::<ApiError>()
                        .map_or_else(|| e.to_string(), ApiError::cause_chain)
                },
            );
            tracing::error!(http.status = status, elapsed_us, route = %route, error = %cause, "request failed");
        } else {
            tracing::info!(http.status = status, elapsed_us, route = %route, "request finished");
        }
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enp_in_the_path_is_not_logged() {
        assert_eq!(
            loggable_path("/api/v1/persons/5054910832000016/care"),
            "/api/v1/persons/{enp}/care"
        );
        assert_eq!(
            loggable_path("/api/v1/packages/123"),
            "/api/v1/packages/123"
        );
        assert_eq!(loggable_path("/"), "/");
    }

    #[test]
    fn incoming_ids() {
        let ok = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(usable_incoming_id(&ok).as_deref(), Some("abc-123_x.y"));
        for bad in ["", "has space", "semi;colon", &"a".repeat(65)] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert_eq!(usable_incoming_id(&v), None, "{bad:?}");
        }
    }
}
