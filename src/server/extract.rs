//! Reading requests: the peer address, the body and its `Content-Type`, the JSON of a
//! [`Message`], and the language the `Accept-Language` header asks for.

use super::error::{code, ApiError};
use super::state::AppState;
use crate::model::Message;
use crate::text::Script;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{header, HeaderMap, StatusCode};
use std::net::{IpAddr, SocketAddr};

/// The peer address of the connection, when there is one (not in `oneshot` tests).
pub(super) struct Peer(pub Option<IpAddr>);

impl Peer {
    /// The peer address of a request, from the connection the accept loop recorded.
    pub fn of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(Peer::of(&parts.extensions)))
    }
}

/// The answer to a body that could not be read: too large, or broken off.
pub(super) fn body_error(state: &AppState, e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::BODY_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes",
                state.config().body_limit
            ),
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, code::BAD_BODY, e.body_text())
    }
}

/// The reply language the `Accept-Language` header asks for, when the body names none.
///
/// Browsers send the header on their own, in the language of the browser rather than of the
/// customer, so it decides only for Latin-script text: text in Telugu or Greek script is
/// answered in its own language whatever the browser's settings.
pub(super) fn header_language(headers: &HeaderMap, normalized: &str) -> Option<String> {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())?;
    let script = crate::detect::detect(normalized).script;
    if matches!(script, Some(Script::Telugu | Script::Greek)) {
        return None;
    }
    crate::lang::Lang::negotiate(accept).map(|l| l.code().to_string())
}

/// Accepts `application/json` and `+json` types only. A browser sends those across sites
/// only after a CORS preflight, which Sahaya never grants: an HTML form on another site
/// cannot post to the API.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            "send the body with Content-Type: application/json",
        ));
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type: application/json, got {mime:?}"),
        ))
    }
}

/// The request body as a [`Message`]; syntax errors are 400, wrong fields 422, each with
/// the field's path and the position in the body.
pub(super) fn parse_message(body: &[u8]) -> Result<Message, ApiError> {
    parse_object(body)
}

/// Reads a JSON object into `T`, with the same error codes as [`parse_message`].
pub(super) fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    // serde would also read a struct from an array of its fields in order; the API takes
    // objects only.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code::INVALID_FIELD,
                    "the body must be a JSON object",
                ),
                Err(e) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::MALFORMED_JSON,
                    format!("the body is not valid JSON: {e}"),
                ),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let msg: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            Category::Data => {
                let text = inner.to_string();
                let code = if text.starts_with("missing field") {
                    code::MISSING_FIELD
                } else if text.starts_with("unknown field") {
                    code::UNKNOWN_FIELD
                } else {
                    code::INVALID_FIELD
                };
                let message = if path == "." {
                    text
                } else {
                    format!("{path}: {text}")
                };
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                code::MALFORMED_JSON,
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::MALFORMED_JSON,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert_eq!(
            require_json(&h).unwrap_err().code(),
            "unsupported_media_type"
        );
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(require_json(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(require_json(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            require_json(&h).unwrap_err().code(),
            "unsupported_media_type"
        );
    }

    #[test]
    fn body_errors_are_classified() {
        let code = |b: &str| parse_message(b.as_bytes()).unwrap_err().code();
        assert_eq!(code("{"), "malformed_json");
        assert_eq!(code(""), "malformed_json");
        assert_eq!(code(r#"{"text":"a"} x"#), "malformed_json");
        assert_eq!(code("{}"), "missing_field");
        assert_eq!(code(r#"{"text":"a","x":1}"#), "unknown_field");
        assert_eq!(code(r#"{"text":5}"#), "invalid_field");
        assert_eq!(code("[]"), "invalid_field");
        let e = parse_message(br#"{"text":"a","customer":{"tier":1}}"#).unwrap_err();
        assert!(
            e.message().starts_with("customer.tier: "),
            "{}",
            e.message()
        );
    }
}
