//! The rules' example messages as a second, small index, and the similarity of a message
//! to each example.
//!
//! The examples and counter-examples of every rule are indexed as phrasings, exactly like
//! the knowledge's: the same analyzers per field (English and Greek stems, Telugu suffix
//! stripping and sounds of loanwords, Greeklish and romanized Telugu folding), the knowledge's
//! synonym groups, Greek and Telugu examples transliterated into the romanized fields, typo
//! rescue and character n-grams. Each rule's examples form one group (a "topic" of the
//! index) and its counter-examples another, so a word's weight is its rarity among groups.
//!
//! The similarity of a message to one example is the knowledge search's score of a single
//! phrasing: the geometric mean of how much of the message's weight the example explains
//! and how much of the example's weight the message has, mixed with the character n-gram
//! cosine in the share the knowledge uses for the field. It lies in [0, 1] and is 1 for the
//! example itself, in every language. The index is small, so every example of the fields a
//! message can be in is scored; there is no candidate cut.

use super::build::Corpus;
use super::*;
use crate::config::Thresholds;

use crate::detect::detect;
use crate::knowledge::Synonyms;
use crate::rules::{IntentMatcher, IntentScore, RuleSet};
use crate::text::Script;

/// Where a group of the index comes from.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// Position of the rule in its set.
    rule: usize,
    /// Examples (true) or counter-examples.
    positive: bool,
}

/// The examples of every rule of a set, indexed.
pub(crate) struct IntentIndex {
    retriever: Retriever,
    groups: Vec<Group>,
    /// Per source (an example and its transliteration share one): the example's index in
    /// its rule's list.
    example_of: Vec<usize>,
    /// Number of rules of the set.
    rules: usize,
}

impl std::fmt::Debug for IntentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentIndex")
            .field("groups", &self.groups.len())
            .field("examples", &self.example_of.len())
            .finish()
    }
}

/// The field and language of an example list.
fn list_field(list: &str) -> (Lang, Analyzer) {
    match list {
        "el" => (Lang::El, Analyzer::Greek),
        "te" => (Lang::Te, Analyzer::Telugu),
        "el_latn" => (Lang::El, Analyzer::Greeklish),
        "te_latn" => (Lang::Te, Analyzer::TeluguLatin),
        _ => (Lang::En, Analyzer::English),
    }
}

/// How much lower than English and Greek similarities run in the field of `analyzer`, for
/// the same closeness of meaning: the ratio of the language's built-in answer threshold to
/// the default one, as for the knowledge's confidences (Telugu, agglutinative and freely
/// spelt, leaves fewer exact word matches). Similarities are divided by it, so one `min`
/// means the same in every language.
fn language_scale(analyzer: Analyzer) -> f32 {
    Thresholds::builtin(Lang::of(analyzer)).answer / Thresholds::default().answer
}

impl IntentIndex {
    /// Indexes the examples of `rules`, with the synonym groups of `synonyms`.
    pub(crate) fn build(rules: &RuleSet, synonyms: &Synonyms) -> Result<IntentIndex, Error> {
        let mut groups = Vec::new();
        for i in 0..rules.rules().len() {
            for positive in [true, false] {
                groups.push(Group { rule: i, positive });
            }
        }
        let mut corpus = Corpus::new(synonyms, groups.len());
        let mut example_of = Vec::new();
        for (i, rule) in rules.rules().iter().enumerate() {
            let lists = [&rule.examples.positive, &rule.examples.negative];
            for (g, list) in lists.into_iter().enumerate() {
                let group = 2 * i + g;
                for (n, example) in list.iter().enumerate() {
                    let source = example_of.len() as u32;
                    example_of.push(n);
                    let (lang, analyzer) = list_field(example.list);
                    let romanized = lang.romanized_analyzer() == Some(analyzer);
                    let kind = if romanized {
                        PhrasingKind::Romanized
                    } else {
                        PhrasingKind::Question
                    };
                    corpus.add(group, kind, analyzer, &example.text, source);
                    if !romanized {
                        corpus.add_transliterated(group, lang, &example.text, source);
                    }
                }
            }
        }
        Ok(IntentIndex {
            retriever: Retriever::index(corpus, Vec::new())?,
            groups,
            example_of,
            rules: rules.rules().len(),
        })
    }

