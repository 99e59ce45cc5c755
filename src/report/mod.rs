//! The editors' report over the conversation log: how much the bot answered without a
//! person, what it could not answer (grouped, largest group first, each with the closest
//! topic), which rules escalated, and what customers said about the answers.
//!
//! ```
//! use sahaya::report::{Report, ReportOptions};
//! use sahaya::store::{LogEntry, LogRecord};
//!
//! let row = |id: &str, decision: &str, text: &str| LogRecord {
//!     entry: LogEntry {
//!         reply_id: id.into(), at: 100, lang: "en".into(), channel: "chat".into(),
//!         decision: decision.into(), topic: Some("track_parcel".into()), confidence: 0.4,
//!         rule: None, queue: None, after_hours: false, formality: "formal".into(),
//!         conversation: None, fingerprint: sahaya::store::fingerprint(text),
//!         text: Some(text.into()),
//!     },
//!     feedback: None,
//! };
//! let log = [
//!     row("1", "answer", "where is my parcel"),
//!     row("2", "fallback", "do you ship live plants"),
//!     row("3", "fallback", "can I send live plants abroad"),
//! ];
//! let report = Report::build(&log, &ReportOptions { since: 0, until: 200, lang: None });
//! assert_eq!(report.total.replies, 3);
//! assert_eq!(report.unanswered[0].count, 2);
//! ```

mod group;
mod html;
mod text;

use crate::store::LogRecord;
use serde::Serialize;
use std::collections::BTreeMap;

pub use group::{Group, SIMILAR};

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// From this time (Unix seconds, included).
    pub since: i64,
    /// To this time (Unix seconds, excluded).
    pub until: i64,
    /// Only replies in this language (`te`, `el`, `en`).
    pub lang: Option<String>,
}

/// Counts over a set of replies.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Replies sent.
    pub replies: usize,
    /// Answered from the knowledge.
    pub answered: usize,
    /// "Did you mean …?" menus.
    pub clarified: usize,
    /// Nothing to offer.
    pub fell_back: usize,
    /// Handed to a person.
    pub escalated: usize,
    /// Sent while no person was at work.
    pub after_hours: usize,
    /// Replies with 👍.
    pub helpful: usize,
    /// Replies with 👎.
    pub unhelpful: usize,
    /// Ratings given (1–5).
    pub ratings: usize,
    /// Ratings of 4 or 5.
    pub satisfied: usize,
    /// Sum of the ratings.
    pub rating_sum: usize,
}

impl Counts {
    fn add(&mut self, r: &LogRecord) {
        self.replies += 1;
        match r.entry.decision.as_str() {
            "answer" => self.answered += 1,
            "clarify" => self.clarified += 1,
            "fallback" => self.fell_back += 1,
            _ => self.escalated += 1,
        }
        self.after_hours += usize::from(r.entry.after_hours);
        if let Some(f) = &r.feedback {
            if f.helpful {
                self.helpful += 1;
            } else {
                self.unhelpful += 1;
            }
            if let Some(rating) = f.rating {
                self.ratings += 1;
                self.satisfied += usize::from(rating >= 4);
                self.rating_sum += usize::from(rating);
            }
        }
    }

    /// Share of replies that did not hand the conversation to a person.
    pub fn containment(&self) -> f64 {
        share(self.replies - self.escalated, self.replies)
    }

    /// CSAT: share of ratings that are 4 or 5.
    pub fn csat(&self) -> f64 {
        share(self.satisfied, self.ratings)
    }

