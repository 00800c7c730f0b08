//! `POST /v1/heartbeats/{source}`: a source says it is alive between alerts, signed exactly
//! like its webhooks; a source with `expected_interval_secs` that sends neither an alert nor
//! a heartbeat for longer is reported quiet.
//!
//! The order: source known (404) → encoding (415) → body within 4 KiB and in time (413,
//! 408) → signature over the raw bytes (401) → an empty body, or a JSON object sent as
//! `Content-Type: application/json` (415, then 400) → 202. Nothing is enqueued: the source is
//! noted as heard from in memory, and written to the operator state within a second or so by
//! a background task (never while the request waits).

use crate::encoding::parse_json;
use crate::error::ApiError;
use crate::intake::{check_content_type, signed_body, with_source};
use crate::state::{AppState, Source};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// Largest heartbeat body: room for a short note, no more (a heartbeat carries no data).
pub const MAX_BODY_BYTES: usize = 4096;

pub async fn receive(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let span = |label: &str| tracing::info_span!("heartbeat", source = %label);
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
    // An empty body needs no content type, so a cron job's heartbeat is one signed POST.
    let (_proof, body, _now) = signed_body(request, payload, state, source, MAX_BODY_BYTES).await?;
    if !body.is_empty() {
        check_content_type(request)?;
        if !parse_json(&body)?.is_object() {
            return Err(ApiError::invalid_payload(
                "a heartbeat's body is empty or a JSON object",
            ));
        }
    }
    state.operator.heartbeat(&source.name);
    source.counters.heartbeats.inc();
    tracing::debug!("heartbeat accepted");
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted"})))
}
