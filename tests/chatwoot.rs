//! The Chatwoot agent bot against a mock Chatwoot (a real HTTP server in the test that
//! records every API call), and the escalation webhook's durable outbox against a mock
//! receiver.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use sahaya::server::{
    app, signature, AppState, ChatwootConfig, Integrations, ServerConfig, WebhookConfig,
};
use sahaya::store::{SqliteStore, Store};
use sahaya::Engine;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tower::ServiceExt;

const TOKEN: &str = "bot-access-token";
const SECRET: &str = "agent-bot-secret";
const HOOK_SECRET: &str = "webhook-secret";

// ---- a recording HTTP server: mock Chatwoot, mock help desk ----

#[derive(Debug, Clone)]
struct Call {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    /// The next this many calls fail with 500.
    failures: Arc<AtomicUsize>,
}

impl Recorder {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.path).collect()
    }

    fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

async fn record(
    State(rec): State<Recorder>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    rec.calls.lock().unwrap().push(Call {
        path: uri.path().to_string(),
        headers,
        body,
    });
    let failing = rec
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "down"})),
        )
    } else {
        (StatusCode::OK, axum::Json(json!({"id": 1})))
    }
}

/// Starts a recording server on 127.0.0.1; its base URL and its recorder.
async fn mock_server() -> (String, Recorder) {
    let rec = Recorder::default();
    let router = Router::new()
        .route("/{*path}", post(record))
        .with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}"), rec)
}

// ---- Sahaya under test ----

fn engine() -> Engine {
    Engine::load(env!("CARGO_MANIFEST_DIR")).expect("the shipped content loads")
}

struct Bot {
    state: AppState,
    chatwoot: Recorder,
    store: Arc<SqliteStore>,
}

/// Sahaya with Chatwoot at a fresh mock and a webhook URL that nobody serves (the outbox is
/// only inspected). Without a secret, unsigned deliveries are allowed.
async fn bot(secret: Option<&str>) -> Bot {
    bot_with(secret, secret.is_none()).await
}

