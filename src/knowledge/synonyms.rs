//! Synonym groups: `knowledge/synonyms.toml`.
//!
//! Each key names a group (a concept) and lists words that customers use for it, in any
//! language and script: `parcel = ["parcel", "package", "పార్సెల్", "δέμα", "dema"]`. Retrieval
//! turns every word of a group into the group's concept, at index and at query time, so a
//! customer's word meets the editor's synonym. The format is documented in
//! `knowledge/README.md`; every problem becomes a [`Diagnostic`] with file, line and column.

use crate::error::Diagnostic;
use crate::text::{normalize, words};
use serde_spanned::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The file name of the synonym groups, directly under `knowledge/`.
pub const FILE_NAME: &str = "synonyms.toml";

/// One synonym group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynonymGroup {
    /// The group name (the TOML key): lowercase ASCII letters, digits and `_`.
    pub name: String,
    /// Its words, normalized (lowercase, without accents or ZWNJ).
    pub words: Vec<String>,
}

/// Every synonym group of a knowledge base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synonyms {
    groups: Vec<SynonymGroup>,
}

impl Synonyms {
    /// The groups, in file order.
    pub fn groups(&self) -> &[SynonymGroup] {
        &self.groups
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Parses the text of a synonyms file. `rel` names the file in diagnostics. Groups with
    /// problems are reported and left out; the rest are kept.
    pub fn parse(rel: &Path, src: &str, diags: &mut Vec<Diagnostic>) -> Synonyms {
        type Raw = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>;
        let raw: Raw = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::from_toml(rel, src, &e).with_hint(
                    "each line is a group: name = [\"word\", \"synonym\", …] (one word per entry)",
                ));
                return Synonyms::default();
            }
        };
        let err = |offset: usize, msg: String| Diagnostic::error_at(rel, src, offset, msg);
        // File order, not key order: diagnostics and groups follow the editor's layout.
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut groups = Vec::new();
        for (key, list) in entries {
            let key_offset = key.span().start;
            let name = key.into_inner();
            let mut ok = true;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                diags.push(
                    err(
                        key_offset,
                        format!("invalid group name {name:?}: use lowercase letters, digits and _"),
                    )
                    .with_hint("name the concept in English, e.g. parcel or refund"),
                );
                ok = false;
            }
            let list_offset = list.span().start;
            let items = list.into_inner();
            if items.len() < 2 {
                diags.push(
                    err(
                        list_offset,
                        format!("group `{name}` needs at least two words"),
                    )
                    .with_hint("a group lists words that mean the same; delete it or add synonyms"),
                );
                ok = false;
            }
            let mut group_words: Vec<String> = Vec::new();
            for item in items {
                let offset = item.span().start;
                let raw_word = item.into_inner();
                let word = normalize(raw_word.trim());
                let parts: Vec<&str> = words(&word).collect();
                match parts.as_slice() {
                    [] => {
                        diags.push(err(offset, format!("empty entry in group `{name}`")));
                        ok = false;
                    }
                    [one] if *one == word => {
                        if let Some(first) = seen.get(&word) {
                            diags.push(
                                err(
                                    offset,
                                    format!("duplicate word {raw_word:?} (already in `{first}`)"),
                                )
                                .with_hint("a word can belong to one group only; keep one"),
                            );
                            ok = false;
                        } else {
                            seen.insert(word.clone(), name.clone());
                            group_words.push(word);
                        }
                    }
                    _ => {
                        diags.push(
                            err(
                                offset,
                                format!("{raw_word:?} in group `{name}` is not a single word"),
                            )
                            .with_hint("write one word per entry, without spaces or punctuation"),
                        );
                        ok = false;
                    }
                }
            }
            if ok {
                groups.push(SynonymGroup {
                    name,
                    words: group_words,
                });
            }
        }
        Synonyms { groups }
    }

    /// Reads `knowledge/synonyms.toml` below `data_dir`; no file means no groups.
    pub fn load(data_dir: &Path, diags: &mut Vec<Diagnostic>) -> Synonyms {
        let path = data_dir.join("knowledge").join(FILE_NAME);
        if !path.exists() {
            return Synonyms::default();
        }
        let rel = path.strip_prefix(data_dir).unwrap_or(&path).to_path_buf();
        match crate::error::read_content(&path, &rel) {
            Ok(src) => Synonyms::parse(&rel, &src, diags),
            Err(d) => {
                diags.push(d);
                Synonyms::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> (Synonyms, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let s = Synonyms::parse(Path::new("knowledge/synonyms.toml"), src, &mut diags);
        (s, diags)
    }

    #[test]
    fn groups_are_read_in_file_order_and_normalized() {
        let (s, d) =
            parse("refund = [\"refund\", \"ΕΠΙΣΤΡΟΦΉ\"]\nbox = [\"box\", \"κουτί\", \"కొరియర్‌\"]\n");
        assert!(d.is_empty(), "{d:?}");
        let names: Vec<_> = s.groups().iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["refund", "box"]);
        assert_eq!(s.groups()[0].words, ["refund", "επιστροφη"]);
        assert_eq!(s.groups()[1].words[2], "కొరియర్");
    }

    #[test]
    fn problems_have_positions() {
        let src = "ok = [\"a\", \"b\"]\nBad-Name = [\"c\", \"d\"]\nlonely = [\"e\"]\ntwo = [\"f g\", \"h\"]\ndup = [\"b\", \"i\"]\nblank = [\"\", \"j\"]\n";
        let (s, d) = parse(src);
        let at: Vec<_> = d.iter().map(|d| (d.line, d.col)).collect();
        assert_eq!(at, [(2, 1), (3, 10), (4, 8), (5, 8), (6, 10)], "{d:?}");
        assert!(d[0].message.contains("invalid group name"));
        assert!(d[1].message.contains("at least two"));
        assert!(d[2].message.contains("not a single word"));
        assert!(d[3].message.contains("duplicate") && d[3].message.contains("`ok`"));
        assert!(d[4].message.contains("empty entry"));
        assert_eq!(s.groups().len(), 1);
    }

    #[test]
    fn not_a_list_is_a_precise_error() {
        let (s, d) = parse("parcel = \"package\"\n");
        assert!(s.is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 1);
    }
}
