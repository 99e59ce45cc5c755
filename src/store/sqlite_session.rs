//! Conversations in the SQLite state file ([`SessionBackend`] for [`SqliteStore`]).

use super::sqlite::db_err;
use super::SqliteStore;
use crate::error::Error;
use crate::session::{Session, SessionBackend};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

fn decode(data: &str) -> Result<Session, Error> {
    serde_json::from_str(data).map_err(|e| Error::internal("conversation state row", e))
}

impl SessionBackend for SqliteStore {
    fn update(
        &self,
        key: &str,
        now: i64,
        ttl: i64,
        f: &mut dyn FnMut(&mut Session),
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        // IMMEDIATE: another process on the same file waits until this decision is stored.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let row: Option<(String, i64)> = tx
            .prepare_cached("SELECT data, seen_at FROM session WHERE key = ?1")
            .map_err(db_err)?
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)?;
        let mut session = match row {
            Some((data, seen)) if now.saturating_sub(seen) <= ttl => decode(&data)?,
            _ => Session::default(),
        };
        f(&mut session);
        let data = serde_json::to_string(&session)
            .map_err(|e| Error::internal("conversation state", e))?;
        tx.prepare_cached(
            "INSERT INTO session (key, data, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, seen_at = excluded.seen_at",
        )
        .map_err(db_err)?
        .execute(params![key, data, now])
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    fn get(&self, key: &str, now: i64, ttl: i64) -> Result<Option<Session>, Error> {
        let conn = self.conn();
        let row: Option<(String, i64)> = conn
            .prepare_cached("SELECT data, seen_at FROM session WHERE key = ?1")
            .map_err(db_err)?
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)?;
        match row {
            Some((data, seen)) if now.saturating_sub(seen) <= ttl => decode(&data).map(Some),
            _ => Ok(None),
        }
    }

    fn purge_idle(&self, seen_before: i64) -> Result<usize, Error> {
        self.conn()
            .execute(
                "DELETE FROM session WHERE seen_at < ?1",
                params![seen_before],
            )
            .map_err(db_err)
    }

    fn trim(&self, keep: usize) -> Result<usize, Error> {
        self.conn()
            .execute(
                "DELETE FROM session WHERE key IN
                     (SELECT key FROM session ORDER BY seen_at DESC LIMIT -1 OFFSET ?1)",
                params![i64::try_from(keep).unwrap_or(i64::MAX)],
            )
            .map_err(db_err)
    }

    fn count(&self) -> Result<usize, Error> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM session", [], |r| r.get(0))
            .map_err(db_err)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Escalation, Priority};
    use crate::session::SessionStore;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn conversations_outlive_the_process_that_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let store = Arc::new(SqliteStore::open(&path).unwrap());
            let sessions = SessionStore::shared(Duration::from_secs(600), 10, store);
            sessions
                .update("api:a", |s| {
                    s.turns = 3;
                    s.escalations = 1;
                    s.escalated = Some(Escalation::new("legal", "legal", Priority::High));
                })
                .unwrap();
            assert_eq!(sessions.len().unwrap(), 1);
        }
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let sessions = SessionStore::shared(Duration::from_secs(600), 10, store);
        let s = sessions.get("api:a").unwrap();
        assert_eq!((s.turns, s.escalations), (3, 1));
        assert_eq!(s.escalated.as_ref().map(|e| e.rule.as_str()), Some("legal"));
        assert!(sessions.hand_back("api:a").unwrap());
        assert!(!sessions.hand_back("api:a").unwrap());
        assert!(!sessions.hand_back("api:unknown").unwrap());
        assert_eq!(sessions.get("api:a").unwrap().escalated, None);
        assert_eq!(sessions.get("api:unknown").unwrap(), Session::default());
    }

    #[test]
    fn idle_conversations_read_as_new_and_are_purged() {
        let store = SqliteStore::in_memory().unwrap();
        store
            .update("old", 1_000, 60, &mut |s| s.turns = 5)
            .unwrap();
        store
            .update("new", 1_050, 60, &mut |s| s.turns = 1)
            .unwrap();
        assert_eq!(store.get("old", 1_060, 60).unwrap().unwrap().turns, 5);
        assert_eq!(store.get("old", 1_061, 60).unwrap(), None);
        let mut seen = None;
        store
            .update("old", 1_061, 60, &mut |s| seen = Some(s.turns))
            .unwrap();
        assert_eq!(seen, Some(0), "an expired conversation starts afresh");
        assert_eq!(store.purge_idle(1_051).unwrap(), 1);
        assert_eq!(store.count().unwrap(), 1);
    }

    #[test]
    fn trimming_keeps_the_most_recently_seen() {
        let store = SqliteStore::in_memory().unwrap();
        for i in 0..5 {
            store
                .update(&format!("c{i}"), 100 + i, 60, &mut |s| s.turns = 1)
                .unwrap();
        }
        assert_eq!(store.trim(2).unwrap(), 3);
        assert_eq!(store.count().unwrap(), 2);
        assert!(store.get("c4", 110, 60).unwrap().is_some());
        assert!(store.get("c3", 110, 60).unwrap().is_some());
        assert!(store.get("c2", 110, 60).unwrap().is_none());
        assert_eq!(store.trim(2).unwrap(), 0);
    }
}
