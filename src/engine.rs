//! The engine: one immutable snapshot of the content, and the pipeline that turns a
//! [`Message`] into a [`Reply`].

use crate::calibrate::{Calibration, Outcome};
use crate::detect::{detect, Detection};
use crate::error::{Diagnostic, ErrorKind, Severity};
use crate::knowledge::KnowledgeBase;
use crate::lang::{Formality, Lang};
use crate::locale::Locales;
use crate::retrieve::{Retriever, Sample, Scored};

use crate::hours::Calendar;
use crate::render::{render, Away, Body, Channel, Scene};
use crate::rules::{Facts, RuleSet};
use crate::session::SessionStore;
use crate::text::{normalize, Analyzer};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Tag of topics that describe what the bot does not handle (weather, jokes …): a match
/// is a `fallback` whose text is the topic's answer, never an `answer`.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// The tag of complaint topics (a delayed, lost or damaged parcel …): their replies are
/// always formal, whatever register the customer asked for.
pub const COMPLAINT_TAG: &str = "problem";

/// Longest message `try_respond` accepts, in bytes; `respond` looks only at its start.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// A customer message and what is known about its context.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// What the customer wrote.
    pub text: String,
    /// The reply language (`te`, `el-GR` …); detected from the text when absent.
    #[serde(default)]
    pub lang: Option<String>,
    /// The register to use; the language's default (formal) when absent.
    #[serde(default)]
    pub formality: Option<Formality>,
    /// Where the message came from (`chat`, `email` …).
    #[serde(default)]
    pub channel: Option<String>,
    /// Conversation id, echoed in the reply.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The customer, when known.
    #[serde(default)]
    pub customer: Option<Customer>,
    /// The time the message was sent (RFC 3339); now when absent.
    #[serde(default)]
    pub at: Option<String>,
}

impl Message {
    /// A message with just its text.
    pub fn new(text: impl Into<String>) -> Message {
        Message {
            text: text.into(),
            ..Message::default()
        }
    }

    /// Sets the reply language.
    pub fn lang(mut self, lang: impl Into<String>) -> Message {
        self.lang = Some(lang.into());
        self
    }

    /// Sets the register.
    pub fn formality(mut self, formality: Formality) -> Message {
        self.formality = Some(formality);
        self
    }

    /// Sets the session id.
    pub fn session(mut self, id: impl Into<String>) -> Message {
        self.session_id = Some(id.into());
        self
    }
}

/// The customer behind a message.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// Name, for personal greetings.
    #[serde(default)]
    pub name: Option<String>,
    /// Customer tier (`business` …).
    #[serde(default)]
    pub tier: Option<String>,
    /// Region (`GR`, `IN`).
    #[serde(default)]
    pub region: Option<String>,
    /// IANA time zone (`Europe/Athens`).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// What the engine decided to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// A knowledge answer is confident enough to send.
    Answer,
    /// Several topics fit: the reply asks the customer to pick.
    Clarify,
    /// Nothing fits: the reply says so and offers a person.
    Fallback,
    /// A person takes over.
    Escalate,
}

/// A close match offered in a `clarify` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Topic id.
    pub id: String,
    /// The topic's question in the reply language.
    pub question: String,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// Where an escalated conversation goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The rule that escalated.
    pub rule: String,
    /// The queue of people that takes it.
    pub queue: String,
    /// Priority (`normal`, `high`, `urgent`).
    pub priority: String,
}

