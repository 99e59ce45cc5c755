//! Content snapshots, their versions and why a reload failed.
//!
//! A reload ([`AppState::reload`], after edits [`super::watch()`]) builds a whole new [`Engine`] off to the side and swaps it in atomically; a
//! request holds the snapshot it started with until it finishes. When the new content has
//! an error the last good snapshot keeps serving and the failure is kept for `/readyz` and
//! `/metrics` until the next good load.
//!
//! [`AppState::reload`]: super::AppState::reload

use crate::engine::Engine;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Folders of the data directory whose files are content.
pub const CONTENT_DIRS: [&str; 3] = ["knowledge", "locales", "rules"];

/// One loaded version of the content.
#[derive(Debug)]
pub struct Snapshot {
    /// The engine built from it.
    pub engine: Engine,
    /// A hash of every content file (16 hex digits): equal files, equal version.
    pub version: String,
    /// 1 for the content loaded at start, one more for each successful reload.
    pub generation: u64,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

impl Snapshot {
    /// The first snapshot of a freshly loaded engine.
    pub fn new(engine: Engine) -> Snapshot {
        let version = content_version(engine.data_dir());
        Snapshot {
            engine,
            version,
            generation: 1,
            loaded_at: SystemTime::now(),
        }
    }

    /// `loaded_at` as RFC 3339.
    pub fn loaded_at_rfc3339(&self) -> String {
        rfc3339(self.loaded_at)
    }
}

/// Why the last reload failed; the older content is still serving.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadFailure {
    /// When it failed, RFC 3339.
    pub at: String,
    /// The error.
    pub message: String,
    /// Each problem as `path:line:col: error: message`.
    pub diagnostics: Vec<String>,
    /// Version of the content still being served.
    pub serving_version: String,
}

/// Editors' swap, backup and lock files do not count as content changes.
pub(super) fn is_content_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    !(name.starts_with('.')
        || name.starts_with("#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913")
}

/// A hash (FNV-1a, 64 bits, as 16 hex digits) of the paths and bytes of every file under the
/// content folders of `data_dir`, in path order.
pub fn content_version(data_dir: &Path) -> String {
    let mut files = Vec::new();
    for name in CONTENT_DIRS {
        collect_files(&data_dir.join(name), &mut files);
    }
    files.sort();
    let mut h = Fnv::new();
    for file in files {
        let rel = file.strip_prefix(data_dir).unwrap_or(&file);
        h.write(rel.to_string_lossy().as_bytes());
        h.write(&[0]);
        match std::fs::read(&file) {
            Ok(bytes) => h.write(&bytes),
            Err(_) => h.write(b"\xffunreadable"),
        }
        h.write(&[0]);
    }
    format!("{:016x}", h.0)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&path, out),
            Ok(_) if is_content_file(&path) => out.push(path),
            _ => {}
        }
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

pub(super) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_temp_files_are_not_content() {
        assert!(is_content_file(Path::new("knowledge/a/b.toml")));
        assert!(is_content_file(Path::new("locales/el/main.ftl")));
        assert!(!is_content_file(Path::new("knowledge/a/.b.toml.swp")));
        assert!(!is_content_file(Path::new("knowledge/a/b.toml~")));
        assert!(!is_content_file(Path::new("knowledge/a/4913")));
    }

    #[test]
    fn version_follows_the_bytes() {
        let dir = std::env::temp_dir().join(format!("sahaya-version-{}", std::process::id()));
        let k = dir.join("knowledge");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(k.join("a.toml"), "x").unwrap();
        let v1 = content_version(&dir);
        assert_eq!(v1, content_version(&dir));
        std::fs::write(k.join("a.toml"), "y").unwrap();
        let v2 = content_version(&dir);
        assert_ne!(v1, v2);
        assert_eq!(v2.len(), 16);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
