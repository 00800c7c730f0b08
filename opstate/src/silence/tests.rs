//! Unit tests of the silence logic: checks, matching, schedules across midnight and DST.

use super::*;
use serde_json::{json, Value};
use shared::alert::Alert;
use uuid::Uuid;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 timestamp")
        .with_timezone(&Utc)
}

fn limits() -> Limits {
    Limits {
        max_length: Duration::days(30),
        default_resolved_pass: true,
    }
}

fn spec(value: Value) -> SilenceSpec {
    serde_json::from_value(value).expect("a silence spec")
}

/// A spec with `matchers` and `schedule`, the rest filled in.
fn spec_of(matchers: Value, schedule: Value) -> SilenceSpec {
    spec(json!({
        "matchers": matchers,
        "schedule": schedule,
        "reason": "firmware upgrade",
        "author": "jane",
    }))
}

fn stored(checked: Checked, created_at: DateTime<Utc>, id: u128) -> Silence {
    Silence {
        id: Uuid::from_u128(id),
        checked,
        created_at,
        updated_at: created_at,
        expired_at: None,
    }
}

/// A silence checked and stored at `now`.
fn silence(matchers: Value, schedule: Value, now: DateTime<Utc>) -> Silence {
    let checked = spec_of(matchers, schedule)
        .check(&limits(), now)
        .expect("a valid silence");
    stored(checked, now, 1)
}

fn org(id: &str) -> Value {
    json!([{"field": "organization", "op": "=", "value": id}])
}

fn alert_message(overrides: Value) -> AlertMessage {
    let mut value = json!({
        "id": "evt-1",
        "event_type": "m365.impossible_travel",
        "severity": "high",
        "organization": {"id": "org-42", "name": "Contoso"},
        "title": "Impossible travel",
        "occurred_at": "2026-05-01T10:00:00Z",
        "respond_rule": {"id": "rr-7", "name": "Travel"},
        "ioc_rule": {"id": "ioc-1"},
        "user": "j.doe@contoso.com",
        "device": {"name": "LAPTOP-7", "serial": "SN123", "mac": "F8-75-A4-19-C6-22"},
    });
    let (Value::Object(base), Value::Object(extra)) = (&mut value, overrides) else {
        panic!("objects expected");
    };
    for (key, field) in extra {
        if field.is_null() {
            base.remove(&key);
        } else {
            base.insert(key, field);
        }
    }
    let alert = Alert::from_json(&value, "").expect("a valid alert");
    AlertMessage::new("sentinel", alert, at("2026-05-01T10:00:01Z"))
}

fn fields(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.field.as_str()).collect()
}

fn weekly(zone: &str, days: &[&str], from: &str, to: &str) -> Value {
    json!({"kind": "weekly", "time_zone": zone, "days": days, "from": from, "to": to})
}

// ---------------------------------------------------------------- checks

#[test]
fn every_problem_is_listed_at_once() {
    let long = "x".repeat(1025);
    let spec = spec(json!({
        "matchers": [
            {"field": "event_type", "op": "=~", "value": "a(b"},
            {"field": "severity", "op": "=", "value": "urgent"},
            {"field": "user", "op": "=", "value": "  "},
            {"field": "device", "op": "!=", "value": long},
        ],
        "schedule": {"kind": "weekly", "time_zone": "Mars/Olympus", "days": ["mon", "funday"],
                     "from": "25:00", "to": "7pm", "until": "2020-01-01T00:00:00Z"},
        "reason": " ",
        "author": "",
    }));
    let problems = spec
        .check(&limits(), at("2026-05-01T10:00:00Z"))
        .expect_err("invalid");
    assert_eq!(
        fields(&problems),
        [
            "matchers[0].value",
            "matchers[1].value",
            "matchers[2].value",
            "matchers[3].value",
            "schedule.time_zone",
            "schedule.days[1]",
            "schedule.from",
            "schedule.to",
            "schedule.until",
            "reason",
            "author",
        ],
        "{problems:#?}"
    );
    assert_eq!(
        problems[0].message,
        "is not a valid regular expression: unclosed group"
    );
    assert!(problems[1].message.contains("urgent"), "{problems:#?}");
    assert!(problems[3].message.contains("1024 bytes"), "{problems:#?}");
}

