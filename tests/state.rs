//! Several replicas, one truth: real `sahaya serve` and `sahaya mail` processes sharing one
//! PostgreSQL database.
//!
//! The database is `SAHAYA_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a schema of its own,
//! dropped at the end. Without a reachable server the tests are skipped with a message,
//! unless `SAHAYA_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes that a failure.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "admin-token-for-tests";
const SECRET: &str = "webhook-secret-for-tests";
const HUMAN: &str = "I want to talk to a person, please";
const QUESTION: &str = "Where is my parcel?";
const NONSENSE: &str = "zorvex plimbat quandle fizzwick";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A schema of its own in the test database, dropped when the test ends.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    /// None (after saying why) when PostgreSQL cannot be reached and is not required.
    fn new(tag: &str) -> Option<Schema> {
        let base = std::env::var("SAHAYA_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("SAHAYA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                    panic!("PostgreSQL is required (SAHAYA_REQUIRE_POSTGRES=1) but {base} is not reachable: {e}");
                }
                eprintln!("skipped: PostgreSQL at {base} is not reachable ({e}); set SAHAYA_TEST_POSTGRES_URL");
                return None;
            }
        };
        let name = format!("sahaya_test_{tag}_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .unwrap();
        Some(Schema { base, name })
    }

    /// The URL that puts every table of Sahaya in this schema.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `sahaya serve` process; killed when dropped.
struct Replica {
    child: Child,
    port: u16,
    config: PathBuf,
    log: PathBuf,
}

impl Replica {
    fn start(config: &Path, port: u16) -> Replica {
        let mut r = Replica::spawn(config, port);
        r.wait_for("/readyz");
        r
    }

