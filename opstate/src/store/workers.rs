//! Each worker's report, written every few seconds off the alert path: the fleet's status
//! (who is alive, what they hold, how much of Syncro's budget they use) is read from here.

use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// What a worker says of itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Alerts held in its groups' batches, waiting for their ticket or note.
    pub held: u64,
    /// Deliveries being decided now.
    pub in_flight: u64,
    pub paused: bool,
    pub silences_active: u64,
    /// Syncro requests it made in the last minute (the fleet's budget is the sum).
    pub syncro_requests_last_minute: u64,
    pub redis_up: bool,
    pub broker_up: bool,
    pub version: String,
}

/// A worker as the status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    pub instance: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub report: WorkerReport,
}

pub async fn report(
    db: &Db,
    instance: &str,
    host: &str,
    started_at: DateTime<Utc>,
    report: &WorkerReport,
) -> Result<()> {
    let value = serde_json::to_value(report).unwrap_or_default();
    sqlx::query(
        "INSERT INTO workers (instance, host, started_at, seen_at, report)
         VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (instance) DO UPDATE SET seen_at = now(), report = EXCLUDED.report",
    )
    .bind(instance)
    .bind(host)
    .bind(started_at)
    .bind(&value)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Workers seen within `within_secs` (alive), newest first; older rows are deleted after a
/// day.
pub async fn alive(db: &Db, within_secs: i64) -> Result<Vec<Worker>> {
    sqlx::query("DELETE FROM workers WHERE seen_at < now() - interval '1 day'")
        .execute(db.pool())
        .await?;
    let rows = sqlx::query(
        "SELECT instance, host, started_at, seen_at, report FROM workers
          WHERE seen_at >= now() - make_interval(secs => $1)
          ORDER BY started_at DESC",
    )
    .bind(within_secs as f64)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let report: serde_json::Value = r.try_get("report")?;
            Ok(Worker {
                instance: r.try_get("instance")?,
                host: r.try_get("host")?,
                started_at: r.try_get("started_at")?,
                seen_at: r.try_get("seen_at")?,
                report: serde_json::from_value(report).unwrap_or_default(),
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Deregisters a stopping worker.
pub async fn gone(db: &Db, instance: &str) -> Result<()> {
    sqlx::query("DELETE FROM workers WHERE instance = $1")
        .bind(instance)
        .execute(db.pool())
        .await?;
    Ok(())
}
