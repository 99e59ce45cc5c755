//! The results of a run: what each reply was against what was expected, a summary per
//! language and the topics answered in place of the expected ones; as text for editors or
//! JSON for tools.

use super::{Expect, Turn};
use crate::error::Error;
use crate::lang::Lang;
use crate::model::{Decision, Reply};
use crate::text::{normalize, words};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// The results of [`Suite::run`](super::Suite::run).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Every case that ran, in file order.
    pub cases: Vec<CaseResult>,
}

/// How one case went.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CaseResult {
    /// The file of the case.
    pub file: PathBuf,
    /// Line of the case, from 1.
    pub line: usize,
    /// Column of the case, from 1.
    pub col: usize,
    /// The case's title.
    pub title: Option<String>,
    /// The language it is counted in: the one it declares, else its first reply's.
    pub lang: Lang,
    /// Each turn's reply and what did not match.
    pub turns: Vec<TurnResult>,
}

/// One message's reply against its expectations.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TurnResult {
    /// Line of the message's text, from 1.
    pub line: usize,
    /// Column of the message's text, from 1.
    pub col: usize,
    /// What the customer wrote.
    pub text: String,
    /// What was expected.
    pub expect: Expect,
    /// The reply; `None` when the engine refused the message (see `mismatches`).
    pub reply: Option<Reply>,
    /// Every expectation the reply does not meet; empty when the turn passed.
    pub mismatches: Vec<Mismatch>,
}

/// One expectation that was not met.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Mismatch {
    /// The key of the test file: `topic`, `decision`, `rule`, `register`, `reply_lang`,
    /// `after_hours`, `contains`, `not_contains`; `reply` when there was no reply.
    pub field: &'static str,
    /// What the test file says.
    pub expected: String,
    /// What the reply has.
    pub got: String,
}

/// The results of one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LangSummary {
    /// Cases that ran.
    pub cases: usize,
    /// Cases whose every turn met its expectations.
    pub passed: usize,
    /// Cases with at least one unmet expectation.
    pub failed: usize,
    /// Replies (turns) that answered.
    pub answer: usize,
    /// Replies that asked the customer to pick a topic.
    pub clarify: usize,
    /// Replies that found nothing to answer.
    pub fallback: usize,
    /// Replies that handed the conversation to a person.
    pub escalate: usize,
}

/// A topic expected by some turns that got something else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Confusion {
    /// The language of the cases.
    pub lang: Lang,
    /// The expected topic.
    pub expected: String,
    /// What the replies gave: a topic, `clarify: <first suggestion>`, `fallback`,
    /// `escalate`, or `no reply`.
    pub got: String,
    /// How many turns.
    pub count: usize,
}

impl TurnResult {
    pub(super) fn of(turn: &Turn, reply: Result<Reply, Error>) -> TurnResult {
        let (reply, mismatches) = match reply {
            Ok(r) => {
                let m = compare(&turn.expect, &r);
                (Some(r), m)
            }
            Err(e) => (
                None,
                vec![Mismatch {
                    field: "reply",
                    expected: "a reply".into(),
                    got: format!("the engine refused the message: {e}"),
                }],
            ),
        };
        TurnResult {
            line: turn.line,
            col: turn.col,
            text: turn.message.text.clone(),
            expect: turn.expect.clone(),
            reply,
            mismatches,
        }
    }

    /// True when the reply met every expectation.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// The topic the reply gave, as compared with `topic`: the answered topic or, when a
    /// clarify was expected, the first suggestion.
    fn got_topic(&self) -> Option<&str> {
        self.reply
            .as_ref()
            .and_then(|r| topic_of(r, self.expect.decision))
    }

    /// What the reply gave in place of a topic, for the confusion list.
    fn got_label(&self) -> String {
        match (&self.reply, self.got_topic()) {
            (_, Some(t)) => t.to_string(),
            (None, None) => "no reply".into(),
            (Some(r), None) => match r.suggestions.first() {
                Some(s) if r.decision == Decision::Clarify => format!("clarify: {}", s.id),
                _ => r.decision.as_str().into(),
            },
        }
    }
}

impl CaseResult {
    /// True when every turn met its expectations.
    pub fn passed(&self) -> bool {
        self.turns.iter().all(TurnResult::passed)
    }
}

fn topic_of(reply: &Reply, expected: Option<Decision>) -> Option<&str> {
    if expected == Some(Decision::Clarify) && reply.decision == Decision::Clarify {
        return reply.suggestions.first().map(|s| s.id.as_str());
    }
    reply.answer_id.as_deref()
}

