//! Chatwoot agent bot: `POST /v1/webhooks/chatwoot` takes the `message_created` events
//! Chatwoot sends to an agent bot's outgoing URL, answers through Chatwoot's API and hands
//! the conversation to people by opening it.
//!
//! Chatwoot's rules, which this follows:
//! - A conversation in an inbox with an active agent bot starts `pending`: the bot has it.
//!   When the bot opens it (`toggle_status` to `open`), it goes to the agents' queue. So
//!   Sahaya answers only in `pending` conversations, and a conversation an agent puts back
//!   to `pending` is the bot's again (its session is handed back).
//! - The bot receives every message of its inbox, its own replies and agents' private
//!   notes included; only public `incoming` messages (`message_type` `incoming` or `0`) are
//!   answered.
//! - With a secret on the agent bot, each delivery carries `X-Chatwoot-Timestamp` (Unix
//!   seconds) and `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{raw
//!   body}")>`. Sahaya refuses a delivery without a valid signature (401), and refuses
//!   every delivery when no secret is configured, unless `allow_unsigned = true` says that
//!   only Chatwoot can reach the server. Failed signatures count towards the fixed limit
//!   on failed authentications of the client (429 beyond it).
//! - Chatwoot retries a delivery answered with 429 or 500 (three attempts, seconds apart);
//!   after any other failure it opens the pending conversation so that a person sees it.
//!   Sahaya answers 502 when it cannot reach Chatwoot's API, so the customer is not left
//!   waiting for a bot that cannot speak; a 500 (its own fault, such as the state database)
//!   gets retried.
//!
//! Each delivery is recorded as `chatwoot:<account>:<message id>` in the state database
//! before it is handled and forgotten again if handling fails, so a repeated delivery is
//! answered once and a failed one can be retried.
//!
//! The conversation's session is `chatwoot:<account>:<conversation>`, in Chatwoot's own
//! key space ([`CHATWOOT_SCOPE`]): `/v1/respond` callers cannot reach it.

use super::chatwoot_api::Target;
use super::error::{code, ApiError};
use super::limit::Guard;
use super::signature;
use super::state::AppState;
use super::webhook::{escalation_payload, unix_now};
use crate::{Customer, Decision, Message, Reply};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::net::IpAddr;

/// The key space of Chatwoot conversations: `chatwoot:<account>:<conversation>`.
pub const CHATWOOT_SCOPE: &str = "chatwoot";

/// The header with the delivery's signature.
pub const SIGNATURE_HEADER: &str = "x-chatwoot-signature";
/// The header with the time the delivery was signed.
pub const TIMESTAMP_HEADER: &str = "x-chatwoot-timestamp";

/// Longest customer name passed on to the greeting.
const MAX_NAME_CHARS: usize = 100;

/// What a delivery asks of the bot.
#[derive(Debug, PartialEq)]
enum Event {
    /// Nothing to do; the reason is reported back.
    Ignore(&'static str),
    /// A customer wrote in a conversation the bot has.
    Incoming {
        target: Target,
        message_id: String,
        text: String,
        name: Option<String>,
    },
}

/// A numeric id as Chatwoot sends it (a number, or a string of digits in some versions);
/// only digits go into a URL path.
fn id_of(v: &Value) -> Option<String> {
    let s = match v {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code::INVALID_FIELD,
        message,
    )
}

/// Reads a delivery. Fields that decide whether to answer are read leniently (other events,
/// other message types are ignored); the ids an answer needs must be there.
fn parse(body: &Value) -> Result<Event, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(invalid("the body must be a JSON object"));
    };
    if obj.get("event").and_then(Value::as_str) != Some("message_created") {
        return Ok(Event::Ignore("event"));
    }
    // Chatwoot names the type (`incoming`); some versions send the enum's number (0).
    let incoming = match obj.get("message_type") {
        Some(Value::String(s)) => s == "incoming",
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    };
    if !incoming {
        return Ok(Event::Ignore("not_incoming"));
    }
    if obj.get("private").and_then(Value::as_bool) == Some(true) {
        return Ok(Event::Ignore("private"));
    }
    let conversation = obj.get("conversation").unwrap_or(&Value::Null);
    let pending = match conversation.get("status") {
        Some(Value::String(s)) => s == "pending",
        // Conversation::statuses: open 0, resolved 1, pending 2, snoozed 3.
        Some(Value::Number(n)) => n.as_u64() == Some(2),
        _ => false,
    };
    if !pending {
        return Ok(Event::Ignore("not_pending"));
    }
    let text = obj
        .get("content")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if text.is_empty() {
        // Attachments alone, or an empty form: nothing the engine can read.
        return Ok(Event::Ignore("no_content"));
    }
    let message_id = obj
        .get("id")
        .and_then(id_of)
        .ok_or_else(|| invalid("id: a message_created event needs the message id"))?;
    let conversation_id = conversation
        .get("id")
        .and_then(id_of)
        .ok_or_else(|| invalid("conversation.id: missing or not a number"))?;
    let account = obj
        .get("account")
        .and_then(|a| a.get("id"))
        .or_else(|| conversation.get("account_id"))
        .and_then(id_of)
        .ok_or_else(|| invalid("account.id: missing or not a number"))?;
    let name = obj
        .get("sender")
        .and_then(|s| s.get("name"))
        .or_else(|| conversation.pointer("/meta/sender/name"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_NAME_CHARS).collect());
    Ok(Event::Incoming {
        target: Target::new(account, conversation_id),
        message_id,
        text: text.to_string(),
        name,
    })
}

