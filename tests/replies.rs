//! Rendered replies: golden files for every language × register × channel × situation
//! (tests/golden/, readable by reviewers), a register lint over the rendered text, greetings
//! by the customer's local time, plural formatting and locale negotiation.
//!
//! After an intended change to content or wording, regenerate the golden files with
//! `SAHAYA_BLESS=1 cargo test --test replies` and review the diff.

mod common;

use common::register_problems;
use sahaya::{Customer, Decision, Engine, Formality, FormalityReason, Message, Reply};
use std::fmt::Write;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap())
}

struct Lang {
    code: &'static str,
    /// Wednesday 25 November 2026, 10:00 local: open.
    open: &'static str,
    /// Saturday 28 November 2026, 15:00 local: closed until Monday 09:00.
    closed: &'static str,
    name: &'static str,
    answer: &'static str,
    clarify: &'static str,
    fallback: &'static str,
    human: &'static str,
    /// About a topic tagged `problem`: answered formally even when informal was asked.
    complaint: &'static str,
    /// Small talk: in an email, the salutation and the closing say it.
    hello: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        code: "en",
        open: "2026-11-25T10:00:00+02:00",
        closed: "2026-11-28T15:00:00+02:00",
        name: "Maria",
        answer: "Where is my parcel?",
        clarify: "parcel",
        fallback: "blorp zint quax",
        human: "Can I talk to a real person please?",
        complaint: "I think my parcel got lost, no update for two weeks",
        hello: "Hello there!",
    },
    Lang {
        code: "el",
        open: "2026-11-25T10:00:00+02:00",
        closed: "2026-11-28T15:00:00+02:00",
        name: "Μαρία",
        answer: "Πού είναι το δέμα μου;",
        clarify: "δέμα",
        fallback: "μπλορπ ζιντ κουαξ",
        human: "Θέλω να μιλήσω με έναν άνθρωπο, όχι με ρομπότ",
        complaint: "Νομίζω ότι χάθηκε το δέμα μου, δύο εβδομάδες χωρίς καμία ενημέρωση",
        hello: "Καλησπέρα!",
    },
    Lang {
        code: "te",
        open: "2026-11-25T10:00:00+05:30",
        closed: "2026-11-28T15:00:00+05:30",
        name: "రవి",
        answer: "నా పార్సెల్ ఎక్కడ ఉంది?",
        clarify: "పార్సెల్",
        fallback: "బ్లార్ప్ జింట్ క్వాక్స్",
        human: "నాకు మనిషితో మాట్లాడాలి, దయచేసి ఏజెంట్‌ని కనెక్ట్ చేయండి",
        complaint: "నా పార్సెల్ పోయింది అనిపిస్తోంది, ఎక్కడా దొరకడం లేదు",
        hello: "నమస్కారం అండి",
    },
];

const SITUATIONS: &[(&str, Decision)] = &[
    ("answer", Decision::Answer),
    ("answer after hours", Decision::Answer),
    ("small talk", Decision::Answer),
    ("clarify", Decision::Clarify),
    ("fallback", Decision::Fallback),
    ("escalate in hours", Decision::Escalate),
    ("escalate after hours", Decision::Escalate),
    ("complaint", Decision::Answer),
];

fn ask(l: &Lang, situation: &str, formality: Formality, channel: &str) -> Reply {
    let (text, at) = match situation {
        "answer" => (l.answer, l.open),
        "answer after hours" => (l.answer, l.closed),
        "small talk" => (l.hello, l.open),
        "clarify" => (l.clarify, l.open),
        "fallback" => (l.fallback, l.open),
        "escalate in hours" => (l.human, l.open),
        "complaint" => (l.complaint, l.open),
        _ => (l.human, l.closed),
    };
    engine().respond(&Message {
        text: text.into(),
        lang: Some(l.code.into()),
        formality: Some(formality),
        channel: Some(channel.into()),
        at: Some(at.into()),
        customer: (channel == "email").then(|| Customer {
            name: Some(l.name.into()),
            ..Customer::default()
        }),
        ..Message::default()
    })
}