/// The reply to a message; serializes to the JSON of the HTTP API and `ask --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// answer, clarify, fallback or escalate.
    pub decision: Decision,
    /// The language of `text`.
    pub lang: Lang,
    /// The register of `text`.
    pub formality: Formality,
    /// The whole reply to send.
    pub text: String,
    /// The answered topic, for `answer`.
    pub answer_id: Option<String>,
    /// Confidence of the best match, in [0, 1].
    pub confidence: f32,
    /// Close matches, for `clarify`.
    pub suggestions: Vec<Suggestion>,
    /// Set when the decision is `escalate`.
    pub escalation: Option<Escalation>,
    /// True when no person is at work now.
    pub after_hours: bool,
    /// The conversation id, when the message had one.
    pub session_id: Option<String>,
    /// Labels from the rules that matched, for the help desk.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Why: each step of the decision in one line.
    pub trace: Vec<String>,
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
    pub calibration: crate::calibrate::CalibrationConfig,
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
        }
    }
}

/// The Sahaya engine: knowledge, index and locales of one data directory, immutable once
/// loaded. Cheap to share between threads (`&Engine` is all `respond` needs).
#[derive(Debug)]
pub struct Engine {
    dir: PathBuf,
    kb: KnowledgeBase,
    retriever: Retriever,
    locales: Locales,
    rules: RuleSet,
    calendar: Option<Calendar>,
    config: Config,
    sessions: Arc<SessionStore>,
    calibration: Calibration,
}

/// Reads and validates every content file under `data_dir`; returns all problems found
/// (errors and warnings), in file order. An empty list means the content is clean.
pub fn check(data_dir: impl AsRef<Path>) -> Vec<Diagnostic> {
    let dir = data_dir.as_ref();
    let (_, mut diags) = KnowledgeBase::load(dir);
    let (locales, locale_diags) = Locales::load(dir);
    diags.extend(locale_diags);
    let (_, _, rule_diags) = load_rules(dir, &locales);
    diags.extend(rule_diags);
    diags
}

/// Rules and calendar, when the data directory has a `rules/` folder.
fn load_rules(dir: &Path, locales: &Locales) -> (RuleSet, Option<Calendar>, Vec<Diagnostic>) {
    if !dir.join("rules").is_dir() {
        return (RuleSet::default(), None, Vec::new());
    }
    let (rules, mut diags) = RuleSet::load(dir, locales.ids());
    let (calendar, cal_diags) = Calendar::load(dir);
    diags.extend(cal_diags);
    (rules, calendar, diags)
}

impl Engine {
    /// Loads the content of `data_dir` (`knowledge/`, `locales/`) with default settings.
    ///
    /// Fails with [`ErrorKind::Content`] listing every problem when any file has an error.
    pub fn load(data_dir: impl AsRef<Path>) -> Result<Engine, Error> {
        Engine::load_with(data_dir, Config::default())
    }

    /// Loads the content of `data_dir` with the given settings.
    pub fn load_with(data_dir: impl AsRef<Path>, config: Config) -> Result<Engine, Error> {
        let sessions = Arc::new(SessionStore::new(
            Duration::from_secs(config.session_ttl_secs),
            config.max_sessions,
        ));
        Engine::build(data_dir.as_ref(), config, sessions)
    }

    /// Loads the content again from the same directory into a new engine that shares this
    /// one's settings and sessions. On error this engine is untouched and can keep serving.
    pub fn reload(&self) -> Result<Engine, Error> {
        Engine::build(&self.dir, self.config.clone(), Arc::clone(&self.sessions))
    }

