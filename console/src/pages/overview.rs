//! The overview (`GET /`): the fleet on one page from the operator API's `GET /v1/status`
//! (each part up or not, queue depths, the Syncro budget, the pause switch, silences, workers,
//! quiet sources, whether Syncro takes the token), the last 24 hours' activity as a chart and
//! the busiest organizations and event types (`GET /v1/activity`, drawn by
//! [`super::activity`]), and the pause and resume buttons for the operate role. With several
//! accounts, each account's status one under the other, each headed by its label, prefix and
//! Syncro host; an account that cannot be read says so in its own block.

use crate::api::{ApiError, Deployment};
use crate::guard::{Change, Selected, Signed};
use crate::pages::activity::{self, Activity};
use crate::pages::{
    error_block, layout, notice, notice_block, page, see_other, when, Nav, PageError, Place,
};
use crate::state::{Account, AppState};
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
    #[serde(default)]
    pub deployment: Option<Deployment>,
    pub paused: Option<PauseState>,
    pub silences: Option<SilenceCounts>,
    pub postgres: String,
    pub sources: Option<Vec<Source>>,
    pub workers: Option<Vec<Worker>>,
    /// Ingest instances reporting (absent from an older API).
    #[serde(default)]
    pub ingest: Option<Vec<IngestInstance>>,
    pub budget: Option<Budget>,
    pub queues: Option<Vec<Queue>>,
    pub rabbitmq: String,
    /// The workers' Redis as the operator API's ping found it (absent from an older API).
    #[serde(default)]
    pub redis: Option<String>,
    /// Whether Syncro takes the workers' token (null until checked).
    #[serde(default)]
    pub syncro: Option<SyncroReach>,
}

