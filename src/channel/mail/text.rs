//! The text of an auto-reply: which part of the customer's mail is asked, and the header
//! values built from the original (references, subject, keywords).

use crate::engine::Engine;
use crate::model::{Decision, Message, Reply};

/// The longest message id kept in `In-Reply-To` and `References`, in bytes.
pub const MAX_ID_BYTES: usize = 250;

/// At most this many ids in the reply's `References` (the first and the latest).
pub const MAX_REFERENCES: usize = 20;

/// Whether a message id may go into `In-Reply-To` or `References`: not empty, at most
/// [`MAX_ID_BYTES`], and no control characters (CR, LF, NUL …), whitespace or angle
/// brackets. An id that fails is left out of the threading headers; the message still gets
/// its reply, since a broken id says nothing about the sender.
pub fn usable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '<' && c != '>')
}

/// The reply's `References`: the original's usable references and its own id, at most
/// [`MAX_REFERENCES`] (the first, which starts the thread, and the latest ones).
pub(super) fn references<S: AsRef<str>>(original: &[S], id: Option<&str>) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    for r in original.iter().map(AsRef::as_ref).chain(id) {
        if usable_id(r) && !refs.iter().any(|x| x == r) {
            refs.push(r.to_string());
        }
    }
    if refs.len() > MAX_REFERENCES {
        refs.drain(1..refs.len() - (MAX_REFERENCES - 1));
    }
    refs
}

/// The first word of a header value, lowercased, without comments or parameters:
/// ` Bulk ` → `bulk`, `bulk (x)` → `bulk`, `auto-replied; owner-email=…` → `auto-replied`.
pub(super) fn keyword(value: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => break,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The text on one line: control characters and runs of whitespace become one space.
pub(super) fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters, cut at a character boundary and ended with `…` when cut.
pub(super) fn cap_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// The reply to an email. Rules see the whole text (a threat anywhere counts); the answer
/// comes from whichever part asks the question: an email wraps it in greetings, context and
/// a signature that would drown it if searched as one block.
pub(super) fn best_reply(engine: &Engine, base: &Message, subject: &str, body: &str) -> Reply {
    // Greetings and thanks are how emails open and close, not what they ask.
    let smalltalk = |r: &Reply| {
        r.answer_id
            .as_deref()
            .and_then(|id| engine.knowledge().get(id))
            .is_some_and(|t| t.has_tag(crate::knowledge::SMALLTALK_TAG))
    };
    let whole = engine.respond(base);
    if whole.decision == Decision::Escalate
        || (whole.decision == Decision::Answer && !smalltalk(&whole))
    {
        return whole;
    }
    let fresh = fresh_text(body);
    let mut best: Option<Reply> = None;
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
        let rank = |r: &Reply| match r.decision {
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
pub(super) fn segments(text: &str) -> Vec<String> {
    text.split(['\n', '.', '?', ';', '!', '؟', '।'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(40)
        .map(str::to_string)
        .collect()
}

/// `noreply`, `owner-*`, `*-request`.
pub(super) fn matches_pattern(local: &str, pattern: &str) -> bool {
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
pub(super) fn fresh_text(body: &str) -> String {
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
