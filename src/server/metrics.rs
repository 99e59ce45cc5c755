//! Prometheus metrics, kept in memory by `prometheus-client` and rendered in the Prometheus
//! text format (0.0.4) for `GET /metrics`.

use crate::model::{Decision, Reply};
use crate::store::Enqueued;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    prometheus_text, DescriptorEncoder, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of the rendered metrics.
pub(super) use prometheus_text::CONTENT_TYPE;

/// Every route of the server, as the `endpoint` label names it.
pub const ENDPOINTS: &[&str] = &[
    "/",
    "/preview.css",
    "/preview.js",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/respond",
    "/v1/feedback",
    "/v1/admin/reload",
    "/v1/admin/report",
    "/v1/admin/content",
    "/v1/sessions/{id}/handback",
    "/v1/webhooks/chatwoot",
];

/// The `endpoint` label of requests that match no route.
pub const OTHER_ENDPOINT: &str = "other";

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    lang: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LangLabel {
    lang: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

type Latency = Family<EndpointLabel, Histogram, fn() -> Histogram>;

/// The escalation outbox's counters and its gauge of rows waiting, shared by [`Metrics`]
/// (which renders them) and the [`Outbox`](super::Outbox) (which counts). Clones share
/// their values.
#[derive(Clone, Debug, Default)]
pub(super) struct OutboxMetrics {
    enqueued: Counter,
    rejected: Family<ReasonLabel, Counter>,
    delivered: Counter,
    retried: Counter,
    gave_up: Counter,
    pending: Gauge,
}

impl OutboxMetrics {
    /// Counts what [`Store::enqueue`](crate::store::Store::enqueue) did with an escalation.
    pub fn enqueue(&self, outcome: Enqueued) {
        let reason = match outcome {
            Enqueued::Queued(_) => {
                self.enqueued.inc();
                return;
            }
            Enqueued::ConversationFull => "conversation_full",
            Enqueued::QueueFull => "queue_full",
            Enqueued::TooLarge => "too_large",
        };
        self.rejected.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// An escalation accepted by the receiver.
    pub fn delivered(&self) {
        self.delivered.inc();
    }

    /// A failed attempt that will be tried again.
    pub fn retried(&self) {
        self.retried.inc();
    }

    /// A failed attempt after which the escalation is given up.
    pub fn gave_up(&self) {
        self.gave_up.inc();
    }

    /// Rows waiting for delivery now.
    pub fn set_pending(&self, rows: u64) {
        self.pending.set(i64::try_from(rows).unwrap_or(i64::MAX));
    }
}

/// The conversation log's counters. Clones share their values.
#[derive(Clone, Debug, Default)]
pub(super) struct LogMetrics {
    written: Counter,
    dropped: Counter,
}

impl LogMetrics {
    /// Entries written to the state database.
    pub fn written(&self, n: usize) {
        self.written.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// Entries dropped: the queue was full or the database failed.
    pub fn dropped(&self, n: usize) {
        self.dropped.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

/// What the content looks like now, for the gauges.
pub(super) struct ContentGauges<'a> {
    pub version: &'a str,
    pub generation: u64,
    pub loaded_at_secs: f64,
    pub topics: usize,
    pub reload_failed: bool,
}

/// The server's counters and histograms.
pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    decisions: Family<DecisionLabels, Counter>,
    fallbacks: Family<LangLabel, Counter>,
    escalations: Family<RuleLabel, Counter>,
    reloads: Counter,
    reload_failures: Counter,
    rate_limited: Counter,
    outbox: OutboxMetrics,
    log: LogMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = Family::default();
        let latency = Latency::new_with_constructor(|| Histogram::new(BUCKETS));
        let (decisions, fallbacks, escalations) = Default::default();
        let (reloads, reload_failures, rate_limited) = Default::default();
        // The registry holds clones, which share their counts with the fields. Counters are
        // named without `_total`: the encoder adds it.
        let mut registry = Registry::default();
        let r = &mut registry;
        list(
            r,
            "sahaya_http_requests",
            "HTTP requests by endpoint and status code.",
            &requests,
        );
        list(
            r,
            "sahaya_http_request_duration_seconds",
            "Time to answer HTTP requests, by endpoint.",
            &latency,
        );
        list(
            r,
            "sahaya_decisions",
            "Replies by language and decision (answer, clarify, fallback, escalate).",
            &decisions,
        );
        list(
            r,
            "sahaya_fallbacks",
            "Replies that found no answer, by language.",
            &fallbacks,
        );
        list(
            r,
            "sahaya_escalations",
            "Conversations handed to a person, by the rule that escalated.",
            &escalations,
        );
        list(
            r,
            "sahaya_reloads",
            "Content reloads that succeeded.",
            &reloads,
        );
        list(
            r,
            "sahaya_reload_failures",
            "Content reloads that failed (the last good content kept serving).",
            &reload_failures,
        );
        list(
            r,
            "sahaya_rate_limited",
            "Requests refused with 429 by the rate limit.",
            &rate_limited,
        );
        let outbox = OutboxMetrics::default();
        // Every reason is shown from the start, at 0, for alerts on its rate.
        for reason in ["conversation_full", "queue_full", "too_large"] {
            let _ = outbox.rejected.get_or_create(&ReasonLabel { reason });
        }
        list(
            r,
            "sahaya_outbox_enqueued",
            "Escalations queued for the webhook.",
            &outbox.enqueued,
        );
        list(
            r,
            "sahaya_outbox_rejected",
            "Escalations not queued, by reason (conversation_full, queue_full, too_large).",
            &outbox.rejected,
        );
        list(
            r,
            "sahaya_outbox_delivered",
            "Escalations the webhook receiver accepted.",
            &outbox.delivered,
        );
        list(
            r,
            "sahaya_outbox_retried",
            "Failed webhook deliveries that will be tried again.",
            &outbox.retried,
        );
        list(
            r,
            "sahaya_outbox_gave_up",
            "Escalations given up after their last failed delivery (kept in the outbox).",
            &outbox.gave_up,
        );
        list(
            r,
            "sahaya_outbox_pending",
            "Escalations waiting for delivery, read from the state database at each scrape.",
            &outbox.pending,
        );
        let log = LogMetrics::default();
        list(
            r,
            "sahaya_log_written",
            "Replies written to the conversation log.",
            &log.written,
        );
        list(
            r,
            "sahaya_log_dropped",
            "Replies not logged: the log queue was full or the state database failed.",
            &log.dropped,
        );
        Metrics {
            registry,
            requests,
            latency,
            decisions,
            fallbacks,
            escalations,
            reloads,
            reload_failures,
            rate_limited,
            outbox,
            log,
        }
    }

    /// The conversation log's metrics.
    pub fn log(&self) -> &LogMetrics {
        &self.log
    }

    /// The escalation outbox's metrics.
    pub fn outbox(&self) -> &OutboxMetrics {
        &self.outbox
    }

    /// The label of a matched route (`None`: no route matched).
    pub fn endpoint(matched: Option<&str>) -> &'static str {
        matched
            .and_then(|m| ENDPOINTS.iter().find(|e| **e == m).copied())
            .unwrap_or(OTHER_ENDPOINT)
    }

    pub fn observe_request(&self, endpoint: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, status })
            .inc();
        self.latency
            .get_or_create(&EndpointLabel { endpoint })
            .observe(took.as_secs_f64());
    }

    pub fn observe_reply(&self, reply: &Reply) {
        let lang = reply.lang.code();
        self.decisions
            .get_or_create(&DecisionLabels {
                lang,
                decision: reply.decision.as_str(),
            })
            .inc();
        if reply.decision == Decision::Fallback {
            self.fallbacks.get_or_create(&LangLabel { lang }).inc();
        }
        if let Some(e) = &reply.escalation {
            self.escalations
                .get_or_create(&RuleLabel {
                    rule: e.rule.clone(),
                })
                .inc();
        }
    }

    pub fn reload_succeeded(&self) {
        self.reloads.inc();
    }

    pub fn reload_failed(&self) {
        self.reload_failures.inc();
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, content: &ContentGauges<'_>) -> String {
        let mut out = String::with_capacity(8192);
        let written = prometheus_text::encode(&mut out, &self.registry)
            .and_then(|()| prometheus_text::encode(&mut out, &content_registry(content)));
        if let Err(e) = written {
            tracing::error!(error = %e, "rendering the metrics");
        }
        out
    }
}

