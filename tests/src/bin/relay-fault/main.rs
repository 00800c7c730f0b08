//! `relay-fault`: the fault-injection suite (issue 7). Real processes only: it starts its own
//! Redis, its own RabbitMQ node and its own PostgreSQL cluster on free ports (never the
//! machine's), and per scenario the Syncro simulator, ingest and processor workers from the
//! binaries beside it, then breaks things and counts what a user would count: tickets, notes,
//! alerts present in Syncro, duplicates, lost and dead-lettered alerts (and for scenario 8,
//! each alert's trail in PostgreSQL). One Markdown table row per scenario; the exit status is
//! 1 when any row shows a loss, a duplicate or another broken promise.
//!
//! ```text
//! cargo build --workspace --bins && target/debug/relay-fault [--quick] [--only 1,4]
//! ```
//! `tests/fault/run.sh` builds and runs it; docs/reliability.md has the results.

mod observe;
mod scenarios;
mod services;
mod stack;

use clap::Parser;
use services::{Postgres, RabbitNode, Redis};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Fault-injection suite: real processes, a private broker, Redis and PostgreSQL")]
struct Cli {
    /// A few hundred alerts per scenario (CI), instead of the issue's sizes.
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, e.g. "1,4" (default: all eight).
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// Directory of the ingest, processor, syncro-sim and relayctl binaries (default: this
    /// binary's own directory).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Work directory for configurations, data and logs (default: a fresh temporary one,
    /// kept when a scenario fails).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// Sizes of a run.
pub struct Sizes {
    pub kill_alerts: usize,
    pub kill_subjects: usize,
    pub broker_alerts: usize,
    pub broker_subjects: usize,
    pub redis_alerts: usize,
    pub redis_subjects: usize,
    pub syncro_alerts: usize,
    pub syncro_subjects: usize,
    /// Scenario 7, at Syncro's real limit: every call counts, so fewer alerts than scenario 1,
    /// but subjects enough (each a ticket) that the storm needs more than a minute's budget.
    pub budget_alerts: usize,
    pub budget_subjects: usize,
    /// Scenario 8: the storm PostgreSQL is stopped in (and sent once more without the fault,
    /// for the time it takes to settle), and how long it stays down.
    pub postgres_alerts: usize,
    pub postgres_subjects: usize,
    pub postgres_down: Duration,
    /// Time the alerts of a scenario are spread over.
    pub send_over: Duration,
    /// Longest wait for a scenario to settle.
    pub settle: Duration,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            kill_alerts: 5000,
            kill_subjects: 50,
            broker_alerts: 3000,
            broker_subjects: 50,
            redis_alerts: 3000,
            redis_subjects: 50,
            syncro_alerts: 2000,
            syncro_subjects: 50,
            budget_alerts: 3000,
            budget_subjects: 150,
            postgres_alerts: 3000,
            postgres_subjects: 50,
            postgres_down: Duration::from_secs(15),
            send_over: Duration::from_secs(30),
            settle: Duration::from_secs(300),
        }
    }

    fn quick() -> Sizes {
        Sizes {
            kill_alerts: 400,
            kill_subjects: 20,
            broker_alerts: 400,
            broker_subjects: 20,
            redis_alerts: 300,
            redis_subjects: 10,
            syncro_alerts: 300,
            syncro_subjects: 10,
            budget_alerts: 800,
            budget_subjects: 80,
            postgres_alerts: 300,
            postgres_subjects: 10,
            postgres_down: Duration::from_secs(8),
            send_over: Duration::from_secs(10),
            settle: Duration::from_secs(120),
        }
    }
}

/// One line of the table.
pub struct Row {
    pub scenario: String,
    pub sent: usize,
    /// Distinct alerts in 2xx answers.
    pub accepted: usize,
    pub tickets: usize,
    pub notes: usize,
    pub present: usize,
    pub duplicates: usize,
    pub lost: usize,
    pub dead: usize,
    pub secs: f64,
    pub remarks: Vec<String>,
    /// Broken promises besides loss and duplicates; any makes the run fail.
    pub failures: Vec<String>,
}

