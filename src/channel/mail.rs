//! Email auto-replies that follow RFC 3834: never to robots, lists, bounces or loops, at
//! most once per sender per interval, and marked `Auto-Submitted: auto-replied`.
//!
//! [`auto_reply`] takes one RFC 5322 message (as an MDA filter, a Sieve `pipe` or a help-desk
//! hook passes it) and returns either the reply to send or the reason none is due.

use crate::engine::{Customer, Decision, Engine, Message};
use crate::store::{Claim, Store};
use crate::Error;
use chrono::{DateTime, Utc};
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mail_parser::{MessageParser, MimeHeaders};
use serde::Deserialize;

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
    /// At most one auto-reply per sender in this many days (RFC 5230 `:days`).
    pub interval_days: u32,
    /// At most this many auto-replies per sender in 24 hours, whatever the interval.
    pub daily_cap: u32,
    /// Local parts of senders that are robots: exact names, `prefix*` or `*suffix`.
    pub system_senders: Vec<String>,
    /// The state database (per-sender memory), relative to the data directory.
    pub database: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            addresses: vec![
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
        }
    }
}

/// Why no auto-reply is due; `code()` is stable for scripts and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The input is not an email message.
    Unparseable,
    /// `Auto-Submitted` other than `no`: another robot wrote it.
    AutoSubmitted(String),
    /// A `List-*` header: mailing-list traffic.
    List(String),
    /// `Precedence: bulk`, `list` or `junk`.
    Precedence(String),
    /// `X-Auto-Response-Suppress` asks for no auto-replies.
    Suppressed(String),
    /// `X-Loop` names one of our addresses: we have seen this message before.
    Loop,
    /// Empty return path (`<>`): a bounce or notification.
    NullSender,
    /// `multipart/report`: a delivery or read report.
    Report,
    /// The sender is a robot (MAILER-DAEMON, noreply …).
    SystemSender(String),
    /// Not addressed to us in To or Cc (Bcc or a list alias).
    NotAddressedToUs,
    /// Sent by one of our own addresses.
    FromUs,
    /// No usable sender address.
    NoSender,
    /// We already replied to this sender within the interval.
    RecentlyReplied(DateTime<Utc>),
    /// The sender reached the daily cap of auto-replies.
    DailyCap,
}

impl Skip {
    /// A short stable code (`list`, `null-sender`, `recently-replied` …).
    pub fn code(&self) -> &'static str {
        match self {
            Skip::Unparseable => "unparseable",
            Skip::AutoSubmitted(_) => "auto-submitted",
            Skip::List(_) => "list",
            Skip::Precedence(_) => "precedence",
            Skip::Suppressed(_) => "suppressed",
            Skip::Loop => "loop",
            Skip::NullSender => "null-sender",
            Skip::Report => "report",
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
            Skip::List(h) => format!("{h} header: mailing-list mail"),
            Skip::Precedence(v) => format!("Precedence: {v}"),
            Skip::Suppressed(v) => format!("X-Auto-Response-Suppress: {v}"),
            Skip::Loop => "X-Loop names our address (mail loop)".into(),
            Skip::NullSender => "empty return path (bounce or notification)".into(),
            Skip::Report => "multipart/report (delivery or read report)".into(),
            Skip::SystemSender(a) => format!("{a} is a system address"),
            Skip::NotAddressedToUs => "not addressed to one of our addresses in To or Cc".into(),
            Skip::FromUs => "sent from one of our own addresses".into(),
            Skip::NoSender => "no sender address".into(),
            Skip::RecentlyReplied(t) => format!(
                "already replied to this sender at {}",
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            Skip::DailyCap => "this sender reached the daily cap of auto-replies".into(),
        };
        write!(f, "no auto-reply ({}): {why}", self.code())
    }
}

/// The result of [`auto_reply`].
#[derive(Debug)]
pub enum Outcome {
    /// Send this message (RFC 5322 bytes) to `to`.
    Reply {
        /// The recipient: Reply-To, else From.
        to: String,
        /// The whole message, CRLF line endings.
        message: Vec<u8>,
        /// The engine's reply that makes up the body.
        reply: Box<crate::Reply>,
    },
    /// No reply is due.
    Skip(Skip),
}