#[test]
fn a_one_off_over_the_maximum_ending_in_the_past_reports_both() {
    let now = at("2026-05-01T10:00:00Z");
    let spec = spec_of(
        org("org-42"),
        json!({"kind": "once", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"}),
    );
    let problems = spec.check(&limits(), now).expect_err("invalid");
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(fields(&problems), ["schedule.ends_at", "schedule.ends_at"]);
    assert!(messages[0].contains("in the past"), "{messages:?}");
    assert_eq!(
        messages[1],
        "the silence would last 90d, longer than the maximum of 30d"
    );
}

#[test]
fn a_one_off_needs_exactly_one_of_ends_at_and_duration() {
    let now = at("2026-05-01T10:00:00Z");
    let both = spec_of(
        org("org-42"),
        json!({"kind": "once", "ends_at": "2026-05-02T00:00:00Z", "duration": "2h"}),
    );
    let neither = spec_of(org("org-42"), json!({"kind": "once"}));
    let both = both.check(&limits(), now).expect_err("both");
    let neither = neither.check(&limits(), now).expect_err("neither");
    assert_eq!(fields(&both), ["schedule"]);
    assert_eq!(fields(&neither), ["schedule.ends_at"]);
}

#[test]
fn a_duration_becomes_ends_at_from_now() {
    let now = at("2026-05-01T10:00:00Z");
    let checked = spec_of(org("org-42"), json!({"kind": "once", "duration": "1h30m"}))
        .check(&limits(), now)
        .expect("valid");
    assert_eq!(checked.starts_at, now);
    assert_eq!(checked.ends_at, at("2026-05-01T11:30:00Z"));
    assert_eq!(
        checked.schedule,
        Schedule::Once {
            starts_at: Some(now),
            ends_at: Some(at("2026-05-01T11:30:00Z")),
            duration: None,
        }
    );
    assert!(checked.resolved_pass, "the deployment's default");
}

#[test]
fn zero_bad_and_too_long_durations_are_refused() {
    let now = at("2026-05-01T10:00:00Z");
    for (duration, message) in [
        ("0m", "must be longer than zero"),
        ("-1h", "must be a duration like 90m, 2h, 1d or 1h30m"),
        ("90", "must be a duration like 90m, 2h, 1d or 1h30m"),
        (
            "31d",
            "the silence would last 31d, longer than the maximum of 30d",
        ),
    ] {
        let problems = spec_of(org("org-42"), json!({"kind": "once", "duration": duration}))
            .check(&limits(), now)
            .expect_err(duration);
        assert_eq!(problems, [Problem::new("schedule.duration", message)]);
    }
}

#[test]
fn ends_before_starts_is_refused() {
    let problems = spec_of(
        org("org-42"),
        json!({"kind": "once", "starts_at": "2026-05-03T00:00:00Z", "ends_at": "2026-05-02T00:00:00Z"}),
    )
    .check(&limits(), at("2026-05-01T10:00:00Z"))
    .expect_err("invalid");
    assert_eq!(fields(&problems), ["schedule.ends_at"]);
    assert!(problems[0].message.starts_with("must end after"));
}

#[test]
fn a_recurring_window_over_the_maximum_names_both_lengths() {
    let short = Limits {
        max_length: Duration::hours(8),
        ..limits()
    };
    let now = at("2026-05-01T10:00:00Z");
    let problems = spec_of(org("org-42"), weekly("UTC", &["sat"], "22:00", "12:00"))
        .check(&short, now)
        .expect_err("invalid");
    assert_eq!(
        problems,
        [Problem::new(
            "schedule.to",
            "each window would last 14h, longer than the maximum of 8h"
        )]
    );
    let problems = spec_of(
        org("org-42"),
        json!({"kind": "cron", "time_zone": "UTC", "expression": "0 2 * * *", "duration": "1d"}),
    )
    .check(&short, now)
    .expect_err("invalid");
    assert_eq!(
        problems,
        [Problem::new(
            "schedule.duration",
            "each window would last 1d, longer than the maximum of 8h"
        )]
    );
}

#[test]
fn a_bad_cron_expression_lists_each_bad_field() {
    let problems = spec_of(
        org("org-42"),
        json!({"kind": "cron", "time_zone": "Europe/Berlin", "expression": "61 * 0 foo mon-sun",
               "duration": "2h"}),
    )
    .check(&limits(), at("2026-05-01T10:00:00Z"))
    .expect_err("invalid");
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "minute: `61` is not a number from 0 to 59",
            "day-of-month: `0` is not a number from 1 to 31",
            "month: `foo` is not a number from 1 to 12 or a name jan–dec",
        ]
    );
    assert!(problems.iter().all(|p| p.field == "schedule.expression"));
}

