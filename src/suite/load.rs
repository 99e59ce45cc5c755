//! Reading conversation test files: TOML to [`Case`]s, with a diagnostic (file, line,
//! column) for every mistake, as `sahaya check` reports content.

use super::{Case, Expect, Suite, Turn};
use crate::error::Diagnostic;
use crate::lang::{Formality, Lang};
use crate::model::{Customer, Decision, Message};
use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;
use std::collections::HashSet;
use std::path::Path;

/// Every key a case or a turn may have.
const KEYS: &[&str] = &[
    "title",
    "turn",
    "text",
    "lang",
    "formality",
    "channel",
    "at",
    "tier",
    "region",
    "timezone",
    "name",
    "topic",
    "decision",
    "rule",
    "register",
    "reply_lang",
    "after_hours",
    "contains",
    "not_contains",
];

/// The key named by serde's "unknown field `…`" message.
fn unknown_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// One `[[case]]`, `[[case.turn]]` or `[defaults]` table as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    title: Option<Spanned<String>>,
    turn: Option<Vec<Spanned<RawEntry>>>,
    text: Option<Spanned<String>>,
    lang: Option<Spanned<String>>,
    formality: Option<Spanned<String>>,
    channel: Option<Spanned<String>>,
    at: Option<Spanned<toml::Value>>,
    tier: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    topic: Option<Spanned<String>>,
    decision: Option<Spanned<String>>,
    rule: Option<Spanned<String>>,
    register: Option<Spanned<String>>,
    reply_lang: Option<Spanned<String>>,
    after_hours: Option<Spanned<bool>>,
    contains: Option<Spanned<Texts>>,
    not_contains: Option<Spanned<Texts>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<Spanned<RawEntry>>,
    #[serde(default)]
    case: Vec<Spanned<RawEntry>>,
}

/// `contains = "…"` or `contains = ["…", "…"]`.
#[derive(Clone)]
struct Texts(Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Texts, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Texts;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a text or a list of texts")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Texts, E> {
                Ok(Texts(vec![s.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Texts, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Texts(out))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Where a problem is reported and collected.
struct Ctx<'a> {
    rel: &'a Path,
    src: &'a str,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error_at(self.rel, self.src, offset, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn pos(&self, offset: usize) -> (usize, usize) {
        crate::error::line_col(self.src, offset)
    }
}

/// Parses one file's text; `rel` is the path shown in diagnostics and results.
pub(super) fn parse(rel: &Path, src: &str) -> (Suite, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        rel,
        src,
        diags: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let mut d = Diagnostic::from_toml(rel, src, &e);
            if let Some(key) = unknown_key(&d.message).map(str::to_string) {
                let keys: Vec<&str> = KEYS
                    .iter()
                    .chain(["defaults", "case"].iter())
                    .copied()
                    .collect();
                d = d.with_hint(match super::closest(&key, &keys) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => "the README's \"Testing content\" lists every key".into(),
                });
            }
            return (Suite::default(), vec![d]);
        }
    };
    let empty = RawEntry::default();
    let defaults = match &raw.defaults {
        Some(d) => {
            for (key, offset) in [
                ("text", d.get_ref().text.as_ref().map(|v| v.span().start)),
                ("title", d.get_ref().title.as_ref().map(|v| v.span().start)),
                ("turn", d.get_ref().turn.as_ref().map(|_| d.span().start)),
            ] {
                if let Some(o) = offset {
                    ctx.err(
                        o,
                        format!("`{key}` cannot be a default; give it in each case"),
                    );
                }
            }
            d.get_ref()
        }
        None => &empty,
    };
    if raw.case.is_empty() {
        let d = Diagnostic::error_at(rel, src, 0, "no test cases in this file").warning();
        ctx.diags
            .push(d.with_hint("add a [[case]] with a `text` and what the reply must be"));
    }
    let mut cases = Vec::new();
    for case in &raw.case {
        let start = case.span().start;
        let c = case.get_ref();
        let (line, col) = ctx.pos(start);
        let problems_before = ctx.diags.len();
        let turns = match &c.turn {
            Some(turns) => {
                if let Some(text) = &c.text {
                    ctx.err(
                        text.span().start,
                        "a case has either a `text` or [[case.turn]] tables, not both",
                    )
                    .hint = Some("move this text into a [[case.turn]] of its own".into());
                }
                if turns.is_empty() {
                    ctx.err(
                        start,
                        "`turn` is empty: a conversation needs at least one turn",
                    );
                }
                turns
                    .iter()
                    .filter_map(|t| turn(&mut ctx, t, &[t.get_ref(), c, defaults]))
                    .collect()
            }
            None => turn(&mut ctx, case, &[c, defaults]).into_iter().collect(),
        };
        let turns: Vec<Turn> = turns;
        // A case whose expectations are all mistaken has been reported already.
        let clean = ctx.diags.len() == problems_before;
        if clean && !turns.is_empty() && turns.iter().all(|t| t.expect.is_empty()) {
            ctx.err(start, "this case checks nothing").hint = Some(
                "add what the reply must be: topic, decision, rule, register, reply_lang, \
                 after_hours, contains or not_contains"
                    .into(),
            );
        }
        cases.push(Case {
            file: rel.to_path_buf(),
            line,
            col,
            title: c.title.as_ref().map(|t| t.get_ref().trim().to_string()),
            turns,
        });
    }
    // A bad default is reported once, not once per turn that inherits it.
    let mut seen = HashSet::new();
    ctx.diags
        .retain(|d| seen.insert((d.line, d.col, d.message.clone())));
    ctx.diags.sort_by_key(|d| (d.line, d.col));
    (Suite { cases }, ctx.diags)
}

