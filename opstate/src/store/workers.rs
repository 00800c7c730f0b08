//! Each process's report, written every few seconds off the alert path: the fleet's status
//! (which workers and ingest instances are alive, what the workers hold, how much of Syncro's
//! budget they use) is read from here. One table for both parts, each row with its `role`
//! (`processor`, `ingest`); each role has its own report ([`WorkerReport`], [`IngestReport`]).

use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::Row;

const PROCESSOR: &str = "processor";
const INGEST: &str = "ingest";

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

/// What an ingest instance says of itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Whether its broker connection is up (without it, it answers 503).
    pub broker_up: bool,
    /// Alerts it accepted (202) since it started.
    pub accepted: u64,
    pub version: String,
}

/// A process as the status shows it, with its role's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance<R> {
    pub instance: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub report: R,
}

/// A worker as the status shows it.
pub type Worker = Instance<WorkerReport>;
/// An ingest instance as the status shows it.
pub type Ingest = Instance<IngestReport>;

/// Records a worker's report.
pub async fn report(
    db: &Db,
    instance: &str,
    host: &str,
    started_at: DateTime<Utc>,
    report: &WorkerReport,
) -> Result<()> {
    upsert(db, PROCESSOR, instance, host, started_at, report).await
}

/// Records an ingest instance's report.
pub async fn report_ingest(
    db: &Db,
    instance: &str,
    host: &str,
    started_at: DateTime<Utc>,
    report: &IngestReport,
) -> Result<()> {
    upsert(db, INGEST, instance, host, started_at, report).await
}

async fn upsert(
    db: &Db,
    role: &str,
    instance: &str,
    host: &str,
    started_at: DateTime<Utc>,
    report: &impl Serialize,
) -> Result<()> {
    let value = serde_json::to_value(report).unwrap_or_default();
    sqlx::query(
        "INSERT INTO workers (instance, host, started_at, seen_at, report, role)
         VALUES ($1, $2, $3, now(), $4, $5)
         ON CONFLICT (instance) DO UPDATE SET seen_at = now(), report = EXCLUDED.report",
    )
    .bind(instance)
    .bind(host)
    .bind(started_at)
    .bind(&value)
    .bind(role)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The processes seen within `within_secs`, by role, each list newest first.
#[derive(Debug, Default)]
pub struct Alive {
    pub workers: Vec<Worker>,
    pub ingest: Vec<Ingest>,
}

/// The processes seen within `within_secs` (alive), in one read; rows older than a day are
/// deleted first.
pub async fn alive(db: &Db, within_secs: i64) -> Result<Alive> {
    sqlx::query("DELETE FROM workers WHERE seen_at < now() - interval '1 day'")
        .execute(db.pool())
        .await?;
    let rows = sqlx::query(
        "SELECT role, instance, host, started_at, seen_at, report FROM workers
          WHERE seen_at >= now() - make_interval(secs => $1)
          ORDER BY started_at DESC",
    )
    .bind(within_secs as f64)
    .fetch_all(db.pool())
    .await?;
    let mut alive = Alive::default();
    for row in &rows {
        let role: String = row.try_get("role")?;
        match role.as_str() {
            PROCESSOR => alive.workers.push(instance(row)?),
            INGEST => alive.ingest.push(instance(row)?),
            // A role of a later version: not this status's to show.
            _ => {}
        }
    }
    Ok(alive)
}

/// One row, its report read as `R` (a report this version cannot read shows as empty).
fn instance<R: DeserializeOwned + Default>(
    row: &sqlx::postgres::PgRow,
) -> std::result::Result<Instance<R>, sqlx::Error> {
    let report: serde_json::Value = row.try_get("report")?;
    Ok(Instance {
        instance: row.try_get("instance")?,
        host: row.try_get("host")?,
        started_at: row.try_get("started_at")?,
        seen_at: row.try_get("seen_at")?,
        report: serde_json::from_value(report).unwrap_or_default(),
    })
}

/// This machine's name as the status shows it: `HOSTNAME` (a pod's name), else
/// `/etc/hostname`, else empty.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Deregisters a stopping process (a worker or an ingest instance).
pub async fn gone(db: &Db, instance: &str) -> Result<()> {
    sqlx::query("DELETE FROM workers WHERE instance = $1")
        .bind(instance)
        .execute(db.pool())
        .await?;
    Ok(())
}
