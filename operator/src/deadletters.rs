//! The dead-letter queue as the operator API reaches it: a broker of the API's own on the
//! workers' topology, started on the first dead-letter request (the API starts and answers
//! while RabbitMQ is away; those requests answer 503 `rabbitmq_unavailable`) and closed at
//! shutdown, and one dead-letter operation at a time.
//!
//! Why one at a time: reading a quorum queue holds its messages until the read ends
//! ([`processor::deadletters::browse`]), so two reads at once would each see only part of
//! the queue. A request waits up to [`BUSY_WAIT`] for the one before it, then answers 503
//! `dead_letters_busy`.
//!
//! Why each operation runs in a task of its own (the routes' `run`): a browse must be
//! closed to give back the messages it holds; a request whose client hangs up is dropped by
//! the server mid-way, and its task would be dropped with it. The task always runs to its
//! end, and a browse is closed on every path.
//!
//! The work of one request is bounded: at most [`CAP`] letters are read (the first ones of
//! the queue; the rest are not delivered to the API and stay where they are), so at most
//! [`CAP`] are moved or removed per call. The answers say how many the queue held and how
//! many were read.

use crate::error::ApiError;
use processor::deadletters::Browse;
use shared::amqp::{Broker, BrokerOptions};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard, OnceCell};

/// Most letters one request reads (and so moves or removes).
pub const CAP: u16 = 1000;
/// How long a request waits for the broker's first connection.
const CONNECT_WAIT: Duration = Duration::from_secs(3);
/// How long a request waits for the dead-letter operation before it.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for each replayed message's publisher confirm.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// The API's way to the dead-letter queue.
pub struct DeadLetters {
    /// How to reach the broker: the workers' URL and topology.
    options: BrokerOptions,
    /// Started on first use, so the API starts without RabbitMQ.
    broker: OnceCell<Broker>,
    /// Held by the one operation running.
    busy: Mutex<()>,
}

impl DeadLetters {
    pub fn new(options: BrokerOptions) -> DeadLetters {
        DeadLetters {
            options,
            broker: OnceCell::new(),
            busy: Mutex::new(()),
        }
    }

    /// The broker, connected; 503 `rabbitmq_unavailable` when it cannot be reached now (it
    /// keeps trying in the background).
    async fn broker(&self) -> Result<Broker, ApiError> {
        let broker = self
            .broker
            .get_or_init(|| async { Broker::start(self.options.clone()) })
            .await;
        if broker.wait_connected(CONNECT_WAIT).await {
            Ok(broker.clone())
        } else {
            Err(ApiError::rabbitmq_unavailable())
        }
    }

    /// The first [`CAP`] letters of the dead-letter queue, read alone: the guard keeps other
    /// dead-letter operations waiting until it is dropped (after the browse is closed).
    pub async fn open(&self) -> Result<(MutexGuard<'_, ()>, Broker, Browse), ApiError> {
        let alone = tokio::time::timeout(BUSY_WAIT, self.busy.lock())
            .await
            .map_err(|_| ApiError::dead_letters_busy())?;
        let broker = self.broker().await?;
        let queue = broker.topology().dead_queue();
        let browse = Browse::open_at_most(&broker, &queue, Some(CAP))
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot read the dead-letter queue");
                ApiError::rabbitmq_unavailable()
            })?;
        Ok((alone, broker, browse))
    }

    /// Closes the broker connection, if one was made.
    pub async fn close(&self) {
        if let Some(broker) = self.broker.get() {
            broker.close().await;
        }
    }
}
