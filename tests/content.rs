//! The shipped knowledge base: every topic of the design's topic list, in every language and
//! register; a register lint over the answers (the Greek pronoun σε told from the preposition);
//! Telugu times said the 12-hour way.

mod common;

use common::*;
use sahaya::{Engine, Formality, Lang};

/// The topic ids the default content must answer (shared/TOPICS.md).
const TOPICS: &[&str] = &[
    "track_parcel",
    "find_tracking_number",
    "tracking_not_updated",
    "tracking_status_meaning",
    "delivery_notifications",
    "delivery_time_estimate",
    "parcel_delayed",
    "missed_delivery",
    "reschedule_delivery",
    "change_delivery_address",
    "pickup_point_collection",
    "safe_place_or_neighbour",
    "delivered_not_received",
    "weekend_holiday_delivery",
    "service_area_coverage",
    "signature_id_required",
    "schedule_pickup",
    "drop_off_points",
    "shipping_rates",
    "size_weight_limits",
    "packaging_guidelines",
    "prohibited_items",
    "service_options",
    "cancel_shipment",
    "return_to_sender",
    "international_destinations",
    "customs_documents",
    "customs_duties_taxes",
    "held_at_customs",
    "international_transit_times",
    "payment_methods",
    "currency_exchange",
    "cash_on_delivery",
    "payment_failed",
    "refund_status",
    "invoice_receipt",
    "damaged_parcel",
    "lost_parcel",
    "file_claim",
    "shipment_insurance",
    "make_complaint",
    "courier_conduct",
    "suspicious_message_scam",
    "business_account_open",
    "business_contract_details",
    "business_invoicing",
    "dedicated_account_manager",
    "bulk_shipping_integration",
    "contact_channels",
    "support_hours",
    "response_time",
    "languages_supported",
    "account_login_help",
    "update_contact_details",
    "loyalty_rewards",
    "give_feedback",
    "privacy_personal_data",
    "service_disruptions",
    "smalltalk_greeting",
    "smalltalk_thanks",
    "smalltalk_goodbye",
];

fn engine() -> Engine {
    Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap()
}

#[test]
fn every_topic_exists_in_every_language_and_register() {
    let e = engine();
    let kb = e.knowledge();
    let mut missing = Vec::new();
    for id in TOPICS {
        let Some(topic) = kb.get(id) else {
            missing.push(id.to_string());
            continue;
        };
        for lang in Lang::ALL {
            let t = topic.text(lang);
            assert!(
                !t.question.is_empty() && !t.answer.is_empty(),
                "{id}/{lang}"
            );
            assert!(
                t.alternates.len() >= 4,
                "{id}/{lang}: fewer than 4 alternates"
            );
            if lang.has_register() {
                assert!(
                    t.answer_informal.is_some(),
                    "{id}/{lang}: no informal answer"
                );
                assert_ne!(
                    t.answer(Formality::Formal),
                    t.answer(Formality::Informal),
                    "{id}/{lang}: registers are identical"
                );
            }
        }
    }
    assert!(missing.is_empty(), "missing topics: {missing:?}");
    let extra: Vec<_> = kb
        .topics()
        .iter()
        .filter(|t| !TOPICS.contains(&t.id.as_str()) && !t.has_tag(sahaya::OUT_OF_SCOPE))
        .map(|t| t.id.clone())
        .collect();
    assert!(extra.is_empty(), "unexpected extra topics: {extra:?}");
}

#[test]
fn greek_questions_use_the_greek_question_mark() {
    let e = engine();
    for topic in e.knowledge().topics() {
        let q = &topic.text(Lang::El).question;
        assert!(
            !q.contains('?'),
            "{}: Greek question with `?`: {q}",
            topic.id
        );
    }
}

