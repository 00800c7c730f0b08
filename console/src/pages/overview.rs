//! The overview (`GET /`): the fleet on one page from the operator API's `GET /v1/status`
//! (each part up or not, queue depths, the Syncro budget, the pause switch, silences, workers,
//! quiet sources), and the pause and resume buttons for the operate role.

use crate::api::ApiError;
use crate::guard::{Change, Signed};
use crate::pages::{
    error_block, layout, notice, notice_block, page, see_other, when, Nav, PageError,
};
use crate::state::AppState;
use crate::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /v1/status`, as far as the page shows it (unknown keys ignored).
#[derive(Debug, Deserialize)]
pub struct Status {
    pub paused: Option<PauseState>,
    pub silences: Option<SilenceCounts>,
    pub postgres: String,
    pub sources: Option<Vec<Source>>,
    pub workers: Option<Vec<Worker>>,
    pub budget: Option<Budget>,
    pub queues: Option<Vec<Queue>>,
    pub rabbitmq: String,
}

#[derive(Debug, Deserialize)]
pub struct PauseState {
    pub paused: bool,
    pub reason: Option<String>,
    pub by: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct SilenceCounts {
    pub active: u64,
    pub pending: u64,
}

#[derive(Debug, Deserialize)]
pub struct Source {
    pub source: String,
    pub quiet_for_secs: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Worker {
    pub instance: String,
    pub host: String,
    pub seen_at: DateTime<Utc>,
    pub report: Report,
}

#[derive(Debug, Deserialize)]
pub struct Report {
    pub held: u64,
    pub in_flight: u64,
    pub redis_up: bool,
    pub broker_up: bool,
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub struct Budget {
    pub requests_per_minute: u64,
    pub used_last_minute: u64,
}

#[derive(Debug, Deserialize)]
pub struct Queue {
    pub name: String,
    pub messages: Option<u64>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn up(ok: bool) -> Markup {
    html! {
        @if ok { span.up { "up" } } @else { span.down { "DOWN" } }
    }
}

fn parts(status: &Status) -> Markup {
    let workers = status.workers.as_deref().unwrap_or_default();
    let redis = !workers.is_empty() && workers.iter().all(|w| w.report.redis_up);
    html! {
        section aria-labelledby="parts" {
            h2 id="parts" { "Parts" }
            dl.parts {
                dt { "Operator API" } dd { (up(true)) }
                dt { "PostgreSQL" } dd { (up(status.postgres == "up")) }
                dt { "RabbitMQ" } dd { (up(status.rabbitmq == "up")) }
                dt { "Workers" } dd {
                    @match &status.workers {
                        None => { "unknown (PostgreSQL is down)" }
                        Some(w) if w.is_empty() => { span.down { "none reporting" } }
                        Some(w) => { (w.len()) " reporting" }
                    }
                }
                dt { "Redis (as workers see it)" } dd {
                    @if workers.is_empty() { "unknown (no worker reporting)" } @else { (up(redis)) }
                }
            }
        }
    }
}

fn pause_section(status: &Status, signed: &Signed) -> Markup {
    html! {
        section aria-labelledby="pause" {
            h2 id="pause" { "Pause" }
            @match &status.paused {
                None => p { "Unknown: PostgreSQL is down." },
                Some(state) => {
                    p.state {
                        @if state.paused { strong.down { "Paused" } " — workers take no alert; alerts wait in RabbitMQ." }
                        @else { strong.up { "Running" } }
                    }
                    @if let Some(reason) = &state.reason { p { "Reason: " (reason) } }
                    @if let (Some(by), Some(since)) = (&state.by, &state.since) {
                        p.muted { "Last changed by " (by) " at " (when(since)) }
                    }
                    @if signed.user.may(Role::Operate) {
                        @if state.paused {
                            form method="post" action="/resume" {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                button type="submit" { "Resume the workers" }
                            }
                        } @else {
                            form.inline method="post" action="/pause" {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                label for="pause-reason" { "Reason" }
                                input id="pause-reason" name="reason" type="text" required maxlength="1024" placeholder="Syncro maintenance";
                                button.danger type="submit" { "Pause the workers" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn queues(status: &Status) -> Markup {
    html! {
        section aria-labelledby="queues" {
            h2 id="queues" { "Queues" }
            @match &status.queues {
                None => p { "Unknown: RabbitMQ cannot be reached." },
                Some(queues) => table {
                    thead { tr { th scope="col" { "Queue" } th scope="col" { "Ready messages" } } }
                    tbody {
                        @for q in queues {
                            tr { td { (q.name) } td.num { @match q.messages { Some(n) => (n), None => "not declared yet" } } }
                        }
                    }
                },
            }
        }
    }
}

fn budget(status: &Status) -> Markup {
    html! {
        section aria-labelledby="budget" {
            h2 id="budget" { "Syncro budget" }
            @match &status.budget {
                None => p { "Unknown: PostgreSQL is down." },
                Some(b) => {
                    p { (b.used_last_minute) " of " (b.requests_per_minute) " requests used in the last minute" }
                    meter min="0" max=(b.requests_per_minute) value=(b.used_last_minute) aria-label="Syncro requests used in the last minute" {}
                },
            }
        }
    }
}

fn silences(status: &Status) -> Markup {
    html! {
        section aria-labelledby="silences" {
            h2 id="silences" { "Silences" }
            @match &status.silences {
                None => p { "Unknown: PostgreSQL is down." },
                Some(s) => p { (s.active) " active, " (s.pending) " pending · " a href="/silences" { "see them" } },
            }
        }
    }
}

fn fleet(status: &Status) -> Markup {
    html! {
        section.wide aria-labelledby="workers" {
            h2 id="workers" { "Workers" }
            @if let Some(workers) = &status.workers {
                @if workers.is_empty() { p { "No worker reported in the last 15 seconds." } }
                @else {
                    div.scroll {
                        table {
                            thead { tr {
                                th scope="col" { "Worker" } th scope="col" { "Host" } th scope="col" { "Held" }
                                th scope="col" { "In flight" } th scope="col" { "Redis" } th scope="col" { "RabbitMQ" }
                                th scope="col" { "Version" } th scope="col" { "Seen" }
                            } }
                            tbody {
                                @for w in workers {
                                    tr {
                                        td { (w.instance) } td { (w.host) } td.num { (w.report.held) }
                                        td.num { (w.report.in_flight) } td { (up(w.report.redis_up)) }
                                        td { (up(w.report.broker_up)) } td { (w.report.version) } td { (when(&w.seen_at)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(sources) = status.sources.as_ref().filter(|s| !s.is_empty()) {
            section aria-labelledby="quiet" {
                h2 id="quiet" { "Quiet sources" }
                ul {
                    @for s in sources {
                        li { strong { (s.source) } @if let Some(q) = s.quiet_for_secs { " — nothing heard for " (q / 60) " min" } }
                    }
                }
            }
        }
    }
}

/// `GET /`
pub async fn show(
    signed: Signed,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> HttpResponse {
    let status: Result<Status, ApiError> = state.api.get(&signed.user, "/v1/status", &[]).await;
    let body = match &status {
        Ok(status) => html! {
            (notice_block(notice(query.done.as_deref())))
            div.grid {
                (parts(status))
                (pause_section(status, &signed))
                (budget(status))
                (silences(status))
                (queues(status))
                (fleet(status))
            }
        },
        Err(e) => html! {
            (error_block(Some(&format!("The fleet's status cannot be read: {}", e.headline()))))
            p { "Operator API: " (up(state.api.healthy().await)) }
        },
    };
    page(
        StatusCode::OK,
        layout("Overview", Some(&signed), Nav::Overview, body),
    )
}

/// The outcome of a pause or resume: back to the overview with a notice, or its error.
fn switched(result: Result<Value, ApiError>, done: &str, signed: &Signed) -> HttpResponse {
    match result {
        Ok(_) => see_other(&format!("/?done={done}")),
        Err(e) => {
            let mut text = e.headline();
            for f in e.fields() {
                text.push_str(&format!("; {}: {}", f.field, f.message));
            }
            let body = html! {
                (error_block(Some(&text)))
                p { a href="/" { "Back to the overview" } }
            };
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout("Overview", Some(signed), Nav::Overview, body),
            )
        }
    }
}

/// `POST /pause`
pub async fn pause(change: Change, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let body = json!({"reason": change.fields.get("reason")});
    let result = state
        .api
        .post(&change.signed.user, "/v1/pause", Some(&body))
        .await;
    Ok(switched(result, "paused", &change.signed))
}

/// `POST /resume`
pub async fn resume(change: Change, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let result = state
        .api
        .post(&change.signed.user, "/v1/resume", None)
        .await;
    Ok(switched(result, "resumed", &change.signed))
}
