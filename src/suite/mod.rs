//! Conversation tests that content editors write next to the content: a customer message,
//! or a short conversation, and what each reply must be (topic, decision, escalation rule,
//! register, language, after-hours notice, words in the text). `sahaya test` runs them.
//!
//! Test files live in the data directory's `conversations/` folder (`*.toml`, subfolders
//! too). A file holds `[[case]]` tables; a case is one message, or a conversation of
//! `[[case.turn]]` tables sent one after the other in the same session. A key on the case
//! applies to each of its turns that does not set it, and `[defaults]` to every case of
//! the file:
//!
//! ```toml
//! [defaults]
//! at = "2026-11-25T11:00:00+02:00"   # a Wednesday morning: people are at work
//!
//! [[case]]
//! title = "Greeklish, where is my parcel"
//! text = "pou vrisketai to paketo mou tora"
//! topic = "track_parcel"
//! decision = "answer"
//!
//! [[case]]
//! title = "a person, then the waiting reply"
//! rule = "human_request"             # both turns: the conversation is with a person
//! decision = "escalate"
//! [[case.turn]]
//! text = "can I talk to someone real please"
//! [[case.turn]]
//! text = "hello? anyone?"
//! ```
//!
//! What the customer sends: `text`, and optionally `lang` (the language chosen by the
//! customer, as the API's `lang`), `formality`, `channel`, `at` (RFC 3339), and the
//! customer's `tier`, `region`, `timezone`, `name`. What the reply must be: `topic` (the
//! answered topic id; with `decision = "clarify"`, the first suggestion), `decision`
//! (`answer`, `clarify`, `fallback`, `escalate`), `rule` (the rule that escalated),
//! `register` (`formal`, `informal`), `reply_lang`, `after_hours`, `contains` and
//! `not_contains` (a text or a list; whole words, compared like rule phrases: case,
//! accents, final sigma and ZWNJ do not matter, and a word ending in `*` matches any
//! ending).
//!
//! ```
//! use sahaya::suite::Suite;
//! use sahaya::Engine;
//! use std::path::Path;
//!
//! let engine = Engine::load(env!("CARGO_MANIFEST_DIR"))?;
//! let (suite, problems) = Suite::parse(
//!     Path::new("conversations/example.toml"),
//!     r#"
//!         [[case]]
//!         text = "my parcel came all smashed up"
//!         topic = "damaged_parcel"
//!         register = "formal"
//!     "#,
//! );
//! assert!(problems.is_empty());
//! assert!(suite.check(&engine).is_empty()); // the topic ids exist
//! let report = suite.run(&engine, None);
//! assert!(report.passed(), "{}", report.to_text());
//! # Ok::<(), sahaya::Error>(())
//! ```

mod files;
mod load;
mod report;

pub use files::FOLDER;
pub use report::{CaseResult, Confusion, LangSummary, Mismatch, Report, TurnResult};

use crate::engine::Engine;
use crate::error::{Diagnostic, Severity};
use crate::lang::{Formality, Lang};
use crate::model::{Decision, Message};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Conversation tests, from one or more files.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One test: a message, or a conversation of several messages in one session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Case {
    /// The file, as shown to editors (relative to the data directory when inside it).
    pub file: PathBuf,
    /// Line of the case in its file, from 1.
    pub line: usize,
    /// Column of the case, in characters, from 1.
    pub col: usize,
    /// What the case is about, in the editor's words.
    pub title: Option<String>,
    /// The messages, sent in order in one session.
    pub turns: Vec<Turn>,
}

/// One message of a case and what its reply must be.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Turn {
    /// Line of the message's `text`, from 1.
    pub line: usize,
    /// Column of the message's `text`, in characters, from 1.
    pub col: usize,
    /// What is sent; the runner gives it the case's session id.
    pub message: Message,
    /// What the reply must be.
    pub expect: Expect,
    /// Positions of the `topic` and `rule` values, to report unknown ids.
    topic_at: Option<(usize, usize)>,
    rule_at: Option<(usize, usize)>,
}

/// What a reply must be; an unset field is not checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Expect {
    /// The answered topic; with `decision = clarify`, the first suggestion.
    pub topic: Option<String>,
    /// The decision.
    pub decision: Option<Decision>,
    /// The rule that escalated.
    pub rule: Option<String>,
    /// The register of the reply.
    pub register: Option<Formality>,
    /// The language of the reply.
    pub lang: Option<Lang>,
    /// Whether the reply says that no one is at work.
    pub after_hours: Option<bool>,
    /// Words the reply must contain.
    pub contains: Vec<String>,
    /// Words the reply must not contain.
    pub not_contains: Vec<String>,
}

