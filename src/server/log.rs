//! The conversation log's writer: each reply is queued, bounded, and written in batches by
//! one thread, so logging never slows or fails a reply. When the queue is full (the state
//! database is slow or down), entries are dropped and counted
//! (`sahaya_log_dropped_total`).

use super::metrics::LogMetrics;
use crate::model::Reply;
use crate::store::{new_reply_id, LogConfig, LogEntry, Store};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries waiting to be written; more are dropped.
pub const LOG_QUEUE: usize = 10_000;
/// Entries written in one transaction.
const BATCH: usize = 500;
/// How long the writer gathers entries before it writes them.
const GATHER: Duration = Duration::from_millis(50);

enum Job {
    Entry(Box<LogEntry>),
    /// Answered once everything queued before it is written.
    Flush(SyncSender<()>),
}

/// The log of a running server.
pub(super) struct ConversationLog {
    tx: SyncSender<Job>,
    config: LogConfig,
    metrics: LogMetrics,
}

impl std::fmt::Debug for ConversationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationLog")
            .field("config", &self.config)
            .finish()
    }
}

impl ConversationLog {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, config: LogConfig, metrics: LogMetrics) -> ConversationLog {
        let (tx, rx) = sync_channel(LOG_QUEUE);
        let written = metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("sahaya-log".into())
            .spawn(move || write_loop(&rx, &*store, &written));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the conversation log writer did not start");
        }
        ConversationLog {
            tx,
            config,
            metrics,
        }
    }

    /// The `[log]` settings.
    pub fn config(&self) -> LogConfig {
        self.config
    }

    /// Gives `reply` its id and queues its log entry; never blocks.
    pub fn record(&self, reply: &mut Reply, text: &str, channel: &str, at: i64) {
        let id = new_reply_id();
        let entry = LogEntry::new(reply, &id, text, channel, at, self.config.keep_text);
        reply.reply_id = Some(id);
        match self.tx.try_send(Job::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.dropped(1);
            }
        }
    }

    /// Waits (at most `timeout`) until every entry queued so far is written.
    pub fn flush(&self, timeout: Duration) {
        let (done, wait) = sync_channel(1);
        if self.tx.send(Job::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(timeout);
        }
    }
}

fn write_loop(rx: &Receiver<Job>, store: &dyn Store, metrics: &LogMetrics) {
    let mut batch: Vec<LogEntry> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<SyncSender<()>> = Vec::new();
    while let Ok(first) = rx.recv() {
        // Entries that arrive within GATHER of the first go in the same transaction: one
        // commit for hundreds of replies under load, instead of one each.
        let deadline = Instant::now() + GATHER;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Entry(e) => batch.push(*e),
                Job::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH && waiting.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                next = rx.recv_timeout(left).ok();
            } else if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            match store.append_log(&batch) {
                Ok(()) => metrics.written(batch.len()),
                Err(e) => {
                    tracing::warn!(error = %e, entries = batch.len(), "conversation log entries dropped");
                    metrics.dropped(batch.len());
                }
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
