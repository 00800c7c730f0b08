//! `bench-baseline`: the least an ingress can do on this machine, to measure ingest against.
//! One actix-web handler checks a Standard Webhooks HMAC over the raw body and publishes the
//! body, persistent, to a quorum queue with a publisher confirm; no parsing, no validation,
//! no metrics, no logs. `BASELINE_PORT`, `BASELINE_QUEUE`, `BASELINE_SECRET`, `AMQP_URL`.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::Mac;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use shared::signing::{decode_whsec, standard_webhooks_mac};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct State {
    key: Vec<u8>,
    queue: String,
    channels: Vec<Channel>,
    next: AtomicUsize,
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
    let state = Arc::new(State {
        key,
        queue,
        channels,
        next: AtomicUsize::new(0),
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
