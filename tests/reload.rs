//! Hot reload on a running server: an edited knowledge file is answered from, a broken edit
//! leaves the last good content serving (and `/readyz` says why), fixing it recovers; no
//! request fails while snapshots are swapped. Works on a copy of the shipped content.

mod common;

use common::copy_dir;
use sahaya::server::{watch, AppState, ServerConfig};
use sahaya::{Engine, Message};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "reload-test-token";
const PROBE: &str = "knowledge/reload_probe.toml";
const PROBE_QUESTION: &str = "What is the zebra quasar policy?";

/// A temporary data directory with a copy of the repository's content.
fn content_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in sahaya::server::CONTENT_DIRS {
        if root.join(name).is_dir() {
            copy_dir(&root.join(name), &dir.path().join(name));
        }
    }
    dir
}

/// A topic that no shipped question resembles; `marker` ends its English answer.
fn probe(marker: &str) -> String {
    format!(
        r#"id = "reload_probe"
tags = ["test"]

[en]
question = "{PROBE_QUESTION}"
alternates = ["zebra quasar policy", "tell me about the zebra quasar"]
keywords = ["zebra quasar"]
answer = "The zebra quasar policy, version {marker}."

[el]
question = "Ποια είναι η πολιτική ζέβρα κουάζαρ;"
alternates = ["πολιτική ζέβρα κουάζαρ"]
keywords = ["ζέβρα"]
answer = "Σας ενημερώνουμε για την πολιτική ζέβρα κουάζαρ."
answer_informal = "Σε ενημερώνουμε για την πολιτική ζέβρα κουάζαρ."

[te]
question = "జీబ్రా క్వాసార్ విధానం ఏమిటి?"
alternates = ["జీబ్రా క్వాసార్"]
keywords = ["జీబ్రా"]
answer = "జీబ్రా క్వాసార్ విధానం గురించి మీకు తెలియజేస్తున్నాము."
answer_informal = "జీబ్రా క్వాసార్ విధానం గురించి చెప్తున్నాం."
"#
    )
}

/// Writes next to the data directory's content, then renames into place, the way editors
/// save: the watcher never sees half a file.
fn save(data: &Path, rel: &str, text: &str) {
    let tmp: PathBuf = data.join(".saving");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, data.join(rel)).unwrap();
}

