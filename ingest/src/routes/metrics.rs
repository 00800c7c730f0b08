//! `GET /metrics`: Prometheus text format; behind a bearer token when one is configured.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus_client::encoding::text::encode;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

pub async fn metrics(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.metrics_token {
        let presented = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compare digests so the comparison's time does not depend on the token.
        let same = Sha256::digest(presented.as_bytes())
            == Sha256::digest(token.expose_secret().as_bytes());
        if !same {
            return Err(ApiError::metrics_unauthorized(
                "GET /metrics requires Authorization: Bearer <metrics token>",
            ));
        }
    }
    state
        .metrics
        .broker_connected
        .set(i64::from(state.broker.is_connected()));
    let (written, dropped) = state.operator.trail_counts();
    state.metrics.read_trail(written, dropped);
    state
        .metrics
        .postgres_up
        .set(i64::from(state.operator.postgres_up()));
    let mut text = String::new();
    encode(&mut text, &state.metrics.registry)
        .map_err(|_| ApiError::internal("metrics could not be encoded"))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