    /// The fields searched for `normalized` text: the script's field; for Latin letters
    /// English, and both romanized fields unless the text is plainly English (two common
    /// English words or more, none of the romanized lexicons). Short Greeklish and
    /// romanized Telugu messages often have no word the lexicons know, or one that is also
    /// English (`me`, `to`), so the romanized fields are searched whenever in doubt.
    fn fields(normalized: &str) -> &'static [Analyzer] {
        const LATIN: [Analyzer; 3] = [
            Analyzer::English,
            Analyzer::Greeklish,
            Analyzer::TeluguLatin,
        ];
        let d = detect(normalized);
        match d.script {
            Some(Script::Telugu) => &[Analyzer::Telugu],
            Some(Script::Greek) => &[Analyzer::Greek],
            _ if d.english_hits >= 2 && d.telugu_hits == 0 && d.greeklish_hits == 0 => &LATIN[..1],
            _ => &LATIN,
        }
    }

    /// Adds the similarity of `normalized` to every example of the field of `analyzer`
    /// into `out`, keeping the closest per rule and polarity.
    fn score_field(&self, analyzer: Analyzer, normalized: &str, out: &mut [IntentScore]) {
        let r = &self.retriever;
        let fd = &r.fields[&analyzer];
        let query = r.prepare(analyzer, normalized);
        if query.total_weight <= 0.0 {
            return;
        }
        let mut grams = vec![0.0f32; r.phrasings.len()];
        fd.chargrams.similarities(normalized, &mut grams, |_| false);
        let share = chargram_share(analyzer);
        let scale = language_scale(analyzer);
        for (g, group) in self.groups.iter().enumerate() {
            for &pid in &fd.topics[g].phrasings {
                let pid = pid as usize;
                let p = &r.phrasings[pid];
                let matched = overlap(&query.known, r.terms_of(pid));
                let words = if matched > 0.0 && p.total_weight > 0.0 {
                    let q_cov = (matched / query.total_weight).min(1.0);
                    let p_cov = (matched / p.total_weight).min(1.0);
                    (q_cov * p_cov).sqrt()
                } else {
                    0.0
                };
                let similarity = (((1.0 - share) * words + share * grams[pid]) / scale).min(1.0);
                let example = self.example_of[p.source as usize];
                let s = &mut out[group.rule];
                if group.positive {
                    if similarity > s.score || s.example.is_none() {
                        s.score = similarity;
                        s.example = Some(example);
                    }
                } else if similarity > s.counter || s.counter_example.is_none() {
                    s.counter = similarity;
                    s.counter_example = Some(example);
                }
            }
        }
    }
}

