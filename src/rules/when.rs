//! A rule's `when` table, read into a [`Condition`]: every key checked with its place in the
//! file.

use super::condition::{Condition, RegexList};
use super::examples::{parse_intent, RawIntent};
use super::load::REGEX_SIZE_LIMIT;
use super::phrase::{parse_phrase, PhraseIndex};
use super::signals::parse_signals;
use crate::error::Diagnostic;
use crate::lang::Lang;
use crate::model::Decision;
use regex::RegexBuilder;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::path::Path;

/// The keys a condition table may have, for the hint of an unknown key.
pub(super) const CONDITION_KEYS: &str = "phrases, regex, intent, decision, confidence_below, confidence_above, topic, topic_tag, lang, channel, tier, region, fallbacks_in_a_row, turns_at_least, escalated_before, shouting, open, holiday, signal, all, any, not";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPhrases {
    en: Option<Vec<Spanned<String>>>,
    el: Option<Vec<Spanned<String>>>,
    te: Option<Vec<Spanned<String>>>,
    el_latn: Option<Vec<Spanned<String>>>,
    te_latn: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    all: Option<Vec<Spanned<RawCondition>>>,
    any: Option<Vec<Spanned<RawCondition>>>,
    not: Option<Box<Spanned<RawCondition>>>,
    phrases: Option<RawPhrases>,
    regex: Option<Spanned<toml::Value>>,
    decision: Option<Vec<Spanned<String>>>,
    confidence_below: Option<Spanned<f64>>,
    confidence_above: Option<Spanned<f64>>,
    topic: Option<Vec<String>>,
    topic_tag: Option<Vec<String>>,
    lang: Option<Vec<Spanned<String>>>,
    channel: Option<Vec<String>>,
    tier: Option<Vec<String>>,
    region: Option<Vec<String>>,
    fallbacks_in_a_row: Option<Spanned<u32>>,
    turns_at_least: Option<u32>,
    escalated_before: Option<bool>,
    shouting: Option<bool>,
    open: Option<bool>,
    holiday: Option<bool>,
    intent: Option<Spanned<RawIntent>>,
    signal: Option<Spanned<toml::Value>>,
}

