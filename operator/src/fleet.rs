//! What the status reads beyond PostgreSQL: the depths of the deployment's queues in
//! RabbitMQ, and the Syncro budget the workers share.
//!
//! The operator API only looks: one connection of its own, kept by a task on the main
//! runtime (made again whenever it drops), a passive declare per queue; it never declares
//! or changes the topology.

use lapin::{Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use shared::amqp::topology::ready_messages;
use shared::amqp::Topology;
use shared::config::Settings;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// The longest a connection attempt may take, and the pause between attempts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RECONNECT_EVERY: Duration = Duration::from_secs(2);
/// The longest a status waits for the queues' depths.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// The broker and the names the status reads.
pub struct Fleet {
    connection: Arc<Mutex<Option<Connection>>>,
    keeper: tokio::task::JoinHandle<()>,
    /// (label, queue name) in the order shown: work, each retry tier, dead, parked.
    queues: Vec<(String, String)>,
    /// Syncro requests a minute the workers may make (`syncro.requests_per_minute`).
    pub budget_per_minute: u32,
    /// Which deployment (Syncro account) this is.
    pub deployment: Deployment,
}

/// The deployment an operator API serves: one Syncro account, named by its prefix. Shown
/// first in the status, so a person looking at several accounts knows which one this is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployment {
    pub prefix: String,
    /// The host of `syncro.url` (never the token, never a path); null when it has none.
    pub syncro_host: Option<String>,
}

impl Deployment {
    pub fn of(settings: &Settings) -> Deployment {
        Deployment {
            prefix: settings.prefix.clone(),
            syncro_host: host_of(&settings.syncro.url),
        }
    }
}

/// `https://user@acme.syncromsp.com:443/api/v1` → `acme.syncromsp.com`.
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_string())
}

impl Fleet {
    /// Starts the task keeping the connection (it never makes the caller wait).
    /// `topology` is the workers' (their queue names and retry tiers).
    pub fn start(settings: &Settings, topology: &Topology) -> Fleet {
        let mut queues = vec![("work".to_string(), topology.work_queue())];
        for (i, tier) in topology.retry_tiers().iter().enumerate() {
            if let Some(queue) = topology.retry_queue(i) {
                queues.push((format!("retry {}s", tier.as_secs()), queue));
            }
        }
        queues.push(("dead".into(), topology.dead_queue()));
        queues.push(("parked".into(), topology.parked_queue()));
        let connection = Arc::new(Mutex::new(None));
        let keeper = tokio::spawn(keep(settings.amqp.url.clone(), connection.clone()));
        Fleet {
            connection,
            keeper,
            queues,
            budget_per_minute: settings.syncro.requests_per_minute,
            deployment: Deployment::of(settings),
        }
    }

    /// Each queue's ready messages, in the order work, retry tiers, dead, parked (a queue
    /// not declared yet: `None`); `None` when the broker cannot be reached now.
    pub async fn depths(&self) -> Option<Vec<QueueDepth>> {
        tokio::time::timeout(READ_TIMEOUT, self.read_depths())
            .await
            .ok()
            .flatten()
    }

    async fn read_depths(&self) -> Option<Vec<QueueDepth>> {
        let held = self.connection.lock().await;
        let connection = held.as_ref().filter(|c| c.status().connected())?;
        let mut depths = Vec::with_capacity(self.queues.len());
        for (label, queue) in &self.queues {
            // A passive declare of a missing queue closes its channel: one channel each.
            let channel = connection.create_channel().await.ok()?;
            let messages = ready_messages(&channel, queue).await.ok();
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
        self.keeper.abort();
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.close(200, "shutting down".into()).await;
        }
    }
}

/// Keeps a connection in `slot`: connects, and connects again whenever it dropped.
async fn keep(url: SecretString, slot: Arc<Mutex<Option<Connection>>>) {
    loop {
        let connected = slot
            .lock()
            .await
            .as_ref()
            .is_some_and(|c| c.status().connected());
        if !connected {
            let properties =
                ConnectionProperties::default().with_connection_name("alert-relay operator".into());
            let connect = Connection::connect(url.expose_secret(), properties);
            match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(Ok(connection)) => *slot.lock().await = Some(connection),
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot reach RabbitMQ for the status"),
                Err(_) => tracing::debug!("RabbitMQ did not answer in time for the status"),
            }
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_syncro_host_is_shown_without_credentials_port_or_path() {
        assert_eq!(
            host_of("https://acme.syncromsp.com/api/v1").as_deref(),
            Some("acme.syncromsp.com")
        );
        assert_eq!(
            host_of("http://u:p@127.0.0.1:18900/api/v1").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("http://[::1]:80/x").as_deref(), Some("::1"));
        assert_eq!(host_of("not a url"), None);
    }
}
