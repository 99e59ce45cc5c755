//! The "render" stage: the whole reply text, from Fluent messages around the knowledge answer.
//!
//! A chat reply is: greeting (first message of a conversation), empathy (problem topics,
//! upset customers), the body (answer, clarify list, fallback or handoff), the after-hours or
//! handoff notice, and a closing question after an answer. An email reply adds a salutation,
//! an introduction, the reply time (instead of "someone will join this chat" when the mail
//! goes to a person), a closing line and a sign-off; the salutation, the thanks and the
//! closing are all a small-talk email needs, so its chat answer is left out. Parts are
//! separated by a blank line.
//!
//! Every message gets `$channel` (`chat`, `email`, `sms`) and selects on it where the channel
//! changes the meaning ("reply here" in a chat, "reply to this email" in an email).

use crate::decide::{is_smalltalk, Action, Plan};
use crate::knowledge::COMPLAINT_TAG;
use crate::lang::{Formality, Lang};
use crate::locale::Locales;
use crate::model::{Channel, Request, Suggestion};
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use fluent_bundle::{FluentArgs, FluentValue};

/// Part of the day in the customer's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPart {
    /// 05:00–12:00.
    Morning,
    /// 12:00–17:00.
    Afternoon,
    /// 17:00–22:00.
    Evening,
    /// 22:00–05:00.
    Night,
}

impl DayPart {
    /// The part of the day of a local hour.
    pub fn of_hour(hour: u32) -> DayPart {
        match hour {
            5..=11 => DayPart::Morning,
            12..=16 => DayPart::Afternoon,
            17..=21 => DayPart::Evening,
            _ => DayPart::Night,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            DayPart::Morning => "morning",
            DayPart::Afternoon => "afternoon",
            DayPart::Evening => "evening",
            DayPart::Night => "night",
        }
    }
}

/// The part of the day a 12-hour clock time is said with ("8:00 in the evening" is 20:00):
/// morning 04–11, afternoon 12–15, evening 16–18, night 19–03. Narrower than [`DayPart`],
/// which picks a greeting: Telugu says రాత్రి 8 (night) for 20:00, not సాయంత్రం 8.
fn clock_part(hour: u32) -> &'static str {
    match hour {
        4..=11 => "morning",
        12..=15 => "afternoon",
        16..=18 => "evening",
        _ => "night",
    }
}

/// The body of a reply.
#[derive(Debug, Clone)]
enum Body<'a> {
    Answer {
        text: &'a str,
        problem: bool,
        smalltalk: bool,
    },
    Clarify(&'a [Suggestion]),
    /// An out-of-scope topic's own answer, or the generic fallback message.
    Fallback(Option<&'a str>),
    Escalate {
        message: &'a str,
        angry: bool,
        /// The knowledge answer, sent along while the customer waits for a person.
        answer: Option<&'a str>,
    },
    /// A person has the conversation.
    Waiting,
    /// A single Fluent message (e.g. acknowledging a change of register).
    Message(&'a str),
}

/// When people are away: the holiday's name, if any, and when they are back.
#[derive(Debug, Clone)]
struct Away {
    pub holiday: Option<String>,
    pub back: Option<DateTime<Tz>>,
}

/// Everything the renderer needs to know.
struct Scene<'a> {
    pub lang: Lang,
    pub formality: Formality,
    pub channel: Channel,
    pub isolate: bool,
    pub name: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub first_turn: bool,
    pub body: Body<'a>,
    pub away: Option<Away>,
}

struct Say<'a> {
    locales: &'a Locales,
    scene: &'a Scene<'a>,
    missing: Vec<String>,
}

