//! `dlq replay`: matching dead letters back to the work queue, and the `--dry-run` plan,
//! printed. The mechanism (publish with confirm, then acknowledge; the plan from the grouping
//! state; the trail's `replayed` steps) is [`processor::deadletters::replay`].

use super::filter::FilterArgs;
use super::report::{letter_row, print_json, print_table, LETTER_COLUMNS};
use crate::context::Context;
use clap::Args;
use processor::deadletters::{
    self, replay, Action, Browse, Letter, PlanCounts, Progress, ReplayOptions,
};
use serde::Serialize;
use shared::amqp::Broker;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
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
    let filters = args.filters.filters();
    let chosen = deadletters::selected(browse, &filters, args.limit);
    if args.dry_run {
        return dry_run(context, browse, &chosen, args.json).await;
    }
    let actor = operator_name();
    let options = ReplayOptions {
        confirm_timeout: Duration::from_millis(context.settings.amqp.confirm_timeout_ms),
        rate: args.rate,
        actor: actor.clone(),
    };
    let json = args.json;
    let done = replay::replay(
        broker,
        browse,
        &chosen,
        &options,
        |progress| match progress {
            Progress::Replayed(id) if !json => println!("replayed {id}"),
            Progress::Replayed(_) => {}
            Progress::SkippedWithoutId => {
                eprintln!("skipped a message without a message id (left in place)")
            }
        },
    )
    .await;
    let left = browse.held.len() - done.replayed - done.duplicates_removed;
    let detail = serde_json::json!({
        "filters": filters,
        "replayed": done.steps.len(),
        "duplicates_removed": done.duplicates_removed,
    });
    record(
        context,
        "dlq.replay",
        &done.steps,
        done.steps.len(),
        &detail,
    )
    .await;
    if json {
        print_json(&ReplayReport {
            dry_run: false,
            matched: chosen.len(),
            replayed: done.replayed,
            duplicates_removed: done.duplicates_removed,
            skipped: done.skipped,
            left,
            messages: Vec::new(),
            plan: None,
        });
    } else {
        println!(
            "replayed {} of {} matching messages ({} duplicate copies removed, {} skipped); {left} left in the dead-letter queue",
            done.replayed,
            chosen.len(),
            done.duplicates_removed,
            done.skipped
        );
    }
    match done.stopped {
        Some(why) => Err(anyhow::anyhow!(why)),
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
    // Planned as the workers would decide now: the file's mapping and the console's.
    let mut config = context.config.clone();
    config.mapping = context.effective_mapping().await;
    let actions = replay::plan(&config, &store, &letters).await?;
    let counts = PlanCounts::of(&actions);
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

/// Who replays or purges, as the trail and the audit log name them.
fn operator_name() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("relayctl:{user}")
}

/// The change in each alert's trail and in the audit log ([`deadletters::record`]); a change
/// PostgreSQL cannot record is still done (it is in RabbitMQ), and said so. Nothing is
/// recorded when `changed` is 0.
pub async fn record(
    context: &Context,
    action: &str,
    steps: &[opstate::trail::Event],
    changed: usize,
    detail: &serde_json::Value,
) {
    if changed == 0 {
        return;
    }
    let settings = &context.settings;
    let actor = operator_name();
    let written = async {
        let db = opstate::Db::lazy(&settings.postgres, &settings.prefix)?;
        db.migrate().await?;
        deadletters::record(&db, &actor, action, steps, detail).await
    };
    if let Err(e) = written.await {
        eprintln!(
            "warning: the {action} is done, but its trail and audit entries were not written: {e}"
        );
    }
}