fn ok(status: &str, extra: Value) -> axum::Json<Value> {
    let mut body = json!({ "status": status });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    axum::Json(body)
}

/// The handler of `POST /v1/webhooks/chatwoot`, after the body was read.
pub(super) async fn handle(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<axum::Json<Value>, ApiError> {
    let Some(client) = state.chatwoot() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::CHATWOOT_DISABLED,
            "the Chatwoot agent bot is disabled: add a [chatwoot] table to the settings",
        ));
    };
    state.check_auth_failures(Guard::Webhook, peer)?;
    let config = client.config();
    let refusal = match &config.secret {
        Some(secret) => {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            signature::verify(
                secret,
                header(TIMESTAMP_HEADER),
                header(SIGNATURE_HEADER),
                body,
                unix_now(),
            )
            .err()
            .map(|why| why.to_string())
        }
        None if config.allow_unsigned => None,
        None => Some(
            "no secret is configured for the Chatwoot agent bot, and unsigned deliveries are \
             refused: set chatwoot.secret (or allow_unsigned = true on a trusted network)"
                .to_string(),
        ),
    };
    if let Some(why) = refusal {
        tracing::warn!(reason = %why, "Chatwoot delivery refused");
        state.auth_failed(Guard::Webhook, peer);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::BAD_SIGNATURE,
            why,
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::MALFORMED_JSON,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let (target, message_id, text, name) = match parse(&value)? {
        Event::Ignore(reason) => return Ok(ok("ignored", json!({ "reason": reason }))),
        Event::Incoming {
            target,
            message_id,
            text,
            name,
        } => (target, message_id, text, name),
    };
    let Some(store) = state.store().cloned() else {
        // `with_integrations` always sets a store with Chatwoot.
        tracing::error!("Chatwoot is enabled without a state database");
        return Err(ApiError::internal());
    };

    let key = format!("chatwoot:{}:{message_id}", target.account());
    let first = {
        let (store, key) = (store.clone(), key.clone());
        blocking(move || store.first_delivery(&key, unix_now())).await?
    };
    if !first {
        tracing::debug!(%key, "repeated Chatwoot delivery");
        return Ok(ok("duplicate", json!({})));
    }

    // Account and conversation ids are digits only (see `id_of`): the key is always valid.
    let session_id = crate::session::scoped_key(
        CHATWOOT_SCOPE,
        &format!("{}:{}", target.account(), target.conversation()),
    )
    .map_err(|e| invalid(format!("conversation.id: {e}")))?;
    let msg = Message {
        text,
        channel: Some("chat".into()),
        session_id: Some(session_id.clone()),
        customer: name.map(|name| Customer {
            name: Some(name),
            ..Customer::default()
        }),
        ..Message::default()
    };
    let (msg, reply) = {
        let state = state.clone();
        blocking(move || {
            let snapshot = state.snapshot();
            let engine = &snapshot.engine;
            // Chatwoot's status is the truth: a pending conversation is the bot's, even when
            // the session still remembers an earlier handoff (an agent gave it back).
            if let Some(key) = msg.session_id.as_deref() {
                if engine.sessions().get(key)?.escalated.is_some() {
                    engine.hand_back(key)?;
                }
            }
            // Whatever Chatwoot sends is answered (a huge text is cut, as `respond` does);
            // only a state database that cannot be reached fails the delivery.
            let mut reply = engine.try_respond_to(&msg.lenient().0)?;
            if let Some(log) = state.log() {
                log.record(
                    &mut reply,
                    &msg.text,
                    "chatwoot",
                    super::webhook::unix_now(),
                );
            }
            state.metrics().observe_reply(&reply);
            Ok((msg, reply))
        })
        .await?
    };

    let escalate = reply.decision == Decision::Escalate;
    let sent = {
        let client = state.clone();
        let (target, text) = (target.clone(), reply.text.clone());
        blocking(move || {
            let Some(client) = client.chatwoot() else {
                return Ok(Err("Chatwoot was disabled".to_string()));
            };
            // Opening first: it can be repeated safely, and the message, sent last, is
            // never posted twice by a retry.
            if escalate {
                if let Err(e) = client.open(&target) {
                    return Ok(Err(e));
                }
            }
            Ok(client.send_message(&target, &text))
        })
        .await
    };
    let failure = match sent {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::error!(%error, session_id, "calling Chatwoot failed");
            Some(ApiError::new(
                StatusCode::BAD_GATEWAY,
                code::CHATWOOT_FAILED,
                "calling Chatwoot's API failed; the details are in the server log",
            ))
        }
        Err(internal) => Some(internal),
    };
    if let Some(err) = failure {
        // Not handled after all: a redelivery must be handled, not taken for a repeat.
        let forget = {
            let (store, key) = (store.clone(), key.clone());
            blocking(move || store.forget_delivery(&key)).await
        };
        if forget.is_err() {
            tracing::error!(%key, "could not forget the failed delivery; a redelivery will be taken for a repeat");
        }
        return Err(err);
    }
    let answer = json!({
        "decision": reply.decision,
        "session_id": session_id,
        "escalation": reply.escalation,
    });
    tracing::debug!(
        session_id,
        decision = reply.decision.as_str(),
        "answered in Chatwoot"
    );
    if escalate {
        // The outbox is in the state database: a blocking write.
        let state = state.clone();
        blocking(move || {
            queue_escalation(&state, "chatwoot", &msg, &reply);
            Ok(())
        })
        .await?;
    }
    Ok(ok(if escalate { "handed_off" } else { "answered" }, answer))
}

