//! `/api/v1/packages`: the upload of packages and what the sender learns about them.
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/v1/packages?name=HM…zip` | the ZIP as the body (`application/zip` or `application/octet-stream`), streamed to disk; or `multipart/form-data` with a `package` part (the ZIP, or the ZIP inside an enveloping signature, `….zip.sig`) and `signature` parts (detached signatures: `<entry>.sig`, `<entry>.BUH.SIG`…, or `<package>.sig` over the whole ZIP); `202` with the receipt, or `200` with the first receipt when these bytes (or this `Idempotency-Key`) came from the sender before |
//! | `GET /api/v1/packages?page=&per_page=` | the packages the caller may read (`api::scope`), newest first |
//! | `GET /api/v1/packages/{id}` | the package: status (`received`, `checking`, `accepted`, `partly_accepted`, `rejected`), counts, first refusal code |
//! | `GET /api/v1/packages/{id}/receipt` | the receipt |
//! | `GET /api/v1/packages/{id}/receipt.sig` | the hub's detached CMS signature (DER) of those exact bytes; `404 not_signed` when the hub has no key |
//! | `GET /api/v1/packages/{id}/protocol` | the `FLK_P` protocol (windows-1251 XML, named `V` + the package name); `409 protocol_not_ready` before the check ends |
//! | `GET /api/v1/packages/{id}/protocol.sig` | the hub's detached CMS signature (DER) of the protocol |
//! | `GET /api/v1/packages/{id}/protocols` | the names of every protocol of the package (the data file's, the L file's; for an OPLIST the REPLIST and the `FLK_P`) with their `.sig` |
//! | `GET /api/v1/packages/{id}/protocols/{name}` | one of them |
//!
//! An insurer's OPLIST (`i….xml`, docs/ERZ.md) is sent the same way: the XML as
//! `application/xml` (or `text/xml`, or `application/octet-stream`), or `i….zip` holding it,
//! with its signatures as for an account package (docs/INTAKE.md); its answers are the REPLIST
//! `p…` (the `protocol`) and the `FLK_P` `f…`.
//!
//! A caller reads the packages `api::scope` gives it: its own, and with `read_own` those of its
//! organisation, a fund those of its territory, an insurer the accounts it pays; the admin and
//! `read_all` participants read all. A participant without the `upload` role may not upload
//! (403); a package the caller may not read is a 404, as if it did not exist. Uploads per sender per minute are limited (`429` with
//! `Retry-After`), and so are uploads past `server.concurrent_uploads_per_sender` arriving at
//! once (`429 too_many_concurrent_uploads`); a body past `intake.max_package_bytes` is refused
//! with `413` while it arrives, and one that pauses longer than
//! `server.upload_idle_timeout_secs` or takes longer than `server.upload_timeout_secs` with
//! `408 upload_timeout` (the connection is closed after it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::paging::{Page, PageQuery};
use super::scope::{self, PackageScope};
use crate::intake::signatures::MAX_SIGNATURE_BYTES;
use crate::intake::spool::{Spool, SpoolError};
use crate::intake::store::{self, PackageRow, Recorded};
use crate::intake::{Channel, Receipt, Status};
use crate::participants::Role as ParticipantRole;

/// Mounts the routes; called once from `api::app`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/api/v1/packages")
            .route(web::post().to(upload))
            .route(web::get().to(list)),
    )
    .service(super::resource("/api/v1/packages/{id}").route(web::get().to(status)))
    .service(super::resource("/api/v1/packages/{id}/receipt").route(web::get().to(receipt)))
    .service(super::resource("/api/v1/packages/{id}/receipt.sig").route(web::get().to(receipt_sig)))
    .service(super::resource("/api/v1/packages/{id}/protocol").route(web::get().to(protocol)))
    .service(
        super::resource("/api/v1/packages/{id}/protocol.sig").route(web::get().to(protocol_sig)),
    )
    .service(super::resource("/api/v1/packages/{id}/protocols").route(web::get().to(protocols)))
    .service(
        super::resource("/api/v1/packages/{id}/protocols/{name}")
            .route(web::get().to(protocol_named)),
    );
}

/// Signature parts one upload may carry (three regional signatures of two files, and one of the
/// package, fit).
pub const MAX_SIGNATURE_PARTS: usize = 8;

/// What `Retry-After` says to a sender over `server.concurrent_uploads_per_sender`.
const CONCURRENT_RETRY_SECS: u64 = 5;

/// Uploads started per sender in the current minute, and uploads of each sender arriving now.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
    arriving: Mutex<HashMap<String, u32>>,
}

/// One upload of a sender while its body arrives; dropping it frees the sender's place.
#[derive(Debug)]
struct Arriving {
    limiter: Arc<RateLimiter>,
    sender: String,
}

impl Drop for Arriving {
    fn drop(&mut self) {
        let mut arriving = self
            .limiter
            .arriving
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = arriving.get_mut(&self.sender) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                arriving.remove(&self.sender);
            }
        }
    }
}

impl RateLimiter {
    /// Counts one upload of `sender`; the seconds to wait when it is over `per_minute`.
    fn admit(&self, sender: &str, per_minute: u32) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let window = windows.entry(sender.to_owned()).or_insert((now, 0));
        let age = now.duration_since(window.0);
        if age >= Duration::from_secs(60) {
            *window = (now, 0);
        }
        if window.1 >= per_minute {
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(window.0));
            return Err(wait.as_secs().max(1));
        }
        window.1 += 1;
        Ok(())
    }

    /// A place for one more upload of `sender` arriving, if it has fewer than `at_most`.
    fn arrive(self: &Arc<Self>, sender: &str, at_most: u32) -> Option<Arriving> {
        let mut arriving = self.arriving.lock().unwrap_or_else(PoisonError::into_inner);
        let n = arriving.entry(sender.to_owned()).or_insert(0);
        if *n >= at_most {
            return None;
        }
        *n += 1;
        Some(Arriving {
            limiter: Arc::clone(self),
            sender: sender.to_owned(),
        })
    }
}

/// When an upload's body must have arrived: each piece within `idle` of the last, the whole
/// by `until` (`server.upload_idle_timeout_secs`, `server.upload_timeout_secs`).
#[derive(Debug, Clone, Copy)]
struct Deadline {
    idle: Duration,
    until: Instant,
}

impl Deadline {
    fn new(server: &crate::config::ServerSettings) -> Self {
        Self {
            idle: Duration::from_secs(server.upload_idle_timeout_secs),
            until: Instant::now() + Duration::from_secs(server.upload_timeout_secs),
        }
    }

    /// The next item of `stream`, or `408 upload_timeout` when it does not come in time.
    async fn next<S: futures_util::Stream + Unpin>(
        self,
        stream: &mut S,
    ) -> Result<Option<S::Item>, ApiError> {
        let left = self.until.saturating_duration_since(Instant::now());
        let wait = self.idle.min(left);
        actix_web::rt::time::timeout(wait, stream.next())
            .await
            .map_err(|_| ApiError::RequestTimeout {
                code: "upload_timeout",
                message: if wait == self.idle && !left.is_zero() {
                    format!(
                        "the upload's body stopped for more than {} s",
                        self.idle.as_secs()
                    )
                } else {
                    "the upload's body took longer than the hub waits for one".into()
                },
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    name: Option<String>,
}

/// The answer to an upload: the receipt and where to follow the package.
#[derive(Debug, Serialize)]
struct Received {
    #[serde(flatten)]
    receipt: Receipt,
    status: Status,
    /// `true` when these bytes or this idempotency key were received before.
    repeat: bool,
    status_url: String,
    protocol_url: String,
    /// The hub's detached CMS signature (DER, base64) of the receipt as `GET …/receipt` gives
    /// it; absent when the hub has no signing key.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_signature: Option<String>,
}

fn package_name(req: &HttpRequest, query: &UploadQuery) -> Result<String, ApiError> {
    let from_header = req
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .filter_map(|part| part.trim().strip_prefix("filename="))
                .map(|n| n.trim_matches('"').to_owned())
                .next()
        });
    let name = query
        .name
        .clone()
        .or(from_header)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "name the package: ?name=HM750096T75_26011.zip or Content-Disposition: attachment; filename=…"
                    .into(),
            )
        })?;
    file_name(name)
}

/// `name` when it is a bare file name: no folders, no control characters, not hidden.
fn file_name(name: String) -> Result<String, ApiError> {
    if name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name.starts_with('.')
    {
        return Err(ApiError::BadRequest(format!("`{name}` is not a file name")));
    }
    Ok(name)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1 to 200 visible characters".into())
        })?;
    Ok(Some(key.to_owned()))
}

/// How the package comes: `Ok(true)` multipart, `Ok(false)` the ZIP as the body.
fn check_content_type(req: &HttpRequest) -> Result<bool, ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/zip"
        | "application/octet-stream"
        | "application/x-zip-compressed"
        | "application/pkcs7-mime"
        | "application/pkcs7-signature"
        | "application/xml"
        | "text/xml" => Ok(false),
        "multipart/form-data" => Ok(true),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "{other} (send the ZIP as application/zip, or multipart/form-data with a `package` \
             part and `signature` parts)"
        ))),
    }
}

/// Writes `stream` into `spool`, refusing past its limit or its deadline.
async fn spool_stream<S, E>(
    spool: &mut Spool,
    mut stream: S,
    deadline: Deadline,
) -> Result<(), ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    while let Some(chunk) = deadline.next(&mut stream).await? {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload broken off: {e}")))?;
        spool.write(&chunk).map_err(|e| match e {
            SpoolError::TooLarge { limit } => too_large(limit),
            SpoolError::Io(io) => ApiError::internal(io),
        })?;
    }
    Ok(())
}

/// A multipart upload: the package part spooled to disk, the signature parts in memory (each
/// at most [`MAX_SIGNATURE_BYTES`], at most [`MAX_SIGNATURE_PARTS`]). The package name is
/// `?name=` or the `package` part's file name.
async fn read_multipart(
    req: &HttpRequest,
    body: web::Payload,
    query: &UploadQuery,
    mut spool: Spool,
    deadline: Deadline,
) -> Result<(Spool, String, Vec<(String, Vec<u8>)>), ApiError> {
    let mut parts = Multipart::new(req.headers(), body);
    let mut package: Option<String> = None;
    let mut signatures: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(field) = deadline.next(&mut parts).await? {
        let mut field =
            field.map_err(|e| ApiError::BadRequest(format!("a malformed multipart body: {e}")))?;
        let (part, filename) = {
            let cd = field.content_disposition();
            (
                cd.and_then(|c| c.get_name()).unwrap_or("").to_owned(),
                cd.and_then(|c| c.get_filename()).map(str::to_owned),
            )
        };
        match part.as_str() {
            "package" => {
                if package.is_some() {
                    return Err(ApiError::BadRequest("one `package` part per upload".into()));
                }
                let name = query.name.clone().or(filename).ok_or_else(|| {
                    ApiError::BadRequest(
                        "name the package: ?name=… or a file name on the `package` part".into(),
                    )
                })?;
                package = Some(file_name(name)?);
                spool_stream(&mut spool, &mut field, deadline).await?;
            }
            "signature" => {
                let name = file_name(filename.ok_or_else(|| {
                    ApiError::BadRequest("a `signature` part needs a file name".into())
                })?)?;
                if crate::validate::package::signature_suffix(&name).is_none() {
                    return Err(ApiError::BadRequest(format!(
                        "signature `{name}`: a signature file is named <file>.sig, \
                         <file>.BUH.SIG, <file>.ISP.SIG or <file>.DIR.SIG"
                    )));
                }
                if signatures
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(&name))
                {
                    return Err(ApiError::BadRequest(format!(
                        "signature `{name}` sent twice"
                    )));
                }
                if signatures.len() == MAX_SIGNATURE_PARTS {
                    return Err(ApiError::BadRequest(format!(
                        "more than {MAX_SIGNATURE_PARTS} signature parts"
                    )));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = deadline.next(&mut field).await? {
                    let chunk = chunk
                        .map_err(|e| ApiError::BadRequest(format!("upload broken off: {e}")))?;
                    if (bytes.len() + chunk.len()) as u64 > MAX_SIGNATURE_BYTES {
                        return Err(too_large(MAX_SIGNATURE_BYTES));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                signatures.push((name, bytes));
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown part `{other}`: send `package` and `signature` parts"
                )));
            }
        }
    }
    let package = package
        .ok_or_else(|| ApiError::BadRequest("the multipart body has no `package` part".into()))?;
    Ok((spool, package, signatures))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    }
}

/// A place for one more upload of `caller` arriving, or `429 too_many_concurrent_uploads`.
fn arrive(state: &AppState, caller: &Caller) -> Result<Arriving, ApiError> {
    let at_most = state.settings.server.concurrent_uploads_per_sender;
    state
        .upload_limiter
        .arrive(&caller.name, at_most)
        .ok_or_else(|| ApiError::TooManyRequests {
            code: "too_many_concurrent_uploads",
            retry_after: CONCURRENT_RETRY_SECS,
            message: format!(
                "{} has {at_most} uploads arriving already; send this one when one of them ended",
                caller.name
            ),
        })
}

async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(p) = &caller.participant
        && !p.roles.contains(ParticipantRole::Upload)
    {
        return Err(ApiError::Forbidden(format!(
            "participant {} ({}) may not upload packages",
            p.id, p.name
        )));
    }
    let intake = state.intake.clone();
    let settings = &intake.settings;
    let multipart = check_content_type(&req)?;
    let key = idempotency_key(&req)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A multipart body also carries the signatures and the part headers.
    let allowance = if multipart {
        MAX_SIGNATURE_BYTES * MAX_SIGNATURE_PARTS as u64 + 64 * 1024
    } else {
        0
    };
    if declared.is_some_and(|n| n > settings.max_package_bytes.saturating_add(allowance)) {
        return Err(too_large(settings.max_package_bytes));
    }
    let _arriving = arrive(&state, &caller)?;
    let deadline = Deadline::new(&state.settings.server);
    state
        .upload_limiter
        .admit(&caller.name, settings.uploads_per_minute)
        .map_err(|retry_after| ApiError::TooManyRequests {
            code: "too_many_requests",
            retry_after,
            message: format!(
                "more than {} uploads in a minute from {}; try again in {retry_after} s",
                settings.uploads_per_minute, caller.name
            ),
        })?;
    let spool =
        Spool::create(&intake.storage, settings.max_package_bytes).map_err(ApiError::internal)?;
    let (spool, name, signatures) = if multipart {
        read_multipart(&req, body, &query, spool, deadline).await?
    } else {
        let name = package_name(&req, &query)?;
        let mut spool = spool;
        spool_stream(&mut spool, &mut body, deadline).await?;
        (spool, name, Vec::new())
    };
    let sender = caller.name.clone();
    let recorded = {
        let intake = intake.clone();
        web::block(move || -> anyhow::Result<Recorded> {
            let spooled = spool.finish()?;
            intake.accept(
                spooled,
                &sender,
                Channel::Api,
                &name,
                key.as_deref(),
                &signatures,
            )
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    };
    let (row, repeat) = match recorded {
        Recorded::New(row) => (row, false),
        Recorded::Repeat(row) => (row, true),
    };
    let receipt = row.receipt();
    let receipt_signature = sign_receipt(&state, &receipt)
        .await?
        .map(|der| openssl::base64::encode_block(&der));
    let body = Received {
        receipt,
        status: row.status().unwrap_or(Status::Received),
        repeat,
        status_url: format!("/api/v1/packages/{}", row.id),
        protocol_url: format!("/api/v1/packages/{}/protocol", row.id),
        receipt_signature,
    };
    let mut response = if repeat {
        HttpResponse::Ok()
    } else {
        HttpResponse::Accepted()
    };
    Ok(response
        .insert_header((header::LOCATION, body.status_url.clone()))
        .json(body))
}

/// The package `id` when `caller` may see it (`api::scope`); another is a 404, as if it did
/// not exist.
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<PackageRow, ApiError> {
    let wanted = id.to_owned();
    let scope = PackageScope::of(caller);
    let row = super::with_conn(state, move |conn| {
        let row = store::get(conn, &wanted).map_err(ApiError::internal)?;
        match row {
            Some(row) if scope::sees(conn, &scope, &row.id).map_err(ApiError::internal)? => {
                Ok::<_, ApiError>(Some(row))
            }
            _ => Ok(None),
        }
    })
    .await?;
    row.ok_or_else(|| ApiError::NotFoundCoded {
        code: "package_unknown",
        message: format!("no package {id} you may read"),
    })
}

async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(row))
}

async fn receipt(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(receipt_bytes(&row.receipt())))
}

/// The receipt as `GET …/receipt` gives it: the bytes the hub signs.
fn receipt_bytes(receipt: &Receipt) -> Vec<u8> {
    serde_json::to_vec(receipt).unwrap_or_default()
}

/// The hub's signature of `receipt`, when the hub has a key.
async fn sign_receipt(state: &AppState, receipt: &Receipt) -> Result<Option<Vec<u8>>, ApiError> {
    let intake = state.intake.clone();
    let bytes = receipt_bytes(receipt);
    web::block(move || intake.sign(&bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn not_signed() -> ApiError {
    ApiError::NotFoundCoded {
        code: "not_signed",
        message: "this hub has no signing key (signature.hub_certificate); nothing it sends is \
                  signed"
            .into(),
    }
}

fn signature_response(name: &str, der: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pkcs7-signature")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(der)
}

async fn receipt_sig(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    let der = sign_receipt(&state, &row.receipt())
        .await?
        .ok_or_else(not_signed)?;
    Ok(signature_response(
        &format!("{}.receipt.json.sig", row.file_name),
        der,
    ))
}

async fn protocol_sig(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    let name = ready_protocol(&row)?;
    let path = state
        .intake
        .storage
        .protocol_dir(&row.id)
        .join(format!("{name}.sig"));
    let der = web::block(move || std::fs::read(path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                not_signed()
            } else {
                ApiError::internal(e)
            }
        })?;
    Ok(signature_response(&format!("{name}.sig"), der))
}

/// The protocol's name when the package is finished; `409 protocol_not_ready` before.
fn ready_protocol(row: &PackageRow) -> Result<String, ApiError> {
    match (
        row.protocol_name.clone(),
        row.status().is_some_and(Status::is_final),
    ) {
        (Some(name), true) => Ok(name),
        _ => Err(ApiError::Conflict {
            code: "protocol_not_ready",
            message: format!(
                "package {} is {}; its protocol is not ready",
                row.id, row.status
            ),
        }),
    }
}

async fn protocol(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    let name = ready_protocol(&row)?;
    let path = state.intake.storage.protocol_dir(&row.id).join(&name);
    let bytes = web::block(move || std::fs::read(path))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(protocol_file(&name, bytes))
}

/// A protocol file as the answer: XML in the encoding it declares (the `FLK_P` of packages is
/// windows-1251, the ERZ answers UTF-8), a `.sig` as a CMS signature.
fn protocol_file(name: &str, bytes: Vec<u8>) -> HttpResponse {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(100)]).to_ascii_lowercase();
    let content_type = if name.to_ascii_lowercase().ends_with(".sig") {
        "application/pkcs7-signature"
    } else if head.contains("encoding=\"utf-8\"") {
        "application/xml; charset=utf-8"
    } else {
        "application/xml; charset=windows-1251"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes)
}

/// The protocol files of a final package, by name.
fn protocol_names(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[derive(Serialize)]
struct ProtocolList {
    /// The main protocol (`GET …/protocol`).
    protocol: String,
    /// Every protocol file, with the hub's signatures.
    files: Vec<String>,
}

async fn protocols(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&state, &caller, &id).await?;
    let protocol = ready_protocol(&row)?;
    let dir = state.intake.storage.protocol_dir(&row.id);
    let files = web::block(move || protocol_names(&dir))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(ProtocolList { protocol, files }))
}

async fn protocol_named(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, name) = path.into_inner();
    let row = visible(&state, &caller, &id).await?;
    ready_protocol(&row)?;
    let name = file_name(name)?;
    let file = state.intake.storage.protocol_dir(&row.id).join(&name);
    let bytes = web::block(move || std::fs::read(file))
        .await
        .map_err(ApiError::internal)?;
    match bytes {
        Ok(bytes) => Ok(protocol_file(&name, bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::NotFoundCoded {
            code: "protocol_unknown",
            message: format!("package {id} has no protocol named {name}"),
        }),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().checked()?;
    let scope = PackageScope::of(&caller);
    let (total, items) = super::with_conn(&state, move |conn| {
        scope::list(conn, &scope, page.limit(), page.offset()).map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }))
}
