//! Locks shared by threads.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, taking over a poisoned one: every value Sahaya keeps behind a mutex is
/// written in single assignments, so a panic elsewhere cannot leave it half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