/// The first of `layers` (the turn, its case, the file's defaults) that sets a key.
fn first<'a, T>(
    layers: &[&'a RawEntry],
    key: impl Fn(&'a RawEntry) -> Option<&'a T>,
) -> Option<&'a T> {
    layers.iter().find_map(|l| key(l))
}

/// One turn from its table (`layers[0]`) and the tables it inherits from; `None` when it
/// has no text (reported).
fn turn(ctx: &mut Ctx<'_>, table: &Spanned<RawEntry>, layers: &[&RawEntry]) -> Option<Turn> {
    let own = layers[0];
    if layers.len() == 3 {
        if let Some(t) = &own.turn {
            let at = t.first().map_or(table.span().start, |t| t.span().start);
            ctx.err(at, "a turn cannot hold turns");
        }
        if let Some(t) = &own.title {
            ctx.err(
                t.span().start,
                "`title` belongs to the case, not to one of its turns",
            );
        }
    }
    let Some(text) = &own.text else {
        ctx.err(
            table.span().start,
            "this turn has no `text`: what does the customer write?",
        );
        return None;
    };
    let text_at = text.span().start;
    if crate::text::normalize(text.get_ref()).is_empty() {
        ctx.err(text_at, "`text` is empty");
    }
    let (line, col) = ctx.pos(text_at);

    let string = |key: fn(&RawEntry) -> &Option<Spanned<String>>| {
        first(layers, |l| key(l).as_ref()).map(|s| s.get_ref().trim().to_string())
    };
    let lang = first(layers, |l| l.lang.as_ref()).and_then(|l| language(ctx, l, "lang"));
    let reply_lang =
        first(layers, |l| l.reply_lang.as_ref()).and_then(|l| language(ctx, l, "reply_lang"));
    let formality =
        first(layers, |l| l.formality.as_ref()).and_then(|f| register(ctx, f, "formality"));
    let expect_register =
        first(layers, |l| l.register.as_ref()).and_then(|f| register(ctx, f, "register"));
    let at = first(layers, |l| l.at.as_ref()).and_then(|a| time(ctx, a));
    let timezone = first(layers, |l| l.timezone.as_ref()).and_then(|tz| {
        let name = tz.get_ref().trim();
        match name.parse::<chrono_tz::Tz>() {
            Ok(_) => Some(name.to_string()),
            Err(_) => {
                ctx.err(tz.span().start, format!("unknown time zone {name:?}"))
                    .hint = Some("use an IANA name such as Europe/Athens or Asia/Kolkata".into());
                None
            }
        }
    });
    let decision = first(layers, |l| l.decision.as_ref()).and_then(|d| {
        d.get_ref()
            .trim()
            .parse::<Decision>()
            .map_err(|e| ctx.err(d.span().start, e))
            .ok()
    });
    let id = |ctx: &mut Ctx<'_>, v: Option<&Spanned<String>>, what: &str| {
        let v = v?;
        let id = v.get_ref().trim().to_string();
        if id.is_empty() {
            ctx.err(v.span().start, format!("`{what}` is empty"));
            return None;
        }
        Some((id, ctx.pos(v.span().start)))
    };
    let topic = id(ctx, first(layers, |l| l.topic.as_ref()), "topic");
    let rule = id(ctx, first(layers, |l| l.rule.as_ref()), "rule");
    let texts = |v: Option<&Spanned<Texts>>| v.map(|t| t.get_ref().0.clone()).unwrap_or_default();
    let customer = Customer {
        name: string(|l| &l.name),
        tier: string(|l| &l.tier),
        region: string(|l| &l.region),
        timezone,
    };
    let has_customer = customer.name.is_some()
        || customer.tier.is_some()
        || customer.region.is_some()
        || customer.timezone.is_some();
    Some(Turn {
        line,
        col,
        message: Message {
            text: text.get_ref().clone(),
            lang: lang.map(|l| l.code().to_string()),
            formality,
            channel: string(|l| &l.channel),
            session_id: None,
            customer: has_customer.then_some(customer),
            at,
        },
        expect: Expect {
            topic: topic.as_ref().map(|(t, _)| t.clone()),
            decision,
            rule: rule.as_ref().map(|(r, _)| r.clone()),
            register: expect_register,
            lang: reply_lang,
            after_hours: first(layers, |l| l.after_hours.as_ref()).map(|b| *b.get_ref()),
            contains: texts(first(layers, |l| l.contains.as_ref())),
            not_contains: texts(first(layers, |l| l.not_contains.as_ref())),
        },
        topic_at: topic.map(|(_, at)| at),
        rule_at: rule.map(|(_, at)| at),
    })
}

