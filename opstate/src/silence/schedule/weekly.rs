//! Weekly windows: on each listed day, from one wall-clock time to another.
//!
//! `from`/`to` are `HH:MM` wall-clock times; a window starts on each listed day at `from` and
//! ends at `to` the same day, or the next day when `to <= from` (`to == from` is a 24-hour
//! window). The length checked against the maximum is the nominal wall-clock length, so a
//! window over a DST change may really last an hour more or less; a window lying wholly in
//! a skipped hour does not happen that day. Evaluating one at an instant looks at four days
//! around it.

use super::window::Window;
use super::zone::resolve;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

/// A weekly schedule, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Weekly {
    pub(super) tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    pub(super) days: [bool; 7],
    pub(super) from: NaiveTime,
    pub(super) to: NaiveTime,
}

impl Weekly {
    /// The window starting on local day `day`, if `day` is one of the schedule's.
    fn window_on(&self, day: NaiveDate) -> Option<Window> {
        if !self.days[day.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let start = resolve(self.tz, day.and_time(self.from));
        let end_day = if self.to > self.from {
            day
        } else {
            day.succ_opt()?
        };
        let end = resolve(self.tz, end_day.and_time(self.to));
        (end > start).then_some(Window { start, end })
    }

    pub(super) fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
        let today = now.with_timezone(&self.tz).date_naive();
        // A window lasts at most a day (25 hours over a DST change), so one containing `now`
        // started today or yesterday; a day more each way covers folds around midnight.
        // Latest first, so the latest-starting window wins.
        (-1..=2)
            .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
            .filter_map(|day| self.window_on(day))
            .find(|window| window.contains(now))
    }

    pub(super) fn next_start_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = after.with_timezone(&self.tz).date_naive();
        (-1..=8)
            .filter_map(|ahead| today.checked_add_signed(Duration::days(ahead)))
            .filter_map(|day| self.window_on(day))
            .map(|window| window.start)
            .find(|start| *start > after)
    }
}

/// The days of the week in the order they are listed back, Monday first.
pub(super) const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// `mon` … `sun` or the full English name, any case.
pub(super) fn parse_day(text: &str) -> Option<Weekday> {
    let day = match text.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

pub(super) fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// `H:MM` or `HH:MM`, 00:00 to 23:59.
pub(super) fn parse_clock(text: &str) -> Option<NaiveTime> {
    let (hour, minute) = text.trim().split_once(':')?;
    let digits = |s: &str, lengths: &[usize]| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(hour, &[1, 2]) || !digits(minute, &[2]) {
        return None;
    }
    NaiveTime::from_hms_opt(hour.parse().ok()?, minute.parse().ok()?, 0)
}

/// The wall-clock length of a weekly window.
pub(super) fn nominal_length(from: NaiveTime, to: NaiveTime) -> Duration {
    let length = to - from;
    if length <= Duration::zero() {
        length + Duration::days(1)
    } else {
        length
    }
}
