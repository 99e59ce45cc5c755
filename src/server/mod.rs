//! The HTTP API: `sahaya serve` (cargo feature `server`, on by default).
//!
//! | endpoint | what |
//! | --- | --- |
//! | `POST /v1/respond` | a [`Message`](crate::Message) as JSON in, the [`Reply`](crate::Reply) JSON out |
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
mod chatwoot_api;
mod config;
mod connection;
mod editors;
mod error;
mod extract;
mod handlers;
mod limit;
mod log;
mod metrics;
mod middleware;
mod overrides;
mod reload;
mod run;
pub mod signature;
mod state;
mod tls;
mod watch;
pub mod webhook;

pub use chatwoot::CHATWOOT_SCOPE;
pub use config::{
    ChatwootConfig, ConfigError, RateLimitConfig, ServerConfig, Settings, WebhookConfig,
    CONFIG_FILE, MAX_CONNECTIONS,
};
pub use error::{code, ApiError};
pub use handlers::{API_SCOPE, OPENAPI_JSON};
pub use limit::AUTH_FAILURES_PER_MINUTE;
pub use metrics::{ENDPOINTS, OTHER_ENDPOINT};
pub use reload::{content_version, ReloadFailure, Snapshot, CONTENT_DIRS};
pub use run::{app, run, serve, ServeError};
pub use state::{AppState, Integrations, MaintenanceHook, MAINTENANCE_INTERVAL};
pub use watch::{watch, Watcher};
pub use webhook::{DeliveryReport, Outbox};
