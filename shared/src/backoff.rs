//! Capped, jittered exponential backoff: the one way every loop that waits for something to
//! come back (the broker, Redis, Syncro) spaces its attempts.
//!
//! Delays double from `first` up to `cap`, and each is drawn at random from its upper half
//! ("equal jitter"): half of it is fixed, so a failing dependency is not hammered, and half
//! is random, so a fleet that lost the same broker at the same moment does not reconnect in
//! lockstep.

use rand::Rng;
use std::time::Duration;

/// The shortest delay, so a zero `first` (a configuration slip) cannot turn a wait loop into
/// a busy loop.
const FLOOR: Duration = Duration::from_millis(1);

/// The delays of one wait loop; [`Backoff::reset`] it once the awaited thing answers.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first delay, where [`Backoff::reset`] starts again.
    first: Duration,
    /// No delay is longer, however many attempts failed.
    cap: Duration,
    /// The next delay before jitter: doubles at each step until it reaches `cap`.
    ceiling: Duration,
}

impl Backoff {
    /// Delays from about `first`, doubling, never above `cap` (a `cap` below `first` is
    /// raised to it, and both to at least a millisecond).
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        let first = first.max(FLOOR);
        Backoff {
            first,
            cap: cap.max(first),
            ceiling: first,
        }
    }

    /// The next delay: between half of the current step and the whole of it, then the step
    /// doubles (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = ceiling.saturating_mul(2).min(self.cap);
        let fixed = ceiling / 2;
        let spread = u64::try_from((ceiling - fixed).as_nanos()).unwrap_or(u64::MAX);
        fixed + Duration::from_nanos(rand::rng().random_range(0..=spread))
    }

    /// Sleeps for [`Backoff::next_delay`].
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Starts again from `first`: the awaited thing answered, so the next outage is new.
    pub fn reset(&mut self) {
        self.ceiling = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(5);

    /// The un-jittered delay of step `i` (from 0).
    fn step(i: u32) -> Duration {
        FIRST.saturating_mul(2u32.saturating_pow(i)).min(CAP)
    }

    #[test]
    fn delays_double_from_first_and_stay_between_half_and_whole_of_each_step() {
        let mut backoff = Backoff::new(FIRST, CAP);
        for i in 0..8 {
            let d = step(i);
            let delay = backoff.next_delay();
            assert!(
                delay >= d / 2 && delay <= d,
                "step {i}: {delay:?} not within [{:?}, {d:?}]",
                d / 2
            );
        }
        // Step 4 is 1.6 s, so even its shortest draw is above the first step's longest.
        let mut backoff = Backoff::new(FIRST, CAP);
        let first = backoff.next_delay();
        let fifth = (0..4).map(|_| backoff.next_delay()).last().expect("four");
        assert!(fifth > first, "{fifth:?} after {first:?}");
    }

    #[test]
    fn no_delay_exceeds_the_cap_however_many_attempts_failed() {
        let mut backoff = Backoff::new(FIRST, CAP);
        for _ in 0..200 {
            let delay = backoff.next_delay();
            assert!(delay <= CAP, "{delay:?}");
        }
        // At the cap the jitter still spreads delays over its upper half.
        let delay = backoff.next_delay();
        assert!(delay >= CAP / 2, "{delay:?}");
    }

    #[test]
    fn reset_starts_again_from_the_first_delay() {
        let mut backoff = Backoff::new(FIRST, CAP);
        for _ in 0..10 {
            backoff.next_delay();
        }
        backoff.reset();
        let delay = backoff.next_delay();
        assert!(delay >= FIRST / 2 && delay <= FIRST, "{delay:?}");
    }

    #[test]
    fn two_backoffs_do_not_wait_in_lockstep() {
        let mut a = Backoff::new(FIRST, CAP);
        let mut b = Backoff::new(FIRST, CAP);
        let a: Vec<Duration> = (0..20).map(|_| a.next_delay()).collect();
        let b: Vec<Duration> = (0..20).map(|_| b.next_delay()).collect();
        assert_ne!(a, b, "identical delays: no jitter");
    }

    #[test]
    fn a_zero_first_delay_or_cap_still_waits() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        for _ in 0..5 {
            let delay = backoff.next_delay();
            assert!(delay > Duration::ZERO && delay <= FLOOR, "{delay:?}");
        }
    }

    #[tokio::test]
    async fn wait_sleeps_at_least_half_the_step() {
        let first = Duration::from_millis(20);
        let mut backoff = Backoff::new(first, first);
        let started = tokio::time::Instant::now();
        backoff.wait().await;
        assert!(started.elapsed() >= first / 2, "{:?}", started.elapsed());
    }
}
