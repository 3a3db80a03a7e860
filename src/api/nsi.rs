//! `/api/v1/nsi`: classifiers for every authenticated caller, packet import for the admin.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/nsi` | the classifiers with entry counts and newest import |
//! | `GET /api/v1/nsi/{id}?on=&q=&page=&per_page=` | a page of current entries |
//! | `GET /api/v1/nsi/{id}/{code}?on=YYYY-MM-DD` | the entry in force on that date (today by default) |
//! | `GET /api/v1/nsi/{id}/{code}/history` | every version ever recorded |
//! | `GET /api/v1/nsi/{id}/export?on=&encoding=` | the classifier as a packet file |
//! | `POST /api/v1/nsi/import?classifier=&dry_run=` | admin: import the packet in the body |

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Admin, Caller};
use super::error::ApiError;
use super::paging::{Page, PageQuery};
use crate::nsi::NsiError;
use crate::nsi::packet::{self, OutputEncoding};
use crate::nsi::store::{self, ClassifierInfo, CodeOnDate, Entry, ImportRequest, ListFilter};

/// Largest packet the import endpoint accepts.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 * 1024;

/// Mounts the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/v1/nsi").route(web::get().to(classifiers)))
        .service(
            super::resource("/api/v1/nsi/import")
                .app_data(web::PayloadConfig::new(MAX_PACKET_BYTES))
                .route(web::post().to(import)),
        )
        .service(super::resource("/api/v1/nsi/{id}").route(web::get().to(entries)))
        .service(super::resource("/api/v1/nsi/{id}/export").route(web::get().to(export)))
        .service(super::resource("/api/v1/nsi/{id}/{code}").route(web::get().to(entry)))
        .service(super::resource("/api/v1/nsi/{id}/{code}/history").route(web::get().to(history)));
}

fn unknown_classifier(id: &str) -> ApiError {
    ApiError::NotFoundCoded {
        code: "nsi_unknown_classifier",
        message: format!("classifier {id} is not loaded"),
    }
}

async fn classifiers(
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<ClassifierInfo>>, ApiError> {
    super::with_conn(&state, |conn| {
        store::classifiers(conn).map_err(ApiError::internal)
    })
    .await
    .map(web::Json)
}

/// Query of the list endpoint.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only entries valid on this date.
    pub on: Option<NaiveDate>,
    /// Codes starting with, or names containing, this text.
    pub q: Option<String>,
    /// 1-based page.
    pub page: Option<u32>,
    /// Page size.
    pub per_page: Option<u32>,
}

async fn entries(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<Page<Entry>>, ApiError> {
    let id = id.into_inner().to_ascii_uppercase();
    let query = query.into_inner();
    let paging = PageQuery {
        page: query.page,
        per_page: query.per_page,
    }
    .checked()?;
    let filter = ListFilter {
        on: query.on,
        q: query.q,
    };
    let (items, total) = super::with_conn(&state, move |conn| {
        if !store::has_classifier(conn, &id).map_err(ApiError::internal)? {
            return Err(unknown_classifier(&id));
        }
        store::list(conn, &id, &filter, paging.offset(), paging.limit()).map_err(ApiError::internal)
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
    /// The date asked about; today (UTC) when absent.
    pub on: Option<NaiveDate>,
}

/// An entry valid on the date asked about.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntryOnDate {
    /// The date asked about.
    pub valid_on: NaiveDate,
    /// The version in force on it.
    #[serde(flatten)]
    pub entry: serde_json::Value,
}

fn period_text(e: &Entry) -> String {
    match e.valid_to {
        Some(end) => format!("{} to {end}", e.valid_from),
        None => format!("from {}", e.valid_from),
    }
}

async fn entry(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<OnQuery>,
) -> Result<web::Json<EntryOnDate>, ApiError> {
    let (id, code) = path.into_inner();
    let id = id.to_ascii_uppercase();
    let on = query.on.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let found = super::with_conn(&state, {
        let (id, code) = (id.clone(), code.clone());
        move |conn| store::code_on(conn, &id, &code, on).map_err(ApiError::internal)
    })
    .await?;
    match found {
        CodeOnDate::Valid(entry) => Ok(web::Json(EntryOnDate {
            valid_on: on,
            entry: serde_json::to_value(entry).map_err(ApiError::internal)?,
        })),
        CodeOnDate::NotValidOn(periods) => Err(ApiError::NotFoundCoded {
            code: "nsi_code_not_valid_on_date",
            message: format!(
                "code {code} of {id} is not valid on {on}; it is valid {}",
                periods
                    .iter()
                    .map(period_text)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        CodeOnDate::UnknownCode => Err(ApiError::NotFoundCoded {
            code: "nsi_unknown_code",
            message: format!("classifier {id} has no code {code}"),
        }),
        CodeOnDate::UnknownClassifier => Err(unknown_classifier(&id)),
    }
}

async fn history(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<Entry>>, ApiError> {
    let (id, code) = path.into_inner();
    let id = id.to_ascii_uppercase();
    super::with_conn(&state, move |conn| {
        if !store::has_classifier(conn, &id).map_err(ApiError::internal)? {
            return Err(unknown_classifier(&id));
        }
        let versions = store::history(conn, &id, &code).map_err(ApiError::internal)?;
        if versions.is_empty() {
            return Err(ApiError::NotFoundCoded {
                code: "nsi_unknown_code",
                message: format!("classifier {id} has no code {code}"),
            });
        }
        Ok(versions)
    })
    .await
    .map(web::Json)
}

/// Query of the export endpoint.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// Only entries valid on this date.
    pub on: Option<NaiveDate>,
    /// `utf-8` (default) or `windows-1251`.
    pub encoding: Option<String>,
}

async fn export(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_ascii_uppercase();
    let encoding = OutputEncoding::from_name(query.encoding.as_deref().unwrap_or("utf-8"))
        .map_err(ApiError::BadRequest)?;
    let on = query.on;
    let file_id = id.clone();
    let bytes = super::with_conn(&state, move |conn| {
        if !store::has_classifier(conn, &id).map_err(ApiError::internal)? {
            return Err(unknown_classifier(&id));
        }
        let packet = store::export(conn, &id, on).map_err(ApiError::internal)?;
        packet::write_packet(&packet, encoding).map_err(|e| ApiError::Unprocessable {
            code: e.code(),
            message: e.to_string(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(format!(
            "application/xml; charset={}",
            encoding.label().to_ascii_lowercase()
        ))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_id}.xml\""),
        ))
        .body(bytes))
}

/// Query of the import endpoint.
#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    /// The classifier, when the packet does not say it clearly.
    pub classifier: Option<String>,
    /// Check and count only.
    #[serde(default)]
    pub dry_run: bool,
    /// A name for the import log (the file name, by default `upload.xml`).
    pub file: Option<String>,
}

async fn import(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> Result<web::Json<crate::imports::FileSummary>, ApiError> {
    let query = query.into_inner();
    let by = admin.0.name;
    let summary = super::with_conn(&state, move |conn| {
        store::import_packet(
            conn,
            ImportRequest {
                bytes: &body,
                source: query.file.as_deref().unwrap_or("upload.xml"),
                classifier: query.classifier.as_deref(),
                dry_run: query.dry_run,
                by: &by,
                progress: None,
            },
        )
        .map_err(|e| match e {
            NsiError::Db(e) => ApiError::internal(e),
            other => ApiError::Unprocessable {
                code: other.code(),
                message: other.to_string(),
            },
        })
    })
    .await?;
    if summary.changed() && !summary.dry_run {
        super::refresh_lookups(&state).await?;
    }
    Ok(web::Json(summary))
}
