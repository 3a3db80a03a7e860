//! Who is calling: a registered client certificate (mutual TLS), a participant's bearer token,
//! or one of the bootstrap tokens of `[auth]`.
//!
//! [`Caller`] is the extractor for read endpoints (any authenticated caller), [`Admin`] for
//! write endpoints (the admin token, or a participant with the `admin` role). The order:
//!
//! 1. a client certificate the TLS handshake verified (its SHA-256 fingerprint is in the
//!    connection data, see [`PeerCertificate`] and `api::server`), registered to an active
//!    participant and neither revoked nor expired;
//! 2. else `Authorization: Bearer <token>`: the configured `admin_token` and `reader_tokens`
//!    (compared as SHA-256 digests, so the comparison time does not depend on how much of a
//!    guess is right), then the digest of a participant's token looked up in the database.
//!
//! Deny by default: no credential, or an unknown one, is 401 `unauthorized`; an expired or
//! revoked token is 401 `token_expired` / `token_revoked` (`certificate_…` for certificates,
//! `participant_revoked` when the participant was revoked); a valid caller without the role is
//! 403. The database look-up runs on the blocking pool, once per request: it is one indexed
//! read (and at most one write a minute per token for `last_used_at`). The policy-status route,
//! which clinics call thousands of times a second, takes [`Provisional`] instead: a principal
//! found in `participants::cache` is used only once the credential epoch read with the
//! request's data confirms that nothing that decides who authenticates has changed since.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::db::DbConn;
use crate::participants::cache::{self, Credential, CredentialCache};
use crate::participants::{self, AuthFailure, Principal, token};

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
    /// A name for the history and the audit trail (`admin`, `reader-1`, `participant:7`).
    pub name: String,
    /// The participant, when a registered certificate or a participant's token authenticated
    /// the caller (not for the bootstrap tokens of `[auth]`).
    pub participant: Option<Principal>,
}

impl Caller {
    fn of(principal: Principal) -> Self {
        let role = if principal.roles.contains(participants::Role::Admin) {
            Role::Admin
        } else {
            Role::Reader
        };
        Self {
            role,
            name: format!("participant:{}", principal.id),
            participant: Some(principal),
        }
    }
}

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub Caller);

/// The client certificate of a TLS connection, verified against `server.tls_client_ca` in the
/// handshake: its SHA-256 fingerprint (lower-case hex). `api::server` puts it in the connection
/// data; [`Caller`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub String);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The bearer token of the request: `None` without an `Authorization` header.
fn bearer(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not `Bearer <token>`".into())
            }),
    )
}

/// The caller of a configured token, if it is one.
fn configured(state: &AppState, token: &str) -> Option<Caller> {
    let presented = digest(token);
    let auth = &state.settings.auth;
    if !auth.admin_token.is_empty() && digest(&auth.admin_token) == presented {
        return Some(Caller {
            role: Role::Admin,
            name: "admin".into(),
            participant: None,
        });
    }
    auth.reader_tokens
        .iter()
        .position(|reader| digest(reader) == presented)
        .map(|i| Caller {
            role: Role::Reader,
            name: format!("reader-{}", i + 1),
            participant: None,
        })
}

fn refusal(credential: Credential, failure: AuthFailure) -> ApiError {
    let (noun, unknown, revoked, expired) = match credential {
        Credential::Token => (
            "the token",
            "the token is not known",
            "token_revoked",
            "token_expired",
        ),
        Credential::Certificate => (
            "the client certificate",
            "the client certificate is not registered",
            "certificate_revoked",
            "certificate_expired",
        ),
    };
    let when = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let coded = |code: &'static str, message: String| ApiError::UnauthorizedCoded { code, message };
    match failure {
        AuthFailure::Unknown => ApiError::Unauthorized(unknown.into()),
        AuthFailure::Revoked(since) => {
            coded(revoked, format!("{noun} was revoked on {}", when(since)))
        }
        AuthFailure::Expired(at) => coded(expired, format!("{noun} expired on {}", when(at))),
        AuthFailure::ParticipantRevoked { id, since } => coded(
            "participant_revoked",
            format!("participant {id} was revoked on {}", when(since)),
        ),
        AuthFailure::Store(e) => ApiError::internal(e),
    }
}

/// How a participant's credential is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// In the database, on every request ([`Caller`], [`Admin`]).
    Exact,
    /// In `AppState::credentials` first, to be confirmed by the handler ([`Provisional`]).
    Cached,
}

/// Looks a credential up in the database, on the blocking pool (keeping what it finds in
/// the cache for a [`Lookup::Cached`] request).
async fn look_up(
    state: &AppState,
    credential: Credential,
    key: String,
    lookup: Lookup,
) -> Result<Result<Principal, ApiError>, ApiError> {
    let credentials = std::sync::Arc::clone(&state.credentials);
    let found = super::with_conn(state, move |conn| {
        let now = participants::now();
        Ok::<_, ApiError>(match (lookup, credential) {
            (Lookup::Cached, _) => cache::authenticate(conn, &credentials, credential, &key, now),
            (Lookup::Exact, Credential::Token) => participants::authenticate_token(conn, &key, now),
            (Lookup::Exact, Credential::Certificate) => {
                participants::authenticate_certificate(conn, &key, now)
            }
        })
    })
    .await?;
    Ok(found.map_err(|failure| refusal(credential, failure)))
}

