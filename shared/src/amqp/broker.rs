//! A RabbitMQ connection that heals itself, and publishing with confirms over it.
//!
//! [`Broker::start`] spawns a manager task that connects, declares the topology, opens a few
//! channels in confirm mode and publishes the resulting session on a `watch` channel. When the
//! connection fails (an error event, a failed publish, or a status check) the session is
//! withdrawn at once, so callers see "unavailable" instead of waiting on a dead socket, and the
//! manager reconnects with capped, jittered exponential backoff. Nothing has to be restarted
//! when the broker comes back.

use super::topology::{insert_str, Topology};
use crate::backoff::Backoff;
use crate::config::redact_url;
use futures_util::future::join_all;
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How often the manager double-checks that a quiet connection is still up.
const STATUS_POLL: Duration = Duration::from_millis(500);
/// Longest a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First reconnect delay; it doubles up to `BrokerOptions::max_backoff`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// What the manager needs to know.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub url: SecretString,
    pub topology: Topology,
    /// Confirm-mode channels that publishes are spread over.
    pub publish_channels: usize,
    pub max_backoff: Duration,
    /// Connection name shown in the RabbitMQ management UI.
    pub connection_name: String,
}

/// Why a publish was not confirmed. Every variant means "not stored, try again later".
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker is not connected")]
    Unavailable,
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the broker could not route the message to a queue")]
    Unroutable,
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("the broker connection failed: {0}")]
    Connection(#[from] lapin::Error),
}

/// A consumer started by [`Broker::consume`], with its channel.
pub struct Consumption {
    /// The consumer's own channel: closing it returns every unacknowledged delivery.
    pub channel: Channel,
    /// The deliveries, as a stream.
    pub consumer: lapin::Consumer,
}

impl Consumption {
    /// Asks the broker to send no more deliveries; those in hand can still be settled.
    pub async fn cancel(&self) -> Result<(), lapin::Error> {
        self.channel
            .basic_cancel(
                self.consumer.tag().as_str().into(),
                BasicCancelOptions::default(),
            )
            .await
    }

    /// Closes the channel: deliveries not acknowledged go back to the queue, in order.
    pub async fn close(&self, reason: &str) -> Result<(), lapin::Error> {
        self.channel.close(200, reason.into()).await
    }
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub routing_key: String,
    /// Stable id; consumers use it for idempotency.
    pub message_id: String,
    pub body: Vec<u8>,
    /// String headers, e.g. the schema version and source.
    pub headers: Vec<(&'static str, HeaderValue)>,
}

/// A header value; only what alert-relay writes.
#[derive(Debug, Clone)]
pub enum HeaderValue {
    Str(String),
    Int(i64),
}

/// A connected session: the connection and its confirm-mode channels.
struct Session {
    connection: Connection,
    channels: Vec<Channel>,
}

struct Inner {
    options: BrokerOptions,
    session: watch::Sender<Option<Arc<Session>>>,
    /// Round-robin position over the session's channels.
    next_channel: AtomicUsize,
    /// Raised by a publisher that saw the connection fail, so the manager need not wait for
    /// its next status poll.
    broken: Notify,
    shutdown: watch::Sender<bool>,
}

/// Handle to the self-healing connection; cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl Broker {
    /// Starts the connection manager in the background and returns at once; use
    /// [`Broker::wait_connected`] to wait for the first connection.
    pub fn start(options: BrokerOptions) -> Broker {
        let (session, _) = watch::channel(None);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            options,
            session,
            next_channel: AtomicUsize::new(0),
            broken: Notify::new(),
            shutdown,
        });
        tokio::spawn(manage(inner.clone()));
        Broker { inner }
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.options.topology
    }

    pub fn is_connected(&self) -> bool {
        self.inner
            .session
            .borrow()
            .as_ref()
            .is_some_and(|s| s.connection.status().connected())
    }

    /// Waits until connected, at most `timeout`; returns whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.session.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.is_some()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Opens a new channel on the current connection (for consumers and tools).
    pub async fn open_channel(&self) -> Result<Channel, PublishError> {
        let session = self.current()?;
        session.connection.create_channel().await.map_err(|e| {
            self.inner.broken.notify_one();
            PublishError::Connection(e)
        })
    }

    /// Starts consuming `queue` on a channel of its own with at most `prefetch`
    /// unacknowledged deliveries (0: no limit): the one consumer set-up of alert-relay (the
    /// workers' alerts and counts, and `relayctl`'s browsing of the dead-letter queue).
    pub async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumption, PublishError> {
        let channel = self.open_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Consumption { channel, consumer })
    }

    /// Publishes every message to the deployment's exchange and returns once the broker
    /// confirmed all of them, or with the first reason one was not stored. Messages are
    /// persistent and mandatory: an unroutable message is a failure, not a silent drop.
    pub async fn publish_confirmed(
        &self,
        messages: &[Outgoing],
        timeout: Duration,
    ) -> Result<(), PublishError> {
        let session = self.current()?;
        let index =
            self.inner.next_channel.fetch_add(1, Ordering::Relaxed) % session.channels.len();
        let channel = &session.channels[index];
        let exchange = self.inner.options.topology.exchange();
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.body,
                    properties(message),
                )
                .await
                .map_err(|e| self.failed(e))?;
            confirms.push(confirm);
        }
        let outcomes = tokio::time::timeout(timeout, join_all(confirms))
            .await
            .map_err(|_| PublishError::Timeout(timeout))?;
        for outcome in outcomes {
            match outcome.map_err(|e| self.failed(e))? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(_)) => return Err(PublishError::Unroutable),
                Confirmation::Nack(_) | Confirmation::NotRequested => {
                    return Err(PublishError::Nacked)
                }
            }
        }
        Ok(())
    }

    /// Closes the connection and stops reconnecting. Publishes already confirmed are safe;
    /// callers finish their in-flight publishes before calling this.
    pub async fn close(&self) {
        self.inner.shutdown.send_replace(true);
        let session = self.inner.session.send_replace(None);
        if let Some(session) = session {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                session.connection.close(200, "shutting down".into()),
            )
            .await;
        }
    }

    fn current(&self) -> Result<Arc<Session>, PublishError> {
        match self.inner.session.borrow().as_ref() {
            Some(session) if session.connection.status().connected() => Ok(session.clone()),
            _ => Err(PublishError::Unavailable),
        }
    }

    fn failed(&self, error: lapin::Error) -> PublishError {
        self.inner.broken.notify_one();
        PublishError::Connection(error)
    }
}

