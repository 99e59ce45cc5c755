//! The shared vocabulary of the pipeline: what comes in ([`Message`]), what goes out
//! ([`Reply`]), and the typed values every stage passes on. This module imports no stage;
//! every stage may import it.
//!
//! A [`Message`] is the wire form (the JSON body of `POST /v1/respond`, `sahaya ask`'s
//! flags): its language, time and time zone are strings. [`Message::validate`] turns it into
//! a [`Request`] whose fields are typed, or says precisely what is wrong; the library, the
//! server and the CLI all validate through it.

use crate::error::{Error, RequestError, SessionIdError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use crate::lang::{Formality, FormalityReason, Lang};

/// Longest message [`Message::validate`] accepts, in bytes; `respond` looks only at its start.
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

    /// Sets the channel (`chat`, `email`, `sms`, `whatsapp` …).
    pub fn channel(mut self, channel: impl Into<String>) -> Message {
        self.channel = Some(channel.into());
        self
    }

    /// Sets the session id.
    pub fn session(mut self, id: impl Into<String>) -> Message {
        self.session_id = Some(id.into());
        self
    }

    /// Sets the customer.
    pub fn customer(mut self, customer: Customer) -> Message {
        self.customer = Some(customer);
        self
    }

    /// Sets the time the message was sent (RFC 3339).
    pub fn at(mut self, at: impl Into<String>) -> Message {
        self.at = Some(at.into());
        self
    }

    /// The typed request, or the first thing wrong with it: empty text, text over
    /// [`MAX_TEXT_BYTES`], an unknown language, a session id that is too long or not
    /// printable, a time that is not RFC 3339, an unknown time zone.
    ///
    /// ```
    /// use sahaya::{Message, RequestError};
    ///
    /// let err = Message::new("hello").lang("xx").validate().unwrap_err();
    /// assert!(matches!(err.request_error(), Some(RequestError::UnknownLanguage(_))));
    /// assert!(Message::new("hello").at("yesterday").validate().is_err());
    /// assert!(Message::new("hello").lang("el-GR").validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<Request<'_>, Error> {
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(RequestError::TextTooLong {
                bytes: self.text.len(),
                max: MAX_TEXT_BYTES,
            }
            .into());
        }
        if crate::text::normalize(&self.text).is_empty() {
            return Err(RequestError::EmptyText.into());
        }
        let lang = self.lang.as_deref().map(parse_lang).transpose()?;
        let session_id = match self.session_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => {
                valid_session_key(id).map_err(RequestError::SessionId)?;
                Some(id)
            }
            None => None,
        };
        let at = self.at.as_deref().map(parse_at).transpose()?;
        let timezone = self
            .customer
            .as_ref()
            .and_then(|c| c.timezone.as_deref())
            .map(parse_tz)
            .transpose()?;
        Ok(Request {
            text: &self.text,
            lang,
            formality: self.formality,
            channel: self.channel.as_deref().map(str::trim),
            session_id,
            customer: self.customer.as_ref(),
            at,
            timezone,
        })
    }

    /// The typed request with every bad field left out and a note of why, for
    /// [`crate::Engine::respond`], which never fails: text is cut to [`MAX_TEXT_BYTES`].
    pub(crate) fn lenient(&self) -> (Request<'_>, Vec<String>) {
        let mut notes = Vec::new();
        let text = truncate(&self.text, MAX_TEXT_BYTES);
        if text.len() < self.text.len() {
            notes.push(format!("text cut to its first {MAX_TEXT_BYTES} bytes"));
        }
        fn keep<T>(notes: &mut Vec<String>, what: &str, r: Result<T, Error>) -> Option<T> {
            r.map_err(|e| match e.request_error() {
                Some(r) => notes.push(format!("ignored {what}: {r}")),
                None => notes.push(format!("ignored {what}: {e}")),
            })
            .ok()
        }
        let lang = (self.lang.as_deref()).and_then(|l| keep(&mut notes, "language", parse_lang(l)));
        let session_id = (self.session_id.as_deref())
            .filter(|id| !id.is_empty())
            .and_then(|id| {
                let valid = valid_session_key(id).map(|()| id);
                keep(
                    &mut notes,
                    "session id",
                    valid.map_err(|e| RequestError::SessionId(e).into()),
                )
            });
        let at = (self.at.as_deref()).and_then(|a| keep(&mut notes, "time", parse_at(a)));
        let timezone = (self.customer.as_ref())
            .and_then(|c| c.timezone.as_deref())
            .and_then(|tz| keep(&mut notes, "time zone", parse_tz(tz)));
        let request = Request {
            text,
            lang,
            formality: self.formality,
            channel: self.channel.as_deref().map(str::trim),
            session_id,
            customer: self.customer.as_ref(),
            at,
            timezone,
        };
        (request, notes)
    }
}

