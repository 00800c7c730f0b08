//! The fleet's pause switch: while paused, the workers take no alert (alerts keep arriving
//! and wait in RabbitMQ). Pausing or resuming when already so changes nothing and writes no
//! audit row: the answer's `changed` says which.

use crate::auth::{Operator, Reader};
use crate::error::{ApiError, Result};
use crate::routes::nul_problem;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use opstate::silence::MAX_REASON_LEN;
use opstate::store::fleet::{self, PauseState};
use serde::{Deserialize, Serialize};
use shared::alert::FieldError;

/// The answer to a pause or a resume.
#[derive(Serialize)]
pub struct Switched {
    pub state: PauseState,
    /// Whether this request changed the state (false: it already was so).
    pub changed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why: shown in the status and the audit log. Required.
    #[serde(default)]
    reason: Option<String>,
}

/// `GET /v1/pause`
pub async fn show(_: Reader, state: web::Data<AppState>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(fleet::pause_state(state.db()?).await?))
}

/// `POST /v1/pause`
pub async fn pause(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    body: web::Json<PauseRequest>,
) -> Result<HttpResponse> {
    let given = body.reason.as_deref().unwrap_or_default();
    let reason = given.trim();
    let mut problems = Vec::new();
    if reason.is_empty() {
        problems.push(FieldError::new("reason", "is required"));
    } else if given.chars().count() > MAX_REASON_LEN {
        // Counted as sent, as the document's maxLength counts.
        problems.push(FieldError::new(
            "reason",
            format!("must be at most {MAX_REASON_LEN} characters"),
        ));
    }
    nul_problem("reason", Some(given), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid_pause(problems));
    }
    let (state, changed) =
        fleet::set_paused(state.db()?, &caller.actor(), true, Some(reason)).await?;
    if changed {
        tracing::info!(operator = %caller.name, reason, "fleet paused");
    }
    Ok(HttpResponse::Ok().json(Switched { state, changed }))
}

/// `POST /v1/resume` (no body)
pub async fn resume(
    Operator(caller): Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (state, changed) = fleet::set_paused(state.db()?, &caller.actor(), false, None).await?;
    if changed {
        tracing::info!(operator = %caller.name, "fleet resumed");
    }
    Ok(HttpResponse::Ok().json(Switched { state, changed }))
}
