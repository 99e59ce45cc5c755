//! Per-client rate limit: a GCRA token bucket (governor) keyed by the client address.

use super::config::RateLimitConfig;
use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::Duration;

/// The rate limit of the `/v1` endpoints.
pub(crate) struct Limiter {
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
        self.header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| parse_ip(v.trim()))
            .or(peer)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
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
    fn zero_turns_it_off() {
        assert!(Limiter::new(&RateLimitConfig {
            per_second: 0,
            burst: None,
            trust_forwarded_header: None,
        })
        .is_none());
    }
}
