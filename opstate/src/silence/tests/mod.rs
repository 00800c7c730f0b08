//! Unit tests of the silence logic, through what the rest of the crate uses: a spec checked
//! ([`SilenceSpec::check`]), a stored silence's windows ([`Silence::window_at`],
//! [`Silence::state_at`]) and the set matching alerts ([`ActiveSilences`]).
//!
//! This file holds the helpers every part shares; the tests are in `checks` (what is
//! refused, and how a silence is normalised), `matching` (which alerts a silence mutes) and
//! `schedules` (windows across midnight and DST, and a silence's state over time).

mod checks;
mod matching;
mod schedules;

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
