//! Business hours: when people are at work, per region, from `rules/calendar.toml`.
//!
//! Each region has a time zone (chrono-tz), opening intervals per weekday (several for a
//! split shift), public holidays (every year on a date, one year only, or a number of days
//! from Orthodox Easter) and one-off closures. Times are local wall-clock times of the region,
//! so the hours stay right across daylight-saving changes.

use crate::error::Diagnostic;
use crate::lang::Lang;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// Where the calendar lives under a data directory.
pub const CALENDAR_FILE: &str = "rules/calendar.toml";

/// Holiday or closure names by language.
pub type Names = BTreeMap<Lang, String>;

/// Business hours of every region.
#[derive(Debug, Clone)]
pub struct Calendar {
    default_region: String,
    lang_region: BTreeMap<Lang, String>,
    regions: BTreeMap<String, Region>,
}

/// Business hours of one region.
#[derive(Debug, Clone)]
pub struct Region {
    /// Region code (`GR`, `IN`).
    pub id: String,
    /// The region's time zone.
    pub tz: Tz,
    /// Opening intervals, Monday first, each sorted and non-overlapping.
    hours: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: Vec<Holiday>,
    closures: Vec<Closure>,
}

#[derive(Debug, Clone)]
enum HolidayDate {
    Yearly(u32, u32),
    Once(NaiveDate),
    Easter(i64),
}

#[derive(Debug, Clone)]
struct Holiday {
    date: HolidayDate,
    names: Names,
}

#[derive(Debug, Clone)]
struct Closure {
    from: NaiveDateTime,
    to: NaiveDateTime,
    names: Names,
}

/// Whether people are at work at one instant in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The region the status is for.
    pub region: String,
    /// True when people are at work now.
    pub open: bool,
    /// The name of today's public holiday or of the current closure, by language.
    pub holiday: Option<Names>,
    /// When people are next at work (None while open, or when no opening is found within
    /// a year), in the region's time zone.
    pub next_open: Option<DateTime<Tz>>,
}

impl Status {
    /// The holiday's name in `lang` (English, then any, when it lacks one).
    pub fn holiday_name(&self, lang: Lang) -> Option<&str> {
        let names = self.holiday.as_ref()?;
        names
            .get(&lang)
            .or_else(|| names.get(&Lang::En))
            .or_else(|| names.values().next())
            .map(String::as_str)
    }
}

/// Orthodox Easter Sunday of `year` (Gregorian date), by Meeus' Julian algorithm. Valid for
/// 1900–2099, where the Julian calendar runs 13 days behind.
pub fn orthodox_easter(year: i32) -> NaiveDate {
    let (a, b, c) = (year % 4, year % 7, year % 19);
    let d = (19 * c + 15) % 30;
    let e = (2 * a + 4 * b - d + 34) % 7;
    let month = (d + e + 114) / 31;
    let day = (d + e + 114) % 31 + 1;
    let julian = NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("valid date");
    julian + Duration::days(13)
}

