//! Structured signals: what a message says through its numbers and the way its words go
//! together, where a list of phrases falls short. Each is a named condition of a rule
//! (`signal = "money_mismatch"`), and the trace shows the words that made it hold.
//!
//! - `money_mismatch`: two different amounts, a word of charging and a word that sets them
//!   apart ("charged €12 but the site said €8", "πλήρωσα 15 ευρώ αντί για 9",
//!   "150 అని చెప్పి 400 కట్ చేశారు").
//! - `contact_count`: a count or an ordinal of earlier calls, mails or messages ("I have
//!   called five times", "τρίτη φορά που γράφω", "మూడు సార్లు కాల్ చేశాను", "moodu sarlu phone").
//! - `data_request`: a request to see, export, erase or correct what is held about the
//!   customer, or the data-protection law by name ("delete my personal data", "θέλω
//!   αντίγραφο των δεδομένων μου", "నా డేటా డిలీట్ చేయండి").
//! - `app_symptom`: what the app or the site does wrong on screen ("the app crashes when I
//!   pay", "η σελίδα δεν φορτώνει", "యాప్ ఓపెన్ అవ్వట్లేదు").
//!
//! The words are in [`lexicon`], per language with Greeklish and romanized Telugu. The
//! signals look at the normalized text only; what a rule makes of them (a `not` for
//! questions about the policy, say) stays in the rule.

mod lexicon;

use lexicon::*;
use serde_spanned::Spanned;
use std::fmt;

/// A structured signal a rule can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    MoneyMismatch,
    ContactCount,
    DataRequest,
    AppSymptom,
}

/// The words that made a signal hold, for the trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evidence<'a> {
    signal: Signal,
    words: [&'a str; 2],
}

impl fmt::Display for Evidence<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b] = self.words;
        let name = self.signal.name();
        match self.signal {
            _ if b.is_empty() => write!(out, "signal {name} («{a}»)"),
            Signal::MoneyMismatch => write!(out, "signal {name} («{a}» against «{b}»)"),
            _ => write!(out, "signal {name} («{a}» … «{b}»)"),
        }
    }
}

impl Signal {
    /// Every signal, in the order of [`Signal::NAMES`].
    pub(crate) const ALL: [Signal; 4] = [
        Signal::MoneyMismatch,
        Signal::ContactCount,
        Signal::DataRequest,
        Signal::AppSymptom,
    ];

    /// The names a rule can use, for error messages.
    pub(crate) const NAMES: &'static str =
        "money_mismatch, contact_count, data_request, app_symptom";

