//! The register of insured persons over HTTP: `GET /api/v1/policy-status` (issue 8, point 5),
//! `GET /api/v1/erz/lists/{reclist|stoplist|conflictlist}` (point 2) and
//! `GET /api/v1/persons/{enp}/care` (point 7).
//!
//! Policy status: `?enp=…`, `?snils=…` or `?fam=&im=&ot=&dr=&doctype=&docser=&docnum=`, `&date=YYYY-MM-DD` (default today), optionally `&as_of=` an RFC 3339
//! time ("as the register knew it then"). Only participants (or the admin token) may ask;
//! every call is audited by `erz::status`. A malformed ENP or SNILS is 400 with a code naming
//! the failed check (`enp_check_digit_mismatch`, …); nobody registered is 404
//! `person_not_found`; a key that several persons match is 409 `person_ambiguous`.
//!
//! Lists: `?from=YYYY-MM-DD&to=YYYY-MM-DD`; an insurer participant gets its own insurer's list,
//! the admin names one with `&insurer=`; anyone else 403 `forbidden`. The answer is the
//! XML file, its name in `Content-Disposition`.
//!
//! Care: `?page=&per_page=`; each case is shown to whom `erz::care` lets read it (the
//! person's insurer on the dates of the case, the funds of the person's and of the clinic's
//! territory, the treating clinic, auditors and the admin); a caller that may read none of the
//! person's cases is 403 `care_not_visible`; every read audited.
//!
//! The handlers parse, call `erz` (the policy status with the server's batched audit writer
//! when it runs one, and, by ENP as known now, through the server's batched reads
//! (`erz::status_batch`) when it runs them), map the result.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use std::sync::Arc;

use super::auth::{Caller, Provisional, Role};
use super::paging::{Page, PageQuery};
use super::{ApiError, AppState, with_conn};
use crate::db::DbConn;
use crate::erz::care::{Care, CareScope, care_of};
use crate::erz::lists::{ListError, ListKind, ListRequest, produce};
use crate::erz::repo::NewStatusQuery;
use crate::erz::repo::audit::insert_status_queries;
use crate::erz::status::{Asker, policy_status_with, status_from_facts};
use crate::erz::{StatusError, StatusKey, policy_status};
use crate::participants::{Kind, Role as ParticipantRole};

/// The routes of this module.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/v1/policy-status").route(web::get().to(status)))
        .service(super::resource("/api/v1/erz/lists/{kind}").route(web::get().to(list)))
        .service(super::resource("/api/v1/persons/{enp}/care").route(web::get().to(care)));
}

/// The query of `GET /api/v1/policy-status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    enp: Option<String>,
    snils: Option<String>,
    fam: Option<String>,
    im: Option<String>,
    ot: Option<String>,
    dr: Option<String>,
    doctype: Option<String>,
    docser: Option<String>,
    docnum: Option<String>,
    date: Option<String>,
    as_of: Option<String>,
}

