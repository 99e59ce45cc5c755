//! The layers around the endpoints: request metrics and logs, the answer to the request
//! timeout, the rate limit of `/v1` and the admin token.

use super::error::{code, ApiError};
use super::extract::Peer;
use super::limit::Guard;
use super::metrics::Metrics;
use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::BoxError;
use std::time::{Duration, Instant};

/// Counts and times every request; logs it at debug level (never the body).
pub(super) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let endpoint = Metrics::endpoint(req.extensions().get::<MatchedPath>().map(|m| m.as_str()));
    let method = req.method().clone();
    let resp = next.run(req).await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    state.metrics().observe_request(endpoint, status, took);
    tracing::debug!(%method, endpoint, status, micros = took.as_micros() as u64, "request");
    resp
}

/// The answer to a request that failed in the layers of the router: 408 when it took longer
/// than `limit` (`tower::timeout`, the only layer that fails), else a 500.
pub(super) fn timed_out(limit: Duration, error: &BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            code::TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs()),
        )
    } else {
        tracing::error!(%error, "request failed in a middleware");
        ApiError::internal()
    }
}

/// The optional per-client rate limit of the `/v1` endpoints: 429 with `Retry-After`.
pub(super) async fn rate_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = state.limiter() {
        let client = limiter.client(req.headers(), Peer::of(req.extensions()));
        if let Err(wait) = limiter.check(client) {
            state.metrics().rate_limited();
            return ApiError::rate_limited(wait, |secs| {
                format!("too many requests from this client; retry in {secs} s")
            })
            .into_response();
        }
    }
    next.run(req).await
}

/// Admin endpoints need `Authorization: Bearer <admin_token>`; without a configured token
/// they do not exist. A client with [`AUTH_FAILURES_PER_MINUTE`] failures this minute gets
/// 429 whatever it sends.
///
/// [`AUTH_FAILURES_PER_MINUTE`]: super::AUTH_FAILURES_PER_MINUTE
pub(super) async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config().admin_token.as_deref() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            code::ADMIN_DISABLED,
            "admin endpoints are disabled: set SAHAYA_ADMIN_TOKEN or server.admin_token",
        )
        .into_response();
    };
    let client = state.client(req.headers(), Peer::of(req.extensions()));
    if let Err(e) = state.check_auth_failures(Guard::Admin, client) {
        return e.into_response();
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let refusal = match given {
        Some(g) if tokens_match(g, token) => return next.run(req).await,
        Some(_) => "wrong admin token",
        None => "send the admin token as Authorization: Bearer <token>",
    };
    state.auth_failed(Guard::Admin, client);
    ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, refusal).into_response()
}

/// Compares two secrets in time that depends on neither: their SHA-256 digests, of equal
/// length whatever the inputs, are compared byte by byte without stopping early.
fn tokens_match(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
        assert!(!tokens_match("", "abc"));
        assert!(!tokens_match("abc", ""));
    }
}
