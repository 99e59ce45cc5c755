//! `sahaya ask`, `sahaya check`, `sahaya test`: a thin layer over the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sahaya::{Customer, Engine, Formality, Lang, Message};
use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

#[cfg(feature = "mail")]
mod state;
#[cfg(feature = "mail")]
use state::{mail, report};

/// Rule-based multilingual FAQ chatbot and auto-responder.
#[derive(Parser)]
#[command(name = "sahaya", version, about)]
struct Cli {
    /// Directory holding knowledge/, locales/ and rules/.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer one message and print the reply.
    Ask(Box<AskArgs>),
    /// Validate all content; print `file:line:col: error: message` for each problem.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also print the calibration per language: thresholds, expected coverage at the
        /// target precision, and the phrasings that would be answered with another topic.
        #[arg(long)]
        stats: bool,
    },
    /// Run the conversation tests of the content (conversations/*.toml); exit 0 when all
    /// pass, 1 when a reply is not what a test expects, 2 on bad test files.
    #[command(long_about = TEST_ABOUT, after_long_help = TEST_EXAMPLE)]
    Test(TestArgs),
    /// Serve the HTTP API, the metrics and the preview page until SIGINT or SIGTERM.
    #[cfg(feature = "server")]
    Serve {
        /// Address to listen on (default 127.0.0.1:8080; overrides sahaya.toml and SAHAYA_ADDR).
        #[arg(long)]
        addr: Option<String>,
        /// Settings file (default: sahaya.toml in the data directory, when there is one).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Read one email (RFC 5322) on standard input and print the RFC 3834 auto-reply, or
    /// nothing, with the reason on standard error. Exit 0: reply printed; 1: no reply due;
    /// 2: bad input or settings; 75: the state database is busy, try again later.
    #[cfg(feature = "mail")]
    Mail {
        /// The state database (default: `[mail] database` of the settings, relative to the
        /// data directory; `sahaya.db`).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Settings file with a `[mail]` table (default: sahaya.toml in the data directory,
        /// when there is one).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The envelope sender as the MTA gives it (Postfix pipe `${sender}`, Sieve
        /// `envelope "from"`); the reply goes there. It overrides the `Return-Path` header;
        /// an empty value, `<>` or `MAILER-DAEMON` is a bounce and gets no reply.
        #[arg(long, value_name = "ADDR", allow_hyphen_values = true)]
        sender: Option<String>,
    },
    /// Print the editors' report over the conversation log of the state database: how
    /// much was answered without a person, the unanswered questions grouped (largest
    /// first, each with the closest topic), escalations by rule, feedback and CSAT.
    #[cfg(feature = "mail")]
    Report {
        /// The period before now: 7d, 24h, 90m …
        #[arg(long, default_value = "7d")]
        since: String,
        /// Only replies in this language (te, el, en).
        #[arg(long)]
        lang: Option<String>,
        /// text, json or html (one page with SVG charts, no script).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// The SQLite state database (default: as `sahaya serve` finds it; `[state] url`
        /// or SAHAYA_STATE_URL for PostgreSQL).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Settings file (default: sahaya.toml in the data directory, when there is one).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

const TEST_ABOUT: &str = "Run the conversation tests that editors write next to the content.

Each test sends a customer message, or a short conversation in one session, to the engine \
and checks the reply: topic, decision, escalation rule, register, language, after-hours \
notice, words in the text. Failures are printed as expected against got, with the message, \
the reply and its trace; then a summary per language and the topics answered in place of \
the expected ones.

Exit status: 0 when every case passes, 1 when a reply is not what a test expects, 2 on bad \
test files (each problem as file:line:col), no test files, or content that does not load.";

const TEST_EXAMPLE: &str = "Test files are TOML in the data directory's conversations/ folder:

  [defaults]                              # for every case of the file (optional)
  at = \"2026-11-25T11:00:00+02:00\"

  [[case]]
  title = \"Greeklish, where is my parcel\"
  text = \"pou vrisketai to paketo mou tora\" # what the customer writes
  topic = \"track_parcel\"                   # what the reply must be
  decision = \"answer\"

  [[case]]                                # a conversation: keys of the case apply to each turn
  decision = \"escalate\"
  rule = \"human_request\"
  [[case.turn]]
  text = \"can I talk to someone real\"
  [[case.turn]]
  text = \"hello??\"

Sent: text, lang, formality, channel, at (RFC 3339), tier, region, timezone, name.
Checked: topic (with decision = \"clarify\", the first suggestion), decision (answer, clarify, \
fallback, escalate), rule, register (formal, informal), reply_lang, after_hours, contains, \
not_contains (whole words; case and accents ignored; word* matches any ending).

Examples:
  sahaya test
  sahaya test --lang el conversations/el.toml
  sahaya --data ../content test --format json";

#[derive(clap::Args)]
struct TestArgs {
    /// Test files or folders (default: the data directory's conversations/).
    #[arg(value_name = "FILES|DIRS")]
    paths: Vec<PathBuf>,
    /// Only the cases in this language (te, el, en).
    #[arg(long)]
    lang: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(clap::Args)]
struct AskArgs {
    /// Reply language (te, el, en; tags like el-GR work). Detected when absent.
    #[arg(long)]
    lang: Option<String>,
    /// Register: formal (default) or informal.
    #[arg(long)]
    formality: Option<String>,
    /// Channel the message came from (chat, email …).
    #[arg(long)]
    channel: Option<String>,
    /// Time the message was sent, RFC 3339.
    #[arg(long)]
    at: Option<String>,
    /// Customer tier (e.g. business).
    #[arg(long)]
    tier: Option<String>,
    /// Customer region (GR, IN); from the language when absent.
    #[arg(long)]
    region: Option<String>,
    /// Customer time zone (IANA, e.g. Asia/Kolkata); the region's when absent.
    #[arg(long)]
    timezone: Option<String>,
    /// Customer name, for the greeting.
    #[arg(long)]
    name: Option<String>,
    /// Conversation id. Sessions live in memory, so they span messages only within one
    /// process (the HTTP server); here each run starts a new one.
    #[arg(long)]
    session: Option<String>,
    /// Print the reply as JSON.
    #[arg(long)]
    json: bool,
    /// The message; `-` or nothing reads it from standard input.
    #[arg(value_parser = clap::value_parser!(OsString), num_args = 0..)]
    text: Vec<OsString>,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Ask(args) => ask(&cli.data, *args),
        Command::Check { format, stats } => check(&cli.data, format, stats),
        Command::Test(args) => test(&cli.data, args),
        #[cfg(feature = "mail")]
        Command::Mail { db, config, sender } => mail(&cli.data, db, config, sender.as_deref()),
        #[cfg(feature = "mail")]
        Command::Report {
            since,
            lang,
            format,
            db,
            config,
        } => report(&cli.data, &since, lang.as_deref(), format, db, config),
        #[cfg(feature = "server")]
        Command::Serve { addr, config } => sahaya::server::run(&cli.data, addr, config.as_deref())
            .map(|()| 0)
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sahaya: {e:#}");
            2
        }
    }
}

fn ask(data: &std::path::Path, args: AskArgs) -> Result<i32> {
    let text = message_text(&args.text)?;
    if let Some(l) = &args.lang {
        l.parse::<Lang>()?;
    }
    let formality = args
        .formality
        .as_deref()
        .map(str::parse::<Formality>)
        .transpose()?;
    let engine =
        Engine::load(data).with_context(|| format!("loading content from {}", data.display()))?;
    let msg = Message {
        text,
        lang: args.lang,
        formality,
        channel: args.channel,
        session_id: args.session,
        customer: (args.tier.is_some()
            || args.region.is_some()
            || args.timezone.is_some()
            || args.name.is_some())
        .then_some(Customer {
            name: args.name,
            tier: args.tier,
            region: args.region,
            timezone: args.timezone,
        }),
        at: args.at,
    };
    let reply = engine.try_respond(&msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
    } else {
        println!("{}", reply.text);
        let mut meta = format!(
            "[{} · {} · {} · confidence {:.2}",
            serde_json::to_value(reply.decision)?
                .as_str()
                .unwrap_or_default(),
            reply.lang,
            reply.formality.as_str(),
            reply.confidence
        );
        if let Some(id) = &reply.answer_id {
            meta.push_str(&format!(" · {id}"));
        }
        meta.push(']');
        eprintln!("{meta}");
    }
    Ok(0)
}

/// The message from the arguments, or from standard input when there are none or `-`.
fn message_text(args: &[OsString]) -> Result<String> {
    if args.is_empty() || (args.len() == 1 && args[0] == "-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(sahaya::MAX_TEXT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .context("reading the message from standard input")?;
        return String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!(
                "the message on standard input is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            )
        });
    }
    let mut parts = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match a.to_str() {
            Some(s) => parts.push(s),
            None => bail!("argument {} of the message is not valid UTF-8", i + 1),
        }
    }
    Ok(parts.join(" "))
}

