//! Sahaya embedded in another program, without the server, CLI or database:
//! `sahaya = { version = "0.1", default-features = false }`.
//!
//! Run: `cargo run --example embed --no-default-features -- "Πού είναι το δέμα μου;"`

use sahaya::{Customer, Decision, Engine, Message};

fn main() -> Result<(), sahaya::Error> {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Where is my parcel?".into());
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR"))?;

    // Validate once, at the edge: a bad language, time or session id is the caller's error.
    let msg = Message::new(text)
        .channel("chat")
        .session("ticket-4711")
        .customer(Customer::named("Maria").region("GR"));
    let request = msg.validate()?;
    let reply = engine.respond_to(&request);

    println!("{}", reply.text);
    println!(
        "[{} · {} · {} · confidence {:.2}]",
        reply.decision,
        reply.lang,
        reply.formality.as_str(),
        reply.confidence
    );
    if reply.decision == Decision::Escalate {
        if let Some(e) = &reply.escalation {
            println!(
                "handed to queue {} ({}) by rule {}",
                e.queue, e.priority, e.rule
            );
        }
        // Once a person is done, the host hands the conversation back to the bot.
        engine.hand_back("ticket-4711")?;
    }
    Ok(())
}
