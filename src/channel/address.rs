//! Email addresses and display names from untrusted mail: which are usable, which name the
//! same mailbox, and which names may be written into a reply.
//!
//! Everything here is pure string work, so the auto-responder's checks can be tested on their
//! own and reused by any channel that answers mail.

/// The longest address accepted (RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its
/// angle brackets).
pub const MAX_ADDRESS_BYTES: usize = 254;

/// The longest display name put into a reply's salutation, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// An envelope sender (the SMTP `MAIL FROM`), as the MTA passes it or as the
/// `Return-Path` header records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// The null sender `<>`: a bounce or another notification that must not be answered.
    Null,
    /// A usable address.
    Address(String),
    /// Not an address: control characters, spaces, no `@` … (shown escaped).
    Invalid(String),
}

/// Reads an envelope sender: `<addr>`, `addr`, `<>` or an empty string, and `MAILER-DAEMON`
/// (what Postfix's `pipe` puts in `${sender}` for the null sender unless `null_sender=` says
/// otherwise). A source route (`<@relay:user@host>`) is dropped.
pub fn envelope(value: &str) -> Envelope {
    // Only the folding whitespace of a header, never a control character inside the value.
    let v = value.trim_matches([' ', '\t', '\r', '\n']);
    let inner = match v.strip_prefix('<') {
        Some(rest) => match rest.strip_suffix('>') {
            Some(inner) => inner.trim_matches([' ', '\t']),
            None => return Envelope::Invalid(shown(v)),
        },
        None => v,
    };
    if inner.is_empty() || inner.eq_ignore_ascii_case("mailer-daemon") {
        return Envelope::Null;
    }
    let inner = match inner.strip_prefix('@') {
        Some(route) => match route.split_once(':') {
            Some((_, addr)) => addr,
            None => return Envelope::Invalid(shown(v)),
        },
        None => inner,
    };
    if is_valid(inner) {
        Envelope::Address(inner.to_string())
    } else {
        Envelope::Invalid(shown(v))
    }
}

/// Whether `addr` is a plain `local@domain` address that can go into a `To:` header as it
/// is: at most [`MAX_ADDRESS_BYTES`], one `@`, and no control characters, whitespace,
/// quotes, brackets, commas or other characters that would end or extend a header.
/// Quoted local parts are refused, which costs no real customer a reply.
pub fn is_valid(addr: &str) -> bool {
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    let allowed = |c: char| {
        !c.is_control()
            && !c.is_whitespace()
            && !matches!(
                c,
                '@' | '<' | '>' | '(' | ')' | '[' | ']' | '\\' | ',' | ';' | ':' | '"'
            )
    };
    addr.len() <= MAX_ADDRESS_BYTES
        && !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && local.chars().all(allowed)
        && domain.chars().all(allowed)
}

/// Whether a raw header value holds a control character other than its folding (CRLF or LF
/// followed by a space or tab) and tabs. mail-parser drops a lone CR inside an address, so
/// the check has to look at the raw header.
pub fn has_control(raw_value: &str) -> bool {
    let v = raw_value.trim_end_matches(['\r', '\n']);
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => {}
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                if !matches!(chars.peek(), Some(' ' | '\t')) {
                    return true;
                }
            }
            '\n' if matches!(chars.peek(), Some(' ' | '\t')) => {}
            c if c.is_control() => return true,
            _ => {}
        }
    }
    false
}

/// The local part with a `+tag` removed (`maria+parcels` → `maria`), lowercased. A local
/// part that starts with `+` stays as it is.
pub fn base_local(local: &str) -> String {
    let local = local.to_lowercase();
    match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => base.to_string(),
        _ => local,
    }
}

/// The key under which the per-recipient memory counts replies: the address lowercased,
/// without a `+tag`, and without dots in the local part when the domain ignores them
/// (`dot_insensitive_domains`, e.g. gmail.com). `V.Ictim+2@GMail.com` and `victim@gmail.com`
/// share one key, so one mailbox gets one reply per interval however it is spelt.
pub fn memory_key(addr: &str, dot_insensitive_domains: &[String]) -> String {
    let addr = addr.trim();
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return addr.to_lowercase();
    };
    let domain = domain.to_lowercase();
    let mut local = base_local(local);
    if dot_insensitive_domains
        .iter()
        .any(|d| d.trim().eq_ignore_ascii_case(&domain))
    {
        let undotted: String = local.chars().filter(|&c| c != '.').collect();
        if !undotted.is_empty() {
            local = undotted;
        }
    }
    format!("{local}@{domain}")
}

/// The display name, when it is short and plain enough to greet the customer with: at most
/// [`MAX_NAME_CHARS`] characters of letters (with the combining marks, virama and joiners
/// that Greek and Telugu names need), spaces, apostrophes, hyphens and dots that end an
/// initial (`K. Rao`). Anything else — a link, digits, a `www.site.example`, punctuation or a
/// long sales pitch in the name — gets the neutral greeting instead.
pub fn plain_name(name: &str) -> Option<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    let mut chars = name.chars().peekable();
    let mut letters = 0;
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\'' | '’' | '-' => {}
            // A dot ends an initial or an abbreviation; one between letters makes a host name.
            '.' if matches!(chars.peek(), None | Some(' ')) => {}
            c if c.is_alphabetic() => letters += 1,
            c if is_name_mark(c) => {}
            _ => return None,
        }
    }
    (letters > 0).then_some(name)
}

