//! What the trail tells of the last hours, for the console's overview and a silence's
//! preview: alerts, tickets and notes per hour, the busiest organizations and event types
//! ([`activity`]), and the recent alerts as the workers saw them ([`recent_alerts`]).
//!
//! Both read only the hours asked for, through the trail's `at` index (BRIN: the trail is
//! written in time order), so their cost follows the traffic of those hours, not the
//! trail's retention. `docs/benchmarks.md` has the figure on a trail of 200,000 rows.

use super::{Event, Step};
use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::alert::{Alert, AlertStatus, Device, Organization, RuleRef, Severity};
use shared::message::AlertMessage;
use sqlx::Row;

/// Longest span [`activity`] covers: a week.
pub const MAX_HOURS: u32 = 168;
/// How many organizations and event types the busiest lists name.
pub const BUSIEST: i64 = 10;

/// One hour of traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hour {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    /// Alerts ingest accepted (`received` steps).
    pub alerts: i64,
    /// Tickets created (distinct tickets of the `ticket_created` steps).
    pub tickets: i64,
    /// Alerts added to an open ticket as notes (`note_added` steps: one per alert; a storm's
    /// alerts share one Syncro comment).
    pub notes: i64,
}

/// One name and how many alerts it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub alerts: i64,
}

/// The last hours' traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// The first hour's start.
    pub since: DateTime<Utc>,
    /// Every hour from `since` to the current one, oldest first (quiet hours at 0).
    pub hours: Vec<Hour>,
    /// The organizations with the most alerts received, most first (at most [`BUSIEST`]).
    pub organizations: Vec<Count>,
    /// The event types with the most alerts received, most first.
    pub event_types: Vec<Count>,
}

/// The start of the hour of `at`.
fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp() - at.timestamp().rem_euclid(3600);
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// The last `hours` hours (the current one included) of the trail, at `now`.
pub async fn activity(db: &Db, hours: u32, now: DateTime<Utc>) -> Result<Activity> {
    let hours = hours.clamp(1, MAX_HOURS);
    let current = hour_of(now);
    let since = current - chrono::Duration::hours(i64::from(hours) - 1);
    let rows = sqlx::query(
        "SELECT date_trunc('hour', at) AS hour,
                count(*) FILTER (WHERE step = 'received') AS alerts,
                count(DISTINCT ticket_id) FILTER (WHERE step = 'ticket_created') AS tickets,
                count(*) FILTER (WHERE step = 'note_added') AS notes
           FROM trail
          WHERE at >= $1 AND step IN ('received', 'ticket_created', 'note_added')
          GROUP BY 1",
    )
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    let mut by_hour = std::collections::HashMap::new();
    for row in &rows {
        let hour: DateTime<Utc> = row.try_get("hour")?;
        by_hour.insert(
            hour,
            (
                row.try_get::<i64, _>("alerts")?,
                row.try_get::<i64, _>("tickets")?,
                row.try_get::<i64, _>("notes")?,
            ),
        );
    }
    let hours = (0..i64::from(hours))
        .map(|n| {
            let hour = since + chrono::Duration::hours(n);
            let (alerts, tickets, notes) = by_hour.get(&hour).copied().unwrap_or_default();
            Hour {
                hour,
                alerts,
                tickets,
                notes,
            }
        })
        .collect();
    Ok(Activity {
        since,
        hours,
        organizations: busiest(db, "organization", since).await?,
        event_types: busiest(db, "detail->>'event_type'", since).await?,
    })
}

