//! Silences and maintenance windows as stored, and the groups each window held.
//!
//! A silence is checked ([`crate::silence::SilenceSpec::check`]) before it is written:
//! one with any problem is refused whole. Adding, extending and expiring each write the
//! silence, an audit row and the fleet's generation in one transaction.

use super::{audit, bump, Actor};
use crate::db::{Db, DbError, Result};
use crate::silence::{Checked, Limits, Problem, Schedule, Silence, SilenceSpec};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

/// Why a change to a silence was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the silence has problems")]
    Invalid(Vec<Problem>),
    #[error("no such silence")]
    NotFound,
    #[error("the silence has already ended")]
    Ended,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Db(e.into())
    }
}

const COLUMNS: &str = "id, spec, created_at, updated_at, expired_at";

fn from_row(row: &PgRow) -> Result<Silence> {
    let spec: serde_json::Value = row.try_get("spec")?;
    let checked: Checked = serde_json::from_value(spec)
        .map_err(|e| DbError::Corrupt(format!("a stored silence: {e}")))?;
    Ok(Silence {
        id: row.try_get("id")?,
        checked,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        expired_at: row.try_get("expired_at")?,
    })
}

fn to_json(checked: &Checked) -> Result<serde_json::Value> {
    serde_json::to_value(checked).map_err(|e| DbError::Corrupt(format!("a silence: {e}")))
}

/// Checks and adds a silence; every problem at once, or the silence as stored.
pub async fn add(
    db: &Db,
    actor: &Actor,
    spec: &SilenceSpec,
    limits: &Limits,
) -> Result<Silence, ChangeError> {
    let now = Utc::now();
    let checked = spec.check(limits, now).map_err(ChangeError::Invalid)?;
    let id = Uuid::new_v4();
    let json = to_json(&checked)?;
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO silences (id, spec, starts_at, ends_at, author)
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&json)
    .bind(checked.starts_at)
    .bind(checked.ends_at)
    .bind(&checked.author)
    .fetch_one(&mut *tx)
    .await?;
    let silence = from_row(&row)?;
    audit::write(&mut tx, actor, "silence.add", Some(&id.to_string()), &json).await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok(silence)
}

/// Silences not yet over (active or to come), or every one kept when `all`.
pub async fn list(db: &Db, all: bool) -> Result<Vec<Silence>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM silences
          WHERE $1 OR (expired_at IS NULL AND ends_at > now())
          ORDER BY created_at, id"
    ))
    .bind(all)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Silence>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM silences WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Ends a silence now; its groups still firing get their ticket.
