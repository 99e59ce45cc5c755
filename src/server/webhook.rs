//! The outgoing escalation webhook: every conversation handed to a person is queued in the
//! durable outbox of the state database and sent as JSON to `[webhook] url`, so any help
//! desk can pick up handoffs.
//!
//! Delivery is at least once: a row leaves the queue only after a 2xx answer, and the
//! `X-Sahaya-Delivery` header (the row id) lets a receiver drop repeats. Replicas sharing
//! the state database share the outbox: each row is claimed by one sender at a time (for
//! twice the timeout plus 10 s), and a row whose sender died mid-delivery is sent again
//! when that lease ends. A failed attempt is
//! retried after 10 s × 2^(attempts before it), at most an hour apart; after
//! `max_attempts` the row is marked given up and kept, with its last error.
//!
//! Headers of each `POST`:
//!
//! | header | value |
//! | --- | --- |
//! | `Content-Type` | `application/json` |
//! | `X-Sahaya-Event` | `escalation` |
//! | `X-Sahaya-Delivery` | the outbox row id, the same on every retry |
//! | `X-Sahaya-Timestamp` | Unix seconds when this attempt was signed (with a secret) |
//! | `X-Sahaya-Signature` | `sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with the secret |

use super::config::WebhookConfig;
use super::metrics::OutboxMetrics;
use super::signature;
use super::tls;
use crate::model::{Customer, Message, Reply};
use crate::store::{Enqueued, OutboxItem, Store};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Delay before the first retry, in seconds; it doubles with each failed attempt.
pub const FIRST_RETRY_SECS: i64 = 10;
/// Longest delay between two attempts, in seconds.
pub const MAX_RETRY_SECS: i64 = 3600;
/// Rows sent per pass of [`Outbox::deliver_due`].
const BATCH: usize = 50;

/// The JSON body of an escalation.
#[derive(Debug, Serialize)]
struct Escalation<'a> {
    event: &'static str,
    /// Where it came from: `api` (`POST /v1/respond`) or `chatwoot`.
    source: &'a str,
    session_id: Option<&'a str>,
    rule: &'a str,
    queue: &'a str,
    priority: &'a str,
    lang: &'a str,
    /// What the customer wrote.
    text: &'a str,
    /// What the bot answered (it tells the customer a person will take over).
    reply: &'a str,
    customer: Option<&'a Customer>,
    at: String,
}

/// The body queued for an escalated `reply` to `msg`, or `None` when the reply does not
/// escalate. `source` names the channel (`api`, `chatwoot`).
pub fn escalation_payload(source: &str, msg: &Message, reply: &Reply) -> Option<String> {
    let esc = reply.escalation.as_ref()?;
    let event = Escalation {
        event: "escalation",
        source,
        session_id: reply.session_id.as_deref().or(msg.session_id.as_deref()),
        rule: &esc.rule,
        queue: &esc.queue,
        priority: esc.priority.as_str(),
        lang: reply.lang.code(),
        text: &msg.text,
        reply: &reply.text,
        customer: msg.customer.as_ref(),
        at: super::reload::rfc3339(SystemTime::now()),
    };
    serde_json::to_string(&event).ok()
}

/// When to try again after `attempts` failed attempts (the one that just failed included).
pub fn retry_delay(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    (FIRST_RETRY_SECS << doublings).min(MAX_RETRY_SECS)
}

/// What one pass of [`Outbox::deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Rows accepted by the receiver.
    pub delivered: usize,
    /// Rows that failed and wait for a retry.
    pub retrying: usize,
    /// Rows that failed for the last time.
    pub gave_up: usize,
}

/// The escalation queue and its sender. Cheap to share (`Arc`).
pub struct Outbox {
    store: Arc<dyn Store>,
    config: WebhookConfig,
    /// Why there is none: `webhook.ca_file` could not be used (every attempt fails with it).
    agent: Result<ureq::Agent, String>,
    wake: tokio::sync::Notify,
    metrics: OutboxMetrics,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("config", &self.config)
            .finish()
    }
}

