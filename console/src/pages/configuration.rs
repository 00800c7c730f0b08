//! The configuration (`/configuration`): the workers' effective configuration, readable
//! (`GET /v1/configuration`), and explain: an alert pasted into a form, planned by the
//! workers' own code (`POST /v1/explain`), shown as the ticket it would make with the rule
//! that set each field.
//!
//! Defaults are not edited here: the configuration file is the record, reviewed and
//! versioned; the console shows it and explains it (`docs/console.md`). Explaining changes
//! nothing, so every role may do it; the form still carries the session's CSRF token, as
//! every POST must.

use crate::api::ApiError;
use crate::guard::{Change, Selected, Signed};
use crate::pages::{error_block, layout, page, Nav, Place};
use crate::state::{Account, AppState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

/// Longest alert accepted in the form (the operator API takes 64 KiB bodies).
const MAX_ALERT_BYTES: usize = 60 * 1024;

/// Severities, most severe first (the API's object has no order).
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// A sample for the empty form: what a canonical alert looks like.
const SAMPLE: &str = r#"{
  "id": "evt-1001",
  "event_type": "edr.ransomware",
  "severity": "high",
  "organization": {"id": "org-42", "name": "Contoso"},
  "title": "Ransomware behaviour on WS-07",
  "occurred_at": "2026-05-01T10:00:00Z"
}"#;

/// `POST /v1/explain`, as the page shows it.
#[derive(Debug, Deserialize)]
struct Explained {
    route: String,
    customer_id: Option<i64>,
    mapped: bool,
    subject: String,
    fields: Vec<Row>,
    first_comment: String,
}

#[derive(Debug, Deserialize)]
struct Row {
    field: String,
    value: String,
    set_by: String,
}

/// A value of the configuration as text (`-` when absent).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::Null => "-".into(),
        Value::Array(items) if items.is_empty() => "all".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A section's keys and values as a definition list.
fn pairs(section: &Value, keys: &[(&str, &str)]) -> Markup {
    html! {
        dl.parts {
            @for (key, label) in keys {
                dt { (label) } dd { (text(&section[*key])) }
            }
        }
    }
}

fn readable(c: &Value) -> Markup {
    let priorities = &c["tickets"]["priorities"];
    html! {
        div.grid {
            section aria-labelledby="mapping" {
                h2 id="mapping" { "Mapping" }
                (pairs(&c["mapping"], &[
                    ("catch_all_customer_id", "Catch-all customer"),
                    ("unmapped", "Unmapped organizations go to"),
                    ("organizations", "Organizations mapped in the file"),
                    ("ignored_organizations", "Organizations ignored in the file"),
                ]))
                p.muted { "Each organization's customer: the Mapping page." }
            }
            section aria-labelledby="tickets" {
                h2 id="tickets" { "Ticket defaults" }
                (pairs(&c["tickets"], &[
                    ("subject", "Subject"), ("problem_type", "Problem type"),
                    ("ticket_type_id", "Ticket type"), ("status", "Status"),
                    ("assignee_user_id", "Assignee (user id)"), ("source_tag", "Tag"),
                ]))
                @if priorities.is_object() {
                    h3 { "Priority by severity" }
                    dl.parts { @for severity in SEVERITIES { dt { (severity) } dd { (text(&priorities[severity])) } } }
                }
            }
            section aria-labelledby="notes" {
                h2 id="notes" { "Notes" }
                (pairs(&c["notes"], &[("title", "Title"), ("visibility", "Visibility")]))
                h2 id="grouping" { "Grouping" }
                (pairs(&c["grouping"], &[
                    ("window_secs", "Group window (s)"),
                    ("on_resolved_ticket", "When its ticket was closed"),
                    ("reopen_window_secs", "Reopen window (s)"),
                    ("reopen_status", "Reopen status"),
                    ("resolved_alert", "A resolved alert"),
                    ("resolve_status", "Resolve status"),
                ]))
            }
            section aria-labelledby="switches" {
                h2 id="switches" { "Features" }
                (pairs(&c["switches"], &[
                    ("contacts", "The alert's user as the ticket's contact"),
                    ("contacts_create_missing", "Create a missing contact"),
                    ("rmm_alerts", "RMM alerts on assets"),
                    ("rmm_alert_event_types", "RMM alerts for event types"),
                    ("contracts", "Contracts on tickets"),
                    ("contract_devices", "Devices on tickets"),
                    ("billing", "Billable-user sync"),
                ]))
            }
            section.wide aria-labelledby="overrides" {
                h2 id="overrides" { "Overrides, in the order they are consulted" }
                p.muted { "For each field, the first override that sets it wins: IOC rule, then Respond rule, then event type; otherwise the ticket defaults." }
                @match c["overrides"].as_array().filter(|o| !o.is_empty()) {
                    None => p { "No override." },
                    Some(overrides) => div.scroll { table {
                        thead { tr { th scope="col" { "#" } th scope="col" { "Rule" } th scope="col" { "Sets" } } }
                        tbody {
                            @for (n, o) in overrides.iter().enumerate() {
                                tr {
                                    td.num { (n + 1) }
                                    td { code { (text(&o["rule"])) } }
                                    td { @if let Some(sets) = o["sets"].as_object() {
                                        @for (k, v) in sets { div { (k) " = " (text(v)) } }
                                    } }
                                }
                            }
                        }
                    } },
                }
            }
        }
    }
}