impl Row {
    fn failed(&self) -> bool {
        self.lost > 0 || self.duplicates > 0 || !self.failures.is_empty()
    }

    fn markdown(&self) -> String {
        let mut remarks = self.remarks.clone();
        remarks.extend(self.failures.iter().map(|f| format!("**FAILED: {f}**")));
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
            self.scenario,
            self.sent,
            self.accepted,
            self.tickets,
            self.notes,
            self.present,
            self.duplicates,
            self.lost,
            self.dead,
            self.secs,
            remarks.join("; ")
        )
    }
}

const HEADER: &str = "| scenario | alerts sent | 2xx'd alerts | tickets | notes | alerts in Syncro | duplicates | lost | dead-lettered | time s | remarks |\n|---|---|---|---|---|---|---|---|---|---|---|";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("relay-fault: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let bin = match cli.bin {
        Some(bin) => bin,
        None => std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| anyhow::anyhow!("no directory for the binaries"))?,
    };
    for name in ["ingest", "processor", "syncro-sim"] {
        anyhow::ensure!(
            bin.join(name).exists(),
            "{} is missing: run cargo build --workspace --bins",
            bin.join(name).display()
        );
    }
    let (work, temporary) = match cli.work {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("relay-fault-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&work)?;
    let sizes = if cli.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    let wanted = |n: u8| cli.only.is_empty() || cli.only.contains(&n);

    eprintln!("relay-fault: work directory {}", work.display());
    let mut redis = Redis::start(&work).await?;
    let mut rabbit = match RabbitNode::start(&work).await {
        Ok(node) => node,
        Err(e) => {
            redis.stop().await;
            return Err(e);
        }
    };
    let mut postgres = match Postgres::start(&work).await {
        Ok(postgres) => postgres,
        Err(e) => {
            rabbit.stop().await;
            redis.stop().await;
            return Err(e);
        }
    };
    eprintln!(
        "private Redis on {}, RabbitMQ node {} on {}, PostgreSQL on {}",
        redis.port, rabbit.node, rabbit.port, postgres.port
    );
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    {
        let mut ctx = scenarios::Run {
            work: &work,
            bin: &bin,
            rabbit: &mut rabbit,
            redis: &mut redis,
            postgres: &mut postgres,
            sizes: &sizes,
        };
        for n in 1..=8u8 {
            if !wanted(n) {
                continue;
            }
            eprintln!("scenario {n} ...");
            let result = match n {
                1 => scenarios::processor_killed(&mut ctx).await,
                2 => scenarios::broker_restarted(&mut ctx).await,
                3 => scenarios::redis_restarted(&mut ctx).await,
                4 => scenarios::syncro_misbehaving(&mut ctx).await,
                5 => scenarios::redis_emptied(&mut ctx).await,
                6 => scenarios::sentinel_failover(&mut ctx).await,
                7 => scenarios::processor_killed_at_budget(&mut ctx).await,
                _ => scenarios::postgres_stopped(&mut ctx).await,
            };
            match result {
                Ok(row) => {
                    eprintln!("{}", row.markdown());
                    rows.push(row);
                }
                Err(e) => {
                    eprintln!("scenario {n} could not run: {e:#}");
                    errors.push(format!("scenario {n}: {e:#}"));
                }
            }
        }
    }
    postgres.stop().await;
    rabbit.stop().await;
    redis.stop().await;

    println!("{HEADER}");
    for row in &rows {
        println!("{}", row.markdown());
    }
    let ok = errors.is_empty() && rows.iter().all(|r| !r.failed());
    if ok && temporary {
        let _ = std::fs::remove_dir_all(&work);
    } else if !ok {
        eprintln!("logs and configurations kept in {}", work.display());
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(ok)
}
