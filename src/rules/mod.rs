//! Escalation and routing rules from `rules/*.toml`, evaluated by the decide stage.
//!
//! A rule has an id, a priority, a condition over what is known about the message (its
//! words, the knowledge search result, the customer, the session, the clock) and actions
//! (escalate to a queue, force the formal register, pick the reply message, tag, suppress the
//! knowledge answer). Rules run in priority order and every matching rule applies; see
//! `rules/README.md` for the file format and how actions combine.
//!
//! Reading the files is in `load`, turning each `when` table into a condition in `when`; the
//! conditions and their evaluation in `condition`; phrase lists and the forms of a message's
//! words they compare against in `phrase`; structured signals (money mismatches, counts
//! of earlier contacts, data requests, app symptoms) in `signals`.

mod condition;
mod examples;
mod intent;
mod load;
mod phrase;
mod signals;
mod when;

pub(crate) use intent::IntentMatcher;
pub use intent::{Example, Examples, IntentScore, DEFAULT_MARGIN, LISTS};
pub(crate) use phrase::is_shouting;

use crate::lang::Lang;
use crate::model::{Decision, Escalation, Priority};
use condition::{Condition, Context};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Every rule of a data directory, sorted by priority (highest first).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    queues: BTreeMap<String, String>,
    /// Measures the similarity of a message to the rules' examples, once attached.
    intents: Option<Arc<dyn IntentMatcher>>,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Higher runs first.
    pub priority: i64,
    /// Why the rule exists, for the trace.
    pub reason: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Where each positive example is in its file.
    example_at: Vec<usize>,
    when: Condition,
    /// Example messages and counter-examples, for `intent` conditions.
    pub examples: Examples,
    /// What the rule does when it matches.
    pub then: Actions,
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actions {
    /// Hand the conversation to this queue with this priority.
    pub escalate: Option<(String, Priority)>,
    /// Raise the escalation's priority one step.
    pub raise_priority: bool,
    /// Reply in the formal register.
    pub formal: bool,
    /// Fluent message for the reply.
    pub message: Option<String>,
    /// Labels for the help desk.
    pub tags: Vec<String>,
    /// Do not send the knowledge answer.
    pub suppress_answer: bool,
    /// Evaluate no further rules.
    pub stop: bool,
}

/// What the rules see of one message.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// The text as the customer wrote it.
    pub original: &'a str,
    /// The normalized text.
    pub normalized: &'a str,
    /// The knowledge search's decision before rules.
    pub decision: Decision,
    /// The best match's confidence.
    pub confidence: f32,
    /// The best-matching topic's id and tags, when the decision is answer or clarify.
    pub topic: Option<(&'a str, &'a [String])>,
    /// Reply language.
    pub lang: Lang,
    /// Channel of the message.
    pub channel: Option<&'a str>,
    /// Customer tier.
    pub tier: Option<&'a str>,
    /// Customer region (resolved).
    pub region: &'a str,
    /// Unanswered messages in a row, this one included.
    pub fallbacks_in_a_row: u32,
    /// The number of this message in its session, from 1.
    pub turn: u32,
    /// The session went to a person before.
    pub escalated_before: bool,
    /// People are at work now.
    pub open: bool,
    /// Today is a public holiday.
    pub holiday: bool,
}

/// The combined effect of every matching rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Outcome {
    /// Set when a rule escalates.
    pub escalation: Option<Escalation>,
    /// Reply in the formal register.
    pub formal: bool,
    /// Fluent message chosen for the reply.
    pub message: Option<String>,
    /// Tags of all matching rules.
    pub tags: Vec<String>,
    /// Do not send the knowledge answer.
    pub suppress_answer: bool,
    /// One line per matching rule: what matched and what it did.
    pub trace: Vec<String>,
}

impl RuleSet {
    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The queues of `rules/queues.toml`: id → description.
    pub fn queues(&self) -> &BTreeMap<String, String> {
        &self.queues
    }

    /// True when some rule has examples or counter-examples.
    pub fn has_examples(&self) -> bool {
        self.rules.iter().any(|r| !r.examples.is_empty())
    }

    /// Attaches what measures the similarity of messages to the rules' examples; until
    /// then no `intent` condition holds.
    pub(crate) fn set_intent_matcher(&mut self, matcher: Arc<dyn IntentMatcher>) {
        self.intents = Some(matcher);
    }

