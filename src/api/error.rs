//! The one error type of the HTTP layer and its JSON envelope
//! `{"error": "snake_case_code", "message": "..."}`.
//!
//! Codes are stable: clients and tests match on them. A 5xx is logged once, with its cause
//! chain, by the request middleware (`api::middleware`), inside the request's span.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable snake_case code.
    pub error: String,
    /// A sentence for people; may change between versions.
    pub message: String,
}

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path.
    #[error("no resource at {method} {path}")]
    NotFound { method: String, path: String },
    /// The path exists but not for this method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// The request is malformed (query, path or body).
    #[error("{0}")]
    BadRequest(String),
    /// A query value is malformed in a way `code` names (`enp_check_digit_mismatch`).
    #[error("{message}")]
    BadRequestCoded { code: &'static str, message: String },
    /// The body is larger than the endpoint accepts.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body's content type is not one the endpoint reads.
    #[error("content type {0} is not supported here")]
    UnsupportedMediaType(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials that were valid once (an expired or revoked token or certificate); `code`
    /// says which.
    #[error("{message}")]
    UnauthorizedCoded { code: &'static str, message: String },
    /// Valid credentials without the right.
    #[error("{0}")]
    Forbidden(String),
    /// Valid credentials without the right, in a way `code` names (`care_not_visible`).
    #[error("{message}")]
    ForbiddenCoded { code: &'static str, message: String },
    /// A named thing does not exist (or is not valid on the date asked); `code` says which.
    #[error("{message}")]
    NotFoundCoded { code: &'static str, message: String },
    /// The request conflicts with the current state (e.g. a status change not allowed from
    /// the current status).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The body is well formed but its content is refused; `code` says why.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The caller sent more than its share; `retry_after` seconds until it may again; `code`
    /// says which share (`too_many_requests`, `too_many_concurrent_uploads`).
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        retry_after: u64,
        message: String,
    },
    /// The request did not arrive in time (`upload_timeout`: a body that stopped coming).
    #[error("{message}")]
    RequestTimeout { code: &'static str, message: String },
    /// The request line or the header fields are longer than the hub reads; `code` says which
    /// (`uri_too_long`: 414, `headers_too_large`: 431).
    #[error("{message}")]
    HeadTooLarge { code: &'static str, message: String },
    /// The database does not answer.
    #[error("the database does not answer")]
    DatabaseUnavailable(#[source] anyhow::Error),
    /// Anything else: a defect or an unexpected failure. Details go to the log only.
    #[error("internal error; the request id in the X-Request-Id header identifies it in the logs")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The stable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFoundCoded { code, .. }
            | Self::UnauthorizedCoded { code, .. }
            | Self::BadRequestCoded { code, .. }
            | Self::Conflict { code, .. }
            | Self::ForbiddenCoded { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::RequestTimeout { code, .. }
            | Self::HeadTooLarge { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Wraps any unexpected failure as a 500.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The error with its causes, for the log.
    #[must_use]
    pub fn cause_chain(&self) -> String {
        crate::telemetry::error_chain(self)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } | Self::NotFoundCoded { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) | Self::BadRequestCoded { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) | Self::UnauthorizedCoded { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::ForbiddenCoded { .. } => StatusCode::FORBIDDEN,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::HeadTooLarge { code, .. } if *code == "uri_too_long" => StatusCode::URI_TOO_LONG,
            Self::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized(_) | Self::UnauthorizedCoded { .. }) {
            response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::TooManyRequests { retry_after, .. } = self {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after.to_string(),
            ));
        }
        response.json(ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        })
    }
}

/// Maps actix's JSON extractor failures into the envelope.
pub(crate) fn json_error(err: actix_web::error::JsonPayloadError, limit: usize) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::PayloadTooLarge { limit },
        E::ContentType => ApiError::UnsupportedMediaType("other than application/json".into()),
        other => ApiError::BadRequest(format!("request body is not valid JSON: {other}")),
    }
}

/// Maps query-string and path extractor failures into the envelope.
pub(crate) fn bad_request(err: &impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_stable() {
        let cases: Vec<(ApiError, &str, u16)> = vec![
            (
                ApiError::NotFound {
                    method: "GET".into(),
                    path: "/x".into(),
                },
                "not_found",
                404,
            ),
            (
                ApiError::MethodNotAllowed {
                    method: "POST".into(),
                    path: "/health".into(),
                },
                "method_not_allowed",
                405,
            ),
            (ApiError::BadRequest("x".into()), "bad_request", 400),
            (
                ApiError::BadRequestCoded {
                    code: "enp_check_digit_mismatch",
                    message: "x".into(),
                },
                "enp_check_digit_mismatch",
                400,
            ),
            (ApiError::Unauthorized("x".into()), "unauthorized", 401),
            (
                ApiError::UnauthorizedCoded {
                    code: "token_expired",
                    message: "x".into(),
                },
                "token_expired",
                401,
            ),
            (ApiError::Forbidden("x".into()), "forbidden", 403),
            (
                ApiError::NotFoundCoded {
                    code: "nsi_unknown_code",
                    message: "x".into(),
                },
                "nsi_unknown_code",
                404,
            ),
            (
                ApiError::Conflict {
                    code: "invalid_transition",
                    message: "x".into(),
                },
                "invalid_transition",
                409,
            ),
            (
                ApiError::Unprocessable {
                    code: "invalid_ogrn",
                    message: "x".into(),
                },
                "invalid_ogrn",
                422,
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                "payload_too_large",
                413,
            ),
            (
                ApiError::UnsupportedMediaType("text/plain".into()),
                "unsupported_media_type",
                415,
            ),
            (
                ApiError::DatabaseUnavailable(anyhow::anyhow!("down")),
                "database_unavailable",
                503,
            ),
            (
                ApiError::internal(anyhow::anyhow!("boom")),
                "internal_error",
                500,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status_code().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn the_codes_of_issue_21_are_stable() {
        let cases: Vec<(ApiError, &str, u16)> = vec![
            (
                ApiError::ForbiddenCoded {
                    code: "care_not_visible",
                    message: "x".into(),
                },
                "care_not_visible",
                403,
            ),
            (
                ApiError::TooManyRequests {
                    code: "too_many_concurrent_uploads",
                    retry_after: 5,
                    message: "x".into(),
                },
                "too_many_concurrent_uploads",
                429,
            ),
            (
                ApiError::RequestTimeout {
                    code: "upload_timeout",
                    message: "x".into(),
                },
                "upload_timeout",
                408,
            ),
            (
                ApiError::HeadTooLarge {
                    code: "uri_too_long",
                    message: "x".into(),
                },
                "uri_too_long",
                414,
            ),
            (
                ApiError::HeadTooLarge {
                    code: "headers_too_large",
                    message: "x".into(),
                },
                "headers_too_large",
                431,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status_code().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn internal_message_hides_the_cause_but_the_chain_keeps_it() {
        let err = ApiError::internal(anyhow::anyhow!("secret detail").context("loading"));
        assert!(!err.to_string().contains("secret detail"));
        assert!(err.cause_chain().contains("secret detail"));
    }
}
