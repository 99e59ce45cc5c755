//! The HTTP API: `sahaya serve` (cargo feature `server`, on by default).
//!
//! | endpoint | what |
//! | --- | --- |
//! | `POST /v1/respond` | a [`Message`] as JSON in, the [`Reply`] JSON out |
//! | `GET /healthz` | liveness |
//! | `GET /readyz` | content loaded; reports a failed reload |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | the OpenAPI description of all of this |
//! | `GET /` | the preview page for content editors |
//! | `POST /v1/admin/reload` | reload content now (bearer token) |
//! | `POST /v1/sessions/{id}/handback` | a person hands a conversation back to the bot (bearer token) |
//! | `POST /v1/webhooks/chatwoot` | deliveries of a Chatwoot agent bot (`[chatwoot]` settings) |
//!
//! With a `[webhook]` URL configured, every escalation is also queued in the state database
//! and sent to it by a background task ([`webhook`]).
//!
//! Errors are JSON, `{"error": {"code": "…", "message": "…"}}`, with a 4xx status for
//! anything the client can fix.
//!
//! ```no_run
//! use sahaya::server::{app, AppState, ServerConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let engine = sahaya::Engine::load(".").expect("content loads");
//! let state = AppState::new(engine, ServerConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! sahaya::server::serve(listener, state, std::future::pending()).await
//! # }
//! ```

mod chatwoot;
mod config;
mod limit;
mod metrics;
mod reload;
pub mod signature;
pub mod webhook;

pub use config::{
    ChatwootConfig, ConfigError, RateLimitConfig, ServerConfig, Settings, WebhookConfig,
    CONFIG_FILE,
};
pub use metrics::{ENDPOINTS, OTHER_ENDPOINT};
pub use reload::{content_version, watch, ReloadFailure, Snapshot, Watcher, CONTENT_DIRS};
pub use webhook::{DeliveryReport, Outbox};

use crate::error::ErrorKind;
use crate::text::Script;
use crate::{Engine, Lang, Message, Reply};
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use limit::Limiter;
use metrics::{ContentGauges, Metrics};
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The OpenAPI 3 description of the HTTP API, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

const PREVIEW_HTML: &str = include_str!("preview.html");
const PREVIEW_JS: &str = include_str!("preview.js");
const PREVIEW_CSS: &str = include_str!("preview.css");

/// The preview page may load only its own script and style, and nothing may frame it.
const PREVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Longest session id accepted in a path.
const MAX_SESSION_ID_BYTES: usize = 256;

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
    /// The session id in the path is not valid.
    pub const INVALID_SESSION_ID: &str = "invalid_session_id";
    /// No such endpoint.
    pub const NOT_FOUND: &str = "not_found";
    /// The endpoint does not take that method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// A fault inside the server (details in its log).
    pub const INTERNAL: &str = "internal";
    /// No `[chatwoot]` settings: the Chatwoot endpoint is off.
    pub const CHATWOOT_DISABLED: &str = "chatwoot_disabled";
    /// A webhook delivery's signature is missing, stale or wrong.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// Chatwoot's API could not be reached or refused the call.
    pub const CHATWOOT_FAILED: &str = "chatwoot_failed";
}

/// The help-desk integrations of a server, all kept in one state database.
#[derive(Clone)]
pub struct Integrations {
    /// Delivered Chatwoot events and the escalation outbox.
    pub store: Arc<dyn crate::store::Store>,
    /// The Chatwoot agent bot; none disables its endpoint.
    pub chatwoot: Option<ChatwootConfig>,
    /// The outgoing escalation webhook; none queues nothing.
    pub webhook: Option<WebhookConfig>,
}

impl Integrations {
    /// No integration yet, state in `store`.
    pub fn new(store: Arc<dyn crate::store::Store>) -> Integrations {
        Integrations {
            store,
            chatwoot: None,
            webhook: None,
        }
    }
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("chatwoot", &self.chatwoot)
            .field("webhook", &self.webhook)
            .finish()
    }
}

/// What every request handler shares: the current content snapshot, the settings, the
/// metrics and the rate limiter. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    content: ArcSwap<Snapshot>,
    failure: Mutex<Option<ReloadFailure>>,
    reloading: Mutex<()>,
    config: ServerConfig,
    metrics: Metrics,
    limiter: Option<Limiter>,
    draining: AtomicBool,
    store: Option<Arc<dyn crate::store::Store>>,
    chatwoot: Option<chatwoot::Client>,
    outbox: Option<Arc<Outbox>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("version", &self.snapshot().version)
            .field("config", &self.inner.config)
            .finish()
    }
}

impl AppState {
    /// Serves `engine` with the given settings.
    pub fn new(engine: Engine, config: ServerConfig) -> AppState {
        Self::build(engine, config, None)
    }

