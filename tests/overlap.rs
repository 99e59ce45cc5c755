//! Test messages must not be knowledge phrasings: a message that equals a question,
//! alternate, romanized spelling or keyword of any language (after normalization), or shares
//! most of its words with one, measures what the index remembers instead of how it matches.
//!
//! Two texts clash when their word sequences are equal after [`normalize`], or when both have
//! at least 3 distinct words and their word sets overlap: |A ∩ B| / |A ∪ B| ≥ 0.6.
//!
//! Checked: the messages of `tests/paraphrases/*.toml`, the message strings of
//! `tests/ranking.rs` and the turns of the starter conversation tests (`conversations/`,
//! run by `sahaya test`) against the knowledge; and, when `../shared/devset` exists next to the
//! crate, the `text` of every line of its `*.jsonl` files against the knowledge, against
//! the test messages, against the rule fixtures (`tests/rules/*.toml`) and against the rules'
//! examples. Development texts are only read at run time and never printed: a
//! failure names the knowledge file and phrasing (or the test message) and the line number.
//!
//! The rule fixtures are held apart from the rules' examples and counter-examples
//! (`[rule.examples]`, `[rule.counter_examples]` of `rules/*.toml`) by the same measure: a
//! fixture that nearly repeats an example measures what the intent index remembers.

use sahaya::knowledge::KnowledgeBase;
use sahaya::text::{normalize, words};
use sahaya::Lang;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Word overlap at or above which two texts count as the same question.
const MAX_OVERLAP: f64 = 0.6;
/// Below this many distinct words, only equality counts.
const MIN_WORDS: usize = 3;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A text prepared for comparison: its normalized word sequence and its word set as ids.
struct Prepared {
    /// Where it comes from, as printed in a failure.
    label: String,
    /// The words of the normalized text, joined by one space.
    joined: String,
    /// Distinct word ids, sorted.
    set: Vec<u32>,
}

/// Gives each distinct word a small id, so word sets are sorted integer vectors.
#[derive(Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
}

impl Vocabulary {
    fn prepare(&mut self, label: String, text: &str) -> Prepared {
        let normalized = normalize(text);
        let ws: Vec<&str> = words(&normalized).collect();
        let mut set: Vec<u32> = ws
            .iter()
            .map(|w| {
                let next = self.ids.len() as u32;
                *self.ids.entry((*w).to_string()).or_insert(next)
            })
            .collect();
        set.sort_unstable();
        set.dedup();
        Prepared {
            label,
            joined: ws.join(" "),
            set,
        }
    }
}

/// Texts indexed by word, to compare a probe only with texts that share a word with it.
struct Index {
    texts: Vec<Prepared>,
    by_equal: HashMap<String, Vec<usize>>,
    postings: HashMap<u32, Vec<usize>>,
}

impl Index {
    fn new(texts: Vec<Prepared>) -> Index {
        let mut by_equal: HashMap<String, Vec<usize>> = HashMap::new();
        let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, t) in texts.iter().enumerate() {
            by_equal.entry(t.joined.clone()).or_default().push(i);
            for w in &t.set {
                postings.entry(*w).or_default().push(i);
            }
        }
        Index {
            texts,
            by_equal,
            postings,
        }
    }

    /// Every indexed text that clashes with `probe`, with how.
    fn clashes(&self, probe: &Prepared) -> Vec<(&Prepared, Clash)> {
        let mut found: Vec<(usize, Clash)> = Vec::new();
        if !probe.joined.is_empty() {
            if let Some(equal) = self.by_equal.get(&probe.joined) {
                found.extend(equal.iter().map(|&i| (i, Clash::Equal)));
            }
        }
        if probe.set.len() >= MIN_WORDS {
            let mut shared: HashMap<usize, usize> = HashMap::new();
            for w in &probe.set {
                for &i in self.postings.get(w).into_iter().flatten() {
                    *shared.entry(i).or_default() += 1;
                }
            }
            for (i, n) in shared {
                let other = &self.texts[i];
                if other.set.len() < MIN_WORDS || found.iter().any(|(j, _)| *j == i) {
                    continue;
                }
                let overlap = n as f64 / (probe.set.len() + other.set.len() - n) as f64;
                if overlap >= MAX_OVERLAP {
                    found.push((i, Clash::Overlap(overlap)));
                }
            }
        }
        found.sort_by_key(|(i, _)| *i);
        found
            .into_iter()
            .map(|(i, o)| (&self.texts[i], o))
            .collect()
    }
}

