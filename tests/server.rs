//! The HTTP API: every endpoint and error path through `app().oneshot(..)`, the OpenAPI
//! description kept in sync with the code, and one run against a really bound server.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use common::copy_dir;
use http_body_util::BodyExt;
use sahaya::server::{
    app, signature, AppState, ChatwootConfig, Integrations, RateLimitConfig, ServerConfig,
    AUTH_FAILURES_PER_MINUTE, ENDPOINTS, OPENAPI_JSON,
};
use sahaya::session::MAX_SESSION_ID_BYTES;
use sahaya::store::SqliteStore;
use sahaya::Engine;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token";

fn engine() -> Engine {
    Engine::load(env!("CARGO_MANIFEST_DIR")).expect("the shipped content loads")
}

/// One state for the tests that need nothing special (admin token set, no rate limit).
fn shared() -> AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE
        .get_or_init(|| {
            AppState::new(
                engine(),
                ServerConfig {
                    admin_token: Some(TOKEN.into()),
                    ..ServerConfig::default()
                },
            )
        })
        .clone()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    /// Asserts an error answer: the status, the JSON error shape and its code.
    fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert!(
            self.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "errors are JSON"
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "body: {v}");
        let message = v["error"]["message"]
            .as_str()
            .expect("a message")
            .to_string();
        assert!(!message.is_empty());
        message
    }
}

