//! Grouping the questions the bot could not answer: the same question typed with or
//! without accents, ZWNJ or capitals, and near paraphrases, land in one group.

use crate::store::LogRecord;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Two questions are paraphrases when they share at least two content words and these are
/// at least this share of the shorter one's content words.
pub const SIMILAR: f64 = 0.5;

/// Letters of a content word compared (a crude stem: `plants` and `plant` agree).
const STEM_CHARS: usize = 5;
/// Words shorter than this are function words for grouping.
const MIN_WORD_CHARS: usize = 4;
/// Texts shown per group.
const EXAMPLES: usize = 5;

/// Questions of one language that the bot answered with a menu or not at all, near
/// duplicates together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Reply language.
    pub lang: String,
    /// Messages in the group.
    pub count: usize,
    /// How many got a menu ("did you mean …?").
    pub clarified: usize,
    /// How many got nothing.
    pub fell_back: usize,
    /// Distinct texts, most frequent first (empty when texts are not kept).
    pub examples: Vec<String>,
    /// The topic closest to most of them, and its best score: where to add an alternate.
    pub closest_topic: Option<String>,
    /// Best confidence of the closest topic among the group's messages.
    pub score: f32,
}

/// The content words of a text, cut to their first letters.
fn stems(text: &str) -> BTreeSet<String> {
    let normalized = crate::text::normalize(text);
    crate::text::words(&normalized)
        .filter(|w| w.chars().count() >= MIN_WORD_CHARS)
        .map(|w| w.chars().take(STEM_CHARS).collect())
        .collect()
}

fn similar(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    let shared = a.intersection(b).count();
    let shorter = a.len().min(b.len());
    shared >= 2 && shared as f64 >= SIMILAR * shorter as f64
}

/// Groups `rows` (one language or several; groups never mix languages), largest first.
pub(super) fn group(rows: &[&LogRecord]) -> Vec<Group> {
    // Identical questions first: one node per language and fingerprint.
    let mut nodes: Vec<(String, String, Vec<&LogRecord>)> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in rows {
        let key = (r.entry.lang.as_str(), r.entry.fingerprint.as_str());
        match index.get(&key) {
            Some(&i) => nodes[i].2.push(r),
            None => {
                index.insert(key, nodes.len());
                nodes.push((r.entry.lang.clone(), r.entry.fingerprint.clone(), vec![r]));
            }
        }
    }
    // Then paraphrases, when the texts were kept: single link over content words.
    let words: Vec<Option<BTreeSet<String>>> = nodes
        .iter()
        .map(|(_, _, rs)| rs.iter().find_map(|r| r.entry.text.as_deref()).map(stems))
        .collect();
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..nodes.len() {
        for j in 0..i {
            if nodes[i].0 != nodes[j].0 {
                continue;
            }
            if let (Some(a), Some(b)) = (&words[i], &words[j]) {
                if similar(a, b) {
                    let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                    parent[ri] = rj;
                }
            }
        }
    }
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..nodes.len() {
        let r = root(&mut parent, i);
        clusters.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Group> = clusters
        .into_values()
        .map(|members| {
            let records: Vec<&LogRecord> = members
                .iter()
                .flat_map(|&i| nodes[i].2.iter().copied())
                .collect();
            summarize(&nodes[members[0]].0, &records)
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.lang.cmp(&b.lang))
            .then(a.examples.cmp(&b.examples))
    });
    groups
}

fn summarize(lang: &str, records: &[&LogRecord]) -> Group {
    let mut texts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut topics: BTreeMap<&str, (usize, f32)> = BTreeMap::new();
    for r in records {
        if let Some(t) = r.entry.text.as_deref() {
            *texts.entry(t).or_default() += 1;
        }
        if let Some(topic) = r.entry.topic.as_deref() {
            let e = topics.entry(topic).or_insert((0, 0.0));
            e.0 += 1;
            e.1 = e.1.max(r.entry.confidence);
        }
    }
    let mut examples: Vec<(&str, usize)> = texts.into_iter().collect();
    examples.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let closest = topics
        .into_iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)));
    Group {
        lang: lang.to_string(),
        count: records.len(),
        clarified: records
            .iter()
            .filter(|r| r.entry.decision == "clarify")
            .count(),
        fell_back: records
            .iter()
            .filter(|r| r.entry.decision == "fallback")
            .count(),
        examples: examples
            .into_iter()
            .take(EXAMPLES)
            .map(|(t, _)| t.to_string())
            .collect(),
        closest_topic: closest.map(|(t, _)| t.to_string()),
        score: closest.map_or(0.0, |(_, (_, s))| s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paraphrases_share_content_words() {
        let a = stems("Do you ship live plants?");
        let b = stems("can I send live plants abroad");
        assert!(similar(&a, &b), "{a:?} {b:?}");
        let c = stems("where is my parcel");
        assert!(!similar(&a, &c));
        // Accents, capitals and ZWNJ do not matter.
        assert_eq!(
            stems("Στέλνετε ΖΩΝΤΑΝΑ φυτά;"),
            stems("στελνετε ζωντανα φυτα")
        );
        assert_eq!(stems("పార్సెల్\u{200C}ను పంపగలరా"), stems("పార్సెల్ను పంపగలరా"));
    }
}
