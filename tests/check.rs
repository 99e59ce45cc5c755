//! `sahaya check`: clean on the shipped content; on tests/fixtures/broken every kind of
//! mistake is reported with its file, line and column (the expected output is
//! tests/fixtures/broken/expected.txt).

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sahaya(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args(args)
        .output()
        .expect("run sahaya")
}

#[test]
fn shipped_content_is_clean() {
    let diags = sahaya::check(root());
    assert!(diags.is_empty(), "{diags:#?}");
    let out = sahaya(&["--data", root().to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn broken_fixtures_are_reported_with_positions() {
    let dir = root().join("tests/fixtures/broken");
    let out = sahaya(&["--data", dir.to_str().unwrap(), "check"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "check must fail on broken content"
    );
    let got = String::from_utf8(out.stdout).unwrap();
    let want = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    assert_eq!(got, want, "diagnostics differ from expected.txt");
}

#[test]
fn every_kind_of_mistake_has_a_line() {
    let dir = root().join("tests/fixtures/broken");
    let diags = sahaya::check(&dir);
    let find = |file: &str, needle: &str| {
        diags
            .iter()
            .find(|d| d.path.ends_with(file) && d.message.contains(needle))
            .unwrap_or_else(|| panic!("no diagnostic for {file} containing {needle:?}: {diags:#?}"))
    };
    assert_eq!(
        (
            find("b/dup.toml", "duplicate").line,
            find("b/dup.toml", "duplicate").col
        ),
        (1, 6)
    );
    assert_eq!(
        find("missing_lang.toml", "missing language `te`").severity,
        sahaya::Severity::Error
    );
    assert_eq!(find("missing_register.toml", "missing register").line, 9);
    assert_eq!(find("empty_answer.toml", "empty answer").line, 7);
    let unknown = find("unknown_key.toml", "unknown field `keywrods`");
    assert_eq!((unknown.line, unknown.col), (7, 1));
    let syntax = find("syntax_error.toml", "basic string");
    assert_eq!(syntax.line, 10);
    let utf8 = find("bad_utf8.toml", "invalid UTF-8");
    assert_eq!((utf8.line, utf8.col), (7, 19));
    find("id_mismatch.toml", "differs from the file name");
    assert_eq!(find("main.ftl", "default variant").line, 5);
    // Rules and the calendar.
    let regex = find("bad.toml", "bad regex");
    assert_eq!((regex.line, regex.col), (4, 9));
    assert_eq!(find("bad.toml", "unknown queue `nowhere`").line, 6);
    assert_eq!(find("typo.toml", "unknown field `phrase`").line, 4);
    let intent = find("intent.toml", "which has no examples");
    assert_eq!((intent.line, intent.col), (4, 10));
    assert_eq!(find("intent.toml", "duplicate examples entry").line, 15);
    assert_eq!(
        find("intent.toml", "both an example and a counter-example").line,
        17
    );
    assert_eq!(find("calendar.toml", "overlaps").line, 4);
    assert_eq!(find("calendar.toml", "ends before it starts").line, 5);
    assert_eq!(find("calendar.toml", "`02-30` is not a date").line, 6);
}

#[test]
fn json_format_lists_the_same_diagnostics() {
    let dir = root().join("tests/fixtures/broken");
    let out = sahaya(&["--data", dir.to_str().unwrap(), "check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = v.as_array().unwrap().len();
    assert_eq!(n, sahaya::check(&dir).len());
    assert!(v[0]["line"].as_u64().unwrap() >= 1);
}

#[test]
fn engine_refuses_to_load_broken_content() {
    let err = sahaya::Engine::load(root().join("tests/fixtures/broken")).unwrap_err();
    assert!(err.is_user_error());
    assert!(err.diagnostics().len() >= 9);
}
