//! `sahaya.toml`: the server's settings and the engine's, with environment overrides.
//!
//! ```toml
//! [server]
//! addr = "127.0.0.1:8080"
//! body_limit = 262144            # bytes of a request body
//! max_text_bytes = 65536         # bytes of a message's text
//! request_timeout_secs = 10
//! header_read_timeout_secs = 10  # a request's headers, and an idle keep-alive connection
//! max_connections = 1024         # open connections; more wait in the listen queue
//! admin_token = "…"              # unset: admin endpoints disabled (prefer SAHAYA_ADMIN_TOKEN)
//! watch = true                   # reload edited content files
//! watch_debounce_ms = 300
//!
//! [server.rate_limit]            # absent: no rate limit
//! per_second = 5
//! burst = 20
//! trust_forwarded_header = "x-forwarded-for"   # absent: key by the peer address
//!
//! [engine]                       # sahaya::Config as is
//! session_ttl_secs = 1800
//!
//! [chatwoot]                     # absent: POST /v1/webhooks/chatwoot answers 404
//! base_url = "https://chat.example.com"
//! api_token = "…"                # the agent bot's access token (SAHAYA_CHATWOOT_TOKEN)
//! secret = "…"                   # the agent bot's secret (SAHAYA_CHATWOOT_SECRET)
//! allow_unsigned = false         # true: accept deliveries without a secret (trusted network only)
//! ca_file = "/etc/sahaya/ca.pem" # CA certificates (PEM) trusted besides the webpki roots
//!
//! [webhook]                      # absent: escalations are not queued
//! url = "https://helpdesk.example.com/hooks/sahaya"
//! secret = "…"                   # SAHAYA_WEBHOOK_SECRET
//! max_attempts = 10
//! ca_file = "/etc/sahaya/ca.pem" # the same for the webhook; a relative path is in the data dir
//!
//! [mail]                         # read by `sahaya mail`; the server uses its `database`
//! database = "sahaya.db"
//!
//! [state]                        # sahaya::store::StateConfig: conversations, outbox, mail memory
//! # url = "postgres://sahaya@db.internal/sahaya"   # several replicas (SAHAYA_STATE_URL)
//! # path = "sahaya.db"           # else this SQLite file (default: [mail] database)
//! sessions = "database"          # or "memory": forgotten at restart, not shared
//!
//! [log]                          # sahaya::store::LogConfig: one row per reply, for `sahaya report`
//! enabled = true
//! keep_text = false              # true: keep what customers wrote (the report's groups show it)
//! text_retention_days = 30
//! retention_days = 365
//! ```

use crate::error::Diagnostic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name looked up in the data directory when no `--config` is given.
pub const CONFIG_FILE: &str = "sahaya.toml";

/// Everything `sahaya.toml` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The HTTP server.
    pub server: ServerConfig,
    /// The engine (thresholds, sessions …).
    pub engine: crate::Config,
    /// The email channel's `[mail]` table, read by `sahaya mail`; the server reads only its
    /// `database` (see [`Settings::state_database`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<toml::Table>,
    /// The Chatwoot agent bot; none disables `POST /v1/webhooks/chatwoot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chatwoot: Option<ChatwootConfig>,
    /// The outgoing escalation webhook; none queues nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConfig>,
    /// Where conversations, the outbox and the mail memory are kept.
    pub state: crate::store::StateConfig,
    /// The conversation log for the editors' report.
    pub log: crate::store::LogConfig,
}

/// `[chatwoot]`: how to reach Chatwoot's API and check its deliveries.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatwootConfig {
    /// Where Chatwoot runs, e.g. `https://chat.example.com` (the API is under `/api/v1`).
    pub base_url: String,
    /// The agent bot's access token, sent as `api_access_token` (`SAHAYA_CHATWOOT_TOKEN`).
    #[serde(default)]
    pub api_token: String,
    /// The agent bot's secret: deliveries must carry a valid `X-Chatwoot-Signature`
    /// (`SAHAYA_CHATWOOT_SECRET`). Without one, deliveries are refused unless
    /// `allow_unsigned` is set.
    #[serde(default)]
    pub secret: Option<String>,
    /// Accept unsigned deliveries when no secret is set. Anyone who can reach the endpoint
    /// can then make the bot post into, and open, any conversation: only for a Chatwoot on
    /// a private network. The server logs a warning at start when it is on.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Seconds each call to Chatwoot may take; under half of `server.request_timeout_secs`.
    #[serde(default = "default_chatwoot_timeout")]
    pub timeout_secs: u64,
    /// A PEM file of one or more CA certificates trusted for Chatwoot's `https://` URL, on
    /// top of the webpki roots (a Chatwoot whose certificate a private CA signed).
    /// [`Settings::load`] takes a relative path from the data directory; a file that is
    /// missing, unreadable or holds no valid certificate stops the server at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