/// The condition of a `when` table. The offset of every `intent` key in it is added to
/// `intents`, to check that the rule has examples.
pub(super) fn convert(
    raw: RawCondition,
    offset: usize,
    rel: &Path,
    src: &str,
    intents: &mut Vec<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Condition> {
    let before = diags.len();
    let mut err = |offset: usize, msg: String| {
        diags.push(Diagnostic::error_at(rel, src, offset, msg));
    };
    let mut parts = Vec::new();
    let nested = |list: Vec<Spanned<RawCondition>>,
                  intents: &mut Vec<usize>,
                  diags: &mut Vec<Diagnostic>|
     -> Vec<Condition> {
        list.into_iter()
            .filter_map(|c| {
                let o = c.span().start;
                convert(c.into_inner(), o, rel, src, intents, diags)
            })
            .collect()
    };
    let (all, any, not) = (raw.all, raw.any, raw.not);
    if let Some(p) = raw.phrases {
        let mut phrases = Vec::new();
        for (list, items) in [
            ("en", p.en),
            ("el", p.el),
            ("te", p.te),
            ("el_latn", p.el_latn),
            ("te_latn", p.te_latn),
        ] {
            for item in items.into_iter().flatten() {
                match parse_phrase(item.get_ref(), list) {
                    Ok(ph) => phrases.push(ph),
                    Err(m) => err(item.span().start, m),
                }
            }
        }
        parts.push(Condition::Phrases(PhraseIndex::new(phrases)));
    }
    if let Some(v) = raw.regex {
        let o = v.span().start;
        let patterns: Vec<String> = match v.into_inner() {
            toml::Value::String(s) => vec![s],
            toml::Value::Array(a) => a
                .into_iter()
                .filter_map(|x| match x {
                    toml::Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if patterns.is_empty() {
            err(o, "regex must be a string or a list of strings".into());
        }
        let mut compiled = Vec::new();
        for p in patterns {
            match RegexBuilder::new(&p)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(r) => compiled.push(r),
                Err(e) => err(
                    o,
                    format!(
                        "bad regex {p:?}: {}",
                        e.to_string().lines().last().unwrap_or("invalid").trim()
                    ),
                ),
            }
        }
        parts.push(Condition::Regex(RegexList::new(compiled)));
    }
    if let Some(list) = raw.decision {
        let mut ds = Vec::new();
        for d in list {
            match d.get_ref().as_str() {
                "answer" => ds.push(Decision::Answer),
                "clarify" => ds.push(Decision::Clarify),
                "fallback" => ds.push(Decision::Fallback),
                other => err(
                    d.span().start,
                    format!("unknown decision `{other}`; use answer, clarify or fallback"),
                ),
            }
        }
        parts.push(Condition::Decision(ds));
    }
    for (v, below) in [(raw.confidence_below, true), (raw.confidence_above, false)] {
        if let Some(v) = v {
            let x = *v.get_ref();
            if !(0.0..=1.0).contains(&x) {
                err(v.span().start, format!("confidence {x} is outside 0–1"));
            }
            let x = x as f32;
            parts.push(if below {
                Condition::ConfidenceBelow(x)
            } else {
                Condition::ConfidenceAbove(x)
            });
        }
    }
    if let Some(t) = raw.topic {
        parts.push(Condition::Topic(t));
    }
    if let Some(t) = raw.topic_tag {
        parts.push(Condition::TopicTag(t));
    }
    if let Some(list) = raw.lang {
        let mut langs = Vec::new();
        for l in list {
            match l.get_ref().parse::<Lang>() {
                Ok(x) => langs.push(x),
                Err(e) => err(l.span().start, e.to_string()),
            }
        }
        parts.push(Condition::Lang(langs));
    }
    if let Some(c) = raw.channel {
        parts.push(Condition::Channel(c));
    }
    if let Some(t) = raw.tier {
        parts.push(Condition::Tier(t));
    }
    if let Some(r) = raw.region {
        parts.push(Condition::Region(r));
    }
    if let Some(n) = raw.fallbacks_in_a_row {
        if *n.get_ref() == 0 {
            err(
                n.span().start,
                "fallbacks_in_a_row must be at least 1".into(),
            );
        }
        parts.push(Condition::FallbacksInARow(*n.get_ref()));
    }
    if let Some(n) = raw.turns_at_least {
        parts.push(Condition::TurnsAtLeast(n));
    }
    if let Some(b) = raw.escalated_before {
        parts.push(Condition::EscalatedBefore(b));
    }
    if let Some(b) = raw.shouting {
        parts.push(Condition::Shouting(b));
    }
    if let Some(b) = raw.open {
        parts.push(Condition::Open(b));
    }
    if let Some(b) = raw.holiday {
        parts.push(Condition::Holiday(b));
    }
    if let Some(v) = raw.signal {
        parts.push(Condition::Signal(parse_signals(v, &mut err)));
    }
    if let Some(i) = raw.intent {
        intents.push(i.span().start);
        parts.push(Condition::Intent(parse_intent(
            i.into_inner(),
            rel,
            src,
            diags,
        )));
    }
    if let Some(list) = all {
        parts.push(Condition::All(nested(list, intents, diags)));
    }
    if let Some(list) = any {
        let v = nested(list, intents, diags);
        parts.push(Condition::Any(v));
    }
    if let Some(c) = not {
        let o = c.span().start;
        if let Some(c) = convert((*c).into_inner(), o, rel, src, intents, diags) {
            parts.push(Condition::Not(Box::new(c)));
        }
    }
    if parts.is_empty() {
        diags.push(
            Diagnostic::error_at(rel, src, offset, "empty condition")
                .with_hint(format!("use one or more of: {CONDITION_KEYS}")),
        );
    }
    if diags.len() > before {
        return None;
    }
    Some(if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Condition::All(parts)
    })
}
