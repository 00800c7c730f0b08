//! The RabbitMQ topology, named from the deployment prefix and declared idempotently by every
//! binary at start-up (and again after each reconnect), so no set-up step can be forgotten.
//!
//! ```text
//! exchange {prefix}.alerts (direct, durable)
//!   ├─ "work" → {prefix}.alerts.work  quorum; poison messages past the delivery limit are
//!   │                                  dead-lettered (at-least-once) to "dead"
//!   └─ "dead" → {prefix}.alerts.dead  quorum
//! ```

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Routing key of the work queue.
pub const WORK_KEY: &str = "work";
/// Routing key of the dead-letter queue.
pub const DEAD_KEY: &str = "dead";
/// Deliveries of one message after which the broker itself dead-letters it: a safety net for
/// a message that crashes every worker that takes it, so it cannot block a queue forever.
pub const DELIVERY_LIMIT: i64 = 20;

/// Names of every exchange and queue of one deployment.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            prefix: prefix.to_string(),
        }
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
            .await
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
