//! [`Store`] in one embedded SQLite file.

use super::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// [`Store`] in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    limits: Limits,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

pub(super) fn db_err(e: rusqlite::Error) -> Error {
    Error::internal("state database", e)
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
        // With the write-ahead log, NORMAL syncs at checkpoints rather than at each commit:
        // a crash of the process loses nothing, a power cut at most the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")
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
             );
             CREATE INDEX IF NOT EXISTS auto_reply_sent ON auto_reply (sent_at);
             CREATE TABLE IF NOT EXISTS session (
                 key TEXT PRIMARY KEY,
                 data TEXT NOT NULL,
                 seen_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS session_seen ON session (seen_at);
             CREATE TABLE IF NOT EXISTS reply_log (
                 reply_id TEXT PRIMARY KEY,
                 at INTEGER NOT NULL,
                 lang TEXT NOT NULL,
                 channel TEXT NOT NULL,
                 decision TEXT NOT NULL,
                 topic TEXT,
                 confidence REAL NOT NULL,
                 rule TEXT,
                 queue TEXT,
                 after_hours INTEGER NOT NULL,
                 formality TEXT NOT NULL,
                 conversation TEXT,
                 fingerprint TEXT NOT NULL,
                 text TEXT,
                 helpful INTEGER,
                 rating INTEGER,
                 comment TEXT,
                 feedback_at INTEGER
             );
             CREATE INDEX IF NOT EXISTS reply_log_at ON reply_log (at);
             CREATE INDEX IF NOT EXISTS delivery_seen ON delivery (seen_at);",
        )
        .map_err(db_err)?;
        // Databases made before the outbox could give up, or knew each row's conversation,
        // lack those columns.
        for (column, definition) in [
            ("gave_up_at", "gave_up_at INTEGER"),
            ("conversation", "conversation TEXT NOT NULL DEFAULT ''"),
        ] {
            let present: i64 = tx
                .query_row(
                    "SELECT count(*) FROM pragma_table_info('outbox') WHERE name = ?1",
                    params![column],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if present == 0 {
                tx.execute_batch(&format!("ALTER TABLE outbox ADD COLUMN {definition}"))
                    .map_err(db_err)?;
            }
        }
        tx.execute_batch(
            "CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox (conversation);
             CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (delivered_at, gave_up_at, next_at);",
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            limits: Limits::default(),
        })
    }

    /// The same store with other [`Limits`].
    pub fn with_limits(mut self, limits: Limits) -> SqliteStore {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        crate::sync::lock(&self.conn)
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

    fn enqueue(&self, conversation: &str, payload: &str, now: i64) -> Result<Enqueued, Error> {
        if payload.len() > self.limits.max_payload_bytes {
            return Ok(Enqueued::TooLarge);
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let mine: i64 = if conversation.is_empty() {
            0
        } else {
            tx.query_row(
                "SELECT count(*) FROM outbox WHERE conversation = ?1",
                params![conversation],
                |r| r.get(0),
            )
            .map_err(db_err)?
        };
        if mine >= i64::from(self.limits.max_per_conversation) {
            return Ok(Enqueued::ConversationFull);
        }
        let waiting: i64 = tx
            .query_row(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if waiting >= i64::from(self.limits.max_pending) {
            return Ok(Enqueued::QueueFull);
        }
        tx.execute(
            "INSERT INTO outbox (conversation, payload, created_at, next_at) VALUES (?1, ?2, ?3, ?3)",
            params![conversation, payload, now],
        )
        .map_err(db_err)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(db_err)?;
        Ok(Enqueued::Queued(id))
    }

    fn due(&self, now: i64, limit: usize, lease_secs: i64) -> Result<Vec<OutboxItem>, Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let items = {
            let mut stmt = tx
                .prepare(
                    "SELECT id, payload, attempts FROM outbox
                     WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= ?1
                     ORDER BY id LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(
                    params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(OutboxItem {
                            id: r.get(0)?,
                            payload: r.get(1)?,
                            attempts: r.get(2)?,
                        })
                    },
                )
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?
        };
        for item in &items {
            tx.execute(
                "UPDATE outbox SET next_at = ?2 WHERE id = ?1",
                params![item.id, now.saturating_add(lease_secs.max(1))],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(items)
    }

    fn pending(&self) -> Result<u64, Error> {
        let rows: i64 = self
            .conn()
            .query_row(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    fn append_log(&self, entries: &[LogEntry]) -> Result<(), Error> {
        self.append_log_rows(entries)
    }

    fn record_feedback(&self, reply_id: &str, feedback: &Feedback, at: i64) -> Result<bool, Error> {
        self.feedback_row(reply_id, feedback, at)
    }

    fn read_log(&self, since: i64, until: i64) -> Result<Vec<LogRecord>, Error> {
        self.log_rows(since, until)
    }

    fn prune_log(&self, rows_before: i64, texts_before: i64) -> Result<(usize, usize), Error> {
        self.prune_log_rows(rows_before, texts_before)
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

    fn prune(&self, now: i64, retention: &Retention) -> Result<Pruned, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        let outbox = tx
            .execute(
                "DELETE FROM outbox WHERE (delivered_at IS NOT NULL AND delivered_at < ?1)
                 OR (gave_up_at IS NOT NULL AND gave_up_at < ?2)",
                params![
                    now.saturating_sub(retention.delivered_secs),
                    now.saturating_sub(retention.gave_up_secs)
                ],
            )
            .map_err(db_err)?;
        let delivery_keys = tx
            .execute(
                "DELETE FROM delivery WHERE seen_at < ?1",
                params![now.saturating_sub(retention.delivery_keys_secs)],
            )
            .map_err(db_err)?;
        let auto_replies = tx
            .execute(
                "DELETE FROM auto_reply WHERE sent_at < ?1",
                params![now.saturating_sub(retention.auto_reply_secs)],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Pruned {
            outbox,
            delivery_keys,
            auto_replies,
        })
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
        let Enqueued::Queued(id) = s.enqueue("api:1", "{}", 100).unwrap() else {
            panic!("not queued")
        };
        assert_eq!(s.due(100, 10, 60).unwrap().len(), 1);
        // Claimed: not due again while its sender holds the lease, due again after it.
        assert!(s.due(159, 10, 60).unwrap().is_empty());
        assert_eq!(s.due(160, 10, 60).unwrap()[0].attempts, 0);
        s.failed(id, 160, "connection refused").unwrap();
        assert!(s.due(120, 10, 60).unwrap().is_empty());
        let again = s.due(160, 10, 60).unwrap();
        assert_eq!(again[0].attempts, 1);
        s.delivered(id).unwrap();
        assert!(s.due(10_000, 10, 60).unwrap().is_empty());

        // A delivery that failed can be forgotten so that its retry is handled.
        s.forget_delivery("chatwoot:1").unwrap();
        assert!(s.first_delivery("chatwoot:1", 6).unwrap());
    }

    #[test]
    fn the_outbox_gives_up_but_keeps_the_row() {
        let s = SqliteStore::in_memory().unwrap();
        let Enqueued::Queued(id) = s
            .enqueue("api:1", r#"{"event":"escalation"}"#, 100)
            .unwrap()
        else {
            panic!("not queued")
        };
        s.gave_up(id, 130, "HTTP 500").unwrap();
        assert!(s.due(i64::MAX, 10, 60).unwrap().is_empty());
        let rows = s.outbox().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(rows[0].gave_up_at, Some(130));
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(rows[0].delivered_at, None);
    }

    #[test]
    fn the_outbox_is_bounded_per_conversation_overall_and_by_size() {
        let limits = Limits {
            max_payload_bytes: 100,
            max_per_conversation: 2,
            max_pending: 3,
        };
        let s = SqliteStore::in_memory().unwrap().with_limits(limits);
        assert!(matches!(
            s.enqueue("api:a", "{}", 1).unwrap(),
            Enqueued::Queued(_)
        ));
        assert!(matches!(
            s.enqueue("api:a", "{}", 2).unwrap(),
            Enqueued::Queued(_)
        ));
        // A third escalation of one conversation is refused, another conversation's is not.
        assert_eq!(
            s.enqueue("api:a", "{}", 3).unwrap(),
            Enqueued::ConversationFull
        );
        assert!(matches!(
            s.enqueue("api:b", "{}", 3).unwrap(),
            Enqueued::Queued(_)
        ));
        // Three rows wait: the queue is full for everyone.
        assert_eq!(s.enqueue("api:c", "{}", 4).unwrap(), Enqueued::QueueFull);
        let big = "x".repeat(101);
        assert_eq!(s.enqueue("api:d", &big, 5).unwrap(), Enqueued::TooLarge);
        assert_eq!(s.outbox().unwrap().len(), 3);
        // Delivering frees the queue but not the conversation's allowance.
        let first = s.due(10, 1, 60).unwrap()[0].id;
        s.delivered(first).unwrap();
        assert!(matches!(
            s.enqueue("api:c", "{}", 6).unwrap(),
            Enqueued::Queued(_)
        ));
        assert_eq!(
            s.enqueue("api:a", "{}", 6).unwrap(),
            Enqueued::ConversationFull
        );
    }

    #[test]
    fn prune_removes_old_finished_rows_and_keeps_waiting_ones() {
        let s = SqliteStore::in_memory().unwrap();
        let day = 86_400;
        let now = 100 * day;
        let queue = |conv: &str| match s.enqueue(conv, "{}", now - 60 * day).unwrap() {
            Enqueued::Queued(id) => id,
            other => panic!("{other:?}"),
        };
        let delivered = queue("api:1");
        let gave_up = queue("api:2");
        let waiting = queue("api:3");
        s.conn()
            .execute(
                "UPDATE outbox SET delivered_at = ?2 WHERE id = ?1",
                params![delivered, now - 8 * day],
            )
            .unwrap();
        s.gave_up(gave_up, now - 8 * day, "HTTP 500").unwrap();
        assert!(s.first_delivery("chatwoot:old", now - 8 * day).unwrap());
        assert!(s.first_delivery("chatwoot:new", now - day).unwrap());
        assert_eq!(
            s.claim_auto_reply("old@x.example", now - 40 * day, 0, 3)
                .unwrap(),
            Claim::Granted
        );
        assert_eq!(
            s.claim_auto_reply("new@x.example", now - day, 0, 3)
                .unwrap(),
            Claim::Granted
        );

        let pruned = s.prune(now, &Retention::default()).unwrap();
        assert_eq!(
            pruned,
            Pruned {
                outbox: 1,
                delivery_keys: 1,
                auto_replies: 1
            }
        );
        let ids: Vec<i64> = s.outbox().unwrap().iter().map(|r| r.id).collect();
        // The given-up row is kept for 30 days, the waiting one until it is delivered.
        assert_eq!(ids, vec![gave_up, waiting]);
        assert!(s.first_delivery("chatwoot:old", now).unwrap());
        assert!(!s.first_delivery("chatwoot:new", now).unwrap());
        // Pruning again removes nothing more.
        assert_eq!(s.prune(now, &Retention::default()).unwrap().total(), 0);
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
        assert_eq!(s.due(1, 10, 60).unwrap().len(), 1);
        drop(s);
        // Opening again does not try to add it twice.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.outbox().unwrap()[0].gave_up_at, None);
    }
}
