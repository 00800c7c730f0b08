//! Replaying dead letters: the dry run's ticket plan, the move back to the work queue, and
//! its record in each alert's trail and in the audit log.
//!
//! Each message is published to the work queue with a confirm (same message id and body, the
//! attempt count reset, `x-relay-replayed-at` added) and only then is its dead copy
//! acknowledged. A replay stopped between the two leaves both copies; the next replay moves
//! the dead one again and the processor, which records every alert's outcome by message id,
//! handles the alert once. A second dead copy of a message id already moved in the same run
//! is acknowledged without publishing: it is the same alert.

use super::browse::Browse;
use super::letter::Letter;
use super::Result;
use crate::config::ProcessorConfig;
use crate::plan;
use crate::store::Store;
use opstate::trail::{Event, Step};
use serde::Serialize;
use shared::amqp::topology::WORK_KEY;
use shared::amqp::{Broker, Outgoing};
use shared::envelope;
use std::collections::HashSet;
use std::time::Duration;

/// What the processor would do with a replayed alert, given the grouping state in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The first of its group with no ticket: creates one.
    CreateTicket,
    /// Its group has a ticket (in Redis, or created by an earlier alert of this batch).
    Note { ticket_id: Option<i64> },
    /// An outcome is recorded for its message id: skipped as a duplicate.
    AlreadyHandled,
    /// Its organization is ignored.
    Ignored,
    /// Not an alert message v1: it would be dead-lettered again.
    Undecodable,
}

impl Action {
    /// How it reads in a table.
    pub fn label(&self) -> String {
        match self {
            Action::CreateTicket => "create ticket".into(),
            Action::Note {
                ticket_id: Some(id),
            } => format!("note on #{id}"),
            Action::Note { ticket_id: None } => "note (new ticket of this batch)".into(),
            Action::AlreadyHandled => "already handled".into(),
            Action::Ignored => "ignored".into(),
            Action::Undecodable => "undecodable".into(),
        }
    }
}

/// The counts of a dry run's plan.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PlanCounts {
    pub create_ticket: usize,
    pub note: usize,
    pub already_handled: usize,
    pub ignored: usize,
    pub undecodable: usize,
}

impl PlanCounts {
    pub fn of(actions: &[Action]) -> PlanCounts {
        let mut counts = PlanCounts::default();
        for action in actions {
            match action {
                Action::CreateTicket => counts.create_ticket += 1,
                Action::Note { .. } => counts.note += 1,
                Action::AlreadyHandled => counts.already_handled += 1,
                Action::Ignored => counts.ignored += 1,
                Action::Undecodable => counts.undecodable += 1,
            }
        }
        counts
    }
}

/// The plan for the letters, in order: the first alert of a group without a ticket creates
/// it, the rest of that group become notes. Reads Redis only (Syncro is not asked whether a
/// group's ticket was closed meanwhile).
pub async fn plan(
    config: &ProcessorConfig,
    store: &Store,
    letters: &[&Letter],
) -> Result<Vec<Action>> {
    let mut created_in_batch: HashSet<String> = HashSet::new();
    let mut actions = Vec::with_capacity(letters.len());
    for letter in letters {
        let Some(message) = &letter.message else {
            actions.push(Action::Undecodable);
            continue;
        };
        if store.outcome(&letter.message_id).await?.is_some() {
            actions.push(Action::AlreadyHandled);
            continue;
        }
        let plan = plan::plan(config, message);
        let Some(key) = plan.group_key() else {
            actions.push(Action::Ignored);
            continue;
        };
        actions.push(match store.group(&key).await? {
            Some(group) => Action::Note {
                ticket_id: Some(group.ticket_id),
            },
            None if created_in_batch.contains(&key) => Action::Note { ticket_id: None },
            None => {
                created_in_batch.insert(key);
                Action::CreateTicket
            }
        });
    }
    Ok(actions)
}

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Longest wait for each publish's confirm.
    pub confirm_timeout: Duration,
    /// At most this many messages per second (none: as fast as the broker confirms).
    pub rate: Option<f64>,
    /// Who replays, as the trail's `replayed` steps name them.
    pub actor: String,
}