impl Region {
    fn holiday_on(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| match h.date {
            HolidayDate::Yearly(m, d) => date.month() == m && date.day() == d,
            HolidayDate::Once(d) => d == date,
            HolidayDate::Easter(offset) => {
                orthodox_easter(date.year()) + Duration::days(offset) == date
            }
        })
    }

    fn closure_at(&self, local: NaiveDateTime) -> Option<&Closure> {
        self.closures
            .iter()
            .find(|c| c.from <= local && local < c.to)
    }

    fn intervals(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        &self.hours[date.weekday().num_days_from_monday() as usize]
    }

    /// The status at instant `at`.
    pub fn status(&self, at: DateTime<Utc>) -> Status {
        let local = at.with_timezone(&self.tz).naive_local();
        let holiday = self.holiday_on(local.date());
        let closure = self.closure_at(local);
        let in_hours = self
            .intervals(local.date())
            .iter()
            .any(|(s, e)| *s <= local.time() && local.time() < *e);
        let open = in_hours && holiday.is_none() && closure.is_none();
        Status {
            region: self.id.clone(),
            open,
            holiday: holiday
                .map(|h| h.names.clone())
                .or_else(|| closure.map(|c| c.names.clone())),
            next_open: if open { None } else { self.next_open(local) },
        }
    }

    /// The first moment at or after `local` (region time) when people are at work.
    fn next_open(&self, local: NaiveDateTime) -> Option<DateTime<Tz>> {
        for days in 0..=370 {
            let date = local.date() + Duration::days(days);
            if self.holiday_on(date).is_some() {
                continue;
            }
            for (start, end) in self.intervals(date) {
                let end = date.and_time(*end);
                let mut candidate = date.and_time(*start).max(local);
                // Inside a one-off closure: the interval opens when the closure ends.
                while let Some(c) = self.closure_at(candidate) {
                    candidate = c.to;
                }
                if candidate < end && candidate.date() == date {
                    if let Some(t) = self.to_instant(candidate) {
                        return Some(t);
                    }
                }
            }
        }
        None
    }

    /// A local wall-clock time as an instant; a time skipped by a DST change moves forward.
    fn to_instant(&self, local: NaiveDateTime) -> Option<DateTime<Tz>> {
        self.tz.from_local_datetime(&local).earliest().or_else(|| {
            self.tz
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
    }
}

impl Calendar {
    /// Loads `data_dir/rules/calendar.toml`; `None` with diagnostics on any error.
    pub fn load(data_dir: &Path) -> (Option<Calendar>, Vec<Diagnostic>) {
        let rel = Path::new(CALENDAR_FILE);
        match crate::error::read_content(&data_dir.join(rel), rel) {
            Ok(src) => Calendar::parse(rel, &src),
            Err(d) => (
                None,
                vec![d.with_hint("business hours and holidays live in rules/calendar.toml")],
            ),
        }
    }

    /// Parses a calendar; `rel` names the file in diagnostics.
    pub fn parse(rel: &Path, src: &str) -> (Option<Calendar>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let raw: RawCalendar = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::from_toml(rel, src, &e));
                return (None, diags);
            }
        };
        let err = |offset: usize, msg: String| Diagnostic::error_at(rel, src, offset, msg);
        let mut regions = BTreeMap::new();
        for (id, r) in raw.region {
            let tz: Tz = match r.timezone.get_ref().parse() {
                Ok(tz) => tz,
                Err(_) => {
                    diags.push(
                        err(
                            r.timezone.span().start,
                            format!("unknown time zone {:?}", r.timezone.get_ref()),
                        )
                        .with_hint("use an IANA name such as Europe/Athens or Asia/Kolkata"),
                    );
                    continue;
                }
            };
            let mut hours: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
            let days = [
                &r.hours.mon,
                &r.hours.tue,
                &r.hours.wed,
                &r.hours.thu,
                &r.hours.fri,
                &r.hours.sat,
                &r.hours.sun,
            ];
            for (i, day) in days.iter().enumerate() {
                let mut list: Vec<(NaiveTime, NaiveTime, usize)> = Vec::new();
                for spec in day.iter().flatten() {
                    match parse_interval(spec.get_ref()) {
                        Ok((s, e)) => list.push((s, e, spec.span().start)),
                        Err(m) => diags.push(err(spec.span().start, m)),
                    }
                }
                list.sort();
                for w in list.windows(2) {
                    if w[1].0 < w[0].1 {
                        diags.push(err(
                            w[1].2,
                            format!(
                                "interval starting {} overlaps the one ending {}",
                                w[1].0.format("%H:%M"),
                                w[0].1.format("%H:%M")
                            ),
                        ));
                    }
                }
                hours[i] = list.into_iter().map(|(s, e, _)| (s, e)).collect();
            }
            let mut holidays = Vec::new();
            for h in &r.holidays {
                let names = names(&h.get_ref().name, h.span().start, &err, &mut diags);
                let date = match (&h.get_ref().date, &h.get_ref().easter) {
                    (Some(d), None) => match parse_holiday_date(d.get_ref()) {
                        Ok(date) => date,
                        Err(m) => {
                            diags.push(err(d.span().start, m));
                            continue;
                        }
                    },
                    (None, Some(n)) => {
                        if !(-100..=100).contains(n.get_ref()) {
                            diags.push(err(
                                n.span().start,
                                format!("easter offset {} is more than 100 days", n.get_ref()),
                            ));
                            continue;
                        }
                        HolidayDate::Easter(*n.get_ref())
                    }
                    _ => {
                        diags.push(
                            err(h.span().start, "a holiday needs either `date` or `easter`".into())
                                .with_hint("date = \"MM-DD\" or \"YYYY-MM-DD\"; easter = days from Orthodox Easter"),
                        );
                        continue;
                    }
                };
                holidays.push(Holiday { date, names });
            }
            let mut closures = Vec::new();
            for c in &r.closures {
                let names = names(&c.get_ref().name, c.span().start, &err, &mut diags);
                let from = parse_local(c.get_ref().from.get_ref());
                let to = parse_local(c.get_ref().to.get_ref());
                match (from, to) {
                    (Ok(from), Ok(to)) if from < to => closures.push(Closure { from, to, names }),
                    (Ok(_), Ok(_)) => diags.push(err(
                        c.get_ref().to.span().start,
                        "a closure must end after it starts".into(),
                    )),
                    (Err(m), _) => diags.push(err(c.get_ref().from.span().start, m)),
                    (_, Err(m)) => diags.push(err(c.get_ref().to.span().start, m)),
                }
            }
            regions.insert(
                id.clone(),
                Region {
                    id,
                    tz,
                    hours,
                    holidays,
                    closures,
                },
            );
        }
        let mut lang_region = BTreeMap::new();
        for (lang, region) in &raw.lang_region {
            match lang.parse::<Lang>() {
                Ok(l) if l.code() == lang => {
                    lang_region.insert(l, region.get_ref().clone());
                }
                _ => diags.push(err(
                    region.span().start,
                    format!("unknown language `{lang}` in [lang_region]; use te, el or en"),
                )),
            }
            if !regions.contains_key(region.get_ref()) {
                diags.push(err(
                    region.span().start,
                    format!("unknown region `{}`", region.get_ref()),
                ));
            }
        }
        if !regions.contains_key(raw.default_region.get_ref()) {
            diags.push(
                err(
                    raw.default_region.span().start,
                    format!("unknown region `{}`", raw.default_region.get_ref()),
                )
                .with_hint("define it as [region.<code>]"),
            );
        }
        if !diags.is_empty() {
            return (None, diags);
        }
        (
            Some(Calendar {
                default_region: raw.default_region.into_inner(),
                lang_region,
                regions,
            }),
            diags,
        )
    }

    /// The region for a request: the requested one when the calendar has it, else the
    /// language's, else the default.
    pub fn region(&self, requested: Option<&str>, lang: Lang) -> &Region {
        requested
            .and_then(|r| self.regions.get(&r.trim().to_ascii_uppercase()))
            .or_else(|| {
                self.lang_region
                    .get(&lang)
                    .and_then(|r| self.regions.get(r))
            })
            .or_else(|| self.regions.get(&self.default_region))
            .or_else(|| self.regions.values().next())
            .expect("a parsed calendar has its default region")
    }

    /// True when the calendar defines region `id` (case-insensitive).
    pub fn has_region(&self, id: &str) -> bool {
        self.regions.contains_key(&id.trim().to_ascii_uppercase())
    }
}

