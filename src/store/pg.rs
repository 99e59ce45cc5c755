//! [`Store`] and [`SessionBackend`] on PostgreSQL, for several replicas of a server (and
//! `sahaya mail` on several hosts) that must share one truth.
//!
//! Every operation is one short transaction on a pooled connection:
//! - a conversation's row is locked (`INSERT … ON CONFLICT DO UPDATE … RETURNING`) while
//!   its message is decided, so two replicas deciding messages of one conversation take
//!   turns and never lose an escalation or a hand-back;
//! - the auto-reply memory and the outbox limits are checked under a transaction-scoped
//!   advisory lock on the sender or conversation;
//! - outbox rows are claimed with `FOR UPDATE SKIP LOCKED` and leased: a claimed row is not
//!   due again until its lease ends, so each is sent by one replica at a time, and a row
//!   whose sender died mid-delivery is sent again once the lease is over.
//!
//! The schema is versioned (`sahaya_schema`) and migrated on first use under an advisory
//! lock, so replicas starting at once take turns and a second migration is a no-op. Tables
//! are created in the connection's `search_path` (the URL may set it:
//! `?options=-csearch_path%3Dsahaya`). Connections are made without TLS.

use super::pg_conn::{db_err, describe, migrate, Manager};
use super::*;
use crate::session::{Session, SessionBackend};
use ::postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

type Conn = r2d2::PooledConnection<Manager>;

/// Locks a conversation's row (inserting a placeholder for a new one) and reads it.
const LOCK_SESSION: &str = "INSERT INTO sahaya_session (key, data, seen_at) VALUES ($1, '', -1)
     ON CONFLICT (key) DO UPDATE SET key = excluded.key
     RETURNING data, seen_at";
/// Writes a conversation's row.
const WRITE_SESSION: &str = "UPDATE sahaya_session SET data = $2, seen_at = $3 WHERE key = $1";

/// Settings of the connection pool of a [`PgStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections open at once (per process).
    pub max_connections: u32,
    /// How long to wait for a connection (to connect, or for a free one in the pool)
    /// before the operation fails as unavailable.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// [`Store`] and [`SessionBackend`] on PostgreSQL.
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    limits: Limits,
    migrated: AtomicBool,
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish()
    }
}

/// Why a connection URL was refused.
#[derive(Debug, thiserror::Error)]
#[error("not a PostgreSQL connection URL ({0}); expected postgres://user@host:port/database")]
pub struct UrlError(String);

/// Reads a session row; a row that cannot be read is an error rather than a silent reset.
fn decode(data: &str) -> Result<Session, Error> {
    serde_json::from_str(data).map_err(|e| Error::internal("conversation state row", e))
}

fn encode(session: &Session) -> Result<String, Error> {
    serde_json::to_string(session).map_err(|e| Error::internal("conversation state row", e))
}

impl PgStore {
    /// A store for the database at `url` with default [`PgOptions`].
    ///
    /// Does not connect: the first operation (or [`Store::ping`]) does, and migrates the
    /// schema. So a server starts while the database is down and reports itself not ready
    /// until it is up.
    pub fn connect(url: &str) -> Result<PgStore, UrlError> {
        PgStore::connect_with(url, PgOptions::default())
    }

