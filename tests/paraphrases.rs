//! Held-out paraphrase sets (tests/paraphrases/*.toml), written separately from the
//! alternates in knowledge/. Prints per-language accuracy and a confusion report, and
//! asserts top-1 accuracy ≥ 90% per language and ≥ 90% of off-topic messages falling back.

use sahaya::{Decision, Engine, Lang, Message};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
struct Set {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    topic: String,
}

const OFF_TOPIC: &str = "off_topic";

struct Outcome {
    correct: usize,
    total: usize,
    answered_correct: usize,
    off_total: usize,
    off_fallback: usize,
    confusions: BTreeMap<(String, String), Vec<String>>,
}

fn run(engine: &Engine, lang: &str) -> Outcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/paraphrases/{lang}.toml"));
    let set: Set = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut o = Outcome {
        correct: 0,
        total: 0,
        answered_correct: 0,
        off_total: 0,
        off_fallback: 0,
        confusions: BTreeMap::new(),
    };
    for c in &set.case {
        // No language hint: detection is part of what is measured.
        let reply = engine.respond(&Message::new(&c.text));
        let top = reply
            .answer_id
            .clone()
            .or_else(|| reply.suggestions.first().map(|s| s.id.clone()));
        if c.topic == OFF_TOPIC {
            o.off_total += 1;
            if reply.decision == Decision::Fallback {
                o.off_fallback += 1;
            } else {
                o.confusions
                    .entry((OFF_TOPIC.into(), top.unwrap_or_default()))
                    .or_default()
                    .push(c.text.clone());
            }
            continue;
        }
        assert!(
            engine.knowledge().get(&c.topic).is_some(),
            "{lang}: unknown topic {} in the test set",
            c.topic
        );
        o.total += 1;
        if top.as_deref() == Some(c.topic.as_str()) {
            o.correct += 1;
            if reply.decision == Decision::Answer {
                o.answered_correct += 1;
            }
        } else {
            let got = match (&top, reply.decision) {
                (_, Decision::Fallback) => "(fallback)".to_string(),
                (Some(t), _) => t.clone(),
                (None, _) => "(none)".to_string(),
            };
            o.confusions
                .entry((c.topic.clone(), got))
                .or_default()
                .push(format!(
                    "{} [{:.2} {}]",
                    c.text, reply.confidence, reply.lang
                ));
        }
    }
    o
}

#[test]
fn paraphrase_accuracy_per_language() {
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut failures = Vec::new();
    for lang in Lang::ALL {
        let o = run(&engine, lang.code());
        let acc = o.correct as f64 / o.total as f64;
        let answered = o.answered_correct as f64 / o.total as f64;
        let off = o.off_fallback as f64 / o.off_total as f64;
        println!(
            "{lang}: top-1 {}/{} = {:.1}% (answered outright {:.1}%), off-topic fallback {}/{} = {:.1}%",
            o.correct,
            o.total,
            acc * 100.0,
            answered * 100.0,
            o.off_fallback,
            o.off_total,
            off * 100.0
        );
        println!("  confusions (expected → got):");
        for ((want, got), texts) in &o.confusions {
            println!("    {want} → {got} ×{}: {}", texts.len(), texts.join(" | "));
        }
        if acc < 0.90 {
            failures.push(format!("{lang}: top-1 accuracy {:.1}% < 90%", acc * 100.0));
        }
        if off < 0.90 {
            failures.push(format!(
                "{lang}: off-topic fallback {:.1}% < 90%",
                off * 100.0
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