#[test]
fn golden_replies() {
    let bless = std::env::var_os("SAHAYA_BLESS").is_some();
    let mut failures = Vec::new();
    for l in LANGS {
        for channel in ["chat", "email", "sms"] {
            let mut doc = format!(
                "# Golden replies: {} over {channel}. Regenerate with SAHAYA_BLESS=1 cargo test --test replies\n",
                l.code
            );
            for (situation, expected) in SITUATIONS {
                for formality in [Formality::Formal, Formality::Informal] {
                    let r = ask(l, situation, formality, channel);
                    let label = format!("{} {situation} {}/{channel}", l.code, formality.as_str());
                    if r.decision != *expected {
                        failures.push(format!("{label}: decision {:?}: {:?}", r.decision, r.trace));
                    }
                    if *situation == "complaint" && r.formality != Formality::Formal {
                        failures.push(format!("{label}: a complaint answered informally"));
                    }
                    // The reply says why it is formal whatever was asked.
                    let imposed = match *situation {
                        "complaint" => Some(FormalityReason::Complaint),
                        s if s.starts_with("escalate") => Some(FormalityReason::Escalation),
                        _ => None,
                    };
                    if let Some(why) = imposed.filter(|_| formality == Formality::Informal) {
                        if r.formality_reason != why {
                            failures.push(format!(
                                "{label}: formality_reason {:?}, not {why:?}",
                                r.formality_reason
                            ));
                        }
                    }
                    if imposed.is_none() && r.formality_reason != FormalityReason::Request {
                        failures.push(format!(
                            "{label}: formality_reason {:?} for the register the request asked",
                            r.formality_reason
                        ));
                    }
                    let problems =
                        register_problems(l.code, r.formality == Formality::Formal, &r.text);
                    if !problems.is_empty() {
                        failures.push(format!("{label}: register {problems:?} in {}", r.text));
                    }
                    if r.text.contains('{')
                        || r.text.contains("handoff-")
                        || r.text.trim().is_empty()
                    {
                        failures.push(format!("{label}: unrendered text {:?}", r.text));
                    }
                    let _ = write!(
                        doc,
                        "\n=== {situation} · asked {}\n> {}\n[{:?} · {} · {}{}{}]\n---\n{}\n",
                        formality.as_str(),
                        match *situation {
                            "answer" | "answer after hours" => l.answer,
                            "small talk" => l.hello,
                            "clarify" => l.clarify,
                            "fallback" => l.fallback,
                            "complaint" => l.complaint,
                            _ => l.human,
                        },
                        r.decision,
                        r.formality.as_str(),
                        if r.after_hours { "after hours" } else { "open" },
                        r.answer_id
                            .as_deref()
                            .map(|a| format!(" · {a}"))
                            .unwrap_or_default(),
                        r.escalation
                            .as_ref()
                            .map(|e| format!(" · {}→{}", e.rule, e.queue))
                            .unwrap_or_default(),
                        r.text
                    );
                }
            }
            let path = format!(
                "{}/tests/golden/{}-{channel}.txt",
                env!("CARGO_MANIFEST_DIR"),
                l.code
            );
            if bless {
                std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
                std::fs::write(&path, &doc).unwrap();
            } else {
                let want = std::fs::read_to_string(&path).unwrap_or_default();
                if want != doc {
                    failures.push(format!(
                        "{path} differs (run with SAHAYA_BLESS=1 and review the diff):\n{}",
                        first_difference(&want, &doc)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every email reads like an email: nothing about joining a chat, waiting a moment or "here
/// in this chat", one thank-you and one greeting. Asked with every topic's question, a
/// request for a person and a greeting, in every language and register.
#[test]
fn emails_read_like_emails() {
    const CHAT_WORDS: &[(&str, &[&str])] = &[
        (
            "en",
            &[
                "this chat",
                "this conversation",
                "join this",
                "wait a moment",
                "right here",
                "here in this",
            ],
        ),
        (
            "el",
            &[
                "στη συνομιλια",
                "αυτης της συνομιλιας",
                "θα συνδεθει",
                "περιμενετε μια στιγμη",
                "εδω στη",
                "εδω στο",
            ],
        ),
        (
            "te",
            &[
                "ఈ చాట్",
                "ఈ సంభాషణ",
                "చేరతారు",
                "కొద్దిసేపు వేచి ఉండండి",
                "ఇక్కడే చాట్",
                "ఇక్కడ పంపండి",
            ],
        ),
    ];
    const THANKS: &[&str] = &["thank", "ευχαριστ", "ధన్యవాద", "థాంక్స్"];
    const GREETINGS: &[&str] = &[
        "hello",
        "hi",
        "γεια",
        "καλημερα",
        "καλησπερα",
        "నమస్కారం",
        "హాయ్",
    ];
    let e = engine();
    let mut problems = Vec::new();
    for l in LANGS {
        let lang = sahaya::Lang::negotiate(l.code).unwrap();
        let mut texts: Vec<&str> = e
            .knowledge()
            .topics()
            .iter()
            .filter(|t| !t.has_tag(sahaya::OUT_OF_SCOPE))
            .map(|t| t.text(lang).question.as_str())
            .collect();
        texts.extend([l.human, l.hello, l.fallback, l.clarify]);
        let chat_words = CHAT_WORDS.iter().find(|(c, _)| *c == l.code).unwrap().1;
        for text in texts {
            for formality in [Formality::Formal, Formality::Informal] {
                for at in [l.open, l.closed] {
                    let r = e.respond(&Message {
                        text: text.into(),
                        lang: Some(l.code.into()),
                        formality: Some(formality),
                        channel: Some("email".into()),
                        at: Some(at.into()),
                        customer: Some(Customer {
                            name: Some(l.name.into()),
                            ..Customer::default()
                        }),
                        ..Message::default()
                    });
                    let n = sahaya::text::normalize(&r.text);
                    let mut found: Vec<String> = chat_words
                        .iter()
                        .filter(|w| n.contains(&sahaya::text::normalize(w)))
                        .map(|w| w.to_string())
                        .collect();
                    let thanks = THANKS.iter().map(|t| n.matches(t).count()).sum::<usize>();
                    if thanks > 1 {
                        found.push(format!("{thanks} thank-yous"));
                    }
                    let greetings = sahaya::text::words(&n)
                        .filter(|w| GREETINGS.contains(w))
                        .count();
                    if greetings > 1 {
                        found.push(format!("{greetings} greetings"));
                    }
                    if !found.is_empty() {
                        problems.push(format!("{} «{text}»: {found:?}\n{}", l.code, r.text));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (a, b)) in want.lines().zip(got.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  want: {a}\n  got:  {b}", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

/// The lint runs over every rendered answer of the paraphrase set, both registers.
#[test]
fn rendered_replies_keep_their_register() {
    #[derive(serde::Deserialize)]
    struct Set {
        case: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        text: String,
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for lang in ["el", "te"] {
        let path = format!(
            "{}/tests/paraphrases/{lang}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let set: Set = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for c in set.case.iter().step_by(2) {
            for f in [Formality::Formal, Formality::Informal] {
                for at in ["2026-11-25T10:00:00+02:00", "2026-11-28T21:00:00+02:00"] {
                    let r = engine().respond(&Message {
                        text: c.text.clone(),
                        lang: Some(lang.into()),
                        formality: Some(f),
                        at: Some(at.into()),
                        ..Message::default()
                    });
                    checked += 1;
                    let p = register_problems(lang, r.formality == Formality::Formal, &r.text);
                    if !p.is_empty() {
                        problems.push(format!(
                            "{lang} {:?} «{}»: {p:?}\n{}",
                            r.formality, c.text, r.text
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 500);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_reply_lint_catches_what_it_should() {
    assert!(!register_problems("el", true, "Θα σε ενημερώσουμε αύριο.").is_empty());
    assert!(!register_problems("el", true, "Στείλε μας τον αριθμό σου.").is_empty());
    assert!(register_problems("el", true, "Θα φτάσει σε 2 ημέρες σε ένα κατάστημα.").is_empty());
    assert!(!register_problems("el", false, "Μπορείτε να μας γράψετε.").is_empty());
    assert!(!register_problems("te", true, "నీ పార్సెల్ వచ్చింది").is_empty());
    assert!(register_problems("te", false, "మీ పార్సెల్ వచ్చింది").is_empty());
}

#[test]
fn greetings_follow_the_customers_local_time() {
    let greet = |text: &str, lang: &str, at: &str, tz: Option<&str>, f: Formality| {
        let r = engine().respond(&Message {
            text: text.into(),
            lang: Some(lang.into()),
            formality: Some(f),
            at: Some(at.into()),
            customer: tz.map(|t| Customer {
                timezone: Some(t.into()),
                ..Customer::default()
            }),
            ..Message::default()
        });
        r.text.lines().next().unwrap_or_default().to_string()
    };
    let q = "Πού είναι το δέμα μου;";
    // 07:00 UTC is 09:00 in Athens.
    assert_eq!(
        greet(q, "el", "2026-11-25T07:00:00Z", None, Formality::Formal),
        "Καλημέρα σας!"
    );
    assert_eq!(
        greet(q, "el", "2026-11-25T07:00:00Z", None, Formality::Informal),
        "Καλημέρα!"
    );
    // 18:30 UTC is 20:30 in Athens: Καλησπέρα; and never Καληνύχτα, even at 23:30.
    assert_eq!(
        greet(q, "el", "2026-11-25T18:30:00Z", None, Formality::Formal),
        "Καλησπέρα σας!"
    );
    let late = greet(q, "el", "2026-11-25T21:30:00Z", None, Formality::Formal);
    assert!(!late.contains("Καληνύχτα"), "{late}");
    // The same instant for a customer whose time zone is Asia/Kolkata (12:30): no Καλημέρα.
    let noon = greet(
        q,
        "el",
        "2026-11-25T07:00:00Z",
        Some("Asia/Kolkata"),
        Formality::Formal,
    );
    assert_ne!(noon, "Καλημέρα σας!");
    let en = |at: &str| greet("Where is my parcel?", "en", at, None, Formality::Formal);
    assert_eq!(en("2026-11-25T07:00:00Z"), "Good morning!");
    assert_eq!(en("2026-11-25T12:00:00Z"), "Good afternoon!");
    assert_eq!(en("2026-11-25T17:00:00Z"), "Good evening!");
}

#[test]
fn after_hours_in_kolkata_names_the_right_opening() {
    // 07:00 UTC on Saturday 28 November is 12:30 in Kolkata (open until 14:00) …
    let at = |t: &str| {
        engine().respond(&Message {
            text: "నాకు మనిషితో మాట్లాడాలి".into(),
            at: Some(t.into()),
            ..Message::default()
        })
    };
    let open = at("2026-11-28T07:00:00Z");
    assert_eq!(open.decision, Decision::Escalate, "{:?}", open.trace);
    assert!(!open.after_hours);
    // … and 09:00 UTC is 14:30 there: closed, back Monday 30 November at 09:00 IST.
    let closed = at("2026-11-28T09:00:00Z");
    assert!(closed.after_hours);
    assert!(closed.text.contains("నవంబర్ 30"), "{}", closed.text);
    assert!(closed.text.contains("ఉదయం 9:00"), "{}", closed.text);
}

#[test]
fn names_are_used_the_way_each_language_does() {
    let r = |lang: &str, text: &str, name: &str, f: Formality| {
        engine()
            .respond(&Message {
                text: text.into(),
                lang: Some(lang.into()),
                formality: Some(f),
                at: Some("2026-11-25T08:00:00Z".into()),
                customer: Some(Customer {
                    name: Some(name.into()),
                    ..Customer::default()
                }),
                ..Message::default()
            })
            .text
    };
    assert!(r("te", "నా పార్సెల్ ఎక్కడ ఉంది?", "రవి", Formality::Formal).starts_with("రవి గారు"));
    assert!(r("en", "Where is my parcel?", "Maria", Formality::Informal).starts_with("Hi Maria"));
    // Greek names decline; only the nominative is known, so the greeting goes without it.
    assert!(!r("el", "Πού είναι το δέμα μου;", "Γιώργος", Formality::Formal).contains("Γιώργο"));
}

#[test]
fn bidi_isolation_only_where_the_channel_renders_it() {
    let reply = |channel: &str| {
        engine()
            .respond(&Message {
                text: "Can I talk to a real person please?".into(),
                channel: Some(channel.into()),
                at: Some("2026-11-28T15:00:00+02:00".into()),
                ..Message::default()
            })
            .text
    };
    assert!(reply("web").contains('\u{2068}'));
    for plain in ["email", "sms", "chat"] {
        let t = reply(plain);
        assert!(
            !t.contains('\u{2068}') && !t.contains('\u{2069}'),
            "{plain}: {t:?}"
        );
    }
}

#[test]
fn accept_language_tags_are_negotiated() {
    for (tag, want) in [
        ("te-IN", "te"),
        ("el-GR", "el"),
        ("en-US", "en"),
        ("el", "el"),
    ] {
        let lang = sahaya::Lang::negotiate(tag).unwrap();
        let r = engine().respond(&Message::new("Where is my parcel?").lang(lang.code()));
        assert_eq!(r.lang.code(), want);
    }
}

#[test]
fn a_customer_can_ask_for_the_informal_register_in_words() {
    let say = |text: &str| {
        engine().respond(&Message {
            text: text.into(),
            session_id: Some("register-request".into()),
            at: Some("2026-11-25T10:00:00+02:00".into()),
            ..Message::default()
        })
    };
    // The request alone gets an acknowledgement in the new register …
    let ok = say("Μπορούμε να μιλάμε στον ενικό;");
    assert_eq!(ok.formality, Formality::Informal, "{:?}", ok.trace);
    assert!(ok.text.contains("ενικό"), "{}", ok.text);
    // … and the conversation keeps it.
    let next = say("πού είναι το δέμα μου");
    assert_eq!(next.formality, Formality::Informal);
    assert_eq!(next.answer_id.as_deref(), Some("track_parcel"));
    assert!(
        register_problems("el", false, &next.text).is_empty(),
        "{}",
        next.text
    );
    // In one message with the question, in Greeklish too.
    let r = engine().respond(&Message::new("pou einai to dema mou? mila mou ston eniko"));
    assert_eq!(
        (r.formality, r.answer_id.as_deref()),
        (Formality::Informal, Some("track_parcel"))
    );
    // A handoff is formal even so.
    let h = say("θέλω να μιλήσω με έναν άνθρωπο");
    assert_eq!(
        (h.decision, h.formality),
        (Decision::Escalate, Formality::Formal)
    );
}

/// The holiday notice fits every holiday and closure name of the calendar as it is written
/// there: no Greek apposition that needs the nominative («Σήμερα, Αγίου Πνεύματος, …») and no
/// Telugu word said twice in a row («ఆగస్టు 15 సెలవు సెలవు»). Every day of 2026 at 10:00, in
/// both regions, in Greek and Telugu, for an answer and for a handoff.
#[test]
fn holiday_names_fit_the_notice() {
    let mut problems = Vec::new();
    let mut holidays = 0;
    for (region, offset) in [("GR", "+02:00"), ("IN", "+05:30")] {
        for (lang, text) in [
            ("el", "Θέλω να μιλήσω με έναν άνθρωπο"),
            ("el", "Πού είναι το δέμα μου;"),
            ("te", "నాకు మనిషితో మాట్లాడాలి"),
            ("te", "నా పార్సెల్ ఎక్కడ ఉంది?"),
        ] {
            let mut day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            while chrono::Datelike::year(&day) == 2026 {
                let r = engine().respond(&Message {
                    text: text.into(),
                    lang: Some(lang.into()),
                    at: Some(format!("{day}T10:00:00{offset}")),
                    customer: Some(Customer {
                        region: Some(region.into()),
                        ..Customer::default()
                    }),
                    ..Message::default()
                });
                day = day.succ_opt().unwrap();
                if !r.after_hours {
                    continue;
                }
                holidays += 1;
                let ws: Vec<&str> = r.text.split_whitespace().collect();
                if ws.windows(2).any(|w| w[0] == w[1]) || r.text.contains("Σήμερα, ") {
                    problems.push(format!("{region} {lang} {day}: {}", r.text));
                }
            }
        }
    }
    assert!(holidays > 20, "{holidays}");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// One apology per reply: a problem answer that already apologizes (in any of the ways each
/// language has: "we're sorry", «λυπούμαστε», «συγγνώμη», క్షమాపణలు, చింతిస్తున్నాము, సారీ)
/// gets no second one in front of it, and the scam answer no "trouble with your parcel".
#[test]
fn apologies_are_said_once() {
    const APOLOGIES: &[&str] = &[
        "sorry",
        "apologi",
        "λυπουμαστε",
        "λυπαμαι",
        "συγγνωμη",
        "సారీ",
        "క్షమించ",
        "క్షమాపణ",
        "చింతిస్తున్న",
    ];
    let e = engine();
    let mut problems = Vec::new();
    for topic in e.knowledge().topics() {
        if !topic.has_tag("problem") {
            continue;
        }
        for lang in sahaya::Lang::ALL {
            for formality in [Formality::Formal, Formality::Informal] {
                let r = e.respond(&Message {
                    text: topic.text(lang).question.clone(),
                    lang: Some(lang.code().into()),
                    formality: Some(formality),
                    at: Some("2026-11-25T10:00:00+02:00".into()),
                    ..Message::default()
                });
                if r.answer_id.as_deref() != Some(topic.id.as_str()) {
                    continue;
                }
                let n = sahaya::text::normalize(&r.text);
                let count: usize = APOLOGIES.iter().map(|a| n.matches(a).count()).sum();
                let parcel_trouble = topic.id == "suspicious_message_scam"
                    && [
                        "trouble with your parcel",
                        "ταλαιπωρια με το δεμα",
                        "పార్సెల్ విషయంలో ఇబ్బంది",
                    ]
                    .iter()
                    .any(|t| n.contains(t));
                if count != 1 || parcel_trouble {
                    problems.push(format!(
                        "{} {lang} {count} apologies:\n{}",
                        topic.id, r.text
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
