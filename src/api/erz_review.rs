//! The review queue of duplicate insured persons over HTTP (issue 8, point 4), for the admin
//! only:
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/erz/review?page=&per_page=` | a page of undecided pairs, best score first, with both persons' current data |
//! | `POST /api/v1/erz/review/{id}` `{"decision": "duplicate"\|"distinct", "comment": "…"}` | the decision and the link it made or undid |
//!
//! Errors: 404 `pair_not_found`, 409 `decision_final` (a decision is final), 400
//! `invalid_decision`. Thin: parse, call `erz::review`, map the result.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::Admin;
use super::paging::{Page, PageQuery};
use super::{ApiError, AppState, with_conn};
use crate::erz::review::{self, Decision, PairView, ReviewError};

/// The routes of this module.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/v1/erz/review").route(web::get().to(list)))
        .service(super::resource("/api/v1/erz/review/{id}").route(web::post().to(decide)));
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        let code = e.code();
        match e {
            ReviewError::PairNotFound(_) | ReviewError::PersonNotFound(_) => {
                ApiError::NotFoundCoded {
                    code,
                    message: e.to_string(),
                }
            }
            ReviewError::DecisionFinal { .. }
            | ReviewError::SamePerson
            | ReviewError::AlreadyMerged
            | ReviewError::MergeCycle
            | ReviewError::NotMerged => ApiError::Conflict {
                code,
                message: e.to_string(),
            },
            ReviewError::InvalidDecision | ReviewError::InvalidEnp(_) => {
                ApiError::BadRequestCoded {
                    code,
                    message: e.to_string(),
                }
            }
            ReviewError::Db(e) => ApiError::internal(e),
        }
    }
}

async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<PairView>>, ApiError> {
    let paging = query.into_inner().checked()?;
    let (items, total) = with_conn(&state, move |conn| {
        review::queue(conn, paging.offset(), paging.limit())
    })
    .await?;
    Ok(web::Json(Page {
        items,
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// The body of a decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    comment: Option<String>,
}

async fn decide(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<DecisionBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = path.into_inner();
    let body = body.into_inner();
    let decision = Decision::parse(&body.decision)?;
    let by = admin.0.name;
    let now = crate::participants::now();
    let answer = with_conn(&state, move |conn| {
        review::decide(conn, pair, decision, &by, body.comment.as_deref(), now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}
