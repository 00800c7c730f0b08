//! What ingest tells the operator state in PostgreSQL (`opstate`): each accepted alert's
//! `received` step of the trail, and each source's last sign of life (an alert or a
//! heartbeat).
//!
//! It also reports the instance itself every [`REPORT_EVERY`] (alive, its broker connection,
//! the alerts it accepted), so the fleet's status shows ingest beside the workers.
//!
//! None of it is on a request's path: a step goes into the trail writer's bounded buffer and
//! a sign of life into memory, and background tasks write both. PostgreSQL being away (or
//! not yet migrated) never delays or refuses an alert; the steps wait in the buffer, then
//! are dropped and counted, and the trail records the gap.

use opstate::store::sources::Activity;
use opstate::store::workers::{self, IngestReport};
use opstate::trail::writer::TrailTask;
use opstate::trail::{Event, Step, TrailWriter};
use opstate::{Db, DbError};
use prometheus_client::metrics::counter::Counter;
use shared::amqp::Broker;
use shared::config::Settings;
use shared::message::AlertMessage;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// At most this many characters of an alert's title go into its `received` step: enough to
/// recognise it in a search, while a trail row stays a few hundred bytes (the whole alert is
/// in the queue message and the ticket).
const TITLE_CHARS: usize = 120;

/// How often what was heard from the sources is written.
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);
/// How often the instance reports itself to the fleet's status (which counts an instance
/// silent for 15 s as gone, as it does a worker).
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Ingest's handle on the operator state, shared by the request handlers.
pub struct OperatorState {
    /// Where the `received` steps go: a bounded buffer, never a wait.
    trail: TrailWriter,
    /// What was heard from each source since the last write (in memory).
    activity: Activity,
    /// Set once the schema is migrated: until then PostgreSQL counts as down, even while no
    /// step has been written to find it out.
    migrated: Arc<AtomicBool>,
    db: Db,
}

/// The tasks writing the operator state, stopped after the HTTP server.
pub struct Background {
    trail: TrailTask,
    activity: JoinHandle<()>,
    migration: JoinHandle<()>,
    /// Sending (or dropping) it tells the activity task to write once more and stop, and
    /// the migration to give up.
    stop: watch::Sender<()>,
    /// The instance's reports, once [`OperatorState::report`] started them.
    report: Option<(JoinHandle<()>, String)>,
    db: Db,
}

impl OperatorState {
    /// Builds the pool (it connects on first use) and starts the migration (retried with
    /// backoff while PostgreSQL is away), the trail's writer and the activity task. Fails only
    /// on settings that can never work (the URL or the schema name).
    pub fn start(settings: &Settings) -> Result<(OperatorState, Background), DbError> {
        let db = Db::lazy(&settings.postgres, &settings.prefix)?;
        let (stop, stopping) = watch::channel(());
        let migrated = Arc::new(AtomicBool::new(false));
        let migration = tokio::spawn(migrate_until_done(
            db.clone(),
            migrated.clone(),
            stopped(stopping.clone()),
        ));
        let (trail, trail_task) = TrailWriter::start(db.clone(), settings.postgres.trail_buffer);
        let activity = Activity::default();
        let activity_task = tokio::spawn(activity.clone().run(
            db.clone(),
            ACTIVITY_EVERY,
            stopped(stopping),
        ));
        Ok((
            OperatorState {
                trail,
                activity,
                migrated,
                db: db.clone(),
            },
            Background {
                trail: trail_task,
                activity: activity_task,
                migration,
                stop,
                report: None,
                db,
            },
        ))
    }

