//! The persistent index: a directory per version of the content, reused when a process
//! starts (or reloads) on content it has already indexed.
//!
//! `<root>/<key>/` holds tantivy's files (`MmapDirectory`), `sahaya.data` (the structures of
//! [`super::encode`]: term ids, weights, topic vocabularies, postings, n-grams, and the
//! calibration) and `sahaya.manifest`, written last: the format, the key, and the length
//! and CRC-32 of `sahaya.data`. The key is a hash of the knowledge files, the settings that
//! calibration depends on and the analyzers' version ([`content_key`]), so edited content
//! gets a new directory and unchanged content finds its own.
//!
//! An index is built in `<root>/.tmp-<key>-<pid>-<nanos>/` and renamed into place once
//! complete, so no process ever opens a half-written one; replicas on one host share the
//! directories read-only. A directory whose manifest, data or tantivy files do not check is
//! never served: it is removed and built again.

use super::build::{fields_of, open_searcher, register_tokenizer};
use super::encode::{decode, encode};
use super::*;
use crate::calibrate::Calibration;
use crate::config::Config;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tantivy::Index;

/// Version of the directory's layout and of the data file's encoding.
const FORMAT: u32 = 3;
/// Version of the analysis (normalization, analyzers, scoring constants): raise it when a
/// change makes the same content index differently.
const ANALYZER_VERSION: u32 = 1;
const DATA_FILE: &str = "sahaya.data";
const MANIFEST_FILE: &str = "sahaya.manifest";
/// Staging directories older than this are left-overs of a process that died.
const STALE_STAGING_SECS: u64 = 3600;

/// Where the search index of a loaded engine comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexStatus {
    /// Built in memory: the base is small, or no index directory could be used (why).
    InMemory {
        /// Why the index is not kept on disk.
        reason: String,
    },
    /// Opened from the persistent index, built earlier for the same content.
    Reused {
        /// The index directory.
        dir: PathBuf,
    },
    /// Built and kept in the persistent index.
    Built {
        /// The index directory.
        dir: PathBuf,
        /// Why an index found there for the same content was not served (corrupt, or
        /// unreadable), if one was.
        replaced: Option<String>,
    },
}

impl std::fmt::Display for IndexStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexStatus::InMemory { reason } => write!(f, "in memory ({reason})"),
            IndexStatus::Reused { dir } => write!(f, "reused {}", dir.display()),
            IndexStatus::Built {
                dir,
                replaced: None,
            } => write!(f, "built {}", dir.display()),
            IndexStatus::Built {
                dir,
                replaced: Some(why),
            } => write!(
                f,
                "built {} (the one found was not served: {why})",
                dir.display()
            ),
        }
    }
}

/// FNV-1a over formatted text, without building the text.
struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// The key of the index of `kb`, loaded from `data_dir`, under `config`: the knowledge (every
/// file under `knowledge/`, its path and its bytes), the settings calibration depends on, the
/// formats and the analyzers' version, hashed (16 hex digits).
pub(crate) fn content_key(data_dir: &Path, kb: &KnowledgeBase, config: &Config) -> String {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let _ = write!(
        h,
        "{FORMAT}/{ANALYZER_VERSION}/{}/{:?}/{:?}/{:?}/",
        env!("CARGO_PKG_VERSION"),
        config.calibration,
        config.thresholds,
        config.thresholds_by_lang
    );
    let _ = write!(h, "{} topics/", kb.topics().len());
    if hash_files(&data_dir.join("knowledge"), &mut h).is_err() {
        // A file that cannot be read now was read a moment ago: hash what was loaded.
        let _ = write!(h, "{kb:?}");
    }
    format!("{:016x}", h.0)
}

/// Adds the relative path and the bytes of every file under `dir` to `h`, in path order.
fn hash_files(dir: &Path, h: &mut Fnv) -> std::io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        let bytes = std::fs::read(&f)?;
        let _ = write!(h, "{}\0{}\0", rel.display(), bytes.len());
        h.bytes(&bytes);
    }
    Ok(())
}

fn manifest(key: &str, data: &[u8]) -> String {
    format!(
        "sahaya-index {FORMAT}\nkey {key}\ndata_len {}\ndata_crc32 {:08x}\n",
        data.len(),
        crc32fast::hash(data)
    )
}

