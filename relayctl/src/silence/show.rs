//! Silences written for people: the summary of one just added, and the table of `list`.

use super::Listed;
use crate::text::{clip, utc};
use chrono::{DateTime, Utc};
use opstate::silence::{format_duration, Matcher, Schedule, Silence, OPEN_END};
use std::fmt::Write as _;

/// Columns of `silence list`.
pub const COLUMNS: [&str; 8] = [
    "ID",
    "STATE",
    "MATCHERS",
    "SCHEDULE",
    "ENDS",
    "SUPPRESSED",
    "REASON",
    "AUTHOR",
];
/// Characters of an id in the table: enough to tell silences apart, and what `expire` and
/// `extend` accept.
pub const SHORT_ID: usize = 8;
/// Longest reason in the table (the JSON keeps it whole).
const REASON_COLUMN: usize = 40;

/// `organization="org-42", event_type=~"m365\\..*"` (the form `--match` reads back).
pub fn matchers(matchers: &[Matcher]) -> String {
    matchers
        .iter()
        .map(Matcher::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The schedule in a few words: `once for 2h`, `weekly sat,sun 22:00-02:00 Europe/Berlin`,
/// `cron "0 22 * * 6" for 4h UTC`.
pub fn schedule(silence: &Silence) -> String {
    match &silence.checked.schedule {
        Schedule::Once { .. } => format!(
            "once for {}",
            format_duration(silence.checked.ends_at - silence.checked.starts_at)
        ),
        Schedule::Weekly {
            time_zone,
            days,
            from,
            to,
            ..
        } => format!("weekly {} {from}-{to} {time_zone}", days.join(",")),
        Schedule::Cron {
            time_zone,
            expression,
            duration,
            ..
        } => format!("cron {expression:?} for {duration} {time_zone}"),
    }
}

/// When it stops applying: `expired <time>` if an operator ended it, `never` for an
/// open-ended recurring silence, else its end.
pub fn end(silence: &Silence) -> String {
    match silence.expired_at {
        Some(at) if at < silence.checked.ends_at => format!("expired {}", utc(at)),
        _ if silence.checked.ends_at >= OPEN_END => "never".into(),
        _ => utc(silence.checked.ends_at),
    }
}

/// The lines printed once a silence is added.
pub fn added(listed: &Listed, now: DateTime<Utc>) -> String {
    let s = &listed.silence;
    let c = &s.checked;
    let mut out = format!("added silence {} ({})\n", s.id, listed.state);
    let _ = writeln!(out, "  matchers  {}", matchers(&c.matchers));
    let _ = write!(out, "  schedule  {}", schedule(s));
    if matches!(c.schedule, Schedule::Once { .. }) {
        let _ = write!(out, ", {} to {}", utc(c.starts_at), utc(c.ends_at));
    } else {
        let _ = write!(out, ", until {}", end(s));
    }
    out.push('\n');
    if let Some(window) = s.window_at(now) {
        let _ = writeln!(out, "  muting    now, until {}", utc(window.end));
    }
    let _ = writeln!(out, "  reason    {}", clip(&c.reason, 200));
    let _ = writeln!(out, "  author    {}", clip(&c.author, 200));
    let resolved = if c.resolved_pass {
        "pass (they still reach their ticket)"
    } else {
        "muted too"
    };
    let _ = writeln!(out, "  resolved  {resolved}");
    out
}

/// One row per silence, in the order of [`COLUMNS`].
pub fn rows(silences: &[Listed]) -> Vec<Vec<String>> {
    silences
        .iter()
        .map(|l| {
            let s = &l.silence;
            vec![
                s.id.to_string().chars().take(SHORT_ID).collect(),
                l.state.to_string(),
                matchers(&s.checked.matchers),
                schedule(s),
                end(s),
                l.suppressed.to_string(),
                clip(&s.checked.reason, REASON_COLUMN),
                clip(&s.checked.author, REASON_COLUMN),
            ]
        })
        .collect()
}

/// The line `list` prints when there is no silence to show.
pub fn none(all: bool) -> &'static str {
    if all {
        "no silence"
    } else {
        "no silence active or pending (--all shows those over)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opstate::silence::SilenceState;
    use serde_json::json;

    fn listed(schedule: serde_json::Value, ends_at: &str) -> Listed {
        serde_json::from_value(json!({
            "id": "5f0c2a9e-1b7d-4c3e-9a61-2f0b8d4e7c11",
            "matchers": [
                {"field": "organization", "op": "=", "value": "org-42"},
                {"field": "event_type", "op": "=~", "value": "m365\\..*"},
            ],
            "schedule": schedule,
            "reason": "patch night",
            "author": "alice",
            "resolved_pass": true,
            "starts_at": "2026-12-01T22:00:00Z",
            "ends_at": ends_at,
            "created_at": "2026-12-01T22:00:00Z",
            "updated_at": "2026-12-01T22:00:00Z",
            "expired_at": null,
            "state": "active",
            "suppressed": 3,
        }))
        .expect("the API's silence reads")
    }

    #[test]
    fn a_row_shows_the_short_id_matchers_schedule_and_end() {
        let once = listed(
            json!({"kind": "once", "starts_at": "2026-12-01T22:00:00Z", "ends_at": "2026-12-02T00:00:00Z"}),
            "2026-12-02T00:00:00Z",
        );
        assert_eq!(once.state, SilenceState::Active);
        assert_eq!(
            rows(&[once])[0],
            vec![
                "5f0c2a9e",
                "active",
                "organization=\"org-42\", event_type=~\"m365\\\\..*\"",
                "once for 2h",
                "2026-12-02T00:00:00Z",
                "3",
                "patch night",
                "alice",
            ]
        );
        let weekly = listed(
            json!({"kind": "weekly", "time_zone": "Europe/Berlin", "days": ["sat", "sun"], "from": "22:00", "to": "02:00"}),
            "9999-12-31T23:59:59Z",
        );
        let row = &rows(&[weekly])[0];
        assert_eq!(row[3], "weekly sat,sun 22:00-02:00 Europe/Berlin");
        assert_eq!(row[4], "never");
    }

    #[test]
    fn the_printed_matchers_read_back_as_match_flags() {
        let once = listed(json!({"kind": "once"}), "2026-12-02T00:00:00Z");
        for text in matchers(&once.silence.checked.matchers).split(", ") {
            let back = super::super::flags::parse_matcher(text).expect("reads back");
            assert!(once.silence.checked.matchers.contains(&back), "{text}");
        }
    }
}
