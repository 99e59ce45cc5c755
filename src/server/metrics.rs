//! Prometheus metrics, kept in memory and rendered as text for `GET /metrics`.

use crate::{Decision, Reply};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    "/v1/admin/reload",
    "/v1/sessions/{id}/handback",
    "/v1/webhooks/chatwoot",
];

/// The `endpoint` label of requests that match no route.
pub const OTHER_ENDPOINT: &str = "other";

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// What the content looks like now, for the gauges.
pub(crate) struct ContentGauges<'a> {
    pub version: &'a str,
    pub generation: u64,
    pub loaded_at_secs: f64,
    pub topics: usize,
    pub reload_failed: bool,
}

/// The server's counters and histograms.
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Vec<Histogram>,
    decisions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    fallbacks: Mutex<BTreeMap<&'static str, u64>>,
    escalations: Mutex<BTreeMap<String, u64>>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    rate_limited: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: (0..=ENDPOINTS.len())
                .map(|_| Histogram::default())
                .collect(),
            decisions: Mutex::new(BTreeMap::new()),
            fallbacks: Mutex::new(BTreeMap::new()),
            escalations: Mutex::new(BTreeMap::new()),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// The label of a matched route (`None`: no route matched).
    pub fn endpoint(matched: Option<&str>) -> &'static str {
        matched
            .and_then(|m| ENDPOINTS.iter().find(|e| **e == m).copied())
            .unwrap_or(OTHER_ENDPOINT)
    }

    pub fn observe_request(&self, endpoint: &'static str, status: u16, took: Duration) {
        *lock(&self.requests).entry((endpoint, status)).or_default() += 1;
        let i = ENDPOINTS
            .iter()
            .position(|e| *e == endpoint)
            .unwrap_or(ENDPOINTS.len());
        self.latency[i].observe(took);
    }

    pub fn observe_reply(&self, reply: &Reply) {
        let lang = reply.lang.code();
        *lock(&self.decisions)
            .entry((lang, decision_str(reply.decision)))
            .or_default() += 1;
        if reply.decision == Decision::Fallback {
            *lock(&self.fallbacks).entry(lang).or_default() += 1;
        }
        if let Some(e) = &reply.escalation {
            *lock(&self.escalations).entry(e.rule.clone()).or_default() += 1;
        }
    }

    pub fn reload_succeeded(&self) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload_failed(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, content: &ContentGauges<'_>) -> String {
        let mut out = String::with_capacity(8192);
        header(
            &mut out,
            "sahaya_http_requests_total",
            "counter",
            "HTTP requests by endpoint and status code.",
        );
        for ((endpoint, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "sahaya_http_requests_total{{endpoint=\"{}\",status=\"{status}\"}} {n}",
                escape(endpoint)
            );
        }
        header(
            &mut out,
            "sahaya_http_request_duration_seconds",
            "histogram",
            "Time to answer HTTP requests, by endpoint.",
        );
        let names = ENDPOINTS.iter().chain(std::iter::once(&OTHER_ENDPOINT));
        for (endpoint, h) in names.zip(&self.latency) {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let ep = escape(endpoint);
            for (bound, n) in BUCKETS.iter().zip(&h.buckets) {
                let _ = writeln!(
                    out,
                    "sahaya_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"{bound}\"}} {}",
                    n.load(Ordering::Relaxed)
                );
            }
            let _ = writeln!(
                out,
                "sahaya_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "sahaya_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {}",
                h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "sahaya_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {count}"
            );
        }
        header(
            &mut out,
            "sahaya_decisions_total",
            "counter",
            "Replies by language and decision (answer, clarify, fallback, escalate).",
        );
        for ((lang, decision), n) in lock(&self.decisions).iter() {
            let _ = writeln!(
                out,
                "sahaya_decisions_total{{lang=\"{lang}\",decision=\"{decision}\"}} {n}"
            );
        }
        header(
            &mut out,
            "sahaya_fallbacks_total",
            "counter",
            "Replies that found no answer, by language.",
        );
        for (lang, n) in lock(&self.fallbacks).iter() {
            let _ = writeln!(out, "sahaya_fallbacks_total{{lang=\"{lang}\"}} {n}");
        }
        header(
            &mut out,
            "sahaya_escalations_total",
            "counter",
            "Conversations handed to a person, by the rule that escalated.",
        );
        for (rule, n) in lock(&self.escalations).iter() {
            let _ = writeln!(
                out,
                "sahaya_escalations_total{{rule=\"{}\"}} {n}",
                escape(rule)
            );
        }
        let counters = [
            (
                "sahaya_reloads_total",
                "Content reloads that succeeded.",
                &self.reloads,
            ),
            (
                "sahaya_reload_failures_total",
                "Content reloads that failed (the last good content kept serving).",
                &self.reload_failures,
            ),
            (
                "sahaya_rate_limited_total",
                "Requests refused with 429 by the rate limit.",
                &self.rate_limited,
            ),
        ];
        for (name, help, v) in counters {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        header(
            &mut out,
            "sahaya_content_info",
            "gauge",
            "The content being served; `version` is a hash of its files.",
        );
        let _ = writeln!(
            out,
            "sahaya_content_info{{version=\"{}\"}} 1",
            escape(content.version)
        );
        let gauges = [
            (
                "sahaya_content_generation",
                "Content snapshots loaded since start (1 = the first).",
                content.generation as f64,
            ),
            (
                "sahaya_content_loaded_timestamp_seconds",
                "When the content being served was loaded, Unix time.",
                content.loaded_at_secs,
            ),
            (
                "sahaya_content_topics",
                "Knowledge topics in the content being served.",
                content.topics as f64,
            ),
            (
                "sahaya_content_reload_failed",
                "1 while the last reload failed and older content is being served.",
                if content.reload_failed { 1.0 } else { 0.0 },
            ),
        ];
        for (name, help, v) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The decision as the JSON and the metrics spell it.
pub(crate) fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Answer => "answer",
        Decision::Clarify => "clarify",
        Decision::Fallback => "fallback",
        Decision::Escalate => "escalate",
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a counter lock leaves the counts valid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe_request("/healthz", 200, Duration::from_micros(50));
        m.observe_request("/healthz", 200, Duration::from_millis(3));
        m.observe_request(Metrics::endpoint(Some("/nope")), 404, Duration::ZERO);
        let text = m.render(&ContentGauges {
            version: "abc",
            generation: 1,
            loaded_at_secs: 0.0,
            topics: 2,
            reload_failed: false,
        });
        assert!(text.contains(
            "sahaya_http_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"0.0001\"} 1"
        ));
        assert!(text.contains(
            "sahaya_http_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("sahaya_http_requests_total{endpoint=\"other\",status=\"404\"} 1"));
        assert!(text.contains("sahaya_content_info{version=\"abc\"} 1"));
    }
}