impl Outbox {
    /// An outbox in `store` that sends to `config.url`.
    ///
    /// A `ca_file` that cannot be used (which [`Settings::validate`] reports at start) is
    /// logged, and every delivery attempt fails with the reason, kept as the row's last
    /// error: escalations are never sent with other trust anchors than configured.
    ///
    /// [`Settings::validate`]: super::Settings::validate
    pub fn new(store: Arc<dyn Store>, config: WebhookConfig) -> Outbox {
        Outbox::with_metrics(store, config, OutboxMetrics::default())
    }

    /// [`Outbox::new`] counting into `metrics` (those of the server's `/metrics`).
    pub(super) fn with_metrics(
        store: Arc<dyn Store>,
        config: WebhookConfig,
        metrics: OutboxMetrics,
    ) -> Outbox {
        let agent = http_agent(
            config.timeout_secs,
            config.ca_file.as_deref(),
            "webhook.ca_file",
        );
        if let Err(error) = &agent {
            tracing::error!(%error, "escalations cannot be delivered");
        }
        Outbox {
            agent,
            store,
            config,
            wake: tokio::sync::Notify::new(),
            metrics,
        }
    }

    /// The settings.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Queues a body for `conversation` (see [`Store::enqueue`]); the background sender is
    /// woken to send it at once.
    pub fn enqueue(
        &self,
        conversation: &str,
        payload: &str,
        now: i64,
    ) -> Result<Enqueued, crate::error::Error> {
        let queued = self.store.enqueue(conversation, payload, now)?;
        self.metrics.enqueue(queued);
        if let Enqueued::Queued(_) = queued {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// Sends every row due at `now` (Unix seconds), oldest first, and records the outcome
    /// of each. Blocking: run it off the async threads.
    pub fn deliver_due(&self, now: i64) -> Result<DeliveryReport, crate::error::Error> {
        let mut report = DeliveryReport::default();
        // One row at a time, each leased for longer than its attempt can take, so that
        // replicas sharing the outbox never send one row twice at once.
        let lease = 2 * i64::try_from(self.config.timeout_secs).unwrap_or(3600) + 10;
        for _ in 0..BATCH {
            let Some(item) = self.store.due(now, 1, lease)?.pop() else {
                break;
            };
            match self.send(&item) {
                Ok(()) => {
                    self.store.delivered(item.id)?;
                    report.delivered += 1;
                    self.metrics.delivered();
                    tracing::info!(
                        id = item.id,
                        attempts = item.attempts + 1,
                        "escalation delivered"
                    );
                }
                Err(error) => {
                    let attempts = item.attempts + 1;
                    if attempts >= self.config.max_attempts {
                        self.store.gave_up(item.id, now, &error)?;
                        report.gave_up += 1;
                        self.metrics.gave_up();
                        tracing::error!(
                            id = item.id,
                            attempts,
                            %error,
                            "escalation webhook failed for the last time; the row stays in the outbox"
                        );
                    } else {
                        let retry_in = retry_delay(attempts);
                        self.store.failed(item.id, now + retry_in, &error)?;
                        report.retrying += 1;
                        self.metrics.retried();
                        tracing::warn!(id = item.id, attempts, retry_in, %error, "escalation webhook failed");
                    }
                }
            }
        }
        Ok(report)
    }

    /// Rows waiting for delivery (see [`Store::pending`]). Blocking.
    pub fn pending(&self) -> Result<u64, crate::error::Error> {
        self.store.pending()
    }

    /// Reads [`Outbox::pending`] into the `sahaya_outbox_pending` gauge. Blocking.
    pub(super) fn refresh_pending(&self) -> Result<u64, crate::error::Error> {
        let rows = self.pending()?;
        self.metrics.set_pending(rows);
        Ok(rows)
    }

    fn send(&self, item: &OutboxItem) -> Result<(), String> {
        let agent = self.agent.as_ref().map_err(Clone::clone)?;
        let mut req = agent
            .post(&self.config.url)
            .set("Content-Type", "application/json")
            .set("X-Sahaya-Event", "escalation")
            .set("X-Sahaya-Delivery", &item.id.to_string());
        if let Some(secret) = &self.config.secret {
            let ts = unix_now().to_string();
            let sig = signature::sign(secret, &ts, item.payload.as_bytes());
            req = req
                .set("X-Sahaya-Timestamp", &ts)
                .set("X-Sahaya-Signature", &sig);
        }
        match req.send_string(&item.payload) {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(format!("HTTP {}", resp.status())),
            Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
            Err(ureq::Error::Transport(t)) => Err(t.to_string()),
        }
    }

    /// Sends due rows now and then until the task is dropped: every few seconds, and at once
    /// when something is queued.
    pub(super) async fn run(self: Arc<Self>) {
        const TICK: Duration = Duration::from_secs(5);
        loop {
            let outbox = Arc::clone(&self);
            let pass = tokio::task::spawn_blocking(move || outbox.deliver_due(unix_now())).await;
            match pass {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "escalation outbox"),
                Err(e) => tracing::error!(error = %e, "escalation outbox task failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// The HTTP client of the calls Sahaya makes (the escalation webhook, Chatwoot's API):
/// `timeout_secs` for the whole call, no redirects (a receiver that moved must be
/// configured anew, not followed blindly), Sahaya's own user agent, and HTTPS trusting the
/// webpki roots plus the CAs of `ca_file`. The error names the setting (`setting`), the
/// file and why it cannot be used.
pub(super) fn http_agent(
    timeout_secs: u64,
    ca_file: Option<&Path>,
    setting: &str,
) -> Result<ureq::Agent, String> {
    let builder = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(timeout_secs))
        .redirects(0)
        .user_agent(concat!("sahaya/", env!("CARGO_PKG_VERSION")));
    let builder = match ca_file {
        Some(path) => builder.tls_config(
            tls::client_config(path)
                .map_err(|reason| tls::ca_file_error(setting, path, &reason))?,
        ),
        None => builder,
    };
    Ok(builder.build())
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_speaks_https() {
        // A server that closes every connection: the TLS handshake starts and fails, which
        // an agent built without TLS never gets to.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(1) {
                drop(conn);
            }
        });
        let err = http_agent(2, None, "webhook.ca_file")
            .unwrap()
            .get(&format!("https://127.0.0.1:{port}/"))
            .call()
            .unwrap_err();
        match err {
            ureq::Error::Transport(t) => {
                assert_ne!(t.kind(), ureq::ErrorKind::UnknownScheme, "{t}")
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(retry_delay(1), 10);
        assert_eq!(retry_delay(2), 20);
        assert_eq!(retry_delay(3), 40);
        assert_eq!(retry_delay(9), 2560);
        assert_eq!(retry_delay(10), 3600);
        assert_eq!(retry_delay(u32::MAX), 3600);
    }

    #[test]
    fn only_escalations_make_a_payload() {
        let engine = crate::engine::Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
        let msg = Message::new("Where is my parcel?");
        assert!(escalation_payload("api", &msg, &engine.respond(&msg)).is_none());
        let msg = Message::new("I will take you to court, I am calling my lawyer").session("s1");
        let reply = engine.respond(&msg);
        let body = escalation_payload("api", &msg, &reply).expect("escalates");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["event"], "escalation");
        assert_eq!(v["source"], "api");
        assert_eq!(v["session_id"], "s1");
        assert_eq!(v["rule"], "legal_threat");
        assert_eq!(v["queue"], "legal");
        assert_eq!(v["lang"], "en");
        assert_eq!(v["text"], msg.text.as_str());
        assert_eq!(v["customer"], serde_json::Value::Null);
        assert!(v["at"].as_str().unwrap().ends_with('Z'));
    }
}
