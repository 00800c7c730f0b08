//! The audit log: every operator action, who made it and when, written in the action's own
//! transaction.

use super::Actor;
use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Row, Transaction};

/// One operator action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// What was done, e.g. `silence.add`, `pause`, `dlq.replay`.
    pub action: String,
    /// What it was done to (a silence id, a queue), when anything.
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

/// Writes one entry in the action's transaction.
pub async fn write(
    tx: &mut Transaction<'_, Postgres>,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)")
        .bind(&actor.0)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes one entry on its own: for actions whose effect is elsewhere (a replay of dead
/// letters through RabbitMQ), recorded once they are done.
pub async fn record(
    db: &Db,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    write(&mut tx, actor, action, target, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// The newest entries first, at most `limit` (up to 1,000), optionally since a time.
pub async fn list(db: &Db, since: Option<DateTime<Utc>>, limit: i64) -> Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, target, detail FROM audit
          WHERE ($1::timestamptz IS NULL OR at >= $1)
          ORDER BY id DESC LIMIT $2",
    )
    .bind(since)
    .bind(limit.clamp(1, 1_000))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}
