//! `POST /v1/billable-users/{source}`: billable-user counts, signed exactly like that source's
//! webhooks, stored durably before the answer.
//!
//! The same order as alerts: source (404) → content type (415) → body size and time (413,
//! 408) → signature over the raw bytes (401) → every count valid (400 `invalid_count`, naming
//! each field) → published with confirms to `{prefix}.billable-users` (503 unless all were
//! confirmed) → 202. Nothing is published for a rejected request.

use crate::encoding::parse_json;
use crate::error::ApiError;
use crate::intake::{publish, verified_body, with_source};
use crate::state::{AppState, Source};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use shared::billing::{BillableCount, CountMessage};
use shared::envelope;

#[derive(Serialize)]
struct Accepted {
    accepted: usize,
    /// Stable message ids, in the order of the request's counts.
    ids: Vec<String>,
}

pub async fn receive(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let span = |label: &str| tracing::info_span!("billable_users", source = %label, counts = tracing::field::Empty);
    with_source(&state, &path, span, |source| {
        handle(&request, payload, &state, source)
    })
    .await
}

async fn handle(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    source: &Source,
) -> Result<HttpResponse, ApiError> {
    // The proof is what lets the body be parsed at all.
    let (_proof, body, now) = verified_body(request, payload, state, source).await?;
    let value = parse_json(&body)?;
    let counts = BillableCount::batch_from_json(&value).map_err(ApiError::invalid_count)?;
    if counts.is_empty() {
        return Err(ApiError::empty_batch("the request carries no count"));
    }
    tracing::Span::current().record("counts", counts.len());
    let messages = counts
        .into_iter()
        .map(|count| {
            let message = CountMessage {
                source: source.name.clone(),
                received_at: now,
                count,
            };
            envelope::encode_count(&message)
                .map_err(|_| ApiError::internal("a count could not be encoded"))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    publish(state, &messages).await?;
    source
        .counters
        .counts_accepted
        .inc_by(messages.len() as u64);
    tracing::info!(counts = messages.len(), "billable-user counts accepted");
    Ok(HttpResponse::Accepted().json(Accepted {
        accepted: messages.len(),
        ids: messages.into_iter().map(|m| m.message_id).collect(),
    }))
}