fn parse_lang(tag: &str) -> Result<Lang, Error> {
    Lang::from_tag(tag).ok_or_else(|| RequestError::UnknownLanguage(tag.to_string()).into())
}

fn parse_at(at: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(at.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            RequestError::Time {
                at: at.to_string(),
                reason: e.to_string(),
            }
            .into()
        })
}

fn parse_tz(tz: &str) -> Result<chrono_tz::Tz, Error> {
    tz.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| RequestError::TimeZone(tz.to_string()).into())
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

/// Longest session id a caller may give, in bytes.
pub const MAX_SESSION_ID_BYTES: usize = 128;

/// Longest scope name of [`scoped_key`], in bytes.
pub const MAX_SCOPE_BYTES: usize = 16;

/// Longest key the engine keeps a session under: a scope, a colon and a session id.
pub const MAX_SESSION_KEY_BYTES: usize = MAX_SCOPE_BYTES + 1 + MAX_SESSION_ID_BYTES;

/// Checks a session id given by a caller: 1 to [`MAX_SESSION_ID_BYTES`] bytes, no control
/// characters, no whitespace but the space, no invisible formatting characters. Every
/// channel applies this same rule.
pub fn valid_session_id(id: &str) -> Result<(), SessionIdError> {
    check(id, MAX_SESSION_ID_BYTES)
}

/// Checks a key the engine keeps a session under: the rule of [`valid_session_id`], with
/// room for a scope ([`MAX_SESSION_KEY_BYTES`]). [`crate::Engine::try_respond`] refuses
/// other keys and [`crate::Engine::respond`] remembers nothing under them.
pub fn valid_session_key(key: &str) -> Result<(), SessionIdError> {
    check(key, MAX_SESSION_KEY_BYTES)
}

/// The key of session `id` in the key space `scope` (`api`, `chatwoot` …): `scope:id`,
/// after checking `id` with [`valid_session_id`].
pub fn scoped_key(scope: &str, id: &str) -> Result<String, SessionIdError> {
    let scope_ok = !scope.is_empty()
        && scope.len() <= MAX_SCOPE_BYTES
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !scope_ok {
        return Err(SessionIdError::BadScope {
            max: MAX_SCOPE_BYTES,
        });
    }
    valid_session_id(id)?;
    Ok(format!("{scope}:{id}"))
}

fn check(id: &str, max: usize) -> Result<(), SessionIdError> {
    if id.is_empty() {
        return Err(SessionIdError::Empty);
    }
    if id.len() > max {
        return Err(SessionIdError::TooLong {
            bytes: id.len(),
            max,
        });
    }
    match id.char_indices().find(|(_, c)| forbidden(*c)) {
        Some((at, ch)) => Err(SessionIdError::Forbidden { ch, at }),
        None => Ok(()),
    }
}

/// Characters that do not print, or print as something else, in logs and help desks.
fn forbidden(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// A validated [`Message`]: every field typed and checked.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Request<'a> {
    /// What the customer wrote (at most [`MAX_TEXT_BYTES`]).
    pub text: &'a str,
    /// The reply language asked for.
    pub lang: Option<Lang>,
    /// The register asked for.
    pub formality: Option<Formality>,
    /// The channel as named by the caller (rules and settings match on the name).
    pub channel: Option<&'a str>,
    /// A valid, non-empty session key.
    pub session_id: Option<&'a str>,
    /// The customer.
    pub customer: Option<&'a Customer>,
    /// When the message was sent.
    pub at: Option<DateTime<Utc>>,
    /// The customer's time zone.
    pub timezone: Option<chrono_tz::Tz>,
}

