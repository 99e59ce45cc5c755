//! Rule fixtures (tests/rules/fixtures.toml): message + context → decision, rule, queue,
//! priority; conversations that exercise sessions; and the false-escalation rate over the
//! ordinary questions of tests/paraphrases/.

use sahaya::{Customer, Decision, Engine, Lang, Message, Reply};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A Wednesday at 10:00 in Athens (12:30 in Kolkata): open in both regions, so the hours
/// never decide a fixture.
const OPEN: &str = "2026-11-25T10:00:00+02:00";

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(env!("CARGO_MANIFEST_DIR")).expect("shipped content loads"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixtures {
    case: Vec<Case>,
    conversation: Vec<Conversation>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    text: String,
    expect: String,
    rule: Option<String>,
    queue: Option<String>,
    priority: Option<String>,
    lang: Option<String>,
    tier: Option<String>,
    #[serde(default)]
    hand_back: bool,
    /// What the trace line of the escalating rule must say matched (`intent`, `phrase`).
    via: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Conversation {
    name: String,
    turn: Vec<Case>,
}

fn fixtures() -> Fixtures {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/fixtures.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn message(c: &Case, session: Option<&str>) -> Message {
    Message {
        text: c.text.clone(),
        lang: c.lang.clone(),
        at: Some(OPEN.into()),
        session_id: session.map(str::to_string),
        customer: c.tier.as_ref().map(|t| Customer {
            tier: Some(t.clone()),
            ..Customer::default()
        }),
        ..Message::default()
    }
}

/// `None` when the reply is what the case expects, else what went wrong.
fn mismatch(c: &Case, r: &Reply) -> Option<String> {
    let decision = serde_json::to_value(r.decision).unwrap();
    let got = (
        decision.as_str().unwrap().to_string(),
        r.escalation.as_ref().map(|e| e.rule.clone()),
        r.escalation.as_ref().map(|e| e.queue.clone()),
        r.escalation.as_ref().map(|e| e.priority.to_string()),
    );
    let via = |rule: &str, how: &str| {
        let prefix = format!("rule {rule} (");
        r.trace
            .iter()
            .any(|t| t.starts_with(&prefix) && t.contains(&format!("): {how}")))
    };
    let ok = match c.expect.as_str() {
        "no_escalation" => r.decision != Decision::Escalate,
        "escalate" => {
            r.decision == Decision::Escalate
                && got.1 == c.rule
                && (c.queue.is_none() || got.2 == c.queue)
                && (c.priority.is_none() || got.3 == c.priority)
                && match (&c.via, &c.rule) {
                    (Some(how), Some(rule)) => via(rule, how),
                    _ => true,
                }
        }
        other => got.0 == other,
    };
    (!ok).then(|| {
        format!(
            "{:?}: expected {} {:?}/{:?}/{:?} via {:?}, got {got:?}\n    trace: {:?}",
            c.text, c.expect, c.rule, c.queue, c.priority, c.via, r.trace
        )
    })
}

#[test]
fn rule_fixtures() {
    let f = fixtures();
    let mut failures = Vec::new();
    let mut per_rule: BTreeMap<String, BTreeMap<Lang, usize>> = BTreeMap::new();
    let mut negatives = 0;
    for c in &f.case {
        let r = engine().respond(&message(c, None));
        if let Some(m) = mismatch(c, &r) {
            failures.push(m);
        }
        match &c.rule {
            Some(rule) => {
                *per_rule
                    .entry(rule.clone())
                    .or_default()
                    .entry(r.lang)
                    .or_default() += 1
            }
            None => negatives += 1,
        }
        if c.tier.is_some() {
            *per_rule
                .entry("business_tier".into())
                .or_default()
                .entry(r.lang)
                .or_default() += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every shipped rule has ≥ 5 cases over the three languages; repeated_fallback needs a
    // session, and `conversations` below holds it to the same count.
    for rule in engine().rules().rules() {
        let counts = per_rule.get(&rule.id).cloned().unwrap_or_default();
        let total: usize = counts.values().sum();
        if rule.id == "repeated_fallback" {
            continue;
        }
        assert!(total >= 5, "rule {} has {total} fixtures", rule.id);
        for lang in Lang::ALL {
            assert!(
                counts.get(&lang).copied().unwrap_or(0) >= 1,
                "rule {} has no {lang} fixture: {counts:?}",
                rule.id
            );
        }
    }
    assert!(negatives >= 30, "only {negatives} negative cases");
}

#[test]
fn conversations() {
    let f = fixtures();
    let mut failures = Vec::new();
    let mut repeated_fallback: BTreeMap<Lang, usize> = BTreeMap::new();
    for (i, conv) in f.conversation.iter().enumerate() {
        let session = format!("fixture-conversation-{i}");
        for t in &conv.turn {
            if t.hand_back {
                assert!(
                    engine().hand_back(&session).unwrap(),
                    "{}: nothing to hand back",
                    conv.name
                );
            }
            let r = engine().respond(&message(t, Some(&session)));
            if let Some(m) = mismatch(t, &r) {
                failures.push(format!("{}: {m}", conv.name));
            }
            if t.rule.as_deref() == Some("repeated_fallback") {
                *repeated_fallback.entry(r.lang).or_default() += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let total: usize = repeated_fallback.values().sum();
    assert!(total >= 5, "repeated_fallback has {total} conversations");
    for lang in Lang::ALL {
        assert!(
            repeated_fallback.contains_key(&lang),
            "repeated_fallback has no {lang} conversation: {repeated_fallback:?}"
        );
    }
}

#[test]
fn two_unanswerable_messages_escalate_and_then_the_bot_stays_quiet() {
    let e = engine();
    let s = "session-quiet";
    let say = |text: &str| {
        e.respond(&Message {
            text: text.into(),
            session_id: Some(s.into()),
            at: Some(OPEN.into()),
            ..Message::default()
        })
    };
    let first = say("flibber wobble snark");
    assert_eq!(first.decision, Decision::Fallback, "{:?}", first.trace);
    let second = say("zorp quibble gronk");
    assert_eq!(second.decision, Decision::Escalate, "{:?}", second.trace);
    let esc = second.escalation.clone().unwrap();
    assert_eq!(esc.rule, "repeated_fallback");
    assert!(second
        .trace
        .iter()
        .any(|t| t.starts_with("rule repeated_fallback")));

    // After the handoff even an easy question gets only the "a person will reply" line.
    let quiet = say("Where is my parcel?");
    assert_eq!(quiet.decision, Decision::Escalate);
    assert_eq!(quiet.answer_id, None);
    assert_eq!(quiet.escalation.as_ref(), Some(&esc));
    assert!(
        !quiet.text.contains("nova-courier.example/track"),
        "{}",
        quiet.text
    );
    assert!(
        quiet.text.contains("no need to write again"),
        "{}",
        quiet.text
    );
    let again = say("hello??? anyone there?");
    assert_eq!(again.decision, Decision::Escalate);

    // Handed back: the bot answers again, and the counter starts afresh.
    assert!(e.hand_back(s).unwrap());
    let back = say("Where is my parcel?");
    assert_eq!(back.decision, Decision::Answer, "{:?}", back.trace);
    assert_eq!(back.answer_id.as_deref(), Some("track_parcel"));
    // A conversation that needed a person once goes back to one as soon as the bot is stuck.
    let stuck = say("flibber wobble snark");
    assert_eq!(stuck.decision, Decision::Escalate);
    assert_eq!(stuck.escalation.unwrap().rule, "repeated_contact");
}

#[test]
fn sessions_are_separate_and_an_answer_resets_the_count() {
    let e = engine();
    let say = |s: &str, text: &str| {
        e.respond(&Message {
            text: text.into(),
            session_id: Some(s.into()),
            at: Some(OPEN.into()),
            ..Message::default()
        })
    };
    assert_eq!(say("a", "flibber wobble").decision, Decision::Fallback);
    assert_eq!(say("b", "zorp quibble").decision, Decision::Fallback);
    assert_eq!(
        say("a", "What are the size and weight limits?").decision,
        Decision::Answer
    );
    assert_eq!(say("a", "gronk blat").decision, Decision::Fallback);
    // Only one in a row in "a" now; "b" has its own count.
    assert_eq!(say("b", "blat gronk").decision, Decision::Escalate);
    // Without a session id nothing is remembered.
    let none = |t: &str| e.respond(&Message::new(t).lang("en")).decision;
    assert_eq!(none("flibber wobble"), Decision::Fallback);
    assert_eq!(none("zorp quibble"), Decision::Fallback);
}

#[derive(Deserialize)]
struct Paraphrases {
    case: Vec<Paraphrase>,
}

#[derive(Deserialize)]
struct Paraphrase {
    text: String,
    topic: String,
}

#[test]
fn ordinary_questions_rarely_escalate() {
    let mut total = 0;
    let mut escalated = Vec::new();
    for lang in ["en", "el", "te"] {
        let path = format!(
            "{}/tests/paraphrases/{lang}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let set: Paraphrases = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for c in set.case {
            total += 1;
            let r = engine().respond(&Message {
                text: c.text.clone(),
                at: Some(OPEN.into()),
                ..Message::default()
            });
            if r.decision == Decision::Escalate {
                let rule = r.escalation.map(|e| e.rule).unwrap_or_default();
                escalated.push(format!("{lang} {} «{}» → {rule}", c.topic, c.text));
            }
        }
    }
    let rate = escalated.len() as f64 / total as f64;
    println!(
        "false escalations: {}/{total} = {:.1}%\n{}",
        escalated.len(),
        rate * 100.0,
        escalated.join("\n")
    );
    assert!(total > 500, "paraphrase set too small: {total}");
    assert!(
        rate <= 0.03,
        "{:.1}% of ordinary questions escalate:\n{}",
        rate * 100.0,
        escalated.join("\n")
    );
}

#[test]
fn json_reply_carries_escalation_after_hours_and_trace() {
    // Saturday 15:00 in Athens: closed since 14:00, back Monday 09:00.
    let r = engine().respond(&Message {
        text: "I want to speak to a human agent please".into(),
        at: Some("2026-11-28T15:00:00+02:00".into()),
        customer: Some(Customer {
            tier: Some("business".into()),
            ..Customer::default()
        }),
        ..Message::default()
    });
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["decision"], "escalate");
    assert_eq!(v["escalation"]["rule"], "human_request");
    assert_eq!(
        v["escalation"]["priority"], "high",
        "business raises normal to high"
    );
    assert_eq!(v["after_hours"], true);
    let trace: Vec<&str> = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        trace
            .iter()
            .any(|t| t.starts_with("rule human_request") && t.contains("phrase")),
        "{trace:?}"
    );
    assert!(
        trace.iter().any(|t| t.starts_with("rule business_tier")),
        "{trace:?}"
    );
    assert!(r.text.contains("Monday 30 November at 09:00"), "{}", r.text);
}
