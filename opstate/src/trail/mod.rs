//! Each alert's trail: every step from ingest's acceptance to its ticket or note, kept in
//! PostgreSQL for `postgres.trail_retention_days`.
//!
//! - [`Step`] and [`Event`]: what one row says.
//! - [`writer`]: the only way steps are written: a bounded buffer drained by one task in
//!   batches, so recording a step never waits for PostgreSQL; a full buffer drops and counts,
//!   and the trail records the gap once PostgreSQL is back.
//! - [`search`] and [`prune`]: reading it back, and keeping it bounded.
//! - [`activity`]: the last hours' traffic and recent alerts (the console's overview, a
//!   silence's preview).

pub mod activity;
pub mod writer;

pub use writer::{append, TrailStats, TrailTask, TrailWriter};

use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// One step of an alert's way through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Ingest verified it and RabbitMQ confirmed it.
    Received,
    /// The mapping decided and the ticket planned: the customer (and the mapping rule that
    /// chose it), the subject, and the rule that set each field.
    Planned,
    /// A silence matched: no ticket, no note.
    Suppressed,
    /// Parked: its organization has no mapping yet.
    Parked,
    /// Its organization is ignored.
    Ignored,
    /// Its group's ticket was created (its number in `ticket_number`).
    TicketCreated,
    /// It was added to its group's ticket as a note.
    NoteAdded,
    /// Its group's ticket was resolved.
    Resolved,
    /// A call for it failed; it waits in a retry tier.
    Retried,
    /// Its retries are spent: it is in the dead-letter queue.
    DeadLettered,
    /// An operator replayed it from the dead-letter queue.
    Replayed,
    /// A silence's window ended while its group was still firing: its ticket was queued.
    Released,
    /// Steps were dropped while PostgreSQL was away (`detail.dropped`).
    TrailGap,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Planned => "planned",
            Step::Suppressed => "suppressed",
            Step::Parked => "parked",
            Step::Ignored => "ignored",
            Step::TicketCreated => "ticket_created",
            Step::NoteAdded => "note_added",
            Step::Resolved => "resolved",
            Step::Retried => "retried",
            Step::DeadLettered => "dead_lettered",
            Step::Replayed => "replayed",
            Step::Released => "released",
            Step::TrailGap => "trail_gap",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// One row of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The relay's message id (stable per source and sender id).
    pub message_id: String,
    pub source: String,
    /// The sender's own alert id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
    pub step: Step,
    /// What the step adds: the customer, the rule of each field, the silence, the error...
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl Event {
    /// A step of one alert, now, with nothing else known yet.
    pub fn new(step: Step, message_id: &str, source: &str) -> Event {
        Event {
            at: Utc::now(),
            message_id: message_id.to_string(),
            source: source.to_string(),
            sender_id: None,
            organization: None,
            ticket_id: None,
            ticket_number: None,
            step,
            detail: serde_json::Value::Null,
        }
    }

    pub fn sender(mut self, sender_id: &str, organization: &str) -> Event {
        self.sender_id = Some(sender_id.to_string());
        self.organization = Some(organization.to_string());
        self
    }

    pub fn ticket(mut self, ticket_id: i64, number: Option<String>) -> Event {
        self.ticket_id = Some(ticket_id);
        self.ticket_number = number;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = detail;
        self
    }
}

/// What to look for: any of the fields given, all of them must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailQuery {
    /// The relay's message id or the sender's alert id.
    pub alert: Option<String>,
    pub organization: Option<String>,
    pub ticket_number: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// At most this many steps (default 500, at most 5,000).
    pub limit: Option<i64>,
}

/// Steps matching the query, oldest first.
pub async fn search(db: &Db, q: &TrailQuery) -> Result<Vec<Event>> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5_000);
    // An alert's trail: its steps, found by either id. A ticket's: the steps of every alert
    // that reached it (found by the number on its creation or note rows).
    let rows = sqlx::query(
        "SELECT at, message_id, source, sender_id, organization, ticket_id, ticket_number, step, detail
           FROM trail
          WHERE ($1::text IS NULL OR message_id = $1 OR sender_id = $1
                 OR message_id IN (SELECT message_id FROM trail WHERE sender_id = $1))
            AND ($2::text IS NULL OR organization = $2)
            AND ($3::text IS NULL OR message_id IN
                   (SELECT message_id FROM trail WHERE ticket_number = $3))
            AND ($4::timestamptz IS NULL OR at >= $4)
            AND ($5::timestamptz IS NULL OR at < $5)
          ORDER BY at, id
          LIMIT $6",
    )
    .bind(&q.alert)
    .bind(&q.organization)
    .bind(&q.ticket_number)
    .bind(q.since)
    .bind(q.until)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let step: String = r.try_get("step")?;
            Ok(Event {
                at: r.try_get("at")?,
                message_id: r.try_get("message_id")?,
                source: r.try_get("source")?,
                sender_id: r.try_get("sender_id")?,
                organization: r.try_get("organization")?,
                ticket_id: r.try_get("ticket_id")?,
                ticket_number: r.try_get("ticket_number")?,
                step: Step::parse(&step).unwrap_or(Step::TrailGap),
                detail: r.try_get("detail")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Deletes steps older than `before`, a batch at a time; the number deleted.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM trail WHERE id IN
               (SELECT id FROM trail WHERE at < $1 ORDER BY id LIMIT 10000)",
        )
        .bind(before)
        .execute(db.pool())
        .await?
        .rows_affected();
        total += deleted;
        if deleted < 10_000 {
            return Ok(total);
        }
    }
}

/// The trail's size on disk, table and indexes, and its rows (an estimate).
pub async fn size(db: &Db) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT pg_total_relation_size('trail'::regclass) AS bytes,
                (SELECT count(*) FROM trail) AS rows",
    )
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("bytes")?, row.try_get("rows")?))
}
