//! `relayctl billing`: billable-user counts against Syncro recurring invoices.
//!
//! - `preview [--org X] [--json]`: per organization, the schedule, the service line, the
//!   quantity now and the count it would get, and what the sync would do. Reads Syncro (through
//!   the fleet's rate limiter), changes nothing.
//! - `sync --now [--org X] [--json]`: runs this month's sync now, whatever the day, under the
//!   workers' lease (so never beside a worker's run); organizations already done this month
//!   are shown as they were and not touched again. Exit 1 when an organization ended in error
//!   or the lease is held.
//! - `status [--json]`: this month's recorded outcomes and whether the month is complete.

use crate::context::Context;
use clap::{Args, Subcommand};
use processor::billing::scheduler::month_of;
use processor::billing::store::BillingStore;
use processor::billing::sync::{OrgOutcome, OrgResult, Runner};
use processor::metrics::Metrics;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What the sync would set for each organization, without changing anything.
    Preview(Filter),
    /// Run this month's sync now (same lease as the workers); prints each outcome.
    Sync {
        /// Required: the sync otherwise runs on its configured day, in the workers.
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        filter: Filter,
    },
    /// This month's outcomes so far.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct Filter {
    /// Only this organization (its id as the sources send it).
    #[arg(long)]
    org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(context: Context, command: Command) -> ExitCode {
    match runner(&context) {
        Ok(runner) => match command {
            Command::Preview(filter) => preview(&runner, &filter).await,
            Command::Sync { now, filter } => sync(&runner, now, &filter).await,
            Command::Status { json } => status(&runner, json).await,
        },
        Err(code) => code,
    }
}

fn runner(context: &Context) -> Result<Runner, ExitCode> {
    let config = &context.config.billing;
    if config.organizations.is_empty() {
        eprintln!(
            "relayctl billing: no organization under [billing.organizations] in {}",
            context.path.display()
        );
        return Err(ExitCode::from(2));
    }
    let built = context
        .store()
        .and_then(|store| Ok((store, context.syncro()?)));
    match built {
        Ok((store, syncro)) => {
            // The run's lease names this process: if it dies holding it, a worker takes the
            // lease over at once instead of waiting for it to expire.
            tokio::spawn(store.clone().keep_presence());
            Ok(Runner {
                config: Arc::new(config.clone()),
                store: BillingStore::new(store),
                syncro,
                metrics: Arc::new(Metrics::new()),
            })
        }
        Err(e) => {
            eprintln!("relayctl billing: {e:#}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn known_org(runner: &Runner, filter: &Filter) -> Result<(), ExitCode> {
    match &filter.org {
        Some(org) if !runner.config.organizations.contains_key(org) => {
            eprintln!("relayctl billing: {org:?} is not under [billing.organizations]");
            Err(ExitCode::from(2))
        }
        _ => Ok(()),
    }
}

async fn preview(runner: &Runner, filter: &Filter) -> ExitCode {
    if let Err(code) = known_org(runner, filter) {
        return code;
    }
    match runner.preview(filter.org.as_deref()).await {
        Ok(plans) => {
            print_outcomes(&plans, filter.json, "would");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relayctl billing preview: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sync(runner: &Runner, now: bool, filter: &Filter) -> ExitCode {
    if !now {
        eprintln!("relayctl billing sync: add --now to run this month's sync now");
        return ExitCode::from(2);
    }
    if !runner.config.sync_enabled {
        eprintln!("relayctl billing sync: billing.sync_billable_users is off");
        return ExitCode::from(2);
    }
    if let Err(code) = known_org(runner, filter) {
        return code;
    }
    let month = month_of(&runner.config, chrono::Utc::now());
    match runner.run_month(&month, filter.org.as_deref()).await {
        Ok(report) => {
            if filter.json {
                print_json(&report);
            } else {
                println!(
                    "billing sync {month}: {} handled now, month {}",
                    report.handled,
                    month_state(report.complete)
                );
                print_outcomes(&report.organizations, false, "outcome");
            }
            if report
                .organizations
                .iter()
                .any(|o| o.outcome == OrgResult::Error)
            {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("relayctl billing sync: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn status(runner: &Runner, json: bool) -> ExitCode {
    let month = month_of(&runner.config, chrono::Utc::now());
    let (outcomes, done) = match (
        runner.store.outcomes(&month).await,
        runner.store.month_done(&month).await,
    ) {
        (Ok(o), Ok(d)) => (o, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("relayctl billing status: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcomes: Vec<OrgOutcome> = outcomes.into_values().collect();
    if json {
        let body = serde_json::json!({"month": month, "complete": done.is_some(), "organizations": outcomes});
        print_json(&body);
    } else {
        println!("billing sync {month}: {}", month_state(done.is_some()));
        print_outcomes(&outcomes, false, "outcome");
    }
    ExitCode::SUCCESS
}

/// One line per organization: organization, schedule, line, old -> new quantity, outcome and
/// what it means.
fn print_outcomes(outcomes: &[OrgOutcome], json: bool, verb: &str) {
    if json {
        print_json(&outcomes);
        return;
    }
    println!(
        "{:<20} {:>10} {:<28} {:>16}  {verb}",
        "organization", "schedule", "line", "quantity"
    );
    for o in outcomes {
        let line = match (o.line_id, &o.line_name) {
            (Some(id), Some(name)) => format!("{id} {name}"),
            (Some(id), None) => id.to_string(),
            (None, Some(name)) => format!("(new) {name}"),
            (None, None) if o.added_line => "(new)".to_string(),
            (None, None) => "-".to_string(),
        };
        let old = o.old_quantity.map_or("-".to_string(), |q| q.to_string());
        let new = o.new_quantity.map_or("-".to_string(), |q| q.to_string());
        println!(
            "{:<20} {:>10} {:<28} {:>16}  {}: {}",
            o.organization_id,
            o.schedule_id,
            line,
            format!("{old} -> {new}"),
            o.outcome.as_str(),
            o.message
        );
    }
}

fn month_state(complete: bool) -> &'static str {
    if complete {
        "complete"
    } else {
        "not complete"
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
