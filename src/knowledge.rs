//! The knowledge base: one TOML file per topic under `knowledge/`, every language in it.
//!
//! The format is documented in `knowledge/README.md` and in the crate README. Loading never
//! stops at the first problem: every file is read and every problem becomes a
//! [`Diagnostic`] with its file, line and column.

use crate::error::{content_files, Depth, Diagnostic};
use crate::lang::{Formality, Lang};
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Tag of topics that describe what the bot does not handle (weather, jokes …): a match
/// is a `fallback` whose text is the topic's answer, never an `answer`.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// The tag of complaint topics (a delayed, lost or damaged parcel …): their replies are
/// always formal, whatever register the customer asked for.
pub const COMPLAINT_TAG: &str = "problem";

/// The tag of small-talk topics (greetings, thanks): never sent along with a handoff.
pub const SMALLTALK_TAG: &str = "smalltalk";

mod synonyms;
pub use synonyms::{SynonymGroup, Synonyms};

/// A loaded knowledge base.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {
    topics: Vec<Topic>,
    synonyms: Synonyms,
}

/// One topic: an id, its tags and its text in every language.
#[derive(Debug, Clone)]
pub struct Topic {
    /// The topic id, equal to the file name (`track_parcel`).
    pub id: String,
    /// Free labels; `problem` marks topics where the customer has a problem.
    pub tags: Vec<String>,
    /// The file it was loaded from, relative to the data directory.
    pub path: PathBuf,
    texts: BTreeMap<Lang, TopicText>,
}

/// A topic in one language.
#[derive(Debug, Clone)]
pub struct TopicText {
    /// The canonical question, shown when the bot asks "did you mean …".
    pub question: String,
    /// Other ways customers ask it.
    pub alternates: Vec<String>,
    /// Spellings in Latin letters (Greeklish, romanized Telugu).
    pub romanized: Vec<String>,
    /// Short words or phrases that point to this topic.
    pub keywords: Vec<String>,
    /// The answer in the formal (default) register.
    pub answer: String,
    /// The answer in the informal register, where the language has one.
    pub answer_informal: Option<String>,
}

impl TopicText {
    /// The answer in the given register (English without an informal text uses the formal one).
    pub fn answer(&self, formality: Formality) -> &str {
        match formality {
            Formality::Informal => self.answer_informal.as_deref().unwrap_or(&self.answer),
            Formality::Formal => &self.answer,
        }
    }
}

impl Topic {
    /// The topic's text in `lang` (every loaded topic has every language).
    pub fn text(&self, lang: Lang) -> &TopicText {
        &self.texts[&lang]
    }

    /// True when the topic carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

impl KnowledgeBase {
    /// The topics, sorted by id.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The synonym groups of `knowledge/synonyms.toml` (none when the file is absent).
    pub fn synonyms(&self) -> &Synonyms {
        &self.synonyms
    }

    /// A topic by id.
    pub fn get(&self, id: &str) -> Option<&Topic> {
        self.topics
            .binary_search_by(|t| t.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.topics[i])
    }

