//! Escalation and routing rules from `rules/*.toml`: the "decide" stage.
//!
//! A rule has an id, a priority, a condition over what is known about the message (its
//! words, the knowledge search result, the customer, the session, the clock) and actions
//! (escalate to a queue, force the formal register, pick the reply message, tag, suppress the
//! knowledge answer). Rules run in priority order and every matching rule applies; see
//! `rules/README.md` for the file format and how actions combine.

use crate::error::Diagnostic;
use crate::lang::Lang;
use crate::model::{Decision, Escalation, Priority};
use crate::text::romanized::{fold_greeklish, fold_telugu};
use crate::text::{normalize, words};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Files in `rules/` that are not rule files.
const NOT_RULE_FILES: &[&str] = &["calendar.toml", "queues.toml"];

/// Largest compiled regex, in bytes: keeps hostile or accidental huge patterns out.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Every rule of a data directory, sorted by priority (highest first).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    queues: BTreeMap<String, String>,
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
    when: Condition,
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

/// Which phrase list, and how its words are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Plain = 0,
    Greeklish = 1,
    TeluguLatin = 2,
}

#[derive(Debug, Clone)]
struct Phrase {
    /// Words as written (normalized, folded for romanized lists); `true` = prefix (`word*`).
    words: Vec<(String, bool)>,
    /// The phrase as the editor wrote it, for the trace.
    source: String,
    list: &'static str,
}

#[derive(Debug, Clone)]
enum Condition {
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

/// What the rules see of one message.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
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
pub struct Outcome {
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

/// The words of a message, in each form the phrase lists compare against.
struct Words<'a> {
    plain: Vec<&'a str>,
    greeklish: Vec<String>,
    telugu: Vec<String>,
}

impl<'a> Words<'a> {
    fn new(normalized: &'a str) -> Words<'a> {
        let plain: Vec<&str> = words(normalized).collect();
        let fold = |f: fn(&str) -> String| -> Vec<String> {
            plain
                .iter()
                .map(|w| if w.is_ascii() { f(w) } else { String::new() })
                .collect()
        };
        let greeklish = fold(fold_greeklish);
        let telugu = fold(fold_telugu);
        Words {
            plain,
            greeklish,
            telugu,
        }
    }

    fn get(&self, kind: ListKind, i: usize) -> &str {
        match kind {
            ListKind::Plain => self.plain[i],
            ListKind::Greeklish => &self.greeklish[i],
            ListKind::TeluguLatin => &self.telugu[i],
        }
    }
}

impl Phrase {
    fn kind(&self) -> ListKind {
        match self.list {
            "el_latn" => ListKind::Greeklish,
            "te_latn" => ListKind::TeluguLatin,
            _ => ListKind::Plain,
        }
    }

    /// True when the phrase occurs at word `start` of the message.
    fn matches_at(&self, w: &Words<'_>, start: usize) -> bool {
        let kind = self.kind();
        start + self.words.len() <= w.plain.len()
            && self.words.iter().enumerate().all(|(j, (pw, prefix))| {
                let word = w.get(kind, start + j);
                if *prefix {
                    word.starts_with(pw.as_str())
                } else {
                    word == pw
                }
            })
    }
}

/// Phrases indexed by their first word, so a message is checked in time proportional to
/// its own length rather than to the length of the lists.
#[derive(Debug, Clone)]
struct PhraseIndex {
    phrases: Vec<Phrase>,
    /// Per list kind: exact first word → phrases starting with it.
    by_first: [HashMap<String, Vec<usize>>; 3],
    /// Phrases whose first word is a prefix (`δικηγορ*`).
    prefixed: Vec<usize>,
}

impl PhraseIndex {
    fn new(phrases: Vec<Phrase>) -> PhraseIndex {
        let mut by_first: [HashMap<String, Vec<usize>>; 3] = Default::default();
        let mut prefixed = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            match p.words.first() {
                Some((_, true)) => prefixed.push(i),
                Some((w, false)) => by_first[p.kind() as usize]
                    .entry(w.clone())
                    .or_default()
                    .push(i),
                None => {}
            }
        }
        PhraseIndex {
            phrases,
            by_first,
            prefixed,
        }
    }

