//! The preview page and the editors' report in a real browser: headless Chromium driven by
//! chromedriver over the W3C WebDriver protocol. A Telugu question gets its answer; hostile
//! text is shown as text; 👍 is recorded; the HTML report renders its charts without a
//! console error.
//!
//! Needs `chromium` and `chromedriver` on PATH (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test says so and passes, unless
//! `SAHAYA_REQUIRE_BROWSER=1`, as in CI, where it fails.

use sahaya::server::{AppState, Integrations, ServerConfig};
use sahaya::store::{LogConfig, SqliteStore};
use sahaya::Engine;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver, killed when dropped.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(program: &PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = driver.call("GET", "/status", None) {
                if v["ready"] == true {
                    return driver;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver command; `Err` holds the error object of a failed command.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let req = self.agent.request(method, &format!("{}{path}", self.base));
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match resp {
            Ok(r) => Ok(r.into_json::<Value>().map_err(|e| json!(e.to_string()))?["value"].take()),
            Err(ureq::Error::Status(_, r)) => {
                Err(r.into_json::<Value>().unwrap_or(Value::Null)["value"].take())
            }
            Err(e) => Err(json!(e.to_string())),
        }
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

impl Session<'_> {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .unwrap_or_else(|| panic!("find {css}: {found}"))
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("element {e}"))
                    .to_string()
            })
            .collect()
    }

    fn find(&self, css: &str) -> String {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element {css}"))
    }

    fn text(&self, element: &str) -> String {
        self.cmd("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn type_into(&self, element: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, element: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Waits for the `n`th bot turn and returns its reply text.
    fn bot_reply(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let turns = self.find_all("#log li.bot .reply-text");
            if turns.len() >= n {
                return self.text(&turns[n - 1]);
            }
            assert!(Instant::now() < deadline, "no reply {n} appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alert_open(&self) -> bool {
        self.driver
            .call("GET", &format!("/session/{}/alert/text", self.id), None)
            .is_ok()
    }
}

/// chromedriver and Chromium, or `None` (after saying why) when they are missing and not
/// required.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("SAHAYA_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let chromedriver = find_program(&["chromedriver"]);
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let (Some(chromedriver), Some(chromium)) = (chromedriver, chromium) else {
        let why =
            "chromium and chromedriver are not on PATH (apt-get install chromium chromium-driver)";
        assert!(!required, "SAHAYA_REQUIRE_BROWSER=1 but {why}");
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(std::io::stderr(), "skipping the browser test: {why}");
        return None;
    };
    Some((chromedriver, chromium))
}

/// A headless Chromium session that keeps the browser console's messages.
fn open_session<'a>(
    driver: &'a Driver,
    chromium: &std::path::Path,
    profile: &std::path::Path,
    size: &str,
) -> Session<'a> {
    let created = driver
        .call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", format!("--window-size={size}"),
                             format!("--user-data-dir={}", profile.display())]
                }
            }}})),
        )
        .unwrap_or_else(|e| panic!("new WebDriver session: {e}"));
    Session {
        driver,
        id: created["sessionId"].as_str().unwrap().to_string(),
    }
}

