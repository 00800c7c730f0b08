//! What operators steer, as a worker sees it. The operator state lives in PostgreSQL
//! (`opstate`); a worker never waits for it:
//! - the silences active now, the pause switch and the console's mappings (applied to the
//!   running configuration by `startup.rs`) are read into memory by a
//!   [`opstate::watch::Watch`] (polled by generation; the last view stays in force while
//!   PostgreSQL is away; before the first read: no silence, no pause, so an unknown silence
//!   means a ticket, never a dropped alert);
//! - each alert's steps go to a [`TrailWriter`], a bounded buffer written in batches;
//! - [`duties`]: what one worker of the fleet does at a time: queuing the ticket of each
//!   group a silence held that is still firing when its window ends, and pruning the trail.
//!
//! [`Steering::suppressing`] is the silence check the handler makes for each alert.

pub mod duties;

use crate::plan;
use opstate::silence::Match;
use opstate::store::silences::Hit;
use opstate::trail::{Event, Step, TrailTask, TrailWriter};
use opstate::watch::Watch;
use opstate::Db;
use shared::alert::AlertStatus;
use shared::config::Settings;
use shared::message::AlertMessage;
use std::time::Duration;

/// The worker's handle on the operator state.
#[derive(Clone)]
pub struct Steering {
    pub watch: Watch,
    pub trail: TrailWriter,
    /// `None` for a worker run without PostgreSQL (a unit test's).
    pub db: Option<Db>,
}

/// The background parts, stopped with the worker.
pub struct SteeringTasks {
    trail: Option<TrailTask>,
    migrate: Option<tokio::task::JoinHandle<()>>,
}

impl Steering {
    /// Connects lazily, migrates in the background (retrying while PostgreSQL is away),
    /// and starts the view and the trail's writer.
    pub fn start(settings: &Settings) -> anyhow::Result<(Steering, SteeringTasks)> {
        let db = Db::lazy(&settings.postgres, &settings.prefix)?;
        let migrate = tokio::spawn(migrate_until_done(db.clone()));
        let refresh = Duration::from_millis(settings.postgres.refresh_ms.max(100));
        let watch = Watch::start(db.clone(), refresh);
        let (trail, task) = TrailWriter::start(db.clone(), settings.postgres.trail_buffer);
        Ok((
            Steering {
                watch,
                trail,
                db: Some(db),
            },
            SteeringTasks {
                trail: Some(task),
                migrate: Some(migrate),
            },
        ))
    }

    /// No operator state: nothing silenced, never paused, no trail.
    pub fn detached() -> Steering {
        Steering {
            watch: Watch::fixed(),
            trail: TrailWriter::disabled(),
            db: None,
        }
    }

    /// Whether the fleet is paused, as last read.
    pub fn paused(&self) -> bool {
        self.watch.current().pause.paused
    }

    /// The silence suppressing this alert, if one does; its hit is recorded (for the
    /// ticket its group gets when the window ends) along with the trail's step. A resolved
    /// alert a silence lets pass still tells that silence its group is no longer firing.
    pub(crate) fn suppressing(
        &self,
        message: &AlertMessage,
        message_id: &str,
        group_key: &str,
    ) -> Option<Match> {
        let view = self.watch.current();
        if view.active.is_empty() {
            return None;
        }
        let resolved = message.alert.status == AlertStatus::Resolved;
        let found = view.active.matching(message);
        let seen = match (&found, resolved) {
            (Some(m), _) => Some(m.clone()),
            (None, true) => view.active.matching_any(message),
            (None, false) => None,
        };
        if let Some(m) = &seen {
            self.trail.hit(Hit {
                silence_id: m.silence_id,
                window_start: m.window.start,
                window_end: m.window.end,
                group_key: group_key.to_string(),
                count: i64::from(found.is_some()),
                first_at: message.received_at,
                last_at: message.received_at,
                firing: !resolved,
                message: if resolved {
                    serde_json::Value::Null
                } else {
                    serde_json::to_value(message).unwrap_or_default()
                },
            });
        }
        if let Some(m) = &found {
            self.record(
                step(Step::Suppressed, message, message_id).detail(serde_json::json!({
                    "silence_id": m.silence_id,
                    "reason": m.reason,
                    "window_end": m.window.end,
                })),
            );
        }
        found
    }

    pub fn record(&self, event: Event) {
        self.trail.record(event);
    }