    /// Runs every rule over `facts`.
    pub(crate) fn evaluate(&self, facts: &Facts<'_>) -> Outcome {
        let cx = Context::new(facts, &self.rules, self.intents.as_deref());
        let mut out = Outcome::default();
        let mut raises = 0;
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.when.holds(&cx, i) {
                continue;
            }
            let why = rule.when.why(&cx, i);
            let a = &rule.then;
            let mut did = Vec::new();
            if let Some((queue, priority)) = &a.escalate {
                if out.escalation.is_none() {
                    out.escalation = Some(Escalation {
                        rule: rule.id.clone(),
                        queue: queue.clone(),
                        priority: *priority,
                    });
                    did.push(format!("escalate to {queue} ({priority})"));
                } else {
                    did.push("escalation already decided".into());
                }
            }
            if a.raise_priority {
                raises += 1;
                did.push("raise priority".into());
            }
            if a.formal {
                out.formal = true;
                did.push("formal".into());
            }
            if let Some(m) = &a.message {
                if out.message.is_none() {
                    out.message = Some(m.clone());
                    did.push(format!("message {m}"));
                }
            }
            for t in &a.tags {
                if !out.tags.contains(t) {
                    out.tags.push(t.clone());
                }
            }
            if a.suppress_answer {
                out.suppress_answer = true;
                did.push("no knowledge answer".into());
            }
            out.trace.push(format!(
                "rule {} (priority {}): {why} → {}",
                rule.id,
                rule.priority,
                if did.is_empty() {
                    "tags only".to_string()
                } else {
                    did.join(", ")
                }
            ));
            if a.stop {
                out.trace.push(format!("rule {}: stop", rule.id));
                break;
            }
        }
        if let Some(e) = &mut out.escalation {
            for _ in 0..raises {
                e.priority = e.priority.raised();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;
    use std::collections::BTreeSet;
    use std::path::Path;

    pub(super) fn facts(text: &str) -> (String, Facts<'static>) {
        let n = normalize(text);
        let f = Facts {
            original: "",
            normalized: "",
            decision: Decision::Answer,
            confidence: 0.9,
            topic: None,
            lang: Lang::En,
            channel: None,
            tier: None,
            region: "GR",
            fallbacks_in_a_row: 0,
            turn: 1,
            escalated_before: false,
            open: true,
            holiday: false,
        };
        (n, f)
    }

    pub(super) fn rules(src: &str) -> RuleSet {
        let (set, diags) = RuleSet::parse(
            Path::new("rules/t.toml"),
            src,
            &["support", "legal"],
            &BTreeSet::new(),
        );
        assert!(diags.is_empty(), "{diags:?}");
        set
    }

    pub(super) fn run(set: &RuleSet, text: &str) -> Outcome {
        let (n, f) = facts(text);
        set.evaluate(&Facts {
            original: text,
            normalized: &n,
            ..f
        })
    }

    pub(super) const LEGAL: &str = r#"
[[rule]]
id = "legal_threat"
priority = 90
[rule.when]
phrases.en = ["lawyer", "take you to court"]
phrases.el = ["δικηγορ*", "μηνυση"]
phrases.te = ["లాయర్*"]
phrases.el_latn = ["dikigoro"]
[rule.then]
escalate = { queue = "legal", priority = "high" }
"#;

    #[test]
    fn first_escalation_wins_priorities_raise_and_tags_merge() {
        let set = rules(&format!(
            "{LEGAL}{}",
            r#"
[[rule]]
id = "human_request"
priority = 80
[rule.when]
phrases.en = ["a person"]
[rule.then]
escalate = { queue = "support" }
tags = ["handoff"]
formal = true

[[rule]]
id = "business_tier"
priority = 1
[rule.when]
shouting = true
[rule.then]
raise_priority = true
tags = ["handoff", "vip"]
"#
        ));
        let out = run(&set, "I WANT A PERSON OR MY LAWYER");
        let e = out.escalation.unwrap();
        assert_eq!(
            (e.rule.as_str(), e.queue.as_str()),
            ("legal_threat", "legal")
        );
        assert_eq!(e.priority, Priority::Urgent, "high raised one step");
        assert_eq!(out.tags, ["handoff", "vip"]);
        assert!(out.formal);
        assert_eq!(out.trace.len(), 3, "{:?}", out.trace);
        let out = run(&set, "a person please");
        assert_eq!(out.escalation.unwrap().priority, Priority::Normal);
    }
}
