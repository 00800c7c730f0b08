//! `relayctl trace`: an alert's way through the relay, from the operator API's trail.
//!
//! ```text
//! relayctl trace ALERT [--json]              # a sender's alert id or a message id (ar1-…)
//! relayctl trace --ticket NUMBER             # every alert that reached a ticket
//! relayctl trace --organization ORG [--since 2h]
//! ```
//! One block per alert, one line per step: the time (UTC, to the millisecond), the time since
//! the alert's first step, and the step in words ([`describe`]). `--json` prints the steps as
//! the API gives them. Nothing found exits 1.

use crate::api::{self, Api, ApiArgs, ApiError};
use crate::dlq::report::print_json;
use crate::text::{span, utc, utc_millis};
use chrono::{DateTime, Duration, Utc};
use clap::ArgGroup;
use opstate::trail::{Event, Step};
use processor::deadletters::parse_time;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;

/// How far back `--organization` looks without `--since`: the trail is searched oldest
/// first, so an organization's whole history would show its oldest steps, not today's.
const ORGANIZATION_LOOKBACK_HOURS: i64 = 24;

#[derive(Debug, clap::Args)]
#[command(group(
    ArgGroup::new("which")
        .required(true)
        .multiple(true)
        .args(["alert", "ticket", "organization"])
))]
pub struct Args {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The sender's alert id, or the relay's message id (`ar1-…`).
    pub alert: Option<String>,
    /// Every alert that reached this ticket: its number, as Syncro shows it.
    #[arg(long, value_name = "NUMBER")]
    pub ticket: Option<String>,
    /// Every alert of this organization (its id, as the sender names it); with no --since,
    /// the last 24 hours.
    #[arg(long, value_name = "ORG")]
    pub organization: Option<String>,
    /// Only steps at or after this time: RFC 3339, or an age such as 30m, 2h, 3d.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only steps before this time (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// At most this many steps, oldest first.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub limit: u32,
    /// Print the steps as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The API's answer.
#[derive(Deserialize)]
struct EventList {
    events: Vec<Event>,
}

pub async fn run(args: Args) -> ExitCode {
    api::finish("trace", trace(&args).await)
}

async fn trace(args: &Args) -> Result<ExitCode, ApiError> {
    let api = Api::new(&args.api);
    let since = args.since.or_else(|| {
        args.organization
            .as_ref()
            .map(|_| Utc::now() - Duration::hours(ORGANIZATION_LOOKBACK_HOURS))
    });
    let mut query = vec![("limit", args.limit.to_string())];
    let given = [
        ("alert", args.alert.clone()),
        ("organization", args.organization.clone()),
        ("ticket_number", args.ticket.clone()),
        ("since", since.map(utc_millis)),
        ("until", args.until.map(utc_millis)),
    ];
    query.extend(given.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    let found: EventList = api.get("/v1/trail", &query).await?;
    if found.events.is_empty() {
        eprintln!("relayctl trace: {}", nothing_found(args, since));
        return Ok(ExitCode::FAILURE);
    }
    if found.events.len() >= args.limit as usize {
        eprintln!(
            "relayctl trace: showing the first {} steps; narrow with --since/--until or raise --limit",
            args.limit
        );
    }
    if args.json {
        print_json(&found.events);
    } else {
        print!("{}", timeline(&found.events));
    }
    Ok(ExitCode::SUCCESS)
}

/// What was searched, in the message of an empty answer.
fn nothing_found(args: &Args, since: Option<DateTime<Utc>>) -> String {
    let mut what = Vec::new();
    if let Some(alert) = &args.alert {
        what.push(format!("alert {alert:?}"));
    }
    if let Some(ticket) = &args.ticket {
        what.push(format!("ticket #{ticket}"));
    }
    if let Some(org) = &args.organization {
        what.push(format!("organization {org:?}"));
    }
    if let Some(since) = since {
        what.push(format!("since {}", utc(since)));
    }
    if let Some(until) = args.until {
        what.push(format!("until {}", utc(until)));
    }
    let hint = if args.alert.is_some() {
        " (ALERT is a sender's alert id or a message id; the trail keeps \
         postgres.trail_retention_days days)"
    } else {
        ""
    };
    format!("no step recorded for {}{hint}", what.join(", "))
}

/// The steps grouped by alert (in the order their first step appears), one line each.
pub fn timeline(events: &[Event]) -> String {
    // A note's row carries the ticket's id only: its number comes from the creation's row.
    let numbers: HashMap<i64, &str> = events
        .iter()
        .filter_map(|e| Some((e.ticket_id?, e.ticket_number.as_deref()?)))
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut by_alert: HashMap<&str, Vec<&Event>> = HashMap::new();
    for event in events {
        let steps = by_alert.entry(event.message_id.as_str()).or_default();
        if steps.is_empty() {
            order.push(event.message_id.as_str());
        }
        steps.push(event);
    }
    let mut out = String::new();
    for (i, id) in order.iter().enumerate() {
        let steps = &by_alert[id];
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&heading(steps));
        out.push('\n');
        let first = steps[0].at;
        for event in steps {
            let _ = writeln!(
                out,
                "  {}  {:>9}  {}",
                utc_millis(event.at),
                format!("+{}", span(event.at - first)),
                describe(event, &numbers)
            );
        }
    }
    out
}

/// The line above an alert's steps: who sent it, its ids, its organization.
fn heading(steps: &[&Event]) -> String {
    let first = steps[0];
    if first.message_id.is_empty() {
        return "steps not recorded (PostgreSQL was away)".into();
    }
    let sender = steps.iter().find_map(|e| e.sender_id.as_deref());
    let organization = steps.iter().find_map(|e| e.organization.as_deref());
    let mut line = match sender {
        Some(sender) => format!("alert {sender} (message {})", first.message_id),
        None => format!("message {}", first.message_id),
    };
    let _ = write!(line, " from {}", first.source);
    if let Some(org) = organization {
        let _ = write!(line, ", organization {org}");
    }
    line
}

/// One step in words, with what its detail adds.
pub fn describe(event: &Event, numbers: &HashMap<i64, &str>) -> String {
    let d = &event.detail;
    let ticket = || ticket_name(event, numbers);
    let org = event.organization.as_deref().unwrap_or("?");
    match event.step {
        Step::Received => received(d),
        Step::Planned => planned(d),
        Step::Suppressed => {
            let mut line = format!("suppressed by silence {}", text(d, "silence_id"));
            if let Some(reason) = d.get("reason").and_then(Value::as_str) {
                let _ = write!(line, " ({})", crate::text::clip(reason, 80));
            }
            if let Some(end) = time(d, "window_end") {
                let _ = write!(line, " until {}", utc(end));
            }
            line
        }
        Step::Parked => format!("parked: organization {org} has no mapping yet"),
        Step::Ignored => format!("ignored: the mapping ignores organization {org}"),
        Step::TicketCreated => format!("{} created", ticket()),
        Step::NoteAdded => format!("note added to {}", ticket()),
        Step::Resolved => format!("{} resolved", ticket()),
        Step::Retried => {
            let retry_in = d
                .get("retry_in_secs")
                .and_then(Value::as_i64)
                .map_or_else(|| "?".into(), |s| span(Duration::seconds(s)));
            format!(
                "retry in {retry_in} after {} (attempt {}): {}",
                text(d, "kind"),
                text(d, "attempt"),
                crate::text::clip(&text(d, "error"), 160)
            )
        }
        Step::DeadLettered => format!(
            "dead-lettered after {} attempt(s): {}: {}",
            text(d, "attempts"),
            text(d, "kind"),
            crate::text::clip(&text(d, "error"), 160)
        ),
        Step::Replayed => match ["by", "actor", "operator"]
            .iter()
            .find_map(|k| d.get(*k).and_then(Value::as_str))
        {
            Some(by) => format!("replayed by {by} from the dead-letter queue"),
            None => "replayed from the dead-letter queue".into(),
        },
        Step::Released => {
            let mut line = format!(
                "released: silence {} ended while its group was still firing; its ticket was queued",
                text(d, "silence_id")
            );
            if let Some(held) = d.get("suppressed").and_then(Value::as_i64) {
                let _ = write!(line, " ({held} alert(s) held");
                if let (Some(first), Some(last)) = (time(d, "first_at"), time(d, "last_at")) {
                    let _ = write!(line, " from {} to {}", utc(first), utc(last));
                }
                line.push(')');
            }
            line
        }
        Step::TrailGap => {
            let mut line = format!(
                "trail gap: {} step(s) not recorded while PostgreSQL was away",
                text(d, "dropped")
            );
            if let (Some(since), Some(until)) = (time(d, "since"), time(d, "until")) {
                let _ = write!(line, " ({} to {})", utc(since), utc(until));
            }
            line
        }
    }
}

/// `ticket #1004 (id 88123)`, the number taken from another step when this one lacks it.
fn ticket_name(event: &Event, numbers: &HashMap<i64, &str>) -> String {
    let number = event
        .ticket_number
        .as_deref()
        .or_else(|| event.ticket_id.and_then(|id| numbers.get(&id).copied()));
    match (number, event.ticket_id) {
        (Some(number), Some(id)) => format!("ticket #{number} (id {id})"),
        (Some(number), None) => format!("ticket #{number}"),
        (None, Some(id)) => format!("ticket id {id}"),
        (None, None) => "the ticket".into(),
    }
}

fn received(d: &Value) -> String {
    let parts: Vec<String> = ["severity", "event_type"]
        .iter()
        .filter_map(|k| d.get(*k).and_then(Value::as_str).map(str::to_string))
        .chain(
            d.get("title")
                .and_then(Value::as_str)
                .map(|t| format!("{:?}", crate::text::clip(t, 80))),
        )
        .chain(
            d.get("status")
                .and_then(Value::as_str)
                .map(|s| format!("({s})")),
        )
        .collect();
    if parts.is_empty() {
        "received".into()
    } else {
        format!("received by ingest: {}", parts.join(" "))
    }
}

/// `planned: customer 4101771 (mapping.organizations["org-42"]), priority 1 High (tickets
/// (defaults)), subject "…"`: the fields an operator asks about first; the rest is in --json.
fn planned(d: &Value) -> String {
    let fields = d.get("fields");
    let field = |name: &str| {
        let pair = fields?.get(name)?.as_array()?;
        let value = pair.first().map(plain)?;
        Some(match pair.get(1).and_then(Value::as_str) {
            Some(set_by) => format!("{value} ({set_by})"),
            None => value,
        })
    };
    let mut parts = Vec::new();
    if let Some(customer) = field("customer_id") {
        parts.push(format!("customer {customer}"));
    }
    if let Some(priority) = field("priority") {
        parts.push(format!("priority {priority}"));
    }
    if let Some(subject) = d.get("subject").and_then(Value::as_str) {
        parts.push(format!("subject {:?}", crate::text::clip(subject, 80)));
    }
    if parts.is_empty() {
        with_detail("planned", d)
    } else {
        format!("planned: {}", parts.join(", "))
    }
}

/// A step with a detail of no known shape: the detail as compact JSON.
fn with_detail(step: &str, d: &Value) -> String {
    if d.is_null() || d.as_object().is_some_and(|o| o.is_empty()) {
        step.to_string()
    } else {
        format!("{step}: {}", crate::text::clip(&d.to_string(), 160))
    }
}

/// A detail's value as text (`?` when absent).
fn text(d: &Value, key: &str) -> String {
    d.get(key).map_or_else(|| "?".into(), plain)
}

/// A JSON value as text: strings without their quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn time(d: &Value, key: &str) -> Option<DateTime<Utc>> {
    let text = d.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T22:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + Duration::milliseconds(seconds)
    }

    fn event(step: Step, millis: i64) -> Event {
        let mut e = Event::new(step, "ar1-77", "demo").sender("evt-77", "org-42");
        e.at = at(millis);
        e
    }

    #[test]
    fn a_timeline_tells_each_step_in_words_with_the_time_since_the_first() {
        let events = vec![
            event(Step::Received, 0).detail(json!({
                "event_type": "m365.impossible_travel", "severity": "high",
                "status": "firing", "title": "Impossible travel",
            })),
            event(Step::Planned, 290).detail(json!({
                "subject": "Impossible travel",
                "fields": {
                    "customer_id": ["4101771", "mapping.organizations[\"org-42\"]"],
                    "priority": ["1 High", "tickets (defaults)"],
                },
            })),
            event(Step::Retried, 1_000).detail(json!({
                "attempt": 2, "retry_in_secs": 30, "kind": "syncro_500", "error": "HTTP 500",
            })),
            event(Step::TicketCreated, 32_000).ticket(88123, Some("1004".into())),
            event(Step::NoteAdded, 65_000).ticket(88123, None),
        ];
        let text = timeline(&events);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "alert evt-77 (message ar1-77) from demo, organization org-42"
        );
        assert_eq!(
            lines[1],
            "  2026-12-01T22:00:00.000Z    +0.00 s  received by ingest: high m365.impossible_travel \"Impossible travel\" (firing)"
        );
        assert!(
            lines[2].ends_with(
                "+0.29 s  planned: customer 4101771 (mapping.organizations[\"org-42\"]), \
                 priority 1 High (tickets (defaults)), subject \"Impossible travel\""
            ),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].ends_with("retry in 30 s after syncro_500 (attempt 2): HTTP 500"),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].ends_with("+32 s  ticket #1004 (id 88123) created"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].ends_with("+1m05s  note added to ticket #1004 (id 88123)"),
            "{}",
            lines[5]
        );
    }

    #[test]
    fn alerts_get_a_block_each_in_the_order_they_first_appear() {
        let mut other = Event::new(Step::Received, "ar1-88", "demo");
        other.at = at(10);
        let events = vec![event(Step::Received, 0), other, event(Step::Parked, 20)];
        let text = timeline(&events);
        let blocks: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(blocks.len(), 2, "{text}");
        assert!(blocks[0].contains("parked: organization org-42 has no mapping yet"));
        assert!(blocks[1].starts_with("message ar1-88 from demo"), "{text}");
    }

    #[test]
    fn silences_and_their_release_are_told_with_their_reason_and_window() {
        let numbers = HashMap::new();
        let suppressed = event(Step::Suppressed, 0).detail(json!({
            "silence_id": "5f0c", "reason": "patch night", "window_end": "2026-12-02T02:00:00Z",
        }));
        assert_eq!(
            describe(&suppressed, &numbers),
            "suppressed by silence 5f0c (patch night) until 2026-12-02T02:00:00Z"
        );
        let released = event(Step::Released, 0).detail(json!({
            "silence_id": "5f0c", "suppressed": 3,
            "first_at": "2026-12-01T22:10:00Z", "last_at": "2026-12-01T23:10:00Z",
        }));
        assert!(describe(&released, &numbers).ends_with(
            "its ticket was queued (3 alert(s) held from 2026-12-01T22:10:00Z to 2026-12-01T23:10:00Z)"
        ));
    }
}