    fn find(&self, w: &Words<'_>) -> Option<&Phrase> {
        for kind in [ListKind::Plain, ListKind::Greeklish, ListKind::TeluguLatin] {
            let index = &self.by_first[kind as usize];
            if index.is_empty() {
                continue;
            }
            for start in 0..w.plain.len() {
                if let Some(list) = index.get(w.get(kind, start)) {
                    if let Some(&i) = list.iter().find(|&&i| self.phrases[i].matches_at(w, start)) {
                        return Some(&self.phrases[i]);
                    }
                }
            }
        }
        self.prefixed
            .iter()
            .map(|&i| &self.phrases[i])
            .find(|p| (0..w.plain.len()).any(|start| p.matches_at(w, start)))
    }
}

/// Shouting: `!!!`, or at least 8 capitals making 70% of the letters.
pub fn is_shouting(text: &str) -> bool {
    if text.contains("!!!") {
        return true;
    }
    // Letters without case (Telugu) count too: a Latin word in a Telugu sentence is not shouting.
    let (mut upper, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_uppercase() {
            upper += 1;
        }
    }
    upper >= 8 && upper * 10 >= letters * 7
}

impl Condition {
    /// `Some(why)` when the condition holds.
    fn eval(&self, f: &Facts<'_>, w: &Words<'_>) -> Option<String> {
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

impl RuleSet {
    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The queues of `rules/queues.toml`: id → description.
    pub fn queues(&self) -> &BTreeMap<String, String> {
        &self.queues
    }

    /// Runs every rule over `facts`.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Outcome {
        let words = Words::new(facts.normalized);
        let mut out = Outcome::default();
        let mut raises = 0;
        for rule in &self.rules {
            let Some(why) = rule.when.eval(facts, &words) else {
                continue;
            };
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

    /// Loads `data_dir/rules/*.toml`. `messages` is the set of Fluent message ids, to check
    /// that every `message` a rule names exists. Returns the rules and every problem found.
    pub fn load(data_dir: &Path, messages: &BTreeSet<String>) -> (RuleSet, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let dir = data_dir.join("rules");
        let queues = load_queues(data_dir, &mut diags);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !NOT_RULE_FILES.contains(&n))
                })
                .collect(),
            Err(e) => {
                diags.push(Diagnostic::error_at(
                    Path::new("rules"),
                    "",
                    0,
                    format!("cannot read: {e}"),
                ));
                Vec::new()
            }
        };
        files.sort();
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for file in files {
            let rel = PathBuf::from("rules").join(file.file_name().unwrap_or_default());
            let src = match crate::error::read_content(&file, &rel) {
                Ok(s) => s,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            for rule in parse_rules(&rel, &src, &queues, messages, &mut diags) {
                let (rule, offset) = rule;
                let (line, col) = crate::error::line_col(&src, offset);
                if let Some(first) = seen.get(&rule.id) {
                    diags.push(
                        Diagnostic::error_at(
                            &rel,
                            &src,
                            offset,
                            format!("duplicate rule id `{}`", rule.id),
                        )
                        .with_hint(format!("first defined at {first}")),
                    );
                    continue;
                }
                seen.insert(rule.id.clone(), format!("{}:{line}:{col}", rel.display()));
                rules.push(rule);
            }
        }
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        (RuleSet { rules, queues }, diags)
    }

