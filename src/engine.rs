//! The engine: one immutable snapshot of the content, and the pipeline that turns a
//! [`Message`] into a [`Reply`].

use crate::calibrate::{Calibration, Outcome};
use crate::config::{Config, Thresholds};
use crate::decide::{decide, Action, Findings, Policy};
use crate::detect::{detect, Detection};
use crate::error::Error;
use crate::error::{Diagnostic, ErrorKind, Severity};
use crate::hours::Calendar;
use crate::knowledge::KnowledgeBase;
use crate::lang::Lang;
use crate::locale::Locales;
use crate::model::{Message, Reply, Request};
use crate::render::render;
use crate::retrieve::{IndexStatus, IntentIndex, Retriever, Sample, Scored, Staging};
use crate::rules::RuleSet;
use crate::session::{Session, SessionStore};
use crate::text::normalize;
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    index: IndexStatus,
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

/// Where an engine's index lives.
enum IndexPlace {
    /// In memory, for this reason.
    Memory(String),
    /// In the persistent index under `root`, in the directory of `key`.
    Disk { root: PathBuf, key: String },
}

/// The persistent index for bases of at least [`Config::index_min_entries`] entries.
fn index_place(dir: &Path, config: &Config, kb: &KnowledgeBase) -> IndexPlace {
    let entries = kb.topics().len() * Lang::ALL.len();
    if entries < config.index_min_entries {
        return IndexPlace::Memory(format!(
            "{entries} entries, below index_min_entries = {}",
            config.index_min_entries
        ));
    }
    let root = dir.join(
        config
            .index_dir
            .as_deref()
            .unwrap_or(Path::new(crate::config::DEFAULT_INDEX_DIR)),
    );
    IndexPlace::Disk {
        root,
        key: crate::retrieve::content_key(dir, kb, config),
    }
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

    /// Loads the content of `data_dir` with the given settings; conversations are kept in
    /// memory.
    pub fn load_with(data_dir: impl AsRef<Path>, config: Config) -> Result<Engine, Error> {
        let sessions = Arc::new(SessionStore::new(
            Duration::from_secs(config.session_ttl_secs),
            config.max_sessions,
        ));
        Engine::build(data_dir.as_ref(), config, sessions)
    }

    /// Loads the content of `data_dir` with the given settings and conversations kept in
    /// `sessions`, for instance a [`SessionStore::shared`] one in a database that several
    /// processes use.
    pub fn load_with_sessions(
        data_dir: impl AsRef<Path>,
        config: Config,
        sessions: Arc<SessionStore>,
    ) -> Result<Engine, Error> {
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
        let (mut rules, calendar, rule_diags) = load_rules(dir, &locales);
        diags.extend(rule_diags);
        diags.retain(|d| d.severity == Severity::Error);
        if !diags.is_empty() {
            return Err(ErrorKind::Content(diags).into());
        }
        if rules.has_examples() {
            let intents = IntentIndex::build(&rules, kb.synonyms())?;
            rules.set_intent_matcher(Arc::new(intents));
        }
        let place = index_place(dir, &config, &kb);
        let mut replaced = None;
        let mut staging = None;
        if let IndexPlace::Disk { root, key } = &place {
            match crate::retrieve::open_persisted(root, key) {
                Ok(Some((retriever, calibration))) => {
                    let index = IndexStatus::Reused {
                        dir: root.join(key),
                    };
                    return Ok(Engine {
                        dir: dir.to_path_buf(),
                        kb,
                        retriever,
                        locales,
                        rules,
                        calendar,
                        config,
                        sessions,
                        calibration,
                        index,
                    });
                }
                Ok(None) => {}
                Err(why) => replaced = Some(why),
            }
            staging = Some(Staging::new(root, key).map_err(|e| (root.clone(), e)));
        }
        let (retriever, index) = match staging {
            Some(Ok(staging)) => (
                Retriever::build_in(&kb, Some(staging.path()))?,
                Ok((staging, replaced)),
            ),
            Some(Err((root, e))) => (
                Retriever::build(&kb)?,
                Err(format!(
                    "index directory {} cannot be written: {e}",
                    root.display()
                )),
            ),
            None => (
                Retriever::build(&kb)?,
                Err(match &place {
                    IndexPlace::Memory(reason) => reason.clone(),
                    IndexPlace::Disk { .. } => String::new(),
                }),
            ),
        };
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
            index: IndexStatus::InMemory {
                reason: String::new(),
            },
        };
        if engine.config.calibration.enabled {
            engine.calibration = engine.calibrate();
        }
        engine.retriever.forget_samples();
        engine.index = match index {
            Ok((staging, replaced)) => {
                match staging.commit(&mut engine.retriever, &engine.calibration) {
                    Ok(dir) => IndexStatus::Built { dir, replaced },
                    // The index built is complete and serves from where it was built.
                    Err(e) => IndexStatus::InMemory {
                        reason: format!("the index could not be kept: {e}"),
                    },
                }
            }
            Err(reason) => IndexStatus::InMemory { reason },
        };
        Ok(engine)
    }

    /// Where the search index came from: built in memory, reused from the persistent
    /// index, or built into it.
    pub fn index_status(&self) -> &IndexStatus {
        &self.index
    }

    /// The thresholds that decide for `lang`: configured, else calibrated, else built in.
    pub fn thresholds(&self, lang: Lang) -> Thresholds {
        self.policy().thresholds(lang, false)
    }

    /// The thresholds that decide for `lang` typed in Latin letters (Greeklish, romanized
    /// Telugu): configured, else calibrated (never laxer than the script's), else built in.
    pub fn romanized_thresholds(&self, lang: Lang) -> Thresholds {
        self.policy().thresholds(lang, true)
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
        let mut calibration = Calibration::default();
        for lang in Lang::ALL {
            for romanized in [false, true] {
                let samples: Vec<_> = self
                    .retriever
                    .samples()
                    .iter()
                    .filter(|s| s.lang == lang && s.romanized == romanized)
                    .collect();
                let chosen = crate::calibrate::choose(
                    samples.iter().map(|s| s.text.as_str()),
                    cfg.max_samples_per_lang,
                );
                let outcomes = chosen
                    .into_iter()
                    .map(|i| self.left_out(samples[i]))
                    .collect();
                let fitted = crate::calibrate::fit(
                    outcomes,
                    Thresholds::builtin(lang),
                    cfg.target_precision,
                );
                let into = if romanized {
                    &mut calibration.romanized
                } else {
                    &mut calibration.by_lang
                };
                if let Some(c) = fitted {
                    into.insert(lang, c);
                }
            }
        }
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
            out_of_scope: first
                .is_some_and(|s| topics[s.topic].has_tag(crate::knowledge::OUT_OF_SCOPE)),
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
    /// person. Until then the bot stays quiet in it. Fails only when the sessions are kept
    /// in a database that cannot be reached.
    pub fn hand_back(&self, session_id: &str) -> Result<bool, Error> {
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

    /// The knowledge base.
    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The search index (for benchmarks and diagnostics).
    pub(crate) fn retriever(&self) -> &Retriever {
        &self.retriever
    }

    /// Answers a message; never fails. Problems with the request (unknown language, empty
    /// or huge text, a session id that is too long or not printable: nothing is remembered
    /// under it) are handled gracefully and noted in the trace; use
    /// [`Engine::try_respond`] to reject them instead. When the sessions are kept in a
    /// database that cannot be reached, the message is decided as the first of a new
    /// conversation and the trace says so; [`Engine::try_respond`] fails instead, which is
    /// what a server wants (a conversation with a person must stay quiet).
    pub fn respond(&self, msg: &Message) -> Reply {
        let (request, notes) = msg.lenient();
        self.run_or_forget(&request, msg.session_id.clone(), notes)
    }

    /// Answers a message, or rejects a bad request ([`Message::validate`]): empty text,
    /// text over [`MAX_TEXT_BYTES`](crate::model::MAX_TEXT_BYTES), an unknown language, a session
    /// id that is too long or not printable, a bad time or time zone. Also fails
    /// ([`Error::is_unavailable`]) when the conversation's memory is kept in a database
    /// that cannot be reached; nothing is decided then.
    pub fn try_respond(&self, msg: &Message) -> Result<Reply, Error> {
        let request = msg.validate()?;
        self.run(&request, msg.session_id.clone(), Vec::new(), fail)
    }

    /// Answers a validated request. The pipeline: normalize → detect → retrieve → decide
    /// (under the conversation's lock) → render. Like [`Engine::respond`], it decides
    /// without the conversation's memory when that cannot be reached.
    pub fn respond_to(&self, request: &Request<'_>) -> Reply {
        self.run_or_forget(request, request.session_id.map(str::to_string), Vec::new())
    }

    /// [`Engine::respond_to`], failing when the conversation's memory cannot be reached.
    pub fn try_respond_to(&self, request: &Request<'_>) -> Result<Reply, Error> {
        self.run(
            request,
            request.session_id.map(str::to_string),
            Vec::new(),
            fail,
        )
    }

    fn run_or_forget(
        &self,
        request: &Request<'_>,
        echo: Option<String>,
        notes: Vec<String>,
    ) -> Reply {
        let forget = |e: Error, trace: &mut Vec<String>| {
            trace.push(format!(
                "conversation memory not available ({e}): decided as a new conversation"
            ));
            Ok::<(), std::convert::Infallible>(())
        };
        match self.run(request, echo, notes, forget) {
            Ok(reply) => reply,
            Err(never) => match never {},
        }
    }

    /// The pipeline. `on_state_error` says what to do when the conversation's memory cannot
    /// be read or written: fail, or note it in the trace and decide as a new conversation.
    fn run<E>(
        &self,
        request: &Request<'_>,
        echo: Option<String>,
        mut trace: Vec<String>,
        on_state_error: impl FnOnce(Error, &mut Vec<String>) -> Result<(), E>,
    ) -> Result<Reply, E> {
        let now = request.at.unwrap_or_else(Utc::now);

        // normalize, detect
        let normalized = normalize(request.text);
        let detection = detect(&normalized);
        trace.push(describe_detection(&detection, request.lang));

        // retrieve («…στον ενικό παρακαλώ» asks how to talk, not what: search without it)
        let asked_in_text = crate::decide::register_request(&normalized);
        let query = match asked_in_text {
            Some(_) => crate::decide::strip_register_words(&normalized),
            None => normalized.clone(),
        };
        let mut retrieval = Vec::new();
        let ranked = if query.is_empty() {
            retrieval.push("empty message".into());
            Vec::new()
        } else {
            self.retrieve(&query, &detection, request.lang, None, &mut retrieval)
        };

        // decide, with the conversation's memory held for the whole step
        let findings = Findings {
            request,
            now,
            normalized: &normalized,
            detected: detection.lang,
            asked_in_text,
            nothing_asked: query.is_empty(),
            ranked: &ranked,
            retrieval: &retrieval,
        };
        let policy = self.policy();
        let plan = match request.session_id {
            Some(id) => match self
                .sessions
                .update(id, |session| decide(&policy, findings, session, &mut trace))
            {
                Ok(plan) => plan,
                Err(e) => {
                    on_state_error(e, &mut trace)?;
                    decide(&policy, findings, &mut Session::default(), &mut trace)
                }
            },
            None => decide(&policy, findings, &mut Session::default(), &mut trace),
        };

        // render
        let isolate = request.channel.is_some_and(|c| {
            self.config
                .bidi_isolation_channels
                .iter()
                .any(|x| x.eq_ignore_ascii_case(c))
        });
        let (text, missing) = render(&self.locales, &plan, request, now, isolate);
        for id in missing {
            trace.push(format!("message `{id}` missing in every locale"));
        }
        Ok(Reply {
            decision: plan.action.decision(),
            lang: plan.lang,
            formality: plan.formality,
            formality_reason: plan.formality_reason,
            text,
            answer_id: plan.action.topic().map(|t| t.id.clone()),
            confidence: plan.confidence,
            suggestions: match &plan.action {
                Action::Clarify(s) => s.clone(),
                _ => Vec::new(),
            },
            escalation: plan.action.escalation().cloned(),
            after_hours: plan.after_hours(),
            session_id: echo,
            reply_id: None,
            tags: plan.tags,
            trace,
        })
    }

    /// The retrieve stage: ranked topics for normalized text. A field searched only as a
    /// last resort is skipped once a match reaches the `clarify` level of its language.
    fn retrieve(
        &self,
        normalized: &str,
        detection: &Detection,
        requested: Option<Lang>,
        exclude: Option<u32>,
        trace: &mut Vec<String>,
    ) -> Vec<Scored> {
        let enough = |s: &Scored| s.confidence >= self.thresholds(Lang::of(s.analyzer)).clarify;
        let ranked = self
            .retriever
            .rank(normalized, detection, requested, exclude, enough, trace);
        let topics = self.kb.topics();
        // The best topic and up to four runners-up, with their scores: what an editor
        // needs to see why an answer was or was not given.
        match ranked.first() {
            Some(a) => {
                use std::fmt::Write;
                let mut line = format!(
                    "retrieve[{}]: {} {:.2}",
                    a.analyzer.name().trim_start_matches("sahaya_"),
                    topics[a.topic].id,
                    a.confidence
                );
                for (i, b) in ranked.iter().skip(1).take(4).enumerate() {
                    line.push_str(if i == 0 { ", then " } else { ", " });
                    let _ = write!(line, "{} {:.2}", topics[b.topic].id, b.confidence);
                }
                trace.push(line);
            }
            None => trace.push("retrieve: no match".into()),
        }
        ranked
    }

    fn policy(&self) -> Policy<'_> {
        Policy {
            kb: &self.kb,
            rules: &self.rules,
            calendar: self.calendar.as_ref(),
            config: &self.config,
            calibration: &self.calibration,
        }
    }
}

/// The strict answer to a state error: fail.
fn fail(e: Error, _: &mut Vec<String>) -> Result<(), Error> {
    Err(e)
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
