//! Structured signals: what a message says through numbers, which phrase lists cannot hold.
//!
//! - [`money_mismatch`]: two different amounts of money together with a word of charging
//!   or paying (`charged €45, quoted €30`; `μου χρεώσατε 12 ευρώ αντί για 8`;
//!   `450 రూపాయలు కట్ అయ్యాయి, 300 అని చెప్పారు`).
//! - [`contact_count`]: how many times the customer says they have called, written or
//!   messaged (`this is my 4th email`; `σας πήρα τρεις φορές`; `moodu sarlu call chesanu`).
//!
//! Both read normalized text (lowercase, no accents, `ς`→`σ`). Words are compared by their
//! beginnings, so one entry covers the forms of a word; romanized words are compared after
//! the phonetic folding of Greeklish and romanized Telugu.

use crate::text::romanized::{fold_greeklish, fold_telugu};
use crate::text::words;
use std::sync::OnceLock;

/// Counts words such as `several` or `πολλές` stand for.
const SEVERAL: u32 = 3;
/// How far (in words) a count may stand from the word of contact it counts.
const CONTACT_WINDOW: usize = 5;
/// How far (in words) a bare number may stand after a money word to count as an amount.
const AMOUNT_WINDOW: usize = 3;

/// Word beginnings, per way of writing.
struct Lexicon {
    /// Matched against the word as written (English, Greek, Telugu script).
    /// An entry ending in `$` matches the whole word only.
    plain: &'static [&'static str],
    /// Greeklish, folded like messages are.
    greeklish: Vec<String>,
    /// Romanized Telugu, folded like messages are.
    telugu: Vec<String>,
}

impl Lexicon {
    fn new(plain: &'static [&'static str], greeklish: &[&str], telugu: &[&str]) -> Lexicon {
        Lexicon {
            plain,
            greeklish: greeklish.iter().map(|w| fold_greeklish(w)).collect(),
            telugu: telugu.iter().map(|w| fold_telugu(w)).collect(),
        }
    }

    fn matches(&self, w: &Word<'_>) -> bool {
        self.plain.iter().any(|p| match p.strip_suffix('$') {
            Some(exact) => w.text == exact,
            None => w.text.starts_with(p),
        }) || (w.latin
            && (self
                .greeklish
                .iter()
                .any(|p| w.greeklish.starts_with(p.as_str()))
                || self.telugu.iter().any(|p| w.telugu.starts_with(p.as_str()))))
    }
}

/// One word of a message, with its folded forms when it is in Latin letters.
struct Word<'a> {
    text: &'a str,
    latin: bool,
    greeklish: String,
    telugu: String,
}

fn message_words(normalized: &str) -> Vec<Word<'_>> {
    words(normalized)
        .map(|text| {
            let latin = text.is_ascii();
            Word {
                text,
                latin,
                greeklish: if latin {
                    fold_greeklish(text)
                } else {
                    String::new()
                },
                telugu: if latin {
                    fold_telugu(text)
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Money

/// Words that say money was taken or paid, in every language: `charged`, `paid`,
/// `debited`, `χρεώσατε`, `πλήρωσα`, `కట్ అయ్యాయి`, `చెల్లించాను`.
fn charge_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                // English
                "charged",
                "overcharg",
                "paid",
                "payment",
                "debited",
                "deducted",
                "billed",
                "took",
                "taken",
                "withdrew",
                "withdrawn",
                "refunded",
                "cut$",
                // Greek
                "χρεωσα",
                "χρεωσε",
                "εχρεωσ",
                "χρεωθ",
                "χρεωση$",
                "πληρωσα",
                "πληρωθ",
                "πληρωμη",
                "κοψατε",
                "κοπηκ",
                "εκοψαν",
                "πηρατε",
                "τραβηξατε",
                "τραβηχτ",
                "αφαιρεθ",
                "επιστρεψατε",
                // Telugu
                "ఛార్జ్",
                "చార్జ్",
                "కట్",
                "చెల్లించా",
                "చెల్లించిన",
                "పే$",
                "పేమెంట్",
                "డెబిట్",
                "డిడక్ట్",
                "వసూలు",
                "తీసుకున్నా",
                "తీసుకున్నారు",
                "రీఫండ్",
            ],
            &[
                "xrewsate",
                "xrewsan",
                "xrewthika",
                "xrewthike",
                "xrewsi",
                "plirwsa",
                "plirothike",
                "pliromi",
                "kopsate",
                "kopikan",
                "pirate",
                "travixate",
            ],
            &[
                "katt",
                "cut",
                "chellinch",
                "debit",
                "vasool",
                "vasul",
                "teesukunnaru",
                "charge",
                "deduct",
            ],
        )
    })
}