fn post(base: &str, path: &str, body: Value) -> Result<Value, String> {
    match ureq::post(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .send_json(body)
    {
        Ok(r) => r.into_json().map_err(|e| e.to_string()),
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn get(base: &str, path: &str) -> (u16, String) {
    match ureq::get(&format!("{base}{path}")).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

fn readyz(base: &str) -> Value {
    let (status, body) = get(base, "/readyz");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn ask_probe(base: &str) -> Value {
    post(
        base,
        "/v1/respond",
        json!({ "text": PROBE_QUESTION, "lang": "en" }),
    )
    .unwrap()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting until {what}");
}

fn metric(base: &str, name: &str) -> f64 {
    let (_, text) = get(base, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn edits_reload_broken_edits_keep_the_last_good_content() {
    let dir = content_copy();
    let data = dir.path();
    let engine = Engine::load(data).expect("the copied content loads");
    let state = AppState::new(
        engine,
        ServerConfig {
            admin_token: Some(TOKEN.into()),
            ..ServerConfig::default()
        },
    );
    let _watcher = watch(state.clone(), Duration::from_millis(150)).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(sahaya::server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    // Customers keep asking throughout; every request must succeed with the right answer.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..2)
        .map(|i| {
            let (base, stop, served, failures) = (
                base.clone(),
                Arc::clone(&stop),
                Arc::clone(&served),
                Arc::clone(&failures),
            );
            std::thread::spawn(move || {
                let questions = ["Where is my parcel?", "Πού είναι το δέμα μου;"];
                while !stop.load(Ordering::Relaxed) {
                    let q = questions[i % questions.len()];
                    match post(&base, "/v1/respond", json!({ "text": q })) {
                        Ok(v) if v["answer_id"] == "track_parcel" => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(v) => failures.lock().unwrap().push(format!("{q}: {v}")),
                        Err(e) => failures.lock().unwrap().push(format!("{q}: {e}")),
                    }
                }
            })
        })
        .collect();

    // 1. Reloads in a loop while requests run.
    for _ in 0..3 {
        let v = post(&base, "/v1/admin/reload", json!({})).expect("reload");
        assert_eq!(v["status"], "reloaded");
    }
    let generation = readyz(&base)["content"]["generation"].as_u64().unwrap();
    assert!(generation >= 4, "generation {generation}");

    // 2. A new knowledge file is picked up by the watcher.
    assert_ne!(ask_probe(&base)["answer_id"], "reload_probe");
    save(data, PROBE, &probe("one"));
    wait_until("the new topic answers", || {
        let v = ask_probe(&base);
        v["answer_id"] == "reload_probe" && v["text"].as_str().unwrap().contains("version one")
    });
    assert_eq!(readyz(&base)["status"], "ready");

    // 3. A broken edit: the old answer keeps serving, /readyz and /metrics say why.
    let broken = probe("two").replace(
        "answer = \"The zebra quasar policy, version two.\"",
        "answer = \"The zebra quasar policy, version two.",
    );
    save(data, PROBE, &broken);
    wait_until("readyz reports the broken file", || {
        !readyz(&base)["reload_error"].is_null()
    });
    let ready = readyz(&base);
    assert_eq!(ready["status"], "degraded");
    let diags = ready["reload_error"]["diagnostics"].as_array().unwrap();
    let first = diags[0].as_str().unwrap();
    let at = regex::Regex::new(r"^knowledge/reload_probe\.toml:\d+:\d+: error: ").unwrap();
    assert!(at.is_match(first), "diagnostic {first:?}");
    assert_eq!(
        ready["reload_error"]["serving_version"],
        ready["content"]["version"]
    );
    let v = ask_probe(&base);
    assert_eq!(v["answer_id"], "reload_probe");
    assert!(v["text"].as_str().unwrap().contains("version one"), "{v}");
    assert_eq!(metric(&base, "sahaya_content_reload_failed"), 1.0);
    assert!(metric(&base, "sahaya_reload_failures_total") >= 1.0);
    // The admin endpoint reports the same problems.
    let err = post(&base, "/v1/admin/reload", json!({})).unwrap_err();
    assert!(
        err.starts_with("422:") && err.contains("content_error"),
        "{err}"
    );
    assert!(err.contains("reload_probe.toml:"), "{err}");

    // 4. Fixing the file recovers, with the new answer.
    save(data, PROBE, &probe("three"));
    wait_until("the fixed file answers", || {
        let v = ask_probe(&base);
        v["text"].as_str().unwrap().contains("version three")
    });
    wait_until("readyz clears the error", || {
        readyz(&base)["reload_error"].is_null()
    });
    assert_eq!(readyz(&base)["status"], "ready");
    assert_eq!(metric(&base, "sahaya_content_reload_failed"), 0.0);

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} request(s) failed during reloads, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(
        served.load(Ordering::Relaxed) > 20,
        "requests ran throughout"
    );

    stop_server.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
}

#[test]
fn a_request_keeps_the_snapshot_it_started_with() {
    let dir = content_copy();
    let data = dir.path();
    save(data, PROBE, &probe("old"));
    let state = AppState::new(Engine::load(data).unwrap(), ServerConfig::default());

    let held = state.snapshot();
    save(data, PROBE, &probe("new"));
    let fresh = state.reload().expect("reload");
    assert_eq!(fresh.generation, held.generation + 1);
    assert_ne!(fresh.version, held.version);

    let msg = Message::new(PROBE_QUESTION).lang("en");
    let old = held.engine.respond(&msg);
    assert!(old.text.contains("version old"), "{}", old.text);
    let new = state.snapshot().engine.respond(&msg);
    assert!(new.text.contains("version new"), "{}", new.text);

    // A failed reload leaves the current snapshot in place.
    save(data, PROBE, "id = ");
    assert!(state.reload().is_err());
    assert_eq!(state.snapshot().generation, fresh.generation);
    let failure = state.reload_failure().expect("failure kept");
    assert!(failure.diagnostics[0].starts_with("knowledge/reload_probe.toml:"));
}
