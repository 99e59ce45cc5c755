//! What every request handler shares: the content being served, the settings, the metrics,
//! the limits and the help-desk integrations; with reload, maintenance and draining.

use super::chatwoot_api;
use super::config::{ChatwootConfig, ServerConfig, WebhookConfig};
use super::error::ApiError;
use super::limit::{self, AuthFailures, Guard, Limiter, AUTH_FAILURES_PER_MINUTE};
use super::metrics::Metrics;
use super::reload::{self, content_version, ReloadFailure, Snapshot};
use super::webhook::{self, Outbox};
use crate::engine::Engine;
use crate::sync::lock;
use arc_swap::ArcSwap;
use axum::http::{HeaderMap, HeaderName};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often a running server forgets expired conversations, idle rate-limit entries and
/// runs the [`Integrations::maintenance`] hook.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Blocking work a running server does every [`MAINTENANCE_INTERVAL`], given the time in
/// Unix seconds: pruning old rows of the state database, for one.
pub type MaintenanceHook = Arc<dyn Fn(i64) -> Result<(), crate::error::Error> + Send + Sync>;

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
    /// The conversation log (`[log]`), written to `store`; none logs nothing.
    pub log: Option<crate::store::LogConfig>,
}

impl Integrations {
    /// No integration yet, state in `store`.
    pub fn new(store: Arc<dyn crate::store::Store>) -> Integrations {
        Integrations {
            store,
            chatwoot: None,
            webhook: None,
            maintenance: None,
            log: None,
        }
    }
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("chatwoot", &self.chatwoot)
            .field("webhook", &self.webhook)
            .field("maintenance", &self.maintenance.is_some())
            .field("log", &self.log)
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
    chatwoot: Option<chatwoot_api::Client>,
    outbox: Option<Arc<Outbox>>,
    maintenance: Option<MaintenanceHook>,
    log: Option<super::log::ConversationLog>,
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

    pub(super) fn build(
        engine: Engine,
        config: ServerConfig,
        integrations: Option<Integrations>,
    ) -> AppState {
        let limiter = config.rate_limit.as_ref().and_then(Limiter::new);
        let client_header = config
            .rate_limit
            .as_ref()
            .and_then(|rl| rl.trust_forwarded_header.as_deref())
            .and_then(|h| HeaderName::try_from(h).ok());
        let metrics = Metrics::new();
        let (store, chatwoot, outbox, maintenance, log) = match integrations {
            Some(i) => {
                let log = i.log.filter(|l| l.enabled).map(|config| {
                    super::log::ConversationLog::start(
                        Arc::clone(&i.store),
                        config,
                        metrics.log().clone(),
                    )
                });
                let outbox = i.webhook.map(|w| {
                    Arc::new(Outbox::with_metrics(
                        Arc::clone(&i.store),
                        w,
                        metrics.outbox().clone(),
                    ))
                });
                (
                    Some(i.store),
                    i.chatwoot.map(chatwoot_api::Client::new),
                    outbox,
                    i.maintenance,
                    log,
                )
            }
            None => (None, None, None, None, None),
        };
        AppState {
            inner: Arc::new(Inner {
                content: ArcSwap::from_pointee(Snapshot::new(engine)),
                failure: Mutex::new(None),
                reloading: Mutex::new(()),
                config,
                metrics,
                limiter,
                client_header,
                auth_failures: AuthFailures::default(),
                draining: AtomicBool::new(false),
                store,
                chatwoot,
                outbox,
                maintenance,
                log,
            }),
        }
    }

    /// The escalation outbox, when a `[webhook]` is configured. [`serve`](super::serve) sends it in the
    /// background; call [`Outbox::deliver_due`] to send it by hand.
    pub fn outbox(&self) -> Option<Arc<Outbox>> {
        self.inner.outbox.clone()
    }

    /// The conversation log, when `[log]` is on and there is a state database.
    pub(super) fn log(&self) -> Option<&super::log::ConversationLog> {
        self.inner.log.as_ref()
    }

    /// Waits (at most `timeout`) until every reply logged so far is in the state database:
    /// for tests and reports that read the log right after traffic.
    pub fn flush_log(&self, timeout: std::time::Duration) {
        if let Some(log) = &self.inner.log {
            log.flush(timeout);
        }
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
    pub fn reload(&self) -> Result<Arc<Snapshot>, crate::error::Error> {
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
                    index = %snapshot.engine.index_status(),
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

    /// True once [`AppState::start_draining`] was called.
    pub(super) fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The rate limit of the `/v1` endpoints, when one is configured.
    pub(super) fn limiter(&self) -> Option<&Limiter> {
        self.inner.limiter.as_ref()
    }

    /// The Chatwoot client, when `[chatwoot]` is configured.
    pub(super) fn chatwoot(&self) -> Option<&chatwoot_api::Client> {
        self.inner.chatwoot.as_ref()
    }

    /// The state database, when the server has integrations.
    pub(super) fn store(&self) -> Option<&Arc<dyn crate::store::Store>> {
        self.inner.store.as_ref()
    }

    /// One pass of the housekeeping [`serve`](super::serve) does every [`MAINTENANCE_INTERVAL`]: forgets
    /// expired conversations and idle rate-limit entries, then runs the
    /// [`Integrations::maintenance`] hook on a blocking thread. Returns how many
    /// conversations were forgotten.
    pub async fn maintain(&self) -> usize {
        // The session table and the limits' tables are walked under their locks, and the
        // hook writes to the state database: all of it off the async threads.
        let state = self.clone();
        let purged = match tokio::task::spawn_blocking(move || state.forget_idle()).await {
            Ok(purged) => purged,
            Err(e) => {
                tracing::error!(error = %e, "maintenance task failed");
                0
            }
        };
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

    /// Forgets expired conversations and idle rate-limit entries; how many conversations
    /// went. Blocking.
    fn forget_idle(&self) -> usize {
        let purged = match self.snapshot().engine.sessions().purge_expired() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "purging idle conversations");
                0
            }
        };
        if let Some(l) = &self.inner.limiter {
            l.forget_idle();
        }
        self.inner.auth_failures.forget_idle();
        purged
    }

    /// The client a request comes from: the trusted proxy header's address when the rate
    /// limit names one, else the peer address.
    pub(super) fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> IpAddr {
        limit::client_ip(self.inner.client_header.as_ref(), headers, peer)
    }

    /// `Err(429)` while `client` has used up its failed authentications for `guard`.
    pub(super) fn check_auth_failures(&self, guard: Guard, client: IpAddr) -> Result<(), ApiError> {
        self.inner
            .auth_failures
            .check(guard, client)
            .map_err(|wait| {
                ApiError::rate_limited(wait, |secs| {
                    format!(
                        "more than {AUTH_FAILURES_PER_MINUTE} failed authentications from this \
                         client in a minute; retry in {secs} s"
                    )
                })
            })
    }

    pub(super) fn auth_failed(&self, guard: Guard, client: IpAddr) {
        tracing::warn!(%client, ?guard, "authentication failed");
        self.inner.auth_failures.failed(guard, client);
    }
}
