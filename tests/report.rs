//! The editors' loop: a day of traffic through the HTTP API, feedback on some replies, and
//! the report over the conversation log checked against what was sent.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use sahaya::server::{app, AppState, Integrations, ServerConfig};
use sahaya::store::{LogConfig, SqliteStore};
use sahaya::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const TOKEN: &str = "report-admin-token";

fn engine() -> Engine {
    Engine::load(env!("CARGO_MANIFEST_DIR")).expect("the shipped content loads")
}

fn server(db: &Path, keep_text: bool) -> AppState {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let mut integrations = Integrations::new(store);
    integrations.log = Some(LogConfig {
        keep_text,
        ..LogConfig::default()
    });
    let config = ServerConfig {
        admin_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    };
    AppState::with_integrations(engine(), config, integrations)
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

async fn post(state: &AppState, path: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, body) = call(state, req).await;
    (status, serde_json::from_slice(&body).unwrap())
}

async fn report(state: &AppState, query: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::get(format!("/v1/admin/report?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    call(state, req).await
}

/// A question no topic answers, asked in several ways per language: with and without
/// accents, with and without ZWNJ, in other words.
const HIRING: &[(&str, &str)] = &[
    ("en", "are you hiring delivery drivers?"),
    ("en", "Are you HIRING delivery drivers"),
    ("en", "any openings for delivery drivers at your company"),
    ("el", "Ζητάτε οδηγούς διανομής;"),
    ("el", "ζητατε οδηγους διανομης"),
    ("el", "υπάρχει δουλειά για οδηγούς διανομής;"),
    ("te", "డెలివరీ డ్రైవర్ ఉద్యోగాలు ఖాళీ ఉన్నాయా"),
    ("te", "డెలివరీ డ్రైవర్\u{200C} ఉద్యోగాలు ఖాళీ ఉన్నాయా?"),
    ("te", "డెలివరీ డ్రైవర్ ఉద్యోగాలకు ఖాళీలు ఉన్నాయా"),
];

/// Everything else of the day: questions, small talk, off-topic and requests for a person.
const DAY: &[(&str, &str)] = &[
    ("en", "hi, my parcel has not shown up yet, where is it"),
    ("en", "how much is it to send 2 kilos to Thessaloniki"),
    (
        "en",
        "the box arrived crushed and the vase inside is broken",
    ),
    ("en", "can someone pick the parcel up from my office"),
    ("en", "what's the weather going to be like tomorrow"),
    ("en", "I need a real person on this, not a bot"),
    ("en", "thanks a lot, bye"),
    (
        "el",
        "γεια σας, το δέμα μου δεν έχει έρθει ακόμα, πού είναι;",
    ),
    ("el", "πόσο κοστίζει να στείλω ένα πακέτο στη Λάρισα;"),
    ("el", "το κουτί ήρθε σπασμένο και το βάζο μέσα έσπασε"),
    ("el", "θα βρέξει αύριο στην Αθήνα;"),
    ("el", "θέλω να μιλήσω με έναν άνθρωπο, όχι με ρομπότ"),
    ("el", "ευχαριστώ πολύ, καλό βράδυ"),
    ("te", "నా పార్సెల్ ఇంకా రాలేదు, ఎక్కడ ఉంది?"),
    ("te", "హైదరాబాద్‌కి 2 కిలోల పార్సెల్ పంపడానికి ఎంత అవుతుంది?"),
    ("te", "పార్సెల్ పగిలిపోయి వచ్చింది, లోపల వస్తువు విరిగిపోయింది"),
    ("te", "రేపు వర్షం పడుతుందా?"),
    ("te", "నాకు మనిషితో మాట్లాడాలి, బాట్ వద్దు"),
    ("te", "ధన్యవాదాలు"),
];

#[derive(Default)]
struct Expected {
    by_lang: BTreeMap<String, [usize; 4]>,
    rules: BTreeMap<String, usize>,
    after_hours: usize,
    helpful: BTreeMap<String, (usize, usize)>,
    ratings: Vec<u8>,
    hiring: BTreeMap<String, BTreeSet<String>>,
}

/// Sends the day: each message of [`DAY`] a number of times in its own conversation, the
/// [`HIRING`] paraphrases three times each, feedback on every answer (👍 on some, 👎 with a
/// rating on others). Returns what the replies said.
async fn send_a_day(state: &AppState) -> (Expected, Vec<String>) {
    let mut expected = Expected::default();
    let mut texts = Vec::new();
    let mut n = 0;
    let rounds: Vec<(&str, &str, usize)> = DAY
        .iter()
        .enumerate()
        .map(|(i, (lang, text))| (*lang, *text, 8 + i % 7))
        .chain(HIRING.iter().map(|(lang, text)| (*lang, *text, 3)))
        .collect();
    for (lang, text, times) in rounds {
        for _ in 0..times {
            n += 1;
            // Every fifth message comes in on a Saturday night, when no one is at work.
            let mut message = json!({"text": text, "lang": lang, "session_id": format!("day-{n}")});
            if n % 5 == 0 {
                message["at"] = json!("2026-11-28T23:30:00+02:00");
            }
            let (status, reply) = post(state, "/v1/respond", message).await;
            assert_eq!(status, StatusCode::OK, "{reply}");
            texts.push(text.to_string());
            let decision = reply["decision"].as_str().unwrap();
            let slot = ["answer", "clarify", "fallback", "escalate"]
                .iter()
                .position(|d| *d == decision)
                .unwrap();
            expected.by_lang.entry(lang.to_string()).or_default()[slot] += 1;
            if let Some(rule) = reply["escalation"]["rule"].as_str() {
                *expected.rules.entry(rule.to_string()).or_default() += 1;
            }
            expected.after_hours += usize::from(reply["after_hours"] == true);
            let unanswered = slot == 1 || slot == 2;
            if unanswered && HIRING.iter().any(|(_, t)| *t == text) {
                expected
                    .hiring
                    .entry(lang.to_string())
                    .or_default()
                    .insert(text.to_string());
            }
            let id = reply["reply_id"]
                .as_str()
                .expect("a logged reply has an id");
            if decision == "answer" {
                let helpful = n % 3 != 0;
                // A rating on every other answer: 4–5 when helpful, 1–3 when not.
                let rating = (n % 2 == 0).then_some(if helpful {
                    4 + (n % 4 / 2) as u8
                } else {
                    1 + (n % 3) as u8
                });
                let comment = format!("comment {n}: {text}");
                let (status, body) = post(
                    state,
                    "/v1/feedback",
                    json!({"reply_id": id, "helpful": helpful, "rating": rating, "comment": comment}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                texts.push(comment);
                let topic = reply["answer_id"].as_str().unwrap().to_string();
                let e = expected.helpful.entry(topic).or_default();
                if helpful {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
                expected.ratings.extend(rating);
            }
        }
    }
    (expected, texts)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_counts_a_day_of_traffic_exactly_and_groups_paraphrases() {
    let dir = tempfile::tempdir().unwrap();
    let state = server(&dir.path().join("state.db"), true);
    let (expected, _) = send_a_day(&state).await;
    let total: usize = expected.by_lang.values().flatten().sum();
    assert!(total >= 200, "a day of traffic: {total} messages");

    let (status, body) = report(&state, "since=1d&format=json").await;
    assert_eq!(status, StatusCode::OK);
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(r["total"]["replies"], total);
    for (lang, [answered, clarified, fell_back, escalated]) in &expected.by_lang {
        let c = &r["by_lang"][lang];
        assert_eq!(
            [
                &c["answered"],
                &c["clarified"],
                &c["fell_back"],
                &c["escalated"]
            ]
            .map(Value::clone),
            [answered, clarified, fell_back, escalated].map(|n| json!(n)),
            "{lang}: {c}"
        );
    }
    assert_eq!(r["by_channel"]["api"]["replies"], total);
    assert_eq!(r["total"]["after_hours"], expected.after_hours);
    assert!(expected.after_hours > 0);
    let rules: BTreeMap<String, usize> = r["escalations_by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rule"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(rules, expected.rules);
    assert!(!rules.is_empty(), "the day had escalations");
    let topics: BTreeMap<String, (usize, usize)> = r["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_string(),
                (
                    t["helpful"].as_u64().unwrap() as usize,
                    t["unhelpful"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect();
    assert_eq!(topics, expected.helpful);
    let ratings = expected.ratings.len();
    let satisfied = expected.ratings.iter().filter(|r| **r >= 4).count();
    assert_eq!(r["total"]["ratings"], ratings);
    assert_eq!(r["total"]["satisfied"], satisfied);
    assert!(ratings > 0 && satisfied > 0 && satisfied < ratings);

    // Each language's unanswered paraphrases of the hiring question form one group, and
    // nothing else is in it.
    let groups = r["unanswered"].as_array().unwrap();
    for (lang, paraphrases) in &expected.hiring {
        assert!(paraphrases.len() >= 2, "{lang}: {paraphrases:?}");
        let holding: Vec<&Value> = groups
            .iter()
            .filter(|g| {
                g["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| paraphrases.contains(e.as_str().unwrap()))
            })
            .collect();
        assert_eq!(
            holding.len(),
            1,
            "{lang}: the paraphrases are split: {holding:?}"
        );
        let shown: BTreeSet<String> = holding[0]["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            &shown, paraphrases,
            "{lang}: only the paraphrases, all of them"
        );
        assert_eq!(holding[0]["lang"], lang.as_str());
        assert_eq!(holding[0]["count"], 3 * paraphrases.len());
    }
    assert!(
        expected.hiring.len() == 3,
        "every language has unanswered paraphrases: {:?}",
        expected.hiring
    );

    // The text and HTML forms carry the same figures.
    let (status, text) = report(&state, "since=1d&format=text").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(&format!("all        {total:>7}")), "{text}");
    let (status, html) = report(&state, "since=1d").await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<svg") && html.contains("id=\"chart-decisions\""));
    assert!(!html.contains("<script"));

    // Feedback on an unknown reply, or a bad one, is refused.
    let (status, body) = post(
        &state,
        "/v1/feedback",
        json!({"reply_id": "00ff", "helpful": true}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("unknown_reply"))
    );
    let (status, body) = post(
        &state,
        "/v1/feedback",
        json!({"reply_id": "00ff", "helpful": true, "rating": 9}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = report(&state, "since=forever").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_keep_text_no_customer_text_reaches_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let state = server(&db, false);
    let (expected, texts) = send_a_day(&state).await;
    state.flush_log(Duration::from_secs(5));
    drop(state);

    // Every text value of every table.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut values = Vec::new();
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..columns)
                    .filter_map(|i| r.get::<_, Option<String>>(i).ok().flatten())
                    .collect::<Vec<_>>())
            })
            .unwrap();
        for row in rows {
            values.extend(row.unwrap());
        }
    }
    let logged: i64 = conn
        .query_row("SELECT count(*) FROM reply_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        logged as usize,
        expected.by_lang.values().flatten().sum::<usize>()
    );
    let normalized: Vec<String> = texts.iter().map(|t| sahaya::text::normalize(t)).collect();
    for v in &values {
        for (text, norm) in texts.iter().zip(&normalized) {
            assert!(
                !v.contains(text.as_str()) && !sahaya::text::normalize(v).contains(norm.as_str()),
                "customer text {text:?} is in the database: {v:?}"
            );
        }
    }
    // The report still groups identical questions, without showing them.
    let state = server(&db, false);
    let (status, body) = report(&state, "since=1d&format=json").await;
    assert_eq!(status, StatusCode::OK);
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(r["texts_kept"], false);
    let groups = r["unanswered"].as_array().unwrap();
    assert!(!groups.is_empty());
    assert!(groups
        .iter()
        .all(|g| g["examples"].as_array().unwrap().is_empty()));
}
