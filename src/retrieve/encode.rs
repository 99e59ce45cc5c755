//! The index's own structures (phrasings with their term ids, and per field terms, weights,
//! topic vocabularies, synonyms and character n-grams) and the calibration, as bytes:
//! what the persistent index keeps beside tantivy's files. The typo index is rebuilt from
//! the terms on load, which is cheap.

use super::build::fuzzy_index;
use super::codec::{DecodeError, Reader, Writer};
use super::*;
use crate::calibrate::{Calibration, LangCalibration, Outcome};
use crate::config::Thresholds;
use std::collections::BTreeMap;

/// The first bytes of the data file.
const MAGIC: &[u8; 8] = b"SAHAYAIX";

fn kind_code(kind: PhrasingKind) -> u8 {
    match kind {
        PhrasingKind::Question => 0,
        PhrasingKind::Alternate => 1,
        PhrasingKind::Romanized => 2,
        PhrasingKind::Transliterated => 3,
        PhrasingKind::Keyword => 4,
        PhrasingKind::Answer => 5,
    }
}

fn kind_of(code: u8) -> Option<PhrasingKind> {
    Some(match code {
        0 => PhrasingKind::Question,
        1 => PhrasingKind::Alternate,
        2 => PhrasingKind::Romanized,
        3 => PhrasingKind::Transliterated,
        4 => PhrasingKind::Keyword,
        5 => PhrasingKind::Answer,
        _ => return None,
    })
}

/// The Rust-side part of an index read back, waiting for its tantivy part.
pub(super) struct Decoded {
    pub(super) phrasings: Vec<Phrasing>,
    pub(super) term_offsets: Vec<u32>,
    pub(super) terms: Vec<TermId>,
    pub(super) fields: Vec<(Analyzer, FieldData)>,
    /// Documents tantivy must have.
    pub(super) docs: u64,
    pub(super) calibration: Calibration,
}

/// The bytes of `retriever`'s own structures and of `calibration`.
pub(super) fn encode(retriever: &Retriever, calibration: &Calibration) -> Vec<u8> {
    let mut w = Writer::default();
    for &b in MAGIC {
        w.u8(b);
    }
    w.len(retriever.phrasings.len());
    for p in &retriever.phrasings {
        w.u32(p.topic);
        w.u8(kind_code(p.kind));
        w.u32(p.source);
        w.f32(p.total_weight);
    }
    w.u32s(&retriever.term_offsets);
    w.u32s(&retriever.terms);
    w.u64(retriever.searcher.num_docs());
    for a in Analyzer::ALL {
        encode_field(&mut w, &retriever.fields[&a]);
    }
    for map in [&calibration.by_lang, &calibration.romanized] {
        w.len(map.len());
        for (lang, c) in map {
            w.str(lang.code());
            encode_calibration(&mut w, c);
        }
    }
    w.into_bytes()
}

fn encode_field(w: &mut Writer, fd: &FieldData) {
    w.len(fd.names.len());
    for name in &fd.names {
        w.str(name);
    }
    w.f32s(&fd.weights);
    w.f32(fd.unknown_word);
    w.f32(fd.unknown_gram);
    w.len(fd.topics.len());
    for tt in &fd.topics {
        w.u32s(&tt.phrasings);
        w.u32s(&tt.vocabulary);
        w.u32s(&tt.answer);
    }
    let mut concepts: Vec<(&Term, &Term)> = fd.concepts.iter().collect();
    concepts.sort_unstable();
    w.len(concepts.len());
    for (key, concept) in concepts {
        w.str(key);
        w.str(concept);
    }
    fd.chargrams.encode(w);
}

fn encode_calibration(w: &mut Writer, c: &LangCalibration) {
    w.f32(c.thresholds.answer);
    w.f32(c.thresholds.clarify);
    w.f32(c.thresholds.margin);
    w.len(c.samples);
    w.f32(c.coverage);
    w.f32(c.precision);
    w.len(c.wrong.len());
    for o in &c.wrong {
        w.str(&o.text);
        w.str(&o.topic);
        match &o.found {
            Some(f) => {
                w.u8(1);
                w.str(f);
            }
            None => w.u8(0),
        }
        w.f32(o.confidence);
        w.f32(o.lead);
        w.u8(o.out_of_scope as u8);
    }
}

