//! # Sahaya
//!
//! A rule-based FAQ chatbot and auto-responder engine for multilingual help desks
//! (Telugu, Greek and English to start). A customer message goes through one pipeline:
//!
//! ```text
//! Message ─▶ normalize ─▶ detect language ─▶ retrieve ─▶ decide ─▶ render ─▶ Reply
//!            (text)        (detect)           (retrieve)  (rules,    (render,
//!                                                          hours,     locale)
//!                                                          session)
//! ```
//!
//! ## Quick start
//!
//! ```
//! use sahaya::{Decision, Engine, Formality, Message};
//!
//! // A data directory holds knowledge/, locales/ and rules/ (the repository root ships one).
//! let engine = Engine::load(env!("CARGO_MANIFEST_DIR"))?;
//!
//! let reply = engine.respond(&Message::new("Πού είναι το δέμα μου;"));
//! assert_eq!(reply.decision, Decision::Answer);
//! assert_eq!(reply.answer_id.as_deref(), Some("track_parcel"));
//! assert_eq!(reply.lang.code(), "el");
//!
//! // The register follows the request; Greek informal uses εσύ/σου.
//! let informal = engine.respond(
//!     &Message::new("πού είναι το δέμα μου").formality(Formality::Informal),
//! );
//! assert!(informal.text.contains("σου"));
//!
//! // The reply serializes to the JSON of the HTTP API.
//! let json = serde_json::to_string(&reply).unwrap();
//! assert!(json.contains(r#""decision":"answer""#));
//! # Ok::<(), sahaya::Error>(())
//! ```
//!
//! ## Rules, sessions and business hours
//!
//! ```
//! use sahaya::{Decision, Engine, Message};
//!
//! let engine = Engine::load(env!("CARGO_MANIFEST_DIR"))?;
//! let msg = Message {
//!     text: "I want to talk to a human, please".into(),
//!     session_id: Some("conversation-1".into()),
//!     at: Some("2026-11-28T15:00:00+02:00".into()), // Saturday afternoon: closed
//!     ..Message::default()
//! };
//! let reply = engine.respond(&msg);
//! assert_eq!(reply.decision, Decision::Escalate);
//! assert_eq!(reply.escalation.as_ref().unwrap().rule, "human_request");
//! assert!(reply.after_hours); // the text says when a person is back: Monday 09:00
//! assert!(reply.trace.iter().any(|t| t.starts_with("rule human_request")));
//!
//! // The bot stays quiet in that conversation until a person hands it back.
//! let next = engine.respond(&Message { text: "hello?".into(), ..msg.clone() });
//! assert_eq!(next.decision, Decision::Escalate);
//! assert!(engine.hand_back("conversation-1")?);
//! # Ok::<(), sahaya::Error>(())
//! ```
//!
//! [`Engine::respond`] never fails; [`Engine::try_respond`] rejects bad requests (empty or
//! huge text, unknown language) with an [`Error`] instead. [`check`] validates content and
//! returns every problem as a [`Diagnostic`] with file, line and column.

#![warn(missing_docs)]

// The pipeline, bottom up: shared vocabulary, then each stage (see ARCHITECTURE.md).
pub mod calibrate;
#[cfg(feature = "mail")]
pub mod channel;
mod config;
mod decide;
mod detect;
mod engine;
mod error;
pub mod hours;
pub mod knowledge;
mod lang;
mod locale;
mod model;
mod render;
#[cfg(feature = "state")]
pub mod report;
mod retrieve;
pub mod rules;
#[cfg(feature = "server")]
pub mod server;
pub mod session;
#[cfg(feature = "state")]
pub mod store;
pub mod suite;
mod sync;
pub mod text;

pub use config::{CalibrationConfig, Config, Thresholds};
pub use engine::{check, Engine};
pub use error::{Diagnostic, Error, ErrorKind, RequestError, Severity};
pub use knowledge::{COMPLAINT_TAG, OUT_OF_SCOPE, SMALLTALK_TAG};
pub use model::{
    Channel, Customer, Decision, Escalation, Formality, FormalityReason, Lang, Message, Priority,
    Reply, Request, Suggestion, MAX_TEXT_BYTES,
};
pub use retrieve::IndexStatus;
pub use text::Script;

/// Hooks for the `respond` benchmark: the retrieval stage's bare tantivy query, which the
/// benchmark sets `respond` against. Not part of the API.
#[doc(hidden)]
pub mod __bench {
    use crate::Engine;

    /// Normalizes `text`, detects its language and runs the bare tantivy query of the
    /// detected field; returns the number of hits.
    pub fn bare_query(engine: &Engine, text: &str) -> usize {
        let normalized = crate::text::normalize(text);
        let analyzer = crate::detect::detect(&normalized).candidates()[0].1;
        let query = engine.retriever().prepare(analyzer, &normalized);
        engine
            .retriever()
            .bare_search(analyzer, &query.search_terms)
            .map_or(0, |hits| hits.len())
    }
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
