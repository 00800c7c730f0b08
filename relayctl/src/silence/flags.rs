//! `silence add`'s flags turned into the API's [`SilenceSpec`], and the API's field paths
//! turned back into the flags an operator typed, so a refusal names what to change.

use chrono::{DateTime, Utc};
use opstate::silence::{Field, Matcher, Op, Schedule, SilenceSpec};

/// How a silence's window is given: exactly one form (`--until` may also end a recurring one).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(group(
    clap::ArgGroup::new("window")
        .required(true)
        .multiple(true)
        .args(["for_", "until", "weekly", "cron"])
))]
pub struct Window {
    /// From now (or --starts-at) for this long: 90m, 2h, 1d, 1h30m.
    #[arg(long = "for", id = "for_", value_name = "DURATION", conflicts_with_all = ["until", "weekly", "cron"])]
    pub for_: Option<String>,
    /// The end (RFC 3339); with --weekly or --cron, when the recurring silence stops.
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339)]
    pub until: Option<DateTime<Utc>>,
    /// A one-off's start, if not now (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339, conflicts_with_all = ["weekly", "cron"])]
    pub starts_at: Option<DateTime<Utc>>,
    /// Every week: days and hours, like 'sat,sun 22:00-02:00' (a window past midnight ends
    /// the next day); needs --tz.
    #[arg(long, value_name = "DAYS HH:MM-HH:MM", value_parser = parse_weekly, requires = "tz", conflicts_with = "cron")]
    pub weekly: Option<Weekly>,
    /// A window of --duration from each start of this five-field cron expression, like
    /// '0 22 * * 6'; needs --duration and --tz.
    #[arg(long, value_name = "EXPRESSION", requires_all = ["tz", "duration"])]
    pub cron: Option<String>,
    /// How long each --cron window lasts: 90m, 4h.
    #[arg(long, value_name = "DURATION", requires = "cron")]
    pub duration: Option<String>,
    /// The time zone of --weekly or --cron, an IANA name such as Europe/Berlin or UTC.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

/// `--weekly`: days, then a range of wall-clock times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weekly {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

/// An RFC 3339 time.
pub fn rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{text:?} is not an RFC 3339 time like 2026-05-01T22:00:00Z"))
}

/// `sat,sun 22:00-02:00`: the days and times are checked by the API, with everything else.
pub fn parse_weekly(text: &str) -> Result<Weekly, String> {
    let refuse = || format!("{text:?}: expected days and hours like 'sat,sun 22:00-02:00'");
    let mut parts = text.split_whitespace();
    let (Some(days), Some(hours), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse());
    };
    let days: Vec<String> = days
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let (from, to) = hours.split_once('-').ok_or_else(refuse)?;
    if days.is_empty() || from.is_empty() || to.is_empty() {
        return Err(refuse());
    }
    Ok(Weekly {
        days,
        from: from.to_string(),
        to: to.to_string(),
    })
}

/// One `--match`: `field(=|!=|=~|!~)value`. The field is a word of letters and `_`, so the
/// operator starts at the first other character; `=~` and `!~` are tried before `=` and `!=`
/// (`a=~b` is a regex on `b`, not an equality with `~b`). Spaces around the operator are
/// ignored; a value in double quotes is read as a JSON string (`organization="org 42"`, the
/// form `silence list` prints).
pub fn parse_matcher(text: &str) -> Result<Matcher, String> {
    let trimmed = text.trim_start();
    let field_end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(trimmed.len());
    let name = &trimmed[..field_end];
    let rest = trimmed[field_end..].trim_start();
    let known = || {
        Field::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if name.is_empty() {
        return Err(format!(
            "{text:?}: expected field(=|!=|=~|!~)value, like organization=org-42"
        ));
    }
    let field = Field::ALL
        .into_iter()
        .find(|f| f.as_str() == name)
        .ok_or_else(|| format!("{text:?}: unknown field {name:?} (one of {})", known()))?;
    let (op, value) = [Op::Regex, Op::NotRegex, Op::NotEqual, Op::Equal]
        .into_iter()
        .find_map(|op| rest.strip_prefix(op.as_str()).map(|v| (op, v)))
        .ok_or_else(|| format!("{text:?}: expected one of =, !=, =~, !~ after {name:?}"))?;
    let value = value.trim();
    let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        serde_json::from_str::<String>(value)
            .map_err(|e| format!("{text:?}: the quoted value does not read: {e}"))?
    } else {
        value.to_string()
    };
    Ok(Matcher { field, op, value })
}

/// The schedule of the window flags (clap has made sure one form was given).
pub fn schedule(window: &Window) -> Schedule {
    let tz = window.tz.clone().unwrap_or_default();
    if let Some(weekly) = &window.weekly {
        return Schedule::Weekly {
            time_zone: tz,
            days: weekly.days.clone(),
            from: weekly.from.clone(),
            to: weekly.to.clone(),
            until: window.until,
        };
    }
    if let Some(expression) = &window.cron {
        return Schedule::Cron {
            time_zone: tz,
            expression: expression.clone(),
            duration: window.duration.clone().unwrap_or_default(),
            until: window.until,
        };
    }
    Schedule::Once {
        starts_at: window.starts_at,
        ends_at: window.until,
        duration: window.for_.clone(),
    }
}

