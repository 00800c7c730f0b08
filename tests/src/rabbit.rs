//! Looking into RabbitMQ the way an operator would: what is in a queue, and cleaning up.

use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, ExchangeDeleteOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use shared::amqp::Topology;

/// A plain connection for inspecting queues.
pub struct Rabbit {
    connection: Connection,
    channel: Channel,
}

/// One message taken off a queue, with what a consumer sees of it.
#[derive(Debug)]
pub struct Taken {
    pub body: serde_json::Value,
    pub message_id: Option<String>,
    pub delivery_mode: Option<u8>,
    pub content_type: Option<String>,
    pub headers: FieldTable,
}

impl Rabbit {
    pub async fn connect(url: &str) -> Rabbit {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ must be running for the integration tests");
        let channel = connection.create_channel().await.expect("channel");
        Rabbit {
            connection,
            channel,
        }
    }

    /// Messages ready in `queue` (0 when it does not exist).
    pub async fn count(&self, queue: &str) -> u32 {
        let channel = self.connection.create_channel().await.expect("channel");
        match channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
        {
            Ok(q) => q.message_count(),
            Err(_) => 0,
        }
    }

    /// Takes (and acknowledges) every message ready in `queue`.
    pub async fn take_all(&self, queue: &str) -> Vec<Taken> {
        let mut taken = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            taken.push(describe(&message));
            message.ack(BasicAckOptions::default()).await.expect("ack");
        }
        taken
    }

    /// Deletes one queue, if it exists.
    pub async fn delete_queue(&self, queue: &str) {
        let _ = self
            .channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }

    /// Deletes a test's exchange and queues.
    pub async fn delete_topology(&self, prefix: &str) {
        let topology = Topology::new(prefix);
        for queue in [
            topology.work_queue(),
            topology.dead_queue(),
            topology.parked_queue(),
            topology.billable_users_queue(),
        ] {
            let _ = self
                .channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = self
            .channel
            .exchange_delete(
                topology.exchange().as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
}

fn describe(message: &BasicGetMessage) -> Taken {
    let props = &message.delivery.properties;
    Taken {
        body: serde_json::from_slice(&message.delivery.data).expect("a JSON body"),
        message_id: props.message_id().as_ref().map(|s| s.to_string()),
        delivery_mode: *props.delivery_mode(),
        content_type: props.content_type().as_ref().map(|s| s.to_string()),
        headers: props.headers().clone().unwrap_or_default(),
    }
}
