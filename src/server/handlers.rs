//! The endpoints. Each one reads its request through [`super::extract`], answers from the
//! [`AppState`] and fails with an [`ApiError`]; the admin endpoints are reached only
//! through [`super::middleware::authorize`].

use super::chatwoot;
use super::error::{code, ApiError};
use super::extract::{body_error, header_language, parse_message, require_json, Peer};
use super::metrics::{self, ContentGauges};
use super::state::AppState;
use crate::model::Reply;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::time::SystemTime;

/// The OpenAPI 3 description of the HTTP API, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

const PREVIEW_HTML: &str = include_str!("preview.html");
const PREVIEW_JS: &str = include_str!("preview.js");
const PREVIEW_CSS: &str = include_str!("preview.css");

/// The preview page may load only its own script and style, and nothing may frame it.
const PREVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The key space of `/v1/respond` conversations (see [`crate::session::scoped_key`]).
pub const API_SCOPE: &str = "api";

/// `POST /v1/respond`: a [`crate::Message`] as JSON in, the [`Reply`] out.
pub(super) async fn respond(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Reply>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|e| body_error(&state, e))?;
    // Parsing, normalizing and answering take CPU time in proportion to the message: off
    // the async threads, so that probes and other requests are not held up.
    let worker = state.clone();
    tokio::task::spawn_blocking(move || answer(&worker, &headers, &body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "respond task failed");
            ApiError::internal()
        })?
        .map(Json)
}

/// `POST /v1/respond` once its body is read. Blocking.
fn answer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Reply, ApiError> {
    let mut msg = parse_message(body)?;

    let max_text = state
        .config()
        .max_text_bytes
        .min(crate::model::MAX_TEXT_BYTES);
    if msg.text.len() > max_text {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::TEXT_TOO_LONG,
            format!("text is {} bytes; the limit is {max_text}", msg.text.len()),
        ));
    }
    if msg.lang.is_none() {
        msg.lang = header_language(headers, &crate::text::normalize(&msg.text));
    }
    // The caller's id names a conversation in the API's own key space; the reply echoes
    // the id as given.
    let given_session = msg.session_id.clone();
    msg.session_id = match given_session.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => Some(crate::session::scoped_key(API_SCOPE, id).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_SESSION_ID,
                format!("session_id: {e}"),
            )
        })?),
        None => None,
    };

    let snapshot = state.snapshot();
    // A conversation already with a person gets a "please wait" escalation on each message;
    // only the handoff itself goes to the webhook.
    let with_person = match msg.session_id.as_deref() {
        Some(key) if state.outbox().is_some() => {
            let session = snapshot.engine.sessions().get(key);
            session
                .map_err(|e| ApiError::from_engine(&e))?
                .escalated
                .is_some()
        }
        _ => false,
    };
    let request = msg.validate().map_err(|e| ApiError::from_engine(&e))?;
    let mut reply = snapshot
        .engine
        .try_respond_to(&request)
        .map_err(|e| ApiError::from_engine(&e))?;
    reply.session_id.clone_from(&given_session);
    msg.session_id = given_session;
    if let Some(log) = state.log() {
        let channel = msg.channel.as_deref().unwrap_or("api");
        log.record(&mut reply, &msg.text, channel, super::webhook::unix_now());
    }
    state.metrics().observe_reply(&reply);
    if !with_person {
        chatwoot::queue_escalation(state, "api", &msg, &reply);
    }
    tracing::debug!(
        decision = reply.decision.as_str(),
        lang = reply.lang.code(),
        answer_id = reply.answer_id.as_deref().unwrap_or("-"),
        confidence = reply.confidence,
        "reply"
    );
    tracing::trace!(text = %msg.text, "message");
    Ok(reply)
}

