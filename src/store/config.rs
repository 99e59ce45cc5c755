//! The `[state]` table of `sahaya.toml`: where conversations, the outbox, the help-desk
//! deliveries and the mail memory are kept.
//!
//! ```toml
//! [state]
//! # url = "postgres://sahaya@db.internal/sahaya"   # several replicas (or SAHAYA_STATE_URL)
//! # path = "sahaya.db"       # else: one SQLite file, relative to the data directory
//! sessions = "database"      # or "memory": conversations forgotten at restart, not shared
//! max_connections = 16       # PostgreSQL connections per process
//! connect_timeout_secs = 5   # then an operation fails as unavailable
//! ```

use super::{SqliteStore, Store};
use crate::error::Error;
use crate::session::SessionBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable that overrides `[state] url`.
pub const STATE_URL_VAR: &str = "SAHAYA_STATE_URL";

/// Where a server keeps its conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionsIn {
    /// In the state database: they survive a restart and replicas share them.
    #[default]
    Database,
    /// In the process's memory: forgotten at restart, not shared.
    Memory,
}

/// The `[state]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `postgres://user@host:port/database` for PostgreSQL (several replicas); none: SQLite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The SQLite file, relative to the data directory; none: `[mail] database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Where `sahaya serve` keeps conversations.
    pub sessions: SessionsIn,
    /// Most PostgreSQL connections open at once, per process.
    pub max_connections: u32,
    /// Seconds to wait for a PostgreSQL connection before an operation fails as
    /// unavailable (HTTP 503, exit code 75 for `sahaya mail`).
    pub connect_timeout_secs: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            url: None,
            path: None,
            sessions: SessionsIn::Database,
            max_connections: 16,
            connect_timeout_secs: 5,
        }
    }
}

/// An open state database: the same object behind both interfaces.
#[derive(Clone)]
pub struct State {
    /// Outbox, deliveries, mail memory.
    pub store: Arc<dyn Store>,
    /// Conversations.
    pub sessions: Arc<dyn SessionBackend>,
    /// What it is, for logs: `SQLite /srv/data/sahaya.db` or `PostgreSQL db:5432/sahaya`.
    pub description: String,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Why the state database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// `[state] url` is not a usable URL.
    #[error("[state] url: {0}")]
    Url(String),
    /// A PostgreSQL URL, but this build has no PostgreSQL support.
    #[error(
        "[state] url names PostgreSQL, but this build of Sahaya has no PostgreSQL support \
         (build it with the `postgres` feature)"
    )]
    NoPostgres,
    /// The SQLite file could not be opened or created.
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Error,
    },
}

impl StateConfig {
    /// The settings with [`STATE_URL_VAR`] applied when it is set and not empty.
    pub fn with_env(mut self) -> StateConfig {
        if let Ok(url) = std::env::var(STATE_URL_VAR) {
            if !url.trim().is_empty() {
                self.url = Some(url.trim().to_string());
            }
        }
        self
    }

    /// The SQLite file: `path`, else `fallback` (the `[mail] database`), relative to
    /// `data_dir`.
    pub fn sqlite_path(&self, data_dir: &Path, fallback: &Path) -> PathBuf {
        data_dir.join(self.path.as_deref().unwrap_or(fallback))
    }

    /// Opens the database these settings name: PostgreSQL when `url` is set, else the
    /// SQLite file at `sqlite_path` (created when missing). A PostgreSQL database is not
    /// contacted yet; its first use connects and migrates the schema.
    pub fn open(&self, sqlite_path: &Path) -> Result<State, StateError> {
        match self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => self.open_postgres(url),
            None => {
                let store = Arc::new(SqliteStore::open(sqlite_path).map_err(|source| {
                    StateError::Sqlite {
                        path: sqlite_path.to_path_buf(),
                        source,
                    }
                })?);
                Ok(State {
                    store: store.clone(),
                    sessions: store,
                    description: format!("SQLite {}", sqlite_path.display()),
                })
            }
        }
    }

    #[cfg(feature = "postgres")]
    fn open_postgres(&self, url: &str) -> Result<State, StateError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StateError::Url(format!(
                "{:?} is not a postgres:// URL; leave it unset for the SQLite file",
                redact(url)
            )));
        }
        let options = super::PgOptions {
            max_connections: self.max_connections.max(1),
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout_secs.max(1)),
        };
        let store = Arc::new(
            super::PgStore::connect_with(url, options)
                .map_err(|e| StateError::Url(e.to_string()))?,
        );
        Ok(State {
            description: format!("PostgreSQL {}", store.target()),
            store: store.clone(),
            sessions: store,
        })
    }

    #[cfg(not(feature = "postgres"))]
    fn open_postgres(&self, url: &str) -> Result<State, StateError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Err(StateError::NoPostgres)
        } else {
            Err(StateError::Url(format!(
                "{:?} is not a postgres:// URL; leave it unset for the SQLite file",
                redact(url)
            )))
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_one_sqlite_file_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let c = StateConfig::default();
        let path = c.sqlite_path(dir.path(), Path::new("sahaya.db"));
        assert_eq!(path, dir.path().join("sahaya.db"));
        let state = c.open(&path).unwrap();
        assert!(state.description.starts_with("SQLite "));
        state.store.ping().unwrap();
        assert!(path.exists());
    }

    #[test]
    fn bad_urls_are_refused_without_showing_the_password() {
        let c = StateConfig {
            url: Some("mysql://app:s3cret@db/x".into()),
            ..StateConfig::default()
        };
        let e = c.open(Path::new("unused.db")).unwrap_err().to_string();
        assert!(e.contains("not a postgres:// URL"), "{e}");
        assert!(!e.contains("s3cret") && e.contains("app:***@db"), "{e}");
    }

    #[test]
    fn the_table_is_read_strictly() {
        let c: StateConfig = toml::from_str("sessions = \"memory\"\nmax_connections = 4").unwrap();
        assert_eq!((c.sessions, c.max_connections), (SessionsIn::Memory, 4));
        assert!(toml::from_str::<StateConfig>("sesions = \"memory\"").is_err());
        assert!(toml::from_str::<StateConfig>("sessions = \"disk\"").is_err());
    }
}
