//! Confidence calibration derived from the knowledge itself.
//!
//! Every question, alternate, keyword and romanized phrasing of the knowledge is sent to the
//! index as if it were a customer's message, with that phrasing left out (leave-one-out):
//! the other phrasings of its topic must find it. Each such query gives the best topic's
//! confidence, its lead over the second, and whether the best topic was the right one.
//! Per language, the `answer` threshold and the lead (`margin`) are then chosen as the pair
//! that answers the most phrasings rightly while the answers given stay right at least
//! [`CalibrationConfig::target_precision`] of the time.
//!
//! So editors who add topics or phrasings never tune numbers by hand: the engine measures
//! how separable the content is each time it loads. Thresholds set in the configuration
//! override the calibrated ones.

pub use crate::config::CalibrationConfig;
use crate::config::Thresholds;
use crate::lang::Lang;
use std::collections::BTreeMap;

/// One left-out phrasing and what the index made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The phrasing.
    pub text: String,
    /// Its topic id.
    pub topic: String,
    /// The best topic without it (`None`: nothing matched).
    pub found: Option<String>,
    /// The best topic's confidence.
    pub confidence: f32,
    /// The best topic's lead over the second.
    pub lead: f32,
    /// The best topic is out of scope (the engine falls back there).
    pub out_of_scope: bool,
}

impl Outcome {
    fn right(&self) -> bool {
        self.found.as_deref() == Some(self.topic.as_str())
    }

    fn answered(&self, t: &Thresholds) -> bool {
        !self.out_of_scope && self.confidence >= t.answer && self.lead >= t.margin
    }
}

/// The calibration of one language.
#[derive(Debug, Clone, PartialEq)]
pub struct LangCalibration {
    /// The thresholds chosen.
    pub thresholds: Thresholds,
    /// Phrasings sent.
    pub samples: usize,
    /// Share of them answered rightly with these thresholds (expected coverage).
    pub coverage: f32,
    /// Share of the answers that were right.
    pub precision: f32,
    /// Phrasings that would be answered with another topic: the editors' to-do list.
    pub wrong: Vec<Outcome>,
}

/// The calibration of every language with enough phrasings. Greek and Telugu typed in Latin
/// letters (Greeklish, romanized Telugu) are calibrated apart from the native script: their
/// matches score differently, and one set of thresholds for both would let the noisier
/// romanized phrasings raise the bar for native messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// Per language, native script.
    pub by_lang: BTreeMap<Lang, LangCalibration>,
    /// Per language, typed in Latin letters (Greek and Telugu).
    pub romanized: BTreeMap<Lang, LangCalibration>,
}

impl Calibration {
    /// The calibrated thresholds of `lang` in its own script, if it was calibrated.
    pub fn thresholds(&self, lang: Lang) -> Option<Thresholds> {
        self.by_lang.get(&lang).map(|c| c.thresholds)
    }

    /// The calibrated thresholds of `lang` typed in Latin letters, if it was calibrated. They
    /// are never laxer than the native script's: the knowledge's romanized phrasings are
    /// clean transliterations, while customers' Latin spelling is the noisiest input there is.
    pub fn romanized_thresholds(&self, lang: Lang) -> Option<Thresholds> {
        let latin = self.romanized.get(&lang)?.thresholds;
        Some(match self.thresholds(lang) {
            Some(native) => Thresholds {
                answer: latin.answer.max(native.answer),
                clarify: latin.clarify.max(native.clarify),
                margin: latin.margin.max(native.margin),
            },
            None => latin,
        })
    }
}

/// Pairs that answer rightly within this share of the phrasings of the best count as
/// equally good; see [`fit`].
const NEAR_BEST: f32 = 0.005;

/// Fewer left-out phrasings than this say too little; the language keeps the defaults.
const MIN_SAMPLES: usize = 40;

/// Chooses the thresholds of one language from its left-out phrasings; `base` gives the
/// `clarify` level, which calibration keeps, and which `answer` does not go below.
pub(crate) fn fit(
    outcomes: Vec<Outcome>,
    base: Thresholds,
    target: f32,
) -> Option<LangCalibration> {
    if outcomes.len() < MIN_SAMPLES {
        return None;
    }
    let n = outcomes.len() as f32;
    // Every pair that keeps the answers precise enough, with how many it answers rightly.
    let mut feasible: Vec<(usize, Thresholds)> = Vec::new();
    // The knowledge holds next to no off-topic messages, so calibration cannot tell how
    // low a score still means "about the business": `answer` stays at or above `clarify`,
    // the level below which the engine falls back.
    let floor = (base.clarify * 100.0).round() as u32;
    for a in floor..=80 {
        for m in 0..=15 {
            let t = Thresholds {
                answer: a as f32 / 100.0,
                clarify: base.clarify,
                margin: m as f32 / 100.0,
            };
            let (mut right, mut answered) = (0usize, 0usize);
            for o in &outcomes {
                if o.answered(&t) {
                    answered += 1;
                    right += o.right() as usize;
                }
            }
            // One more wrong answer than seen: a few lucky samples do not lower the bar.
            let precision = right as f32 / (answered + 1) as f32;
            if answered > 0 && precision >= target {
                feasible.push((right, t));
            }
        }
    }
    // Near the best coverage the precision curve is flat and a few samples decide between
    // distant pairs; among the pairs within 0.5% of the phrasings of the best, the one with
    // the highest `answer` wins (then the highest margin): stable as content changes, and
    // the least exposed to messages about something else.
    let most = feasible.iter().map(|(r, _)| *r).max()?;
    let slack = (outcomes.len() as f32 * NEAR_BEST).round() as usize;
    let (right, thresholds) = feasible
        .into_iter()
        .filter(|(r, _)| r + slack >= most)
        .max_by(|(_, x), (_, y)| {
            x.answer
                .total_cmp(&y.answer)
                .then(x.margin.total_cmp(&y.margin))
        })?;
    let answered = outcomes.iter().filter(|o| o.answered(&thresholds)).count();
    let wrong = outcomes
        .iter()
        .filter(|o| o.answered(&thresholds) && !o.right())
        .cloned()
        .collect();
    Some(LangCalibration {
        thresholds,
        samples: outcomes.len(),
        coverage: right as f32 / n,
        precision: right as f32 / answered.max(1) as f32,
        wrong,
    })
}

