//! The workers' side, as the operator API reads and steers it: their configuration (the same
//! file, validated the same way, so the API explains and maps exactly as they decide), their
//! Redis state (organizations seen without a mapping, the one Syncro budget) and Syncro,
//! reached only through the workers' shared rate limiter so that nothing the API does can
//! push the fleet into a 429.
//!
//! Redis is connected on first use: the API starts and answers while it is away, and the
//! routes that need it answer 503 `redis_unavailable` then.

use processor::config::reload::ConfigHandle;
use processor::config::ProcessorConfig;
use processor::metrics::Metrics;
use processor::store::ratelimit::{limited_client, RateLimiter};
use processor::store::Store;
use shared::amqp::{BrokerOptions, Topology};
use shared::config::Settings;
use std::sync::Arc;
use std::time::Duration;
use syncro::SyncroClient;

/// The workers' configuration and the connections the API shares with them.
pub struct Workers {
    /// What the workers run with: read at start, and again on SIGHUP as a worker does
    /// ([`processor::config::reload`]); take [`ConfigHandle::current`] once per request.
    pub config: ConfigHandle,
    /// The workers' Redis state under the deployment's prefix.
    pub store: Store,
    /// Syncro, admitted through the fleet's limiter.
    pub syncro: SyncroClient,
    /// The deployment's prefix (queues, keys, schema).
    pub prefix: String,
    /// The Syncro customers, read a few minutes at a time (the mapping wizard's).
    pub customers: crate::customers::CustomerCache,
    amqp_url: secrecy::SecretString,
    amqp_max_backoff: Duration,
}

impl Workers {
    /// Builds the workers' view from settings whose processor sections are valid (the
    /// operator's [`crate::config::check`] reported any problem before).
    pub fn new(settings: &Settings) -> anyhow::Result<Workers> {
        let config = ProcessorConfig::from_settings(settings).map_err(|problems| {
            anyhow::anyhow!("the workers' configuration: {}", problems.join("; "))
        })?;
        let store = Store::connect(&settings.redis, &settings.prefix)?;
        let limiter = RateLimiter::from_settings(store.clone(), &settings.syncro);
        let syncro = limited_client(settings, Some(limiter), Arc::new(Metrics::new()))?;
        Ok(Workers {
            config: ConfigHandle::new(config),
            store,
            syncro,
            prefix: settings.prefix.clone(),
            customers: Default::default(),
            amqp_url: settings.amqp.url.clone(),
            amqp_max_backoff: Duration::from_millis(settings.amqp.reconnect_max_backoff_ms),
        })
    }

    /// The workers' topology: the same queue names and retry tiers they declare.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix).with_retry_tiers(&self.config.current().worker.retry_tiers())
    }

    /// How to reach the deployment's broker, on the workers' topology (for a
    /// [`shared::amqp::Broker`] of the API's own, which declares it idempotently as they do).
    pub fn broker_options(&self) -> BrokerOptions {
        BrokerOptions {
            url: self.amqp_url.clone(),
            topology: self.topology(),
            publish_channels: 1,
            max_backoff: self.amqp_max_backoff,
            connection_name: format!("alert-relay operator ({})", self.prefix),
        }
    }
}
