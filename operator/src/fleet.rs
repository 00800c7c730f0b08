//! What the status reads beyond PostgreSQL: the depths of the deployment's queues in
//! RabbitMQ (a passive declare each, through a broker connection kept open and healed), and
//! the Syncro budget the workers share.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde::Serialize;
use shared::amqp::{Broker, BrokerOptions, Topology};
use shared::config::Settings;
use std::time::Duration;

/// The retry tiers the workers use when the configuration does not name them.
const DEFAULT_RETRY_TIERS: [u64; 5] = [5, 30, 120, 600, 3600];

/// The broker and the names the status reads.
pub struct Fleet {
    broker: Broker,
    /// (label, queue name) in the order shown: work, each retry tier, dead, parked.
    queues: Vec<(String, String)>,
    /// Syncro requests a minute the workers may make (`syncro.requests_per_minute`).
    pub budget_per_minute: u32,
}

impl Fleet {
    /// Connects in the background (never waits): queues read while the broker is away are
    /// reported as unknown.
    pub fn start(settings: &Settings) -> Fleet {
        let tiers = retry_tiers(settings);
        let topology = Topology::new(&settings.prefix).with_retry_tiers(&tiers);
        let mut queues = vec![("work".to_string(), topology.work_queue())];
        for (i, tier) in tiers.iter().enumerate() {
            if let Some(queue) = topology.retry_queue(i) {
                queues.push((format!("retry {}s", tier.as_secs()), queue));
            }
        }
        queues.push(("dead".into(), topology.dead_queue()));
        queues.push(("parked".into(), topology.parked_queue()));
        let broker = Broker::start(BrokerOptions {
            url: settings.amqp.url.clone(),
            topology,
            publish_channels: 1,
            max_backoff: Duration::from_millis(settings.amqp.reconnect_max_backoff_ms),
            connection_name: format!("alert-relay operator ({})", settings.prefix),
        });
        Fleet {
            broker,
            queues,
            budget_per_minute: settings.syncro.requests_per_minute,
        }
    }

    /// Each queue's ready messages, in the order work, retry tiers, dead, parked (a queue
    /// not declared yet: `None`); `None` when the broker cannot be reached now.
    pub async fn depths(&self) -> Option<Vec<QueueDepth>> {
        if !self.broker.wait_connected(Duration::from_secs(2)).await {
            return None;
        }
        let mut depths = Vec::with_capacity(self.queues.len());
        for (label, queue) in &self.queues {
            // A passive declare of a missing queue closes its channel: one channel each.
            let channel = self.broker.open_channel().await.ok()?;
            let declared = channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await;
            depths.push(QueueDepth {
                name: label.clone(),
                queue: queue.clone(),
                messages: declared.ok().map(|q| q.message_count()),
            });
            let _ = channel.close(200, "status read".into()).await;
        }
        Some(depths)
    }

    pub async fn close(&self) {
        self.broker.close().await;
    }
}

/// `processor.retry_tiers_secs` as the file says, else the workers' default.
fn retry_tiers(settings: &Settings) -> Vec<Duration> {
    let configured = settings
        .processor_sections
        .processor
        .as_ref()
        .and_then(|p| p.get("retry_tiers_secs"))
        .and_then(|v| v.as_array())
        .map(|tiers| {
            tiers
                .iter()
                .filter_map(|t| t.as_integer())
                .filter_map(|t| u64::try_from(t).ok())
                .collect::<Vec<_>>()
        });
    configured
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_RETRY_TIERS.to_vec())
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// One queue's depth.
#[derive(Debug, Serialize)]
pub struct QueueDepth {
    /// What it holds: `work`, `retry 30s`, `dead`, `parked`.
    pub name: String,
    /// Its name in RabbitMQ.
    pub queue: String,
    /// Ready messages; `None` when the queue is not declared yet.
    pub messages: Option<u32>,
}

/// The fleet's use of Syncro's budget, from the workers' reports.
#[derive(Debug, Serialize)]
pub struct Budget {
    pub requests_per_minute: u32,
    /// Requests the workers alive made in the last minute, summed.
    pub used_last_minute: u64,
}
