//! `[processor]`: how a worker consumes, retries, coalesces and leases; every key has a default.

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

/// `[processor]`: worker knobs; every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Messages a worker holds unacknowledged at once (AMQP prefetch). An alert waiting in
    /// its group's batch is held unacknowledged until the ticket or note carrying it is in
    /// Syncro (about 0.5 KB each), so this is how far a storm's intake runs ahead of Syncro's
    /// budget: large enough that the queue drains during a storm, and a new incident behind
    /// it is delivered at once.
    pub prefetch: u16,
    /// How long in-flight work may take to finish after SIGTERM before the worker exits.
    pub drain_timeout_secs: u64,
    /// Where `GET /metrics` (Prometheus) listens.
    pub metrics_listen: SocketAddr,
    /// Delay of each retry, in order; after the last one a message is dead-lettered. Each
    /// tier becomes a delay queue, so the list is the whole retry policy.
    pub retry_tiers_secs: Vec<u64>,
    /// How long alerts for one open ticket are gathered into one note (fewer Syncro calls
    /// in a storm; every alert waits at most this long).
    pub coalesce_window_ms: u64,
    /// The most alerts one note or first comment lists, so it stays bounded (repeats of one
    /// alert are listed as one section with their ids, see the README).
    pub coalesce_max_alerts: usize,
    /// The longest an alert is held unacknowledged waiting for its group's call; it then
    /// goes back to the queue. Keep it well below RabbitMQ's `consumer_timeout` (30 min by
    /// default), which closes the channel of a consumer holding a message longer.
    pub max_hold_secs: u64,
    /// Lease of the Redis lock held while a group's ticket is created; it expires on its own
    /// when the holder dies, so a crash cannot block a group forever.
    pub lock_lease_secs: u64,
    /// Ceiling of the backoff between Redis reconnect attempts.
    pub redis_retry_max_backoff_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            prefetch: 10_000,
            drain_timeout_secs: 30,
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            retry_tiers_secs: vec![5, 30, 120, 600, 3600],
            coalesce_window_ms: 2_000,
            coalesce_max_alerts: 500,
            max_hold_secs: 900,
            lock_lease_secs: 30,
            redis_retry_max_backoff_ms: 5_000,
        }
    }
}

impl WorkerConfig {
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }

    pub fn retry_tiers(&self) -> Vec<Duration> {
        self.retry_tiers_secs
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect()
    }

    pub fn coalesce_window(&self) -> Duration {
        Duration::from_millis(self.coalesce_window_ms)
    }

    pub fn max_hold(&self) -> Duration {
        Duration::from_secs(self.max_hold_secs)
    }

    pub fn lock_lease(&self) -> Duration {
        Duration::from_secs(self.lock_lease_secs)
    }

    pub fn redis_retry_max_backoff(&self) -> Duration {
        Duration::from_millis(self.redis_retry_max_backoff_ms)
    }

    pub(crate) fn check(&self, problems: &mut Vec<String>) {
        if self.prefetch == 0 {
            problems.push("processor.prefetch: must be between 1 and 65535".into());
        }
        if self.retry_tiers_secs.is_empty() {
            problems.push(
                "processor.retry_tiers_secs: needs at least one tier (e.g. [5, 30, 120, 600, 3600])"
                    .into(),
            );
        }
        if self.retry_tiers_secs.contains(&0) {
            problems
                .push("processor.retry_tiers_secs: every tier must be at least 1 second".into());
        }
        if self.retry_tiers_secs.windows(2).any(|w| w[0] >= w[1]) {
            problems.push("processor.retry_tiers_secs: tiers must be strictly increasing".into());
        }
        if self.coalesce_window_ms > 60_000 {
            // Coalesced alerts stay unacknowledged while they wait.
            problems.push("processor.coalesce_window_ms: must be at most 60000".into());
        }
        if self.coalesce_max_alerts == 0 {
            problems.push("processor.coalesce_max_alerts: must be at least 1".into());
        }
        if !(10..=1500).contains(&self.max_hold_secs) {
            // Below RabbitMQ's default consumer_timeout (1800 s) with a margin.
            problems.push("processor.max_hold_secs: must be between 10 and 1500 (RabbitMQ's consumer_timeout is 1800 s by default)".into());
        }
        if self.coalesce_max_alerts > 2000 {
            problems.push("processor.coalesce_max_alerts: must be at most 2000 (a comment's size grows with it)".into());
        }
        if self.lock_lease_secs == 0 {
            problems.push("processor.lock_lease_secs: must be at least 1".into());
        }
        if self.redis_retry_max_backoff_ms == 0 {
            problems.push("processor.redis_retry_max_backoff_ms: must be at least 1".into());
        }
    }
}
