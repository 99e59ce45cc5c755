//! Conditions of a rule's `when` and their evaluation over the facts of one message.

use super::phrase::{is_shouting, PhraseIndex, Words};
use super::Facts;
use crate::lang::Lang;
use crate::model::Decision;
use regex::Regex;

#[derive(Debug, Clone)]
pub(super) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Phrases(PhraseIndex),
    Regex(Vec<Regex>),
    Decision(Vec<Decision>),
    ConfidenceBelow(f32),
    ConfidenceAbove(f32),
    Topic(Vec<String>),
    TopicTag(Vec<String>),
    Lang(Vec<Lang>),
    Channel(Vec<String>),
    Tier(Vec<String>),
    Region(Vec<String>),
    FallbacksInARow(u32),
    TurnsAtLeast(u32),
    EscalatedBefore(bool),
    Shouting(bool),
    Open(bool),
    Holiday(bool),
}

impl Condition {
    /// `Some(why)` when the condition holds.
    pub(super) fn eval(&self, f: &Facts<'_>, w: &Words<'_>) -> Option<String> {
        use Condition::*;
        let yes = |b: bool, why: String| if b { Some(why) } else { None };
        match self {
            All(list) => {
                let mut parts = Vec::with_capacity(list.len());
                for c in list {
                    parts.push(c.eval(f, w)?);
                }
                Some(parts.join(" and "))
            }
            Any(list) => list.iter().find_map(|c| c.eval(f, w)),
            Not(c) => match c.eval(f, w) {
                Some(_) => None,
                None => Some(format!("not ({})", c.describe())),
            },
            Phrases(index) => index
                .find(w)
                .map(|p| format!("phrase «{}» ({})", p.source, p.list)),
            Regex(list) => list
                .iter()
                .find(|r| r.is_match(f.normalized))
                .map(|r| format!("regex /{}/", r.as_str())),
            Decision(list) => yes(
                list.contains(&f.decision),
                format!("search decided {}", f.decision),
            ),
            ConfidenceBelow(x) => yes(
                f.confidence < *x,
                format!("confidence {:.2} < {x}", f.confidence),
            ),
            ConfidenceAbove(x) => yes(
                f.confidence >= *x,
                format!("confidence {:.2} ≥ {x}", f.confidence),
            ),
            Topic(ids) => f
                .topic
                .filter(|(id, _)| ids.iter().any(|i| i == id))
                .map(|(id, _)| format!("topic {id}")),
            TopicTag(tags) => f.topic.and_then(|(id, t)| {
                t.iter()
                    .find(|tag| tags.contains(tag))
                    .map(|tag| format!("topic {id} tagged {tag}"))
            }),
            Lang(langs) => yes(langs.contains(&f.lang), format!("language {}", f.lang)),
            Channel(list) => f
                .channel
                .filter(|c| list.iter().any(|x| x.eq_ignore_ascii_case(c)))
                .map(|c| format!("channel {c}")),
            Tier(list) => f
                .tier
                .filter(|t| list.iter().any(|x| x.eq_ignore_ascii_case(t)))
                .map(|t| format!("tier {t}")),
            Region(list) => yes(
                list.iter().any(|x| x.eq_ignore_ascii_case(f.region)),
                format!("region {}", f.region),
            ),
            FallbacksInARow(n) => yes(
                f.fallbacks_in_a_row >= *n,
                format!("{} unanswered messages in a row", f.fallbacks_in_a_row),
            ),
            TurnsAtLeast(n) => yes(f.turn >= *n, format!("message {} of the session", f.turn)),
            EscalatedBefore(b) => yes(
                f.escalated_before == *b,
                if *b {
                    "went to a person before".into()
                } else {
                    "never went to a person".into()
                },
            ),
            Shouting(b) => yes(
                is_shouting(f.original) == *b,
                if *b {
                    "shouting".into()
                } else {
                    "not shouting".into()
                },
            ),
            Open(b) => yes(
                f.open == *b,
                if f.open {
                    "open now".into()
                } else {
                    "closed now".into()
                },
            ),
            Holiday(b) => yes(
                f.holiday == *b,
                if f.holiday {
                    "public holiday".into()
                } else {
                    "not a holiday".into()
                },
            ),
        }
    }