fn default_chatwoot_timeout() -> u64 {
    4
}

/// Highest `server.max_connections`.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// What `Debug` shows instead of a token or secret.
const REDACTED: &str = "<redacted>";

// Tokens and secrets stay out of logs and panics.
impl std::fmt::Debug for ChatwootConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatwootConfig")
            .field("base_url", &self.base_url)
            .field("api_token", &REDACTED)
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .field("allow_unsigned", &self.allow_unsigned)
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// `[webhook]`: where escalations go, for any help desk.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL that receives each escalation as a JSON `POST`.
    pub url: String,
    /// Signs each delivery with `X-Sahaya-Signature` (`SAHAYA_WEBHOOK_SECRET`); none sends
    /// them unsigned.
    #[serde(default)]
    pub secret: Option<String>,
    /// Attempts before an escalation is given up (its row stays in the database).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds each delivery may take.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// A PEM file of one or more CA certificates trusted for the webhook's `https://` URL,
    /// on top of the webpki roots (a help desk whose certificate a private CA signed).
    /// [`Settings::load`] takes a relative path from the data directory; a file that is
    /// missing, unreadable or holds no valid certificate stops the server at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

fn default_max_attempts() -> u32 {
    10
}

fn default_webhook_timeout() -> u64 {
    10
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .field("max_attempts", &self.max_attempts)
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Settings of the HTTP server; every field has a default.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`SAHAYA_ADDR`).
    pub addr: String,
    /// Largest request body accepted, in bytes (`SAHAYA_BODY_LIMIT`); larger gets 413.
    pub body_limit: usize,
    /// Longest message text accepted, in bytes (`SAHAYA_MAX_TEXT_BYTES`); the engine's own
    /// limit, [`crate::MAX_TEXT_BYTES`], applies above it.
    pub max_text_bytes: usize,
    /// A request that takes longer gets 408 (`SAHAYA_REQUEST_TIMEOUT_SECS`); a client that
    /// reads nothing of a response for this long is disconnected.
    pub request_timeout_secs: u64,
    /// A connection whose request headers are not complete this many seconds after it
    /// opened, or after its previous response, is closed
    /// (`SAHAYA_HEADER_READ_TIMEOUT_SECS`). This is also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout_secs: u64,
    /// Connections served at once (`SAHAYA_MAX_CONNECTIONS`); further ones wait in the
    /// listen queue until one closes.
    pub max_connections: usize,
    /// Bearer token of the admin endpoints (`SAHAYA_ADMIN_TOKEN`); none disables them.
    pub admin_token: Option<String>,
    /// Per-client rate limit of the `/v1` endpoints; none (the default) disables it.
    pub rate_limit: Option<RateLimitConfig>,
    /// Reload content when files under knowledge/, locales/ or rules/ change (`SAHAYA_WATCH`).
    pub watch: bool,
    /// Quiet time after the last file event before reloading, in milliseconds.
    pub watch_debounce_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:8080".into(),
            body_limit: 256 * 1024,
            max_text_bytes: crate::model::MAX_TEXT_BYTES,
            request_timeout_secs: 10,
            header_read_timeout_secs: 10,
            max_connections: 1024,
            admin_token: None,
            rate_limit: None,
            watch: true,
            watch_debounce_ms: 300,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("addr", &self.addr)
            .field("body_limit", &self.body_limit)
            .field("max_text_bytes", &self.max_text_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("admin_token", &self.admin_token.as_ref().map(|_| REDACTED))
            .field("rate_limit", &self.rate_limit)
            .field("watch", &self.watch)
            .field("watch_debounce_ms", &self.watch_debounce_ms)
            .finish()
    }
}