    /// Share of 👍 among the replies with feedback.
    pub fn helpfulness(&self) -> f64 {
        share(self.helpful, self.helpful + self.unhelpful)
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Escalations by one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// The rule id.
    pub rule: String,
    /// Escalations it made.
    pub count: usize,
}

/// What customers said about one topic's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicFeedback {
    /// The topic id.
    pub topic: String,
    /// Times it was answered.
    pub answers: usize,
    /// 👍.
    pub helpful: usize,
    /// 👎.
    pub unhelpful: usize,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Start of the period (Unix seconds).
    pub since: i64,
    /// End of the period (Unix seconds, excluded).
    pub until: i64,
    /// The language reported on, when one was asked for.
    pub lang: Option<String>,
    /// Every reply of the period.
    pub total: Counts,
    /// Per reply language.
    pub by_lang: BTreeMap<String, Counts>,
    /// Per channel.
    pub by_channel: BTreeMap<String, Counts>,
    /// Escalations by rule, most first.
    pub escalations_by_rule: Vec<RuleCount>,
    /// Answered topics with feedback, most 👎 first.
    pub topics: Vec<TopicFeedback>,
    /// Questions answered with a menu or not at all, near-duplicates together, largest
    /// group first.
    pub unanswered: Vec<Group>,
    /// True when the log kept customers' texts (`[log] keep_text`); otherwise groups hold
    /// identical questions only and show no text.
    pub texts_kept: bool,
}

impl Report {
    /// The report over `log` for `options`.
    pub fn build(log: &[LogRecord], options: &ReportOptions) -> Report {
        let rows: Vec<&LogRecord> = log
            .iter()
            .filter(|r| r.entry.at >= options.since && r.entry.at < options.until)
            .filter(|r| options.lang.as_deref().is_none_or(|l| r.entry.lang == l))
            .collect();
        let mut total = Counts::default();
        let mut by_lang: BTreeMap<String, Counts> = BTreeMap::new();
        let mut by_channel: BTreeMap<String, Counts> = BTreeMap::new();
        let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
        let mut topics: BTreeMap<&str, TopicFeedback> = BTreeMap::new();
        for r in &rows {
            total.add(r);
            by_lang.entry(r.entry.lang.clone()).or_default().add(r);
            by_channel
                .entry(r.entry.channel.clone())
                .or_default()
                .add(r);
            if let Some(rule) = r.entry.rule.as_deref() {
                *rules.entry(rule).or_default() += 1;
            }
            if let ("answer", Some(topic)) = (r.entry.decision.as_str(), r.entry.topic.as_deref()) {
                let t = topics.entry(topic).or_insert_with(|| TopicFeedback {
                    topic: topic.to_string(),
                    answers: 0,
                    helpful: 0,
                    unhelpful: 0,
                });
                t.answers += 1;
                match r.feedback.as_ref().map(|f| f.helpful) {
                    Some(true) => t.helpful += 1,
                    Some(false) => t.unhelpful += 1,
                    None => {}
                }
            }
        }
        let mut escalations_by_rule: Vec<RuleCount> = rules
            .into_iter()
            .map(|(rule, count)| RuleCount {
                rule: rule.to_string(),
                count,
            })
            .collect();
        escalations_by_rule.sort_by(|a, b| b.count.cmp(&a.count).then(a.rule.cmp(&b.rule)));
        let mut topics: Vec<TopicFeedback> = topics
            .into_values()
            .filter(|t| t.helpful + t.unhelpful > 0)
            .collect();
        topics.sort_by(|a, b| {
            b.unhelpful
                .cmp(&a.unhelpful)
                .then(a.helpful.cmp(&b.helpful))
                .then(a.topic.cmp(&b.topic))
        });
        let unanswered: Vec<&LogRecord> = rows
            .iter()
            .copied()
            .filter(|r| matches!(r.entry.decision.as_str(), "clarify" | "fallback"))
            .collect();
        Report {
            since: options.since,
            until: options.until,
            lang: options.lang.clone(),
            total,
            by_lang,
            by_channel,
            escalations_by_rule,
            topics,
            texts_kept: unanswered.iter().any(|r| r.entry.text.is_some()),
            unanswered: group::group(&unanswered),
        }
    }

    /// The report as plain text, for a terminal.
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The report as one HTML page with SVG charts: no script, no external resource.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

/// A period like `7d`, `24h`, `90m` or `30s`, in seconds.
pub fn parse_period(s: &str) -> Option<i64> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    };
    n.checked_mul(unit).filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_days_hours_minutes_or_seconds() {
        assert_eq!(parse_period("7d"), Some(7 * 86_400));
        assert_eq!(parse_period("24h"), Some(86_400));
        assert_eq!(parse_period("90m"), Some(5_400));
        assert_eq!(parse_period("30s"), Some(30));
        for bad in ["", "7", "d", "7w", "-1d", "0d", "1.5d"] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }
}
