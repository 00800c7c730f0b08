//! Ingest against its OpenAPI document, `docs/openapi/ingest.json`: every answer to a
//! representative set of requests (accepted, refused for each reason, health, readiness,
//! metrics, the broker away) is checked against the document; the document's request schemas
//! accept exactly what ingest accepts among a set of edge cases; and the document itself is
//! valid and lists exactly the error codes ingest can answer, which are the README's.

use flate2::write::GzEncoder;
use relay_tests::alerts::{self, alert, hmac_header, standard_headers, standard_headers_at};
use relay_tests::ingest::{config, TestIngest, BEARER_TOKEN, HMAC_SECRET};
use relay_tests::openapi::{Reply, Spec};
use relay_tests::processor::drop_schema;
use relay_tests::rabbit::Rabbit;
use relay_tests::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The document under test, the README that must agree with it, and the one place ingest's
/// error codes are defined.
const DOCUMENT: &str = include_str!("../../../docs/openapi/ingest.json");
const README: &str = include_str!("../../../README.md");
const ERROR_RS: &str = include_str!("../../../ingest/src/error.rs");

const METRICS_TOKEN: &str = "metrics-token-0123456789";

/// A request to send, built up step by step; signed last, over the body as it will be sent.
struct Request {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

impl Request {
    fn new(method: Method, path: &str) -> Request {
        Request {
            method,
            path: path.to_string(),
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
        }
    }

    fn post(path: &str) -> Request {
        Request::new(Method::POST, path)
    }

    fn get(path: &str) -> Request {
        Request::new(Method::GET, path)
    }

    fn json(self, value: &Value) -> Request {
        self.raw(
            Some("application/json"),
            serde_json::to_vec(value).expect("json"),
        )
    }

    fn raw(mut self, content_type: Option<&'static str>, body: Vec<u8>) -> Request {
        self.content_type = content_type;
        self.body = body;
        self
    }

    fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn headers(mut self, headers: Vec<(String, String)>) -> Request {
        self.headers.extend(headers);
        self
    }

    /// Signed as the test configuration's source `source` signs: `demo` Standard Webhooks,
    /// `gh` an HMAC-SHA256 header, `am` a bearer token (any other name: as `demo`).
    fn signed_by(self, source: &str) -> Request {
        let headers = signature(source, &self.body);
        self.headers(headers)
    }
}

fn signature(source: &str, body: &[u8]) -> Vec<(String, String)> {
    match source {
        "gh" => vec![("X-Hub-Signature-256".into(), hmac_header(HMAC_SECRET, body))],
        "am" => vec![("authorization".into(), format!("Bearer {BEARER_TOKEN}"))],
        _ => standard_headers(alerts::SECRET, body),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// An ingest with its own prefix whose every answer is checked against the document.
struct Checked {
    ctx: Context,
    ingest: TestIngest,
    spec: Spec,
}

impl Checked {
    /// Ingest with the usual test sources, `ingest_keys` added to `[ingest]`, talking to
    /// RabbitMQ at `amqp_url` (the real one when `None`).
    async fn start(ingest_keys: &str, amqp_url: Option<&str>) -> Checked {
        let ctx = Context::new();
        let mut text = config(&ctx, amqp_url.unwrap_or(&ctx.amqp_url), "");
        for line in ingest_keys.lines() {
            let key = line.split('=').next().unwrap_or_default().trim();
            // A key the test configuration sets already is replaced, others are added.
            let set = text
                .lines()
                .find(|l| l.split('=').next().unwrap_or_default().trim() == key)
                .map(str::to_string);
            text = match set {
                Some(old) => text.replacen(&old, line, 1),
                None => text.replacen(
                    "retry_after_secs = 7",
                    &format!("retry_after_secs = 7\n{line}"),
                    1,
                ),
            };
        }
        let ingest = TestIngest::spawn(&text).await;
        if amqp_url.is_none() {
            ingest.ready().await;
        }
        Checked {
            ctx,
            ingest,
            spec: Spec::from_document(DOCUMENT),
        }
    }

    fn addr(&self) -> String {
        self.ingest
            .base_url
            .trim_start_matches("http://")
            .to_string()
    }

    /// Sends `request` and checks the answer against the document.
    async fn send(&self, request: Request) -> Reply {
        let mut builder = self
            .ingest
            .client
            .request(request.method.clone(), self.ingest.url(&request.path))
            .body(request.body.clone());
        if let Some(content_type) = request.content_type {
            builder = builder.header("content-type", content_type);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder.send().await.expect("ingest answers");
        let reply = Reply::read(response)
            .await
            .unwrap_or_else(|e| panic!("{} {} → {e}", request.method, request.path));
        self.spec.check(&request.method, &request.path, &reply);
        reply
    }

    /// Sends `request`, checks the answer against the document, and asserts its status and
    /// error code (`""` for none).
    async fn expect(&self, what: &str, request: Request, status: u16, code: &str) -> Reply {
        let reply = self.send(request).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{what}: {}",
            reply.body
        );
        reply
    }

    async fn finish(self) {
        self.ingest.stop().await.expect("ingest stops cleanly");
        Rabbit::connect(&self.ctx.amqp_url)
            .await
            .delete_topology(&self.ctx.prefix)
            .await;
        drop_schema(&self.ctx.prefix).await;
    }
}

/// Sends `request` as raw bytes (what an HTTP client will not send, or not wait for) and
/// reads the answer off the socket until its body is complete or the server closes.
async fn raw_exchange(addr: &str, request: &[u8], then_wait: Duration) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before the whole request is written.
    let _ = stream.write_all(request).await;
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return (head, buf[end + 4..end + 4 + length].to_vec());
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return (String::from_utf8_lossy(&buf).to_string(), Vec::new()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let (head, body) = tokio::time::timeout(then_wait + Duration::from_secs(10), read)
        .await
        .expect("an answer in time");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"));
    let mut headers = HeaderMap::new();
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    Reply::from_parts(status, headers, &body).expect("a readable answer")
}

/// An Alertmanager webhook (version 4) carrying `alerts`, as the `am` source reads it
/// (organization label `tenant`).
fn alertmanager(alerts: Value) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "alert-relay", "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": alerts,
    })
}

