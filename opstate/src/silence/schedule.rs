//! When a silence applies: a one-off span, or recurring windows (weekly, or cron) in an IANA
//! time zone, checked on submission and evaluated at an instant.
//!
//! # Local time
//!
//! Recurring windows are laid out on the wall clock of their time zone (chrono-tz), so a window
//! "Sat 22:00–02:00" in Europe/Berlin starts at 22:00 local on the night of a DST change too.
//! Turning a wall-clock time into an instant follows java.time / Vixie cron:
//! - a time the clock skips (spring forward) is moved forward to the first instant after the
//!   gap (02:30 on the night Berlin jumps from 02:00 to 03:00 becomes 03:00 CEST);
//! - a time the clock shows twice (fall back) takes the earlier instant (the summer one).
//!
//! With these two rules the mapping from wall clock to instant never runs backwards, which is
//! what lets the searches below stop at the first candidate they find.
//!
//! # Weekly
//!
//! `from`/`to` are `HH:MM` wall-clock times; a window starts on each listed day at `from` and
//! ends at `to` the same day, or the next day when `to <= from` (`to == from` is a 24-hour
//! window). The length checked against the maximum is the nominal wall-clock length, so a
//! window over a DST change may really last an hour more or less; a window lying wholly in
//! a skipped hour does not happen that day.
//!
//! # Cron
//!
//! Parsed here rather than with a cron crate: the dialect is small, and the searches need the
//! same wall-clock rules as weekly windows (above) and to go both ways (the latest start at
//! or before an instant, the next one after) a day at a time; keeping that in one place
//! costs ~200 lines and no dependency. The dialect is classic Vixie cron with five fields,
//! `minute hour day-of-month month day-of-week`: `*`, numbers, `a-b` ranges, `/step` (on `*`,
//! a range, or a single start `a/step` meaning `a-max/step`), comma lists, month names
//! `jan`–`dec` and day names `sun`–`sat` (case-insensitive), day-of-week 0 or 7 for Sunday.
//! As in Vixie cron, when both day fields are restricted (neither starts with `*`) a day
//! matches if *either* matches; otherwise both must. Not supported (refused): `?`, `L`, `W`,
//! `#`, six-field (seconds) expressions and `@daily`-style macros. A cron window lasts
//! `duration` of elapsed time from each start (so 2h over a DST change is still 2 real hours).
//!
//! # Cost
//!
//! Evaluating a schedule at an instant walks days, not minutes: weekly looks at four days around the instant;
//! cron walks back at most `duration` (itself at most the maximum length) a day at a time,
//! deciding each day from bit sets in constant time unless the day has an offset change.

use super::Problem;
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The end of an open-ended recurring silence (no `until`): 9999-12-31T23:59:59Z.
///
/// Not `DateTime::<Utc>::MAX_UTC`: that is beyond what RFC 3339 and PostgreSQL's `timestamptz`
/// can hold, and the store writes this value.
pub const OPEN_END: DateTime<Utc> = match (
    NaiveDate::from_ymd_opt(9999, 12, 31),
    NaiveTime::from_hms_opt(23, 59, 59),
) {
    (Some(date), Some(time)) => NaiveDateTime::new(date, time).and_utc(),
    _ => DateTime::<Utc>::MAX_UTC,
};

/// How far ahead a cron expression is searched for its next start: every expression
/// accepted fires within this span (checked on submission), since the calendar repeats every
/// 28 years within 1901–2099.
const CRON_HORIZON_DAYS: i64 = 29 * 366;