#[test]
fn cron_expressions_of_the_wrong_shape_or_that_never_fire_are_refused() {
    let now = at("2026-05-01T10:00:00Z");
    for (expression, message) in [
        (
            "0 2 * *",
            "must have 5 fields (minute hour day-of-month month day-of-week), found 4",
        ),
        (
            "0 0 30,31 2 *",
            "never fires: no date matches its day and month fields",
        ),
        (
            "*/0 * * * *",
            "minute: step `0` must be a number from 1 to 59",
        ),
        ("0 5-1 * * *", "hour: range `5-1` runs backwards"),
        (
            "0 0 L * *",
            "day-of-month: `L` is not a number from 1 to 31",
        ),
    ] {
        let problems = spec_of(
            org("org-42"),
            json!({"kind": "cron", "time_zone": "UTC", "expression": expression, "duration": "1h"}),
        )
        .check(&limits(), now)
        .expect_err(expression);
        assert_eq!(
            problems,
            [Problem::new("schedule.expression", message)],
            "{expression}"
        );
    }
}

#[test]
fn a_recurring_silence_whose_until_comes_before_any_window_is_refused() {
    // Friday morning; until Friday evening; the window is on Saturdays.
    let schedule = json!({"kind": "weekly", "time_zone": "UTC", "days": ["sat"],
                          "from": "22:00", "to": "02:00", "until": "2026-05-01T18:00:00Z"});
    let problems = spec_of(org("org-42"), schedule)
        .check(&limits(), at("2026-05-01T10:00:00Z"))
        .expect_err("invalid");
    assert_eq!(fields(&problems), ["schedule.until"]);
}

#[test]
fn a_recurring_silence_is_normalised_and_spans_from_now_to_until_or_open_end() {
    let now = at("2026-05-01T10:00:00Z");
    let checked = spec_of(
        org("org-42"),
        weekly("Europe/Berlin", &["Sunday", "SAT", "sat"], "7:05", "02:00"),
    )
    .check(&limits(), now)
    .expect("valid");
    assert_eq!(
        checked.schedule,
        Schedule::Weekly {
            time_zone: "Europe/Berlin".into(),
            days: vec!["sat".into(), "sun".into()],
            from: "07:05".into(),
            to: "02:00".into(),
            until: None,
        }
    );
    assert_eq!((checked.starts_at, checked.ends_at), (now, OPEN_END));
    assert_eq!(OPEN_END, at("9999-12-31T23:59:59Z"));

    let cron = spec_of(
        org("org-42"),
        json!({"kind": "cron", "time_zone": "UTC", "expression": " 0  2 * * sat ",
               "duration": "90m", "until": "2026-06-01T00:00:00Z"}),
    )
    .check(&limits(), now)
    .expect("valid");
    assert_eq!(cron.ends_at, at("2026-06-01T00:00:00Z"));
    let Schedule::Cron {
        expression,
        duration,
        ..
    } = &cron.schedule
    else {
        panic!("cron expected");
    };
    assert_eq!(
        (expression.as_str(), duration.as_str()),
        ("0 2 * * sat", "1h30m")
    );
}