/// Words of prices and amounts a bare number may follow: `quote`, `τιμή`, `ధర`.
fn price_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                "quote",
                "price",
                "cost",
                "fee$",
                "fees$",
                "amount",
                "total",
                "invoice",
                "receipt",
                "rate$",
                "τιμη",
                "κοστ",
                "προσφορ",
                "ποσο$",
                "τιμολογ",
                "αποδειξ",
                "ελεγε",
                "εγραφε",
                "ధర",
                "రేటు",
                "కోట్",
                "అమౌంట్",
                "బిల్లు",
                "ఫీజు",
            ],
            &["timi", "kostos", "prosfora", "poso", "elege", "egrafe"],
            &["dhara", "rate", "amount", "quote", "bill"],
        )
    })
}

/// Currency words that stand before or after an amount.
fn currency_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                "eur",
                "euro",
                "ευρω",
                "ευρα",
                "ευρο",
                "rs",
                "inr",
                "rupee",
                "rupay",
                "rupai",
                "రూపాయ",
                "రూపాయి",
                "రూ",
                "usd",
                "dollar",
                "gbp",
                "pound",
            ],
            &["evro", "eyrw", "eurw"],
            &["rupayalu", "rupayi", "rupees"],
        )
    })
}

/// True for a currency word: `eur`, `euros`, `ευρώ`, `rs`, `రూపాయలు` (not `europe`).
fn is_currency_word(w: &Word<'_>) -> bool {
    const EXACT: &[&str] = &[
        "eur", "euro", "euros", "rs", "inr", "usd", "gbp", "ευρω", "ευρα",
    ];
    EXACT.contains(&w.text)
        || (w.text.chars().count() > 3
            && currency_words().matches(w)
            && !w.text.starts_with("europ"))
        || w.text == "రూ"
        || w.text.starts_with("రూపాయ")
}

/// Units after a number that make it something other than money.
fn is_unit(w: &str) -> bool {
    const UNITS: &[&str] = &[
        "kg",
        "kgs",
        "kilo",
        "g",
        "gr",
        "grams",
        "cm",
        "mm",
        "m",
        "km",
        "l",
        "days",
        "day",
        "hours",
        "hour",
        "hrs",
        "minutes",
        "mins",
        "weeks",
        "week",
        "months",
        "times",
        "x",
        "am",
        "pm",
        "st",
        "nd",
        "rd",
        "th",
        "pieces",
        "parcels",
        "items",
        "boxes",
        "percent",
        "κιλα",
        "κιλο",
        "μερεσ",
        "μερα",
        "ωρεσ",
        "ωρα",
        "λεπτα",
        "εβδομαδεσ",
        "φορεσ",
        "κουτια",
        "δεματα",
        "τεμαχια",
        "kila",
        "meres",
        "ores",
        "fores",
        "కిలోలు",
        "కిలో",
        "రోజులు",
        "రోజుల",
        "గంటలు",
        "సార్లు",
        "పార్సిల్స్",
        "rojulu",
        "sarlu",
        "kilo",
    ];
    UNITS.contains(&w)
}

/// An amount of money found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    /// Its value (cents and paise as fractions).
    pub value: f64,
    /// How it was written, for the trace.
    pub text: String,
}

