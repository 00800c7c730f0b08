//! `GET /v1/trail`: the steps of an alert, an organization's alerts, or a ticket's, from
//! ingest's acceptance to the ticket or note. A query must narrow the search (an alert, an
//! organization, a ticket number, or a start time): the whole trail is millions of rows.

use crate::auth::Reader;
use crate::error::{ApiError, Result};
use crate::routes::{given, nul_problem, parse_limit, parse_time};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use opstate::trail::{self, Event, TrailQuery};
use serde::{Deserialize, Serialize};

/// Default and largest `limit`, as opstate's search applies them.
const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 5_000;

/// The answer.
#[derive(Serialize)]
struct EventList {
    events: Vec<Event>,
}

/// The query as sent: text, parsed here so every bad parameter is named at once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailParams {
    alert: Option<String>,
    organization: Option<String>,
    ticket_number: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

pub async fn search(
    _: Reader,
    state: web::Data<AppState>,
    params: web::Query<TrailParams>,
) -> Result<HttpResponse> {
    let query = query_of(&params)?;
    let events = trail::search(state.db()?, &query).await?;
    Ok(HttpResponse::Ok().json(EventList { events }))
}

fn query_of(p: &TrailParams) -> Result<TrailQuery> {
    let mut problems = Vec::new();
    let since = parse_time("since", p.since.as_deref(), &mut problems);
    let until = parse_time("until", p.until.as_deref(), &mut problems);
    let limit = parse_limit(p.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT, &mut problems);
    nul_problem("alert", p.alert.as_deref(), &mut problems);
    nul_problem("organization", p.organization.as_deref(), &mut problems);
    nul_problem("ticket_number", p.ticket_number.as_deref(), &mut problems);
    problems.sort_by(|a, b| a.field.cmp(&b.field));
    if !problems.is_empty() {
        return Err(ApiError::invalid_query(problems));
    }
    let query = TrailQuery {
        alert: given(&p.alert).map(str::to_string),
        organization: given(&p.organization).map(str::to_string),
        ticket_number: given(&p.ticket_number).map(str::to_string),
        since,
        until,
        limit: Some(limit),
    };
    let narrowed = query.alert.is_some()
        || query.organization.is_some()
        || query.ticket_number.is_some()
        || query.since.is_some();
    if !narrowed {
        return Err(ApiError::query_too_broad(
            "give at least one of alert, organization, ticket_number or since",
        ));
    }
    Ok(query)
}