fn test(data: &std::path::Path, args: TestArgs) -> Result<i32> {
    use sahaya::suite::Suite;
    let only = args.lang.as_deref().map(str::parse::<Lang>).transpose()?;
    if !data.is_dir() {
        bail!("data directory {} not found", data.display());
    }
    let (suite, mut diags) = Suite::load(data, &args.paths);
    if !suite.cases.is_empty() {
        let engine = Engine::load(data)
            .with_context(|| format!("loading content from {}", data.display()))?;
        diags.extend(suite.check(&engine));
        if !diags.iter().any(|d| d.severity == sahaya::Severity::Error) {
            let report = suite.run(&engine, only);
            if report.cases.is_empty() {
                let lang = only.map_or_else(String::new, |l| format!(" in {l}"));
                bail!("no test cases{lang} among the {} cases", suite.cases.len());
            }
            match args.format {
                Format::Text => {
                    diags.iter().for_each(|d| eprintln!("{d}"));
                    print!("{}", report.to_text());
                }
                Format::Json => {
                    let mut doc = report.to_json();
                    doc["diagnostics"] = serde_json::to_value(&diags)?;
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                }
            }
            return Ok(if report.passed() { 0 } else { 1 });
        }
    }
    // Bad test files: each problem on standard error, or as JSON on standard output.
    match args.format {
        Format::Text => {
            diags.iter().for_each(|d| eprintln!("{d}"));
            let errors = (diags.iter())
                .filter(|d| d.severity == sahaya::Severity::Error)
                .count();
            match errors {
                0 => eprintln!("sahaya test: the test files hold no cases; nothing was run"),
                n => eprintln!("sahaya test: {n} problem(s) in the test files; nothing was run"),
            }
        }
        Format::Json => {
            let doc = serde_json::json!({ "passed": false, "diagnostics": diags });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(2)
}

fn check(data: &std::path::Path, format: Format, stats: bool) -> Result<i32> {
    if !data.is_dir() {
        bail!("data directory {} not found", data.display());
    }
    let diags = sahaya::check(data);
    let errors = diags
        .iter()
        .filter(|d| d.severity == sahaya::Severity::Error)
        .count();
    match format {
        Format::Json if stats => {}
        Format::Json => println!("{}", serde_json::to_string_pretty(&diags)?),
        Format::Text => {
            for d in &diags {
                println!("{d}");
            }
            if diags.is_empty() {
                eprintln!("sahaya check: all content is valid");
            } else {
                eprintln!(
                    "sahaya check: {errors} error(s), {} warning(s)",
                    diags.len() - errors
                );
            }
        }
    }
    if stats {
        let engine = match errors {
            0 => Some(
                Engine::load(data)
                    .with_context(|| format!("loading content from {}", data.display()))?,
            ),
            _ => None,
        };
        match format {
            Format::Json => {
                let calibration = engine.as_ref().map(calibration_json);
                let doc = serde_json::json!({"diagnostics": diags, "calibration": calibration});
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            Format::Text => {
                if let Some(engine) = &engine {
                    print_calibration(engine);
                }
            }
        }
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

/// The calibration measured at load, per language (and per language typed in Latin
/// letters: `el_latn`, `te_latn`), as JSON.
fn calibration_json(engine: &Engine) -> serde_json::Value {
    let r3 = |x: f32| (f64::from(x) * 1000.0).round() / 1000.0;
    let cal = engine.calibration();
    let native = cal.by_lang.iter().map(|(l, c)| (l.code().to_string(), c));
    let latin = (cal.romanized.iter()).map(|(l, c)| (format!("{}_latn", l.code()), c));
    let groups: serde_json::Map<String, serde_json::Value> = native
        .chain(latin)
        .map(|(name, c)| {
            let wrong: Vec<_> = c
                .wrong
                .iter()
                .map(|o| {
                    serde_json::json!({"text": o.text, "topic": o.topic,
                        "answered": o.found, "confidence": r3(o.confidence)})
                })
                .collect();
            let value = serde_json::json!({
                "samples": c.samples,
                "answer": r3(c.thresholds.answer),
                "margin": r3(c.thresholds.margin),
                "clarify": r3(c.thresholds.clarify),
                "coverage": r3(c.coverage),
                "precision": r3(c.precision),
                "wrong": wrong,
            });
            (name, value)
        })
        .collect();
    serde_json::Value::Object(groups)
}

/// The calibration measured at load, for editors: how much the content lets the engine
/// answer, and which phrasings it confuses.
fn print_calibration(engine: &Engine) {
    let cal = engine.calibration();
    let target = engine.config().calibration.target_precision;
    println!(
        "calibration: each knowledge phrasing sent with itself left out; target precision {:.0}%",
        target * 100.0
    );
    for lang in Lang::ALL {
        let native = (lang.code().to_string(), cal.by_lang.get(&lang));
        let latin = (format!("{}_latn", lang.code()), cal.romanized.get(&lang));
        for (name, c) in [native, latin] {
            let Some(c) = c else {
                if !name.ends_with("_latn") || lang != Lang::En {
                    println!("{name}: not calibrated (too few phrasings, or none separable at the target); built-in thresholds");
                }
                continue;
            };
            let t = if name.ends_with("_latn") {
                engine.romanized_thresholds(lang)
            } else {
                engine.thresholds(lang)
            };
            println!(
                "{name}: {} phrasings; answer at {:.2} with a lead of {:.2}, clarify at {:.2}; \
                 expected coverage {:.1}%, precision {:.1}%",
                c.samples,
                t.answer,
                t.margin,
                t.clarify,
                c.coverage * 100.0,
                c.precision * 100.0
            );
            for o in &c.wrong {
                println!(
                    "  answered wrongly: {:?} ({}) → {} {:.2}",
                    o.text,
                    o.topic,
                    o.found.as_deref().unwrap_or("-"),
                    o.confidence
                );
            }
        }
    }
}
