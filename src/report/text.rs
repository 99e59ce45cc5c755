//! The report as plain text.

use super::{Counts, Report};
use std::fmt::Write;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn row(out: &mut String, name: &str, c: &Counts) {
    let _ = writeln!(
        out,
        "{name:<10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        c.replies,
        pct(c.containment()),
        pct(super::share(c.answered, c.replies)),
        pct(super::share(c.clarified, c.replies)),
        pct(super::share(c.fell_back, c.replies)),
        pct(super::share(c.escalated, c.replies)),
        pct(super::share(c.after_hours, c.replies)),
        if c.helpful + c.unhelpful > 0 {
            pct(c.helpfulness())
        } else {
            "-".into()
        },
        if c.ratings > 0 {
            pct(c.csat())
        } else {
            "-".into()
        },
    );
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Sahaya report, {} to {}{}",
        when(r.since),
        when(r.until),
        r.lang
            .as_deref()
            .map(|l| format!(", language {l}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "\n{:<10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "",
        "replies",
        "contain",
        "answer",
        "clarify",
        "fallback",
        "escalate",
        "after-h",
        "👍",
        "CSAT"
    );
    row(&mut out, "all", &r.total);
    for (lang, c) in &r.by_lang {
        row(&mut out, lang, c);
    }
    let _ = writeln!(out, "\nby channel");
    for (channel, c) in &r.by_channel {
        row(&mut out, channel, c);
    }
    let _ = writeln!(out, "\nescalations by rule");
    if r.escalations_by_rule.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for e in &r.escalations_by_rule {
        let _ = writeln!(out, "  {:>5}  {}", e.count, e.rule);
    }
    let _ = writeln!(
        out,
        "\nunanswered and menu questions, largest group first{}",
        if r.texts_kept {
            ""
        } else {
            " (texts not kept: identical questions only)"
        }
    );
    if r.unanswered.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for g in &r.unanswered {
        let _ = writeln!(
            out,
            "  {:>5}  [{}] closest {} {:.2} (menu {}, fallback {})",
            g.count,
            g.lang,
            g.closest_topic.as_deref().unwrap_or("-"),
            g.score,
            g.clarified,
            g.fell_back
        );
        for e in &g.examples {
            let _ = writeln!(out, "         «{e}»");
        }
    }
    let _ = writeln!(out, "\ntopics by 👎");
    if r.topics.is_empty() {
        let _ = writeln!(out, "  no feedback");
    }
    for t in &r.topics {
        let _ = writeln!(
            out,
            "  {:<28} answers {:>5}  👍 {:>4}  👎 {:>4}",
            t.topic, t.answers, t.helpful, t.unhelpful
        );
    }
    out
}