#[test]
fn matchers_need_a_positive_selective_one() {
    let now = at("2026-05-01T10:00:00Z");
    let once = json!({"kind": "once", "duration": "1h"});
    for (matchers, field) in [
        (json!([]), "matchers"),
        (
            json!([{"field": "organization", "op": "!=", "value": "org-1"},
                {"field": "user", "op": "!~", "value": "admin.*"}]),
            "matchers",
        ),
        (
            json!([{"field": "source", "op": "=~", "value": ".*"}]),
            "matchers",
        ),
    ] {
        let problems = spec_of(matchers.clone(), once.clone())
            .check(&limits(), now)
            .expect_err("invalid");
        assert_eq!(fields(&problems), [field], "{matchers}");
    }
    // `.+` is accepted (documented), and so is a negative beside a positive.
    for matchers in [
        json!([{"field": "source", "op": "=~", "value": ".+"}]),
        json!([{"field": "organization", "op": "=", "value": "org-1"},
               {"field": "user", "op": "!~", "value": "admin.*"}]),
    ] {
        let checked = spec_of(matchers.clone(), once.clone()).check(&limits(), now);
        assert!(checked.is_ok(), "{matchers}: {checked:?}");
    }
}

#[test]
fn a_bad_positive_regex_is_not_also_reported_as_missing_selection() {
    let problems = spec_of(
        json!([{"field": "source", "op": "=~", "value": "("}]),
        json!({"kind": "once", "duration": "1h"}),
    )
    .check(&limits(), at("2026-05-01T10:00:00Z"))
    .expect_err("invalid");
    assert_eq!(fields(&problems), ["matchers[0].value"]);
}

#[test]
fn a_hostile_regex_is_refused_and_ordinary_ones_fit() {
    let now = at("2026-05-01T10:00:00Z");
    let huge = json!([{"field": "user", "op": "=~", "value": r"\w{200}"}]);
    let problems = spec_of(huge, json!({"kind": "once", "duration": "1h"}))
        .check(&limits(), now)
        .expect_err("too large");
    assert_eq!(
        problems[0].message,
        "is too large a regular expression (over 64 KiB compiled)"
    );
    let ordinary =
        json!([{"field": "user", "op": "=~", "value": r"[\w.+-]+@(contoso|fabrikam)\.com"}]);
    spec_of(ordinary, json!({"kind": "once", "duration": "1h"}))
        .check(&limits(), now)
        .expect("an ordinary pattern fits the size limit");
}

#[test]
fn unknown_fields_and_operators_are_refused_when_decoding() {
    let extra = serde_json::from_value::<SilenceSpec>(json!({
        "matchers": [], "schedule": {"kind": "once", "duration": "1h"},
        "reason": "r", "author": "a", "colour": "red"
    }));
    assert!(extra.is_err());
    let schedule = serde_json::from_value::<Schedule>(
        json!({"kind": "once", "duration": "1h", "timezone": "UTC"}),
    );
    assert!(schedule.is_err());
    let kind = serde_json::from_value::<Schedule>(json!({"kind": "monthly"}));
    assert!(kind.is_err());
    let op = serde_json::from_value::<Matcher>(json!({"field": "user", "op": "==", "value": "x"}));
    assert!(op.is_err());
    let matcher: Matcher =
        serde_json::from_value(json!({"field": "ioc_rule", "op": "!~", "value": "x"}))
            .expect("a matcher");
    assert_eq!((matcher.field, matcher.op), (Field::IocRule, Op::NotRegex));
    assert_eq!(matcher.to_string(), r#"ioc_rule!~"x""#);
}

#[test]
fn a_silence_survives_a_json_round_trip() {
    let now = at("2026-05-01T10:00:00Z");
    let silence = silence(
        org("org-42"),
        json!({"kind": "cron", "time_zone": "UTC", "expression": "0 2 * * *", "duration": "2h"}),
        now,
    );
    let json = serde_json::to_value(&silence).expect("encodes");
    assert_eq!(json["schedule"]["kind"], "cron");
    assert_eq!(json["matchers"][0]["op"], "=");
    let back: Silence = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, silence);
}

