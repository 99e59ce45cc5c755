//! Languages and registers.

use crate::text::{Analyzer, Script};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A language of the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Telugu (`te`).
    Te,
    /// Greek (`el`).
    El,
    /// English (`en`).
    En,
}

impl Lang {
    /// Every supported language, in the order the knowledge files list them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::El, Lang::Te];

    /// The BCP 47 code: `te`, `el`, `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Te => "te",
            Lang::El => "el",
            Lang::En => "en",
        }
    }

    /// The script the language is written in natively.
    pub fn script(self) -> Script {
        match self {
            Lang::Te => Script::Telugu,
            Lang::El => Script::Greek,
            Lang::En => Script::Latin,
        }
    }

    /// Whether the language has a formal and an informal way to address the customer
    /// (Greek εσείς/εσύ; Telugu formal and casual, always మీరు).
    pub fn has_register(self) -> bool {
        matches!(self, Lang::Te | Lang::El)
    }

    /// The analyzer for text in the native script.
    pub(crate) fn analyzer(self) -> Analyzer {
        match self {
            Lang::Te => Analyzer::Telugu,
            Lang::El => Analyzer::Greek,
            Lang::En => Analyzer::English,
        }
    }

    /// The analyzer for the language typed in Latin letters, if it has its own script.
    pub(crate) fn romanized_analyzer(self) -> Option<Analyzer> {
        match self {
            Lang::Te => Some(Analyzer::TeluguLatin),
            Lang::El => Some(Analyzer::Greeklish),
            Lang::En => None,
        }
    }

    /// Picks the reply language for an HTTP `Accept-Language` header or a list of tags
    /// (`te-IN`, `el-GR,el;q=0.9,en;q=0.5`, `el`), negotiated with fluent-langneg against
    /// the available locales. `None` when nothing requested is available: the caller then
    /// detects the language from the text.
    ///
    /// ```
    /// use sahaya::Lang;
    /// assert_eq!(Lang::negotiate("el-GR,el;q=0.9,en;q=0.5"), Some(Lang::El));
    /// assert_eq!(Lang::negotiate("fr-FR"), None);
    /// ```
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        use fluent_langneg::{negotiate_languages, parse_accepted_languages, NegotiationStrategy};
        let requested = parse_accepted_languages(accept_language);
        let available: Vec<fluent_langneg::LanguageIdentifier> = Lang::ALL
            .iter()
            .filter_map(|l| l.code().parse().ok())
            .collect();
        let chosen =
            negotiate_languages(&requested, &available, None, NegotiationStrategy::Filtering);
        chosen
            .first()
            .and_then(|id| Lang::from_tag(&id.to_string()))
    }

    /// Parses a language tag (`te`, `te-IN`, `el_GR`, `EN-us`) to a supported language.
    /// Returns `None` for a well-formed tag of a language Sahaya does not have, and for
    /// malformed tags.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().replace('_', "-");
        let id: unic_langid::LanguageIdentifier = tag.parse().ok()?;
        match id.language.as_str() {
            "te" => Some(Lang::Te),
            "el" => Some(Lang::El),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

impl Lang {
    /// The language an analyzer's field holds.
    pub(crate) fn of(analyzer: Analyzer) -> Lang {
        match analyzer {
            Analyzer::English => Lang::En,
            Analyzer::Greek | Analyzer::Greeklish => Lang::El,
            Analyzer::Telugu | Analyzer::TeluguLatin => Lang::Te,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s)
            .ok_or_else(|| crate::error::RequestError::UnknownLanguage(s.to_string()).into())
    }
}

/// How the reply addresses the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Formality {
    /// Greek εσείς/σας; Telugu మీరు with -ండి and formal vocabulary; plain English.
    #[default]
    Formal,
    /// Greek εσύ/σου; Telugu still మీరు but casual; casual English.
    Informal,
}

impl Formality {
    /// `formal` or `informal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Formality::Formal => "formal",
            Formality::Informal => "informal",
        }
    }
}

/// Why a reply is in its register: what the customer or the settings asked for, or what
/// made it formal whatever was asked (complaints and escalations are always formal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FormalityReason {
    /// The customer asked for it in words («μπορούμε να μιλάμε στον ενικό;»).
    Asked,
    /// Asked earlier in the conversation.
    Conversation,
    /// The request's `formality` field.
    Request,
    /// The channel's default (`[engine.formality_by_channel]`).
    Channel,
    /// The language's default (`[engine.formality_by_lang]`).
    Language,
    /// Nothing asked: formal.
    Default,
    /// The conversation goes to a person.
    Escalation,
    /// A rule asks for the formal register.
    Rule,
    /// A complaint: the best topic is tagged `problem`.
    Complaint,
    /// The message is written in capitals (raised voice).
    Shouting,
}

impl FormalityReason {
    /// The reason as it appears in the reply JSON (`formality_reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            FormalityReason::Asked => "asked",
            FormalityReason::Conversation => "conversation",
            FormalityReason::Request => "request",
            FormalityReason::Channel => "channel",
            FormalityReason::Language => "language",
            FormalityReason::Default => "default",
            FormalityReason::Escalation => "escalation",
            FormalityReason::Rule => "rule",
            FormalityReason::Complaint => "complaint",
            FormalityReason::Shouting => "shouting",
        }
    }

    /// The reason in words, for the trace.
    pub fn describe(self) -> &'static str {
        match self {
            FormalityReason::Asked => "the customer asked for it",
            FormalityReason::Conversation => "asked earlier in the conversation",
            FormalityReason::Request => "the request's formality",
            FormalityReason::Channel => "the channel's default",
            FormalityReason::Language => "the language's default",
            FormalityReason::Default => "nothing asked",
            FormalityReason::Escalation => "escalation",
            FormalityReason::Rule => "a rule says so",
            FormalityReason::Complaint => "a complaint",
            FormalityReason::Shouting => "a message in capitals",
        }
    }

    /// True when the register was imposed, whatever the customer asked for.
    pub fn imposed(self) -> bool {
        matches!(
            self,
            FormalityReason::Escalation
                | FormalityReason::Rule
                | FormalityReason::Complaint
                | FormalityReason::Shouting
        )
    }
}

impl FromStr for Formality {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "formal" => Ok(Formality::Formal),
            "informal" => Ok(Formality::Informal),
            other => Err(crate::error::RequestError::UnknownFormality(other.to_string()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_negotiated() {
        assert_eq!(Lang::negotiate("te-IN"), Some(Lang::Te));
        assert_eq!(Lang::negotiate("el-GR,el;q=0.9,en;q=0.5"), Some(Lang::El));
        assert_eq!(Lang::negotiate("en-US"), Some(Lang::En));
        assert_eq!(Lang::negotiate("fr-FR,el;q=0.4"), Some(Lang::El));
        assert_eq!(Lang::negotiate("de-DE,fr"), None);
        assert_eq!(Lang::negotiate(""), None);
        assert_eq!(Lang::negotiate("*;q=0.1 ,,;;"), None);
    }

    #[test]
    fn tags_map_to_languages() {
        assert_eq!(Lang::from_tag("te-IN"), Some(Lang::Te));
        assert_eq!(Lang::from_tag("el_GR"), Some(Lang::El));
        assert_eq!(Lang::from_tag("EN-us"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::from_tag("not a tag!"), None);
        assert!("xx".parse::<Lang>().is_err());
    }
}
