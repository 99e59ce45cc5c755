//! Retrieval: a tantivy index over every phrasing of every topic, and a calibrated
//! confidence for each candidate.
//!
//! Each question, alternate, romanized phrasing and keyword is one small document in the
//! field of its analyzer (`en`, `el`, `te`, `el_latn`, `te_latn`). A query is analyzed with
//! the same analyzer and run as a disjunction of term queries; tantivy's BM25 picks the
//! candidates. BM25 scores are not comparable between queries, so each candidate is then
//! re-scored with an idf-weighted overlap that lies in [0, 1]: how much of the query the
//! phrasing explains, and how much of the phrasing the query contains. A topic's
//! confidence is that of its best phrasing.
//!
//! Beyond the analyzers, retrieval meets customers' wording in four ways:
//! - synonym groups of `knowledge/synonyms.toml`: every word of a group becomes the group's
//!   concept term, in phrasings and in messages;
//! - every Telugu and Greek phrasing is also indexed transliterated into Latin letters, in
//!   the romanized fields, so romanized messages meet all native phrasings;
//! - an English word typed in Latin letters inside Telugu text meets the same loanword
//!   written in Telugu by its consonant skeleton (`parcel` ~ `పార్సెల్`);
//! - an unknown word of five or more letters one edit away from a known word (a typo)
//!   counts as that word, at a lower weight.

mod chargram;
mod codec;
mod encode;
mod fuzzy;
mod hasher;
mod intent;
mod persist;

pub(crate) use intent::IntentIndex;
pub use persist::IndexStatus;
pub(crate) use persist::{content_key, open as open_persisted, Staging};

use crate::error::Error;
use crate::knowledge::KnowledgeBase;
use crate::lang::Lang;
use crate::text::translit::{greek_to_latin, telugu_to_latin};
use crate::text::{normalize, Analyzer, Term, TermKind};
use chargram::CharGrams;
use fuzzy::FuzzyIndex;
use hasher::FastMap;
use std::collections::{HashMap, HashSet};
use tantivy::schema::Field;
use tantivy::Searcher;

/// Candidates fetched from tantivy before re-scoring.
const CANDIDATES: usize = 96;
/// Candidate topics re-scored per query.
const MAX_TOPICS: usize = 24;
/// Words of a message that are looked at.
pub(crate) use crate::text::MAX_QUERY_WORDS;
/// Weight of an n-gram relative to a whole word of the same rarity.
const GRAM_WEIGHT: f32 = 0.2;
/// Keywords are short and match often: their confidence is discounted.
const KEYWORD_FACTOR: f32 = 0.85;
/// A word no topic uses weighs more than the rarest known word: a message about
/// something else (weather, jokes, recipes) is mostly such words.
const UNKNOWN_WORD_FACTOR: f32 = 1.5;
/// Share of the best single phrasing in a topic's confidence.
const PHRASING_SHARE: f32 = 0.4;
/// Share of the query found anywhere in the topic's phrasings.
const VOCABULARY_SHARE: f32 = 0.4;
/// Share of the query found in the topic's answer.
const ANSWER_SHARE: f32 = 0.2;
/// Weight of a loanword's consonant skeleton relative to a whole word.
const SOUND_WEIGHT: f32 = 0.8;
/// Weight of a known word matched through a typo, relative to the word itself.
const FUZZY_FACTOR: f32 = 0.7;
/// Share of the character n-gram similarity in a topic's confidence; the rest is the word
/// score. Telugu's n-grams, over consonants, vowel signs and viramas, say less about a word
/// than Greek or Latin ones: leave-one-out calibration on the shipped knowledge answers most
/// with 0.15 for Telugu and 0.3 for the others.
fn chargram_share(analyzer: Analyzer) -> f32 {
    match analyzer {
        Analyzer::Telugu | Analyzer::TeluguLatin => 0.15,
        _ => 0.3,
    }
}
/// Topics closest by character n-grams added to the BM25 candidates.
const CHARGRAM_CANDIDATES: usize = 3;
/// The tantivy tokenizer of every field: phrasings are indexed as their analyzed terms.
const TERMS_TOKENIZER: &str = "sahaya_terms";

/// Where a phrasing comes from in the knowledge file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhrasingKind {
    /// The canonical question.
    Question,
    /// An alternate phrasing.
    Alternate,
    /// A Latin-letter phrasing of Greek or Telugu.
    Romanized,
    /// A Greek or Telugu phrasing transliterated into Latin letters by the index.
    Transliterated,
    /// A keyword.
    Keyword,
    /// The answer text (indexed for recall; scored separately).
    Answer,
}

type TermId = u32;

