//! Error answers: `{"error": {"code": "…", "message": "…"}}` with a status, and the stable
//! codes they carry.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;

/// The `code` of every error answer; openapi.json lists the same.
pub mod code {
    /// The body is not valid JSON.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// The body could not be read.
    pub const BAD_BODY: &str = "bad_body";
    /// A required field is missing.
    pub const MISSING_FIELD: &str = "missing_field";
    /// A field the API does not have (often a typo).
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// A field has the wrong type or value, or the body is not an object.
    pub const INVALID_FIELD: &str = "invalid_field";
    /// The message text is empty.
    pub const EMPTY_TEXT: &str = "empty_text";
    /// The message text is over the limit.
    pub const TEXT_TOO_LONG: &str = "text_too_long";
    /// The body is over the limit.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
    /// The Content-Type is not JSON.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// The requested language is not one Sahaya has.
    pub const UNKNOWN_LANGUAGE: &str = "unknown_language";
    /// The engine rejected the request.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The client sent too many requests.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The request took too long.
    pub const TIMEOUT: &str = "timeout";
    /// The admin token is missing or wrong.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// No admin token is configured.
    pub const ADMIN_DISABLED: &str = "admin_disabled";
    /// A reload found errors in the content.
    pub const CONTENT_ERROR: &str = "content_error";
    /// A reload could not read the content.
    pub const RELOAD_FAILED: &str = "reload_failed";
    /// The session id (in the body or the path) is too long, empty or not printable.
    pub const INVALID_SESSION_ID: &str = "invalid_session_id";
    /// No such endpoint.
    pub const NOT_FOUND: &str = "not_found";
    /// The endpoint does not take that method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// A fault inside the server (details in its log).
    pub const INTERNAL: &str = "internal";
    /// Feedback names a reply the conversation log does not have.
    pub const UNKNOWN_REPLY: &str = "unknown_reply";
    /// The conversation log is off (no `[log]` or no state database).
    pub const LOG_DISABLED: &str = "log_disabled";
    /// The state database (conversations, outbox) cannot be reached; retry later.
    pub const STATE_UNAVAILABLE: &str = "state_unavailable";
    /// No `[chatwoot]` settings: the Chatwoot endpoint is off.
    pub const CHATWOOT_DISABLED: &str = "chatwoot_disabled";
    /// A webhook delivery's signature is missing, stale or wrong, or the delivery is unsigned
    /// and unsigned deliveries are not allowed.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// Chatwoot's API could not be reached or refused the call.
    pub const CHATWOOT_FAILED: &str = "chatwoot_failed";
}

/// An error answer: `{"error": {"code", "message"}}` with its status.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
    diagnostics: Vec<String>,
}

impl ApiError {
    /// An error with a status, a stable machine-readable code and a message for people.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            diagnostics: Vec::new(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code (`malformed_json`, `unknown_language` …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message for people.
    #[cfg(test)]
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    /// A 429 for a client that may try again after `wait`: the message is given the wait
    /// in whole seconds (at least one), which also goes into `Retry-After`.
    pub(super) fn rate_limited(wait: Duration, message: impl FnOnce(u64) -> String) -> ApiError {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            code::RATE_LIMITED,
            message(secs),
        );
        err.retry_after = Some(secs);
        err
    }

    /// The same error, listing content problems (`path:line:col: error: …`).
    pub(super) fn with_diagnostics(mut self, diagnostics: Vec<String>) -> ApiError {
        self.diagnostics = diagnostics;
        self
    }

    /// The answer to a request the engine refuses: each kind of problem has its code.
    pub(super) fn bad_request(e: &crate::error::RequestError) -> ApiError {
        use crate::error::RequestError as R;
        let (status, code) = match e {
            R::EmptyText => (StatusCode::UNPROCESSABLE_ENTITY, code::EMPTY_TEXT),
            R::TextTooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, code::TEXT_TOO_LONG),
            R::UnknownLanguage(_) => (StatusCode::UNPROCESSABLE_ENTITY, code::UNKNOWN_LANGUAGE),
            R::SessionId(_) => (StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_SESSION_ID),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, code::BAD_REQUEST),
        };
        ApiError::new(status, code, e.to_string())
    }

    /// The answer to a library error met while answering: 503 with `Retry-After` when the
    /// state database cannot be reached, else an internal error. Logged here.
    pub(super) fn from_engine(e: &crate::error::Error) -> ApiError {
        if let Some(r) = e.request_error() {
            return ApiError::bad_request(r);
        }
        if e.is_unavailable() {
            tracing::warn!(error = %e, "state database unavailable");
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::STATE_UNAVAILABLE,
                "the conversation state database cannot be reached; retry shortly",
            );
            err.retry_after = Some(5);
            return err;
        }
        tracing::error!(error = %e, "internal error");
        ApiError::internal()
    }

    /// A fault of the server; the details go to its log, not to the client.
    pub(super) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "internal error; the details are in the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.diagnostics.is_empty() {
            error["diagnostics"] = json!(self.diagnostics);
        }
        let mut resp = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == code::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sahaya\""),
            );
        }
        resp
    }
}
