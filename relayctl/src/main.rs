//! `relayctl`: parse, load the configuration when the command needs it, call the library.
//! See the crate docs.

use clap::{Parser, Subcommand};
use relayctl::context::{config_failure, Context};
use relayctl::{billing, dlq, mappings, pause, queues, send, silence, status, storm, trace};
use shared::config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay operations: dead letters, mappings, billable users; sending alerts and queue counts; through the operator API, traces, silences, pause and status"
)]
struct Cli {
    /// Configuration file (TOML): the workers' own. Needed by dlq, mappings and billing.
    #[arg(long, env = config::env::CONFIG, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Configured(Configured),
    /// Sign a JSON body like a webhook source and POST it to ingest.
    Send(send::Args),
    /// Send a storm of signed alerts to ingest and measure what it became in Syncro.
    Storm(storm::Args),
    /// Print (and optionally delete) a deployment's queues and their message counts.
    Queues(queues::Args),
    #[command(flatten)]
    Operator(Operator),
}

/// The commands that go through the operator API (`--api URL`, token in
/// RELAY_OPERATOR_TOKEN).
#[derive(Subcommand)]
enum Operator {
    /// An alert's way through the relay, step by step (or a ticket's, an organization's).
    Trace(trace::Args),
    /// Silences and maintenance windows: add, list, expire, extend.
    Silence(silence::Args),
    /// Stop the workers taking alerts (they wait in RabbitMQ) until `resume`.
    Pause(pause::PauseArgs),
    /// Let paused workers take alerts again.
    Resume(pause::ResumeArgs),
    /// The fleet on one page; exits 1 when some part is down.
    Status(status::Args),
}

/// The commands that work on a deployment's state, through its configuration file.
#[derive(Subcommand)]
enum Configured {
    /// The dead-letter queue: stats, list, replay, purge.
    #[command(subcommand)]
    Dlq(dlq::Command),
    /// Organizations seen without a mapping, and suggested Syncro customers.
    #[command(subcommand)]
    Mappings(mappings::Command),
    /// Billable users on Syncro recurring invoices: preview, sync.
    #[command(subcommand)]
    Billing(billing::Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // Reached by URL and flags, as a source or a script would: no configuration file, so
        // they work from a laptop or a bench script that has none.
        Command::Send(args) => send::run(args).await,
        Command::Storm(args) => storm::run(args).await,
        Command::Queues(args) => queues::run(args).await,
        // Through the operator API, which holds the state: no configuration file either.
        Command::Operator(command) => match command {
            Operator::Trace(args) => trace::run(args).await,
            Operator::Silence(args) => silence::run(args).await,
            Operator::Pause(args) => pause::pause(args).await,
            Operator::Resume(args) => pause::resume(args).await,
            Operator::Status(args) => status::run(args).await,
        },
        Command::Configured(command) => configured(cli.config, command).await,
    }
}

async fn configured(path: Option<PathBuf>, command: Configured) -> ExitCode {
    let Some(path) = path else {
        eprintln!("relayctl: needs --config FILE (or RELAY_CONFIG)");
        return ExitCode::from(2);
    };
    let context = match Context::load(&path) {
        Ok(context) => context,
        Err(error) => return config_failure(&error),
    };
    shared::telemetry::init_unbuffered(context.settings.log.format, "warn");
    match command {
        Configured::Dlq(command) => dlq::run(context, command).await,
        Configured::Mappings(command) => mappings::run(context, command).await,
        Configured::Billing(command) => billing::run(context, command).await,
    }
}