#[test]
fn durations_parse_and_print_in_operator_units() {
    for (text, minutes) in [
        ("90m", 90),
        ("2h", 120),
        ("1d", 1440),
        ("1h30m", 90),
        ("1w", 10080),
    ] {
        assert_eq!(
            parse_duration(text),
            Some(Duration::minutes(minutes)),
            "{text}"
        );
    }
    for text in ["", "h", "2x", "1.5h", "-1h", "99999999999999999999m"] {
        assert_eq!(parse_duration(text), None, "{text}");
    }
    assert_eq!(format_duration(Duration::days(30)), "30d");
    assert_eq!(format_duration(Duration::hours(36)), "1d12h");
    assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
    assert_eq!(format_duration(Duration::zero()), "0m");
}

// ---------------------------------------------------------------- matching

/// Whether a one-hour silence of the one matcher `field op value` mutes the alert.
fn mutes(field: &str, op: &str, value: &str, message: &AlertMessage) -> bool {
    let now = at("2026-05-01T10:00:00Z");
    let mut matchers = vec![json!({"field": field, "op": op, "value": value})];
    if op.starts_with('!') {
        matchers.push(json!({"field": "source", "op": "=", "value": "sentinel"}));
    }
    let silence = silence(
        Value::Array(matchers),
        json!({"kind": "once", "duration": "1h"}),
        now,
    );
    ActiveSilences::new(&[silence], now)
        .matching(message)
        .is_some()
}

#[test]
fn each_field_and_operator_matches_as_documented() {
    let message = alert_message(json!({}));
    // (field, a value of the alert, a value it does not have, a full-match pattern)
    let cases = [
        ("source", "sentinel", "other", "sent.*"),
        ("organization", "org-42", "org-1", "org-\\d+"),
        ("organization", "Contoso", "Fabrikam", "Cont.*"),
        ("event_type", "m365.impossible_travel", "m365", "m365\\..*"),
        ("severity", "high", "low", "hi.*"),
        ("respond_rule", "rr-7", "rr-8", "rr-.*"),
        ("respond_rule", "Travel", "travel", "T.*"),
        ("ioc_rule", "ioc-1", "ioc-2", "ioc-.*"),
        ("device", "LAPTOP-7", "LAPTOP-8", "LAPTOP-\\d"),
        ("device", "SN123", "SN124", "SN\\d+"),
        (
            "device",
            "F8-75-A4-19-C6-22",
            "f8-75-a4-19-c6-22",
            "F8(-..){5}",
        ),
        ("user", "j.doe@contoso.com", "j.doe", ".*@contoso\\.com"),
    ];
    for (field, present, absent, pattern) in cases {
        assert!(mutes(field, "=", present, &message), "{field} = {present}");
        assert!(!mutes(field, "=", absent, &message), "{field} = {absent}");
        assert!(
            !mutes(field, "!=", present, &message),
            "{field} != {present}"
        );
        assert!(mutes(field, "!=", absent, &message), "{field} != {absent}");
        assert!(
            mutes(field, "=~", pattern, &message),
            "{field} =~ {pattern}"
        );
        assert!(
            !mutes(field, "!~", pattern, &message),
            "{field} !~ {pattern}"
        );
        assert!(!mutes(field, "=~", absent, &message), "{field} =~ {absent}");
        assert!(mutes(field, "!~", absent, &message), "{field} !~ {absent}");
    }
}

#[test]
fn regular_expressions_match_the_whole_value() {
    let message = alert_message(json!({}));
    assert!(
        !mutes("user", "=~", "j.doe", &message),
        "a prefix is not enough"
    );
    assert!(!mutes("user", "=~", "contoso", &message), "nor a substring");
    assert!(
        mutes("user", "=~", "a|j.doe@contoso.com", &message),
        "alternation is grouped"
    );
    assert!(mutes("user", "=~", "(?i)J.DOE@CONTOSO.COM", &message));
}

#[test]
fn severity_compares_without_case_and_other_fields_with_it() {
    let message = alert_message(json!({}));
    assert!(mutes("severity", "=", "HIGH", &message));
    assert!(mutes("severity", "=~", "Critical|High", &message));
    assert!(!mutes("user", "=", "J.DOE@contoso.com", &message));
}

