//! What the status reads beyond PostgreSQL: the depths of the deployment's queues in
//! RabbitMQ, and the Syncro budget the workers share.
//!
//! The operator API only looks: one connection of its own, made when a status is asked for
//! (and kept), a passive declare per queue; it never declares or changes the topology.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use shared::amqp::Topology;
use shared::config::Settings;
use std::time::Duration;
use tokio::sync::Mutex;

/// The retry tiers the workers use when the configuration does not name them.
const DEFAULT_RETRY_TIERS: [u64; 5] = [5, 30, 120, 600, 3600];
/// The longest a status waits for RabbitMQ.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The broker and the names the status reads.
pub struct Fleet {
    url: SecretString,
    connection: Mutex<Option<Connection>>,
    /// (label, queue name) in the order shown: work, each retry tier, dead, parked.
    queues: Vec<(String, String)>,
    /// Syncro requests a minute the workers may make (`syncro.requests_per_minute`).
    pub budget_per_minute: u32,
}

impl Fleet {
    /// Connects on the first status asked for, not now.
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
        Fleet {
            url: settings.amqp.url.clone(),
            connection: Mutex::new(None),
            queues,
            budget_per_minute: settings.syncro.requests_per_minute,
        }
    }

    /// Each queue's ready messages, in the order work, retry tiers, dead, parked (a queue
    /// not declared yet: `None`); `None` when the broker cannot be reached now.
    pub async fn depths(&self) -> Option<Vec<QueueDepth>> {
        let mut held = self.connection.lock().await;
        if !held.as_ref().is_some_and(|c| c.status().connected()) {
            let connect = Connection::connect(
                self.url.expose_secret(),
                ConnectionProperties::default().with_connection_name("alert-relay operator".into()),
            );
            *held = Some(
                tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .ok()?
                    .ok()?,
            );
        }
        let connection = held.as_ref()?;
        let mut depths = Vec::with_capacity(self.queues.len());
        for (label, queue) in &self.queues {
            // A passive declare of a missing queue closes its channel: one channel each.
            let channel = connection.create_channel().await.ok()?;
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
            let messages = declared.ok().map(|q| q.message_count());
            if messages.is_some() {
                let _ = channel.close(200, "status read".into()).await;
            }
            depths.push(QueueDepth {
                name: label.clone(),
                queue: queue.clone(),
                messages,
            });
        }
        Some(depths)
    }

    pub async fn close(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.close(200, "shutting down".into()).await;
        }
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