/// Every expectation of `expect` that `reply` does not meet.
fn compare(expect: &Expect, reply: &Reply) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut differ = |field, expected: String, got: String| {
        if expected != got {
            out.push(Mismatch {
                field,
                expected,
                got,
            });
        }
    };
    if let Some(d) = expect.decision {
        differ("decision", d.to_string(), reply.decision.to_string());
    }
    if let Some(t) = &expect.topic {
        let got = match topic_of(reply, expect.decision) {
            Some(id) => id.to_string(),
            None => format!("none ({})", what_instead(reply)),
        };
        differ("topic", t.clone(), got);
    }
    if let Some(rule) = &expect.rule {
        let got = match &reply.escalation {
            Some(e) => e.rule.clone(),
            None => format!("none (no escalation: {})", reply.decision),
        };
        differ("rule", rule.clone(), got);
    }
    if let Some(f) = expect.register {
        differ(
            "register",
            f.as_str().into(),
            reply.formality.as_str().into(),
        );
    }
    if let Some(l) = expect.lang {
        differ("reply_lang", l.code().into(), reply.lang.code().into());
    }
    if let Some(a) = expect.after_hours {
        differ("after_hours", a.to_string(), reply.after_hours.to_string());
    }
    for w in &expect.contains {
        if !has_words(&reply.text, w) {
            differ("contains", format!("«{w}»"), "not in the reply".into());
        }
    }
    for w in &expect.not_contains {
        if has_words(&reply.text, w) {
            differ("not_contains", format!("no «{w}»"), "in the reply".into());
        }
    }
    out
}

/// What a reply without a topic did.
fn what_instead(reply: &Reply) -> String {
    match reply.decision {
        Decision::Clarify => {
            let ids: Vec<&str> = reply.suggestions.iter().map(|s| s.id.as_str()).collect();
            format!("clarify: {}", ids.join(", "))
        }
        Decision::Escalate => "escalated without an answer".into(),
        d => d.to_string(),
    }
}

/// True when the words of `needle` occur in `text` one after the other, compared after
/// [`normalize`]; a needle word ending in `*` matches any ending. A needle without words
/// (only punctuation or symbols) is looked for as it is written.
fn has_words(text: &str, needle: &str) -> bool {
    let n = normalize(needle);
    let want: Vec<(&str, bool)> = n
        .split_whitespace()
        .flat_map(|part| {
            let prefix = part.ends_with('*');
            let ws: Vec<&str> = words(part).collect();
            let last = ws.len().saturating_sub(1);
            ws.into_iter()
                .enumerate()
                .map(move |(i, w)| (w, prefix && i == last))
        })
        .collect();
    if want.is_empty() {
        return text.contains(needle.trim());
    }
    let t = normalize(text);
    let have: Vec<&str> = words(&t).collect();
    have.windows(want.len()).any(|win| {
        win.iter()
            .zip(&want)
            .all(|(h, (w, prefix))| if *prefix { h.starts_with(w) } else { h == w })
    })
}

impl Report {
    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseResult::passed)
    }

    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.passed())
    }

    /// Cases and replies per language (languages without cases are left out).
    pub fn summary(&self) -> BTreeMap<Lang, LangSummary> {
        let mut out: BTreeMap<Lang, LangSummary> = BTreeMap::new();
        for case in &self.cases {
            let s = out.entry(case.lang).or_default();
            s.cases += 1;
            if case.passed() {
                s.passed += 1;
            } else {
                s.failed += 1;
            }
            for reply in case.turns.iter().filter_map(|t| t.reply.as_ref()) {
                match reply.decision {
                    Decision::Answer => s.answer += 1,
                    Decision::Clarify => s.clarify += 1,
                    Decision::Fallback => s.fallback += 1,
                    Decision::Escalate => s.escalate += 1,
                }
            }
        }
        out
    }

    /// Expected topics that got something else, most frequent first.
    pub fn confusion(&self) -> Vec<Confusion> {
        let mut counts: BTreeMap<(Lang, String, String), usize> = BTreeMap::new();
        for case in &self.cases {
            for turn in &case.turns {
                let Some(expected) = &turn.expect.topic else {
                    continue;
                };
                if turn
                    .mismatches
                    .iter()
                    .any(|m| m.field == "topic" || m.field == "reply")
                {
                    *counts
                        .entry((case.lang, expected.clone(), turn.got_label()))
                        .or_default() += 1;
                }
            }
        }
        let mut out: Vec<Confusion> = counts
            .into_iter()
            .map(|((lang, expected, got), count)| Confusion {
                lang,
                expected,
                got,
                count,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cmp(b)));
        out
    }

    /// The report as JSON: `passed`, every case with its turns, replies and mismatches,
    /// the summary per language and the confusion list.
    pub fn to_json(&self) -> serde_json::Value {
        let cases: Vec<serde_json::Value> = self
            .cases
            .iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["passed"] = c.passed().into();
                v
            })
            .collect();
        serde_json::json!({
            "passed": self.passed(),
            "cases": cases,
            "summary": self.summary(),
            "confusion": self.confusion(),
        })
    }

    /// The report for people: each failure as expected against got with the message, the
    /// reply and its trace; then the summary per language and the confusion list.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for case in self.failures() {
            failure(&mut out, case);
            out.push('\n');
        }
        summary(&mut out, &self.summary());
        let confusion = self.confusion();
        if !confusion.is_empty() {
            out.push_str("\nexpected topic → got instead:\n");
            let w = confusion
                .iter()
                .map(|c| c.expected.len())
                .max()
                .unwrap_or(0);
            for c in &confusion {
                let _ = writeln!(
                    out,
                    "  {}  {:<w$} → {}  ×{}",
                    c.lang, c.expected, c.got, c.count
                );
            }
        }
        let failed = self.failures().count();
        let _ = match failed {
            0 => writeln!(out, "\nall {} cases passed", self.cases.len()),
            n => writeln!(out, "\n{n} of {} cases failed", self.cases.len()),
        };
        out
    }
}

