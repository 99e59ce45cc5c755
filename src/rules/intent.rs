//! Intents: a rule's example messages, matched by the engine's own retrieval.
//!
//! Every rule with `examples` becomes a topic of a small knowledge base whose phrasings are
//! its examples; its `negatives` become a second topic, `<rule>!neg`. Every knowledge topic
//! joins them with its questions, alternates, romanized phrasings and keywords (not its
//! answers): the ordinary questions customers ask, which a message about something the
//! bot answers resembles more than any rule's examples. One [`Retriever`] indexes them all
//! with the analyzers, Telugu inflection, transliteration, synonym groups and typo tolerance
//! of the knowledge search.
//!
//! A message is searched like a knowledge question, and the `intent` condition of a rule
//! holds when the rule's examples are the best match of all (other rules' examples and the
//! knowledge questions included), with a confidence of at least `min`, and the rule's
//! negatives do not score as high.

use super::Rule;
use crate::detect::Detection;
use crate::knowledge::{KnowledgeBase, Topic, TopicText};
use crate::lang::Lang;
use crate::retrieve::{Retriever, Scored};
use crate::Error;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `min` of an `intent` condition that gives none.
pub const DEFAULT_MIN: f32 = 0.4;

/// Suffix of the topic that holds a rule's negative examples.
const NEGATIVE_SUFFIX: &str = "!neg";

/// A field searched after the first must do this much better to count: the likeliest
/// reading of the message wins ties (as in the knowledge search).
const OTHER_FIELD_BIAS: f32 = 0.05;

/// Shares of the best example and of all the examples' words in a confidence (nothing here
/// has an answer). An intent is a way of saying something, so the closest single example
/// carries most of the weight: the words of forty examples together would let in any
/// message that has a few of their common words.
const PHRASING_SHARE: f32 = 0.8;
const VOCABULARY_SHARE: f32 = 0.2;

/// One example (or negative example) message of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The list it is in: `en`, `el`, `te`, `el_latn` or `te_latn`.
    pub list: &'static str,
    /// The message as the editor wrote it.
    pub text: String,
    /// Line in the rule file, from 1.
    pub line: usize,
    /// Column in the rule file, from 1.
    pub col: usize,
}

impl Example {
    /// The language of the list, and whether it is written in Latin letters.
    fn lang(&self) -> (Lang, bool) {
        match self.list {
            "el" => (Lang::El, false),
            "te" => (Lang::Te, false),
            "el_latn" => (Lang::El, true),
            "te_latn" => (Lang::Te, true),
            _ => (Lang::En, false),
        }
    }
}

/// What a topic of the intent index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentKind {
    /// A rule's examples.
    Examples,
    /// A rule's negative examples.
    Negatives,
    /// A knowledge topic's questions.
    Knowledge,
}

/// How close one message is to one rule's examples or negatives, or to one knowledge
/// topic's questions.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentScore {
    /// The rule id, or the knowledge topic id.
    pub id: String,
    /// What the topic holds.
    pub kind: IntentKind,
    /// Confidence in [0, 1], as the knowledge search computes it.
    pub confidence: f32,
    /// The example or question that matched best (empty when only the vocabulary matched).
    pub example: String,
}

impl IntentScore {
    fn name(&self) -> String {
        match self.kind {
            IntentKind::Knowledge => format!("question of {}", self.id),
            _ => self.id.clone(),
        }
    }
}

/// How close one message is to the examples of every rule, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intents {
    scores: Vec<IntentScore>,
}

impl Intents {
    /// No intent scores: what a message gets when no rule has examples.
    pub const NONE: Intents = Intents { scores: Vec::new() };

    /// Every scored rule, rule negatives and knowledge topic, best first.
    pub fn scores(&self) -> &[IntentScore] {
        &self.scores
    }

    /// The best match that is not a rule's negatives: a rule's examples or a knowledge
    /// topic.
    pub fn best(&self) -> Option<&IntentScore> {
        self.scores.iter().find(|s| s.kind != IntentKind::Negatives)
    }

    fn negatives(&self, rule: &str) -> Option<&IntentScore> {
        self.scores
            .iter()
            .find(|s| s.kind == IntentKind::Negatives && s.id == rule)
    }

    /// `Some(why)` when the examples of `rule` are the best match, with at least `min`, and
    /// its negatives score lower.
    pub(crate) fn holds(&self, rule: &str, min: f32) -> Option<String> {
        let best = self
            .best()
            .filter(|b| b.kind == IntentKind::Examples && b.id == rule)?;
        if best.confidence < min
            || self
                .negatives(rule)
                .is_some_and(|n| n.confidence >= best.confidence)
        {
            return None;
        }
        Some(format!(
            "intent {rule} {:.2} (\"{}\")",
            best.confidence, best.example
        ))
    }