impl Expect {
    /// True when nothing is checked.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

impl Case {
    /// The language the case is written in, when it says so: the first turn's `reply_lang`,
    /// else its `lang`.
    pub fn declared_lang(&self) -> Option<Lang> {
        let first = self.turns.first()?;
        first
            .expect
            .lang
            .or_else(|| first.message.lang.as_deref().and_then(Lang::from_tag))
    }
}

impl Suite {
    /// Reads the conversation tests among `paths` (files, or folders with their
    /// subfolders), or the data directory's `conversations/` folder when `paths` is empty.
    /// Returns the cases of every file that could be read and every problem found: a path
    /// that does not exist, no test file at all, TOML errors, unknown keys, bad values.
    /// Files are shown relative to `data_dir` when inside it.
    pub fn load(data_dir: &Path, paths: &[PathBuf]) -> (Suite, Vec<Diagnostic>) {
        let files = match files::find(data_dir, paths) {
            Ok(f) => f,
            Err(d) => return (Suite::default(), vec![d]),
        };
        let mut suite = Suite::default();
        let mut diags = Vec::new();
        for file in files {
            let rel = files::shown_path(data_dir, &file);
            match crate::error::read_content(&file, &rel) {
                Ok(src) => {
                    let (part, d) = Suite::parse(&rel, &src);
                    suite.cases.extend(part.cases);
                    diags.extend(d);
                }
                Err(d) => diags.push(d),
            }
        }
        (suite, diags)
    }

    /// Parses one file's text; `file` is the path shown in diagnostics and results.
    pub fn parse(file: &Path, source: &str) -> (Suite, Vec<Diagnostic>) {
        load::parse(file, source)
    }

    /// Problems only the content can tell: a `topic` that no knowledge file has, a `rule`
    /// that does not exist or never escalates.
    pub fn check(&self, engine: &Engine) -> Vec<Diagnostic> {
        let topics: Vec<&str> = (engine.knowledge().topics().iter())
            .map(|t| t.id.as_str())
            .collect();
        let rules = engine.rules().rules();
        let rule_ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        let mut diags: Vec<Diagnostic> = Vec::new();
        let mut report = |file: &Path, (line, col): (usize, usize), message: String, hint| {
            let d = Diagnostic {
                path: file.to_path_buf(),
                line,
                col,
                severity: Severity::Error,
                message,
                hint: Some(hint),
            };
            if !diags.contains(&d) {
                diags.push(d);
            }
        };
        for case in &self.cases {
            for turn in &case.turns {
                if let (Some(id), Some(at)) = (&turn.expect.topic, turn.topic_at) {
                    if !topics.contains(&id.as_str()) {
                        let hint = match closest(id, &topics) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => "a topic id is a knowledge file's name without .toml".into(),
                        };
                        report(&case.file, at, format!("unknown topic `{id}`"), hint);
                    }
                }
                if let (Some(id), Some(at)) = (&turn.expect.rule, turn.rule_at) {
                    match rules.iter().find(|r| r.id == *id) {
                        Some(r) if r.then.escalate.is_none() => report(
                            &case.file,
                            at,
                            format!("rule `{id}` never escalates"),
                            "`rule` names the rule that hands the conversation to a person".into(),
                        ),
                        Some(_) => {}
                        None => {
                            let hint = match closest(id, &rule_ids) {
                                Some(c) => format!("did you mean `{c}`?"),
                                None => format!("the rules are {}", rule_ids.join(", ")),
                            };
                            report(&case.file, at, format!("unknown rule `{id}`"), hint);
                        }
                    }
                }
            }
        }
        diags
    }

    /// Runs every case against `engine`, each in a session of its own, its turns in order;
    /// with `only`, just the cases in that language (the language a case declares, else
    /// the language of its first reply).
    pub fn run(&self, engine: &Engine, only: Option<Lang>) -> Report {
        // Session ids new to the engine, even when its sessions outlive this run.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut cases = Vec::new();
        for (i, case) in self.cases.iter().enumerate() {
            let declared = case.declared_lang();
            if only.zip(declared).is_some_and(|(want, l)| want != l) {
                continue;
            }
            let session = format!("sahaya-test-{stamp:x}-{i}");
            let turns: Vec<TurnResult> = (case.turns.iter())
                .map(|turn| {
                    let mut msg = turn.message.clone();
                    msg.session_id = Some(session.clone());
                    TurnResult::of(turn, engine.try_respond(&msg))
                })
                .collect();
            let first_reply = turns.first().and_then(|t| t.reply.as_ref());
            let lang = declared.or(first_reply.map(|r| r.lang)).unwrap_or(Lang::En);
            if only.is_some_and(|want| want != lang) {
                continue;
            }
            cases.push(CaseResult {
                file: case.file.clone(),
                line: case.line,
                col: case.col,
                title: case.title.clone(),
                lang,
                turns,
            });
        }
        Report { cases }
    }
}

/// The id of `ids` nearest to `id` by edit distance, when it is near enough to be a typo.
fn closest<'a>(id: &str, ids: &[&'a str]) -> Option<&'a str> {
    let limit = (id.chars().count() / 3).clamp(1, 3);
    ids.iter()
        .map(|c| (edit_distance(id, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_ids_are_suggested() {
        let ids = ["track_parcel", "lost_parcel", "human_request"];
        assert_eq!(closest("track_parcle", &ids), Some("track_parcel"));
        assert_eq!(closest("humanrequest", &ids), Some("human_request"));
        assert_eq!(closest("refund", &ids), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
