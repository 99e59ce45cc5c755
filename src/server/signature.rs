//! HMAC-SHA256 signatures of webhook bodies, in the form Chatwoot uses and Sahaya's own
//! escalation webhook copies: `sha256=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>`,
//! the timestamp (Unix seconds) in a header of its own.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from our clock, in seconds, before the delivery is
/// taken for a replay.
pub const MAX_SKEW_SECS: i64 = 300;

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` sent at `timestamp`: `sha256=<64 hex digits>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("sha256={}", hex::encode(digest))
}

/// Why a signed delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No signature or no timestamp header.
    Missing,
    /// The timestamp is not a number of seconds, or too far from now.
    Stale,
    /// The signature does not match the body.
    Mismatch,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Missing => "the delivery is not signed (no signature or timestamp header)",
            Refusal::Stale => "the signature's timestamp is missing or more than 5 minutes off",
            Refusal::Mismatch => "the signature does not match the body",
        })
    }
}

/// Checks `signature` (`sha256=<hex>`; the prefix is optional) over `timestamp` and `body`,
/// in constant time, and that `timestamp` is within [`MAX_SKEW_SECS`] of `now`.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refusal::Missing);
    };
    let timestamp = timestamp.trim();
    let at: i64 = timestamp.parse().map_err(|_| Refusal::Stale)?;
    if now.abs_diff(at) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(Refusal::Stale);
    }
    let given = signature.trim();
    let given = given.strip_prefix("sha256=").unwrap_or(given);
    // A SHA-256 HMAC is 32 bytes; any other length is refused by the decoding.
    let mut tag = [0u8; 32];
    hex::decode_to_slice(given, &mut tag).map_err(|_| Refusal::Mismatch)?;
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| Refusal::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac() {
        // Python: hmac.new(b"s3cret", b'1700000000.{"event":"message_created"}', sha256)
        assert_eq!(
            sign("s3cret", "1700000000", br#"{"event":"message_created"}"#),
            "sha256=1148d6519d19bc982e21da3ea971b4d44137dd730a8f3176124ab2f419fe42fd"
        );
    }

    #[test]
    fn verifies_and_refuses() {
        let body = br#"{"event":"message_created"}"#;
        let sig = sign("s3cret", "1700000000", body);
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&sig),
                body,
                1_700_000_010
            ),
            Ok(())
        );
        // Without the prefix and in capitals too.
        let bare = sig.trim_start_matches("sha256=").to_uppercase();
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&bare),
                body,
                1_700_000_000
            ),
            Ok(())
        );
        assert_eq!(
            verify("other", Some("1700000000"), Some(&sig), body, 1_700_000_000),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&sig),
                b"{}",
                1_700_000_000
            ),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000001"),
                Some(&sig),
                body,
                1_700_000_000
            ),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&sig),
                body,
                1_700_001_000
            ),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify("s3cret", Some("soon"), Some(&sig), body, 0),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify("s3cret", None, Some(&sig), body, 0),
            Err(Refusal::Missing)
        );
        assert_eq!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some("sha256=zz"),
                body,
                1_700_000_000
            ),
            Err(Refusal::Mismatch)
        );
    }
}
