//! Syncro's rate limit: a sliding window of N requests per client (by IP, or by a header).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Request times per client within the current window.
#[derive(Default)]
pub struct RateLimiter {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Admits the request and records it, or refuses it with the time until a slot frees up.
    /// Refused requests are not recorded, so a client that keeps knocking is let in again as
    /// soon as its old requests age out of the window.
    pub fn check(
        &mut self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        if limit == 0 {
            return Ok(());
        }
        let times = match self.windows.get_mut(key) {
            Some(times) => times,
            None => self.windows.entry(key.to_string()).or_default(),
        };
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.saturating_duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn admits_the_limit_then_refuses_until_the_oldest_ages_out() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(rl
                .check("a", 3, MINUTE, t0 + Duration::from_secs(i))
                .is_ok());
        }
        let wait = rl.check("a", 3, MINUTE, t0 + Duration::from_secs(10));
        assert_eq!(wait, Err(Duration::from_secs(50)));
        assert!(rl
            .check("a", 3, MINUTE, t0 + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn clients_have_separate_windows_and_zero_means_off() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        assert!(rl.check("a", 1, MINUTE, t0).is_ok());
        assert!(rl.check("a", 1, MINUTE, t0).is_err());
        assert!(rl.check("b", 1, MINUTE, t0).is_ok());
        for _ in 0..1000 {
            assert!(rl.check("a", 0, MINUTE, t0).is_ok());
        }
    }
}
