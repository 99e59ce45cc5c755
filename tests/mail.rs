//! `sahaya mail`: the .eml corpus in tests/mail/ (reply or not, the reason, the reply's
//! headers, parsed back with mail-parser), and the per-sender memory across restarts and
//! concurrent runs.
#![cfg(feature = "mail")]

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;
use sahaya::channel::mail::{auto_reply, MailConfig, Outcome};
use sahaya::store::SqliteStore;
use sahaya::Engine;
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(root()).unwrap())
}

#[derive(Deserialize)]
struct Expect {
    mail: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    expect: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    escalate: bool,
}

/// Wednesday 25 November 2026, 21:00 in Athens: after hours.
fn evening() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T21:00:00+02:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn corpus_replies_and_refusals() {
    let dir = root().join("tests/mail");
    let expect: Expect =
        toml::from_str(&std::fs::read_to_string(dir.join("expect.toml")).unwrap()).unwrap();
    let cfg = MailConfig::default();
    let mut failures = Vec::new();
    let (mut replies, mut skips) = (0, 0);
    for case in &expect.mail {
        // A fresh memory per message: the corpus reuses senders.
        let store = SqliteStore::in_memory().unwrap();
        let raw = std::fs::read(dir.join(&case.file)).unwrap();
        let out = auto_reply(engine(), &store, &cfg, &raw, evening()).unwrap();
        match (case.expect.as_str(), out) {
            ("skip", Outcome::Skip(why)) => {
                skips += 1;
                if why.code() != case.reason {
                    failures.push(format!(
                        "{}: skipped for {why}, expected {}",
                        case.file, case.reason
                    ));
                }
            }
            ("reply", Outcome::Reply { to, message, reply }) => {
                replies += 1;
                println!(
                    "{}: {:?} {} {}",
                    case.file,
                    reply.decision,
                    reply.answer_id.as_deref().unwrap_or("-"),
                    reply.escalation.as_ref().map_or("", |e| e.rule.as_str())
                );
                if let Err(e) = check_reply(case, &raw, &to, &message, &reply) {
                    failures.push(format!("{}: {e}", case.file));
                }
            }
            (want, Outcome::Skip(why)) => {
                failures.push(format!("{}: expected {want}, got {why}", case.file))
            }
            (want, Outcome::Reply { reply, .. }) => failures.push(format!(
                "{}: expected {want} ({}), got a reply: {:?}",
                case.file, case.reason, reply.trace
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replies >= 10 && skips >= 15,
        "{replies} replies, {skips} skips"
    );
}

fn check_reply(
    case: &Case,
    raw: &[u8],
    to: &str,
    message: &[u8],
    reply: &sahaya::Reply,
) -> Result<(), String> {
    let original = MessageParser::default().parse(raw).unwrap();
    let m = MessageParser::default()
        .parse(message)
        .ok_or("the reply does not parse")?;
    let header = |n: &str| {
        m.headers_raw()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim().to_string())
    };
    if header("Auto-Submitted").as_deref() != Some("auto-replied") {
        return Err(format!("Auto-Submitted is {:?}", header("Auto-Submitted")));
    }
    let recipients: Vec<String> = m
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if recipients != [case.to.clone()] || to != case.to {
        return Err(format!(
            "reply goes to {recipients:?}, expected {}",
            case.to
        ));
    }
    if m.subject() != Some(case.subject.as_str()) {
        return Err(format!(
            "subject {:?}, expected {:?}",
            m.subject(),
            case.subject
        ));
    }
    let raw_subject = header("Subject").unwrap_or_default();
    if !case.subject.is_ascii() && !raw_subject.contains("=?") {
        return Err(format!(
            "non-ASCII subject not RFC 2047 encoded: {raw_subject}"
        ));
    }
    if let Some(id) = original.message_id() {
        if m.in_reply_to().as_text() != Some(id) {
            return Err(format!("In-Reply-To {:?}, expected {id}", m.in_reply_to()));
        }
        let refs = m.references().as_text_list().unwrap_or_default();
        if refs.last().map(|r| r.as_ref()) != Some(id) {
            return Err(format!("References {refs:?} do not end with {id}"));
        }
        for r in original.references().as_text_list().unwrap_or_default() {
            if !refs.contains(r) {
                return Err(format!("References lost {r}"));
            }
        }
    }
    if m.date().is_none() || m.message_id().is_none() {
        return Err("no Date or Message-ID".into());
    }
    if m.from().and_then(|a| a.first()).and_then(|a| a.address())
        != Some("support@nova-courier.example")
    {
        return Err(format!("From {:?}", m.from()));
    }
    if reply.lang.code() != case.lang {
        return Err(format!(
            "reply in {}, expected {}: {:?}",
            reply.lang, case.lang, reply.trace
        ));
    }
    if reply.decision == sahaya::Decision::Fallback {
        return Err(format!("the question went unanswered: {:?}", reply.trace));
    }
    let escalated = reply.decision == sahaya::Decision::Escalate;
    if escalated != case.escalate {
        return Err(format!(
            "escalated {escalated}, expected {}: {:?}",
            case.escalate, reply.trace
        ));
    }
    let body = m.body_text(0).ok_or("no text body")?;
    if body.replace("\r\n", "\n").trim() != reply.text.trim() {
        return Err("body differs from the engine's reply".into());
    }
    // After hours: the body says when a person is back.
    if !reply.after_hours {
        return Err("expected the after-hours notice at 21:00".into());
    }
    Ok(())
}

fn sahaya_mail(db: &Path, eml: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args([
            "--data",
            root().to_str().unwrap(),
            "mail",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(eml).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sahaya-mail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.db")
}

const QUESTION: &str = "Return-Path: <eleni.p@example.gr>\r\n\
From: Eleni P <eleni.p@example.gr>\r\n\
To: support@nova-courier.example\r\n\
Subject: =?UTF-8?B?zqDOv8+NIM61zq/Ovc6xzrkgz4TOvyDOtM6tzrzOsSDOvM6/z4U7?=\r\n\
Message-ID: <q1@example.gr>\r\n\
Date: Wed, 25 Nov 2026 19:00:00 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Καλησπέρα σας, πού είναι το δέμα μου; Ο αριθμός είναι NV1234567890GR.\r\n";

#[test]
fn the_memory_survives_a_restart() {
    let db = temp_db("restart");
    let (code, out, err) = sahaya_mail(&db, QUESTION.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Auto-Submitted: auto-replied"), "{out}");
    // A new process, the same database: the sender already had a reply this week.
    let (code, out, err) = sahaya_mail(&db, QUESTION.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("recently-replied"), "{err}");
    // Another sender still gets one.
    let other = QUESTION.replace("eleni.p@example.gr", "nikos@example.gr");
    assert_eq!(sahaya_mail(&db, other.as_bytes()).0, 0);
}

#[test]
fn concurrent_runs_for_one_sender_reply_exactly_once() {
    let db = temp_db("concurrent");
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || sahaya_mail(&db, QUESTION.as_bytes()))
        })
        .collect();
    let results: Vec<(i32, String, String)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let replies = results.iter().filter(|r| r.0 == 0).count();
    let skipped = results
        .iter()
        .filter(|r| r.0 == 1 && r.2.contains("recently-replied"))
        .count();
    assert_eq!((replies, skipped), (1, 5), "{results:#?}");
    // The database is intact afterwards.
    let (code, _, err) = sahaya_mail(&db, QUESTION.as_bytes());
    assert_eq!(code, 1, "{err}");
}

#[test]
fn garbage_and_empty_input_are_refused_cleanly() {
    let db = temp_db("garbage");
    let (code, out, err) = sahaya_mail(&db, b"");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("no auto-reply"), "{err}");
    let (code, out, _) = sahaya_mail(&db, &[0xff, 0xfe, 0x00, 0x41]);
    assert_ne!(code, 0);
    assert!(out.is_empty());
}
