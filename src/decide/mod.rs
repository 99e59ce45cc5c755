//! The "decide" stage: from the ranked topics, the rules, business hours and what the
//! conversation remembers, a [`Plan`] — what to send, in which language and register, and
//! what the conversation remembers afterwards.
//!
//! The order of reasoning, each step a line of the reply's trace:
//! 1. a conversation that is with a person gets a "please wait" ([`Action::Waiting`]);
//! 2. the knowledge search decides answer, clarify or fallback from the language's
//!    [`Thresholds`]; an out-of-scope topic among the close contenders is a fallback;
//! 3. business hours in the customer's region;
//! 4. the rules, which may escalate, ask for the formal register, tag or pick a message;
//! 5. the register: asked in words, remembered, requested, by channel, by language —
//!    formal for every complaint and escalation;
//! 6. the conversation's memory: turns, unanswered messages in a row, handoff.
//!
//! [`decide`] changes the [`Session`] it is given in place; the caller holds the
//! conversation's lock for the whole call, so two messages of one conversation never
//! decide on the same stale memory.

mod register;

pub(crate) use register::{register_request, strip_register_words};

use crate::calibrate::Calibration;
use crate::config::{Config, Thresholds};
use crate::hours::{Calendar, Region, Status};
use crate::knowledge::{KnowledgeBase, Topic, COMPLAINT_TAG, OUT_OF_SCOPE, SMALLTALK_TAG};
use crate::model::{Decision, Escalation, Formality, FormalityReason, Lang, Request, Suggestion};
use crate::retrieve::Scored;
use crate::rules::{Facts, RuleSet};
use crate::session::Session;
use crate::text::Analyzer;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// What the content and the settings give the decide stage.
pub(crate) struct Policy<'a> {
    pub kb: &'a KnowledgeBase,
    pub rules: &'a RuleSet,
    pub calendar: Option<&'a Calendar>,
    pub config: &'a Config,
    pub calibration: &'a Calibration,
}

impl Policy<'_> {
    /// The thresholds that decide for `lang` in its own script (`romanized`: typed in Latin
    /// letters, which has its own calibration): configured, else calibrated, else built in.
    pub fn thresholds(&self, lang: Lang, romanized: bool) -> Thresholds {
        let calibrated = if romanized {
            self.calibration.romanized_thresholds(lang)
        } else {
            self.calibration.thresholds(lang)
        };
        self.config
            .thresholds_by_lang
            .get(&lang)
            .copied()
            .or(self.config.thresholds)
            .or(calibrated)
            .unwrap_or_else(|| Thresholds::builtin(lang))
    }

    /// The thresholds for a match in the field of `analyzer`.
    fn field_thresholds(&self, analyzer: Analyzer) -> Thresholds {
        let lang = Lang::of(analyzer);
        self.thresholds(lang, lang.romanized_analyzer() == Some(analyzer))
    }

    /// The customer's time zone (theirs if given, else the region's) and the region.
    fn zone(&self, request: &Request<'_>, lang: Lang) -> (Tz, Option<&Region>) {
        let region = self
            .calendar
            .map(|c| c.region(request.customer.and_then(|c| c.region.as_deref()), lang));
        let tz = request
            .timezone
            .unwrap_or_else(|| region.map_or(Tz::UTC, |r| r.tz));
        (tz, region)
    }
}

/// What the earlier stages found out about a message.
#[derive(Clone, Copy)]
pub(crate) struct Findings<'a> {
    pub request: &'a Request<'a>,
    pub now: DateTime<Utc>,
    /// The normalized text.
    pub normalized: &'a str,
    /// The language the text looks like.
    pub detected: Lang,
    /// A register the customer asked for in words.
    pub asked_in_text: Option<Formality>,
    /// Nothing was left to search once register words were taken out.
    pub nothing_asked: bool,
    /// Topics, best first.
    pub ranked: &'a [Scored],
    /// The retrieve stage's trace lines.
    pub retrieval: &'a [String],
}