    fn build(dir: &Path, config: Config, sessions: Arc<SessionStore>) -> Result<Engine, Error> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "data directory not found"),
            ));
        }
        let (kb, mut diags) = KnowledgeBase::load(dir);
        let (locales, locale_diags) = Locales::load(dir);
        diags.extend(locale_diags);
        let (rules, calendar, rule_diags) = load_rules(dir, &locales);
        diags.extend(rule_diags);
        diags.retain(|d| d.severity == Severity::Error);
        if !diags.is_empty() {
            return Err(ErrorKind::Content(diags).into());
        }
        let retriever = Retriever::build(&kb)?;
        let mut engine = Engine {
            dir: dir.to_path_buf(),
            kb,
            retriever,
            locales,
            rules,
            calendar,
            config,
            sessions,
            calibration: Calibration::default(),
        };
        if engine.config.calibration.enabled {
            engine.calibration = engine.calibrate();
        }
        Ok(engine)
    }

    /// The thresholds that decide for `lang`: configured, else calibrated, else built in.
    pub fn thresholds(&self, lang: Lang) -> Thresholds {
        self.config
            .thresholds_by_lang
            .get(&lang)
            .copied()
            .or(self.config.thresholds)
            .or_else(|| self.calibration.thresholds(lang))
            .unwrap_or_else(|| Thresholds::builtin(lang))
    }

    /// What calibration measured at load (empty when it is turned off).
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Sends every knowledge phrasing (at most [`CalibrationConfig::max_samples_per_lang`]
    /// per language) to the index with that phrasing left out, and fits the thresholds of
    /// each language to the outcomes ([`crate::calibrate`]).
    ///
    /// [`CalibrationConfig::max_samples_per_lang`]: crate::calibrate::CalibrationConfig::max_samples_per_lang
    fn calibrate(&self) -> Calibration {
        let cfg = self.config.calibration;
        // The same content calibrates the same way: reloads of unchanged files, and engines
        // of one process over one directory, measure once.
        let key = crate::calibrate::fingerprint(&format!("{:?}{cfg:?}", self.kb));
        if let Some(known) = crate::calibrate::cached(key) {
            return known;
        }
        let mut by_lang = BTreeMap::new();
        for lang in Lang::ALL {
            let samples: Vec<_> = self
                .retriever
                .samples()
                .iter()
                .filter(|s| s.lang == lang)
                .collect();
            let chosen = crate::calibrate::choose(
                samples.iter().map(|s| s.text.as_str()),
                cfg.max_samples_per_lang,
            );
            let outcomes = chosen
                .into_iter()
                .map(|i| self.left_out(samples[i]))
                .collect();
            if let Some(c) =
                crate::calibrate::fit(outcomes, Thresholds::builtin(lang), cfg.target_precision)
            {
                by_lang.insert(lang, c);
            }
        }
        let calibration = Calibration { by_lang };
        crate::calibrate::remember(key, &calibration);
        calibration
    }

    /// What the index makes of a knowledge phrasing sent as a message without it.
    fn left_out(&self, sample: &Sample) -> Outcome {
        let normalized = normalize(&sample.text);
        let detection = detect(&normalized);
        let requested = (!sample.romanized).then_some(sample.lang);
        let ranked = self.retrieve(
            &normalized,
            &detection,
            requested,
            Some(sample.source),
            &mut Vec::new(),
        );
        let topics = self.kb.topics();
        let first = ranked.first();
        Outcome {
            text: sample.text.clone(),
            topic: topics[sample.topic].id.clone(),
            found: first.map(|s| topics[s.topic].id.clone()),
            confidence: first.map_or(0.0, |s| s.confidence),
            lead: first.map_or(0.0, |s| {
                s.confidence - ranked.get(1).map_or(0.0, |t| t.confidence)
            }),
            out_of_scope: first.is_some_and(|s| topics[s.topic].has_tag(OUT_OF_SCOPE)),
        }
    }

    /// The data directory this engine was loaded from.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The settings this engine was loaded with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The conversation sessions (shared with engines made by [`Engine::reload`]).
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Hands a conversation that went to a person back to the bot; true when it was with a
    /// person. Until then the bot stays quiet in it.
    pub fn hand_back(&self, session_id: &str) -> bool {
        self.sessions.hand_back(session_id)
    }

    /// The escalation and routing rules (empty when the data has no `rules/`).
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Business hours (`None` when the data has no `rules/calendar.toml`: always open).
    pub fn calendar(&self) -> Option<&Calendar> {
        self.calendar.as_ref()
    }

    /// The Fluent bundles.
    pub fn locales(&self) -> &Locales {
        &self.locales
    }

    /// The knowledge base.
    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The search index (for benchmarks and diagnostics).
    pub fn retriever(&self) -> &Retriever {
        &self.retriever
    }

    /// Answers a message; never fails. Problems with the request (unknown language, empty
    /// or huge text, a session id that is too long or not printable: nothing is remembered
    /// under it) are handled gracefully and noted in the trace; use
    /// [`Engine::try_respond`] to reject them instead.
    pub fn respond(&self, msg: &Message) -> Reply {
        let mut trace = Vec::new();
        let lang = match msg.lang.as_deref().map(str::parse::<Lang>) {
            Some(Ok(l)) => Some(l),
            Some(Err(e)) => {
                trace.push(format!("ignored language: {e}"));
                None
            }
            None => None,
        };
        let text = truncate(&msg.text, MAX_TEXT_BYTES);
        if text.len() < msg.text.len() {
            trace.push(format!("text cut to its first {MAX_TEXT_BYTES} bytes"));
        }
        self.run(msg, text, lang, trace)
    }

    /// Answers a message, or rejects a bad request: empty text, text over
    /// [`MAX_TEXT_BYTES`], an unknown language, a session id that
    /// [`crate::session::valid_session_key`] refuses.
    pub fn try_respond(&self, msg: &Message) -> Result<Reply, Error> {
        if msg.text.len() > MAX_TEXT_BYTES {
            return Err(Error::bad_request(format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                msg.text.len()
            )));
        }
        if normalize(&msg.text).is_empty() {
            return Err(Error::bad_request("text is empty"));
        }
        let lang = msg.lang.as_deref().map(str::parse::<Lang>).transpose()?;
        if let Some(id) = msg.session_id.as_deref().filter(|id| !id.is_empty()) {
            crate::session::valid_session_key(id)
                .map_err(|e| Error::bad_request(format!("session_id: {e}")))?;
        }
        if let Some(at) = &msg.at {
            parse_at(at)?;
        }
        if let Some(tz) = msg.customer.as_ref().and_then(|c| c.timezone.as_deref()) {
            tz.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                Error::bad_request(format!(
                    "unknown time zone {tz:?}: use an IANA name such as Europe/Athens"
                ))
            })?;
        }
        Ok(self.run(msg, &msg.text, lang, Vec::new()))
    }

    fn run(&self, msg: &Message, text: &str, lang: Option<Lang>, mut trace: Vec<String>) -> Reply {
        let now = match msg.at.as_deref().map(parse_at) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                trace.push(format!("ignored time: {e}"));
                Utc::now()
            }
            None => Utc::now(),
        };
        let customer = msg.customer.as_ref();
        let channel = Channel::of(msg.channel.as_deref());
        let isolate = msg.channel.as_deref().is_some_and(|c| {
            self.config
                .bidi_isolation_channels
                .iter()
                .any(|x| x.eq_ignore_ascii_case(c.trim()))
        });
        // An id over the limit or with control characters is not remembered: a caller must
        // not be able to fill memory with keys.
        let session_id = match msg.session_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => match crate::session::valid_session_key(id) {
                Ok(()) => Some(id),
                Err(e) => {
                    trace.push(format!("ignored session id: {e}"));
                    None
                }
            },
            None => None,
        };
        let session = session_id
            .map(|id| self.sessions.get(id))
            .unwrap_or_default();
        let turn = session.turns + 1;

        let normalized = normalize(text);
        let detection = detect(&normalized);
        trace.push(describe_detection(&detection, lang));

        // A person has this conversation: the bot stays quiet until it is handed back.
        if let Some(esc) = session.escalated.clone() {
            let reply_lang = lang.unwrap_or(detection.lang);
            trace.push(format!(
                "session is with a person (rule {}): the bot stays quiet until it is handed back",
                esc.rule
            ));
            let mut s = session.clone();
            s.turns += 1;
            if let Some(id) = session_id {
                self.sessions.put(id, s);
            }
            let (tz, _) = self.zone(customer, reply_lang, &mut trace);
            let scene = Scene {
                lang: reply_lang,
                formality: Formality::Formal,
                channel,
                isolate,
                name: customer.and_then(|c| c.name.as_deref()),
                now,
                tz,
                first_turn: false,
                body: Body::Waiting,
                away: None,
            };
            let (text, missing) = render(&self.locales, &scene);
            note_missing(&missing, &mut trace);
            return Reply {
                decision: Decision::Escalate,
                lang: reply_lang,
                formality: Formality::Formal,
                text,
                answer_id: None,
                confidence: 0.0,
                suggestions: Vec::new(),
                escalation: Some(esc),
                after_hours: false,
                session_id: msg.session_id.clone(),
                tags: Vec::new(),
                trace,
            };
        }

        // «…στον ενικό παρακαλώ» asks how to talk, not what: search without those words.
        let asked_in_text = register_request(&normalized);
        let query = match asked_in_text {
            Some(_) => strip_register_words(&normalized),
            None => normalized.clone(),
        };
        let ranked = if query.is_empty() {
            trace.push("empty message".into());
            Vec::new()
        } else {
            self.retrieve(&query, &detection, lang, None, &mut trace)
        };
        let reply_lang = lang.unwrap_or_else(|| match ranked.first() {
            Some(best) if best.confidence >= self.thresholds(detection.lang).clarify => {
                lang_of(best.analyzer)
            }
            _ => detection.lang,
        });
        let th = self.thresholds(reply_lang);
        let top = ranked.first().copied();
        let second = ranked.get(1).map_or(0.0, |s| s.confidence);
        let confidence = top.map_or(0.0, |s| s.confidence);

        let best = confidence;
        let confident = best >= th.answer && best - second >= th.margin;
        // Out of scope when an out-of-scope topic leads, or when one is among the close
        // contenders of a message that is no confident answer: a menu would offer business
        // topics for a message that is as much about something else.
        let out_of_scope = ranked
            .iter()
            .enumerate()
            .take_while(|(i, s)| *i == 0 || (!confident && best - s.confidence < th.margin))
            .filter(|(_, s)| s.confidence >= th.clarify)
            .map(|(_, s)| &self.kb.topics()[s.topic])
            .find(|t| t.has_tag(OUT_OF_SCOPE));
        let searched = match top {
            Some(t) if out_of_scope.is_some() => {
                trace.push(format!(
                    "decide: fallback (message is out of scope, {:.2})",
                    t.confidence
                ));
                Decision::Fallback
            }
            Some(t) if t.confidence >= th.answer && t.confidence - second >= th.margin => {
                trace.push(format!(
                    "decide: answer ({:.2} ≥ {:.2}, lead {:.2} ≥ {:.2})",
                    t.confidence,
                    th.answer,
                    t.confidence - second,
                    th.margin
                ));
                Decision::Answer
            }
            Some(t) if t.confidence >= th.clarify => {
                trace.push(format!(
                    "decide: clarify ({:.2}; answer needs ≥ {:.2} and a lead of {:.2})",
                    t.confidence, th.answer, th.margin
                ));
                Decision::Clarify
            }
            _ => {
                trace.push(format!(
                    "decide: fallback (best {confidence:.2} < {:.2})",
                    th.clarify
                ));
                Decision::Fallback
            }
        };
        let best_topic = top
            .filter(|_| matches!(searched, Decision::Answer | Decision::Clarify))
            .map(|t| &self.kb.topics()[t.topic]);

        // Business hours in the customer's region.
        let (tz, region) = self.zone(customer, reply_lang, &mut trace);
        let status = region.map(|r| r.status(now));
        let open = status.as_ref().is_none_or(|s| s.open);
        if let Some(st) = &status {
            trace.push(format!(
                "hours[{}]: {}{}",
                st.region,
                if st.open { "open" } else { "closed" },
                st.holiday_name(Lang::En)
                    .map(|h| format!(", {h}"))
                    .unwrap_or_default()
            ));
        }

        // Rules.
        let fallbacks_in_a_row = if searched == Decision::Fallback {
            session.consecutive_fallbacks + 1
        } else {
            0
        };
        let region_code = status.as_ref().map_or("", |s| s.region.as_str());
        let facts = Facts {
            original: text,
            normalized: &normalized,
            decision: searched,
            confidence,
            topic: best_topic.map(|t| (t.id.as_str(), t.tags.as_slice())),
            lang: reply_lang,
            channel: msg.channel.as_deref(),
            tier: customer.and_then(|c| c.tier.as_deref()),
            region: region_code,
            fallbacks_in_a_row,
            turn,
            escalated_before: session.escalations > 0,
            open,
            holiday: status.as_ref().is_some_and(|s| s.holiday.is_some()),
        };
        let outcome = self.rules.evaluate(&facts);
        trace.extend(outcome.trace.iter().cloned());
        // A message that only asks for a register («μπορούμε να μιλάμε στον ενικό;») gets a
        // short acknowledgement in that register instead of a fallback.
        let register_only = asked_in_text.is_some()
            && (query.is_empty() || matches!(searched, Decision::Fallback | Decision::Clarify));
        let decision = if outcome.escalation.is_some() {
            Decision::Escalate
        } else if register_only {
            Decision::Answer
        } else {
            searched
        };

        // Register: the request, else the channel's or language's default; formal when a
        // rule says so and for every handoff (complaints and escalations are always formal).
        if let Some(f) = asked_in_text {
            trace.push(format!(
                "register: {} (the customer asked for it)",
                f.as_str()
            ));
        }
        let asked = asked_in_text
            .or(session.formality)
            .or(msg.formality)
            .or_else(|| {
                msg.channel
                    .as_deref()
                    .and_then(|c| {
                        self.config
                            .formality_by_channel
                            .get(&c.trim().to_ascii_lowercase())
                    })
                    .copied()
            })
            .or_else(|| self.config.formality_by_lang.get(&reply_lang).copied())
            .unwrap_or_default();
        // A complaint is a message about a topic tagged `problem` (delayed, lost, damaged …).
        let complaint =
            decision != Decision::Fallback && best_topic.is_some_and(|t| t.has_tag(COMPLAINT_TAG));
        let formal_because = if decision == Decision::Escalate {
            Some("escalation")
        } else if outcome.formal {
            Some("a rule says so")
        } else if complaint {
            Some("a complaint")
        } else {
            None
        };
        let formality = match formal_because {
            Some(why) => {
                if asked != Formality::Formal {
                    trace.push(format!(
                        "register: formal ({why}), though {} was asked",
                        asked.as_str()
                    ));
                }
                Formality::Formal
            }
            None => asked,
        };

        // Session memory.
        if let Some(id) = session_id {
            let mut s = session.clone();
            s.turns = turn;
            s.consecutive_fallbacks = if decision == Decision::Escalate {
                0
            } else {
                fallbacks_in_a_row
            };
            if let Some(e) = &outcome.escalation {
                s.escalated = Some(e.clone());
                s.escalations += 1;
            }
            s.formality = asked_in_text.or(session.formality);
            self.sessions.put(id, s);
        }

        let mut reply = Reply {
            decision,
            lang: reply_lang,
            formality,
            text: String::new(),
            answer_id: None,
            confidence: round3(confidence),
            suggestions: Vec::new(),
            escalation: outcome.escalation.clone(),
            after_hours: !open,
            session_id: msg.session_id.clone(),
            tags: outcome.tags.clone(),
            trace,
        };
        if decision == Decision::Clarify {
            let floor = th.clarify * 0.8;
            reply.suggestions = ranked
                .iter()
                .filter(|s| s.confidence >= floor)
                .filter(|s| !self.kb.topics()[s.topic].has_tag(OUT_OF_SCOPE))
                .take(3)
                .map(|s| {
                    let topic = &self.kb.topics()[s.topic];
                    Suggestion {
                        id: topic.id.clone(),
                        question: topic.text(reply_lang).question.clone(),
                        confidence: round3(s.confidence),
                    }
                })
                .collect();
        }
        let answer_topic = top.map(|t| &self.kb.topics()[t.topic]);
        // With an escalation the knowledge answer still helps while the customer waits,
        // unless a rule suppresses it (legal threats, safety incidents).
        let answer_too = (searched == Decision::Answer && !outcome.suppress_answer)
            .then_some(answer_topic)
            .flatten();
        let body = match decision {
            Decision::Answer if register_only => Body::Message("register-ok"),
            Decision::Answer => {
                let topic = answer_topic.expect("an answer has a topic");
                reply.answer_id = Some(topic.id.clone());
                Body::Answer {
                    text: topic.text(reply_lang).answer(formality),
                    problem: topic.has_tag("problem"),
                    smalltalk: topic.has_tag("smalltalk"),
                }
            }
            Decision::Clarify => Body::Clarify(&reply.suggestions),
            Decision::Fallback => {
                Body::Fallback(out_of_scope.map(|t| t.text(reply_lang).answer(formality)))
            }
            Decision::Escalate => {
                if let Some(t) = answer_too {
                    reply.answer_id = Some(t.id.clone());
                }
                Body::Escalate {
                    message: outcome.message.as_deref().unwrap_or("escalate"),
                    angry: outcome.message.as_deref() == Some("escalate-angry"),
                    answer: answer_too
                        .filter(|t| !t.has_tag("smalltalk"))
                        .map(|t| t.text(reply_lang).answer(formality)),
                }
            }
        };
        let away = status.filter(|s| !s.open).map(|s| Away {
            holiday: s.holiday_name(reply_lang).map(str::to_string),
            back: s.next_open,
        });
        let scene = Scene {
            lang: reply_lang,
            formality,
            channel,
            isolate,
            name: customer.and_then(|c| c.name.as_deref()),
            now,
            tz,
            first_turn: turn == 1,
            body,
            away,
        };
        let (text, missing) = render(&self.locales, &scene);
        reply.text = text;
        note_missing(&missing, &mut reply.trace);
        reply
    }

    /// The customer's time zone (theirs if valid, else the region's) and the region.
    fn zone(
        &self,
        customer: Option<&Customer>,
        lang: Lang,
        trace: &mut Vec<String>,
    ) -> (chrono_tz::Tz, Option<&crate::hours::Region>) {
        let region = self
            .calendar
            .as_ref()
            .map(|c| c.region(customer.and_then(|c| c.region.as_deref()), lang));
        let fallback = region.map_or(chrono_tz::Tz::UTC, |r| r.tz);
        let tz = match customer.and_then(|c| c.timezone.as_deref()) {
            Some(name) => name.trim().parse().unwrap_or_else(|_| {
                trace.push(format!("ignored unknown time zone {name:?}"));
                fallback
            }),
            None => fallback,
        };
        (tz, region)
    }

    /// Ranked topics for normalized text, from the fields the language detection points to.
    fn retrieve(
        &self,
        normalized: &str,
        detection: &Detection,
        requested: Option<Lang>,
        exclude: Option<u32>,
        trace: &mut Vec<String>,
    ) -> Vec<Scored> {
        let mut fields = detection.candidates();
        // A requested Greek or Telugu reply to Latin text: search its romanized phrasings too.
        if let Some(l) = requested {
            if let Some(latin) = l.romanized_analyzer() {
                if detection.script == Some(crate::text::Script::Latin)
                    && !fields.iter().any(|(_, a)| *a == latin)
                {
                    fields.push((l, latin));
                }
            }
        }
        let mut best: Vec<Scored> = Vec::new();
        for (i, (_, analyzer)) in fields.iter().enumerate() {
            let query = self.retriever.prepare(*analyzer, normalized);
            let ranked = match self.retriever.search_excluding(*analyzer, &query, exclude) {
                Ok(r) => r,
                Err(e) => {
                    trace.push(format!("retrieve: {} failed: {e}", analyzer.name()));
                    continue;
                }
            };
            // The most likely field wins ties; another field must do clearly better.
            let bias = if i == 0 { 0.0 } else { 0.05 };
            let current = best.first().map_or(0.0, |s| s.confidence);
            if ranked
                .first()
                .is_some_and(|s| s.confidence - bias > current)
                || best.is_empty()
            {
                best = ranked;
            }
        }
        match (best.first(), best.get(1)) {
            (Some(a), b) => trace.push(format!(
                "retrieve[{}]: {} {:.2}{}",
                a.analyzer.name().trim_start_matches("sahaya_"),
                self.kb.topics()[a.topic].id,
                a.confidence,
                b.map(|b| format!(
                    ", then {} {:.2}",
                    self.kb.topics()[b.topic].id,
                    b.confidence
                ))
                .unwrap_or_default()
            )),
            (None, _) => trace.push("retrieve: no match".into()),
        }
        best
    }
}