/// Every question, alternate, romanized spelling and keyword of every topic and language.
fn knowledge(vocab: &mut Vocabulary) -> Index {
    let (kb, diags) = KnowledgeBase::load(root());
    assert!(kb.topics().len() > 50, "knowledge did not load: {diags:?}");
    let mut texts = Vec::new();
    for topic in kb.topics() {
        for lang in Lang::ALL {
            let t = topic.text(lang);
            let fields = [
                ("question", std::slice::from_ref(&t.question)),
                ("alternates", t.alternates.as_slice()),
                ("romanized", t.romanized.as_slice()),
                ("keywords", t.keywords.as_slice()),
            ];
            for (field, list) in fields {
                for phrasing in list {
                    let label = format!(
                        "{} [{} {field}] «{phrasing}»",
                        topic.path.display(),
                        lang.code()
                    );
                    texts.push(vocab.prepare(label, phrasing));
                }
            }
        }
    }
    Index::new(texts)
}

#[derive(serde::Deserialize)]
struct Set {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    text: String,
}

/// The `*.toml` files of a folder of the crate, sorted; at least one.
fn toml_files(rel: &str) -> Vec<PathBuf> {
    let dir = root().join(rel);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .toml files in {}", dir.display());
    files
}

/// The messages of `tests/paraphrases/*.toml`, the message strings of `tests/ranking.rs` and
/// the messages of the conversation tests in `conversations/`.
fn test_messages(vocab: &mut Vocabulary) -> Vec<Prepared> {
    let mut out = Vec::new();
    for file in toml_files("tests/paraphrases") {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let set: Set = toml::from_str(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        for c in set.case {
            out.push(vocab.prepare(format!("{name} «{}»", c.text), &c.text));
        }
    }
    let ranking = std::fs::read_to_string(root().join("tests/ranking.rs")).unwrap();
    for (line, text) in string_literals(&ranking) {
        // Messages, not format strings, ids or expectations.
        if text.contains('{') || !text.contains(' ') {
            continue;
        }
        out.push(vocab.prepare(format!("tests/ranking.rs:{line} «{text}»"), &text));
    }
    let (suite, diags) = sahaya::suite::Suite::load(root(), &[]);
    assert!(diags.is_empty(), "conversations/: {diags:#?}");
    for case in &suite.cases {
        for turn in &case.turns {
            let label = format!(
                "{}:{}:{} «{}»",
                case.file.display(),
                turn.line,
                turn.col,
                turn.message.text
            );
            out.push(vocab.prepare(label, &turn.message.text));
        }
    }
    out
}

/// The plain string literals of Rust source with the line each starts on (escapes other than
/// `\"` and `\\` are kept as written; raw strings are skipped).
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = source.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            // A char literal such as '"' or '\'' is not a string.
            '\'' if prev != '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\"'") || rest.starts_with("\\") {
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                    }
                }
            }
            '"' => {
                let start = line;
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if n == '\n' {
                                    line += 1;
                                }
                                if n != '"' && n != '\\' {
                                    text.push('\\');
                                }
                                text.push(n);
                            }
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            text.push(c);
                        }
                        _ => text.push(c),
                    }
                }
                out.push((start, text));
            }
            _ => {}
        }
        prev = c;
    }
    out
}

/// The `text` of every line of `../shared/devset/*.jsonl`, labelled by file and line; `None`
/// when the directory is absent. Lines that are not JSON objects with a string `text` are
/// reported as problems.
fn devset(vocab: &mut Vocabulary) -> Option<(Vec<Prepared>, Vec<String>)> {
    let dir = root().join("../shared/devset");
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut texts = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let name = format!(
            "devset/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        let source = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        for (i, line) in source.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => match v.get("text").and_then(|t| t.as_str()) {
                    Some(text) => texts.push(vocab.prepare(at, text)),
                    None => problems.push(format!("{at}: no string \"text\"")),
                },
                Err(e) => problems.push(format!("{at}: not JSON: {e}")),
            }
        }
    }
    Some((texts, problems))
}

/// How two texts clash.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Clash {
    /// The same words in the same order after normalization.
    Equal,
    /// Word overlap |A ∩ B| / |A ∪ B| at or above [`MAX_OVERLAP`].
    Overlap(f64),
}

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clash::Equal => write!(f, "equal"),
            Clash::Overlap(o) => write!(f, "word overlap {o:.2}"),
        }
    }
}

#[test]
fn test_messages_are_not_knowledge_phrasings() {
    let mut vocab = Vocabulary::default();
    let kb = knowledge(&mut vocab);
    let messages = test_messages(&mut vocab);
    assert!(
        messages.len() > 300,
        "only {} test messages",
        messages.len()
    );
    let mut clashes = Vec::new();
    for m in &messages {
        for (k, overlap) in kb.clashes(m) {
            clashes.push(format!("{}\n    ~ {} ({})", m.label, k.label, overlap));
        }
    }
    assert!(
        clashes.is_empty(),
        "{} test messages repeat the knowledge:\n{}",
        clashes.len(),
        clashes.join("\n")
    );
}

