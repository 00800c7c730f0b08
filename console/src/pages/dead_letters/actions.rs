//! Replay and purge, each in two steps and for `operate` only:
//!
//! - `GET /dead-letters/replay?filters…`: the dry run (the operator API's replay with
//!   `"dry_run": true`, which moves nothing): what would move and what each would become,
//!   then a form, "Replay for real", carrying the same filters;
//! - `POST /dead-letters/replay`: the replay, and what it did (each moved alert linked to
//!   its trail);
//! - `GET /dead-letters/purge?filters…`: the letters that would go, and a confirmation form;
//! - `POST /dead-letters/purge`: the purge (`"confirm": true` only when the form's
//!   `confirm` field says so), and what it removed.
//!
//! Every POST passed the CSRF and origin checks before its handler runs ([`Change`]); a
//! refusal changes nothing.

use super::{letters_table, partial_note, segment, Filter, Letter, Overview};
use crate::api::ApiError;
use crate::guard::{Change, Selected, Signed};
use crate::pages::{error_block, layout, notice_block, page, Nav, PageError, Place};
use crate::state::AppState;
use crate::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One letter of a replay's answer.
#[derive(Debug, Deserialize)]
struct Planned {
    #[serde(flatten)]
    letter: Letter,
    would: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Plan {
    create_ticket: usize,
    note: usize,
    already_handled: usize,
    ignored: usize,
    undecodable: usize,
}

/// `POST /v1/dead-letters/replay`'s answer.
#[derive(Debug, Deserialize)]
struct Replayed {
    in_queue: usize,
    read: usize,
    complete: bool,
    matched: usize,
    replayed: usize,
    duplicates_removed: usize,
    skipped: usize,
    left: usize,
    moved: Vec<String>,
    letters: Vec<Planned>,
    plan: Option<Plan>,
    stopped: Option<String>,
}

/// `POST /v1/dead-letters/purge`'s answer.
#[derive(Debug, Deserialize)]
struct Purged {
    removed: usize,
    left: usize,
    stopped: Option<String>,
}

#[derive(Deserialize)]
pub struct FilterQuery {
    #[serde(flatten)]
    params: HashMap<String, String>,
}

/// What a dry run expects of one letter, in words.
fn would(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => match s.as_str() {
            "create_ticket" => "creates a ticket".into(),
            "already_handled" => "already handled: skipped".into(),
            "ignored" => "ignored (organization ignored)".into(),
            "undecodable" => "undecodable: dead-lettered again".into(),
            other => other.to_string(),
        },
        Some(Value::Object(o)) => match o.get("note").and_then(|n| n.get("ticket_id")) {
            Some(Value::Number(id)) => format!("a note on ticket {id}"),
            _ => "a note on the ticket an earlier letter creates".into(),
        },
        _ => String::new(),
    }
}

/// The API's refusal, with every field it named.
fn refusal(what: &str, e: &ApiError) -> String {
    let mut text = format!("{what}: {}", e.headline());
    for f in e.fields() {
        text.push_str(&format!("; {}: {}", f.field, f.message));
    }
    text
}

fn answer(
    signed: &Signed,
    place: &Place,
    title: &str,
    status: StatusCode,
    body: Markup,
) -> HttpResponse {
    page(
        status,
        layout(title, Some((signed, place)), Nav::DeadLetters, body),
    )
}

fn back(place: &Place, filter: &Filter) -> Markup {
    html! { p { a href=(filter.href(place, "/dead-letters")) { "Back to the dead letters" } } }
}

