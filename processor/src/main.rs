//! `processor`: the worker binary. For now it validates its configuration, connects to the
//! broker and declares the topology; consuming arrives with the processing work (issue 4).

use clap::{Parser, Subcommand};
use shared::amqp::{Broker, BrokerOptions, Topology};
use shared::config::{self, Settings};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "alert-relay processor: queued alerts to Syncro tickets")]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, env = config::env::CONFIG, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a worker (the default).
    Run,
    /// Validate a configuration file and print every problem.
    CheckConfig {
        /// The file to check (default: --config).
        file: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig { file } => match file.or(cli.config) {
            Some(path) => check_config(&path),
            None => usage("check-config needs a FILE or --config"),
        },
        Command::Run => match cli.config {
            Some(path) => run(&path).await,
            None => usage("run needs --config FILE (or RELAY_CONFIG)"),
        },
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("processor: {message}");
    ExitCode::from(2)
}

fn load(path: &Path) -> Result<Settings, config::ConfigError> {
    let settings = Settings::load(path, &config::process_env)?;
    let problems = settings.common_problems();
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(config::ConfigError {
            path: path.to_path_buf(),
            problems,
        })
    }
}

fn check_config(path: &Path) -> ExitCode {
    match load(path) {
        Ok(_) => {
            println!("{}: no problems found", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprint!("{error}");
            ExitCode::from(1)
        }
    }
}

async fn run(path: &Path) -> ExitCode {
    let settings = match load(path) {
        Ok(settings) => settings,
        Err(error) => {
            eprint!("{error}");
            return ExitCode::from(2);
        }
    };
    shared::telemetry::init(settings.log.format, &settings.log.level);
    let broker = Broker::start(BrokerOptions {
        url: settings.amqp.url.clone(),
        topology: Topology::new(&settings.prefix),
        publish_channels: 1,
        max_backoff: Duration::from_millis(settings.amqp.reconnect_max_backoff_ms),
        connection_name: format!("alert-relay processor ({})", settings.prefix),
    });
    tracing::warn!(
        "this processor is a skeleton: it keeps the topology declared but consumes nothing yet"
    );
    shared::shutdown::signal().await;
    broker.close().await;
    tracing::info!("processor stopped");
    ExitCode::SUCCESS
}
