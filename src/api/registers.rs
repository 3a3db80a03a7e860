//! `/api/v1/registers`: the registers of organisations for every authenticated caller, changes
//! and onboarding steps for the admin. Thin: parse, call `registers::service`, map the result.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/registers/{register}?territory=&status=&q=&on=&page=&per_page=` | a page of entries; with `on`, only those active on that date, in their state on it |
//! | `GET /api/v1/registers/{register}/{code}?on=YYYY-MM-DD` | the entry, newest or on a date, and whether it is active then |
//! | `GET /api/v1/registers/{register}/{code}/history` | every version ever recorded |
//! | `POST /api/v1/registers/{register}?valid_from=YYYY-MM-DD` | admin: create or update the entry in the JSON body |
//! | `POST /api/v1/registers/{register}/{code}/status` | admin: an onboarding step `{"status", "comment", "date"}` |
//!
//! `{register}` is `territorial-funds`, `insurers`, `medical-organisations` or `experts`.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::auth::{Admin, Caller};
use super::error::ApiError;
use super::paging::{Page, PageQuery};
use crate::domain::TfomsCode;
use crate::imports::Outcome;
use crate::registers::RegisterKind;
use crate::registers::check::parse_date;
use crate::registers::model::{ListFilter, Status};
use crate::registers::service::{self, EntryView, ServiceError, VersionView};

/// Mounts the routes; called once from `api::app`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/api/v1/registers/{register}")
            .route(web::get().to(list))
            .route(web::post().to(save)),
    )
    .service(super::resource("/api/v1/registers/{register}/{code}").route(web::get().to(entry)))
    .service(
        super::resource("/api/v1/registers/{register}/{code}/history")
            .route(web::get().to(history)),
    )
    .service(
        super::resource("/api/v1/registers/{register}/{code}/status")
            .route(web::post().to(transition)),
    );
}

fn register(slug: &str) -> Result<RegisterKind, ApiError> {
    RegisterKind::from_slug(slug).ok_or_else(|| {
        let names: Vec<&str> = RegisterKind::ALL.iter().map(|k| k.slug()).collect();
        ApiError::NotFoundCoded {
            code: "register_unknown",
            message: format!(
                "no register `{slug}`; the registers are {}",
                names.join(", ")
            ),
        }
    })
}

fn api_error(e: ServiceError) -> ApiError {
    let code = e.code();
    match e {
        ServiceError::EntryNotFound { .. } => ApiError::NotFoundCoded {
            code,
            message: e.to_string(),
        },
        ServiceError::Invalid(_) | ServiceError::DateBeforeNewest { .. } => {
            ApiError::Unprocessable {
                code,
                message: e.to_string(),
            }
        }
        ServiceError::InvalidTransition { .. } | ServiceError::NoWorkflow { .. } => {
            ApiError::Conflict {
                code,
                message: e.to_string(),
            }
        }
        ServiceError::Store(e) => ApiError::internal(e),
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        api_error(e)
    }
}

/// Query of the list endpoint.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only this territory (2-digit code).
    pub territory: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Text in the code or names (case-insensitive).
    pub q: Option<String>,
    /// Only entries active on this date, shown in their state on it.
    pub on: Option<NaiveDate>,
    /// 1-based page.
    pub page: Option<u32>,
    /// Page size.
    pub per_page: Option<u32>,
}

async fn list(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<Page<EntryView>>, ApiError> {
    let kind = register(&path)?;
    let query = query.into_inner();
    let paging = PageQuery {
        page: query.page,
        per_page: query.per_page,
    }
    .checked()?;
    let territory = query
        .territory
        .as_deref()
        .map(|t| {
            TfomsCode::parse(t)
                .map_err(|e| ApiError::BadRequest(format!("query parameter territory: {e}")))
        })
        .transpose()?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "query parameter status: `{s}` is not one of application, approved, rejected, active, excluded"
                ))
            })
        })
        .transpose()?;
    let filter = ListFilter {
        territory,
        status,
        q: query
            .q
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty()),
    };
    let on = query.on;
    let (items, total) = super::with_conn(&state, move |conn| {
        service::list(conn, kind, &filter, on, paging.offset(), paging.limit())
    })
    .await?;
    Ok(web::Json(Page {
        items,
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// Query naming a date.
#[derive(Debug, Deserialize)]
pub struct OnQuery {
    /// The date asked about; the newest state and today when absent.
    pub on: Option<NaiveDate>,
}

async fn entry(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<OnQuery>,
) -> Result<web::Json<EntryView>, ApiError> {
    let (slug, code) = path.into_inner();
    let kind = register(&slug)?;
    let on = query.on;
    super::with_conn(&state, move |conn| service::get(conn, kind, &code, on))
        .await
        .map(web::Json)
}

async fn history(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<VersionView>>, ApiError> {
    let (slug, code) = path.into_inner();
    let kind = register(&slug)?;
    super::with_conn(&state, move |conn| service::history(conn, kind, &code))
        .await
        .map(web::Json)
}

/// Query of the create-or-update endpoint.
#[derive(Debug, Deserialize)]
pub struct SaveQuery {
    /// From when the new state is true; the record's `d_edit`, else today, when absent.
    pub valid_from: Option<NaiveDate>,
}

async fn save(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<SaveQuery>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let kind = register(&path)?;
    let valid_from = query.valid_from;
    let author = admin.0.name;
    let saved = super::with_conn(&state, move |conn| {
        service::save(conn, kind, body.into_inner(), valid_from, &author)
    })
    .await?;
    if saved.outcome != Outcome::Unchanged {
        super::refresh_lookups(&state).await?;
    }
    Ok(if saved.outcome == Outcome::Inserted {
        HttpResponse::Created().json(saved)
    } else {
        HttpResponse::Ok().json(saved)
    })
}

/// Body of an onboarding step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// The new status: approved, rejected, active or excluded.
    pub status: String,
    /// Why (required).
    pub comment: Option<String>,
    /// The date the step takes effect (for `excluded`: the first day out of the register);
    /// today when absent.
    pub date: Option<String>,
}

async fn transition(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<TransitionBody>,
) -> Result<web::Json<EntryView>, ApiError> {
    let (slug, code) = path.into_inner();
    let kind = register(&slug)?;
    let body = body.into_inner();
    let to = Status::parse(&body.status).ok_or_else(|| ApiError::Unprocessable {
        code: "invalid_status",
        message: format!(
            "field `status`: `{}` is not one of application, approved, rejected, active, excluded",
            body.status
        ),
    })?;
    let day = body
        .date
        .as_deref()
        .map(|d| {
            parse_date(d).ok_or_else(|| ApiError::Unprocessable {
                code: "invalid_date",
                message: "field `date`: not a date (write YYYY-MM-DD or DD.MM.YYYY)".into(),
            })
        })
        .transpose()?;
    let comment = body.comment.unwrap_or_default();
    let author = admin.0.name;
    let view = super::with_conn(&state, move |conn| {
        service::transition(conn, kind, &code, to, day, &comment, &author)
    })
    .await?;
    super::refresh_lookups(&state).await?;
    Ok(web::Json(view))
}