/// Longest part of a reply's text shown with a failure, in characters.
const REPLY_SHOWN: usize = 400;

fn failure(out: &mut String, case: &CaseResult) {
    let failed_at = case.turns.iter().position(|t| !t.passed()).unwrap_or(0);
    let turn = &case.turns[failed_at];
    let _ = write!(
        out,
        "FAIL {}:{}:{}",
        case.file.display(),
        turn.line,
        turn.col
    );
    if let Some(t) = &case.title {
        let _ = write!(out, "  {t}");
    }
    if case.turns.len() > 1 {
        let _ = write!(out, " (turn {} of {})", failed_at + 1, case.turns.len());
    }
    out.push('\n');
    for (i, before) in case.turns[..failed_at].iter().enumerate() {
        let got = before.reply.as_ref().map_or_else(String::new, |r| {
            let what = r.escalation.as_ref().map_or_else(
                || r.answer_id.clone().unwrap_or_default(),
                |e| e.rule.clone(),
            );
            format!("{} {what}", r.decision)
        });
        let _ = writeln!(
            out,
            "  turn {}     «{}» → {}",
            i + 1,
            before.text,
            got.trim()
        );
    }
    let _ = writeln!(out, "  message    «{}»", turn.text);
    let w = (turn.mismatches.iter())
        .map(|m| m.expected.chars().count())
        .max()
        .unwrap_or(0)
        .max("expected".len());
    let _ = writeln!(out, "  {:<10} {:<w$}   got", "", "expected");
    for m in &turn.mismatches {
        let _ = writeln!(out, "  {:<10} {:<w$}   {}", m.field, m.expected, m.got);
    }
    // The turns after the first failure are summed up: their result may follow from it.
    let later = case.turns[failed_at + 1..]
        .iter()
        .filter(|t| !t.passed())
        .count();
    if later > 0 {
        let _ = writeln!(out, "  ({later} later turn(s) of this case failed too)");
    }
    let Some(reply) = &turn.reply else {
        return;
    };
    let text: String = reply.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown: String = text.chars().take(REPLY_SHOWN).collect();
    let more = if shown.len() < text.len() { " …" } else { "" };
    let _ = writeln!(
        out,
        "  reply      {} · {} · {} · confidence {:.2}",
        reply.decision,
        reply.lang,
        reply.formality.as_str(),
        reply.confidence
    );
    let _ = writeln!(out, "             «{shown}{more}»");
    for (i, line) in reply.trace.iter().enumerate() {
        let label = if i == 0 { "trace" } else { "" };
        let _ = writeln!(out, "  {label:<10} {line}");
    }
}

fn summary(out: &mut String, by_lang: &BTreeMap<Lang, LangSummary>) {
    let _ = writeln!(
        out,
        "lang  cases  passed  failed    answer  clarify  fallback  escalate"
    );
    let mut all = LangSummary::default();
    let row = |out: &mut String, name: &str, s: &LangSummary| {
        let _ = writeln!(
            out,
            "{name:<4}  {:>5}  {:>6}  {:>6}    {:>6}  {:>7}  {:>8}  {:>8}",
            s.cases, s.passed, s.failed, s.answer, s.clarify, s.fallback, s.escalate
        );
    };
    for (lang, s) in by_lang {
        row(out, lang.code(), s);
        all.cases += s.cases;
        all.passed += s.passed;
        all.failed += s.failed;
        all.answer += s.answer;
        all.clarify += s.clarify;
        all.fallback += s.fallback;
        all.escalate += s.escalate;
    }
    if by_lang.len() > 1 {
        row(out, "all", &all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_matched_whole_and_in_order() {
        let reply =
            "Μπορείτε να δείτε πού βρίσκεται το δέμα σας στη σελίδα nova-courier.example/track.";
        assert!(has_words(reply, "δεμα ΣΑΣ"));
        assert!(has_words(reply, "nova-courier.example/track"));
        assert!(has_words(reply, "βρισκ*"));
        assert!(!has_words(reply, "σου"));
        assert!(!has_words(reply, "σας δέμα"));
        assert!(!has_words(reply, "δεμ"));
        assert!(has_words("total: 5 €", "€"));
        assert!(has_words("లైన్\u{200C}ను చూడండి", "లైన్ను"));
    }
}