    /// One step per alert a call carried to `ticket_id` (their source and organization are
    /// the batch head's: one group, one customer).
    pub(crate) fn carried<'a>(
        &self,
        step: Step,
        head: &AlertMessage,
        alerts: impl IntoIterator<Item = (&'a str, &'a str)>,
        ticket_id: i64,
        number: Option<String>,
    ) {
        for (message_id, alert_id) in alerts {
            self.record(
                Event::new(step, message_id, &head.source)
                    .sender(alert_id, &head.alert.organization.id)
                    .ticket(ticket_id, number.clone()),
            );
        }
    }
}

impl SteeringTasks {
    /// Writes the trail's last steps (within `deadline`) once the workers are gone.
    pub async fn finish(mut self, deadline: Duration) {
        if let Some(migrate) = self.migrate.take() {
            migrate.abort();
        }
        if let Some(trail) = self.trail.take() {
            trail.finish(deadline).await;
        }
    }
}

/// A step of one alert, with its sender id and organization.
pub(crate) fn step(step: Step, message: &AlertMessage, message_id: &str) -> Event {
    Event::new(step, message_id, &message.source)
        .sender(&message.alert.id, &message.alert.organization.id)
}

/// The plan's step: the customer, the subject and the rule that set each field.
pub(crate) fn planned(message: &AlertMessage, message_id: &str, plan: &plan::Plan) -> Event {
    let rules: serde_json::Map<String, serde_json::Value> = plan
        .provenance
        .iter()
        .map(|p| (p.field.to_string(), serde_json::json!([p.value, p.set_by])))
        .collect();
    step(Step::Planned, message, message_id).detail(serde_json::json!({
        "subject": plan.subject,
        "fields": rules,
    }))
}

async fn migrate_until_done(db: Db) {
    let meanwhile = "alerts are handled meanwhile (no silences, no pause; trail buffered)";
    let migrated = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    db.migrate_until_done(migrated, meanwhile).await;
}

/// Keeps the worker's operator-state metrics current and reports the worker to the fleet's
/// status (every few seconds, off the alert path), until aborted.
pub async fn report(
    steering: Steering,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    store: crate::store::Store,
    broker: shared::amqp::Broker,
) {
    use opstate::store::workers::{self, WorkerReport};
    use std::sync::atomic::Ordering;
    const EVERY: Duration = Duration::from_secs(2);
    let started_at = chrono::Utc::now();
    let host = workers::host_name();
    let (mut written, mut dropped) = (0u64, 0u64);
    // Requests made, sampled every pass: the last minute's use is the newest minus the
    // sample a minute old.
    let mut samples = std::collections::VecDeque::new();
    loop {
        let view = steering.watch.current();
        metrics.paused.set(i64::from(view.pause.paused));
        metrics.silences_active.set(view.active.len() as i64);
        let fresh = steering
            .watch
            .last_read()
            .is_some_and(|at| (chrono::Utc::now() - at) < chrono::Duration::seconds(10));
        let stats = steering.trail.stats();
        let up = fresh && !stats.failing.load(Ordering::Relaxed);
        metrics.postgres_up.set(i64::from(up));
        let now_written = stats.written.load(Ordering::Relaxed);
        let now_dropped = stats.dropped.load(Ordering::Relaxed);
        metrics
            .trail_written
            .inc_by(now_written.saturating_sub(written));
        metrics
            .trail_dropped
            .inc_by(now_dropped.saturating_sub(dropped));
        (written, dropped) = (now_written, now_dropped);
        let made = metrics.requests_made.get();
        samples.push_back(made);
        while samples.len() > (60 / EVERY.as_secs() as usize) + 1 {
            samples.pop_front();
        }
        if let Some(db) = &steering.db {
            let report = WorkerReport {
                held: metrics.held.get().max(0) as u64,
                in_flight: metrics.in_flight.get().max(0) as u64,
                paused: view.pause.paused,
                silences_active: view.active.len() as u64,
                syncro_requests_last_minute: made - samples.front().copied().unwrap_or(made),
                redis_up: metrics.redis_up.get() == 1,
                broker_up: broker.is_connected(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            };
            if let Err(e) = workers::report(db, store.instance(), &host, started_at, &report).await
            {
                tracing::debug!(error = %e, "cannot report to the fleet's status");
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Takes the worker off the fleet's status (it is stopping).
pub async fn deregister(steering: &Steering, store: &crate::store::Store) {
    if let Some(db) = &steering.db {
        // PostgreSQL away: the row ages out of the status by itself; do not wait for it.
        let gone = opstate::store::workers::gone(db, store.instance());
        let _ = tokio::time::timeout(Duration::from_secs(1), gone).await;
    }
}