/// What the operator typed that an API field path points at: `matchers[1].value` is the
/// second `--match`, `schedule.duration` is `--for` or `--duration`, and so on.
pub fn flag_of(field: &str, spec: &SilenceSpec, matches: &[String]) -> String {
    let head = field.split('.').next().unwrap_or(field);
    if let Some(index) = head
        .strip_prefix("matchers[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
    {
        return match matches.get(index) {
            Some(text) => format!("--match {}", shell_quoted(text)),
            None => "--match".into(),
        };
    }
    let cron = matches!(spec.schedule, Schedule::Cron { .. });
    let flag = match field {
        "matchers" => "--match",
        "reason" => "--reason",
        "author" => "--author",
        "resolved_pass" => "--suppress-resolved",
        "schedule.duration" if cron => "--duration",
        "schedule.duration" => "--for",
        "schedule.ends_at" | "schedule.until" => "--until",
        "schedule.starts_at" => "--starts-at",
        "schedule.time_zone" => "--tz",
        "schedule.days" | "schedule.from" | "schedule.to" => "--weekly",
        "schedule.expression" => "--cron",
        _ if field.starts_with("schedule.days") => "--weekly",
        _ if field.starts_with("schedule") => match spec.schedule {
            Schedule::Once { .. } => "--for/--until",
            Schedule::Weekly { .. } => "--weekly",
            Schedule::Cron { .. } => "--cron",
        },
        _ => return field.to_string(),
    };
    flag.to_string()
}

/// `text` as it would be typed in a shell: in single quotes, unless it holds one.
fn shell_quoted(text: &str) -> String {
    if text.contains('\'') {
        format!("{text:?}")
    } else {
        format!("'{text}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(text: &str) -> (Field, Op, String) {
        let m = parse_matcher(text).unwrap_or_else(|e| panic!("{e}"));
        (m.field, m.op, m.value)
    }

    #[test]
    fn the_operator_is_read_longest_first() {
        assert_eq!(
            matcher("organization=org-42"),
            (Field::Organization, Op::Equal, "org-42".into())
        );
        assert_eq!(
            matcher(r"event_type=~m365\..*"),
            (Field::EventType, Op::Regex, r"m365\..*".into())
        );
        assert_eq!(
            matcher("severity!=info"),
            (Field::Severity, Op::NotEqual, "info".into())
        );
        assert_eq!(
            matcher("device!~lab-.*"),
            (Field::Device, Op::NotRegex, "lab-.*".into())
        );
        // The value may hold operators of its own.
        assert_eq!(
            matcher("user=a=~b"),
            (Field::User, Op::Equal, "a=~b".into())
        );
        assert_eq!(
            matcher("organization = org-42"),
            (Field::Organization, Op::Equal, "org-42".into())
        );
        assert_eq!(
            matcher(r#"organization="Contoso \"EU\"""#),
            (Field::Organization, Op::Equal, "Contoso \"EU\"".into())
        );
        assert_eq!(
            matcher("ioc_rule=~"),
            (Field::IocRule, Op::Regex, String::new())
        );
    }

    #[test]
    fn a_bad_matcher_says_what_was_expected() {
        for bad in ["", "=x", "organisation=x", "organization", "organization~x"] {
            assert!(parse_matcher(bad).is_err(), "{bad:?} refused");
        }
        let unknown = parse_matcher("org=x").expect_err("unknown field");
        assert!(unknown.contains("event_type"), "{unknown}");
    }

    #[test]
    fn weekly_windows_are_days_then_hours() {
        assert_eq!(
            parse_weekly("sat,sun 22:00-02:00"),
            Ok(Weekly {
                days: vec!["sat".into(), "sun".into()],
                from: "22:00".into(),
                to: "02:00".into(),
            })
        );
        for bad in [
            "sat,sun",
            "22:00-02:00",
            "sat 22:00",
            "sat 22:00- x",
            ", 1-2",
        ] {
            assert!(parse_weekly(bad).is_err(), "{bad:?} refused");
        }
    }

    #[test]
    fn field_paths_name_the_flags_typed() {
        let spec = SilenceSpec {
            matchers: Vec::new(),
            schedule: Schedule::Cron {
                time_zone: "UTC".into(),
                expression: "0 22 * * 6".into(),
                duration: "4h".into(),
                until: None,
            },
            reason: String::new(),
            author: String::new(),
            resolved_pass: None,
        };
        let typed = vec!["organization=a".to_string(), "event_type=~(".to_string()];
        assert_eq!(
            flag_of("matchers[1].value", &spec, &typed),
            "--match 'event_type=~('"
        );
        assert_eq!(flag_of("schedule.duration", &spec, &typed), "--duration");
        assert_eq!(flag_of("schedule.time_zone", &spec, &typed), "--tz");
        assert_eq!(flag_of("reason", &spec, &typed), "--reason");
    }
}
