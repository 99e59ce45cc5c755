//! Ranking of messages as customers write them: Telugu with English loanwords in Latin
//! letters or without ZWNJ, romanized Telugu and Greeklish in unusual spellings, all-caps
//! Greek, typos and synonyms the knowledge does not use. The messages were written for this
//! test, apart from the knowledge files; each must rank its topic first (answered, or the
//! first suggestion). Off-topic messages with similar surface features must not be answered.

use sahaya::{Decision, Engine, Message};

fn engine() -> Engine {
    Engine::load(env!("CARGO_MANIFEST_DIR")).expect("shipped content loads")
}

fn first_topic(engine: &Engine, text: &str) -> (Decision, Option<String>) {
    let reply = engine.respond(&Message::new(text));
    let top = reply
        .answer_id
        .clone()
        .or_else(|| reply.suggestions.first().map(|s| s.id.clone()));
    (reply.decision, top)
}

fn assert_ranked_first(cases: &[(&str, &str)]) {
    let engine = engine();
    let mut misses = Vec::new();
    for (topic, text) in cases {
        let (decision, top) = first_topic(&engine, text);
        if top.as_deref() != Some(*topic) {
            misses.push(format!(
                "{text:?}: want {topic}, got {top:?} ({decision:?})"
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn code_mixed_and_unjoined_telugu() {
    assert_ranked_first(&[
        ("track_parcel", "నేను పంపిన parcel ఏ ఊరి దాకా వచ్చిందో ఎలా చూడాలి"),
        ("refund_status", "cancel చేసిన order కి refund ఇప్పటికీ జమ కాలేదు"),
        (
            "held_at_customs",
            "కస్టమ్స్లో నా సరుకు నిలిచిపోయింది, విడిపించడానికి ఏం చెయ్యాలి",
        ),
        (
            "change_delivery_address",
            "కొత్త ఇంటికి మారాను, parcel address మార్చగలరా",
        ),
    ]);
}

#[test]
fn romanized_spelling_variants() {
    assert_ranked_first(&[
        ("cancel_shipment", "naa order cancel cheyyalanukuntunnanu"),
        ("refund_status", "naa refund ippatiki raaledhu enduku"),
        (
            "change_delivery_address",
            "8elw na allaksw th dieythinsh paradoshs",
        ),
        (
            "cancel_shipment",
            "mporeis na akyroseis tin paraggelia mou?",
        ),
        ("held_at_customs", "ΑΚΟΜΑ ΣΤΑ ΧΕΡΙΑ ΤΟΥ ΤΕΛΩΝΕΙΟΥ ΤΟ ΠΑΚΕΤΟ"),
    ]);
}

#[test]
fn typos_and_synonyms() {
    assert_ranked_first(&[
        ("refund_status", "when does my refnud arrive"),
        ("damaged_parcel", "the pakage arived all crushed"),
        (
            "lost_parcel",
            "that consignment seems to have totally vanished",
        ),
        (
            "shipping_rates",
            "what fee is charged to post one small box",
        ),
    ]);
}

#[test]
fn off_topic_messages_with_typos_and_loanwords_are_not_answered() {
    let engine = engine();
    for text in [
        "whats the wether in hyderabad tomorow",
        "IPL లో ఈ సీజన్ top scorer ఎవరు",
        "recomend a good biryani recipie",
        "pws ftiaxnw moussaka xwris melitzanes",
    ] {
        let (decision, top) = first_topic(&engine, text);
        assert_ne!(decision, Decision::Answer, "{text:?} answered with {top:?}");
    }
}
