//! Schedules evaluated: weekly and cron windows across midnight and DST, and a silence's
//! state and the set's validity over time.

use super::*;

#[test]
fn a_weekly_window_crosses_midnight_into_the_next_day() {
    // Created Friday 2026-05-01; Saturday 22:00 to Sunday 02:00 in Berlin (CEST, +2).
    let created = at("2026-05-01T10:00:00Z");
    let s = silence(
        org("org-42"),
        weekly("Europe/Berlin", &["sat"], "22:00", "02:00"),
        created,
    );
    let window = Window {
        start: at("2026-05-02T20:00:00Z"),
        end: at("2026-05-03T00:00:00Z"),
    };
    assert_eq!(s.window_at(at("2026-05-02T19:59:59Z")), None);
    assert_eq!(s.window_at(at("2026-05-02T20:00:00Z")), Some(window));
    assert_eq!(
        s.window_at(at("2026-05-02T23:30:00Z")),
        Some(window),
        "Sunday 01:30 local"
    );
    assert_eq!(
        s.window_at(at("2026-05-03T00:00:00Z")),
        None,
        "the end is exclusive"
    );
    assert_eq!(
        s.state_at(at("2026-05-03T00:00:00Z")),
        SilenceState::Pending
    );
    // Sunday's own evening is not a window.
    assert_eq!(s.window_at(at("2026-05-03T21:00:00Z")), None);
}

#[test]
fn a_weekly_window_keeps_local_time_across_dst_in_berlin() {
    let created = at("2026-03-01T00:00:00Z");
    let s = silence(
        org("org-42"),
        weekly("Europe/Berlin", &["sat"], "22:00", "02:00"),
        created,
    );
    // Spring forward on Sunday 2026-03-29 at 02:00 CET: Saturday 22:00 CET is 21:00Z, and
    // Sunday 02:00 does not exist, so the window ends when the clock jumps (03:00 CEST).
    let spring = s.window_at(at("2026-03-28T23:00:00Z")).expect("open");
    assert_eq!(spring.start, at("2026-03-28T21:00:00Z"));
    assert_eq!(spring.end, at("2026-03-29T01:00:00Z"));
    // A week later, in summer time: 22:00 CEST is 20:00Z.
    let summer = s.window_at(at("2026-04-04T21:00:00Z")).expect("open");
    assert_eq!(summer.start, at("2026-04-04T20:00:00Z"));
    // Fall back on Sunday 2026-10-25 at 03:00 CEST: Saturday 22:00 CEST is 20:00Z; Sunday
    // 02:00 happens twice and the earlier (CEST, 00:00Z) ends the window.
    let autumn = s.window_at(at("2026-10-24T21:00:00Z")).expect("open");
    assert_eq!(autumn.start, at("2026-10-24T20:00:00Z"));
    assert_eq!(autumn.end, at("2026-10-25T00:00:00Z"));
    assert_eq!(
        s.window_at(at("2026-10-25T00:30:00Z")),
        None,
        "02:30 CEST, once more"
    );
    // The next Saturday, in winter time: 22:00 CET is 21:00Z.
    let winter = s.window_at(at("2026-10-31T21:30:00Z")).expect("open");
    assert_eq!(winter.start, at("2026-10-31T21:00:00Z"));
    assert_eq!(winter.end, at("2026-11-01T01:00:00Z"));
}

#[test]
fn a_weekly_window_in_a_skipped_or_repeated_hour_in_new_york() {
    let created = at("2026-03-01T00:00:00Z");
    // Spring forward on Sunday 2026-03-08, 02:00 EST -> 03:00 EDT: 02:30 does not exist and
    // moves to 03:00 EDT (07:00Z); 05:00 EDT is 09:00Z.
    let s = silence(
        org("org-42"),
        weekly("America/New_York", &["sun"], "02:30", "05:00"),
        created,
    );
    let spring = s.window_at(at("2026-03-08T08:00:00Z")).expect("open");
    assert_eq!(
        (spring.start, spring.end),
        (at("2026-03-08T07:00:00Z"), at("2026-03-08T09:00:00Z"))
    );
    assert_eq!(s.window_at(at("2026-03-08T06:59:00Z")), None);
    // Fall back on Sunday 2026-11-01, 02:00 EDT -> 01:00 EST: 01:30 happens twice; the window
    // 01:30-01:45 is the first (EDT) one.
    let s = silence(
        org("org-42"),
        weekly("America/New_York", &["sun"], "01:30", "01:45"),
        created,
    );
    let autumn = s.window_at(at("2026-11-01T05:40:00Z")).expect("open");
    assert_eq!(
        (autumn.start, autumn.end),
        (at("2026-11-01T05:30:00Z"), at("2026-11-01T05:45:00Z"))
    );
    assert_eq!(
        s.window_at(at("2026-11-01T06:35:00Z")),
        None,
        "01:35 EST, the second time"
    );
}

