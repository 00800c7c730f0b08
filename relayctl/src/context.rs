//! What every command starts from: the validated configuration, and the connections it
//! opens on demand (each command opens only what it uses).

use processor::config::ProcessorConfig;
use processor::metrics::Metrics;
use processor::store::ratelimit::RateLimiter;
use processor::store::Store;
use shared::amqp::{Broker, BrokerOptions, Topology};
use shared::config::{self, Settings};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use syncro::SyncroClient;

/// Longest wait for the first broker connection before a command gives up.
const BROKER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The loaded configuration of a command.
pub struct Context {
    pub path: PathBuf,
    pub settings: Settings,
    pub config: ProcessorConfig,
}

impl Context {
    /// Loads and validates the file the way a worker does; every problem at once.
    pub fn load(path: &Path) -> Result<Context, config::ConfigError> {
        let settings = Settings::load(path, &config::process_env)?;
        match ProcessorConfig::from_settings(&settings) {
            Ok(config) => Ok(Context {
                path: path.to_path_buf(),
                settings,
                config,
            }),
            Err(problems) => Err(config::ConfigError {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }

    /// The shared Redis state (same prefix as the workers).
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.settings.redis, &self.settings.prefix)?)
    }

    /// The Syncro client, admitted through the fleet's shared rate limiter so that ops
    /// commands never push the workers into a 429.
    pub fn syncro(&self) -> anyhow::Result<SyncroClient> {
        let store = self.store()?;
        let limiter = RateLimiter::from_settings(store, &self.settings.syncro);
        processor::store::ratelimit::limited_client(
            &self.settings,
            Some(limiter),
            Arc::new(Metrics::new()),
        )
    }
}

impl Context {
    /// A connected broker on the deployment's topology (declared idempotently, retry queues
    /// included, exactly as a worker would), or why not.
    pub async fn broker(&self) -> anyhow::Result<Broker> {
        let topology = Topology::new(&self.settings.prefix)
            .with_retry_tiers(&self.config.worker.retry_tiers());
        let broker = Broker::start(BrokerOptions {
            url: self.settings.amqp.url.clone(),
            topology,
            publish_channels: 1,
            max_backoff: Duration::from_millis(self.settings.amqp.reconnect_max_backoff_ms),
            connection_name: format!("alert-relay relayctl ({})", self.settings.prefix),
        });
        if broker.wait_connected(BROKER_CONNECT_TIMEOUT).await {
            Ok(broker)
        } else {
            broker.close().await;
            anyhow::bail!(
                "cannot reach RabbitMQ at {} within {BROKER_CONNECT_TIMEOUT:?}",
                config::redact_url(secrecy::ExposeSecret::expose_secret(
                    &self.settings.amqp.url
                ))
            )
        }
    }
}

impl Context {
    /// The file's `[mapping]` with the console's mappings read from PostgreSQL, as the
    /// workers decide; the file alone (and a warning) when the operator state cannot be read.
    pub async fn effective_mapping(&self) -> processor::config::MappingConfig {
        let settings = &self.settings;
        let read = async {
            let db = opstate::Db::lazy(&settings.postgres, &settings.prefix)?;
            opstate::store::mappings::current(&db).await
        };
        match read.await {
            Ok(console) => self.config.mapping.with_console(Arc::new(console)),
            Err(e) => {
                eprintln!(
                    "warning: the console's mappings could not be read ({e}); going by the \
                     configuration file alone"
                );
                self.config.mapping.clone()
            }
        }
    }
}

/// Prints a configuration error the way the workers do and gives exit status 2.
pub fn config_failure(error: &config::ConfigError) -> ExitCode {
    eprint!("{error}");
    ExitCode::from(2)
}
