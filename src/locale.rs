//! Fluent bundles: every word the bot says around a knowledge answer.
//!
//! Files live in `locales/<lang>/*.ftl`. Messages that address the customer take a
//! `$formality` variable (`formal` or `informal`) and select on it. Bundles are built once
//! per load and shared by all requests.

use crate::error::{content_files, Depth, Diagnostic};
use crate::lang::Lang;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Messages the engine uses; `check` reports any locale that lacks one.
pub const REQUIRED_MESSAGES: &[&str] = &[
    "greeting",
    "greeting-name",
    "answer-closing",
    "clarify-intro",
    "fallback",
    "empathy",
    "empathy-angry",
    "escalate",
    "handoff-open",
    "handoff-closed",
    "handoff-holiday",
    "after-hours",
    "after-hours-holiday",
    "handoff-waiting",
    "register-ok",
    "closing",
    "closing-smalltalk",
    "email-salutation",
    "email-salutation-name",
    "email-intro",
    "email-intro-short",
    "email-reply-time",
    "email-signoff",
    "when-today",
    "when-tomorrow",
    "when-date",
    "weekday-mon",
    "weekday-tue",
    "weekday-wed",
    "weekday-thu",
    "weekday-fri",
    "weekday-sat",
    "weekday-sun",
    "month-1",
    "month-2",
    "month-3",
    "month-4",
    "month-5",
    "month-6",
    "month-7",
    "month-8",
    "month-9",
    "month-10",
    "month-11",
    "month-12",
];

/// The language used when a message is missing in the reply's language.
pub const FALLBACK_LANG: Lang = Lang::En;

/// The Fluent bundles of every language.
pub struct Locales {
    /// Bundles without bidi isolation marks (plain-text channels) …
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
    /// … and with them (rich chat widgets), built from the same sources.
    isolating: BTreeMap<Lang, FluentBundle<FluentResource>>,
    ids: BTreeSet<String>,
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
        let mut isolating = BTreeMap::new();
        let mut ids: BTreeMap<Lang, BTreeSet<String>> = BTreeMap::new();
        let mut shapes: Shapes = BTreeMap::new();
        for lang in Lang::ALL {
            let rel_dir = PathBuf::from("locales").join(lang.code());
            let dir = data_dir.join(&rel_dir);
            let langid: unic_langid::LanguageIdentifier = lang.code().parse().expect("valid code");
            let mut bundle = FluentBundle::new_concurrent(vec![langid.clone()]);
            // Isolation marks (U+2068/U+2069 around placeables) keep a right-to-left name
            // from scrambling a left-to-right sentence in a chat widget, but show up as
            // garbage in plain-text channels such as email and SMS.
            bundle.set_use_isolating(false);
            let mut iso_bundle = FluentBundle::new_concurrent(vec![langid]);
            iso_bundle.set_use_isolating(true);
            let files = match content_files(&dir, "ftl", Depth::Flat) {
                Ok(files) => files,
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
            let lang_ids = ids.entry(lang).or_default();
            for file in files {
                let rel = rel_dir.join(file.file_name().unwrap_or_default());
                let source = match crate::error::read_content(&file, &rel) {
                    Ok(s) => s,
                    Err(d) => {
                        diags.push(d);
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
                        let offset = source
                            .find(&format!("\n{} ", m.id.name))
                            .or_else(|| source.find(&format!("\n{}=", m.id.name)))
                            .map_or(0, |o| o + 1);
                        let (line, col) = crate::error::line_col(&source, offset);
                        shapes.entry(m.id.name.to_string()).or_default().push((
                            lang,
                            rel.clone(),
                            line,
                            col,
                            Shape::of(m),
                        ));
                    }
                }
                let _ = iso_bundle.add_resource(
                    FluentResource::try_new(source.clone()).unwrap_or_else(|(r, _)| r),
                );
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
            isolating.insert(lang, iso_bundle);
        }
        check_shapes(&shapes, &mut diags);
        // Every message must exist in every locale, and the engine's own messages everywhere.
        let all: BTreeSet<&String> = ids.values().flatten().collect();
        for lang in Lang::ALL {
            let have = &ids[&lang];
            let dir = PathBuf::from("locales").join(lang.code());
            let missing: Vec<&str> = REQUIRED_MESSAGES
                .iter()
                .copied()
                .filter(|id| !have.contains(*id))
                .collect();
            match missing.as_slice() {
                [] => {}
                [id] => diags.push(
                    Diagnostic::error_at(&dir, "", 0, format!("missing message `{id}`"))
                        .with_hint("the engine needs it in every language"),
                ),
                ids => diags.push(
                    Diagnostic::error_at(
                        &dir,
                        "",
                        0,
                        format!("missing {} messages: {}", ids.len(), ids.join(", ")),
                    )
                    .with_hint("the engine needs them in every language; see locales/en"),
                ),
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
        let all_ids = ids.values().flatten().cloned().collect();
        (
            Locales {
                bundles,
                isolating,
                ids: all_ids,
            },
            diags,
        )
    }

    /// Every message id defined in any locale.
    pub fn ids(&self) -> &BTreeSet<String> {
        &self.ids
    }

    /// Formats message `id` in `lang` with `args`, falling back along [`FALLBACK_LANG`];
    /// `isolate` wraps placeables in bidi isolation marks. `None` when no language has it.
    pub fn format_args(
        &self,
        lang: Lang,
        id: &str,
        args: &FluentArgs<'_>,
        isolate: bool,
    ) -> Option<String> {
        let set = if isolate {
            &self.isolating
        } else {
            &self.bundles
        };
        for l in [lang, FALLBACK_LANG] {
            let Some(bundle) = set.get(&l) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(args), &mut errors);
            return Some(text.into_owned());
        }
        None
    }
}

/// Each message's shape per locale, with where it is defined (file, line, column).
type Shapes = BTreeMap<String, Vec<(Lang, PathBuf, usize, usize, Shape)>>;

/// Variables the engine passes to its messages.
pub const ENGINE_VARS: &[&str] = &[
    "formality",
    "channel",
    "part",
    "name",
    "when",
    "holiday",
    "count",
    "time",
    "hour12",
    "daypart",
    "weekday",
    "day",
    "month",
];

/// Variables that carry facts: a locale that leaves one out loses information.
const MUST_KEEP_VARS: &[&str] = &["when", "holiday", "count", "weekday", "day", "month"];

/// What `check` compares across locales: the variables a message uses, and the keys of
/// its `$formality` select, if any.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shape {
    vars: BTreeSet<String>,
    registers: Option<BTreeSet<String>>,
}

impl Shape {
    fn of(m: &fluent_syntax::ast::Message<&str>) -> Shape {
        let mut shape = Shape::default();
        if let Some(p) = &m.value {
            walk_pattern(p, &mut shape);
        }
        shape
    }
}

fn walk_pattern(p: &fluent_syntax::ast::Pattern<&str>, shape: &mut Shape) {
    use fluent_syntax::ast::PatternElement;
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            walk_expression(expression, shape);
        }
    }
}