    fn describe(&self) -> String {
        use Condition::*;
        match self {
            All(l) => format!("all of {}", l.len()),
            Any(l) => format!("any of {}", l.len()),
            Not(c) => format!("not ({})", c.describe()),
            Phrases(l) => format!("{} phrases", l.phrases.len()),
            Regex(l) => format!("{} regexes", l.len()),
            Decision(_) => "decision".into(),
            ConfidenceBelow(x) => format!("confidence < {x}"),
            ConfidenceAbove(x) => format!("confidence ≥ {x}"),
            Topic(t) => format!("topic {}", t.join("|")),
            TopicTag(t) => format!("topic tag {}", t.join("|")),
            Lang(_) => "language".into(),
            Channel(c) => format!("channel {}", c.join("|")),
            Tier(t) => format!("tier {}", t.join("|")),
            Region(r) => format!("region {}", r.join("|")),
            FallbacksInARow(n) => format!("{n} fallbacks in a row"),
            TurnsAtLeast(n) => format!("turn ≥ {n}"),
            EscalatedBefore(_) => "escalated before".into(),
            Shouting(_) => "shouting".into(),
            Open(_) => "open".into(),
            Holiday(_) => "holiday".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{rules, run};
    use crate::text::normalize;

    #[test]
    fn all_any_not_combine() {
        let set = rules(
            r#"
[[rule]]
id = "r"
[rule.when]
any = [ { phrases.en = ["x ray"] }, { all = [ { shouting = true }, { not = { phrases.en = ["ok"] } } ] } ]
[rule.then]
escalate = { queue = "support" }
"#,
        );
        assert!(run(&set, "an x ray").escalation.is_some());
        assert!(run(&set, "THIS IS NOT FINE AT ALL").escalation.is_some());
        assert!(run(&set, "THIS IS OK I GUESS").escalation.is_none());
        assert!(run(&set, "this is not fine").escalation.is_none());
    }

    #[test]
    fn the_trace_names_what_matched() {
        let set = rules(
            r#"
[[rule]]
id = "combo"
priority = 5
[rule.when]
any = [ { phrases.en = ["x ray"] }, { all = [ { shouting = true }, { not = { phrases.en = ["ok"] } } ] } ]
[rule.then]
escalate = { queue = "support" }

[[rule]]
id = "facts"
priority = 4
[rule.when]
regex = ["nothing", "fine"]
decision = ["answer", "clarify"]
confidence_above = 0.5
confidence_below = 0.95
topic = ["track_parcel"]
topic_tag = ["other", "complaint"]
lang = ["en"]
channel = ["EMAIL"]
tier = ["business"]
region = ["gr"]
fallbacks_in_a_row = 2
turns_at_least = 3
escalated_before = false
shouting = true
open = true
holiday = false
[rule.then]
tags = ["t"]

[[rule]]
id = "negated"
priority = 3
[rule.when]
not = { any = [ { phrases.el_latn = ["dikigoro"] }, { escalated_before = true } ] }
[rule.then]
formal = true
message = "m"
suppress_answer = true
raise_priority = true
stop = true

[[rule]]
id = "after_stop"
[rule.when]
open = true
[rule.then]
formal = true
"#,
        );
        let text = "THIS IS NOT FINE AT ALL";
        let n = normalize(text);
        let tags = ["complaint".to_string()];
        let out = set.evaluate(&Facts {
            original: text,
            normalized: &n,
            decision: Decision::Answer,
            confidence: 0.876,
            topic: Some(("track_parcel", &tags)),
            lang: Lang::En,
            channel: Some("email"),
            tier: Some("Business"),
            region: "GR",
            fallbacks_in_a_row: 2,
            turn: 3,
            escalated_before: false,
            open: true,
            holiday: false,
        });
        assert_eq!(
            out.trace,
            [
                "rule combo (priority 5): shouting and not (1 phrases) → escalate to support (normal)",
                "rule facts (priority 4): regex /fine/ and search decided answer and \
                 confidence 0.88 < 0.95 and confidence 0.88 ≥ 0.5 and topic track_parcel and \
                 topic track_parcel tagged complaint and language en and channel email and \
                 tier Business and region GR and 2 unanswered messages in a row and \
                 message 3 of the session and never went to a person and shouting and \
                 open now and not a holiday → tags only",
                "rule negated (priority 3): not (any of 2) → raise priority, formal, message m, \
                 no knowledge answer",
                "rule negated: stop",
            ]
        );
        let out = run(&set, "an x ray");
        assert_eq!(
            out.trace[0],
            "rule combo (priority 5): phrase «x ray» (en) → escalate to support (normal)"
        );
    }
}
