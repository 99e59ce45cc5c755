//! Fluent bundles: every word the bot says around a knowledge answer.
//!
//! Files live in `locales/<lang>/*.ftl`. Messages that address the customer take a
//! `$formality` variable (`formal` or `informal`) and select on it. Bundles are built once
//! per load and shared by all requests.

use crate::error::Diagnostic;
use crate::lang::{Formality, Lang};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Messages the engine uses; `check` reports any locale that lacks one.
pub const REQUIRED_MESSAGES: &[&str] = &["clarify-intro", "fallback"];

/// The language used when a message is missing in the reply's language.
pub const FALLBACK_LANG: Lang = Lang::En;

/// Picks the reply language for an HTTP `Accept-Language` header or a list of tags
/// (`te-IN`, `el-GR,el;q=0.9,en;q=0.5`, `el`), negotiated with fluent-langneg against the
/// available locales. `None` when nothing requested is available: the caller then detects
/// the language from the text.
pub fn negotiate(accept_language: &str) -> Option<Lang> {
    use fluent_langneg::{negotiate_languages, parse_accepted_languages, NegotiationStrategy};
    let requested = parse_accepted_languages(accept_language);
    let available: Vec<fluent_langneg::LanguageIdentifier> = Lang::ALL
        .iter()
        .filter_map(|l| l.code().parse().ok())
        .collect();
    let chosen = negotiate_languages(&requested, &available, None, NegotiationStrategy::Filtering);
    chosen
        .first()
        .and_then(|id| Lang::from_tag(&id.to_string()))
}

/// The Fluent bundles of every language.
pub struct Locales {
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
}

impl std::fmt::Debug for Locales {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locales")
            .field("langs", &self.bundles.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Locales {
    /// Loads `data_dir/locales/<lang>/*.ftl` for every language; returns the bundles and every
    /// problem found.
    pub fn load(data_dir: &Path) -> (Locales, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut bundles = BTreeMap::new();
        let mut ids: BTreeMap<Lang, BTreeSet<String>> = BTreeMap::new();
        for lang in Lang::ALL {
            let rel_dir = PathBuf::from("locales").join(lang.code());
            let dir = data_dir.join(&rel_dir);
            let langid: unic_langid::LanguageIdentifier = lang.code().parse().expect("valid code");
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            // All three languages are left-to-right; isolation marks only show up as garbage
            // in plain-text channels.
            bundle.set_use_isolating(false);
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                    .collect(),
                Err(e) => {
                    diags.push(Diagnostic::error_at(
                        &rel_dir,
                        "",
                        0,
                        format!("cannot read: {e}"),
                    ));
                    Vec::new()
                }
            };
            files.sort();
            let lang_ids = ids.entry(lang).or_default();
            for file in files {
                let rel = rel_dir.join(file.file_name().unwrap_or_default());
                let source = match std::fs::read(&file).map(String::from_utf8) {
                    Ok(Ok(s)) => s,
                    Ok(Err(_)) => {
                        diags.push(Diagnostic::error_at(&rel, "", 0, "invalid UTF-8"));
                        continue;
                    }
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
                let resource = match FluentResource::try_new(source.clone()) {
                    Ok(r) => r,
                    Err((r, errors)) => {
                        for e in errors {
                            diags.push(Diagnostic::error_at(
                                &rel,
                                &source,
                                e.pos.start,
                                format!("Fluent syntax: {}", e.kind),
                            ));
                        }
                        r
                    }
                };
                for entry in resource.entries() {
                    if let fluent_syntax::ast::Entry::Message(m) = entry {
                        lang_ids.insert(m.id.name.to_string());
                    }
                }
                if let Err(errors) = bundle.add_resource(resource) {
                    for e in errors {
                        diags.push(Diagnostic::error_at(
                            &rel,
                            &source,
                            0,
                            format!("Fluent: {e}"),
                        ));
                    }
                }
            }
            bundles.insert(lang, bundle);
        }
        // Every message must exist in every locale, and the engine's own messages everywhere.
        let all: BTreeSet<&String> = ids.values().flatten().collect();
        for lang in Lang::ALL {
            let have = &ids[&lang];
            let dir = PathBuf::from("locales").join(lang.code());
            for id in REQUIRED_MESSAGES {
                if !have.contains(*id) {
                    diags.push(
                        Diagnostic::error_at(&dir, "", 0, format!("missing message `{id}`"))
                            .with_hint("the engine needs it in every language"),
                    );
                }
            }
            for id in &all {
                if !have.contains(*id) && !REQUIRED_MESSAGES.contains(&id.as_str()) {
                    diags.push(
                        Diagnostic::error_at(&dir, "", 0, format!("missing message `{id}`"))
                            .with_hint("it exists in another language; add it here too"),
                    );
                }
            }
        }
        (Locales { bundles }, diags)
    }

    /// Formats message `id` in `lang`, falling back to English; `None` when no language has it.
    pub fn format(
        &self,
        lang: Lang,
        id: &str,
        formality: Formality,
        args: &[(&str, String)],
    ) -> Option<String> {
        for l in [lang, FALLBACK_LANG] {
            let Some(bundle) = self.bundles.get(&l) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut fargs = FluentArgs::new();
            fargs.set("formality", FluentValue::from(formality.as_str()));
            for (k, v) in args {
                fargs.set(*k, FluentValue::from(v.clone()));
            }
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fargs), &mut errors);
            return Some(text.into_owned());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_negotiated() {
        assert_eq!(negotiate("te-IN"), Some(Lang::Te));
        assert_eq!(negotiate("el-GR,el;q=0.9,en;q=0.5"), Some(Lang::El));
        assert_eq!(negotiate("en-US"), Some(Lang::En));
        assert_eq!(negotiate("fr-FR,el;q=0.4"), Some(Lang::El));
        assert_eq!(negotiate("de-DE,fr"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("*;q=0.1 ,,;;"), None);
    }
}
