//! The report as one self-contained HTML page: tables and SVG charts, no script, no
//! external resource (it opens offline and passes a strict content security policy).

use super::{share, Counts, Report};
use std::fmt::Write;

/// Escapes text for HTML (customer texts are untrusted).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

const DECISIONS: [(&str, &str); 4] = [
    ("answered", "#2e7d32"),
    ("menu", "#f9a825"),
    ("fallback", "#9e9e9e"),
    ("escalated", "#c62828"),
];

fn parts(c: &Counts) -> [usize; 4] {
    [c.answered, c.clarified, c.fell_back, c.escalated]
}

/// One stacked bar per row: the share of each decision.
fn decisions_chart(rows: &[(&str, &Counts)]) -> String {
    let (label_w, bar_w, row_h) = (60.0, 480.0, 28.0);
    let height = row_h * rows.len() as f64 + 40.0;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-decisions\" role=\"img\" aria-label=\"Decisions per language\" \
         viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + bar_w + 10.0
    );
    for (i, (name, c)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>",
            y + 18.0,
            esc(name)
        );
        let mut x = label_w;
        for (n, (label, color)) in parts(c).iter().zip(DECISIONS) {
            let w = bar_w * share(*n, c.replies);
            if w > 0.0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{color}\">\
                     <title>{label}: {n} of {}</title></rect>",
                    c.replies,
                    h = row_h - 6.0
                );
            }
            x += w;
        }
    }
    let legend_y = row_h * rows.len() as f64 + 20.0;
    for (i, (label, color)) in DECISIONS.iter().enumerate() {
        let x = label_w + i as f64 * 120.0;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{label}</text>",
            legend_y - 10.0,
            x + 16.0,
            legend_y
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar per rule: its escalations.
fn rules_chart(r: &Report) -> String {
    let rows = &r.escalations_by_rule;
    let max = rows.iter().map(|e| e.count).max().unwrap_or(1).max(1);
    let (label_w, bar_w, row_h) = (180.0, 340.0, 24.0);
    let height = (row_h * rows.len() as f64).max(row_h);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-rules\" role=\"img\" aria-label=\"Escalations by rule\" \
         viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + bar_w + 50.0
    );
    for (i, e) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let w = bar_w * e.count as f64 / max as f64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#c62828\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 16.0,
            esc(&e.rule),
            row_h - 6.0,
            label_w + w + 6.0,
            y + 16.0,
            e.count
        );
    }
    if rows.is_empty() {
        svg.push_str("<text x=\"0\" y=\"16\" font-size=\"13\">no escalations</text>");
    }
    svg.push_str("</svg>");
    svg
}

fn counts_table(out: &mut String, title: &str, rows: &[(&str, &Counts)]) {
    let _ = write!(
        out,
        "<table><caption>{}</caption><tr><th></th><th>replies</th><th>containment</th>\
         <th>answered</th><th>menu</th><th>fallback</th><th>escalated</th><th>after hours</th>\
         <th>helpful</th><th>CSAT</th></tr>",
        esc(title)
    );
    for (name, c) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            c.replies,
            pct(c.containment()),
            pct(share(c.answered, c.replies)),
            pct(share(c.clarified, c.replies)),
            pct(share(c.fell_back, c.replies)),
            pct(share(c.escalated, c.replies)),
            pct(share(c.after_hours, c.replies)),
            if c.helpful + c.unhelpful > 0 {
                pct(c.helpfulness())
            } else {
                "–".into()
            },
            if c.ratings > 0 {
                pct(c.csat())
            } else {
                "–".into()
            },
        );
    }
    out.push_str("</table>");
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sahaya report</title><style>\
         body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}\
         table{border-collapse:collapse;margin:1rem 0}caption{text-align:left;font-weight:bold;padding:.3rem 0}\
         th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}\
         td.text,th.text{text-align:left}.chart{display:block;margin:1rem 0}\
         </style></head><body>",
    );
    let period = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map_or_else(
            || t.to_string(),
            |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let _ = write!(
        out,
        "<h1>Sahaya report</h1><p>{} to {}{}</p>",
        period(r.since),
        period(r.until),
        r.lang
            .as_deref()
            .map(|l| format!(", language {}", esc(l)))
            .unwrap_or_default()
    );
    let mut langs: Vec<(&str, &Counts)> = vec![("all", &r.total)];
    langs.extend(r.by_lang.iter().map(|(k, v)| (k.as_str(), v)));
    out.push_str("<h2>Decisions</h2>");
    out.push_str(&decisions_chart(&langs));
    counts_table(&mut out, "Per language", &langs);
    let channels: Vec<(&str, &Counts)> =
        r.by_channel.iter().map(|(k, v)| (k.as_str(), v)).collect();
    counts_table(&mut out, "Per channel", &channels);
    out.push_str("<h2>Escalations by rule</h2>");
    out.push_str(&rules_chart(r));
    let _ = write!(
        out,
        "<h2>Unanswered and menu questions</h2><p>Largest group first{}. Add an alternate to \
         the closest topic, or write a new topic.</p><table id=\"unanswered\"><tr><th>messages</th>\
         <th>lang</th><th class=\"text\">questions</th><th class=\"text\">closest topic</th>\
         <th>score</th></tr>",
        if r.texts_kept {
            ""
        } else {
            " (texts are not kept: identical questions only; set [log] keep_text = true)"
        }
    );
    for g in &r.unanswered {
        let examples: Vec<String> = g.examples.iter().map(|e| esc(e)).collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>\
             <td>{:.2}</td></tr>",
            g.count,
            esc(&g.lang),
            if examples.is_empty() {
                "–".into()
            } else {
                examples.join("<br>")
            },
            esc(g.closest_topic.as_deref().unwrap_or("–")),
            g.score
        );
    }
    out.push_str(
        "</table><h2>Answers customers found unhelpful</h2><table id=\"topics\"><tr>\
                  <th class=\"text\">topic</th><th>answers</th><th>helpful</th><th>not helpful</th></tr>",
    );
    for t in &r.topics {
        let _ = write!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.topic),
            t.answers,
            t.helpful,
            t.unhelpful
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
    }
}