pub(super) async fn chatwoot_webhook(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|e| body_error(&state, e))?;
    let client = state.client(&headers, peer);
    chatwoot::handle(&state, client, &headers, &body).await
}

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        )
            .into_response();
    }
    let snapshot = state.snapshot();
    // Without its state database a replica could answer a conversation that is with a
    // person on another: it is not ready.
    if let Some(store) = state.store().cloned() {
        let ping = tokio::task::spawn_blocking(move || store.ping()).await;
        let problem = match ping {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            tracing::warn!(error = %problem, "readiness: state database");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "state_unavailable", "error": problem })),
            )
                .into_response();
        }
    }
    let failure = state.reload_failure();
    // A failed reload does not make the server unready: it keeps answering with the last
    // good content, and taking every replica out of rotation for an editor's typo would
    // turn a content mistake into an outage.
    let status = if failure.is_some() {
        "degraded"
    } else {
        "ready"
    };
    Json(json!({
        "status": status,
        "content": {
            "version": snapshot.version,
            "generation": snapshot.generation,
            "loaded_at": snapshot.loaded_at_rfc3339(),
            "topics": snapshot.engine.knowledge().topics().len(),
        },
        "reload_error": failure,
    }))
    .into_response()
}

pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    // The rows waiting in the outbox are counted in the state database: a blocking read.
    // On failure the gauge keeps its last value and the rest is served.
    if let Some(outbox) = state.outbox() {
        match tokio::task::spawn_blocking(move || outbox.refresh_pending()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "counting the escalations waiting"),
            Err(e) => tracing::error!(error = %e, "blocking task failed"),
        }
    }
    let snapshot = state.snapshot();
    let loaded_at_secs = snapshot
        .loaded_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let body = state.metrics().render(&ContentGauges {
        version: &snapshot.version,
        generation: snapshot.generation,
        loaded_at_secs,
        topics: snapshot.engine.knowledge().topics().len(),
        reload_failed: state.reload_failure().is_some(),
    });
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, PREVIEW_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(super) async fn preview_html() -> Response {
    page("text/html; charset=utf-8", PREVIEW_HTML)
}

pub(super) async fn preview_css() -> Response {
    page("text/css; charset=utf-8", PREVIEW_CSS)
}

pub(super) async fn preview_js() -> Response {
    page("text/javascript; charset=utf-8", PREVIEW_JS)
}

/// `POST /v1/admin/reload`: loads the content again now.
pub(super) async fn admin_reload(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let worker = state.clone();
    let result = tokio::task::spawn_blocking(move || worker.reload())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reload task failed");
            ApiError::internal()
        })?;
    match result {
        Ok(s) => Ok(Json(json!({
            "status": "reloaded",
            "version": s.version,
            "generation": s.generation,
            "topics": s.engine.knowledge().topics().len(),
        }))),
        Err(e) if e.is_user_error() => {
            let err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::CONTENT_ERROR,
                format!(
                    "{}; the last good content keeps serving",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            );
            Err(err.with_diagnostics(e.diagnostics().iter().map(ToString::to_string).collect()))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::RELOAD_FAILED,
            format!("{e}; the last good content keeps serving"),
        )),
    }
}

/// Hands back a `/v1/respond` conversation (its id as the API caller gave it). Chatwoot
/// conversations go back to the bot when an agent sets them to pending in Chatwoot.
pub(super) async fn handback(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_SESSION_ID,
            e.body_text(),
        )
    })?;
    let key = crate::session::scoped_key(API_SCOPE, &id).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_SESSION_ID,
            e.to_string(),
        )
    })?;
    // The engine's session table, like the rest of the engine, is used off the async threads.
    let handed_back = tokio::task::spawn_blocking(move || state.snapshot().engine.hand_back(&key))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "handback task failed");
            ApiError::internal()
        })?
        .map_err(|e| ApiError::from_engine(&e))?;
    Ok(Json(
        json!({ "session_id": id, "handed_back": handed_back }),
    ))
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::NOT_FOUND,
        "no such endpoint; see /openapi.json",
    )
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; see /openapi.json",
    )
}
