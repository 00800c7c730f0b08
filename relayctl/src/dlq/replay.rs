//! `dlq replay`: matching dead letters back to the work queue, and the `--dry-run` plan.
//!
//! Each message is published to the work queue with a confirm (same message id and body, the
//! attempt count reset, `x-relay-replayed-at` added) and only then is its dead copy
//! acknowledged. A replay killed between the two leaves both copies; the next replay moves
//! the dead one again and the processor, which records every alert's outcome by message id,
//! handles the alert once. A second dead copy of a message id already moved in the same run
//! is acknowledged without publishing: it is the same alert.

use super::browse::Browse;
use super::filter::Filters;
use super::letter::Letter;
use super::report::{letter_row, print_json, print_table, LETTER_COLUMNS};
use crate::context::Context;
use anyhow::Context as _;
use clap::Args;
use processor::plan;
use processor::store::Store;
use serde::Serialize;
use shared::amqp::topology::WORK_KEY;
use shared::amqp::{Broker, Outgoing};
use shared::envelope;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

/// Header added to a replayed message: when it was replayed (RFC 3339).

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// At most this many messages (queue order).
    #[arg(long)]
    pub limit: Option<usize>,
    /// At most this many messages per second (default: as fast as the broker confirms).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Move nothing: print what would move, and how many tickets and notes it would make.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a positive number of messages per second"
        )),
    }
}

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
    fn label(&self) -> String {
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
#[derive(Debug, Default, Serialize)]
pub struct PlanCounts {
    pub create_ticket: usize,
    pub note: usize,
    pub already_handled: usize,
    pub ignored: usize,
    pub undecodable: usize,
}

/// The plan for the letters, in order: the first alert of a group without a ticket creates
/// it, the rest of that group become notes. Reads Redis only (Syncro is not asked whether a
/// group's ticket was closed meanwhile).
pub async fn plan(
    context: &Context,
    store: &Store,
    letters: &[&Letter],
) -> anyhow::Result<Vec<Action>> {
    let mut created_in_batch: HashSet<String> = HashSet::new();
    let mut actions = Vec::with_capacity(letters.len());
    for letter in letters {
        let Some(message) = &letter.message else {
            actions.push(Action::Undecodable);
            continue;
        };
        if store
            .outcome(&letter.message_id)
            .await
            .context("cannot read the outcome record from Redis")?
            .is_some()
        {
            actions.push(Action::AlreadyHandled);
            continue;
        }
        let plan = plan::plan(&context.config, message);
        let Some(key) = plan.group_key() else {
            actions.push(Action::Ignored);
            continue;
        };
        let group = store
            .group(&key)
            .await
            .context("cannot read the grouping state from Redis")?;
        actions.push(match group {
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

fn count(actions: &[Action]) -> PlanCounts {
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

/// What `replay --json` prints.
#[derive(Debug, Serialize)]
struct ReplayReport<'a> {
    dry_run: bool,
    /// Messages matching the filters (and the limit).
    matched: usize,
    /// Messages published to the work queue and removed from the dead-letter queue.
    replayed: usize,
    /// Second dead copies of a message id moved in this run: removed, not published.
    duplicates_removed: usize,
    /// Messages without a message id: left in place.
    skipped: usize,
    /// Messages left in the dead-letter queue.
    left: usize,
    messages: Vec<PlannedLetter<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<PlanCounts>,
}

#[derive(Debug, Serialize)]
struct PlannedLetter<'a> {
    #[serde(flatten)]
    letter: &'a Letter,
    #[serde(skip_serializing_if = "Option::is_none")]
    would: Option<Action>,
}

pub async fn run(
    context: &Context,
    broker: &Broker,
    browse: &mut Browse,
    args: &ReplayArgs,
) -> anyhow::Result<ExitCode> {
    let chosen = super::selected(browse, &args.filters, args.limit);
    if args.dry_run {
        return dry_run(context, browse, &chosen, args.json).await;
    }
    let confirm_timeout = Duration::from_millis(context.settings.amqp.confirm_timeout_ms);
    let interval = args.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next_slot = tokio::time::Instant::now();
    let mut moved: HashSet<String> = HashSet::new();
    let (mut replayed, mut duplicates, mut skipped) = (0, 0, 0);
    let mut failure = None;
    let mut steps = Vec::new();
    let actor = operator_name();
    for &index in &chosen {
        let held = &browse.held[index];
        let message_id = held.letter.message_id.clone();
        if message_id.is_empty() {
            skipped += 1;
            eprintln!("skipped a message without a message id (left in place)");
            continue;
        }
        if moved.contains(&message_id) {
            browse.ack(index).await?;
            duplicates += 1;
            continue;
        }
        if let Some(interval) = interval {
            tokio::time::sleep_until(next_slot).await;
            next_slot = tokio::time::Instant::now().max(next_slot) + interval;
        }
        let copy = work_copy(&held.delivery, &message_id);
        if let Err(e) = broker.publish_confirmed(&[copy], confirm_timeout).await {
            failure = Some(anyhow::anyhow!(
                "the broker did not take {message_id} back into the work queue: {e}; it stays in the dead-letter queue"
            ));
            break;
        }
        let step = replayed_step(&held.letter, &actor);
        browse.ack(index).await?;
        steps.push(step);
        moved.insert(message_id.clone());
        replayed += 1;
        if !args.json {
            println!("replayed {message_id}");
        }
    }
    let left = browse.held.len() - replayed - duplicates;
    record(context, &actor, &steps, duplicates).await;
    if args.json {
        print_json(&ReplayReport {
            dry_run: false,
            matched: chosen.len(),
            replayed,
            duplicates_removed: duplicates,
            skipped,
            left,
            messages: Vec::new(),
            plan: None,
        });
    } else {
        println!(
            "replayed {replayed} of {} matching messages ({duplicates} duplicate copies removed, {skipped} skipped); {left} left in the dead-letter queue",
            chosen.len()
        );
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn dry_run(
    context: &Context,
    browse: &Browse,
    chosen: &[usize],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let letters: Vec<&Letter> = chosen.iter().map(|&i| &browse.held[i].letter).collect();
    let store = context.store()?;
    let actions = plan(context, &store, &letters).await?;
    let counts = count(&actions);
    if json {
        print_json(&ReplayReport {
            dry_run: true,
            matched: letters.len(),
            replayed: 0,
            duplicates_removed: 0,
            skipped: 0,
            left: browse.held.len(),
            messages: letters
                .iter()
                .zip(&actions)
                .map(|(letter, action)| PlannedLetter {
                    letter,
                    would: Some(action.clone()),
                })
                .collect(),
            plan: Some(counts),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = LETTER_COLUMNS.to_vec();
    header.push("WOULD");
    let rows: Vec<Vec<String>> = letters
        .iter()
        .zip(&actions)
        .map(|(letter, action)| {
            let mut row = letter_row(letter);
            row.push(action.label());
            row
        })
        .collect();
    print_table(&header, &rows);
    println!();
    println!(
        "dry run: {} messages would move; {} would create a ticket, {} would become notes, {} already handled, {} ignored, {} undecodable",
        letters.len(),
        counts.create_ticket,
        counts.note,
        counts.already_handled,
        counts.ignored,
        counts.undecodable
    );
    Ok(ExitCode::SUCCESS)
}

/// The work-queue copy of a dead letter; see [`envelope::replayed`].
fn work_copy(delivery: &lapin::message::Delivery, message_id: &str) -> Outgoing {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    envelope::replayed(&delivery.data, message_id, &headers, WORK_KEY)
}

/// Who replays, as the trail and the audit log name them.
fn operator_name() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("relayctl:{user}")
}

/// The `replayed` step of one letter.
fn replayed_step(letter: &Letter, actor: &str) -> opstate::trail::Event {
    let mut step = opstate::trail::Event::new(
        opstate::trail::Step::Replayed,
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

/// The replay in each alert's trail and in the audit log; a replay PostgreSQL cannot record
/// is still done (the alerts are back in the work queue), and said so.
async fn record(
    context: &Context,
    actor: &str,
    steps: &[opstate::trail::Event],
    duplicates: usize,
) {
    if steps.is_empty() {
        return;
    }
    let settings = &context.settings;
    let written = async {
        let db = opstate::Db::lazy(&settings.postgres, &settings.prefix)?;
        db.migrate().await?;
        opstate::trail::append(&db, steps).await?;
        let detail =
            serde_json::json!({ "replayed": steps.len(), "duplicates_removed": duplicates });
        let actor = opstate::store::Actor(actor.to_string());
        opstate::store::audit::record(&db, &actor, "dlq.replay", None, &detail).await
    };
    if let Err(e) = written.await {
        eprintln!(
            "warning: the replay is done, but its trail and audit entries were not written: {e}"
        );
    }
}