/// Opens the index of `key` under `root`: `Ok(None)` when there is none, an error saying
/// what is wrong when there is one that must not be served.
pub(crate) fn open(root: &Path, key: &str) -> Result<Option<(Retriever, Calibration)>, String> {
    let dir = root.join(key);
    let manifest_path = dir.join(MANIFEST_FILE);
    let found = match std::fs::read_to_string(&manifest_path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", manifest_path.display())),
    };
    let data_path = dir.join(DATA_FILE);
    let data = std::fs::read(&data_path).map_err(|e| format!("{}: {e}", data_path.display()))?;
    if found != manifest(key, &data) {
        return Err(format!(
            "{} does not match {} (stale or corrupt)",
            manifest_path.display(),
            data_path.display()
        ));
    }
    let index = Index::open_in_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let corrupt = index
        .validate_checksum()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(file) = corrupt.iter().next() {
        return Err(format!(
            "{}: checksum of {} does not match",
            dir.display(),
            file.display()
        ));
    }
    register_tokenizer(&index);
    let tantivy_fields = fields_of(&index.schema()).map_err(|e| e.to_string())?;
    let decoded =
        decode(&data, &tantivy_fields).map_err(|e| format!("{}: {e}", data_path.display()))?;
    drop(data);
    let (searcher, pid_by_doc) = open_searcher(&index).map_err(|e| e.to_string())?;
    if searcher.num_docs() != decoded.docs
        || pid_by_doc
            .iter()
            .flatten()
            .any(|&p| p as usize >= decoded.phrasings.len())
    {
        return Err(format!(
            "{}: the tantivy index does not hold the documents of {DATA_FILE}",
            dir.display()
        ));
    }
    let retriever = Retriever {
        index,
        searcher,
        fields: decoded.fields.into_iter().collect(),
        phrasings: decoded.phrasings,
        term_offsets: decoded.term_offsets,
        terms: decoded.terms,
        pid_by_doc,
        samples: Vec::new(),
    };
    Ok(Some((retriever, decoded.calibration)))
}

/// An index being built for `key` under `root`, in a directory of its own until it is
/// complete.
pub(crate) struct Staging {
    root: PathBuf,
    key: String,
    path: PathBuf,
}

impl Staging {
    /// Creates `root` if needed and an empty staging directory in it; fails when `root`
    /// cannot be written.
    pub(crate) fn new(root: &Path, key: &str) -> std::io::Result<Staging> {
        std::fs::create_dir_all(root)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = root.join(format!(".tmp-{key}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(Staging {
            root: root.to_path_buf(),
            key: key.to_string(),
            path,
        })
    }

    /// The directory to build tantivy's index in.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the data file and the manifest of `retriever` (built in [`Staging::path`])
    /// and moves the directory into place, replacing a broken one of the same key. Returns
    /// the directory the retriever now reads. When another process put a good index there
    /// first, that one is served and this one removed.
    pub(crate) fn commit(
        self,
        retriever: &mut Retriever,
        calibration: &Calibration,
    ) -> Result<PathBuf, Error> {
        let data = encode(retriever, calibration);
        write_synced(&self.path.join(DATA_FILE), &data)?;
        write_synced(
            &self.path.join(MANIFEST_FILE),
            manifest(&self.key, &data).as_bytes(),
        )?;
        drop(data);
        let target = self.root.join(&self.key);
        if target.exists() {
            if self.take_theirs(retriever) {
                return Ok(target);
            }
            remove_dir(&target).map_err(|e| Error::io(&target, e))?;
        }
        if let Err(e) = std::fs::rename(&self.path, &target) {
            // Another process may have put its own there in the meantime.
            if self.take_theirs(retriever) {
                return Ok(target);
            }
            return Err(Error::io(&target, e));
        }
        if let Ok(d) = std::fs::File::open(&self.root) {
            let _ = d.sync_all();
        }
        // Reopen tantivy's part where it now lives; the Rust side is already in memory.
        let index = Index::open_in_dir(&target).map_err(Error::index)?;
        register_tokenizer(&index);
        let (searcher, pid_by_doc) = open_searcher(&index)?;
        retriever.index = index;
        retriever.searcher = searcher;
        retriever.pid_by_doc = pid_by_doc;
        prune(&self.root, &self.key);
        Ok(target)
    }
}

impl Staging {
    /// Serves the index another process completed for the same key, if it checks, and
    /// removes this one.
    fn take_theirs(&self, retriever: &mut Retriever) -> bool {
        match open(&self.root, &self.key) {
            Ok(Some((theirs, _))) => {
                *retriever = Retriever {
                    samples: std::mem::take(&mut retriever.samples),
                    ..theirs
                };
                let _ = std::fs::remove_dir_all(&self.path);
                true
            }
            _ => false,
        }
    }
}

/// Moves a directory out of the way under a temporary name, then deletes it.
pub(crate) fn remove_dir(dir: &Path) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else {
        return std::fs::remove_dir_all(dir);
    };
    let trash = parent.join(format!(
        ".tmp-trash-{}-{}",
        std::process::id(),
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("index")
    ));
    std::fs::rename(dir, &trash)?;
    std::fs::remove_dir_all(&trash)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Removes the indexes of other content but the most recent one (a replica may still be
/// starting on it), and staging directories a dead process left behind.
fn prune(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let now = std::time::SystemTime::now();
    let mut others = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let modified = e.metadata().and_then(|m| m.modified()).unwrap_or(now);
        if name.starts_with(".tmp-") {
            let age = now.duration_since(modified).map_or(0, |d| d.as_secs());
            if age > STALE_STAGING_SECS {
                let _ = std::fs::remove_dir_all(e.path());
            }
        } else if name != keep && name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            others.push((modified, e.path()));
        }
    }
    others.sort();
    others.pop();
    for (_, dir) in others {
        let _ = remove_dir(&dir);
    }
}