/// The busiest values of `expression` among the alerts received since `since`.
async fn busiest(db: &Db, expression: &'static str, since: DateTime<Utc>) -> Result<Vec<Count>> {
    // `expression` is one of two constants above, never input.
    let sql = format!(
        "SELECT {expression} AS name, count(*) AS alerts
           FROM trail
          WHERE at >= $1 AND step = 'received' AND {expression} IS NOT NULL
          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(since)
        .bind(BUSIEST)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Count {
                name: r.try_get("name")?,
                alerts: r.try_get("alerts")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The alerts received since `since`, newest first, at most `limit`: each as far as its
/// `received` step tells it (see [`alert_of`]).
pub async fn recent_alerts(
    db: &Db,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Event, AlertMessage)>> {
    let rows = sqlx::query(
        "SELECT at, message_id, source, sender_id, organization, detail
           FROM trail
          WHERE at >= $1 AND step = 'received'
          ORDER BY at DESC, id DESC
          LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut event = Event::new(
            Step::Received,
            &r.try_get::<String, _>("message_id")?,
            &r.try_get::<String, _>("source")?,
        );
        event.at = r.try_get("at")?;
        event.sender_id = r.try_get("sender_id")?;
        event.organization = r.try_get("organization")?;
        event.detail = r.try_get("detail")?;
        if let Some(message) = alert_of(&event) {
            found.push((event, message));
        }
    }
    Ok(found)
}

/// The alert of a `received` step, as far as the step keeps it: source, ids, organization
/// (and its name), event type, severity, status, title, and (from steps written since the
/// console's preview) user, device and rules. No description or details: a silence does
/// not match on them. `None` for a step that lacks the alert's id or organization.
pub fn alert_of(event: &Event) -> Option<AlertMessage> {
    let detail = &event.detail;
    let text = |key: &str| detail[key].as_str().map(str::to_string);
    let alert = Alert {
        id: event.sender_id.clone()?,
        event_type: text("event_type").unwrap_or_default(),
        severity: detail["severity"]
            .as_str()
            .and_then(Severity::parse)
            .unwrap_or(Severity::Info),
        organization: Organization {
            id: event.organization.clone()?,
            name: text("organization_name"),
            domain: None,
        },
        title: text("title").unwrap_or_default(),
        description: None,
        occurred_at: event.at,
        respond_rule: parsed::<RuleRef>(detail, "respond_rule"),
        ioc_rule: parsed::<RuleRef>(detail, "ioc_rule"),
        user: text("user"),
        ip: None,
        device: parsed::<Device>(detail, "device"),
        status: match detail["status"].as_str() {
            Some("resolved") => AlertStatus::Resolved,
            _ => AlertStatus::Firing,
        },
        details: serde_json::Map::new(),
    };
    Some(AlertMessage::new(&event.source, alert, event.at))
}

/// `detail[key]` as a `T`, when it is there and one.
fn parsed<T: serde::de::DeserializeOwned>(detail: &serde_json::Value, key: &str) -> Option<T> {
    detail
        .get(key)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_received_step_gives_back_what_silences_match_on() {
        let event = Event::new(Step::Received, "ar1-x", "demo")
            .sender("evt-1", "org-1")
            .detail(json!({
                "event_type": "edr.ransomware", "severity": "high", "status": "resolved",
                "title": "Ransomware", "organization_name": "Contoso", "user": "j.doe",
                "device": {"name": "pc-1"}, "ioc_rule": {"id": "ioc-3"},
            }));
        let message = alert_of(&event).expect("an alert");
        assert_eq!(message.source, "demo");
        let alert = &message.alert;
        assert_eq!(
            (alert.id.as_str(), alert.organization.id.as_str()),
            ("evt-1", "org-1")
        );
        assert_eq!(alert.organization.name.as_deref(), Some("Contoso"));
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(alert.status, AlertStatus::Resolved);
        assert_eq!(
            alert.device.as_ref().and_then(|d| d.name.as_deref()),
            Some("pc-1")
        );
        assert_eq!(
            alert.ioc_rule.as_ref().map(|r| r.id.as_str()),
            Some("ioc-3")
        );
        assert_eq!(alert.respond_rule, None);
        assert!(alert_of(&Event::new(Step::Received, "ar1-y", "demo")).is_none());
    }

    #[test]
    fn hours_start_on_the_hour() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T10:59:59.9Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("a time");
        assert_eq!(hour_of(at).to_rfc3339(), "2026-05-01T10:00:00+00:00");
    }
}