/// A token bucket per client: `burst` requests at once, refilled at `per_second`.
///
/// Off by default: behind a reverse proxy every client has the proxy's address, so the
/// limit only makes sense with `trust_forwarded_header` set to the header the proxy writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second each client may make on average
    /// (`SAHAYA_RATE_LIMIT_PER_SECOND`; 0 turns the limit off).
    pub per_second: u32,
    /// Requests a client may make at once (`SAHAYA_RATE_LIMIT_BURST`); `per_second` when unset.
    #[serde(default)]
    pub burst: Option<u32>,
    /// Header holding the client address, set by a trusted reverse proxy
    /// (`X-Forwarded-For`, `X-Real-IP`; `SAHAYA_RATE_LIMIT_HEADER`). Its last address is used:
    /// the one the nearest proxy added. Unset: the peer address of the connection.
    #[serde(default)]
    pub trust_forwarded_header: Option<String>,
}

/// A problem with the settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file has a syntax error, an unknown key or a wrong type.
    #[error("{0}")]
    File(Diagnostic),
    /// The config file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An environment variable has a value that does not parse.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Parses the text of a config file; `path` names it in error messages.
    pub fn from_toml(source: &str, path: &Path) -> Result<Settings, ConfigError> {
        toml::from_str(source).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::File(Diagnostic::error_at(
                path,
                source,
                offset,
                e.message().trim_end().to_string(),
            ))
        })
    }

    /// Reads the settings: the file `config` when given (it must exist), else
    /// `data_dir/sahaya.toml` when there is one, else the defaults; then the `SAHAYA_*`
    /// environment variables override them. A relative `ca_file` is taken from `data_dir`.
    /// The result is [validated](Settings::validate), CA files included.
    pub fn load(config: Option<&Path>, data_dir: &Path) -> Result<Settings, ConfigError> {
        let default_path = data_dir.join(CONFIG_FILE);
        let path = match config {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.is_file() => Some(default_path),
            None => None,
        };
        let mut settings = match path {
            Some(path) => {
                let source = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
                    path: path.clone(),
                    source,
                })?;
                Settings::from_toml(&source, &path)?
            }
            None => Settings::default(),
        };
        settings.apply_env(|var| std::env::var(var).ok())?;
        settings.resolve_ca_files(data_dir);
        settings.validate()?;
        Ok(settings)
    }

    /// Makes relative `ca_file` paths relative to `data_dir`, like the state database.
    fn resolve_ca_files(&mut self, data_dir: &Path) {
        let chatwoot = self.chatwoot.as_mut().map(|c| &mut c.ca_file);
        let webhook = self.webhook.as_mut().map(|w| &mut w.ca_file);
        for ca_file in [chatwoot, webhook].into_iter().flatten() {
            if let Some(path) = ca_file.as_mut() {
                if path.is_relative() {
                    *path = data_dir.join(&*path);
                }
            }
        }
    }

    /// The SQLite state file (conversations, delivered Chatwoot events, the escalation
    /// outbox) when `[state] url` is not set: `[state] path`, else the `[mail]` table's
    /// `database`, relative to `data_dir`, shared with `sahaya mail`.
    pub fn state_database(&self, data_dir: &Path) -> Result<PathBuf, ConfigError> {
        Ok(self
            .state
            .sqlite_path(data_dir, Path::new(&self.mail_config()?.database)))
    }

    /// The `[mail]` table of `sahaya mail`, with its defaults.
    pub fn mail_config(&self) -> Result<crate::channel::mail::MailConfig, ConfigError> {
        match &self.mail {
            Some(table) => table
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid(format!("[mail]: {e}"))),
            None => Ok(Default::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let s = Settings::from_toml("", Path::new("sahaya.toml")).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.server.addr, "127.0.0.1:8080");
        assert!(s.server.rate_limit.is_none());
        assert!(s.server.admin_token.is_none());
    }

    #[test]
    fn file_sections_parse() {
        let src = r#"
[server]
addr = "0.0.0.0:9000"
admin_token = "s3cret"
[server.rate_limit]
per_second = 2
burst = 5
trust_forwarded_header = "x-forwarded-for"
[engine]
session_ttl_secs = 60
"#;
        let s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
        assert_eq!(s.server.addr, "0.0.0.0:9000");
        assert_eq!(s.server.admin_token.as_deref(), Some("s3cret"));
        let rl = s.server.rate_limit.unwrap();
        assert_eq!((rl.per_second, rl.burst), (2, Some(5)));
        assert_eq!(s.engine.session_ttl_secs, 60);
    }

    #[test]
    fn the_mail_table_is_left_to_the_mail_channel() {
        let src = "[server]\naddr = \"127.0.0.1:1\"\n[mail]\ninterval_days = 3\n";
        let s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
        assert_eq!(s.server.addr, "127.0.0.1:1");
        assert!(s.mail.is_some());
        let err = Settings::from_toml("[sever]\n", Path::new("sahaya.toml")).unwrap_err();
        assert!(err.to_string().contains("sever"), "{err}");
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let src = "[server]\naddr = \"x:1\"\nadress = \"y\"\n";
        let err = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("sahaya.toml:3:1: error: "), "{msg}");
        assert!(msg.contains("adress"), "{msg}");
    }

    #[test]
    fn readme_documents_the_defaults() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n[server]")
            .expect("README has the settings block");
        let block = &readme[start + "```toml\n".len()..];
        let block = &block[..block.find("```").expect("block ends")];
        let documented = Settings::from_toml(block, Path::new("README.md")).unwrap();
        assert_eq!(documented.server, ServerConfig::default());
        assert_eq!(documented.engine, crate::Config::default());
        // The commented-out rate limit section is valid too.
        let uncommented = block
            .replace("# [server.rate_limit]", "[server.rate_limit]")
            .replace("\n# per_second", "\nper_second");
        let with_limit = Settings::from_toml(&uncommented, Path::new("README.md")).unwrap();
        assert_eq!(with_limit.server.rate_limit.unwrap().per_second, 5);
    }

    #[test]
    fn chatwoot_and_webhook_tables() {
        let src = r#"
[chatwoot]
base_url = "https://chat.example.com/"
api_token = "bot-token"
secret = "s"
[webhook]
url = "https://desk.example.com/hook"
[mail]
database = "state/sahaya.db"
"#;
        let mut s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
        s.validate().unwrap();
        let cw = s.chatwoot.as_ref().unwrap();
        assert_eq!(cw.base_url, "https://chat.example.com");
        assert_eq!(cw.secret.as_deref(), Some("s"));
        let wh = s.webhook.as_ref().unwrap();
        assert_eq!((wh.max_attempts, wh.secret.as_deref()), (10, None));
        assert_eq!(
            s.state_database(Path::new("/srv/data")).unwrap(),
            Path::new("/srv/data/state/sahaya.db")
        );
        assert_eq!(
            Settings::default().state_database(Path::new("d")).unwrap(),
            Path::new("d/sahaya.db")
        );
        // Secrets never reach a log line through Debug.
        let shown = format!("{s:?}");
        assert!(!shown.contains("bot-token"), "{shown}");

        s.apply_env(|v| match v {
            "SAHAYA_CHATWOOT_TOKEN" => Some("env-token".into()),
            "SAHAYA_WEBHOOK_SECRET" => Some("w".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.chatwoot.as_ref().unwrap().api_token, "env-token");
        assert_eq!(s.webhook.as_ref().unwrap().secret.as_deref(), Some("w"));

        // A secret for a table that is not there is a mistake worth stopping for.
        let err = Settings::default()
            .apply_env(|v| (v == "SAHAYA_CHATWOOT_SECRET").then(|| "x".into()))
            .unwrap_err();
        assert!(err.to_string().contains("[chatwoot]"), "{err}");
    }

    #[test]
    fn a_relative_ca_file_is_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("elsewhere.toml");
        std::fs::write(
            &config,
            "[webhook]\nurl = \"https://desk.example\"\nca_file = \"certs/ca.pem\"\n",
        )
        .unwrap();
        let err = Settings::load(Some(&config), dir.path())
            .unwrap_err()
            .to_string();
        let expected = dir.path().join("certs/ca.pem");
        assert!(
            err.starts_with(&format!("webhook.ca_file {}: ", expected.display())),
            "{err}"
        );
    }

    #[test]
    fn debug_redacts_every_secret() {
        let mut s = Settings::default();
        s.server.admin_token = Some("admin-7731".into());
        s.chatwoot = Some(ChatwootConfig {
            base_url: "https://c.example".into(),
            api_token: "api-8842".into(),
            secret: Some("cw-9953".into()),
            allow_unsigned: false,
            timeout_secs: 4,
            ca_file: None,
        });
        s.webhook = Some(WebhookConfig {
            url: "https://d.example".into(),
            secret: Some("wh-1064".into()),
            max_attempts: 1,
            timeout_secs: 1,
            ca_file: None,
        });
        for shown in [format!("{s:?}"), format!("{s:#?}")] {
            for secret in ["admin-7731", "api-8842", "cw-9953", "wh-1064"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("<redacted>"));
        }
    }
}
