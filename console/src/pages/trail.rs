//! The trail (`GET /trail`): search by alert id, organization or ticket number, and each
//! alert found as a timeline of its steps, with a link to its Syncro ticket when a number is
//! known and a ticket address is configured.

use crate::guard::{Selected, Signed};
use crate::pages::{error_block, layout, page, when, Nav, Place};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

/// One step, as `GET /v1/trail` answers it.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub message_id: String,
    pub source: String,
    pub sender_id: Option<String>,
    pub organization: Option<String>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub step: String,
    #[serde(default)]
    pub detail: Value,
}

#[derive(Deserialize)]
struct EventList {
    events: Vec<Event>,
}

#[derive(Deserialize)]
pub struct Search {
    alert: Option<String>,
    organization: Option<String>,
    ticket_number: Option<String>,
}

/// How a step reads.
fn step_label(step: &str) -> &str {
    match step {
        "received" => "Received",
        "planned" => "Planned",
        "suppressed" => "Suppressed by a silence",
        "parked" => "Parked (organization not mapped)",
        "ignored" => "Ignored",
        "ticket_created" => "Ticket created",
        "note_added" => "Note added",
        "resolved" => "Resolved",
        "retried" => "Retried",
        "dead_lettered" => "Dead-lettered",
        "replayed" => "Replayed",
        "released" => "Released",
        "trail_gap" => "Trail gap",
        other => other,
    }
}

/// A step's detail in a few words: the ticket's subject, the silence's reason, the error.
fn gist(step: &str, detail: &Value) -> Option<String> {
    let text = |key: &str| {
        detail
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    match step {
        "suppressed" => text("reason").map(|r| format!("silence: {r}")),
        "dead_lettered" | "retried" => text("error").map(str::to_string),
        _ => text("subject").map(|s| format!("“{s}”")),
    }
}

/// The ticket's address from the configured template: the id is a number, the number is
/// percent-encoded, and the template was checked to be http(s) at start.
fn ticket_link(template: &str, id: Option<i64>, number: Option<&str>) -> Option<String> {
    let mut url = template.to_string();
    if url.contains("{id}") {
        url = url.replace("{id}", &id?.to_string());
    }
    if url.contains("{number}") {
        let encoded: String = form_urlencoded::byte_serialize(number?.as_bytes()).collect();
        url = url.replace("{number}", &encoded);
    }
    Some(url)
}

fn ticket(state: &AppState, id: Option<i64>, number: Option<&str>) -> Markup {
    let shown = number
        .map(|n| format!("#{n}"))
        .or_else(|| id.map(|i| format!("id {i}")));
    let link = state
        .ticket_url
        .as_deref()
        .and_then(|t| ticket_link(t, id, number));
    html! {
        @if let Some(shown) = shown {
            @match link {
                Some(href) => a href=(href) rel="noreferrer" { "Syncro ticket " (shown) },
                None => span { "Syncro ticket " (shown) },
            }
        }
    }
}

/// Events grouped by alert, in the order their first step came.
fn by_alert(events: &[Event]) -> Vec<(&str, Vec<&Event>)> {
    let mut alerts: Vec<(&str, Vec<&Event>)> = Vec::new();
    for event in events {
        match alerts.iter_mut().find(|(id, _)| *id == event.message_id) {
            Some((_, steps)) => steps.push(event),
            None => alerts.push((&event.message_id, vec![event])),
        }
    }
    for (_, steps) in &mut alerts {
        steps.sort_by_key(|e| e.at);
    }
    alerts
}

fn timeline(state: &AppState, message_id: &str, steps: &[&Event]) -> Markup {
    let first = steps.first();
    let sender = first
        .and_then(|e| e.sender_id.as_deref())
        .unwrap_or(message_id);
    let org = steps.iter().find_map(|e| e.organization.as_deref());
    let ticketed = steps
        .iter()
        .rev()
        .find(|e| e.ticket_id.is_some() || e.ticket_number.is_some());
    html! {
        article.alert aria-label={ "Alert " (sender) } {
            h2 { "Alert " code { (sender) } }
            p.muted {
                @if let Some(e) = first { "source " (e.source) }
                @if let Some(org) = org { " · organization " (org) }
                " · message " code { (message_id) }
            }
            @if let Some(e) = ticketed { p { (ticket(state, e.ticket_id, e.ticket_number.as_deref())) } }
            ol.timeline {
                @for e in steps {
                    li class={ "step step-" (e.step) } {
                        time datetime=(e.at.to_rfc3339()) { (when(&e.at)) }
                        " "
                        strong { (step_label(&e.step)) }
                        @if e.ticket_id.is_some() || e.ticket_number.is_some() {
                            " · " (ticket(state, e.ticket_id, e.ticket_number.as_deref()))
                        }
                        @if let Some(gist) = gist(&e.step, &e.detail) { span.gist { " — " (gist) } }
                        @if !e.detail.is_null() {
                            details {
                                summary { "Details" }
                                pre { (serde_json::to_string_pretty(&e.detail).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /trail?alert=&organization=&ticket_number=&account=`: the selected account's trail.
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<Search>,
) -> HttpResponse {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
    let (alert, org, number) = (
        given(&query.alert),
        given(&query.organization),
        given(&query.ticket_number),
    );
    let params: Vec<(&str, &str)> = [
        ("alert", alert.as_str()),
        ("organization", org.as_str()),
        ("ticket_number", number.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let found = if params.is_empty() {
        None
    } else {
        Some(
            selected
                .0
                .api
                .get::<EventList>(&signed.user, "/v1/trail", &params)
                .await,
        )
    };
    let place = Place::of(&state, &selected.0, &signed).await;
    let body = html! {
        form.search method="get" action="/trail" role="search" aria-label="Search the trail" {
            @if !place.all.is_empty() { input type="hidden" name="account" value=(place.label); }
            div.field { label for="alert" { "Alert id" } input id="alert" name="alert" type="text" value=(alert); }
            div.field { label for="organization" { "Organization" } input id="organization" name="organization" type="text" value=(org); }
            div.field { label for="ticket_number" { "Ticket number" } input id="ticket_number" name="ticket_number" type="text" inputmode="numeric" value=(number); }
            button type="submit" { "Search" }
        }
        @match &found {
            None => p.muted { "Give an alert id (the sender's or the relay's), an organization or a ticket number." },
            Some(Err(e)) => (error_block(Some(&format!("The trail cannot be searched: {}", e.headline())))),
            Some(Ok(list)) if list.events.is_empty() => p role="status" { "Nothing found." },
            Some(Ok(list)) => {
                p role="status" { (by_alert(&list.events).len()) " alert(s) found." }
                @for (id, steps) in by_alert(&list.events) { (timeline(&state, id, &steps)) }
            },
        }
    };
    page(
        StatusCode::OK,
        layout("Trail", Some((&signed, &place)), Nav::Trail, body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_links_fill_the_template_and_encode_the_number() {
        let t = "https://acme.syncromsp.com/tickets/{id}?n={number}";
        assert_eq!(
            ticket_link(t, Some(42), Some("10 01&x")).as_deref(),
            Some("https://acme.syncromsp.com/tickets/42?n=10+01%26x")
        );
        assert_eq!(ticket_link(t, None, Some("1")), None);
    }
}