fn names(
    raw: &BTreeMap<String, String>,
    offset: usize,
    err: &dyn Fn(usize, String) -> Diagnostic,
    diags: &mut Vec<Diagnostic>,
) -> Names {
    let mut out = Names::new();
    for (k, v) in raw {
        match k.parse::<Lang>() {
            Ok(l) if l.code() == k => {
                out.insert(l, v.clone());
            }
            _ => diags.push(err(offset, format!("unknown language `{k}` in name"))),
        }
    }
    if !out.contains_key(&Lang::En) {
        diags.push(err(
            offset,
            "a holiday or closure needs at least name.en".into(),
        ));
    }
    out
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    if s == "24:00" {
        return Ok(NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).expect("valid"));
    }
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("`{s}` is not a time (HH:MM)"))
}

fn parse_interval(s: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not an interval like \"09:00-18:00\""))?;
    let (start, end) = (parse_time(a.trim())?, parse_time(b.trim())?);
    if start >= end {
        return Err(format!(
            "interval `{s}` ends before it starts (intervals cannot cross midnight)"
        ));
    }
    Ok((start, end))
}

fn parse_holiday_date(s: &str) -> Result<HolidayDate, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str| p.parse::<u32>().ok();
    match parts.as_slice() {
        [m, d] if m.len() == 2 && d.len() == 2 => {
            let (m, d) = (num(m), num(d));
            match (m, d) {
                // 2024 is a leap year, so 02-29 is accepted as a yearly date.
                (Some(m), Some(d)) if NaiveDate::from_ymd_opt(2024, m, d).is_some() => {
                    Ok(HolidayDate::Yearly(m, d))
                }
                _ => Err(format!("`{s}` is not a date that exists (MM-DD)")),
            }
        }
        [_, _, _] => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(HolidayDate::Once)
            .map_err(|_| format!("`{s}` is not a date that exists (YYYY-MM-DD)")),
        _ => Err(format!(
            "`{s}` is not a date: use \"MM-DD\" or \"YYYY-MM-DD\""
        )),
    }
}