impl Say<'_> {
    fn args(&self) -> FluentArgs<'static> {
        let mut a = FluentArgs::new();
        a.set("formality", self.scene.formality.as_str());
        a.set("channel", self.scene.channel.as_str());
        let local = self.scene.now.with_timezone(&self.scene.tz);
        a.set("part", DayPart::of_hour(local.hour()).as_str());
        a
    }

    fn msg(&mut self, id: &str, extra: &[(&'static str, FluentValue<'static>)]) -> String {
        let mut args = self.args();
        for (k, v) in extra {
            args.set(*k, v.clone());
        }
        match self
            .locales
            .format_args(self.scene.lang, id, &args, self.scene.isolate)
        {
            Some(t) => t,
            None => {
                self.missing.push(id.to_string());
                String::new()
            }
        }
    }

    /// "today at 09:00", "tomorrow at 09:00", "on Monday 30 November at 09:00", in the
    /// customer's time zone.
    fn when(&mut self, back: DateTime<Tz>) -> String {
        let tz = self.scene.tz;
        let back = back.with_timezone(&tz);
        let today = self.scene.now.with_timezone(&tz).date_naive();
        let hour12 = match back.hour() % 12 {
            0 => 12,
            h => h,
        };
        let base: Vec<(&'static str, FluentValue<'static>)> = vec![
            (
                "time",
                format!("{:02}:{:02}", back.hour(), back.minute()).into(),
            ),
            ("hour12", format!("{hour12}:{:02}", back.minute()).into()),
            ("daypart", clock_part(back.hour()).into()),
        ];
        let days = (back.date_naive() - today).num_days();
        match days {
            0 => self.msg("when-today", &base),
            1 => self.msg("when-tomorrow", &base),
            _ => {
                let wd = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    [back.weekday().num_days_from_monday() as usize];
                let weekday = self.msg(&format!("weekday-{wd}"), &[]);
                let month = self.msg(&format!("month-{}", back.month()), &[]);
                let mut args = base;
                args.push(("weekday", weekday.into()));
                args.push(("day", (back.day() as i64).into()));
                args.push(("month", month.into()));
                self.msg("when-date", &args)
            }
        }
    }

    fn away_notice(&mut self, handoff: bool) -> Option<String> {
        let away = self.scene.away.clone()?;
        let when = match away.back {
            Some(b) => self.when(b),
            None => String::new(),
        };
        let (plain, holiday) = if handoff {
            ("handoff-closed", "handoff-holiday")
        } else {
            ("after-hours", "after-hours-holiday")
        };
        Some(match away.holiday {
            Some(h) => self.msg(holiday, &[("holiday", h.into()), ("when", when.into())]),
            None => self.msg(plain, &[("when", when.into())]),
        })
    }
}

/// Renders the reply to `request` that `plan` decided on; returns the text and the ids of
/// messages no locale has. `isolate` wraps names and dates in bidi isolation marks.
pub(crate) fn render(
    locales: &Locales,
    plan: &Plan<'_>,
    request: &Request<'_>,
    now: DateTime<Utc>,
    isolate: bool,
) -> (String, Vec<String>) {
    let (lang, formality) = (plan.lang, plan.formality);
    let body = match &plan.action {
        Action::Waiting(_) => Body::Waiting,
        Action::RegisterOk => Body::Message("register-ok"),
        Action::Answer(t) => Body::Answer {
            text: t.text(lang).answer(formality),
            problem: t.has_tag(COMPLAINT_TAG),
            smalltalk: is_smalltalk(t),
        },
        Action::Clarify(suggestions) => Body::Clarify(suggestions),
        Action::Fallback(t) => Body::Fallback(t.map(|t| t.text(lang).answer(formality))),
        Action::Escalate {
            message, answer, ..
        } => Body::Escalate {
            message,
            angry: message == "escalate-angry",
            answer: answer
                .filter(|t| !is_smalltalk(t))
                .map(|t| t.text(lang).answer(formality)),
        },
    };
    let away = plan.hours.as_ref().filter(|s| !s.open).map(|s| Away {
        holiday: s.holiday_name(lang).map(str::to_string),
        back: s.next_open,
    });
    let scene = Scene {
        lang,
        formality,
        channel: request.channel_kind(),
        isolate,
        name: request.customer.and_then(|c| c.name.as_deref()),
        now,
        tz: plan.tz,
        first_turn: plan.first_turn,
        body,
        away,
    };
    render_scene(locales, &scene)
}

