//! `relayctl dlq`: the dead-letter queue `{prefix}.alerts.dead`.
//!
//! - `stats`: counts by error kind, organization, event type and age.
//! - `list`: one line per message.
//! - `replay`: moves matching messages back to the work queue (publish with confirm, then
//!   acknowledge the dead copy); `--dry-run` shows what would move and a ticket plan.
//! - `purge`: removes matching messages (`--yes` required).
//!
//! Modules: [`letter`] reads one message, [`filter`] the shared filters, [`browse`] reads the
//! queue without changing it, [`replay`] moves and plans, [`report`] prints tables and JSON.

pub mod browse;
pub mod filter;
pub mod letter;
pub mod replay;
pub mod report;

use crate::context::Context;
use browse::Browse;
use clap::Subcommand;
use filter::Filters;
use shared::amqp::Broker;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Counts by error kind, organization, event type and age.
    Stats {
        #[command(flatten)]
        filters: Filters,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One line per message: id, organization, event type, error, attempts, failed at.
    List {
        #[command(flatten)]
        filters: Filters,
        /// At most this many messages (queue order).
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Moves matching messages back to the work queue; the others stay in place.
    Replay(replay::ReplayArgs),
    /// Removes matching messages for good.
    Purge {
        #[command(flatten)]
        filters: Filters,
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
        Command::Replay(args) => replay::run(context, broker, &mut browse, &args).await,
        Command::Purge {
            filters,
            limit,
            yes,
        } => purge(&mut browse, &filters, limit, yes).await,
    };
    browse.close().await;
    outcome
}

/// Indexes of the held messages that match, in queue order, at most `limit`.
pub fn selected(browse: &Browse, filters: &Filters, limit: Option<usize>) -> Vec<usize> {
    browse
        .held
        .iter()
        .enumerate()
        .filter(|(_, h)| filters.matches(&h.letter))
        .map(|(i, _)| i)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

async fn purge(
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
    for &index in &chosen {
        browse.ack(index).await?;
    }
    println!(
        "purged {} messages; {} left in the dead-letter queue",
        chosen.len(),
        browse.held.len() - chosen.len()
    );
    Ok(ExitCode::SUCCESS)
}