impl From<StatusError> for ApiError {
    fn from(e: StatusError) -> Self {
        let code = e.code();
        match e {
            StatusError::Invalid { .. } | StatusError::NamesKey(_) => ApiError::BadRequestCoded {
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

/// The key the query names: exactly one of ENP, SNILS, names + birth date + document.
fn status_key(q: &StatusQuery) -> Result<StatusKey, ApiError> {
    let by_names = [
        &q.fam, &q.im, &q.ot, &q.dr, &q.doctype, &q.docser, &q.docnum,
    ]
    .iter()
    .any(|v| v.is_some());
    Ok(match (&q.enp, &q.snils, by_names) {
        (Some(enp), None, false) => StatusKey::enp(enp)?,
        (None, Some(snils), false) => StatusKey::snils(snils)?,
        (None, None, true) => StatusKey::names(
            q.fam.as_deref(),
            q.im.as_deref(),
            q.ot.as_deref(),
            q.dr.as_deref(),
            q.doctype.as_deref(),
            q.docser.as_deref(),
            q.docnum.as_deref(),
        )?,
        _ => {
            return Err(ApiError::BadRequestCoded {
                code: "key_required",
                message: "give exactly one key: enp, snils, or fam + dr + doctype + docnum \
                          (with im, ot, docser when known)"
                    .into(),
            });
        }
    })
}

/// The key, the date (default: today) and the `as_of` of the query.
fn parse_status_query(
    q: &StatusQuery,
    now: NaiveDateTime,
) -> Result<(StatusKey, NaiveDate, Option<NaiveDateTime>), ApiError> {
    let key = status_key(q)?;
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
    Ok((key, on, as_of))
}

/// Who asks, for the audit.
fn asker(caller: &Caller) -> Asker {
    Asker {
        caller: caller.name.clone(),
        participant_id: caller.participant.as_ref().map(|p| p.id),
    }
}

async fn status(
    state: web::Data<AppState>,
    caller: Provisional,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    // A participant stays a participant when its confirmation looks it up again, so the
    // unconfirmed caller decides this; the answer waits for the confirmed one.
    let unconfirmed = caller.unconfirmed();
    if unconfirmed.participant.is_none() && unconfirmed.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "the policy status is for participants of the exchange".into(),
        ));
    }
    let now = crate::participants::now();
    let (key, on, as_of) = match parse_status_query(&query, now) {
        Ok(parsed) => parsed,
        Err(refused) => {
            // A kept credential revoked since gets its 401, not an answer about the query.
            if caller.needs_epoch() {
                let credentials = Arc::clone(&state.credentials);
                with_conn(&state, move |conn| caller.confirm_on(conn, &credentials)).await?;
            }
            return Err(refused);
        }
    };
    let registers = state.lookups.registers();
    let credentials = Arc::clone(&state.credentials);
    let mut caller = caller;
    if let (Some(batcher), StatusKey::Enp(enp), None) = (&state.status_batch, &key, as_of)
        && let Some(batched) = batcher.ask(enp.as_str(), on, caller.needs_epoch()).await
    {
        let facts = batched
            .facts
            .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        let confirmed = match caller.confirm_with(batched.epoch) {
            Ok(confirmed) => confirmed,
            Err(unconfirmed) => {
                let credentials = Arc::clone(&credentials);
                with_conn(&state, move |conn| {
                    unconfirmed.confirm_on(conn, &credentials)
                })
                .await?
            }
        };
        let asker = asker(&confirmed);
        if let Some((answer, row)) =
            status_from_facts(registers.as_ref(), &asker, enp, on, now, facts)
        {
            let unqueued = match &state.status_audit {
                Some(writer) => writer.submit(row),
                None => Some(row),
            };
            if let Some(row) = unqueued {
                with_conn(&state, move |conn| {
                    insert_status_queries(conn, &[row]).map_err(ApiError::internal)
                })
                .await?;
            }
            return Ok(HttpResponse::Ok().json(answer?));
        }
        // Confirmed now: the direct read below needs no epoch.
        caller = Provisional::from(confirmed);
    }
    let audit = state.status_audit.clone();
    let answer = with_conn(&state, move |conn| {
        let asker = asker(&caller.confirm_on(conn, &credentials)?);
        match audit {
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
        }
        .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        let code = e.code();
        match e {
            ListError::InvalidInsurer | ListError::InvalidPeriod => ApiError::BadRequestCoded {
                code,
                message: e.to_string(),
            },
            ListError::UnknownInsurer(_) => ApiError::NotFoundCoded {
                code,
                message: e.to_string(),
            },
            ListError::Registers(_) | ListError::Db(_) | ListError::Write(_) => {
                ApiError::internal(e)
            }
        }
    }
}

fn parse_day(text: Option<&str>, name: &'static str) -> Result<NaiveDate, ApiError> {
    text.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| ApiError::BadRequestCoded {
            code: "invalid_date",
            message: format!("{name} must be a date YYYY-MM-DD"),
        })
}

/// The query of `GET /api/v1/erz/lists/{kind}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    insurer: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    kind: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = ListKind::parse(&kind).ok_or_else(|| ApiError::NotFoundCoded {
        code: "unknown_list",
        message: "the lists are reclist, stoplist and conflictlist".into(),
    })?;
    let q = query.into_inner();
    let own = caller
        .participant
        .as_ref()
        .filter(|p| p.kind == Kind::Insurer)
        .and_then(|p| p.org_code.clone());
    let insurer = match (own, caller.role, q.insurer) {
        (Some(code), _, None) => code,
        (Some(code), _, Some(asked)) if asked == code => code,
        (_, Role::Admin, Some(asked)) => asked,
        (_, Role::Admin, None) => {
            return Err(ApiError::BadRequestCoded {
                code: "insurer_required",
                message: "name the insurer: insurer=<F002 code>".into(),
            });
        }
        _ => {
            return Err(ApiError::Forbidden(
                "the lists are for insurers, each its own".into(),
            ));
        }
    };
    let from = parse_day(q.from.as_deref(), "from")?;
    let to = parse_day(q.to.as_deref(), "to")?;
    let who = caller.name.clone();
    let storage = state.settings.intake.storage_dir.clone();
    let (file, content, length) = with_conn(&state, move |conn| {
        // The list is written into a folder of its own beside the packages and read back
        // from the open file as the answer streams; the folder is removed at once.
        std::fs::create_dir_all(&storage).map_err(ListError::Write)?;
        let dir = tempfile::Builder::new()
            .prefix(".list-")
            .tempdir_in(&storage)
            .map_err(ListError::Write)?;
        let asked = ListRequest {
            kind,
            insurer: &insurer,
            from,
            to,
        };
        let file = produce(conn, asked, &who, crate::participants::now(), dir.path())?;
        let content = std::fs::File::open(&file.path).map_err(ListError::Write)?;
        let length = content.metadata().map_err(ListError::Write)?.len();
        Ok::<_, ListError>((file, content, length))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.name),
        ))
        .insert_header(("X-Records", file.records.to_string()))
        .no_chunking(length)
        .streaming(file_chunks(content)))
}