    /// Started, without waiting for it to be ready.
    fn spawn(config: &Path, port: u16) -> Replica {
        let log = config.with_extension(format!("{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sahaya"))
            .args(["--data", root().to_str().unwrap(), "serve", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .env_remove("SAHAYA_STATE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica {
            child,
            port,
            config: config.to_path_buf(),
            log,
        }
    }

    /// Waits until `path` answers 200.
    fn wait_for(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "sahaya serve exited with {status}:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = ureq::get(&self.url(path)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{path} of sahaya serve on port {} never answered 200",
            self.port
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn respond(&self, text: &str, session: &str) -> Value {
        ureq::post(&self.url("/v1/respond"))
            .send_json(json!({"text": text, "lang": "en", "session_id": session}))
            .unwrap_or_else(|e| panic!("respond on port {}: {e}", self.port))
            .into_json()
            .unwrap()
    }

    fn hand_back(&self, session: &str) -> bool {
        let v: Value = ureq::post(&self.url(&format!("/v1/sessions/{session}/handback")))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        v["handed_back"].as_bool().unwrap()
    }

    /// Stops the process at once, as a crash or `kill -9` would.
    fn kill(mut self) -> (PathBuf, u16) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.config.clone(), self.port)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    let path = dir.join("sahaya.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nadmin_token = \"{TOKEN}\"\nwatch = false\n\n[state]\nurl = \"{url}\"\n\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// A fresh handoff (not the "please wait" of a conversation already with a person).
fn fresh_handoff(reply: &Value) -> bool {
    reply["decision"] == "escalate"
        && !reply["trace"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("session is with a person"))
}

fn waiting(reply: &Value) -> bool {
    reply["decision"] == "escalate" && !fresh_handoff(reply)
}

#[test]
fn two_replicas_share_handoffs_hand_backs_and_fallback_counts_across_restarts() {
    let Some(schema) = Schema::new("replicas") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &schema.url(), "");
    let a = Replica::start(&config, free_port());
    let b = Replica::start(&config, free_port());

    // Escalated through A: B stays quiet.
    let r = a.respond(HUMAN, "c-1");
    assert!(fresh_handoff(&r), "{r}");
    let r = b.respond(QUESTION, "c-1");
    assert!(
        waiting(&r),
        "B answered a conversation that is with a person: {r}"
    );
    // Handed back through B: A answers again.
    assert!(b.hand_back("c-1"));
    assert!(!a.hand_back("c-1"), "the hand-back is seen by A too");
    let r = a.respond(QUESTION, "c-1");
    assert_eq!(r["decision"], "answer", "{r}");

    // Fallbacks in a row count across replicas: one on A, the next on B escalates.
    let first = a.respond(NONSENSE, "c-2");
    assert_eq!(first["decision"], "fallback", "{first}");
    let second = b.respond(NONSENSE, "c-2");
    assert_eq!(
        second["escalation"]["rule"], "repeated_fallback",
        "{second}"
    );

    // A conversation with a person and one halfway to a fallback escalation, then both
    // replicas restart.
    assert!(fresh_handoff(&b.respond(HUMAN, "c-3")));
    assert_eq!(a.respond(NONSENSE, "c-4")["decision"], "fallback");
    let (config_a, port_a) = a.kill();
    let (config_b, port_b) = b.kill();
    let a = Replica::start(&config_a, port_a);
    let b = Replica::start(&config_b, port_b);

    assert!(
        waiting(&a.respond(QUESTION, "c-3")),
        "the handoff outlived the restart"
    );
    assert!(waiting(&b.respond(QUESTION, "c-3")));
    let r = b.respond(NONSENSE, "c-4");
    assert!(fresh_handoff(&r), "{r}");
    assert_eq!(r["escalation"]["rule"], "repeated_fallback", "{r}");
    assert!(a.hand_back("c-3"));
    assert_eq!(b.respond(QUESTION, "c-3")["decision"], "answer");
    assert!(waiting(&a.respond(QUESTION, "c-2")), "still with a person");

    // What the database holds agrees.
    let rows = schema
        .client()
        .query("SELECT key, data FROM sahaya_session ORDER BY key", &[])
        .unwrap();
    let keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(keys, ["api:c-1", "api:c-2", "api:c-3", "api:c-4"]);

    // Both replicas write one conversation log: feedback on a reply of A is taken by B, and
    // `sahaya report` on the same database counts every reply of both.
    let reply = a.respond(QUESTION, "c-5");
    let id = reply["reply_id"]
        .as_str()
        .expect("the reply is logged")
        .to_string();
    let mut client = schema.client();
    // A writes its log a moment after it answers; a customer's 👍 comes later still.
    wait_for("A's log row", Duration::from_secs(10), || {
        client
            .query_opt("SELECT 1 FROM sahaya_reply_log WHERE reply_id = $1", &[&id])
            .unwrap()
            .is_some()
    });
    let recorded: Value = ureq::post(&b.url("/v1/feedback"))
        .send_json(json!({"reply_id": id, "helpful": true, "rating": 5}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(recorded["recorded"], true);
    // Every respond call since the restart (the replicas were killed, so what they had
    // not written yet may be lost; a graceful stop writes it).
    let since_restart = 6;
    let mut replies: i64 = 0;
    wait_for("the log rows", Duration::from_secs(10), || {
        replies = client
            .query_one("SELECT count(*) FROM sahaya_reply_log", &[])
            .unwrap()
            .get(0);
        replies >= since_restart
    });
    let out = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args([
            "--data",
            root().to_str().unwrap(),
            "report",
            "--since",
            "1h",
            "--format",
            "json",
        ])
        .env("SAHAYA_STATE_URL", schema.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"]["replies"], replies);
    assert!(replies <= 13, "no reply is logged twice");
    assert_eq!(report["total"]["helpful"], 1);
    assert_eq!(report["total"]["satisfied"], 1);
    assert_eq!(report["by_lang"]["en"]["replies"], replies);
}

#[test]
fn the_sqlite_default_keeps_conversations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let config = dir.path().join("sahaya.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nadmin_token = \"{TOKEN}\"\nwatch = false\n\n[state]\npath = {:?}\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    let a = Replica::start(&config, free_port());
    assert!(fresh_handoff(&a.respond(HUMAN, "s-1")));
    assert_eq!(a.respond(NONSENSE, "s-2")["decision"], "fallback");
    let (config, port) = a.kill();
    assert!(db.exists(), "the conversations are in the file");
    let a = Replica::start(&config, port);
    assert!(
        waiting(&a.respond(QUESTION, "s-1")),
        "the handoff outlived the restart"
    );
    let r = a.respond(NONSENSE, "s-2");
    assert_eq!(r["escalation"]["rule"], "repeated_fallback", "{r}");
    assert!(a.hand_back("s-1"));
    assert_eq!(a.respond(QUESTION, "s-1")["decision"], "answer");
}

#[test]
fn without_its_database_a_replica_is_not_ready_and_keeps_conversations_waiting() {
    // Nothing listens on this port: the state database cannot be reached.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let config = dir.path().join("sahaya.toml");
    std::fs::write(
        &config,
        format!("[server]\nwatch = false\n\n[state]\nurl = \"{url}\"\nconnect_timeout_secs = 1\n"),
    )
    .unwrap();
    let mut a = Replica::spawn(&config, free_port());
    a.wait_for("/healthz");
    let ready = ureq::get(&a.url("/readyz")).call();
    let Err(ureq::Error::Status(503, resp)) = ready else {
        panic!("ready without its database: {ready:?}")
    };
    let body: Value = resp.into_json().unwrap();
    assert_eq!(body["status"], "state_unavailable", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
    // A message of a conversation is refused (it may be with a person), with a hint when
    // to retry; a message outside any conversation is still answered.
    let r = ureq::post(&a.url("/v1/respond"))
        .send_json(json!({"text": QUESTION, "lang": "en", "session_id": "x-1"}));
    let Err(ureq::Error::Status(503, resp)) = r else {
        panic!("answered without the conversation's memory: {r:?}")
    };
    assert!(resp.header("Retry-After").is_some());
    let body: Value = resp.into_json().unwrap();
    assert_eq!(body["error"]["code"], "state_unavailable", "{body}");
    let r: Value = ureq::post(&a.url("/v1/respond"))
        .send_json(json!({"text": QUESTION, "lang": "en"}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(r["decision"], "answer", "{r}");
}

#[test]
fn eight_threads_on_two_replicas_never_lose_an_escalation_or_a_hand_back() {
    let Some(schema) = Schema::new("concurrency") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &schema.url(), "");
    let replicas = Arc::new([
        Replica::start(&config, free_port()),
        Replica::start(&config, free_port()),
    ]);
    let conversations = ["busy-1", "busy-2", "busy-3"];
    let handoffs: Arc<Vec<AtomicU32>> =
        Arc::new(conversations.iter().map(|_| AtomicU32::new(0)).collect());
    let hand_backs: Arc<Vec<AtomicU32>> =
        Arc::new(conversations.iter().map(|_| AtomicU32::new(0)).collect());
    let threads = 8;
    let per_thread = 24;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (replicas, handoffs, hand_backs) = (
                Arc::clone(&replicas),
                Arc::clone(&handoffs),
                Arc::clone(&hand_backs),
            );
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    // Each thread alternates replicas and conversations.
                    let replica = &replicas[(t + i) % 2];
                    let c = (t + 2 * i) % conversations.len();
                    let text = match (t + i) % 3 {
                        0 => HUMAN,
                        1 => QUESTION,
                        _ => "hello?",
                    };
                    if fresh_handoff(&replica.respond(text, conversations[c])) {
                        handoffs[c].fetch_add(1, Ordering::SeqCst);
                    }
                    if i % 4 == t % 4 && replicas[(t + i + 1) % 2].hand_back(conversations[c]) {
                        hand_backs[c].fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("no thread panics");
    }

    let mut client = schema.client();
    let mut turns = 0;
    for (c, name) in conversations.iter().enumerate() {
        let data: String = client
            .query_one(
                "SELECT data FROM sahaya_session WHERE key = $1",
                &[&format!("api:{name}")],
            )
            .unwrap()
            .get(0);
        let session: Value = serde_json::from_str(&data).unwrap();
        let (handoffs, hand_backs) = (
            handoffs[c].load(Ordering::SeqCst),
            hand_backs[c].load(Ordering::SeqCst),
        );
        assert!(
            handoffs > 1 && hand_backs > 0,
            "{name}: {handoffs} handoffs, {hand_backs} hand-backs"
        );
        assert_eq!(
            session["escalations"], handoffs,
            "{name}: an escalation was lost: {session}"
        );
        let open = u32::from(!session["escalated"].is_null());
        assert_eq!(
            handoffs,
            hand_backs + open,
            "{name}: a hand-back was lost or undone: {session}"
        );
        turns += session["turns"].as_u64().unwrap();
    }
    assert_eq!(
        turns,
        (threads * per_thread) as u64,
        "a message was not counted"
    );
}

const MAIL: &str = "Return-Path: <SENDER>\r\n\
From: Customer <SENDER>\r\n\
To: support@nova-courier.example\r\n\
Subject: Where is my parcel?\r\n\
Message-ID: <MSGID@example.org>\r\n\
Date: Wed, 25 Nov 2026 19:00:00 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Hello, where is my parcel? The tracking number is NV1234567890GR.\r\n";

/// `sahaya mail` with the state database at `url`, `mail` on its standard input.
fn sahaya_mail(url: &str, mail: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sahaya"))
        .args(["--data", root().to_str().unwrap(), "mail"])
        .env("SAHAYA_STATE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(mail.as_bytes())
        .unwrap();
    child
}

#[test]
fn mail_on_two_hosts_for_one_sender_replies_exactly_once() {
    let Some(schema) = Schema::new("mail") else {
        return;
    };
    for round in 0..3 {
        let sender = format!("customer-{round}@example.org");
        let mail = MAIL
            .replace("SENDER", &sender)
            .replace("MSGID", &format!("m{round}"));
        let hosts: Vec<Child> = (0..2).map(|_| sahaya_mail(&schema.url(), &mail)).collect();
        let outs: Vec<_> = hosts
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
        let replies = outs
            .iter()
            .filter(|o| String::from_utf8_lossy(&o.stdout).contains("Auto-Submitted: auto-replied"))
            .count();
        let errs: Vec<_> = outs
            .iter()
            .map(|o| String::from_utf8_lossy(&o.stderr))
            .collect();
        assert_eq!(replies, 1, "round {round}: codes {codes:?}, {errs:?}");
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1], "round {round}: {errs:?}");
    }
    let n: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM sahaya_auto_reply", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

#[test]
fn mail_with_the_database_down_asks_the_mta_to_retry() {
    // Nothing listens on this port: the state database cannot be reached.
    let url = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let mail = MAIL
        .replace("SENDER", "x@example.org")
        .replace("MSGID", "down");
    let out = sahaya_mail(&url, &mail).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("unavailable") && err.contains("127.0.0.1"),
        "{err}"
    );
}

/// A help desk that records every escalation delivered to it and can be told to fail or
/// to hang.
#[derive(Default)]
struct HelpDesk {
    /// Answers 500 to this many requests first.
    fail_first: u32,
    /// Holds the next request without answering until the connection is closed.
    hang_next: bool,
    /// Requests seen.
    requests: u32,
    /// Delivery id → bodies accepted with a 2xx.
    accepted: HashMap<String, Vec<String>>,
    /// A request arrived that is being held.
    hanging: bool,
    bad_signatures: u32,
}

fn help_desk() -> (String, Arc<Mutex<HelpDesk>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/sahaya", listener.local_addr().unwrap());
    let desk = Arc::new(Mutex::new(HelpDesk::default()));
    let shared = Arc::clone(&desk);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let desk = Arc::clone(&shared);
            std::thread::spawn(move || serve_one(stream, &desk));
        }
    });
    (url, desk)
}

fn serve_one(mut stream: TcpStream, desk: &Mutex<HelpDesk>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = HashMap::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8(body).unwrap();
    let status = {
        let mut d = desk.lock().unwrap();
        d.requests += 1;
        let signed = sahaya::server::signature::verify(
            SECRET,
            headers.get("x-sahaya-timestamp").map(String::as_str),
            headers.get("x-sahaya-signature").map(String::as_str),
            body.as_bytes(),
            chrono::Utc::now().timestamp(),
        )
        .is_ok();
        if !signed {
            d.bad_signatures += 1;
        }
        if d.hang_next {
            d.hang_next = false;
            d.hanging = true;
            None
        } else if d.fail_first > 0 {
            d.fail_first -= 1;
            Some("500 Internal Server Error")
        } else {
            let id = headers
                .get("x-sahaya-delivery")
                .cloned()
                .unwrap_or_default();
            d.accepted.entry(id).or_default().push(body);
            Some("200 OK")
        }
    };
    match status {
        Some(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        // Held: wait until the sender goes away.
        None => {
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_outbox_delivers_each_escalation_once_across_replicas_failures_and_a_crash() {
    let Some(schema) = Schema::new("outbox") else {
        return;
    };
    let (hook, desk) = help_desk();
    desk.lock().unwrap().fail_first = 3;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &schema.url(),
        &format!(
            "[webhook]\nurl = \"{hook}\"\nsecret = \"{SECRET}\"\ntimeout_secs = 2\nmax_attempts = 10\n"
        ),
    );
    let a = Replica::start(&config, free_port());
    let b = Replica::start(&config, free_port());

    // Six handoffs, through both replicas, while the help desk fails at first.
    for i in 0..6 {
        let replica = if i % 2 == 0 { &a } else { &b };
        assert!(fresh_handoff(&replica.respond(HUMAN, &format!("o-{i}"))));
    }
    wait_for("six deliveries", Duration::from_secs(90), || {
        desk.lock().unwrap().accepted.len() == 6
    });
    // A moment more: nothing is sent twice.
    std::thread::sleep(Duration::from_secs(3));
    {
        let d = desk.lock().unwrap();
        assert_eq!(d.accepted.len(), 6);
        for (id, bodies) in &d.accepted {
            assert_eq!(
                bodies.len(),
                1,
                "delivery {id} was accepted {} times",
                bodies.len()
            );
        }
        assert_eq!(d.bad_signatures, 0, "every delivery is signed");
        assert!(
            d.requests >= 9,
            "the failures were retried: {} requests",
            d.requests
        );
    }

    // A replica dies while the help desk holds its delivery; after the restart the
    // escalation is delivered, once.
    let (config_b, port_b) = b.kill();
    desk.lock().unwrap().hang_next = true;
    assert!(fresh_handoff(&a.respond(HUMAN, "o-crash")));
    wait_for("the held delivery", Duration::from_secs(30), || {
        desk.lock().unwrap().hanging
    });
    let (config_a, port_a) = a.kill();
    let _a = Replica::start(&config_a, port_a);
    let _b = Replica::start(&config_b, port_b);
    wait_for(
        "the delivery of the crashed replica",
        Duration::from_secs(60),
        || desk.lock().unwrap().accepted.len() == 7,
    );
    std::thread::sleep(Duration::from_secs(3));
    let d = desk.lock().unwrap();
    assert!(d.accepted.values().all(|b| b.len() == 1));
    let crash: Vec<_> = d
        .accepted
        .values()
        .flatten()
        .filter(|b| b.contains("\"session_id\":\"o-crash\""))
        .collect();
    assert_eq!(crash.len(), 1, "{crash:?}");
    drop(d);
    let (delivered, waiting): (i64, i64) = {
        let row = schema
            .client()
            .query_one(
                "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL),
                        count(*) FILTER (WHERE delivered_at IS NULL)
                 FROM sahaya_outbox",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((delivered, waiting), (7, 0));
}
