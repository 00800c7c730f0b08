//! One Syncro request budget for every worker of a deployment, kept in Redis.
//!
//! Syncro allows 180 requests a minute per IP address, whatever the number of workers behind
//! it. The limiter is GCRA (the generic cell rate algorithm) in one atomic Lua script: each
//! admitted request moves a shared "theoretical arrival time" one interval on, so requests are
//! spaced evenly instead of spent in bursts that a sliding-window limit would punish. The
//! interval is taken from 97 % of the configured budget, a margin for the jitter between the
//! moment a request is admitted and the moment Syncro counts it.
//!
//! A 429 from Syncro pauses every worker: [`RateLimiter::pause`] writes a deadline that the
//! same script honours before admitting anything.

use crate::store::{Result, Store};
use deadpool_redis::redis;
use std::time::{Duration, Instant};

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