impl Request<'_> {
    /// How the reply travels, from the channel's name.
    pub fn channel_kind(&self) -> Channel {
        Channel::of(self.channel)
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

impl Customer {
    /// A customer known by name.
    pub fn named(name: impl Into<String>) -> Customer {
        Customer {
            name: Some(name.into()),
            ..Customer::default()
        }
    }

    /// Sets the tier.
    pub fn tier(mut self, tier: impl Into<String>) -> Customer {
        self.tier = Some(tier.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Customer {
        self.region = Some(region.into());
        self
    }

    /// Sets the IANA time zone.
    pub fn timezone(mut self, tz: impl Into<String>) -> Customer {
        self.timezone = Some(tz.into());
        self
    }
}

/// How the reply travels, which decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Channel {
    /// A chat widget or messenger: short, greeting once per conversation.
    Chat,
    /// Email: salutation, sign-off, plain text.
    Email,
    /// SMS and other plain-text channels: no greeting, no frills.
    Sms,
}

impl Channel {
    /// The channel named in a request (`chat`, `web`, `whatsapp` … are chat; `email`/`mail`;
    /// `sms`); chat when absent or unknown.
    pub fn of(name: Option<&str>) -> Channel {
        match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
            Some("email" | "mail" | "e-mail") => Channel::Email,
            Some("sms" | "text") => Channel::Sms,
            _ => Channel::Chat,
        }
    }

    /// The value of `$channel` in Fluent messages: `chat`, `email` or `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// What the engine decided to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl Decision {
    /// Every decision, in the order above.
    pub const ALL: [Decision; 4] = [
        Decision::Answer,
        Decision::Clarify,
        Decision::Fallback,
        Decision::Escalate,
    ];

    /// The name in JSON, rules and metrics: `answer`, `clarify`, `fallback`, `escalate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Answer => "answer",
            Decision::Clarify => "clarify",
            Decision::Fallback => "fallback",
            Decision::Escalate => "escalate",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Decision {
    type Err = String;

    fn from_str(s: &str) -> Result<Decision, String> {
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                format!("unknown decision `{s}`; use answer, clarify, fallback or escalate")
            })
    }
}

/// A close match offered in a `clarify` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Suggestion {
    /// Topic id.
    pub id: String,
    /// The topic's question in the reply language.
    pub question: String,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// How urgently people should take an escalated conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// When there is time.
    Low,
    /// In turn.
    Normal,
    /// Before the normal ones.
    High,
    /// Now.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// `low`, `normal`, `high` or `urgent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// One step up (`urgent` stays `urgent`).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Priority, String> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority `{s}`; use one of low, normal, high, urgent"))
    }
}

/// Where an escalated conversation goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Escalation {
    /// The rule that escalated.
    pub rule: String,
    /// The queue of people that takes it.
    pub queue: String,
    /// How urgent it is.
    pub priority: Priority,
}

impl Escalation {
    /// An escalation by `rule` to `queue`.
    pub fn new(rule: impl Into<String>, queue: impl Into<String>, priority: Priority) -> Self {
        Escalation {
            rule: rule.into(),
            queue: queue.into(),
            priority,
        }
    }
}

fn default_reason() -> FormalityReason {
    FormalityReason::Default
}

/// The reply to a message; serializes to the JSON of the HTTP API and `ask --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reply {
    /// answer, clarify, fallback or escalate.
    pub decision: Decision,
    /// The language of `text`.
    pub lang: Lang,
    /// The register of `text`.
    pub formality: Formality,
    /// Why that register: asked, a default, or imposed (escalation, rule, complaint,
    /// shouting: always formal).
    #[serde(default = "default_reason")]
    pub formality_reason: FormalityReason,
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
    /// The id of this reply in the conversation log, for feedback
    /// (`POST /v1/feedback`); absent when nothing logs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
    /// Labels from the rules that matched, for the help desk.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Why: each step of the decision in one line.
    pub trace: Vec<String>,
}
