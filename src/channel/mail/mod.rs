//! Email auto-replies that follow RFC 3834: never to robots, lists, bounces or loops, at
//! most once per recipient per interval, and marked `Auto-Submitted: auto-replied`.
//!
//! [`auto_reply`] takes one RFC 5322 message (as an MDA filter, a Sieve `pipe` or a help-desk
//! hook passes it), and the envelope sender when the MTA passes it, and returns either the
//! reply to send or the reason none is due.
//!
//! The reply goes to the envelope sender (RFC 3834 §4): the address the MTA was given, or the
//! `Return-Path` the delivering MTA recorded — never to an address the message merely asks
//! for. A `Reply-To` is honoured only when the deployer opts in (`honour_reply_to`), and then
//! every check applies to the address replied to. Untrusted text that reaches the reply is
//! bounded: the quoted subject is cut, the display name is used only when short and plain,
//! and message ids with control characters or spaces are left out of the threading headers
//! (the customer still gets the reply; see [`usable_id`]).

mod text;

use crate::channel::address::{self, Envelope};
use crate::engine::Engine;
use crate::error::Error;
use crate::model::{Customer, Message};
use crate::store::{Claim, Store};
use chrono::{DateTime, Utc};
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mail_parser::{MessageParser, MimeHeaders};
use serde::Deserialize;
use text::{best_reply, cap_chars, fresh_text, keyword, matches_pattern, one_line, references};
pub use text::{usable_id, MAX_ID_BYTES, MAX_REFERENCES};

/// The longest quoted subject, in characters, `…` included.
pub const MAX_QUOTED_SUBJECT_CHARS: usize = 200;

/// How much of the subject is searched for the question, in characters.
const MAX_SUBJECT_QUERY_CHARS: usize = 1000;

/// Settings of the email channel (`[mail]` in `sahaya.toml`); every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Our addresses: mail must be addressed (To or Cc) to one of them to get a reply.
    pub addresses: Vec<String>,
    /// The reply's From, e.g. `Nova Courier Support <support@nova-courier.example>`.
    pub from_name: String,
    /// The reply's From address.
    pub from_address: String,
    /// At most one auto-reply per recipient in this many days (RFC 5230 `:days`).
    pub interval_days: u32,
    /// At most this many auto-replies per recipient in 24 hours, whatever the interval.
    pub daily_cap: u32,
    /// Local parts of senders that are robots: exact names, `prefix*` or `*suffix`.
    pub system_senders: Vec<String>,
    /// The state database (per-recipient memory), relative to the data directory.
    pub database: String,
    /// Reply to the message's `Reply-To` rather than to the envelope sender. Off by default:
    /// anyone can write a victim's address into `Reply-To` and have us mail them. When on,
    /// the system-sender, own-address and once-per-interval checks apply to that address.
    pub honour_reply_to: bool,
    /// Domains whose mailboxes ignore dots in the local part (`v.ictim@gmail.com` is
    /// `victim@gmail.com`); the per-recipient memory counts those spellings as one.
    pub dot_insensitive_domains: Vec<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            addresses: vec![
                // The address COMPANY.md publishes for customers.
                "help@nova-courier.example".into(),
                "support@nova-courier.example".into(),
                "ypostirixi@nova-courier.example".into(),
                "sahayam@nova-courier.example".into(),
            ],
            from_name: "Nova Courier Support".into(),
            from_address: "support@nova-courier.example".into(),
            interval_days: 7,
            daily_cap: 3,
            system_senders: [
                "mailer-daemon",
                "postmaster",
                "listserv",
                "majordomo",
                "noreply",
                "no-reply",
                "no_reply",
                "donotreply",
                "do-not-reply",
                "do_not_reply",
                "bounce*",
                "owner-*",
                "*-request",
                "*-bounces",
            ]
            .map(String::from)
            .to_vec(),
            database: "sahaya.db".into(),
            honour_reply_to: false,
            dot_insensitive_domains: vec!["gmail.com".into(), "googlemail.com".into()],
        }
    }
}