    /// The name of the signal in rule files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::MoneyMismatch => "money_mismatch",
            Signal::ContactCount => "contact_count",
            Signal::DataRequest => "data_request",
            Signal::AppSymptom => "app_symptom",
        }
    }

    /// The signal called `name`.
    pub(crate) fn parse(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The words of `normalized` (split into `words`) that make the signal hold, if it does.
    pub(crate) fn find<'a>(self, normalized: &'a str, words: &[&'a str]) -> Option<Evidence<'a>> {
        let found = match self {
            Signal::MoneyMismatch => money_mismatch(normalized, words),
            Signal::ContactCount => contact_count(words),
            Signal::DataRequest => data_request(words),
            Signal::AppSymptom => app_symptom(words),
        };
        found.map(|words| Evidence {
            signal: self,
            words,
        })
    }
}

/// `signal = "name"` or `signal = ["name", …]`: any of the named structured signals.
pub(super) fn parse_signals(
    v: Spanned<toml::Value>,
    err: &mut impl FnMut(usize, String),
) -> Vec<Signal> {
    let o = v.span().start;
    let names: Vec<toml::Value> = match v.into_inner() {
        toml::Value::Array(a) => a,
        one => vec![one],
    };
    let mut out = Vec::new();
    for name in &names {
        match name.as_str().map(|n| (n, Signal::parse(n))) {
            Some((_, Some(s))) => out.push(s),
            Some((n, None)) => err(
                o,
                format!("unknown signal `{n}`; signals: {}", Signal::NAMES),
            ),
            None => err(
                o,
                format!(
                    "signal must be a name or a list of names: {}",
                    Signal::NAMES
                ),
            ),
        }
    }
    if names.is_empty() {
        err(
            o,
            format!("signal needs at least one of: {}", Signal::NAMES),
        );
    }
    out
}

/// `word` begins with one of `list`.
fn starts(word: &str, list: &[&str]) -> bool {
    list.iter().any(|p| word.starts_with(p))
}

/// `word` is one of `list`.
fn is(word: &str, list: &[&str]) -> bool {
    list.contains(&word)
}

/// A word of charging ("cut", "cuts", but not "cute").
fn is_charge(word: &str) -> bool {
    starts(word, CHARGE) && !word.starts_with("cute")
}

/// A word that sets one amount against another.
fn is_contrast(word: &str) -> bool {
    is(word, CONTRAST_WHOLE) || starts(word, CONTRAST)
}

/// A currency word or sign, alone or with the rest of its word ("euros", "రూపాయలు").
fn is_currency(word: &str) -> bool {
    CURRENCY
        .iter()
        .any(|c| word == *c || (c.chars().count() > 2 && word.starts_with(c)))
}

/// A unit other than money ("kg", "days", "రోజులు"); short units only as whole words.
fn is_unit(word: &str) -> bool {
    UNITS
        .iter()
        .any(|u| word == *u || (u.chars().count() > 2 && word.starts_with(u)))
}

/// The value of a number as written ("1,200" = 1200, "12,50" = 12.5).
fn value(number: &str) -> Option<f64> {
    let thousands = number.rsplit_once(',').is_some_and(|(_, last)| {
        last.len() == 3 && !number.contains('.') && last.bytes().all(|b| b.is_ascii_digit())
    });
    let cleaned: String = if thousands {
        number.chars().filter(|c| *c != ',').collect()
    } else {
        number.replace(',', ".")
    };
    // More than one point left: a date or a version, not an amount.
    if cleaned.matches('.').count() > 1 {
        return None;
    }
    cleaned.parse().ok()
}

/// The amounts of money in a message: numbers with a currency (in the same word or next
/// to it), or bare numbers right after a word of charging or quoting.
fn amounts(normalized: &str) -> Vec<(&str, f64)> {
    let pieces: Vec<&str> = normalized.split(' ').collect();
    let bare = |i: usize| -> &str {
        pieces.get(i).map_or("", |p| {
            p.trim_matches(|c: char| c.is_ascii_punctuation() && c != '$')
        })
    };
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let Some(start) = piece.find(|c: char| c.is_ascii_digit()) else {
            continue;
        };
        let rest = &piece[start..];
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
            .unwrap_or(rest.len());
        let number = rest[..len].trim_end_matches([',', '.']);
        let (before, after) = (&piece[..start], &rest[number.len()..]);
        let after = after.trim_start_matches([',', '.']);
        if after.starts_with('%') || after.starts_with(':') {
            continue;
        }
        let before = before.trim_end_matches('.');
        let currency = CURRENCY.iter().any(|c| before.ends_with(c))
            || (!after.is_empty() && CURRENCY.iter().any(|c| after.starts_with(c)))
            || (i > 0 && is_currency(bare(i - 1)))
            || is_currency(bare(i + 1));
        let unit = (!after.is_empty() && is_unit(after)) || is_unit(bare(i + 1));
        // "charged me 12", "instead of 9", "αντί για 9"; in Telugu the quote follows the
        // number ("99 అని", "150 బదులు").
        let quoted = (1..=2).any(|k| {
            i >= k && {
                let w = bare(i - k);
                is_charge(w) || is_contrast(w) || w == "of" || w == "για" || w == "gia"
            }
        }) || is_contrast(bare(i + 1));
        if currency || (quoted && !unit && after.is_empty()) {
            if let Some(v) = value(number) {
                out.push((number, v));
            }
        }
    }
    out
}

fn money_mismatch<'a>(normalized: &'a str, words: &[&str]) -> Option<[&'a str; 2]> {
    if !normalized.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let amounts = amounts(normalized);
    let (a, va) = *amounts.first()?;
    let (b, _) = *amounts.iter().find(|(_, v)| (v - va).abs() > 1e-6)?;
    let charged = words.iter().any(|w| is_charge(w));
    let set_apart = words.iter().any(|w| is_contrast(w));
    (charged && set_apart).then_some([a, b])
}

/// A number of times from 2 up, as digits.
fn is_count_number(word: &str) -> bool {
    word.parse::<u32>().is_ok_and(|n| (2..=99).contains(&n))
}

/// Ordinals need "time" after them: "τρίτη" alone is also Tuesday, "second" a moment.
fn is_ordinal(word: &str) -> bool {
    const ORDINALS: &[&str] = &[
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "2nd",
        "3rd",
        "4th",
        "5th",
        "6th",
        "nth",
        "δευτερη",
        "τριτη",
        "τεταρτη",
        "πεμπτη",
        "εκτη",
        "defteri",
        "deuteri",
        "triti",
        "tetarti",
        "pempti",
    ];
    ORDINALS.contains(&word)
}

