//! Finding conversation test files: the data directory's `conversations/` folder, or the
//! files and folders an editor names.

use crate::error::{content_files, Depth, Diagnostic};
use std::path::{Path, PathBuf};

/// The folder of a data directory that holds its conversation tests.
pub const FOLDER: &str = "conversations";

/// The conversation test files among `paths` (files, or folders read with their
/// subfolders), sorted; the data directory's `conversations/` when `paths` is empty.
/// A path that does not exist, or no `*.toml` file at all, is a diagnostic.
pub(super) fn find(data_dir: &Path, paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let default = [data_dir.join(FOLDER)];
    let roots = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for root in roots {
        let shown = shown_path(data_dir, root);
        if root.is_file() {
            files.push(root.clone());
            continue;
        }
        if !root.exists() {
            return Err(if paths.is_empty() {
                Diagnostic::error_at(&shown, "", 0, "no conversation tests: folder not found")
                    .with_hint(format!(
                        "write conversation tests in {}/*.toml; the README's \"Testing content\" \
                         shows how",
                        shown.display()
                    ))
            } else {
                Diagnostic::error_at(&shown, "", 0, "not found")
            });
        }
        match content_files(root, "toml", Depth::Tree) {
            Ok(found) => files.extend(found),
            Err(e) => {
                return Err(Diagnostic::error_at(
                    &shown,
                    "",
                    0,
                    format!("cannot read: {e}"),
                ))
            }
        }
    }
    if files.is_empty() {
        let shown = roots
            .iter()
            .map(|r| shown_path(data_dir, r).display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Diagnostic::error_at(
            Path::new(&shown),
            "",
            0,
            "no conversation tests found (no *.toml file)",
        )
        .with_hint(
            "a test file holds [[case]] tables with a customer's `text` and what the reply \
             must be (`topic`, `decision`, `rule` …); see the README, \"Testing content\"",
        ));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A path as editors see it: relative to the data directory when it is inside it.
pub(super) fn shown_path(data_dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(data_dir)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| path.to_path_buf(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_in_folders_or_named() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let err = find(data, &[]).unwrap_err();
        assert_eq!(err.path, Path::new(FOLDER));
        assert!(err.hint.unwrap().contains("conversations/*.toml"));
        std::fs::create_dir_all(data.join("conversations/more")).unwrap();
        let err = find(data, &[]).unwrap_err();
        assert!(err.message.contains("no conversation tests found"), "{err}");
        for f in [
            "conversations/b.toml",
            "conversations/more/a.toml",
            "other.toml",
        ] {
            std::fs::write(data.join(f), "").unwrap();
        }
        let found = find(data, &[]).unwrap();
        let shown: Vec<PathBuf> = found.iter().map(|p| shown_path(data, p)).collect();
        assert_eq!(
            shown,
            [
                PathBuf::from("conversations/b.toml"),
                PathBuf::from("conversations/more/a.toml")
            ]
        );
        let named = find(data, &[data.join("other.toml")]).unwrap();
        assert_eq!(named, [data.join("other.toml")]);
        let missing = find(data, &[data.join("nope.toml")]).unwrap_err();
        assert_eq!(missing.message, "not found");
    }
}
