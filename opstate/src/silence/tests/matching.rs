//! Matching alerts: each field and operator, resolved alerts, and which silence wins.

use super::*;

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
