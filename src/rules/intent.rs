//! Intents: example messages of a rule, and how close a message is to them.
//!
//! A rule may list example messages (`examples.<list>`) of what it means, and
//! counter-examples (`counter_examples.<list>`) of what it does not mean although the words
//! are near ("how do refunds work?" is no payment dispute). The rules only keep them; the
//! retrieval stage indexes them with the analyzers of the knowledge and measures, for each
//! message, its similarity to every example: an [`IntentMatcher`] that the engine attaches to
//! the [`RuleSet`](super::RuleSet).
//!
//! The condition `intent = { min = x, margin = m }` holds when the closest example is at
//! least `x` similar and at least `m` more similar than the closest counter-example.

use std::fmt;

/// The lists of examples, like those of phrases: English, Greek, Telugu, Greeklish and
/// Telugu in Latin letters.
pub const LISTS: [&str; 5] = ["en", "el", "te", "el_latn", "te_latn"];

/// The margin by which the closest example must beat the closest counter-example when the
/// condition does not say: the lead the knowledge search asks of an answer over the second
/// topic ([`Thresholds::margin`](crate::Thresholds::margin)).
pub const DEFAULT_MARGIN: f32 = 0.08;

/// One example message of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text as the editor wrote it.
    pub text: String,
    /// Its list: one of [`LISTS`].
    pub list: &'static str,
}

/// The examples and counter-examples of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Examples {
    /// Messages that mean what the rule is for.
    pub positive: Vec<Example>,
    /// Messages near them in words that do not (ordinary questions on the same subject).
    pub negative: Vec<Example>,
}

impl Examples {
    /// True when the rule has neither examples nor counter-examples.
    pub fn is_empty(&self) -> bool {
        self.positive.is_empty() && self.negative.is_empty()
    }
}

/// How close one message is to one rule's examples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntentScore {
    /// Similarity in [0, 1] to the closest example (1 for the example itself).
    pub score: f32,
    /// That example: its index in [`Examples::positive`].
    pub example: Option<usize>,
    /// Similarity to the closest counter-example (0 when the rule has none).
    pub counter: f32,
    /// That counter-example: its index in [`Examples::negative`].
    pub counter_example: Option<usize>,
}

/// Measures how close a message is to the examples of every rule of a set.
pub(crate) trait IntentMatcher: Send + Sync + fmt::Debug {
    /// The scores of normalized text, one per rule of the set the matcher was built from
    /// (in the order of [`RuleSet::rules`](super::RuleSet::rules); a rule without examples
    /// scores 0).
    fn scores(&self, normalized: &str) -> Vec<IntentScore>;
}

/// The condition `intent = { min, margin }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct IntentCondition {
    /// Least similarity to the closest example.
    pub min: f32,
    /// Least lead of the closest example over the closest counter-example.
    pub margin: f32,
}

impl IntentCondition {
    /// True when `s` is close enough to an example and clearly closer to it than to any
    /// counter-example.
    pub(super) fn holds(&self, s: &IntentScore) -> bool {
        s.example.is_some() && s.score >= self.min && s.score - s.counter >= self.margin
    }
}
