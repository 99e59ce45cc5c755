//! Reading rules: `rules/*.toml` and `rules/queues.toml`, with a diagnostic for every
//! mistake, and the conversion of each `when` table to a [`Condition`].

use super::examples::{check_examples, warn_shared_examples, RawLists};
use super::when::{convert, RawCondition, CONDITION_KEYS};
use super::{Actions, Rule, RuleSet};
use crate::error::{content_files, Depth, Diagnostic, Severity};
use crate::model::Priority;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Files in `rules/` that are not rule files.
const NOT_RULE_FILES: &[&str] = &["calendar.toml", "queues.toml"];

/// Largest compiled regex, in bytes: keeps hostile or accidental huge patterns out.
pub(super) const REGEX_SIZE_LIMIT: usize = 256 * 1024;

impl RuleSet {
    /// Loads `data_dir/rules/*.toml`. `messages` is the set of Fluent message ids, to check
    /// that every `message` a rule names exists. Returns the rules and every problem found.
    pub fn load(data_dir: &Path, messages: &BTreeSet<String>) -> (RuleSet, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let dir = data_dir.join("rules");
        let queues = load_queues(data_dir, &mut diags);
        let files = match content_files(&dir, "toml", Depth::Flat) {
            Ok(mut files) => {
                files.retain(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !NOT_RULE_FILES.contains(&n))
                });
                files
            }
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
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        // Every example so far: rule, words, text, where.
        let mut examples: Vec<(String, Vec<String>, String, String)> = Vec::new();
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
                warn_shared_examples(&rule, &rel, &src, &mut examples, &mut diags);
                rules.push(rule);
            }
        }
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        (
            RuleSet {
                rules,
                queues,
                intents: None,
            },
            diags,
        )
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
        let mut examples = Vec::new();
        let mut rules: Vec<Rule> = parse_rules(rel, src, &queues, messages, &mut diags)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        for rule in &rules {
            warn_shared_examples(rule, rel, src, &mut examples, &mut diags);
        }
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        (
            RuleSet {
                rules,
                queues,
                intents: None,
            },
            diags,
        )
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
    examples: Option<Spanned<RawLists>>,
    counter_examples: Option<Spanned<RawLists>>,
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
                    "rule keys: id, priority, reason, when, then, examples, counter_examples; condition keys: {CONDITION_KEYS}; actions: escalate, raise_priority, formal, message, tags, suppress_answer, stop"
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
        let mut intents = Vec::new();
        let cond = convert(
            when.into_inner(),
            when_offset,
            rel,
            src,
            &mut intents,
            diags,
        );
        let (examples, example_at) = check_examples(
            &id,
            r.examples,
            r.counter_examples,
            &intents,
            rel,
            src,
            diags,
        );
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
        if diags[before..]
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            continue;
        }
        if let Some(cond) = cond {
            out.push((
                Rule {
                    id,
                    priority: r.priority,
                    reason: r.reason,
                    file: rel.to_path_buf(),
                    example_at,
                    when: cond,
                    examples,
                    then,
                },
                r.id.span().start,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
