//! Each source's last sign of life (an alert or a heartbeat) and, when it stays quiet past
//! its expected interval, the outage: `opening` while its alert is being queued, `open`
//! once it is, cleared when the source is heard from again and that is queued too.
//!
//! Ingest reports what it hears through an [`Activity`] tracker, which writes at most once
//! a second and never on a request's path.

use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One source's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceActivity {
    pub source: String,
    pub last_alert_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub expected_interval_secs: Option<i64>,
    /// Since when the source is quiet past its interval, while it is.
    pub outage_since: Option<DateTime<Utc>>,
    pub outage_state: Option<String>,
}

impl SourceActivity {
    /// The last time anything was heard from the source.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_alert_at.max(self.last_heartbeat_at)
    }
}

const COLUMNS: &str = "source, last_alert_at, last_heartbeat_at, expected_interval_secs, \
                       outage_since, outage_state";

fn from_row(r: &sqlx::postgres::PgRow) -> std::result::Result<SourceActivity, sqlx::Error> {
    Ok(SourceActivity {
        source: r.try_get("source")?,
        last_alert_at: r.try_get("last_alert_at")?,
        last_heartbeat_at: r.try_get("last_heartbeat_at")?,
        expected_interval_secs: r.try_get("expected_interval_secs")?,
        outage_since: r.try_get("outage_since")?,
        outage_state: r.try_get("outage_state")?,
    })
}

/// Every row read, or the first that does not decode.
fn all(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<SourceActivity>> {
    rows.iter()
        .map(from_row)
        .collect::<std::result::Result<_, _>>()
        .map_err(Into::into)
}

pub async fn list(db: &Db) -> Result<Vec<SourceActivity>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM source_activity ORDER BY source"
    ))
    .fetch_all(db.pool())
    .await?;
    all(&rows)
}

/// Sets each configured source's expected interval (`None`: not watched); a source first
/// watched now counts as heard from now, so it is not reported quiet at once.
pub async fn set_expected(db: &Db, sources: &[(String, Option<u64>)]) -> Result<()> {
    for (source, secs) in sources {
        sqlx::query(
            "INSERT INTO source_activity (source, expected_interval_secs, last_heartbeat_at)
             VALUES ($1, $2, now())
             ON CONFLICT (source) DO UPDATE SET expected_interval_secs = EXCLUDED.expected_interval_secs",
        )
        .bind(source)
        .bind(secs.map(|s| s as i64))
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

/// Watched sources quiet past their interval with no outage yet, each now `opening`.
pub async fn begin_outages(db: &Db, now: DateTime<Utc>) -> Result<Vec<SourceActivity>> {
    let rows = sqlx::query(&format!(
        "UPDATE source_activity SET outage_state = 'opening',
                outage_since = GREATEST(last_alert_at, last_heartbeat_at)
          WHERE expected_interval_secs IS NOT NULL AND outage_state IS NULL
            AND GREATEST(last_alert_at, last_heartbeat_at)
                + make_interval(secs => expected_interval_secs) < $1
          RETURNING {COLUMNS}"
    ))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    all(&rows)
}

/// Outages whose alert is not known to be queued (`opening`, left by a crash or just begun).
pub async fn opening(db: &Db) -> Result<Vec<SourceActivity>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM source_activity WHERE outage_state = 'opening'"
    ))
    .fetch_all(db.pool())
    .await?;
    all(&rows)
}

/// The outage's alert was queued.
pub async fn outage_open(db: &Db, source: &str) -> Result<()> {
    sqlx::query("UPDATE source_activity SET outage_state = 'open' WHERE source = $1")
        .bind(source)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Sources in an open outage heard from since it began.
pub async fn returned(db: &Db) -> Result<Vec<SourceActivity>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM source_activity
          WHERE outage_state = 'open'
            AND GREATEST(last_alert_at, last_heartbeat_at) > outage_since"
    ))
    .fetch_all(db.pool())
    .await?;
    all(&rows)
}

/// The return's alert was queued: the outage is over.
pub async fn outage_over(db: &Db, source: &str) -> Result<()> {
    sqlx::query(
        "UPDATE source_activity SET outage_state = NULL, outage_since = NULL WHERE source = $1",
    )
    .bind(source)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[derive(Default)]
struct Heard {
    alert: Option<DateTime<Utc>>,
    heartbeat: Option<DateTime<Utc>>,
}

/// What ingest heard from each source since the last write; written once a second by
/// [`Activity::run`]. Noting costs a short lock, never a query.
#[derive(Clone, Default)]
pub struct Activity {
    heard: Arc<Mutex<HashMap<String, Heard>>>,
}

impl Activity {
    pub fn alert(&self, source: &str) {
        self.note(source, |h| h.alert = Some(Utc::now()));
    }

    pub fn heartbeat(&self, source: &str) {
        self.note(source, |h| h.heartbeat = Some(Utc::now()));
    }

    fn note(&self, source: &str, set: impl FnOnce(&mut Heard)) {
        let mut heard = self.heard.lock().unwrap_or_else(|e| e.into_inner());
        match heard.get_mut(source) {
            Some(h) => set(h),
            None => {
                let mut h = Heard::default();
                set(&mut h);
                heard.insert(source.to_string(), h);
            }
        }
    }

    /// Writes what was heard, every `every`, until `stop` resolves; what cannot be written
    /// now is kept (merged with what comes next) and written later.
    pub async fn run(self, db: Db, every: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = &mut stop => true,
            };
            let batch: Vec<(String, Heard)> = {
                let mut heard = self.heard.lock().unwrap_or_else(|e| e.into_inner());
                heard.drain().collect()
            };
            if !batch.is_empty() {
                if let Err(e) = write_heard(&db, &batch).await {
                    tracing::debug!(error = %e, "cannot record the sources' activity; later");
                    let mut heard = self.heard.lock().unwrap_or_else(|e| e.into_inner());
                    for (source, h) in batch {
                        let kept = heard.entry(source).or_default();
                        kept.alert = kept.alert.max(h.alert);
                        kept.heartbeat = kept.heartbeat.max(h.heartbeat);
                    }
                }
            }
            if stopping {
                return;
            }
        }
    }
}

async fn write_heard(db: &Db, batch: &[(String, Heard)]) -> Result<()> {
    sqlx::query(
        "INSERT INTO source_activity (source, last_alert_at, last_heartbeat_at)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[])
         ON CONFLICT (source) DO UPDATE SET
             last_alert_at = GREATEST(source_activity.last_alert_at, EXCLUDED.last_alert_at),
             last_heartbeat_at = GREATEST(source_activity.last_heartbeat_at,
                                          EXCLUDED.last_heartbeat_at)",
    )
    .bind(batch.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, h)| h.alert).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, h)| h.heartbeat).collect::<Vec<_>>())
    .execute(db.pool())
    .await?;
    Ok(())
}
