//! Silences and maintenance windows (`/silences`): the list, the form to create one (a
//! one-off for a duration or between two times, or a weekly window) with a preview of the
//! recent alerts it would have matched, extend and expire.
//!
//! - this file: the page, the list and the changes;
//! - [`form`]: the create form, what was entered and the API's problems by field;
//! - [`preview`]: the preview's block.
//!
//! The console checks nothing the operator API checks: it sends what was entered and, on a
//! 422, shows each of the API's problems beside the field it names (`matchers[1].value` →
//! the second matcher row's value) and keeps what was entered.

use crate::api::ApiError;
use crate::guard::{Change, Selected, Signed};
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
use std::collections::BTreeMap;

mod form;
mod preview;

use form::{create_form, problems_of, spec, Draft, Problems};

#[derive(Debug, Deserialize)]
struct Matcher {
    field: String,
    op: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Silence {
    id: String,
    matchers: Vec<Matcher>,
    #[serde(default)]
    schedule: Value,
    reason: String,
    author: String,
    ends_at: DateTime<Utc>,
    state: String,
    suppressed: i64,
}

#[derive(Deserialize)]
struct SilenceList {
    silences: Vec<Silence>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    all: Option<String>,
    done: Option<String>,
}

fn schedule_text(schedule: &Value, ends_at: &DateTime<Utc>) -> String {
    match schedule["kind"].as_str() {
        Some("weekly") => {
            let days: Vec<&str> = schedule["days"]
                .as_array()
                .map(|d| d.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!(
                "every {} {}–{} ({})",
                days.join(", "),
                schedule["from"].as_str().unwrap_or("?"),
                schedule["to"].as_str().unwrap_or("?"),
                schedule["time_zone"].as_str().unwrap_or("?"),
            )
        }
        Some("cron") => format!("cron {}", schedule["expression"].as_str().unwrap_or("?")),
        _ => format!("until {}", when(ends_at)),
    }
}

fn list(signed: &Signed, place: &Place, silences: &[Silence]) -> Markup {
    let operate = signed.user.may(Role::Operate);
    html! {
        @if silences.is_empty() { p { "No silence." } }
        @for s in silences {
            article.silence aria-label={ "Silence " (s.reason) } {
                h3 { (s.reason) " " span class={ "badge " (s.state) } { (s.state) } }
                ul.matchers {
                    @for m in &s.matchers { li { code { (m.field) " " (m.op) " " (m.value) } } }
                }
                p.muted {
                    (schedule_text(&s.schedule, &s.ends_at)) " · by " (s.author)
                    " · " (s.suppressed) " alert(s) muted"
                }
                @if operate && s.state != "expired" {
                    div.actions {
                        form.inline method="post" action=(place.href(&format!("/silences/{}/extend", s.id))) {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            label for={ "by-" (s.id) } { "Extend by" }
                            input id={ "by-" (s.id) } name="by" type="text" size="6" required placeholder="2h";
                            button type="submit" { "Extend" }
                        }
                        form.inline method="post" action=(place.href(&format!("/silences/{}/expire", s.id))) {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            button.danger type="submit" { "Expire now" }
                        }
                    }
                }
            }
        }
    }
}

/// The whole page: notices, the list (active and pending, or all), the create form, all of
/// `account`.
#[allow(clippy::too_many_arguments)]
async fn render(
    signed: &Signed,
    state: &AppState,
    account: &Account,
    all: bool,
    notice_text: Option<&str>,
    error: Option<String>,
    form: Option<(&Draft, &Problems, Option<&preview::Preview>)>,
    status: StatusCode,
) -> HttpResponse {
    let query: &[(&str, &str)] = if all { &[("all", "true")] } else { &[] };
    let found = account
        .api
        .get::<SilenceList>(&signed.user, "/v1/silences", query)
        .await;
    let place = Place::of(state, account, signed).await;
    let fresh = (
        &Draft {
            values: BTreeMap::from([("author".to_string(), signed.user.name.clone())]),
            days: Vec::new(),
        },
        &Problems::default(),
        None,
    );
    let (draft, problems, previewed) = form.unwrap_or(fresh);
    let body = html! {
        (notice_block(place.notice(notice_text).as_deref()))
        (error_block(error.as_deref()))
        section aria-labelledby="list" {
            h2 id="list" { @if all { "All silences" } @else { "Active and pending" } }
            p { @if all { a href=(place.href("/silences")) { "Only active and pending" } } @else { a href=(place.href("/silences?all=true")) { "Also those that ended" } } }
            @match &found {
                Ok(l) => (list(signed, &place, &l.silences)),
                Err(e) => (error_block(Some(&format!("The silences cannot be read: {}", e.headline())))),
            }
        }
        @if signed.user.may(Role::Operate) {
            @if let Some(p) = previewed { (preview::block(p, &place)) }
            (create_form(signed, &place, draft, problems))
        }
    };
    page(
        status,
        layout("Silences", Some((signed, &place)), Nav::Silences, body),
    )
}

/// `GET /silences?all=&account=`
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let all = query
        .all
        .as_deref()
        .is_some_and(|a| a == "true" || a == "1");
    let text = notice(query.done.as_deref());
    render(
        &signed,
        &state,
        &selected.0,
        all,
        text,
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// Where a change of `account`'s silences goes back to: its list with a notice.
fn done(state: &AppState, account: &Account, done: &str) -> HttpResponse {
    let place = Place::known(state, account, None);
    see_other(&place.href(&format!("/silences?done={done}")))
}

/// `POST /silences?account=`: created in the selected account only.
pub async fn create(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let account = &selected.0;
    let draft = Draft::of(&change.fields);
    if change.fields.get("action") == "preview" {
        return Ok(preview(&change, &state, account, &draft).await);
    }
    let (body, rows) = spec(&draft);
    let result: Result<Value, ApiError> = account
        .api
        .post(&change.signed.user, "/v1/silences", Some(&body))
        .await;
    Ok(match result {
        Ok(_) => done(&state, account, "created"),
        Err(e) => {
            let problems = problems_of(&e, &rows);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(
                &change.signed,
                &state,
                account,
                false,
                None,
                None,
                Some((&draft, &problems, None)),
                status,
            )
            .await
        }
    })
}

/// The create form's Preview button: the recent alerts the silence would have matched,
/// above the form with what was entered; nothing is created.
async fn preview(
    change: &Change,
    state: &AppState,
    account: &Account,
    draft: &Draft,
) -> HttpResponse {
    let (body, rows) = spec(draft);
    let result: Result<preview::Preview, ApiError> = account
        .api
        .post(&change.signed.user, "/v1/silences/preview", Some(&body))
        .await;
    let (problems, found, status) = match result {
        Ok(found) => (Problems::default(), Some(found), StatusCode::OK),
        Err(e) => (
            problems_of(&e, &rows),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let form = Some((draft, &problems, found.as_ref()));
    render(
        &change.signed,
        state,
        account,
        false,
        None,
        None,
        form,
        status,
    )
    .await
}

/// A silence id from the path, only when it is a UUID: it goes into the API's path.
fn silence_id(id: &str) -> Result<&str, PageError> {
    let ok = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    ok.then_some(id).ok_or(PageError::NotFound)
}

async fn change_one(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
    id: &str,
    verb: &str,
    body: Option<Value>,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let id = silence_id(id)?;
    let account = &selected.0;
    let path = format!("/v1/silences/{id}/{verb}");
    let result: Result<Value, ApiError> = account
        .api
        .post(&change.signed.user, &path, body.as_ref())
        .await;
    Ok(match result {
        Ok(_) => done(&state, account, &format!("{verb}ed")),
        Err(e) => {
            let mut text = format!("The silence was not {verb}ed: {}", e.headline());
            for f in e.fields() {
                text.push_str(&format!("; {}: {}", f.field, f.message));
            }
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(
                &change.signed,
                &state,
                account,
                false,
                None,
                Some(text),
                None,
                status,
            )
            .await
        }
    })
}

/// `POST /silences/{id}/extend?account=` (`by`, a duration)
pub async fn extend(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let body = json!({"by": change.fields.get("by")});
    change_one(change, selected, state, &id, "extend", Some(body)).await
}

/// `POST /silences/{id}/expire?account=`
pub async fn expire(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    change_one(change, selected, state, &id, "expire", None).await
}
