//! `relayctl dlq`: the dead-letter queue `{prefix}.alerts.dead`.
//!
//! - `stats`: counts by error kind, organization, event type and age.
//! - `list`: one line per message.
//! - `show`: one message in full (headers of interest, body).
//! - `replay`: moves matching messages back to the work queue (publish with confirm, then
//!   acknowledge the dead copy); `--dry-run` shows what would move and a ticket plan.
//! - `purge`: removes matching messages (`--yes` required).
//!
//! The mechanism (reading, filters, counts, the dry-run plan, replay, purge) is the
//! processor's [`processor::deadletters`], which the operator API uses too; here are the
//! command line and the printing: [`filter`] the shared flags, [`replay`] the replay verb,
//! [`report`] tables and JSON.

pub mod filter;
pub mod replay;
pub mod report;

use crate::context::Context;
use clap::Subcommand;
use filter::FilterArgs;
use processor::deadletters::{self, selected, Browse, Filters, FullLetter};
use shared::amqp::Broker;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Counts by error kind, organization, event type and age.
    Stats {
        #[command(flatten)]
        filters: FilterArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One line per message: id, organization, event type, error, attempts, failed at.
    List {
        #[command(flatten)]
        filters: FilterArgs,
        /// At most this many messages (queue order).
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One message in full: why, attempts, when, the headers of interest and the body.
    Show {
        /// Its message id (`ar1-…`).
        message_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Moves matching messages back to the work queue; the others stay in place.
    Replay(replay::ReplayArgs),
    /// Removes matching messages for good.
    Purge {
        #[command(flatten)]
        filters: FilterArgs,
        /// At most this many messages (queue order).
        #[arg(long)]
        limit: Option<usize>,
        /// Really remove them (without it, only say how many would go).
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(context: Context, command: Command) -> ExitCode {
    let broker = match context.broker().await {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!("relayctl dlq: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = execute(&context, &broker, command).await;
    broker.close().await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relayctl dlq: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(context: &Context, broker: &Broker, command: Command) -> anyhow::Result<ExitCode> {
    let queue = broker.topology().dead_queue();
    let mut browse = Browse::open(broker, &queue).await?;
    let outcome = match command {
        Command::Stats { filters, json } => {
            let filters = filters.filters();
            let letters = browse
                .held
                .iter()
                .map(|h| &h.letter)
                .filter(|l| filters.matches(l));
            report::stats(letters, chrono::Utc::now(), json);
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            filters,
            limit,
            json,
        } => {
            let filters = filters.filters();
            let letters: Vec<_> = browse
                .held
                .iter()
                .map(|h| &h.letter)
                .filter(|l| filters.matches(l))
                .take(limit.unwrap_or(usize::MAX))
                .collect();
            report::list(&letters, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { message_id, json } => {
            let mut copies = browse
                .held
                .iter()
                .filter(|h| h.letter.message_id == message_id);
            match copies.next() {
                Some(held) => {
                    let full = FullLetter::read(&held.delivery.properties, &held.delivery.data);
                    report::show(&full, 1 + copies.count(), json);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("relayctl dlq show: no dead letter has the message id {message_id}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Replay(args) => replay::run(context, broker, &mut browse, &args).await,
        Command::Purge {
            filters,
            limit,
            yes,
        } => purge(context, &mut browse, &filters.filters(), limit, yes).await,
    };
    browse.close().await;
    outcome
}

async fn purge(
    context: &Context,
    browse: &mut Browse,
    filters: &Filters,
    limit: Option<usize>,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let chosen = selected(browse, filters, limit);
    if !yes {
        eprintln!(
            "relayctl dlq purge: refusing without --yes; {} of {} messages would be removed",
            chosen.len(),
            browse.held.len()
        );
        return Ok(ExitCode::from(2));
    }
    let (removed, failure) = deadletters::purge(browse, &chosen).await;
    let detail = serde_json::json!({ "filters": filters, "removed": removed });
    replay::record(context, "dlq.purge", &[], removed, &detail).await;
    if let Some(e) = failure {
        return Err(e.into());
    }
    println!(
        "purged {removed} messages; {} left in the dead-letter queue",
        browse.held.len() - removed
    );
    Ok(ExitCode::SUCCESS)
}