/// One phrasing, as scoring needs it; its terms are in [`Retriever::terms_of`].
struct Phrasing {
    topic: u32,
    kind: PhrasingKind,
    /// The knowledge text it comes from: a phrasing and its transliteration share it.
    source: u32,
    /// Sum of the weights of its distinct terms.
    total_weight: f32,
}

/// Everything one topic has in one field.
#[derive(Default)]
struct TopicTerms {
    /// Its phrasings (answers excluded), ascending.
    phrasings: Vec<u32>,
    /// Term ids of all its phrasings, sorted.
    vocabulary: Vec<TermId>,
    /// Term ids of its answers, sorted.
    answer: Vec<TermId>,
}

/// One field of the index: its vocabulary with weights, and its topics.
struct FieldData {
    field: Field,
    ids: FastMap<Term, TermId>,
    /// Weight per term id: idf over topics times the term kind's weight.
    weights: Vec<f32>,
    /// The term of every term id.
    names: Vec<Term>,
    /// Weight of a word and of an n-gram that no topic has.
    unknown_word: f32,
    unknown_gram: f32,
    topics: Vec<TopicTerms>,
    /// Word key → concept term of its synonym group.
    concepts: FastMap<Term, Term>,
    /// Known words (and synonyms) by their one-deletion forms, for typos.
    fuzzy: FuzzyIndex,
    /// Character n-gram vectors of the field's phrasings.
    chargrams: CharGrams,
}

impl FieldData {
    /// The term a word key is indexed and searched as: its concept, if it has one.
    fn canonical(&self, key: Term) -> Term {
        match self.concepts.get(&key) {
            Some(concept) => concept.clone(),
            None => key,
        }
    }
}

fn kind_weight(term: &str) -> f32 {
    match TermKind::of(term) {
        TermKind::Word | TermKind::Concept => 1.0,
        TermKind::Gram => GRAM_WEIGHT,
        TermKind::Sound => SOUND_WEIGHT,
    }
}

/// A phrasing of the knowledge as a customer might send it, for leave-one-out calibration
/// ([`Retriever::samples`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The knowledge text: excluding it removes the phrasing and its transliteration.
    pub source: u32,
    /// Index of the topic in [`KnowledgeBase::topics`].
    pub topic: usize,
    /// The language of the text.
    pub lang: Lang,
    /// True for a phrasing in Latin letters of Greek or Telugu.
    pub romanized: bool,
    /// The text.
    pub text: String,
}

/// A message prepared for one field.
#[derive(Debug, Clone, Default)]
pub struct PreparedQuery {
    /// Terms sent to tantivy: known words, and the n-grams of unknown words only.
    pub search_terms: Vec<Term>,
    /// Known term ids, sorted, with their weights.
    known: Vec<(TermId, f32)>,
    /// Weight of every term of the message, known or not.
    total_weight: f32,
    /// The normalized message, for the character n-gram similarity.
    normalized: String,
}

/// A scored topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index of the topic in [`KnowledgeBase::topics`].
    pub topic: usize,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The analyzer (field) the best match came from.
    pub analyzer: Analyzer,
}

/// The search index of one knowledge base.
pub struct Retriever {
    /// The tantivy index: in memory, or in a directory of the persistent index.
    index: tantivy::Index,
    searcher: Searcher,
    fields: HashMap<Analyzer, FieldData>,
    phrasings: Vec<Phrasing>,
    /// Where the terms of each phrasing start in `terms` (one more entry than phrasings).
    term_offsets: Vec<u32>,
    /// Per phrasing: its distinct term ids in its field, ascending (none for answers).
    terms: Vec<TermId>,
    /// Per segment: doc id → phrasing id.
    pid_by_doc: Vec<Vec<u32>>,
    /// The knowledge texts customers' messages resemble, for calibration (empty once
    /// calibrated, and for an index opened from disk).
    samples: Vec<Sample>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever")
            .field("phrasings", &self.phrasings.len())
            .finish()
    }
}

mod build;
mod query;

/// Sum of the query weights of the ids both sorted lists share.
fn overlap(query: &[(TermId, f32)], ids: &[TermId]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < query.len() && j < ids.len() {
        match query[i].0.cmp(&ids[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += query[i].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

impl Retriever {
    /// The questions, alternates, keywords and romanized phrasings of the knowledge, each as
    /// a [`Sample`] that [`Retriever::search_excluding`] can leave out.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The distinct term ids of phrasing `pid`, ascending (none for an answer).
    fn terms_of(&self, pid: usize) -> &[TermId] {
        &self.terms[self.term_offsets[pid] as usize..self.term_offsets[pid + 1] as usize]
    }

    /// Drops the samples: they serve calibration only.
    pub(crate) fn forget_samples(&mut self) {
        self.samples = Vec::new();
    }
}