/// Combining marks that are not `Alphabetic` but belong inside a name: combining diacritics
/// (decomposed Greek tonos), the Telugu signs (virama, nukta, length marks), ZWNJ and ZWJ.
fn is_name_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0C00}'..='\u{0C04}'
        | '\u{0C3C}'..='\u{0C56}'
        | '\u{0C62}'..='\u{0C63}'
        | '\u{200C}'..='\u{200D}')
}

/// A value fit to print in a log line or an error: control characters escaped, at most 200
/// characters.
pub fn shown(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if value.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_senders() {
        assert_eq!(envelope(" <>"), Envelope::Null);
        assert_eq!(envelope(""), Envelope::Null);
        assert_eq!(envelope("MAILER-DAEMON"), Envelope::Null);
        assert_eq!(
            envelope("<maria@example.com>\r\n"),
            Envelope::Address("maria@example.com".into())
        );
        assert_eq!(
            envelope("maria@example.com"),
            Envelope::Address("maria@example.com".into())
        );
        assert_eq!(
            envelope("<@relay.example:maria@example.com>"),
            Envelope::Address("maria@example.com".into())
        );
        assert!(matches!(
            envelope("<victim@example.com\rBcc: x@y>"),
            Envelope::Invalid(_)
        ));
        assert!(matches!(envelope("<a@b"), Envelope::Invalid(_)));
        assert!(matches!(envelope("root"), Envelope::Invalid(_)));
    }

    #[test]
    fn valid_addresses() {
        assert!(is_valid("maria.k+parcels@example.com"));
        assert!(is_valid("ηλίας@παράδειγμα.ελ"));
        for bad in [
            "",
            "maria",
            "@example.com",
            "maria@",
            "maria@@example.com",
            "ma ria@example.com",
            "maria@example.com\r",
            "maria@exa\rmple.com",
            "maria@example.com,other@example.com",
            "\"maria\"@example.com",
            "maria@example..com",
            "maria@\u{0}example.com",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(!is_valid(&format!("{}@example.com", "a".repeat(65))));
        assert!(!is_valid(&format!("a@{}.com", "b".repeat(260))));
    }

    #[test]
    fn control_characters_in_raw_headers() {
        assert!(!has_control(" Maria <maria@example.com>\r\n"));
        assert!(!has_control(" Maria\r\n\t<maria@example.com>\n"));
        assert!(!has_control(" Maria\n <maria@example.com>\n"));
        assert!(has_control(" <victim@example.com\r>\r\n"));
        assert!(has_control(" victim@example.com\rBcc: x@example.com\n"));
        assert!(has_control(" a@b\r\nX: y\r\n z"));
        assert!(has_control(" a\u{0}@b"));
        assert!(has_control(" a\u{85}@b"));
    }

    #[test]
    fn one_mailbox_one_key() {
        let gmail = vec!["gmail.com".to_string(), "googlemail.com".to_string()];
        let key = memory_key("victim@gmail.com", &gmail);
        assert_eq!(key, "victim@gmail.com");
        for spelling in [
            "V.ictim@GMail.com",
            "victim+1@gmail.com",
            "v.i.c.t.i.m+x@gmail.com",
        ] {
            assert_eq!(memory_key(spelling, &gmail), key, "{spelling}");
        }
        // Dots count elsewhere; tags do not.
        assert_eq!(memory_key("R.Avi@Example.in", &gmail), "r.avi@example.in");
        assert_eq!(
            memory_key("ravi+orders@example.in", &gmail),
            "ravi@example.in"
        );
        assert_eq!(memory_key("+x@example.in", &gmail), "+x@example.in");
        assert_eq!(memory_key("...@gmail.com", &gmail), "...@gmail.com");
    }

    #[test]
    fn only_plain_short_names_are_greeted() {
        for good in [
            "Maria Kowalski",
            "James O'Connor",
            "Jean-Luc Picard",
            "K. Srinivasa Rao",
            "Γιώργος Παπαδόπουλος",
            "Ελένη Μαυρίδου",
            "కె. శ్రీనివాస రావు",
            "మహేష్ కుమార్",
            "O’Brien",
        ] {
            assert_eq!(plain_name(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "   ",
            "...",
            "www.evil.example",
            "Claim your refund at http://x.example",
            "Maria (VIP)",
            "Agent 007",
            "Maria\r\nBcc: x",
            "A very long name that goes on and on and on past forty",
            "Maria <maria@example.com>",
        ] {
            assert_eq!(plain_name(bad), None, "{bad:?}");
        }
        // Forty characters are enough; forty-one are not.
        assert!(plain_name(&"a".repeat(40)).is_some());
        assert!(plain_name(&"a".repeat(41)).is_none());
    }

    #[test]
    fn shown_values_are_escaped_and_short() {
        assert_eq!(shown("a\rb"), "a\\rb");
        assert_eq!(shown("O'Connor \"Δ\""), "O'Connor \"Δ\"");
        assert_eq!(shown("\u{0}\u{85}"), "\\0\\u{85}");
        assert_eq!(shown(&"x".repeat(500)).chars().count(), 201);
    }
}
