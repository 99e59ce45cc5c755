//! State that must survive a restart: the per-sender auto-reply memory, the escalation
//! outbox and the help-desk deliveries already handled.
//!
//! [`Store`] is the small interface the channels use; [`SqliteStore`] keeps everything in one
//! embedded SQLite file, safe for several processes at once (each claim runs in an
//! `IMMEDIATE` transaction, so two concurrent `sahaya mail` runs for the same sender cannot
//! both reply). A multi-replica deployment can implement [`Store`] on a shared database.

use crate::Error;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The answer to "may we auto-reply to this sender now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Yes; the reply is recorded.
    Granted,
    /// We replied to this sender at this time (Unix seconds) within the interval.
    RecentlyReplied(i64),
    /// The sender already had the most auto-replies allowed in 24 hours.
    DailyCap,
}

/// An escalation waiting to be delivered to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// The JSON body to send.
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// Durable state used by the channels.
pub trait Store: Send + Sync {
    /// Records an auto-reply to `sender` at `now` unless one was sent within `interval`
    /// seconds or `daily_cap` were sent in the last 24 hours.
    fn claim_auto_reply(
        &self,
        sender: &str,
        now: i64,
        interval: i64,
        daily_cap: u32,
    ) -> Result<Claim, Error>;

    /// Remembers a delivery id (e.g. a help-desk webhook event); false when already seen.
    fn first_delivery(&self, key: &str, now: i64) -> Result<bool, Error>;

    /// Queues a payload for the escalation webhook.
    fn enqueue(&self, payload: &str, now: i64) -> Result<i64, Error>;

    /// Items due for (re)delivery at `now`, oldest first.
    fn due(&self, now: i64, limit: usize) -> Result<Vec<OutboxItem>, Error>;

    /// Marks an item delivered.
    fn delivered(&self, id: i64) -> Result<(), Error>;

    /// Records a failed attempt; the item is retried at `retry_at`.
    fn failed(&self, id: i64, retry_at: i64, error: &str) -> Result<(), Error>;

    /// Forgets a delivery id recorded by [`Store::first_delivery`], so that a retry of a
    /// delivery that could not be handled is handled again.
    fn forget_delivery(&self, key: &str) -> Result<(), Error>;

    /// Records a last failed attempt and stops retrying the item; the row is kept (with its
    /// error) for a person to look at.
    fn gave_up(&self, id: i64, now: i64, error: &str) -> Result<(), Error>;
}

/// The state of one outbox row, for people and tests ([`SqliteStore::outbox`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    /// Row id.
    pub id: i64,
    /// The JSON body.
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was delivered (Unix seconds).
    pub delivered_at: Option<i64>,
    /// When retrying stopped (Unix seconds).
    pub gave_up_at: Option<i64>,
}

