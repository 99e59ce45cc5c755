//! The conversation log: one row per reply, for the editors' report (`sahaya report`).
//!
//! A row holds what the reply decided (language, channel, decision, topic, confidence,
//! rule and queue, after-hours, register, conversation) and a fingerprint of the customer's
//! normalized text, so that identical questions group without keeping them. The text itself
//! is kept only with `[log] keep_text = true`, and only for `text_retention_days`.
//!
//! ```toml
//! [log]
//! enabled = true             # one row per reply in the state database
//! keep_text = false          # true: keep what customers wrote, for the report's groups
//! text_retention_days = 30   # then the text is erased from the row
//! retention_days = 365       # then the row goes
//! ```

use crate::model::Reply;
use serde::{Deserialize, Serialize};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A new reply id: 128 bits that cannot be guessed from other ids (keyed hashes of a
/// counter, with keys drawn at random once per process).
pub fn new_reply_id() -> String {
    static KEYS: OnceLock<(std::hash::RandomState, std::hash::RandomState)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = KEYS.get_or_init(|| (Default::default(), Default::default()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", a.hash_one(n), b.hash_one(n))
}

/// The `[log]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Write one row per reply.
    pub enabled: bool,
    /// Keep the customer's text (and feedback comments).
    pub keep_text: bool,
    /// Days a kept text stays in its row.
    pub text_retention_days: u32,
    /// Days a row stays.
    pub retention_days: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            enabled: true,
            keep_text: false,
            text_retention_days: 30,
            retention_days: 365,
        }
    }
}

/// One reply as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The reply's id (`reply_id` of the reply JSON), which feedback names.
    pub reply_id: String,
    /// When it was sent, Unix seconds.
    pub at: i64,
    /// Reply language code.
    pub lang: String,
    /// Where the message came from (`chat`, `email`, `api` …).
    pub channel: String,
    /// `answer`, `clarify`, `fallback` or `escalate`.
    pub decision: String,
    /// The answered topic, or the first suggestion of a clarify, or the out-of-scope topic
    /// of a fallback: the closest topic.
    pub topic: Option<String>,
    /// Confidence of the best match.
    pub confidence: f32,
    /// The escalation rule.
    pub rule: Option<String>,
    /// The escalation queue.
    pub queue: Option<String>,
    /// No person was at work.
    pub after_hours: bool,
    /// `formal` or `informal`.
    pub formality: String,
    /// The conversation key, when there was one.
    pub conversation: Option<String>,
    /// A hash of the normalized text (hex): identical questions have the same one.
    pub fingerprint: String,
    /// The customer's text, only with `keep_text`.
    pub text: Option<String>,
}

impl LogEntry {
    /// The row for `reply` to `text`. The text is kept only when `keep_text`.
    pub fn new(
        reply: &Reply,
        reply_id: &str,
        text: &str,
        channel: &str,
        at: i64,
        keep_text: bool,
    ) -> LogEntry {
        let topic = reply
            .answer_id
            .clone()
            .or_else(|| reply.suggestions.first().map(|s| s.id.clone()));
        LogEntry {
            reply_id: reply_id.to_string(),
            at,
            lang: reply.lang.code().to_string(),
            channel: channel.to_string(),
            decision: reply.decision.as_str().to_string(),
            topic,
            confidence: reply.confidence,
            rule: reply.escalation.as_ref().map(|e| e.rule.clone()),
            queue: reply.escalation.as_ref().map(|e| e.queue.clone()),
            after_hours: reply.after_hours,
            formality: reply.formality.as_str().to_string(),
            conversation: reply.session_id.clone(),
            fingerprint: fingerprint(text),
            text: keep_text.then(|| text.to_string()),
        }
    }
}

/// What a customer said about a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// 👍 or 👎.
    pub helpful: bool,
    /// 1 (bad) to 5 (good), when asked.
    pub rating: Option<u8>,
    /// Free text; stored only with `keep_text`.
    pub comment: Option<String>,
}

/// A log row with its feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The reply.
    pub entry: LogEntry,
    /// What the customer said about it.
    pub feedback: Option<Feedback>,
}

/// A stable hash (FNV-1a, 64 bits, hex) of the normalized text: the same question typed
/// with or without accents, in another case or without ZWNJ has the same fingerprint.
pub fn fingerprint(text: &str) -> String {
    let normalized = crate::text::normalize(text);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    // The words, one space apart: punctuation and spacing do not count.
    for (i, word) in crate::text::words(&normalized).enumerate() {
        if i > 0 {
            eat(b" ");
        }
        eat(word.as_bytes());
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_case_accents_punctuation_and_zwnj() {
        assert_eq!(
            fingerprint("Πού είναι το δέμα μου;"),
            fingerprint("που ειναι το δεμα μου")
        );
        assert_eq!(fingerprint("లైన్\u{200C}ను చూడండి"), fingerprint("లైన్ను చూడండి"));
        assert_eq!(
            fingerprint("Where is my parcel?"),
            fingerprint("where is  my PARCEL")
        );
        assert_ne!(
            fingerprint("where is my parcel"),
            fingerprint("where is my refund")
        );
        assert_eq!(fingerprint("x").len(), 16);
    }
}