fn am_entry(status: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": "DiskFull", "severity": "warning", "tenant": "org-42"},
        "annotations": {"summary": "Disk full on db-1"},
        "startsAt": "2026-05-01T10:00:00Z",
        "endsAt": if status == "resolved" { "2026-05-01T11:00:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "c0ffee0123456789",
    })
}

fn count(organization: &str, users: u64) -> Value {
    json!({"organization_id": organization, "billable_users": users, "as_of": "2026-05-01T00:00:00Z"})
}

#[tokio::test]
async fn every_answer_of_ingest_is_one_its_openapi_document_describes() {
    let h = Checked::start("body_timeout_ms = 1000", None).await;
    let one = alert("oa-1");

    // Accepted: each body and each signature scheme.
    let reply = h
        .expect(
            "one alert",
            Request::post("/v1/webhooks/demo")
                .json(&one)
                .signed_by("demo"),
            202,
            "",
        )
        .await;
    assert_eq!(
        reply.body["ids"],
        json!([shared::message::message_id("demo", "oa-1")])
    );
    let batch = json!([alert("oa-2"), alert("oa-3"), alert("oa-4")]);
    let reply = h
        .expect(
            "a batch",
            Request::post("/v1/webhooks/demo")
                .json(&batch)
                .signed_by("demo"),
            202,
            "",
        )
        .await;
    assert_eq!(reply.body["accepted"], 3);
    h.expect(
        "an HMAC-signed alert",
        Request::post("/v1/webhooks/gh")
            .json(&alert("oa-5"))
            .signed_by("gh"),
        202,
        "",
    )
    .await;
    let reply = h
        .expect(
            "an Alertmanager webhook",
            Request::post("/v1/webhooks/am")
                .json(&alertmanager(json!([
                    am_entry("firing"),
                    am_entry("resolved")
                ])))
                .signed_by("am"),
            202,
            "",
        )
        .await;
    assert_eq!(reply.body["accepted"], 2);
    let compressed = gzip(&serde_json::to_vec(&alert("oa-6")).expect("json"));
    h.expect(
        "a gzip body",
        Request::post("/v1/webhooks/demo")
            .raw(Some("application/json; charset=utf-8"), compressed)
            .header("content-encoding", "gzip")
            .signed_by("demo"),
        202,
        "",
    )
    .await;
    h.expect(
        "an empty heartbeat",
        Request::post("/v1/heartbeats/demo").signed_by("demo"),
        202,
        "",
    )
    .await;
    h.expect(
        "a JSON heartbeat",
        Request::post("/v1/heartbeats/am")
            .json(&json!({"note": "nightly job ok"}))
            .signed_by("am"),
        202,
        "",
    )
    .await;
    let reply = h
        .expect(
            "billable-user counts",
            Request::post("/v1/billable-users/demo")
                .json(&json!([count("org-42", 42), count("org-7", 0)]))
                .signed_by("demo"),
            202,
            "",
        )
        .await;
    assert_eq!(reply.body["accepted"], 2);

    // Refused: the payload.
    h.expect(
        "bad JSON",
        Request::post("/v1/webhooks/demo")
            .raw(Some("application/json"), b"{\"id\": \"x\",".to_vec())
            .signed_by("demo"),
        400,
        "malformed_json",
    )
    .await;
    let reply = h
        .expect(
            "a repeated key",
            Request::post("/v1/webhooks/demo")
                .raw(
                    Some("application/json"),
                    br#"{"id": "a", "id": "b"}"#.to_vec(),
                )
                .signed_by("demo"),
            400,
            "duplicate_key",
        )
        .await;
    assert_eq!(reply.fields(), ["id"]);
    let mut bad = alert("oa-bad");
    bad["severity"] = json!("urgent");
    bad["organization"] = json!({"name": "Contoso"});
    let reply = h
        .expect(
            "invalid fields",
            Request::post("/v1/webhooks/demo")
                .json(&json!([alert("oa-good"), bad]))
                .signed_by("demo"),
            400,
            "invalid_alert",
        )
        .await;
    assert_eq!(reply.fields(), ["[1].organization.id", "[1].severity"]);
    h.expect(
        "an empty batch",
        Request::post("/v1/webhooks/demo")
            .json(&json!([]))
            .signed_by("demo"),
        400,
        "empty_batch",
    )
    .await;
    h.expect(
        "not an Alertmanager webhook",
        Request::post("/v1/webhooks/am")
            .json(&json!({"hello": "world"}))
            .signed_by("am"),
        400,
        "invalid_payload",
    )
    .await;
    h.expect(
        "an Alertmanager webhook without alerts",
        Request::post("/v1/webhooks/am")
            .json(&alertmanager(json!([])))
            .signed_by("am"),
        400,
        "empty_batch",
    )
    .await;
    h.expect(
        "gzip announced, not sent",
        Request::post("/v1/webhooks/demo")
            .raw(Some("application/json"), b"not gzip at all".to_vec())
            .header("content-encoding", "gzip")
            .signed_by("demo"),
        400,
        "malformed_encoding",
    )
    .await;
    h.expect(
        "a heartbeat that is not an object",
        Request::post("/v1/heartbeats/demo")
            .json(&json!(["alive"]))
            .signed_by("demo"),
        400,
        "invalid_payload",
    )
    .await;
    let reply = h
        .expect(
            "an invalid count",
            Request::post("/v1/billable-users/demo")
                .json(&json!({"organization_id": "org-42", "billable_users": -1}))
                .signed_by("demo"),
            400,
            "invalid_count",
        )
        .await;
    assert_eq!(reply.fields(), ["as_of", "billable_users"]);
    h.expect(
        "no count",
        Request::post("/v1/billable-users/demo")
            .json(&json!([]))
            .signed_by("demo"),
        400,
        "empty_batch",
    )
    .await;

    // Refused: the signature.
    let body = serde_json::to_vec(&one).expect("json");
    let now = chrono::Utc::now().timestamp();
    let webhook = |headers: Vec<(String, String)>| {
        Request::post("/v1/webhooks/demo")
            .raw(Some("application/json"), body.clone())
            .headers(headers)
    };
    let mut malformed = standard_headers(alerts::SECRET, &body);
    malformed[2].1 = "v2,bm90LWEtdjEtc2lnbmF0dXJl".into();
    let mut not_seconds = standard_headers(alerts::SECRET, &body);
    not_seconds[1].1 = "yesterday".into();
    let wrong_secret = "whsec_d3Jvbmctc2VjcmV0LWZvci1hbGVydC1yZWxheQ==";
    for (what, headers, code) in [
        ("no signature", vec![], "signature_missing"),
        ("a malformed signature", malformed, "signature_malformed"),
        (
            "another secret's signature",
            standard_headers(wrong_secret, &body),
            "signature_invalid",
        ),
        (
            // A minute past the 300 s tolerance, so a slow machine cannot bring it back.
            "a stale timestamp",
            standard_headers_at(alerts::SECRET, &body, now - 360),
            "timestamp_out_of_tolerance",
        ),
        (
            "a timestamp that is not seconds",
            not_seconds,
            "timestamp_invalid",
        ),
    ] {
        h.expect(what, webhook(headers), 401, code).await;
    }
    h.expect(
        "a wrong bearer token",
        Request::post("/v1/webhooks/am")
            .json(&alertmanager(json!([am_entry("firing")])))
            .header("authorization", "Bearer not-the-token-at-all"),
        401,
        "token_invalid",
    )
    .await;
    h.expect(
        "a sha1= HMAC header",
        Request::post("/v1/webhooks/gh")
            .raw(Some("application/json"), body.clone())
            .header("X-Hub-Signature-256", "sha1=abcdef"),
        401,
        "signature_malformed",
    )
    .await;
    h.expect(
        "an unsigned heartbeat",
        Request::post("/v1/heartbeats/gh"),
        401,
        "signature_missing",
    )
    .await;

    // Refused: before the body is read.
    for path in [
        "/v1/webhooks/nobody",
        "/v1/heartbeats/nobody",
        "/v1/billable-users/nobody",
    ] {
        h.expect(
            "an unknown source",
            Request::post(path).json(&one).signed_by("demo"),
            404,
            "unknown_source",
        )
        .await;
    }
    let large = Value::Array(vec![alert("oa-big"); 40]);
    h.expect(
        "too large a body",
        Request::post("/v1/webhooks/demo")
            .json(&large)
            .signed_by("demo"),
        413,
        "body_too_large",
    )
    .await;
    h.expect(
        "too large a heartbeat",
        Request::post("/v1/heartbeats/demo")
            .json(&json!({"note": "x".repeat(5000)}))
            .signed_by("demo"),
        413,
        "body_too_large",
    )
    .await;
    h.expect(
        "a body that is not JSON",
        Request::post("/v1/webhooks/demo")
            .raw(Some("text/plain"), body.clone())
            .signed_by("demo"),
        415,
        "unsupported_media_type",
    )
    .await;
    h.expect(
        "a heartbeat that is not JSON",
        Request::post("/v1/heartbeats/demo")
            .raw(Some("text/plain"), b"alive".to_vec())
            .signed_by("demo"),
        415,
        "unsupported_media_type",
    )
    .await;
    h.expect(
        "an unknown encoding",
        Request::post("/v1/billable-users/demo")
            .json(&count("org-42", 1))
            .header("content-encoding", "br")
            .signed_by("demo"),
        415,
        "unsupported_encoding",
    )
    .await;

    // Refused: the route.
    for (method, path, served) in [
        (Method::GET, "/v1/webhooks/demo", "POST"),
        (Method::PUT, "/v1/heartbeats/demo", "POST"),
        (Method::DELETE, "/v1/billable-users/demo", "POST"),
        (Method::POST, "/healthz", "GET"),
        (Method::PUT, "/readyz", "GET"),
        (Method::POST, "/metrics", "GET"),
    ] {
        let reply = h
            .expect(
                "another method",
                Request::new(method, path),
                405,
                "method_not_allowed",
            )
            .await;
        assert_eq!(
            reply.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(served),
            "{path}: the 405 names the method served"
        );
    }
    for request in [
        Request::get("/v2/nothing"),
        Request::post("/v1/webhooks/demo/extra").json(&one),
        Request::post("/v1/webhooks/").json(&one),
    ] {
        h.expect("an unknown endpoint", request, 404, "not_found")
            .await;
    }

    // Health, readiness, metrics.
    h.expect("healthz", Request::get("/healthz"), 200, "").await;
    h.expect("readyz", Request::get("/readyz"), 200, "").await;
    let reply = h.expect("metrics", Request::get("/metrics"), 200, "").await;
    assert!(
        reply.body.as_str().is_some_and(|text| text
            .contains(r#"relay_ingest_requests_total{source="demo",outcome="invalid_alert"} 1"#)),
        "{}",
        reply.body
    );

    // What an HTTP client cannot be made to do: a body that stops coming (408), and more
    // headers than the server takes (431).
    let addr = h.addr();
    let slow: String = standard_headers(alerts::SECRET, b"[")
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "POST /v1/webhooks/demo HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n{slow}\r\n["
    );
    let reply = raw_exchange(&addr, request.as_bytes(), Duration::from_secs(1)).await;
    h.spec.check(&Method::POST, "/v1/webhooks/demo", &reply);
    assert_eq!((reply.status, reply.code()), (408, "body_timeout"));
    let many: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    let request = format!(
        "POST /v1/webhooks/demo HTTP/1.1\r\nHost: {addr}\r\n{many}content-length: 0\r\n\r\n"
    );
    let reply = raw_exchange(&addr, request.as_bytes(), Duration::ZERO).await;
    h.spec.check(&Method::POST, "/v1/webhooks/demo", &reply);
    assert_eq!(reply.status, 431);
    h.finish().await;
}

#[tokio::test]
async fn without_a_broker_every_answer_is_still_one_the_document_describes() {
    let nowhere = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        relay_tests::free_port()
    );
    let keys = format!("metrics_token = \"{METRICS_TOKEN}\"");
    let h = Checked::start(&keys, Some(&nowhere)).await;
    let reply = h.expect("readyz", Request::get("/readyz"), 503, "").await;
    assert_eq!(reply.body["status"], "not_ready");
    h.expect("healthz", Request::get("/healthz"), 200, "").await;
    for request in [
        Request::post("/v1/webhooks/demo")
            .json(&alert("oa-nowhere"))
            .signed_by("demo"),
        Request::post("/v1/billable-users/gh")
            .json(&count("org-42", 3))
            .signed_by("gh"),
    ] {
        let reply = h
            .expect("a publish", request, 503, "broker_unavailable")
            .await;
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }
    h.expect(
        "a heartbeat (nothing to publish)",
        Request::post("/v1/heartbeats/demo").signed_by("demo"),
        202,
        "",
    )
    .await;
    h.expect(
        "metrics without the token",
        Request::get("/metrics"),
        401,
        "unauthorized",
    )
    .await;
    h.expect(
        "metrics with another token",
        Request::get("/metrics").header("authorization", "Bearer not-the-metrics-token"),
        401,
        "unauthorized",
    )
    .await;
    h.expect(
        "metrics with the token",
        Request::get("/metrics").header("authorization", &format!("Bearer {METRICS_TOKEN}")),
        200,
        "",
    )
    .await;
    h.ingest
        .stop()
        .await
        .expect("stops even while disconnected");
    drop_schema(&h.ctx.prefix).await;
}

