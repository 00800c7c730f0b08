//! `processor`: the worker binary (`run`, the default) and its configuration tools
//! (`check-config`, `explain`). A thin main: parse, load, set up logging, call the library.

use clap::{Parser, Subcommand};
use processor::config::ProcessorConfig;
use shared::config::{self, Settings};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// jemalloc, not the system's allocator: a storm's transient allocations (deliveries being
/// decoded, claimed and held) are handed back to the system instead of staying in glibc's
/// per-thread arenas, which made up most of what a held alert cost (docs/benchmarks.md);
/// its background thread hands them back while the worker only waits (see [`run`]).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay processor: queued alerts to Syncro tickets"
)]
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
        /// Also compare it with the Syncro account (customers, statuses, problem types,
        /// priorities, technicians).
        #[arg(long)]
        online: bool,
    },
    /// Print the ticket or note an alert would produce, and which rule set each field.
    Explain {
        /// The configuration file.
        file: PathBuf,
        /// A canonical alert, or a queue message, as JSON.
        alert: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig { file, online } => match file.or(cli.config) {
            Some(path) => processor::cli::check_config(&path, online).await,
            None => usage("check-config needs a FILE or --config"),
        },
        Command::Explain { file, alert } => processor::cli::explain(&file, &alert),
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

/// Loads and validates everything a worker needs; every problem at once.
fn load(path: &Path) -> Result<(Settings, ProcessorConfig), config::ConfigError> {
    let settings = Settings::load(path, &config::process_env)?;
    match ProcessorConfig::from_settings(&settings) {
        Ok(processor) => Ok((settings, processor)),
        Err(problems) => Err(config::ConfigError {
            path: path.to_path_buf(),
            problems,
        }),
    }
}

async fn run(path: &Path) -> ExitCode {
    let (settings, processor) = match load(path) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprint!("{error}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = shared::telemetry::init(settings.log.format, &settings.log.level);
    // Freed memory is returned by jemalloc's background thread after its decay time, also
    // while the worker does nothing but hold alerts for their group's call; without it,
    // only when the worker allocates again.
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(%error, "jemalloc's background thread could not be started");
    }
    let reload_from = Some(path.to_path_buf());
    match processor::startup::run_reloadable(
        settings,
        processor,
        shared::shutdown::signal(),
        reload_from,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "processor failed");
            ExitCode::FAILURE
        }
    }
}
