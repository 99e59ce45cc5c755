//! Conversation sessions: what the rules need to remember between messages.
//!
//! Sessions are keyed by the request's `session_id` and expire after a time to live without
//! messages. By default they live in memory, bounded in number (the least recently seen one
//! is dropped when the store is full). A [`SessionBackend`] keeps them in a database
//! instead ([`SessionStore::shared`]), so that they survive a restart and several replicas
//! of a server share them: the `state` feature's `SqliteStore` for one machine, the
//! `postgres` feature's `PgStore` for several. A reloaded engine keeps the same store, so
//! an edit to the content does not make the bot forget that a conversation is with a person.
//!
//! A session id is at most [`MAX_SESSION_ID_BYTES`] bytes of printable text
//! ([`valid_session_id`]). A host that takes conversations from several channels keeps
//! them apart with [`scoped_key`]: the HTTP server files `/v1/respond` conversations under
//! `api:<id>` and Chatwoot's under `chatwoot:<account>:<conversation>`, so a caller of one
//! channel cannot name a conversation of another.
//!
//! ```
//! use sahaya::session::{scoped_key, valid_session_id, MAX_SESSION_ID_BYTES};
//!
//! assert!(valid_session_id("web-7f3a").is_ok());
//! assert!(valid_session_id(&"x".repeat(MAX_SESSION_ID_BYTES + 1)).is_err());
//! assert!(valid_session_id("a\nb").is_err());
//! assert_eq!(scoped_key("api", "chatwoot:1:2").unwrap(), "api:chatwoot:1:2");
//! ```

use crate::error::Error;
use crate::model::Escalation;
use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

pub use crate::error::SessionIdError;
pub use crate::model::{
    scoped_key, valid_session_id, valid_session_key, MAX_SCOPE_BYTES, MAX_SESSION_ID_BYTES,
    MAX_SESSION_KEY_BYTES,
};

/// What is remembered about one conversation. Stored as JSON by database backends; fields
/// added later read as their defaults from older rows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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

/// Conversations kept outside the process: in a database that survives restarts and that
/// several replicas share.
///
/// Times are Unix seconds. A conversation idle for more than `ttl` seconds reads as new.
pub trait SessionBackend: Send + Sync {
    /// Runs `f` once on the conversation `key` (a fresh [`Session`] when it is unknown or was
    /// idle longer than `ttl` at `now`) and stores what `f` leaves, marked as seen at `now`,
    /// atomically: while `f` runs, no other update of `key` by any process can read or write
    /// it (a row lock held for a transaction, say), so no escalation or hand-back is lost.
    /// On an error nothing is stored and `f` may not have run.
    fn update(
        &self,
        key: &str,
        now: i64,
        ttl: i64,
        f: &mut dyn FnMut(&mut Session),
    ) -> Result<(), Error>;

    /// The conversation `key` unless it is unknown or was idle longer than `ttl` at `now`.
    fn get(&self, key: &str, now: i64, ttl: i64) -> Result<Option<Session>, Error>;

    /// Deletes every conversation last seen before `seen_before`; how many went.
    fn purge_idle(&self, seen_before: i64) -> Result<usize, Error>;

    /// Deletes the least recently seen conversations beyond the `keep` most recent; how
    /// many went.
    fn trim(&self, keep: usize) -> Result<usize, Error>;

    /// Conversations stored (idle ones included until they are purged).
    fn count(&self) -> Result<usize, Error>;
}

/// One conversation's memory behind its own lock: [`SessionStore::update`] holds it for a
/// whole decision, so concurrent messages of one conversation take turns.
type Slot = Arc<Mutex<Session>>;

struct Entry {
    slot: Slot,
    seen: Instant,
    /// Position in [`Table::order`].
    tick: u64,
}

/// The sessions, and their keys from the least to the most recently seen. Ticks grow with
/// each touch and `seen` is taken under the same lock, so the oldest entries, expired or
/// not, are always at the front of `order`: eviction and expiry never scan the table.
#[derive(Default)]
struct Table {
    map: HashMap<Arc<str>, Entry>,
    order: BTreeMap<u64, Arc<str>>,
    next_tick: u64,
}

impl Table {
    /// Drops sessions from the front while `drop_it` says so; how many were dropped.
    fn drop_front(&mut self, mut drop_it: impl FnMut(&Entry) -> bool) -> usize {
        let mut dropped = 0;
        while let Some(entry) = self.order.first_entry() {
            let key = Arc::clone(entry.get());
            let expired = self.map.get(&key).is_none_or(&mut drop_it);
            if !expired {
                break;
            }
            entry.remove();
            self.map.remove(&key);
            dropped += 1;
        }
        dropped
    }

