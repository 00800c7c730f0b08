//! Consumes `{prefix}.billable-users`: each count is folded into Redis (newest `as_of` wins,
//! [`BillingStore::put_count`]) and acknowledged only after Redis accepted it. While Redis is
//! down a count is held and retried; an undecodable message is logged, counted and dropped
//! (it can never become valid). The loop follows the broker through reconnects.

use super::store::BillingStore;
use crate::metrics::Metrics;
use futures_util::StreamExt;
use lapin::options::BasicAckOptions;
use shared::amqp::Broker;
use shared::backoff::Backoff;
use shared::billing::CountMessage;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Counts held unacknowledged at once.
const PREFETCH: u16 = 64;

/// Consumes until `stop` turns true.
pub async fn run(
    broker: Broker,
    store: BillingStore,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let queue = broker.topology().billable_users_queue();
    loop {
        if *stop.borrow() {
            return;
        }
        if !broker.wait_connected(Duration::from_secs(1)).await {
            continue;
        }
        let mut consumption = match broker.consume(&queue, PREFETCH).await {
            Ok(consumption) => consumption,
            Err(e) => {
                tracing::warn!(error = %e, queue = %queue, "cannot consume counts; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let delivery = tokio::select! {
                _ = super::stopped(&mut stop) => {
                    let _ = consumption.close("shutting down").await;
                    return;
                }
                delivery = consumption.consumer.next() => delivery,
            };
            let Some(Ok(delivery)) = delivery else {
                break; // the connection went away: consume again once it is back
            };
            fold(&store, &metrics, &delivery.data).await;
            if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                tracing::warn!(error = %e, "cannot acknowledge a count (it will be redelivered)");
            }
        }
    }
}

/// Stores one count, waiting for Redis as long as it takes.
async fn fold(store: &BillingStore, metrics: &Metrics, body: &[u8]) {
    let message: CountMessage = match serde_json::from_slice(body) {
        Ok(message) => message,
        Err(e) => {
            metrics.billing.count_result("undecodable");
            tracing::error!(error = %e, "undecodable billable-user count dropped");
            return;
        }
    };
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        match store
            .put_count(&message.source, &message.count, message.received_at)
            .await
        {
            Ok(kept) => {
                metrics
                    .billing
                    .count_result(if kept { "kept" } else { "older" });
                tracing::info!(
                    organization = %message.count.organization_id,
                    billable_users = message.count.billable_users,
                    as_of = %message.count.as_of,
                    kept,
                    "billable-user count"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store a count (Redis); waiting");
                backoff.wait().await;
            }
        }
    }
}