/// Decides whether `raw` deserves an auto-reply and builds it. The per-sender memory is
/// recorded in `store` only when a reply is built.
pub fn auto_reply(
    engine: &Engine,
    store: &dyn Store,
    cfg: &MailConfig,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<Outcome, Error> {
    let skip = |s: Skip| Ok(Outcome::Skip(s));
    let Some(mail) = MessageParser::default().parse(raw) else {
        return skip(Skip::Unparseable);
    };
    if mail.headers().is_empty() {
        return skip(Skip::Unparseable);
    }
    let header = |name: &str| {
        mail.headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let ours = |addr: &str| {
        cfg.addresses
            .iter()
            .chain(std::iter::once(&cfg.from_address))
            .any(|a| a.eq_ignore_ascii_case(addr.trim()))
    };

    // RFC 3834 §2 and RFC 5230 §4.5: never answer robots, lists or reports.
    if let Some(v) = header("Auto-Submitted") {
        let token = v
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if token != "no" {
            return skip(Skip::AutoSubmitted(v));
        }
    }
    if let Some((name, _)) = mail
        .headers_raw()
        .find(|(n, _)| n.to_ascii_lowercase().starts_with("list-"))
    {
        return skip(Skip::List(name.to_string()));
    }
    if let Some(v) = header("Precedence") {
        if ["bulk", "list", "junk"].contains(&v.to_ascii_lowercase().as_str()) {
            return skip(Skip::Precedence(v));
        }
    }
    if let Some(v) = header("X-Auto-Response-Suppress") {
        let suppress = v
            .split([',', ' '])
            .any(|t| ["all", "oof", "autoreply"].contains(&t.trim().to_ascii_lowercase().as_str()));
        if suppress {
            return skip(Skip::Suppressed(v));
        }
    }
    for (n, v) in mail.headers_raw() {
        if n.eq_ignore_ascii_case("X-Loop") && v.split([',', ' ', '<', '>']).any(ours) {
            return skip(Skip::Loop);
        }
    }
    if let Some(rp) = header("Return-Path") {
        let inner = rp
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if inner.is_empty() {
            return skip(Skip::NullSender);
        }
    }
    if mail.root_part().is_content_type("multipart", "report") {
        return skip(Skip::Report);
    }

    let Some(from) = mail
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
    else {
        return skip(Skip::NoSender);
    };
    let from = from.to_string();
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if cfg
        .system_senders
        .iter()
        .any(|p| matches_pattern(&local, p))
    {
        return skip(Skip::SystemSender(from));
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
    if ours(&from) {
        return skip(Skip::FromUs);
    }
    let reply_to = mail
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or(&from)
        .to_string();
    let name = mail
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .map(str::to_string);

    // What the customer asked: the subject and the new part of the body.
    let subject = mail.subject().unwrap_or("").trim().to_string();
    let body = mail.body_text(0).map(|b| b.to_string()).unwrap_or_default();
    let text = format!("{subject}\n{}", fresh_text(&body));

    let interval = i64::from(cfg.interval_days) * 86_400;
    match store.claim_auto_reply(&from, now.timestamp(), interval, cfg.daily_cap)? {
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
    let reply = best_reply(engine, &base, &subject, &body);

    let original_id = mail.message_id().map(str::to_string);
    let mut references: Vec<String> = mail
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    if let Some(id) = &original_id {
        if !references.contains(id) {
            references.push(id.clone());
        }
    }
    let subject_line = if subject.is_empty() {
        "Auto: your message".to_string()
    } else {
        format!("Auto: {subject}")
    };
    let mut builder = MessageBuilder::new()
        .from((cfg.from_name.as_str(), cfg.from_address.as_str()))
        .to(reply_to.as_str())
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
        .map_err(|e| Error::internal(format!("building the reply: {e}")))?;
    Ok(Outcome::Reply {
        to: reply_to,
        message,
        reply: Box::new(reply),
    })
}

/// The reply to an email. Rules see the whole text (a threat anywhere counts); the answer
/// comes from whichever part asks the question: an email wraps it in greetings, context and
/// a signature that would drown it if searched as one block.
fn best_reply(engine: &Engine, base: &Message, subject: &str, body: &str) -> crate::Reply {
    // Greetings and thanks are how emails open and close, not what they ask.
    let smalltalk = |r: &crate::Reply| {
        r.answer_id
            .as_deref()
            .and_then(|id| engine.knowledge().get(id))
            .is_some_and(|t| t.has_tag("smalltalk"))
    };
    let whole = engine.respond(base);
    if whole.decision == Decision::Escalate
        || (whole.decision == Decision::Answer && !smalltalk(&whole))
    {
        return whole;
    }
    let fresh = fresh_text(body);
    let mut best: Option<crate::Reply> = None;
    let candidates = std::iter::once(subject.to_string()).chain(segments(&fresh));
    for segment in candidates {
        if crate::text::words(&crate::text::normalize(&segment)).count() < 2 {
            continue;
        }
        let r = engine.respond(&Message {
            text: segment,
            lang: base
                .lang
                .clone()
                .or_else(|| Some(whole.lang.code().to_string())),
            ..base.clone()
        });
        let rank = |r: &crate::Reply| match r.decision {
            _ if smalltalk(r) => 0,
            Decision::Escalate | Decision::Answer => 2,
            Decision::Clarify => 1,
            Decision::Fallback => 0,
        };
        let better = best
            .as_ref()
            .is_none_or(|b| (rank(&r), r.confidence) > (rank(b), b.confidence));
        if better {
            best = Some(r);
        }
    }
    match best {
        Some(b) if b.decision != Decision::Fallback && !smalltalk(&b) => {
            let mut b = b;
            b.trace.insert(
                0,
                "email: answered from the part that asks the question".into(),
            );
            b
        }
        _ => whole,
    }
}

/// Sentences and lines of the customer's text, at most 40.
fn segments(text: &str) -> Vec<String> {
    text.split(['\n', '.', '?', ';', '!', '؟', '।'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(40)
        .map(str::to_string)
        .collect()
}

/// `noreply`, `owner-*`, `*-request`.
fn matches_pattern(local: &str, pattern: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    if let Some(prefix) = p.strip_suffix('*') {
        local.starts_with(prefix)
    } else if let Some(suffix) = p.strip_prefix('*') {
        local.ends_with(suffix)
    } else {
        local == p
    }
}

/// The customer's new text: quoted lines, the quote header and the signature removed,
/// limited to the first few thousand characters.
fn fresh_text(body: &str) -> String {
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if t == "--" || t == "-- " || line == "-- " {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        // "On Mon, … wrote:" / «Στις … έγραψε:» / "… రాశారు:"
        if (t.ends_with("wrote:") || t.ends_with("έγραψε:") || t.ends_with("రాశారు:")) && t.len() > 10
        {
            break;
        }
        out.push(line);
    }
    let text = out.join("\n");
    text.chars().take(4000).collect()
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
    fn quoted_text_and_signatures_are_dropped() {
        let body = "Where is my parcel?\n\nOn Mon, 1 Jan, Nova wrote:\n> old text\n";
        assert_eq!(fresh_text(body).trim(), "Where is my parcel?");
        let body = "Πού είναι;\n-- \nΜαρία\n";
        assert_eq!(fresh_text(body).trim(), "Πού είναι;");
    }
}