    /// Starts reporting this instance to the fleet's status (every [`REPORT_EVERY`], while
    /// PostgreSQL answers; it is taken off when [`Background::finish`] runs). `accepted` is
    /// each source's `alerts_accepted` counter: the report gives their sum.
    pub fn report(&self, background: &mut Background, broker: Broker, accepted: Vec<Counter>) {
        let instance = format!("ingest-{}", uuid::Uuid::new_v4().simple());
        let (db, id) = (self.db.clone(), instance.clone());
        let task = tokio::spawn(async move {
            let started_at = chrono::Utc::now();
            let host = workers::host_name();
            loop {
                let report = IngestReport {
                    broker_up: broker.is_connected(),
                    accepted: accepted.iter().map(Counter::get).sum(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                };
                if let Err(e) = workers::report_ingest(&db, &id, &host, started_at, &report).await {
                    tracing::debug!(error = %e, "cannot report to the fleet's status");
                }
                tokio::time::sleep(REPORT_EVERY).await;
            }
        });
        background.report = Some((task, instance));
    }

    /// After RabbitMQ confirmed a request's alerts: their `received` steps (made by
    /// [`received`]), and the source heard from.
    pub fn accepted(&self, source: &str, steps: Vec<Event>) {
        for step in steps {
            self.trail.record(step);
        }
        self.activity.alert(source);
    }

    /// A source's signed heartbeat.
    pub fn heartbeat(&self, source: &str) {
        self.activity.heartbeat(source);
    }

    /// Steps written, and dropped because the buffer was full.
    pub fn trail_counts(&self) -> (u64, u64) {
        let stats = self.trail.stats();
        (
            stats.written.load(Ordering::Relaxed),
            stats.dropped.load(Ordering::Relaxed),
        )
    }

    /// Whether the operator state is reachable: the schema migrated and the trail's last
    /// write succeeded.
    pub fn postgres_up(&self) -> bool {
        self.migrated.load(Ordering::Relaxed) && !self.trail.stats().failing.load(Ordering::Relaxed)
    }
}

impl Background {
    /// Once the HTTP server stopped (so no step can come any more): writes the trail's last
    /// steps and the last activity, each within `deadline` (what PostgreSQL does not take
    /// by then is lost and logged), and stops the migration if it is still trying.
    pub async fn finish(self, deadline: Duration) {
        let Background {
            trail,
            activity,
            migration,
            stop,
            report,
            db,
        } = self;
        migration.abort();
        if let Some((task, instance)) = report {
            task.abort();
            // PostgreSQL away: the row ages out of the status by itself; do not wait for it.
            let gone = workers::gone(&db, &instance);
            let _ = tokio::time::timeout(Duration::from_secs(1), gone).await;
        }
        drop(stop);
        let abort_activity = activity.abort_handle();
        let activity = async {
            if tokio::time::timeout(deadline, activity).await.is_err() {
                abort_activity.abort();
                tracing::warn!("the sources' last activity was not written before the deadline");
            }
        };
        tokio::join!(trail.finish(deadline), activity);
    }
}

/// The `received` step of one accepted alert: who sent it, and the few fields an operator
/// looks for first, with every field a silence can match on (organization name, device,
/// user, rules: so a silence's preview matches recent alerts as the workers would), at the
/// time the request was received (the message's `received_at`). No description or details:
/// they are in the queue message.
pub fn received(message_id: &str, message: &AlertMessage) -> Event {
    let alert = &message.alert;
    let mut detail = serde_json::json!({
        "event_type": alert.event_type,
        "severity": alert.severity.as_str(),
        "status": alert.status.as_str(),
        "title": clip(&alert.title, TITLE_CHARS),
    });
    let optional = [
        (
            "organization_name",
            serde_json::to_value(&alert.organization.name),
        ),
        ("user", serde_json::to_value(&alert.user)),
        ("device", serde_json::to_value(&alert.device)),
        ("respond_rule", serde_json::to_value(&alert.respond_rule)),
        ("ioc_rule", serde_json::to_value(&alert.ioc_rule)),
    ];
    for (key, value) in optional {
        match value {
            Ok(value) if !value.is_null() => detail[key] = value,
            _ => {}
        }
    }
    let mut step = Event::new(Step::Received, message_id, &message.source)
        .sender(&alert.id, &alert.organization.id)
        .detail(detail);
    step.at = message.received_at;
    step
}

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(end, _)| &text[..end])
}

/// Resolves once `stop` is sent or dropped.
async fn stopped(mut stop: watch::Receiver<()>) {
    let _ = stop.changed().await;
}

/// Creates the schema and its tables, retrying until it works (or ingest stops): ingest
/// serves meanwhile, its steps waiting in the trail's buffer.
async fn migrate_until_done(
    db: Db,
    migrated: Arc<AtomicBool>,
    stop: impl std::future::Future<Output = ()>,
) {
    let meanwhile = "alerts are accepted meanwhile (trail steps buffered)";
    tokio::select! {
        () = db.migrate_until_done(migrated, meanwhile) => {}
        () = stop => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn message(title: &str) -> AlertMessage {
        let alert = shared::alert::Alert::from_json(
            &serde_json::json!({
                "id": "evt-1",
                "event_type": "edr.ransomware",
                "severity": "high",
                "organization": {"id": "org-1", "name": "Contoso"},
                "title": title,
                "description": "a long description that stays out of the trail",
                "occurred_at": "2024-05-01T12:00:00Z",
                "details": {"host": "pc-1"}
            }),
            "",
        )
        .expect("a valid alert");
        let at = chrono::Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 1)
            .single()
            .expect("a time");
        AlertMessage::new("demo", alert, at)
    }

    #[test]
    fn a_received_step_names_the_alert_with_a_small_detail() {
        let message = message("Ransomware on pc-1");
        let step = received("ar1-x", &message);
        assert_eq!(step.step, Step::Received);
        assert_eq!(step.message_id, "ar1-x");
        assert_eq!(step.source, "demo");
        assert_eq!(step.sender_id.as_deref(), Some("evt-1"));
        assert_eq!(step.organization.as_deref(), Some("org-1"));
        assert_eq!(step.at, message.received_at);
        assert_eq!(
            step.detail,
            serde_json::json!({
                "event_type": "edr.ransomware",
                "severity": "high",
                "status": "firing",
                "title": "Ransomware on pc-1",
                "organization_name": "Contoso",
            })
        );
    }

    #[test]
    fn a_long_title_is_clipped_on_a_character_boundary() {
        let title = "é".repeat(TITLE_CHARS + 50);
        let step = received("ar1-x", &message(&title));
        let kept = step.detail["title"].as_str().expect("a title");
        assert_eq!(kept.chars().count(), TITLE_CHARS);
        assert!(step.detail.to_string().len() < 400);
        assert_eq!(clip("short", TITLE_CHARS), "short");
    }
}
