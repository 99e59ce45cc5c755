//! Errors and content diagnostics.

use std::fmt;
use std::path::{Path, PathBuf};

/// The error type of the library.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong. Content and request errors are the caller's to fix; `Io` and `Internal`
/// are faults of the machine or of Sahaya.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Content files (knowledge, locales, rules) have problems; every one is listed.
    #[error("{} problem(s) in the content:\n{}", .0.len(), Diagnostics(.0))]
    Content(Vec<Diagnostic>),
    /// The request cannot be answered as given (empty text, unknown language …).
    #[error("bad request: {0}")]
    BadRequest(RequestError),
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The state database (conversations, outbox, mail memory) cannot be reached or did not
    /// answer in time. Nothing was decided or stored: retry later.
    #[error("{what} unavailable: {source}")]
    Unavailable {
        /// What could not be reached.
        what: &'static str,
        /// The component's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A fault inside Sahaya or one of its components (the search index, the state
    /// database); the source says what failed below.
    #[error("internal error: {what}: {source}")]
    Internal {
        /// What Sahaya was doing.
        what: &'static str,
        /// The component's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What is wrong with a request; each has its own code in the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The text is empty or only spaces and punctuation.
    #[error("text is empty")]
    EmptyText,
    /// The text is longer than the limit.
    #[error("text is {bytes} bytes; the limit is {max}")]
    TextTooLong {
        /// The text's length in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A language tag Sahaya has no content for, or a malformed tag.
    #[error("unknown language {0:?}: supported are te, el, en (tags like te-IN work too)")]
    UnknownLanguage(String),
    /// A register other than `formal` or `informal`.
    #[error("unknown formality {0:?}: use formal or informal")]
    UnknownFormality(String),
    /// The session id is empty, too long or not printable.
    #[error("session_id: {0}")]
    SessionId(#[from] SessionIdError),
    /// The time is not RFC 3339.
    #[error("`at` {at:?} is not an RFC 3339 time like 2026-11-25T09:30:00+02:00 ({reason})")]
    Time {
        /// The time as given.
        at: String,
        /// What the parser said.
        reason: String,
    },
    /// Not an IANA time zone name.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Athens")]
    TimeZone(String),
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the caller can fix it: bad content or a bad request.
    pub fn is_user_error(&self) -> bool {
        matches!(self.kind, ErrorKind::Content(_) | ErrorKind::BadRequest(_))
    }

    /// The content diagnostics, when this is a content error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match &self.kind {
            ErrorKind::Content(d) => d,
            _ => &[],
        }
    }

    /// What is wrong with the request, when this is a request error.
    pub fn request_error(&self) -> Option<&RequestError> {
        match &self.kind {
            ErrorKind::BadRequest(r) => Some(r),
            _ => None,
        }
    }

    /// True when a component (the state database) could not be reached: the same request
    /// may succeed later (HTTP 503, exit code 75 for a mail transfer agent).
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable { .. })
    }

    /// A component that could not be reached, for [`session::SessionBackend`]
    /// implementations and state stores outside this crate.
    ///
    /// [`session::SessionBackend`]: crate::session::SessionBackend
    pub fn unavailable(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ErrorKind::Unavailable {
            what,
            source: source.into(),
        }
        .into()
    }

    /// A fault of a component (a state database that answered with an error), for
    /// backends implemented outside this crate.
    pub fn internal(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ErrorKind::Internal {
            what,
            source: source.into(),
        }
        .into()
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    }

    /// A search index failure.
    pub(crate) fn index(e: tantivy::TantivyError) -> Self {
        Error::internal("search index", e)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        ErrorKind::BadRequest(e).into()
    }
}

struct Diagnostics<'a>(&'a [Diagnostic]);

impl fmt::Display for Diagnostics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Severity of a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The content cannot be loaded.
    Error,
    /// Loadable, but probably not what the editor meant.
    Warning,
}