    /// Reads every `*.toml` below `data_dir/knowledge` (`knowledge/synonyms.toml` holds the
    /// synonym groups, every other file one topic). Returns what could be loaded and
    /// every problem found; topics with errors are left out.
    pub fn load(data_dir: &Path) -> (KnowledgeBase, Vec<Diagnostic>) {
        let root = data_dir.join("knowledge");
        let mut diags = Vec::new();
        let mut files = match content_files(&root, "toml", Depth::Tree) {
            Ok(files) => files,
            Err(e) => {
                diags.push(
                    Diagnostic::error_at(
                        Path::new("knowledge"),
                        "",
                        0,
                        format!("cannot read: {e}"),
                    )
                    .with_hint("run from a directory holding knowledge/, or pass --data DIR"),
                );
                return (KnowledgeBase::default(), diags);
            }
        };
        let synonyms_file = root.join(synonyms::FILE_NAME);
        files.retain(|f| *f != synonyms_file);
        let synonyms = Synonyms::load(data_dir, &mut diags);
        let mut topics: Vec<Topic> = Vec::new();
        let mut seen: HashMap<String, (PathBuf, usize, usize)> = HashMap::new();
        for file in files {
            let rel = file.strip_prefix(data_dir).unwrap_or(&file).to_path_buf();
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    diags.push(Diagnostic::error_at(
                        &rel,
                        "",
                        0,
                        format!("cannot read: {e}"),
                    ));
                    continue;
                }
            };
            let Some(topic) = parse_topic(&rel, &bytes, &mut diags) else {
                continue;
            };
            let (topic, id_offset) = topic;
            // parse_topic only returns a topic for valid UTF-8.
            let src = std::str::from_utf8(&bytes).unwrap_or("");
            if let Some((first, line, col)) = seen.get(&topic.id) {
                diags.push(
                    Diagnostic::error_at(
                        &rel,
                        src,
                        id_offset,
                        format!("duplicate topic id `{}`", topic.id),
                    )
                    .with_hint(format!("first defined at {}:{line}:{col}", first.display())),
                );
                continue;
            }
            let (line, col) = crate::error::line_col(src, id_offset);
            seen.insert(topic.id.clone(), (rel.clone(), line, col));
            topics.push(topic);
        }
        if topics.is_empty() && diags.is_empty() {
            diags.push(
                Diagnostic::error_at(Path::new("knowledge"), "", 0, "no topics found")
                    .with_hint("add one .toml file per topic, see knowledge/README.md"),
            );
        }
        topics.sort_by(|a, b| a.id.cmp(&b.id));
        (KnowledgeBase { topics, synonyms }, diags)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    en: Option<Spanned<RawText>>,
    el: Option<Spanned<RawText>>,
    te: Option<Spanned<RawText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    question: Option<Spanned<String>>,
    alternates: Option<Spanned<Vec<Spanned<String>>>>,
    romanized: Option<Spanned<Vec<Spanned<String>>>>,
    keywords: Option<Spanned<Vec<Spanned<String>>>>,
    answer: Option<Spanned<String>>,
    answer_informal: Option<Spanned<String>>,
}

/// Parses one topic file; returns the topic and the byte offset of its id.
fn parse_topic(rel: &Path, bytes: &[u8], diags: &mut Vec<Diagnostic>) -> Option<(Topic, usize)> {
    let src = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            diags.push(
                Diagnostic::error_at(rel, good, good.len(), "invalid UTF-8")
                    .with_hint("save the file as UTF-8"),
            );
            return None;
        }
    };
    let raw: RawTopic = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let mut d = Diagnostic::from_toml(rel, src, &e);
            if d.message.contains("unknown field") {
                d = d.with_hint(
                    "allowed keys: id, tags, en/el/te with question, alternates, romanized, keywords, answer, answer_informal",
                );
            }
            diags.push(d);
            return None;
        }
    };
    let before = diags.len();
    let err = |offset: usize, msg: String| Diagnostic::error_at(rel, src, offset, msg);

    let Some(id) = raw.id else {
        diags.push(err(0, "missing `id`".into()).with_hint("add id = \"<file name>\" at the top"));
        return None;
    };
    let id_offset = id.span().start;
    let id_value = id.into_inner();
    let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if id_value.is_empty()
        || !id_value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        diags.push(err(
            id_offset,
            format!("invalid topic id {id_value:?}: use lowercase letters, digits and _"),
        ));
    } else if id_value != stem {
        diags.push(
            err(
                id_offset,
                format!("topic id `{id_value}` differs from the file name `{stem}`"),
            )
            .with_hint(format!(
                "rename the file to {id_value}.toml or change the id"
            )),
        );
    }
    for tag in &raw.tags {
        if tag.get_ref().trim().is_empty() {
            diags.push(err(tag.span().start, "empty tag".into()));
        }
    }

    let mut texts = BTreeMap::new();
    for (lang, table) in [(Lang::En, raw.en), (Lang::El, raw.el), (Lang::Te, raw.te)] {
        let Some(table) = table else {
            diags.push(
                err(src.len(), format!("missing language `{lang}`")).with_hint(format!(
                    "add a [{lang}] table with question, alternates and answer"
                )),
            );
            continue;
        };
        let table_offset = table.span().start;
        let t = table.into_inner();
        let mut text = TopicText {
            question: String::new(),
            alternates: Vec::new(),
            romanized: Vec::new(),
            keywords: Vec::new(),
            answer: String::new(),
            answer_informal: None,
        };
        match t.question {
            Some(q) if !q.get_ref().trim().is_empty() => {
                text.question = q.into_inner().trim().into()
            }
            Some(q) => diags.push(err(q.span().start, format!("empty question in [{lang}]"))),
            None => diags.push(err(table_offset, format!("missing `question` in [{lang}]"))),
        }
        text.alternates = list(
            &ListCtx {
                rel,
                src,
                lang,
                table_offset,
            },
            "alternates",
            t.alternates,
            true,
            diags,
        );
        if lang == Lang::En {
            if let Some(r) = &t.romanized {
                diags.push(
                    err(
                        r.span().start,
                        "`romanized` is for Greek and Telugu only".into(),
                    )
                    .with_hint("put Latin-letter English phrasings in `alternates`"),
                );
            }
        } else {
            text.romanized = list(
                &ListCtx {
                    rel,
                    src,
                    lang,
                    table_offset,
                },
                "romanized",
                t.romanized,
                false,
                diags,
            );
        }
        text.keywords = list(
            &ListCtx {
                rel,
                src,
                lang,
                table_offset,
            },
            "keywords",
            t.keywords,
            false,
            diags,
        );
        match t.answer {
            Some(a) if !a.get_ref().trim().is_empty() => text.answer = reflow(a.get_ref()),
            Some(a) => diags.push(err(a.span().start, format!("empty answer in [{lang}]"))),
            None => diags.push(err(table_offset, format!("missing `answer` in [{lang}]"))),
        }
        match t.answer_informal {
            Some(a) if !a.get_ref().trim().is_empty() => {
                text.answer_informal = Some(reflow(a.get_ref()))
            }
            Some(a) => diags.push(err(
                a.span().start,
                format!("empty answer_informal in [{lang}]"),
            )),
            None if lang.has_register() => diags.push(
                err(
                    table_offset,
                    format!("missing register: `answer_informal` in [{lang}]"),
                )
                .with_hint(format!(
                    "{lang} distinguishes formal and informal; write both"
                )),
            ),
            None => {}
        }
        texts.insert(lang, text);
    }
    if diags.len() > before {
        return None;
    }
    Some((
        Topic {
            id: id_value,
            tags: raw
                .tags
                .into_iter()
                .map(|t| t.into_inner().trim().to_string())
                .collect(),
            path: rel.to_path_buf(),
            texts,
        },
        id_offset,
    ))
}

