//! `respond` latency in-process on a data directory, for `bench/scale.sh`.
//!
//! ```text
//! cargo build --release --example scale_respond
//! target/release/examples/scale_respond DATA_DIR MESSAGES_FILE [ROUNDS]
//! ```
//! Loads the data directory, answers every message of the file (one per line) once to warm
//! up, then `ROUNDS` times (default 5) timing each `respond`, and prints one JSON line: the
//! load time and the p50/p99 of `respond` in milliseconds.
use sahaya::{Engine, Message};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: scale_respond DATA_DIR MESSAGES_FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(2);
    });
    let msgs: Vec<Message> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(Message::new)
        .collect();
    let t0 = Instant::now();
    let engine = match Engine::load(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(1);
        }
    };
    let load_s = t0.elapsed().as_secs_f64();
    for m in &msgs {
        std::hint::black_box(engine.respond(m));
    }
    let mut took = Vec::with_capacity(msgs.len() * rounds);
    for _ in 0..rounds {
        for m in &msgs {
            let t = Instant::now();
            std::hint::black_box(engine.respond(m));
            took.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    took.sort_by(f64::total_cmp);
    let at = |p: f64| took[((took.len() - 1) as f64 * p).round() as usize];
    println!(
        "{{\"load_s\": {load_s:.3}, \"p50_ms\": {:.4}, \"p99_ms\": {:.4}, \"n\": {}}}",
        at(0.5),
        at(0.99),
        took.len()
    );
}