/// A long text of `n` characters (two bytes each in UTF-8, so characters and bytes differ).
fn text(n: usize) -> String {
    "é".repeat(n)
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove(key);
    }
    value
}

/// Sends each body to `path` (signed by `source`) and asserts that the document's request
/// schema accepts it exactly when ingest does.
async fn agree(h: &Checked, source: &str, path: &str, cases: Vec<(&str, Value)>) {
    let mut disagreements = Vec::new();
    for (what, body) in cases {
        let reply = h
            .send(Request::post(path).json(&body).signed_by(source))
            .await;
        assert!(
            matches!(reply.status, 202 | 400),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        let problems = h
            .spec
            .request_problems(&Method::POST, path, "application/json", &body);
        if problems.is_empty() != (reply.status == 202) {
            disagreements.push(format!(
                "{what}: ingest answered {} {}; the document says {problems:?}",
                reply.status, reply.body
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "the document and ingest disagree on {path}:\n{}",
        disagreements.join("\n")
    );
}

#[tokio::test]
async fn the_request_schemas_accept_exactly_what_ingest_accepts() {
    let h = Checked::start("max_body_bytes = 262144", None).await;
    let a = || alert("edge");
    let minimal = json!({
        "id": "min", "event_type": "e", "severity": "low", "organization": {"id": "o"},
        "title": "t", "occurred_at": "2026-05-01T10:00:00+02:00"
    });
    agree(
        &h,
        "demo",
        "/v1/webhooks/demo",
        vec![
            ("the sample alert", a()),
            ("only the required fields", minimal.clone()),
            (
                "severity in capitals, padded",
                with(a(), "severity", json!(" HIGH ")),
            ),
            ("status resolved", with(a(), "status", json!("Resolved"))),
            ("status null", with(a(), "status", Value::Null)),
            ("status blank", with(a(), "status", json!(""))),
            ("optional fields null", {
                let mut v = a();
                for key in [
                    "description",
                    "respond_rule",
                    "ioc_rule",
                    "user",
                    "ip",
                    "device",
                    "details",
                ] {
                    v[key] = Value::Null;
                }
                v["organization"]["name"] = Value::Null;
                v
            }),
            ("a blank optional text", with(a(), "user", json!(""))),
            (
                "tabs and newlines in a text",
                with(a(), "description", json!("line 1\n\tline 2")),
            ),
            ("id of 256 characters", with(a(), "id", json!(text(256)))),
            (
                "title of 1024 characters",
                with(a(), "title", json!(text(1024))),
            ),
            (
                "description of 32768 characters",
                with(a(), "description", json!(text(32768))),
            ),
            ("a batch", json!([a(), minimal.clone()])),
            ("id missing", without(a(), "id")),
            ("id empty", with(a(), "id", json!(""))),
            ("id blank", with(a(), "id", json!("   "))),
            ("id a number", with(a(), "id", json!(5))),
            ("id of 257 characters", with(a(), "id", json!(text(257)))),
            (
                "title of 1025 characters",
                with(a(), "title", json!(text(1025))),
            ),
            (
                "description of 32769 characters",
                with(a(), "description", json!(text(32769))),
            ),
            ("ip of 257 characters", with(a(), "ip", json!(text(257)))),
            (
                "a control character in the title",
                with(a(), "title", json!("bell \u{7} here")),
            ),
            ("title null", with(a(), "title", Value::Null)),
            ("severity unknown", with(a(), "severity", json!("urgent"))),
            ("severity missing", without(a(), "severity")),
            ("organization missing", without(a(), "organization")),
            (
                "organization a string",
                with(a(), "organization", json!("org-42")),
            ),
            (
                "organization without id",
                with(a(), "organization", json!({"name": "x"})),
            ),
            (
                "organization with an unknown key",
                with(a(), "organization", json!({"id": "o", "tier": 1})),
            ),
            (
                "occurred_at not a time",
                with(a(), "occurred_at", json!("yesterday")),
            ),
            (
                "occurred_at without an offset",
                with(a(), "occurred_at", json!("2026-05-01T10:00:00")),
            ),
            ("status unknown", with(a(), "status", json!("open"))),
            ("an unknown key", with(a(), "colour", json!("red"))),
            (
                "a rule without id",
                with(a(), "respond_rule", json!({"name": "r"})),
            ),
            (
                "a rule with an unknown key",
                with(a(), "ioc_rule", json!({"id": "r", "score": 3})),
            ),
            (
                "a device with an unknown key",
                with(a(), "device", json!({"hostname": "WS-07"})),
            ),
            (
                "a device that is a string",
                with(a(), "device", json!("WS-07")),
            ),
            ("details an array", with(a(), "details", json!([1]))),
            (
                "a batch with one bad alert",
                json!([a(), without(a(), "title")]),
            ),
            ("a batch of a number", json!([1])),
            ("an empty batch", json!([])),
            ("a string", json!("alert")),
        ],
    )
    .await;
    let entry = || am_entry("firing");
    agree(
        &h,
        "am",
        "/v1/webhooks/am",
        vec![
            (
                "a firing and a resolved alert",
                alertmanager(json!([entry(), am_entry("resolved")])),
            ),
            (
                "only what is required",
                json!({"version": "4", "alerts": [{
                "status": "firing", "labels": {"alertname": "A", "tenant": "t"},
                "startsAt": "2026-05-01T10:00:00Z"}]}),
            ),
            (
                "no alerts key",
                without(alertmanager(json!([entry()])), "alerts"),
            ),
            (
                "version 3",
                with(alertmanager(json!([entry()])), "version", json!("3")),
            ),
            (
                "version as a number",
                with(alertmanager(json!([entry()])), "version", json!(4)),
            ),
            ("no alerts", alertmanager(json!([]))),
            (
                "a pending alert",
                alertmanager(json!([with(entry(), "status", json!("pending"))])),
            ),
            (
                "startsAt not a time",
                alertmanager(json!([with(entry(), "startsAt", json!("soon"))])),
            ),
            (
                "a label that is a number",
                alertmanager(json!([with(
                    entry(),
                    "labels",
                    json!({"alertname": "A", "tenant": "t", "n": 1})
                )])),
            ),
            (
                "no alertname",
                alertmanager(json!([with(entry(), "labels", json!({"tenant": "t"}))])),
            ),
            (
                "no labels",
                alertmanager(json!([without(entry(), "labels")])),
            ),
        ],
    )
    .await;
    agree(
        &h,
        "demo",
        "/v1/billable-users/demo",
        vec![
            ("a count", count("org-42", 42)),
            ("the largest count", count("org-42", 10_000_000)),
            ("a batch", json!([count("org-1", 0), count("org-2", 1)])),
            (
                "an offset",
                with(
                    count("org-42", 1),
                    "as_of",
                    json!("2026-05-01T00:00:00+02:00"),
                ),
            ),
            ("one too many", count("org-42", 10_000_001)),
            (
                "negative",
                with(count("org-42", 1), "billable_users", json!(-1)),
            ),
            (
                "a fraction",
                with(count("org-42", 1), "billable_users", json!(1.5)),
            ),
            (
                "a string",
                with(count("org-42", 1), "billable_users", json!("42")),
            ),
            ("as_of missing", without(count("org-42", 1), "as_of")),
            (
                "as_of not a time",
                with(count("org-42", 1), "as_of", json!("yesterday")),
            ),
            ("organization blank", count(" ", 1)),
            (
                "an unknown key",
                with(count("org-42", 1), "users", json!(3)),
            ),
            ("no count", json!([])),
            ("not an object", json!("42")),
        ],
    )
    .await;
    h.finish().await;
}

#[test]
fn both_openapi_documents_are_valid_as_far_as_the_checker_can_tell() {
    for (name, spec) in [
        ("ingest", Spec::from_document(DOCUMENT)),
        ("operator", relay_tests::operator::Spec::load()),
    ] {
        let problems = spec.problems();
        assert!(
            problems.is_empty(),
            "{name}'s document:\n{}",
            problems.join("\n")
        );
    }
}

/// The codes of the document's `ErrorCode`.
fn document_codes(spec: &Spec) -> BTreeSet<String> {
    spec.document()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

fn is_code(token: &str) -> bool {
    !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && !token.starts_with('_')
}

/// Backquoted tokens of `text` that look like error codes.
fn codes_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| is_code(t))
        .map(str::to_string)
}

#[test]
fn the_document_lists_exactly_the_codes_ingest_answers_and_the_readme_lists() {
    let spec = Spec::from_document(DOCUMENT);
    let documented = document_codes(&spec);

    // ingest/src/error.rs: every code is a string literal there (the constructors and
    // `ApiError::new`); messages have spaces, so they are not taken for codes.
    let answered: BTreeSet<String> = ERROR_RS
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| line.split('"').skip(1).step_by(2))
        .filter(|t| is_code(t))
        .map(str::to_string)
        .collect();
    assert_eq!(documented, answered, "the document vs ingest/src/error.rs");

    // The README's ingest section: its error table, and the sentence that points to the
    // document with the codes the table leaves out.
    let section = README
        .split("\n## ")
        .find(|s| s.starts_with("ingest: endpoints"))
        .expect("the README's ingest: endpoints section");
    let mut listed = BTreeSet::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].len() == 3 && cells[1].bytes().all(|b| b.is_ascii_digit()) {
            listed.extend(codes_in(cells[2]));
        }
    }
    let pointer = section
        .split("\n\n")
        .find(|paragraph| paragraph.contains("docs/openapi/ingest.json"))
        .expect("the README points to docs/openapi/ingest.json");
    listed.extend(codes_in(pointer));
    assert_eq!(documented, listed, "the document vs the README");

    // Each response lists in its description exactly the codes its schema allows (the
    // checker reads the description; clients read the schema), all of them in ErrorCode.
    let doc = spec.document();
    let responses =
        doc["components"]["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, r)| (name.clone(), r))
            .chain(
                doc["paths"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .flat_map(|(path, item)| {
                        item.as_object()
                            .into_iter()
                            .flatten()
                            .flat_map(move |(method, op)| {
                                op["responses"].as_object().into_iter().flatten().map(
                                    move |(status, r)| (format!("{method} {path} {status}"), r),
                                )
                            })
                    }),
            );
    for (name, response) in responses {
        let Some(target) = response["content"]["application/json"]["schema"]["$ref"].as_str()
        else {
            continue;
        };
        let schema = &doc
            .pointer(target.trim_start_matches('#'))
            .expect("resolves");
        let Some(allowed) = schema["properties"]["error"]["properties"]["code"]["enum"].as_array()
        else {
            continue;
        };
        let allowed: BTreeSet<String> = allowed
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let description = response["description"].as_str().unwrap_or_default();
        let (_, listed) = description
            .rsplit_once("Codes:")
            .unwrap_or_else(|| panic!("{name}: the description lists no codes"));
        let described: BTreeSet<String> = codes_in(listed).collect();
        assert_eq!(allowed, described, "{name}: schema vs description");
        assert!(allowed.is_subset(&documented), "{name}: {allowed:?}");
    }
}

#[test]
fn the_checker_refuses_answers_the_ingest_document_does_not_describe() {
    let spec = Spec::from_document(DOCUMENT);
    let reply = |status: u16, headers: &[(&str, &str)], body: Value| {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        Reply {
            status,
            headers: map,
            body,
        }
    };
    let refuses = |method: Method, path: &str, reply: Reply| {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            spec.check(&method, path, &reply)
        }));
        assert!(checked.is_err(), "{method} {path} {:?} passed", reply.body);
    };
    let webhook = "/v1/webhooks/demo";
    let id = shared::message::message_id("demo", "x");
    let accepted = json!({"accepted": 1, "ids": [id]});
    spec.check(&Method::POST, webhook, &reply(202, &[], accepted.clone()));
    refuses(
        Method::POST,
        webhook,
        reply(202, &[], with(accepted.clone(), "colour", json!("red"))),
    );
    refuses(
        Method::POST,
        webhook,
        reply(202, &[], with(accepted, "ids", json!(["evt-1"]))),
    );
    let invalid = json!({"error": {"code": "invalid_alert", "message": "see fields",
        "fields": [{"field": "id", "message": "is required"}]}});
    spec.check(&Method::POST, webhook, &reply(400, &[], invalid.clone()));
    let mut no_fields = invalid.clone();
    no_fields["error"]
        .as_object_mut()
        .expect("object")
        .remove("fields");
    refuses(Method::POST, webhook, reply(400, &[], no_fields));
    let mut stray_fields = invalid.clone();
    stray_fields["error"]["code"] = json!("malformed_json");
    refuses(Method::POST, webhook, reply(400, &[], stray_fields));
    let mut count_code = invalid;
    count_code["error"]["code"] = json!("invalid_count");
    refuses(Method::POST, webhook, reply(400, &[], count_code));
    let unavailable = json!({"error": {"code": "broker_unavailable", "message": "later"}});
    spec.check(
        &Method::POST,
        webhook,
        &reply(503, &[("retry-after", "5")], unavailable.clone()),
    );
    refuses(Method::POST, webhook, reply(503, &[], unavailable.clone()));
    refuses(
        Method::POST,
        webhook,
        reply(503, &[("retry-after", "soon")], unavailable.clone()),
    );
    refuses(
        Method::POST,
        "/v1/heartbeats/demo",
        reply(503, &[("retry-after", "5")], unavailable),
    );
    refuses(
        Method::GET,
        "/metrics",
        reply(200, &[("content-type", "text/plain")], json!("# EOF\n")),
    );
    spec.check(
        &Method::GET,
        "/metrics",
        &reply(
            200,
            &[(
                "content-type",
                "application/openmetrics-text; version=1.0.0",
            )],
            json!("# EOF\n"),
        ),
    );
    refuses(
        Method::GET,
        "/readyz",
        reply(
            503,
            &[("retry-after", "5")],
            json!({"status": "ready", "broker": "connected"}),
        ),
    );
    refuses(Method::GET, "/healthz", reply(200, &[], Value::Null));
}
