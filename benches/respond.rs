//! `respond` latency on the shipped content and on a synthetic 10,000-topic knowledge base,
//! next to a bare tantivy query of the same text on the same index.
//!
//! Run: `cargo bench --bench respond`. The ratio that matters is respond / bare query.

use criterion::{criterion_group, criterion_main, Criterion};
use sahaya::{Engine, Message};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const MESSAGES: &[&str] = &[
    "where is my parcel",
    "Πού είναι το δέμα μου;",
    "నా పార్సెల్ ఎక్కడ ఉంది?",
    "how much does it cost to send 2 kg to Thessaloniki",
    "μπορω να αλλαξω τη διευθυνση παραδοσης",
    "డెలివరీ డేట్ మార్చగలనా",
    "naa parcel inka raaledu",
    "tell me a joke",
];

fn bench_content(c: &mut Criterion, name: &str, dir: &Path) {
    let engine = Engine::load(dir).expect("load content");
    let msgs: Vec<Message> = MESSAGES.iter().map(|m| Message::new(*m)).collect();
    let mut group = c.benchmark_group(name);
    group.bench_function("respond", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % msgs.len();
            black_box(engine.respond(&msgs[i]))
        })
    });
    // The same text through analysis and the tantivy query alone, in the field detection picks.
    group.bench_function("bare_tantivy_query", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % MESSAGES.len();
            black_box(sahaya::__bench::bare_query(&engine, MESSAGES[i]))
        })
    });
    group.finish();
}

/// `respond` with every shipped rule, the calendar and sessions, next to `respond` on the
/// same knowledge and locales without `rules/`. Both render the whole reply through Fluent.
fn bench_rules(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bare = std::env::temp_dir().join(format!("sahaya-bench-norules-{}", std::process::id()));
    std::fs::create_dir_all(&bare).unwrap();
    for sub in ["knowledge", "locales"] {
        let link = bare.join(sub);
        if !link.exists() {
            std::os::unix::fs::symlink(root.join(sub), &link).unwrap();
        }
    }
    let with_rules = Engine::load(root).expect("load content");
    let without = Engine::load(&bare).expect("load content");
    assert!(!with_rules.rules().rules().is_empty() && without.rules().rules().is_empty());
    let mut msgs: Vec<Message> = MESSAGES
        .iter()
        .chain(["I want to talk to a human", "ΘΕΛΩ ΑΠΟΖΗΜΙΩΣΗ ΤΩΡΑ!!!"].iter())
        .map(|m| Message {
            at: Some("2026-11-28T15:00:00+02:00".into()),
            ..Message::new(*m)
        })
        .collect();
    for (i, m) in msgs.iter_mut().enumerate() {
        m.session_id = Some(format!("bench-{i}"));
    }
    let mut group = c.benchmark_group("rules");
    for (name, engine) in [
        ("respond_with_rules", &with_rules),
        ("respond_without_rules", &without),
    ] {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % msgs.len();
                // A fresh session each round, so no conversation stays with a person.
                engine
                    .hand_back(msgs[i].session_id.as_deref().unwrap())
                    .unwrap();
                black_box(engine.respond(&msgs[i]))
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&bare);
}

/// Writes a knowledge base of `n` synthetic topics (every language and register) to a
/// temporary directory, with the shipped locales.
fn synthetic(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sahaya-bench-{}-{n}", std::process::id()));
    let kdir = dir.join("knowledge");
    std::fs::create_dir_all(&kdir).unwrap();
    let en = [
        "parcel", "delivery", "price", "address", "refund", "branch", "label", "box", "route",
        "driver", "invoice", "account",
    ];
    let el = [
        "δέμα",
        "παράδοση",
        "τιμή",
        "διεύθυνση",
        "επιστροφή",
        "κατάστημα",
        "ετικέτα",
        "κουτί",
        "δρομολόγιο",
        "οδηγός",
        "τιμολόγιο",
        "λογαριασμός",
    ];
    let te = [
        "పార్సెల్",
        "డెలివరీ",
        "ధర",
        "అడ్రస్",
        "రీఫండ్",
        "బ్రాంచ్",
        "లేబుల్",
        "బాక్స్",
        "రూట్",
        "డ్రైవర్",
        "ఇన్వాయిస్",
        "అకౌంట్",
    ];
    let pick = |words: &[&str], i: usize, k: usize| -> String {
        (0..k)
            .map(|j| words[(i / 12usize.pow(j as u32) + j * 7) % words.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    for i in 0..n {
        let id = format!("topic_{i:05}");
        let body = format!(
            "id = \"{id}\"\n\n[en]\nquestion = \"{q_en} {i}?\"\nalternates = [\"{a_en} {i}\"]\nanswer = \"Answer {i}.\"\n\n\
             [el]\nquestion = \"{q_el} {i};\"\nalternates = [\"{a_el} {i}\"]\nanswer = \"Απάντηση {i}.\"\nanswer_informal = \"Απάντηση {i}!\"\n\n\
             [te]\nquestion = \"{q_te} {i}?\"\nalternates = [\"{a_te} {i}\"]\nanswer = \"సమాధానం {i}.\"\nanswer_informal = \"సమాధానం {i}!\"\n",
            q_en = pick(&en, i, 3),
            a_en = pick(&en, i + 5, 4),
            q_el = pick(&el, i, 3),
            a_el = pick(&el, i + 5, 4),
            q_te = pick(&te, i, 3),
            a_te = pick(&te, i + 5, 4),
        );
        std::fs::write(kdir.join(format!("{id}.toml")), body).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for lang in ["en", "el", "te"] {
        let to = dir.join("locales").join(lang);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(
            root.join("locales").join(lang).join("main.ftl"),
            to.join("main.ftl"),
        )
        .unwrap();
    }
    dir
}

fn benches(c: &mut Criterion) {
    bench_content(c, "shipped", Path::new(env!("CARGO_MANIFEST_DIR")));
    bench_rules(c);
    let dir = synthetic(10_000);
    bench_content(c, "synthetic_10k", &dir);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(respond, benches);
criterion_main!(respond);
