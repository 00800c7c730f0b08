//! `relayctl`: parse, load the configuration, call the library. See the crate docs.

use clap::{Parser, Subcommand};
use relayctl::context::{config_failure, Context};
use relayctl::{billing, dlq, mappings};
use shared::config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay operations: dead letters, mappings, billable users"
)]
struct Cli {
    /// Configuration file (TOML): the workers' own.
    #[arg(long, env = config::env::CONFIG, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    let Some(path) = cli.config else {
        eprintln!("relayctl: needs --config FILE (or RELAY_CONFIG)");
        return ExitCode::from(2);
    };
    let context = match Context::load(&path) {
        Ok(context) => context,
        Err(error) => return config_failure(&error),
    };
    shared::telemetry::init(context.settings.log.format, "warn");
    match cli.command {
        Command::Dlq(command) => dlq::run(context, command).await,
        Command::Mappings(command) => mappings::run(context, command).await,
        Command::Billing(command) => billing::run(context, command).await,
    }
}