/// When a silence applies, as an operator submits it (`kind` tells the variants apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// One span: from `starts_at` (default: when submitted) until `ends_at` or for `duration`
    /// (exactly one of the two). Once checked, both `starts_at` and `ends_at` are set and
    /// `duration` is gone.
    Once {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        starts_at: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ends_at: Option<DateTime<Utc>>,
        /// Like `90m`, `2h`, `1d`, `1h30m` (units `w`, `d`, `h`, `m`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
    },
    /// A window on each listed day, from `from` to `to` local time (`to <= from` ends the next
    /// day), until `until` if given.
    Weekly {
        /// An IANA name such as `Europe/Berlin`.
        time_zone: String,
        /// `mon` … `sun` (full names accepted; checked as three letters).
        days: Vec<String>,
        /// `HH:MM`, 24-hour clock.
        from: String,
        /// `HH:MM`, 24-hour clock.
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
    /// A window of `duration` from each start of a five-field cron expression in `time_zone`.
    Cron {
        time_zone: String,
        expression: String,
        duration: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
}

/// One occurrence of a silence: muting from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// Whether `at` falls inside the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// A schedule that passed its checks, as [`Checked`](super::Checked) holds it: its span.
pub(crate) struct CheckedSchedule {
    pub(crate) schedule: Schedule,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
}

impl Schedule {
    /// Checks the schedule, adding every problem to `problems`; the normalised schedule and
    /// its whole span when there is none. A recurring silence spans from `now` to `until`, or
    /// to [`OPEN_END`] without one.
    pub(crate) fn check(
        &self,
        max_length: Duration,
        now: DateTime<Utc>,
        problems: &mut Vec<Problem>,
    ) -> Option<CheckedSchedule> {
        let before = problems.len();
        match self {
            Schedule::Once {
                starts_at,
                ends_at,
                duration,
            } => {
                let starts = starts_at.unwrap_or(now);
                let end = match (ends_at, duration) {
                    (Some(_), Some(_)) => {
                        fail(problems, "schedule", "give ends_at or duration, not both");
                        None
                    }
                    (None, None) => {
                        fail(
                            problems,
                            "schedule.ends_at",
                            "is required (or give duration)",
                        );
                        None
                    }
                    (Some(end), None) => Some(("schedule.ends_at", *end)),
                    (None, Some(text)) => check_duration("schedule.duration", text, problems)
                        .and_then(|length| match starts.checked_add_signed(length) {
                            Some(end) => Some(("schedule.duration", end)),
                            None => {
                                fail(problems, "schedule.duration", "is too long");
                                None
                            }
                        }),
                };
                let (field, end) = end?;
                if end <= starts {
                    fail(
                        problems,
                        field,
                        format!("must end after the silence starts ({})", rfc3339(starts)),
                    );
                }
                if end <= now {
                    fail(
                        problems,
                        field,
                        format!("the silence would end in the past ({})", rfc3339(end)),
                    );
                }
                let span = end - starts;
                if span > max_length {
                    fail(
                        problems,
                        field,
                        format!(
                            "the silence would last {}, longer than the maximum of {}",
                            format_duration(span),
                            format_duration(max_length)
                        ),
                    );
                }
                (problems.len() == before).then_some(CheckedSchedule {
                    schedule: Schedule::Once {
                        starts_at: Some(starts),
                        ends_at: Some(end),
                        duration: None,
                    },
                    starts_at: starts,
                    ends_at: end,
                })
            }
            Schedule::Weekly {
                time_zone,
                days,
                from,
                to,
                until,
            } => {
                let tz = check_time_zone(time_zone, problems);
                let day_set = check_days(days, problems);
                let from_time = check_clock("schedule.from", from, problems);
                let to_time = check_clock("schedule.to", to, problems);
                if let (Some(from_time), Some(to_time)) = (from_time, to_time) {
                    let length = nominal_length(from_time, to_time);
                    if length > max_length {
                        fail(
                            problems,
                            "schedule.to",
                            format!(
                                "each window would last {}, longer than the maximum of {}",
                                format_duration(length),
                                format_duration(max_length)
                            ),
                        );
                    }
                }
                check_until(*until, now, problems);
                let (Some(tz), Some(day_set), Some(from_time), Some(to_time)) =
                    (tz, day_set, from_time, to_time)
                else {
                    return None;
                };
                let plan = Plan::Weekly(Weekly {
                    tz,
                    days: day_set,
                    from: from_time,
                    to: to_time,
                });
                check_fires_before_until(&plan, *until, now, problems);
                (problems.len() == before).then(|| CheckedSchedule {
                    schedule: Schedule::Weekly {
                        time_zone: tz.name().to_string(),
                        days: WEEK
                            .iter()
                            .filter(|d| day_set[d.num_days_from_monday() as usize])
                            .map(|d| day_name(*d).to_string())
                            .collect(),
                        from: from_time.format("%H:%M").to_string(),
                        to: to_time.format("%H:%M").to_string(),
                        until: *until,
                    },
                    starts_at: now,
                    ends_at: until.unwrap_or(OPEN_END),
                })
            }
            Schedule::Cron {
                time_zone,
                expression,
                duration,
                until,
            } => {
                let tz = check_time_zone(time_zone, problems);
                let spec = match CronSpec::parse(expression, now.date_naive()) {
                    Ok(spec) => Some(spec),
                    Err(messages) => {
                        for message in messages {
                            fail(problems, "schedule.expression", message);
                        }
                        None
                    }
                };
                let length = check_duration("schedule.duration", duration, problems);
                if let Some(length) = length.filter(|l| *l > max_length) {
                    fail(
                        problems,
                        "schedule.duration",
                        format!(
                            "each window would last {}, longer than the maximum of {}",
                            format_duration(length),
                            format_duration(max_length)
                        ),
                    );
                }
                check_until(*until, now, problems);
                let (Some(tz), Some(spec), Some(length)) = (tz, spec, length) else {
                    return None;
                };
                let plan = Plan::Cron(Cron {
                    tz,
                    spec,
                    duration: length,
                });
                check_fires_before_until(&plan, *until, now, problems);
                (problems.len() == before).then(|| CheckedSchedule {
                    schedule: Schedule::Cron {
                        time_zone: tz.name().to_string(),
                        expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
                        duration: format_duration(length),
                        until: *until,
                    },
                    starts_at: now,
                    ends_at: until.unwrap_or(OPEN_END),
                })
            }
        }
    }

    /// The schedule ready for evaluation; `None` if it no longer parses (a stored silence
    /// whose time zone left the tz database, say), which callers treat as never active: a
    /// silence that cannot be understood must not mute anything.
    pub(crate) fn plan(&self) -> Option<Plan> {
        match self {
            Schedule::Once { .. } => Some(Plan::Once),
            Schedule::Weekly {
                time_zone,
                days,
                from,
                to,
                ..
            } => {
                let mut days_set = [false; 7];
                for day in days {
                    days_set[parse_day(day)?.num_days_from_monday() as usize] = true;
                }
                Some(Plan::Weekly(Weekly {
                    tz: time_zone.trim().parse().ok()?,
                    days: days_set,
                    from: parse_clock(from)?,
                    to: parse_clock(to)?,
                }))
            }
            Schedule::Cron {
                time_zone,
                expression,
                duration,
                ..
            } => Some(Plan::Cron(Cron {
                tz: time_zone.trim().parse().ok()?,
                // The "fires at all" check was done on submission; do not redo it per call.
                spec: CronSpec::parse_fields(expression).ok()?,
                duration: parse_duration(duration).filter(|d| *d > Duration::zero())?,
            })),
        }
    }
}

/// A schedule ready for evaluation; the silence's own span (`starts_at`, `ends_at`) is applied
/// by the caller.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// A one-off: always "on"; the silence's span is the window.
    Once,
    Weekly(Weekly),
    Cron(Cron),
}

