//! Leases in Redis, and knowing when their holder is dead.
//!
//! A lease is a key holding its holder's token, with a TTL the holder renews while it works
//! ([`Store::renew`]). When the holder dies, the TTL is the backstop: the lease expires
//! `lock_lease_secs` after the last renewal. Alone, that made a SIGKILLed worker costly: each
//! of the alerts it held came back to another worker and waited for its lease to run out
//! (30 s by default), and a worker crashing again meanwhile left the same wait behind it, so a
//! crash loop could hold alerts until the broker's delivery limit dead-lettered them.
//!
//! So each process keeps a *presence*: one Redis connection of its own, open for its whole
//! life, recorded under `presence:{instance}` as `"{server run id} {client id}"`
//! ([`Store::keep_presence`]). A lease token starts with the holder's instance id. Whoever
//! finds a lease held asks Redis whether the holder's presence connection is still connected
//! (`CLIENT LIST ID`); a killed process's sockets are closed by the kernel, so Redis knows at
//! once. A dead holder's lease is taken over by compare-and-set, counted in
//! `lease_takeovers_total`. The presence connection must be on the server that holds the
//! leases: with Redis Sentinel it is made to the master like the pool's, and moves as soon as
//! the sentinels name another master (the store's `connection` module).
//!
//! Whenever that question has no sure answer the holder is deemed alive and the TTL decides,
//! as before: no presence recorded (the holder's process never registered one), a record
//! from another Redis run (Redis restarted or failed over, and the holder may not have
//! reconnected yet), `CLIENT` refused (an ACL without `client|list`), or the holder's host
//! gone without closing its sockets (Redis notices only at its TCP keepalive).
//! A holder seen alive is not asked about again for [`ALIVE_FOR`] by the same process.

use super::connection::{Connection, Holders, Result, Store};
use rand::Rng;
use redis::aio::MultiplexedConnection;
use shared::backoff::Backoff;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How long a holder seen alive is believed to be, without asking Redis again.
pub const ALIVE_FOR: Duration = Duration::from_secs(1);
/// How long a presence record lives without being refreshed (its process is gone).
const PRESENCE_TTL: Duration = Duration::from_secs(600);
/// How often the presence connection refreshes its record, and so finds out soon that Redis
/// restarted or the connection broke.
const PRESENCE_REFRESH: Duration = Duration::from_secs(5);

/// A held lease; release it with [`Store::unlock`].
#[derive(Debug)]
pub struct Lease {
    pub(crate) key: String,
    pub(crate) token: String,
}

impl Holders {
    fn token(&self) -> String {
        format!("{}:{:024x}", self.instance, rand::rng().random::<u128>())
    }

    fn seen_alive(&self, instance: &str) -> bool {
        let alive = self.alive.lock().unwrap_or_else(|e| e.into_inner());
        alive
            .get(instance)
            .is_some_and(|at| at.elapsed() < ALIVE_FOR)
    }

    fn mark_alive(&self, instance: &str) {
        let mut alive = self.alive.lock().unwrap_or_else(|e| e.into_inner());
        alive.retain(|_, at| at.elapsed() < ALIVE_FOR);
        alive.insert(instance.to_string(), Instant::now());
    }
}

/// The holder's instance id in a token (`None` for tokens of older versions).
fn instance_of(token: &str) -> Option<&str> {
    token.split_once(':').map(|(instance, _)| instance)
}

/// Takes the lease, or returns the token holding it.
const TAKE: &str = r#"
    local held = redis.call('GET', KEYS[1])
    if held then return held end
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return false
"#;

/// The client id of the holder's presence connection, when it was recorded during this
/// Redis run; `false` when there is no sure answer.
const PRESENCE: &str = r#"
    local record = redis.call('GET', KEYS[1])
    if not record then return false end
    local run, id = string.match(record, '^(%x+) (%d+)$')
    if not run then return false end
    local current = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
    if run ~= current then return false end
    return id
"#;

