//! The conversation log in PostgreSQL.

use super::pg_conn::db_err;
use super::{Feedback, LogEntry, LogRecord, PgStore};
use crate::error::Error;

impl PgStore {
    pub(super) fn append_log_rows(&self, entries: &[LogEntry]) -> Result<(), Error> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db_err)?;
        let stmt = tx
            .prepare(
                "INSERT INTO sahaya_reply_log (reply_id, at, lang, channel, decision, topic,
                     confidence, rule, queue, after_hours, formality, conversation, fingerprint,
                     text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (reply_id) DO NOTHING",
            )
            .map_err(db_err)?;
        for e in entries {
            tx.execute(
                &stmt,
                &[
                    &e.reply_id,
                    &e.at,
                    &e.lang,
                    &e.channel,
                    &e.decision,
                    &e.topic,
                    &e.confidence,
                    &e.rule,
                    &e.queue,
                    &e.after_hours,
                    &e.formality,
                    &e.conversation,
                    &e.fingerprint,
                    &e.text,
                ],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    pub(super) fn feedback_row(
        &self,
        reply_id: &str,
        feedback: &Feedback,
        at: i64,
    ) -> Result<bool, Error> {
        let rating = feedback.rating.map(i16::from);
        let n = self
            .conn()?
            .execute(
                "UPDATE sahaya_reply_log SET helpful = $2, rating = $3, comment = $4,
                     feedback_at = $5
                 WHERE reply_id = $1",
                &[
                    &reply_id,
                    &feedback.helpful,
                    &rating,
                    &feedback.comment,
                    &at,
                ],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    pub(super) fn log_rows(&self, since: i64, until: i64) -> Result<Vec<LogRecord>, Error> {
        let rows = self
            .conn()?
            .query(
                "SELECT reply_id, at, lang, channel, decision, topic, confidence, rule, queue,
                     after_hours, formality, conversation, fingerprint, text,
                     helpful, rating, comment
                 FROM sahaya_reply_log WHERE at >= $1 AND at < $2 ORDER BY at, reply_id",
                &[&since, &until],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| LogRecord {
                entry: LogEntry {
                    reply_id: r.get(0),
                    at: r.get(1),
                    lang: r.get(2),
                    channel: r.get(3),
                    decision: r.get(4),
                    topic: r.get(5),
                    confidence: r.get(6),
                    rule: r.get(7),
                    queue: r.get(8),
                    after_hours: r.get(9),
                    formality: r.get(10),
                    conversation: r.get(11),
                    fingerprint: r.get(12),
                    text: r.get(13),
                },
                feedback: r.get::<_, Option<bool>>(14).map(|helpful| Feedback {
                    helpful,
                    rating: r
                        .get::<_, Option<i16>>(15)
                        .and_then(|v| u8::try_from(v).ok()),
                    comment: r.get(16),
                }),
            })
            .collect())
    }

    pub(super) fn prune_log_rows(
        &self,
        rows_before: i64,
        texts_before: i64,
    ) -> Result<(usize, usize), Error> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db_err)?;
        let rows = tx
            .execute(
                "DELETE FROM sahaya_reply_log WHERE at < $1",
                &[&rows_before],
            )
            .map_err(db_err)?;
        let texts = tx
            .execute(
                "UPDATE sahaya_reply_log SET text = NULL, comment = NULL
                 WHERE at < $1 AND (text IS NOT NULL OR comment IS NOT NULL)",
                &[&texts_before],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
        Ok((n(rows), n(texts)))
    }
}