    /// The slot of `key` as of `now`, moved to the back (most recently seen): a fresh
    /// session when it is unknown or its time to live ran out. When the table is full,
    /// expired sessions make room first, then the least recently seen one.
    fn touch(&mut self, key: &str, now: Instant, ttl: Duration, max: usize) -> Slot {
        let tick = self.next_tick;
        self.next_tick += 1;
        if let Some(e) = self.map.get_mut(key) {
            if now.duration_since(e.seen) > ttl {
                e.slot = Slot::default();
            }
            if let Some(k) = self.order.remove(&e.tick) {
                self.order.insert(tick, k);
            }
            e.tick = tick;
            e.seen = now;
            return Arc::clone(&e.slot);
        }
        if self.map.len() >= max {
            self.drop_front(|e| now.duration_since(e.seen) > ttl);
            if self.map.len() >= max {
                if let Some((_, oldest)) = self.order.pop_first() {
                    self.map.remove(&oldest);
                }
            }
        }
        let key: Arc<str> = Arc::from(key);
        let slot = Slot::default();
        self.order.insert(tick, Arc::clone(&key));
        self.map.insert(
            key,
            Entry {
                slot: Arc::clone(&slot),
                seen: now,
                tick,
            },
        );
        slot
    }

    /// The slot of `key` unless it is unknown or expired; not a touch.
    fn peek(&self, key: &str, now: Instant, ttl: Duration) -> Option<Slot> {
        self.map
            .get(key)
            .filter(|e| now.duration_since(e.seen) <= ttl)
            .map(|e| Arc::clone(&e.slot))
    }
}