fn parse_local(s: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN)))
        .map_err(|_| format!("`{s}` is not a local date-time (YYYY-MM-DDTHH:MM)"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    default_region: Spanned<String>,
    #[serde(default)]
    lang_region: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    region: BTreeMap<String, RawRegion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    timezone: Spanned<String>,
    #[serde(default)]
    hours: RawHours,
    #[serde(default)]
    holidays: Vec<Spanned<RawHoliday>>,
    #[serde(default)]
    closures: Vec<Spanned<RawClosure>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHours {
    mon: Option<Vec<Spanned<String>>>,
    tue: Option<Vec<Spanned<String>>>,
    wed: Option<Vec<Spanned<String>>>,
    thu: Option<Vec<Spanned<String>>>,
    fri: Option<Vec<Spanned<String>>>,
    sat: Option<Vec<Spanned<String>>>,
    sun: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: Option<Spanned<String>>,
    easter: Option<Spanned<i64>>,
    #[serde(default)]
    name: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosure {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    name: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthodox_easter_dates() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(orthodox_easter(2024), d(2024, 5, 5));
        assert_eq!(orthodox_easter(2025), d(2025, 4, 20));
        assert_eq!(orthodox_easter(2026), d(2026, 4, 12));
        assert_eq!(orthodox_easter(2027), d(2027, 5, 2));
    }

    #[test]
    fn bad_intervals_and_dates_are_reported_with_positions() {
        let src = r#"default_region = "GR"
[region.GR]
timezone = "Europe/Athens"
hours.mon = ["18:00-09:00"]
hours.tue = ["09:00-13:00", "12:00-18:00"]
hours.wed = ["9am-5pm"]
holidays = [
  { date = "02-30", name.en = "x" },
  { date = "2026-02-29", name.en = "y" },
  { name.en = "z" },
]
"#;
        let (cal, diags) = Calendar::parse(Path::new("rules/calendar.toml"), src);
        assert!(cal.is_none());
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let expect_at = |line: usize, needle: &str| {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("rules/calendar.toml:{line}:"))
                        && l.contains(needle)),
                "no `{needle}` on line {line}: {lines:#?}"
            )
        };
        expect_at(4, "ends before it starts");
        expect_at(5, "overlaps");
        expect_at(6, "is not a time");
        expect_at(8, "`02-30` is not a date that exists");
        expect_at(9, "`2026-02-29` is not a date that exists");
        expect_at(10, "needs either `date` or `easter`");
    }

    #[test]
    fn unknown_time_zone_and_region() {
        let src = "default_region = \"XX\"\n[region.GR]\ntimezone = \"Europe/Atlantis\"\n";
        let (_, diags) = Calendar::parse(Path::new("c.toml"), src);
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            text[0].starts_with("c.toml:3:12: error: unknown time zone"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("c.toml:1:18: error: unknown region `XX`"),
            "{text:?}"
        );
    }
}