struct ListCtx<'a> {
    rel: &'a Path,
    src: &'a str,
    lang: Lang,
    table_offset: usize,
}

/// Reads a list of phrasings, reporting empty entries (and a missing or empty list when
/// `required`).
fn list(
    ctx: &ListCtx<'_>,
    field: &str,
    value: Option<Spanned<Vec<Spanned<String>>>>,
    required: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let err = |offset: usize, msg: String| Diagnostic::error_at(ctx.rel, ctx.src, offset, msg);
    let lang = ctx.lang;
    let mut out = Vec::new();
    match value {
        None if required => diags.push(
            err(ctx.table_offset, format!("missing `{field}` in [{lang}]"))
                .with_hint("add at least one way customers ask this"),
        ),
        None => {}
        Some(v) => {
            let offset = v.span().start;
            let items = v.into_inner();
            if items.is_empty() && required {
                diags.push(err(offset, format!("`{field}` in [{lang}] is empty")));
            }
            for item in items {
                if item.get_ref().trim().is_empty() {
                    diags.push(err(item.span().start, format!("empty entry in `{field}`")));
                } else {
                    out.push(item.into_inner().trim().to_string());
                }
            }
        }
    }
    out
}

/// Joins the lines of each paragraph with a space; blank lines separate paragraphs and
/// lines starting with `- ` stay list items.
pub(crate) fn reflow(text: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in text.trim().lines() {
        let line = line.trim();
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank {
                "\n\n"
            } else if line.starts_with("- ") {
                "\n"
            } else {
                " "
            });
        }
        out.push_str(line);
        blank = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::reflow;

    #[test]
    fn reflow_joins_paragraph_lines_and_keeps_lists() {
        assert_eq!(reflow("\na b\nc\n\nnext\n"), "a b c\n\nnext");
        assert_eq!(
            reflow("Steps:\n- one\n- two\n\nDone."),
            "Steps:\n- one\n- two\n\nDone."
        );
    }
}
