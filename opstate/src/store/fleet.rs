//! The fleet-wide switches: whether the workers are paused (the wizard's "disable the
//! integration"), and the generation every change bumps.

use super::{audit, bump, Actor};
use crate::db::{Db, DbError, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Whether the workers take alerts; alerts keep arriving and wait in RabbitMQ while paused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PauseState {
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who paused or resumed last, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

/// The fleet's generation: it changes whenever silences or the pause state change.
pub async fn generation(db: &Db) -> Result<i64> {
    let value: serde_json::Value =
        sqlx::query_scalar("SELECT value FROM fleet_state WHERE name = 'generation'")
            .fetch_one(db.pool())
            .await?;
    value
        .as_i64()
        .ok_or_else(|| DbError::Corrupt("the generation is not a number".into()))
}

pub async fn pause_state(db: &Db) -> Result<PauseState> {
    let row = sqlx::query("SELECT value FROM fleet_state WHERE name = 'pause'")
        .fetch_one(db.pool())
        .await?;
    let value: serde_json::Value = row.try_get("value")?;
    serde_json::from_value(value).map_err(|e| DbError::Corrupt(format!("pause state: {e}")))
}

/// Pauses or resumes the fleet; a no-op (and no audit row) when it already is so. Returns
/// the state now and whether it changed.
pub async fn set_paused(
    db: &Db,
    actor: &Actor,
    paused: bool,
    reason: Option<&str>,
) -> Result<(PauseState, bool)> {
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query("SELECT value FROM fleet_state WHERE name = 'pause' FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    let value: serde_json::Value = row.try_get("value")?;
    let current: PauseState =
        serde_json::from_value(value).map_err(|e| DbError::Corrupt(format!("pause state: {e}")))?;
    if current.paused == paused {
        return Ok((current, false));
    }
    let state = PauseState {
        paused,
        reason: reason.map(str::to_string),
        by: Some(actor.0.clone()),
        since: Some(Utc::now()),
    };
    let value =
        serde_json::to_value(&state).map_err(|e| DbError::Corrupt(format!("pause state: {e}")))?;
    sqlx::query(
        "UPDATE fleet_state SET value = $1, updated_at = now(), updated_by = $2
          WHERE name = 'pause'",
    )
    .bind(&value)
    .bind(&actor.0)
    .execute(&mut *tx)
    .await?;
    let action = if paused { "pause" } else { "resume" };
    audit::write(&mut tx, actor, action, None, &value).await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok((state, true))
}
