//! The worker loop: take messages from the work queue, let the [`Handler`] settle each, and
//! acknowledge, retry or dead-letter it.
//!
//! - Up to `prefetch` messages are handled at once (`basic.qos`).
//! - A message is acknowledged only once its effect is in Syncro (or it is a duplicate, or
//!   ignored). A retry or dead-letter copy is published with a confirm before the original
//!   is acknowledged, so a crash in between duplicates a message at worst, never loses one.
//! - An alert of an unmapped organization under `unmapped = "park"` is published (with a
//!   confirm) to the parked queue, then acknowledged; see [`crate::parking`].
//! - Redis unavailable: the message is held (neither acknowledged nor requeued) and handled
//!   again once Redis answers; as every handler holds, consumption pauses by itself.
//! - The broker connection lost: unacknowledged messages go back to the queue; the loop
//!   waits for the broker to reconnect and consumes again.
//! - Shutdown: stop consuming, give in-flight messages `drain_timeout_secs`, then close;
//!   whatever was not settled is redelivered to another worker.

use crate::handler::{HandleError, Handler, Settled};
use crate::syncro::{classify, Disposition, SyncroError};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use shared::amqp::topology::{header_i64, header_str, DEAD_KEY, PARKED_KEY};
use shared::amqp::{Broker, HeaderValue, Outgoing};
use shared::message::{
    AlertMessage, ALERT_ID_HEADER, SCHEMA_HEADER, SCHEMA_VERSION, SOURCE_HEADER,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Header: failed attempts so far.
pub const ATTEMPTS_HEADER: &str = "x-relay-attempts";
/// Dead-letter headers: why, what kind of failure, and when.
pub const ERROR_HEADER: &str = "x-relay-error";
pub const ERROR_KIND_HEADER: &str = "x-relay-error-kind";
pub const FAILED_AT_HEADER: &str = "x-relay-failed-at";

/// 429 answers handled by waiting in place before the message goes to a retry tier.
const IN_PLACE_429_RETRIES: u32 = 3;
/// Longest a publish of a retry or dead-letter copy may wait for its confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error text kept in a header.
const MAX_ERROR_TEXT: usize = 1000;

pub struct Consumer {
    pub handler: Handler,
    pub broker: Broker,
}

impl Consumer {
    /// Consumes until `shutdown` completes, then drains; see the module documentation.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let this = Arc::new(self);
        tokio::pin!(shutdown);
        let config = this.handler.shared().config.current();
        let settings = &config.worker;
        let drain = Duration::from_secs(settings.drain_timeout_secs);
        let prefetch = settings.prefetch;
        let queue = this.broker.topology().work_queue();
        let mut tasks = JoinSet::new();
        loop {
            // Wait for the broker (it reconnects by itself).
            let channel = loop {
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    connected = this.broker.wait_connected(Duration::from_secs(5)) => {
                        if connected {
                            match this.broker.open_channel().await {
                                Ok(channel) => break channel,
                                Err(e) => tracing::warn!(error = %e, "cannot open a channel; retrying"),
                            }
                        }
                    }
                }
            };
            let consumer = async {
                channel
                    .basic_qos(prefetch, BasicQosOptions::default())
                    .await?;
                channel
                    .basic_consume(
                        queue.as_str().into(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await
            }
            .await;
            let mut consumer = match consumer {
                Ok(consumer) => consumer,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot consume; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            tracing::info!(queue = %queue, prefetch, "consuming");
            loop {
                tokio::select! {
                    _ = &mut shutdown => {
                        tracing::info!(in_flight = tasks.len(), "shutdown: no new messages; draining");
                        let _ = channel
                            .basic_cancel(consumer.tag().as_str().into(), BasicCancelOptions::default())
                            .await;
                        let drained = tokio::time::timeout(drain, async {
                            while tasks.join_next().await.is_some() {}
                        })
                        .await;
                        if drained.is_err() {
                            tracing::warn!(left = tasks.len(), "drain bound reached; unsettled messages will be redelivered");
                            tasks.abort_all();
                        }
                        let _ = channel.close(200, "shutting down".into()).await;
                        return Ok(());
                    }
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    delivery = consumer.next() => match delivery {
                        Some(Ok(delivery)) => {
                            let this = this.clone();
                            tasks.spawn(async move { this.process(delivery).await });
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "consumer failed; consuming again after reconnect");
                            break;
                        }
                        None => {
                            tracing::warn!("consumer cancelled by the broker; consuming again");
                            break;
                        }
                    },
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Settles one delivery: handle, then ack, retry or dead-letter.
    async fn process(&self, delivery: Delivery) {
        let shared = self.handler.shared();
        let metrics = &shared.metrics;
        metrics.consumed.inc();
        metrics.in_flight.inc();
        // Borrowed, not cloned: every held alert would keep a second copy of its headers.
        let no_headers = FieldTable::default();
        let headers = delivery
            .properties
            .headers()
            .as_ref()
            .unwrap_or(&no_headers);
        let attempts = header_i64(headers, ATTEMPTS_HEADER).unwrap_or(0).max(0) as u32;
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string());
        let span = tracing::info_span!(
            "alert",
            alert_id = header_str(headers, ALERT_ID_HEADER).unwrap_or_default(),
            source = header_str(headers, SOURCE_HEADER).unwrap_or_default(),
            message_id = message_id.as_deref().unwrap_or_default(),
        );
        async {
            let message = match decode(&delivery, headers) {
                Ok(message) => Arc::new(message),
                Err(why) => {
                    Box::pin(self.dead_letter(&delivery, headers, attempts, "undecodable", &why))
                        .await;
                    return;
                }
            };
            let message_id = message_id.unwrap_or_else(|| message.message_id());
            let mut backoff_429 = Duration::from_secs(5);
            let mut in_place_429 = 0;
            let mut redis_backoff = Duration::from_millis(100);
            loop {
                match self.handler.handle(message.clone(), &message_id).await {
                    Ok(Settled::Park) => {
                        metrics.redis_up.set(1);
                        // Boxed like `fail` below: its publish and Redis futures are large,
                        // and inlined they would be held by every waiting alert's future.
                        Box::pin(self.park(
                            &delivery,
                            headers,
                            attempts,
                            &message.alert.organization.id,
                        ))
                        .await;
                        return;
                    }
                    Ok(settled) => {
                        metrics.redis_up.set(1);
                        if self.ack(&delivery).await {
                            let latency = (chrono::Utc::now() - message.received_at)
                                .to_std()
                                .unwrap_or_default();
                            metrics.processing_seconds.observe(latency.as_secs_f64());
                            if settled != Settled::Noted && settled != Settled::Created {
                                tracing::info!(outcome = ?settled, "alert settled");
                            }
                        }
                        return;
                    }
                    Err(HandleError::Stopping) => return,
                    Err(HandleError::Store(e)) => {
                        metrics.redis_up.set(0);
                        tracing::warn!(error = %e, retry_in = ?redis_backoff, "Redis unavailable; holding the message");
                        tokio::time::sleep(redis_backoff).await;
                        let max = Duration::from_millis(
                            shared.config.current().worker.redis_retry_max_backoff_ms,
                        );
                        redis_backoff = (redis_backoff * 2).min(max);
                    }
                    Err(HandleError::Syncro(e)) => {
                        let disposition = classify(&e);
                        if e.status() == Some(429) && in_place_429 < IN_PLACE_429_RETRIES {
                            // The limiter paused every worker; wait here instead of spending
                            // one of the message's attempts.
                            in_place_429 += 1;
                            let wait = match disposition {
                                Disposition::Retryable { retry_after: Some(after) } => after,
                                _ => backoff_429,
                            };
                            backoff_429 = (backoff_429 * 2).min(Duration::from_secs(60));
                            tracing::warn!(wait = ?wait, "Syncro answered 429; waiting");
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        // Boxed, like the handler's Syncro calls: this future waits in memory
                        // for as long as its alert is being coalesced.
                        Box::pin(self.fail(&delivery, headers, attempts, &e, disposition)).await;
                        return;
                    }
                }
            }
        }
        .instrument(span)
        .await;
        metrics.in_flight.dec();
    }

    async fn ack(&self, delivery: &Delivery) -> bool {
        match delivery.ack(BasicAckOptions::default()).await {
            Ok(_) => true,
            Err(e) => {
                // The channel is gone: the broker redelivers the message, and the recorded
                // outcome makes that a skipped duplicate.
                tracing::warn!(error = %e, "could not acknowledge");
                false
            }
        }
    }

    /// Moves an alert of an unmapped organization to the parked queue: published with a
    /// confirm, then acknowledged (a crash in between parks it twice at worst; the copies
    /// share the message id, so only one becomes a ticket).
    async fn park(&self, delivery: &Delivery, headers: &FieldTable, attempts: u32, org_id: &str) {
        let copy = copy_of(delivery, headers, PARKED_KEY, attempts, None);
        match self
            .broker
            .publish_confirmed(&[copy], CONFIRM_TIMEOUT)
            .await
        {
            Ok(()) => {
                let shared = self.handler.shared();
                shared.metrics.parked.inc();
                if let Err(e) = shared.store.count_parked(org_id, 1).await {
                    tracing::warn!(error = %e, "could not count the parked alert");
                }
                tracing::info!(
                    organization = org_id,
                    "alert parked: its organization has no mapping"
                );
                self.ack(delivery).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not park the alert; it will be redelivered")
            }
        }
    }

    /// A Syncro failure: the next retry tier, or the dead-letter queue.
    async fn fail(
        &self,
        delivery: &Delivery,
        headers: &FieldTable,
        attempts: u32,
        error: &SyncroError,
        disposition: Disposition,
    ) {
        let kind = error_kind(error);
        let attempts = attempts + 1;
        let topology = self.broker.topology();
        let tier = (attempts - 1) as usize;
        match (disposition, topology.retry_key(tier)) {
            (Disposition::Retryable { .. }, Some(key)) => {
                let copy = copy_of(delivery, headers, &key, attempts, None);
                match self
                    .broker
                    .publish_confirmed(&[copy], CONFIRM_TIMEOUT)
                    .await
                {
                    Ok(()) => {
                        let delay = topology.retry_tiers()[tier];
                        self.handler
                            .shared()
                            .metrics
                            .retried
                            .get_or_create(&crate::metrics::TierLabels {
                                tier: format!("{}s", delay.as_secs()),
                            })
                            .inc();
                        tracing::warn!(attempt = attempts, retry_in = ?delay, error = %error, "Syncro failed; retrying later");
                        self.ack(delivery).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not publish the retry; the message will be redelivered")
                    }
                }
            }
            (Disposition::Retryable { .. }, None) => {
                let why = format!("gave up after {attempts} attempts: {error}");
                self.dead_letter(delivery, headers, attempts, &kind, &why)
                    .await;
            }
            (Disposition::Permanent, _) => {
                self.dead_letter(delivery, headers, attempts, &kind, &error.to_string())
                    .await;
            }
        }
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        headers: &FieldTable,
        attempts: u32,
        kind: &str,
        why: &str,
    ) {
        let copy = copy_of(delivery, headers, DEAD_KEY, attempts, Some((kind, why)));
        match self
            .broker
            .publish_confirmed(&[copy], CONFIRM_TIMEOUT)
            .await
        {
            Ok(()) => {
                self.handler
                    .shared()
                    .metrics
                    .dead_lettered
                    .get_or_create(&crate::metrics::KindLabels {
                        kind: kind.to_string(),
                    })
                    .inc();
                tracing::error!(kind, error = %why, attempts, "alert dead-lettered");
                self.ack(delivery).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not dead-letter; the message will be redelivered")
            }
        }
    }
}

fn decode(delivery: &Delivery, headers: &FieldTable) -> Result<AlertMessage, String> {
    if let Some(version) = header_i64(headers, SCHEMA_HEADER) {
        if version != SCHEMA_VERSION {
            return Err(format!(
                "schema version {version} is not supported by this processor"
            ));
        }
    }
    serde_json::from_slice(&delivery.data)
        .map_err(|e| format!("the message body is not an alert message v1: {e}"))
}

/// A short, stable label for the kind of a Syncro failure.
fn error_kind(error: &SyncroError) -> String {
    match error.status() {
        Some(status) => format!("syncro_{status}"),
        None => format!("syncro_{}", error.kind().as_str()),
    }
}

/// A copy of the delivery for the retry, dead-letter or parked queue (or back to work): same
/// id and body, the known headers, the attempt count and, for the dead-letter queue, why.
pub(crate) fn copy_of(
    delivery: &Delivery,
    headers: &FieldTable,
    routing_key: &str,
    attempts: u32,
    failure: Option<(&str, &str)>,
) -> Outgoing {
    let mut out: Vec<(&'static str, HeaderValue)> = Vec::new();
    out.push((
        SCHEMA_HEADER,
        HeaderValue::Int(header_i64(headers, SCHEMA_HEADER).unwrap_or(SCHEMA_VERSION)),
    ));
    for key in [SOURCE_HEADER, ALERT_ID_HEADER] {
        if let Some(value) = header_str(headers, key) {
            out.push((key, HeaderValue::Str(value)));
        }
    }
    out.push((ATTEMPTS_HEADER, HeaderValue::Int(i64::from(attempts))));
    if let Some((kind, why)) = failure {
        let why: String = why.chars().take(MAX_ERROR_TEXT).collect();
        out.push((ERROR_HEADER, HeaderValue::Str(why)));
        out.push((ERROR_KIND_HEADER, HeaderValue::Str(kind.to_string())));
        out.push((
            FAILED_AT_HEADER,
            HeaderValue::Str(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ));
    }
    Outgoing {
        routing_key: routing_key.to_string(),
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        body: delivery.data.clone(),
        headers: out,
    }
}
