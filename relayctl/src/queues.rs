//! `relayctl queues`: message counts of a deployment's queues, for scripts and the demo.
//!
//! ```text
//! relayctl queues [--amqp-url URL] [--prefix relay] [--delete] [QUEUE ...]
//! ```
//! With no QUEUE, the deployment's work and dead-letter queues. Prints `<queue> <count>`, or
//! `<queue> absent`, one line per queue (scripts read the second field). `--delete` removes
//! the named queues and the deployment's exchange afterwards (benchmark and demo clean-up).
//!
//! Needs no configuration file: the broker and prefix come from flags or `RELAY_AMQP_URL` and
//! `RELAY_PREFIX`, the variables that override the workers' own settings.

use anyhow::Context;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use shared::amqp::Topology;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The broker.
    #[arg(
        long,
        env = "RELAY_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    amqp_url: String,
    /// The deployment's names prefix (its queues are `{prefix}.alerts.work`, ...).
    #[arg(long, env = "RELAY_PREFIX", default_value = "relay")]
    prefix: String,
    /// Delete the queues, and the deployment's exchange, after printing their counts.
    #[arg(long)]
    delete: bool,
    /// Queues to look at (default: the work and dead-letter queues).
    queues: Vec<String>,
}

pub async fn run(args: Args) -> ExitCode {
    match queues(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relayctl queues: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn queues(args: &Args) -> anyhow::Result<()> {
    let topology = Topology::new(&args.prefix);
    let queues = if args.queues.is_empty() {
        vec![topology.work_queue(), topology.dead_queue()]
    } else {
        args.queues.clone()
    };
    let connection = Connection::connect(&args.amqp_url, ConnectionProperties::default())
        .await
        .with_context(|| {
            format!(
                "cannot connect to RabbitMQ at {}",
                shared::config::redact_url(&args.amqp_url)
            )
        })?;
    for queue in &queues {
        // A passive declare of an absent queue closes its channel: one channel per queue.
        let channel = connection.create_channel().await?;
        match shared::amqp::topology::ready_messages(&channel, queue).await {
            Ok(n) => println!("{queue} {n}"),
            Err(_) => println!("{queue} absent"),
        }
        if args.delete {
            // Clean-up is best effort: an absent queue is already what was wanted.
            let channel = connection.create_channel().await?;
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    if args.delete {
        let channel = connection.create_channel().await?;
        let _ = channel
            .exchange_delete(
                topology.exchange().as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
    // Closed politely so that the broker does not log a dropped connection for every call.
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