impl Plan {
    /// The occurrence containing `now`, if any (the latest-starting one if several overlap).
    pub(crate) fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
        match self {
            Plan::Once => Some(Window {
                start: DateTime::<Utc>::MIN_UTC,
                end: DateTime::<Utc>::MAX_UTC,
            }),
            Plan::Weekly(weekly) => weekly.window_at(now),
            Plan::Cron(cron) => cron.window_at(now),
        }
    }

    /// The first occurrence start strictly after `after` and strictly before `limit`.
    pub(crate) fn next_start_after(
        &self,
        after: DateTime<Utc>,
        limit: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let start = match self {
            Plan::Once => None,
            Plan::Weekly(weekly) => weekly.next_start_after(after),
            Plan::Cron(cron) => cron.next_start_after(after, limit),
        }?;
        (start < limit).then_some(start)
    }
}

/// A weekly schedule, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Weekly {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    days: [bool; 7],
    from: NaiveTime,
    to: NaiveTime,
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

    fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
        let today = now.with_timezone(&self.tz).date_naive();
        // A window lasts at most a day (25 hours over a DST change), so one containing `now`
        // started today or yesterday; a day more each way covers folds around midnight.
        // Latest first, so the latest-starting window wins.
        (-1..=2)
            .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
            .filter_map(|day| self.window_on(day))
            .find(|window| window.contains(now))
    }

    fn next_start_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = after.with_timezone(&self.tz).date_naive();
        (-1..=8)
            .filter_map(|ahead| today.checked_add_signed(Duration::days(ahead)))
            .filter_map(|day| self.window_on(day))
            .map(|window| window.start)
            .find(|start| *start > after)
    }
}

