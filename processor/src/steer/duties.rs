//! What one worker of the fleet does at a time, under the `duties` lease, every few
//! seconds:
//! - **releases**: each group a silence's window held that was still firing (no resolve
//!   seen) when the window ended gets its ticket: its newest suppressed alert is queued
//!   again, under a new alert id derived from the original, the silence and the window (so
//!   a crash between the publish and the record queues the same message, which the workers
//!   take once), with what was suppressed and for how long in its details;
//! - **feeds**: a source with `expected_interval_secs` that sent neither an alert nor a
//!   heartbeat for longer gets an alert of its own queued (source `alert-relay`, organization
//!   [`FEED_ORGANIZATION`], event type `relay.feed_silent`): a ticket naming the feed and since
//!   when, on the customer that organization maps to (unmapped: the catch-all). When the
//!   source is heard from again, the same alert resolved is queued: a note on that ticket (or
//!   its resolution, with `grouping.resolved_alert = "note-and-resolve"`). Both alerts' ids
//!   are derived from the source and the outage's start, so a crash queues the same message
//!   again, which the workers take once;
//! - **pruning**: the trail's steps older than `postgres.trail_retention_days`, once an hour.

use super::{step, Steering};
use crate::store::Store;
use chrono::{DateTime, Utc};
use opstate::store::silences::{self, Release};
use opstate::store::sources::{self, SourceActivity};
use opstate::trail::{self, Step};
use opstate::Db;
use sha2::{Digest, Sha256};
use shared::alert::{Alert, AlertStatus};
use shared::amqp::topology::WORK_KEY;
use shared::amqp::Broker;
use shared::message::AlertMessage;
use std::time::{Duration, Instant};

/// How often a worker tries to take the duties.
pub const EVERY: Duration = Duration::from_secs(2);
/// The lease's length: a worker that dies mid-pass leaves the duties this long at most.
const LEASE: Duration = Duration::from_secs(30);
/// Releases queued per pass.
const RELEASES_PER_PASS: i64 = 200;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// The organization id of the relay's own alerts about silent feeds.
pub const FEED_ORGANIZATION: &str = "alert-relay";
/// The source name of the relay's own alerts.
pub const RELAY_SOURCE: &str = "alert-relay";

/// What the duties need from the configuration.
pub struct DutySettings {
    pub retention_days: u32,
    /// Each configured source and its expected interval (`None`: not watched).
    pub feeds: Vec<(String, Option<u64>)>,
}

/// Runs the duties until aborted.
pub async fn run(steering: Steering, store: Store, broker: Broker, settings: DutySettings) {
    let Some(db) = steering.db.clone() else {
        return;
    };
    let mut pruned_at: Option<Instant> = None;
    let mut feeds_known = false;
    loop {
        tokio::time::sleep(EVERY).await;
        let lease = match store.take_lease(store.key(&["duties"]), LEASE).await {
            Ok(Some(lease)) => lease,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "cannot take the duties' lease (Redis)");
                continue;
            }
        };
        store
            .hold(&lease, LEASE, None, async {
                if let Err(e) = release_ended(&db, &broker, &steering).await {
                    tracing::warn!(error = %e, "cannot release the groups of ended silences; next pass");
                }
                if !feeds_known {
                    feeds_known = sources::set_expected(&db, &settings.feeds).await.is_ok();
                }
                if let Err(e) = watch_feeds(&db, &broker, &steering).await {
                    tracing::warn!(error = %e, "cannot check the sources' heartbeats; next pass");
                }
                if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    let days = i64::from(settings.retention_days);
                    let before = Utc::now() - chrono::Duration::days(days);
                    match trail::prune(&db, before).await {
                        Ok(n) => {
                            pruned_at = Some(Instant::now());
                            if n > 0 {
                                tracing::info!(deleted = n, "trail pruned");
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "cannot prune the trail"),
                    }
                }
            })
            .await;
        let _ = store.unlock(lease).await;
    }
}

/// Queues the ticket of each still-firing group whose silence window is over.
async fn release_ended(db: &Db, broker: &Broker, steering: &Steering) -> anyhow::Result<()> {
    let due = silences::due_releases(db, Utc::now(), RELEASES_PER_PASS).await?;
    for release in due {
        if release.firing {
            match released_message(&release) {
                Some(message) => {
                    let outgoing = shared::envelope::encode(&message, WORK_KEY)?;
                    broker
                        .publish_confirmed(&[outgoing], CONFIRM_TIMEOUT)
                        .await?;
                    let id = message.message_id();
                    steering.record(step(Step::Released, &message, &id).detail(
                        serde_json::json!({
                            "silence_id": release.silence_id,
                            "suppressed": release.suppressed,
                            "first_at": release.first_at,
                            "last_at": release.last_at,
                        }),
                    ));
                    tracing::info!(silence_id = %release.silence_id, suppressed = release.suppressed, group = %release.group_key, "silence over: the group still firing gets its ticket");
                }
                None => {
                    tracing::warn!(silence_id = %release.silence_id, group = %release.group_key, "a silenced group's alert is unreadable; not released");
                }
            }
        }
        silences::mark_released(db, &release).await?;
    }
    Ok(())
}

