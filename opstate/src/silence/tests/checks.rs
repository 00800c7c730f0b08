//! Checking what an operator submits: every problem listed at once, with its field, and
//! the normalised silence when there is none.

use super::*;

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