#[test]
fn a_missing_field_never_matches_positively_and_always_negatively() {
    let message = alert_message(json!({"device": null, "user": null, "respond_rule": null}));
    for field in ["device", "user", "respond_rule"] {
        assert!(!mutes(field, "=", "x", &message), "{field} =");
        assert!(!mutes(field, "=~", ".+", &message), "{field} =~");
        assert!(mutes(field, "!=", "x", &message), "{field} !=");
        assert!(mutes(field, "!~", ".*", &message), "{field} !~");
    }
}

#[test]
fn organization_negations_exclude_by_id_or_name() {
    let message = alert_message(json!({}));
    assert!(!mutes("organization", "!=", "Contoso", &message));
    assert!(!mutes("organization", "!=", "org-42", &message));
    assert!(!mutes("organization", "!~", "Con.*", &message));
}

#[test]
fn all_matchers_of_a_silence_must_hold() {
    let now = at("2026-05-01T10:00:00Z");
    let silence = silence(
        json!([{"field": "organization", "op": "=", "value": "org-42"},
               {"field": "severity", "op": "=", "value": "low"}]),
        json!({"kind": "once", "duration": "1h"}),
        now,
    );
    let set = ActiveSilences::new(&[silence], now);
    assert!(set.matching(&alert_message(json!({}))).is_none());
    assert!(set
        .matching(&alert_message(json!({"severity": "low"})))
        .is_some());
}

#[test]
fn resolved_alerts_pass_through_unless_the_silence_says_otherwise() {
    let now = at("2026-05-01T10:00:00Z");
    let resolved = alert_message(json!({"status": "resolved"}));
    let firing = alert_message(json!({}));
    let once = json!({"kind": "once", "duration": "1h"});
    let spec_with = |pass: Option<bool>| SilenceSpec {
        resolved_pass: pass,
        ..spec_of(org("org-42"), once.clone())
    };
    for (pass, default, muted) in [
        (None, true, false),
        (None, false, true),
        (Some(true), false, false),
        (Some(false), true, true),
    ] {
        let limits = Limits {
            default_resolved_pass: default,
            ..limits()
        };
        let checked = spec_with(pass).check(&limits, now).expect("valid");
        let set = ActiveSilences::new(&[stored(checked, now, 1)], now);
        assert_eq!(
            set.matching(&resolved).is_some(),
            muted,
            "{pass:?} {default}"
        );
        assert!(
            set.matching_any(&resolved).is_some(),
            "the silence still learns its group resolved"
        );
        assert!(
            set.matching(&firing).is_some(),
            "firing alerts are always muted"
        );
    }
}

#[test]
fn a_resolved_alert_passing_one_silence_can_be_muted_by_another() {
    let now = at("2026-05-01T10:00:00Z");
    let once = json!({"kind": "once", "duration": "1h"});
    let passing = stored(
        spec_of(org("org-42"), once.clone())
            .check(&limits(), now)
            .expect("valid"),
        now,
        1,
    );
    let muting = stored(
        SilenceSpec {
            resolved_pass: Some(false),
            ..spec_of(org("org-42"), once)
        }
        .check(&limits(), now)
        .expect("valid"),
        now + Duration::seconds(1),
        2,
    );
    let set = ActiveSilences::new(&[muting, passing], now);
    let resolved = set
        .matching(&alert_message(json!({"status": "resolved"})))
        .expect("muted");
    assert_eq!(resolved.silence_id, Uuid::from_u128(2));
    let firing = set.matching(&alert_message(json!({}))).expect("muted");
    assert_eq!(firing.silence_id, Uuid::from_u128(1), "the oldest wins");
}