/// A cron schedule, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Cron {
    tz: Tz,
    spec: CronSpec,
    duration: Duration,
}

impl Cron {
    fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
        // The window containing `now` is the one of the latest start at or before `now`, if
        // that start is less than `duration` ago.
        let earliest = now.checked_sub_signed(self.duration)?;
        let mut day = now.with_timezone(&self.tz).date_naive().succ_opt()?;
        let last = earliest.with_timezone(&self.tz).date_naive().pred_opt()?;
        while day >= last {
            if self.spec.day_matches(day) {
                if let Some(start) = self.latest_on(day, now) {
                    return (start > earliest).then(|| Window {
                        start,
                        end: start + self.duration,
                    });
                }
            }
            day = day.pred_opt()?;
        }
        None
    }

    fn next_start_after(
        &self,
        after: DateTime<Utc>,
        limit: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let horizon = after
            .checked_add_signed(Duration::days(CRON_HORIZON_DAYS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let last = limit.min(horizon).with_timezone(&self.tz).date_naive();
        let mut day = after.with_timezone(&self.tz).date_naive().pred_opt()?;
        while day <= last {
            if self.spec.day_matches(day) {
                if let Some(start) = self.earliest_on(day, after) {
                    return Some(start);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The latest start on local day `day` at or before `now`.
    fn latest_on(&self, day: NaiveDate, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match plain_offset(self.tz, day) {
            Some(offset) => {
                let target = now.with_timezone(&offset).naive_local();
                let (hour, minute) = if day < target.date() {
                    self.spec.last_of_day()?
                } else if day == target.date() {
                    self.spec
                        .latest_at_or_before(target.hour(), target.minute())?
                } else {
                    return None;
                };
                Some(at_offset(day, hour, minute, offset))
            }
            None => self
                .spec
                .times_of_day()
                .rev()
                .map(|(hour, minute)| resolve(self.tz, at(day, hour, minute)))
                .find(|start| *start <= now),
        }
    }

    /// The earliest start on local day `day` strictly after `after`.
    fn earliest_on(&self, day: NaiveDate, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match plain_offset(self.tz, day) {
            Some(offset) => {
                let target = after.with_timezone(&offset).naive_local();
                let (hour, minute) = if day > target.date() {
                    self.spec.first_of_day()?
                } else if day == target.date() {
                    self.spec.earliest_after(target.hour(), target.minute())?
                } else {
                    return None;
                };
                Some(at_offset(day, hour, minute, offset))
            }
            None => self
                .spec
                .times_of_day()
                .map(|(hour, minute)| resolve(self.tz, at(day, hour, minute)))
                .find(|start| *start > after),
        }
    }
}

/// `day` at `hour:minute` on the wall clock.
fn at(day: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
}

/// `day` at `hour:minute` in a fixed offset, as an instant.
fn at_offset(day: NaiveDate, hour: u32, minute: u32, offset: FixedOffset) -> DateTime<Utc> {
    (at(day, hour, minute) - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
}

/// The UTC offset of local day `day` when it is the same all day (no DST change), so its
/// wall-clock times map to instants by plain arithmetic.
fn plain_offset(tz: Tz, day: NaiveDate) -> Option<FixedOffset> {
    let start = tz.offset_from_local_datetime(&day.and_time(NaiveTime::MIN));
    let end = tz.offset_from_local_datetime(&day.succ_opt()?.and_time(NaiveTime::MIN));
    match (start, end) {
        (LocalResult::Single(a), LocalResult::Single(b)) if a.fix() == b.fix() => Some(a.fix()),
        _ => None,
    }
}

/// The instant a wall-clock time stands for in `tz`: the earlier of two when the clock shows
/// it twice, the first instant after the gap when the clock skips it.
pub(crate) fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => first_instant_at_or_after(tz, local),
    }
}

/// The first instant whose wall-clock reading in `tz` is at or after `local`, found by
/// bisection over the two days around it (offsets stay within ±14 hours, so the wall clock
/// reads before `local` a day earlier and after it a day later).
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let guess = local.and_utc().timestamp();
    let (mut before, mut after) = (guess - 86_400, guess + 86_400);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        match DateTime::from_timestamp(middle, 0) {
            Some(at) if at.with_timezone(&tz).naive_local() >= local => after = middle,
            Some(_) => before = middle,
            None => break,
        }
    }
    DateTime::from_timestamp(after, 0).unwrap_or_else(|| local.and_utc())
}

/// A parsed five-field cron expression, each field a bit set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CronSpec {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Bit 0 is Sunday (7 is folded into it).
    days_of_week: u64,
    /// Whether a day field starts with `*`: Vixie cron then requires both day fields to
    /// match, otherwise either.
    any_day_of_month: bool,
    any_day_of_week: bool,
}

/// One field of a cron expression: its name (for messages), range and names.
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ….
    names: &'static [&'static str],
}