/// [`Store`] in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::internal(format!("state database: {e}"))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let conn = Connection::open(path).map_err(db_err)?;
        Self::init(conn)
    }

    /// A private in-memory database (tests, one-off runs).
    pub fn in_memory() -> Result<SqliteStore, Error> {
        Self::init(Connection::open_in_memory().map_err(db_err)?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, Error> {
        // Concurrent runs wait for each other instead of failing at once.
        conn.busy_timeout(Duration::from_secs(15)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .or_else(|_| conn.pragma_update(None, "journal_mode", "DELETE"))
            .map_err(db_err)?;
        // The schema is set up in one IMMEDIATE transaction: processes that open a new
        // database at the same moment take turns instead of racing on CREATE and ALTER.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS auto_reply (
                 sender TEXT NOT NULL,
                 sent_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS auto_reply_sender ON auto_reply (sender, sent_at);
             CREATE TABLE IF NOT EXISTS delivery (
                 key TEXT PRIMARY KEY,
                 seen_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS outbox (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 payload TEXT NOT NULL,
                 created_at INTEGER NOT NULL,
                 next_at INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 last_error TEXT,
                 delivered_at INTEGER,
                 gave_up_at INTEGER
             );",
        )
        .map_err(db_err)?;
        // Databases made before the outbox could give up lack the column.
        let has_gave_up: bool = tx
            .query_row(
                "SELECT count(*) FROM pragma_table_info('outbox') WHERE name = 'gave_up_at'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db_err)?
            > 0;
        if !has_gave_up {
            tx.execute_batch("ALTER TABLE outbox ADD COLUMN gave_up_at INTEGER")
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every outbox row, oldest first: delivered, waiting and given up.
    pub fn outbox(&self) -> Result<Vec<OutboxRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, payload, attempts, last_error, delivered_at, gave_up_at
                 FROM outbox ORDER BY id",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(OutboxRecord {
                    id: r.get(0)?,
                    payload: r.get(1)?,
                    attempts: r.get(2)?,
                    last_error: r.get(3)?,
                    delivered_at: r.get(4)?,
                    gave_up_at: r.get(5)?,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }
}

impl Store for SqliteStore {
    fn claim_auto_reply(
        &self,
        sender: &str,
        now: i64,
        interval: i64,
        daily_cap: u32,
    ) -> Result<Claim, Error> {
        let sender = sender.trim().to_lowercase();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT max(sent_at) FROM auto_reply WHERE sender = ?1",
                params![sender],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
            .flatten();
        if let Some(last) = last {
            if now - last < interval {
                return Ok(Claim::RecentlyReplied(last));
            }
        }
        let today: i64 = tx
            .query_row(
                "SELECT count(*) FROM auto_reply WHERE sender = ?1 AND sent_at > ?2",
                params![sender, now - 86_400],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if today >= i64::from(daily_cap) {
            return Ok(Claim::DailyCap);
        }
        tx.execute(
            "INSERT INTO auto_reply (sender, sent_at) VALUES (?1, ?2)",
            params![sender, now],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Claim::Granted)
    }

    fn first_delivery(&self, key: &str, now: i64) -> Result<bool, Error> {
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO delivery (key, seen_at) VALUES (?1, ?2)",
                params![key, now],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn enqueue(&self, payload: &str, now: i64) -> Result<i64, Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO outbox (payload, created_at, next_at) VALUES (?1, ?2, ?2)",
            params![payload, now],
        )
        .map_err(db_err)?;
        Ok(conn.last_insert_rowid())
    }

    fn due(&self, now: i64, limit: usize) -> Result<Vec<OutboxItem>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, payload, attempts FROM outbox
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= ?1
                 ORDER BY id LIMIT ?2",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![now, limit as i64], |r| {
                Ok(OutboxItem {
                    id: r.get(0)?,
                    payload: r.get(1)?,
                    attempts: r.get(2)?,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    fn delivered(&self, id: i64) -> Result<(), Error> {
        self.conn()
            .execute(
                "UPDATE outbox SET delivered_at = strftime('%s','now') WHERE id = ?1",
                params![id],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn failed(&self, id: i64, retry_at: i64, error: &str) -> Result<(), Error> {
        self.conn()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, retry_at, error],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn forget_delivery(&self, key: &str) -> Result<(), Error> {
        self.conn()
            .execute("DELETE FROM delivery WHERE key = ?1", params![key])
            .map_err(db_err)?;
        Ok(())
    }

    fn gave_up(&self, id: i64, now: i64, error: &str) -> Result<(), Error> {
        self.conn()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?3, gave_up_at = ?2
                 WHERE id = ?1",
                params![id, now, error],
            )
            .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reply_per_interval_and_a_daily_cap() {
        let s = SqliteStore::in_memory().unwrap();
        let week = 7 * 86_400;
        assert_eq!(
            s.claim_auto_reply("A@x.example", 1000, week, 3).unwrap(),
            Claim::Granted
        );
        assert_eq!(
            s.claim_auto_reply("a@x.example", 2000, week, 3).unwrap(),
            Claim::RecentlyReplied(1000)
        );
        assert_eq!(
            s.claim_auto_reply("a@x.example", 1000 + week, week, 3)
                .unwrap(),
            Claim::Granted
        );
        // With no interval the cap is what stops a loop.
        assert_eq!(
            s.claim_auto_reply("b@x.example", 10, 0, 2).unwrap(),
            Claim::Granted
        );
        assert_eq!(
            s.claim_auto_reply("b@x.example", 11, 0, 2).unwrap(),
            Claim::Granted
        );
        assert_eq!(
            s.claim_auto_reply("b@x.example", 12, 0, 2).unwrap(),
            Claim::DailyCap
        );
    }

    #[test]
    fn deliveries_are_remembered_and_the_outbox_retries() {
        let s = SqliteStore::in_memory().unwrap();
        assert!(s.first_delivery("chatwoot:1", 0).unwrap());
        assert!(!s.first_delivery("chatwoot:1", 5).unwrap());
        let id = s.enqueue("{}", 100).unwrap();
        assert_eq!(s.due(100, 10).unwrap().len(), 1);
        s.failed(id, 160, "connection refused").unwrap();
        assert!(s.due(120, 10).unwrap().is_empty());
        let again = s.due(160, 10).unwrap();
        assert_eq!(again[0].attempts, 1);
        s.delivered(id).unwrap();
        assert!(s.due(10_000, 10).unwrap().is_empty());

        // A delivery that failed can be forgotten so that its retry is handled.
        s.forget_delivery("chatwoot:1").unwrap();
        assert!(s.first_delivery("chatwoot:1", 6).unwrap());
    }

    #[test]
    fn the_outbox_gives_up_but_keeps_the_row() {
        let s = SqliteStore::in_memory().unwrap();
        let id = s.enqueue(r#"{"event":"escalation"}"#, 100).unwrap();
        s.gave_up(id, 130, "HTTP 500").unwrap();
        assert!(s.due(i64::MAX, 10).unwrap().is_empty());
        let rows = s.outbox().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(rows[0].gave_up_at, Some(130));
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(rows[0].delivered_at, None);
    }

    #[test]
    fn an_older_database_gains_the_gave_up_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE outbox (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     payload TEXT NOT NULL,
                     created_at INTEGER NOT NULL,
                     next_at INTEGER NOT NULL,
                     attempts INTEGER NOT NULL DEFAULT 0,
                     last_error TEXT,
                     delivered_at INTEGER
                 );
                 INSERT INTO outbox (payload, created_at, next_at) VALUES ('{}', 1, 1);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.due(1, 10).unwrap().len(), 1);
        drop(s);
        // Opening again does not try to add it twice.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.outbox().unwrap()[0].gave_up_at, None);
    }
}