    /// A store for the database at `url` with the given pool settings.
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, UrlError> {
        let mut config: ::postgres::Config = url.parse().map_err(|e: ::postgres::Error| {
            UrlError(
                e.to_string()
                    .trim_start_matches("invalid configuration: ")
                    .to_string(),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("sahaya");
        }
        let target = describe(&config);
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager(PostgresConnectionManager::new(config, NoTls)));
        Ok(PgStore {
            pool,
            limits: Limits::default(),
            migrated: AtomicBool::new(false),
            target,
        })
    }

    /// The same store with other [`Limits`].
    pub fn with_limits(mut self, limits: Limits) -> PgStore {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Where it connects (host, port and database; never the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A pooled connection to a database whose schema is up to date.
    pub(super) fn conn(&self) -> Result<Conn, Error> {
        let mut conn = self.pool.get().map_err(|e| {
            Error::unavailable(
                "state database",
                format!("no connection to {} ({e})", self.target),
            )
        })?;
        if !self.migrated.load(Ordering::Acquire) {
            migrate(&mut conn)?;
            self.migrated.store(true, Ordering::Release);
        }
        Ok(conn)
    }

    /// Runs one statement on a pooled connection; the rows it touched.
    fn exec(
        &self,
        sql: &str,
        params: &[&(dyn ::postgres::types::ToSql + Sync)],
    ) -> Result<u64, Error> {
        self.conn()?.execute(sql, params).map_err(db_err)
    }

    /// Every outbox row, oldest first: delivered, waiting and given up.
    pub fn outbox(&self) -> Result<Vec<OutboxRecord>, Error> {
        let rows = self
            .conn()?
            .query(
                "SELECT id, payload, attempts, last_error, delivered_at, gave_up_at
                 FROM sahaya_outbox ORDER BY id",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| OutboxRecord {
                id: r.get(0),
                payload: r.get(1),
                attempts: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
                last_error: r.get(3),
                delivered_at: r.get(4),
                gave_up_at: r.get(5),
            })
            .collect())
    }
}

impl SessionBackend for PgStore {
    fn update(
        &self,
        key: &str,
        now: i64,
        ttl: i64,
        f: &mut dyn FnMut(&mut Session),
    ) -> Result<(), Error> {
        let mut conn = self.conn()?;
        let (lock, write) = (conn.prepared(LOCK_SESSION)?, conn.prepared(WRITE_SESSION)?);
        let mut tx = conn.transaction().map_err(db_err)?;
        // Inserts a placeholder for a new conversation, or locks the existing row and
        // returns it unchanged: either way the row is ours until the commit.
        let row = tx.query_one(&lock, &[&key]).map_err(db_err)?;
        let (data, seen): (String, i64) = (row.get(0), row.get(1));
        let mut session = if seen < 0 || now.saturating_sub(seen) > ttl {
            Session::default()
        } else {
            decode(&data)?
        };
        f(&mut session);
        tx.execute(&write, &[&key, &encode(&session)?, &now])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    fn get(&self, key: &str, now: i64, ttl: i64) -> Result<Option<Session>, Error> {
        let mut conn = self.conn()?;
        let read = conn.prepared("SELECT data, seen_at FROM sahaya_session WHERE key = $1")?;
        let row = conn.query_opt(&read, &[&key]).map_err(db_err)?;
        match row {
            Some(r) => {
                let (data, seen): (String, i64) = (r.get(0), r.get(1));
                if seen < 0 || now.saturating_sub(seen) > ttl {
                    Ok(None)
                } else {
                    decode(&data).map(Some)
                }
            }
            None => Ok(None),
        }
    }

    fn purge_idle(&self, seen_before: i64) -> Result<usize, Error> {
        let n = self.exec(
            "DELETE FROM sahaya_session WHERE seen_at < $1",
            &[&seen_before],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn trim(&self, keep: usize) -> Result<usize, Error> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let n = self.exec(
            "DELETE FROM sahaya_session WHERE key IN
                     (SELECT key FROM sahaya_session ORDER BY seen_at DESC OFFSET $1)",
            &[&keep],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn count(&self) -> Result<usize, Error> {
        let n: i64 = self
            .conn()?
            .query_one("SELECT count(*) FROM sahaya_session", &[])
            .map_err(db_err)?
            .get(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

impl Store for PgStore {
    fn claim_auto_reply(
        &self,
        sender: &str,
        now: i64,
        interval: i64,
        daily_cap: u32,
    ) -> Result<Claim, Error> {
        let sender = sender.trim().to_lowercase();
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db_err)?;
        // Two hosts handling mail from one sender take turns here.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('sahaya-auto-reply:' || $1, 0))",
            &[&sender],
        )
        .map_err(db_err)?;
        let row = tx
            .query_one(
                "SELECT max(sent_at), count(*) FILTER (WHERE sent_at > $2)
                 FROM sahaya_auto_reply WHERE sender = $1",
                &[&sender, &(now - 86_400)],
            )
            .map_err(db_err)?;
        let (last, today): (Option<i64>, i64) = (row.get(0), row.get(1));
        if let Some(last) = last {
            if now - last < interval {
                return Ok(Claim::RecentlyReplied(last));
            }
        }
        if today >= i64::from(daily_cap) {
            return Ok(Claim::DailyCap);
        }
        tx.execute(
            "INSERT INTO sahaya_auto_reply (sender, sent_at) VALUES ($1, $2)",
            &[&sender, &now],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Claim::Granted)
    }

    fn first_delivery(&self, key: &str, now: i64) -> Result<bool, Error> {
        let n = self.exec(
            "INSERT INTO sahaya_delivery (key, seen_at) VALUES ($1, $2)
                 ON CONFLICT (key) DO NOTHING",
            &[&key, &now],
        )?;
        Ok(n == 1)
    }

    fn enqueue(&self, conversation: &str, payload: &str, now: i64) -> Result<Enqueued, Error> {
        if payload.len() > self.limits.max_payload_bytes {
            return Ok(Enqueued::TooLarge);
        }
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db_err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('sahaya-outbox:' || $1, 0))",
            &[&conversation],
        )
        .map_err(db_err)?;
        if !conversation.is_empty() {
            let mine: i64 = tx
                .query_one(
                    "SELECT count(*) FROM sahaya_outbox WHERE conversation = $1",
                    &[&conversation],
                )
                .map_err(db_err)?
                .get(0);
            if mine >= i64::from(self.limits.max_per_conversation) {
                return Ok(Enqueued::ConversationFull);
            }
        }
        let waiting: i64 = tx
            .query_one(
                "SELECT count(*) FROM sahaya_outbox
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                &[],
            )
            .map_err(db_err)?
            .get(0);
        if waiting >= i64::from(self.limits.max_pending) {
            return Ok(Enqueued::QueueFull);
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO sahaya_outbox (conversation, payload, created_at, next_at)
                 VALUES ($1, $2, $3, $3) RETURNING id",
                &[&conversation, &payload, &now],
            )
            .map_err(db_err)?
            .get(0);
        tx.commit().map_err(db_err)?;
        Ok(Enqueued::Queued(id))
    }

    fn due(&self, now: i64, limit: usize, lease_secs: i64) -> Result<Vec<OutboxItem>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()?
            .query(
                "UPDATE sahaya_outbox SET next_at = $1 + $3
                 WHERE id IN (
                     SELECT id FROM sahaya_outbox
                     WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= $1
                     ORDER BY id LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, payload, attempts",
                &[&now, &limit, &lease_secs.max(1)],
            )
            .map_err(db_err)?;
        let mut items: Vec<OutboxItem> = rows
            .iter()
            .map(|r| OutboxItem {
                id: r.get(0),
                payload: r.get(1),
                attempts: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
            })
            .collect();
        items.sort_by_key(|i| i.id);
        Ok(items)
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

    fn pending(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn()?
            .query_one(
                "SELECT count(*) FROM sahaya_outbox
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                &[],
            )
            .map_err(db_err)?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn delivered(&self, id: i64) -> Result<(), Error> {
        self.exec(
            "UPDATE sahaya_outbox SET delivered_at = extract(epoch from now())::bigint
                 WHERE id = $1",
            &[&id],
        )?;
        Ok(())
    }

    fn failed(&self, id: i64, retry_at: i64, error: &str) -> Result<(), Error> {
        self.exec(
            "UPDATE sahaya_outbox SET attempts = attempts + 1, next_at = $2, last_error = $3
                 WHERE id = $1",
            &[&id, &retry_at, &error],
        )?;
        Ok(())
    }

    fn forget_delivery(&self, key: &str) -> Result<(), Error> {
        self.exec("DELETE FROM sahaya_delivery WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn gave_up(&self, id: i64, now: i64, error: &str) -> Result<(), Error> {
        self.exec(
            "UPDATE sahaya_outbox SET attempts = attempts + 1, last_error = $3, gave_up_at = $2
                 WHERE id = $1",
            &[&id, &now, &error],
        )?;
        Ok(())
    }

    fn prune(&self, now: i64, retention: &Retention) -> Result<Pruned, Error> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db_err)?;
        let outbox = tx
            .execute(
                "DELETE FROM sahaya_outbox
                 WHERE (delivered_at IS NOT NULL AND delivered_at < $1)
                    OR (gave_up_at IS NOT NULL AND gave_up_at < $2)",
                &[
                    &now.saturating_sub(retention.delivered_secs),
                    &now.saturating_sub(retention.gave_up_secs),
                ],
            )
            .map_err(db_err)?;
        let delivery_keys = tx
            .execute(
                "DELETE FROM sahaya_delivery WHERE seen_at < $1",
                &[&now.saturating_sub(retention.delivery_keys_secs)],
            )
            .map_err(db_err)?;
        let auto_replies = tx
            .execute(
                "DELETE FROM sahaya_auto_reply WHERE sent_at < $1",
                &[&now.saturating_sub(retention.auto_reply_secs)],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
        Ok(Pruned {
            outbox: n(outbox),
            delivery_keys: n(delivery_keys),
            auto_replies: n(auto_replies),
        })
    }

    fn ping(&self) -> Result<(), Error> {
        self.conn()?.query_one("SELECT 1", &[]).map_err(db_err)?;
        Ok(())
    }
}
