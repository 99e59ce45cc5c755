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

use crate::knowledge::KnowledgeBase;
use crate::lang::Lang;
use crate::text::{Analyzer, Term, TermKind};
use crate::Error;
use std::collections::{HashMap, HashSet};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{doc, DocAddress, Index, Searcher};

/// Candidates fetched from tantivy before re-scoring.
const CANDIDATES: usize = 48;
/// The most distinct terms a query may have; a longer message keeps its first terms.
const MAX_QUERY_TERMS: usize = 512;
/// Words of a message that are looked at.
pub(crate) const MAX_QUERY_WORDS: usize = 64;
/// Weight of an n-gram relative to a whole word of the same rarity.
const GRAM_WEIGHT: f32 = 0.25;
/// Keywords are short and match often: their confidence is discounted.
const KEYWORD_FACTOR: f32 = 0.85;
/// Exponent of the query coverage; the phrasing coverage gets the rest.
const QUERY_COVERAGE_EXPONENT: f32 = 0.5;

/// Where a phrasing comes from in the knowledge file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhrasingKind {
    /// The canonical question.
    Question,
    /// An alternate phrasing.
    Alternate,
    /// A Latin-letter phrasing of Greek or Telugu.
    Romanized,
    /// A keyword.
    Keyword,
}

struct Phrasing {
    topic: usize,
    kind: PhrasingKind,
    analyzer: Analyzer,
    /// Distinct terms with their weights.
    terms: Vec<(Term, f32)>,
    total_weight: f32,
}

struct FieldStats {
    docs: usize,
    df: HashMap<Term, u32>,
}

impl FieldStats {
    fn idf(&self, term: &str) -> f32 {
        let df = self.df.get(term).copied().unwrap_or(0).max(1) as f32;
        (1.0 + self.docs as f32 / df).ln()
    }

    fn weight(&self, term: &str) -> f32 {
        let kind = match TermKind::of(term) {
            TermKind::Word => 1.0,
            TermKind::Gram => GRAM_WEIGHT,
        };
        self.idf(term) * kind
    }
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
    searcher: Searcher,
    fields: HashMap<Analyzer, Field>,
    phrasings: Vec<Phrasing>,
    /// Per segment: doc id → phrasing id.
    pid_by_doc: Vec<Vec<u32>>,
    stats: HashMap<Analyzer, FieldStats>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever")
            .field("phrasings", &self.phrasings.len())
            .finish()
    }
}

/// A tantivy tokenizer that emits the terms of a Sahaya [`Analyzer`].
#[derive(Clone)]
struct SahayaTokenizer {
    analyzer: Analyzer,
    token: Token,
}

struct TermStream<'a> {
    terms: std::vec::IntoIter<Term>,
    token: &'a mut Token,
}

