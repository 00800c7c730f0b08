//! `GET /v1/billing`: the billable-user sync as `relayctl billing preview` and `status` show
//! it: whether it is on, what the next run would write for each organization (counts from
//! the workers' Redis, each schedule read from Syncro through the workers' limiter at the
//! background priority, nothing changed), and this month's recorded outcome of each.
//!
//! The preview reads one schedule per organization with a count: with many organizations,
//! a read of this page costs that many Syncro requests, served after every alert's.

use crate::auth::Reader;
use crate::error::{ApiError, Result};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use processor::billing::outcome::OrgOutcome;
use processor::billing::scheduler::month_of;
use processor::billing::store::BillingStore;
use processor::billing::sync::Runner;
use processor::metrics::Metrics;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use syncro::{Class, Priority};

/// Longest wait for the preview's reads (the console gives up on a call after 15 s).
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Billing {
    /// `billing.sync_billable_users`: whether the workers run the monthly sync.
    enabled: bool,
    /// The sync's day of the month, time and time zone.
    schedule: String,
    /// Organizations under `[billing.organizations]`.
    organizations: usize,
    /// This month, in the sync's time zone (`2026-05`).
    month: String,
    /// Whether this month's run is done for every organization.
    complete: bool,
    /// What the next run would write, per organization.
    preview: Vec<OrgOutcome>,
    /// This month's recorded outcomes, per organization (none before the run).
    outcomes: Vec<OrgOutcome>,
}

pub async fn show(_: Reader, state: web::Data<AppState>) -> Result<HttpResponse> {
    let workers = &state.workers;
    let config = &workers.config.current().billing;
    let runner = Runner {
        config: Arc::new(config.clone()),
        store: BillingStore::new(workers.store.clone()),
        syncro: workers.syncro.clone(),
        metrics: Arc::new(Metrics::new()),
    };
    let month = month_of(config, chrono::Utc::now());
    let redis = |e: processor::store::StoreError| {
        tracing::warn!(error = %e, "billing: the workers' Redis cannot be read");
        ApiError::workers_redis_unavailable()
    };
    let outcomes = runner.store.outcomes(&month).await.map_err(redis)?;
    let done = runner.store.month_done(&month).await.map_err(redis)?;
    let priority = Priority::new(Class::Background, 4, "operator:billing");
    let preview = syncro::with_priority(priority, runner.preview(None));
    let preview = tokio::time::timeout(PREVIEW_TIMEOUT, preview)
        .await
        .map_err(|_| {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "syncro_busy",
                format!(
                    "the invoices could not be read from Syncro within {} s (the workers' \
                     budget serves alerts first); nothing was changed, try again",
                    PREVIEW_TIMEOUT.as_secs()
                ),
            );
            e.retry_after = Some(crate::error::RETRY_AFTER_SECS);
            e
        })?
        .map_err(redis)?;
    Ok(HttpResponse::Ok().json(Billing {
        enabled: config.sync_enabled,
        schedule: format!(
            "day {} at {} ({})",
            config.sync_day,
            config.sync_time.format("%H:%M"),
            config.time_zone.name()
        ),
        organizations: config.organizations.len(),
        month,
        complete: done.is_some(),
        preview,
        outcomes: outcomes.into_values().collect(),
    }))
}