const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

impl CronSpec {
    /// Parses an expression and checks that it fires at least once within the search
    /// horizon from `today` (`0 0 31 2 *` never does). Every problem is returned.
    fn parse(expression: &str, today: NaiveDate) -> Result<CronSpec, Vec<String>> {
        let spec = CronSpec::parse_fields(expression)?;
        let fires = (0..CRON_HORIZON_DAYS)
            .filter_map(|ahead| today.checked_add_signed(Duration::days(ahead)))
            .any(|day| spec.day_matches(day));
        if fires {
            Ok(spec)
        } else {
            Err(vec![
                "never fires: no date matches its day and month fields".into(),
            ])
        }
    }

    fn parse_fields(expression: &str) -> Result<CronSpec, Vec<String>> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != CRON_FIELDS.len() {
            return Err(vec![format!(
                "must have 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )]);
        }
        let mut errors = Vec::new();
        let mut bits = [0u64; 5];
        for ((text, field), slot) in fields.iter().zip(&CRON_FIELDS).zip(&mut bits) {
            match parse_cron_field(text, field) {
                Ok(set) => *slot = set,
                Err(message) => errors.push(format!("{}: {message}", field.name)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let [minutes, hours, days_of_month, months, days_of_week] = bits;
        Ok(CronSpec {
            minutes,
            hours,
            days_of_month,
            months,
            // Sunday is 0 or 7.
            days_of_week: (days_of_week | (days_of_week >> 7)) & 0x7f,
            any_day_of_month: fields[2].starts_with('*'),
            any_day_of_week: fields[4].starts_with('*'),
        })
    }

    fn day_matches(&self, day: NaiveDate) -> bool {
        if !has(self.months, day.month()) {
            return false;
        }
        let by_month_day = has(self.days_of_month, day.day());
        let by_week_day = has(self.days_of_week, day.weekday().num_days_from_sunday());
        if self.any_day_of_month || self.any_day_of_week {
            by_month_day && by_week_day
        } else {
            by_month_day || by_week_day
        }
    }

    /// Every start time of a matching day, earliest first.
    fn times_of_day(&self) -> impl DoubleEndedIterator<Item = (u32, u32)> + '_ {
        (0..24u32)
            .filter(|h| has(self.hours, *h))
            .flat_map(move |h| {
                (0..60u32)
                    .filter(|m| has(self.minutes, *m))
                    .map(move |m| (h, m))
            })
    }

    fn first_of_day(&self) -> Option<(u32, u32)> {
        Some((
            lowest_at_or_above(self.hours, 0)?,
            lowest_at_or_above(self.minutes, 0)?,
        ))
    }

    fn last_of_day(&self) -> Option<(u32, u32)> {
        Some((
            highest_at_or_below(self.hours, 63)?,
            highest_at_or_below(self.minutes, 63)?,
        ))
    }

    /// The latest start time at or before `hour:minute`.
    fn latest_at_or_before(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        if has(self.hours, hour) {
            if let Some(m) = highest_at_or_below(self.minutes, minute) {
                return Some((hour, m));
            }
        }
        let h = highest_at_or_below(self.hours, hour.checked_sub(1)?)?;
        Some((h, highest_at_or_below(self.minutes, 63)?))
    }

    /// The earliest start time strictly after `hour:minute` (of the same day).
    fn earliest_after(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        if has(self.hours, hour) {
            if let Some(m) = lowest_at_or_above(self.minutes, minute + 1) {
                return Some((hour, m));
            }
        }
        let h = lowest_at_or_above(self.hours, hour + 1)?;
        Some((h, lowest_at_or_above(self.minutes, 0)?))
    }
}

/// Parses one cron field into a bit set (bit n set when value n is included).
fn parse_cron_field(text: &str, field: &CronField) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| (1..=field.max).contains(s))
                    .ok_or_else(|| {
                        format!("step `{step}` must be a number from 1 to {}", field.max)
                    })?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else if let Some((low, high)) = range.split_once('-') {
            // `mon-sun`: a range ending on Sunday by name means 7, not 0.
            let high = if field.max == 7 && high.eq_ignore_ascii_case("sun") {
                7
            } else {
                cron_value(high, field)?
            };
            (cron_value(low, field)?, high)
        } else {
            let value = cron_value(range, field)?;
            (value, if step.is_some() { field.max } else { value })
        };
        if low > high {
            return Err(format!("range `{range}` runs backwards"));
        }
        let step = step.unwrap_or(1) as usize;
        for value in (low..=high).step_by(step) {
            set |= 1 << value;
        }
    }
    Ok(set)
}

fn cron_value(text: &str, field: &CronField) -> Result<u32, String> {
    let by_number = text
        .parse::<u32>()
        .ok()
        .filter(|v| (field.min..=field.max).contains(v));
    let by_name = || {
        field
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .and_then(|index| u32::try_from(index).ok())
            .map(|index| index + field.min)
    };
    by_number.or_else(by_name).ok_or_else(|| {
        let names = match field.names {
            [] => String::new(),
            [first, .., last] => format!(" or a name {first}–{last}"),
            [only] => format!(" or {only}"),
        };
        format!(
            "`{text}` is not a number from {} to {}{names}",
            field.min, field.max
        )
    })
}

fn has(set: u64, value: u32) -> bool {
    value < 64 && set & (1 << value) != 0
}

fn highest_at_or_below(set: u64, value: u32) -> Option<u32> {
    let masked = if value >= 63 {
        set
    } else {
        set & ((1u64 << (value + 1)) - 1)
    };
    (masked != 0).then(|| 63 - masked.leading_zeros())
}

fn lowest_at_or_above(set: u64, value: u32) -> Option<u32> {
    if value >= 64 {
        return None;
    }
    let masked = set & (u64::MAX << value);
    (masked != 0).then(|| masked.trailing_zeros())
}

/// Parses a duration like `90m`, `2h`, `1d`, `1h30m` or `1w`: whole numbers each followed by
/// a unit `w`, `d`, `h` or `m`. `None` when it is not one (or does not fit).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let mut minutes: i64 = 0;
    let mut number: Option<i64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(digit))?,
            );
        } else {
            let unit = match c {
                'w' => 7 * 24 * 60,
                'd' => 24 * 60,
                'h' => 60,
                'm' => 1,
                _ => return None,
            };
            minutes = minutes.checked_add(number.take()?.checked_mul(unit)?)?;
        }
    }
    if number.is_some() || text.is_empty() {
        return None; // a number without a unit, or nothing at all
    }
    Duration::try_minutes(minutes)
}

