//! `sahaya mail`: the .eml corpus in tests/mail/ (reply or not, the reason, the reply's
//! headers, parsed back with mail-parser), the per-recipient memory across restarts and
//! concurrent runs, and the abuse cases of issue #18 (replies aimed at a victim through
//! Reply-To, huge subjects and names, control characters, robot markers).
#![cfg(feature = "mail")]

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;
use sahaya::channel::mail::{auto_reply, usable_id, MailConfig, Outcome};
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
    #[serde(default)]
    honour_reply_to: bool,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    unthreaded: bool,
    #[serde(default)]
    body_excludes: Vec<String>,
    #[serde(default)]
    body_includes: Vec<String>,
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
    let mut failures = Vec::new();
    let (mut replies, mut skips) = (0, 0);
    let listed: Vec<&str> = expect.mail.iter().map(|c| c.file.as_str()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".eml") && !listed.contains(&name.as_str()) {
            failures.push(format!("{name}: no [[mail]] entry in expect.toml"));
        }
    }
    for case in &expect.mail {
        let cfg = MailConfig {
            honour_reply_to: case.honour_reply_to,
            ..MailConfig::default()
        };
        // A fresh memory per case: the corpus reuses senders.
        let store = SqliteStore::in_memory().unwrap();
        if let Some(first) = &case.after {
            let raw = std::fs::read(dir.join(first)).unwrap();
            let out = auto_reply(engine(), &store, &cfg, &raw, None, evening()).unwrap();
            if !matches!(out, Outcome::Reply { .. }) {
                failures.push(format!("{}: {first} got no reply: {out:?}", case.file));
                continue;
            }
        }
        let raw = std::fs::read(dir.join(&case.file)).unwrap();
        let out = auto_reply(
            engine(),
            &store,
            &cfg,
            &raw,
            case.sender.as_deref(),
            evening(),
        )
        .unwrap();
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
            (
                "reply",
                Outcome::Reply {
                    to, message, reply, ..
                },
            ) => {
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
        replies >= 20 && skips >= 30,
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
    // Every line ends in CRLF: no lone CR or LF that a transport could read as a new header.
    for (i, &b) in message.iter().enumerate() {
        let lone_cr = b == b'\r' && message.get(i + 1) != Some(&b'\n');
        let lone_lf = b == b'\n' && (i == 0 || message[i - 1] != b'\r');
        if lone_cr || lone_lf {
            return Err(format!("a lone CR or LF at byte {i}"));
        }
    }
    if message.len() > 32 * 1024 {
        return Err(format!("the reply is {} bytes", message.len()));
    }
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
    let refs: Vec<&str> = m
        .references()
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|r| r.as_ref())
        .collect();
    let threading = refs.iter().copied().chain(m.in_reply_to().as_text());
    if let Some(bad) = threading.into_iter().find(|r| !usable_id(r)) {
        return Err(format!("unusable id {bad:?} in the threading headers"));
    }
    if case.unthreaded {
        if m.in_reply_to().as_text().is_some() {
            return Err(format!("In-Reply-To {:?}, expected none", m.in_reply_to()));
        }
        for r in original.references().as_text_list().unwrap_or_default() {
            if usable_id(r) && !refs.contains(&r.as_ref()) {
                return Err(format!("References lost {r}"));
            }
        }
    } else if let Some(id) = original.message_id() {
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
    for bad in &case.body_excludes {
        if body.contains(bad.as_str()) {
            return Err(format!("the body contains {bad:?}:\n{body}"));
        }
    }
    for good in &case.body_includes {
        if !body.contains(good.as_str()) {
            return Err(format!("the body lacks {good:?}:\n{body}"));
        }
    }
    // After hours: the body says when a person is back.
    if !reply.after_hours {
        return Err("expected the after-hours notice at 21:00".into());
    }
    Ok(())
}

fn sahaya_mail(db: &Path, eml: &[u8]) -> (i32, String, String) {
    sahaya_mail_with(db, eml, &[])
}

fn sahaya_mail_with(db: &Path, eml: &[u8], args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args([
            "--data",
            root().to_str().unwrap(),
            "mail",
            "--db",
            db.to_str().unwrap(),
        ])
        .args(args)
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
    // Each reply sent is in the conversation log, as email, without the customer's text.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let logged: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT channel, lang, text FROM reply_log ORDER BY at")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        logged,
        vec![("email".to_string(), "el".to_string(), None); 2]
    );
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

/// A message from `from` (also the Return-Path unless `return_path` is None) that asks for
/// replies at `reply_to`.
fn asking(from: &str, return_path: Option<&str>, reply_to: &str, n: usize) -> String {
    let rp = return_path.map_or(String::new(), |rp| format!("Return-Path: <{rp}>\r\n"));
    format!(
        "{rp}From: Someone <{from}>\r\n\
         Reply-To: {reply_to}\r\n\
         To: support@nova-courier.example\r\n\
         Subject: Where is my parcel?\r\n\
         Message-ID: <flood-{n}@example.net>\r\n\
         Date: Wed, 25 Nov 2026 19:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Where is my parcel NV1234567890GR?\r\n"
    )
}

fn replies_to(cfg: &MailConfig, messages: &[String]) -> Vec<String> {
    let store = SqliteStore::in_memory().unwrap();
    messages
        .iter()
        .filter_map(|m| {
            match auto_reply(engine(), &store, cfg, m.as_bytes(), None, evening()).unwrap() {
                Outcome::Reply { to, .. } => Some(to),
                Outcome::Skip(_) => None,
            }
        })
        .collect()
}

#[test]
fn reply_to_cannot_aim_a_flood_of_replies_at_a_victim() {
    let victim = "victim.person@example.org";
    // 20 senders, half with a Return-Path, half without, all asking for replies at the victim.
    let flood: Vec<String> = (0..20)
        .map(|n| {
            let from = format!("attacker{n}@example.net");
            let rp = (n % 2 == 0).then_some(from.as_str());
            asking(&from, rp, victim, n)
        })
        .collect();
    let sent = replies_to(&MailConfig::default(), &flood);
    assert_eq!(sent.len(), 20, "each sender gets its own reply: {sent:?}");
    assert!(!sent.iter().any(|to| to == victim), "{sent:?}");

    // Opted in to Reply-To, the memory counts the victim: one reply, not twenty.
    let honour = MailConfig {
        honour_reply_to: true,
        ..MailConfig::default()
    };
    assert_eq!(replies_to(&honour, &flood), [victim]);

    // Spelling the victim's gmail address differently does not buy more replies.
    let gmail: Vec<String> = [
        "v.ictim@gmail.com",
        "victim+1@gmail.com",
        "Vic.Tim+2@GMail.com",
    ]
    .iter()
    .enumerate()
    .map(|(n, rt)| asking(&format!("a{n}@example.net"), None, rt, n))
    .collect();
    assert_eq!(replies_to(&honour, &gmail).len(), 1);

    // The envelope sender is what RFC 3834 answers; the memory protects it the same way.
    let spoofed: Vec<String> = (0..20)
        .map(|n| asking(&format!("attacker{n}@example.net"), Some(victim), victim, n))
        .collect();
    assert_eq!(replies_to(&MailConfig::default(), &spoofed), [victim]);

    // Reply-To naming a robot or ourselves is refused when honoured, ignored otherwise.
    for rt in [
        "MAILER-DAEMON@mx.example.com",
        "noreply+x@example.com",
        "support@nova-courier.example",
    ] {
        let m = asking("dora@example.net", Some("dora@example.net"), rt, 99);
        assert_eq!(
            replies_to(&MailConfig::default(), std::slice::from_ref(&m)),
            ["dora@example.net"]
        );
        assert!(replies_to(&honour, &[m]).is_empty(), "{rt}");
    }
}

#[test]
fn a_huge_subject_gets_a_small_reply() {
    let subject = "Where is my parcel? ".repeat(50_000); // 1 MB
    let raw = QUESTION.replace(
        "=?UTF-8?B?zqDOv8+NIM61zq/Ovc6xzrkgz4TOvyDOtM6tzrzOsSDOvM6/z4U7?=",
        &subject,
    );
    assert!(raw.len() > 1_000_000);
    let store = SqliteStore::in_memory().unwrap();
    let out = auto_reply(
        engine(),
        &store,
        &MailConfig::default(),
        raw.as_bytes(),
        None,
        evening(),
    )
    .unwrap();
    let Outcome::Reply { message, .. } = out else {
        panic!("no reply: {out:?}");
    };
    assert!(message.len() < 16 * 1024, "{} bytes", message.len());
    let m = MessageParser::default().parse(&message).unwrap();
    let quoted = m.subject().unwrap().strip_prefix("Auto: ").unwrap();
    assert_eq!(quoted.chars().count(), 200, "{quoted}");
    assert!(quoted.starts_with("Where is my parcel? Where"), "{quoted}");
    assert!(quoted.ends_with('…'), "{quoted}");
}

#[test]
fn the_envelope_sender_argument_decides_the_recipient() {
    let db = temp_db("envelope");
    let (code, out, err) = sahaya_mail_with(
        &db,
        QUESTION.as_bytes(),
        &["--sender", "<eleni.envelope@example.gr>"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("To: <eleni.envelope@example.gr>"), "{out}");
    assert!(
        err.contains("auto-reply to eleni.envelope@example.gr"),
        "{err}"
    );
    // Postfix's ${sender} of a bounce: empty, or MAILER-DAEMON by default.
    for bounce in ["", "<>", "MAILER-DAEMON"] {
        let (code, out, err) = sahaya_mail_with(&db, QUESTION.as_bytes(), &["--sender", bounce]);
        assert_eq!(code, 1, "{bounce:?}: {err}");
        assert!(out.is_empty());
        assert!(err.contains("null-sender"), "{bounce:?}: {err}");
    }
    let (code, out, err) =
        sahaya_mail_with(&db, QUESTION.as_bytes(), &["--sender", "-x@example.gr\r"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("To: <-x@example.gr>"), "{out}");
    let (code, _, err) = sahaya_mail_with(&db, QUESTION.as_bytes(), &["--sender", "a\rb@x"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("bad-address") && err.contains("a\\rb@x"),
        "{err}"
    );
}