/// Parses a run of digits with `.`/`,` separators: a last group of three digits is
/// thousands (`1.200`, `1,20,000`), one or two digits are decimals (`12,50`, `12.5`).
fn parse_number(s: &str) -> Option<f64> {
    let digits: String = s
        .chars()
        .map(|c| match c {
            '౦'..='౯' => char::from(b'0' + (c as u32 - '౦' as u32) as u8),
            c => c,
        })
        .collect();
    let groups: Vec<&str> = digits.split(['.', ',']).collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let last = groups.last()?;
    let (int, frac) = if groups.len() > 1 && last.len() <= 2 {
        (groups[..groups.len() - 1].concat(), *last)
    } else {
        (groups.concat(), "")
    };
    if int.len() > 9 {
        return None;
    }
    let v: f64 = format!("{int}.{}", if frac.is_empty() { "0" } else { frac })
        .parse()
        .ok()?;
    Some(v)
}

/// A number in the text with the byte range it covers and the words before and after it.
struct Number<'a> {
    value: f64,
    text: &'a str,
    /// The marker right before (`€`, `₹`, `$`, `rs`), if any, with spaces between.
    before: &'a str,
    /// What follows, up to the next space-separated word.
    after: &'a str,
    /// Index of the word it starts, in [`message_words`] order.
    word: usize,
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('౦'..='౯').contains(&c)
}

/// Every number of the text, with its surroundings.
fn numbers(normalized: &str) -> Vec<Number<'_>> {
    let mut out = Vec::new();
    let bytes = normalized;
    let mut chars = bytes.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !is_digit(c) {
            continue;
        }
        // A digit inside a word (a tracking code like `ab12`) is no amount.
        let prev = bytes[..start].chars().next_back();
        if prev.is_some_and(|p| p.is_alphabetic() && !"€₹$£".contains(p))
            && !prev.is_some_and(is_telugu_letter)
        {
            while chars.peek().is_some_and(|&(_, c)| c.is_alphanumeric()) {
                chars.next();
            }
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = chars.peek() {
            let next_is_digit = bytes[i + c.len_utf8()..]
                .chars()
                .next()
                .is_some_and(is_digit);
            if is_digit(c) || ((c == '.' || c == ',') && next_is_digit) {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let text = &bytes[start..end];
        let Some(value) = parse_number(text) else {
            continue;
        };
        let before = bytes[..start].trim_end();
        let before_word = before
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let after = bytes[end..].trim_start();
        let after = after.split(char::is_whitespace).next().unwrap_or("");
        let word = words(&bytes[..start]).count();
        out.push(Number {
            value,
            text,
            before: before_word,
            after,
            word,
        });
    }
    out
}

fn is_telugu_letter(c: char) -> bool {
    ('\u{0C00}'..='\u{0C7F}').contains(&c)
}

/// The amounts of money in a message: numbers with a currency sign or word before or after
/// them (`€12`, `12 EUR`, `₹450`, `Rs. 450`, `450/-`, `450 రూపాయలు`, `12 ευρώ`), and bare
/// numbers shortly after a word of charging, paying or pricing (`charged me 45`).
pub fn amounts(normalized: &str) -> Vec<Amount> {
    let ws = message_words(normalized);
    let money_word = |i: usize| {
        ws.get(i)
            .is_some_and(|w| charge_words().matches(w) || price_words().matches(w))
    };
    // (value, text, has a currency, near a money word), units and years left out.
    let mut found = Vec::new();
    for n in numbers(normalized) {
        let before = n
            .before
            .trim_end_matches('.')
            .trim_start_matches(|c: char| !c.is_alphanumeric());
        let sign_before = n
            .before
            .chars()
            .next_back()
            .is_some_and(|c| "€₹$£".contains(c))
            || (!before.is_empty() && is_currency_word(&word_of(before)));
        let after_word: String = n
            .after
            .chars()
            .take_while(|c| c.is_alphanumeric() || is_telugu_letter(*c))
            .collect();
        let sign_after = n.after.starts_with(['€', '₹', '$', '£'])
            || n.after.starts_with("/-")
            || (!after_word.is_empty() && is_currency_word(&word_of(&after_word)));
        if !after_word.is_empty() && is_unit(&after_word) {
            continue;
        }
        let currency = sign_before || sign_after;
        let plausible = n.value >= 1.0
            && n.value < 1_000_000.0
            && !(n.value.fract() == 0.0 && (1900.0..=2100.0).contains(&n.value));
        // Telugu puts the word after the number: `300 అని ధర చూపించింది`.
        let near_money = (n.word.saturating_sub(AMOUNT_WINDOW)..n.word + 3).any(money_word);
        if currency || plausible {
            found.push((n.value, n.text, currency, plausible && near_money));
        }
    }
    // Next to an amount with a currency, a bare number of the same order is one too.
    let anchors: Vec<f64> = found.iter().filter(|f| f.2).map(|f| f.0).collect();
    found
        .into_iter()
        .filter(|&(v, _, currency, near)| {
            currency || near || anchors.iter().any(|&a| v >= a / 10.0 && v <= a * 10.0)
        })
        .map(|(value, text, _, _)| Amount {
            value,
            text: text.to_string(),
        })
        .collect()
}

fn word_of(text: &str) -> Word<'_> {
    let latin = text.is_ascii();
    Word {
        text,
        latin,
        greeklish: if latin {
            fold_greeklish(text)
        } else {
            String::new()
        },
        telugu: if latin {
            fold_telugu(text)
        } else {
            String::new()
        },
    }
}