impl IntentMatcher for IntentIndex {
    fn scores(&self, normalized: &str) -> Vec<IntentScore> {
        let mut out = vec![IntentScore::default(); self.rules];
        for &analyzer in IntentIndex::fields(normalized) {
            self.score_field(analyzer, normalized, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::KnowledgeBase;
    use crate::model::Decision;
    use crate::rules::Facts;
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::sync::Arc;

    const RULES: &str = r#"
[[rule]]
id = "human_request"
priority = 80
[rule.when]
any = [ { phrases.en = ["speak to a human"] }, { intent = { min = 0.6 } } ]
[rule.then]
escalate = { queue = "support" }
[rule.examples]
en = ["I want to talk to a real person", "get me someone who can actually help"]
el = ["Θέλω να μιλήσω με έναν υπάλληλο"]
te_latn = ["evaraina manishi tho maatlaadali"]
[rule.counter_examples]
en = ["how can I contact customer support?"]

[[rule]]
id = "legal_threat"
priority = 90
[rule.when]
phrases.en = ["lawyer"]
[rule.then]
escalate = { queue = "legal" }
"#;

    fn rules(with_matcher: bool) -> RuleSet {
        let (mut set, diags) = RuleSet::parse(
            Path::new("rules/t.toml"),
            RULES,
            &["support", "legal"],
            &BTreeSet::new(),
        );
        assert!(diags.is_empty(), "{diags:?}");
        if with_matcher {
            let index = IntentIndex::build(&set, &Synonyms::default()).unwrap();
            set.set_intent_matcher(Arc::new(index));
        }
        set
    }

    /// The escalating rule and the trace of a message replied to in `lang`.
    fn run_in(set: &RuleSet, text: &str, lang: Lang) -> (Option<String>, Vec<String>) {
        let normalized = normalize(text);
        let out = set.evaluate(&Facts {
            original: text,
            normalized: &normalized,
            decision: Decision::Fallback,
            confidence: 0.1,
            topic: None,
            lang,
            channel: None,
            tier: None,
            region: "GR",
            fallbacks_in_a_row: 1,
            turn: 1,
            escalated_before: false,
            open: true,
            holiday: false,
        });
        (out.escalation.map(|e| e.rule), out.trace)
    }

    /// [`run_in`] English.
    fn run(set: &RuleSet, text: &str) -> (Option<String>, Vec<String>) {
        run_in(set, text, Lang::En)
    }

    #[test]
    fn the_trace_names_the_closest_example_and_its_score() {
        let set = rules(true);
        let (rule, trace) = run(&set, "please get me somebody who can actually help");
        assert_eq!(rule.as_deref(), Some("human_request"), "{trace:?}");
        let line = &trace[0];
        assert!(
            line.starts_with("rule human_request (priority 80): intent 0.")
                && line.contains(" ~ «get me someone who can actually help» (en)")
                && line.contains("(counter-example 0."),
            "{line}"
        );
        // The score in the trace is the similarity, in [0, 1].
        let score: f32 = line["rule human_request (priority 80): intent ".len()..][..4]
            .parse()
            .unwrap();
        assert!((0.6..=1.0).contains(&score), "{line}");
    }

    #[test]
    fn examples_meet_inflections_accents_and_romanized_spellings() {
        let set = rules(true);
        let hit = |t: &str| run(&set, t).0;
        let hit_in = |t: &str, lang| run_in(&set, t, lang).0;
        // Greek with other accents, case and an inflected ending.
        assert_eq!(
            hit("ΘΕΛΩ ΝΑ ΜΙΛΗΣΩ ΜΕ ΕΝΑΝ ΥΠΑΛΛΗΛΟ ΣΑΣ").as_deref(),
            Some("human_request")
        );
        // Greeklish meets the Greek example through its transliteration.
        assert_eq!(
            hit_in("thelw na milisw me enan ypallilo", Lang::El).as_deref(),
            Some("human_request")
        );
        // Romanized Telugu spelt another way.
        assert_eq!(
            hit_in("evarainaa manishitho matladaali", Lang::Te).as_deref(),
            Some("human_request")
        );
        // A typo.
        assert_eq!(
            hit("I want to talk to a real persn").as_deref(),
            Some("human_request")
        );
    }

    #[test]
    fn counter_examples_and_distance_keep_the_condition_off() {
        let set = rules(true);
        let (rule, trace) = run(&set, "how can I contact your customer support?");
        assert_eq!(rule, None, "{trace:?}");
        assert_eq!(run(&set, "where is my parcel").0, None);
        assert_eq!(run(&set, "").0, None);
    }

    #[test]
    fn rules_without_examples_work_as_before() {
        for with_matcher in [true, false] {
            let set = rules(with_matcher);
            let (rule, trace) = run(&set, "my lawyer will call you");
            assert_eq!(rule.as_deref(), Some("legal_threat"));
            assert_eq!(trace[0], "rule legal_threat (priority 90): phrase «lawyer» (en) → escalate to legal (normal)");
            // Phrases of a rule with examples still match.
            assert_eq!(
                run(&set, "let me speak to a human").0.as_deref(),
                Some("human_request")
            );
        }
        // Without a matcher no `intent` condition holds.
        assert_eq!(
            run(&rules(false), "get me someone who can actually help").0,
            None
        );
    }

    /// The principle of the shipped thresholds: ordinary questions (the knowledge's own
    /// questions, alternates and romanized phrasings, in every language) seldom come as close
    /// to any rule's examples as half the way to the example itself, and almost never meet
    /// a shipped `intent` condition (`min = 0.6`).
    #[test]
    fn ordinary_questions_stay_far_from_the_shipped_examples() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (kb, _) = KnowledgeBase::load(root);
        let (rules, diags) = RuleSet::load(root, &BTreeSet::new());
        assert!(diags.is_empty(), "{diags:?}");
        let index = IntentIndex::build(&rules, kb.synonyms()).unwrap();
        let (mut total, mut half, mut holds) = (0, 0, Vec::new());
        for topic in kb.topics() {
            for lang in Lang::ALL {
                let t = topic.text(lang);
                let texts = std::iter::once(&t.question)
                    .chain(&t.alternates)
                    .chain(&t.romanized);
                for text in texts {
                    total += 1;
                    let scores = index.scores(&normalize(text));
                    if scores.iter().any(|s| s.score >= 0.5) {
                        half += 1;
                    }
                    for (rule, s) in rules.rules().iter().zip(&scores) {
                        if s.score >= 0.6 && s.score - s.counter >= crate::rules::DEFAULT_MARGIN {
                            holds.push(format!("{} «{text}» → {}", topic.id, rule.id));
                        }
                    }
                }
            }
        }
        assert!(total > 3000, "{total}");
        assert!(
            half * 100 <= total,
            "{half} of {total} ordinary questions reach 0.5"
        );
        assert!(
            holds.len() * 500 <= total,
            "{} of {total}:\n{}",
            holds.len(),
            holds.join("\n")
        );
    }
}
