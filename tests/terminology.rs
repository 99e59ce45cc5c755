//! One spelling for one thing in each language: the house spellings of
//! `tests/terminology.toml` over every answer, canonical question and locale message.

use regex::Regex;
use sahaya::text::normalize;
use sahaya::{Engine, Formality, Lang};
use std::collections::BTreeMap;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Terminology {
    #[serde(default)]
    except: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    term: Vec<Term>,
    #[serde(default)]
    pattern: Vec<Pattern>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Term {
    lang: String,
    #[serde(rename = "use")]
    preferred: String,
    not: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Pattern {
    lang: String,
    regex: String,
    why: String,
}

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn terminology() -> Terminology {
    let path = format!("{}/tests/terminology.toml", root());
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A variant as a regular expression over normalized text: whole words, `*` for any ending,
/// spaces for any run of spaces.
fn variant_regex(variant: &str) -> Regex {
    let words: Vec<String> = normalize(variant)
        .split(' ')
        .map(|w| match w.strip_suffix('*') {
            Some(stem) => format!(r"{}\w*", regex::escape(stem)),
            None => regex::escape(w),
        })
        .collect();
    Regex::new(&format!(
        r"(?:^|[^\w-])(?:{})(?:$|[^\w-])",
        words.join(r"\s+")
    ))
    .unwrap()
}

/// The text without web and email addresses and without the language's excepted names.
fn checked_text(text: &str, except: &[String]) -> String {
    let addresses = Regex::new(r"\S+@\S+|\S*nova-courier\.example\S*").unwrap();
    let mut t = addresses.replace_all(text, " ").into_owned();
    for name in except {
        t = t.replace(name.as_str(), " ");
    }
    t
}

/// Every text the house spellings apply to, by language: (where, text).
fn texts() -> BTreeMap<&'static str, Vec<(String, String)>> {
    let engine = Engine::load(root()).unwrap();
    let mut out: BTreeMap<&'static str, Vec<(String, String)>> = BTreeMap::new();
    for lang in Lang::ALL {
        let list = out.entry(lang.code()).or_default();
        for topic in engine.knowledge().topics() {
            let t = topic.text(lang);
            list.push((format!("{} question", topic.id), t.question.clone()));
            for f in [Formality::Formal, Formality::Informal] {
                let label = format!("{} {}", topic.id, f.as_str());
                list.push((label, t.answer(f).to_string()));
            }
        }
        let path = format!("locales/{}/main.ftl", lang.code());
        let source = std::fs::read_to_string(format!("{}/{path}", root())).unwrap();
        for (i, line) in source.lines().enumerate() {
            if !line.trim_start().starts_with('#') {
                list.push((format!("{path}:{}", i + 1), line.to_string()));
            }
        }
    }
    out
}

#[test]
fn each_language_uses_its_house_spellings() {
    let terms = terminology();
    let texts = texts();
    let mut problems = Vec::new();
    let mut allowed_used: Vec<(String, String)> = Vec::new();
    for (lang, list) in &texts {
        let except = terms.except.get(*lang).cloned().unwrap_or_default();
        let variants: Vec<(&Term, &String, Regex)> = terms
            .term
            .iter()
            .filter(|t| t.lang == *lang)
            .flat_map(|t| t.not.iter().map(move |v| (t, v, variant_regex(v))))
            .collect();
        let patterns: Vec<(&Pattern, Regex)> = terms
            .pattern
            .iter()
            .filter(|p| p.lang == *lang)
            .map(|p| (p, Regex::new(&p.regex).unwrap()))
            .collect();
        for (label, text) in list {
            let text = checked_text(text, &except);
            let n = normalize(&text);
            for (term, variant, re) in &variants {
                if !re.is_match(&n) {
                    continue;
                }
                if term.allow.contains(label) {
                    allowed_used.push((term.preferred.clone(), label.clone()));
                } else {
                    problems.push(format!(
                        "{lang} {label}: «{variant}»; write {}",
                        term.preferred
                    ));
                }
            }
            for (p, re) in &patterns {
                if let Some(m) = re.find(&text) {
                    problems.push(format!(
                        "{lang} {label}: «{}»: {}",
                        m.as_str().trim(),
                        p.why
                    ));
                }
            }
        }
    }
    for term in &terms.term {
        for label in &term.allow {
            if !allowed_used.contains(&(term.preferred.clone(), label.clone())) {
                problems.push(format!(
                    "{label} no longer needs `allow` for {}",
                    term.preferred
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn variants_match_whole_words_only() {
    let re = variant_regex("ఇమెయిల్*");
    assert!(re.is_match(&normalize("మీ ఇమెయిల్‌కు పంపుతాము")));
    assert!(!re.is_match(&normalize("మీ ఈమెయిల్‌కు పంపుతాము")));
    let re = variant_regex("επαγγελματικ* λογαριασμ*");
    assert!(re.is_match(&normalize("με επαγγελματικό λογαριασμό")));
    assert!(!re.is_match(&normalize("επαγγελματική συμπεριφορά")));
    let re = variant_regex("టోల్ ఫ్రీ");
    assert!(re.is_match(&normalize("1800 555 0199 (టోల్ ఫ్రీ)")));
    assert!(!re.is_match(&normalize("1800 555 0199 (టోల్-ఫ్రీ)")));
    let re = variant_regex("courier");
    let text = checked_text(
        "Nova Courier, nova-courier.example/track",
        &["Nova Courier".into()],
    );
    assert!(!re.is_match(&normalize(&text)));
    assert!(re.is_match(&normalize("ο courier περνάει")));
}

#[test]
fn every_rule_has_a_spelling_to_use_and_a_valid_pattern() {
    let terms = terminology();
    for t in &terms.term {
        assert!(Lang::ALL.iter().any(|l| l.code() == t.lang), "{}", t.lang);
        assert!(!t.preferred.is_empty() && !t.not.is_empty());
    }
    for p in &terms.pattern {
        assert!(Regex::new(&p.regex).is_ok(), "{}", p.regex);
        assert!(!p.why.is_empty());
    }
}