/// `Some(why)` when the message sets two different amounts against each other together
/// with a word of charging or paying: `charged €45 but the quote was €30`.
pub fn money_mismatch(normalized: &str) -> Option<String> {
    // Most messages have fewer than two numbers: nothing to read.
    if numbers(normalized).len() < 2 {
        return None;
    }
    let amounts = amounts(normalized);
    let first = amounts.first()?;
    let other = amounts
        .iter()
        .find(|a| (a.value - first.value).abs() > 0.004)?;
    let ws = message_words(normalized);
    let word = ws.iter().find(|w| charge_words().matches(w))?;
    Some(format!(
        "money_mismatch ({} and {} with «{}»)",
        first.text, other.text, word.text
    ))
}

// ---------------------------------------------------------------------------------------
// Contacts

/// Words of calling, writing, messaging and asking.
fn contact_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                // English
                "call",
                "phon",
                "rang",
                "ring$",
                "email",
                "mail",
                "wrote",
                "writ",
                "messag",
                "text",
                "chat",
                "contact",
                "reach",
                "complain",
                "ticket",
                "asked",
                "ask$",
                "asking",
                "request",
                "remind",
                "follow",
                "dm$",
                "dms$",
                "whatsapp",
                "sms",
                // Greek
                "τηλεφων",
                "πηρα",
                "παιρν",
                "ξαναπηρα",
                "καλεσ",
                "εγραψ",
                "γραφ",
                "γραψ",
                "ξαναγραφ",
                "μειλ",
                "μηνυμ",
                "στειλ",
                "επικοινων",
                "ρωτησ",
                "ρωταω",
                "ρωτω",
                "παραπον",
                "καταγγελ",
                "αιτημ",
                "αιτησ",
                // Telugu
                "కాల్",
                "ఫోన్",
                "మెయిల్",
                "ఈమెయిల్",
                "ఇమెయిల్",
                "మెసేజ్",
                "మెసేజీ",
                "రాశా",
                "రాసా",
                "పంపా",
                "పంపించా",
                "అడిగా",
                "అడుగుతు",
                "కంప్లైంట్",
                "కంప్లెయింట్",
                "ఫిర్యాదు",
                "సంప్రదించ",
                "కాంటాక్ట్",
                "టికెట్",
            ],
            &[
                "tilefwn",
                "tilefon",
                "pira",
                "pairn",
                "egrapsa",
                "grafw",
                "grafo",
                "minima",
                "esteila",
                "epikoinwn",
                "rwtisa",
                "parapono",
                "kalesa",
            ],
            &[
                "call",
                "phone",
                "mail",
                "message",
                "msg",
                "rasanu",
                "rasa",
                "pampanu",
                "pampa",
                "adiganu",
                "adiga",
                "complaint",
                "contact",
            ],
        )
    })
}