impl Session<'_> {
    /// The browser console's errors since the last call.
    fn console_errors(&self) -> Vec<String> {
        let log = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        log.as_array()
            .unwrap_or_else(|| panic!("browser log: {log}"))
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

#[test]
fn preview_page_answers_telugu_and_shows_hostile_text_as_text() {
    let Some((chromedriver, chromium)) = browser() else {
        return;
    };

    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
    let mut integrations = Integrations::new(store.clone());
    integrations.log = Some(LogConfig::default());
    let state = AppState::with_integrations(engine, ServerConfig::default(), integrations);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(sahaya::server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let driver = Driver::start(&chromedriver);
    let profile = tempfile::tempdir().unwrap();
    let session = open_session(&driver, &chromium, profile.path(), "900,1000");
    session.cmd("POST", "/url", Some(json!({ "url": format!("{base}/") })));
    assert_eq!(session.cmd("GET", "/title", None), "Sahaya preview");

    // A Telugu question, sent with the button.
    let input = session.find("#text");
    session.type_into(&input, "నా పార్సెల్ ఎక్కడ ఉంది?");
    session.click(&session.find("#send"));
    let reply = session.bot_reply(1);
    assert!(
        reply.contains("nova-courier.example/track"),
        "reply: {reply}"
    );
    assert!(
        reply
            .chars()
            .any(|c| ('\u{0C00}'..='\u{0C7F}').contains(&c)),
        "in Telugu: {reply}"
    );
    assert_eq!(
        session.text(&session.find("#log li.bot .decision")),
        "answer"
    );
    assert_eq!(
        session.text(&session.find("#log li.bot .answer-id")),
        "track_parcel"
    );
    assert_eq!(
        session.text(&session.find("#log li.user .user-text")),
        "నా పార్సెల్ ఎక్కడ ఉంది?"
    );

    // 👍 under the answer is recorded against its reply.
    session.click(&session.find("#log li.bot .feedback-up"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.text(&session.find("#log li.bot .feedback-status")) != "Thank you" {
        assert!(
            Instant::now() < deadline,
            "the feedback was not acknowledged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    use sahaya::store::Store;
    let log = store.read_log(0, i64::MAX).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.topic.as_deref(), Some("track_parcel"));
    assert_eq!(log[0].feedback.as_ref().map(|f| f.helpful), Some(true));

    // Hostile text, sent with the keyboard (Enter): shown as text, never run or parsed.
    let hostile = "<img src=x onerror=alert(1)>";
    session.type_into(&input, &format!("{hostile}\u{E007}"));
    session.bot_reply(2);
    let users = session.find_all("#log li.user .user-text");
    assert_eq!(session.text(&users[1]), hostile);
    assert!(
        session.find_all("#log img").is_empty(),
        "an <img> was created"
    );
    assert!(!session.alert_open(), "an alert ran");

    let hostile = "<script>document.title='pwned'</script><b>bold</b>";
    session.type_into(&input, hostile);
    session.click(&session.find("#send"));
    session.bot_reply(3);
    let users = session.find_all("#log li.user .user-text");
    assert_eq!(session.text(&users[2]), hostile);
    assert!(session.find_all("#log script, #log b").is_empty());
    assert_eq!(session.cmd("GET", "/title", None), "Sahaya preview");

    drop(session);
    drop(driver);
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
}

#[test]
fn the_html_report_renders_its_charts_without_console_errors() {
    let Some((chromedriver, chromium)) = browser() else {
        return;
    };
    const TOKEN: &str = "browser-report-token";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
    let mut integrations = Integrations::new(store);
    integrations.log = Some(LogConfig {
        keep_text: true,
        ..LogConfig::default()
    });
    let config = ServerConfig {
        admin_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    };
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
    let topics = engine.knowledge().topics().len();
    let state = AppState::with_integrations(engine, config, integrations);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(sahaya::server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // Some traffic in the three languages, with feedback on the answers.
    let messages = [
        ("en", "my parcel still hasn't come, where is it?"),
        ("en", "do you sell moving boxes in your shops?"),
        ("en", "I want to speak to a human being"),
        ("el", "το δέμα μου δεν ήρθε ακόμα"),
        ("el", "πουλάτε κούτες μετακόμισης στα καταστήματα;"),
        ("el", "θα σας πάω στα δικαστήρια"),
        ("te", "నా పార్సెల్ ఇంకా రాలేదు"),
        ("te", "మీ షాపుల్లో ఇల్లు మారడానికి డబ్బాలు అమ్ముతారా?"),
    ];
    for (i, (lang, text)) in messages.iter().cycle().take(40).enumerate() {
        let reply: Value = ureq::post(&format!("{base}/v1/respond"))
            .send_json(json!({"text": text, "lang": lang, "session_id": format!("b-{i}")}))
            .unwrap()
            .into_json()
            .unwrap();
        if reply["decision"] == "answer" {
            ureq::post(&format!("{base}/v1/feedback"))
                .send_json(json!({"reply_id": reply["reply_id"], "helpful": i % 3 != 0,
                                  "rating": 1 + i % 5}))
                .unwrap();
        }
    }
    let html = ureq::get(&format!("{base}/v1/admin/report?since=1d"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();

    let driver = Driver::start(&chromedriver);
    let profile = tempfile::tempdir().unwrap();
    let session = open_session(&driver, &chromium, profile.path(), "1000,1500");
    session.cmd(
        "POST",
        "/url",
        Some(json!({ "url": format!("file://{}", page.display()) })),
    );
    assert_eq!(session.cmd("GET", "/title", None), "Sahaya report");
    // Four bars per language row (some may be empty) and a legend; a bar per rule.
    assert!(session.find_all("#chart-decisions rect").len() >= 8);
    assert!(!session.find_all("#chart-rules rect").is_empty());
    assert!(session.find_all("#unanswered tr").len() > 1);
    let size = session.cmd(
        "POST",
        "/execute/sync",
        Some(json!({"script": "const r = document.querySelector('#chart-decisions').getBoundingClientRect(); return [r.width, r.height];", "args": []})),
    );
    assert!(
        size[0].as_f64().unwrap() > 100.0 && size[1].as_f64().unwrap() > 50.0,
        "{size}"
    );
    assert_eq!(session.console_errors(), Vec::<String>::new());
    if let Some(dir) = std::env::var_os("SAHAYA_SCREENSHOT_DIR") {
        use base64::Engine as _;
        let png = session.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(PathBuf::from(dir).join("report.png"), png).unwrap();
    }

    // The preview page's editor view, opened with the admin token: a row per topic.
    session.cmd("POST", "/url", Some(json!({ "url": format!("{base}/") })));
    session.click(&session.find("#editor summary"));
    session.type_into(&session.find("#admin-token"), TOKEN);
    session.click(&session.find("#editor-load"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while session.find_all("#editor-topics tbody tr").len() != topics {
        assert!(Instant::now() < deadline, "the editor view did not load");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = session.text(&session.find("#editor-status"));
    assert!(status.starts_with(&format!("{topics} topics")), "{status}");
    let diagnostics = session.find_all("#editor-diagnostics li");
    assert!(!diagnostics.is_empty());
    assert_eq!(session.console_errors(), Vec::<String>::new());

    drop(session);
    drop(driver);
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
}
