//! The `syncro-sim` binary: parse flags, set up logging, run until SIGINT/SIGTERM.

use anyhow::Context;
use clap::Parser;
use syncro_sim::cli::Cli;
use syncro_sim::config::DEFAULT_SEED;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    if cli.print_seed {
        print!("{DEFAULT_SEED}");
        return Ok(());
    }
    let addr = (cli.bind, cli.port);
    let config = cli.into_config().context("invalid configuration")?;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot bind {addr:?}"))?;
    syncro_sim::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