/// The participant of a credential: from the cache (still to be confirmed) for a
/// [`Lookup::Cached`] request that finds it there, else looked up.
async fn participant(
    state: &AppState,
    credential: Credential,
    key: String,
    lookup: Lookup,
) -> Result<Result<Provisional, ApiError>, ApiError> {
    if lookup == Lookup::Cached
        && let Some(cached) = state.credentials.get(credential, &key, participants::now())
    {
        return Ok(Ok(Provisional {
            caller: Caller::of(cached.principal),
            check: Some(Check {
                credential,
                key,
                epoch: cached.epoch,
            }),
        }));
    }
    Ok(look_up(state, credential, key, lookup)
        .await?
        .map(|principal| Provisional::confirmed(Caller::of(principal))))
}

async fn authenticate(req: HttpRequest, lookup: Lookup) -> Result<Provisional, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is missing")))?
        .clone();
    let mut certificate_refusal = None;
    if let Some(PeerCertificate(fingerprint)) = req.conn_data::<PeerCertificate>().cloned() {
        match participant(&state, Credential::Certificate, fingerprint, lookup).await? {
            Ok(found) => return Ok(found),
            Err(refused) => certificate_refusal = Some(refused),
        }
    }
    let token = match bearer(&req) {
        Some(token) => token?,
        None => {
            return Err(certificate_refusal.unwrap_or_else(|| {
                ApiError::Unauthorized("send Authorization: Bearer <token>".into())
            }));
        }
    };
    if let Some(caller) = configured(&state, &token) {
        return Ok(Provisional::confirmed(caller));
    }
    if !token::looks_like_token(&token) {
        return Err(ApiError::Unauthorized("the token is not known".into()));
    }
    participant(&state, Credential::Token, token::digest(&token), lookup).await?
}

/// The check a principal from the cache still owes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    credential: Credential,
    key: String,
    /// The credential epoch read before the look-up the cache holds.
    epoch: i64,
}

/// The caller of the policy-status route: like [`Caller`], but a participant's credential is
/// first sought in the cache of `participants::cache`, and a principal found there is only
/// provisional until the handler confirms it with the credential epoch it reads after the
/// request arrived ([`Provisional::confirm_with`], [`Provisional::confirm_on`]). A principal
/// looked up now, or a configured token, needs no confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisional {
    caller: Caller,
    check: Option<Check>,
}

impl From<Caller> for Provisional {
    /// A caller confirmed already.
    fn from(caller: Caller) -> Self {
        Self::confirmed(caller)
    }
}

impl Provisional {
    fn confirmed(caller: Caller) -> Self {
        Self {
            caller,
            check: None,
        }
    }

    /// The caller as authenticated so far: for checks of its role before reading; answer
    /// only with the confirmed caller.
    #[must_use]
    pub fn unconfirmed(&self) -> &Caller {
        &self.caller
    }

    /// Whether confirming needs the credential epoch.
    #[must_use]
    pub fn needs_epoch(&self) -> bool {
        self.check.is_some()
    }

    /// The caller, if `epoch_now` (read after the request arrived) confirms it; else itself,
    /// to be confirmed on a connection.
    ///
    /// # Errors
    /// Itself, when the epoch has moved since the look-up the cache holds (or was not read).
    pub fn confirm_with(self, epoch_now: Option<i64>) -> Result<Caller, Box<Self>> {
        match &self.check {
            None => Ok(self.caller),
            Some(check) if cache::holds(check.epoch, epoch_now) => Ok(self.caller),
            Some(_) => Err(Box::new(self)),
        }
    }

    /// The caller, confirmed on `conn` (in the handler's blocking closure): the epoch is read
    /// and, when it has moved, the credential is looked up again. A certificate from the
    /// cache that no longer authenticates is refused without trying the request's token.
    ///
    /// # Errors
    /// The credential no longer authenticates (the codes of [`Caller`]), or the database failed.
    pub fn confirm_on(
        self,
        conn: &mut DbConn,
        credentials: &CredentialCache,
    ) -> Result<Caller, ApiError> {
        let Some(check) = self.check else {
            return Ok(self.caller);
        };
        let epoch_now = participants::repo::credential_epoch(conn).map_err(ApiError::internal)?;
        if cache::holds(check.epoch, epoch_now) {
            return Ok(self.caller);
        }
        let now = participants::now();
        cache::authenticate(conn, credentials, check.credential, &check.key, now)
            .map(Caller::of)
            .map_err(|failure| refusal(check.credential, failure))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(authenticate(req, Lookup::Exact).await?.caller) })
    }
}

impl FromRequest for Provisional {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone(), Lookup::Cached))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, Lookup::Exact).await?.caller;
            match caller.role {
                Role::Admin => Ok(Admin(caller)),
                Role::Reader if caller.participant.is_some() => Err(ApiError::Forbidden(
                    "this endpoint needs the admin role".into(),
                )),
                Role::Reader => Err(ApiError::Forbidden(
                    "this endpoint needs the admin token".into(),
                )),
            }
        })
    }
}
