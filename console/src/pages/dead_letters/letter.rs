//! One dead letter in full (`GET /dead-letters/{id}`): why it was dead-lettered, how often
//! it was tried, when, the headers an operator reads and the body; links to replay or purge
//! just this letter (its message id as the one filter).

use super::{failed_at, segment, Filter, Letter};
use crate::api::ApiError;
use crate::guard::{Selected, Signed};
use crate::pages::{error_block, layout, page, Nav, PageError, Place};
use crate::state::AppState;
use crate::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `GET /v1/dead-letters/{id}`'s answer.
#[derive(Debug, Deserialize)]
struct Full {
    #[serde(flatten)]
    letter: Letter,
    headers: BTreeMap<String, String>,
    body: Value,
    body_is_json: bool,
    body_bytes: usize,
    body_truncated: bool,
    copies: usize,
}

/// `GET /dead-letters/{id}?account=`
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    if id.is_empty() || id.len() > 256 {
        return Err(PageError::NotFound);
    }
    let path = format!("/v1/dead-letters/{}", segment(&id));
    let found = selected.0.api.get::<Full>(&signed.user, &path, &[]).await;
    let place = Place::of(&state, &selected.0, &signed).await;
    let (status, title) = match &found {
        Ok(_) => (StatusCode::OK, "Dead letter"),
        Err(ApiError::Refused { status: 404, .. }) => {
            (StatusCode::NOT_FOUND, "No such dead letter")
        }
        Err(_) => (StatusCode::OK, "Dead letter"),
    };
    let only = Filter(BTreeMap::from([("message_id", id.clone())]));
    let body = html! {
        p { a href=(place.href("/dead-letters")) { "All dead letters" } }
        @match &found {
            Err(e) => (error_block(Some(&format!("The letter {id} cannot be shown: {}", e.headline())))),
            Ok(full) => {
                @let l = &full.letter;
                section aria-labelledby="why" {
                    h2 id="why" { "Why" }
                    dl.parts {
                        dt { "Message id" } dd { code { (l.message_id) } }
                        dt { "Reason" } dd { code { (l.error_kind) } }
                        dt { "Error" } dd { @if l.error.is_empty() { "(none given)" } @else { (l.error) } }
                        dt { "Attempts" } dd { (l.attempts) }
                        dt { "Failed at" } dd { (failed_at(l)) }
                        dt { "Organization" } dd { (l.organization) }
                        dt { "Event type" } dd { (l.event_type) }
                        dt { "Source / alert" } dd { (l.source.as_deref().unwrap_or("?")) " / " (l.alert_id.as_deref().unwrap_or("?")) }
                        @if full.copies > 1 { dt { "Copies" } dd { (full.copies) " in the queue with this id" } }
                    }
                    p { a href=(place.href(&format!("/trail?alert={}", segment(&l.message_id)))) { "Its trail" } }
                    @if signed.user.may(Role::Operate) {
                        div.actions {
                            a.button href=(only.href(&place, "/dead-letters/replay")) { "Replay this letter…" }
                            " "
                            a.button.danger href=(only.href(&place, "/dead-letters/purge")) { "Purge this letter…" }
                        }
                    }
                }
                section aria-labelledby="headers" {
                    h2 id="headers" { "Headers" }
                    @if full.headers.is_empty() { p { "None of interest." } }
                    @else {
                        div.scroll { table.headers {
                            caption { "The relay's and the broker's headers" }
                            thead { tr { th scope="col" { "Header" } th scope="col" { "Value" } } }
                            tbody { @for (name, value) in &full.headers { tr { td { code { (name) } } td { (value) } } } }
                        } }
                    }
                }
                section aria-labelledby="body" {
                    h2 id="body" { "Body" }
                    p.muted {
                        (full.body_bytes) " bytes"
                        @if !full.body_is_json { ", not JSON: shown as text" }
                        @if full.body_truncated { ", cut at 256 KiB" }
                    }
                    pre.body tabindex="0" aria-label="The message body" {
                        @if full.body_is_json { (serde_json::to_string_pretty(&full.body).unwrap_or_default()) }
                        @else { (full.body.as_str().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    Ok(page(
        status,
        layout(title, Some((&signed, &place)), Nav::DeadLetters, body),
    ))
}