/// One problem in a content file, with its position: `path:line:col: error: message`.
///
/// Lines and columns count from 1; columns count characters (not bytes), so they point at
/// the right letter in Telugu and Greek text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file, as given to the loader (relative to the data directory when loaded from one).
    pub path: PathBuf,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at a byte offset of `source`.
    pub fn error_at(path: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, col) = line_col(source, offset);
        Diagnostic {
            path: path.to_path_buf(),
            line,
            col,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
        }
    }

    /// A TOML parse or schema error of `src`, at the position the parser reports.
    pub(crate) fn from_toml(path: &Path, source: &str, e: &toml::de::Error) -> Self {
        let offset = e.span().map_or(0, |s| s.start);
        Diagnostic::error_at(path, source, offset, e.message().trim())
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Turns the diagnostic into a warning.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Reads a content file as UTF-8 text; a problem becomes a diagnostic on `rel` (the path
/// shown to editors): `cannot read: …` or `invalid UTF-8 at byte N`.
pub(crate) fn read_content(path: &Path, rel: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error_at(rel, "", 0, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error_at(
            rel,
            "",
            0,
            format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        )
    })
}

/// Which folders [`content_files`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Only the folder itself (`rules/`, `locales/<lang>/`).
    Flat,
    /// The folder and every folder below it (`knowledge/<section>/`).
    Tree,
}

/// The content files in `dir` whose extension is `ext`, sorted by path. Any failure to list
/// a folder is returned for the caller to report (usually as `cannot read: …` on `dir`).
pub(crate) fn content_files(
    dir: &Path,
    ext: &str,
    depth: Depth,
) -> Result<Vec<PathBuf>, std::io::Error> {
    fn collect(
        dir: &Path,
        ext: &str,
        depth: Depth,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), std::io::Error> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if depth == Depth::Tree && entry.file_type()?.is_dir() {
                collect(&path, ext, depth, out)?;
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(dir, ext, depth, &mut files)?;
    files.sort();
    Ok(files)
}

/// Line and column (both from 1, column in characters) of a byte offset. Offsets past the
/// end, or inside a character, are clamped.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = "a = 1\nδέμα = x\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        let x = s.find('x').unwrap();
        assert_eq!(line_col(s, x), (2, 8));
        assert_eq!(line_col(s, 10_000), (3, 1));
    }

    #[test]
    fn content_files_are_sorted_and_read_below_only_for_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("b")).unwrap();
        for f in ["z.toml", "a.toml", "notes.md", "b/c.toml", "b/d.ftl"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let names = |depth| {
            content_files(root, "toml", depth)
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
                .collect::<Vec<_>>()
        };
        let p = PathBuf::from;
        assert_eq!(names(Depth::Flat), [p("a.toml"), p("z.toml")]);
        assert_eq!(
            names(Depth::Tree),
            [p("a.toml"), p("b/c.toml"), p("z.toml")]
        );
        assert!(content_files(&root.join("missing"), "toml", Depth::Flat).is_err());
    }

    #[test]
    fn diagnostic_display_is_editor_parseable() {
        let d = Diagnostic::error_at(Path::new("knowledge/a.toml"), "x\ny", 2, "bad")
            .with_hint("fix it");
        assert_eq!(
            d.to_string(),
            "knowledge/a.toml:2:1: error: bad (hint: fix it)"
        );
    }
}

/// Why a session id (or key) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionIdError {
    /// The id is empty.
    Empty,
    /// The id is longer than the limit.
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The id has a control character, a line break, a tab, a whitespace other than the
    /// plain space, or an invisible formatting character (bidi controls, zero-width marks).
    Forbidden {
        /// The character.
        ch: char,
        /// Its byte offset in the id.
        at: usize,
    },
    /// A scope of [`scoped_key`](crate::session::scoped_key) is not 1 to `max` ASCII
    /// letters, digits, `-` or `_`.
    BadScope {
        /// The limit in bytes.
        max: usize,
    },
}

impl std::fmt::Display for SessionIdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionIdError::Empty => f.write_str("a session id cannot be empty"),
            SessionIdError::TooLong { bytes, max } => {
                write!(
                    f,
                    "a session id has at most {max} bytes; this one has {bytes}"
                )
            }
            SessionIdError::Forbidden { ch, at } => write!(
                f,
                "a session id cannot contain U+{:04X} (at byte {at}): control characters, \
                 line breaks, tabs, whitespace other than the space and invisible \
                 formatting characters are not allowed",
                u32::from(*ch)
            ),
            SessionIdError::BadScope { max } => write!(
                f,
                "a session scope is 1 to {max} ASCII letters, digits, '-' or '_'"
            ),
        }
    }
}

impl std::error::Error for SessionIdError {}
