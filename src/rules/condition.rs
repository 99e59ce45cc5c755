//! Conditions of a rule's `when` and their evaluation over the facts of one message.

use super::intent::{IntentCondition, IntentMatcher, IntentScore};
use super::phrase::{is_shouting, PhraseIndex, Words};
use super::signals::{Evidence, Signal};
use super::{Facts, Rule};
use crate::lang::Lang;
use crate::model::Decision;
use regex::{Regex, RegexSet, RegexSetBuilder};
use std::cell::OnceCell;
use std::fmt;

/// What the conditions look at for one message: the facts, its words in every form the
/// phrase lists compare, and how close it is to each rule's examples (measured once, when
/// an `intent` condition first asks).
pub(super) struct Context<'a> {
    facts: &'a Facts<'a>,
    words: Words<'a>,
    rules: &'a [Rule],
    matcher: Option<&'a dyn IntentMatcher>,
    intents: OnceCell<Vec<IntentScore>>,
    /// Whether each structured signal holds, measured when first asked.
    signals: [OnceCell<bool>; 4],
}

impl<'a> Context<'a> {
    pub(super) fn new(
        facts: &'a Facts<'a>,
        rules: &'a [Rule],
        matcher: Option<&'a dyn IntentMatcher>,
    ) -> Context<'a> {
        Context {
            facts,
            words: Words::new(facts.normalized),
            rules,
            matcher,
            intents: OnceCell::new(),
            signals: Default::default(),
        }
    }

    /// Whether `signal` holds for the message (measured once).
    fn signal(&self, signal: Signal) -> bool {
        *self.signals[signal as usize].get_or_init(|| self.evidence(signal).is_some())
    }

    /// The words that make `signal` hold, for the trace.
    fn evidence(&self, signal: Signal) -> Option<Evidence<'a>> {
        signal.find(self.facts.normalized, self.words.plain())
    }

    /// How close the message is to the examples of the rule at `rule` (nothing is close
    /// without a matcher).
    fn intent(&self, rule: usize) -> IntentScore {
        let Some(matcher) = self.matcher else {
            return IntentScore::default();
        };
        self.intents
            .get_or_init(|| matcher.scores(self.facts.normalized))
            .get(rule)
            .copied()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub(super) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Phrases(PhraseIndex),
    Regex(RegexList),
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
    Intent(IntentCondition),
    /// Any of these structured signals.
    Signal(Vec<Signal>),
}

impl Condition {
    /// True when the condition holds. Nothing is formatted here: most conditions do not
    /// hold, and [`Condition::why`] explains the ones that do.
    /// `rule` is the position of the rule in its set, for `intent`.
    pub(super) fn holds(&self, cx: &Context<'_>, rule: usize) -> bool {
        use Condition::*;
        let (f, w) = (cx.facts, &cx.words);
        match self {
            All(list) => list.iter().all(|c| c.holds(cx, rule)),
            Any(list) => list.iter().any(|c| c.holds(cx, rule)),
            Not(c) => !c.holds(cx, rule),
            Phrases(index) => index.find(w).is_some(),
            Regex(list) => list.is_match(f.normalized),
            Decision(list) => list.contains(&f.decision),
            ConfidenceBelow(x) => f.confidence < *x,
            ConfidenceAbove(x) => f.confidence >= *x,
            Topic(ids) => f.topic.is_some_and(|(id, _)| ids.iter().any(|i| i == id)),
            TopicTag(tags) => f
                .topic
                .is_some_and(|(_, t)| t.iter().any(|tag| tags.contains(tag))),
            Lang(langs) => langs.contains(&f.lang),
            Channel(list) => f.channel.is_some_and(|c| one_of(list, c)),
            Tier(list) => f.tier.is_some_and(|t| one_of(list, t)),
            Region(list) => one_of(list, f.region),
            FallbacksInARow(n) => f.fallbacks_in_a_row >= *n,
            TurnsAtLeast(n) => f.turn >= *n,
            EscalatedBefore(b) => f.escalated_before == *b,
            Shouting(b) => is_shouting(f.original) == *b,
            Open(b) => f.open == *b,
            Holiday(b) => f.holiday == *b,
            Intent(c) => c.holds(&cx.intent(rule)),
            Signal(list) => list.iter().any(|s| cx.signal(*s)),
        }
    }