/// Nouns of contact a count can stand right before: `3 emails`, `τρία μηνύματα`,
/// `మూడు కాల్స్`.
fn contact_nouns() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                "call$",
                "calls$",
                "email",
                "mail$",
                "mails$",
                "message",
                "text$",
                "texts$",
                "complaint",
                "ticket",
                "request",
                "reminder",
                "chats$",
                "attempts$",
                "μηνυμα",
                "email",
                "mail",
                "μειλ",
                "τηλεφωνα$",
                "τηλεφωνηματ",
                "κλησ",
                "παραπον",
                "αιτημα",
                "καταγγελι",
                "επικοινωνιεσ$",
                "కాల్",
                "మెయిల్",
                "ఈమెయిల్",
                "మెసేజ్",
                "కంప్లైంట్",
                "ఫిర్యాదు",
                "టికెట్",
            ],
            &["minima", "kliseis", "tilefwnimata", "parapona"],
            &["call", "mail", "message", "complaint"],
        )
    })
}

/// Words of receiving: `2 emails` the customer got are not contacts they made.
fn incoming_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                "receiv",
                "got$",
                "get$",
                "getting",
                "λαβα",
                "λαμβαν",
                "ηρθαν",
                "ερχονται",
                "στειλατε",
                "వచ్చాయి",
                "వస్తున్నాయి",
                "వచ్చింది",
            ],
            &["elava", "irthan"],
            &["vachayi", "vastunnayi", "vachindi"],
        )
    })
}

/// The company's people as the subject: `the courier rang twice` counts their attempts,
/// not the customer's contacts.
fn agent_words() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        Lexicon::new(
            &[
                "courier",
                "driver",
                "postman",
                "delivery",
                "κουριερ",
                "διανομε",
                "οδηγο",
                "ταχυδρομ",
                "κοριερ",
                "కొరియర్",
                "డెలివరీ",
                "డ్రైవర్",
                "పోస్ట్‌మ్యాన్",
                "పోస్ట్మ్యాన్",
            ],
            &["kourier", "dianomeas", "odigos"],
            &["delivery", "courier", "driver"],
        )
    })
}

/// Words that count without a number: `several`, `πολλές`, `చాలా`.
fn is_quantifier(w: &Word<'_>) -> bool {
    matches!(count_of(w), Some(Count::Cardinal(SEVERAL)))
        && !matches!(
            w.text,
            "3" | "three"
                | "τρεισ"
                | "τρια"
                | "మూడు"
                | "moodu"
                | "mudu"
                | "treis"
                | "tris"
                | "tria"
        )
}

/// "times": `times`, `φορές`, `సార్లు`, `fores`, `sarlu`.
fn is_times(w: &Word<'_>) -> bool {
    matches!(
        w.text,
        "times"
            | "time"
            | "x"
            | "φορεσ"
            | "φορα"
            | "fores"
            | "fora"
            | "సార్లు"
            | "సారి"
            | "sarlu"
            | "saarlu"
            | "saralu"
            | "sari"
            | "saari"
    )
}

/// What kind of count a word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// `3`, `three`, `τρεις`, `మూడు`: needs `times` or a contact noun after it.
    Cardinal(u32),
    /// `3rd`, `third`, `τρίτη`, `మూడో`: needs `time` or a contact noun after it.
    Ordinal(u32),
    /// `twice`, `మూడుసార్లు`, `మూడోసారి`: the times are in the word.
    Times(u32),
}