/// Why no auto-reply is due; `code()` is stable for scripts and tests. Values taken from the
/// message are escaped and shortened ([`address::shown`]), so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// The input is not an email message.
    Unparseable,
    /// An `Auto-Submitted` header other than `no`: another robot wrote it.
    AutoSubmitted(String),
    /// `X-Autoreply` or `X-Autorespond`: written by an autoresponder.
    Autoresponder(String),
    /// A `List-*` header: mailing-list traffic.
    List(String),
    /// `Precedence: bulk`, `list`, `junk` or `auto_reply`.
    Precedence(String),
    /// `X-Auto-Response-Suppress` asks for no auto-replies.
    Suppressed(String),
    /// `X-Loop` names one of our addresses: we have seen this message before.
    Loop,
    /// Empty envelope sender (`<>`): a bounce or notification.
    NullSender,
    /// `multipart/report`: a delivery or read report.
    Report,
    /// A sender or reply address with control characters, or not an address at all.
    BadAddress(String),
    /// The sender is a robot (MAILER-DAEMON, noreply …).
    SystemSender(String),
    /// Not addressed to us in To or Cc (Bcc or a list alias).
    NotAddressedToUs,
    /// Sent by one of our own addresses, or asking for the reply to go to one.
    FromUs,
    /// No usable sender address.
    NoSender,
    /// We already replied to this recipient within the interval.
    RecentlyReplied(DateTime<Utc>),
    /// The recipient reached the daily cap of auto-replies.
    DailyCap,
}

