//! Engine settings: thresholds, calibration, sessions and register defaults. Every field
//! has a default; the server reads them from the `[engine]` table of `sahaya.toml`.

use crate::lang::{Formality, Lang};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The index directory when `index_dir` is not set, in the data directory.
pub const DEFAULT_INDEX_DIR: &str = ".sahaya-index";

/// Engine settings; every field has a default.
///
/// The thresholds of a language are, in order of precedence: `thresholds_by_lang`,
/// `thresholds`, the calibration measured at load ([`crate::calibrate`]), and
/// [`Thresholds::builtin`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Thresholds for every language, instead of the calibrated ones.
    pub thresholds: Option<Thresholds>,
    /// Per-language thresholds, keyed by language code; they win over everything else.
    pub thresholds_by_lang: BTreeMap<Lang, Thresholds>,
    /// How thresholds are derived from the content at load.
    pub calibration: CalibrationConfig,
    /// A session is forgotten this many seconds after its last message.
    pub session_ttl_secs: u64,
    /// At most this many sessions are kept; the least recently seen makes room.
    pub max_sessions: usize,
    /// Register per channel when the request gives none (e.g. `whatsapp = "informal"`).
    pub formality_by_channel: BTreeMap<String, Formality>,
    /// Register per language when neither request nor channel gives one; formal otherwise.
    pub formality_by_lang: BTreeMap<Lang, Formality>,
    /// Channels whose replies wrap names and dates in Unicode bidi isolation marks (rich
    /// chat widgets); plain-text channels (email, SMS) never get them.
    pub bidi_isolation_channels: Vec<String>,
    /// Where the persistent search index is kept (relative paths are taken from the data
    /// directory); default `.sahaya-index` in the data directory. When it cannot be written
    /// the index is built in memory.
    pub index_dir: Option<PathBuf>,
    /// Knowledge bases with at least this many entries (a topic in one language is one
    /// entry) keep their index on disk and reuse it at start; smaller ones are indexed in
    /// memory, which takes less than a second.
    pub index_min_entries: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            thresholds: None,
            thresholds_by_lang: BTreeMap::new(),
            calibration: Default::default(),
            session_ttl_secs: 30 * 60,
            max_sessions: 100_000,
            formality_by_channel: BTreeMap::new(),
            formality_by_lang: BTreeMap::new(),
            bidi_isolation_channels: vec!["web".into()],
            index_dir: None,
            index_min_entries: 3000,
        }
    }
}

/// Confidence thresholds of one language.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// At or above this (and clearly ahead of the second topic) the bot answers.
    pub answer: f32,
    /// At or above this the bot asks which topic was meant; below it falls back.
    pub clarify: f32,
    /// An answer needs to lead the second topic by this much; otherwise clarify.
    pub margin: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 0.5,
            clarify: 0.3,
            margin: 0.08,
        }
    }
}

impl Thresholds {
    /// The thresholds a language has when it is neither calibrated nor configured. Telugu's
    /// are lower: agglutination and free spelling leave fewer exact word matches, so its
    /// confidences run lower for the same quality of match.
    pub fn builtin(lang: Lang) -> Thresholds {
        match lang {
            Lang::Te => Thresholds {
                answer: 0.45,
                clarify: 0.24,
                margin: 0.08,
            },
            _ => Thresholds::default(),
        }
    }
}

/// Settings of the calibration; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    /// Calibrate at load; when false the configured (or built-in) thresholds apply.
    pub enabled: bool,
    /// Share of confident answers that must be right, on the left-out phrasings.
    pub target_precision: f32,
    /// At most this many phrasings per language are sent (chosen by a hash of their text,
    /// so the choice is stable as content changes), which bounds the load time of large
    /// bases.
    pub max_samples_per_lang: usize,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            enabled: true,
            target_precision: 0.95,
            max_samples_per_lang: 2000,
        }
    }
}