fn count_of(w: &Word<'_>) -> Option<Count> {
    const CARDINALS: &[(&str, u32)] = &[
        ("two", 2),
        ("three", 3),
        ("four", 4),
        ("five", 5),
        ("six", 6),
        ("seven", 7),
        ("eight", 8),
        ("nine", 9),
        ("ten", 10),
        ("eleven", 11),
        ("twelve", 12),
        ("fifteen", 15),
        ("twenty", 20),
        ("several", SEVERAL),
        ("multiple", SEVERAL),
        ("numerous", SEVERAL),
        ("countless", SEVERAL),
        ("many", SEVERAL),
        ("dozens", SEVERAL),
        ("few", SEVERAL),
        ("δυο", 2),
        ("τρεισ", 3),
        ("τρια", 3),
        ("τεσσερισ", 4),
        ("τεσσερα", 4),
        ("πεντε", 5),
        ("εξι", 6),
        ("επτα", 7),
        ("εφτα", 7),
        ("οχτω", 8),
        ("οκτω", 8),
        ("δεκα", 10),
        ("πολλεσ", SEVERAL),
        ("πολλα", SEVERAL),
        ("αμετρητεσ", SEVERAL),
        ("αρκετεσ", SEVERAL),
        ("αρκετα", SEVERAL),
        ("dyo", 2),
        ("dio", 2),
        ("treis", 3),
        ("tris", 3),
        ("tria", 3),
        ("tesseris", 4),
        ("pente", 5),
        ("deka", 10),
        ("polles", SEVERAL),
        ("arketes", SEVERAL),
        ("రెండు", 2),
        ("మూడు", 3),
        ("నాలుగు", 4),
        ("ఐదు", 5),
        ("ఆరు", 6),
        ("ఏడు", 7),
        ("ఎనిమిది", 8),
        ("పది", 10),
        ("చాలా", SEVERAL),
        ("ఎన్నో", SEVERAL),
        ("rendu", 2),
        ("moodu", 3),
        ("mudu", 3),
        ("naalugu", 4),
        ("nalugu", 4),
        ("aidu", 5),
        ("chala", SEVERAL),
        ("chaala", SEVERAL),
        ("enno", SEVERAL),
    ];
    const ORDINALS: &[(&str, u32)] = &[
        ("second", 2),
        ("third", 3),
        ("fourth", 4),
        ("fifth", 5),
        ("sixth", 6),
        ("seventh", 7),
        ("eighth", 8),
        ("ninth", 9),
        ("tenth", 10),
        ("umpteenth", SEVERAL),
        ("δευτερο", 2),
        ("τριτο", 3),
        ("τεταρτο", 4),
        ("πεμπτο", 5),
        ("δευτερη", 2),
        ("τριτη", 3),
        ("τεταρτη", 4),
        ("πεμπτη", 5),
        ("εκτη", 6),
        ("εβδομη", 7),
        ("ογδοη", 8),
        ("ενατη", 9),
        ("δεκατη", 10),
        ("πολλοστη", SEVERAL),
        ("defteri", 2),
        ("deuteri", 2),
        ("triti", 3),
        ("tetarti", 4),
        ("pempti", 5),
        ("రెండో", 2),
        ("రెండవ", 2),
        ("మూడో", 3),
        ("మూడవ", 3),
        ("నాలుగో", 4),
        ("నాలుగవ", 4),
        ("ఐదో", 5),
        ("ఐదవ", 5),
        ("ఆరో", 6),
        ("పదో", 10),
        ("rendo", 2),
        ("rendava", 2),
        ("moodo", 3),
        ("mudo", 3),
        ("moodava", 3),
        ("naalugo", 4),
        ("nalugo", 4),
        ("aido", 5),
    ];
    const TIMES: &[(&str, u32)] = &[
        ("twice", 2),
        ("thrice", 3),
        ("repeatedly", SEVERAL),
        ("επανειλημμενα", SEVERAL),
        ("epaneilimmena", SEVERAL),
    ];
    let t = w.text;
    if let Some(&(_, n)) = TIMES.iter().find(|(k, _)| *k == t) {
        return Some(Count::Times(n));
    }
    if let Some(&(_, n)) = CARDINALS.iter().find(|(k, _)| *k == t) {
        return Some(Count::Cardinal(n));
    }
    if let Some(&(_, n)) = ORDINALS.iter().find(|(k, _)| *k == t) {
        return Some(Count::Ordinal(n));
    }
    // Telugu and romanized Telugu write the times into the word: మూడుసార్లు, మూడోసారి,
    // moodusarlu, naalugosari.
    for suffix in ["సార్లు", "సారి", "saarlu", "sarlu", "saari", "sari"] {
        if let Some(stem) = t.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            let stem_word = word_of(stem);
            return match count_of(&stem_word) {
                Some(Count::Cardinal(n) | Count::Ordinal(n) | Count::Times(n)) => {
                    Some(Count::Times(n))
                }
                None => stem
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= 99)
                    .map(Count::Times),
            };
        }
    }
    // Digits: `3`, `3rd`, `4th`, `3η`, `4ο`, `3వ`.
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    match &t[digits.len()..] {
        "" => Some(Count::Cardinal(n)),
        "st" | "nd" | "rd" | "th" | "η" | "ο" | "ησ" | "వ" | "వది" | "ో" => {
            Some(Count::Ordinal(n))
        }
        _ => None,
    }
}

