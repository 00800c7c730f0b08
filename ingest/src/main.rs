//! `ingest --config FILE`: loads and validates the configuration, sets up logging, and serves
//! until SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;
use shared::config::{self, Settings};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay ingest: signed webhooks in, durable messages out"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, env = config::env::CONFIG)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config, &config::process_env)
        .and_then(|s| s.validate_ingest(&cli.config).map(|()| s))
    {
        Ok(settings) => settings,
        Err(error) => {
            eprint!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = shared::telemetry::init(settings.log.format, &settings.log.level);
    match serve(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "ingest failed");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(&settings.ingest.listen)
        .with_context(|| format!("cannot bind {}", settings.ingest.listen))?;
    ingest::startup::run(listener, settings, shared::shutdown::signal()).await
}