/// The bytes of `file` from where it stands, 64 KiB at a time, each read on the blocking pool.
fn file_chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let (file, chunk) = web::block(move || {
            let mut buf = vec![0_u8; 1 << 16];
            let n = std::io::Read::read(&mut file, &mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok((!chunk.is_empty()).then(|| (web::Bytes::from(chunk), file)))
    })
}

/// The cases of a person `caller` may read: all for the admin and `read_all` participants;
/// by its organisation for a fund, an insurer or a clinic with `read_own`; `None` for anyone
/// else.
fn care_scope(caller: &Caller) -> Option<CareScope> {
    if caller.role == Role::Admin {
        return Some(CareScope::All);
    }
    let p = caller.participant.as_ref()?;
    if p.roles.contains(ParticipantRole::ReadAll) {
        return Some(CareScope::All);
    }
    if !p.roles.contains(ParticipantRole::ReadOwn) {
        return None;
    }
    let code = p.org_code.clone()?;
    match p.kind {
        Kind::Clinic => Some(CareScope::Clinic(code)),
        Kind::Insurer => Some(CareScope::Insurer(code)),
        Kind::Fund => Some(CareScope::Fund(code)),
        Kind::Auditor | Kind::Admin => None,
    }
}

fn care_not_visible() -> ApiError {
    ApiError::ForbiddenCoded {
        code: "care_not_visible",
        message: "the care of a person is read by the person's insurer on the dates of the \
                  cases, the funds of the person's and of the clinic's territory, the treating \
                  clinic for its own cases, and auditors; none of this person's cases is yours"
            .into(),
    }
}

async fn care(
    state: web::Data<AppState>,
    caller: Caller,
    enp: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(scope) = care_scope(&caller) else {
        return Err(ApiError::ForbiddenCoded {
            code: "care_not_visible",
            message: "the care of a person is for the participants that treat, insure or \
                      oversee the person (with read_own), and auditors"
                .into(),
        });
    };
    let page = query.into_inner().checked()?;
    let asker = Asker {
        caller: caller.name.clone(),
        participant_id: caller.participant.as_ref().map(|p| p.id),
    };
    let enp = enp.into_inner();
    let now = crate::participants::now();
    let care = with_conn(&state, move |conn| {
        care_of(
            conn,
            &asker,
            &enp,
            &scope,
            (page.offset(), page.limit()),
            now,
        )
    })
    .await?;
    let Care::Cases(items, total) = care else {
        return Err(care_not_visible());
    };
    Ok(HttpResponse::Ok().json(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }))
}
