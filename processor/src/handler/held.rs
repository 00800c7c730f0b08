//! A held alert: what a worker keeps, unacknowledged, while its group's next Syncro call is
//! due, and how it is settled.
//!
//! A storm holds thousands of these at once, so a [`Held`] keeps only the delivery's acker
//! (not the message), its id and when ingest received it. What the call needs of the alert
//! (ids, time, text) is in its group's list in Redis (`store::pending`), where whichever
//! worker makes the group's call finds it. The claim on the message id costs nothing here
//! either (`store::claims`).
//!
//! A worker settles its held alerts by what their records say (`Store::settlements`):
//! - [`settle_done`]: the outcome is recorded (by this worker's call or another's):
//!   acknowledge, release the claims;
//! - [`give_back`]: the group's call failed (its failure is recorded for the next copy to
//!   take to a retry tier or the dead-letter queue), or nothing was decided (the worker
//!   stops, an alert waited `max_hold_secs`, an entry a dead worker took and never
//!   recorded): release the claims, then give the messages back to the queue.

use super::Services;
use chrono::{DateTime, Utc};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Acker;

/// One alert waiting for its group's next call.
pub(crate) struct Held {
    pub(crate) acker: Acker,
    pub(crate) message_id: Box<str>,
    pub(crate) received_at: DateTime<Utc>,
}

/// The message ids of `entries`.
pub(crate) fn ids(entries: &[Held]) -> Vec<&str> {
    entries.iter().map(|e| &*e.message_id).collect()
}

/// The alerts' outcome is recorded: acknowledge each, then release their claims.
pub(crate) async fn settle_done(s: &Services, entries: Vec<Held>) {
    if entries.is_empty() {
        return;
    }
    let now = Utc::now();
    for entry in &entries {
        if let Err(e) = entry.acker.ack(BasicAckOptions::default()).await {
            // The channel is gone: the broker redelivers, and the outcome makes it a duplicate.
            tracing::warn!(error = %e, "could not acknowledge");
            continue;
        }
        let latency = (now - entry.received_at).to_std().unwrap_or_default();
        s.metrics.processing_seconds.observe(latency.as_secs_f64());
    }
    s.metrics.held.dec_by(entries.len() as i64);
    if let Err(e) = s.store.release_claims(&ids(&entries)).await {
        // Their outcome is recorded: a copy that finds a claim waits for the outcome, not
        // for the claim.
        tracing::warn!(error = %e, "could not release the alerts' claims");
    }
}

/// Releases the claims (waiting for Redis if it is down: [`release_claims_waiting`]), then
/// gives the messages back to the queue.
pub(crate) async fn give_back(s: &Services, entries: Vec<Held>) {
    if entries.is_empty() {
        return;
    }
    release_claims_waiting(s, &ids(&entries)).await;
    s.metrics.held.dec_by(entries.len() as i64);
    let requeue = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    for entry in entries {
        if let Err(e) = entry.acker.nack(requeue).await {
            tracing::warn!(error = %e, "could not give the message back; the broker will redeliver it");
        }
    }
}

/// Releases this process's claims on `message_ids`, waiting for Redis if it is down: a copy
/// delivered while a claim of this process stands (the alert's retry, its redelivery) would
/// wait for the claim to expire.
pub(crate) async fn release_claims_waiting(s: &Services, message_ids: &[&str]) {
    let mut backoff = shared::backoff::Backoff::new(
        std::time::Duration::from_millis(100),
        s.config.current().worker.redis_retry_max_backoff(),
    );
    while let Err(e) = s.store.release_claims(message_ids).await {
        tracing::warn!(error = %e, "cannot release alerts' claims (Redis); waiting");
        backoff.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_alert_stays_small() {
        let size = std::mem::size_of::<Held>();
        eprintln!("Held: {size} bytes");
        assert!(size <= 96, "{size} bytes per held alert, before its id");
    }
}