    /// Why a condition that [holds](Condition::holds) does, for the trace: the path that
    /// matched (the first matching branch of an `any`, the phrase or regex found), written
    /// only when displayed.
    pub(super) fn why<'a>(&'a self, cx: &'a Context<'a>, rule: usize) -> Why<'a> {
        Why {
            cond: self,
            cx,
            rule,
        }
    }

    /// What the condition asks, without the facts (for `not`, which holds when nothing
    /// matched).
    fn describe(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Condition::*;
        match self {
            All(l) => write!(out, "all of {}", l.len()),
            Any(l) => write!(out, "any of {}", l.len()),
            Not(c) => {
                out.write_str("not (")?;
                c.describe(out)?;
                out.write_str(")")
            }
            Phrases(l) => write!(out, "{} phrases", l.phrases.len()),
            Regex(l) => write!(out, "{} regexes", l.list.len()),
            Decision(_) => out.write_str("decision"),
            ConfidenceBelow(x) => write!(out, "confidence < {x}"),
            ConfidenceAbove(x) => write!(out, "confidence ≥ {x}"),
            Topic(t) => write!(out, "topic {}", t.join("|")),
            TopicTag(t) => write!(out, "topic tag {}", t.join("|")),
            Lang(_) => out.write_str("language"),
            Channel(c) => write!(out, "channel {}", c.join("|")),
            Tier(t) => write!(out, "tier {}", t.join("|")),
            Region(r) => write!(out, "region {}", r.join("|")),
            FallbacksInARow(n) => write!(out, "{n} fallbacks in a row"),
            TurnsAtLeast(n) => write!(out, "turn ≥ {n}"),
            EscalatedBefore(_) => out.write_str("escalated before"),
            Shouting(_) => out.write_str("shouting"),
            Open(_) => out.write_str("open"),
            Holiday(_) => out.write_str("holiday"),
            Intent(c) => write!(out, "intent ≥ {}", c.min),
            Signal(list) => {
                let names: Vec<&str> = list.iter().map(|s| s.name()).collect();
                write!(out, "signal {}", names.join("|"))
            }
        }
    }
}

/// The regexes of one `regex` key: any of them matching is enough. They are also compiled
/// as one set, which tells whether any matches in a single pass over the text.
#[derive(Debug, Clone)]
pub(super) struct RegexList {
    list: Vec<Regex>,
    set: Option<RegexSet>,
}

impl RegexList {
    /// The list, and its set when the set compiles within the size limit of all of them.
    pub(super) fn new(list: Vec<Regex>) -> RegexList {
        let limit = list.len().max(1) * super::load::REGEX_SIZE_LIMIT;
        let set = RegexSetBuilder::new(list.iter().map(|r| r.as_str()))
            .size_limit(limit)
            .dfa_size_limit(limit)
            .build()
            .ok();
        RegexList { list, set }
    }

    fn is_match(&self, text: &str) -> bool {
        match &self.set {
            Some(set) => set.is_match(text),
            None => self.list.iter().any(|r| r.is_match(text)),
        }
    }
}

/// `value` is one of `list`, ignoring ASCII case.
fn one_of(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(value))
}

/// The explanation of a condition that holds, formatted when the trace line is written.
pub(super) struct Why<'a> {
    cond: &'a Condition,
    cx: &'a Context<'a>,
    rule: usize,
}