#[test]
fn the_oldest_matching_silence_wins_across_index_lists() {
    let now = at("2026-05-01T10:00:00Z");
    let once = json!({"kind": "once", "duration": "1h"});
    let make = |matchers: Value, minutes: i64, id: u128| {
        let checked = spec_of(matchers, once.clone())
            .check(&limits(), now)
            .expect("valid");
        stored(checked, now - Duration::minutes(minutes), id)
    };
    let silences = [
        make(org("Contoso"), 10, 1), // by name
        make(
            json!([{"field": "source", "op": "=", "value": "sentinel"}]),
            20,
            2,
        ), // by source
        make(json!([{"field": "user", "op": "=~", "value": ".+"}]), 30, 3), // unindexed
        make(org("org-42"), 40, 4),  // by id, oldest
    ];
    let message = alert_message(json!({}));
    let mut set = silences.to_vec();
    for expected in [4, 3, 2, 1] {
        let active = ActiveSilences::new(&set, now);
        let found = active.matching(&message).expect("muted");
        assert_eq!(found.silence_id, Uuid::from_u128(expected));
        assert_eq!(found.reason, "firmware upgrade");
        set.retain(|s| s.id != Uuid::from_u128(expected));
    }
}

#[test]
fn a_thousand_silences_match_like_checking_each_in_turn() {
    let now = at("2026-05-01T10:00:00Z");
    let once = json!({"kind": "once", "duration": "1h"});
    let severities = ["critical", "high", "medium", "low", "info"];
    let mut silences = Vec::new();
    for i in 0..1000u32 {
        let matchers = match i % 5 {
            0 | 1 => json!([
                {"field": "organization", "op": "=", "value": format!("org-{}", i % 200)},
                {"field": "severity", "op": "=", "value": severities[(i % 5) as usize]},
            ]),
            2 => json!([
                {"field": "organization", "op": "=", "value": format!("Customer {}", i % 150)},
                {"field": "event_type", "op": "!=", "value": format!("type-{}", i % 7)},
            ]),
            3 => json!([
                {"field": "source", "op": "=", "value": format!("source-{}", i % 9)},
                {"field": "user", "op": "=~", "value": format!("user-{}.*", i % 13)},
            ]),
            _ => json!([
                {"field": "device", "op": "=~", "value": format!("host-{}", i % 300)},
                {"field": "severity", "op": "!=", "value": "critical"},
            ]),
        };
        let checked = spec_of(matchers, once.clone())
            .check(&limits(), now)
            .expect("valid");
        // Creation order is not id order; some share a creation time.
        let created = now - Duration::seconds(i64::from(i * 7919 % 500));
        silences.push(stored(checked, created, u128::from(i)));
    }
    let set = ActiveSilences::new(&silences, now);
    assert_eq!(set.len(), 1000);

    // The reference: every silence in creation order, each checked in full.
    let mut ordered: Vec<(DateTime<Utc>, Uuid, Vec<matcher::CompiledMatcher>)> = silences
        .iter()
        .map(|s| {
            let compiled = s
                .checked
                .matchers
                .iter()
                .map(|m| m.compile().expect("compiles"));
            (s.created_at, s.id, compiled.collect())
        })
        .collect();
    ordered.sort_by_key(|(created_at, id, _)| (*created_at, *id));
    let reference = |message: &AlertMessage| {
        ordered
            .iter()
            .find(|(_, _, matchers)| matchers.iter().all(|m| m.matches(message)))
            .map(|(_, id, _)| *id)
    };

    let mut muted = 0;
    for n in 0..2000u32 {
        let message = AlertMessage {
            source: format!("source-{}", n % 11),
            ..alert_message(json!({
                "event_type": format!("type-{}", n % 8),
                "severity": severities[(n % 5) as usize],
                "organization": {"id": format!("org-{}", n % 250), "name": format!("Customer {}", n % 170)},
                "user": format!("user-{}-{}", n % 17, n),
                "device": {"name": format!("host-{}", n % 400)},
            }))
        };
        let found = set.matching(&message).map(|m| m.silence_id);
        assert_eq!(found, reference(&message), "alert {n}");
        muted += usize::from(found.is_some());
    }
    assert!(
        muted > 500 && muted < 2000,
        "a meaningful mix: {muted} muted"
    );
}

// ---------------------------------------------------------------- schedules

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