fn parse_at(at: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(at.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Error::bad_request(format!(
                "`at` {at:?} is not an RFC 3339 time like 2026-11-25T09:30:00+02:00 ({e})"
            ))
        })
}

/// The register a customer asks for in words: Greek «στον ενικό» (informal) or «στον
/// πληθυντικό» (formal), also in Greeklish.
fn register_request(normalized: &str) -> Option<Formality> {
    crate::text::words(normalized).find_map(|w| {
        if w.starts_with("ενικ") || w == "eniko" || w == "eniki" {
            Some(Formality::Informal)
        } else if w.starts_with("πληθυντικ")
            || w.starts_with("plithintik")
            || w.starts_with("plithyntik")
            || w.starts_with("plhthyntik")
        {
            Some(Formality::Formal)
        } else {
            None
        }
    })
}

/// The message without the words of a register request.
fn strip_register_words(normalized: &str) -> String {
    const WORDS: &[&str] = &[
        "μιλα",
        "μιλατε",
        "μιλαμε",
        "μιλησε",
        "μιλησετε",
        "μιλαω",
        "μου",
        "μας",
        "στον",
        "σε",
        "με",
        "να",
        "παρακαλω",
        "μπορουμε",
        "μπορεισ",
        "μπορειτε",
        "mila",
        "milame",
        "milise",
        "mou",
        "ston",
        "sto",
        "se",
        "me",
        "na",
        "parakalo",
        "parakalw",
        "boroume",
        "mporoume",
    ];
    crate::text::words(normalized)
        .filter(|w| register_request(w).is_none() && !WORDS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn note_missing(missing: &[String], trace: &mut Vec<String>) {
    for id in missing {
        trace.push(format!("message `{id}` missing in every locale"));
    }
}

fn lang_of(a: Analyzer) -> Lang {
    match a {
        Analyzer::English => Lang::En,
        Analyzer::Greek | Analyzer::Greeklish => Lang::El,
        Analyzer::Telugu | Analyzer::TeluguLatin => Lang::Te,
    }
}

fn describe_detection(d: &Detection, requested: Option<Lang>) -> String {
    let how = match (d.script, d.romanized) {
        (Some(crate::text::Script::Telugu), _) => "Telugu script".to_string(),
        (Some(crate::text::Script::Greek), _) => "Greek script".to_string(),
        (_, true) => format!(
            "Latin script, romanized words te {} / el {}",
            d.telugu_hits, d.greeklish_hits
        ),
        _ => "Latin script".to_string(),
    };
    match requested {
        Some(l) => format!("lang: {l} (requested; text looks {} by {how})", d.lang),
        None => format!("lang: {} (detected by {how})", d.lang),
    }
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
