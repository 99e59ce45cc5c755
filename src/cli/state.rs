//! `sahaya mail` and `sahaya report`: the commands that use the state database.

use super::ReportFormat;
use anyhow::{bail, Context, Result};
use sahaya::Engine;
use std::io::Read;
use std::path::PathBuf;

/// The tables of the settings file that `sahaya mail` and `sahaya report` read.
#[derive(Default)]
struct MailSettings {
    mail: sahaya::channel::mail::MailConfig,
    state: sahaya::store::StateConfig,
    log: sahaya::store::LogConfig,
}

/// The `[mail]`, `[state]` and `[log]` tables of the settings file, or their defaults.
fn mail_config(data: &std::path::Path, config: Option<PathBuf>) -> Result<MailSettings> {
    let path = match config {
        Some(p) => p,
        None => {
            let p = data.join("sahaya.toml");
            if !p.exists() {
                return Ok(Default::default());
            }
            p
        }
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mail = match table.get("mail") {
        Some(v) => v
            .clone()
            .try_into()
            .with_context(|| format!("the [mail] table of {}", path.display()))?,
        None => Default::default(),
    };
    let state = match table.get("state") {
        Some(v) => v
            .clone()
            .try_into()
            .with_context(|| format!("the [state] table of {}", path.display()))?,
        None => Default::default(),
    };
    let log = match table.get("log") {
        Some(v) => v
            .clone()
            .try_into()
            .with_context(|| format!("the [log] table of {}", path.display()))?,
        None => Default::default(),
    };
    Ok(MailSettings { mail, state, log })
}

impl MailSettings {
    /// The state database to open and, when it is SQLite, its file: `--db` names a SQLite
    /// file and wins over `[state]`; else `[state]` (and SAHAYA_STATE_URL) decide, as for
    /// the server.
    fn state_target(
        &self,
        data: &std::path::Path,
        db: Option<PathBuf>,
    ) -> (sahaya::store::StateConfig, PathBuf) {
        let state = match db {
            Some(_) => sahaya::store::StateConfig::default(),
            None => self.state.clone().with_env(),
        };
        let db = db
            .unwrap_or_else(|| state.sqlite_path(data, std::path::Path::new(&self.mail.database)));
        (state, db)
    }
}

pub(super) fn mail(
    data: &std::path::Path,
    db: Option<PathBuf>,
    config: Option<PathBuf>,
    sender: Option<&str>,
) -> Result<i32> {
    use sahaya::channel::mail::{auto_reply, Outcome};
    use std::io::Write;
    const MAX_MAIL_BYTES: u64 = 25 * 1024 * 1024;
    let settings = mail_config(data, config)?;
    let (state_cfg, db) = settings.state_target(data, db);
    let (cfg, log_cfg) = (&settings.mail, settings.log);
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_MAIL_BYTES + 1)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    if raw.len() as u64 > MAX_MAIL_BYTES {
        bail!("the message is larger than {} MiB", MAX_MAIL_BYTES >> 20);
    }
    let engine =
        Engine::load(data).with_context(|| format!("loading content from {}", data.display()))?;
    let store = match state_cfg.open(&db) {
        Ok(state) => state.store,
        Err(e @ sahaya::store::StateError::Sqlite { .. }) => {
            eprintln!("sahaya: {e}");
            return Ok(75);
        }
        Err(e) => return Err(e.into()),
    };
    let now = chrono::Utc::now();
    let outcome = auto_reply(&engine, &*store, cfg, &raw, sender, now);
    if outcome.is_ok() {
        // Old rows go as new mail comes in; the memory is kept at least as long as the
        // interval.
        let mut retention = sahaya::store::Retention::default();
        retention.auto_reply_secs = retention
            .auto_reply_secs
            .max(i64::from(cfg.interval_days) * 86_400)
            .max(86_400);
        if let Err(e) = store.prune(now.timestamp(), &retention) {
            eprintln!("sahaya: could not prune the state database: {e}");
        }
    }
    match outcome {
        Ok(Outcome::Reply {
            to,
            message,
            reply,
            text,
        }) => {
            if log_cfg.enabled {
                let id = sahaya::store::new_reply_id();
                let entry = sahaya::store::LogEntry::new(
                    &reply,
                    &id,
                    &text,
                    "email",
                    now.timestamp(),
                    log_cfg.keep_text,
                );
                if let Err(e) = store.append_log(&[entry]) {
                    eprintln!("sahaya: the reply is not in the conversation log: {e}");
                }
            }
            std::io::stdout()
                .write_all(&message)
                .context("writing the reply")?;
            eprintln!(
                "sahaya: auto-reply to {} ({} · {})",
                sahaya::channel::address::shown(&to),
                serde_json::to_value(reply.decision)?
                    .as_str()
                    .unwrap_or_default(),
                reply.lang
            );
            Ok(0)
        }
        Ok(Outcome::Skip(why)) => {
            eprintln!("sahaya: {why}");
            Ok(1)
        }
        Err(e) if e.is_user_error() => Err(e.into()),
        Err(e) => {
            eprintln!("sahaya: {e}");
            Ok(75)
        }
    }
}

pub(super) fn report(
    data: &std::path::Path,
    since: &str,
    lang: Option<&str>,
    format: ReportFormat,
    db: Option<PathBuf>,
    config: Option<PathBuf>,
) -> Result<i32> {
    use sahaya::report::{parse_period, Report, ReportOptions};
    let period = parse_period(since)
        .ok_or_else(|| anyhow::anyhow!("--since {since:?} is not a period like 7d, 24h or 90m"))?;
    let lang = match lang {
        Some(l) => Some(
            sahaya::Lang::from_tag(l)
                .ok_or_else(|| anyhow::anyhow!("--lang {l:?}: supported are te, el, en"))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    let (state_cfg, db) = mail_config(data, config)?.state_target(data, db);
    if state_cfg.url.is_none() && !db.exists() {
        bail!(
            "no state database at {}: run `sahaya serve` first, or give --db",
            db.display()
        );
    }
    let store = state_cfg.open(&db)?.store;
    let until = chrono::Utc::now().timestamp() + 1;
    let since = until - period;
    let log = store.read_log(since, until)?;
    let report = Report::build(&log, &ReportOptions { since, until, lang });
    match format {
        ReportFormat::Text => print!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Html => print!("{}", report.to_html()),
    }
    Ok(0)
}