async fn call(state: &AppState, req: Request<Body>) -> Answer {
    let resp = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(state: &AppState, path: &str) -> Answer {
    call(state, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post(state: &AppState, path: &str, body: impl Into<Body>) -> Answer {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    call(state, req).await
}

async fn respond(state: &AppState, body: Value) -> Answer {
    post(state, "/v1/respond", body.to_string()).await
}

fn admin(path: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::post(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(Body::empty()).unwrap()
}

// ---- endpoints ----

#[tokio::test]
async fn healthz_is_ok() {
    let a = get(&shared(), "/healthz").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_reports_the_loaded_content() {
    let a = get(&shared(), "/readyz").await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["reload_error"], Value::Null);
    assert_eq!(v["content"]["version"].as_str().unwrap().len(), 16);
    assert!(v["content"]["topics"].as_u64().unwrap() > 10);
    assert!(v["content"]["generation"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn respond_answers_telugu() {
    let a = respond(&shared(), json!({"text": "నా పార్సెల్ ఎక్కడ ఉంది?"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["decision"], "answer");
    assert_eq!(v["answer_id"], "track_parcel");
    assert_eq!(v["lang"], "te");
    assert!(v["trace"].as_array().unwrap().len() >= 2);
    assert_eq!(v["escalation"], Value::Null);
}

#[tokio::test]
async fn respond_follows_register_and_echoes_the_session() {
    let a = respond(
        &shared(),
        json!({"text": "πού είναι το δέμα μου", "formality": "informal", "session_id": "s-1",
               "channel": "chat", "customer": {"tier": "business", "region": "GR"}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["lang"], "el");
    assert_eq!(v["formality"], "informal");
    assert_eq!(v["session_id"], "s-1");
    assert!(v["text"].as_str().unwrap().contains("σου"), "{v}");
}

#[tokio::test]
async fn accept_language_picks_the_reply_language_when_the_body_does_not() {
    let req = |accept: &str, body: Value| {
        Request::post("/v1/respond")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_LANGUAGE, accept)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let state = shared();
    let a = call(
        &state,
        req(
            "el-GR,el;q=0.9,en;q=0.5",
            json!({"text": "Where is my parcel?"}),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["lang"], "el");
    let a = call(
        &state,
        req(
            "el-GR",
            json!({"text": "Where is my parcel?", "lang": "en"}),
        ),
    )
    .await;
    assert_eq!(a.json()["lang"], "en", "the body's lang wins");
    let a = call(&state, req("de-DE", json!({"text": "Where is my parcel?"}))).await;
    assert_eq!(
        a.json()["lang"],
        "en",
        "unknown header languages fall back to detection"
    );
}

#[tokio::test]
async fn preview_page_is_served_safely() {
    let state = shared();
    let a = get(&state, "/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = a.text();
    for needle in [
        r#"<label for="text""#,
        r#"id="lang""#,
        r#"id="formality""#,
        "/preview.js",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    let js = get(&state, "/preview.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let js = js.text();
    assert!(js.contains("textContent"));
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(forbidden), "preview.js uses {forbidden}");
    }
    let css = get(&state, "/preview.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.text().contains("@media"), "responsive");
}

#[tokio::test]
async fn metrics_count_requests_decisions_and_reloads() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            admin_token: Some(TOKEN.into()),
            ..ServerConfig::default()
        },
    );
    respond(&state, json!({"text": "నా పార్సెల్ ఎక్కడ ఉంది?"})).await;
    respond(&state, json!({"text": "zzzz qqqq xxxx", "lang": "en"})).await;
    respond(&state, json!({"text": ""})).await;
    get(&state, "/healthz").await;
    get(&state, "/nowhere").await;
    let r = call(&state, admin("/v1/admin/reload", Some(TOKEN))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let a = get(&state, "/metrics").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = a.text();
    for line in [
        r#"sahaya_http_requests_total{endpoint="/v1/respond",status="200"} 2"#,
        r#"sahaya_http_requests_total{endpoint="/v1/respond",status="422"} 1"#,
        r#"sahaya_http_requests_total{endpoint="/healthz",status="200"} 1"#,
        r#"sahaya_http_requests_total{endpoint="other",status="404"} 1"#,
        r#"sahaya_http_request_duration_seconds_count{endpoint="/v1/respond"} 3"#,
        r#"sahaya_decisions_total{lang="te",decision="answer"} 1"#,
        r#"sahaya_decisions_total{lang="en",decision="fallback"} 1"#,
        r#"sahaya_fallbacks_total{lang="en"} 1"#,
        "sahaya_reloads_total 1",
        "sahaya_reload_failures_total 0",
        "sahaya_rate_limited_total 0",
        "sahaya_content_generation 2",
        "sahaya_content_reload_failed 0",
        "# TYPE sahaya_escalations_total counter",
        "# TYPE sahaya_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "metrics lack {line:?}:\n{text}");
    }
    let version = state.snapshot().version.clone();
    assert!(text.contains(&format!("sahaya_content_info{{version=\"{version}\"}} 1")));
}

// ---- error paths of /v1/respond ----

#[tokio::test]
async fn malformed_json_is_400() {
    let state = shared();
    for body in [
        "{",
        "{\"text\": }",
        "",
        "{\"text\":\"a\"} trailing",
        "\u{feff}x",
    ] {
        let m = post(&state, "/v1/respond", body)
            .await
            .error(StatusCode::BAD_REQUEST, "malformed_json");
        assert!(m.contains("line"), "{m}");
    }
}

#[tokio::test]
async fn wrong_types_are_422_with_the_field_path() {
    let state = shared();
    let m = respond(&state, json!({"text": 42}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(m.starts_with("text: invalid type"), "{m}");
    let m = respond(&state, json!({"text": "hi", "customer": {"tier": ["a"]}}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(m.starts_with("customer.tier: "), "{m}");
    let m = respond(&state, json!({"text": "hi", "formality": "casual"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(m.contains("formality"), "{m}");
    respond(&state, json!(["text"]))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    respond(&state, json!(null))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
}

#[tokio::test]
async fn missing_text_is_422() {
    let m = respond(&shared(), json!({"lang": "en"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "missing_field");
    assert!(m.contains("text"), "{m}");
}

#[tokio::test]
async fn unknown_field_is_422() {
    let m = respond(&shared(), json!({"text": "hi", "txet": "hi"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_field");
    assert!(m.contains("txet"), "{m}");
}

#[tokio::test]
async fn empty_text_is_422() {
    for text in ["", "   ", "\u{200c}\u{200d}"] {
        respond(&shared(), json!({ "text": text }))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "empty_text");
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let state = shared();
    let big = json!({ "text": "a".repeat(state.config().body_limit + 1) }).to_string();
    let m = post(&state, "/v1/respond", big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert!(m.contains(&state.config().body_limit.to_string()), "{m}");
}

#[tokio::test]
async fn overlong_text_is_413() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            max_text_bytes: 100,
            ..ServerConfig::default()
        },
    );
    respond(&state, json!({ "text": "parcel ".repeat(20) }))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "text_too_long");
    let ok = respond(&state, json!({ "text": "parcel ".repeat(10) })).await;
    assert_eq!(ok.status, StatusCode::OK);
    // The engine's own limit holds whatever the setting.
    let over = json!({ "text": "a".repeat(sahaya::MAX_TEXT_BYTES + 1) });
    respond(&shared(), over)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "text_too_long");
}

#[tokio::test]
async fn unknown_language_is_422() {
    let m = respond(&shared(), json!({"text": "hello", "lang": "xx"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_language");
    assert!(m.contains("\"xx\""), "{m}");
    respond(&shared(), json!({"text": "hello", "lang": "not a tag!"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_language");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let req = Request::post("/v1/respond")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"text":"hi"}"#))
        .unwrap();
    call(&shared(), req)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test]
async fn cross_site_form_posts_are_415() {
    // What an HTML form on another site can send without a CORS preflight.
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/plain;charset=UTF-8"),
    ] {
        let mut req = Request::post("/v1/respond").header(header::ORIGIN, "https://evil.example");
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let m = call(
            &shared(),
            req.body(Body::from(r#"{"text":"Where is my parcel?"}"#))
                .unwrap(),
        )
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        assert!(m.contains("application/json"), "{ct:?}: {m}");
    }
}

// ---- session ids ----

#[tokio::test]
async fn long_session_ids_are_422() {
    let state = shared();
    let longest = "s".repeat(MAX_SESSION_ID_BYTES);
    let a = respond(
        &state,
        json!({"text": "Where is my parcel?", "session_id": longest}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["session_id"], json!(longest));
    for len in [MAX_SESSION_ID_BYTES + 1, 250_000] {
        let m = respond(
            &state,
            json!({"text": "Where is my parcel?", "session_id": "s".repeat(len)}),
        )
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_session_id");
        assert!(m.starts_with("session_id: "), "{m}");
        assert!(
            m.contains("at most 128 bytes") && m.contains(&len.to_string()),
            "{m}"
        );
    }
}

#[tokio::test]
async fn session_ids_with_control_characters_are_422() {
    let state = shared();
    for id in [
        "a\nb",
        "a\rb",
        "\tab",
        "ab\u{0}",
        "x\u{1b}[31m",
        "a\u{202e}b",
        "a\u{2028}",
    ] {
        let m = respond(
            &state,
            json!({"text": "Where is my parcel?", "session_id": id}),
        )
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_session_id");
        assert!(m.contains("U+"), "{id:?}: {m}");
    }
    // Spaces and non-Latin letters are fine.
    let a = respond(
        &state,
        json!({"text": "Where is my parcel?", "session_id": "Ελένη 7 తెలుగు"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[test]
fn the_engine_applies_the_same_rule() {
    let engine = engine();
    let long = sahaya::Message::new("Where is my parcel?").session("s".repeat(300));
    let err = engine.try_respond(&long).unwrap_err();
    assert!(err.is_user_error());
    assert!(err.to_string().contains("session_id"), "{err}");
    // `respond` never fails: it answers and remembers nothing under the bad id.
    let before = engine.sessions().len().unwrap();
    let reply = engine.respond(&long);
    assert_eq!(reply.answer_id.as_deref(), Some("track_parcel"));
    assert!(reply
        .trace
        .iter()
        .any(|t| t.starts_with("ignored session id")));
    let control = sahaya::Message::new("Where is my parcel?").session("a\nb");
    engine.respond(&control);
    assert_eq!(engine.sessions().len().unwrap(), before);
}

#[tokio::test]
async fn api_conversations_have_their_own_key_space() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            admin_token: Some(TOKEN.into()),
            ..ServerConfig::default()
        },
    );
    let a = respond(
        &state,
        json!({"text": "I want to talk to a human", "session_id": "web-9"}),
    )
    .await;
    assert_eq!(a.json()["decision"], "escalate");
    assert_eq!(a.json()["session_id"], "web-9");
    let snapshot = state.snapshot();
    let sessions = snapshot.engine.sessions();
    assert!(sessions.get("api:web-9").unwrap().escalated.is_some());
    assert!(sessions.get("web-9").unwrap().escalated.is_none());
    // The admin hands it back by the id the caller used.
    let a = call(&state, admin("/v1/sessions/web-9/handback", Some(TOKEN))).await;
    assert_eq!(
        a.json(),
        json!({"session_id": "web-9", "handed_back": true})
    );
}

#[tokio::test]
async fn expired_conversations_are_forgotten_by_maintenance() {
    let config = sahaya::Config {
        session_ttl_secs: 1,
        ..sahaya::Config::default()
    };
    let engine = Engine::load_with(env!("CARGO_MANIFEST_DIR"), config).unwrap();
    let state = AppState::new(engine, ServerConfig::default());
    for id in ["a", "b", "c"] {
        respond(
            &state,
            json!({"text": "Where is my parcel?", "session_id": id}),
        )
        .await;
    }
    assert_eq!(state.snapshot().engine.sessions().len().unwrap(), 3);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(state.maintain().await, 3);
    assert!(state.snapshot().engine.sessions().is_empty().unwrap());
}

#[test]
fn debug_output_hides_secrets() {
    let token = "tok-3f9a8c1e-admin";
    let config = ServerConfig {
        admin_token: Some(token.into()),
        ..ServerConfig::default()
    };
    let shown = format!("{config:?}");
    assert!(!shown.contains(token), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    let state = AppState::new(engine(), config);
    assert!(!format!("{state:?}").contains(token));
    assert!(!format!("{:#?}", state.config()).contains(token));

    let mut settings = sahaya::server::Settings::from_toml(
        "[chatwoot]\nbase_url = \"https://c.example\"\napi_token = \"cw-api-7781\"\n\
         secret = \"cw-secret-5512\"\n[webhook]\nurl = \"https://d.example/h\"\n\
         secret = \"wh-secret-9034\"\n",
        std::path::Path::new("sahaya.toml"),
    )
    .unwrap();
    settings.server.admin_token = Some(token.into());
    settings.validate().unwrap();
    let shown = format!("{settings:?}");
    for secret in [token, "cw-api-7781", "cw-secret-5512", "wh-secret-9034"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let state = shared();
    get(&state, "/v2/respond")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(&state, "/v1/respond")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    post(&state, "/healthz", "")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn hostile_bodies_never_get_a_500() {
    let state = shared();
    let deep = "[".repeat(10_000);
    let bodies: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0x00, 0x7b],
        br#"{"text":"\ud800"}"#.to_vec(),
        br#"{"text":"a","text":"b"}"#.to_vec(),
        br#"{"text":"hi","customer":{"name":null,"tier":null,"region":null,"timezone":null}}"#
            .to_vec(),
        br#"{"text":"hi","at":"not a time"}"#.to_vec(),
        br#"{"text":"hi","session_id":""}"#.to_vec(),
        br#"{"text":1e999}"#.to_vec(),
        deep.into_bytes(),
        b"{\"text\":\"\x00\"}".to_vec(),
        "{\"text\":\"\u{202e}\u{0c4d}\u{200c}\"}"
            .as_bytes()
            .to_vec(),
    ];
    for body in bodies {
        let a = post(&state, "/v1/respond", body.clone()).await;
        assert!(
            a.status.is_success() || a.status.is_client_error(),
            "{} for {:?}: {}",
            a.status,
            String::from_utf8_lossy(&body),
            a.text()
        );
        if a.status.is_client_error() {
            assert!(a.json()["error"]["code"].is_string());
        }
    }
}

/// A request body whose bytes never arrive.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn slow_requests_time_out_with_408() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            request_timeout_secs: 1,
            ..ServerConfig::default()
        },
    );
    let req = Request::post("/v1/respond")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::new(Stalled))
        .unwrap();
    call(&state, req)
        .await
        .error(StatusCode::REQUEST_TIMEOUT, "timeout");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            rate_limit: Some(RateLimitConfig {
                per_second: 1,
                burst: Some(2),
                trust_forwarded_header: Some("x-forwarded-for".into()),
            }),
            ..ServerConfig::default()
        },
    );
    let from = |ip: &str| {
        Request::post("/v1/respond")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", format!("192.0.2.200, {ip}"))
            .body(Body::from(r#"{"text":"Where is my parcel?"}"#))
            .unwrap()
    };
    // The burst passes; then requests are refused until the bucket refills (one a second,
    // so a slow machine may get one more through before the refusal).
    let mut sent = 0;
    let limited = loop {
        let a = call(&state, from("198.51.100.1")).await;
        sent += 1;
        if a.status != StatusCode::OK {
            break a;
        }
        assert!(sent < 10, "never limited");
    };
    assert!(
        sent >= 3,
        "the burst of 2 was not honoured: refused at request {sent}"
    );
    limited.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Another client has its own allowance; probes are never limited.
    assert_eq!(
        call(&state, from("198.51.100.2")).await.status,
        StatusCode::OK
    );
    for _ in 0..5 {
        assert_eq!(get(&state, "/healthz").await.status, StatusCode::OK);
    }
    let metrics = get(&state, "/metrics").await.text();
    assert!(metrics.contains("sahaya_rate_limited_total 1"), "{metrics}");
}

#[tokio::test]
async fn rate_limit_is_off_by_default() {
    let state = shared();
    assert!(state.config().rate_limit.is_none());
    for _ in 0..30 {
        let a = respond(&state, json!({"text": "Where is my parcel?"})).await;
        assert_eq!(a.status, StatusCode::OK);
    }
}

// ---- admin ----

#[tokio::test]
async fn admin_endpoints_are_disabled_without_a_token() {
    let state = AppState::new(engine(), ServerConfig::default());
    for path in ["/v1/admin/reload", "/v1/sessions/abc/handback"] {
        call(&state, admin(path, Some("anything")))
            .await
            .error(StatusCode::NOT_FOUND, "admin_disabled");
    }
}

#[tokio::test]
async fn admin_reload_needs_the_token() {
    let state = shared();
    let a = call(&state, admin("/v1/admin/reload", None)).await;
    a.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(a.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    call(&state, admin("/v1/admin/reload", Some("wrong")))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");

    let before = state.snapshot().generation;
    let a = call(&state, admin("/v1/admin/reload", Some(TOKEN))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["status"], "reloaded");
    assert!(v["generation"].as_u64().unwrap() > before);
    assert_eq!(v["version"], json!(state.snapshot().version));
}

#[tokio::test]
async fn admin_failures_are_limited_to_ten_a_minute() {
    let state = AppState::new(
        engine(),
        ServerConfig {
            admin_token: Some(TOKEN.into()),
            // The general rate limit is far away; it names the client header.
            rate_limit: Some(RateLimitConfig {
                per_second: 1000,
                burst: Some(1000),
                trust_forwarded_header: Some("x-forwarded-for".into()),
            }),
            ..ServerConfig::default()
        },
    );
    let from = |ip: &str, path: &str, token: Option<&str>| {
        let mut req = Request::post(path).header("x-forwarded-for", ip);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        req.body(Body::empty()).unwrap()
    };
    let attacker = "203.0.113.5";
    for i in 0..AUTH_FAILURES_PER_MINUTE {
        let guess = format!("guess-{i}");
        let path = if i % 2 == 0 {
            "/v1/admin/reload"
        } else {
            "/v1/sessions/x/handback"
        };
        call(&state, from(attacker, path, Some(&guess)))
            .await
            .error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let a = call(&state, from(attacker, "/v1/admin/reload", Some("one-more"))).await;
    let m = a.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(m.contains("failed authentications"), "{m}");
    let retry: u64 = a.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Locked out means locked out: the right token does not get through this minute ...
    call(
        &state,
        from(attacker, "/v1/sessions/x/handback", Some(TOKEN)),
    )
    .await
    .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // ... while other clients and the public endpoints are untouched.
    let a = call(
        &state,
        from("198.51.100.8", "/v1/admin/reload", Some(TOKEN)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = respond(&state, json!({"text": "Where is my parcel?"})).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn handback_needs_the_token_and_reports_the_session() {
    let state = shared();
    call(&state, admin("/v1/sessions/c-1/handback", None))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let a = call(&state, admin("/v1/sessions/c-1/handback", Some(TOKEN))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json(), json!({"session_id": "c-1", "handed_back": false}));
    let long = format!(
        "/v1/sessions/{}/handback",
        "x".repeat(MAX_SESSION_ID_BYTES + 1)
    );
    call(&state, admin(&long, Some(TOKEN)))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_session_id");
    call(&state, admin("/v1/sessions/a%0Ab/handback", Some(TOKEN)))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_session_id");
    call(&state, admin("/v1/sessions/%FF/handback", Some(TOKEN)))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_session_id");
}

// ---- OpenAPI ----

fn openapi() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
}

#[tokio::test]
async fn openapi_is_served() {
    let a = get(&shared(), "/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), openapi());
    assert!(a.json()["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn openapi_paths_match_the_router() {
    let spec = openapi();
    let paths = spec["paths"].as_object().unwrap();
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let routed: BTreeSet<&str> = ENDPOINTS.iter().copied().collect();
    assert_eq!(
        documented, routed,
        "openapi.json paths vs server::ENDPOINTS"
    );

    let state = shared();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "probe");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"text":"hello"}"#))
                .unwrap();
            let a = call(&state, req).await;
            let code = serde_json::from_slice::<Value>(&a.body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(String::from));
            assert!(
                !matches!(code.as_deref(), Some("not_found" | "method_not_allowed")),
                "{method} {path} is documented but not routed"
            );
            let documented: Vec<&String> = ops[method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .collect();
            assert!(
                documented.contains(&&a.status.as_u16().to_string()),
                "{method} {path} answered {} which openapi.json does not list",
                a.status
            );
        }
    }
}

#[tokio::test]
async fn openapi_reply_schema_matches_a_real_reply() {
    let spec = openapi();
    let schema = &spec["components"]["schemas"]["Reply"];
    // With the conversation log on, so that the reply carries its optional `reply_id`.
    let mut integrations = Integrations::new(Arc::new(SqliteStore::in_memory().unwrap()));
    integrations.log = Some(sahaya::store::LogConfig::default());
    let logged = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    let reply = respond(&logged, json!({"text": "Where is my parcel?"}))
        .await
        .json();
    let keys: BTreeSet<&str> = reply
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let properties: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let optional: BTreeSet<&str> = ["reply_id"].into();
    assert_eq!(&keys - &optional, required);
    assert_eq!(keys, properties);
    // Without the log there is no reply id.
    let bare = respond(&shared(), json!({"text": "Where is my parcel?"}))
        .await
        .json();
    assert!(bare.get("reply_id").is_none());
}

/// The fields the server accepts, read from its own unknown-field error.
async fn accepted_fields(body: Value) -> BTreeSet<String> {
    let m = respond(&shared(), body)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_field");
    let list = m.split("expected one of").nth(1).unwrap_or(&m);
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn schema_fields(spec: &Value, name: &str) -> BTreeSet<String> {
    spec["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn openapi_request_schema_matches_what_the_server_accepts() {
    let spec = openapi();
    assert_eq!(
        accepted_fields(json!({"text": "hi", "zzz": 1})).await,
        schema_fields(&spec, "Message")
    );
    assert_eq!(
        accepted_fields(json!({"text": "hi", "customer": {"zzz": 1}})).await,
        schema_fields(&spec, "Customer")
    );
    // A request with every documented field is accepted.
    let full = json!({
        "text": "Where is my parcel?", "lang": "en", "formality": "informal",
        "channel": "chat", "session_id": "s-9", "at": "2025-03-01T10:00:00+02:00",
        "customer": {"name": "Eleni", "tier": "business", "region": "GR",
                     "timezone": "Europe/Athens"}
    });
    let full_keys: BTreeSet<String> = full.as_object().unwrap().keys().cloned().collect();
    assert_eq!(full_keys, schema_fields(&spec, "Message"));
    let a = respond(&shared(), full).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

/// A state database that fails every call, as a full disk or a broken file would.
/// A state database whose every call fails with the error it makes.
struct BrokenStore(fn() -> sahaya::Error);

fn store_fault() -> sahaya::Error {
    sahaya::ErrorKind::Io {
        path: "state.sqlite3".into(),
        source: std::io::Error::other("disk I/O error"),
    }
    .into()
}

impl sahaya::store::Store for BrokenStore {
    fn claim_auto_reply(
        &self,
        _: &str,
        _: i64,
        _: i64,
        _: u32,
    ) -> Result<sahaya::store::Claim, sahaya::Error> {
        Err((self.0)())
    }
    fn first_delivery(&self, _: &str, _: i64) -> Result<bool, sahaya::Error> {
        Err((self.0)())
    }
    fn enqueue(&self, _: &str, _: &str, _: i64) -> Result<sahaya::store::Enqueued, sahaya::Error> {
        Err((self.0)())
    }
    fn due(
        &self,
        _: i64,
        _: usize,
        _: i64,
    ) -> Result<Vec<sahaya::store::OutboxItem>, sahaya::Error> {
        Err((self.0)())
    }
    fn pending(&self) -> Result<u64, sahaya::Error> {
        Err((self.0)())
    }
    fn append_log(&self, _: &[sahaya::store::LogEntry]) -> Result<(), sahaya::Error> {
        Err((self.0)())
    }
    fn record_feedback(
        &self,
        _: &str,
        _: &sahaya::store::Feedback,
        _: i64,
    ) -> Result<bool, sahaya::Error> {
        Err((self.0)())
    }
    fn read_log(&self, _: i64, _: i64) -> Result<Vec<sahaya::store::LogRecord>, sahaya::Error> {
        Err((self.0)())
    }
    fn prune_log(&self, _: i64, _: i64) -> Result<(usize, usize), sahaya::Error> {
        Err((self.0)())
    }
    fn delivered(&self, _: i64) -> Result<(), sahaya::Error> {
        Err((self.0)())
    }
    fn failed(&self, _: i64, _: i64, _: &str) -> Result<(), sahaya::Error> {
        Err((self.0)())
    }
    fn forget_delivery(&self, _: &str) -> Result<(), sahaya::Error> {
        Err((self.0)())
    }
    fn gave_up(&self, _: i64, _: i64, _: &str) -> Result<(), sahaya::Error> {
        Err((self.0)())
    }
    fn prune(
        &self,
        _: i64,
        _: &sahaya::store::Retention,
    ) -> Result<sahaya::store::Pruned, sahaya::Error> {
        Err((self.0)())
    }
}

/// A server with the Chatwoot agent bot, state in `store`, Chatwoot's API at `base_url`.
fn with_chatwoot(
    store: Arc<dyn sahaya::store::Store>,
    base_url: String,
    secret: Option<&str>,
) -> AppState {
    let mut integrations = Integrations::new(store);
    integrations.chatwoot = Some(ChatwootConfig {
        base_url,
        api_token: "bot-token".into(),
        secret: secret.map(String::from),
        allow_unsigned: secret.is_none(),
        timeout_secs: 2,
        ca_file: None,
    });
    AppState::with_integrations(engine(), ServerConfig::default(), integrations)
}

/// Every error code openapi.json documents is one the server answers: each is produced here
/// by a real request through the router, with its status and the JSON error shape.
#[tokio::test]
async fn every_documented_error_code_is_answered() {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    /// A body broken off by the client.
    struct Broken;
    impl http_body::Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
        }
    }
    let json_post = |path: &str, body: Body| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap()
    };
    let mut answered = BTreeSet::new();
    let mut expect = |a: Answer, status: StatusCode, code: &str| {
        a.error(status, code);
        answered.insert(code.to_string());
    };
    const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

    // The public API.
    let state = shared();
    for (body, status, code) in [
        ("{", StatusCode::BAD_REQUEST, "malformed_json"),
        ("{}", UNPROCESSABLE, "missing_field"),
        (r#"{"text":"a","x":1}"#, UNPROCESSABLE, "unknown_field"),
        (r#"{"text":5}"#, UNPROCESSABLE, "invalid_field"),
        (r#"{"text":""}"#, UNPROCESSABLE, "empty_text"),
        (
            r#"{"text":"hi","lang":"xx"}"#,
            UNPROCESSABLE,
            "unknown_language",
        ),
        (r#"{"text":"hi","at":"soon"}"#, UNPROCESSABLE, "bad_request"),
    ] {
        expect(post(&state, "/v1/respond", body).await, status, code);
    }
    let long_id = json!({"text": "hi", "session_id": "x".repeat(MAX_SESSION_ID_BYTES + 1)});
    expect(
        respond(&state, long_id).await,
        UNPROCESSABLE,
        "invalid_session_id",
    );
    let big = json!({ "text": "a".repeat(state.config().body_limit + 1) }).to_string();
    let a = post(&state, "/v1/respond", big).await;
    expect(a, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let a = call(&state, json_post("/v1/respond", Body::new(Broken))).await;
    expect(a, StatusCode::BAD_REQUEST, "bad_body");
    let plain = Request::post("/v1/respond")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"text":"hi"}"#))
        .unwrap();
    let a = call(&state, plain).await;
    expect(
        a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    expect(
        get(&state, "/v2/respond").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = get(&state, "/v1/respond").await;
    expect(a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let a = post(&state, "/v1/webhooks/chatwoot", "{}").await;
    expect(a, StatusCode::NOT_FOUND, "chatwoot_disabled");

    // Tighter limits, and no admin token.
    let tight = AppState::new(
        engine(),
        ServerConfig {
            max_text_bytes: 100,
            request_timeout_secs: 1,
            ..ServerConfig::default()
        },
    );
    let a = respond(&tight, json!({ "text": "parcel ".repeat(20) })).await;
    expect(a, StatusCode::PAYLOAD_TOO_LARGE, "text_too_long");
    let a = call(&tight, admin("/v1/admin/reload", Some(TOKEN))).await;
    expect(a, StatusCode::NOT_FOUND, "admin_disabled");
    let a = call(&tight, json_post("/v1/respond", Body::new(Stalled))).await;
    expect(a, StatusCode::REQUEST_TIMEOUT, "timeout");

    // Reloads of content that breaks, then of content that is gone; then an admin client
    // that guesses tokens.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in sahaya::server::CONTENT_DIRS {
        if root.join(name).is_dir() {
            copy_dir(&root.join(name), &data.join(name));
        }
    }
    let editable = AppState::new(
        Engine::load(&data).expect("the copied content loads"),
        ServerConfig {
            admin_token: Some(TOKEN.into()),
            ..ServerConfig::default()
        },
    );
    std::fs::write(data.join("knowledge/broken.toml"), "id = ").unwrap();
    let a = call(&editable, admin("/v1/admin/reload", Some(TOKEN))).await;
    expect(a, UNPROCESSABLE, "content_error");
    std::fs::remove_dir_all(&data).unwrap();
    let a = call(&editable, admin("/v1/admin/reload", Some(TOKEN))).await;
    expect(a, StatusCode::INTERNAL_SERVER_ERROR, "reload_failed");
    for _ in 0..AUTH_FAILURES_PER_MINUTE {
        let a = call(&editable, admin("/v1/admin/reload", Some("guess"))).await;
        expect(a, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let a = call(&editable, admin("/v1/admin/reload", Some(TOKEN))).await;
    expect(a, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // The Chatwoot agent bot: a Chatwoot that cannot be reached, a state database that
    // fails.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let delivery = json!({
        "event": "message_created",
        "id": 41,
        "content": "Where is my parcel?",
        "message_type": "incoming",
        "private": false,
        "conversation": {"id": 12, "status": "pending"},
        "account": {"id": 3}
    })
    .to_string();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let bot = with_chatwoot(store, closed.clone(), Some("bot-secret"));
    let a = post(&bot, "/v1/webhooks/chatwoot", delivery.clone()).await;
    expect(a, StatusCode::UNAUTHORIZED, "bad_signature");
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = signature::sign("bot-secret", &ts, delivery.as_bytes());
    let signed = Request::post("/v1/webhooks/chatwoot")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Chatwoot-Timestamp", &ts)
        .header("X-Chatwoot-Signature", &sig)
        .body(Body::from(delivery.clone()))
        .unwrap();
    let a = call(&bot, signed).await;
    expect(a, StatusCode::BAD_GATEWAY, "chatwoot_failed");
    let broken = with_chatwoot(Arc::new(BrokenStore(store_fault)), closed.clone(), None);
    let a = post(&broken, "/v1/webhooks/chatwoot", delivery.clone()).await;
    expect(a, StatusCode::INTERNAL_SERVER_ERROR, "internal");
    let unreachable = || sahaya::Error::unavailable("state database", "connection refused");
    let down = with_chatwoot(Arc::new(BrokenStore(unreachable)), closed, None);
    let a = post(&down, "/v1/webhooks/chatwoot", delivery).await;
    expect(a, StatusCode::SERVICE_UNAVAILABLE, "state_unavailable");

    // Feedback: without a conversation log, and on a reply the log does not have.
    let fb = r#"{"reply_id": "0123abcd", "helpful": true}"#;
    let a = post(&shared(), "/v1/feedback", fb).await;
    expect(a, StatusCode::NOT_FOUND, "log_disabled");
    let mut integrations = Integrations::new(Arc::new(SqliteStore::in_memory().unwrap()));
    integrations.log = Some(sahaya::store::LogConfig::default());
    let logged = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    let a = post(&logged, "/v1/feedback", fb).await;
    expect(a, StatusCode::NOT_FOUND, "unknown_reply");

    let spec = openapi();
    let documented: BTreeSet<String> = spec["components"]["schemas"]["Error"]["properties"]
        ["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        answered, documented,
        "error codes answered vs documented in openapi.json"
    );
}

// ---- a really bound server ----

#[test]
fn real_server_over_tcp() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = AppState::new(
        engine(),
        ServerConfig {
            rate_limit: Some(RateLimitConfig {
                per_second: 1,
                burst: Some(2),
                trust_forwarded_header: None,
            }),
            ..ServerConfig::default()
        },
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(sahaya::server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    let health = ureq::get(&format!("{base}/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);

    let reply: Value = ureq::post(&format!("{base}/v1/respond"))
        .send_json(json!({"text": "Πού είναι το δέμα μου;"}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(reply["answer_id"], "track_parcel");
    assert_eq!(reply["lang"], "el");

    match ureq::post(&format!("{base}/v1/respond")).send_json(json!({"text": 1})) {
        Err(ureq::Error::Status(422, resp)) => {
            let v: Value = resp.into_json().unwrap();
            assert_eq!(v["error"]["code"], "invalid_field");
        }
        other => panic!("expected 422, got {other:?}"),
    }
    // Two requests so far on /v1 from 127.0.0.1: the burst is spent, so a refusal comes
    // within a few more, keyed by the peer address.
    let refused = (0..10).find_map(|_| {
        match ureq::post(&format!("{base}/v1/respond")).send_json(json!({"text": "hi"})) {
            Err(ureq::Error::Status(429, resp)) => Some(resp),
            Ok(_) => None,
            Err(e) => panic!("expected 200 or 429, got {e:?}"),
        }
    });
    let refused = refused.expect("a 429 by peer address");
    assert!(refused.header("retry-after").is_some());

    // Graceful shutdown: readiness flips, the server returns.
    stop.send(()).unwrap();
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("shuts down")
            .unwrap()
            .unwrap();
    });
    assert!(ureq::get(&format!("{base}/healthz")).call().is_err());
}

// ---- slow and idle connections ----

/// A server on 127.0.0.1 in its own runtime; `stop` shuts it down gracefully.
struct Running {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn start(config: ServerConfig) -> Running {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let state = AppState::new(engine(), config);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(sahaya::server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Running {
            rt,
            addr,
            stop: Some(stop),
            server: Some(server),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let server = self.server.take().unwrap();
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("shuts down")
                .unwrap()
                .unwrap();
        });
    }
}

/// Reads until the server closes the connection; panics when it is still open after the
/// socket's read timeout. Returns what the server sent.
fn read_until_closed(s: &mut TcpStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{what}: the connection is still open ({e})"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// One request on a keep-alive connection; returns the status line once the whole response
/// (Content-Length) has arrived.
fn get_keep_alive(s: &mut TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("Content-Length");
            if got.len() >= end + 4 + length {
                return text.lines().next().unwrap().to_string();
            }
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let server = Running::start(ServerConfig {
        header_read_timeout_secs: 1,
        ..ServerConfig::default()
    });
    // Half the headers, then nothing.
    let mut half = server.connect();
    half.write_all(b"POST /v1/respond HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .unwrap();
    // Nothing at all.
    let mut silent = server.connect();
    // A finished request on a keep-alive connection, then silence.
    let mut idle = server.connect();
    assert_eq!(get_keep_alive(&mut idle, "/healthz"), "HTTP/1.1 200 OK");

    let sent = read_until_closed(&mut half, "half-sent headers");
    assert!(!sent.contains(" 200 "), "{sent}");
    read_until_closed(&mut silent, "a silent client");
    read_until_closed(&mut idle, "an idle keep-alive connection");

    // The server itself is fine.
    let mut fresh = server.connect();
    assert_eq!(get_keep_alive(&mut fresh, "/healthz"), "HTTP/1.1 200 OK");
    drop(fresh);
    server.stop();
}

#[test]
fn connections_over_the_limit_wait_for_a_free_slot() {
    let server = Running::start(ServerConfig {
        max_connections: 1,
        // Long enough that the first connection is not cut off during the test.
        header_read_timeout_secs: 60,
        ..ServerConfig::default()
    });
    let holder = server.connect();
    let mut waiting = server.connect();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // With the only slot taken, the second connection is not served ...
    waiting
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    match waiting.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("served over the limit: {other:?}"),
    }
    // ... until the first one closes.
    drop(holder);
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = waiting.read(&mut buf).expect("served once a slot is free");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(waiting);
    server.stop();
}

/// The status line of the answer to raw request bytes.
fn status_line(s: &mut TcpStream, request: &[u8]) -> String {
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = s.write_all(request);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn oversized_heads_get_431_and_414_on_a_real_socket() {
    let server = Running::start(ServerConfig::default());
    let big_header = [
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ".as_slice(),
        &vec![b'a'; 1_000_000],
        b"\r\n\r\n",
    ]
    .concat();
    assert!(status_line(&mut server.connect(), &big_header).starts_with("HTTP/1.1 431"));
    let many: String = (0..200).map(|i| format!("X-{i}: a\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\n{many}\r\n");
    assert!(status_line(&mut server.connect(), many.as_bytes()).starts_with("HTTP/1.1 431"));
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(100_000)
    );
    assert!(status_line(&mut server.connect(), long_uri.as_bytes()).starts_with("HTTP/1.1 414"));
    server.stop();
}

#[test]
fn shutdown_does_not_wait_for_clients_that_never_finish_their_headers() {
    let server = Running::start(ServerConfig {
        request_timeout_secs: 1,
        header_read_timeout_secs: 600,
        ..ServerConfig::default()
    });
    let mut half = server.connect();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    let mut idle = server.connect();
    assert_eq!(get_keep_alive(&mut idle, "/healthz"), "HTTP/1.1 200 OK");
    // `stop` allows 20 s; the header timeout alone would take 10 minutes.
    server.stop();
    read_until_closed(&mut idle, "an idle connection after shutdown");
}
