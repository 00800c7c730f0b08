//! `bench-baseline`: the least an ingress can do on this machine, to measure ingest against.
//! One actix-web handler checks a Standard Webhooks HMAC over the raw body and publishes the
//! body, persistent, to a quorum queue with a publisher confirm; no parsing, no validation,
//! no metrics, no logs. `BASELINE_PORT`, `BASELINE_QUEUE`, `BASELINE_SECRET`, `AMQP_URL`.
//!
//! `BASELINE_PREFIX` set: the body goes instead through the relay's own broker path
//! (`shared::amqp::Broker::publish_confirmed`: the deployment's exchange and quorum work
//! queue under that prefix, `mandatory`, ingest's properties and headers). Still no parsing,
//! so the difference to ingest is ingest's own work, and the difference to the bare baseline
//! is what the relay's durable topology costs the broker.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::Mac;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use secrecy::SecretString;
use shared::amqp::topology::WORK_KEY;
use shared::amqp::{Broker, BrokerOptions, HeaderValue, Outgoing, Topology};
use shared::envelope::{ALERT_ID_HEADER, SCHEMA_HEADER, SCHEMA_VERSION, SOURCE_HEADER};
use shared::signing::{decode_whsec, standard_webhooks_mac};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct State {
    key: Vec<u8>,
    queue: String,
    channels: Vec<Channel>,
    next: AtomicUsize,
    /// The relay's broker path, when `BASELINE_PREFIX` is set.
    relay: Option<Broker>,
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let signature = header("webhook-signature")
        .strip_prefix("v1,")
        .unwrap_or_default();
    let Ok(signature) =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature)
    else {
        return HttpResponse::Unauthorized().finish();
    };
    let mac = standard_webhooks_mac(
        &state.key,
        header("webhook-id"),
        header("webhook-timestamp"),
        &body,
    );
    if mac.verify_slice(&signature).is_err() {
        return HttpResponse::Unauthorized().finish();
    }
    if let Some(broker) = &state.relay {
        let message = Outgoing {
            routing_key: WORK_KEY.to_string(),
            message_id: header("webhook-id").to_string(),
            body: body.to_vec(),
            headers: vec![
                (SCHEMA_HEADER, HeaderValue::Int(SCHEMA_VERSION)),
                (SOURCE_HEADER, HeaderValue::Str("bench".to_string())),
                (
                    ALERT_ID_HEADER,
                    HeaderValue::Str(header("webhook-id").to_string()),
                ),
            ],
        };
        return match broker
            .publish_confirmed(&[message], Duration::from_secs(10))
            .await
        {
            Ok(()) => HttpResponse::Accepted().finish(),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        };
    }
    let channel =
        &state.channels[state.next.fetch_add(1, Ordering::Relaxed) % state.channels.len()];
    let confirm = channel
        .basic_publish(
            "".into(),
            state.queue.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await;
    match confirm {
        Ok(confirm) => match confirm.await {
            Ok(Confirmation::Ack(_)) => HttpResponse::Accepted().finish(),
            _ => HttpResponse::ServiceUnavailable().finish(),
        },
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = env("BASELINE_PORT", "8181").parse()?;
    let queue = env("BASELINE_QUEUE", "baseline");
    let key = decode_whsec(&env("BASELINE_SECRET", ""))
        .ok_or_else(|| anyhow::anyhow!("BASELINE_SECRET must be a whsec_ secret"))?;
    let connection = Connection::connect(
        &env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ConnectionProperties::default(),
    )
    .await?;
    let mut channels = Vec::new();
    for _ in 0..4 {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    channels[0]
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    let relay = match std::env::var("BASELINE_PREFIX") {
        Ok(prefix) if !prefix.is_empty() => {
            let broker = Broker::start(BrokerOptions {
                url: SecretString::from(env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")),
                topology: Topology::new(&prefix),
                publish_channels: 4,
                max_backoff: Duration::from_secs(1),
                connection_name: "bench-baseline (relay path)".to_string(),
            });
            if !broker.wait_connected(Duration::from_secs(30)).await {
                anyhow::bail!("the relay's broker path did not connect");
            }
            Some(broker)
        }
        _ => None,
    };
    let state = Arc::new(State {
        key,
        queue,
        channels,
        next: AtomicUsize::new(0),
        relay,
    });
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::new(256 * 1024))
            .route("/v1/webhooks/{source}", web::post().to(receive))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