/// Queues an escalation for the outgoing webhook, when one is configured. A failure is
/// logged: the customer's reply has gone out and matters more. Blocking (it writes to the
/// state database): call it on a blocking thread, as `/v1/respond` and [`handle`] do.
pub(super) fn queue_escalation(state: &AppState, source: &str, msg: &Message, reply: &Reply) {
    let Some(outbox) = state.outbox() else {
        return;
    };
    let Some(payload) = escalation_payload(source, msg, reply) else {
        return;
    };
    let conversation = reply
        .session_id
        .as_deref()
        .or(msg.session_id.as_deref())
        .map_or(String::new(), |id| format!("{source}:{id}"));
    match outbox.enqueue(&conversation, &payload, unix_now()) {
        Ok(crate::store::Enqueued::Queued(_)) => {}
        Ok(refused) => {
            tracing::warn!(reason = ?refused, source, "escalation webhook not queued");
        }
        Err(e) => tracing::error!(error = %e, "could not queue the escalation webhook"),
    }
}

/// Runs blocking work (SQLite, HTTP) off the async threads; a panic in it is a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::error::Error> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from_engine(&e)),
        Err(e) => {
            tracing::error!(error = %e, "blocking task failed");
            Err(ApiError::internal())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(v: Value) -> Event {
        parse(&v).unwrap()
    }

    fn incoming() -> Value {
        json!({
            "event": "message_created",
            "id": 41,
            "content": "Where is my parcel?",
            "message_type": "incoming",
            "private": false,
            "content_attributes": {},
            "sender": {"id": 7, "name": "Ravi", "type": "contact"},
            "conversation": {"id": 12, "status": "pending"},
            "account": {"id": 3}
        })
    }

    #[test]
    fn reads_an_incoming_message() {
        assert_eq!(
            event(incoming()),
            Event::Incoming {
                target: Target::new("3".into(), "12".into()),
                message_id: "41".into(),
                text: "Where is my parcel?".into(),
                name: Some("Ravi".into()),
            }
        );
        // Numbers as enum values and ids as strings, as some versions send them.
        let mut v = incoming();
        v["message_type"] = json!(0);
        v["conversation"]["status"] = json!(2);
        v["id"] = json!("41");
        assert!(matches!(event(v), Event::Incoming { .. }));
    }

    #[test]
    fn ignores_what_is_not_for_the_bot() {
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = incoming();
            f(&mut v);
            event(v)
        };
        assert_eq!(
            with(&|v| v["event"] = json!("conversation_opened")),
            Event::Ignore("event")
        );
        assert_eq!(
            with(&|v| v["message_type"] = json!("outgoing")),
            Event::Ignore("not_incoming")
        );
        assert_eq!(
            with(&|v| v["message_type"] = json!(1)),
            Event::Ignore("not_incoming")
        );
        assert_eq!(
            with(&|v| v["message_type"] = json!("template")),
            Event::Ignore("not_incoming")
        );
        assert_eq!(
            with(&|v| v["message_type"] = json!(3)),
            Event::Ignore("not_incoming")
        );
        assert_eq!(
            with(&|v| v["private"] = json!(true)),
            Event::Ignore("private")
        );
        assert_eq!(
            with(&|v| v["conversation"]["status"] = json!("open")),
            Event::Ignore("not_pending")
        );
        assert_eq!(
            with(&|v| v["content"] = Value::Null),
            Event::Ignore("no_content")
        );
    }

    #[test]
    fn ids_must_be_numbers() {
        let mut v = incoming();
        v["conversation"]["id"] = json!("12/../../admin");
        assert_eq!(parse(&v).unwrap_err().code(), "invalid_field");
        let mut v = incoming();
        v["account"] = Value::Null;
        v["conversation"]["account_id"] = json!(3);
        assert!(matches!(event(v), Event::Incoming { .. }));
        let mut v = incoming();
        v.as_object_mut().unwrap().remove("id");
        assert_eq!(parse(&v).unwrap_err().code(), "invalid_field");
        assert_eq!(parse(&json!([1])).unwrap_err().code(), "invalid_field");
    }
}