/// `Some((count, why))` when the message says how many times the customer has called,
/// written or messaged: a number of times or an ordinal with a word of contact near it
/// (`called 3 times`, `this is my 4th email`, `τρίτη φορά που σας γράφω`, `మూడుసార్లు
/// కాల్ చేశాను`), or a number right before a contact noun (`two emails`). Words such as
/// `several` or `πολλές` count as three; `how many` is a question, not a count.
pub fn contact_count(normalized: &str) -> Option<(u32, String)> {
    // Counts are read from the words as written; the folded forms are only needed around
    // one.
    let has_count = words(normalized).any(|text| {
        count_of(&Word {
            text,
            latin: false,
            greeklish: String::new(),
            telugu: String::new(),
        })
        .is_some()
    });
    if !has_count {
        return None;
    }
    let ws = message_words(normalized);
    let near_contact = |i: usize| {
        let lo = i.saturating_sub(CONTACT_WINDOW);
        let hi = (i + CONTACT_WINDOW + 1).min(ws.len());
        (lo..hi).any(|j| j != i && contact_words().matches(&ws[j]))
    };
    let incoming = |i: usize| {
        let lo = i.saturating_sub(CONTACT_WINDOW);
        let hi = (i + CONTACT_WINDOW + 1).min(ws.len());
        (lo..hi).any(|j| incoming_words().matches(&ws[j]))
            || (lo..i).any(|j| agent_words().matches(&ws[j]))
    };
    let mut best: Option<(u32, String)> = None;
    for (i, w) in ws.iter().enumerate() {
        let Some(count) = count_of(w) else {
            continue;
        };
        // "how many times", "πόσες φορές", "ఎన్ని సార్లు" ask; they do not count.
        if i > 0 && matches!(ws[i - 1].text, "how" | "ποσεσ" | "ποσα" | "poses") {
            continue;
        }
        let next = ws.get(i + 1);
        let (n, span) = match count {
            Count::Times(n) if near_contact(i) => (n, 1),
            Count::Cardinal(n) | Count::Ordinal(n) => match next {
                Some(x) if is_times(x) && near_contact(i + 1) => (n, 2),
                // "several emails" may be the company's; a number is the customer's count.
                Some(x) if contact_nouns().matches(x) && !is_quantifier(w) => (n, 2),
                _ => continue,
            },
            _ => continue,
        };
        if n < 2 || incoming(i) {
            continue;
        }
        let text = ws[i..i + span]
            .iter()
            .map(|w| w.text)
            .collect::<Vec<_>>()
            .join(" ");
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, text));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    fn money(t: &str) -> Option<String> {
        money_mismatch(&normalize(t))
    }

    fn values(t: &str) -> Vec<f64> {
        amounts(&normalize(t)).iter().map(|a| a.value).collect()
    }

    fn contacts(t: &str) -> Option<u32> {
        contact_count(&normalize(t)).map(|(n, _)| n)
    }

    #[test]
    fn amounts_in_every_currency_format() {
        assert_eq!(values("€12 and 12,50 EUR"), [12.0, 12.5]);
        assert_eq!(
            values("₹450, Rs 450, Rs. 1,200 and 450/-"),
            [450.0, 450.0, 1200.0, 450.0]
        );
        assert_eq!(values("450 రూపాయలు, రూ.300"), [450.0, 300.0]);
        assert_eq!(values("12 ευρώ και 1.200 ευρώ"), [12.0, 1200.0]);
        assert_eq!(values("12€ or 8 €"), [12.0, 8.0]);
        assert_eq!(
            values("charged me 45 although the quote said 30"),
            [45.0, 30.0]
        );
        // Weights, days, tracking codes, years and counts are not money.
        assert!(values("my 2 kg parcel, 3 days late, code AB12345 from 2025").is_empty());
        assert!(values("I paid 2 times").is_empty());
    }

    #[test]
    fn money_mismatch_needs_two_different_amounts_and_a_charge_word() {
        assert!(money("You charged me €45 but the quote was €30").is_some());
        assert!(money("Μου χρεώσατε 12 ευρώ αντί για 8 ευρώ").is_some());
        assert!(money("xrewthika 15 evrw eno i timi itan 9 evrw").is_some());
        assert!(money("₹450 కట్ అయ్యాయి, కానీ ధర 300 రూపాయలు అని చూపించింది").is_some());
        assert!(money("450 rupayalu cut ayyindi, app lo 300 ani chupinchindi").is_some());
        // One amount, the same amount twice, or no word of money changing hands.
        assert!(money("I paid €12 for the parcel").is_none());
        assert!(money("I was charged €12 and €12").is_none());
        assert!(money("I sent 2 parcels of 5 kg").is_none());
        assert!(money("tracking 40412 and 30877 please").is_none());
    }

    #[test]
    fn contact_counts_in_three_languages() {
        assert_eq!(contacts("this is my 4th email about it"), Some(4));
        assert_eq!(contacts("I called three times already"), Some(3));
        assert_eq!(contacts("I have emailed you twice"), Some(2));
        assert_eq!(contacts("sent you two emails and nobody answered"), Some(2));
        assert_eq!(contacts("Σας πήρα τηλέφωνο τρεις φορές"), Some(3));
        assert_eq!(contacts("Τρίτη φορά σας γράφω για το ίδιο"), Some(3));
        assert_eq!(contacts("మూడుసార్లు కాల్ చేశాను"), Some(3));
        assert_eq!(contacts("ఇది నా నాలుగో మెయిల్"), Some(4));
        assert_eq!(contacts("moodu sarlu call chesanu"), Some(3));
        assert_eq!(contacts("idi naa naalugo mail"), Some(4));
        assert_eq!(contacts("exw steilei 3 email"), Some(3));
        // Questions, single contacts and counts of other things do not count.
        assert_eq!(contacts("how many times can I call?"), None);
        assert_eq!(contacts("I called once"), None);
        assert_eq!(contacts("I have 3 parcels, who do I contact?"), None);
        assert_eq!(contacts("deliver it the second time you come"), None);
        assert_eq!(contacts("the courier rang twice but nobody was home"), None);
        assert_eq!(contacts("I got 2 emails saying it was delivered"), None);
        assert_eq!(contacts("ο κούριερ πήρε τηλέφωνο δύο φορές"), None);
    }
}
