//! When a silence applies: a one-off span, or recurring windows (weekly, or cron) in an IANA
//! time zone, checked on submission and evaluated at an instant.
//!
//! - this file: what an operator submits ([`Schedule`]), its checks (every problem with its
//!   field) and normalisation into a span, and the `Plan` it becomes for evaluation;
//! - `weekly`: windows on listed days between two wall-clock times;
//! - `cron`: a window of a duration from each start of a five-field cron expression;
//! - `zone`: a time zone's wall-clock time as an instant across DST changes, the rules both
//!   recurring kinds share;
//! - `window`: one occurrence ([`Window`]); `duration`: lengths in operator units.
//!
//! The parts parse and evaluate; only this file knows about [`Problem`]s and spans, and none
//! of them imports from it (`weekly` and `cron` build on `zone` and `window`).
//! Evaluating a schedule at an instant walks days, not minutes.

mod cron;
mod duration;
mod weekly;
mod window;
mod zone;

pub use duration::{format_duration, parse_duration};
pub use window::Window;

use super::problem::Problem;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use cron::{Cron, CronSpec};
use serde::{Deserialize, Serialize};
use weekly::{day_name, nominal_length, parse_clock, parse_day, Weekly, WEEK};

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