/// Replaces the token if it is still the one seen.
const TAKE_OVER: &str = r#"
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
    end
    return 0
"#;

impl Store {
    /// Takes the lease `key` for `lease`: when nobody holds it, or when its holder is known
    /// to be dead (see the module documentation).
    pub(crate) async fn take_lease(&self, key: String, lease: Duration) -> Result<Option<Lease>> {
        let token = self.holders().token();
        self.take_lease_as(key, token, lease).await
    }

    /// [`Store::take_lease`] with a token of the caller's (which must start with this
    /// process's instance id, as [`Holders::token`]'s do).
    pub(crate) async fn take_lease_as(
        &self,
        key: String,
        token: String,
        lease: Duration,
    ) -> Result<Option<Lease>> {
        let holders = self.holders();
        let mut conn = self.conn().await?;
        let held: Option<String> = redis::Script::new(TAKE)
            .key(&key)
            .arg(&token)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        let Some(held) = held else {
            return Ok(Some(Lease { key, token }));
        };
        let Some(instance) = instance_of(&held) else {
            return Ok(None);
        };
        if instance == holders.instance || holders.seen_alive(instance) {
            return Ok(None);
        }
        if self.holder_alive(&mut conn, instance).await? {
            holders.mark_alive(instance);
            return Ok(None);
        }
        let taken: i64 = redis::Script::new(TAKE_OVER)
            .key(&key)
            .arg(&held)
            .arg(&token)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        if taken == 1 {
            self.takeovers().inc();
            tracing::debug!(%key, "took over the lease of a dead worker");
            Ok(Some(Lease { key, token }))
        } else {
            Ok(None)
        }
    }

