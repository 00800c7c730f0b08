//! One Syncro request budget for every worker of a deployment, kept in Redis.
//!
//! Syncro allows 180 requests a minute per IP address, whatever the number of workers behind
//! it. The limiter is GCRA (the generic cell rate algorithm) in one atomic Lua script: each
//! admitted request moves a shared "theoretical arrival time" one interval on, so requests are
//! spaced evenly instead of spent in bursts that a sliding-window limit would punish. The
//! interval is taken from 97 % of the configured budget, a margin for the jitter between the
//! moment a request is admitted and the moment Syncro counts it.
//!
//! A 429 from Syncro pauses every worker: the client's gate ([`limited_client`]) calls
//! [`RateLimiter::pause`], which writes a deadline that the same script honours before
//! admitting anything.

use super::connection::{Result, Store};
use crate::metrics::Metrics;
use anyhow::Context;
use shared::backoff::Backoff;
use shared::config::Settings;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncro::{ClientConfig, RequestGate, Route, SyncroClient};

/// Share of the configured budget actually used.
const BUDGET_SHARE: f64 = 0.97;

const ADMIT: &str = r#"
-- KEYS[1]: theoretical arrival time (ms), KEYS[2]: pause deadline (ms)
-- ARGV[1]: emission interval (ms)
-- Returns 0 when admitted, else the milliseconds to wait before asking again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then
  return math.ceil(pause - now)
end
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
if tat > now then
  return math.ceil(tat - now)
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 1000)
return 0
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

    fn keys(&self) -> (String, String) {
        // One hash tag so both keys live in the same Redis Cluster slot (the script uses both).
        let name = self.budget.as_deref().unwrap_or(self.store.prefix());
        let tag = format!("{{{name}:ratelimit}}");
        (format!("{tag}:tat"), format!("{tag}:pause"))
    }

    /// Waits until the deployment's budget admits one more request; returns how long it
    /// waited.
    pub async fn acquire(&self) -> Result<Duration> {
        let started = Instant::now();
        let (tat, pause) = self.keys();
        loop {
            let wait_ms: i64 = {
                let mut conn = self.store.conn().await?;
                self.admit
                    .key(&tat)
                    .key(&pause)
                    .arg(self.interval_ms)
                    .invoke_async(&mut conn)
                    .await?
            };
            if wait_ms <= 0 {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await;
        }
    }

    /// Stops every worker from sending for `length` (Syncro said 429).
    pub async fn pause(&self, length: Duration) -> Result<()> {
        let (_, pause) = self.keys();
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
        Box::pin(async move {
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            loop {
                match self.limiter.acquire().await {
                    Ok(waited) => {
                        self.metrics
                            .rate_limit_wait_seconds
                            .inc_by(waited.as_secs_f64());
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
