//! Building the index: every phrasing analyzed once, indexed as its terms in the field of
//! its analyzer, with the per-field vocabulary the scoring needs.

use super::*;
use crate::knowledge::Synonyms;
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{doc, Index};

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
        Retriever::index(corpus, samples)
    }

    /// Indexes the phrasings of `corpus`: per field, term ids, topic vocabularies, idf over
    /// topics, typo and n-gram indexes, postings, and the tantivy index.
    pub(super) fn index(corpus: Corpus, samples: Vec<Sample>) -> Result<Retriever, Error> {
        let Corpus {
            raw,
            sources,
            texts,
            topics,
            concepts,
        } = corpus;
        let mut schema = Schema::builder();
        let mut tantivy_fields = HashMap::new();
        for a in Analyzer::ALL {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TERMS_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            tantivy_fields.insert(a, schema.add_text_field(field_name(a), opts));
        }
        let pid_field = schema.add_u64_field("pid", FAST);
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(
            TERMS_TOKENIZER,
            TextAnalyzer::from(TermsTokenizer::default()),
        );

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
                    postings: Vec::new(),
                    concepts: concepts[&a].clone(),
                    fuzzy: FuzzyIndex::default(),
                    chargrams: CharGrams::default(),
                },
            );
        }
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
                tt.phrasings.push(pid);
                tt.vocabulary.extend(&ids);
            }
            phrasings.push(Phrasing {
                topic: *topic,
                kind: *kind,
                source: sources[pid],
                terms: ids,
                total_weight: 0.0,
            });
        }
        for fd in fields.values_mut() {
            let mut df = vec![0u32; fd.ids.len()];
            let mut docs = 0usize;
            for tt in &mut fd.topics {
                tt.vocabulary.sort_unstable();
                tt.vocabulary.dedup();
                tt.answer.sort_unstable();
                tt.answer.dedup();
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
            let mut fuzzy = FuzzyIndex::default();
            let mut words: Vec<(&Term, TermId)> = fd
                .ids
                .iter()
                .filter(|(t, _)| TermKind::of(t) == TermKind::Word)
                .map(|(t, &id)| (t, id))
                .collect();
            words.sort_unstable_by_key(|&(_, id)| id);
            for (t, id) in words {
                fuzzy.insert(t, id);
            }
            // A misspelt synonym counts as its concept.
            let mut members: Vec<(&Term, &Term)> = fd.concepts.iter().collect();
            members.sort_unstable();
            for (key, concept) in members {
                if let Some(&id) = fd.ids.get(concept) {
                    fuzzy.insert(key, id);
                }
            }
            fd.fuzzy = fuzzy;
        }
        for (p, (_, _, analyzer, _)) in phrasings.iter_mut().zip(&raw) {
            let fd = &fields[analyzer];
            p.total_weight = p.terms.iter().map(|&id| fd.weights[id as usize]).sum();
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
        for (pid, (p, (_, _, analyzer, _))) in phrasings.iter().zip(&raw).enumerate() {
            if p.kind == PhrasingKind::Answer {
                continue;
            }
            let fd = fields
                .get_mut(analyzer)
                .expect("every analyzer has a field");
            if fd.postings.len() < fd.ids.len() {
                fd.postings.resize(fd.ids.len(), Vec::new());
            }
            for &id in &p.terms {
                fd.postings[id as usize].push(pid as u32);
            }
        }

        let mut writer = index
            .writer_with_num_threads(1, 32_000_000)
            .map_err(Error::index)?;
        for (pid, (_, _, analyzer, terms)) in raw.iter().enumerate() {
            writer
                .add_document(
                    doc!(tantivy_fields[analyzer] => terms.join(" "), pid_field => pid as u64),
                )
                .map_err(Error::index)?;
        }
        writer.commit().map_err(Error::index)?;
        let reader = index.reader().map_err(Error::index)?;
        let searcher = reader.searcher();
        let mut pid_by_doc = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("pid").map_err(Error::index)?;
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
            samples,
        })
    }
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
