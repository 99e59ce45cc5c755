//! One conversation hammered from many threads: messages that ask for a person, ordinary
//! questions and hand-backs interleave, and the conversation's memory never loses one.

use sahaya::{Decision, Engine, Message};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const SESSION: &str = "busy-conversation";

#[test]
fn concurrent_messages_of_one_conversation_never_lose_an_escalation_or_a_hand_back() {
    let engine = Arc::new(Engine::load(env!("CARGO_MANIFEST_DIR")).expect("shipped content loads"));
    let threads = 6;
    let per_thread = 60;
    let handoffs = Arc::new(AtomicU32::new(0));
    let hand_backs = Arc::new(AtomicU32::new(0));

    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let engine = Arc::clone(&engine);
            let handoffs = Arc::clone(&handoffs);
            let hand_backs = Arc::clone(&hand_backs);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let text = match (t + i) % 3 {
                        0 => "Please put me through to a real person",
                        1 => "how long does delivery to Patras take",
                        _ => "hello?",
                    };
                    let reply = engine.respond(&Message::new(text).lang("en").session(SESSION));
                    // A fresh handoff names its rule in the trace; a conversation already
                    // with a person gets a "please wait" instead.
                    let fresh = reply.decision == Decision::Escalate
                        && !reply
                            .trace
                            .iter()
                            .any(|l| l.starts_with("session is with a person"));
                    if fresh {
                        handoffs.fetch_add(1, Ordering::SeqCst);
                    }
                    if i % 4 == t % 4 && engine.hand_back(SESSION).unwrap() {
                        hand_backs.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("no thread panics");
    }

    let session = engine.sessions().get(SESSION).unwrap();
    let handoffs = handoffs.load(Ordering::SeqCst);
    let hand_backs = hand_backs.load(Ordering::SeqCst);
    assert!(
        handoffs > 1 && hand_backs > 0,
        "{handoffs} handoffs, {hand_backs} hand-backs"
    );
    assert_eq!(
        session.turns,
        (threads * per_thread) as u32,
        "a message was not counted"
    );
    assert_eq!(session.escalations, handoffs, "an escalation was lost");
    // Every hand-back ended one handoff; the conversation is with a person exactly when one
    // handoff is still open.
    let open = u32::from(session.escalated.is_some());
    assert_eq!(
        handoffs,
        hand_backs + open,
        "a hand-back was lost or undone ({session:?})"
    );
}