fn explained(e: &Explained) -> Markup {
    html! {
        section.preview aria-labelledby="explained" role="status" {
            h2 id="explained" { "What this alert would make" }
            @if e.route == "ignored" {
                p { "Nothing: its organization is ignored; the alert is acknowledged and dropped." }
            } @else {
                p {
                    "A ticket for customer " strong { (e.customer_id.unwrap_or_default()) }
                    @if !e.mapped { " (the catch-all: its organization has no mapping)" }
                    ", subject " strong { (e.subject) }
                }
            }
            div.scroll { table {
                thead { tr { th scope="col" { "Field" } th scope="col" { "Value" } th scope="col" { "Set by" } } }
                tbody {
                    @for r in &e.fields { tr { td { (r.field) } td { (r.value) } td { code { (r.set_by) } } } }
                }
            } }
            details {
                summary { "Its first comment" }
                pre.explain { (e.first_comment) }
            }
        }
    }
}

async fn render(
    signed: &Signed,
    state: &AppState,
    account: &Account,
    alert: &str,
    outcome: Option<Result<Explained, String>>,
) -> HttpResponse {
    let config = account
        .api
        .get::<Value>(&signed.user, "/v1/configuration", &[])
        .await;
    let place = Place::of(state, account, signed).await;
    let failed = matches!(outcome, Some(Err(_)));
    let body = html! {
        p.muted { "The configuration file is the record: reviewed and versioned, changed there and not here. This page shows what the workers run with and explains an alert against it." }
        section aria-labelledby="explain" {
            h2 id="explain" { "Explain an alert" }
            @match &outcome {
                Some(Ok(e)) => (explained(e)),
                Some(Err(why)) => (error_block(Some(why))),
                None => {},
            }
            form method="post" action=(place.href("/configuration/explain")) {
                input type="hidden" name="csrf" value=(signed.csrf);
                label for="alert" { "The alert (canonical JSON, as a sender posts it)" }
                span.hint id="alert-hint" { "Paste it from the sender or a dead letter. Alerts are not picked from the trail: it keeps a summary of each (no description or details, which subjects and notes may use), not enough to plan it again; its planned step shows the rule of each field as it was decided." }
                textarea id="alert" name="alert" aria-describedby="alert-hint" aria-invalid=[failed.then_some("true")] spellcheck="false" { (alert) }
                button type="submit" { "Explain" }
            }
        }
        @match &config {
            Ok(c) => (readable(c)),
            Err(e) => (error_block(Some(&format!("The configuration cannot be read: {}", e.headline())))),
        }
    };
    let status = if failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        layout(
            "Configuration",
            Some((signed, &place)),
            Nav::Configuration,
            body,
        ),
    )
}

/// `GET /configuration?account=`
pub async fn show(signed: Signed, selected: Selected, state: web::Data<AppState>) -> HttpResponse {
    render(&signed, &state, &selected.0, SAMPLE, None).await
}

/// Why an explanation failed, in words, every problem the API named included.
fn why(e: &ApiError) -> String {
    let mut text = format!("The alert cannot be explained: {}", e.headline());
    for f in e.fields() {
        text.push_str(&format!("; {}: {}", f.field, f.message));
    }
    text
}

/// `POST /configuration/explain?account=`: any role (it changes nothing).
pub async fn explain(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> HttpResponse {
    let alert = change.fields.get("alert").trim().to_string();
    let outcome = if alert.len() > MAX_ALERT_BYTES {
        Err(format!(
            "The alert cannot be explained: it is longer than {} KiB",
            MAX_ALERT_BYTES / 1024
        ))
    } else {
        match serde_json::from_str::<Value>(&alert) {
            Err(e) => Err(format!(
                "The alert cannot be explained: it is not JSON ({e})"
            )),
            Ok(body) => selected
                .0
                .api
                .post::<Explained>(&change.signed.user, "/v1/explain", Some(&body))
                .await
                .map_err(|e| why(&e)),
        }
    };
    render(&change.signed, &state, &selected.0, &alert, Some(outcome)).await
}
