//! `bench-silences`: what matching an alert against the active silences costs, per alert,
//! with 0, 10, 100 and 1,000 active silences (a mix like an MSP's: most name one
//! organization, some an event type pattern or a device, a few only a source or severity).
//! Each figure is the median of 5 rounds over 100,000 alerts of 500 organizations.
//! `BENCH_ALERTS` sets the alerts per round.

use chrono::Utc;
use opstate::silence::{ActiveSilences, Limits, Silence, SilenceSpec};
use serde_json::json;
use shared::alert::Alert;
use shared::message::AlertMessage;
use std::hint::black_box;
use std::time::Instant;

fn spec(i: usize) -> SilenceSpec {
    let matchers = match i % 10 {
        // Seven in ten: one organization, often with an event type pattern.
        0..=3 => json!([{"field": "organization", "op": "=", "value": format!("org-{}", i % 700)}]),
        4..=6 => json!([
            {"field": "organization", "op": "=", "value": format!("org-{}", i % 700)},
            {"field": "event_type", "op": "=~", "value": "m365\\.(impossible_travel|mfa_.*)"},
        ]),
        // Two in ten: a device name pattern and a severity.
        7 | 8 => json!([
            {"field": "device", "op": "=~", "value": format!("WS-{}.*", i % 97)},
            {"field": "severity", "op": "!=", "value": "critical"},
        ]),
        // One in ten: an event type only.
        _ => json!([{"field": "event_type", "op": "=", "value": format!("edr.rule_{i}")}]),
    };
    serde_json::from_value(json!({
        "matchers": matchers,
        "schedule": {"kind": "once", "duration": "2h"},
        "reason": "bench",
        "author": "bench",
    }))
    .expect("a silence spec")
}

fn silences(n: usize) -> Vec<Silence> {
    let limits = Limits {
        max_length: chrono::Duration::hours(720),
        default_resolved_pass: true,
    };
    let now = Utc::now();
    (0..n)
        .map(|i| Silence {
            id: uuid::Uuid::new_v4(),
            checked: spec(i).check(&limits, now).expect("a valid silence"),
            created_at: now,
            updated_at: now,
            expired_at: None,
        })
        .collect()
}

fn alerts(n: usize) -> Vec<AlertMessage> {
    (0..n)
        .map(|i| {
            let event_type = ["m365.impossible_travel", "edr.malware", "m365.mfa_fatigue"][i % 3];
            let severity = ["critical", "high", "medium"][i % 3];
            let value = json!({
                "id": format!("a-{i}"),
                "event_type": event_type,
                "severity": severity,
                "organization": {"id": format!("org-{}", 200 + i % 500), "name": format!("Customer {}", i % 500)},
                "title": "Something happened",
                "occurred_at": "2026-05-01T10:00:00Z",
                "device": {"name": format!("WS-{}", i % 1000)},
                "user": "j.doe@example.com",
            });
            let alert = Alert::from_json(&value, "").expect("a valid alert");
            AlertMessage::new("demo", alert, Utc::now())
        })
        .collect()
}

fn main() {
    let per_round: usize = std::env::var("BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let alerts = alerts(per_round);
    println!("| active silences | ns per alert (median of 5) | alerts matched | build ms |");
    println!("|---|---|---|---|");
    for n in [0, 10, 100, 1_000] {
        let all = silences(n);
        let built = Instant::now();
        let active = ActiveSilences::new(&all, Utc::now());
        let build_ms = built.elapsed().as_secs_f64() * 1e3;
        assert_eq!(active.len(), n);
        let mut rounds = Vec::new();
        let mut matched = 0;
        for _ in 0..5 {
            let start = Instant::now();
            matched = alerts
                .iter()
                .filter(|a| black_box(active.matching(black_box(a))).is_some())
                .count();
            rounds.push(start.elapsed().as_nanos() as f64 / alerts.len() as f64);
        }
        rounds.sort_by(f64::total_cmp);
        println!("| {n} | {:.0} | {matched} | {build_ms:.1} |", rounds[2]);
    }
}
