//! Putting it together: the router, the server loop and `sahaya serve`.

use super::config::{ConfigError, Settings, MAX_CONNECTIONS};
use super::connection;
use super::handlers::{
    admin_reload, chatwoot_webhook, handback, healthz, method_not_allowed, metrics_text, not_found,
    openapi, preview_css, preview_html, preview_js, readyz, respond,
};
use super::middleware::{authorize, rate_limit, timed_out, track};
use super::state::{AppState, Integrations, MaintenanceHook, MAINTENANCE_INTERVAL};
use super::watch::watch;
use crate::engine::Engine;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use axum::{BoxError, Router};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The router with every endpoint, for [`serve`] or for tests (`app(state).oneshot(request)`).
pub fn app(state: AppState) -> Router {
    let body_limit = state.config().body_limit;
    let request_timeout = Duration::from_secs(state.config().request_timeout_secs);
    let admin = Router::new()
        .route("/v1/admin/reload", post(admin_reload))
        .route("/v1/sessions/{id}/handback", post(handback))
        .route("/v1/admin/report", get(super::editors::report))
        .route("/v1/admin/content", get(super::editors::content))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    let v1 = Router::new()
        .route("/v1/respond", post(respond))
        .route("/v1/feedback", post(super::editors::feedback))
        .merge(admin)
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
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                    timed_out(request_timeout, &e)
                }))
                .layer(tower::timeout::TimeoutLayer::new(request_timeout)),
        )
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
    Content(#[from] crate::error::Error),
    /// The state database does not open.
    #[error("opening the state database")]
    State(#[source] crate::store::StateError),
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
    // The state database: conversations (unless kept in memory), the outbox, Chatwoot's
    // deliveries. A PostgreSQL database is contacted on first use: while it is down the
    // server runs but is not ready, and answers 503.
    let keep_sessions = settings.state.sessions == crate::store::SessionsIn::Database;
    let integrated =
        settings.chatwoot.is_some() || settings.webhook.is_some() || settings.log.enabled;
    let state = if keep_sessions || integrated {
        let path = settings.state_database(data_dir)?;
        let state = settings.state.open(&path).map_err(ServeError::State)?;
        tracing::info!(state = %state.description, sessions = ?settings.state.sessions, "state database");
        Some(state)
    } else {
        None
    };
    let engine = match state.as_ref().filter(|_| keep_sessions) {
        Some(state) => {
            let ttl = std::time::Duration::from_secs(settings.engine.session_ttl_secs);
            let sessions = Arc::new(crate::session::SessionStore::shared(
                ttl,
                settings.engine.max_sessions,
                Arc::clone(&state.sessions),
            ));
            Engine::load_with_sessions(data_dir, settings.engine.clone(), sessions)?
        }
        None => Engine::load_with(data_dir, settings.engine.clone())?,
    };
    let integrations = if let Some(state) = state {
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
        let store = state.store;
        // Old rows go every maintenance pass; the auto-reply memory of `sahaya mail`, which
        // shares the database, is kept at least as long as its interval.
        let mut retention = crate::store::Retention::default();
        retention.auto_reply_secs = retention
            .auto_reply_secs
            .max(i64::from(settings.mail_config()?.interval_days) * 86_400);
        let pruned = Arc::clone(&store);
        let log = settings.log;
        let maintenance: MaintenanceHook = Arc::new(move |now| {
            const DAY: i64 = 86_400;
            let (rows, texts) = pruned.prune_log(
                now - i64::from(log.retention_days) * DAY,
                now - i64::from(log.text_retention_days) * DAY,
            )?;
            if rows + texts > 0 {
                tracing::info!(rows, texts, "pruned the conversation log");
            }
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
            log: Some(settings.log),
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
            index = %snapshot.engine.index_status(),
            admin = state.config().admin_token.is_some(),
            rate_limit = state.config().rate_limit.is_some(),
            max_connections = state.config().max_connections,
            header_read_timeout_secs = state.config().header_read_timeout_secs,
            chatwoot = state.chatwoot().is_some(),
            webhook = state.outbox().is_some(),
            "sahaya listening on http://{local}"
        );
        drop(snapshot);
        serve(listener, state.clone(), shutdown_signal())
            .await
            .map_err(|source| ServeError::Io {
                what: "serving".into(),
                source,
            })?;
        // Replies still queued for the conversation log are written before the exit.
        let flushing = state.clone();
        let _ = tokio::task::spawn_blocking(move || flushing.flush_log(Duration::from_secs(5))).await;
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