/// `GET /dead-letters/replay?filters…&account=`: the dry run.
pub async fn dry_run(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, PageError> {
    signed.require(Role::Operate)?;
    let filter = Filter::of_query(&query.params);
    // The dry run's page is 200 either way: it shows the API's refusal in place of the plan.
    let (found, place, _) = send::<Replayed>(
        &signed,
        &selected,
        &state,
        "/v1/dead-letters/replay",
        &filter,
        ("dry_run", Value::Bool(true)),
    )
    .await;
    let markup = html! {
        (back(&place, &filter))
        @match &found {
            Err(e) => (error_block(Some(&refusal("The dry run could not be made", e)))),
            Ok(r) => {
                (partial_note(r.in_queue, r.read, r.complete))
                @let plan = r.plan.as_ref();
                p.notice role="status" {
                    "Dry run: nothing was moved. Matching " (filter.describe()) ": "
                    strong { (r.matched) } " letter(s). A replay would make "
                    (plan.map_or(0, |p| p.create_ticket)) " new ticket(s) and "
                    (plan.map_or(0, |p| p.note)) " note(s); "
                    (plan.map_or(0, |p| p.already_handled)) " already handled, "
                    (plan.map_or(0, |p| p.ignored)) " ignored, "
                    (plan.map_or(0, |p| p.undecodable)) " undecodable."
                }
                p.muted { "From the grouping state the workers keep; Syncro is not asked, so a group whose ticket was closed since may get a new one." }
                @if r.letters.is_empty() { p { "No dead letter matches: nothing to replay." } }
                @else {
                    @let letters: Vec<Letter> = r.letters.iter().map(|p| p.letter.clone()).collect();
                    @let woulds: Vec<String> = r.letters.iter().map(|p| would(p.would.as_ref())).collect();
                    (letters_table(&place, "What would move, in queue order", &letters, Some(&woulds)))
                    form method="post" action=(place.href("/dead-letters/replay")) {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        (filter.hidden())
                        button type="submit" { "Replay for real" }
                    }
                }
            }
        }
    };
    Ok(answer(
        &signed,
        &place,
        "Replay: dry run",
        StatusCode::OK,
        markup,
    ))
}

/// Sends `POST path` to the operator API as the person signed in: the filters and `extra`
/// (the replay's `dry_run`, the purge's `confirm`) as its body. Its answer, the page's place,
/// and the page's status (422 for a refusal).
async fn send<T: serde::de::DeserializeOwned>(
    signed: &Signed,
    selected: &Selected,
    state: &AppState,
    path: &str,
    filter: &Filter,
    (key, value): (&str, Value),
) -> (Result<T, ApiError>, Place, StatusCode) {
    let mut body = filter.body();
    body.insert(key.into(), value);
    let done = selected
        .0
        .api
        .post(&signed.user, path, Some(&Value::Object(body)))
        .await;
    let place = Place::of(state, &selected.0, signed).await;
    let status = if done.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (done, place, status)
}

/// `POST /dead-letters/replay?account=` (the filters as fields): the replay.
pub async fn replay(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let signed = &change.signed;
    let (done, place, status) = send::<Replayed>(
        signed,
        &selected,
        &state,
        "/v1/dead-letters/replay",
        &Filter::of_fields(&change.fields),
        ("dry_run", Value::Bool(false)),
    )
    .await;
    let markup = html! {
        @match &done {
            Err(e) => (error_block(Some(&refusal("Nothing was replayed", e)))),
            Ok(r) => {
                (notice_block(place.notice(Some(&format!(
                    "Replayed {} of {} matching letters ({} duplicate copies removed, {} without an id left in place); {} left in the dead-letter queue.",
                    r.replayed, r.matched, r.duplicates_removed, r.skipped, r.left
                ))).as_deref()))
                @if let Some(why) = &r.stopped { (error_block(Some(&format!("The replay stopped early: {why}")))) }
                @if !r.moved.is_empty() {
                    section aria-labelledby="moved" {
                        h2 id="moved" { "Back in the work queue" }
                        p { "The workers take them now; each one's trail shows what it became." }
                        ul { @for id in &r.moved {
                            li { a href=(place.href(&format!("/trail?alert={}", segment(id)))) { "Trail of " code { (id) } } }
                        } }
                    }
                }
            }
        }
        (back(&place, &Filter::of_fields(&change.fields)))
    };
    Ok(answer(signed, &place, "Replay", status, markup))
}

/// `GET /dead-letters/purge?filters…&account=`: what would go, and the confirmation.
pub async fn confirm(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, PageError> {
    signed.require(Role::Operate)?;
    let filter = Filter::of_query(&query.params);
    let mut params = filter.params();
    params.push(("limit", "200"));
    let found = selected
        .0
        .api
        .get::<Overview>(&signed.user, "/v1/dead-letters", &params)
        .await;
    let place = Place::of(&state, &selected.0, &signed).await;
    let markup = html! {
        (back(&place, &filter))
        @match &found {
            Err(e) => (error_block(Some(&refusal("The dead letters cannot be read", e)))),
            Ok(o) if o.matched == 0 => p { "No dead letter matches: nothing to purge." },
            Ok(o) => {
                (partial_note(o.in_queue, o.read, o.complete))
                p.warning role="alert" {
                    strong { (o.matched) } " letters (" (filter.describe()) ") would be removed for good: they will never become tickets."
                }
                (letters_table(&place, &format!("The first {} of them", o.letters.len()), &o.letters, None))
                form method="post" action=(place.href("/dead-letters/purge")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    input type="hidden" name="confirm" value="yes";
                    (filter.hidden())
                    button.danger type="submit" { "Purge " (o.matched) " letters for good" }
                }
            }
        }
    };
    Ok(answer(
        &signed,
        &place,
        "Purge: confirm",
        StatusCode::OK,
        markup,
    ))
}

/// `POST /dead-letters/purge?account=` (the filters and `confirm=yes` as fields).
pub async fn purge(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let signed = &change.signed;
    let confirmed = change.fields.get("confirm") == "yes";
    let (done, place, status) = send::<Purged>(
        signed,
        &selected,
        &state,
        "/v1/dead-letters/purge",
        &Filter::of_fields(&change.fields),
        ("confirm", json!(confirmed)),
    )
    .await;
    let markup = html! {
        @match &done {
            Err(e) => (error_block(Some(&refusal("Nothing was purged", e)))),
            Ok(p) => {
                (notice_block(place.notice(Some(&format!(
                    "Purged {} letters; {} left in the dead-letter queue.", p.removed, p.left
                ))).as_deref()))
                @if let Some(why) = &p.stopped { (error_block(Some(&format!("The purge stopped early: {why}")))) }
            }
        }
        (back(&place, &Filter::of_fields(&change.fields)))
    };
    Ok(answer(signed, &place, "Purge", status, markup))
}
