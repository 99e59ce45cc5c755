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
//! Conversations of each channel live in a key space of their own
//! ([`crate::session::scoped_key`]): a `/v1/respond` `session_id` is kept as
//! `api:<session_id>`, a Chatwoot conversation as `chatwoot:<account>:<conversation>`, so
//! a public API caller cannot read or change a help-desk conversation.
//!
//! The limits that keep abusive clients from hurting others (see SECURITY.md): a header
//! read timeout that also closes idle connections, a cap on open connections, request and
//! write timeouts, body and text size limits, 128-byte session ids, a fixed limit on failed
//! authentications, and the engine run on blocking threads so that `/healthz` stays fast.
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
mod connection;
mod limit;
mod metrics;
mod reload;
pub mod signature;
pub mod webhook;

pub use config::{
    ChatwootConfig, ConfigError, RateLimitConfig, ServerConfig, Settings, WebhookConfig,
    CONFIG_FILE, MAX_CONNECTIONS,
};
pub use limit::AUTH_FAILURES_PER_MINUTE;
pub use metrics::{ENDPOINTS, OTHER_ENDPOINT};
pub use reload::{content_version, watch, ReloadFailure, Snapshot, Watcher, CONTENT_DIRS};
pub use webhook::{DeliveryReport, Outbox};

use crate::text::Script;
use crate::{Engine, Message, Reply};
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Request, State,
};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use limit::{AuthFailures, Guard, Limiter};
use metrics::{ContentGauges, Metrics};
use serde_json::{json, Value};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
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

/// The key space of `/v1/respond` conversations (see [`crate::session::scoped_key`]).
pub const API_SCOPE: &str = "api";

/// The key space of Chatwoot conversations: `chatwoot:<account>:<conversation>`.
pub const CHATWOOT_SCOPE: &str = "chatwoot";

/// How often a running server forgets expired conversations, idle rate-limit entries and
/// runs the [`Integrations::maintenance`] hook.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

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
    /// No `[chatwoot]` settings: the Chatwoot endpoint is off.
    pub const CHATWOOT_DISABLED: &str = "chatwoot_disabled";
    /// A webhook delivery's signature is missing, stale or wrong, or the delivery is unsigned
    /// and unsigned deliveries are not allowed.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// Chatwoot's API could not be reached or refused the call.
    pub const CHATWOOT_FAILED: &str = "chatwoot_failed";
}

/// Blocking work a running server does every [`MAINTENANCE_INTERVAL`], given the time in
/// Unix seconds: pruning old rows of the state database, for one.
pub type MaintenanceHook = Arc<dyn Fn(i64) -> Result<(), crate::Error> + Send + Sync>;

/// The help-desk integrations of a server, all kept in one state database.
#[derive(Clone)]
pub struct Integrations {
    /// Delivered Chatwoot events and the escalation outbox.
    pub store: Arc<dyn crate::store::Store>,
    /// The Chatwoot agent bot; none disables its endpoint.
    pub chatwoot: Option<ChatwootConfig>,
    /// The outgoing escalation webhook; none queues nothing.
    pub webhook: Option<WebhookConfig>,
    /// Run on a blocking thread by [`AppState::maintain`]; a failure is logged.
    pub maintenance: Option<MaintenanceHook>,
}