fn walk_expression(e: &fluent_syntax::ast::Expression<&str>, shape: &mut Shape) {
    use fluent_syntax::ast::{Expression, InlineExpression, VariantKey};
    match e {
        Expression::Select { selector, variants } => {
            if let InlineExpression::VariableReference { id } = selector {
                if id.name == "formality" {
                    let keys = variants
                        .iter()
                        .map(|v| match &v.key {
                            VariantKey::Identifier { name } => name.to_string(),
                            VariantKey::NumberLiteral { value } => value.to_string(),
                        })
                        .collect();
                    shape.registers = Some(keys);
                }
            }
            walk_inline(selector, shape);
            for v in variants {
                walk_pattern(&v.value, shape);
            }
        }
        Expression::Inline(i) => walk_inline(i, shape),
    }
}

fn walk_inline(i: &fluent_syntax::ast::InlineExpression<&str>, shape: &mut Shape) {
    use fluent_syntax::ast::InlineExpression;
    match i {
        InlineExpression::VariableReference { id } => {
            shape.vars.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => walk_expression(expression, shape),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                walk_inline(a, shape);
            }
        }
        _ => {}
    }
}

/// Variables must match across locales (a message that is a reference to another, like
/// Greek `greeting-name = { greeting }`, may use fewer); a message that selects on
/// `$formality` in any locale must have `formal` and `informal` variants in Greek and Telugu.
fn check_shapes(shapes: &Shapes, diags: &mut Vec<Diagnostic>) {
    for (id, list) in shapes {
        let all_vars: BTreeSet<&String> = list.iter().flat_map(|(_, _, _, _, s)| &s.vars).collect();
        let addresses = list.iter().any(|(_, _, _, _, s)| s.registers.is_some());
        for (lang, path, line, col, shape) in list {
            let at = |msg: String| Diagnostic {
                path: path.clone(),
                line: *line,
                col: *col,
                severity: crate::error::Severity::Error,
                message: msg,
                hint: None,
            };
            for v in &shape.vars {
                if !ENGINE_VARS.contains(&v.as_str()) {
                    diags.push(
                        at(format!("`{id}` uses ${v}, which the engine never passes"))
                            .with_hint(format!("variables: ${}", ENGINE_VARS.join(", $"))),
                    );
                }
            }
            for v in MUST_KEEP_VARS {
                let elsewhere = all_vars.iter().any(|x| x.as_str() == *v);
                let is_reference = shape.vars.is_empty() && shape.registers.is_none();
                if elsewhere && !shape.vars.contains(*v) && !is_reference {
                    diags.push(at(format!(
                        "`{id}` leaves out ${v}, which other locales show"
                    )));
                }
            }
            if addresses && lang.has_register() {
                let ok = shape
                    .registers
                    .as_ref()
                    .is_some_and(|k| k.contains("formal") && k.contains("informal"));
                // A plain reference to another message (`{ greeting }`) inherits its variants.
                let is_reference = shape.vars.is_empty() && shape.registers.is_none();
                if !ok && !is_reference {
                    diags.push(at(format!(
                        "`{id}` addresses the customer but has no [formal] and [informal] variants in {lang}"
                    )).with_hint("select on $formality: { $formality -> [informal] … *[formal] … }"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_forms_come_from_cldr() {
        let (loc, diags) = Locales::load(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(diags.is_empty(), "{diags:?}");
        for (lang, one, many) in [
            (Lang::En, "1 working day", "3 working days"),
            (Lang::El, "1 εργάσιμης ημέρας", "3 εργάσιμων ημερών"),
        ] {
            let fmt = |n: i64| {
                let mut a = FluentArgs::new();
                a.set("formality", "formal");
                a.set("count", n);
                loc.format_args(lang, "email-reply-time", &a, false)
                    .unwrap()
            };
            assert!(fmt(1).contains(one), "{}", fmt(1));
            assert!(fmt(3).contains(many), "{}", fmt(3));
        }
    }
}