    /// One trace line: the best match, the runner-up and the best rule's negatives.
    pub(crate) fn describe(&self) -> Option<String> {
        let best = self.best()?;
        let mut line = format!(
            "intents: {} {:.2} (\"{}\")",
            best.name(),
            best.confidence,
            best.example
        );
        if let Some(next) = self
            .scores
            .iter()
            .filter(|s| s.kind != IntentKind::Negatives)
            .nth(1)
        {
            line.push_str(&format!(", then {} {:.2}", next.name(), next.confidence));
        }
        if let Some(n) = self
            .negatives(&best.id)
            .filter(|_| best.kind == IntentKind::Examples)
        {
            line.push_str(&format!(
                "; its negatives {:.2} (\"{}\")",
                n.confidence, n.example
            ));
        }
        Some(line)
    }
}

/// The index of every rule's examples and of the knowledge questions.
pub(crate) struct IntentIndex {
    retriever: Retriever,
    /// Per topic of the index: the rule or knowledge topic id, and what it holds.
    topics: Vec<(String, IntentKind)>,
}

impl std::fmt::Debug for IntentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentIndex")
            .field("topics", &self.topics.len())
            .field("retriever", &self.retriever)
            .finish()
    }
}

/// The texts of one example list set, as a topic of the index.
fn topic(id: String, examples: &[Example]) -> Topic {
    let mut texts: BTreeMap<Lang, TopicText> = Lang::ALL
        .iter()
        .map(|&l| {
            (
                l,
                TopicText {
                    question: String::new(),
                    alternates: Vec::new(),
                    romanized: Vec::new(),
                    keywords: Vec::new(),
                    answer: String::new(),
                    answer_informal: None,
                },
            )
        })
        .collect();
    for e in examples {
        let (lang, latin) = e.lang();
        let t = texts.get_mut(&lang).expect("every language has a text");
        if latin {
            t.romanized.push(e.text.clone());
        } else if t.question.is_empty() {
            t.question = e.text.clone();
        } else {
            t.alternates.push(e.text.clone());
        }
    }
    Topic::from_parts(id, Vec::new(), PathBuf::new(), texts)
}

impl IntentIndex {
    /// Indexes the examples of `rules` and the questions of `knowledge`; `None` when no
    /// rule has examples.
    pub(crate) fn build(
        rules: &[Rule],
        knowledge: &KnowledgeBase,
    ) -> Result<Option<IntentIndex>, Error> {
        let mut topics = Vec::new();
        let mut ids = Vec::new();
        for r in rules.iter().filter(|r| !r.examples.is_empty()) {
            topics.push(topic(r.id.clone(), &r.examples));
            ids.push((r.id.clone(), IntentKind::Examples));
            if !r.negatives.is_empty() {
                topics.push(topic(format!("{}{NEGATIVE_SUFFIX}", r.id), &r.negatives));
                ids.push((r.id.clone(), IntentKind::Negatives));
            }
        }
        if topics.is_empty() {
            return Ok(None);
        }
        for t in knowledge.topics() {
            let texts = Lang::ALL
                .iter()
                .map(|&l| {
                    let text = TopicText {
                        answer: String::new(),
                        answer_informal: None,
                        ..t.text(l).clone()
                    };
                    (l, text)
                })
                .collect();
            topics.push(Topic::from_parts(
                t.id.clone(),
                Vec::new(),
                PathBuf::new(),
                texts,
            ));
            ids.push((t.id.clone(), IntentKind::Knowledge));
        }
        let kb = KnowledgeBase::from_parts(topics, knowledge.synonyms().clone());
        let retriever = Retriever::build(&kb)?.with_shares(PHRASING_SHARE, VOCABULARY_SHARE, 0.0);
        Ok(Some(IntentIndex {
            retriever,
            topics: ids,
        }))
    }

    /// Scores normalized text against every rule's examples and the knowledge questions,
    /// in the fields the language detection points to.
    pub(crate) fn score(&self, normalized: &str, detection: &Detection) -> Intents {
        let mut best: Vec<Scored> = Vec::new();
        for (i, (_, analyzer)) in detection.candidates().into_iter().enumerate() {
            let query = self.retriever.prepare(analyzer, normalized);
            let ranked = self.retriever.search_all(analyzer, &query);
            let bias = if i == 0 { 0.0 } else { OTHER_FIELD_BIAS };
            let current = best.first().map_or(0.0, |s| s.confidence);
            if best.is_empty()
                || ranked
                    .first()
                    .is_some_and(|s| s.confidence - bias > current)
            {
                best = ranked;
            }
        }
        let samples = self.retriever.samples();
        let scores = best
            .into_iter()
            .filter(|s| s.confidence > 0.0)
            .map(|s| {
                let (id, kind) = &self.topics[s.topic];
                IntentScore {
                    id: id.clone(),
                    kind: *kind,
                    confidence: s.confidence,
                    example: s
                        .source
                        .and_then(|src| samples.get(src as usize))
                        .map(|x| x.text.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Intents { scores }
    }
}
