//! Outgoing HTTPS with a private CA: the escalation webhook and Chatwoot's API against a
//! local TLS server whose certificate a CA made at test time signed, trusted through
//! `ca_file`; and refused, naming the certificate problem, with another CA.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sahaya::server::{
    app, signature, AppState, ChatwootConfig, Integrations, Outbox, ServerConfig, Settings,
    WebhookConfig,
};
use sahaya::store::{Enqueued, SqliteStore, Store};
use sahaya::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tower::ServiceExt;

const HOOK_SECRET: &str = "webhook-secret";

// ---- certificates made at test time ----

/// A self-signed CA and what it signs with.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for 127.0.0.1 and localhost signed by `ca`, and its key.
fn server_cert(ca: &Ca) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "help desk");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

// ---- a local HTTPS server ----

/// One HTTP request the server read.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTPS server on 127.0.0.1 that answers every request 200 and records it, and records
/// every connection whose TLS handshake or request failed.
#[derive(Clone)]
struct TlsServer {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl TlsServer {
    fn start(ca: &Ca) -> TlsServer {
        let (cert, key) = server_cert(ca);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = TlsServer {
            base_url: format!(
                "https://127.0.0.1:{}",
                listener.local_addr().unwrap().port()
            ),
            received: Arc::default(),
            failures: Arc::default(),
        };
        let recorder = server.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                if let Err(e) = serve_one(Arc::clone(&config), tcp, &recorder.received) {
                    recorder.failures.lock().unwrap().push(e.to_string());
                }
            }
        });
        server
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// The failed connections, once there are `n` (the server sees a refused handshake a
    /// moment after the client gave up).
    fn wait_for_failures(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.failures().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.failures()
    }
}

/// Reads one request on a TLS connection, records it in `received` and answers it 200.
fn serve_one(
    config: Arc<rustls::ServerConfig>,
    tcp: std::net::TcpStream,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    // Recorded before the answer: the client may look as soon as it has it.
    received.lock().unwrap().push(Received {
        method,
        path,
        headers,
        body,
    });
    let stream = reader.get_mut();
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"id\": 1}",
    )?;
    stream.conn.send_close_notify();
    stream.flush()
}

// ---- the escalation webhook ----

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn webhook(url: String, ca_file: &Path, max_attempts: u32) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: Some(HOOK_SECRET.into()),
        max_attempts,
        timeout_secs: 5,
        ca_file: Some(ca_file.to_path_buf()),
    }
}

const PAYLOAD: &str = r#"{"event":"escalation","source":"api","rule":"legal_threat"}"#;

/// An outbox in a fresh store with one escalation queued.
fn queued(config: WebhookConfig) -> (Arc<SqliteStore>, Outbox) {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let outbox = Outbox::new(store.clone(), config);
    let queued = outbox.enqueue("api:tls-1", PAYLOAD, now()).unwrap();
    assert!(matches!(queued, Enqueued::Queued(_)), "{queued:?}");
    (store, outbox)
}

#[test]
fn an_https_webhook_signed_by_a_private_ca_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("Sahaya test CA");
    let desk = TlsServer::start(&ca);
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);

    // The settings accept the file.
    let url = format!("{}/hooks/sahaya", desk.base_url);
    let src = format!(
        "[webhook]\nurl = \"{url}\"\nca_file = \"{}\"\n",
        ca_file.display()
    );
    let mut settings = Settings::from_toml(&src, Path::new("sahaya.toml")).unwrap();
    settings.validate().unwrap();
    assert_eq!(
        settings.webhook.as_ref().unwrap().ca_file.as_deref(),
        Some(ca_file.as_path())
    );

    let (store, outbox) = queued(webhook(url, &ca_file, 3));
    let report = outbox.deliver_due(now()).unwrap();
    assert_eq!(
        (report.delivered, report.retrying, report.gave_up),
        (1, 0, 0),
        "{:?} {:?}",
        store.outbox().unwrap(),
        desk.failures()
    );
    let rows = store.outbox().unwrap();
    assert!(rows[0].delivered_at.is_some());
    assert_eq!(rows[0].last_error, None);

    let received = desk.received();
    assert_eq!(received.len(), 1, "{:?}", desk.failures());
    let call = &received[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/hooks/sahaya")
    );
    assert_eq!(call.body, PAYLOAD.as_bytes());
    assert_eq!(call.header("x-sahaya-event"), Some("escalation"));
    signature::verify(
        HOOK_SECRET,
        call.header("x-sahaya-timestamp"),
        call.header("x-sahaya-signature"),
        &call.body,
        now(),
    )
    .expect("a valid X-Sahaya-Signature");
}

#[test]
fn a_bundle_of_several_cas_trusts_each() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("Sahaya test CA");
    let desk = TlsServer::start(&ca);
    let other = new_ca("Another CA");
    let bundle = format!("{}{}", other.pem, ca.pem);
    let ca_file = write(dir.path(), "bundle.pem", &bundle);
    let (_store, outbox) = queued(webhook(format!("{}/hook", desk.base_url), &ca_file, 3));
    assert_eq!(outbox.deliver_due(now()).unwrap().delivered, 1);
    assert_eq!(desk.received().len(), 1);
}

