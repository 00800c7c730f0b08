//! The connection to Redis every part of the store shares: the pool, the [`Connector`] the
//! presence connection also uses, the key prefix, and this process's identity as a lease
//! holder.
//!
//! **Where Redis is.** Either one server, by its URL (a managed endpoint that follows
//! failovers itself counts as one), or the master that Redis Sentinel names
//! (`redis.sentinels`, `redis.master_name`). With sentinels, a new connection asks them for
//! the master's address (the last address learnt is used when no sentinel answers), and
//! checks with `ROLE` that the server it reached is a master: a sentinel's word may be stale
//! during a failover. A watcher task, started by the first connection, asks again every
//! [`SENTINEL_WATCH`]; when the address changes, the *generation* moves on, pooled
//! connections of an older one are dropped at their next checkout, and the presence
//! connection reconnects at once ([`crate::store::lease`]): the workers follow a failover
//! without a restart, even when the old master stays up (a forced failover, or a partition
//! that heals) and would otherwise take writes for seconds before the sentinels turn it
//! into a replica. A connection whose command failed on its socket, timed out or met
//! `READONLY` is dropped too, at its next checkout.
//!
//! **TLS.** `rediss://` URLs (and `redis.sentinel_tls` for the sentinels) go through rustls
//! with the `ring` provider: no OpenSSL. The server's certificate is checked against the CA
//! bundle of `redis.ca_file`, or the system's roots without one, and must name the host
//! connected to (with sentinels: the address they announce). `redis.client_cert_file` and
//! `redis.client_key_file` answer a server that asks for a client certificate. The files
//! are read and checked once, by [`RedisConfig::from_settings`].
//!
//! **Why a pool of our own.** deadpool-redis builds its connections from a URL only: no CA
//! bundle, no client certificate, and its Sentinel pool neither checks the master's role nor
//! drops connections to a master that was replaced. So the pool is deadpool's generic one
//! over this file's [`Manager`], keeping what the workers relied on: a [`Store`] is made
//! without connecting (a worker starts while Redis is down and waits for it); every call
//! fails within bounded time while Redis is unreachable ([`WAIT_TIMEOUT`],
//! [`CREATE_TIMEOUT`], [`RESPONSE_TIMEOUT`]) and works again by itself once it is back; up
//! to [`POOL_SIZE`] multiplexed connections, each checked with `PING` when taken; and the
//! presence connection is never one of them.
//!
//! Redis Cluster is not supported: see docs/operations.md ("Redis: high availability").

