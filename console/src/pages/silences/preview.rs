//! The create form's preview: the recent alerts (the trail's last 24 hours) the silence
//! being written would have matched, from the operator API's `POST /v1/silences/preview`,
//! shown above the form, which keeps what was entered. Nothing is created.

use crate::pages::{when, Place};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

/// `POST /v1/silences/preview`, as the page shows it.
#[derive(Debug, Deserialize)]
pub(super) struct Preview {
    checked: u64,
    complete: bool,
    matched: u64,
    alerts: Vec<Matched>,
}

#[derive(Debug, Deserialize)]
struct Matched {
    message_id: String,
    sender_id: String,
    organization: String,
    event_type: String,
    severity: String,
    at: DateTime<Utc>,
}

/// The preview's block: how many matched, and the newest of them with a link to each trail.
pub(super) fn block(preview: &Preview, place: &Place) -> Markup {
    html! {
        section.preview aria-labelledby="preview" role="status" {
            h2 id="preview" { "Preview: " (preview.matched) " of the last 24 hours' alerts would have matched" }
            p.muted {
                (preview.checked) " alert(s) looked at"
                @if !preview.complete { " (the newest only)" }
                ", whatever the schedule. Nothing was created: the form below keeps what was entered."
            }
            @if !preview.alerts.is_empty() {
                div.scroll {
                    table {
                        caption { "The newest matching alerts" }
                        thead { tr {
                            th scope="col" { "Alert" } th scope="col" { "Organization" } th scope="col" { "Event type" }
                            th scope="col" { "Severity" } th scope="col" { "Received" }
                        } }
                        tbody {
                            @for a in &preview.alerts {
                                tr {
                                    td { a href=(place.href(&trail_link(&a.message_id))) { (a.sender_id) } }
                                    td { (a.organization) } td { (a.event_type) } td { (a.severity) } td { (when(&a.at)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The trail page of one alert, its id percent-encoded.
fn trail_link(message_id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(message_id.as_bytes()).collect();
    format!("/trail?alert={id}")
}
