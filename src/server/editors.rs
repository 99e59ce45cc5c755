//! The editors' endpoints: customers' feedback on a reply (`POST /v1/feedback`), the
//! report over the conversation log (`GET /v1/admin/report`) and the content overview of
//! the preview page's editor view (`GET /v1/admin/content`), the last two behind the admin
//! token.

use super::error::{code, ApiError};
use super::extract::{body_error, parse_object, require_json};
use super::state::AppState;
use crate::report::{parse_period, Report, ReportOptions};
use crate::store::Feedback;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Longest feedback comment, in bytes.
pub const MAX_COMMENT_BYTES: usize = 2000;

/// The body of `POST /v1/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    reply_id: String,
    helpful: bool,
    #[serde(default)]
    rating: Option<u8>,
    #[serde(default)]
    comment: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code::INVALID_FIELD,
        message,
    )
}

fn log_disabled() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::LOG_DISABLED,
        "the conversation log is off: feedback and reports need [log] enabled and a state database",
    )
}

/// `POST /v1/feedback`: 👍/👎, a rating and a comment on a reply, by its `reply_id`.
pub(super) async fn feedback(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|e| body_error(&state, e))?;
    let fb: FeedbackBody = parse_object(&body)?;
    let well_formed = !fb.reply_id.is_empty()
        && fb.reply_id.len() <= 64
        && fb.reply_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(invalid(
            "reply_id: not the id of a reply (up to 64 hex digits)",
        ));
    }
    if fb.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(invalid("rating: from 1 (bad) to 5 (good)"));
    }
    if fb
        .comment
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COMMENT_BYTES)
    {
        return Err(invalid(format!(
            "comment: longer than {MAX_COMMENT_BYTES} bytes"
        )));
    }
    let Some(log) = state.log() else {
        return Err(log_disabled());
    };
    let feedback = Feedback {
        helpful: fb.helpful,
        rating: fb.rating,
        // A comment is the customer's text: kept only when texts are.
        comment: fb
            .comment
            .filter(|c| log.config().keep_text && !c.trim().is_empty()),
    };
    let reply_id = fb.reply_id.to_ascii_lowercase();
    let worker = state.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        let store = worker.store().ok_or_else(|| {
            crate::error::Error::internal("conversation log", "no state database")
        })?;
        let now = super::webhook::unix_now();
        if store.record_feedback(&reply_id, &feedback, now)? {
            return Ok(true);
        }
        // The reply may still be on its way to the database.
        worker.flush_log(Duration::from_secs(2));
        store.record_feedback(&reply_id, &feedback, now)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "feedback task failed");
        ApiError::internal()
    })?
    .map_err(|e| ApiError::from_engine(&e))?;
    if !recorded {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::UNKNOWN_REPLY,
            "no logged reply has this reply_id",
        ));
    }
    Ok(Json(json!({ "recorded": true })))
}

/// The query of `GET /v1/admin/report`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /v1/admin/report?since=7d&lang=el&format=html|json|text`.
pub(super) async fn report(
    State(state): State<AppState>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    let period = match q.since.as_deref() {
        Some(s) => parse_period(s)
            .ok_or_else(|| invalid(format!("since: {s:?} is not a period like 7d, 24h or 90m")))?,
        None => 7 * 86_400,
    };
    let lang = match q.lang.as_deref() {
        Some(l) => Some(
            crate::lang::Lang::from_tag(l)
                .ok_or_else(|| invalid(format!("lang: unknown language {l:?}")))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    let format = q.format.unwrap_or_else(|| "html".into());
    if !matches!(format.as_str(), "html" | "json" | "text") {
        return Err(invalid("format: html, json or text"));
    }
    if state.log().is_none() {
        return Err(log_disabled());
    }
    let worker = state.clone();
    let report = tokio::task::spawn_blocking(move || {
        worker.flush_log(Duration::from_secs(2));
        let store = worker.store().ok_or_else(|| {
            crate::error::Error::internal("conversation log", "no state database")
        })?;
        let until = super::webhook::unix_now() + 1;
        let since = until - period;
        let log = store.read_log(since, until)?;
        Ok::<_, crate::error::Error>(Report::build(&log, &ReportOptions { since, until, lang }))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "report task failed");
        ApiError::internal()
    })?
    .map_err(|e| ApiError::from_engine(&e))?;
    Ok(match format.as_str() {
        "json" => Json(report).into_response(),
        "text" => report.to_text().into_response(),
        _ => {
            let mut resp = report.to_html().into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                     base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            );
            resp
        }
    })
}

/// `GET /v1/admin/content`: the editor view's data. Every topic with, per language, its
/// question, how many alternates, romanized spellings and keywords it has and which
/// registers its answer is written in; the thresholds in force; and what `sahaya check`
/// says about the files now.
pub(super) async fn content(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let snapshot = state.snapshot();
    let engine = &snapshot.engine;
    let langs = crate::lang::Lang::ALL;
    let topics: Vec<Value> = engine
        .knowledge()
        .topics()
        .iter()
        .map(|t| {
            let per_lang: serde_json::Map<String, Value> = langs
                .iter()
                .map(|&lang| {
                    let text = t.text(lang);
                    let mut registers = vec!["formal"];
                    if text.answer_informal.is_some() {
                        registers.push("informal");
                    }
                    (
                        lang.code().to_string(),
                        json!({
                            "question": text.question,
                            "alternates": text.alternates.len(),
                            "romanized": text.romanized.len(),
                            "keywords": text.keywords.len(),
                            "registers": registers,
                        }),
                    )
                })
                .collect();
            json!({"id": t.id, "tags": t.tags, "path": t.path, "langs": per_lang})
        })
        .collect();
    let thresholds: serde_json::Map<String, Value> = langs
        .iter()
        .map(|&lang| {
            let t = engine.thresholds(lang);
            (
                lang.code().to_string(),
                json!({"answer": t.answer, "clarify": t.clarify, "margin": t.margin}),
            )
        })
        .collect();
    let dir = engine.data_dir().to_path_buf();
    let diagnostics = tokio::task::spawn_blocking(move || crate::engine::check(&dir))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "check task failed");
            ApiError::internal()
        })?;
    Ok(Json(json!({
        "version": snapshot.version,
        "topics": topics,
        "thresholds": thresholds,
        "diagnostics": diagnostics,
    })))
}
