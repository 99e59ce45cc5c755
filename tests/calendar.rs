//! Business hours around daylight-saving changes, half-hour offsets, movable and fixed
//! holidays, split shifts, and the exact minutes of opening and closing.

use chrono::{DateTime, Utc};
use sahaya::hours::Calendar;
use sahaya::{Engine, Lang, Message};
use std::path::Path;

fn shipped() -> Calendar {
    let (cal, diags) = Calendar::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(diags.is_empty(), "{diags:?}");
    cal.unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn open(region: &str, t: &str) -> bool {
    shipped().region(Some(region), Lang::En).status(at(t)).open
}

fn next(region: &str, t: &str) -> String {
    shipped()
        .region(Some(region), Lang::En)
        .status(at(t))
        .next_open
        .unwrap()
        .to_rfc3339()
}

#[test]
fn athens_hours_follow_daylight_saving_time() {
    // Summer time ends on Sunday 25 October 2026: 09:00 is UTC+3 on Friday, UTC+2 on Monday.
    assert!(open("GR", "2026-10-23T06:00:00Z"), "Friday 09:00 EEST");
    assert!(!open("GR", "2026-10-23T05:59:00Z"), "Friday 08:59 EEST");
    assert!(!open("GR", "2026-10-26T06:30:00Z"), "Monday 08:30 EET");
    assert!(open("GR", "2026-10-26T07:00:00Z"), "Monday 09:00 EET");
    // Saturday after 14:00 local: back on Monday at 09:00 local, i.e. 07:00 UTC in winter.
    assert_eq!(
        next("GR", "2026-10-24T12:00:00Z"),
        "2026-10-26T09:00:00+02:00"
    );
    // Summer time starts on Sunday 29 March 2026.
    assert!(!open("GR", "2026-03-30T05:59:00Z"), "Monday 08:59 EEST");
    assert!(open("GR", "2026-03-30T06:00:00Z"), "Monday 09:00 EEST");
    assert_eq!(
        next("GR", "2026-03-28T13:00:00Z"),
        "2026-03-30T09:00:00+03:00"
    );
}

#[test]
fn kolkata_is_five_and_a_half_hours_ahead() {
    assert!(!open("IN", "2026-11-25T03:29:00Z"), "08:59 IST");
    assert!(open("IN", "2026-11-25T03:30:00Z"), "09:00 IST");
    assert!(open("IN", "2026-11-25T12:29:59Z"), "17:59:59 IST");
    assert!(!open("IN", "2026-11-25T12:30:00Z"), "18:00 IST");
    assert_eq!(
        next("IN", "2026-11-25T12:30:00Z"),
        "2026-11-26T09:00:00+05:30"
    );
}

#[test]
fn greek_movable_and_fixed_holidays() {
    let cal = shipped();
    let gr = cal.region(Some("GR"), Lang::El);
    // Clean Monday 2026 is 23 February (Orthodox Easter 12 April − 48 days).
    let clean = gr.status(at("2026-02-23T10:00:00+02:00"));
    assert!(!clean.open);
    assert_eq!(clean.holiday_name(Lang::El), Some("Καθαρά Δευτέρα"));
    assert_eq!(
        clean.next_open.unwrap().to_rfc3339(),
        "2026-02-24T09:00:00+02:00"
    );
    // Easter Monday 2027 is 3 May; Good Friday 2027 is 30 April.
    let monday = gr.status(at("2027-05-03T11:00:00+03:00"));
    assert_eq!(
        monday.holiday_name(Lang::En),
        Some("Orthodox Easter Monday")
    );
    assert!(!gr.status(at("2027-04-30T11:00:00+03:00")).open);
    assert!(
        gr.status(at("2027-04-29T11:00:00+03:00")).open,
        "Holy Thursday is a working day"
    );
    // 28 October is fixed; in 2026 it is a Wednesday.
    let ochi = gr.status(at("2026-10-28T10:00:00+02:00"));
    assert_eq!(ochi.holiday_name(Lang::El), Some("28η Οκτωβρίου"));
    assert_eq!(
        ochi.next_open.unwrap().to_rfc3339(),
        "2026-10-29T09:00:00+02:00"
    );
    // Christmas and the day after, then a Sunday: back on Monday 28 December 2026.
    assert_eq!(
        gr.status(at("2026-12-25T10:00:00+02:00"))
            .next_open
            .unwrap()
            .to_rfc3339(),
        "2026-12-28T09:00:00+02:00"
    );
}

#[test]
fn telugu_festivals_are_listed_per_year() {
    let cal = shipped();
    let ind = cal.region(Some("IN"), Lang::Te);
    let ugadi = ind.status(at("2026-03-19T10:00:00+05:30"));
    assert_eq!(ugadi.holiday_name(Lang::Te), Some("ఉగాది"));
    assert!(
        ind.status(at("2027-03-19T10:00:00+05:30")).open,
        "Ugadi moves"
    );
    assert_eq!(
        ind.status(at("2026-10-20T10:00:00+05:30"))
            .holiday_name(Lang::Te),
        Some("దసరా")
    );
    assert!(
        !ind.status(at("2026-01-26T10:00:00+05:30")).open,
        "Republic Day"
    );
}

const SPLIT: &str = r#"
default_region = "CY"
[region.CY]
timezone = "Asia/Nicosia"
hours.mon = ["08:00-13:00", "16:00-19:00"]
hours.tue = ["08:00-13:00", "16:00-19:00"]
closures = [ { from = "2026-12-01T16:00", to = "2026-12-01T17:30", name.en = "Staff meeting" } ]
"#;

#[test]
fn split_shift_opening_and_closing_minutes() {
    let (cal, diags) = Calendar::parse(Path::new("split.toml"), SPLIT);
    assert!(diags.is_empty(), "{diags:?}");
    let cy = cal.unwrap();
    let cy = cy.region(None, Lang::En);
    // Monday 30 November 2026, UTC+2.
    let s = |t: &str| cy.status(at(t));
    assert!(s("2026-11-30T08:00:00+02:00").open, "exactly at opening");
    assert!(!s("2026-11-30T07:59:59+02:00").open);
    assert!(s("2026-11-30T12:59:59+02:00").open);
    assert!(!s("2026-11-30T13:00:00+02:00").open, "exactly at closing");
    let lunch = s("2026-11-30T14:00:00+02:00");
    assert!(!lunch.open);
    assert_eq!(
        lunch.next_open.unwrap().to_rfc3339(),
        "2026-11-30T16:00:00+02:00"
    );
    assert!(s("2026-11-30T16:00:00+02:00").open);
    assert!(!s("2026-11-30T19:00:00+02:00").open);
    // Tuesday evening → the next Monday (no hours Wednesday to Sunday).
    assert_eq!(
        s("2026-12-01T19:30:00+02:00")
            .next_open
            .unwrap()
            .to_rfc3339(),
        "2026-12-07T08:00:00+02:00"
    );
    // A one-off closure inside the afternoon shift: open again when it ends.
    let meeting = s("2026-12-01T16:15:00+02:00");
    assert!(!meeting.open);
    assert_eq!(meeting.holiday_name(Lang::En), Some("Staff meeting"));
    assert_eq!(
        meeting.next_open.unwrap().to_rfc3339(),
        "2026-12-01T17:30:00+02:00"
    );
}

#[test]
fn after_hours_notice_names_the_next_opening_in_the_customers_time_zone() {
    let engine = Engine::load(env!("CARGO_MANIFEST_DIR")).unwrap();
    // 07:00 UTC on Wednesday 25 November 2026 is 09:00 in Athens (open) and 12:30 in Kolkata
    // (open); on Sunday 29 November both are closed.
    let r = engine.respond(&Message {
        text: "నా పార్సెల్ ఎక్కడ ఉంది?".into(),
        at: Some("2026-11-29T07:00:00Z".into()),
        ..Message::default()
    });
    assert!(r.after_hours);
    assert!(r.text.contains("రేపు"), "tomorrow in Kolkata: {}", r.text);
    assert!(r.text.contains("ఉదయం 9:00"), "{}", r.text);
    // The same instant for a customer of the Indian region living in Athens: the opening
    // (Monday 09:00 IST) is shown in Athens time, 05:30.
    let r = engine.respond(&Message {
        text: "Where is my parcel?".into(),
        at: Some("2026-11-29T07:00:00Z".into()),
        customer: Some(sahaya::Customer {
            region: Some("IN".into()),
            timezone: Some("Europe/Athens".into()),
            ..Default::default()
        }),
        ..Message::default()
    });
    assert!(r.text.contains("tomorrow at 05:30"), "{}", r.text);
}
