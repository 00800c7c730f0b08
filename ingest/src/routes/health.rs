//! `GET /healthz` (the process answers) and `GET /readyz` (the broker is connected, so an
//! alert sent now can be stored: load balancers stop sending while it is not).

use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.broker.is_connected() {
        HttpResponse::Ok().json(json!({"status": "ready", "broker": "connected"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", state.retry_after_secs.to_string()))
            .json(json!({"status": "not_ready", "broker": "disconnected"}))
    }
}
