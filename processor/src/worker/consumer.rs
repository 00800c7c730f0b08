//! The worker loop: take messages from the work queue, let the [`Handler`] settle each, and
//! acknowledge, retry or dead-letter it.
//!
//! - Up to `prefetch` messages are unacknowledged at once (`basic.qos`), and up to
//!   [`DECIDING`] are being decided. Each delivery's task ends once the handler settled the
//!   alert or *held* it in its group's batch; a held alert
//!   is acknowledged by the batch's call once its effect is in Syncro (`handler::held`), so
//!   the queue drains as fast as alerts arrive while Syncro's budget sets the pace of calls.
//! - A message is acknowledged only once its effect is in Syncro (or it is a duplicate, or
//!   ignored). A retry or dead-letter copy is published with a confirm before the original
//!   is acknowledged, so a crash in between duplicates a message at worst, never loses one.
//!   A batch that failed in Syncro records each alert's failure and gives the messages back;
//!   the next copy of each takes its failure to a retry tier or the dead-letter queue here.
//! - An alert of an unmapped organization under `unmapped = "park"` is published (with a
//!   confirm) to the parked queue, then acknowledged; see [`crate::worker::parking`].
//! - Redis unavailable: the message is held (neither acknowledged nor requeued) and handled
//!   again once Redis answers; as every handler holds, consumption pauses by itself.
//! - The broker connection lost: unacknowledged messages go back to the queue; the loop
//!   waits for the broker to reconnect and consumes again.
//! - Shutdown: stop consuming, give the alerts held in batches back to the queue, give the
//!   calls under way and in-flight messages `drain_timeout_secs`, then close; whatever was
//!   not settled is redelivered to another worker.

use crate::handler::{HandleError, Handler, Result as HandleResult, Settled};
use crate::store::Failure as SyncroFailure;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use lapin::types::FieldTable;
use opstate::trail::Step;
use shared::amqp::topology::{header_str, DEAD_KEY, PARKED_KEY};
use shared::amqp::{Broker, Outgoing};
use shared::backoff::Backoff;
use shared::envelope::{self, Failure, ALERT_ID_HEADER, SOURCE_HEADER};
use shared::message::AlertMessage;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use syncro::{classify, Disposition};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Deliveries decided at once (held alerts do not count: their task has ended).
const DECIDING: usize = 64;
/// 429 answers handled by waiting in place before the message goes to a retry tier.
const IN_PLACE_429_RETRIES: u32 = 3;
/// Longest a publish of a retry or dead-letter copy may wait for its confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Consumer {
    pub handler: Handler,
    pub broker: Broker,
}