    /// Parses rules from one file's text (for tests and tools); queues as given.
    pub fn parse(
        rel: &Path,
        src: &str,
        queues: &[&str],
        messages: &BTreeSet<String>,
    ) -> (RuleSet, Vec<Diagnostic>) {
        let queues: BTreeMap<String, String> = queues
            .iter()
            .map(|q| (q.to_string(), String::new()))
            .collect();
        let mut diags = Vec::new();
        let mut rules: Vec<Rule> = parse_rules(rel, src, &queues, messages, &mut diags)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        (RuleSet { rules, queues }, diags)
    }
}

fn load_queues(data_dir: &Path, diags: &mut Vec<Diagnostic>) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawQueues {
        queues: BTreeMap<String, String>,
    }
    let rel = Path::new("rules/queues.toml");
    let src = match crate::error::read_content(&data_dir.join(rel), rel) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d.with_hint("list the queues of people as [queues] id = \"description\""));
            return BTreeMap::new();
        }
    };
    match toml::from_str::<RawQueues>(&src) {
        Ok(q) => q.queues,
        Err(e) => {
            diags.push(Diagnostic::from_toml(rel, &src, &e));
            BTreeMap::new()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    reason: String,
    when: Option<Spanned<RawCondition>>,
    #[serde(default)]
    then: Option<Spanned<RawActions>>,
}

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
struct RawCondition {
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalate {
    queue: Spanned<String>,
    #[serde(default = "normal")]
    priority: Spanned<String>,
}

fn normal() -> Spanned<String> {
    Spanned::new(0..0, "normal".to_string())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawActions {
    escalate: Option<Spanned<RawEscalate>>,
    #[serde(default)]
    raise_priority: bool,
    #[serde(default)]
    formal: bool,
    message: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    suppress_answer: bool,
    #[serde(default)]
    stop: bool,
}

const CONDITION_KEYS: &str = "phrases, regex, decision, confidence_below, confidence_above, topic, topic_tag, lang, channel, tier, region, fallbacks_in_a_row, turns_at_least, escalated_before, shouting, open, holiday, all, any, not";

fn parse_rules(
    rel: &Path,
    src: &str,
    queues: &BTreeMap<String, String>,
    messages: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(Rule, usize)> {
    let raw: RawFile = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let mut d = Diagnostic::from_toml(rel, src, &e);
            if d.message.contains("unknown field") {
                d = d.with_hint(format!(
                    "rule keys: id, priority, reason, when, then; condition keys: {CONDITION_KEYS}; actions: escalate, raise_priority, formal, message, tags, suppress_answer, stop"
                ));
            }
            diags.push(d);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for r in raw.rule {
        let start = r.span().start;
        let r = r.into_inner();
        let before = diags.len();
        let mut err = |offset: usize, msg: String| {
            diags.push(Diagnostic::error_at(rel, src, offset, msg));
        };
        let id = r.id.get_ref().trim().to_string();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            err(
                r.id.span().start,
                format!(
                    "rule id {:?} must be lowercase letters, digits and _",
                    r.id.get_ref()
                ),
            );
        }
        let Some(when) = r.when else {
            err(start, format!("rule `{id}` has no [rule.when] condition"));
            continue;
        };
        let when_offset = when.span().start;
        let cond = convert(when.into_inner(), when_offset, rel, src, diags);
        let mut then = Actions::default();
        match r.then {
            None => diags.push(Diagnostic::error_at(
                rel,
                src,
                start,
                format!("rule `{id}` has no [rule.then] actions"),
            )),
            Some(t) => {
                let t = t.into_inner();
                if let Some(e) = t.escalate {
                    let e = e.into_inner();
                    if !queues.contains_key(e.queue.get_ref()) {
                        diags.push(
                            Diagnostic::error_at(
                                rel,
                                src,
                                e.queue.span().start,
                                format!("unknown queue `{}`", e.queue.get_ref()),
                            )
                            .with_hint(format!(
                                "queues in rules/queues.toml: {}",
                                queues.keys().cloned().collect::<Vec<_>>().join(", ")
                            )),
                        );
                    }
                    let priority = match e.priority.get_ref().parse::<Priority>() {
                        Ok(p) => p,
                        Err(msg) => {
                            diags.push(Diagnostic::error_at(
                                rel,
                                src,
                                e.priority.span().start,
                                msg,
                            ));
                            Priority::Normal
                        }
                    };
                    then.escalate = Some((e.queue.into_inner(), priority));
                }
                if let Some(m) = t.message {
                    if !messages.is_empty() && !messages.contains(m.get_ref()) {
                        diags.push(
                            Diagnostic::error_at(
                                rel,
                                src,
                                m.span().start,
                                format!("no Fluent message `{}` in locales/", m.get_ref()),
                            )
                            .with_hint("add it to locales/<lang>/*.ftl in every language"),
                        );
                    }
                    then.message = Some(m.into_inner());
                }
                then.raise_priority = t.raise_priority;
                then.formal = t.formal;
                then.tags = t.tags;
                then.suppress_answer = t.suppress_answer;
                then.stop = t.stop;
            }
        }
        if diags.len() > before {
            continue;
        }
        if let Some(cond) = cond {
            out.push((
                Rule {
                    id,
                    priority: r.priority,
                    reason: r.reason,
                    file: rel.to_path_buf(),
                    when: cond,
                    then,
                },
                r.id.span().start,
            ));
        }
    }
    out
}

fn convert(
    raw: RawCondition,
    offset: usize,
    rel: &Path,
    src: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Condition> {
    let before = diags.len();
    let mut err = |offset: usize, msg: String| {
        diags.push(Diagnostic::error_at(rel, src, offset, msg));
    };
    let mut parts = Vec::new();
    let nested =
        |list: Vec<Spanned<RawCondition>>, diags: &mut Vec<Diagnostic>| -> Vec<Condition> {
            list.into_iter()
                .filter_map(|c| {
                    let o = c.span().start;
                    convert(c.into_inner(), o, rel, src, diags)
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
        parts.push(Condition::Regex(compiled));
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
    if let Some(list) = all {
        parts.push(Condition::All(nested(list, diags)));
    }
    if let Some(list) = any {
        let v = nested(list, diags);
        parts.push(Condition::Any(v));
    }
    if let Some(c) = not {
        let o = c.span().start;
        if let Some(c) = convert((*c).into_inner(), o, rel, src, diags) {
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

fn parse_phrase(text: &str, list: &'static str) -> Result<Phrase, String> {
    let mut out = Vec::new();
    for raw_word in text.split_whitespace() {
        let prefix = raw_word.ends_with('*');
        let n = normalize(raw_word.trim_end_matches('*'));
        let ws: Vec<&str> = words(&n).collect();
        if ws.is_empty() {
            continue;
        }
        let last = ws.len() - 1;
        for (i, w) in ws.iter().enumerate() {
            let folded = match list {
                "el_latn" => fold_greeklish(w),
                "te_latn" => fold_telugu(w),
                _ => w.to_string(),
            };
            if prefix && i == last && folded.chars().count() < 3 {
                return Err(format!(
                    "`{raw_word}` is too short to match as a prefix (at least 3 letters before *)"
                ));
            }
            out.push((folded, prefix && i == last));
        }
    }
    if out.is_empty() {
        return Err(format!("phrase {text:?} has no words"));
    }
    Ok(Phrase {
        words: out,
        source: text.to_string(),
        list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> (String, Facts<'static>) {
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

    fn rules(src: &str) -> RuleSet {
        let (set, diags) = RuleSet::parse(
            Path::new("rules/t.toml"),
            src,
            &["support", "legal"],
            &BTreeSet::new(),
        );
        assert!(diags.is_empty(), "{diags:?}");
        set
    }

    fn run(set: &RuleSet, text: &str) -> Outcome {
        let (n, f) = facts(text);
        set.evaluate(&Facts {
            original: text,
            normalized: &n,
            ..f
        })
    }

    const LEGAL: &str = r#"
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
    fn phrases_match_whole_words_across_accents_case_and_zwnj() {
        let set = rules(LEGAL);
        let hit = |t: &str| run(&set, t).escalation.map(|e| e.rule);
        assert_eq!(hit("My LAWYER will call"), Some("legal_threat".into()));
        assert_eq!(hit("θα πάρω δικηγόρο"), Some("legal_threat".into()));
        assert_eq!(hit("ΘΑ ΚΆΝΩ ΜΉΝΥΣΗ"), Some("legal_threat".into()));
        assert_eq!(hit("మా లాయర్‌తో మాట్లాడతాను"), Some("legal_threat".into()));
        assert_eq!(hit("మా లాయర్తో మాట్లాడతాను"), Some("legal_threat".into()));
        assert_eq!(hit("tha paro 8ikigoro"), None, "θ≠δ");
        assert_eq!(hit("Tha paro DIKYGORO"), Some("legal_threat".into()));
        // Not substrings of other words, and phrases need their words in order.
        assert_eq!(hit("lawyers"), None);
        assert_eq!(hit("the court took you"), None);
        assert_eq!(hit("I will take you to court"), Some("legal_threat".into()));
    }

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
    fn shouting() {
        assert!(is_shouting("WHERE IS MY PARCEL"));
        assert!(is_shouting("where is it!!!"));
        assert!(is_shouting("ΠΟΥ ΕΙΝΑΙ ΤΟ ΔΕΜΑ ΜΟΥ"));
        assert!(!is_shouting("Where is my DHL parcel?"));
        assert!(!is_shouting("OK THX"));
        assert!(!is_shouting("నా పార్సెల్ ఎక్కడ!!"));
        assert!(!is_shouting("UPI తో పే చేయొచ్చా?"));
    }

    #[test]
    fn mistakes_are_reported_at_their_line() {
        let src = r#"[[rule]]
id = "a"
[rule.when]
regex = "(unclosed"
[rule.then]
escalate = { queue = "nowhere", priority = "asap" }
message = "no-such-message"

[[rule]]
id = "b"
[rule.when]
phrases.en = ["*"]
shout = true
[rule.then]
formal = true
"#;
        let msgs = BTreeSet::from(["escalate".to_string()]);
        let (_, diags) = RuleSet::parse(Path::new("rules/x.toml"), src, &["support"], &msgs);
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            lines[0].starts_with("rules/x.toml:13:1: error: unknown field `shout`"),
            "{lines:#?}"
        );
        let src = src.replace("shout = true\n", "");
        let (_, diags) = RuleSet::parse(Path::new("rules/x.toml"), &src, &["support"], &msgs);
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let has = |prefix: &str, needle: &str| {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(prefix) && l.contains(needle)),
                "no {prefix} … {needle}: {lines:#?}"
            )
        };
        has("rules/x.toml:4:9:", "bad regex");
        has("rules/x.toml:6:22:", "unknown queue `nowhere`");
        has("rules/x.toml:6:44:", "unknown priority `asap`");
        has("rules/x.toml:7:11:", "no Fluent message `no-such-message`");
        has("rules/x.toml:12:15:", "has no words");
    }

    #[test]
    fn huge_regexes_are_refused() {
        let src = "[[rule]]\nid = \"a\"\n[rule.when]\nregex = \"\\\\w{1000}\\\\w{1000}\\\\w{1000}\"\n[rule.then]\nformal = true\n";
        let (_, diags) = RuleSet::parse(Path::new("r.toml"), src, &[], &BTreeSet::new());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("bad regex"), "{}", diags[0]);
    }
}
