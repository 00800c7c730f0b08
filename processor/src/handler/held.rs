//! A held alert: what waits, unacknowledged, in its group's batch until a Syncro call carries
//! it, and how it is settled from there.
//!
//! A storm holds thousands of these at once, so a [`Held`] keeps only what the comment and
//! the settlement need: the delivery's acker (not the message), the ids, the time, and the
//! alert's text, shared by every repeat of the alert ([`Texts`]). Its claim on the message
//! id costs it nothing (`store::claims`).
//!
//! Settling, once the call is decided:
//! - [`settle_done`]: the outcome is recorded: acknowledge, release the claims;
//! - [`settle_failed`]: Syncro refused or failed: record the failure for each alert, release
//!   the claims, give the messages back to the queue; the next copy of each goes to its retry
//!   tier or the dead-letter queue (`worker::consumer`);
//! - [`give_back`]: nothing was decided (the worker stops, an alert waited `max_hold_secs`):
//!   release the claims and give the messages back.

use super::{HandleError, Services};
use crate::plan::Listed;
use crate::store::Failure;
use chrono::{DateTime, Utc};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Acker;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use syncro::classify;

/// One alert waiting for its group's next call.
pub(crate) struct Held {
    pub(crate) acker: Acker,
    pub(crate) message_id: Box<str>,
    pub(crate) alert_id: Box<str>,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) received_at: DateTime<Utc>,
    /// The alert's lines without its id and time, shared with its repeats.
    pub(crate) text: Arc<str>,
    pub(crate) resolved: bool,
    /// Redis lost its data recently: its ticket may hold this alert already.
    pub(crate) recovering: bool,
}

impl Held {
    pub(crate) fn listed(&self) -> Listed<'_> {
        Listed {
            alert_id: &self.alert_id,
            message_id: &self.message_id,
            occurred_at: self.occurred_at,
            text: &self.text,
        }
    }
}

/// The message ids of `entries`.
pub(crate) fn ids(entries: &[Held]) -> Vec<&str> {
    entries.iter().map(|e| &*e.message_id).collect()
}

/// One copy of each distinct alert text while any held alert uses it: a storm's repeats of
/// one alert share it.
#[derive(Default)]
pub(crate) struct Texts {
    texts: Mutex<(HashMap<u64, Weak<str>>, usize)>,
}

impl Texts {
    pub(crate) fn share(&self, text: String) -> Arc<str> {
        use std::hash::{Hash, Hasher};
        // Fixed keys: the same text must find the same slot every time.
        let mut fixed = std::hash::DefaultHasher::new();
        text.hash(&mut fixed);
        let hash = fixed.finish();
        let mut guard = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        let (map, pruned_at) = &mut *guard;
        if let Some(shared) = map.get(&hash).and_then(Weak::upgrade) {
            if *shared == *text {
                return shared;
            }
        }
        let shared: Arc<str> = Arc::from(text);
        map.insert(hash, Arc::downgrade(&shared));
        if map.len() > (*pruned_at).max(1024) * 2 {
            map.retain(|_, weak| weak.strong_count() > 0);
            *pruned_at = map.len();
        }
        shared
    }
}

/// The alerts' outcome is recorded: acknowledge each, then release their claims.
pub(crate) async fn settle_done(s: &Services, entries: Vec<Held>) {
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
    release(s, &entries).await;
}

/// The batch's call failed: each alert's failure is recorded, and its message given back
/// for its next copy to take the failure to a retry tier or the dead-letter queue. When the
/// record cannot be written (Redis is down) the message is given back without it and is
/// handled afresh.
pub(crate) async fn settle_failed(s: &Services, entries: Vec<Held>, error: &HandleError) {
    if let HandleError::Syncro(e) = error {
        let failure = Failure {
            kind: error_kind(e),
            why: e.to_string(),
            retryable: classify(e).is_retryable(),
        };
        if let Err(e) = s.store.record_failures(&ids(&entries), &failure).await {
            tracing::warn!(error = %e, "could not record the failure; the alerts will be handled again");
        }
    }
    give_back(s, entries).await;
}

/// Releases the claims and gives the messages back to the queue, undecided. The claims are
/// released first, waiting for Redis if it is down: a copy delivered while this process's
/// claim stands would wait for the claim to expire.
pub(crate) async fn give_back(s: &Services, entries: Vec<Held>) {
    let mut backoff = shared::backoff::Backoff::new(
        std::time::Duration::from_millis(100),
        s.config.current().worker.redis_retry_max_backoff(),
    );
    while let Err(e) = s.store.release_claims(&ids(&entries)).await {
        tracing::warn!(error = %e, "cannot release the claims of alerts given back (Redis); waiting");
        backoff.wait().await;
    }
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

async fn release(s: &Services, entries: &[Held]) {
    if let Err(e) = s.store.release_claims(&ids(entries)).await {
        // Claims of a live worker expire by themselves; its death frees them at once.
        tracing::warn!(error = %e, "could not release the alerts' claims");
    }
}

/// A short, stable label for the kind of a Syncro failure.
pub(crate) fn error_kind(error: &syncro::SyncroError) -> String {
    match error.status() {
        Some(status) => format!("syncro_{status}"),
        None => format!("syncro_{}", error.kind().as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_alert_stays_small_and_repeats_share_their_text() {
        let size = std::mem::size_of::<Held>();
        eprintln!("Held: {size} bytes");
        assert!(size <= 160, "{size} bytes per held alert, before its ids");
        let texts = Texts::default();
        let a = texts.share("Alert: x\nSeverity: high\n".to_string());
        let b = texts.share("Alert: x\nSeverity: high\n".to_string());
        let c = texts.share("Alert: y\n".to_string());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        drop((a, b));
        let again = texts.share("Alert: x\nSeverity: high\n".to_string());
        assert_eq!(&*again, "Alert: x\nSeverity: high\n");
    }
}