/// The gauges of the content being served, read afresh for each rendering.
fn content_registry(content: &ContentGauges<'_>) -> Registry {
    let mut registry = Registry::default();
    let info = Family::<VersionLabel, Gauge>::default();
    info.get_or_create(&VersionLabel {
        version: content.version.to_string(),
    })
    .set(1);
    list(
        &mut registry,
        "sahaya_content_info",
        "The content being served; `version` is a hash of its files.",
        &info,
    );
    let int = |v: u64| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(v).unwrap_or(i64::MAX));
        g
    };
    list(
        &mut registry,
        "sahaya_content_generation",
        "Content snapshots loaded since start (1 = the first).",
        &int(content.generation),
    );
    let loaded_at = Gauge::<f64, AtomicU64>::default();
    loaded_at.set(content.loaded_at_secs);
    list(
        &mut registry,
        "sahaya_content_loaded_timestamp_seconds",
        "When the content being served was loaded, Unix time.",
        &loaded_at,
    );
    list(
        &mut registry,
        "sahaya_content_topics",
        "Knowledge topics in the content being served.",
        &int(content.topics as u64),
    );
    list(
        &mut registry,
        "sahaya_content_reload_failed",
        "1 while the last reload failed and older content is being served.",
        &int(u64::from(content.reload_failed)),
    );
    registry
}

