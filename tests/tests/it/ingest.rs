//! Ingest against a real RabbitMQ: what a sender sees, and what lands in the queues.

use relay_tests::alerts::{self, alert, hmac_header, standard_headers, standard_headers_at};
use relay_tests::ingest::{config, TestIngest, BEARER_TOKEN, HMAC_SECRET};
use relay_tests::processor::drop_schema;
use relay_tests::proxy::Proxy;
use relay_tests::rabbit::Rabbit;
use relay_tests::{wait, Context};
use serde_json::{json, Value};
use shared::amqp::topology::{header_i64, header_str};
use shared::amqp::Topology;
use std::time::Duration;

/// A running ingest with its own prefix, and a connection to look into its queues.
struct Harness {
    ctx: Context,
    ingest: TestIngest,
    rabbit: Rabbit,
    topology: Topology,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with("").await
    }

    async fn start_with(extra: &str) -> Harness {
        let ctx = Context::new();
        let ingest = TestIngest::spawn(&config(&ctx, &ctx.amqp_url, extra)).await;
        ingest.ready().await;
        let rabbit = Rabbit::connect(&ctx.amqp_url).await;
        let topology = Topology::new(&ctx.prefix);
        Harness {
            ctx,
            ingest,
            rabbit,
            topology,
        }
    }

    async fn send_demo(&self, body: &Value) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).expect("json");
        self.ingest
            .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
            .await
    }

    async fn work_count(&self) -> u32 {
        self.rabbit.count(&self.topology.work_queue()).await
    }

    async fn finish(self) {
        self.ingest.stop().await.expect("ingest stops cleanly");
        self.rabbit.delete_topology(&self.ctx.prefix).await;
        drop_schema(&self.ctx.prefix).await;
    }
}

async fn error_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without a message: {body}"
    );
    (status, code, body)
}

#[tokio::test]
async fn a_signed_alert_lands_in_the_work_queue_as_a_persistent_message() {
    let h = Harness::start().await;
    let response = h.send_demo(&alert("evt-1")).await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["accepted"], 1);
    let expected_id = shared::message::message_id("demo", "evt-1");
    assert_eq!(answer["ids"], json!([expected_id]));

    let taken = h.rabbit.take_all(&h.topology.work_queue()).await;
    assert_eq!(taken.len(), 1);
    let message = &taken[0];
    assert_eq!(message.message_id.as_deref(), Some(expected_id.as_str()));
    assert_eq!(message.delivery_mode, Some(2), "persistent");
    assert_eq!(message.content_type.as_deref(), Some("application/json"));
    assert_eq!(header_i64(&message.headers, "x-relay-schema"), Some(1));
    assert_eq!(
        header_str(&message.headers, "x-relay-source").as_deref(),
        Some("demo")
    );
    assert_eq!(
        header_str(&message.headers, "x-relay-alert-id").as_deref(),
        Some("evt-1")
    );
    assert_eq!(message.body["source"], "demo");
    assert!(message.body["received_at"].is_string());
    let mut sent = alert("evt-1");
    sent["status"] = json!("firing"); // the default, made explicit on the queue
    assert_eq!(message.body["alert"], sent);
    h.finish().await;
}

#[tokio::test]
async fn a_batch_of_n_alerts_gives_n_messages_in_order() {
    let h = Harness::start().await;
    let batch: Vec<Value> = (0..5).map(|i| alert(&format!("batch-{i}"))).collect();
    let response = h.send_demo(&json!(batch)).await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["accepted"], 5);
    let taken = h.rabbit.take_all(&h.topology.work_queue()).await;
    let ids: Vec<_> = taken
        .iter()
        .map(|m| m.body["alert"]["id"].clone())
        .collect();
    assert_eq!(
        ids,
        (0..5)
            .map(|i| json!(format!("batch-{i}")))
            .collect::<Vec<_>>()
    );
    let message_ids: Vec<_> = taken.iter().map(|m| json!(m.message_id)).collect();
    assert_eq!(json!(message_ids), answer["ids"]);
    h.finish().await;
}

#[tokio::test]
async fn both_secrets_of_a_rotation_are_accepted() {
    let h = Harness::start().await;
    for (i, secret) in [alerts::SECRET, alerts::SECRET_2].into_iter().enumerate() {
        let bytes = serde_json::to_vec(&alert(&format!("rot-{i}"))).expect("json");
        let response = h
            .ingest
            .post("demo", &bytes, &standard_headers(secret, &bytes))
            .await;
        assert_eq!(response.status().as_u16(), 202, "secret #{i}");
    }
    assert_eq!(h.work_count().await, 2);
    h.finish().await;
}

