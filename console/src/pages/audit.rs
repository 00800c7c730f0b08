//! The audit log (`GET /audit`): who did what, newest first, from the operator API.

use crate::guard::{Selected, Signed};
use crate::pages::{error_block, layout, page, when, Nav, Place};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Entry {
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: Option<String>,
    #[serde(default)]
    detail: Value,
}

#[derive(Deserialize)]
struct EntryList {
    entries: Vec<Entry>,
}

/// `GET /audit?account=`: the selected account's last 200 entries.
pub async fn show(signed: Signed, selected: Selected, state: web::Data<AppState>) -> HttpResponse {
    let place = Place::of(&state, &selected.0, &signed).await;
    let found = selected
        .0
        .api
        .get::<EntryList>(&signed.user, "/v1/audit", &[("limit", "200")])
        .await;
    let body = html! {
        @match &found {
            Err(e) => (error_block(Some(&format!("The audit log cannot be read: {}", e.headline())))),
            Ok(list) if list.entries.is_empty() => p { "Nothing has been changed yet." },
            Ok(list) => div.scroll {
                table.audit {
                    caption { "The last " (list.entries.len()) " changes, newest first" }
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" }
                        th scope="col" { "Target" } th scope="col" { "Detail" }
                    } }
                    tbody {
                        @for e in &list.entries {
                            tr {
                                td { (when(&e.at)) }
                                td { (e.actor) }
                                td { code { (e.action) } }
                                td { @if let Some(t) = &e.target { code { (t) } } }
                                td {
                                    @if !e.detail.is_null() {
                                        details {
                                            summary { "Show" }
                                            pre { (serde_json::to_string_pretty(&e.detail).unwrap_or_default()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
    };
    page(
        StatusCode::OK,
        layout("Audit log", Some((&signed, &place)), Nav::Audit, body),
    )
}
