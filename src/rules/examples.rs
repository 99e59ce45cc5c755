//! Reading a rule's examples and counter-examples (`[rule.examples]`,
//! `[rule.counter_examples]`) and its `intent` conditions, with a diagnostic for every
//! mistake.

use super::intent::{Example, Examples, IntentCondition, DEFAULT_MARGIN};
use super::Rule;
use crate::error::Diagnostic;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::HashMap;
use std::path::Path;

/// A list of example messages, with the position of the list and of each message.
type RawList = Spanned<Vec<Spanned<String>>>;

/// Example lists, with their positions.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLists {
    en: Option<RawList>,
    el: Option<RawList>,
    te: Option<RawList>,
    el_latn: Option<RawList>,
    te_latn: Option<RawList>,
}

impl RawLists {
    fn into_lists(self) -> [(&'static str, Option<RawList>); 5] {
        [
            ("en", self.en),
            ("el", self.el),
            ("te", self.te),
            ("el_latn", self.el_latn),
            ("te_latn", self.te_latn),
        ]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntent {
    min: Spanned<f64>,
    margin: Option<Spanned<f64>>,
}

/// The condition of an `intent` table; a `min` outside (0, 1] or a `margin` outside [0, 1] is
/// reported.
pub(super) fn parse_intent(
    i: RawIntent,
    rel: &Path,
    src: &str,
    diags: &mut Vec<Diagnostic>,
) -> IntentCondition {
    let mut err = |offset: usize, msg: String| {
        diags.push(Diagnostic::error_at(rel, src, offset, msg));
    };
    let min = *i.min.get_ref();
    if !(min > 0.0 && min <= 1.0) {
        err(
            i.min.span().start,
            format!("intent min {min} is outside 0–1 (a similarity; 1 is the example itself)"),
        );
    }
    let margin = i
        .margin
        .as_ref()
        .map_or(DEFAULT_MARGIN as f64, |m| *m.get_ref());
    if !(0.0..=1.0).contains(&margin) {
        let o = i.margin.as_ref().map_or(0, |m| m.span().start);
        err(o, format!("intent margin {margin} is outside 0–1"));
    }
    IntentCondition {
        min: min as f32,
        margin: margin as f32,
    }
}

/// The examples and counter-examples of rule `id`, checked: no empty list or example, no
/// example twice, no example that is also a counter-example, examples for every `intent`
/// condition (at `intents`), and warnings for examples no condition uses and for examples
/// that share most of their words with a counter-example. Returns the examples and where
/// each positive one is in `src`.
pub(super) fn check_examples(
    id: &str,
    examples: Option<Spanned<RawLists>>,
    counter_examples: Option<Spanned<RawLists>>,
    intents: &[usize],
    rel: &Path,
    src: &str,
    diags: &mut Vec<Diagnostic>,
) -> (Examples, Vec<usize>) {
    let mut out = Examples::default();
    let mut positive_at = Vec::new();
    // Word sets of the counter-examples, with where each is, to warn of near overlaps.
    let mut words_of: Vec<(bool, Vec<String>, usize, String)> = Vec::new();
    let at = |offset: usize| {
        let (line, col) = crate::error::line_col(src, offset);
        format!("{}:{line}:{col}", rel.display())
    };
    // Normalized words of every example and counter-example → where it is.
    let mut seen: HashMap<(bool, String), usize> = HashMap::new();
    let mut first_table = None;
    for (key, positive, table) in [
        ("examples", true, examples),
        ("counter_examples", false, counter_examples),
    ] {
        let Some(table) = table else { continue };
        first_table.get_or_insert(table.span().start);
        for (list, items) in table.into_inner().into_lists() {
            let Some(items) = items else { continue };
            if items.get_ref().is_empty() {
                diags.push(
                    Diagnostic::error_at(
                        rel,
                        src,
                        items.span().start,
                        format!("{key}.{list} is empty"),
                    )
                    .with_hint("list messages as customers write them, or remove the key"),
                );
                continue;
            }
            for item in items.into_inner() {
                let offset = item.span().start;
                let text = item.into_inner();
                let normalized = crate::text::normalize(&text);
                let words: Vec<&str> = crate::text::words(&normalized).collect();
                if words.is_empty() {
                    diags.push(Diagnostic::error_at(
                        rel,
                        src,
                        offset,
                        format!("{key}.{list}: {text:?} has no words"),
                    ));
                    continue;
                }
                let joined = words.join(" ");
                if let Some(&first) = seen.get(&(positive, joined.clone())) {
                    diags.push(
                        Diagnostic::error_at(
                            rel,
                            src,
                            offset,
                            format!("duplicate {key} entry {text:?}"),
                        )
                        .with_hint(format!("first listed at {}", at(first))),
                    );
                    continue;
                }
                if let Some(&other) = seen.get(&(!positive, joined.clone())) {
                    diags.push(
                        Diagnostic::error_at(
                            rel,
                            src,
                            offset,
                            format!(
                                "{text:?} is both an example and a counter-example of rule `{id}`"
                            ),
                        )
                        .with_hint(format!("the other is at {}; keep one", at(other))),
                    );
                    continue;
                }
                seen.insert((positive, joined), offset);
                let set = word_set(&normalized);
                if let Some((_, _, other, other_text)) = words_of
                    .iter()
                    .find(|(p, w, _, _)| *p != positive && overlap(w, &set) >= NEAR)
                {
                    diags.push(
                        Diagnostic::error_at(
                            rel,
                            src,
                            offset,
                            format!(
                                "{key}.{list} {text:?} shares most of its words with {other_text:?} of rule `{id}`, on the other side"
                            ),
                        )
                        .with_hint(format!(
                            "at {}; the two pull the rule both ways: reword one or drop it",
                            at(*other)
                        ))
                        .warning(),
                    );
                }
                words_of.push((positive, set, offset, text.clone()));
                let into = if positive {
                    positive_at.push(offset);
                    &mut out.positive
                } else {
                    &mut out.negative
                };
                into.push(Example { text, list });
            }
        }
    }
    if out.positive.is_empty() {
        for &offset in intents {
            diags.push(
                Diagnostic::error_at(
                    rel,
                    src,
                    offset,
                    format!("`intent` in rule `{id}`, which has no examples"),
                )
                .with_hint("add examples.en = [..] (and el, te, el_latn, te_latn) to the rule"),
            );
        }
    }
    if intents.is_empty() {
        if let Some(offset) = first_table {
            diags.push(
                Diagnostic::error_at(
                    rel,
                    src,
                    offset,
                    format!("rule `{id}` has examples but no `intent` condition uses them"),
                )
                .with_hint("add `intent = { min = .. }` to its [rule.when]")
                .warning(),
            );
        }
    }
    (out, positive_at)
}

/// Word overlap at or above which two examples say nearly the same.
pub(super) const NEAR: f32 = 0.6;

/// The distinct words of a normalized text, sorted.
pub(super) fn word_set(normalized: &str) -> Vec<String> {
    let mut w: Vec<String> = crate::text::words(normalized).map(str::to_string).collect();
    w.sort_unstable();
    w.dedup();
    w
}

/// Shared words over all the words of both (Jaccard) of two sorted word sets.
pub(super) fn overlap(a: &[String], b: &[String]) -> f32 {
    let shared = a.iter().filter(|w| b.binary_search(w).is_ok()).count();
    let all = a.len() + b.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f32 / all as f32
    }
}

/// Warns of each example of `rule` that shares most of its words with an example of an
/// earlier rule: the two rules then compete for the same messages. Adds the rule's examples
/// to `earlier`.
pub(super) fn warn_shared_examples(
    rule: &Rule,
    rel: &Path,
    src: &str,
    earlier: &mut Vec<(String, Vec<String>, String, String)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut mine = Vec::new();
    for (example, &offset) in rule.examples.positive.iter().zip(&rule.example_at) {
        let set = word_set(&crate::text::normalize(&example.text));
        let close = earlier
            .iter()
            .find(|(id, words, _, _)| *id != rule.id && overlap(words, &set) >= NEAR);
        if let Some((other, _, text, at)) = close {
            diags.push(
                Diagnostic::error_at(
                    rel,
                    src,
                    offset,
                    format!(
                        "example {:?} of rule `{}` shares most of its words with {text:?}, an example of rule `{other}`",
                        example.text, rule.id
                    ),
                )
                .with_hint(format!("at {at}; reword one so each rule keeps its own meaning"))
                .warning(),
            );
        }
        let (line, col) = crate::error::line_col(src, offset);
        mine.push((
            rule.id.clone(),
            set,
            example.text.clone(),
            format!("{}:{line}:{col}", rel.display()),
        ));
    }
    earlier.extend(mine);
}

#[cfg(test)]
mod tests {
    use crate::rules::RuleSet;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn examples_are_checked() {
        let src = r#"[[rule]]
id = "a"
[rule.when]
any = [ { phrases.en = ["x ray"] }, { intent = { min = 1.5, margin = -1 } } ]
[rule.then]
formal = true
[rule.examples]
en = ["I want a person", "i want a PERSON!", "how do refunds work"]
el = []
te_latn = ["  ?! "]
[rule.counter_examples]
en = ["How do refunds work?"]

[[rule]]
id = "b"
[rule.when]
intent = { min = 0.6 }
[rule.then]
formal = true
[rule.counter_examples]
en = ["where is my parcel"]

[[rule]]
id = "c"
[rule.when]
phrases.en = ["x"]
[rule.then]
formal = true
[rule.examples]
en = ["an unused example"]
"#;
        let (set, diags) = RuleSet::parse(Path::new("rules/x.toml"), src, &[], &BTreeSet::new());
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let has = |prefix: &str, needle: &str| {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(prefix) && l.contains(needle)),
                "no {prefix} … {needle}: {lines:#?}"
            )
        };
        has("rules/x.toml:4:56:", "intent min 1.5 is outside 0–1");
        has("rules/x.toml:4:70:", "intent margin -1 is outside 0–1");
        has(
            "rules/x.toml:8:26:",
            "duplicate examples entry \"i want a PERSON!\"",
        );
        has("rules/x.toml:9:6:", "examples.el is empty");
        has("rules/x.toml:10:12:", "has no words");
        has(
            "rules/x.toml:12:7:",
            "is both an example and a counter-example of rule `a`",
        );
        has(
            "rules/x.toml:17:10:",
            "`intent` in rule `b`, which has no examples",
        );
        has(
            "rules/x.toml:29:1: warning:",
            "rule `c` has examples but no `intent` condition",
        );
        assert_eq!(lines.len(), 8, "{lines:#?}");
        // A warning does not drop its rule; errors do.
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        assert_eq!(
            set.rules()[0].examples.positive[0].text,
            "an unused example"
        );
    }

    #[test]
    fn near_examples_are_warned_of() {
        let src = r#"[[rule]]
id = "a"
[rule.when]
intent = { min = 0.6 }
[rule.then]
formal = true
[rule.examples]
en = ["my card was charged two times for one label"]
[rule.counter_examples]
en = ["my card was charged for one label"]

[[rule]]
id = "b"
[rule.when]
intent = { min = 0.6 }
[rule.then]
formal = true
[rule.examples]
en = ["was my card charged two times for one label"]
"#;
        let (_, diags) = RuleSet::parse(Path::new("rules/x.toml"), src, &[], &BTreeSet::new());
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rules/x.toml:10:7: warning:")
                    && l.contains("shares most of its words")
                    && l.contains("rules/x.toml:8:7")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rules/x.toml:19:7: warning:")
                    && l.contains("an example of rule `a`")),
            "{lines:#?}"
        );
        // Warnings only: both rules load.
        assert!(diags
            .iter()
            .all(|d| d.severity == crate::error::Severity::Warning));
    }
}
