//! Bad input never panics or hangs: the CLI exits 2 with a clear message, the library
//! answers with a fallback or an error.

use sahaya::{Decision, Engine, ErrorKind, Message};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(root()).unwrap())
}

fn ask(args: &[&std::ffi::OsStr], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .arg("--data")
        .arg(root())
        .arg("ask")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn empty_text_is_a_usage_error() {
    let o = ask(&[os("")], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("text is empty"), "{}", stderr(&o));
    let o = ask(&[os(" \u{200C}\t ")], b"");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_megabyte_of_text_is_refused_clearly() {
    let big = "parcel ".repeat(150_000);
    let o = ask(&[os("-")], big.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("limit"), "{}", stderr(&o));
}

#[test]
fn a_megabyte_of_text_gets_a_reply_from_the_library() {
    let big = "where is my parcel ".repeat(60_000);
    let reply = engine().respond(&Message::new(big.clone()));
    assert!(reply.trace.iter().any(|t| t.contains("cut")));
    assert!(matches!(
        engine().try_respond(&Message::new(big)).unwrap_err().kind(),
        ErrorKind::BadRequest(_)
    ));
}

#[cfg(unix)]
#[test]
fn invalid_utf8_arguments_and_stdin_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"where is my \xff\xfe parcel");
    let o = ask(&[bad], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));

    let o = ask(&[], b"where is \xc3\x28 my parcel");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));
}

#[test]
fn text_from_stdin_is_answered() {
    let o = ask(&[os("--json")], "Πού είναι το δέμα μου;".as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lang"], "el");
}

#[test]
fn control_characters_are_ignored() {
    let reply = engine().respond(&Message::new("where\u{0}is\u{7} my\u{1b}[31m parcel\r\n"));
    assert_eq!(reply.answer_id.as_deref(), Some("track_parcel"));
}

#[test]
fn unknown_language_is_an_error_in_the_cli_and_ignored_by_respond() {
    let o = ask(&[os("--lang"), os("xx"), os("hello")], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown language"), "{}", stderr(&o));

    let reply = engine().respond(&Message::new("where is my parcel").lang("klingon"));
    assert_eq!(reply.lang.code(), "en");
    assert!(reply.trace.iter().any(|t| t.contains("ignored language")));
    assert!(engine()
        .try_respond(&Message::new("hi").lang("xx"))
        .is_err());
}

#[test]
fn bad_formality_and_missing_data_dir_are_usage_errors() {
    let o = ask(&[os("--formality"), os("very"), os("hello")], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("formal or informal"));

    let o = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args(["--data", "/nonexistent/sahaya", "ask", "hello"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nonexistent"));
}

#[test]
fn hostile_and_odd_input_never_panics() {
    let inputs = [
        "<script>alert(1)</script>",
        "'; DROP TABLE topics; --",
        "{{ $formality }} { fallback }",
        "\u{202E}gnikcart\u{202C}",
        "🙂🙂🙂📦📦",
        "a",
        "???!!!...",
        &"ab".repeat(5000),
        "పార్సెల్‌‌‌‌‌‌",
        "ΣΣΣΣΣ ςςς",
        "\u{0C4D}\u{0C4D}\u{0C4D}",
    ];
    for text in inputs {
        let reply = engine().respond(&Message::new(text));
        assert!(!reply.text.is_empty(), "{text:?} got an empty reply");
        assert!((0.0..=1.0).contains(&reply.confidence));
    }
    let reply = engine().respond(&Message::new("tell me a joke about quantum physics"));
    assert_eq!(reply.decision, Decision::Fallback);
}