/// Adds `metric` to `registry` so that its HELP and TYPE lines are written even before it
/// has a sample (`Registry::register` leaves out a family with no labels seen yet), with
/// `help` as given.
fn list<M>(registry: &mut Registry, name: &'static str, help: &'static str, metric: &M)
where
    M: EncodeMetric + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    registry.register_collector(Box::new(Listed {
        name,
        help,
        metric: metric.clone(),
    }));
}

#[derive(Debug)]
struct Listed<M> {
    name: &'static str,
    help: &'static str,
    metric: M,
}

impl<M> Collector for Listed<M>
where
    M: EncodeMetric + std::fmt::Debug + Send + Sync + 'static,
{
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let metric =
            encoder.encode_descriptor(self.name, self.help, None, self.metric.metric_type())?;
        self.metric.encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(m: &Metrics) -> String {
        m.render(&ContentGauges {
            version: "abc",
            generation: 1,
            loaded_at_secs: 1_700_000_000.5,
            topics: 2,
            reload_failed: false,
        })
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe_request("/healthz", 200, Duration::from_micros(50));
        m.observe_request("/healthz", 200, Duration::from_millis(3));
        m.observe_request(Metrics::endpoint(Some("/nope")), 404, Duration::ZERO);
        let text = render(&m);
        assert!(text.contains(
            "sahaya_http_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"0.0001\"} 1"
        ));
        assert!(text.contains(
            "sahaya_http_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "sahaya_http_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"+Inf\"} 2"
        ));
        assert!(
            text.contains("sahaya_http_request_duration_seconds_count{endpoint=\"/healthz\"} 2")
        );
        assert!(text.contains("sahaya_http_requests_total{endpoint=\"other\",status=\"404\"} 1"));
        assert!(text.contains("sahaya_content_info{version=\"abc\"} 1"));
    }

    #[test]
    fn every_metric_keeps_its_name_help_and_type() {
        let text = render(&Metrics::new());
        for (name, kind, help) in [
            (
                "sahaya_http_requests_total",
                "counter",
                "HTTP requests by endpoint and status code.",
            ),
            (
                "sahaya_http_request_duration_seconds",
                "histogram",
                "Time to answer HTTP requests, by endpoint.",
            ),
            (
                "sahaya_decisions_total",
                "counter",
                "Replies by language and decision (answer, clarify, fallback, escalate).",
            ),
            (
                "sahaya_fallbacks_total",
                "counter",
                "Replies that found no answer, by language.",
            ),
            (
                "sahaya_escalations_total",
                "counter",
                "Conversations handed to a person, by the rule that escalated.",
            ),
            (
                "sahaya_reloads_total",
                "counter",
                "Content reloads that succeeded.",
            ),
            (
                "sahaya_reload_failures_total",
                "counter",
                "Content reloads that failed (the last good content kept serving).",
            ),
            (
                "sahaya_rate_limited_total",
                "counter",
                "Requests refused with 429 by the rate limit.",
            ),
            (
                "sahaya_outbox_enqueued_total",
                "counter",
                "Escalations queued for the webhook.",
            ),
            (
                "sahaya_outbox_rejected_total",
                "counter",
                "Escalations not queued, by reason (conversation_full, queue_full, too_large).",
            ),
            (
                "sahaya_outbox_delivered_total",
                "counter",
                "Escalations the webhook receiver accepted.",
            ),
            (
                "sahaya_outbox_retried_total",
                "counter",
                "Failed webhook deliveries that will be tried again.",
            ),
            (
                "sahaya_outbox_gave_up_total",
                "counter",
                "Escalations given up after their last failed delivery (kept in the outbox).",
            ),
            (
                "sahaya_outbox_pending",
                "gauge",
                "Escalations waiting for delivery, read from the state database at each scrape.",
            ),
            (
                "sahaya_content_info",
                "gauge",
                "The content being served; `version` is a hash of its files.",
            ),
            (
                "sahaya_content_generation",
                "gauge",
                "Content snapshots loaded since start (1 = the first).",
            ),
            (
                "sahaya_content_loaded_timestamp_seconds",
                "gauge",
                "When the content being served was loaded, Unix time.",
            ),
            (
                "sahaya_content_topics",
                "gauge",
                "Knowledge topics in the content being served.",
            ),
            (
                "sahaya_content_reload_failed",
                "gauge",
                "1 while the last reload failed and older content is being served.",
            ),
        ] {
            let lines = format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
            assert!(text.contains(&lines), "{lines}in\n{text}");
        }
        for line in [
            "sahaya_reloads_total 0\n",
            "sahaya_outbox_enqueued_total 0\n",
            "sahaya_outbox_rejected_total{reason=\"queue_full\"} 0\n",
            "sahaya_outbox_pending 0\n",
            "sahaya_content_generation 1\n",
            "sahaya_content_topics 2\n",
            "sahaya_content_reload_failed 0\n",
            "sahaya_content_loaded_timestamp_seconds 1700000000.5\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn outbox_outcomes_are_counted_apart() {
        let m = Metrics::new();
        let outbox = m.outbox().clone();
        outbox.enqueue(Enqueued::Queued(1));
        outbox.enqueue(Enqueued::Queued(2));
        outbox.enqueue(Enqueued::TooLarge);
        outbox.enqueue(Enqueued::ConversationFull);
        outbox.enqueue(Enqueued::ConversationFull);
        outbox.retried();
        outbox.delivered();
        outbox.gave_up();
        outbox.set_pending(7);
        let text = render(&m);
        for line in [
            "sahaya_outbox_enqueued_total 2\n",
            "sahaya_outbox_rejected_total{reason=\"conversation_full\"} 2\n",
            "sahaya_outbox_rejected_total{reason=\"queue_full\"} 0\n",
            "sahaya_outbox_rejected_total{reason=\"too_large\"} 1\n",
            "sahaya_outbox_retried_total 1\n",
            "sahaya_outbox_delivered_total 1\n",
            "sahaya_outbox_gave_up_total 1\n",
            "sahaya_outbox_pending 7\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.escalations
            .get_or_create(&RuleLabel {
                rule: "a\"b\\c\nd".into(),
            })
            .inc();
        assert!(render(&m).contains("sahaya_escalations_total{rule=\"a\\\"b\\\\c\\nd\"} 1"));
    }
}