impl Tokenizer for SahayaTokenizer {
    type TokenStream<'a> = TermStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermStream<'a> {
        self.token.reset();
        TermStream {
            terms: self.analyzer.analyze(text).into_iter(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for TermStream<'_> {
    fn advance(&mut self) -> bool {
        match self.terms.next() {
            Some(t) => {
                self.token.text = t;
                self.token.position = self.token.position.wrapping_add(1);
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

fn field_name(a: Analyzer) -> &'static str {
    match a {
        Analyzer::English => "en",
        Analyzer::Greek => "el",
        Analyzer::Telugu => "te",
        Analyzer::Greeklish => "el_latn",
        Analyzer::TeluguLatin => "te_latn",
    }
}

impl Retriever {
    /// Builds the in-memory index of `kb`.
    pub fn build(kb: &KnowledgeBase) -> Result<Retriever, Error> {
        let mut schema = Schema::builder();
        let mut fields = HashMap::new();
        for a in Analyzer::ALL {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(a.name())
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            fields.insert(a, schema.add_text_field(field_name(a), opts));
        }
        let pid_field = schema.add_u64_field("pid", FAST);
        let index = Index::create_in_ram(schema.build());
        for a in Analyzer::ALL {
            index.tokenizers().register(
                a.name(),
                TextAnalyzer::from(SahayaTokenizer {
                    analyzer: a,
                    token: Token::default(),
                }),
            );
        }

        let mut phrasings = Vec::new();
        let mut texts = Vec::new();
        for (ti, topic) in kb.topics().iter().enumerate() {
            for lang in Lang::ALL {
                let t = topic.text(lang);
                let native = lang.analyzer();
                let mut add = |kind, analyzer, text: &str| {
                    texts.push((analyzer, text.to_string()));
                    phrasings.push(Phrasing {
                        topic: ti,
                        kind,
                        analyzer,
                        terms: distinct(analyzer.analyze(text)),
                        total_weight: 0.0,
                    });
                };
                add(PhrasingKind::Question, native, &t.question);
                for a in &t.alternates {
                    add(PhrasingKind::Alternate, native, a);
                }
                for k in &t.keywords {
                    add(PhrasingKind::Keyword, native, k);
                }
                if let Some(latin) = lang.romanized_analyzer() {
                    for r in &t.romanized {
                        add(PhrasingKind::Romanized, latin, r);
                    }
                }
            }
        }

        let mut stats: HashMap<Analyzer, FieldStats> = HashMap::new();
        for p in &phrasings {
            let s = stats.entry(p.analyzer).or_insert_with(|| FieldStats {
                docs: 0,
                df: HashMap::new(),
            });
            s.docs += 1;
            for (t, _) in &p.terms {
                *s.df.entry(t.clone()).or_default() += 1;
            }
        }
        for p in &mut phrasings {
            let s = &stats[&p.analyzer];
            for (t, w) in &mut p.terms {
                *w = s.weight(t);
            }
            p.total_weight = p.terms.iter().map(|(_, w)| w).sum();
        }

        let mut writer = index.writer_with_num_threads(1, 32_000_000)?;
        for (pid, (analyzer, text)) in texts.iter().enumerate() {
            writer.add_document(doc!(fields[analyzer] => text.as_str(), pid_field => pid as u64))?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let searcher = reader.searcher();
        let mut pid_by_doc = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("pid")?;
            let map = (0..segment.max_doc())
                .map(|d| column.first(d).unwrap_or(0) as u32)
                .collect();
            pid_by_doc.push(map);
        }
        Ok(Retriever {
            searcher,
            fields,
            phrasings,
            pid_by_doc,
            stats,
        })
    }

    /// Analyzes normalized text for `analyzer`, as queries do.
    pub fn query_terms(analyzer: Analyzer, normalized: &str) -> Vec<Term> {
        let mut terms = distinct(analyzer.analyze_normalized(normalized, MAX_QUERY_WORDS));
        terms.truncate(MAX_QUERY_TERMS);
        terms.into_iter().map(|(t, _)| t).collect()
    }

    fn tantivy_query(&self, analyzer: Analyzer, terms: &[Term]) -> BooleanQuery {
        let field = self.fields[&analyzer];
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q = TermQuery::new(
                    tantivy::Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                (Occur::Should, Box::new(q) as Box<dyn Query>)
            })
            .collect();
        BooleanQuery::new(clauses)
    }

    /// Runs only the tantivy part of [`Retriever::search`]: the BM25 top candidates.
    /// Exposed for benchmarks that compare the whole pipeline with a bare index query.
    pub fn bare_search(&self, analyzer: Analyzer, terms: &[Term]) -> Result<Vec<(f32, DocAddress)>, Error> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.tantivy_query(analyzer, terms);
        Ok(self
            .searcher
            .search(&query, &TopDocs::with_limit(CANDIDATES).order_by_score())?)
    }

    /// Topics ranked by confidence for the query `terms` in the field of `analyzer`.
    pub fn search(&self, analyzer: Analyzer, terms: &[Term]) -> Result<Vec<Scored>, Error> {
        let hits = self.bare_search(analyzer, terms)?;
        let Some(stats) = self.stats.get(&analyzer) else {
            return Ok(Vec::new());
        };
        let query: Vec<(&str, f32)> = terms.iter().map(|t| (t.as_str(), stats.weight(t))).collect();
        let query_weight: f32 = query.iter().map(|(_, w)| w).sum();
        let query_set: HashSet<&str> = query.iter().map(|(t, _)| *t).collect();
        let mut best: HashMap<usize, f32> = HashMap::new();
        for (_, addr) in hits {
            let pid = self.pid_by_doc[addr.segment_ord as usize][addr.doc_id as usize] as usize;
            let p = &self.phrasings[pid];
            let matched: f32 = p
                .terms
                .iter()
                .filter(|(t, _)| query_set.contains(t.as_str()))
                .map(|(_, w)| w)
                .sum();
            if matched <= 0.0 || p.total_weight <= 0.0 || query_weight <= 0.0 {
                continue;
            }
            let q_cov = (matched / query_weight).min(1.0);
            let p_cov = (matched / p.total_weight).min(1.0);
            let mut conf = q_cov.powf(QUERY_COVERAGE_EXPONENT) * p_cov.powf(1.0 - QUERY_COVERAGE_EXPONENT);
            if p.kind == PhrasingKind::Keyword {
                conf *= KEYWORD_FACTOR;
            }
            let e = best.entry(p.topic).or_insert(0.0);
            if conf > *e {
                *e = conf;
            }
        }
        let mut ranked: Vec<Scored> = best
            .into_iter()
            .map(|(topic, confidence)| Scored {
                topic,
                confidence,
                analyzer,
            })
            .collect();
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.topic.cmp(&b.topic)));
        Ok(ranked)
    }

    /// Number of indexed phrasings.
    pub fn len(&self) -> usize {
        self.phrasings.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.phrasings.is_empty()
    }
}

fn distinct(terms: Vec<Term>) -> Vec<(Term, f32)> {
    let mut seen = HashSet::new();
    terms
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .map(|t| (t, 0.0))
        .collect()
}
