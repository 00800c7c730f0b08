//! The steps every signed endpoint takes, whatever it carries: find the source, count the
//! request and its outcome, check the content type and encoding, read the body within its
//! limits, verify the signature over the bytes as sent, decompress a gzip body (bounded),
//! parse strict JSON, and publish with confirms. The routes ([`crate::routes::webhooks`],
//! [`crate::routes::billable`], [`crate::routes::heartbeats`]) only parse their content and
//! build their messages.

use crate::encoding::{gunzip, Encoding};
use crate::error::ApiError;
use crate::metrics::UNKNOWN_SOURCE;
use crate::state::{AppState, Source};
use crate::verify::Verified;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use shared::amqp::Outgoing;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Counts the request while it is handled.
struct InFlight<'a>(&'a AppState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a AppState) -> Self {
        state.metrics.in_flight.inc();
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}

/// Runs `handle` for the named source (404 when there is none) inside the request's span
/// (made by `span` from the source label), counting the request in flight and its outcome.
pub(crate) async fn with_source<'s, F, Fut>(
    state: &'s AppState,
    name: &str,
    span: impl FnOnce(&str) -> tracing::Span,
    handle: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&'s Source) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, ApiError>>,
{
    let _in_flight = InFlight::enter(state);
    let source = state.sources.get(name);
    let label = source.map_or(UNKNOWN_SOURCE, |s| s.name.as_str());
    let span = span(label);
    let result = async {
        let source = source
            .ok_or_else(|| ApiError::unknown_source("no source of that name is configured"))?;
        handle(source).await
    }
    .instrument(span.clone())
    .await;
    let _entered = span.enter();
    record_outcome(state, source, label, &result);
    result
}

/// The steps every signed endpoint takes before reading the content: JSON content type (415
/// before the body is read), then [`signed_body`] within `max_body_bytes`. Returns the proof,
/// the body and the time the request is taken as received.
pub(crate) async fn verified_body(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    source: &Source,
) -> Result<(Verified, web::Bytes, chrono::DateTime<chrono::Utc>), ApiError> {
    check_content_type(request)?;
    signed_body(request, payload, state, source, state.max_body_bytes).await
}

/// The signature's steps: a known encoding (415 before the body is read), the body within
/// `limit` bytes and its time, the signature over the bytes as sent, then a gzip body
/// decompressed within the same limit. An endpoint whose body may be empty checks the
/// content type of a non-empty one itself ([`check_content_type`]).
pub(crate) async fn signed_body(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    source: &Source,
    limit: usize,
) -> Result<(Verified, web::Bytes, chrono::DateTime<chrono::Utc>), ApiError> {
    let encoding = Encoding::of(request.headers())?;
    let body = read_body(request, payload, limit, state.body_timeout).await?;
    let now = chrono::Utc::now();
    let proof = source
        .verifier
        .verify(request.headers(), &body, now.timestamp())?;
    let body = match encoding {
        Encoding::Identity => body.freeze(),
        Encoding::Gzip => gunzip(&body, limit)?,
    };
    Ok((proof, body, now))
}

/// Publishes with confirms; 503 (nothing accepted) unless the broker confirmed every message.
pub(crate) async fn publish(state: &AppState, messages: &[Outgoing]) -> Result<(), ApiError> {
    let started = Instant::now();
    state
        .broker
        .publish_confirmed(messages, state.confirm_timeout)
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "publish not confirmed; answering 503");
            ApiError::broker_unavailable(state.retry_after_secs)
        })?;
    state
        .metrics
        .publish_confirm_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(())
}

/// Counts a request by source and outcome and logs how it ended (inside the request's span;
/// an accepted request is logged by its route, which knows what it accepted).
fn record_outcome(
    state: &AppState,
    source: Option<&Source>,
    label: &str,
    result: &Result<HttpResponse, ApiError>,
) {
    match (result, source) {
        (Ok(_), Some(source)) => {
            source.counters.accepted_requests.inc();
        }
        (Ok(_), None) => state.metrics.count_request(label, crate::metrics::ACCEPTED),
        (Err(error), _) => {
            state.metrics.count_request(label, error.code);
            if error.status.is_server_error() {
                tracing::warn!(code = error.code, "request not accepted: {}", error.message);
            } else {
                tracing::info!(
                    code = error.code,
                    status = error.status.as_u16(),
                    "request rejected: {}",
                    error.message
                );
            }
        }
    }
}

/// `application/json` or any `+json` type, parameters allowed (else 415).
pub(crate) fn check_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let value = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default().trim();
    // Compared without case, in place: no lowercase copy per request.
    let starts = |prefix: &str| {
        essence
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &str| {
        essence
            .len()
            .checked_sub(suffix.len())
            .and_then(|at| essence.get(at..))
            .is_some_and(|s| s.eq_ignore_ascii_case(suffix))
    };
    if essence.eq_ignore_ascii_case("application/json") || (starts("application/") && ends("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(
            "send the body as Content-Type: application/json",
        ))
    }
}

/// Reads the body into memory, refusing as soon as it exceeds `limit` (and at once when
/// `Content-Length` announces more) or when it takes longer than `timeout` to arrive.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::BytesMut, ApiError> {
    let too_large = || ApiError::body_too_large(format!("the body exceeds {limit} bytes"));
    let announced = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(announced.unwrap_or(4096).min(limit));
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_web::error::PayloadError::Overflow => too_large(),
                other => ApiError::malformed_json(format!("the body could not be read: {other}")),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ApiError::body_timeout("the body did not arrive in time"))??;
    Ok(body)
}
