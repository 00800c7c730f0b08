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

use super::letter::Letter;
use anyhow::Context as _;
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

/// One message held (unacknowledged) by a browse.
pub struct Held {
    pub letter: Letter,
    pub delivery: Delivery,
}

/// The messages of a queue, held until [`Browse::close`].
pub struct Browse {
    /// The consumer holding the messages; none when the queue was empty.
    consumption: Option<Consumption>,
    /// The queue's messages in queue order.
    pub held: Vec<Held>,
    acked: usize,
}

impl Browse {
    /// Takes every message that was ready in `queue` when it started (messages arriving
    /// meanwhile are left for the next run).
    pub async fn open(broker: &Broker, queue: &str) -> anyhow::Result<Browse> {
        let expected = {
            let channel = broker
                .open_channel()
                .await
                .context("cannot open a channel")?;
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
                .with_context(|| format!("the queue {queue} cannot be read"))?;
            let _ = channel.close(200, "counted".into()).await;
            declared.message_count() as usize
        };
        let mut held = Vec::with_capacity(expected);
        if expected == 0 {
            return Ok(Browse {
                consumption: None,
                held,
                acked: 0,
            });
        }
        // No prefetch limit: every message stays with us until the channel closes.
        let mut consumption = broker
            .consume(queue, 0)
            .await
            .with_context(|| format!("cannot consume from {queue}"))?;
        while held.len() < expected {
            match tokio::time::timeout(IDLE, consumption.consumer.next()).await {
                Ok(Some(Ok(delivery))) => held.push(Held {
                    letter: Letter::read(&delivery.properties, &delivery.data),
                    delivery,
                }),
                Ok(Some(Err(e))) => return Err(e).context("the browse consumer failed"),
                Ok(None) | Err(_) => break,
            }
        }
        // Later arrivals stay in the queue; any already sent to us return on close.
        consumption.cancel().await.context("basic.cancel")?;
        Ok(Browse {
            consumption: Some(consumption),
            held,
            acked: 0,
        })
    }

    /// Removes one held message from the queue.
    pub async fn ack(&mut self, index: usize) -> anyhow::Result<()> {
        let held = self.held.get(index).context("no such held message")?;
        held.delivery
            .ack(BasicAckOptions::default())
            .await
            .context("cannot acknowledge a dead-letter message")?;
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
        }
    }
}