/// Reads what [`encode`] wrote; the tantivy fields are those of the index it goes with.
pub(super) fn decode(
    bytes: &[u8],
    tantivy_fields: &HashMap<Analyzer, Field>,
) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(bytes);
    for &b in MAGIC {
        if r.u8()? != b {
            return Err(r.error("not a Sahaya index data file"));
        }
    }
    let n = r.len(13)?;
    let mut phrasings = Vec::with_capacity(n);
    for _ in 0..n {
        let topic = r.u32()?;
        let kind = kind_of(r.u8()?).ok_or_else(|| r.error("unknown phrasing kind"))?;
        let source = r.u32()?;
        let total_weight = r.f32()?;
        phrasings.push(Phrasing {
            topic,
            kind,
            source,
            total_weight,
        });
    }
    let term_offsets = r.u32s()?;
    let terms = r.u32s()?;
    if term_offsets.len() != phrasings.len() + 1
        || term_offsets.first() != Some(&0)
        || term_offsets.windows(2).any(|w| w[0] > w[1])
        || term_offsets.last().map(|&l| l as usize) != Some(terms.len())
    {
        return Err(r.error("inconsistent phrasing terms"));
    }
    let docs = r.u64()?;
    let mut fields = Vec::new();
    let mut topics = None;
    for a in Analyzer::ALL {
        let fd = decode_field(&mut r, tantivy_fields[&a], phrasings.len())?;
        if *topics.get_or_insert(fd.topics.len()) != fd.topics.len() {
            return Err(r.error("fields with different numbers of topics"));
        }
        fields.push((a, fd));
    }
    if phrasings
        .iter()
        .any(|p| p.topic as usize >= topics.unwrap_or(0))
    {
        return Err(r.error("topic out of range"));
    }
    let mut calibration = Calibration::default();
    for map in [&mut calibration.by_lang, &mut calibration.romanized] {
        *map = decode_calibrations(&mut r)?;
    }
    // Every term id of a phrasing is a term of its field.
    let sizes: HashMap<Analyzer, usize> = fields.iter().map(|(a, f)| (*a, f.names.len())).collect();
    for (a, fd) in &fields {
        for tt in &fd.topics {
            for &pid in &tt.phrasings {
                let (from, to) = (term_offsets[pid as usize], term_offsets[pid as usize + 1]);
                if terms[from as usize..to as usize]
                    .iter()
                    .any(|&t| t as usize >= sizes[a])
                {
                    return Err(r.error("term id out of range"));
                }
            }
        }
    }
    if !r.is_done() {
        return Err(r.error("trailing bytes"));
    }
    Ok(Decoded {
        phrasings,
        term_offsets,
        terms,
        fields,
        docs,
        calibration,
    })
}

/// A list of ids, each below `bound`.
fn ids_below(r: &mut Reader<'_>, bound: usize) -> Result<Vec<u32>, DecodeError> {
    let ids = r.u32s()?;
    if ids.iter().any(|&i| i as usize >= bound) {
        return Err(r.error("id out of range"));
    }
    Ok(ids)
}

fn decode_field(
    r: &mut Reader<'_>,
    field: Field,
    phrasings: usize,
) -> Result<FieldData, DecodeError> {
    let n = r.len(8)?;
    let mut names = Vec::with_capacity(n);
    let mut ids: FastMap<Term, TermId> = FastMap::default();
    ids.reserve(n);
    for id in 0..n {
        let name = r.str()?;
        ids.insert(name.clone(), id as TermId);
        names.push(name);
    }
    if ids.len() != n {
        return Err(r.error("repeated term"));
    }
    let weights = r.f32s()?;
    if weights.len() != n {
        return Err(r.error("weights and terms of different lengths"));
    }
    let unknown_word = r.f32()?;
    let unknown_gram = r.f32()?;
    let t = r.len(24)?;
    let mut topics = Vec::with_capacity(t);
    for _ in 0..t {
        topics.push(TopicTerms {
            phrasings: ids_below(r, phrasings)?,
            vocabulary: ids_below(r, n)?,
            answer: ids_below(r, n)?,
        });
    }
    let c = r.len(16)?;
    let mut concepts = FastMap::default();
    for _ in 0..c {
        let key = r.str()?;
        concepts.insert(key, r.str()?);
    }
    let chargrams = CharGrams::decode(r, phrasings)?;
    let fuzzy = fuzzy_index(&names, &ids, &concepts);
    Ok(FieldData {
        field,
        ids,
        weights,
        names,
        unknown_word,
        unknown_gram,
        topics,
        concepts,
        fuzzy,
        chargrams,
    })
}

fn decode_calibrations(r: &mut Reader<'_>) -> Result<BTreeMap<Lang, LangCalibration>, DecodeError> {
    let n = r.len(8)?;
    let mut map = BTreeMap::new();
    for _ in 0..n {
        let lang: Lang = r.str()?.parse().map_err(|_| r.error("unknown language"))?;
        let thresholds = Thresholds {
            answer: r.f32()?,
            clarify: r.f32()?,
            margin: r.f32()?,
        };
        let samples = r.u64()? as usize;
        let coverage = r.f32()?;
        let precision = r.f32()?;
        let k = r.len(8)?;
        let mut wrong = Vec::with_capacity(k);
        for _ in 0..k {
            let text = r.str()?;
            let topic = r.str()?;
            let found = match r.u8()? {
                0 => None,
                1 => Some(r.str()?),
                _ => return Err(r.error("bad option tag")),
            };
            wrong.push(Outcome {
                text,
                topic,
                found,
                confidence: r.f32()?,
                lead: r.f32()?,
                out_of_scope: r.u8()? != 0,
            });
        }
        map.insert(
            lang,
            LangCalibration {
                thresholds,
                samples,
                coverage,
                precision,
                wrong,
            },
        );
    }
    Ok(map)
}