impl<'a> fmt::Display for Why<'a> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Condition::*;
        let (cx, rule) = (self.cx, self.rule);
        let (f, w) = (cx.facts, &cx.words);
        let why = |c: &'a Condition| c.why(cx, rule);
        match self.cond {
            All(list) => {
                for (i, c) in list.iter().enumerate() {
                    if i > 0 {
                        out.write_str(" and ")?;
                    }
                    write!(out, "{}", why(c))?;
                }
                Ok(())
            }
            Any(list) => match list.iter().find(|c| c.holds(cx, rule)) {
                Some(c) => write!(out, "{}", why(c)),
                None => Ok(()),
            },
            Not(c) => {
                out.write_str("not (")?;
                c.describe(out)?;
                out.write_str(")")
            }
            Phrases(index) => match index.find(w) {
                Some(p) => write!(out, "phrase «{}» ({})", p.source, p.list),
                None => Ok(()),
            },
            Regex(list) => match list.list.iter().find(|r| r.is_match(f.normalized)) {
                Some(r) => write!(out, "regex /{}/", r.as_str()),
                None => Ok(()),
            },
            Decision(_) => write!(out, "search decided {}", f.decision),
            ConfidenceBelow(x) => write!(out, "confidence {:.2} < {x}", f.confidence),
            ConfidenceAbove(x) => write!(out, "confidence {:.2} ≥ {x}", f.confidence),
            Topic(_) => match f.topic {
                Some((id, _)) => write!(out, "topic {id}"),
                None => Ok(()),
            },
            TopicTag(tags) => match f.topic {
                Some((id, t)) => match t.iter().find(|tag| tags.contains(tag)) {
                    Some(tag) => write!(out, "topic {id} tagged {tag}"),
                    None => Ok(()),
                },
                None => Ok(()),
            },
            Lang(_) => write!(out, "language {}", f.lang),
            Channel(_) => write!(out, "channel {}", f.channel.unwrap_or_default()),
            Tier(_) => write!(out, "tier {}", f.tier.unwrap_or_default()),
            Region(_) => write!(out, "region {}", f.region),
            FallbacksInARow(_) => {
                write!(out, "{} unanswered messages in a row", f.fallbacks_in_a_row)
            }
            TurnsAtLeast(_) => write!(out, "message {} of the session", f.turn),
            EscalatedBefore(b) => out.write_str(if *b {
                "went to a person before"
            } else {
                "never went to a person"
            }),
            Shouting(b) => out.write_str(if *b { "shouting" } else { "not shouting" }),
            Open(_) => out.write_str(if f.open { "open now" } else { "closed now" }),
            Holiday(_) => out.write_str(if f.holiday {
                "public holiday"
            } else {
                "not a holiday"
            }),
            Signal(list) => match list.iter().find_map(|s| cx.evidence(*s)) {
                Some(evidence) => write!(out, "{evidence}"),
                None => Ok(()),
            },
            Intent(_) => {
                let s = cx.intent(rule);
                let examples = &cx.rules[rule].examples;
                if let Some(e) = s.example.and_then(|i| examples.positive.get(i)) {
                    write!(out, "intent {:.2} ~ «{}» ({})", s.score, e.text, e.list)?;
                }
                let counter = s.counter_example.and_then(|i| examples.negative.get(i));
                if let Some(e) = counter.filter(|_| s.counter > 0.0) {
                    write!(out, " (counter-example {:.2} ~ «{}»)", s.counter, e.text)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{rules, run};
    use crate::rules::RuleSet;
    use crate::text::normalize;
    use std::collections::BTreeSet;
    use std::path::Path;

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

    #[test]
    fn signals_are_conditions_with_their_evidence_in_the_trace() {
        let set = rules(
            r#"
[[rule]]
id = "dispute"
[rule.when]
signal = ["money_mismatch", "contact_count"]
[rule.then]
escalate = { queue = "support" }
"#,
        );
        let out = run(
            &set,
            "paid 30 euros at the shop although the website said 22 euros",
        );
        assert!(out.escalation.is_some());
        assert!(
            out.trace
                .iter()
                .any(|t| t.contains("signal money_mismatch («30» against «22»)")),
            "{:?}",
            out.trace
        );
        let out = run(&set, "I rang your office four times on Friday");
        assert!(out.trace.iter().any(|t| t.contains("signal contact_count")));
        assert!(run(&set, "what does a 2kg parcel to Chennai cost?")
            .escalation
            .is_none());

        let (_, diags) = RuleSet::parse(
            Path::new("rules/s.toml"),
            "[[rule]]\nid = \"s\"\n[rule.when]\nsignal = \"moneys\"\n[rule.then]\nformal = true\n",
            &[],
            &BTreeSet::new(),
        );
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rules/s.toml:4:10: error:")
                    && l.contains("unknown signal `moneys`")
                    && l.contains("money_mismatch, contact_count")),
            "{lines:#?}"
        );
    }
}