fn contact_count<'a>(words: &[&'a str]) -> Option<[&'a str; 2]> {
    // A contact of the customer's own: not "the courier rang", "called me", "got 3 messages";
    // Greek "γράφω" only with "σας" next to it.
    let contact_at = |j: usize| {
        let w = words[j];
        let near = |range: std::ops::Range<usize>, list: &[&str]| {
            words[range.start.min(words.len())..range.end.min(words.len())]
                .iter()
                .any(|x| starts(x, list))
        };
        let addressed = near(j.saturating_sub(2)..j + 3, &["σασ", "sas"]);
        let written = is(w, WRITE_TO) && addressed;
        (written || starts(w, CONTACT))
            && !near(j + 1..j + 4, TO_ME)
            && !near(j.saturating_sub(4)..j, OTHERS)
            && !near(j.saturating_sub(3)..j, &["నాకు", "naaku"])
    };
    let any_contact = (0..words.len()).find(|&j| contact_at(j)).map(|j| words[j]);
    // "twice a day", "3 times a week": how often, not how often already.
    let how_often = |i: usize| {
        matches!(
            words.get(i + 1).copied(),
            Some("a" | "per" | "την" | "τη" | "ana")
        ) && words.get(i + 2).is_some_and(|w| {
            starts(
                w,
                &["day", "week", "month", "ημερα", "μερα", "εβδομαδα", "μηνα"],
            )
        })
    };
    for (i, &w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).copied().unwrap_or("");
        let counted_times = is(w, COUNT_TIMES) || w == "twice" || w == "thrice";
        let count = is(w, COUNT) || is_count_number(w);
        if counted_times {
            if let Some(c) = any_contact.filter(|_| !how_often(i)) {
                return Some([w, c]);
            }
        } else if count {
            let times = (1..=2).find(|&k| is(next(k), TIMES));
            if let (Some(k), Some(c)) = (times, any_contact) {
                if !how_often(i + k) {
                    return Some([w, c]);
                }
            }
            if !is_ordinal(w) && i + 1 < words.len() && contact_at(i + 1) {
                return Some([w, next(1)]);
            }
        }
    }
    None
}

fn data_request<'a>(words: &[&'a str]) -> Option<[&'a str; 2]> {
    // "see" and "δω" only as whole words ("seems", "δωρεάν").
    let action = |w: &str| w == "see" || w == "δω" || starts(w, DATA_ACTION);
    let own = |i: usize| {
        let near = i.saturating_sub(2)..(i + 5).min(words.len());
        words[near].iter().any(|w| is(w, MINE))
    };
    let obj = words.iter().enumerate().find_map(|(i, &w)| {
        let strong = starts(w, DATA_OBJECT) && w != "personally";
        let weak = (w == "info" || starts(w, DATA_OBJECT_OWN)) && own(i);
        (strong || weak).then_some(w)
    });
    let act = words.iter().copied().find(|w| action(w))?;
    let law = words.iter().copied().find(|w| is(w, DATA_LAW));
    match (law, obj) {
        (_, Some(o)) => Some([act, o]),
        // The law by name with a verb of the request ("under GDPR, delete …").
        (Some(l), None) => Some([l, act]),
        _ => None,
    }
}

/// Symptoms that describe a parcel as well as a screen ("stuck in Athens").
const PARCEL_TOO: &[&str] = &[
    "stuck",
    "κολλα",
    "kolla",
    "స్టక్",
    "ఆగిపో",
    "aagipo",
    "agipo",
    "hang",
];

