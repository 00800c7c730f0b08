//! Cron windows: a window of `duration` from each start of a five-field cron expression.
//!
//! Parsed here rather than with a cron crate: the dialect is small, and the searches need the
//! same wall-clock rules as weekly windows (`zone`) and to go both ways (the latest start at
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
//! Evaluating one at an instant walks back at most `duration` (itself at most the maximum
//! length) a day at a time, deciding each day from bit sets in constant time unless the day
//! has an offset change.

use super::window::Window;
use super::zone::{at, at_offset, plain_offset, resolve};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// How far ahead a cron expression is searched for its next start: every expression
/// accepted fires within this span (checked on submission), since the calendar repeats every
/// 28 years within 1901–2099.
const CRON_HORIZON_DAYS: i64 = 29 * 366;

/// A cron schedule, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Cron {
    pub(super) tz: Tz,
    pub(super) spec: CronSpec,
    pub(super) duration: Duration,
}

impl Cron {
    pub(super) fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
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

    pub(super) fn next_start_after(
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

/// A parsed five-field cron expression, each field a bit set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CronSpec {
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
    pub(super) fn parse(expression: &str, today: NaiveDate) -> Result<CronSpec, Vec<String>> {
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

    pub(super) fn parse_fields(expression: &str) -> Result<CronSpec, Vec<String>> {
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
