//! Conversation sessions: what the rules need to remember between messages.
//!
//! Sessions are keyed by the request's `session_id`, live in memory, expire after a time to
//! live without messages, and are bounded in number (the least recently seen one is dropped
//! when the store is full). A reloaded engine keeps the same store, so an edit to the
//! content does not make the bot forget that a conversation is with a person.

use crate::engine::Escalation;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is remembered about one conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// Messages answered so far in this conversation (the current one not included).
    pub turns: u32,
    /// Consecutive messages, up to the previous one, that the bot could not answer.
    pub consecutive_fallbacks: u32,
    /// Set while a person has the conversation: the bot stays quiet until handed back.
    pub escalated: Option<Escalation>,
    /// How many times this conversation went to a person.
    pub escalations: u32,
    /// The register the customer asked for in the conversation («μίλα μου στον ενικό»).
    pub formality: Option<crate::lang::Formality>,
}

struct Entry {
    session: Session,
    seen: Instant,
}

/// The in-memory session store shared by every snapshot of an engine.
pub struct SessionStore {
    ttl: Duration,
    max: usize,
    map: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("ttl", &self.ttl)
            .field("max", &self.max)
            .field("len", &self.len())
            .finish()
    }
}

impl SessionStore {
    /// A store whose sessions expire `ttl` after their last message, holding at most `max`.
    pub fn new(ttl: Duration, max: usize) -> SessionStore {
        SessionStore {
            ttl,
            max: max.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The session `id` as it is now (a fresh one when unknown or expired).
    pub fn get(&self, id: &str) -> Session {
        let map = self.lock();
        match map.get(id) {
            Some(e) if e.seen.elapsed() <= self.ttl => e.session.clone(),
            _ => Session::default(),
        }
    }

    /// Stores the session `id` as of now.
    pub fn put(&self, id: &str, session: Session) {
        let mut map = self.lock();
        let now = Instant::now();
        if map.len() >= self.max && !map.contains_key(id) {
            let ttl = self.ttl;
            map.retain(|_, e| now.duration_since(e.seen) <= ttl);
            if map.len() >= self.max {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.seen)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(id.to_string(), Entry { session, seen: now });
    }

    /// Hands an escalated conversation back to the bot; true when it was with a person.
    pub fn hand_back(&self, id: &str) -> bool {
        let mut map = self.lock();
        match map.get_mut(id) {
            Some(e) if e.session.escalated.is_some() => {
                e.session.escalated = None;
                e.session.consecutive_fallbacks = 0;
                e.seen = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Number of sessions held (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written: recover.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_their_ttl() {
        let store = SessionStore::new(Duration::from_millis(300), 10);
        store.put(
            "a",
            Session {
                turns: 3,
                ..Session::default()
            },
        );
        assert_eq!(store.get("a").turns, 3);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(store.get("a"), Session::default());
    }

    #[test]
    fn the_least_recently_seen_session_makes_room() {
        let store = SessionStore::new(Duration::from_secs(60), 2);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            store.put(
                id,
                Session {
                    turns: i as u32 + 1,
                    ..Session::default()
                },
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("a"), Session::default());
        assert_eq!(store.get("c").turns, 3);
    }

    #[test]
    fn hand_back_clears_the_escalation_only() {
        let store = SessionStore::new(Duration::from_secs(60), 10);
        store.put(
            "s",
            Session {
                turns: 2,
                consecutive_fallbacks: 2,
                escalated: Some(Escalation {
                    rule: "human_request".into(),
                    queue: "support".into(),
                    priority: "normal".into(),
                }),
                escalations: 1,
                formality: None,
            },
        );
        assert!(store.hand_back("s"));
        let s = store.get("s");
        assert_eq!(
            (s.turns, s.escalated.is_none(), s.escalations),
            (2, true, 1)
        );
        assert!(!store.hand_back("s"));
        assert!(!store.hand_back("unknown"));
    }
}