/// What to send.
#[derive(Debug)]
pub(crate) enum Action<'a> {
    /// The conversation is with a person: a short "please wait".
    Waiting(Escalation),
    /// The knowledge answer of a topic.
    Answer(&'a Topic),
    /// An acknowledgement of a change of register.
    RegisterOk,
    /// "Did you mean …?" with close topics.
    Clarify(Vec<Suggestion>),
    /// Nothing fits; an out-of-scope topic's own answer when that is why.
    Fallback(Option<&'a Topic>),
    /// A person takes over; the knowledge answer goes along while the customer waits.
    Escalate {
        escalation: Escalation,
        message: String,
        answer: Option<&'a Topic>,
    },
}

impl Action<'_> {
    /// The decision of the reply.
    pub fn decision(&self) -> Decision {
        match self {
            Action::Answer(_) | Action::RegisterOk => Decision::Answer,
            Action::Clarify(_) => Decision::Clarify,
            Action::Fallback(_) => Decision::Fallback,
            Action::Waiting(_) | Action::Escalate { .. } => Decision::Escalate,
        }
    }

    /// The topic whose answer the reply carries.
    pub fn topic(&self) -> Option<&Topic> {
        match self {
            Action::Answer(t) => Some(t),
            Action::Escalate { answer, .. } => *answer,
            _ => None,
        }
    }

    /// Where the conversation went, for an escalation.
    pub fn escalation(&self) -> Option<&Escalation> {
        match self {
            Action::Waiting(e) | Action::Escalate { escalation: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// What to send, in which language and register, and why.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub action: Action<'a>,
    pub lang: Lang,
    pub formality: Formality,
    /// Why that register.
    pub formality_reason: FormalityReason,
    /// Confidence of the best match.
    pub confidence: f32,
    /// Labels of the rules that matched.
    pub tags: Vec<String>,
    /// Business hours in the customer's region, when there is a calendar.
    pub hours: Option<Status>,
    /// The customer's time zone.
    pub tz: Tz,
    /// First message of the conversation.
    pub first_turn: bool,
}

impl Plan<'_> {
    /// True when no person is at work now.
    pub fn after_hours(&self) -> bool {
        self.hours.as_ref().is_some_and(|s| !s.open)
    }
}

/// Decides what to do with a message, and updates the conversation's memory.
pub(crate) fn decide<'a>(
    policy: &Policy<'a>,
    found: Findings<'_>,
    session: &mut Session,
    trace: &mut Vec<String>,
) -> Plan<'a> {
    let request = found.request;
    let turn = session.turns + 1;

    // A person has this conversation: the bot stays quiet until it is handed back.
    if let Some(esc) = session.escalated.clone() {
        let lang = request.lang.unwrap_or(found.detected);
        trace.push(format!(
            "session is with a person (rule {}): the bot stays quiet until it is handed back",
            esc.rule
        ));
        session.turns = turn;
        let (tz, _) = policy.zone(request, lang);
        return Plan {
            action: Action::Waiting(esc),
            lang,
            formality: Formality::Formal,
            formality_reason: FormalityReason::Escalation,
            confidence: 0.0,
            tags: Vec::new(),
            hours: None,
            tz,
            first_turn: false,
        };
    }
    trace.extend(found.retrieval.iter().cloned());
    let ranked = found.ranked;
    let topics = policy.kb.topics();

    let lang = request.lang.unwrap_or_else(|| match ranked.first() {
        Some(best) if best.confidence >= policy.field_thresholds(best.analyzer).clarify => {
            Lang::of(best.analyzer)
        }
        _ => found.detected,
    });
    let th = match ranked.first() {
        Some(best) => policy.field_thresholds(best.analyzer),
        None => policy.thresholds(lang, false),
    };
    let top = ranked.first().copied();
    let second = ranked.get(1).map_or(0.0, |s| s.confidence);
    let confidence = top.map_or(0.0, |s| s.confidence);
    let confident = confidence >= th.answer && confidence - second >= th.margin;
    // Out of scope when an out-of-scope topic leads, or when one is among the close
    // contenders of a message that is no confident answer: a menu would offer business
    // topics for a message that is as much about something else.
    let out_of_scope = ranked
        .iter()
        .enumerate()
        .take_while(|(i, s)| *i == 0 || (!confident && confidence - s.confidence < th.margin))
        .filter(|(_, s)| s.confidence >= th.clarify)
        .map(|(_, s)| &topics[s.topic])
        .find(|t| t.has_tag(OUT_OF_SCOPE));
    let searched = match top {
        Some(t) if out_of_scope.is_some() => {
            trace.push(format!(
                "decide: fallback (message is out of scope, {:.2})",
                t.confidence
            ));
            Decision::Fallback
        }
        Some(t) if confident => {
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
        .map(|t| &topics[t.topic]);

    // Business hours in the customer's region.
    let (tz, region) = policy.zone(request, lang);
    let hours = region.map(|r| r.status(found.now));
    let open = hours.as_ref().is_none_or(|s| s.open);
    if let Some(st) = &hours {
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
    let customer = request.customer;
    let facts = Facts {
        original: request.text,
        normalized: found.normalized,
        decision: searched,
        confidence,
        topic: best_topic.map(|t| (t.id.as_str(), t.tags.as_slice())),
        lang,
        channel: request.channel,
        tier: customer.and_then(|c| c.tier.as_deref()),
        region: hours.as_ref().map_or("", |s| s.region.as_str()),
        fallbacks_in_a_row,
        turn,
        escalated_before: session.escalations > 0,
        open,
        holiday: hours.as_ref().is_some_and(|s| s.holiday.is_some()),
    };
    let outcome = policy.rules.evaluate(&facts);
    trace.extend(outcome.trace);
    // A message that only asks for a register («μπορούμε να μιλάμε στον ενικό;») gets a
    // short acknowledgement in that register instead of a fallback.
    let register_only = found.asked_in_text.is_some()
        && (found.nothing_asked || matches!(searched, Decision::Fallback | Decision::Clarify));

    // Register: the request, else the channel's or language's default; formal when a
    // rule says so and for every handoff (complaints and escalations are always formal).
    if let Some(f) = found.asked_in_text {
        trace.push(format!(
            "register: {} (the customer asked for it)",
            f.as_str()
        ));
    }
    // Where the customer's register comes from, first found first.
    let channel_default = || {
        request.channel.and_then(|c| {
            policy
                .config
                .formality_by_channel
                .get(&c.to_ascii_lowercase())
                .copied()
        })
    };
    let (asked, asked_because) = [
        (found.asked_in_text, FormalityReason::Asked),
        (session.formality, FormalityReason::Conversation),
        (request.formality, FormalityReason::Request),
        (channel_default(), FormalityReason::Channel),
        (
            policy.config.formality_by_lang.get(&lang).copied(),
            FormalityReason::Language,
        ),
    ]
    .into_iter()
    .find_map(|(f, why)| f.map(|f| (f, why)))
    .unwrap_or((Formality::default(), FormalityReason::Default));
    let escalating = outcome.escalation.is_some();
    // A complaint is a message about a topic tagged `problem` (delayed, lost, damaged …);
    // a message in capitals is raised voice, whatever it is about.
    let complaint = best_topic.is_some_and(|t| t.has_tag(COMPLAINT_TAG));
    let formal_because = if escalating {
        Some(FormalityReason::Escalation)
    } else if outcome.formal {
        Some(FormalityReason::Rule)
    } else if complaint {
        Some(FormalityReason::Complaint)
    } else if crate::rules::is_shouting(request.text) {
        Some(FormalityReason::Shouting)
    } else {
        None
    };
    let (formality, formality_reason) = match formal_because {
        Some(why) => {
            if asked == Formality::Formal {
                trace.push(format!("register: formal ({})", why.describe()));
            } else {
                trace.push(format!(
                    "register: formal ({}), though {} was asked",
                    why.describe(),
                    asked.as_str()
                ));
            }
            (Formality::Formal, why)
        }
        None => (asked, asked_because),
    };

    // The conversation's memory.
    session.turns = turn;
    session.consecutive_fallbacks = if escalating { 0 } else { fallbacks_in_a_row };
    if let Some(e) = &outcome.escalation {
        session.escalated = Some(e.clone());
        session.escalations += 1;
    }
    session.formality = found.asked_in_text.or(session.formality);

    let answer_topic = top.map(|t| &topics[t.topic]);
    let action = match (outcome.escalation, searched) {
        (Some(escalation), _) => {
            // The knowledge answer still helps while the customer waits, unless a rule
            // suppresses it (legal threats, safety incidents).
            let answer =
                answer_topic.filter(|_| searched == Decision::Answer && !outcome.suppress_answer);
            Action::Escalate {
                escalation,
                message: outcome.message.unwrap_or_else(|| "escalate".into()),
                answer,
            }
        }
        _ if register_only => Action::RegisterOk,
        (None, Decision::Answer) => match answer_topic {
            Some(t) => Action::Answer(t),
            None => Action::Fallback(None),
        },
        (None, Decision::Clarify) => {
            let floor = th.clarify * 0.8;
            Action::Clarify(
                ranked
                    .iter()
                    .filter(|s| s.confidence >= floor)
                    .filter(|s| !topics[s.topic].has_tag(OUT_OF_SCOPE))
                    .take(3)
                    .map(|s| Suggestion {
                        id: topics[s.topic].id.clone(),
                        question: topics[s.topic].text(lang).question.clone(),
                        confidence: round3(s.confidence),
                    })
                    .collect(),
            )
        }
        (None, _) => Action::Fallback(out_of_scope),
    };
    Plan {
        action,
        lang,
        formality,
        formality_reason,
        confidence: round3(confidence),
        tags: outcome.tags,
        hours,
        tz,
        first_turn: turn == 1,
    }
}

/// Whether a topic is small talk (greetings, thanks): its answer is not sent along with a
/// handoff.
pub(crate) fn is_smalltalk(topic: &Topic) -> bool {
    topic.has_tag(SMALLTALK_TAG)
}

pub(crate) fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
