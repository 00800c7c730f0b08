//! `POST /v1/webhooks/{source}`: verify, validate, publish durably, then answer.
//!
//! The order is fixed: source known (404) → JSON content type (415) → body within the limit
//! and in time (413, 408) → signature over the raw bytes (401) → payload (400) → publish with
//! confirms (503 unless every message was confirmed) → 202, with each alert's `received`
//! step recorded in the trail and the source noted as heard from (both in memory: the answer
//! never waits for PostgreSQL). Nothing is published or recorded for a rejected request, and
//! no step before the signature reads the body's content.

use crate::error::ApiError;
use crate::intake::{publish, verified_body, with_source};
use crate::operator_state;
use crate::state::{AppState, Source};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use shared::amqp::topology::WORK_KEY;
use shared::envelope;
use shared::message::AlertMessage;

#[derive(Serialize)]
struct Accepted {
    accepted: usize,
    /// The stable message ids, in the order of the request's alerts.
    ids: Vec<String>,
}

pub async fn receive(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Only `alert_id` is recorded later (each record re-serialises the span's fields in the
    // JSON log format): the request's alert count goes on its one "alerts accepted" line.
    let span = |label: &str| {
        tracing::info_span!(
            "webhook",
            source = %label,
            alert_id = tracing::field::Empty,
        )
    };
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
    let (proof, body, now) = verified_body(request, payload, state, source).await?;
    let alerts = source.format.parse(&proof, &body)?;

    if let [only] = alerts.as_slice() {
        tracing::Span::current().record("alert_id", only.id.as_str());
    }
    let mut alert_ids = Vec::with_capacity(alerts.len());
    let mut messages = Vec::with_capacity(alerts.len());
    // Made while the whole alert is at hand; recorded only once the broker confirmed.
    let mut steps = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let message = AlertMessage::new(&source.name, alert, now);
        let outgoing = envelope::encode(&message, WORK_KEY)
            .map_err(|_| ApiError::internal("an alert could not be encoded"))?;
        steps.push(operator_state::received(&outgoing.message_id, &message));
        messages.push(outgoing);
        alert_ids.push(message.alert.id);
    }

    publish(state, &messages).await?;
    state.operator.accepted(&source.name, steps);
    source
        .counters
        .alerts_accepted
        .inc_by(messages.len() as u64);
    let ids: Vec<String> = messages.into_iter().map(|m| m.message_id).collect();
    log_accepted(&alert_ids, &ids);
    Ok(HttpResponse::Accepted().json(Accepted {
        accepted: ids.len(),
        ids,
    }))
}

/// One line per request, however many alerts it carried: what an operator needs to trace an
/// alert (its id, the message id it is queued under, when) without a line per alert. A
/// batch's ids are listed in the order of the request.
fn log_accepted(alert_ids: &[String], message_ids: &[String]) {
    match (alert_ids, message_ids) {
        ([alert_id], [message_id]) => {
            tracing::info!(alerts = 1, %alert_id, %message_id, "alerts accepted");
        }
        _ => tracing::info!(
            alerts = alert_ids.len(),
            alert_ids = ?alert_ids,
            message_ids = ?message_ids,
            "alerts accepted"
        ),
    }
}
