//! `relay-queues`: message counts of a deployment's queues, for scripts and the demo.
//!
//! ```text
//! relay-queues [--prefix relay] [--delete] [QUEUE ...]
//! ```
//! With no QUEUE, the deployment's work and dead-letter queues. `--delete` removes the named
//! queues and the deployment's exchange afterwards (benchmark clean-up).

use clap::Parser;
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use shared::amqp::Topology;

#[derive(Parser)]
#[command(about = "Print (and optionally delete) alert-relay queues")]
struct Cli {
    #[arg(
        long,
        env = "RELAY_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    #[arg(long, env = "RELAY_PREFIX", default_value = "relay")]
    prefix: String,
    #[arg(long)]
    delete: bool,
    queues: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let topology = Topology::new(&cli.prefix);
    let queues = if cli.queues.is_empty() {
        vec![topology.work_queue(), topology.dead_queue()]
    } else {
        cli.queues.clone()
    };
    let connection = Connection::connect(&cli.amqp_url, ConnectionProperties::default()).await?;
    for queue in &queues {
        let channel = connection.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        match channel
            .queue_declare(queue.as_str().into(), passive, FieldTable::default())
            .await
        {
            Ok(q) => println!("{queue} {}", q.message_count()),
            Err(_) => println!("{queue} absent"),
        }
        if cli.delete {
            let channel = connection.create_channel().await?;
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    if cli.delete {
        let channel = connection.create_channel().await?;
        let _ = channel
            .exchange_delete(
                topology.exchange().as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
    Ok(())
}
