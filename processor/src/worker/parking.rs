//! Parked alerts: with `[mapping] unmapped = "park"`, alerts of organizations without a
//! mapping wait in `{prefix}.alerts.parked` (the consumer puts them there) instead of
//! becoming catch-all tickets; [`release`] moves them back to the work queue once their
//! organization is mapped (or ignored, or parking is turned off), in the file or in the
//! console ([`crate::config::MappingConfig::parks`], one rule for parking and releasing). A pass
//! runs at start, after a reload, and when the console's mappings change (`startup.rs`).
//!
//! A release pass goes through the parked queue once, in order: each message of an
//! organization that no longer parks is republished to the work queue, every other one to the
//! back of the parked queue, each with a confirm before the original is acknowledged. So
//! released alerts reach the work queue in their original order, the ones still waiting keep
//! theirs, and an interrupted pass duplicates one message at worst (same message id: the
//! handler's idempotency makes it one ticket). Only one worker of the fleet runs a pass at a
//! time (a Redis lease); a worker that finds the lease taken waits for it and then runs its
//! own pass, so a reload is never lost behind another worker's older pass.

use crate::config::reload::ConfigHandle;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use shared::amqp::topology::{PARKED_KEY, WORK_KEY};
use shared::amqp::{Broker, PublishError};
use shared::backoff::Backoff;
use shared::envelope;
use shared::message::AlertMessage;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Name of the fleet-wide lease on release passes.
pub const RELEASE_LEASE: &str = "release-parked";
/// How long the lease lives without renewal (renewed while a pass runs).
const LEASE: Duration = Duration::from_secs(30);
/// How often a worker waiting for the lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// Longest wait for the broker's confirm of one republished message.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// What a release pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Messages moved to the work queue.
    pub released: u64,
    /// Messages moved to the back of the parked queue (their organization still parks).
    pub kept: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the broker failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the release lease was lost (Redis too slow); the pass stopped")]
    LeaseLost,
}

/// Runs one release pass, after waiting for the fleet's release lease.
pub async fn release(
    broker: &Broker,
    store: &Store,
    config: &ConfigHandle,
    metrics: &Metrics,
) -> Result<Released, ReleaseError> {
    let lease = loop {
        if let Some(lease) = store.lease(RELEASE_LEASE, LEASE).await? {
            break lease;
        }
        tokio::time::sleep(LEASE_POLL).await;
    };
    // The configuration as it is once the lease is ours: a reload that landed while waiting
    // counts.
    let config = config.current();
    let lost = AtomicBool::new(false);
    let pass = release_pass(broker, store, &config.mapping, metrics, &lost);
    let result = store.hold(&lease, LEASE, Some(&lost), pass).await;
    // A lease that cannot be released expires by itself.
    let _ = store.unlock(lease).await;
    result
}

async fn release_pass(
    broker: &Broker,
    store: &Store,
    mapping: &crate::config::MappingConfig,
    metrics: &Metrics,
    lost: &AtomicBool,
) -> Result<Released, ReleaseError> {
    let queue = broker.topology().parked_queue();
    let channel = broker.open_channel().await?;
    // Only the messages there now: the ones sent to the back are not looked at twice.
    let waiting = shared::amqp::topology::ready_messages(&channel, &queue).await?;
    let mut done = Released::default();
    for _ in 0..waiting {
        if lost.load(Ordering::SeqCst) {
            return Err(ReleaseError::LeaseLost);
        }
        let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await?
        else {
            break;
        };
        let delivery = &message.delivery;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        // An undecodable message is released too: the consumer dead-letters it with a reason.
        let org = serde_json::from_slice::<AlertMessage>(&delivery.data)
            .ok()
            .map(|m| m.alert.organization.id);
        let parks = org.as_deref().is_some_and(|id| mapping.parks(id));
        let key = if parks { PARKED_KEY } else { WORK_KEY };
        let attempts = envelope::attempts(&headers);
        let id = envelope::message_id_of(delivery);
        let copy = envelope::copy(&delivery.data, &id, &headers, key, attempts, None);
        broker.publish_confirmed(&[copy], CONFIRM_TIMEOUT).await?;
        delivery.ack(BasicAckOptions::default()).await?;
        if parks {
            done.kept += 1;
        } else {
            done.released += 1;
            metrics.released.inc();
            if let Some(org) = &org {
                if let Err(e) = store.count_parked(org, -1).await {
                    tracing::warn!(error = %e, "could not count the released alert");
                }
            }
        }
    }
    let _ = channel.close(200, "release pass done".into()).await;
    if done.released > 0 || done.kept > 0 {
        tracing::info!(
            released = done.released,
            still_parked = done.kept,
            "parked alerts release pass"
        );
    }
    Ok(done)
}

/// Runs a release pass until one succeeds (the broker or Redis may not be up yet), backing
/// off between attempts; for the worker's start and its reloads.
pub async fn release_until_done(
    broker: &Broker,
    store: &Store,
    config: &ConfigHandle,
    metrics: &Metrics,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        if broker.wait_connected(Duration::from_secs(30)).await {
            match release(broker, store, config, metrics).await {
                Ok(_) => return,
                Err(e) => tracing::warn!(error = %e, "release of parked alerts failed; retrying"),
            }
        }
        backoff.wait().await;
    }
}