#[test]
fn a_weekly_silence_created_mid_window_mutes_from_its_creation() {
    let created = at("2026-05-02T21:00:00Z"); // Saturday 23:00 in Berlin
    let s = silence(
        org("org-42"),
        weekly("Europe/Berlin", &["sat"], "22:00", "02:00"),
        created,
    );
    let window = s.window_at(at("2026-05-02T22:00:00Z")).expect("open");
    assert_eq!(
        (window.start, window.end),
        (created, at("2026-05-03T00:00:00Z"))
    );
}

#[test]
fn a_24_hour_weekly_window_runs_from_from_to_the_same_time_next_day() {
    let created = at("2026-05-01T00:00:00Z");
    let s = silence(
        org("org-42"),
        weekly("UTC", &["mon"], "06:00", "06:00"),
        created,
    );
    let window = s.window_at(at("2026-05-05T05:00:00Z")).expect("open");
    assert_eq!(
        (window.start, window.end),
        (at("2026-05-04T06:00:00Z"), at("2026-05-05T06:00:00Z"))
    );
}

fn cron(zone: &str, expression: &str, duration: &str) -> Value {
    json!({"kind": "cron", "time_zone": zone, "expression": expression, "duration": duration})
}

#[test]
fn a_cron_window_opens_at_each_start_for_its_duration() {
    let created = at("2026-05-01T00:00:00Z");
    // Saturdays 02:00 Berlin (00:00Z in summer) for three hours.
    let s = silence(
        org("org-42"),
        cron("Europe/Berlin", "0 2 * * sat", "3h"),
        created,
    );
    let window = Window {
        start: at("2026-05-02T00:00:00Z"),
        end: at("2026-05-02T03:00:00Z"),
    };
    assert_eq!(s.window_at(at("2026-05-01T23:59:59Z")), None);
    assert_eq!(s.window_at(at("2026-05-02T00:00:00Z")), Some(window));
    assert_eq!(s.window_at(at("2026-05-02T02:59:59Z")), Some(window));
    assert_eq!(s.window_at(at("2026-05-02T03:00:00Z")), None);
    assert_eq!(
        s.window_at(at("2026-05-09T01:00:00Z")).map(|w| w.start),
        Some(at("2026-05-09T00:00:00Z"))
    );
}

#[test]
fn a_cron_window_is_found_days_back_and_ranges_steps_and_lists_work() {
    let created = at("2026-04-01T00:00:00Z");
    // The first of each month at 00:00 UTC for three days.
    let s = silence(org("org-42"), cron("UTC", "0 0 1 * *", "3d"), created);
    let window = s.window_at(at("2026-05-03T12:00:00Z")).expect("open");
    assert_eq!(
        (window.start, window.end),
        (at("2026-05-01T00:00:00Z"), at("2026-05-04T00:00:00Z"))
    );
    // Every 15 minutes from 08:00 to 09:59 on weekdays, for 5 minutes.
    let s = silence(
        org("org-42"),
        cron("UTC", "*/15 8-9 * * mon-fri", "5m"),
        created,
    );
    assert_eq!(
        s.window_at(at("2026-05-01T09:47:00Z")).map(|w| w.start),
        Some(at("2026-05-01T09:45:00Z"))
    );
    assert_eq!(s.window_at(at("2026-05-01T09:51:00Z")), None);
    assert_eq!(s.window_at(at("2026-05-01T10:02:00Z")), None);
    assert_eq!(s.window_at(at("2026-05-02T09:46:00Z")), None, "Saturday");
    // Lists and names.
    let s = silence(
        org("org-42"),
        cron("UTC", "0,30 12 * jan,may *", "10m"),
        created,
    );
    assert!(s.window_at(at("2026-05-20T12:35:00Z")).is_some());
    assert!(s.window_at(at("2026-06-20T12:35:00Z")).is_none());
}