#[test]
fn a_wrong_ca_is_refused_and_the_error_names_the_certificate_problem() {
    let dir = tempfile::tempdir().unwrap();
    let desk = TlsServer::start(&new_ca("Sahaya test CA"));
    let wrong = write(dir.path(), "wrong.pem", &new_ca("Another CA").pem);
    let (store, outbox) = queued(webhook(format!("{}/hook", desk.base_url), &wrong, 2));

    let t = now();
    let first = outbox.deliver_due(t).unwrap();
    assert_eq!((first.delivered, first.retrying, first.gave_up), (0, 1, 0));
    let rows = store.outbox().unwrap();
    let error = rows[0].last_error.clone().expect("the failure is recorded");
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(rows[0].delivered_at, None);

    // The last attempt fails the same way and the row is given up, with its error.
    let last = outbox.deliver_due(t + 10).unwrap();
    assert_eq!((last.delivered, last.retrying, last.gave_up), (0, 0, 1));
    let rows = store.outbox().unwrap();
    assert_eq!(rows[0].gave_up_at, Some(t + 10));
    assert!(rows[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("UnknownIssuer")));

    // Nothing was sent: the server saw two handshakes end with the client's alert.
    assert!(desk.received().is_empty());
    let failures = desk.wait_for_failures(2);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].contains("UnknownCA"), "{failures:?}");
}

#[test]
fn without_a_ca_file_a_private_ca_is_not_trusted() {
    let desk = TlsServer::start(&new_ca("Sahaya test CA"));
    let mut config = webhook(format!("{}/hook", desk.base_url), Path::new("unused"), 1);
    config.ca_file = None;
    let (store, outbox) = queued(config);
    assert_eq!(outbox.deliver_due(now()).unwrap().gave_up, 1);
    let error = store.outbox().unwrap()[0].last_error.clone().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(desk.received().is_empty());
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let key_only = write(
        dir.path(),
        "key.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    let settings = |path: &Path| {
        let src = format!(
            "[webhook]\nurl = \"https://desk.example\"\nca_file = \"{}\"\n",
            path.display()
        );
        let mut s = Settings::from_toml(&src, Path::new("sahaya.toml")).unwrap();
        s.validate().map(|()| s)
    };
    let err = settings(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("webhook.ca_file {}: ", missing.display())),
        "{err}"
    );
    assert!(err.contains("No such file"), "{err}");
    let err = settings(&key_only).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("webhook.ca_file {}: ", key_only.display())),
        "{err}"
    );
    assert!(err.contains("no PEM certificate"), "{err}");

    // An outbox built without those checks does not send with other roots: every attempt
    // fails with the reason, kept with the row.
    let (store, outbox) = queued(webhook("https://127.0.0.1:9/hook".into(), &missing, 1));
    assert_eq!(outbox.deliver_due(now()).unwrap().gave_up, 1);
    let error = store.outbox().unwrap()[0].last_error.clone().unwrap();
    assert!(
        error.starts_with(&format!("webhook.ca_file {}: ", missing.display())),
        "{error}"
    );
}

// ---- Chatwoot's API ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatwoot_over_https_with_a_private_ca() {
    const TOKEN: &str = "bot-access-token";
    const SECRET: &str = "agent-bot-secret";
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("Sahaya test CA");
    let chatwoot = TlsServer::start(&ca);
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);

    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut integrations = Integrations::new(store);
    integrations.chatwoot = Some(ChatwootConfig {
        base_url: chatwoot.base_url.clone(),
        api_token: TOKEN.into(),
        secret: Some(SECRET.into()),
        allow_unsigned: false,
        timeout_secs: 4,
        ca_file: Some(ca_file),
    });
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).expect("the shipped content loads");
    let state = AppState::with_integrations(engine, ServerConfig::default(), integrations);

    let delivery = json!({
        "event": "message_created",
        "id": 9001,
        "content": "Where is my parcel?",
        "message_type": "incoming",
        "private": false,
        "sender": {"id": 501, "name": "Ravi Kumar", "type": "contact"},
        "conversation": {"id": 77, "status": "pending"},
        "account": {"id": 3}
    });
    let body = serde_json::to_vec(&delivery).unwrap();
    let ts = now().to_string();
    let sig = signature::sign(SECRET, &ts, &body);
    let req = Request::post("/v1/webhooks/chatwoot")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Chatwoot-Timestamp", &ts)
        .header("X-Chatwoot-Signature", &sig)
        .body(Body::from(body))
        .unwrap();
    let resp = app(state).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::OK, "{answer} {:?}", chatwoot.failures());
    assert_eq!(answer["status"], "answered");

    let received = chatwoot.received();
    assert_eq!(received.len(), 1, "{:?}", chatwoot.failures());
    assert_eq!(
        received[0].path,
        "/api/v1/accounts/3/conversations/77/messages"
    );
    assert_eq!(received[0].header("api_access_token"), Some(TOKEN));
    let posted: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(posted["message_type"], "outgoing");
    assert!(!posted["content"].as_str().unwrap_or_default().is_empty());
}