/// At most `max` of `texts`, chosen by a hash of each text: adding or removing one phrasing
/// changes the choice by at most that phrasing, so calibration does not jump when an editor
/// touches an unrelated topic.
pub(crate) fn choose<'a>(texts: impl Iterator<Item = &'a str>, max: usize) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = texts.enumerate().map(|(i, t)| (fnv1a(t), i)).collect();
    keyed.sort_unstable();
    keyed.truncate(max);
    let mut chosen: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    chosen.sort_unstable();
    chosen
}

/// Calibrations measured in this process, by [`fingerprint`] of the content and settings.
static CACHE: std::sync::Mutex<Vec<(u64, Calibration)>> = std::sync::Mutex::new(Vec::new());
/// Calibrations kept; the oldest goes first.
const CACHED: usize = 4;

/// A fingerprint of everything a calibration depends on, given as text.
pub(crate) fn fingerprint(text: &str) -> u64 {
    fnv1a(text)
}

/// The calibration measured earlier for `key`, if any.
pub(crate) fn cached(key: u64) -> Option<Calibration> {
    let cache = crate::sync::lock(&CACHE);
    cache
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| c.clone())
}

/// Keeps `calibration` for `key`.
pub(crate) fn remember(key: u64, calibration: &Calibration) {
    let mut cache = crate::sync::lock(&CACHE);
    cache.retain(|(k, _)| *k != key);
    if cache.len() == CACHED {
        cache.remove(0);
    }
    cache.push((key, calibration.clone()));
}

/// FNV-1a: a hash that is the same on every platform and in every release.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(right: bool, confidence: f32, lead: f32) -> Outcome {
        Outcome {
            text: String::new(),
            topic: "a".into(),
            found: Some(if right { "a" } else { "b" }.into()),
            confidence,
            lead,
            out_of_scope: false,
        }
    }

    #[test]
    fn the_threshold_sits_above_the_wrong_answers() {
        let mut v = Vec::new();
        // Right answers from 0.40 up; wrong ones at 0.30..0.38 with small leads.
        for i in 0..80 {
            v.push(outcome(true, 0.40 + i as f32 / 200.0, 0.2));
        }
        for i in 0..20 {
            v.push(outcome(false, 0.30 + i as f32 / 250.0, 0.01));
        }
        let base = Thresholds::default();
        let c = fit(v, base, 0.95).unwrap();
        assert!(c.thresholds.answer <= 0.40, "{:?}", c.thresholds);
        // Wrong answers are kept out by the score or by the lead.
        assert!(c.thresholds.answer > 0.378 || c.thresholds.margin > 0.01);
        assert!(c.wrong.is_empty());
        assert!((c.coverage - 0.8).abs() < 1e-6);
        assert!(c.thresholds.clarify <= c.thresholds.answer);
    }

    #[test]
    fn too_few_or_hopeless_samples_give_no_calibration() {
        let few: Vec<_> = (0..10).map(|_| outcome(true, 0.9, 0.5)).collect();
        assert!(fit(few, Thresholds::default(), 0.95).is_none());
        let hopeless: Vec<_> = (0..100).map(|i| outcome(i % 2 == 0, 0.9, 0.5)).collect();
        assert!(fit(hopeless, Thresholds::default(), 0.95).is_none());
    }

    #[test]
    fn the_choice_is_bounded_and_stable_under_additions() {
        let texts: Vec<String> = (0..100).map(|i| format!("phrasing {i}")).collect();
        let some = choose(texts.iter().map(String::as_str), 30);
        assert_eq!(some.len(), 30);
        assert_eq!(choose(texts.iter().map(String::as_str), 500).len(), 100);
        // One more text changes the choice by at most one member.
        let mut more = texts.clone();
        more.insert(0, "a new phrasing".into());
        let again: Vec<&str> = choose(more.iter().map(String::as_str), 30)
            .into_iter()
            .map(|i| more[i].as_str())
            .collect();
        let before: Vec<&str> = some.iter().map(|&i| texts[i].as_str()).collect();
        let kept = before.iter().filter(|t| again.contains(t)).count();
        assert!(kept >= 29, "{kept}");
    }
}