#[derive(Debug, Deserialize)]
pub struct SyncroReach {
    /// `ok`, `refused` or `unreachable`.
    pub state: String,
    pub checked_at: DateTime<Utc>,
    pub detail: String,
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
pub struct IngestInstance {
    pub report: IngestReport,
}

#[derive(Debug, Deserialize)]
pub struct IngestReport {
    pub broker_up: bool,
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

/// One account's block of the overview: its place, and how its ids and headings are told
/// apart from the other blocks' (nothing added when one account is served).
struct Block {
    place: Place,
    /// `""` with one account, else `-<n>`, appended to every id.
    suffix: String,
    /// Headings one level down, under the account's own.
    nested: bool,
}

impl Block {
    fn id(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    fn heading(&self, base: &str, text: &str) -> Markup {
        let id = self.id(base);
        html! {
            @if self.nested { h3 id=(id) { (text) } } @else { h2 id=(id) { (text) } }
        }
    }
}

fn up(ok: bool) -> Markup {
    html! {
        @if ok { span.up { "up" } } @else { span.down { "DOWN" } }
    }
}

fn parts(status: &Status, b: &Block) -> Markup {
    let workers = status.workers.as_deref().unwrap_or_default();
    let redis = !workers.is_empty() && workers.iter().all(|w| w.report.redis_up);
    html! {
        section aria-labelledby=(b.id("parts")) {
            (b.heading("parts", "Parts"))
            dl.parts {
                dt { "Operator API" } dd { (up(true)) }
                dt { "Ingest" } dd {
                    @match &status.ingest {
                        None => { "unknown (PostgreSQL is down)" }
                        Some(i) if i.is_empty() => { span.down { "none reporting" } }
                        Some(i) => {
                            (i.len()) " reporting"
                            @let cut = i.iter().filter(|i| !i.report.broker_up).count();
                            @if cut > 0 { ", " span.down { (cut) " without RabbitMQ (answering 503)" } }
                        }
                    }
                }
                dt { "PostgreSQL" } dd { (up(status.postgres == "up")) }
                dt { "RabbitMQ" } dd { (up(status.rabbitmq == "up")) }
                dt { "Workers" } dd {
                    @match &status.workers {
                        None => { "unknown (PostgreSQL is down)" }
                        Some(w) if w.is_empty() => { span.down { "none reporting" } }
                        Some(w) => { (w.len()) " reporting" }
                    }
                }
                @if let Some(ping) = &status.redis {
                    dt { "Redis" } dd { (up(ping == "up")) }
                }
                dt { "Redis (as workers see it)" } dd {
                    @if workers.is_empty() { "unknown (no worker reporting)" } @else { (up(redis)) }
                }
                dt { "Syncro reachable with the token" } dd {
                    @match &status.syncro {
                        None => { "not checked yet" }
                        Some(s) => {
                            @match s.state.as_str() {
                                "ok" => span.up { "yes" },
                                "refused" => span.down { "REFUSED" },
                                _ => span.down { "UNREACHABLE" },
                            }
                            span.muted { " · " (s.detail) " · checked " (when(&s.checked_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn pause_section(status: &Status, signed: &Signed, b: &Block) -> Markup {
    let reason = b.id("pause-reason");
    html! {
        section aria-labelledby=(b.id("pause")) {
            (b.heading("pause", "Pause"))
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
                            form method="post" action=(b.place.href("/resume")) {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                button type="submit" { "Resume the workers" }
                            }
                        } @else {
                            form.inline method="post" action=(b.place.href("/pause")) {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                label for=(reason) { "Reason" }
                                input id=(reason) name="reason" type="text" required maxlength="1024" placeholder="Syncro maintenance";
                                button.danger type="submit" { "Pause the workers" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn queues(status: &Status, b: &Block) -> Markup {
    html! {
        section aria-labelledby=(b.id("queues")) {
            (b.heading("queues", "Queues"))
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

fn budget(status: &Status, b: &Block) -> Markup {
    html! {
        section aria-labelledby=(b.id("budget")) {
            (b.heading("budget", "Syncro budget"))
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

fn silences(status: &Status, b: &Block) -> Markup {
    html! {
        section aria-labelledby=(b.id("silences")) {
            (b.heading("silences", "Silences"))
            @match &status.silences {
                None => p { "Unknown: PostgreSQL is down." },
                Some(s) => p { (s.active) " active, " (s.pending) " pending · " a href=(b.place.href("/silences")) { "see them" } },
            }
        }
    }
}

fn fleet(status: &Status, b: &Block) -> Markup {
    html! {
        section.wide aria-labelledby=(b.id("workers")) {
            (b.heading("workers", "Workers"))
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
            section aria-labelledby=(b.id("quiet")) {
                (b.heading("quiet", "Quiet sources"))
                ul {
                    @for s in sources {
                        li { strong { (s.source) } @if let Some(q) = s.quiet_for_secs { " — nothing heard for " (q / 60) " min" } }
                    }
                }
            }
        }
    }
}

/// One account's status, or why it cannot be read (and whether its API answers at all).
async fn status_of(account: &Account, signed: &Signed) -> Result<Status, (ApiError, bool)> {
    match account
        .api
        .get::<Status>(&signed.user, "/v1/status", &[])
        .await
    {
        Ok(status) => {
            account.saw(status.deployment.as_ref());
            Ok(status)
        }
        Err(e) => Err((e, account.api.healthy().await)),
    }
}

/// The last 24 hours: the chart, and the busiest organizations and event types.
fn day(activity: &Result<Activity, ApiError>, b: &Block) -> Markup {
    html! {
        section.wide aria-labelledby=(b.id("day")) {
            (b.heading("day", "The last 24 hours"))
            @match activity {
                Ok(a) => (activity::chart(a, &b.id("day-table"))),
                Err(e) => (error_block(Some(&format!("The activity cannot be read: {}", e.headline())))),
            }
        }
        @if let Ok(a) = activity {
            section aria-labelledby=(b.id("busiest-orgs")) {
                (b.heading("busiest-orgs", "Busiest organizations"))
                (activity::busiest(&a.organizations, "Organization"))
            }
            section aria-labelledby=(b.id("busiest-types")) {
                (b.heading("busiest-types", "Busiest event types"))
                (activity::busiest(&a.event_types, "Event type"))
            }
        }
    }
}

/// One account's last 24 hours of activity.
async fn activity_of(account: &Account, signed: &Signed) -> Result<Activity, ApiError> {
    account
        .api
        .get::<Activity>(&signed.user, "/v1/activity", &[("hours", "24")])
        .await
}

fn block(
    status: &Result<Status, (ApiError, bool)>,
    activity: &Result<Activity, ApiError>,
    signed: &Signed,
    b: &Block,
) -> Markup {
    html! {
        @match status {
            Ok(status) => div.grid {
                (parts(status, b))
                (pause_section(status, signed, b))
                (budget(status, b))
                (silences(status, b))
                (day(activity, b))
                (queues(status, b))
                (fleet(status, b))
            },
            Err((e, healthy)) => {
                (error_block(Some(&format!("The fleet's status cannot be read: {}", e.headline()))))
                p { "Operator API: " (up(*healthy)) }
            },
        }
    }
}

/// `GET /` (`?account=` names the account a notice is of, and that the navigation carries)
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> HttpResponse {
    let statuses = futures_util::future::join_all(state.accounts.iter().map(|account| async {
        tokio::join!(status_of(account, &signed), activity_of(account, &signed))
    }))
    .await;
    let several = state.several();
    let mut current = Place::known(&state, &selected.0, selected.0.deployment().as_ref());
    let blocks: Vec<Markup> = state
        .accounts
        .iter()
        .zip(&statuses)
        .enumerate()
        .map(|(n, (account, (status, activity)))| {
            let b = Block {
                place: Place::known(&state, account, account.deployment().as_ref()),
                suffix: if several {
                    format!("-{n}")
                } else {
                    String::new()
                },
                nested: several,
            };
            if account.label == current.label {
                current = b.place.clone();
            }
            let body = block(status, activity, &signed, &b);
            if !several {
                return body;
            }
            let head = b.id("account");
            html! {
                section.account-block aria-labelledby=(head) {
                    h2 id=(head) {
                        (account.label)
                        @if let Some(d) = account.deployment() {
                            " · " code { (d.prefix) }
                            @if let Some(host) = &d.syncro_host { " · Syncro " (host) }
                        }
                    }
                    (body)
                }
            }
        })
        .collect();
    let body = html! {
        (notice_block(current.notice(notice(query.done.as_deref())).as_deref()))
        @for b in &blocks { (b) }
    };
    page(
        StatusCode::OK,
        layout("Overview", Some((&signed, &current)), Nav::Overview, body),
    )
}

/// The outcome of a pause or resume: back to the overview with a notice, or its error.
fn switched(
    result: Result<Value, ApiError>,
    done: &str,
    signed: &Signed,
    place: &Place,
) -> HttpResponse {
    match result {
        Ok(_) => see_other(&place.href(&format!("/?done={done}"))),
        Err(e) => {
            let mut text = e.headline();
            for f in e.fields() {
                text.push_str(&format!("; {}: {}", f.field, f.message));
            }
            if !place.all.is_empty() {
                text = format!("Nothing was changed in account {}: {text}", place.title);
            }
            let body = html! {
                (error_block(Some(&text)))
                p { a href=(place.href("/")) { "Back to the overview" } }
            };
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout("Overview", Some((signed, place)), Nav::Overview, body),
            )
        }
    }
}

/// `POST /pause?account=`: the selected account's workers only.
pub async fn pause(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let account = &selected.0;
    let body = json!({"reason": change.fields.get("reason")});
    let result = account
        .api
        .post(&change.signed.user, "/v1/pause", Some(&body))
        .await;
    let place = Place::of(&state, account, &change.signed).await;
    Ok(switched(result, "paused", &change.signed, &place))
}

/// `POST /resume?account=`: the selected account's workers only.
pub async fn resume(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let account = &selected.0;
    let result = account
        .api
        .post(&change.signed.user, "/v1/resume", None)
        .await;
    let place = Place::of(&state, account, &change.signed).await;
    Ok(switched(result, "resumed", &change.signed, &place))
}