fn language(ctx: &mut Ctx<'_>, v: &Spanned<String>, key: &str) -> Option<Lang> {
    let lang = Lang::from_tag(v.get_ref());
    if lang.is_none() {
        ctx.err(
            v.span().start,
            format!(
                "`{key}`: unknown language {:?}; use te, el or en",
                v.get_ref()
            ),
        );
    }
    lang
}

fn register(ctx: &mut Ctx<'_>, v: &Spanned<String>, key: &str) -> Option<Formality> {
    match v.get_ref().parse::<Formality>() {
        Ok(f) => Some(f),
        Err(_) => {
            ctx.err(
                v.span().start,
                format!("`{key}`: {:?} is neither formal nor informal", v.get_ref()),
            );
            None
        }
    }
}

/// `at` as an RFC 3339 string, or a TOML date-time with its offset.
fn time(ctx: &mut Ctx<'_>, v: &Spanned<toml::Value>) -> Option<String> {
    let text = match v.get_ref() {
        toml::Value::String(s) => s.trim().to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            ctx.err(
                v.span().start,
                format!("`at` must be a date and time, not a {}", other.type_str()),
            )
            .hint = Some("for example at = \"2026-11-28T15:00:00+02:00\"".into());
            return None;
        }
    };
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(_) => Some(text),
        Err(e) => {
            ctx.err(
                v.span().start,
                format!("`at` {text:?} is not a date and time with its offset ({e})"),
            )
            .hint = Some(
                "for example at = \"2026-11-28T15:00:00+02:00\" (Athens, winter) \
                          or \"2026-11-28T15:00:00+05:30\" (India)"
                    .into(),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(src: &str) -> (Suite, Vec<String>) {
        let (suite, diags) = parse(Path::new("conversations/t.toml"), src);
        (suite, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_case_is_one_turn_with_inputs_and_expectations() {
        let (suite, diags) = parse_str(
            r#"
[defaults]
at = "2026-11-25T11:00:00+02:00"
channel = "chat"

[[case]]
title = "where is it"
text = "pou einai to dema mou"
topic = "track_parcel"
decision = "answer"
register = "informal"
formality = "informal"
reply_lang = "el"
tier = "business"
contains = "nova-courier.example/track"
not_contains = ["σας", "εσείς"]
"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let case = &suite.cases[0];
        assert_eq!(case.title.as_deref(), Some("where is it"));
        assert_eq!((case.line, case.col), (6, 1));
        let t = &case.turns[0];
        assert_eq!((t.line, t.col), (8, 8));
        assert_eq!(t.message.text, "pou einai to dema mou");
        assert_eq!(t.message.at.as_deref(), Some("2026-11-25T11:00:00+02:00"));
        assert_eq!(t.message.channel.as_deref(), Some("chat"));
        assert_eq!(t.message.formality, Some(Formality::Informal));
        assert_eq!(
            t.message.customer.as_ref().unwrap().tier.as_deref(),
            Some("business")
        );
        assert_eq!(t.expect.topic.as_deref(), Some("track_parcel"));
        assert_eq!(t.expect.decision, Some(Decision::Answer));
        assert_eq!(t.expect.register, Some(Formality::Informal));
        assert_eq!(t.expect.lang, Some(Lang::El));
        assert_eq!(t.expect.contains, ["nova-courier.example/track"]);
        assert_eq!(t.expect.not_contains, ["σας", "εσείς"]);
    }

    #[test]
    fn turns_inherit_from_their_case_and_the_defaults() {
        let (suite, diags) = parse_str(
            r#"
[defaults]
lang = "en"

[[case]]
at = 2026-11-28T15:00:00+02:00
decision = "escalate"
rule = "human_request"

[[case.turn]]
text = "get me a human"

[[case.turn]]
text = "hello??"
lang = "el"
after_hours = true
"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let turns = &suite.cases[0].turns;
        assert_eq!(turns.len(), 2);
        for t in turns {
            assert_eq!(t.expect.rule.as_deref(), Some("human_request"));
            assert_eq!(t.message.at.as_deref(), Some("2026-11-28T15:00:00+02:00"));
        }
        assert_eq!(turns[0].message.lang.as_deref(), Some("en"));
        assert_eq!(turns[1].message.lang.as_deref(), Some("el"));
        assert_eq!(turns[0].expect.after_hours, None);
        assert_eq!(turns[1].expect.after_hours, Some(true));
        assert_eq!((turns[1].line, turns[1].col), (14, 8));
    }

    #[test]
    fn unknown_keys_and_bad_toml_have_their_position() {
        let (_, diags) = parse_str("[[case]]\ntext = \"hi\"\ntopik = \"x\"\n");
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].starts_with("conversations/t.toml:3:1: error: unknown field `topik`"),
            "{diags:?}"
        );
        assert!(
            diags[0].ends_with("(hint: did you mean `topic`?)"),
            "{diags:?}"
        );
        let (_, diags) = parse_str("[[case]]\ntext = \"hi\ntopic = \"x\"\n");
        assert_eq!(diags.len(), 1);
        assert!(diags[0].starts_with("conversations/t.toml:2:"), "{diags:?}");
        let (_, diags) = parse_str("[[case]]\ntext = \"hi\"\n[[case.turn]]\nrule = 3\n");
        assert!(
            diags[0].starts_with("conversations/t.toml:4:8: error:"),
            "{diags:?}"
        );
    }

    #[test]
    fn bad_values_are_reported_where_they_are() {
        let (_, diags) = parse_str(
            r#"[[case]]
text = "hello"
decision = "answered"
register = "polite"
reply_lang = "fr"
at = "tomorrow"
timezone = "Athens"
"#,
        );
        let want = [
            "conversations/t.toml:7:12: error: unknown time zone \"Athens\"",
            "conversations/t.toml:6:6: error: `at` \"tomorrow\" is not a date and time",
            "conversations/t.toml:3:12: error: unknown decision `answered`",
            "conversations/t.toml:4:12: error: `register`: \"polite\" is neither",
            "conversations/t.toml:5:14: error: `reply_lang`: unknown language \"fr\"",
        ];
        for w in want {
            assert!(
                diags.iter().any(|d| d.starts_with(w)),
                "no {w:?} in {diags:#?}"
            );
        }
        assert_eq!(diags.len(), want.len(), "{diags:#?}");
    }

    #[test]
    fn structural_mistakes_are_errors() {
        let (_, diags) = parse_str(
            r#"[defaults]
text = "x"

[[case]]
text = "only a text"

[[case]]
text = "both"
topic = "a"
[[case.turn]]
text = "one"

[[case]]
[[case.turn]]
title = "t"
decision = "answer"
"#,
        );
        let want = [
            "conversations/t.toml:2:8: error: `text` cannot be a default",
            "conversations/t.toml:4:1: error: this case checks nothing",
            "conversations/t.toml:8:8: error: a case has either a `text` or [[case.turn]]",
            "conversations/t.toml:15:9: error: `title` belongs to the case",
            "conversations/t.toml:14:1: error: this turn has no `text`",
        ];
        for w in want {
            assert!(
                diags.iter().any(|d| d.starts_with(w)),
                "no {w:?} in {diags:#?}"
            );
        }
        assert_eq!(diags.len(), want.len(), "{diags:#?}");
    }

    #[test]
    fn an_empty_file_is_a_warning() {
        let (suite, diags) = parse(Path::new("a.toml"), "# nothing yet\n");
        assert!(suite.cases.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, crate::error::Severity::Warning);
    }
}