/// Queues the alert of each feed gone quiet, and the resolved one of each feed back.
async fn watch_feeds(db: &Db, broker: &Broker, steering: &Steering) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut quiet = sources::begin_outages(db, now).await?;
    // Outages whose alert a crash may have left unqueued (queuing again is harmless).
    for left in sources::opening(db).await? {
        if !quiet.iter().any(|q| q.source == left.source) {
            quiet.push(left);
        }
    }
    for feed in quiet {
        let message = feed_alert(&feed, AlertStatus::Firing, now)?;
        publish(broker, steering, &message, Step::Received).await?;
        sources::outage_open(db, &feed.source).await?;
        tracing::warn!(source = %feed.source, since = ?feed.outage_since, "a source went quiet past its expected interval: its alert is queued");
    }
    for feed in sources::returned(db).await? {
        let message = feed_alert(&feed, AlertStatus::Resolved, now)?;
        publish(broker, steering, &message, Step::Received).await?;
        sources::outage_over(db, &feed.source).await?;
        tracing::info!(source = %feed.source, "a quiet source is heard from again: its alert is resolved");
    }
    Ok(())
}

async fn publish(
    broker: &Broker,
    steering: &Steering,
    message: &AlertMessage,
    step_of: Step,
) -> anyhow::Result<()> {
    let outgoing = shared::envelope::encode(message, WORK_KEY)?;
    broker
        .publish_confirmed(&[outgoing], CONFIRM_TIMEOUT)
        .await?;
    let id = message.message_id();
    steering.record(step(step_of, message, &id));
    Ok(())
}

/// The relay's alert about a quiet feed (`status` resolved: it is back).
fn feed_alert(
    feed: &SourceActivity,
    status: AlertStatus,
    now: DateTime<Utc>,
) -> anyhow::Result<AlertMessage> {
    let since = feed.outage_since.unwrap_or(now);
    let interval = feed.expected_interval_secs.unwrap_or_default();
    let back = status == AlertStatus::Resolved;
    let description = if back {
        format!(
            "Source \"{}\" is sending again (quiet since {}; expected at least every {} s).",
            feed.source,
            stamp(since),
            interval
        )
    } else {
        format!(
            "No alert and no heartbeat from source \"{}\" since {} (expected at least every {} s). Its alerts may not be reaching alert-relay: check the sender.",
            feed.source,
            stamp(since),
            interval
        )
    };
    let value = serde_json::json!({
        "id": format!("feed-{}-{}{}", feed.source, since.timestamp(), if back { "-back" } else { "" }),
        "event_type": "relay.feed_silent",
        "severity": "high",
        "organization": {"id": FEED_ORGANIZATION, "name": "alert-relay"},
        "title": format!("Alert feed \"{}\" is silent", feed.source),
        "description": description,
        "occurred_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "status": status.as_str(),
        "details": {
            "source": feed.source,
            "quiet_since": stamp(since),
            "expected_interval_secs": interval,
        },
    });
    let alert = Alert::from_json(&value, "").map_err(|problems| {
        anyhow::anyhow!(
            "the feed alert of {} is not valid: {}",
            feed.source,
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(AlertMessage::new(RELAY_SOURCE, alert, now))
}

/// The group's newest suppressed alert, under its release id, saying what was suppressed.
fn released_message(release: &Release) -> Option<AlertMessage> {
    let mut message: AlertMessage = serde_json::from_value(release.message.clone()).ok()?;
    message.alert.id = release_id(&message.alert.id, release);
    message.received_at = Utc::now();
    message.alert.details.insert(
        "suppressed_by_silence".into(),
        serde_json::Value::String(summary(release)),
    );
    Some(message)
}

/// `{original id, cut to fit}~released~{8 hex}`: unique per silence window and group.
fn release_id(original: &str, release: &Release) -> String {
    let digest = Sha256::digest(
        format!(
            "{}|{}|{}",
            release.silence_id,
            release.window_start.timestamp_micros(),
            release.group_key
        )
        .as_bytes(),
    );
    let mut cut = original;
    while cut.len() > shared::alert::MAX_ID_LEN - 20 {
        let mut end = cut.len() - 1;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = &cut[..end];
    }
    format!("{cut}~released~{}", hex::encode(&digest[..4]))
}

fn summary(release: &Release) -> String {
    format!(
        "{} alert(s) of this group were suppressed by a silence (\"{}\", id {}) from {} to {}; it ended at {} and the group was still firing",
        release.suppressed,
        release.reason,
        release.silence_id,
        stamp(release.first_at),
        stamp(release.last_at),
        stamp(release.ended_at),
    )
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
