//! `POST /v1/webhooks/{source}`: verify, validate, publish durably, then answer.
//!
//! The order is fixed: source known (404) → JSON content type (415) → body within the limit
//! and in time (413, 408) → signature over the raw bytes (401) → payload (400) → publish with
//! confirms (503 unless every message was confirmed) → 202. Nothing is published for a
//! rejected request, and no step before the signature reads the body's content.

use crate::error::ApiError;
use crate::intake::{publish, verified_body, with_source};
use crate::state::{AppState, Source};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use shared::alert::Alert;
use shared::amqp::topology::WORK_KEY;
use shared::amqp::{HeaderValue, Outgoing};
use shared::envelope::{self, ALERT_ID_HEADER};
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
    let span = |label: &str| {
        tracing::info_span!(
            "webhook",
            source = %label,
            alert_id = tracing::field::Empty,
            alerts = tracing::field::Empty,
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

    let span = tracing::Span::current();
    span.record("alerts", alerts.len());
    if let [only] = alerts.as_slice() {
        span.record("alert_id", only.id.as_str());
    }
    let messages = alerts
        .into_iter()
        .map(|alert| to_outgoing(&source.name, alert, now))
        .collect::<Result<Vec<_>, _>>()?;

    publish(state, &messages).await?;
    state
        .metrics
        .alerts_accepted
        .get_or_create(&crate::metrics::SourceLabels {
            source: source.name.clone(),
        })
        .inc_by(messages.len() as u64);
    for message in &messages {
        tracing::info!(alert_id = %alert_id_of(message), message_id = %message.message_id, "alert accepted");
    }
    Ok(HttpResponse::Accepted().json(Accepted {
        accepted: messages.len(),
        ids: messages.into_iter().map(|m| m.message_id).collect(),
    }))
}

/// The sender's alert id a message carries, for the log line of each accepted alert.
fn alert_id_of(message: &Outgoing) -> &str {
    message
        .headers
        .iter()
        .find_map(|(k, v)| match (k, v) {
            (&ALERT_ID_HEADER, HeaderValue::Str(id)) => Some(id.as_str()),
            _ => None,
        })
        .unwrap_or_default()
}

fn to_outgoing(
    source: &str,
    alert: Alert,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Outgoing, ApiError> {
    envelope::encode(&AlertMessage::new(source, alert, now), WORK_KEY)
        .map_err(|_| ApiError::internal("an alert could not be encoded"))
}
