//! Building the index: every phrasing analyzed once, indexed as its terms in the field of
//! its analyzer, with the per-field vocabulary the scoring needs.

use super::*;
use crate::knowledge::Synonyms;
use std::path::Path;
use tantivy::indexer::NoMergePolicy;
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{doc, Index, IndexWriter, ReloadPolicy};

/// A tantivy tokenizer for text that is already analyzed: the terms, separated by spaces.
/// Analysis (stems, concepts, skeletons) happens once, in [`Retriever::build`].
#[derive(Clone, Default)]
struct TermsTokenizer {
    token: Token,
}

struct TermStream<'a> {
    terms: std::str::SplitAsciiWhitespace<'a>,
    token: &'a mut Token,
}

impl Tokenizer for TermsTokenizer {
    type TokenStream<'a> = TermStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermStream<'a> {
        self.token.reset();
        TermStream {
            terms: text.split_ascii_whitespace(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for TermStream<'_> {
    fn advance(&mut self) -> bool {
        match self.terms.next() {
            Some(t) => {
                self.token.text.clear();
                self.token.text.push_str(t);
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

/// The phrasings of a corpus, analyzed once, before indexing: the knowledge's topics, or
/// the examples of the rules (see [`super::intent`]), each grouped into "topics".
pub(super) struct Corpus {
    /// Per phrasing: topic, kind, field and distinct terms.
    raw: Vec<(usize, PhrasingKind, Analyzer, Vec<Term>)>,
    /// Per phrasing: the text it comes from (a phrasing and its transliteration share it).
    sources: Vec<u32>,
    /// Per phrasing: the normalized text (empty for answers), for character n-grams.
    texts: Vec<String>,
    /// Number of topics.
    topics: usize,
    /// Per analyzer: word key → concept term of its synonym group.
    concepts: HashMap<Analyzer, FastMap<Term, Term>>,
}

impl Corpus {
    /// An empty corpus of `topics` topics, with the synonym groups of `synonyms`.
    pub(super) fn new(synonyms: &Synonyms, topics: usize) -> Corpus {
        Corpus {
            raw: Vec::new(),
            sources: Vec::new(),
            texts: Vec::new(),
            topics,
            concepts: concept_maps(synonyms),
        }
    }

    /// Adds `text` as a phrasing of `topic` in the field of `analyzer`.
    pub(super) fn add(
        &mut self,
        topic: usize,
        kind: PhrasingKind,
        analyzer: Analyzer,
        text: &str,
        source: u32,
    ) {
        let map = &self.concepts[&analyzer];
        let terms = distinct(
            analyzer
                .index_terms(text)
                .into_iter()
                .map(|t| match map.get(&t) {
                    Some(c) if TermKind::of(&t) == TermKind::Word => c.clone(),
                    _ => t,
                })
                .collect(),
        );
        self.raw.push((topic, kind, analyzer, terms));
        self.sources.push(source);
        self.texts.push(match kind {
            PhrasingKind::Answer => String::new(),
            _ => normalize(text),
        });
    }

    /// Adds a Greek or Telugu phrasing (normalized) transliterated into Latin letters, in the
    /// romanized field of `lang`; nothing for English.
    pub(super) fn add_transliterated(&mut self, topic: usize, lang: Lang, text: &str, source: u32) {
        let Some(latin) = lang.romanized_analyzer() else {
            return;
        };
        let transliterate = match lang {
            Lang::Te => telugu_to_latin,
            _ => greek_to_latin,
        };
        self.add(
            topic,
            PhrasingKind::Transliterated,
            latin,
            &transliterate(&normalize(text)),
            source,
        );
    }
}

impl Retriever {
    /// Builds the in-memory index of `kb`.
    pub fn build(kb: &KnowledgeBase) -> Result<Retriever, Error> {
        Retriever::build_in(kb, None)
    }

    /// Builds the index of `kb`: tantivy's part in the empty directory `dir`, or in memory.
    pub(crate) fn build_in(kb: &KnowledgeBase, dir: Option<&Path>) -> Result<Retriever, Error> {
        let mut corpus = Corpus::new(kb.synonyms(), kb.topics().len());
        let mut samples: Vec<Sample> = Vec::new();
        for (ti, topic) in kb.topics().iter().enumerate() {
            for lang in Lang::ALL {
                let t = topic.text(lang);
                let native = lang.analyzer();
                let mut sample = |text: &str, romanized: bool| {
                    let source = samples.len() as u32;
                    samples.push(Sample {
                        source,
                        topic: ti,
                        lang,
                        romanized,
                        text: text.to_string(),
                    });
                    source
                };
                let mut native_sources = Vec::new();
                let q = sample(&t.question, false);
                native_sources.push(q);
                corpus.add(ti, PhrasingKind::Question, native, &t.question, q);
                for a in &t.alternates {
                    let src = sample(a, false);
                    native_sources.push(src);
                    corpus.add(ti, PhrasingKind::Alternate, native, a, src);
                }
                for k in &t.keywords {
                    let src = sample(k, false);
                    native_sources.push(src);
                    corpus.add(ti, PhrasingKind::Keyword, native, k, src);
                }
                if let Some(latin) = lang.romanized_analyzer() {
                    for r in &t.romanized {
                        let src = sample(r, true);
                        corpus.add(ti, PhrasingKind::Romanized, latin, r, src);
                    }
                    let native_phrasings = std::iter::once(&t.question)
                        .chain(&t.alternates)
                        .chain(&t.keywords);
                    for (p, &src) in native_phrasings.zip(&native_sources) {
                        corpus.add_transliterated(ti, lang, p, src);
                    }
                }
                corpus.add(ti, PhrasingKind::Answer, native, &t.answer, u32::MAX);
                if let Some(informal) = &t.answer_informal {
                    corpus.add(ti, PhrasingKind::Answer, native, informal, u32::MAX);
                }
            }
        }
        Retriever::index_in(corpus, samples, dir)
    }

    /// Indexes the phrasings of `corpus` in memory.
    pub(super) fn index(corpus: Corpus, samples: Vec<Sample>) -> Result<Retriever, Error> {
        Retriever::index_in(corpus, samples, None)
    }

    /// Indexes the phrasings of `corpus`: per field, term ids, topic vocabularies, idf over
    /// topics, typo and n-gram indexes, the terms of each phrasing, and the tantivy index (in the empty
    /// directory `dir`, or in memory).
    fn index_in(
        corpus: Corpus,
        samples: Vec<Sample>,
        dir: Option<&Path>,
    ) -> Result<Retriever, Error> {
        let Corpus {
            raw,
            sources,
            texts,
            topics,
            concepts,
        } = corpus;
        let schema = schema();
        let index = match dir {
            Some(dir) => Index::create_in_dir(dir, schema).map_err(Error::index)?,
            None => Index::create_in_ram(schema),
        };
        register_tokenizer(&index);
        let tantivy_fields = fields_of(&index.schema())?;

        // Per field: term ids, topic vocabularies, and idf over topics.
        let mut fields: HashMap<Analyzer, FieldData> = HashMap::new();
        for a in Analyzer::ALL {
            fields.insert(
                a,
                FieldData {
                    field: tantivy_fields[&a],
                    ids: FastMap::default(),
                    weights: Vec::new(),
                    names: Vec::new(),
                    unknown_word: 0.0,
                    unknown_gram: 0.0,
                    topics: (0..topics).map(|_| TopicTerms::default()).collect(),
                    concepts: concepts[&a].clone(),
                    fuzzy: FuzzyIndex::default(),
                    chargrams: CharGrams::default(),
                },
            );
        }
        // Per phrasing: its distinct term ids, sorted (kept only while building).
        let mut term_ids: Vec<Vec<TermId>> = Vec::with_capacity(raw.len());
        let mut phrasings = Vec::with_capacity(raw.len());
        for (pid, (topic, kind, analyzer, terms)) in raw.iter().enumerate() {
            let fd = fields
                .get_mut(analyzer)
                .expect("every analyzer has a field");
            let mut ids: Vec<TermId> = terms
                .iter()
                .map(|t| {
                    let next = fd.ids.len() as TermId;
                    *fd.ids.entry(t.clone()).or_insert(next)
                })
                .collect();
            ids.sort_unstable();
            let tt = &mut fd.topics[*topic];
            if *kind == PhrasingKind::Answer {
                tt.answer.extend(&ids);
            } else {
                tt.phrasings.push(pid as u32);
                tt.vocabulary.extend(&ids);
            }
            phrasings.push(Phrasing {
                topic: *topic as u32,
                kind: *kind,
                source: sources[pid],
                total_weight: 0.0,
            });
            term_ids.push(ids);
        }
        for fd in fields.values_mut() {
            let mut df = vec![0u32; fd.ids.len()];
            let mut docs = 0usize;
            for tt in &mut fd.topics {
                tt.vocabulary.sort_unstable();
                tt.vocabulary.dedup();
                tt.vocabulary.shrink_to_fit();
                tt.answer.sort_unstable();
                tt.answer.dedup();
                tt.answer.shrink_to_fit();
                tt.phrasings.shrink_to_fit();
                if tt.vocabulary.is_empty() && tt.answer.is_empty() {
                    continue;
                }
                docs += 1;
                let mut all: Vec<TermId> =
                    tt.vocabulary.iter().chain(&tt.answer).copied().collect();
                all.sort_unstable();
                all.dedup();
                for id in all {
                    df[id as usize] += 1;
                }
            }
            let idf = |df: u32| (1.0 + docs as f32 / df.max(1) as f32).ln();
            let mut weights = vec![0.0; fd.ids.len()];
            for (term, &id) in &fd.ids {
                weights[id as usize] = idf(df[id as usize]) * kind_weight(term);
            }
            fd.weights = weights;
            let mut names = vec![Term::new(); fd.ids.len()];
            for (term, &id) in &fd.ids {
                names[id as usize] = term.clone();
            }
            fd.names = names;
            fd.unknown_word = idf(1) * UNKNOWN_WORD_FACTOR;
            fd.unknown_gram = idf(1) * GRAM_WEIGHT;
            fd.fuzzy = fuzzy_index(&fd.names, &fd.ids, &fd.concepts);
        }
        for (p, (ids, (_, _, analyzer, _))) in phrasings.iter_mut().zip(term_ids.iter().zip(&raw)) {
            let fd = &fields[analyzer];
            p.total_weight = ids.iter().map(|&id| fd.weights[id as usize]).sum();
        }
        for a in Analyzer::ALL {
            let of_field = raw
                .iter()
                .zip(&texts)
                .enumerate()
                .filter(|(_, ((_, kind, analyzer, _), _))| {
                    *analyzer == a && *kind != PhrasingKind::Answer
                })
                .map(|(pid, (_, text))| (pid as u32, text.as_str()));
            let cg = CharGrams::build(of_field);
            fields
                .get_mut(&a)
                .expect("every analyzer has a field")
                .chargrams = cg;
        }
        drop(texts);
        let mut term_offsets = Vec::with_capacity(phrasings.len() + 1);
        let mut flat: Vec<TermId> = Vec::new();
        for (p, ids) in phrasings.iter().zip(&term_ids) {
            term_offsets.push(flat.len() as u32);
            if p.kind != PhrasingKind::Answer {
                flat.extend(ids);
            }
        }
        term_offsets.push(flat.len() as u32);
        flat.shrink_to_fit();
        drop(term_ids);

        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 32_000_000)
            .map_err(Error::index)?;
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let pid_field = index.schema().get_field(PID_FIELD).map_err(Error::index)?;
        let mut line = String::new();
        for (pid, (_, _, analyzer, terms)) in raw.iter().enumerate() {
            line.clear();
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(t);
            }
            writer
                .add_document(
                    doc!(tantivy_fields[analyzer] => line.as_str(), pid_field => pid as u64),
                )
                .map_err(Error::index)?;
        }
        writer.commit().map_err(Error::index)?;
        writer.wait_merging_threads().map_err(Error::index)?;
        let (searcher, pid_by_doc) = open_searcher(&index)?;
        Ok(Retriever {
            index,
            searcher,
            fields,
            phrasings,
            term_offsets,
            terms: flat,
            pid_by_doc,
            samples,
        })
    }
}

/// The name of the fast field that maps a tantivy document to its phrasing.
pub(super) const PID_FIELD: &str = "pid";

/// The schema of the index: one text field per analyzer, and the phrasing id.
fn schema() -> Schema {
    let mut schema = Schema::builder();
    for a in Analyzer::ALL {
        let opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TERMS_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        schema.add_text_field(field_name(a), opts);
    }
    schema.add_u64_field(PID_FIELD, FAST);
    schema.build()
}

/// Registers the tokenizer of the index's fields.
pub(super) fn register_tokenizer(index: &Index) {
    index.tokenizers().register(
        TERMS_TOKENIZER,
        TextAnalyzer::from(TermsTokenizer::default()),
    );
}

/// The tantivy field of every analyzer in `schema`.
pub(super) fn fields_of(schema: &Schema) -> Result<HashMap<Analyzer, Field>, Error> {
    Analyzer::ALL
        .into_iter()
        .map(|a| Ok((a, schema.get_field(field_name(a)).map_err(Error::index)?)))
        .collect()
}

/// A searcher of `index` and, per segment, the phrasing of every document.
pub(super) fn open_searcher(index: &Index) -> Result<(Searcher, Vec<Vec<u32>>), Error> {
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(Error::index)?;
    let searcher = reader.searcher();
    let mut pid_by_doc = Vec::new();
    for segment in searcher.segment_readers() {
        let column = segment.fast_fields().u64(PID_FIELD).map_err(Error::index)?;
        let map = (0..segment.max_doc())
            .map(|d| column.first(d).unwrap_or(0) as u32)
            .collect();
        pid_by_doc.push(map);
    }
    Ok((searcher, pid_by_doc))
}

/// The typo index of a field: its words, then the keys of its synonyms (a misspelt synonym
/// counts as its concept).
pub(super) fn fuzzy_index(
    names: &[Term],
    ids: &FastMap<Term, TermId>,
    concepts: &FastMap<Term, Term>,
) -> FuzzyIndex {
    let mut fuzzy = FuzzyIndex::default();
    for (id, t) in names.iter().enumerate() {
        if TermKind::of(t) == TermKind::Word {
            fuzzy.insert(t, id as TermId);
        }
    }
    let mut members: Vec<(&Term, &Term)> = concepts.iter().collect();
    members.sort_unstable();
    for (key, concept) in members {
        if let Some(&id) = ids.get(concept) {
            fuzzy.insert(key, id);
        }
    }
    fuzzy
}

/// Per analyzer: the word key of every synonym → the concept term of its group. A key that
/// two groups share (two words with one stem) stays with the first group.
fn concept_maps(synonyms: &Synonyms) -> HashMap<Analyzer, FastMap<Term, Term>> {
    let mut maps: HashMap<Analyzer, FastMap<Term, Term>> = HashMap::new();
    for a in Analyzer::ALL {
        let map = maps.entry(a).or_default();
        for group in synonyms.groups() {
            let concept = TermKind::concept_term(&group.name);
            for word in &group.words {
                let key = a.word_key(word);
                if !key.is_empty() {
                    map.entry(key).or_insert_with(|| concept.clone());
                }
            }
        }
    }
    maps
}

fn distinct(terms: Vec<Term>) -> Vec<Term> {
    let mut seen = HashSet::new();
    terms
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
}