/// What happened to one letter of a replay, as it happens (for a caller printing progress).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Published to the work queue and removed from the dead-letter queue.
    Replayed(&'a str),
    /// No message id: left in place.
    SkippedWithoutId,
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Messages published to the work queue and removed from the dead-letter queue.
    pub replayed: usize,
    /// Second dead copies of a message id moved in this run: removed, not published.
    pub duplicates_removed: usize,
    /// Messages without a message id: left in place.
    pub skipped: usize,
    /// The message ids moved, in order.
    pub moved: Vec<String>,
    /// The `replayed` step of each moved letter, for [`super::record`].
    pub steps: Vec<Event>,
    /// Why the replay stopped before the end (what was not moved stays in the dead-letter
    /// queue); none when it went through.
    pub stopped: Option<String>,
}

/// Moves the held letters at `chosen` (indexes into `browse.held`, in queue order) to the
/// work queue. A publish not confirmed, or a dead copy that cannot be removed, stops the
/// replay; what was done until then is in the answer either way.
pub async fn replay(
    broker: &Broker,
    browse: &mut Browse,
    chosen: &[usize],
    options: &ReplayOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Replayed {
    let interval = options.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next_slot = tokio::time::Instant::now();
    let mut moved: HashSet<String> = HashSet::new();
    let mut done = Replayed::default();
    for &index in chosen {
        let Some(held) = browse.held.get(index) else {
            continue;
        };
        let message_id = held.letter.message_id.clone();
        if message_id.is_empty() {
            done.skipped += 1;
            progress(Progress::SkippedWithoutId);
            continue;
        }
        if moved.contains(&message_id) {
            if let Err(e) = browse.ack(index).await {
                done.stopped = Some(e.to_string());
                break;
            }
            done.duplicates_removed += 1;
            continue;
        }
        if let Some(interval) = interval {
            tokio::time::sleep_until(next_slot).await;
            next_slot = tokio::time::Instant::now().max(next_slot) + interval;
        }
        let copy = work_copy(&held.delivery, &message_id);
        if let Err(e) = broker
            .publish_confirmed(&[copy], options.confirm_timeout)
            .await
        {
            done.stopped = Some(format!(
                "the broker did not take {message_id} back into the work queue: {e}; it stays in the dead-letter queue"
            ));
            break;
        }
        let step = replayed_step(&held.letter, &options.actor);
        if let Err(e) = browse.ack(index).await {
            // Published but still dead-lettered: a replay run again moves it, and the
            // processor handles the alert once.
            done.stopped = Some(format!(
                "{message_id} is back in the work queue but its dead copy could not be removed ({e}); replay again"
            ));
            done.steps.push(step);
            done.replayed += 1;
            done.moved.push(message_id);
            break;
        }
        done.steps.push(step);
        moved.insert(message_id.clone());
        done.replayed += 1;
        progress(Progress::Replayed(&message_id));
        done.moved.push(message_id);
    }
    done
}

/// The work-queue copy of a dead letter; see [`envelope::replayed`].
fn work_copy(delivery: &lapin::message::Delivery, message_id: &str) -> Outgoing {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    envelope::replayed(&delivery.data, message_id, &headers, WORK_KEY)
}

/// The `replayed` step of one letter.
fn replayed_step(letter: &Letter, actor: &str) -> Event {
    let mut step = Event::new(
        Step::Replayed,
        &letter.message_id,
        letter.source.as_deref().unwrap_or_default(),
    )
    .detail(serde_json::json!({
        "by": actor,
        "error_kind": letter.error_kind,
        "attempts": letter.attempts,
    }));
    step.sender_id = letter.alert_id.clone();
    step.organization = (!letter.organization.is_empty()).then(|| letter.organization.clone());
    step
}