/// Renders a scene; returns the text and the ids of messages no locale has.
fn render_scene(locales: &Locales, scene: &Scene<'_>) -> (String, Vec<String>) {
    let mut say = Say {
        locales,
        scene,
        missing: Vec::new(),
    };
    let mut parts: Vec<String> = Vec::new();
    let name = scene.name.map(str::trim).filter(|n| !n.is_empty());
    let name_arg = |n: &str| vec![("name", FluentValue::from(n.to_string()))];
    let email = scene.channel == Channel::Email;

    // Opening.
    let smalltalk = matches!(
        scene.body,
        Body::Answer {
            smalltalk: true,
            ..
        }
    );
    if email {
        parts.push(match name {
            Some(n) => say.msg("email-salutation-name", &name_arg(n)),
            None => say.msg("email-salutation", &[]),
        });
        // One thank-you per email: when the answer itself opens by thanking the customer,
        // the introduction does not thank them again.
        let thanked = match scene.body {
            Body::Answer {
                text,
                smalltalk: false,
                ..
            } => opens_with_thanks(text),
            _ => false,
        };
        let intro = if thanked {
            "email-intro-short"
        } else {
            "email-intro"
        };
        parts.push(say.msg(intro, &[]));
    } else if scene.channel == Channel::Chat
        && scene.first_turn
        && !smalltalk
        && !matches!(scene.body, Body::Waiting)
    {
        parts.push(match name {
            Some(n) => say.msg("greeting-name", &name_arg(n)),
            None => say.msg("greeting", &[]),
        });
    }

    // Body.
    match &scene.body {
        Body::Answer { text, problem, .. } => {
            // In an email the salutation, the thanks and the closing line already say what a
            // small-talk answer says ("hello", "you're welcome", "goodbye"), in email words.
            if !(email && smalltalk) {
                if *problem && !opens_with_apology(text) {
                    parts.push(say.msg("empathy", &[]));
                }
                parts.push(text.to_string());
            }
            if let Some(n) = say.away_notice(false) {
                parts.push(n);
            }
            if scene.channel == Channel::Chat && !smalltalk {
                parts.push(say.msg("answer-closing", &[]));
            }
        }
        Body::Clarify(suggestions) => {
            let mut t = say.msg("clarify-intro", &[]);
            for (i, s) in suggestions.iter().enumerate() {
                t.push_str(&format!("\n{}. {}", i + 1, s.question));
            }
            parts.push(t);
        }
        Body::Fallback(text) => {
            parts.push(match text {
                Some(t) => t.to_string(),
                None => say.msg("fallback", &[]),
            });
            if let Some(n) = say.away_notice(false) {
                parts.push(n);
            }
        }
        Body::Escalate {
            message,
            angry,
            answer,
        } => {
            if *angry {
                parts.push(say.msg("empathy-angry", &[]));
            }
            parts.push(say.msg(message, &[]));
            match say.away_notice(true) {
                Some(n) => parts.push(n),
                // An email is not a conversation someone joins: the reply time below says
                // when a person answers.
                None if email => {}
                None => parts.push(say.msg("handoff-open", &[])),
            }
            if let Some(a) = answer {
                parts.push(a.to_string());
            }
        }
        Body::Waiting => parts.push(say.msg("handoff-waiting", &[])),
        Body::Message(id) => parts.push(say.msg(id, &[])),
    }

    // Closing.
    if email {
        if matches!(
            scene.body,
            Body::Escalate { .. } | Body::Fallback(_) | Body::Clarify(_)
        ) {
            parts.push(say.msg("email-reply-time", &[("count", 1.into())]));
        }
        parts.push(say.msg(
            if smalltalk {
                "closing-smalltalk"
            } else {
                "closing"
            },
            &[],
        ));
        parts.push(say.msg("email-signoff", &[]));
    }
    parts.retain(|p| !p.trim().is_empty());
    let sep = if scene.channel == Channel::Sms {
        "\n"
    } else {
        "\n\n"
    };
    (parts.join(sep), say.missing)
}

