//! `GET /healthz` (the process answers) and `GET /readyz` (PostgreSQL answers and the
//! operator state's schema is in place: a load balancer stops sending while it is not).

use crate::error::RETRY_AFTER_SECS;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.postgres_up().await {
        HttpResponse::Ok().json(json!({"status": "ready", "postgres": "up"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            .json(json!({"status": "not_ready", "postgres": "down"}))
    }
}
