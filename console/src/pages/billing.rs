//! Billing (`/billing`), read-only: what the next billable-user sync would write onto each
//! organization's recurring invoice, and this month's recorded outcome of each, from the
//! operator API's `GET /v1/billing` (as `relayctl billing preview` and `status` show them).
//! Running the sync stays `relayctl billing sync --now`'s.

use crate::guard::{Selected, Signed};
use crate::pages::{error_block, layout, page, when, Nav, Place};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

/// `GET /v1/billing`, as the page shows it.
#[derive(Debug, Deserialize)]
struct Billing {
    enabled: bool,
    schedule: String,
    organizations: u64,
    month: String,
    complete: bool,
    preview: Vec<Outcome>,
    outcomes: Vec<Outcome>,
}

#[derive(Debug, Deserialize)]
struct Outcome {
    organization_id: String,
    schedule_id: i64,
    outcome: String,
    line_id: Option<i64>,
    line_name: Option<String>,
    old_quantity: Option<f64>,
    new_quantity: Option<u64>,
    #[serde(default)]
    added_line: bool,
    message: String,
    at: DateTime<Utc>,
}

fn line(o: &Outcome) -> String {
    match (o.line_id, &o.line_name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        (Some(id), None) => id.to_string(),
        (None, Some(name)) => format!("{name} (new)"),
        (None, None) if o.added_line => "(new)".into(),
        (None, None) => "-".into(),
    }
}

/// The outcomes as a table; `dated`: with when each was recorded (a preview's is now).
fn table(outcomes: &[Outcome], caption: &str, verb: &str, dated: bool) -> Markup {
    let quantity = |q: Option<String>| q.unwrap_or_else(|| "-".into());
    html! {
        div.scroll { table {
            caption { (caption) }
            thead { tr {
                th scope="col" { "Organization" } th scope="col" { "Schedule" } th scope="col" { "Line" }
                th scope="col" { "Quantity now" } th scope="col" { "Count" } th scope="col" { (verb) }
                @if dated { th scope="col" { "When" } }
            } }
            tbody {
                @for o in outcomes {
                    tr {
                        td { (o.organization_id) } td.num { (o.schedule_id) } td { (line(o)) }
                        td.num { (quantity(o.old_quantity.map(|q| q.to_string()))) }
                        td.num { (quantity(o.new_quantity.map(|q| q.to_string()))) }
                        td { strong { (o.outcome.replace('_', " ")) } ": " (o.message) }
                        @if dated { td { (when(&o.at)) } }
                    }
                }
            }
        } }
    }
}

fn body(b: &Billing) -> Markup {
    html! {
        @if !b.enabled {
            p.notice role="status" { "The billable-user sync is off in the configuration (billing.sync_billable_users = false): the workers write nothing. The preview below shows what a run would write." }
        } @else {
            p { "The sync runs each month on " (b.schedule) "." }
        }
        @if b.organizations == 0 {
            p { "No organization is under [billing.organizations] in the configuration." }
        } @else {
            section aria-labelledby="next" {
                h2 id="next" { "What the next run would write" }
                (table(&b.preview, "Counts from the sources, invoices as Syncro has them now", "Would", false))
            }
            section aria-labelledby="month" {
                h2 id="month" { "This month (" (b.month) "): " @if b.complete { "complete" } @else { "not complete" } }
                @if b.outcomes.is_empty() { p { "No run yet this month." } }
                @else { (table(&b.outcomes, "The last run's outcome of each organization", "Outcome", true)) }
            }
        }
    }
}

/// `GET /billing?account=`
pub async fn show(signed: Signed, selected: Selected, state: web::Data<AppState>) -> HttpResponse {
    let account = &selected.0;
    let found = account
        .api
        .get::<Billing>(&signed.user, "/v1/billing", &[])
        .await;
    let place = Place::of(&state, account, &signed).await;
    let content = match &found {
        Ok(b) => body(b),
        Err(e) => error_block(Some(&format!("Billing cannot be read: {}", e.headline()))),
    };
    page(
        StatusCode::OK,
        layout("Billing", Some((&signed, &place)), Nav::Billing, content),
    )
}
