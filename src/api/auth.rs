//! Who is calling: bearer tokens from `[auth]` until the intake issue registers participants
//! with certificates and hashed tokens.
//!
//! [`Caller`] is the extractor for read endpoints (any valid token), [`Admin`] for write
//! endpoints (the admin token). Deny by default: no token, or an unknown one, is 401; a valid
//! non-admin token on a write endpoint is 403. Tokens are compared as SHA-256 digests, so the
//! comparison time does not depend on how much of a guess is right.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads classifiers and registers.
    Reader,
    /// Also changes them.
    Admin,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's role.
    pub role: Role,
    /// A name for the history and the audit trail (`admin`, `reader-1`, …).
    pub name: String,
}

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub Caller);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is missing")))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <token>".into()))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header is not `Bearer <token>`".into())
        })?;
    let presented = digest(token);
    let auth = &state.settings.auth;
    if !auth.admin_token.is_empty() && digest(&auth.admin_token) == presented {
        return Ok(Caller {
            role: Role::Admin,
            name: "admin".into(),
        });
    }
    for (i, reader) in auth.reader_tokens.iter().enumerate() {
        if digest(reader) == presented {
            return Ok(Caller {
                role: Role::Reader,
                name: format!("reader-{}", i + 1),
            });
        }
    }
    Err(ApiError::Unauthorized("the token is not known".into()))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|caller| match caller.role {
            Role::Admin => Ok(Admin(caller)),
            Role::Reader => Err(ApiError::Forbidden(
                "this endpoint needs the admin token".into(),
            )),
        }))
    }
}
