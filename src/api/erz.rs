//! The register of insured persons over HTTP: `GET /api/v1/policy-status` (issue 8, point 5).
//!
//! `?enp=…` or `?snils=…`, `&date=YYYY-MM-DD` (default today), optionally `&as_of=` an RFC 3339
//! time ("as the register knew it then"). Only participants (or the admin token) may ask;
//! every call is audited by `erz::status`. A malformed ENP or SNILS is 400 with a code naming
//! the failed check (`enp_check_digit_mismatch`, …); nobody registered is 404
//! `person_not_found`. The handler parses, calls `erz::policy_status` (with the server's batched
//! audit writer when it runs one), maps the result.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::{ApiError, AppState, with_conn};
use crate::db::DbConn;
use crate::erz::repo::NewStatusQuery;
use crate::erz::status::{Asker, policy_status_with};
use crate::erz::{StatusError, StatusKey, policy_status};

/// The routes of this module.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/v1/policy-status").route(web::get().to(status)));
}

/// The query of `GET /api/v1/policy-status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    enp: Option<String>,
    snils: Option<String>,
    date: Option<String>,
    as_of: Option<String>,
}

impl From<StatusError> for ApiError {
    fn from(e: StatusError) -> Self {
        let code = e.code();
        match e {
            StatusError::Invalid { .. } => ApiError::BadRequestCoded {
                code,
                message: e.to_string(),
            },
            StatusError::NotFound(_) => ApiError::NotFoundCoded {
                code,
                message: e.to_string(),
            },
            StatusError::Ambiguous => ApiError::Conflict {
                code,
                message: e.to_string(),
            },
            StatusError::Db(e) => ApiError::internal(e),
        }
    }
}

fn parse_as_of(text: &str) -> Result<NaiveDateTime, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .map_err(|_| ApiError::BadRequestCoded {
            code: "invalid_as_of",
            message: "as_of must be an RFC 3339 time (2024-06-01T12:00:00Z)".into(),
        })
}

async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    if caller.participant.is_none() && caller.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "the policy status is for participants of the exchange".into(),
        ));
    }
    let q = query.into_inner();
    let key = match (&q.enp, &q.snils) {
        (Some(enp), None) => StatusKey::enp(enp)?,
        (None, Some(snils)) => StatusKey::snils(snils)?,
        _ => {
            return Err(ApiError::BadRequestCoded {
                code: "key_required",
                message: "give exactly one of enp and snils".into(),
            });
        }
    };
    let now = crate::participants::now();
    let on = match &q.date {
        Some(d) => {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ApiError::BadRequestCoded {
                code: "invalid_date",
                message: "date must be YYYY-MM-DD".into(),
            })?
        }
        None => now.date(),
    };
    let as_of = q.as_of.as_deref().map(parse_as_of).transpose()?;
    let asker = Asker {
        caller: caller.name.clone(),
        participant_id: caller.participant.as_ref().map(|p| p.id),
    };
    let registers = state.lookups.registers();
    let audit = state.status_audit.clone();
    let answer = with_conn(&state, move |conn| match audit {
        Some(writer) => {
            let queued = |conn: &mut DbConn, row: NewStatusQuery| writer.write(conn, row);
            policy_status_with(
                conn,
                registers.as_ref(),
                &asker,
                &key,
                on,
                as_of,
                now,
                &queued,
            )
        }
        None => policy_status(conn, registers.as_ref(), &asker, &key, on, as_of, now),
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}
