//! `console`: serves the web console until SIGTERM or SIGINT (`console` or `console serve`),
//! or prints an argon2id hash of a password read from standard input
//! (`console hash-password`) for `RELAY_CONSOLE_USERS`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "alert-relay's web console (a client of the operator API)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console (the default); settings from RELAY_CONSOLE_* and RELAY_OPERATOR_URL.
    Serve,
    /// Read a password from standard input (one line) and print its argon2id hash.
    HashPassword,
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::HashPassword => hash_password(),
        Command::Serve => serve().await,
    }
}

fn hash_password() -> ExitCode {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        eprintln!("console hash-password: cannot read the password from standard input");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < 12 {
        eprintln!("console hash-password: use a password of at least 12 characters");
        return ExitCode::from(2);
    }
    match console::users::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("console hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let config = match console::config::ConsoleConfig::from_env(&env) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("console: the configuration has problems:");
            for p in problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    let format = match std::env::var("RELAY_LOG_FORMAT").as_deref() {
        Ok("pretty") => shared::config::LogFormat::Pretty,
        _ => shared::config::LogFormat::Json,
    };
    let level = std::env::var("RELAY_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let _telemetry = shared::telemetry::init(format, &level);
    let run = async {
        let listener = std::net::TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot bind {}", config.listen))?;
        console::serve(listener, config, shared::shutdown::signal()).await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "console failed");
            ExitCode::FAILURE
        }
    }
}
