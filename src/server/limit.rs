//! Per-client limits: the optional rate limit of the `/v1` endpoints, a GCRA token bucket
//! (governor) keyed by the client address; and the fixed limit on failed authentications
//! (admin token, webhook signature), which is always on.

use super::config::RateLimitConfig;
use crate::sync::lock;
use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed authentications a client may make per minute on each kind of endpoint; the next
/// attempts get 429 until the minute is over, right credentials or not.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 10;

const AUTH_WINDOW: Duration = Duration::from_secs(60);

/// Clients whose failures are counted at once; beyond that new ones are not counted until
/// old windows run out (an attacker would need this many addresses a minute).
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The rate limit of the `/v1` endpoints.
pub(super) struct Limiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    header: Option<HeaderName>,
    clock: DefaultClock,
}

impl Limiter {
    /// `None` when the settings turn the limit off.
    pub fn new(config: &RateLimitConfig) -> Option<Limiter> {
        let per_second = NonZeroU32::new(config.per_second)?;
        let burst = config.burst.and_then(NonZeroU32::new).unwrap_or(per_second);
        let header = config
            .trust_forwarded_header
            .as_deref()
            .and_then(|h| HeaderName::try_from(h).ok());
        Some(Limiter {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            header,
            clock: DefaultClock::default(),
        })
    }

    /// The client of a request: the trusted header's last address when configured and
    /// present, else the peer address.
    pub fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> IpAddr {
        client_ip(self.header.as_ref(), headers, peer)
    }

    /// `Err(wait)` when `client` has used up its requests.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose buckets are full again, so the table does not grow forever.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The client of a request: the last address in the trusted header `header` when it is
/// configured and present, else the peer address (unspecified when unknown, as in tests).
pub(super) fn client_ip(
    header: Option<&HeaderName>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> IpAddr {
    header
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| parse_ip(v.trim()))
        .or(peer)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// What a failed authentication was for; each has its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Guard {
    /// The admin bearer token.
    Admin,
    /// A webhook delivery's signature.
    Webhook,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

/// Counts failed authentications per client in fixed one-minute windows. IPv6 clients are
/// counted per /64, the block one host usually has.
#[derive(Debug, Default)]
pub(super) struct AuthFailures {
    windows: Mutex<HashMap<(Guard, IpAddr), Window>>,
}

impl AuthFailures {
    /// `Err(wait)` when `client` has failed [`AUTH_FAILURES_PER_MINUTE`] times this minute.
    pub fn check(&self, guard: Guard, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = lock(&self.windows);
        match windows.get(&(guard, block(client))) {
            Some(w)
                if w.failures >= AUTH_FAILURES_PER_MINUTE
                    && now.duration_since(w.start) < AUTH_WINDOW =>
            {
                Err(AUTH_WINDOW.saturating_sub(now.duration_since(w.start)))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `client`.
    pub fn failed(&self, guard: Guard, client: IpAddr) {
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        let key = (guard, block(client));
        if !windows.contains_key(&key) && windows.len() >= MAX_TRACKED_CLIENTS {
            windows.retain(|_, w| now.duration_since(w.start) < AUTH_WINDOW);
            if windows.len() >= MAX_TRACKED_CLIENTS {
                return;
            }
        }
        let w = windows.entry(key).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now.duration_since(w.start) >= AUTH_WINDOW {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Forgets windows that are over.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        lock(&self.windows).retain(|_, w| now.duration_since(w.start) < AUTH_WINDOW);
    }
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 prefix.
fn block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(header: Option<&str>) -> Limiter {
        Limiter::new(&RateLimitConfig {
            per_second: 1,
            burst: Some(2),
            trust_forwarded_header: header.map(String::from),
        })
        .unwrap()
    }

    #[test]
    fn burst_then_refused_with_a_wait() {
        let l = limiter(None);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.check(ip).is_ok());
        assert!(l.check(ip).is_ok());
        let wait = l.check(ip).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        // Another client has its own bucket.
        assert!(l.check("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn forwarded_header_is_used_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            limiter(Some("x-forwarded-for")).client(&h, Some(peer)),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(limiter(None).client(&h, Some(peer)), peer);
        h.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(
            limiter(Some("x-forwarded-for")).client(&h, Some(peer)),
            peer
        );
        assert_eq!(parse_ip("[2001:db8::1]:80"), "2001:db8::1".parse().ok());
    }

    #[test]
    fn auth_failures_lock_a_client_out_for_the_minute() {
        let f = AuthFailures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..AUTH_FAILURES_PER_MINUTE {
            assert!(f.check(Guard::Admin, ip).is_ok());
            f.failed(Guard::Admin, ip);
        }
        let wait = f.check(Guard::Admin, ip).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= AUTH_WINDOW);
        // Other clients, and the other kind of endpoint, have their own counts.
        assert!(f.check(Guard::Admin, "10.0.0.2".parse().unwrap()).is_ok());
        assert!(f.check(Guard::Webhook, ip).is_ok());
        // One IPv6 host is one /64.
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        for _ in 0..AUTH_FAILURES_PER_MINUTE {
            f.failed(Guard::Webhook, a);
        }
        assert!(f
            .check(Guard::Webhook, "2001:db8:1:2:ffff::9".parse().unwrap())
            .is_err());
        assert!(f
            .check(Guard::Webhook, "2001:db8:1:3::1".parse().unwrap())
            .is_ok());
        f.forget_idle();
        assert!(f.check(Guard::Admin, ip).is_err(), "the window is not over");
    }

    #[test]
    fn zero_turns_it_off() {
        assert!(Limiter::new(&RateLimitConfig {
            per_second: 0,
            burst: None,
            trust_forwarded_header: None,
        })
        .is_none());
    }
}