#[tokio::test]
async fn an_hmac_sha256_source_accepts_its_signature() {
    let h = Harness::start().await;
    let bytes = serde_json::to_vec(&alert("gh-1")).expect("json");
    let header = (
        "X-Hub-Signature-256".to_string(),
        hmac_header(HMAC_SECRET, &bytes),
    );
    let response = h.ingest.post("gh", &bytes, &[header]).await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(h.work_count().await, 1);
    h.finish().await;
}

/// The offending fields an error answer names.
fn fields_of(answer: &Value) -> Vec<&str> {
    answer["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect()
}

/// A rejection case: name, source, body, headers, expected status, expected code.
type Case = (
    &'static str,
    &'static str,
    Vec<u8>,
    Vec<(String, String)>,
    u16,
    &'static str,
);
/// A change that breaks one field of a valid alert.
type Mutation = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn every_rejection_has_its_status_and_code_and_enqueues_nothing() {
    let h = Harness::start().await;
    let body = serde_json::to_vec(&alert("rejected")).expect("json");
    let now = chrono::Utc::now().timestamp();
    let signed = |bytes: &[u8]| standard_headers(alerts::SECRET, bytes);
    let without = |name: &str| -> Vec<(String, String)> {
        signed(&body)
            .into_iter()
            .filter(|(k, _)| k != name)
            .collect()
    };
    let wrong_secret = "whsec_d3Jvbmctc2VjcmV0LWZvci1hbGVydC1yZWxheQ==";

    // Timestamps a minute past the 300 s tolerance: on a loaded machine the request may go
    // out a few seconds after `now`, and 1 s past it was then back inside the tolerance.
    let mut cases: Vec<Case> = vec![
        (
            "wrong secret",
            "demo",
            body.clone(),
            standard_headers(wrong_secret, &body),
            401,
            "signature_invalid",
        ),
        (
            "stale timestamp",
            "demo",
            body.clone(),
            standard_headers_at(alerts::SECRET, &body, now - 360),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "future timestamp",
            "demo",
            body.clone(),
            standard_headers_at(alerts::SECRET, &body, now + 360),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "missing webhook-id",
            "demo",
            body.clone(),
            without("webhook-id"),
            401,
            "signature_missing",
        ),
        (
            "missing webhook-timestamp",
            "demo",
            body.clone(),
            without("webhook-timestamp"),
            401,
            "signature_missing",
        ),
        (
            "missing webhook-signature",
            "demo",
            body.clone(),
            without("webhook-signature"),
            401,
            "signature_missing",
        ),
        (
            "no headers at all",
            "demo",
            body.clone(),
            vec![],
            401,
            "signature_missing",
        ),
        (
            "body changed after signing",
            "demo",
            serde_json::to_vec(&alert("other")).expect("json"),
            signed(&body),
            401,
            "signature_invalid",
        ),
        (
            "unknown source",
            "nobody",
            body.clone(),
            signed(&body),
            404,
            "unknown_source",
        ),
        (
            "wrong bearer token",
            "am",
            body.clone(),
            vec![("authorization".into(), "Bearer not-the-token-at-all".into())],
            401,
            "token_invalid",
        ),
        (
            "bad sha256= header",
            "gh",
            body.clone(),
            vec![("X-Hub-Signature-256".into(), "sha1=abcdef".into())],
            401,
            "signature_malformed",
        ),
        (
            "sha256= of another secret",
            "gh",
            body.clone(),
            vec![(
                "X-Hub-Signature-256".into(),
                hmac_header("another-secret-entirely", &body),
            )],
            401,
            "signature_invalid",
        ),
    ];
    let malformed = b"{\"id\": \"x\",".to_vec();
    cases.push((
        "malformed JSON",
        "demo",
        malformed.clone(),
        signed(&malformed),
        400,
        "malformed_json",
    ));
    let empty = b"[]".to_vec();
    cases.push((
        "empty batch",
        "demo",
        empty.clone(),
        signed(&empty),
        400,
        "empty_batch",
    ));
    let not_am = serde_json::to_vec(&json!({"hello": "world"})).expect("json");
    cases.push((
        "not an Alertmanager payload",
        "am",
        not_am,
        vec![("authorization".into(), format!("Bearer {BEARER_TOKEN}"))],
        400,
        "invalid_payload",
    ));

    // Each schema violation, named by its field.
    let violations: Vec<(&str, Mutation, &str)> = vec![
        (
            "id missing",
            Box::new(|a: &mut Value| {
                a.as_object_mut().map(|o| o.remove("id"));
            }),
            "id",
        ),
        (
            "event_type missing",
            Box::new(|a: &mut Value| {
                a.as_object_mut().map(|o| o.remove("event_type"));
            }),
            "event_type",
        ),
        (
            "severity unknown",
            Box::new(|a: &mut Value| a["severity"] = json!("urgent")),
            "severity",
        ),
        (
            "organization.id missing",
            Box::new(|a: &mut Value| a["organization"] = json!({"name": "x"})),
            "organization.id",
        ),
        (
            "title not a string",
            Box::new(|a: &mut Value| a["title"] = json!(42)),
            "title",
        ),
        (
            "occurred_at not RFC 3339",
            Box::new(|a: &mut Value| a["occurred_at"] = json!("yesterday")),
            "occurred_at",
        ),
        (
            "status unknown",
            Box::new(|a: &mut Value| a["status"] = json!("open")),
            "status",
        ),
        (
            "unknown field",
            Box::new(|a: &mut Value| a["severty"] = json!("high")),
            "severty",
        ),
        (
            "respond_rule.id missing",
            Box::new(|a: &mut Value| a["respond_rule"] = json!({"name": "x"})),
            "respond_rule.id",
        ),
        (
            "details not an object",
            Box::new(|a: &mut Value| a["details"] = json!([1])),
            "details",
        ),
    ];
    let mut violation_cases = Vec::new();
    for (name, mutate, field) in &violations {
        let mut value = alert("bad");
        mutate(&mut value);
        let bytes = serde_json::to_vec(&value).expect("json");
        violation_cases.push((*name, bytes, *field));
    }

    for (case, source, bytes, headers, status, code) in &cases {
        let (got_status, got_code, _) = error_of(h.ingest.post(source, bytes, headers).await).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (*status, *code),
            "case: {case}"
        );
    }
    for (case, bytes, field) in &violation_cases {
        let response = h.ingest.post("demo", bytes, &signed(bytes)).await;
        let (status, code, answer) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_alert"),
            "case: {case}"
        );
        assert_eq!(fields_of(&answer), [*field], "case: {case}");
    }

    // In a batch, every bad alert is named with its position, and the good ones are not sent.
    let mut second = alert("b2");
    second["severity"] = json!("urgent");
    let batch = serde_json::to_vec(&json!([alert("b1"), second, {"id": 3}])).expect("json");
    let (status, code, answer) =
        error_of(h.ingest.post("demo", &batch, &signed(&batch)).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_alert"));
    let fields = fields_of(&answer);
    assert!(
        fields.contains(&"[1].severity")
            && fields.contains(&"[2].id")
            && fields.contains(&"[2].event_type"),
        "{fields:?}"
    );

    // Too large: announced by Content-Length, and streamed without one.
    let big = vec![b' '; 20_000];
    let (status, code, _) = error_of(h.ingest.post("demo", &big, &signed(&big)).await).await;
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 1000])).collect();
    let streamed = h
        .ingest
        .client
        .post(h.ingest.url("/v1/webhooks/demo"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("answer");
    let (status, code, _) = error_of(streamed).await;
    assert_eq!((status, code.as_str()), (413, "body_too_large"));

    // Wrong content type, and none.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = h
            .ingest
            .client
            .post(h.ingest.url("/v1/webhooks/demo"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("answer");
        let (status, code, _) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (415, "unsupported_media_type"),
            "{content_type}"
        );
    }
    let response = h
        .ingest
        .client
        .post(h.ingest.url("/v1/webhooks/demo"))
        .body(body.clone())
        .send()
        .await
        .expect("answer");
    assert_eq!(error_of(response).await.1, "unsupported_media_type");

    // Other paths and methods are JSON errors too.
    let response = h
        .ingest
        .client
        .get(h.ingest.url("/v1/webhooks/demo"))
        .send()
        .await
        .expect("answer");
    assert_eq!(error_of(response).await.0, 405);
    let response = h
        .ingest
        .client
        .get(h.ingest.url("/nowhere"))
        .send()
        .await
        .expect("answer");
    assert_eq!(error_of(response).await.0, 404);

    assert_eq!(
        h.work_count().await,
        0,
        "nothing may be enqueued for a rejected request"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_body_that_repeats_a_key_is_refused_naming_the_key_and_enqueues_nothing() {
    let h = Harness::start().await;
    // Signed correctly: the signer may have read "d1" and the relay "d2".
    let cases = [
        (
            r#"{"id":"d1","id":"d2","event_type":"e","severity":"high","organization":{"id":"o"},"title":"t","occurred_at":"2026-05-01T10:00:00Z"}"#,
            "id",
        ),
        (
            r#"[{"id":"a","event_type":"e","severity":"high","organization":{"id":"o"},"title":"t","occurred_at":"2026-05-01T10:00:00Z"},{"id":"b","event_type":"e","severity":"high","organization":{"id":"o","id":"p"},"title":"t","occurred_at":"2026-05-01T10:00:00Z"}]"#,
            "[1].organization.id",
        ),
        (
            r#"{"id":"c","event_type":"e","severity":"high","organization":{"id":"o"},"title":"t","occurred_at":"2026-05-01T10:00:00Z","details":{"k":1,"k":2}}"#,
            "details.k",
        ),
    ];
    for (body, field) in cases {
        let headers = standard_headers(alerts::SECRET, body.as_bytes());
        let (status, code, answer) =
            error_of(h.ingest.post("demo", body.as_bytes(), &headers).await).await;
        assert_eq!((status, code.as_str()), (400, "duplicate_key"), "{body}");
        assert_eq!(fields_of(&answer), [field], "{body}");
    }
    assert_eq!(h.work_count().await, 0, "nothing enqueued");
    h.finish().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn a_gzip_body_signed_as_sent_is_accepted_and_other_encodings_are_refused_by_name() {
    let h = Harness::start().await;
    let post = |body: Vec<u8>, encoding: &'static str| {
        let mut headers = standard_headers(alerts::SECRET, &body);
        headers.push(("content-encoding".into(), encoding.into()));
        let ingest = &h.ingest;
        async move { ingest.post("demo", &body, &headers).await }
    };

    // Compressed, signed over the compressed bytes: the alert it carries is queued.
    let plain = serde_json::to_vec(&alert("zipped")).expect("json");
    let response = post(gzip(&plain), "gzip").await;
    assert_eq!(response.status().as_u16(), 202);
    let taken = h.rabbit.take_all(&h.topology.work_queue()).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].body["alert"]["id"], "zipped");

    // A bomb: small on the wire, past the body limit once decompressed.
    let mut huge = b"{\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4_000_000));
    huge.extend(b"\"}");
    let bomb = gzip(&huge);
    assert!(bomb.len() < 16_000, "{} bytes compressed", bomb.len());
    let (status, code, _) = error_of(post(bomb, "gzip").await).await;
    assert_eq!((status, code.as_str()), (413, "body_too_large"));

    // Says gzip, is not.
    let (status, code, _) = error_of(post(plain.clone(), "gzip").await).await;
    assert_eq!((status, code.as_str()), (400, "malformed_encoding"));

    // Any other coding, or codings stacked, named in the answer.
    for encoding in ["br", "deflate", "zstd", "gzip, gzip"] {
        let response = post(plain.clone(), encoding).await;
        let (status, code, answer) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (415, "unsupported_encoding"),
            "{encoding}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(encoding), "{message}");
    }
    assert_eq!(
        h.work_count().await,
        0,
        "only the accepted alert was queued, and taken"
    );
    h.finish().await;
}

#[tokio::test]
async fn the_standard_webhooks_published_example_passes_verification() {
    // The specification's example was signed in 2021: accept any age to check the signature
    // itself. It then reaches validation, which refuses its body: a 400, not a 401.
    let ctx = Context::new();
    let text = config(&ctx, &ctx.amqp_url, "")
        .replace(
            "max_body_bytes = 16384",
            "max_body_bytes = 16384\ntimestamp_tolerance_secs = 3000000000",
        )
        .replace(alerts::SECRET_2, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let ingest = TestIngest::spawn(&text).await;
    ingest.ready().await;
    let vector = |signature: &str| {
        vec![
            (
                "webhook-id".to_string(),
                "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string(),
            ),
            ("webhook-timestamp".to_string(), "1614265330".to_string()),
            ("webhook-signature".to_string(), signature.to_string()),
        ]
    };
    let body = br#"{"test": 2432232314}"#;
    let good = vector("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    let (status, code, _) = error_of(ingest.post("demo", body, &good).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_alert"));
    let tampered = vector("v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    let (status, code, _) = error_of(ingest.post("demo", body, &tampered).await).await;
    assert_eq!((status, code.as_str()), (401, "signature_invalid"));
    ingest.stop().await.expect("stops");
    Rabbit::connect(&ctx.amqp_url)
        .await
        .delete_topology(&ctx.prefix)
        .await;
    drop_schema(&ctx.prefix).await;
}

#[tokio::test]
async fn an_unreachable_broker_gives_503_and_ingest_recovers_by_itself() {
    let ctx = Context::new();
    let rabbit_addr = "127.0.0.1:5672".parse().expect("addr");
    let proxy = Proxy::start(rabbit_addr).await;
    let via_proxy = ctx
        .amqp_url
        .replace("127.0.0.1:5672", &proxy.addr.to_string());
    let ingest = TestIngest::spawn(&config(&ctx, &via_proxy, "")).await;
    ingest.ready().await;
    let rabbit = Rabbit::connect(&ctx.amqp_url).await;
    let work = Topology::new(&ctx.prefix).work_queue();

    proxy.cut();
    let readyz = ingest.url("/readyz");
    let client = ingest.client.clone();
    wait::until(
        "readyz to report the outage",
        Duration::from_secs(20),
        || {
            let (client, readyz) = (client.clone(), readyz.clone());
            async move {
                let response = client.get(readyz).send().await.ok()?;
                (response.status().as_u16() == 503).then_some(())
            }
        },
    )
    .await;
    let bytes = serde_json::to_vec(&alert("during-outage")).expect("json");
    let response = ingest
        .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
        .await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (503, "broker_unavailable"));
    assert_eq!(rabbit.count(&work).await, 0);

    proxy.restore().await;
    ingest.ready().await;
    let bytes = serde_json::to_vec(&alert("after-outage")).expect("json");
    let response = ingest
        .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let taken = rabbit.take_all(&work).await;
    let ids: Vec<_> = taken
        .iter()
        .map(|m| m.body["alert"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("after-outage")]);
    ingest.stop().await.expect("stops");
    rabbit.delete_topology(&ctx.prefix).await;
    drop_schema(&ctx.prefix).await;
}

#[tokio::test]
async fn a_broker_down_at_start_is_waited_for_and_answered_with_503() {
    let ctx = Context::new();
    let nowhere = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        relay_tests::free_port()
    );
    let ingest = TestIngest::spawn(&config(&ctx, &nowhere, "")).await;
    let response = ingest
        .client
        .get(ingest.url("/readyz"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 503);
    let health = ingest
        .client
        .get(ingest.url("/healthz"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        health.status().as_u16(),
        200,
        "alive even without the broker"
    );
    let bytes = serde_json::to_vec(&alert("nowhere")).expect("json");
    let response = ingest
        .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
        .await;
    assert_eq!(error_of(response).await.0, 503);
    ingest.stop().await.expect("stops even while disconnected");
    drop_schema(&ctx.prefix).await;
}

#[tokio::test]
async fn metrics_count_requests_by_source_and_outcome() {
    let h = Harness::start().await;
    assert_eq!(h.send_demo(&alert("m-1")).await.status().as_u16(), 202);
    let bytes = b"{}".to_vec();
    h.ingest.post("demo", &bytes, &[]).await;
    let text = h
        .ingest
        .client
        .get(h.ingest.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for expected in [
        r#"relay_ingest_requests_total{source="demo",outcome="accepted"} 1"#,
        r#"relay_ingest_requests_total{source="demo",outcome="signature_missing"} 1"#,
        r#"relay_ingest_alerts_accepted_total{source="demo"} 1"#,
        "relay_ingest_publish_confirm_seconds_count 1",
        "relay_ingest_requests_in_flight 0",
        "relay_ingest_broker_connected 1",
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    h.finish().await;
}

#[tokio::test]
async fn metrics_require_the_token_when_one_is_configured() {
    let ctx = Context::new();
    let text = config(&ctx, &ctx.amqp_url, "").replace(
        "retry_after_secs = 7",
        "retry_after_secs = 7\nmetrics_token = \"metrics-token-0123456789\"",
    );
    let ingest = TestIngest::spawn(&text).await;
    let anonymous = ingest
        .client
        .get(ingest.url("/metrics"))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status().as_u16(), 401);
    let authorised = ingest
        .client
        .get(ingest.url("/metrics"))
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .expect("answer");
    assert_eq!(authorised.status().as_u16(), 200);
    ingest.stop().await.expect("stops");
    Rabbit::connect(&ctx.amqp_url)
        .await
        .delete_topology(&ctx.prefix)
        .await;
    drop_schema(&ctx.prefix).await;
}
