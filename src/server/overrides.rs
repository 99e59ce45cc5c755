//! What is applied to the settings once the file is read: the `SAHAYA_*` environment
//! overrides ([`Settings::apply_env`]), then the checks of ranges and combinations
//! ([`Settings::validate`]).

use super::config::{ConfigError, RateLimitConfig, Settings, MAX_CONNECTIONS};
use super::tls;
use std::path::Path;

impl Settings {
    /// Applies the `SAHAYA_*` overrides that `lookup` finds.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for var in ["SAHAYA_CHATWOOT_TOKEN", "SAHAYA_CHATWOOT_SECRET"] {
            if let Some(v) = lookup(var) {
                let Some(cw) = &mut self.chatwoot else {
                    return Err(ConfigError::Invalid(format!(
                        "{var} is set but the settings have no [chatwoot] table with its base_url"
                    )));
                };
                if var == "SAHAYA_CHATWOOT_TOKEN" {
                    cw.api_token = v;
                } else {
                    cw.secret = Some(v);
                }
            }
        }
        if let Some(v) = lookup("SAHAYA_WEBHOOK_SECRET") {
            let Some(wh) = &mut self.webhook else {
                return Err(ConfigError::Invalid(
                    "SAHAYA_WEBHOOK_SECRET is set but the settings have no [webhook] table with its url"
                        .into(),
                ));
            };
            wh.secret = Some(v);
        }
        if let Some(v) = lookup(crate::store::STATE_URL_VAR).filter(|v| !v.trim().is_empty()) {
            self.state.url = Some(v.trim().to_string());
        }
        let s = &mut self.server;
        if let Some(v) = lookup("SAHAYA_ADDR") {
            s.addr = v;
        }
        if let Some(v) = lookup("SAHAYA_ADMIN_TOKEN") {
            s.admin_token = Some(v);
        }
        if let Some(v) = lookup("SAHAYA_BODY_LIMIT") {
            s.body_limit = parse_env("SAHAYA_BODY_LIMIT", &v)?;
        }
        if let Some(v) = lookup("SAHAYA_MAX_TEXT_BYTES") {
            s.max_text_bytes = parse_env("SAHAYA_MAX_TEXT_BYTES", &v)?;
        }
        if let Some(v) = lookup("SAHAYA_REQUEST_TIMEOUT_SECS") {
            s.request_timeout_secs = parse_env("SAHAYA_REQUEST_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = lookup("SAHAYA_HEADER_READ_TIMEOUT_SECS") {
            s.header_read_timeout_secs = parse_env("SAHAYA_HEADER_READ_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = lookup("SAHAYA_MAX_CONNECTIONS") {
            s.max_connections = parse_env("SAHAYA_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = lookup("SAHAYA_WATCH") {
            s.watch = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "SAHAYA_WATCH",
                        message: format!("{v:?} is not true or false"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SAHAYA_RATE_LIMIT_PER_SECOND") {
            let per_second: u32 = parse_env("SAHAYA_RATE_LIMIT_PER_SECOND", &v)?;
            s.rate_limit = match (per_second, s.rate_limit.take()) {
                (0, _) => None,
                (_, Some(rl)) => Some(RateLimitConfig { per_second, ..rl }),
                (_, None) => Some(RateLimitConfig {
                    per_second,
                    burst: None,
                    trust_forwarded_header: None,
                }),
            };
        }
        if let Some(v) = lookup("SAHAYA_RATE_LIMIT_BURST") {
            let burst = parse_env("SAHAYA_RATE_LIMIT_BURST", &v)?;
            if let Some(rl) = &mut s.rate_limit {
                rl.burst = Some(burst);
            }
        }
        if let Some(v) = lookup("SAHAYA_RATE_LIMIT_HEADER") {
            if let Some(rl) = &mut s.rate_limit {
                rl.trust_forwarded_header = Some(v).filter(|h| !h.trim().is_empty());
            }
        }
        Ok(())
    }

    /// Checks ranges and normalizes: an empty admin token or secret means none. Each
    /// `ca_file` is read and must hold at least one valid PEM certificate.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let blank = |s: &Option<String>| s.as_deref().is_some_and(|t| t.trim().is_empty());
        if let Some(cw) = &mut self.chatwoot {
            cw.base_url = cw.base_url.trim().trim_end_matches('/').to_string();
            if !is_http_url(&cw.base_url) {
                return Err(ConfigError::Invalid(format!(
                    "chatwoot.base_url: {:?} is not an http:// or https:// URL",
                    cw.base_url
                )));
            }
            if cw.api_token.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "chatwoot.api_token is empty: set the agent bot's access token (SAHAYA_CHATWOOT_TOKEN)"
                        .into(),
                ));
            }
            if blank(&cw.secret) {
                cw.secret = None;
            }
            // A delivery may make two calls (open, then post), and must finish within the
            // request timeout: a request cut short could not undo its delivery record.
            if cw.timeout_secs == 0
                || cw.timeout_secs.saturating_mul(2) >= self.server.request_timeout_secs
            {
                return Err(ConfigError::Invalid(format!(
                    "chatwoot.timeout_secs must be above 0 and under half of server.request_timeout_secs ({})",
                    self.server.request_timeout_secs
                )));
            }
            match (&cw.secret, cw.allow_unsigned) {
                (None, false) => {
                    return Err(ConfigError::Invalid(
                        "chatwoot.secret is not set: set the agent bot's secret \
                         (SAHAYA_CHATWOOT_SECRET) so that forged deliveries are refused, or \
                         allow_unsigned = true if only a trusted network reaches this server"
                            .into(),
                    ))
                }
                (Some(_), true) => {
                    return Err(ConfigError::Invalid(
                        "chatwoot.allow_unsigned = true contradicts chatwoot.secret: with a \
                         secret every delivery must be signed; remove allow_unsigned"
                            .into(),
                    ))
                }
                _ => {}
            }
            check_ca_file("chatwoot.ca_file", cw.ca_file.as_deref())?;
        }
        if let Some(wh) = &mut self.webhook {
            wh.url = wh.url.trim().to_string();
            if !is_http_url(&wh.url) {
                return Err(ConfigError::Invalid(format!(
                    "webhook.url: {:?} is not an http:// or https:// URL",
                    wh.url
                )));
            }
            if blank(&wh.secret) {
                wh.secret = None;
            }
            if wh.max_attempts == 0 || wh.timeout_secs == 0 {
                return Err(ConfigError::Invalid(
                    "webhook.max_attempts and webhook.timeout_secs must be above 0".into(),
                ));
            }
            check_ca_file("webhook.ca_file", wh.ca_file.as_deref())?;
        }
        let s = &mut self.server;
        if s.admin_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            s.admin_token = None;
        }
        if s.body_limit == 0 {
            return Err(ConfigError::Invalid(
                "server.body_limit must be above 0".into(),
            ));
        }
        if s.max_text_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.max_text_bytes must be above 0".into(),
            ));
        }
        if s.request_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.request_timeout_secs must be above 0".into(),
            ));
        }
        if s.header_read_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.header_read_timeout_secs must be above 0".into(),
            ));
        }
        if s.max_connections == 0 || s.max_connections > MAX_CONNECTIONS {
            return Err(ConfigError::Invalid(format!(
                "server.max_connections must be 1 to {MAX_CONNECTIONS}"
            )));
        }
        if let Some(rl) = &s.rate_limit {
            if rl.per_second == 0 || rl.burst == Some(0) {
                return Err(ConfigError::Invalid(
                    "server.rate_limit: per_second and burst must be above 0 (remove the section to turn the limit off)".into(),
                ));
            }
            if let Some(h) = &rl.trust_forwarded_header {
                if axum::http::HeaderName::try_from(h.as_str()).is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "server.rate_limit.trust_forwarded_header: {h:?} is not a header name"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `Err` naming the setting, the path and the reason when `ca_file` cannot be used.
fn check_ca_file(name: &str, ca_file: Option<&Path>) -> Result<(), ConfigError> {
    match ca_file {
        Some(path) => tls::client_config(path)
            .map(drop)
            .map_err(|reason| ConfigError::Invalid(tls::ca_file_error(name, path, &reason))),
        None => Ok(()),
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

fn parse_env<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse().map_err(|e| ConfigError::Env {
        var,
        message: format!("{value:?}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn env_overrides_the_file() {
        let mut s = Settings::default();
        s.apply_env(|v| match v {
            "SAHAYA_ADDR" => Some("127.0.0.1:1".into()),
            "SAHAYA_ADMIN_TOKEN" => Some("t".into()),
            "SAHAYA_RATE_LIMIT_PER_SECOND" => Some("3".into()),
            "SAHAYA_RATE_LIMIT_HEADER" => Some("x-real-ip".into()),
            "SAHAYA_WATCH" => Some("off".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.server.addr, "127.0.0.1:1");
        assert_eq!(s.server.admin_token.as_deref(), Some("t"));
        assert!(!s.server.watch);
        let rl = s.server.rate_limit.as_ref().unwrap();
        assert_eq!(rl.per_second, 3);
        assert_eq!(rl.trust_forwarded_header.as_deref(), Some("x-real-ip"));
        s.validate().unwrap();

        let err = Settings::default()
            .apply_env(|v| (v == "SAHAYA_BODY_LIMIT").then(|| "lots".into()))
            .unwrap_err();
        assert!(err.to_string().contains("SAHAYA_BODY_LIMIT"));
    }

    #[test]
    fn bad_chatwoot_and_webhook_settings_are_refused() {
        let bad = |src: &str| {
            let mut s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
            s.validate().unwrap_err().to_string()
        };
        assert!(
            bad("[chatwoot]\nbase_url = \"chat.example.com\"\napi_token = \"t\"\n")
                .contains("base_url")
        );
        assert!(bad("[chatwoot]\nbase_url = \"https://c.example\"\n").contains("api_token"));
        assert!(bad(
            "[chatwoot]\nbase_url = \"https://c.example\"\napi_token = \"t\"\ntimeout_secs = 5\n"
        )
        .contains("timeout_secs"));
        assert!(bad("[webhook]\nurl = \"ftp://x\"\n").contains("webhook.url"));
        assert!(bad("[webhook]\nurl = \"https://x\"\nmax_attempts = 0\n").contains("max_attempts"));
        let err = Settings::from_toml(
            "[webhook]\nurl = \"https://x\"\nretries = 3\n",
            Path::new("sahaya.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("retries"), "{err}");
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_named_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let not_pem = dir.path().join("key.pem");
        std::fs::write(&not_pem, "just text\n").unwrap();
        let check = |table: &str, path: &Path| {
            let src = format!("{table}ca_file = \"{}\"\n", path.display());
            let mut s = Settings::from_toml(&src, Path::new("sahaya.toml")).unwrap();
            s.validate().unwrap_err().to_string()
        };
        let webhook = "[webhook]\nurl = \"https://desk.example\"\n";
        let err = check(webhook, &missing);
        assert!(
            err.starts_with(&format!("webhook.ca_file {}: ", missing.display())),
            "{err}"
        );
        assert!(err.contains("No such file"), "{err}");
        let chatwoot =
            "[chatwoot]\nbase_url = \"https://c.example\"\napi_token = \"t\"\nsecret = \"s\"\n";
        let err = check(chatwoot, &not_pem);
        assert!(
            err.starts_with(&format!("chatwoot.ca_file {}: ", not_pem.display())),
            "{err}"
        );
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn chatwoot_needs_a_secret_or_an_explicit_allow_unsigned() {
        let parse = |src: &str| {
            let mut s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
            s.validate().map(|()| s)
        };
        let base = "[chatwoot]\nbase_url = \"https://c.example\"\napi_token = \"t\"\n";
        let err = parse(base).unwrap_err().to_string();
        assert!(
            err.contains("chatwoot.secret") && err.contains("allow_unsigned"),
            "{err}"
        );
        // A blank secret is no secret.
        assert!(parse(&format!("{base}secret = \"  \"\n")).is_err());
        let s = parse(&format!("{base}allow_unsigned = true\n")).unwrap();
        assert!(s.chatwoot.unwrap().allow_unsigned);
        let err = parse(&format!("{base}secret = \"s\"\nallow_unsigned = true\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("contradicts"), "{err}");
        // The secret may come from the environment.
        let mut s = Settings::from_toml(base, Path::new("sahaya.toml")).unwrap();
        s.apply_env(|v| (v == "SAHAYA_CHATWOOT_SECRET").then(|| "from-env".into()))
            .unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn connection_limits_parse_and_are_checked() {
        let src = "[server]\nheader_read_timeout_secs = 3\nmax_connections = 50\n";
        let mut s = Settings::from_toml(src, Path::new("sahaya.toml")).unwrap();
        s.validate().unwrap();
        assert_eq!(
            (s.server.header_read_timeout_secs, s.server.max_connections),
            (3, 50)
        );
        s.apply_env(|v| match v {
            "SAHAYA_HEADER_READ_TIMEOUT_SECS" => Some("5".into()),
            "SAHAYA_MAX_CONNECTIONS" => Some("64".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (s.server.header_read_timeout_secs, s.server.max_connections),
            (5, 64)
        );
        for bad in [
            "header_read_timeout_secs = 0",
            "max_connections = 0",
            "max_connections = 2000000",
        ] {
            let mut s =
                Settings::from_toml(&format!("[server]\n{bad}\n"), Path::new("sahaya.toml"))
                    .unwrap();
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(bad.split(' ').next().unwrap()), "{err}");
        }
    }

    #[test]
    fn empty_admin_token_disables_admin() {
        let mut s = Settings::default();
        s.server.admin_token = Some("  ".into());
        s.validate().unwrap();
        assert!(s.server.admin_token.is_none());
    }
}