    /// Serves `engine` with the given settings and help-desk integrations.
    pub fn with_integrations(
        engine: Engine,
        config: ServerConfig,
        integrations: Integrations,
    ) -> AppState {
        Self::build(engine, config, Some(integrations))
    }

    fn build(engine: Engine, config: ServerConfig, integrations: Option<Integrations>) -> AppState {
        let limiter = config.rate_limit.as_ref().and_then(Limiter::new);
        let (store, chatwoot, outbox) = match integrations {
            Some(i) => {
                let outbox = i
                    .webhook
                    .map(|w| Arc::new(Outbox::new(Arc::clone(&i.store), w)));
                (Some(i.store), i.chatwoot.map(chatwoot::Client::new), outbox)
            }
            None => (None, None, None),
        };
        AppState {
            inner: Arc::new(Inner {
                content: ArcSwap::from_pointee(Snapshot::new(engine)),
                failure: Mutex::new(None),
                reloading: Mutex::new(()),
                config,
                metrics: Metrics::new(),
                limiter,
                draining: AtomicBool::new(false),
                store,
                chatwoot,
                outbox,
            }),
        }
    }

    /// The escalation outbox, when a `[webhook]` is configured. [`serve`] sends it in the
    /// background; call [`Outbox::deliver_due`] to send it by hand.
    pub fn outbox(&self) -> Option<Arc<Outbox>> {
        self.inner.outbox.clone()
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The content being served now. A caller keeps this snapshot for as long as it holds
    /// it, whatever reloads happen meanwhile.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.content.load_full()
    }

    /// Why the last reload failed, while no later reload has succeeded.
    pub fn reload_failure(&self) -> Option<ReloadFailure> {
        lock(&self.inner.failure).clone()
    }

    /// Loads the content again and swaps it in. On error the current snapshot keeps
    /// serving, the problems are logged (`path:line:col: error: …`) and kept for `/readyz`
    /// and `/metrics`. Blocking: it reads files and builds an index.
    pub fn reload(&self) -> Result<Arc<Snapshot>, crate::Error> {
        let _one_at_a_time = lock(&self.inner.reloading);
        let old = self.snapshot();
        let started = Instant::now();
        let version = content_version(old.engine.data_dir());
        match old.engine.reload() {
            Ok(engine) => {
                let snapshot = Arc::new(Snapshot {
                    engine,
                    version,
                    generation: old.generation + 1,
                    loaded_at: SystemTime::now(),
                });
                self.inner.content.store(Arc::clone(&snapshot));
                let recovered = lock(&self.inner.failure).take().is_some();
                self.inner.metrics.reload_succeeded();
                tracing::info!(
                    version = %snapshot.version,
                    generation = snapshot.generation,
                    topics = snapshot.engine.knowledge().topics().len(),
                    ms = started.elapsed().as_millis() as u64,
                    recovered,
                    "content reloaded"
                );
                Ok(snapshot)
            }
            Err(e) => {
                let diagnostics: Vec<String> =
                    e.diagnostics().iter().map(ToString::to_string).collect();
                for d in &diagnostics {
                    tracing::error!("{d}");
                }
                let message = e.to_string().lines().next().unwrap_or_default().to_string();
                tracing::warn!(
                    error = %message,
                    serving = %old.version,
                    "reload failed; the last good content keeps serving"
                );
                *lock(&self.inner.failure) = Some(ReloadFailure {
                    at: reload::rfc3339(SystemTime::now()),
                    message,
                    diagnostics,
                    serving_version: old.version.clone(),
                });
                self.inner.metrics.reload_failed();
                Err(e)
            }
        }
    }

    /// Marks the server as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }
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

    fn internal() -> ApiError {
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

/// The router with every endpoint, for [`serve`] or for tests (`app(state).oneshot(request)`).
pub fn app(state: AppState) -> Router {
    let body_limit = state.config().body_limit;
    let v1 = Router::new()
        .route("/v1/respond", post(respond))
        .route("/v1/admin/reload", post(admin_reload))
        .route("/v1/sessions/{id}/handback", post(handback))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    // Chatwoot is one client that signs its deliveries: a per-client limit would only drop
    // customers' messages.
    let hooks = Router::new().route("/v1/webhooks/chatwoot", post(chatwoot_webhook));
    Router::new()
        .route("/", get(preview_html))
        .route("/preview.css", get(preview_css))
        .route("/preview.js", get(preview_js))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(v1)
        .merge(hooks)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Connections carry their peer address (for the rate limit).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = state.inner.limiter.is_some().then(|| {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(l) = &state.inner.limiter {
                    l.forget_idle();
                }
            }
        })
    });
    let sender = state.outbox().map(|outbox| tokio::spawn(outbox.run()));
    let draining = state.clone();
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        draining.start_draining();
        tracing::info!("shutting down: finishing the requests in flight");
    })
    .await;
    if let Some(s) = sweeper {
        s.abort();
    }
    if let Some(s) = sender {
        s.abort();
    }
    result
}

