//! One Syncro request budget for every worker of a deployment, kept in Redis, spent by
//! priority.
//!
//! Syncro allows 180 requests a minute per IP address, whatever the number of workers behind
//! it. The limiter is GCRA (the generic cell rate algorithm) in one atomic Lua script: each
//! admitted request moves a shared "theoretical arrival time" one interval on, so requests are
//! spaced evenly instead of spent in bursts that a sliding-window limit would punish. The
//! interval is taken from 97 % of the configured budget, a margin for the jitter between the
//! moment a request is admitted and the moment Syncro counts it.
//!
//! **Who goes next** is decided fleet-wide, in the same script: every waiting request is a
//! member of one sorted set, ordered by its [`syncro::Priority`]: class (new tickets, status
//! reads, notes, background), then urgency (critical first), then a *fair-queuing tag*, then
//! arrival. The tag is start-time fair queuing over flows (a customer for creations, a ticket
//! for notes): a flow's next request is tagged one past the later of the flow's last tag and
//! the tag last admitted, so a customer whose storm queued 100 creations holds tags
//! `v+1 ... v+100`, and another customer's first creation, tagged `v+1`, goes before all but
//! one of them. Only the set's head is admitted; the others are told how long to wait (their
//! rank times the interval, at most [`POLL`]) and ask again, refreshing their place. A waiter
//! that stops asking (its worker died) drops out after [`WAITER_TTL`].
//!
//! A 429 from Syncro pauses every worker: the client's gate ([`limited_client`]) calls
//! [`RateLimiter::pause`], which writes a deadline that the same script honours before
//! admitting anything.

use super::connection::{Result, Store};
use crate::metrics::{BudgetLabels, Metrics};
use anyhow::Context;
use rand::Rng;
use shared::backoff::Backoff;
use shared::config::Settings;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncro::{ClientConfig, Priority, RequestGate, Route, SyncroClient};

/// Share of the configured budget actually used.
const BUDGET_SHARE: f64 = 0.97;
/// Longest a waiting request sleeps before asking again (and so refreshing its place).
const POLL: Duration = Duration::from_millis(1000);
/// How long a waiting request keeps its place without asking again.
const WAITER_TTL: Duration = Duration::from_millis(3000);
/// How long the limiter's keys outlive the last request (an idle deployment leaves none).
const IDLE_TTL_MS: u64 = 3_600_000;

const ADMIT: &str = r#"
-- KEYS[1]: theoretical arrival time (ms), KEYS[2]: pause deadline (ms),
-- KEYS[3]: waiting requests (sorted set, every score 0: ordered by member),
-- KEYS[4]: their deadlines (sorted set, score = ms), KEYS[5]: each flow's last tag (hash),
-- KEYS[6]: the tag last admitted and the arrival counter (hash)
-- ARGV[1]: emission interval (ms), ARGV[2]: class digit, ARGV[3]: urgency digit,
-- ARGV[4]: flow, ARGV[5]: waiter id, ARGV[6]: the member from the last answer ('' at first),
-- ARGV[7]: how long a silent waiter keeps its place (ms), ARGV[8]: idle expiry (ms)
-- Returns {0, member} when admitted, else {milliseconds to wait, member}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(expired) do redis.call('ZREM', KEYS[3], m) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
local member = ARGV[6]
if member == '' or not redis.call('ZSCORE', KEYS[4], member) then
  local vt = tonumber(redis.call('HGET', KEYS[6], 'vt') or '0')
  local last = tonumber(redis.call('HGET', KEYS[5], ARGV[4]) or '0')
  local tag = math.max(vt, last) + 1
  redis.call('HSET', KEYS[5], ARGV[4], tag)
  local seq = redis.call('HINCRBY', KEYS[6], 'seq', 1)
  member = string.format('%s%s%015d%015d|%s|%s', ARGV[2], ARGV[3], tag, seq, ARGV[5], ARGV[4])
  redis.call('ZADD', KEYS[3], 0, member)
end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[7]), member)
for i = 3, 6 do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
local interval = tonumber(ARGV[1])
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if pause > tat then tat = pause end
local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if head ~= member then
  local rank = redis.call('ZRANK', KEYS[3], member) or 1
  return {math.max(1, math.ceil(tat - now + rank * interval)), member}
end
if tat > now then
  return {math.ceil(tat - now), member}
end
redis.call('ZREM', KEYS[3], member)
redis.call('ZREM', KEYS[4], member)
local tag = tonumber(string.sub(member, 3, 17))
local vt = tonumber(redis.call('HGET', KEYS[6], 'vt') or '0')
if tag > vt then redis.call('HSET', KEYS[6], 'vt', tag) end
if tonumber(redis.call('HGET', KEYS[5], ARGV[4]) or '0') <= tag then
  redis.call('HDEL', KEYS[5], ARGV[4])
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 1000)
return {0, member}
"#;

const PAUSE: &str = r#"
-- KEYS[1]: pause deadline (ms); ARGV[1]: pause length (ms). Only ever extends the pause.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local deadline = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if deadline > current then
  redis.call('SET', KEYS[1], string.format('%.3f', deadline), 'PX', tonumber(ARGV[1]) + 1000)
end
return 0
"#;

/// The shared limiter; cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    store: Store,
    interval_ms: f64,
    admit: redis::Script,
    pause: redis::Script,
    /// The shared budget's name when it is not the prefix.
    budget: Option<String>,
}