async fn bot_with(secret: Option<&str>, allow_unsigned: bool) -> Bot {
    let (base_url, chatwoot) = mock_server().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let mut integrations = Integrations::new(store.clone());
    integrations.chatwoot = Some(ChatwootConfig {
        base_url,
        api_token: TOKEN.into(),
        secret: secret.map(String::from),
        allow_unsigned,
        timeout_secs: 4,
        ca_file: None,
    });
    integrations.webhook = Some(WebhookConfig {
        url: "http://127.0.0.1:9/unused".into(),
        secret: Some(HOOK_SECRET.into()),
        max_attempts: 3,
        timeout_secs: 2,
        ca_file: None,
    });
    let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    Bot {
        state,
        chatwoot,
        store,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `message_created` delivery as Chatwoot sends it to an agent bot.
fn delivery(message_id: u64, conversation: u64, status: &str, content: &str) -> Value {
    json!({
        "event": "message_created",
        "id": message_id,
        "content": content,
        "created_at": "2025-05-02T09:15:00.000Z",
        "message_type": "incoming",
        "content_type": "text",
        "content_attributes": {},
        "source_id": null,
        "private": false,
        "sender": {"id": 501, "name": "Ravi Kumar", "email": "ravi@example.com", "type": "contact"},
        "inbox": {"id": 2, "name": "Website"},
        "conversation": {"id": conversation, "status": status, "inbox_id": 2, "channel": "Channel::WebWidget"},
        "account": {"id": 3, "name": "Nova Courier"}
    })
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(state: &AppState, body: &[u8], signature: Option<(&str, &str)>) -> Answer {
    let mut req =
        Request::post("/v1/webhooks/chatwoot").header(header::CONTENT_TYPE, "application/json");
    if let Some((ts, sig)) = signature {
        req = req
            .header("X-Chatwoot-Timestamp", ts)
            .header("X-Chatwoot-Signature", sig);
    }
    let resp = app(state.clone())
        .oneshot(req.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    Answer {
        status,
        headers,
        body,
    }
}

/// Posts `v` signed with `secret`, as Chatwoot does.
async fn deliver(state: &AppState, v: &Value, secret: &str) -> Answer {
    let body = serde_json::to_vec(v).unwrap();
    let ts = now().to_string();
    let sig = signature::sign(secret, &ts, &body);
    send(state, &body, Some((&ts, &sig))).await
}

fn messages_path(conversation: u64) -> String {
    format!("/api/v1/accounts/3/conversations/{conversation}/messages")
}

fn toggle_path(conversation: u64) -> String {
    format!("/api/v1/accounts/3/conversations/{conversation}/toggle_status")
}

// ---- the agent bot ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_in_a_pending_conversation() {
    let bot = bot(Some(SECRET)).await;
    let a = deliver(
        &bot.state,
        &delivery(1001, 12, "pending", "Where is my parcel?"),
        SECRET,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "answered");
    assert_eq!(a.body["decision"], "answer");
    assert_eq!(a.body["session_id"], "chatwoot:3:12");

    let calls = bot.chatwoot.calls();
    assert_eq!(bot.chatwoot.paths(), [messages_path(12)]);
    let call = &calls[0];
    assert_eq!(call.headers["api_access_token"], TOKEN);
    let body = call.json();
    assert_eq!(body["message_type"], "outgoing");
    assert_eq!(body["private"], false);
    let text = body["content"].as_str().unwrap();
    assert!(text.to_lowercase().contains("track"), "{text}");
    // The customer's name from Chatwoot greets them.
    assert!(text.contains("Ravi"), "{text}");
    // Answers are not escalations: nothing for the webhook.
    assert!(bot.store.outbox().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_opens_the_conversation_and_the_bot_then_stays_quiet() {
    let bot = bot(Some(SECRET)).await;
    let court = "This is unacceptable, I will take you to court";
    let a = deliver(&bot.state, &delivery(2001, 13, "pending", court), SECRET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "handed_off");
    assert_eq!(a.body["escalation"]["rule"], "legal_threat");

    // Opened, then told: a retry can repeat the opening but never the message.
    assert_eq!(bot.chatwoot.paths(), [toggle_path(13), messages_path(13)]);
    let calls = bot.chatwoot.calls();
    assert_eq!(calls[0].json(), json!({"status": "open"}));
    assert_eq!(calls[0].headers["api_access_token"], TOKEN);
    assert!(!calls[1].json()["content"].as_str().unwrap().is_empty());

    // The escalation is queued for the help-desk webhook.
    let rows = bot.store.outbox().unwrap();
    assert_eq!(rows.len(), 1);
    let event: Value = serde_json::from_str(&rows[0].payload).unwrap();
    assert_eq!(event["event"], "escalation");
    assert_eq!(event["source"], "chatwoot");
    assert_eq!(event["session_id"], "chatwoot:3:13");
    assert_eq!(event["queue"], "legal");
    assert_eq!(event["text"], court);
    assert_eq!(event["customer"]["name"], "Ravi Kumar");

    // The customer writes again; the conversation is open now, with the agents.
    let a = deliver(
        &bot.state,
        &delivery(2002, 13, "open", "Hello? Where is my parcel?"),
        SECRET,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!({"status": "ignored", "reason": "not_pending"})
    );
    assert_eq!(bot.chatwoot.calls().len(), 2, "nothing more posted");
    assert_eq!(bot.store.outbox().unwrap().len(), 1, "no second escalation");
    // The session remembers the handoff: the bot stays quiet in it.
    let session = bot
        .state
        .snapshot()
        .engine
        .sessions()
        .get("chatwoot:3:13")
        .unwrap();
    assert_eq!(
        session.escalated.as_ref().map(|e| e.rule.as_str()),
        Some("legal_threat")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_put_back_to_pending_is_the_bots_again() {
    let bot = bot(Some(SECRET)).await;
    deliver(
        &bot.state,
        &delivery(
            3001,
            14,
            "pending",
            "I want to talk to my lawyer about this",
        ),
        SECRET,
    )
    .await;
    assert_eq!(bot.chatwoot.calls().len(), 2);
    // An agent hands the conversation back to the bot in Chatwoot (status pending).
    let a = deliver(
        &bot.state,
        &delivery(3002, 14, "pending", "Where is my parcel?"),
        SECRET,
    )
    .await;
    assert_eq!(a.body["status"], "answered", "{}", a.body);
    assert_eq!(a.body["decision"], "answer");
    assert_eq!(bot.chatwoot.paths().last().unwrap(), &messages_path(14));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_is_refused_and_nothing_is_posted() {
    let bot = bot(Some(SECRET)).await;
    let v = delivery(4001, 15, "pending", "Where is my parcel?");
    let body = serde_json::to_vec(&v).unwrap();
    let ts = now().to_string();

    let refused = |a: Answer| {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "bad_signature");
    };
    // Signed with another secret.
    refused(deliver(&bot.state, &v, "not-the-secret").await);
    // Not signed at all.
    refused(send(&bot.state, &body, None).await);
    // The body changed after signing.
    let sig = signature::sign(SECRET, &ts, b"{}");
    refused(send(&bot.state, &body, Some((&ts, &sig))).await);
    // A replay of an old delivery.
    let old = (now() - 3600).to_string();
    let sig = signature::sign(SECRET, &old, &body);
    refused(send(&bot.state, &body, Some((&old, &sig))).await);
    assert!(bot.chatwoot.calls().is_empty());

    // The refused deliveries were not recorded: the genuine one is answered.
    let a = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(a.body["status"], "answered");
    assert_eq!(bot.chatwoot.calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_deliveries_are_refused_unless_explicitly_allowed() {
    // No secret and no allow_unsigned: a forged delivery must not make the bot post.
    let bot = bot_with(None, false).await;
    let v = delivery(4101, 21, "pending", "Where is my parcel?");
    let body = serde_json::to_vec(&v).unwrap();
    let a = send(&bot.state, &body, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "bad_signature");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow_unsigned"),
        "{}",
        a.body
    );
    // Its message id was not claimed either.
    assert!(bot.chatwoot.calls().is_empty());
    assert!(bot.store.first_delivery("chatwoot:3:4101", now()).unwrap());

    // Explicitly allowed: the same delivery is answered.
    let bot = bot_with(None, true).await;
    let a = send(&bot.state, &body, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "answered");
    assert_eq!(bot.chatwoot.paths(), [messages_path(21)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_signatures_are_limited_per_client() {
    let bot = bot(Some(SECRET)).await;
    let v = delivery(4201, 22, "pending", "Where is my parcel?");
    for i in 0..sahaya::server::AUTH_FAILURES_PER_MINUTE {
        let a = deliver(&bot.state, &v, "guessed-secret").await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            a.body
        );
    }
    // Past the limit even a good signature waits for the minute to pass.
    let a = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "rate_limited");
    let retry: u64 = a.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(bot.chatwoot.calls().is_empty());
    // The admin endpoints keep their own count.
    let req = Request::post("/v1/admin/reload")
        .header(header::AUTHORIZATION, "Bearer x")
        .body(Body::empty())
        .unwrap();
    let resp = app(bot.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "admin is off here, not limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sessions_cannot_reach_chatwoot_conversations() {
    let bot = bot(Some(SECRET)).await;
    let court = "This is unacceptable, I will take you to court";
    let a = deliver(&bot.state, &delivery(9001, 30, "pending", court), SECRET).await;
    assert_eq!(a.body["status"], "handed_off", "{}", a.body);
    assert_eq!(bot.store.outbox().unwrap().len(), 1);

    // A public API caller naming the Chatwoot conversation gets a conversation of its own:
    // it does not read the help desk's escalation ...
    let reply = respond(
        &bot.state,
        json!({"text": "Where is my parcel?", "session_id": "chatwoot:3:30"}),
    )
    .await;
    assert_eq!(reply["decision"], "answer", "{reply}");
    assert_eq!(reply["escalation"], Value::Null);
    assert_eq!(
        reply["session_id"], "chatwoot:3:30",
        "the id is echoed as sent"
    );

    // ... and cannot escalate (poison) another help-desk conversation.
    let reply = respond(
        &bot.state,
        json!({"text": "I am calling my lawyer", "session_id": "chatwoot:3:31"}),
    )
    .await;
    assert_eq!(reply["decision"], "escalate");
    let snapshot = bot.state.snapshot();
    let sessions = snapshot.engine.sessions();
    assert!(sessions.get("chatwoot:3:31").unwrap().escalated.is_none());
    assert!(sessions
        .get("api:chatwoot:3:31")
        .unwrap()
        .escalated
        .is_some());
    assert!(sessions.get("chatwoot:3:30").unwrap().escalated.is_some());
    let a = deliver(
        &bot.state,
        &delivery(9002, 31, "pending", "Where is my parcel?"),
        SECRET,
    )
    .await;
    assert_eq!(a.body["status"], "answered", "{}", a.body);
    assert_eq!(a.body["decision"], "answer");
    // The API escalation went to the webhook under the caller's id, marked as from the API.
    let rows = bot.store.outbox().unwrap();
    assert_eq!(rows.len(), 2);
    let event: Value = serde_json::from_str(&rows[1].payload).unwrap();
    assert_eq!(
        (event["source"].as_str(), event["session_id"].as_str()),
        (Some("api"), Some("chatwoot:3:31"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delivery_is_answered_once() {
    let bot = bot(Some(SECRET)).await;
    let v = delivery(5001, 16, "pending", "Where is my parcel?");
    let first = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(first.body["status"], "answered");
    // Chatwoot signs each attempt anew; the message id is what repeats.
    let again = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(bot.chatwoot.paths(), [messages_path(16)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_template_and_private_messages_get_no_answer() {
    let bot = bot(Some(SECRET)).await;
    let cases = [
        ("message_type", json!("outgoing"), "not_incoming"),
        ("message_type", json!(1), "not_incoming"),
        ("message_type", json!("template"), "not_incoming"),
        ("message_type", json!(3), "not_incoming"),
        ("message_type", json!("activity"), "not_incoming"),
        ("private", json!(true), "private"),
        ("event", json!("conversation_opened"), "event"),
        ("content", Value::Null, "no_content"),
    ];
    for (i, (field, value, reason)) in cases.into_iter().enumerate() {
        let mut v = delivery(6000 + i as u64, 17, "pending", "Where is my parcel?");
        v[field] = value;
        let a = deliver(&bot.state, &v, SECRET).await;
        assert_eq!(a.status, StatusCode::OK, "{field}: {}", a.body);
        assert_eq!(a.body["reason"], reason, "{field}");
    }
    // Numeric message types of older versions are read too: 0 is incoming.
    let mut v = delivery(6100, 17, "pending", "Where is my parcel?");
    v["message_type"] = json!(0);
    assert_eq!(
        deliver(&bot.state, &v, SECRET).await.body["status"],
        "answered"
    );
    assert_eq!(bot.chatwoot.paths(), [messages_path(17)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatwoot_failure_is_a_502_and_the_retry_is_answered() {
    let bot = bot(Some(SECRET)).await;
    let v = delivery(7001, 18, "pending", "Where is my parcel?");
    bot.chatwoot.fail_next(1);
    let a = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "chatwoot_failed");
    // The failed delivery was not kept as handled.
    let a = deliver(&bot.state, &v, SECRET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "answered");
    assert_eq!(bot.chatwoot.paths(), [messages_path(18), messages_path(18)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deliveries_get_4xx_never_500() {
    // Unsigned deliveries allowed: the body itself is what is tested.
    let bot = bot(None).await;
    let a = send(&bot.state, b"{\"event\": ", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["code"], "malformed_json");
    let a = send(&bot.state, b"[1, 2]", None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut v = delivery(8001, 19, "pending", "Where is my parcel?");
    v["conversation"]["id"] = json!("19/../../../admin");
    let a = send(&bot.state, &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "invalid_field");
    // A huge message is answered from its start, not refused.
    let long = "Where is my parcel? ".repeat(5000);
    let v = delivery(8002, 19, "pending", &long);
    let a = send(&bot.state, &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(bot.chatwoot.calls().len(), 1);
}

#[tokio::test]
async fn without_chatwoot_settings_the_endpoint_is_off() {
    let state = AppState::new(engine(), ServerConfig::default());
    let a = send(&state, b"{}", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["error"]["code"], "chatwoot_disabled");
}

// ---- the escalation webhook ----

fn webhook_config(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: Some(HOOK_SECRET.into()),
        max_attempts: 3,
        timeout_secs: 2,
        ca_file: None,
    }
}

async fn respond(state: &AppState, body: Value) -> Value {
    let req = Request::post("/v1/respond")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn assert_signed(call: &Call) {
    let h = |n: &str| call.headers.get(n).and_then(|v| v.to_str().ok());
    assert_eq!(h("content-type"), Some("application/json"));
    assert_eq!(h("x-sahaya-event"), Some("escalation"));
    assert!(h("x-sahaya-delivery").is_some());
    signature::verify(
        HOOK_SECRET,
        h("x-sahaya-timestamp"),
        h("x-sahaya-signature"),
        &call.body,
        now(),
    )
    .expect("a valid X-Sahaya-Signature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_are_retried_from_a_durable_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let (url, desk) = mock_server().await;
    let hook_url = format!("{url}/hooks/sahaya");

    let t0 = {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let mut integrations = Integrations::new(store.clone());
        integrations.webhook = Some(webhook_config(hook_url.clone()));
        let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);

        let reply = respond(
            &state,
            json!({"text": "I am calling my lawyer", "session_id": "web-1",
                   "customer": {"name": "Eleni", "tier": "business"}}),
        )
        .await;
        assert_eq!(reply["decision"], "escalate");
        // The next message in that conversation gets "a colleague will reply" again, but the
        // handoff was already sent.
        let reply = respond(&state, json!({"text": "hello?", "session_id": "web-1"})).await;
        assert_eq!(reply["decision"], "escalate");
        // Answers are not sent.
        respond(&state, json!({"text": "Where is my parcel?"})).await;
        assert_eq!(store.outbox().unwrap().len(), 1);

        // The help desk is down for the first attempt.
        desk.fail_next(1);
        let t0 = now();
        let outbox = state.outbox().expect("a webhook is configured");
        let report = tokio::task::spawn_blocking(move || outbox.deliver_due(t0).unwrap())
            .await
            .unwrap();
        assert_eq!(
            (report.delivered, report.retrying, report.gave_up),
            (0, 1, 0)
        );
        let rows = store.outbox().unwrap();
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
        t0
    };
    // Sahaya restarts: the row is still there, and due 10 s after the failure.
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    assert!(store.due(t0 + 9, 10, 60).unwrap().is_empty());
    assert_eq!(store.pending().unwrap(), 1);
    let mut integrations = Integrations::new(store.clone());
    integrations.webhook = Some(webhook_config(hook_url));
    let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    let outbox = state.outbox().unwrap();
    let report = tokio::task::spawn_blocking(move || {
        let first = outbox.deliver_due(t0 + 10).unwrap();
        // Once delivered it is never sent again.
        let later = outbox.deliver_due(t0 + 100_000).unwrap();
        (first, later)
    })
    .await
    .unwrap();
    assert_eq!(report.0.delivered, 1);
    assert_eq!(report.1, Default::default());

    let calls = desk.calls();
    assert_eq!(calls.len(), 2, "one failed attempt, one delivery");
    for call in &calls {
        assert_eq!(call.path, "/hooks/sahaya");
        assert_signed(call);
    }
    assert_eq!(
        calls[0].body, calls[1].body,
        "the retry sends the same event"
    );
    assert_eq!(
        calls[0].headers["x-sahaya-delivery"],
        calls[1].headers["x-sahaya-delivery"]
    );
    let event = calls[1].json();
    assert_eq!(event["event"], "escalation");
    assert_eq!(event["source"], "api");
    assert_eq!(event["session_id"], "web-1");
    assert_eq!(event["rule"], "legal_threat");
    assert_eq!(event["queue"], "legal");
    // A business customer's escalation goes up a level.
    assert_eq!(event["priority"], "urgent");
    assert_eq!(event["lang"], "en");
    assert_eq!(event["text"], "I am calling my lawyer");
    assert_eq!(event["customer"]["name"], "Eleni");
    assert!(event["at"].is_string());
    let rows = store.outbox().unwrap();
    assert!(rows[0].delivered_at.is_some());
    assert_eq!(rows[0].attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_gives_up_after_max_attempts_and_keeps_the_row() {
    let (url, desk) = mock_server().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let mut integrations = Integrations::new(store.clone());
    integrations.webhook = Some(webhook_config(format!("{url}/hook")));
    let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    respond(&state, json!({"text": "I will sue you"})).await;
    desk.fail_next(10);
    let outbox = state.outbox().unwrap();
    let t = now();
    let reports = tokio::task::spawn_blocking(move || {
        // max_attempts = 3: after 10 s, then 20 s.
        [t, t + 10, t + 30, t + 100_000].map(|now| outbox.deliver_due(now).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(
        reports.map(|r| (r.retrying, r.gave_up)),
        [(1, 0), (1, 0), (0, 1), (0, 0)]
    );
    assert_eq!(desk.calls().len(), 3);
    let rows = store.outbox().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 3);
    assert_eq!(rows[0].gave_up_at, Some(t + 30));
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(rows[0].delivered_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_sends_escalations_at_once() {
    let (url, desk) = mock_server().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut integrations = Integrations::new(store);
    integrations.webhook = Some(webhook_config(format!("{url}/hook")));
    let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sahaya::server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let status = tokio::task::spawn_blocking(move || {
        ureq::post(&format!("http://{addr}/v1/respond"))
            .send_json(json!({"text": "I want to speak to a lawyer", "session_id": "live-1"}))
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(status, 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while desk.calls().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = desk.calls();
    assert_eq!(
        calls.len(),
        1,
        "the background sender delivered the escalation"
    );
    assert_signed(&calls[0]);
    assert_eq!(calls[0].json()["session_id"], "live-1");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

async fn metrics_text(state: &AppState) -> String {
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample `name` (with its labels) in a Prometheus text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_metrics_follow_a_help_desk_that_fails_then_recovers() {
    let (url, desk) = mock_server().await;
    // Room for two escalations waiting; max_attempts = 3.
    let store = Arc::new(
        SqliteStore::in_memory()
            .unwrap()
            .with_limits(sahaya::store::Limits {
                max_pending: 2,
                ..Default::default()
            }),
    );
    let mut integrations = Integrations::new(store.clone());
    integrations.webhook = Some(webhook_config(format!("{url}/hook")));
    let state = AppState::with_integrations(engine(), ServerConfig::default(), integrations);
    let outbox = state.outbox().unwrap();
    let deliver = |now: i64| {
        let outbox = Arc::clone(&outbox);
        async move {
            tokio::task::spawn_blocking(move || outbox.deliver_due(now).unwrap())
                .await
                .unwrap()
        }
    };
    let metric = |text: &str, name: &str| {
        sample(text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };

    let before = metrics_text(&state).await;
    for name in [
        "sahaya_outbox_enqueued_total",
        "sahaya_outbox_delivered_total",
        "sahaya_outbox_retried_total",
        "sahaya_outbox_gave_up_total",
        "sahaya_outbox_pending",
        "sahaya_outbox_rejected_total{reason=\"queue_full\"}",
    ] {
        assert_eq!(metric(&before, name), 0.0, "{name}");
    }

    // Three conversations escalate; the third finds the queue full.
    for session in ["m-1", "m-2", "m-3"] {
        let reply = respond(
            &state,
            json!({"text": "I will sue you", "session_id": session}),
        )
        .await;
        assert_eq!(reply["decision"], "escalate");
    }
    let text = metrics_text(&state).await;
    assert_eq!(metric(&text, "sahaya_outbox_enqueued_total"), 2.0);
    assert_eq!(
        metric(&text, "sahaya_outbox_rejected_total{reason=\"queue_full\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "sahaya_outbox_rejected_total{reason=\"conversation_full\"}"
        ),
        0.0
    );
    assert_eq!(metric(&text, "sahaya_outbox_pending"), 2.0);

    // The help desk fails once: one row waits for a retry, the other goes through.
    desk.fail_next(1);
    let t = now();
    assert_eq!(deliver(t).await.retrying, 1);
    let text = metrics_text(&state).await;
    assert_eq!(metric(&text, "sahaya_outbox_retried_total"), 1.0);
    assert_eq!(metric(&text, "sahaya_outbox_delivered_total"), 1.0);
    assert_eq!(metric(&text, "sahaya_outbox_pending"), 1.0);

    // It recovers: the retry is delivered and nothing waits.
    assert_eq!(deliver(t + 10).await.delivered, 1);
    let text = metrics_text(&state).await;
    assert_eq!(metric(&text, "sahaya_outbox_delivered_total"), 2.0);
    assert_eq!(metric(&text, "sahaya_outbox_pending"), 0.0);

    // A fourth escalation meets a help desk that is down for good, and is given up.
    respond(
        &state,
        json!({"text": "I will sue you", "session_id": "m-4"}),
    )
    .await;
    desk.fail_next(3);
    let t4 = now();
    let reports = [
        deliver(t4).await,
        deliver(t4 + 10).await,
        deliver(t4 + 30).await,
    ];
    assert_eq!(
        reports.map(|r| (r.retrying, r.gave_up)),
        [(1, 0), (1, 0), (0, 1)]
    );
    let text = metrics_text(&state).await;
    assert_eq!(metric(&text, "sahaya_outbox_enqueued_total"), 3.0);
    assert_eq!(metric(&text, "sahaya_outbox_retried_total"), 3.0);
    assert_eq!(metric(&text, "sahaya_outbox_gave_up_total"), 1.0);
    assert_eq!(metric(&text, "sahaya_outbox_delivered_total"), 2.0);
    assert_eq!(metric(&text, "sahaya_outbox_pending"), 0.0);
    assert_eq!(desk.calls().len(), 6, "2 + 1 retry + 3 failed attempts");
    let rows = store.outbox().unwrap();
    assert_eq!(rows.iter().filter(|r| r.delivered_at.is_some()).count(), 2);
    assert_eq!(rows.iter().filter(|r| r.gave_up_at.is_some()).count(), 1);
}