#[test]
fn cron_day_fields_combine_like_vixie_cron() {
    let created = at("2026-04-01T00:00:00Z");
    // Both restricted: the 13th OR any Friday. 2026-05-13 is a Wednesday, 2026-05-08 a Friday.
    let either = silence(org("org-42"), cron("UTC", "0 12 13 * fri", "1h"), created);
    assert!(either.window_at(at("2026-05-13T12:30:00Z")).is_some());
    assert!(either.window_at(at("2026-05-08T12:30:00Z")).is_some());
    assert!(either.window_at(at("2026-05-12T12:30:00Z")).is_none());
    // A `*`-led day-of-month: both must hold (odd days that are Fridays). 2026-05-01 is an
    // odd Friday, 2026-05-08 an even one.
    let both = silence(org("org-42"), cron("UTC", "0 12 */2 * fri", "1h"), created);
    assert!(both.window_at(at("2026-05-01T12:30:00Z")).is_some());
    assert!(both.window_at(at("2026-05-08T12:30:00Z")).is_none());
    // 7 is Sunday too, and a range may end on Sunday by name.
    let sunday = silence(org("org-42"), cron("UTC", "0 12 * * 7", "1h"), created);
    assert!(sunday.window_at(at("2026-05-03T12:30:00Z")).is_some());
    let weekend = silence(
        org("org-42"),
        cron("UTC", "0 12 * * sat-sun", "1h"),
        created,
    );
    assert!(weekend.window_at(at("2026-05-02T12:30:00Z")).is_some());
    assert!(weekend.window_at(at("2026-05-03T12:30:00Z")).is_some());
    assert!(weekend.window_at(at("2026-05-04T12:30:00Z")).is_none());
}

#[test]
fn a_cron_start_in_the_skipped_hour_moves_to_the_end_of_the_gap() {
    let created = at("2026-03-01T00:00:00Z");
    // Every day 02:30 Berlin for one hour. On 2026-03-29 02:30 does not exist: 03:00 CEST.
    let s = silence(
        org("org-42"),
        cron("Europe/Berlin", "30 2 * * *", "1h"),
        created,
    );
    let before = s.window_at(at("2026-03-28T01:45:00Z")).expect("open");
    assert_eq!(before.start, at("2026-03-28T01:30:00Z"), "02:30 CET");
    let gap = s.window_at(at("2026-03-29T01:15:00Z")).expect("open");
    assert_eq!(
        (gap.start, gap.end),
        (at("2026-03-29T01:00:00Z"), at("2026-03-29T02:00:00Z"))
    );
    let after = s.window_at(at("2026-03-30T00:45:00Z")).expect("open");
    assert_eq!(after.start, at("2026-03-30T00:30:00Z"), "02:30 CEST");
    // On 2026-10-25 02:30 happens twice: the earlier (CEST, 00:30Z) starts the window.
    let fold = s.window_at(at("2026-10-25T01:00:00Z")).expect("open");
    assert_eq!(fold.start, at("2026-10-25T00:30:00Z"));
    assert_eq!(
        s.window_at(at("2026-10-25T01:45:00Z")),
        None,
        "02:45 CET, the second time"
    );
}

#[test]
fn a_cron_window_in_new_york_follows_daylight_time() {
    let created = at("2026-03-01T00:00:00Z");
    let s = silence(
        org("org-42"),
        cron("America/New_York", "0 1 * * sun", "2h"),
        created,
    );
    // Sunday 2026-03-08 01:00 EST is 06:00Z; the clock jumps at 02:00 but the window lasts
    // two elapsed hours.
    let spring = s.window_at(at("2026-03-08T07:30:00Z")).expect("open");
    assert_eq!(
        (spring.start, spring.end),
        (at("2026-03-08T06:00:00Z"), at("2026-03-08T08:00:00Z"))
    );
    // A week later 01:00 EDT is 05:00Z.
    let summer = s.window_at(at("2026-03-15T05:30:00Z")).expect("open");
    assert_eq!(summer.start, at("2026-03-15T05:00:00Z"));
}