/// The session store shared by every snapshot of an engine: in memory
/// ([`SessionStore::new`]) or in a [`SessionBackend`] ([`SessionStore::shared`]).
///
/// In memory, the table of sessions has one lock, held only to find, add or drop an entry;
/// each session has its own lock, held while a message of that conversation is decided
/// ([`SessionStore::update`]). So conversations do not wait for each other, and two
/// messages of one conversation cannot both read the memory before either writes it: an
/// escalation or a hand-back is never lost. A backend gives the same promise across
/// processes. Only a backend can fail ([`Error::is_unavailable`] when its database cannot
/// be reached); the memory store never does.
pub struct SessionStore {
    ttl: Duration,
    max: usize,
    table: Mutex<Table>,
    shared: Option<Arc<dyn SessionBackend>>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("ttl", &self.ttl)
            .field("max", &self.max)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl SessionStore {
    /// A store in memory whose sessions expire `ttl` after their last message, holding at
    /// most `max`.
    pub fn new(ttl: Duration, max: usize) -> SessionStore {
        SessionStore {
            ttl,
            max: max.max(1),
            table: Mutex::new(Table::default()),
            shared: None,
        }
    }

    /// A store kept in `backend`, whose sessions expire `ttl` after their last message.
    /// [`SessionStore::purge_expired`] also trims it to the `max` most recently seen.
    pub fn shared(ttl: Duration, max: usize, backend: Arc<dyn SessionBackend>) -> SessionStore {
        SessionStore {
            shared: Some(backend),
            ..SessionStore::new(ttl, max)
        }
    }

    /// True when the sessions are kept in a [`SessionBackend`].
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The session `id` as it is now (a fresh one when unknown or expired).
    pub fn get(&self, id: &str) -> Result<Session, Error> {
        if let Some(backend) = &self.shared {
            return Ok(backend
                .get(id, unix_now(), self.ttl_secs())?
                .unwrap_or_default());
        }
        let slot = self.lock().peek(id, Instant::now(), self.ttl);
        Ok(slot.map(|s| lock(&s).clone()).unwrap_or_default())
    }

    /// Runs `f` on the session `id` (a fresh one when unknown or expired) with that session
    /// locked, and keeps what `f` leaves. Messages of one conversation take turns here;
    /// other conversations do not wait.
    pub fn update<R>(&self, id: &str, f: impl FnOnce(&mut Session) -> R) -> Result<R, Error> {
        if let Some(backend) = &self.shared {
            let mut f = Some(f);
            let mut out = None;
            backend.update(id, unix_now(), self.ttl_secs(), &mut |session| {
                if let Some(f) = f.take() {
                    out = Some(f(session));
                }
            })?;
            return out.ok_or_else(|| {
                Error::internal(
                    "conversation state",
                    "the session backend stored an update without running it",
                )
            });
        }
        let slot = self.lock().touch(id, Instant::now(), self.ttl, self.max);
        let mut session = lock(&slot);
        Ok(f(&mut session))
    }

    /// Stores the session `id` as of now.
    #[cfg(test)]
    pub(crate) fn put(&self, id: &str, session: Session) {
        self.update(id, |s| *s = session).unwrap();
    }

    /// Hands an escalated conversation back to the bot; true when it was with a person.
    pub fn hand_back(&self, id: &str) -> Result<bool, Error> {
        let slot = if self.shared.is_some() {
            if self.get(id)?.escalated.is_none() {
                return Ok(false);
            }
            return self.update(id, release);
        } else {
            let mut table = self.lock();
            let now = Instant::now();
            if table.peek(id, now, self.ttl).is_none() {
                return Ok(false);
            }
            table.touch(id, now, self.ttl, self.max)
        };
        let mut session = lock(&slot);
        Ok(release(&mut session))
    }

    /// Forgets every session whose time to live has run out; returns how many. A server
    /// calls this now and then so that idle conversations do not hold memory (or rows)
    /// until the store fills up. A backend is also trimmed to the most recent `max`, so a
    /// flood of new conversation ids cannot grow the database without end.
    pub fn purge_expired(&self) -> Result<usize, Error> {
        if let Some(backend) = &self.shared {
            let idle = backend.purge_idle(unix_now() - self.ttl_secs())?;
            return Ok(idle + backend.trim(self.max)?);
        }
        let mut table = self.lock();
        let now = Instant::now();
        let ttl = self.ttl;
        Ok(table.drop_front(|e| now.duration_since(e.seen) > ttl))
    }

    /// Number of sessions held (expired ones included until they are purged).
    pub fn len(&self) -> Result<usize, Error> {
        match &self.shared {
            Some(backend) => backend.count(),
            None => Ok(self.lock().map.len()),
        }
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        lock(&self.table)
    }
}

/// Clears an escalation; true when there was one.
fn release(session: &mut Session) -> bool {
    if session.escalated.is_none() {
        return false;
    }
    session.escalated = None;
    session.consecutive_fallbacks = 0;
    true
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_short_printable_text() {
        assert_eq!(valid_session_id("web-1 Ελένη తెలుగు"), Ok(()));
        assert_eq!(valid_session_id(&"x".repeat(MAX_SESSION_ID_BYTES)), Ok(()));
        assert_eq!(
            valid_session_id(&"x".repeat(MAX_SESSION_ID_BYTES + 1)),
            Err(SessionIdError::TooLong {
                bytes: MAX_SESSION_ID_BYTES + 1,
                max: MAX_SESSION_ID_BYTES
            })
        );
        // Three bytes a letter: 43 Telugu letters are over the limit.
        assert!(valid_session_id(&"క".repeat(43)).is_err());
        assert_eq!(valid_session_id(""), Err(SessionIdError::Empty));
        for (id, ch, at) in [
            ("a\nb", '\n', 1),
            ("a\rb", '\r', 1),
            ("\tab", '\t', 0),
            ("ab\0", '\0', 2),
            ("a\u{7f}", '\u{7f}', 1),
            ("a\u{85}", '\u{85}', 1),
            ("a\u{a0}b", '\u{a0}', 1),
            ("a\u{2028}b", '\u{2028}', 1),
            ("ab\u{202e}cd", '\u{202e}', 2),
            ("a\u{200b}", '\u{200b}', 1),
            ("\u{feff}a", '\u{feff}', 0),
        ] {
            assert_eq!(
                valid_session_id(id),
                Err(SessionIdError::Forbidden { ch, at }),
                "{id:?}"
            );
        }
        let message = valid_session_id("a\nb").unwrap_err().to_string();
        assert!(message.contains("U+000A"), "{message}");
    }

    #[test]
    fn scoped_keys_keep_channels_apart() {
        assert_eq!(scoped_key("api", "s-1").unwrap(), "api:s-1");
        assert_eq!(
            scoped_key("api", "chatwoot:3:12").unwrap(),
            "api:chatwoot:3:12"
        );
        assert_ne!(
            scoped_key("api", "chatwoot:3:12").unwrap(),
            scoped_key("chatwoot", "3:12").unwrap()
        );
        let longest = scoped_key(
            &"s".repeat(MAX_SCOPE_BYTES),
            &"x".repeat(MAX_SESSION_ID_BYTES),
        )
        .unwrap();
        assert_eq!(longest.len(), MAX_SESSION_KEY_BYTES);
        assert_eq!(valid_session_key(&longest), Ok(()));
        assert!(scoped_key("api", &"x".repeat(MAX_SESSION_ID_BYTES + 1)).is_err());
        assert_eq!(
            scoped_key("a:b", "x"),
            Err(SessionIdError::BadScope {
                max: MAX_SCOPE_BYTES
            })
        );
        assert_eq!(
            scoped_key("", "x"),
            Err(SessionIdError::BadScope {
                max: MAX_SCOPE_BYTES
            })
        );
    }

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
        assert_eq!(store.get("a").unwrap().turns, 3);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(store.get("a").unwrap(), Session::default());
    }