/// Why `sahaya serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The settings are wrong.
    #[error("reading the settings")]
    Config(#[from] ConfigError),
    /// The content does not load.
    #[error("loading the content")]
    Content(#[from] crate::Error),
    /// The state database does not open.
    #[error("opening the state database {}", path.display())]
    State {
        /// The database file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: crate::Error,
    },
    /// Binding the address or serving failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// `sahaya serve`: reads the settings (`config`, or `data_dir/sahaya.toml`, and `SAHAYA_*`
/// variables; `addr` overrides them), loads the content, watches it and serves until
/// SIGINT or SIGTERM. Logs go to standard error; `RUST_LOG` sets the level (default `info`).
pub fn run(
    data_dir: &std::path::Path,
    addr: Option<String>,
    config: Option<&std::path::Path>,
) -> Result<(), ServeError> {
    let mut settings = Settings::load(config, data_dir)?;
    if let Some(addr) = addr {
        settings.server.addr = addr;
    }
    init_logging();
    let engine = Engine::load_with(data_dir, settings.engine.clone())?;
    let integrations = if settings.chatwoot.is_some() || settings.webhook.is_some() {
        let path = settings.state_database(data_dir)?;
        let store = crate::store::SqliteStore::open(&path)
            .map_err(|source| ServeError::State { path, source })?;
        if settings
            .webhook
            .as_ref()
            .is_some_and(|w| w.secret.is_none())
        {
            tracing::warn!("[webhook] has no secret: escalations are sent unsigned");
        }
        if settings
            .chatwoot
            .as_ref()
            .is_some_and(|c| c.secret.is_none())
        {
            tracing::warn!(
                "[chatwoot] has no secret: any client may post to /v1/webhooks/chatwoot"
            );
        }
        Some(Integrations {
            store: Arc::new(store),
            chatwoot: settings.chatwoot.clone(),
            webhook: settings.webhook.clone(),
        })
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            what: "starting the async runtime".into(),
            source,
        })?;
    let server = settings.server;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&server.addr)
            .await
            .map_err(|source| ServeError::Io {
                what: format!("listening on {}", server.addr),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| ServeError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        let watch_debounce = Duration::from_millis(server.watch_debounce_ms);
        let state = AppState::build(engine, server, integrations);
        let _watcher = if state.config().watch {
            match watch(state.clone(), watch_debounce) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the content; reload with POST /v1/admin/reload");
                    None
                }
            }
        } else {
            None
        };
        let snapshot = state.snapshot();
        tracing::info!(
            version = %snapshot.version,
            topics = snapshot.engine.knowledge().topics().len(),
            admin = state.config().admin_token.is_some(),
            rate_limit = state.config().rate_limit.is_some(),
            chatwoot = state.inner.chatwoot.is_some(),
            webhook = state.inner.outbox.is_some(),
            "sahaya listening on http://{local}"
        );
        drop(snapshot);
        serve(listener, state, shutdown_signal())
            .await
            .map_err(|source| ServeError::Io {
                what: "serving".into(),
                source,
            })?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}

// ---- middleware ----

/// Counts and times every request; logs it at debug level (never the body).
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let endpoint = Metrics::endpoint(req.extensions().get::<MatchedPath>().map(|m| m.as_str()));
    let method = req.method().clone();
    let resp = next.run(req).await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    state.inner.metrics.observe_request(endpoint, status, took);
    tracing::debug!(%method, endpoint, status, micros = took.as_micros() as u64, "request");
    resp
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.config().request_timeout_secs);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            code::TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &state.inner.limiter {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = limiter.client(req.headers(), peer);
        if let Err(wait) = limiter.check(client) {
            state.inner.metrics.rate_limited();
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                format!("too many requests from this client; retry in {secs} s"),
            );
            err.retry_after = Some(secs);
            return err.into_response();
        }
    }
    next.run(req).await
}

// ---- handlers ----