/// The AMQP header table of a message's headers, as a consumer will receive it.
pub(crate) fn header_table(headers: &[(&'static str, HeaderValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in headers {
        match value {
            HeaderValue::Str(s) => insert_str(&mut table, key, s),
            HeaderValue::Int(i) => {
                table.insert(ShortString::from(*key), AMQPValue::LongLongInt(*i));
            }
        }
    }
    table
}

fn properties(message: &Outgoing) -> BasicProperties {
    let headers = header_table(&message.headers);
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message.message_id.as_str().into())
        .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
        .with_app_id("alert-relay".into())
        .with_headers(headers)
}

/// The manager: connect, serve until the connection fails, back off, reconnect.
async fn manage(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let url = redact_url(inner.options.url.expose_secret());
    let mut backoff = Backoff::new(MIN_BACKOFF, inner.options.max_backoff);
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match connect(&inner.options).await {
            Ok(session) => {
                if failures > 0 {
                    tracing::info!(url = %url, after_failures = failures, "reconnected to the broker");
                } else {
                    tracing::info!(url = %url, "connected to the broker");
                }
                backoff.reset();
                failures = 0;
                let session = Arc::new(session);
                let mut events = session.connection.events_listener();
                inner.session.send_replace(Some(session.clone()));
                let reason = loop {
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = inner.broken.notified() => {
                            if !healthy(&session) { break "a publish failed"; }
                        }
                        event = events.next() => match event {
                            Some(Event::Error(e)) => {
                                tracing::warn!(error = %e, "broker connection error");
                                if !healthy(&session) { break "connection error"; }
                            }
                            Some(Event::ConnectionBlocked(why)) => {
                                tracing::warn!(reason = %why, "the broker blocked publishing");
                            }
                            Some(_) => {}
                            None => break "connection closed",
                        },
                        _ = tokio::time::sleep(STATUS_POLL) => {
                            if !healthy(&session) { break "connection lost"; }
                        }
                    }
                };
                inner.session.send_replace(None);
                tracing::warn!(url = %url, reason, "lost the broker; reconnecting");
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    session.connection.close(320, "reconnecting".into()),
                )
                .await;
            }
            Err(error) => {
                failures += 1;
                // Log the first failure loudly and then every tenth, not every 100 ms.
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(url = %url, error = %error, failures, "cannot reach the broker; retrying");
                }
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = backoff.wait() => {}
        }
    }
}

fn healthy(session: &Session) -> bool {
    session.connection.status().connected()
        && session.channels.iter().all(|c| c.status().connected())
}

async fn connect(options: &BrokerOptions) -> Result<Session, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(options.connection_name.as_str().into());
    let connection = tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(options.url.expose_secret(), properties),
    )
    .await
    .map_err(|_| {
        lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    })??;
    let setup = connection.create_channel().await?;
    options.topology.declare(&setup).await?;
    let _ = setup.close(200, "topology declared".into()).await;
    let mut channels = Vec::with_capacity(options.publish_channels);
    for _ in 0..options.publish_channels.max(1) {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    Ok(Session {
        connection,
        channels,
    })
}