    /// Whether the process `instance` may still be alive: `false` only when Redis says its
    /// presence connection is gone.
    async fn holder_alive(&self, conn: &mut Connection, instance: &str) -> Result<bool> {
        let client_id: Option<String> = redis::Script::new(PRESENCE)
            .key(self.key(&["presence", instance]))
            .invoke_async(conn)
            .await?;
        let Some(client_id) = client_id else {
            return Ok(true);
        };
        let listed: redis::RedisResult<String> = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(&client_id)
            .query_async(conn)
            .await;
        match listed {
            Ok(listed) => Ok(!listed.trim().is_empty()),
            Err(e) if e.kind() == redis::ErrorKind::IoError => Err(e.into()),
            Err(e) => {
                let holders = self.holders();
                if !holders
                    .client_refused
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(error = %e, "Redis refused CLIENT LIST: the leases of dead workers will only expire (allow client|list to the relay's Redis user)");
                }
                Ok(true)
            }
        }
    }

    /// Extends a lease that is still ours by `lease` (a live holder keeps it however long
    /// Syncro or the rate limit makes it wait); `false` when it is no longer ours.
    pub async fn renew(&self, held: &Lease, lease: Duration) -> Result<bool> {
        const RENEW: &str = r#"
            if redis.call('GET', KEYS[1]) == ARGV[1] then
                return redis.call('PEXPIRE', KEYS[1], ARGV[2])
            end
            return 0
        "#;
        let mut conn = self.conn().await?;
        let renewed: i64 = redis::Script::new(RENEW)
            .key(&held.key)
            .arg(&held.token)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    /// Runs `work` while keeping `held` alive: the one way a lease is kept. The lease is
    /// renewed every third of `ttl`, however long the work waits for Syncro or the rate
    /// limit; when a renewal finds it is no longer ours, `lost` is set (if given) so the
    /// work can stop at its next step. A renewal Redis refuses is logged and tried again at
    /// the next one: the TTL is the backstop.
    ///
    /// One of these waits beside every alert held in a storm, so between renewals it holds
    /// little more than its timer: the Redis call's large future is boxed and lives only
    /// while it runs.
    pub async fn hold<T>(
        &self,
        held: &Lease,
        ttl: Duration,
        lost: Option<&AtomicBool>,
        work: impl Future<Output = T>,
    ) -> T {
        let renewals = Box::pin(self.keep_alive(held, ttl, lost));
        tokio::select! {
            out = work => out,
            never = renewals => match never {},
        }
    }

    pub(crate) async fn keep_alive(
        &self,
        held: &Lease,
        ttl: Duration,
        lost: Option<&AtomicBool>,
    ) -> Infallible {
        loop {
            tokio::time::sleep(ttl / 3).await;
            match Box::pin(self.renew(held, ttl)).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(lost) = lost {
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                Err(e) => tracing::warn!(error = %e, lease = %held.key, "could not renew a lease"),
            }
        }
    }

    /// Releases a lease if it is still ours (a lease that expired may be someone else's now).
    pub async fn unlock(&self, lease: Lease) -> Result<()> {
        const RELEASE: &str = r#"
            if redis.call('GET', KEYS[1]) == ARGV[1] then
                return redis.call('DEL', KEYS[1])
            end
            return 0
        "#;
        let mut conn = self.conn().await?;
        let _: i64 = redis::Script::new(RELEASE)
            .key(&lease.key)
            .arg(&lease.token)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Keeps this process's presence (see the module documentation) for as long as it is
    /// polled: connects, records itself, refreshes the record every few seconds, and connects
    /// again after any failure. Run it as a task beside anything that takes leases.
    pub async fn keep_presence(self) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            // Bounded: a connection to an unreachable Redis may never answer.
            match within(self.register_presence()).await {
                Ok((mut conn, generation)) => {
                    backoff.reset();
                    tracing::debug!(instance = %self.holders().instance, "presence recorded in Redis");
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(PRESENCE_REFRESH) => {}
                            _ = self.connector().moved(generation) => {
                                tracing::info!("moving the Redis presence to the new master");
                                backoff.reset();
                                break;
                            }
                        }
                        if let Err(e) = within(self.refresh_presence(&mut conn)).await {
                            tracing::warn!(error = %e, "lost the Redis presence connection; connecting again");
                            break;
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "could not record the presence in Redis yet");
                }
            }
            backoff.wait().await;
        }
    }

    /// A connection of this process's own to the master, its presence recorded there, and
    /// the connector's generation it belongs to.
    async fn register_presence(
        &self,
    ) -> redis::RedisResult<((MultiplexedConnection, String), u64)> {
        let (mut conn, generation) = self.connector().connect().await?;
        let _: () = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("alert-relay-presence")
            .query_async(&mut conn)
            .await?;
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await?;
        let run_id = info
            .lines()
            .find_map(|line| line.strip_prefix("run_id:"))
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let record = format!("{run_id} {id}");
        let mut registered = (conn, record);
        self.refresh_presence(&mut registered).await?;
        Ok((registered, generation))
    }

    async fn refresh_presence(
        &self,
        (conn, record): &mut (MultiplexedConnection, String),
    ) -> redis::RedisResult<()> {
        redis::cmd("SET")
            .arg(self.key(&["presence", &self.holders().instance]))
            .arg(&*record)
            .arg("EX")
            .arg(PRESENCE_TTL.as_secs())
            .query_async(conn)
            .await
    }
}

/// `call`, failing after [`PRESENCE_REFRESH`].
async fn within<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(PRESENCE_REFRESH, call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {PRESENCE_REFRESH:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_instance_and_differ() {
        let holders = Holders::new();
        let (a, b) = (holders.token(), holders.token());
        assert_ne!(a, b);
        assert_eq!(instance_of(&a), Some(holders.instance.as_str()));
        assert_eq!(instance_of("0123abcd"), None);
    }

    #[test]
    fn a_holder_seen_alive_is_believed_for_a_while() {
        let holders = Holders::new();
        assert!(!holders.seen_alive("other"));
        holders.mark_alive("other");
        assert!(holders.seen_alive("other"));
        holders
            .alive
            .lock()
            .expect("lock")
            .insert("other".into(), Instant::now() - ALIVE_FOR);
        assert!(!holders.seen_alive("other"));
    }
}
