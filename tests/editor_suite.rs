//! `sahaya test`: the starter conversation tests (`conversations/`) pass on the shipped
//! content; a suite with wrong expectations (tests/fixtures/conversations/failing.toml)
//! exits 1 and shows each failure as expected against got with the message and the trace;
//! bad test files exit 2 with `file:line:col`.

use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `sahaya --data <root> test ARGS` from the repository root.
fn sahaya_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .current_dir(root())
        .args(["--data", root().to_str().unwrap(), "test"])
        .args(args)
        .output()
        .expect("run sahaya")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

const FAILING: &str = "tests/fixtures/conversations/failing.toml";

#[test]
fn the_starter_suite_passes() {
    let out = sahaya_test(&["--format", "json"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
    for lang in ["te", "el", "en"] {
        let s = &doc["summary"][lang];
        let cases = s["cases"].as_u64().unwrap();
        assert!(cases >= 20, "{lang}: only {cases} cases");
        assert_eq!(s["passed"].as_u64(), Some(cases), "{lang}: {s}");
        for decision in ["answer", "fallback", "escalate"] {
            assert!(s[decision].as_u64().unwrap() > 0, "{lang}: no {decision}");
        }
    }
    // Every case of the starter suite ran.
    let (suite, _) = sahaya::suite::Suite::load(root(), &[]);
    assert_eq!(doc["cases"].as_array().unwrap().len(), suite.cases.len());
}

#[test]
fn the_starter_suite_in_one_language() {
    let out = sahaya_test(&["--lang", "el", "conversations/el.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let header = "lang  cases  passed  failed    answer  clarify  fallback  escalate";
    assert!(text.starts_with(header), "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("el "), "{text}");
    assert!(!text.contains("\nen "), "{text}");
    assert!(text.ends_with("cases passed\n"), "{text}");
}

#[test]
fn a_broken_expectation_fails_with_a_readable_diff() {
    let out = sahaya_test(&[FAILING]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    // The wrong topic: where, the message, expected against got, the trace.
    let first = format!("FAIL {FAILING}:15:8  wrong topic on purpose\n");
    let at = text.find(&first).unwrap_or_else(|| panic!("{text}"));
    let block: Vec<&str> = text[at..].lines().take(4).collect();
    assert_eq!(block[1], "  message    «Πού είναι το δέμα μου;»", "{text}");
    assert_eq!(block[2], "             expected      got", "{text}");
    assert_eq!(
        block[3], "  topic      lost_parcel   track_parcel",
        "{text}"
    );
    assert!(text.contains("  trace      lang: el (detected by Greek script)\n"));
    assert!(
        text.contains("             retrieve[el]: track_parcel "),
        "{text}"
    );
    // The wrong second turn of a conversation, after the turn that escalated.
    let second = format!("FAIL {FAILING}:25:8  wrong second turn on purpose (turn 2 of 2)\n");
    let at = text.find(&second).unwrap_or_else(|| panic!("{text}"));
    let block: Vec<&str> = text[at..].lines().take(6).collect();
    assert_eq!(
        block[1..],
        [
            "  turn 1     «I want to talk to a human» → escalate human_request",
            "  message    «hello?»",
            "             expected       got",
            "  rule       legal_threat   human_request",
            "  register   informal       formal",
        ],
        "{text}"
    );
    assert!(
        text.contains("session is with a person (rule human_request)"),
        "{text}"
    );
    // The passing case is not shown; the summary and the confusion list are.
    assert!(!text.contains(&format!("FAIL {FAILING}:9:")), "{text}");
    assert!(text.contains("\nel        1       0       1 "), "{text}");
    assert!(text.contains("\nen        2       1       1 "), "{text}");
    assert!(
        text.contains("expected topic → got instead:\n  el  lost_parcel → track_parcel  ×1\n"),
        "{text}"
    );
    assert!(text.ends_with("\n2 of 3 cases failed\n"), "{text}");
}

#[test]
fn a_broken_expectation_in_json() {
    let out = sahaya_test(&["--format", "json", FAILING]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["passed"], false);
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[0]["passed"], true);
    let mismatch = &cases[1]["turns"][0]["mismatches"][0];
    assert_eq!(
        *mismatch,
        serde_json::json!({"field": "topic", "expected": "lost_parcel", "got": "track_parcel"})
    );
    assert_eq!(cases[1]["turns"][0]["reply"]["answer_id"], "track_parcel");
    assert_eq!(doc["summary"]["en"]["failed"], 1);
    assert_eq!(
        doc["confusion"],
        serde_json::json!([{"lang": "el", "expected": "lost_parcel", "got": "track_parcel", "count": 1}])
    );
}

#[test]
fn an_unknown_key_is_reported_with_its_position() {
    let out = sahaya_test(&["tests/fixtures/conversations/unknown_key.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "tests/fixtures/conversations/unknown_key.toml:7:1: error: unknown field `decison`"
        ),
        "{err}"
    );
    assert!(err.contains("(hint: did you mean `decision`?)"), "{err}");
    assert!(err.ends_with("nothing was run\n"), "{err}");
}

#[test]
fn bad_toml_is_reported_with_its_position() {
    let out = sahaya_test(&["tests/fixtures/conversations/bad_toml.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("tests/fixtures/conversations/bad_toml.toml:2:"),
        "{err}"
    );
    // In JSON, the same problem for tools.
    let out = sahaya_test(&[
        "--format",
        "json",
        "tests/fixtures/conversations/bad_toml.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["diagnostics"][0]["line"], 2);
    assert_eq!(doc["diagnostics"][0]["severity"], "error");
}

#[test]
fn unknown_topics_and_rules_are_reported_before_running() {
    let out = sahaya_test(&["tests/fixtures/conversations/unknown_ids.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let want = [
        "tests/fixtures/conversations/unknown_ids.toml:3:9: error: unknown topic `track_parcle` (hint: did you mean `track_parcel`?)",
        "tests/fixtures/conversations/unknown_ids.toml:7:8: error: rule `business_tier` never escalates",
    ];
    for w in want {
        assert!(err.contains(w), "no {w:?} in {err}");
    }
}

#[test]
fn no_test_files_is_an_error_that_says_where_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args(["--data", dir.path().to_str().unwrap(), "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("conversations:1:1: error: "), "{err}");
    assert!(err.contains("conversations/*.toml"), "{err}");
    std::fs::create_dir(dir.path().join("conversations")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args(["--data", dir.path().to_str().unwrap(), "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no conversation tests found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_documents_the_file_format_and_exit_codes() {
    let out = sahaya_test(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "Exit status: 0",
        "[[case.turn]]",
        "reply_lang",
        "not_contains",
        "--lang",
        "--format",
    ] {
        assert!(help.contains(needle), "no {needle:?} in {help}");
    }
}