use crate::config::RedisConfig;
use deadpool::managed::{self, Metrics, Pool, RecycleError, RecycleResult};
use prometheus_client::metrics::counter::Counter;
use rand::Rng;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError,
    RedisResult,
};
use secrecy::SecretString;
use shared::config::RedisSettings;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Connections kept open to Redis per process.
const POOL_SIZE: usize = 32;
/// Longest wait for a pooled connection when all are in use.
const WAIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time to open a connection (asking the sentinels included).
const CREATE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest time to check a pooled connection before handing it out.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for any one answer: a server that stops answering without closing the
/// connection fails the call instead of holding it until TCP gives up.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time to connect to, and hear from, one sentinel before asking the next.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the sentinels are asked which server is the master.
pub(crate) const SENTINEL_WATCH: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis is unavailable: {0}")]
    Pool(#[from] managed::PoolError<RedisError>),
    #[error("Redis command failed: {0}")]
    Redis(#[from] RedisError),
    #[error("a stored record cannot be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("cannot configure the Redis connection: {0}")]
    Config(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Handle on the shared state; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    /// Makes the pool's connections and the presence connection, which must be this
    /// process's own ([`crate::store::lease`]).
    connector: Arc<Connector>,
    prefix: String,
    holders: Arc<Holders>,
    takeovers: Counter,
    /// Losses of Redis's data noticed by this process (`recovery`).
    data_losses: Counter,
}

impl Store {
    /// A store on the Redis at `url` (no TLS files, no sentinels); see [`Store::connect`].
    pub fn new(url: &SecretString, prefix: &str) -> Result<Store> {
        let settings = RedisSettings {
            url: url.clone(),
            ..RedisSettings::default()
        };
        Store::connect(&settings, prefix)
    }

    /// A store on the Redis `[redis]` describes. Connections are made on first use, so this
    /// succeeds while Redis is down (the worker then waits for it rather than failing to
    /// start); it fails only on settings [`RedisConfig::from_settings`] refuses.
    pub fn connect(settings: &RedisSettings, prefix: &str) -> Result<Store> {
        let config = RedisConfig::from_settings(settings)
            .map_err(|problems| StoreError::Config(problems.join("; ")))?;
        Store::with_config(config, prefix)
    }

    /// Like [`Store::connect`], from settings already checked.
    pub fn with_config(config: RedisConfig, prefix: &str) -> Result<Store> {
        let connector = Arc::new(Connector::new(config)?);
        let pool = Pool::builder(Manager {
            connector: connector.clone(),
        })
        .max_size(POOL_SIZE)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CREATE_TIMEOUT))
        .recycle_timeout(Some(RECYCLE_TIMEOUT))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Store {
            pool,
            connector,
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

    /// Counts the times the sentinels name another master in `counter` (once per store and
    /// its clones).
    pub fn counting_master_changes(self, counter: Counter) -> Store {
        let _ = self.connector.master_changes.set(counter);
        self
    }

    /// This process's random id (in lease tokens, presence records and the fleet's status).
    pub fn instance(&self) -> &str {
        &self.holders().instance
    }

    pub(crate) fn holders(&self) -> &Holders {
        &self.holders
    }

    /// Moves on each time the sentinels name another master (always 0 without Sentinel):
    /// what was read under one master may not hold under the next.
    pub fn master_generation(&self) -> u64 {
        self.connector.generation()
    }

    pub(crate) fn connector(&self) -> &Arc<Connector> {
        &self.connector
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    pub(crate) async fn conn(&self) -> Result<Connection> {
        Ok(Connection(self.pool.get().await?))
    }

    /// Succeeds when Redis answers.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// Opens connections to the Redis that holds the leases: the one server of the URL, or the
/// master the sentinels name (see the module documentation).
pub(crate) struct Connector {
    /// What `[redis]` said, checked.
    config: RedisConfig,
    /// Without sentinels: the client of the one server, made once.
    direct: Option<Client>,
    /// Timeouts of every connection to a server.
    timeouts: AsyncConnectionConfig,
    /// The master's address as last learnt from the sentinels.
    master: Mutex<Option<(String, u16)>>,
    /// Moves on whenever the sentinels name another master; connections carry the one they
    /// were made in. Always 0 without sentinels.
    generation: watch::Sender<u64>,
    /// A connection to the sentinel that answered last, reused by the next question.
    sentinel: tokio::sync::Mutex<Option<(usize, MultiplexedConnection)>>,
    /// Whether the watcher task runs.
    watching: AtomicBool,
    /// Counts the master changes, when the worker's metrics are given.
    master_changes: OnceLock<Counter>,
}

impl Connector {
    fn new(config: RedisConfig) -> Result<Connector> {
        let direct =
            match config.sentinel {
                None => Some(client(config.node.clone(), &config).map_err(|e| {
                    StoreError::Config(format!("the Redis URL cannot be used ({e})"))
                })?),
                Some(_) => None,
            };
        Ok(Connector {
            config,
            direct,
            timeouts: AsyncConnectionConfig::new()
                .set_connection_timeout(CREATE_TIMEOUT)
                .set_response_timeout(RESPONSE_TIMEOUT),
            master: Mutex::new(None),
            generation: watch::Sender::new(0),
            sentinel: tokio::sync::Mutex::new(None),
            watching: AtomicBool::new(false),
            master_changes: OnceLock::new(),
        })
    }

    /// The current generation (see the module documentation).
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Completes once the generation is no longer `generation`: the sentinels named another
    /// master. Never without sentinels.
    pub(crate) async fn moved(&self, generation: u64) {
        let mut changes = self.generation.subscribe();
        if changes.wait_for(|now| *now != generation).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// A new connection of its own to the master, and the generation it belongs to.
    pub(crate) async fn connect(self: &Arc<Self>) -> RedisResult<(MultiplexedConnection, u64)> {
        if let Some(direct) = &self.direct {
            let conn = direct
                .get_multiplexed_async_connection_with_config(&self.timeouts)
                .await?;
            return Ok((conn, 0));
        }
        self.watch();
        let (host, port) = match self.ask_sentinels().await {
            Ok(master) => {
                self.learn(&master);
                master
            }
            Err(e) => {
                let known = self
                    .master
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                match known {
                    Some(master) => {
                        tracing::debug!(error = %e, "no sentinel answered; connecting to the master last named");
                        master
                    }
                    None => return Err(e),
                }
            }
        };
        let generation = self.generation();
        let mut info = self.config.node.clone();
        info.addr = match info.addr {
            ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                tls_params: None,
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        let mut conn = client(info, &self.config)?
            .get_multiplexed_async_connection_with_config(&self.timeouts)
            .await?;
        let role: RedisResult<redis::Role> = redis::cmd("ROLE").query_async(&mut conn).await;
        match role {
            Ok(redis::Role::Primary { .. }) => Ok((conn, generation)),
            Ok(_) => Err(RedisError::from((
                ErrorKind::ReadOnly,
                "the server the sentinels name is not a master (yet, or any more): a failover is under way",
            ))),
            Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => Err(e),
            // ROLE refused (an ACL without it): the sentinels' word is taken, and a write
            // to a replica still fails with READONLY, which drops the connection.
            Err(_) => Ok((conn, generation)),
        }
    }

    /// Starts the watcher, once (see the module documentation).
    fn watch(self: &Arc<Self>) {
        if self.watching.swap(true, Ordering::Relaxed) {
            return;
        }
        let connector = Arc::downgrade(self);
        tokio::spawn(watch_sentinels(connector));
    }

    /// Records the master's address; a new one moves the generation on.
    fn learn(&self, master: &(String, u16)) {
        let mut known = self.master.lock().unwrap_or_else(|e| e.into_inner());
        if known.as_ref() == Some(master) {
            return;
        }
        let first = known.is_none();
        *known = Some(master.clone());
        drop(known);
        self.generation.send_modify(|generation| *generation += 1);
        let address = format!("{}:{}", master.0, master.1);
        if first {
            tracing::info!(master = %address, "the sentinels name the Redis master");
        } else {
            if let Some(counter) = self.master_changes.get() {
                counter.inc();
            }
            tracing::warn!(master = %address, "the sentinels name a new Redis master: connections move to it");
        }
    }

    /// The master's address from the first sentinel that knows it, starting with the one
    /// that answered last.
    async fn ask_sentinels(&self) -> RedisResult<(String, u16)> {
        let Some(sentinel) = &self.config.sentinel else {
            return Err(RedisError::from((ErrorKind::ClientError, "no sentinels")));
        };
        let mut cached = self.sentinel.lock().await;
        let count = sentinel.nodes.len();
        let first = cached.as_ref().map_or(0, |(i, _)| *i);
        let mut last_error = None;
        for i in (0..count).map(|n| (first + n) % count) {
            let conn = match cached.take() {
                Some((at, conn)) if at == i => conn,
                _ => match self.sentinel_connection(i).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        last_error = Some(e);
                        continue;
                    }
                },
            };
            let mut conn = conn;
            // Bounded by the connection's response timeout (SENTINEL_TIMEOUT).
            let asked: RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&sentinel.master_name)
                .query_async(&mut conn)
                .await;
            match asked {
                Ok(Some(master)) => {
                    *cached = Some((i, conn));
                    return Ok(master);
                }
                Ok(None) => {
                    *cached = Some((i, conn));
                    last_error = Some(RedisError::from((
                        ErrorKind::MasterNameNotFoundBySentinel,
                        "a sentinel does not know redis.master_name",
                        sentinel.master_name.clone(),
                    )));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| RedisError::from((ErrorKind::ClientError, "no sentinels"))))
    }

    async fn sentinel_connection(&self, i: usize) -> RedisResult<MultiplexedConnection> {
        let Some(node) = self.config.sentinel.as_ref().and_then(|s| s.nodes.get(i)) else {
            return Err(RedisError::from((
                ErrorKind::ClientError,
                "no such sentinel",
            )));
        };
        let timeouts = AsyncConnectionConfig::new()
            .set_connection_timeout(SENTINEL_TIMEOUT)
            .set_response_timeout(SENTINEL_TIMEOUT);
        client(node.clone(), &self.config)?
            .get_multiplexed_async_connection_with_config(&timeouts)
            .await
    }
}

/// Asks the sentinels which server is the master every [`SENTINEL_WATCH`], for as long as
/// the connector lives.
async fn watch_sentinels(connector: Weak<Connector>) {
    loop {
        tokio::time::sleep(SENTINEL_WATCH).await;
        let Some(connector) = connector.upgrade() else {
            return;
        };
        match connector.ask_sentinels().await {
            Ok(master) => connector.learn(&master),
            Err(e) => tracing::debug!(error = %e, "no sentinel named the Redis master"),
        }
    }
}

/// A client for `info`, with the TLS files of `config` when it is a TLS address.
fn client(info: ConnectionInfo, config: &RedisConfig) -> RedisResult<Client> {
    match (&info.addr, &config.certificates) {
        (ConnectionAddr::TcpTls { .. }, Some(certificates)) => {
            Client::build_with_tls(info, certificates.clone())
        }
        _ => Client::open(info),
    }
}

/// Makes and checks the pool's connections.
pub(crate) struct Manager {
    connector: Arc<Connector>,
}

/// A pooled connection and what decides whether it may be used again.
pub(crate) struct Pooled {
    conn: MultiplexedConnection,
    /// The [`Connector`]'s generation it was made in.
    generation: u64,
    /// A command failed in a way that says the connection is no good: its socket, a
    /// timeout, or a server that is no longer the master.
    broken: bool,
}

impl Pooled {
    fn note<T>(&mut self, result: &RedisResult<T>) {
        if result.as_ref().is_err_and(spoils) {
            self.broken = true;
        }
    }
}

/// Whether an error says the connection that met it is no good any more: its socket failed
/// or timed out, or its server is no longer the master. Any other error (a refused command,
/// a script's error) leaves the connection as good as it was.
fn spoils(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.kind() == ErrorKind::ReadOnly
}

impl managed::Manager for Manager {
    type Type = Pooled;
    type Error = RedisError;

    async fn create(&self) -> RedisResult<Pooled> {
        let (conn, generation) = self.connector.connect().await?;
        Ok(Pooled {
            conn,
            generation,
            broken: false,
        })
    }

    async fn recycle(&self, pooled: &mut Pooled, _: &Metrics) -> RecycleResult<RedisError> {
        if pooled.broken {
            return Err(RecycleError::message("a command failed on it"));
        }
        if pooled.generation != self.connector.generation() {
            return Err(RecycleError::message("the sentinels name another master"));
        }
        let _: String = redis::cmd("PING").query_async(&mut pooled.conn).await?;
        Ok(())
    }
}

/// A connection taken from the pool; back into it when dropped.
pub(crate) struct Connection(managed::Object<Manager>);

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let result = self.0.conn.req_packed_command(cmd).await;
            self.0.note(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            let result = self.0.conn.req_packed_commands(cmd, offset, count).await;
            self.0.note(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.0.conn.get_db()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_socket_a_timeout_or_a_demoted_master_spoils_a_connection() {
        let io = |kind| RedisError::from(std::io::Error::from(kind));
        assert!(spoils(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(spoils(&io(std::io::ErrorKind::TimedOut)));
        assert!(spoils(&RedisError::from((
            ErrorKind::ReadOnly,
            "You can't write against a read only replica."
        ))));
        assert!(!spoils(&RedisError::from((
            ErrorKind::ResponseError,
            "NOPERM this user has no permissions to run the 'role' command"
        ))));
        assert!(!spoils(&RedisError::from((
            ErrorKind::NoScriptError,
            "No matching script"
        ))));
    }
}