    #[test]
    fn purging_forgets_only_expired_sessions() {
        let store = SessionStore::new(Duration::from_millis(300), 10);
        store.put("old-1", Session::default());
        store.put("old-2", Session::default());
        std::thread::sleep(Duration::from_millis(600));
        store.put("new", Session::default());
        assert_eq!(store.len().unwrap(), 3);
        assert_eq!(store.purge_expired().unwrap(), 2);
        assert_eq!(store.len().unwrap(), 1);
        assert_eq!(store.purge_expired().unwrap(), 0);
        // A session seen again is no longer among the oldest.
        let store = SessionStore::new(Duration::from_millis(300), 10);
        store.put("a", Session::default());
        store.put("b", Session::default());
        std::thread::sleep(Duration::from_millis(600));
        store.put("a", Session::default());
        assert_eq!(store.purge_expired().unwrap(), 1);
        assert_eq!(store.len().unwrap(), 1);
        assert_eq!(store.purge_expired().unwrap(), 0);
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
        }
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.get("a").unwrap(), Session::default());
        assert_eq!(store.get("c").unwrap().turns, 3);
        // Seeing "b" again makes "c" the least recently seen.
        store.put(
            "b",
            Session {
                turns: 9,
                ..Session::default()
            },
        );
        store.put("d", Session::default());
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.get("c").unwrap(), Session::default());
        assert_eq!(store.get("b").unwrap().turns, 9);
    }

    #[test]
    fn a_full_store_evicts_in_constant_steps() {
        let store = SessionStore::new(Duration::from_secs(60), 1000);
        for i in 0..5000 {
            let session = Session {
                turns: i,
                ..Session::default()
            };
            store.put(&format!("s-{i}"), session);
        }
        assert_eq!(store.len().unwrap(), 1000);
        assert_eq!(store.get("s-3999").unwrap(), Session::default());
        assert_eq!(store.get("s-4000").unwrap().turns, 4000);
        let table = store.lock();
        assert_eq!(table.order.len(), table.map.len());
        assert!(table.map.contains_key("s-4999") && table.map.contains_key("s-4000"));
        assert!(!table.map.contains_key("s-3999"));
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
                    priority: crate::model::Priority::Normal,
                }),
                escalations: 1,
                formality: None,
            },
        );
        assert!(store.hand_back("s").unwrap());
        let s = store.get("s").unwrap();
        assert_eq!(
            (s.turns, s.escalated.is_none(), s.escalations),
            (2, true, 1)
        );
        assert!(!store.hand_back("s").unwrap());
        assert!(!store.hand_back("unknown").unwrap());
    }

    #[test]
    fn concurrent_updates_of_one_session_are_never_lost() {
        let store = Arc::new(SessionStore::new(Duration::from_secs(60), 10));
        let threads = 8;
        let rounds = 500;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut escalated = 0;
                    for i in 0..rounds {
                        if (t + i) % 3 == 0 {
                            store.hand_back("one").unwrap();
                        }
                        store
                            .update("one", |s| {
                                s.turns += 1;
                                if (t + i) % 2 == 0 {
                                    s.escalations += 1;
                                    s.escalated = Some(Escalation::new(
                                        "human_request",
                                        "support",
                                        crate::model::Priority::Normal,
                                    ));
                                    escalated += 1;
                                }
                            })
                            .unwrap();
                    }
                    escalated
                })
            })
            .collect();
        let escalated: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let s = store.get("one").unwrap();
        assert_eq!(s.turns, threads * rounds);
        assert_eq!(s.escalations, escalated);
    }
}
