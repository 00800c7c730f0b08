//! `operator --config FILE`: loads and checks the configuration and the tokens, sets up
//! logging, and serves the operator API until SIGTERM or SIGINT; SIGHUP reads the workers'
//! sections of the file again.

use anyhow::Context;
use clap::Parser;
use shared::config::{self, Settings};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay operator API: silences, pause, the trail, the audit log and status"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, env = config::env::CONFIG)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let checked = Settings::load(&cli.config, &config::process_env).and_then(|settings| {
        operator::config::check(&settings, &config::process_env, &cli.config)
            .map(|tokens| (settings, tokens))
    });
    let (settings, tokens) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            eprint!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = shared::telemetry::init(settings.log.format, &settings.log.level);
    match serve(settings, tokens, cli.config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "operator failed");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(
    settings: Settings,
    tokens: operator::auth::Tokens,
    config_file: PathBuf,
) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(&settings.operator.listen)
        .with_context(|| format!("cannot bind {}", settings.operator.listen))?;
    operator::serve(
        listener,
        settings,
        tokens,
        Some(config_file),
        shared::shutdown::signal(),
    )
    .await
}