/// Fails when a development message clashes with a text of `index` (named `what`); passes
/// when the development set is not there.
fn assert_apart_from_devset(what: &str, index: impl FnOnce(&mut Vocabulary) -> Index) {
    let mut vocab = Vocabulary::default();
    let texts = index(&mut vocab);
    let Some((dev, mut problems)) = devset(&mut vocab) else {
        return;
    };
    for d in &dev {
        for (t, overlap) in texts.clashes(d) {
            problems.push(format!(
                "{} ~ the development message at {} ({})",
                t.label, d.label, overlap
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} {what} repeat the development set:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn development_set_is_not_knowledge_phrasings() {
    assert_apart_from_devset("knowledge phrasings", knowledge);
}

#[test]
fn development_set_is_not_test_messages() {
    assert_apart_from_devset("test messages", |v| Index::new(test_messages(v)));
}

/// The `text` of every case of `tests/rules/*.toml` (the rule fixtures).
fn rule_fixture_messages(vocab: &mut Vocabulary) -> Vec<Prepared> {
    #[derive(serde::Deserialize)]
    struct Fixtures {
        #[serde(default)]
        case: Vec<Message>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        text: String,
    }
    let mut out = Vec::new();
    for file in toml_files("tests/rules") {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let set: Fixtures = toml::from_str(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        for c in set.case {
            out.push(vocab.prepare(format!("{name} «{}»", c.text), &c.text));
        }
    }
    out
}

/// Every example and counter-example of `rules/*.toml`, labelled by file, rule and list.
fn rule_examples(vocab: &mut Vocabulary) -> Index {
    let mut texts = Vec::new();
    for file in toml_files("rules") {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let value: toml::Value = toml::from_str(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rules = value.get("rule").and_then(|r| r.as_array());
        for rule in rules.into_iter().flatten() {
            let id = rule.get("id").and_then(|i| i.as_str()).unwrap_or("?");
            for key in ["examples", "counter_examples"] {
                let Some(lists) = rule.get(key).and_then(|t| t.as_table()) else {
                    continue;
                };
                for (list, items) in lists {
                    for text in items
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str())
                    {
                        let label = format!("{name} [{id} {key}.{list}] «{text}»");
                        texts.push(vocab.prepare(label, text));
                    }
                }
            }
        }
    }
    Index::new(texts)
}

#[test]
fn rule_fixtures_are_not_rule_examples() {
    let mut vocab = Vocabulary::default();
    let examples = rule_examples(&mut vocab);
    assert!(
        examples.texts.len() > 100,
        "only {} rule examples",
        examples.texts.len()
    );
    let mut clashes = Vec::new();
    for m in rule_fixture_messages(&mut vocab) {
        for (e, overlap) in examples.clashes(&m) {
            clashes.push(format!("{}\n    ~ {} ({})", m.label, e.label, overlap));
        }
    }
    assert!(
        clashes.is_empty(),
        "{} rule fixtures repeat a rule example:\n{}",
        clashes.len(),
        clashes.join("\n")
    );
}

#[test]
fn development_set_is_not_rule_examples() {
    assert_apart_from_devset("rule examples", rule_examples);
}

#[test]
fn development_set_is_not_rule_fixtures() {
    assert_apart_from_devset("rule fixtures", |v| Index::new(rule_fixture_messages(v)));
}

#[test]
fn clash_rule() {
    let mut v = Vocabulary::default();
    let index = Index::new(vec![
        v.prepare("a".into(), "Πού είναι το δέμα μου;"),
        v.prepare("b".into(), "lost parcel"),
    ]);
    let mut clash = |text: &str| -> Vec<(String, Clash)> {
        let p = v.prepare("p".into(), text);
        index
            .clashes(&p)
            .into_iter()
            .map(|(t, c)| (t.label.clone(), c))
            .collect()
    };
    // Equal after normalization (accents, case, punctuation).
    assert_eq!(clash("ΠΟΥ ΕΙΝΑΙ ΤΟ ΔΕΜΑ ΜΟΥ"), [("a".into(), Clash::Equal)]);
    assert_eq!(clash("Lost parcel!"), [("b".into(), Clash::Equal)]);
    // Short texts clash only when equal.
    assert_eq!(clash("lost parcel again today"), []);
    // Shares 4 of 6 distinct words in all; 3 of 5 is the threshold.
    assert_eq!(
        clash("πού είναι το κουτί μου"),
        [("a".into(), Clash::Overlap(4.0 / 6.0))]
    );
    assert_eq!(
        clash("πού είναι το δέμα μου τώρα"),
        [("a".into(), Clash::Overlap(5.0 / 6.0))]
    );
    // 3 shared of 6 distinct words: a common frame, not the same question.
    assert_eq!(clash("πού είναι το κουτί"), []);
    assert_eq!(clash("πού βρίσκεται το κουτί"), []);
}

#[test]
fn string_literals_of_rust_source() {
    let src = "let a = \"one two\"; // \"comment\"\nlet c = '\"';\nf(\"say \\\"hi\\\"\\n\")";
    let lits: Vec<(usize, String)> = string_literals(src);
    assert_eq!(
        lits,
        [(1, "one two".to_string()), (3, "say \"hi\"\\n".to_string())]
    );
}