/// True when a knowledge answer already starts by apologizing, so the empathy line would
/// say the same thing twice.
fn opens_with_apology(answer: &str) -> bool {
    const APOLOGIES: &[&str] = &[
        "sorry",
        "apologi",
        "we regret",
        "λυπούμαστε",
        "λυπούμαι",
        "λυπάμαι",
        "συγγνώμη",
        "συγνώμη",
        "ζητούμε συγγνώμη",
        "σας ζητάμε συγγνώμη",
        "σόρι",
        "సారీ",
        "క్షమించ",
        "క్షమాపణ",
        "మన్నించ",
        "చింతిస్తున్న",
        "చింతిస్తు",
        "అయ్యో",
    ];
    opens_with(answer, APOLOGIES)
}

/// True when a knowledge answer starts by thanking the customer, so an email's introduction
/// does not thank them a second time.
fn opens_with_thanks(answer: &str) -> bool {
    const THANKS: &[&str] = &["thank", "ευχαριστ", "ధన్యవాద", "థాంక్స్", "థ్యాంక్స్", "కృతజ్ఞత"];
    opens_with(answer, THANKS)
}

/// True when one of `marks` (any case or accents) occurs near the start of `text`: in its
/// first 200 characters, which hold the opening sentence or two of every answer.
fn opens_with(text: &str, marks: &[&str]) -> bool {
    let start: String = text.chars().take(200).collect();
    let n = crate::text::normalize(&start);
    marks
        .iter()
        .any(|m| n.contains(crate::text::normalize(m).as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_the_day() {
        assert_eq!(DayPart::of_hour(4), DayPart::Night);
        assert_eq!(DayPart::of_hour(5), DayPart::Morning);
        assert_eq!(DayPart::of_hour(12), DayPart::Afternoon);
        assert_eq!(DayPart::of_hour(17), DayPart::Evening);
        assert_eq!(DayPart::of_hour(22), DayPart::Night);
    }

    #[test]
    fn clock_times_take_the_part_of_the_day_they_are_said_with() {
        assert_eq!(clock_part(9), "morning");
        assert_eq!(clock_part(12), "afternoon");
        assert_eq!(clock_part(17), "evening");
        assert_eq!(clock_part(20), "night");
        assert_eq!(clock_part(2), "night");
    }

    #[test]
    fn apologies_are_not_doubled() {
        assert!(opens_with_apology(
            "We're very sorry your parcel arrived damaged."
        ));
        assert!(opens_with_apology("Λυπούμαστε πολύ για την καθυστέρηση"));
        assert!(opens_with_apology("సారీ, పార్సెల్ లేట్ అయినందుకు!"));
        assert!(!opens_with_apology(
            "Don't worry: when we miss you, we send a notice."
        ));
        // The formal Telugu "we apologize" and Greek without accents count too.
        assert!(opens_with_apology(
            "మీకు కలిగిన అసౌకర్యానికి మేము హృదయపూర్వకంగా క్షమాపణలు కోరుతున్నాము."
        ));
        assert!(opens_with_apology("Ζητουμε συγγνωμη για την καθυστερηση"));
        assert!(!opens_with_apology("మీ పార్సెల్‌ను ఎలా ట్రాక్ చేయాలో చూడండి."));
    }

    #[test]
    fn thanks_are_not_doubled() {
        assert!(opens_with_thanks("Thank you for checking with us."));
        assert!(opens_with_thanks("Σας ευχαριστούμε που μας ρωτήσατε."));
        assert!(opens_with_thanks("మీ అభిప్రాయం తెలియజేయాలనుకున్నందుకు ధన్యవాదాలు!"));
        assert!(!opens_with_thanks(
            "Μπορείτε να δείτε πού βρίσκεται το δέμα σας."
        ));
    }

    #[test]
    fn channels() {
        assert_eq!(Channel::of(Some("Email")), Channel::Email);
        assert_eq!(Channel::of(Some("sms")), Channel::Sms);
        assert_eq!(Channel::of(Some("whatsapp")), Channel::Chat);
        assert_eq!(Channel::of(None), Channel::Chat);
    }
}