fn app_symptom<'a>(words: &[&'a str]) -> Option<[&'a str; 2]> {
    let surface = |w: &str| is(w, SURFACE_WHOLE) || (starts(w, SURFACE) && !w.starts_with("sitel"));
    let about_parcel = words.iter().any(|w| starts(w, PARCEL));
    let symptom = |w: &str| {
        starts(w, SYMPTOM) && !(about_parcel && starts(w, PARCEL_TOO)) && !w.starts_with("bugd")
    };
    let on = words.iter().copied().find(|w| surface(w))?;
    if let Some(s) = words.iter().copied().find(|w| symptom(w)) {
        return Some([on, s]);
    }
    for (i, &w) in words.iter().enumerate() {
        if is(w, NEGATION) {
            let after = words.iter().skip(i + 1).take(3).copied();
            if let Some(v) = after.clone().find(|v| starts(v, FAILING)) {
                return Some([on, v]);
            }
        }
        // Telugu: the verb carries the "not" ("ఓపెన్ అవ్వట్లేదు", "పనిచేయట్లేదు").
        let failed = FAILED_TE.iter().any(|e| w.ends_with(e));
        if failed {
            let before = if i > 0 { words[i - 1] } else { "" };
            if starts(w, FAILING_TE) || starts(before, FAILING_TE) {
                return Some([on, w]);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{normalize, words};

    fn holds(signal: Signal, text: &str) -> bool {
        let n = normalize(text);
        let w: Vec<&str> = words(&n).collect();
        signal.find(&n, &w).is_some()
    }

    #[test]
    fn money_mismatch_needs_two_amounts_a_charge_and_a_contrast() {
        use Signal::MoneyMismatch as M;
        assert!(holds(
            M,
            "You took 18 euros from my card although the quote was 11 euros"
        ));
        assert!(holds(M, "quoted rs 240, debited rs 410 from my account"));
        assert!(holds(M, "Η κράτηση έγραφε 7,50€ και τελικά χρεωθήκατε 12€"));
        assert!(holds(M, "site lo 99 ani chupinchi 180 katt chesaru"));
        assert!(holds(
            M,
            "బుకింగ్ లో 120 రూపాయలు అని చూపించారు, కానీ 260 రూపాయలు కట్ అయ్యాయి"
        ));
        // One amount, or amounts without a charge: a question about prices.
        assert!(!holds(
            M,
            "I was charged 12 euros for a parcel, is that right?"
        ));
        assert!(!holds(M, "is it 5€ or 7€ to send 2kg to Patras?"));
        assert!(!holds(M, "charged 10 euros for 2 kg but the box was light"));
        assert!(!holds(M, "πόσο κοστίζει ένα δέμα 3 κιλών;"));
    }

    #[test]
    fn contact_count_needs_a_count_of_contacts() {
        use Signal::ContactCount as C;
        assert!(holds(C, "I've phoned your line 4 times since Monday"));
        assert!(holds(C, "this is the third time I am writing about it"));
        assert!(holds(C, "sent 3 emails, not one answer"));
        assert!(holds(C, "Σας έχω στείλει πέντε μηνύματα"));
        assert!(holds(C, "τρίτη φορά τηλεφωνώ για το ίδιο θέμα"));
        assert!(holds(C, "నేను ఇప్పటికి నాలుగు సార్లు కాల్ చేశాను"));
        assert!(holds(C, "moodusarlu phone chesanu evaru ethaledu"));
        // Tuesday is not a count, parcels are not contacts, and trying is not calling.
        assert!(!holds(C, "Την Τρίτη τηλεφώνησα για μια αποστολή"));
        assert!(!holds(C, "I want to send 3 parcels to Hyderabad"));
        assert!(!holds(C, "I tried 5 times to pay on your website"));
        assert!(!holds(C, "the driver phoned twice while I was out"));
        assert!(!holds(
            C,
            "you called me three times yesterday, what is it about?"
        ));
        assert!(!holds(C, "may I ring the helpline twice a week?"));
    }

    #[test]
    fn data_request_needs_an_action_on_what_is_held() {
        use Signal::DataRequest as D;
        assert!(holds(D, "please erase every record you hold on me"));
        assert!(holds(D, "I want a copy of the personal data you store"));
        assert!(holds(D, "Ζητώ τη διαγραφή των δεδομένων μου"));
        assert!(holds(D, "na svisete ta dedomena mou"));
        assert!(holds(D, "నా డేటా మొత్తం డిలీట్ చేయండి"));
        assert!(holds(D, "under GDPR please erase what you hold"));
        assert!(holds(D, "can I get a copy of my info"));
        assert!(!holds(D, "how do you protect my information?"));
        assert!(!holds(
            D,
            "is there a page on what GDPR means for customer data?"
        ));
        assert!(!holds(
            D,
            "where can I see information about delivery times"
        ));
        assert!(!holds(D, "can I see where my parcel is"));
        assert!(!holds(D, "Δεν μπορώ να κατεβάσω το αρχείο της απόδειξης"));
    }

    #[test]
    fn app_symptom_needs_a_screen_and_what_goes_wrong() {
        use Signal::AppSymptom as A;
        assert!(holds(A, "the app crashes every time I open payments"));
        assert!(holds(A, "your website just shows a blank page"));
        assert!(holds(A, "the checkout button doesn't work on your site"));
        assert!(holds(A, "η εφαρμογή κολλάει στην πληρωμή"));
        assert!(holds(A, "η σελίδα δεν φορτώνει"));
        assert!(holds(A, "యాప్ ఓపెన్ అవ్వట్లేదు"));
        assert!(holds(A, "app open avvatledu"));
        assert!(!holds(A, "I keep refreshing the tracking page"));
        assert!(!holds(A, "the app says my parcel is stuck in Athens"));
        assert!(!holds(A, "which page shows the delivery fees?"));
        assert!(!holds(A, "I would like to apply for a business account"));
        assert!(!holds(A, "can we keep it formal please"));
    }

    #[test]
    fn every_name_parses_back() {
        for s in Signal::ALL {
            assert_eq!(Signal::parse(s.name()), Some(s));
            assert!(Signal::NAMES.contains(s.name()));
        }
        assert_eq!(Signal::parse("money"), None);
    }
}
