//! The connection to Redis every part of the store shares: the pool, the client of the
//! presence connection, the key prefix, and this process's identity as a lease holder.

use deadpool_redis::redis;
use deadpool_redis::{Config as PoolConfig, Pool, Runtime};
use prometheus_client::metrics::counter::Counter;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis is unavailable: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("Redis command failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("a stored record cannot be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("cannot configure the Redis pool: {0}")]
    Config(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Handle on the shared state; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// For the presence connection, which must be this process's own ([`crate::store::lease`]).
    client: redis::Client,
    prefix: String,
    holders: Arc<Holders>,
    takeovers: Counter,
    /// Losses of Redis's data noticed by this process (`recovery`).
    data_losses: Counter,
}

impl Store {
    /// A pool on `url`; connections are made on first use, so this succeeds while Redis is
    /// down (the worker then waits for it rather than failing to start).
    pub fn new(url: &SecretString, prefix: &str) -> Result<Store> {
        let mut config = PoolConfig::from_url(url.expose_secret());
        config.pool = Some(deadpool_redis::PoolConfig {
            max_size: 32,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(Duration::from_secs(5)),
                create: Some(Duration::from_secs(3)),
                recycle: Some(Duration::from_secs(3)),
            },
            ..Default::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let client = redis::Client::open(url.expose_secret()).map_err(|e| {
            StoreError::Config(format!("the Redis URL cannot be used ({:?})", e.kind()))
        })?;
        Ok(Store {
            pool,
            client,
            prefix: prefix.to_string(),
            holders: Arc::new(Holders::new()),
            takeovers: Counter::default(),
            data_losses: Counter::default(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Counts leases taken over from dead holders ([`crate::store::lease`]) in `counter`.
    pub fn counting_takeovers(mut self, counter: Counter) -> Store {
        self.takeovers = counter;
        self
    }

    pub(crate) fn takeovers(&self) -> &Counter {
        &self.takeovers
    }

    /// Counts the losses of Redis's data this process notices (`recovery`) in `counter`.
    pub fn counting_data_losses(mut self, counter: Counter) -> Store {
        self.data_losses = counter;
        self
    }

    pub(crate) fn data_losses(&self) -> &Counter {
        &self.data_losses
    }

    pub(crate) fn holders(&self) -> &Holders {
        &self.holders
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    pub(crate) async fn conn(&self) -> Result<deadpool_redis::Connection> {
        Ok(self.pool.get().await?)
    }

    /// Succeeds when Redis answers.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// This process's identity in lease tokens, and what it learnt of other holders.
pub(crate) struct Holders {
    /// Random per process: `{instance}:{random}` is every token it writes.
    pub(crate) instance: String,
    /// Holders seen alive, and when.
    pub(crate) alive: Mutex<HashMap<String, Instant>>,
    /// The logged-once flag for a `CLIENT` command Redis refuses.
    pub(crate) client_refused: std::sync::atomic::AtomicBool,
}

impl Holders {
    pub(crate) fn new() -> Holders {
        Holders {
            instance: format!("{:016x}", rand::rng().random::<u64>()),
            alive: Mutex::new(HashMap::new()),
            client_refused: std::sync::atomic::AtomicBool::new(false),
        }
    }
}