#[test]
fn answers_keep_their_register() {
    let e = engine();
    let mut problems = Vec::new();
    for topic in e.knowledge().topics() {
        for (lang, code) in [(Lang::El, "el"), (Lang::Te, "te")] {
            let t = topic.text(lang);
            for formality in [Formality::Formal, Formality::Informal] {
                let formal = formality == Formality::Formal;
                let p = register_problems(code, formal, t.answer(formality));
                if !p.is_empty() {
                    problems.push(format!(
                        "{} {code} {} uses {p:?}",
                        topic.id,
                        formality.as_str()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "register problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_lint_catches_what_it_should() {
    assert_eq!(
        forbidden_words("Στείλε μας το δέμα σου.", GREEK_INFORMAL_FORMS),
        ["στειλε", "σου"]
    );
    assert_eq!(
        forbidden_words("Μπορείτε να μας στείλετε", GREEK_FORMAL_FORMS),
        ["μπορειτε"]
    );
    assert_eq!(
        forbidden_words("Σας ευχαριστούμε", GREEK_FORMAL_FORMS).len(),
        1
    );
    assert_eq!(
        forbidden_words("నీ పార్సెల్ వచ్చింది", TELUGU_INTIMATE_FORMS),
        ["నీ"]
    );
    // కానీ ("but") contains నీ but is another word.
    assert!(forbidden_words("కానీ మీ పార్సెల్", TELUGU_INTIMATE_FORMS).is_empty());
}

/// Only the pronoun σε ("you", before a verb), σου, εσύ and (ε)σένα mark the informal
/// register; the preposition σε is ordinary formal Greek.
#[test]
fn the_lint_tells_the_preposition_from_the_pronoun() {
    let informal_in_formal = |t: &str| register_problems("el", true, t);
    // The pronoun, and every other informal form, in a formal text.
    for text in [
        "Θα σε ενημερώσουμε αύριο με SMS.",
        "Σε ενημερώνουμε μόλις φτάσει.",
        "Αν δεν σε βρει ο διανομέας, θα αφήσει ειδοποίηση.",
        "Το δέμα σε περιμένει στο κατάστημα.",
        "Μπορούμε να σε βοηθήσουμε με κάτι άλλο;",
        "Σε ευχαριστούμε για το μήνυμα.",
        "Σε παρακαλώ, στείλτε μας τον αριθμό.",
        "Μην σε απασχολεί το κόστος.",
        "Ο κωδικός σε ενημέρωσε ήδη;",
        "Το δέμα σου έφτασε.",
        "Εσύ επιλέγεις την ημέρα.",
        "Για σένα κρατάμε το δέμα 7 ημέρες.",
        "Στείλε μας τον αριθμό αποστολής.",
        "Αν θες, κλείσε παραλαβή για αύριο.",
    ] {
        assert!(!informal_in_formal(text).is_empty(), "not caught: {text}");
    }
    // The preposition, in every construction the answers use.
    for text in [
        "Θα φτάσει σε 2 ημέρες σε ένα κατάστημα.",
        "Παραδίδουμε σε όλη την Ελλάδα, και στα νησιά.",
        "Σε κάθε email απαντάμε μέσα σε μία εργάσιμη ημέρα.",
        "Για οποιαδήποτε άλλη απορία, απαντήστε απλώς σε αυτό το email.",
        "Στέλνουμε σε περίπου 60 χώρες, στο Ηνωμένο Βασίλειο και στη Σιγκαπούρη.",
        "Σε περιπτώσεις καθυστέρησης, επικοινωνήστε μαζί μας.",
        "Η αλλαγή διεύθυνσης σε άλλη πόλη κοστίζει 2,00 €.",
        "Προωθώ τη συνομιλία σας σε έναν συνάδελφο.",
        "Το δέμα παραμένει σε κατάστημα ή σε θυρίδα Nova Locker.",
        "Μπορείτε να πληρώσετε σε ευρώ ή σε ρουπίες.",
    ] {
        assert_eq!(informal_in_formal(text), Vec::<String>::new(), "{text}");
    }
}

/// Telugu says a time the 12-hour way, after the part of the day ("ఉదయం 9 నుంచి సాయంత్రం 6
/// వరకు", "రాత్రి 8 గంటల లోపు", "ఉదయం 9:00 గంటలకు"): no 24-hour time ("20:00",
/// "09:00–18:00") in any Telugu question, answer, locale message or rendered golden reply.
#[test]
fn telugu_has_no_24_hour_times() {
    let root = env!("CARGO_MANIFEST_DIR");
    let e = engine();
    let mut texts: Vec<(String, String)> = Vec::new();
    for topic in e.knowledge().topics() {
        let t = topic.text(Lang::Te);
        texts.push((format!("{} question", topic.id), t.question.clone()));
        for f in [Formality::Formal, Formality::Informal] {
            let label = format!("{} {}", topic.id, f.as_str());
            texts.push((label, t.answer(f).to_string()));
        }
    }
    let locale = std::fs::read_to_string(format!("{root}/locales/te/main.ftl")).unwrap();
    for (i, line) in locale.lines().enumerate() {
        if !line.trim_start().starts_with('#') {
            texts.push((format!("locales/te/main.ftl:{}", i + 1), line.to_string()));
        }
    }
    for channel in ["chat", "email", "sms"] {
        let path = format!("tests/golden/te-{channel}.txt");
        let golden = std::fs::read_to_string(format!("{root}/{path}")).unwrap();
        for (i, line) in golden.lines().enumerate() {
            // Only the bot's words: not the header, the customer's message or the labels.
            if !["#", ">", "[", "==="].iter().any(|p| line.starts_with(p)) {
                texts.push((format!("{path}:{}", i + 1), line.to_string()));
            }
        }
    }
    let problems: Vec<String> = texts
        .iter()
        .filter_map(|(label, text)| {
            let found = twenty_four_hour_times(text);
            (!found.is_empty()).then(|| format!("{label}: {found:?}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The clock times of `text` that are not said the Telugu 12-hour way: an hour of 13 or more,
/// a zero-padded hour, a range of two clock times, or a time without its part of the day
/// (ఉదయం, మధ్యాహ్నం, సాయంత్రం, రాత్రి) just before it.
fn twenty_four_hour_times(text: &str) -> Vec<String> {
    const DAY_PARTS: &[&str] = &["ఉదయం", "మధ్యాహ్నం", "సాయంత్రం", "రాత్రి", "తెల్లవారుజామున"];
    let time = regex::Regex::new(r"(\d{1,2}):\d{2}(\s*[–-]\s*\d{1,2}:\d{2})?").unwrap();
    time.captures_iter(text)
        .filter(|c| {
            let hour = &c[1];
            let said_after_day_part = DAY_PARTS
                .iter()
                .any(|p| text[..c.get(0).unwrap().start()].trim_end().ends_with(p));
            hour.parse::<u32>().unwrap() >= 13
                || hour.starts_with('0')
                || c.get(2).is_some()
                || !said_after_day_part
        })
        .map(|c| c[0].to_string())
        .collect()
}

#[test]
fn the_time_check_catches_what_it_should() {
    for bad in [
        "రాత్రి 20:00 లోపు",
        "సోమ–శుక్ర 09:00–18:00",
        "ఉదయం 09:00 గంటలకు",
        "12:00 లోపు బుక్ చేస్తే",
        "శనివారం 9:00-2:00",
    ] {
        assert!(!twenty_four_hour_times(bad).is_empty(), "not caught: {bad}");
    }
    for good in [
        "ఉదయం 9 నుంచి సాయంత్రం 6 వరకు",
        "రేపు ఉదయం 9:00 గంటలకు",
        "మధ్యాహ్నం 12:30 లోపు",
        "రాత్రి 8 గంటల లోపు",
        "24/7, 1800 555 0199",
    ] {
        assert!(twenty_four_hour_times(good).is_empty(), "{good}");
    }
}