impl Consumer {
    /// Consumes until `shutdown` completes, then drains; see the module documentation.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let this = Arc::new(self);
        tokio::pin!(shutdown);
        let config = this.handler.services().config.current();
        let settings = &config.worker;
        let drain = settings.drain_timeout();
        let prefetch = settings.prefetch;
        let queue = this.broker.topology().work_queue();
        let mut tasks = JoinSet::new();
        let deciding = Arc::new(Semaphore::new(DECIDING));
        let steering = this.handler.services().steering.clone();
        let mut watch = steering.watch.clone();
        let mut watching = true;
        // The silences and the pause state first (a silenced alert taken before they are
        // read would make its ticket); PostgreSQL away: go on without them.
        let within = Duration::from_secs(5);
        if !steering.watch.first_read(within).await {
            tracing::warn!("the operator state could not be read; consuming without silences or pause until it can");
        }
        // And the console's mappings, before the first alert is decided (unread: the file's
        // alone, as before PostgreSQL held any).
        this.handler
            .services()
            .config
            .apply_view(&steering.watch.current());
        loop {
            // Paused by an operator: take nothing until resumed; alerts wait in the queue.
            if steering.paused() {
                tracing::info!(queue = %queue, "paused: not consuming; alerts wait in the queue");
                while steering.paused() {
                    tokio::select! {
                        _ = &mut shutdown => return Ok(()),
                        alive = watch.changed(), if watching => watching = alive,
                        _ = tokio::time::sleep(Duration::from_secs(1)), if !watching => {}
                    }
                }
                this.handler.hold_again().await;
                tracing::info!(queue = %queue, "resumed: consuming again");
            }
            // Wait for the broker (it reconnects by itself).
            let connected = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                connected = this.broker.wait_connected(Duration::from_secs(5)) => connected,
            };
            if !connected {
                continue;
            }
            let mut consumption = match this.broker.consume(&queue, prefetch).await {
                Ok(consumption) => consumption,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot consume; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            tracing::info!(queue = %queue, prefetch, "consuming");
            // A delivery is taken from the consumer only with a permit: at most `DECIDING`
            // alerts are decided at once, however fast a storm arrives (the rest wait in the
            // client's buffer, small, instead of as half-decided alerts).
            let mut permit: Option<OwnedSemaphorePermit> = None;
            loop {
                tokio::select! {
                    _ = &mut shutdown => {
                        tracing::info!(in_flight = tasks.len(), "shutdown: no new messages; draining");
                        this.wind_down(consumption, &mut tasks, drain, "shutting down").await;
                        return Ok(());
                    }
                    alive = watch.changed(), if watching => {
                        watching = alive;
                        if steering.paused() {
                            tracing::info!(in_flight = tasks.len(), "paused by an operator: giving held alerts back, finishing the calls under way");
                            this.wind_down(consumption, &mut tasks, drain, "paused").await;
                            break;
                        }
                    }
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    acquired = deciding.clone().acquire_owned(), if permit.is_none() => {
                        permit = acquired.ok();
                    }
                    delivery = consumption.consumer.next(), if permit.is_some() => match delivery {
                        Some(Ok(delivery)) => {
                            let this = this.clone();
                            let permit = permit.take();
                            tasks.spawn(async move {
                                this.process(delivery).await;
                                drop(permit);
                            });
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

    /// Stops consuming (shutdown, or a pause): held alerts go back to the queue for the
    /// other workers at once, the calls under way and in-flight messages get the drain time,
    /// then the channel closes (whatever is unacknowledged returns to the queue).
    async fn wind_down(
        &self,
        consumption: shared::amqp::Consumption,
        tasks: &mut JoinSet<()>,
        drain: Duration,
        why: &str,
    ) {
        let _ = consumption.cancel().await;
        let released = tokio::time::timeout(drain, self.handler.release_held()).await;
        if released.is_err() {
            tracing::warn!("drain bound reached with Syncro calls under way; stopping them (their intents settle them)");
            self.handler.stop_calls().await;
        }
        let drained =
            tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "drain bound reached; unsettled messages will be redelivered"
            );
            tasks.abort_all();
        }
        let _ = consumption.close(why).await;
    }

    /// Records a step of the delivery's alert, known by its headers.
    fn trail(
        &self,
        step: Step,
        delivery: &Delivery,
        headers: &FieldTable,
        organization: Option<&str>,
        detail: serde_json::Value,
    ) {
        let message_id = envelope::message_id_of(delivery);
        let source = header_str(headers, SOURCE_HEADER).unwrap_or_default();
        let mut event = opstate::trail::Event::new(step, &message_id, &source).detail(detail);
        event.sender_id = header_str(headers, ALERT_ID_HEADER);
        event.organization = organization.map(str::to_string);
        self.handler.services().steering.record(event);
    }

    /// Settles one delivery, on a span naming its alert.
    async fn process(&self, delivery: Delivery) {
        let metrics = &self.handler.services().metrics;
        metrics.consumed.inc();
        metrics.in_flight.inc();
        // Borrowed, not cloned: every held alert would keep a second copy of its headers.
        let no_headers = FieldTable::default();
        let headers = delivery
            .properties
            .headers()
            .as_ref()
            .unwrap_or(&no_headers);
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
        self.settle(&delivery, headers, message_id)
            .instrument(span)
            .await;
        metrics.in_flight.dec();
    }

    /// Decode, handle, then ack, park, retry or dead-letter.
    async fn settle(&self, delivery: &Delivery, headers: &FieldTable, message_id: Option<String>) {
        let attempts = envelope::attempts(headers);
        let message = match envelope::decode(&delivery.data, headers) {
            Ok(message) => Arc::new(message),
            Err(why) => {
                Box::pin(self.dead_letter(delivery, headers, attempts, "undecodable", &why, None))
                    .await;
                return;
            }
        };
        let message_id = message_id.unwrap_or_else(|| message.message_id());
        match self
            .handle_patiently(message.clone(), &message_id, delivery)
            .await
        {
            Ok(Settled::Held) => {}
            Ok(Settled::Park) => {
                // Boxed like `fail` below: its publish and Redis futures are large, and
                // inlined they would be held by every waiting alert's future.
                let org = &message.alert.organization.id;
                Box::pin(self.park(delivery, headers, attempts, org)).await;
            }
            Ok(settled) => {
                if self.ack(delivery).await {
                    let latency = (chrono::Utc::now() - message.received_at)
                        .to_std()
                        .unwrap_or_default();
                    let metrics = &self.handler.services().metrics;
                    metrics.processing_seconds.observe(latency.as_secs_f64());
                    if settled != Settled::Noted && settled != Settled::Created {
                        tracing::info!(outcome = ?settled, "alert settled");
                    }
                }
            }
            Err(HandleError::Stopping) => {}
            // `handle_patiently` waits for Redis rather than give up on it.
            Err(HandleError::Store(_)) => {}
            Err(HandleError::Syncro(e)) => {
                let failure = SyncroFailure::of(&e);
                let org = Some(message.alert.organization.id.as_str());
                Box::pin(self.fail(delivery, headers, attempts, &failure, org)).await;
            }
            Err(HandleError::Failed(failure)) => {
                let org = Some(message.alert.organization.id.as_str());
                Box::pin(self.fail(delivery, headers, attempts, &failure, org)).await;
            }
        }
    }

    /// Handles the alert, waiting in place while Redis is unavailable (the message is held,
    /// so consumption pauses by itself) and through the first few 429s (the limiter paused
    /// every worker: waiting here spends none of the message's attempts).
    async fn handle_patiently(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
        delivery: &Delivery,
    ) -> HandleResult<Settled> {
        let services = self.handler.services();
        let metrics = &services.metrics;
        let mut backoff_429 = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let mut in_place_429 = 0;
        let mut redis_backoff = Backoff::new(
            Duration::from_millis(100),
            services.config.current().worker.redis_retry_max_backoff(),
        );
        loop {
            match self
                .handler
                .handle(message.clone(), message_id, &delivery.acker)
                .await
            {
                Err(HandleError::Store(e)) => {
                    metrics.redis_up.set(0);
                    let wait = redis_backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?wait, "Redis unavailable; holding the message");
                    tokio::time::sleep(wait).await;
                }
                Err(HandleError::Syncro(e))
                    if e.status() == Some(429) && in_place_429 < IN_PLACE_429_RETRIES =>
                {
                    in_place_429 += 1;
                    let wait = match classify(&e) {
                        Disposition::Retryable {
                            retry_after: Some(after),
                        } => after,
                        _ => backoff_429.next_delay(),
                    };
                    tracing::warn!(wait = ?wait, "Syncro answered 429; waiting");
                    tokio::time::sleep(wait).await;
                }
                other => {
                    if other.is_ok() {
                        metrics.redis_up.set(1);
                    }
                    return other;
                }
            }
        }
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
                let shared = self.handler.services();
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
        failure: &SyncroFailure,
        organization: Option<&str>,
    ) {
        let kind = &failure.kind;
        let error = &failure.why;
        let attempts = attempts + 1;
        let topology = self.broker.topology();
        let tier = (attempts - 1) as usize;
        match (failure.retryable, topology.retry_key(tier)) {
            (true, Some(key)) => {
                let copy = copy_of(delivery, headers, &key, attempts, None);
                match self
                    .broker
                    .publish_confirmed(&[copy], CONFIRM_TIMEOUT)
                    .await
                {
                    Ok(()) => {
                        let delay = topology.retry_tiers()[tier];
                        self.handler
                            .services()
                            .metrics
                            .retried
                            .get_or_create(&crate::metrics::TierLabels::of(delay))
                            .inc();
                        tracing::warn!(attempt = attempts, retry_in = ?delay, error = %error, "Syncro failed; retrying later");
                        let detail = serde_json::json!({
                            "attempt": attempts,
                            "retry_in_secs": delay.as_secs(),
                            "kind": kind,
                            "error": error,
                        });
                        self.trail(Step::Retried, delivery, headers, organization, detail);
                        self.ack(delivery).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not publish the retry; the message will be redelivered")
                    }
                }
            }
            (true, None) => {
                let why = format!("gave up after {attempts} attempts: {error}");
                self.dead_letter(delivery, headers, attempts, kind, &why, organization)
                    .await;
            }
            (false, _) => {
                self.dead_letter(delivery, headers, attempts, kind, error, organization)
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
        organization: Option<&str>,
    ) {
        let copy = copy_of(
            delivery,
            headers,
            DEAD_KEY,
            attempts,
            Some(Failure { kind, why }),
        );
        match self
            .broker
            .publish_confirmed(&[copy], CONFIRM_TIMEOUT)
            .await
        {
            Ok(()) => {
                self.handler
                    .services()
                    .metrics
                    .dead_lettered
                    .get_or_create(&crate::metrics::KindLabels {
                        kind: kind.to_string(),
                    })
                    .inc();
                tracing::error!(kind, error = %why, attempts, "alert dead-lettered");
                self.trail(
                    Step::DeadLettered,
                    delivery,
                    headers,
                    organization,
                    serde_json::json!({ "attempts": attempts, "kind": kind, "error": why }),
                );
                self.ack(delivery).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not dead-letter; the message will be redelivered")
            }
        }
    }
}

/// A copy of the delivery for the retry, dead-letter or parked queue (or back to work); see
/// [`envelope::copy`].
fn copy_of(
    delivery: &Delivery,
    headers: &FieldTable,
    routing_key: &str,
    attempts: u32,
    failure: Option<Failure<'_>>,
) -> Outgoing {
    let id = envelope::message_id_of(delivery);
    envelope::copy(&delivery.data, &id, headers, routing_key, attempts, failure)
}
