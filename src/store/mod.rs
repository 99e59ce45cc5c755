//! State that must survive a restart or be shared by replicas: conversations, the
//! per-sender auto-reply memory, the escalation outbox and the help-desk deliveries already
//! handled.
//!
//! Two interfaces make up the state: [`Store`], used by the channels, and
//! [`SessionBackend`](crate::session::SessionBackend), which keeps the conversations. Both
//! backends implement both:
//! - [`SqliteStore`] keeps everything in one embedded SQLite file (zero set-up, the
//!   default), safe for several processes on one machine (each claim runs in an
//!   `IMMEDIATE` transaction, so two concurrent `sahaya mail` runs for the same sender
//!   cannot both reply);
//! - `PgStore` (feature `postgres`) keeps it in PostgreSQL, for several replicas on several
//!   machines.
//!
//! [`StateConfig`] is the `[state]` table of `sahaya.toml` and opens the one it names.

mod config;
mod log;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pg_conn;
#[cfg(feature = "postgres")]
mod pg_log;
mod sqlite;
mod sqlite_log;
mod sqlite_session;

pub use config::{SessionsIn, State, StateConfig, StateError, STATE_URL_VAR};
pub use log::{fingerprint, new_reply_id, Feedback, LogConfig, LogEntry, LogRecord};
#[cfg(feature = "postgres")]
pub use pg::{PgOptions, PgStore, UrlError};
pub use sqlite::SqliteStore;

use crate::error::Error;

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

/// What [`Store::enqueue`] did with an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued under this row id.
    Queued(i64),
    /// Not queued: the conversation already has [`Limits::max_per_conversation`] rows.
    ConversationFull,
    /// Not queued: [`Limits::max_pending`] rows are waiting for delivery.
    QueueFull,
    /// Not queued: the payload is larger than [`Limits::max_payload_bytes`].
    TooLarge,
}

/// Bounds on what the state database accepts, so that a flood of requests cannot grow it
/// without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest escalation payload, in bytes.
    pub max_payload_bytes: usize,
    /// Outbox rows one conversation may have (waiting, delivered or given up, until pruned).
    pub max_per_conversation: u32,
    /// Rows waiting for delivery across all conversations.
    pub max_pending: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 256 * 1024,
            max_per_conversation: 10,
            max_pending: 10_000,
        }
    }
}

/// How long [`Store::prune`] keeps each kind of row, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Delivered outbox rows.
    pub delivered_secs: i64,
    /// Outbox rows given up on (kept longer, for a person to look at).
    pub gave_up_secs: i64,
    /// Delivery ids of help-desk events (a repeat of an older event is handled again).
    pub delivery_keys_secs: i64,
    /// The auto-reply memory. `sahaya mail` never prunes it below its interval (or a day,
    /// for the daily cap), whatever is set here.
    pub auto_reply_secs: i64,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: i64 = 86_400;
        Retention {
            delivered_secs: 7 * DAY,
            gave_up_secs: 30 * DAY,
            delivery_keys_secs: 7 * DAY,
            auto_reply_secs: 30 * DAY,
        }
    }
}

/// Rows removed by [`Store::prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Outbox rows (delivered or given up).
    pub outbox: usize,
    /// Delivery ids.
    pub delivery_keys: usize,
    /// Auto-reply memory rows.
    pub auto_replies: usize,
}

impl Pruned {
    /// Rows removed in all.
    pub fn total(&self) -> usize {
        self.outbox + self.delivery_keys + self.auto_replies
    }
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

    /// Queues a payload for the escalation webhook, for the conversation `conversation`
    /// (any stable key, e.g. `api:<session id>`; empty for a message outside a
    /// conversation, which only the overall limit bounds), within the store's [`Limits`].
    fn enqueue(&self, conversation: &str, payload: &str, now: i64) -> Result<Enqueued, Error>;

    /// Claims up to `limit` items due for (re)delivery at `now`, oldest first. A claimed
    /// item is leased: it is not due again before `now + lease_secs` unless
    /// [`Store::failed`] sets another time, so several senders never send one item at once,
    /// and an item whose sender died mid-delivery is sent again when its lease ends.
    fn due(&self, now: i64, limit: usize, lease_secs: i64) -> Result<Vec<OutboxItem>, Error>;

    /// Rows waiting for delivery: neither delivered nor given up, due now or later.
    fn pending(&self) -> Result<u64, Error>;

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

    /// Deletes rows older than `retention` allows: delivered and given-up outbox rows,
    /// delivery ids and the auto-reply memory. Rows waiting for delivery are never pruned.
    fn prune(&self, now: i64, retention: &Retention) -> Result<Pruned, Error>;

    /// Appends rows to the conversation log; a reply id already logged is left as it is.
    fn append_log(&self, entries: &[LogEntry]) -> Result<(), Error>;

    /// Records a customer's feedback on a logged reply (the last feedback wins); false
    /// when no logged reply has that id.
    fn record_feedback(&self, reply_id: &str, feedback: &Feedback, at: i64) -> Result<bool, Error>;

    /// The log rows with `since <= at < until`, oldest first, with their feedback.
    fn read_log(&self, since: i64, until: i64) -> Result<Vec<LogRecord>, Error>;

    /// Deletes log rows from before `rows_before` and erases the texts (and feedback
    /// comments) of rows from before `texts_before`; how many of each.
    fn prune_log(&self, rows_before: i64, texts_before: i64) -> Result<(usize, usize), Error>;

    /// Checks that the database can be used now (a server's readiness check).
    fn ping(&self) -> Result<(), Error> {
        Ok(())
    }
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