#[test]
fn a_one_off_is_pending_then_active_then_expired_and_can_be_expired_early() {
    let created = at("2026-05-01T10:00:00Z");
    let mut s = silence(
        org("org-42"),
        json!({"kind": "once", "starts_at": "2026-05-02T00:00:00Z", "ends_at": "2026-05-03T00:00:00Z"}),
        created,
    );
    assert_eq!(s.state_at(created), SilenceState::Pending);
    assert_eq!(s.window_at(created), None);
    assert_eq!(s.state_at(at("2026-05-02T12:00:00Z")), SilenceState::Active);
    assert_eq!(
        s.window_at(at("2026-05-02T12:00:00Z")),
        Some(Window {
            start: at("2026-05-02T00:00:00Z"),
            end: at("2026-05-03T00:00:00Z")
        })
    );
    assert_eq!(
        s.state_at(at("2026-05-03T00:00:00Z")),
        SilenceState::Expired
    );
    s.expired_at = Some(at("2026-05-02T06:00:00Z"));
    assert_eq!(s.state_at(at("2026-05-02T05:00:00Z")), SilenceState::Active);
    assert_eq!(
        s.window_at(at("2026-05-02T05:00:00Z")).map(|w| w.end),
        Some(at("2026-05-02T06:00:00Z"))
    );
    assert_eq!(
        s.state_at(at("2026-05-02T12:00:00Z")),
        SilenceState::Expired
    );
    assert_eq!(
        serde_json::to_value(SilenceState::Pending).expect("encodes"),
        "pending"
    );
}

#[test]
fn a_recurring_silence_expires_at_until() {
    let created = at("2026-05-01T10:00:00Z");
    let schedule = json!({"kind": "weekly", "time_zone": "UTC", "days": ["sat"], "from": "22:00",
                          "to": "02:00", "until": "2026-05-03T01:00:00Z"});
    let s = silence(org("org-42"), schedule, created);
    assert_eq!(s.state_at(created), SilenceState::Pending);
    let window = s.window_at(at("2026-05-02T23:00:00Z")).expect("open");
    assert_eq!(window.end, at("2026-05-03T01:00:00Z"), "cut at until");
    assert_eq!(
        s.state_at(at("2026-05-03T01:00:00Z")),
        SilenceState::Expired
    );
}

#[test]
fn valid_until_is_the_soonest_window_start_or_end() {
    let now = at("2026-05-01T10:00:00Z"); // a Friday
    let active_until_noon = silence(
        org("org-1"),
        json!({"kind": "once", "ends_at": "2026-05-01T12:00:00Z"}),
        now,
    );
    let weekly_from_eleven = silence(org("org-2"), weekly("UTC", &["fri"], "11:00", "13:00"), now);
    let set = ActiveSilences::new(
        &[active_until_noon.clone(), weekly_from_eleven.clone()],
        now,
    );
    assert_eq!(set.len(), 1);
    assert_eq!(set.valid_until(), Some(at("2026-05-01T11:00:00Z")));

    let set = ActiveSilences::new(std::slice::from_ref(&active_until_noon), now);
    assert_eq!(set.valid_until(), Some(at("2026-05-01T12:00:00Z")));

    let cron_at_half_past = silence(org("org-3"), cron("UTC", "30 * * * *", "10m"), now);
    let set = ActiveSilences::new(&[active_until_noon, cron_at_half_past], now);
    assert_eq!(set.valid_until(), Some(at("2026-05-01T10:30:00Z")));

    let mut expired = silence(org("org-4"), json!({"kind": "once", "duration": "1h"}), now);
    expired.expired_at = Some(now - Duration::minutes(1));
    let set = ActiveSilences::new(&[expired], now);
    assert!(set.is_empty());
    assert_eq!(set.valid_until(), None);
    assert_eq!(ActiveSilences::empty().valid_until(), None);
}

#[test]
fn a_stored_silence_that_no_longer_parses_never_mutes() {
    let now = at("2026-05-01T10:00:00Z");
    let mut s = silence(
        org("org-42"),
        weekly("UTC", &["fri"], "09:00", "11:00"),
        now,
    );
    assert!(s.window_at(now).is_some());
    if let Schedule::Weekly { time_zone, .. } = &mut s.checked.schedule {
        *time_zone = "Nowhere/Gone".into();
    }
    assert_eq!(s.window_at(now), None);
    assert_eq!(s.state_at(now), SilenceState::Expired);
    assert!(ActiveSilences::new(&[s], now).is_empty());
}