impl RateLimiter {
    pub fn new(store: Store, requests_per_minute: u32) -> RateLimiter {
        let per_minute = f64::from(requests_per_minute.max(1)) * BUDGET_SHARE;
        RateLimiter {
            store,
            interval_ms: 60_000.0 / per_minute,
            admit: redis::Script::new(ADMIT),
            pause: redis::Script::new(PAUSE),
            budget: None,
        }
    }

    /// The limiter of `[syncro]`: its budget per minute, shared under its budget name (the
    /// prefix unless `syncro.budget` names another).
    pub fn from_settings(store: Store, syncro: &shared::config::SyncroSettings) -> RateLimiter {
        let mut limiter = RateLimiter::new(store, syncro.requests_per_minute);
        limiter.budget = syncro.budget.clone().filter(|b| !b.trim().is_empty());
        limiter
    }

    /// The limiter's keys: `tat`, `pause`, `waiting`, `deadlines`, `tags`, `state`. One hash
    /// tag so all live in the same Redis Cluster slot (the script uses them together).
    fn keys(&self) -> [String; 6] {
        let name = self.budget.as_deref().unwrap_or(self.store.prefix());
        let tag = format!("{{{name}:ratelimit}}");
        ["tat", "pause", "waiting", "deadlines", "tags", "state"].map(|k| format!("{tag}:{k}"))
    }

    /// Waits until the deployment's budget admits one more request of `priority`, after
    /// every request of a higher priority (see the module documentation); returns how long
    /// it waited.
    pub async fn acquire(&self, priority: &Priority) -> Result<Duration> {
        let started = Instant::now();
        let keys = self.keys();
        let waiter = format!("{:016x}", rand::rng().random::<u64>());
        let mut member = String::new();
        loop {
            let (wait_ms, place): (i64, String) = {
                let mut conn = self.store.conn().await?;
                let mut call = self.admit.prepare_invoke();
                for key in &keys {
                    call.key(key);
                }
                call.arg(self.interval_ms)
                    .arg(priority.class as u8)
                    .arg(priority.urgency.min(9))
                    .arg(&priority.flow)
                    .arg(&waiter)
                    .arg(&member)
                    .arg(WAITER_TTL.as_millis() as u64)
                    .arg(IDLE_TTL_MS)
                    .invoke_async(&mut conn)
                    .await?
            };
            if wait_ms <= 0 {
                return Ok(started.elapsed());
            }
            member = place;
            let wait = Duration::from_millis(wait_ms as u64).min(POLL);
            tokio::time::sleep(wait).await;
        }
    }

    /// Stops every worker from sending for `length` (Syncro said 429).
    pub async fn pause(&self, length: Duration) -> Result<()> {
        let [_, pause, ..] = self.keys();
        let mut conn = self.store.conn().await?;
        let _: i64 = self
            .pause
            .key(&pause)
            .arg(length.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}

/// Admits Syncro requests through the deployment's shared budget, and spreads a 429 to every
/// worker. When Redis is unreachable it waits for it: sending without the shared budget
/// would risk a 429 storm across the fleet.
struct LimiterGate {
    limiter: RateLimiter,
    metrics: Arc<Metrics>,
}

impl RequestGate for LimiterGate {
    fn admit(&self, _route: Route) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let priority = syncro::priority::current();
        Box::pin(async move {
            let labels = BudgetLabels::of(&priority);
            let waiting = self.metrics.budget_waiting.get_or_create(&labels).clone();
            waiting.inc();
            let _waiting = scopeguard(move || {
                waiting.dec();
            });
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            loop {
                match self.limiter.acquire(&priority).await {
                    Ok(waited) => {
                        self.metrics
                            .rate_limit_wait_seconds
                            .inc_by(waited.as_secs_f64());
                        self.metrics.budget_admitted.get_or_create(&labels).inc();
                        self.metrics
                            .budget_wait_seconds
                            .get_or_create(&labels)
                            .observe(waited.as_secs_f64());
                        return;
                    }
                    Err(e) => {
                        self.metrics.redis_up.set(0);
                        tracing::warn!(error = %e, "rate limiter unavailable (Redis); waiting");
                        backoff.wait().await;
                    }
                }
            }
        })
    }

    fn throttled(&self, retry_after: Option<Duration>) {
        // Syncro documents no Retry-After: back off 5 s when it sends none.
        let pause = retry_after.unwrap_or(Duration::from_secs(5));
        let limiter = self.limiter.clone();
        tokio::spawn(async move {
            if let Err(e) = limiter.pause(pause).await {
                tracing::warn!(error = %e, "could not share the 429 pause");
            }
        });
    }
}

/// The Syncro client of a deployment: its URL, token and timeouts, its metrics, and (with a
/// `limiter`) every request admitted through the fleet's shared budget. Workers and
/// `relayctl` both use it, so an operator's command never pushes the workers into a 429.
pub fn limited_client(
    settings: &Settings,
    limiter: Option<RateLimiter>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<SyncroClient> {
    // A missing token is a configuration problem reported before a worker starts.
    let config = ClientConfig::from_settings(&settings.syncro).context("syncro.token: not set")?;
    let mut client = SyncroClient::new(&config)
        .context("cannot build the Syncro client")?
        .with_observer(metrics.clone());
    if let Some(limiter) = limiter {
        client = client.with_gate(Arc::new(LimiterGate { limiter, metrics }));
    }
    Ok(client)
}

/// Runs `f` when dropped: the waiting gauge comes down however the wait ends (admitted, or
/// the waiting request abandoned).
fn scopeguard(f: impl FnOnce() + Send) -> impl Drop + Send {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
