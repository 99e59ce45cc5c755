//! Hot reload after edits: a watcher on the content folders that reloads the
//! [`AppState`] once the file events have been gathered for the debounce time.

use super::reload::{is_content_file, CONTENT_DIRS};
use super::state::AppState;
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Watches the content folders and reloads after edits; stops when dropped.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    dirs: Vec<PathBuf>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").field("dirs", &self.dirs).finish()
    }
}

impl Watcher {
    /// The folders being watched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

/// Starts watching knowledge/, locales/ and rules/ of the served data directory: changes
/// are gathered for `debounce` (notify's debouncer), then the content is reloaded once for
/// them, on the debouncer's own thread, so requests are never blocked by it.
pub fn watch(state: AppState, debounce: Duration) -> Result<Watcher, notify::Error> {
    let data_dir = state.snapshot().engine.data_dir().to_path_buf();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        debounce,
        None,
        move |result: DebounceEventResult| match result {
            Ok(events) => reload_for(&events, &state),
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "file watcher error");
                }
            }
        },
    )?;
    let mut dirs = Vec::new();
    for name in CONTENT_DIRS {
        let dir = data_dir.join(name);
        if dir.is_dir() {
            debouncer.watch(&dir, notify::RecursiveMode::Recursive)?;
            dirs.push(dir);
        }
    }
    tracing::info!(dirs = ?dirs, "watching content for changes");
    Ok(Watcher {
        _debouncer: debouncer,
        dirs,
    })
}

/// Reloads once for a batch of debounced events when one of them changed a content file.
fn reload_for(events: &[DebouncedEvent], state: &AppState) {
    let mut changed = events.iter().filter_map(|e| changed_file(e));
    let Some(first) = changed.next() else {
        return;
    };
    tracing::info!(
        changed = %first.display(),
        more_events = changed.count(),
        "content changed; reloading"
    );
    // The outcome is logged and recorded by reload itself.
    let _ = state.reload();
}

/// The content file an event changed; `None` for reads (loading the content opens every
/// file, which must not trigger another load) and for editors' temporary files.
fn changed_file(ev: &notify::Event) -> Option<&Path> {
    use notify::event::{EventKind, MetadataKind, ModifyKind};
    match ev.kind {
        EventKind::Access(_)
        | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => return None,
        _ => {}
    }
    ev.paths
        .iter()
        .map(PathBuf::as_path)
        .find(|p| is_content_file(p))
}
