//! The RabbitMQ topology, named from the deployment prefix and declared idempotently by every
//! binary at start-up (and again after each reconnect), so no set-up step can be forgotten.
//!
//! ```text
//! exchange {prefix}.alerts (direct, durable)
//!   ├─ "work"  → {prefix}.alerts.work     quorum; poison messages past the delivery limit
//!   │                                      are dead-lettered (at-least-once) to "dead"
//!   ├─ "dead"  → {prefix}.alerts.dead     quorum
//!   ├─ "parked" → {prefix}.alerts.parked  quorum; alerts of unmapped organizations wait
//!   │                                      here (`[mapping] unmapped = "park"`)
//!   ├─ "retry.{N}s" → {prefix}.alerts.retry.{N}s   quorum, message TTL N s, then
//!   │                                              dead-lettered back to "work"
//!   └─ "billable-users" → {prefix}.billable-users   quorum: billable-user counts
//! ```
//!
//! Retry queues are named by their delay, so changing the tiers adds queues instead of
//! clashing with the arguments of existing ones; ingest declares none (it does not know the
//! tiers), the processor declares its own.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Routing key of the work queue.
pub const WORK_KEY: &str = "work";
/// Routing key of the dead-letter queue.
pub const DEAD_KEY: &str = "dead";
/// Routing key of the parked queue (alerts of organizations without a mapping).
pub const PARKED_KEY: &str = "parked";
/// Deliveries of one message after which the broker itself dead-letters it: a safety net for
/// a message that crashes every worker that takes it, so it cannot block a queue forever.
pub const DELIVERY_LIMIT: i64 = 20;

/// Names of every exchange and queue of one deployment.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    /// Delays of the retry queues, shortest first.
    retry_tiers: Vec<std::time::Duration>,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            prefix: prefix.to_string(),
            retry_tiers: Vec::new(),
        }
    }

    /// The same topology with retry queues of these delays.
    pub fn with_retry_tiers(mut self, tiers: &[std::time::Duration]) -> Self {
        self.retry_tiers = tiers.to_vec();
        self
    }

    pub fn retry_tiers(&self) -> &[std::time::Duration] {
        &self.retry_tiers
    }

    /// Routing key of the retry queue of tier `index` (0-based).
    pub fn retry_key(&self, index: usize) -> Option<String> {
        self.retry_tiers
            .get(index)
            .map(|d| format!("retry.{}s", d.as_secs()))
    }

    /// Name of the retry queue of tier `index`.
    pub fn retry_queue(&self, index: usize) -> Option<String> {
        self.retry_key(index)
            .map(|key| format!("{}.alerts.{key}", self.prefix))
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn exchange(&self) -> String {
        format!("{}.alerts", self.prefix)
    }

    pub fn work_queue(&self) -> String {
        format!("{}.alerts.work", self.prefix)
    }

    pub fn dead_queue(&self) -> String {
        format!("{}.alerts.dead", self.prefix)
    }

    /// Where alerts of unmapped organizations wait until they are mapped.
    pub fn parked_queue(&self) -> String {
        format!("{}.alerts.parked", self.prefix)
    }

    /// The queue of billable-user counts (routing key [`crate::billing::BILLABLE_USERS_KEY`]).
    pub fn billable_users_queue(&self) -> String {
        format!("{}.{}", self.prefix, crate::billing::BILLABLE_USERS_KEY)
    }

    /// Declares the exchange and queues and binds them; safe to repeat.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let exchange = self.exchange();
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;

        let mut work_args = quorum_args();
        insert_str(&mut work_args, "x-dead-letter-exchange", &exchange);
        insert_str(&mut work_args, "x-dead-letter-routing-key", DEAD_KEY);
        insert_str(&mut work_args, "x-dead-letter-strategy", "at-least-once");
        // At-least-once dead-lettering requires reject-publish overflow; with no length limit
        // set it never rejects anything.
        insert_str(&mut work_args, "x-overflow", "reject-publish");
        work_args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        self.declare_bound(channel, &self.work_queue(), WORK_KEY, work_args)
            .await?;
        self.declare_bound(channel, &self.dead_queue(), DEAD_KEY, quorum_args())
            .await?;
        self.declare_bound(channel, &self.parked_queue(), PARKED_KEY, quorum_args())
            .await?;
        self.declare_bound(
            channel,
            &self.billable_users_queue(),
            crate::billing::BILLABLE_USERS_KEY,
            quorum_args(),
        )
        .await?;
        for (index, delay) in self.retry_tiers.iter().enumerate() {
            let (Some(queue), Some(key)) = (self.retry_queue(index), self.retry_key(index)) else {
                continue;
            };
            let mut args = quorum_args();
            insert_str(&mut args, "x-dead-letter-exchange", &exchange);
            insert_str(&mut args, "x-dead-letter-routing-key", WORK_KEY);
            insert_str(&mut args, "x-dead-letter-strategy", "at-least-once");
            insert_str(&mut args, "x-overflow", "reject-publish");
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay.as_millis() as i64),
            );
            self.declare_bound(channel, &queue, &key, args).await?;
        }
        Ok(())
    }

    async fn declare_bound(
        &self,
        channel: &Channel,
        queue: &str,
        routing_key: &str,
        args: FieldTable,
    ) -> lapin::Result<()> {
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                args,
            )
            .await?;
        channel
            .queue_bind(
                queue.into(),
                self.exchange().as_str().into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    insert_str(&mut args, "x-queue-type", "quorum");
    args
}

/// Inserts a string argument or header.
pub fn insert_str(table: &mut FieldTable, key: &'static str, value: &str) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
    );
}

/// Reads a string header, whichever string type the sender used.
pub fn header_str(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

/// Reads an integer header, whichever integer type the sender used.
pub fn header_i64(table: &FieldTable, key: &str) -> Option<i64> {
    match table.inner().get(key)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

/// The ready messages of `queue`, by a passive declare (which creates nothing). A queue that
/// does not exist is an error, and closes `channel`: use a channel of its own per queue.
pub async fn ready_messages(channel: &Channel, queue: &str) -> lapin::Result<u32> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok(declared.message_count())
}
