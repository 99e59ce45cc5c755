//! The conversation log in the SQLite state file.

use super::sqlite::db_err;
use super::{Feedback, LogEntry, LogRecord, SqliteStore};
use crate::error::Error;
use rusqlite::params;

impl SqliteStore {
    pub(super) fn append_log_rows(&self, entries: &[LogEntry]) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO reply_log (reply_id, at, lang, channel, decision,
                         topic, confidence, rule, queue, after_hours, formality, conversation,
                         fingerprint, text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db_err)?;
            for e in entries {
                stmt.execute(params![
                    e.reply_id,
                    e.at,
                    e.lang,
                    e.channel,
                    e.decision,
                    e.topic,
                    f64::from(e.confidence),
                    e.rule,
                    e.queue,
                    e.after_hours,
                    e.formality,
                    e.conversation,
                    e.fingerprint,
                    e.text
                ])
                .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    pub(super) fn feedback_row(
        &self,
        reply_id: &str,
        feedback: &Feedback,
        at: i64,
    ) -> Result<bool, Error> {
        let n = self
            .conn()
            .execute(
                "UPDATE reply_log SET helpful = ?2, rating = ?3, comment = ?4, feedback_at = ?5
                 WHERE reply_id = ?1",
                params![
                    reply_id,
                    feedback.helpful,
                    feedback.rating,
                    feedback.comment,
                    at
                ],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    pub(super) fn log_rows(&self, since: i64, until: i64) -> Result<Vec<LogRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT reply_id, at, lang, channel, decision, topic, confidence, rule, queue,
                     after_hours, formality, conversation, fingerprint, text,
                     helpful, rating, comment
                 FROM reply_log WHERE at >= ?1 AND at < ?2 ORDER BY at, rowid",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![since, until], |r| {
                let helpful: Option<bool> = r.get(14)?;
                Ok(LogRecord {
                    entry: LogEntry {
                        reply_id: r.get(0)?,
                        at: r.get(1)?,
                        lang: r.get(2)?,
                        channel: r.get(3)?,
                        decision: r.get(4)?,
                        topic: r.get(5)?,
                        confidence: r.get::<_, f64>(6)? as f32,
                        rule: r.get(7)?,
                        queue: r.get(8)?,
                        after_hours: r.get(9)?,
                        formality: r.get(10)?,
                        conversation: r.get(11)?,
                        fingerprint: r.get(12)?,
                        text: r.get(13)?,
                    },
                    feedback: match helpful {
                        Some(helpful) => Some(Feedback {
                            helpful,
                            rating: r.get(15)?,
                            comment: r.get(16)?,
                        }),
                        None => None,
                    },
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    pub(super) fn prune_log_rows(
        &self,
        rows_before: i64,
        texts_before: i64,
    ) -> Result<(usize, usize), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        let rows = tx
            .execute("DELETE FROM reply_log WHERE at < ?1", params![rows_before])
            .map_err(db_err)?;
        let texts = tx
            .execute(
                "UPDATE reply_log SET text = NULL, comment = NULL
                 WHERE at < ?1 AND (text IS NOT NULL OR comment IS NOT NULL)",
                params![texts_before],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok((rows, texts))
    }
}