async fn respond(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Reply>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|e| body_error(&state, e))?;
    let mut msg = parse_message(&body)?;

    let max_text = state.config().max_text_bytes.min(crate::MAX_TEXT_BYTES);
    if msg.text.len() > max_text {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::TEXT_TOO_LONG,
            format!("text is {} bytes; the limit is {max_text}", msg.text.len()),
        ));
    }
    let normalized = crate::text::normalize(&msg.text);
    if normalized.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::EMPTY_TEXT,
            "text is empty",
        ));
    }
    match msg.lang.as_deref() {
        Some(tag) => {
            if let Err(e) = tag.parse::<Lang>() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code::UNKNOWN_LANGUAGE,
                    user_message(&e),
                ));
            }
        }
        None => msg.lang = header_language(&headers, &normalized),
    }

    let snapshot = state.snapshot();
    // A conversation already with a person gets a "please wait" escalation on each message;
    // only the handoff itself goes to the webhook.
    let with_person = state.inner.outbox.is_some()
        && msg
            .session_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .is_some_and(|id| snapshot.engine.sessions().get(id).escalated.is_some());
    match snapshot.engine.try_respond(&msg) {
        Ok(reply) => {
            state.inner.metrics.observe_reply(&reply);
            if !with_person {
                chatwoot::queue_escalation(&state, "api", &msg, &reply);
            }
            tracing::debug!(
                decision = metrics::decision_str(reply.decision),
                lang = reply.lang.code(),
                answer_id = reply.answer_id.as_deref().unwrap_or("-"),
                confidence = reply.confidence,
                "reply"
            );
            tracing::trace!(text = %msg.text, "message");
            Ok(Json(reply))
        }
        Err(e) if e.is_user_error() => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::BAD_REQUEST,
            user_message(&e),
        )),
        Err(e) => {
            tracing::error!(error = %e, "respond failed");
            Err(ApiError::internal())
        }
    }
}

async fn chatwoot_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|e| body_error(&state, e))?;
    chatwoot::handle(&state, &headers, &body).await
}

fn body_error(state: &AppState, e: BytesRejection) -> ApiError {
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
fn header_language(headers: &HeaderMap, normalized: &str) -> Option<String> {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())?;
    let script = crate::detect::detect(normalized).script;
    if matches!(script, Some(Script::Telugu | Script::Greek)) {
        return None;
    }
    crate::locale::negotiate(accept).map(|l| l.code().to_string())
}

/// Accepts `application/json` (and `+json` types) or no content type at all.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
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
fn parse_message(body: &[u8]) -> Result<Message, ApiError> {
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
    let msg: Message = serde_path_to_error::deserialize(&mut de).map_err(|e| {
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

/// A user error's message without the kind prefix.
fn user_message(e: &crate::Error) -> String {
    match e.kind() {
        ErrorKind::BadRequest(m) => m.clone(),
        _ => e.to_string(),
    }
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.draining.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        )
            .into_response();
    }
    let snapshot = state.snapshot();
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

async fn metrics_text(State(state): State<AppState>) -> Response {
    let snapshot = state.snapshot();
    let loaded_at_secs = snapshot
        .loaded_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let body = state.inner.metrics.render(&ContentGauges {
        version: &snapshot.version,
        generation: snapshot.generation,
        loaded_at_secs,
        topics: snapshot.engine.knowledge().topics().len(),
        reload_failed: state.reload_failure().is_some(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn openapi() -> Response {
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

async fn preview_html() -> Response {
    page("text/html; charset=utf-8", PREVIEW_HTML)
}

async fn preview_css() -> Response {
    page("text/css; charset=utf-8", PREVIEW_CSS)
}

async fn preview_js() -> Response {
    page("text/javascript; charset=utf-8", PREVIEW_JS)
}

/// Admin endpoints need `Authorization: Bearer <admin_token>`; without a configured token
/// they do not exist.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.config().admin_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::ADMIN_DISABLED,
            "admin endpoints are disabled: set SAHAYA_ADMIN_TOKEN or server.admin_token",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "wrong admin token",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "send the admin token as Authorization: Bearer <token>",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn admin_reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
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
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::CONTENT_ERROR,
                format!(
                    "{}; the last good content keeps serving",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            );
            err.diagnostics = e.diagnostics().iter().map(ToString::to_string).collect();
            Err(err)
        }
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::RELOAD_FAILED,
            format!("{e}; the last good content keeps serving"),
        )),
    }
}

async fn handback(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let Path(id) = id.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_SESSION_ID,
            e.body_text(),
        )
    })?;
    if id.is_empty() || id.len() > MAX_SESSION_ID_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_SESSION_ID,
            format!("a session id has 1 to {MAX_SESSION_ID_BYTES} bytes"),
        ));
    }
    let handed_back = state.snapshot().engine.hand_back(&id);
    Ok(Json(
        json!({ "session_id": id, "handed_back": handed_back }),
    ))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::NOT_FOUND,
        "no such endpoint; see /openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; see /openapi.json",
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(require_json(&h).is_ok());
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
        assert!(e.message.starts_with("customer.tier: "), "{}", e.message);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
