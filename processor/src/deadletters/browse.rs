//! Reading a quorum queue without changing it: consume every message without acknowledging,
//! settle only the ones a command removes, and close the channel, which returns the others.
//!
//! What this relies on, checked against RabbitMQ 3.10 (and by the tests):
//! - Messages returned when the channel closes go back ahead of the queue's other messages,
//!   in their original order, so a browse leaves the queue as it was (each returned message
//!   has its delivery count raised; the dead-letter queue has no delivery limit).
//! - A quorum queue's channel sends at most 32 settlements ahead of the queue's answers and
//!   holds the rest; closing the channel at once would drop those, and the messages would
//!   come back. So acknowledgements are paced, and the channel waits a moment before it
//!   closes. A settlement lost anyway only leaves a message in place, never removes one.
//! - The queue takes the returned messages back a moment after the channel's close is
//!   answered; a browse started at once would find some missing. So [`Browse::close`] waits
//!   (at most [`RETURN_WAIT`]) until the queue counts them again.

use super::letter::Letter;
use super::{Error, Result};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use shared::amqp::{Broker, Consumption};
use std::time::Duration;

/// How long without a delivery ends a browse that got fewer messages than the queue counted
/// (another consumer holds some).
const IDLE: Duration = Duration::from_secs(1);
/// Acknowledgements sent before a short pause that lets the queue catch up.
const ACK_BURST: usize = 16;
const ACK_PAUSE: Duration = Duration::from_millis(10);
/// Wait before closing a channel that acknowledged messages, so none is still held back.
const SETTLE_GRACE: Duration = Duration::from_millis(300);
/// Longest wait after the close for the queue to count the returned messages again.
const RETURN_WAIT: Duration = Duration::from_secs(3);

/// One message held (unacknowledged) by a browse.
pub struct Held {
    pub letter: Letter,
    pub delivery: Delivery,
}

/// The messages of a queue, held until [`Browse::close`].
pub struct Browse {
    /// The consumer holding the messages; none when the queue was empty.
    consumption: Option<Consumption>,
    /// The broker and queue, to see the returned messages counted again after the close.
    broker: Broker,
    queue: String,
    /// The queue's messages in queue order (its first `cap` only, when capped).
    pub held: Vec<Held>,
    /// Messages ready in the queue when the browse started: more than `held` when capped
    /// (or when another consumer held some).
    pub in_queue: usize,
    acked: usize,
}

impl Browse {
    /// Takes every message that was ready in `queue` when it started (messages arriving
    /// meanwhile are left for the next run).
    pub async fn open(broker: &Broker, queue: &str) -> Result<Browse> {
        Browse::open_at_most(broker, queue, None).await
    }

    /// Takes the first `cap` messages ready in `queue` (all of them with `None`); the rest
    /// are not delivered (the consumer's prefetch is the cap) and stay where they are, so a
    /// caller that must bound its work (the operator API) holds at most `cap` messages.
    pub async fn open_at_most(broker: &Broker, queue: &str, cap: Option<u16>) -> Result<Browse> {
        let broken = |what: &str, e: &dyn std::fmt::Display| Error::Broker(format!("{what}: {e}"));
        let in_queue = {
            let channel = broker
                .open_channel()
                .await
                .map_err(|e| broken("cannot open a channel", &e))?;
            let declared = channel
                .queue_declare(
                    queue.into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| broken(&format!("the queue {queue} cannot be read"), &e))?;
            let _ = channel.close(200, "counted".into()).await;
            declared.message_count() as usize
        };
        let expected = cap.map_or(in_queue, |cap| in_queue.min(usize::from(cap)));
        let mut held = Vec::with_capacity(expected);
        if expected == 0 {
            return Ok(Browse {
                consumption: None,
                broker: broker.clone(),
                queue: queue.to_string(),
                held,
                in_queue,
                acked: 0,
            });
        }
        // Without a cap, no prefetch limit: every message stays with us until the channel
        // closes. With one, the broker sends no more than the cap unacknowledged.
        let mut consumption = broker
            .consume(queue, cap.unwrap_or(0))
            .await
            .map_err(|e| broken(&format!("cannot consume from {queue}"), &e))?;
        while held.len() < expected {
            match tokio::time::timeout(IDLE, consumption.consumer.next()).await {
                Ok(Some(Ok(delivery))) => held.push(Held {
                    letter: Letter::read(&delivery.properties, &delivery.data),
                    delivery,
                }),
                Ok(Some(Err(e))) => {
                    let _ = consumption.close("browse failed").await;
                    return Err(broken("the browse consumer failed", &e));
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Later arrivals stay in the queue; any already sent to us return on close.
        if let Err(e) = consumption.cancel().await {
            let _ = consumption.close("browse failed").await;
            return Err(broken("basic.cancel", &e));
        }
        Ok(Browse {
            consumption: Some(consumption),
            broker: broker.clone(),
            queue: queue.to_string(),
            held,
            in_queue,
            acked: 0,
        })
    }

    /// Whether messages were left unread (beyond the cap, or held by another consumer).
    pub fn incomplete(&self) -> bool {
        self.held.len() < self.in_queue
    }

    /// Removes one held message from the queue.
    pub async fn ack(&mut self, index: usize) -> Result<()> {
        let held = self
            .held
            .get(index)
            .ok_or_else(|| Error::Broker("no such held message".into()))?;
        held.delivery
            .ack(BasicAckOptions::default())
            .await
            .map_err(|e| Error::Broker(format!("cannot acknowledge a dead-letter message: {e}")))?;
        self.acked += 1;
        if self.acked.is_multiple_of(ACK_BURST) {
            tokio::time::sleep(ACK_PAUSE).await;
        }
        Ok(())
    }

    /// Returns every message not acknowledged to the queue, in order.
    pub async fn close(self) {
        if self.acked > 0 {
            tokio::time::sleep(SETTLE_GRACE).await;
        }
        let Some(consumption) = self.consumption else {
            return;
        };
        if let Err(e) = consumption.close("browse done").await {
            tracing::warn!(error = %e, "closing the browse channel failed; the connection's close returns the messages");
            return;
        }
        let expected = self.in_queue.saturating_sub(self.acked);
        let deadline = tokio::time::Instant::now() + RETURN_WAIT;
        while tokio::time::Instant::now() < deadline {
            match ready(&self.broker, &self.queue).await {
                Some(count) if count < expected => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => return,
            }
        }
    }
}

/// Messages ready in `queue` now; `None` when it cannot be read.
async fn ready(broker: &Broker, queue: &str) -> Option<usize> {
    let channel = broker.open_channel().await.ok()?;
    let count = shared::amqp::topology::ready_messages(&channel, queue)
        .await
        .ok();
    if count.is_some() {
        let _ = channel.close(200, "counted".into()).await;
    }
    count.map(|c| c as usize)
}