impl Skip {
    /// A short stable code (`list`, `null-sender`, `recently-replied` …).
    pub fn code(&self) -> &'static str {
        match self {
            Skip::Unparseable => "unparseable",
            Skip::AutoSubmitted(_) => "auto-submitted",
            Skip::Autoresponder(_) => "autoresponder",
            Skip::List(_) => "list",
            Skip::Precedence(_) => "precedence",
            Skip::Suppressed(_) => "suppressed",
            Skip::Loop => "loop",
            Skip::NullSender => "null-sender",
            Skip::Report => "report",
            Skip::BadAddress(_) => "bad-address",
            Skip::SystemSender(_) => "system-sender",
            Skip::NotAddressedToUs => "not-addressed-to-us",
            Skip::FromUs => "from-us",
            Skip::NoSender => "no-sender",
            Skip::RecentlyReplied(_) => "recently-replied",
            Skip::DailyCap => "daily-cap",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match self {
            Skip::Unparseable => "the input is not an email message".to_string(),
            Skip::AutoSubmitted(v) => format!("Auto-Submitted: {v} (written by a robot)"),
            Skip::Autoresponder(h) => format!("{h} header (written by an autoresponder)"),
            Skip::List(h) => format!("{h} header: mailing-list mail"),
            Skip::Precedence(v) => format!("Precedence: {v}"),
            Skip::Suppressed(v) => format!("X-Auto-Response-Suppress: {v}"),
            Skip::Loop => "X-Loop names our address (mail loop)".into(),
            Skip::NullSender => "empty envelope sender (bounce or notification)".into(),
            Skip::Report => "multipart/report (delivery or read report)".into(),
            Skip::BadAddress(a) => format!("{a} is not a usable address"),
            Skip::SystemSender(a) => format!("{a} is a system address"),
            Skip::NotAddressedToUs => "not addressed to one of our addresses in To or Cc".into(),
            Skip::FromUs => "sent from, or replying to, one of our own addresses".into(),
            Skip::NoSender => "no sender address".into(),
            Skip::RecentlyReplied(t) => format!(
                "already replied to this recipient at {}",
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            Skip::DailyCap => "this recipient reached the daily cap of auto-replies".into(),
        };
        write!(f, "no auto-reply ({}): {why}", self.code())
    }
}

/// The result of [`auto_reply`].
#[derive(Debug)]
pub enum Outcome {
    /// Send this message (RFC 5322 bytes) to `to`.
    Reply {
        /// The recipient: the envelope sender; `From` when there is none; `Reply-To` only
        /// with `honour_reply_to`.
        to: String,
        /// The whole message, CRLF line endings.
        message: Vec<u8>,
        /// The engine's reply that makes up the body.
        reply: Box<crate::model::Reply>,
        /// What the customer wrote, as answered: the subject and the new part of the body.
        text: String,
    },
    /// No reply is due.
    Skip(Skip),
}

/// Decides whether `raw` deserves an auto-reply and builds it. The per-recipient memory is
/// recorded in `store` only when a reply is built.
///
/// `envelope_sender` is the SMTP `MAIL FROM` as the MTA passes it (Postfix `${sender}`,
/// Sieve `envelope "from"`): `""`, `<>` or `MAILER-DAEMON` mean the null sender (no reply).
/// It takes precedence over the `Return-Path` header, of which only the first (the one the
/// delivering MTA prepends) counts.
pub fn auto_reply(
    engine: &Engine,
    store: &dyn Store,
    cfg: &MailConfig,
    raw: &[u8],
    envelope_sender: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome, Error> {
    let skip = |s: Skip| Ok(Outcome::Skip(s));
    let Some(mail) = MessageParser::default().parse(raw) else {
        return skip(Skip::Unparseable);
    };
    if mail.headers().is_empty() {
        return skip(Skip::Unparseable);
    }
    // Raw values of every top-level header; not-UTF-8 bytes must not hide a header.
    let headers: Vec<(&str, String)> = mail
        .headers()
        .iter()
        .map(|h| {
            let range = h.offset_start as usize..h.offset_end as usize;
            let value = mail.raw_message.get(range).unwrap_or_default();
            (h.name.as_str(), String::from_utf8_lossy(value).into_owned())
        })
        .collect();
    let all = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let first = |name: &'static str| all(name).next();
    let dots = &cfg.dot_insensitive_domains;
    let ours = |addr: &str| {
        let key = address::memory_key(addr, dots);
        cfg.addresses
            .iter()
            .chain(std::iter::once(&cfg.from_address))
            .any(|a| address::memory_key(a, dots) == key)
    };

    // RFC 3834 §2 and RFC 5230 §4.5: never answer robots, lists or reports. Every instance
    // of a header counts: a leading `Auto-Submitted: no` must not hide a second one.
    for v in all("Auto-Submitted") {
        if keyword(v) != "no" {
            return skip(Skip::AutoSubmitted(address::shown(v.trim())));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if first(name).is_some() {
            return skip(Skip::Autoresponder(name.into()));
        }
    }
    if let Some((name, _)) = headers
        .iter()
        .find(|(n, _)| n.to_ascii_lowercase().starts_with("list-"))
    {
        return skip(Skip::List(address::shown(name)));
    }
    for v in all("Precedence") {
        let kw = keyword(v);
        if ["bulk", "list", "junk", "auto_reply", "auto-reply"].contains(&kw.as_str()) {
            return skip(Skip::Precedence(address::shown(v.trim())));
        }
    }
    for v in all("X-Auto-Response-Suppress") {
        let suppress = v
            .split([',', ' ', '\t', '\r', '\n'])
            .any(|t| ["all", "oof", "autoreply"].contains(&t.trim().to_ascii_lowercase().as_str()));
        if suppress {
            return skip(Skip::Suppressed(address::shown(v.trim())));
        }
    }
    for v in all("X-Loop") {
        if v.split([',', ' ', '<', '>', '\t', '\r', '\n']).any(ours) {
            return skip(Skip::Loop);
        }
    }
    let envelope = match envelope_sender {
        Some(s) => Some(address::envelope(s)),
        None => first("Return-Path").map(address::envelope),
    };
    let envelope = match envelope {
        Some(Envelope::Null) => return skip(Skip::NullSender),
        Some(Envelope::Invalid(v)) => {
            return skip(Skip::BadAddress(format!("envelope sender {v}")))
        }
        Some(Envelope::Address(a)) => Some(a),
        None => None,
    };
    if mail.root_part().is_content_type("multipart", "report") {
        return skip(Skip::Report);
    }

    // The author. mail-parser drops a lone CR inside an address, so look at the raw header.
    if let Some(v) = first("From").filter(|v| address::has_control(v)) {
        return skip(Skip::BadAddress(format!(
            "From: {}",
            address::shown(v.trim())
        )));
    }
    let Some(from) = mail
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
    else {
        return skip(Skip::NoSender);
    };
    if !address::is_valid(from) {
        return skip(Skip::BadAddress(format!("From: {}", address::shown(from))));
    }
    let from = from.to_string();

    // RFC 3834 §4: the reply goes to the envelope sender; From only when there is none.
    let mut to = envelope.clone().unwrap_or_else(|| from.clone());
    let mut trace = Vec::new();
    let reply_to = mail
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address());
    if cfg.honour_reply_to {
        if let Some(v) = first("Reply-To").filter(|v| address::has_control(v)) {
            return skip(Skip::BadAddress(format!(
                "Reply-To: {}",
                address::shown(v.trim())
            )));
        }
        if let Some(rt) = reply_to {
            if !address::is_valid(rt) {
                return skip(Skip::BadAddress(format!(
                    "Reply-To: {}",
                    address::shown(rt)
                )));
            }
            to = rt.to_string();
            trace.push("email: reply to Reply-To (honour_reply_to)".to_string());
        }
    } else if let Some(rt) = reply_to.filter(|rt| !rt.eq_ignore_ascii_case(&to)) {
        trace.push(format!(
            "email: reply to the envelope sender, not to Reply-To {}",
            address::shown(rt)
        ));
    }

    // Every address the message came from or asks to be answered at passes every check.
    let identities: Vec<&str> = envelope
        .iter()
        .map(String::as_str)
        .chain([from.as_str(), to.as_str()])
        .collect();
    for a in &identities {
        let local = a.rsplit_once('@').map_or(*a, |(l, _)| l);
        let (plain, base) = (local.to_lowercase(), address::base_local(local));
        if cfg
            .system_senders
            .iter()
            .any(|p| matches_pattern(&plain, p) || matches_pattern(&base, p))
        {
            return skip(Skip::SystemSender(address::shown(a)));
        }
    }
    let addressed = mail
        .to()
        .into_iter()
        .chain(mail.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .any(ours);
    if !addressed {
        return skip(Skip::NotAddressedToUs);
    }
    if identities.iter().any(|a| ours(a)) {
        return skip(Skip::FromUs);
    }
    // A display name reaches the body only when it is a plain, short name.
    let name = mail
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .and_then(address::plain_name)
        .map(str::to_string);

    // What the customer asked: the subject and the new part of the body.
    let subject: String = mail
        .subject()
        .unwrap_or("")
        .chars()
        .take(MAX_SUBJECT_QUERY_CHARS)
        .collect();
    let subject = one_line(&subject);
    let body = mail.body_text(0).map(|b| b.to_string()).unwrap_or_default();
    let text = format!("{subject}\n{}", fresh_text(&body));

    let interval = i64::from(cfg.interval_days) * 86_400;
    let key = address::memory_key(&to, dots);
    match store.claim_auto_reply(&key, now.timestamp(), interval, cfg.daily_cap)? {
        Claim::Granted => {}
        Claim::RecentlyReplied(t) => {
            return skip(Skip::RecentlyReplied(
                DateTime::from_timestamp(t, 0).unwrap_or(now),
            ))
        }
        Claim::DailyCap => return skip(Skip::DailyCap),
    }

    let base = Message {
        text,
        channel: Some("email".into()),
        at: Some(now.to_rfc3339()),
        customer: Some(Customer {
            name,
            ..Customer::default()
        }),
        ..Message::default()
    };
    let mut reply = best_reply(engine, &base, &subject, &body);
    let asked = base.text.clone();
    trace.append(&mut reply.trace);
    reply.trace = trace;

    let original_id = mail
        .message_id()
        .filter(|id| usable_id(id))
        .map(str::to_string);
    let references = references(
        mail.references().as_text_list().unwrap_or_default(),
        original_id.as_deref(),
    );
    let subject_line = if subject.is_empty() {
        "Auto: your message".to_string()
    } else {
        format!("Auto: {}", cap_chars(&subject, MAX_QUOTED_SUBJECT_CHARS))
    };
    let mut builder = MessageBuilder::new()
        .from((cfg.from_name.as_str(), cfg.from_address.as_str()))
        .to(to.as_str())
        .subject(subject_line)
        .date(now.timestamp())
        .message_id(format!(
            "{}.{}@{}",
            now.timestamp_millis(),
            std::process::id(),
            cfg.from_address
                .split('@')
                .nth(1)
                .unwrap_or("sahaya.invalid")
        ))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .header("X-Loop", Raw::new(cfg.from_address.clone()))
        .header("Precedence", Raw::new("auto_reply"))
        .text_body(reply.text.clone());
    if let Some(id) = original_id {
        builder = builder.in_reply_to(MessageId::new(id));
    }
    if !references.is_empty() {
        builder = builder.references(MessageId::new_list(references.into_iter()));
    }
    let message = builder
        .write_to_vec()
        .map_err(|e| Error::internal("building the reply", e))?;
    Ok(Outcome::Reply {
        to,
        message,
        reply: Box::new(reply),
        text: asked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches_pattern("owner-couriers", "owner-*"));
        assert!(matches_pattern("news-request", "*-request"));
        assert!(matches_pattern("noreply", "noreply"));
        assert!(!matches_pattern("noreplyx", "noreply"));
    }

    #[test]
    fn header_keywords() {
        assert_eq!(keyword(" Bulk \r\n"), "bulk");
        assert_eq!(keyword(" bulk (x)"), "bulk");
        assert_eq!(keyword(" (robot) auto_reply"), "auto_reply");
        assert_eq!(keyword(" auto-replied; owner-email=a@b"), "auto-replied");
        assert_eq!(keyword(" no (a (nested) comment)"), "no");
        assert_eq!(keyword(" NO"), "no");
        assert_eq!(keyword(""), "");
    }

    #[test]
    fn subjects_are_one_bounded_line() {
        assert_eq!(
            one_line(" Where\r\n is\tmy  parcel?\0 "),
            "Where is my parcel?"
        );
        assert_eq!(cap_chars("short", 200), "short");
        let long = "δ".repeat(500);
        let cut = cap_chars(&long, 200);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with('…'));
        assert_eq!(cap_chars("ab cd", 4), "ab…");
    }

    #[test]
    fn ids_with_control_characters_are_left_out() {
        assert!(usable_id("CAKx7Qp3mV9Fz1tR0@mail.gmail.com"));
        assert!(!usable_id("abc\r@example.com"));
        assert!(!usable_id("abc\n@example.com"));
        assert!(!usable_id("a b@example.com"));
        assert!(!usable_id("a\u{0}b@example.com"));
        assert!(!usable_id(""));
        assert!(!usable_id(&"x".repeat(300)));
        let refs = references(&["a@x", "bad\r@x", "a@x", "b@x"], Some("c@x"));
        assert_eq!(refs, ["a@x", "b@x", "c@x"]);
        let many: Vec<String> = (0..50).map(|i| format!("{i}@x")).collect();
        let refs = references(&many, Some("new@x"));
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "0@x");
        assert_eq!(refs[1], "32@x");
        assert_eq!(refs.last().map(String::as_str), Some("new@x"));
    }

    #[test]
    fn quoted_text_and_signatures_are_dropped() {
        let body = "Where is my parcel?\n\nOn Mon, 1 Jan, Nova wrote:\n> old text\n";
        assert_eq!(fresh_text(body).trim(), "Where is my parcel?");
        let body = "Πού είναι;\n-- \nΜαρία\n";
        assert_eq!(fresh_text(body).trim(), "Πού είναι;");
    }
}
