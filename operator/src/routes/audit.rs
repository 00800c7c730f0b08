//! `GET /v1/audit`: who did what, newest first.

use crate::auth::Reader;
use crate::error::{ApiError, Result};
use crate::routes::{parse_limit, parse_time};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use opstate::store::audit::{self, Entry};
use serde::{Deserialize, Serialize};

const DEFAULT_LIMIT: i64 = 100;
/// The most opstate hands back at once.
const MAX_LIMIT: i64 = 1_000;

/// The answer.
#[derive(Serialize)]
struct EntryList {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    since: Option<String>,
    limit: Option<String>,
}

pub async fn list(
    _: Reader,
    state: web::Data<AppState>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse> {
    let mut problems = Vec::new();
    let since = parse_time("since", params.since.as_deref(), &mut problems);
    let limit = parse_limit(
        params.limit.as_deref(),
        DEFAULT_LIMIT,
        MAX_LIMIT,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(ApiError::invalid_query(problems));
    }
    let entries = audit::list(state.db()?, since, limit).await?;
    Ok(HttpResponse::Ok().json(EntryList { entries }))
}