pub async fn expire(db: &Db, actor: &Actor, id: Uuid) -> Result<Silence, ChangeError> {
    let mut tx = db.pool().begin().await?;
    let silence = locked(&mut tx, id).await?;
    if silence.expired_at.is_some() || silence.checked.ends_at <= Utc::now() {
        return Err(ChangeError::Ended);
    }
    let row = sqlx::query(&format!(
        "UPDATE silences SET expired_at = now(), updated_at = now() WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let expired = from_row(&row)?;
    let detail = serde_json::json!({ "reason": silence.checked.reason });
    audit::write(
        &mut tx,
        actor,
        "silence.expire",
        Some(&id.to_string()),
        &detail,
    )
    .await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok(expired)
}

/// Moves a silence's end (a one-off's end, a recurring one's `until`) to `ends_at`,
/// checked against the limits as a new silence would be.
pub async fn extend(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    ends_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<Silence, ChangeError> {
    let mut tx = db.pool().begin().await?;
    let silence = locked(&mut tx, id).await?;
    let now = Utc::now();
    if silence.expired_at.is_some() || silence.checked.ends_at <= now {
        return Err(ChangeError::Ended);
    }
    let c = &silence.checked;
    let schedule = match c.schedule.clone() {
        Schedule::Once { .. } => Schedule::Once {
            starts_at: Some(c.starts_at),
            ends_at: Some(ends_at),
            duration: None,
        },
        Schedule::Weekly {
            time_zone,
            days,
            from,
            to,
            ..
        } => Schedule::Weekly {
            time_zone,
            days,
            from,
            to,
            until: Some(ends_at),
        },
        Schedule::Cron {
            time_zone,
            expression,
            duration,
            ..
        } => Schedule::Cron {
            time_zone,
            expression,
            duration,
            until: Some(ends_at),
        },
    };
    let spec = SilenceSpec {
        matchers: c.matchers.clone(),
        schedule,
        reason: c.reason.clone(),
        author: c.author.clone(),
        resolved_pass: Some(c.resolved_pass),
    };
    let checked = spec.check(limits, now).map_err(ChangeError::Invalid)?;
    let json = to_json(&checked)?;
    let row = sqlx::query(&format!(
        "UPDATE silences SET spec = $2, ends_at = $3, updated_at = now() WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&json)
    .bind(checked.ends_at)
    .fetch_one(&mut *tx)
    .await?;
    let extended = from_row(&row)?;
    let detail = serde_json::json!({ "from": c.ends_at, "to": checked.ends_at });
    audit::write(
        &mut tx,
        actor,
        "silence.extend",
        Some(&id.to_string()),
        &detail,
    )
    .await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok(extended)
}

async fn locked(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Silence, ChangeError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM silences WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => Ok(from_row(&row)?),
        None => Err(ChangeError::NotFound),
    }
}

/// What one silence's window suppressed of one group (aggregated by the trail's writer).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub silence_id: Uuid,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub group_key: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Whether the group was still firing as of its newest alert (no resolve seen).
    pub firing: bool,
    /// The newest firing alert's queue message (JSON): what its ticket is made from.
    pub message: serde_json::Value,
}

/// Adds hits to their groups' rows (in the writer's transaction).
pub(crate) async fn record_hits(tx: &mut Transaction<'_, Postgres>, hits: &[Hit]) -> Result<()> {
    sqlx::query(
        "INSERT INTO silenced_groups (silence_id, window_start, window_end, group_key,
                                      suppressed, first_at, last_at, firing, last_message)
         SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::text[],
                              $5::int8[], $6::timestamptz[], $7::timestamptz[], $8::bool[],
                              $9::jsonb[])
         ON CONFLICT (silence_id, window_start, group_key) DO UPDATE SET
             suppressed = silenced_groups.suppressed + EXCLUDED.suppressed,
             first_at = LEAST(silenced_groups.first_at, EXCLUDED.first_at),
             last_at = GREATEST(silenced_groups.last_at, EXCLUDED.last_at),
             firing = CASE WHEN EXCLUDED.last_at >= silenced_groups.last_at
                           THEN EXCLUDED.firing ELSE silenced_groups.firing END,
             last_message = CASE WHEN EXCLUDED.firing AND EXCLUDED.last_at >= silenced_groups.last_at
                                 THEN EXCLUDED.last_message ELSE silenced_groups.last_message END",
    )
    .bind(hits.iter().map(|h| h.silence_id).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.window_start).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.window_end).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.group_key.clone()).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.count).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.first_at).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.last_at).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.firing).collect::<Vec<_>>())
    .bind(hits.iter().map(|h| h.message.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A group a window held, now that the window is over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Release {
    pub silence_id: Uuid,
    pub window_start: DateTime<Utc>,
    pub group_key: String,
    pub suppressed: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub firing: bool,
    /// When the window ended (or the silence was expired).
    pub ended_at: DateTime<Utc>,
    pub reason: String,
    pub message: serde_json::Value,
}

/// Groups whose window is over and that were not released yet, oldest first: a recurring
/// silence's window at its end, a one-off at the silence's (possibly extended) end, any
/// silence once expired.
pub async fn due_releases(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Release>> {
    let rows = sqlx::query(
        "SELECT g.silence_id, g.window_start, g.group_key, g.suppressed, g.first_at, g.last_at,
                g.firing, g.last_message, s.spec->>'reason' AS reason,
                LEAST(CASE WHEN s.spec->'schedule'->>'kind' = 'once' THEN s.ends_at
                           ELSE g.window_end END,
                      COALESCE(s.expired_at, 'infinity'::timestamptz)) AS ended_at
           FROM silenced_groups g JOIN silences s ON s.id = g.silence_id
          WHERE g.released_at IS NULL
            AND ((s.spec->'schedule'->>'kind' <> 'once' AND g.window_end <= $1)
                 OR s.ends_at <= $1 OR s.expired_at <= $1)
          ORDER BY g.window_end LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Release {
                silence_id: r.try_get("silence_id")?,
                window_start: r.try_get("window_start")?,
                group_key: r.try_get("group_key")?,
                suppressed: r.try_get("suppressed")?,
                first_at: r.try_get("first_at")?,
                last_at: r.try_get("last_at")?,
                firing: r.try_get("firing")?,
                ended_at: r.try_get("ended_at")?,
                reason: r
                    .try_get::<Option<String>, _>("reason")?
                    .unwrap_or_default(),
                message: r.try_get("last_message")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Marks a released group (after its alert was queued: a crash in between queues it again,
/// under the same message id, which the workers take once).
pub async fn mark_released(db: &Db, release: &Release) -> Result<()> {
    sqlx::query(
        "UPDATE silenced_groups SET released_at = now()
          WHERE silence_id = $1 AND window_start = $2 AND group_key = $3",
    )
    .bind(release.silence_id)
    .bind(release.window_start)
    .bind(&release.group_key)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Every silence not yet over, for the workers' view.
pub async fn current(db: &Db) -> Result<Vec<Silence>> {
    list(db, false).await
}

/// Suppressed counts per silence (for the status and the API).
pub async fn suppressed_counts(db: &Db) -> Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query(
        "SELECT silence_id, sum(suppressed)::int8 AS n FROM silenced_groups GROUP BY silence_id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("silence_id")?, r.try_get("n")?)))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}