impl Integrations {
    /// No integration yet, state in `store`.
    pub fn new(store: Arc<dyn crate::store::Store>) -> Integrations {
        Integrations {
            store,
            chatwoot: None,
            webhook: None,
            maintenance: None,
        }
    }
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("chatwoot", &self.chatwoot)
            .field("webhook", &self.webhook)
            .field("maintenance", &self.maintenance.is_some())
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
    /// The header that names the client behind a trusted proxy.
    client_header: Option<HeaderName>,
    auth_failures: AuthFailures,
    draining: AtomicBool,
    store: Option<Arc<dyn crate::store::Store>>,
    chatwoot: Option<chatwoot::Client>,
    outbox: Option<Arc<Outbox>>,
    maintenance: Option<MaintenanceHook>,
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
        let client_header = config
            .rate_limit
            .as_ref()
            .and_then(|rl| rl.trust_forwarded_header.as_deref())
            .and_then(|h| HeaderName::try_from(h).ok());
        let (store, chatwoot, outbox, maintenance) = match integrations {
            Some(i) => {
                let outbox = i
                    .webhook
                    .map(|w| Arc::new(Outbox::new(Arc::clone(&i.store), w)));
                (
                    Some(i.store),
                    i.chatwoot.map(chatwoot::Client::new),
                    outbox,
                    i.maintenance,
                )
            }
            None => (None, None, None, None),
        };
        AppState {
            inner: Arc::new(Inner {
                content: ArcSwap::from_pointee(Snapshot::new(engine)),
                failure: Mutex::new(None),
                reloading: Mutex::new(()),
                config,
                metrics: Metrics::new(),
                limiter,
                client_header,
                auth_failures: AuthFailures::default(),
                draining: AtomicBool::new(false),
                store,
                chatwoot,
                outbox,
                maintenance,
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

    /// One pass of the housekeeping [`serve`] does every [`MAINTENANCE_INTERVAL`]: forgets
    /// expired conversations and idle rate-limit entries, then runs the
    /// [`Integrations::maintenance`] hook on a blocking thread. Returns how many
    /// conversations were forgotten.
    pub async fn maintain(&self) -> usize {
        let purged = self.snapshot().engine.sessions().purge_expired();
        if let Some(l) = &self.inner.limiter {
            l.forget_idle();
        }
        self.inner.auth_failures.forget_idle();
        if let Some(hook) = self.inner.maintenance.clone() {
            let now = webhook::unix_now();
            match tokio::task::spawn_blocking(move || hook(now)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "maintenance of the state database"),
                Err(e) => tracing::error!(error = %e, "maintenance task failed"),
            }
        }
        if purged > 0 {
            tracing::debug!(purged, "expired conversations forgotten");
        }
        purged
    }

    /// The client a request comes from: the trusted proxy header's address when the rate
    /// limit names one, else the peer address.
    fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> IpAddr {
        limit::client_ip(self.inner.client_header.as_ref(), headers, peer)
    }

    /// `Err(429)` while `client` has used up its failed authentications for `guard`.
    fn check_auth_failures(&self, guard: Guard, client: IpAddr) -> Result<(), ApiError> {
        self.inner
            .auth_failures
            .check(guard, client)
            .map_err(|wait| {
                let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code::RATE_LIMITED,
                    format!(
                        "more than {AUTH_FAILURES_PER_MINUTE} failed authentications from this \
                         client in a minute; retry in {secs} s"
                    ),
                );
                err.retry_after = Some(secs);
                err
            })
    }

    fn auth_failed(&self, guard: Guard, client: IpAddr) {
        tracing::warn!(%client, ?guard, "authentication failed");
        self.inner.auth_failures.failed(guard, client);
    }
}

/// The peer address of the connection, when there is one (not in `oneshot` tests).
struct Peer(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
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

    /// The answer to a request the engine refuses: each kind of problem has its code.
    fn bad_request(e: &crate::RequestError) -> ApiError {
        use crate::RequestError as R;
        let (status, code) = match e {
            R::EmptyText => (StatusCode::UNPROCESSABLE_ENTITY, code::EMPTY_TEXT),
            R::TextTooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, code::TEXT_TOO_LONG),
            R::UnknownLanguage(_) => (StatusCode::UNPROCESSABLE_ENTITY, code::UNKNOWN_LANGUAGE),
            R::SessionId(_) => (StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_SESSION_ID),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, code::BAD_REQUEST),
        };
        ApiError::new(status, code, e.to_string())
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
/// flight. Connections carry their peer address (for the rate limits) and are subject to
/// the header read timeout, the write stall timeout and the connection limit of the
/// settings. Expired conversations are forgotten every [`MAINTENANCE_INTERVAL`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                state.maintain().await;
            }
        })
    };
    let sender = state.outbox().map(|outbox| tokio::spawn(outbox.run()));
    let config = state.config();
    let limits = connection::Limits {
        max_connections: config.max_connections.clamp(1, MAX_CONNECTIONS),
        header_read: Duration::from_secs(config.header_read_timeout_secs.max(1)),
        write_stall: Duration::from_secs(config.request_timeout_secs.max(1)),
        // Requests in flight end within the request timeout (408 at the latest).
        drain: Duration::from_secs(config.request_timeout_secs.max(1) + 1),
    };
    let draining = state.clone();
    connection::accept_loop(listener, app(state), limits, async move {
        shutdown.await;
        draining.start_draining();
        tracing::info!("shutting down: finishing the requests in flight");
    })
    .await;
    housekeeper.abort();
    if let Some(s) = sender {
        s.abort();
    }
    Ok(())
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
            .is_some_and(|c| c.secret.is_none() && c.allow_unsigned)
        {
            tracing::warn!(
                "[chatwoot] allow_unsigned = true: deliveries to /v1/webhooks/chatwoot are not \
                 checked, and anyone who can reach that endpoint can make the bot post into, \
                 and open, any conversation; set the agent bot's secret instead unless only \
                 Chatwoot can reach this server"
            );
        }
        let store = Arc::new(store);
        // Old rows go every maintenance pass; the auto-reply memory of `sahaya mail`, which
        // shares the database, is kept at least as long as its interval.
        let mut retention = crate::store::Retention::default();
        retention.auto_reply_secs = retention
            .auto_reply_secs
            .max(i64::from(settings.mail_config()?.interval_days) * 86_400);
        let pruned = Arc::clone(&store);
        let maintenance: MaintenanceHook = Arc::new(move |now| {
            use crate::store::Store;
            let done = pruned.prune(now, &retention)?;
            if done.total() > 0 {
                tracing::info!(
                    outbox = done.outbox,
                    delivery_keys = done.delivery_keys,
                    auto_replies = done.auto_replies,
                    "pruned old rows of the state database"
                );
            }
            Ok(())
        });
        Some(Integrations {
            store,
            chatwoot: settings.chatwoot.clone(),
            webhook: settings.webhook.clone(),
            maintenance: Some(maintenance),
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
            max_connections = state.config().max_connections,
            header_read_timeout_secs = state.config().header_read_timeout_secs,
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

    let max_text = state.config().max_text_bytes.min(crate::MAX_TEXT_BYTES);
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
    let with_person = state.inner.outbox.is_some()
        && msg
            .session_id
            .as_deref()
            .is_some_and(|key| snapshot.engine.sessions().get(key).escalated.is_some());
    let request = msg.validate().map_err(|e| match e.request_error() {
        Some(r) => ApiError::bad_request(r),
        None => ApiError::internal(),
    })?;
    let mut reply = snapshot.engine.respond_to(&request);
    reply.session_id.clone_from(&given_session);
    msg.session_id = given_session;
    state.inner.metrics.observe_reply(&reply);
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

async fn chatwoot_webhook(
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

/// Accepts `application/json` and `+json` types only. A browser sends those across sites
/// only after a CORS preflight, which Sahaya never grants: an HTML form on another site
/// cannot post to the API.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
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
/// they do not exist. A client with [`AUTH_FAILURES_PER_MINUTE`] failures this minute gets
/// 429 whatever it sends.
fn authorize(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), ApiError> {
    let Some(token) = state.config().admin_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::ADMIN_DISABLED,
            "admin endpoints are disabled: set SAHAYA_ADMIN_TOKEN or server.admin_token",
        ));
    };
    let client = state.client(headers, peer);
    state.check_auth_failures(Guard::Admin, client)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let refusal = match given {
        Some(g) if tokens_match(g, token) => return Ok(()),
        Some(_) => "wrong admin token",
        None => "send the admin token as Authorization: Bearer <token>",
    };
    state.auth_failed(Guard::Admin, client);
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        code::UNAUTHORIZED,
        refusal,
    ))
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

async fn admin_reload(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
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

/// Hands back a `/v1/respond` conversation (its id as the API caller gave it). Chatwoot
/// conversations go back to the bot when an agent sets them to pending in Chatwoot.
async fn handback(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
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
    let handed_back = state.snapshot().engine.hand_back(&key);
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
        assert!(e.message.starts_with("customer.tier: "), "{}", e.message);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
        assert!(!tokens_match("", "abc"));
        assert!(!tokens_match("abc", ""));
    }
}