/// A duration in the units operators write: `30d`, `12h`, `1d12h`, `1h30m` (seconds only if
/// there are any).
pub fn format_duration(duration: Duration) -> String {
    let mut out = String::new();
    if duration < Duration::zero() {
        out.push('-');
    }
    let seconds = duration.num_seconds().unsigned_abs();
    let parts = [
        (seconds / 86_400, 'd'),
        (seconds % 86_400 / 3_600, 'h'),
        (seconds % 3_600 / 60, 'm'),
        (seconds % 60, 's'),
    ];
    for (count, unit) in parts.into_iter().filter(|(count, _)| *count > 0) {
        let _ = write!(out, "{count}{unit}");
    }
    if seconds == 0 {
        out = "0m".into();
    }
    out
}

fn fail(problems: &mut Vec<Problem>, field: &str, message: impl Into<String>) {
    problems.push(Problem::new(field, message));
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn check_duration(field: &str, text: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    match parse_duration(text) {
        Some(length) if length > Duration::zero() => Some(length),
        Some(_) => {
            fail(problems, field, "must be longer than zero");
            None
        }
        None => {
            fail(
                problems,
                field,
                "must be a duration like 90m, 2h, 1d or 1h30m",
            );
            None
        }
    }
}

fn check_time_zone(text: &str, problems: &mut Vec<Problem>) -> Option<Tz> {
    let parsed = text.trim().parse::<Tz>().ok();
    if parsed.is_none() {
        fail(
            problems,
            "schedule.time_zone",
            format!("`{text}` is not an IANA time zone such as Europe/Berlin or UTC"),
        );
    }
    parsed
}

fn check_days(days: &[String], problems: &mut Vec<Problem>) -> Option<[bool; 7]> {
    if days.is_empty() {
        fail(problems, "schedule.days", "must name at least one day");
        return None;
    }
    let mut set = [false; 7];
    let mut ok = true;
    for (index, day) in days.iter().enumerate() {
        match parse_day(day) {
            Some(day) => set[day.num_days_from_monday() as usize] = true,
            None => {
                ok = false;
                fail(
                    problems,
                    &format!("schedule.days[{index}]"),
                    format!("`{day}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                );
            }
        }
    }
    ok.then_some(set)
}

fn check_clock(field: &str, text: &str, problems: &mut Vec<Problem>) -> Option<NaiveTime> {
    let parsed = parse_clock(text);
    if parsed.is_none() {
        fail(
            problems,
            field,
            format!("`{text}` is not a time HH:MM from 00:00 to 23:59"),
        );
    }
    parsed
}

fn check_until(until: Option<DateTime<Utc>>, now: DateTime<Utc>, problems: &mut Vec<Problem>) {
    if let Some(until) = until.filter(|u| *u <= now) {
        fail(
            problems,
            "schedule.until",
            format!("is in the past ({})", rfc3339(until)),
        );
    }
}

/// A recurring silence whose `until` comes before its first window would never mute.
fn check_fires_before_until(
    plan: &Plan,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) {
    let Some(until) = until.filter(|u| *u > now) else {
        return;
    };
    if plan.window_at(now).is_none() && plan.next_start_after(now, until).is_none() {
        fail(
            problems,
            "schedule.until",
            "no window of the schedule starts before it",
        );
    }
}

/// The days of the week in the order they are listed back, Monday first.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// `mon` … `sun` or the full English name, any case.
fn parse_day(text: &str) -> Option<Weekday> {
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

fn day_name(day: Weekday) -> &'static str {
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
fn parse_clock(text: &str) -> Option<NaiveTime> {
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
fn nominal_length(from: NaiveTime, to: NaiveTime) -> Duration {
    let length = to - from;
    if length <= Duration::zero() {
        length + Duration::days(1)
    } else {
        length
    }
}
