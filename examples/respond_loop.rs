//! `respond` over a fixed set of messages, a fixed number of times: a harness for
//! instruction counts, which do not depend on machine noise.
//!
//! ```text
//! cargo build --release --example respond_loop
//! valgrind --tool=callgrind --toggle-collect='*hot_loop*' \
//!     target/release/examples/respond_loop .
//! ```
//! The count divided by 800 (8 messages × 100 rounds) is the cost of one `respond`.
use sahaya::{Engine, Message};

const MESSAGES: &[&str] = &[
    "where is my parcel",
    "Πού είναι το δέμα μου;",
    "నా పార్సెల్ ఎక్కడ ఉంది?",
    "how much does it cost to send 2 kg to Thessaloniki",
    "μπορω να αλλαξω τη διευθυνση παραδοσης",
    "డెలివరీ డేట్ మార్చగలనా",
    "naa parcel inka raaledu",
    "tell me a joke",
];

#[inline(never)]
fn hot_loop(engine: &Engine, msgs: &[Message], rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        for m in msgs {
            n += std::hint::black_box(engine.respond(m)).text.len();
        }
    }
    n
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let engine = Engine::load(dir).expect("the data directory loads");
    let msgs: Vec<Message> = MESSAGES.iter().map(|m| Message::new(*m)).collect();
    println!("{}", hot_loop(&engine, &msgs, 100));
}
