//! Lengths in the units operators write (`90m`, `2h`, `1d`, `1h30m`, `1w`): parsed from a
//! one-off's or a cron window's `duration`, printed back in checks' messages and the API.

use chrono::Duration;
use std::fmt::Write as _;

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
