//! Property: whatever a client sends to ingest (any bytes as the body, any headers: random
//! names and values, broken and valid signature headers, huge values, bytes that are not
//! UTF-8, gzip or another content encoding, JSON that repeats a key), the answer is a 2xx or
//! a 4xx, never a 5xx, the server stays up, and nothing is enqueued without a valid
//! signature over an unambiguous body in an understood encoding: the work queue ends up
//! holding exactly the alerts of the requests that got 202.
//!
//! Runs against a real in-process ingest and the real RabbitMQ; 250 cases, a few seconds.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use relay_tests::alerts::{self, hmac_header, standard_headers_at};
use relay_tests::ingest::{config, TestIngest, BEARER_TOKEN, HMAC_SECRET};
use relay_tests::rabbit::Rabbit;
use relay_tests::{wait, Context};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use shared::amqp::Topology;
use std::time::Duration;

const CASES: u32 = 250;
/// The test configuration's `ingest.max_body_bytes`.
const LIMIT: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Demo,
    Gh,
    Am,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Demo => "demo",
            Source::Gh => "gh",
            Source::Am => "am",
        }
    }
}

/// How the request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// No signature header added (random headers may still carry broken ones).
    None,
    /// A correct signature of the body sent.
    Valid,
    /// Correct in shape, made with another secret.
    WrongSecret,
    /// Signed, then the body changed by one byte.
    Tampered,
    /// Signed 10 minutes ago (Standard Webhooks; others: as `Valid`).
    Stale,
}

/// How the body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    /// Compressed, and signed as sent.
    Gzip,
    /// A coding ingest does not take (`br`).
    Other,
}

#[derive(Debug, Clone)]
struct Case {
    source: Source,
    body: Vec<u8>,
    /// The body repeats a key in one object (readers may disagree on its value).
    repeats_key: bool,
    encoding: Encoding,
    /// Random headers, sent before the signature headers (which replace same-named ones).
    headers: Vec<(String, Vec<u8>)>,
    signing: Signing,
    content_type: &'static str,
}

impl Case {
    /// Whether ingest may enqueue this request.
    fn may_enqueue(&self) -> bool {
        let signed = match self.signing {
            Signing::Valid => true,
            Signing::Stale => self.source != Source::Demo,
            Signing::None | Signing::WrongSecret | Signing::Tampered => false,
        };
        signed && !self.repeats_key && self.encoding != Encoding::Other
    }
}

/// A valid canonical alert (or a small batch), or a valid Alertmanager webhook.
fn valid_body(source: Source) -> impl Strategy<Value = Vec<u8>> {
    ("[a-z0-9-]{1,40}", 1usize..4, any::<bool>()).prop_map(move |(id, n, batch)| {
        let value = match source {
            Source::Am => json!({
                "version": "4",
                "status": "firing",
                "alerts": (0..n).map(|i| json!({
                    "status": "firing",
                    "labels": {"alertname": format!("Alert{i}"), "tenant": "org-42"},
                    "annotations": {"summary": id},
                    "startsAt": "2026-05-01T10:00:00Z",
                    "fingerprint": format!("{id}{i}"),
                })).collect::<Vec<_>>(),
            }),
            _ if batch => Value::Array(
                (0..n)
                    .map(|i| alerts::alert(&format!("{id}-{i}")))
                    .collect(),
            ),
            _ => alerts::alert(&id),
        };
        serde_json::to_vec(&value).expect("json")
    })
}

/// A body, and whether it repeats a key.
fn any_body(source: Source) -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        3 => valid_body(source).prop_map(|b| (b, false)),
        // A valid body whose first object repeats its first key with another value.
        1 => valid_body(source).prop_map(|b| (repeat_first_key(&b), true)),
        2 => prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| (b, false)),
        // Valid JSON that is not a valid alert.
        1 => "[ -~]{0,200}".prop_map(|s| (serde_json::to_vec(&json!({"id": s, "title": 7}))
            .expect("json"), false)),
        // Over the body limit.
        1 => (LIMIT + 1..LIMIT * 3).prop_map(|n| (vec![b'{'; n], false)),
    ]
}

/// `{"k":v,...}` becomes `{"k":"repeated","k":v,...}` (in the first object of the body).
fn repeat_first_key(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let open = text.find('{').expect("an object");
    let key_end = text[open + 1..].find("\":").expect("a key") + open + 1;
    let key = &text[open + 1..key_end + 1];
    format!(
        "{}{key}:\"repeated\",{}",
        &text[..open + 1],
        &text[open + 1..]
    )
    .into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Header values as HTTP allows them: visible ASCII, space, tab and obs-text (bytes 0x80 to
/// 0xFF, so not UTF-8), short or huge.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![0x20u8..0x7F, Just(b'\t'), 0x80u8..=0xFF];
    prop_oneof![
        8 => prop::collection::vec(byte.clone(), 0..80),
        // Huge: a random start, then one byte repeated (cheap to generate); past 128 KiB the
        // request head is refused with 431.
        1 => (prop::collection::vec(byte.clone(), 0..80), byte, 4_000usize..150_000).prop_map(
            |(mut start, fill, len)| {
                start.resize(len, fill);
                start
            }
        ),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "x-[a-z0-9-]{1,30}",
        // Signature headers with broken values.
        1 => prop::sample::select(vec![
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "x-hub-signature-256",
            "authorization",
        ])
        .prop_map(str::to_string),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    prop::sample::select(vec![Source::Demo, Source::Gh, Source::Am]).prop_flat_map(|source| {
        (
            any_body(source),
            prop::collection::vec((header_name(), header_value()), 0..6),
            prop::sample::select(vec![
                Signing::None,
                Signing::Valid,
                Signing::Valid,
                Signing::Valid,
                Signing::WrongSecret,
                Signing::Tampered,
                Signing::Stale,
            ]),
            prop::sample::select(vec![
                "application/json",
                "application/json",
                "application/json",
                "application/cloudevents+json; charset=utf-8",
                "text/plain",
            ]),
            prop::sample::select(vec![
                Encoding::Identity,
                Encoding::Identity,
                Encoding::Identity,
                Encoding::Gzip,
                Encoding::Other,
            ]),
        )
            .prop_map(
                move |((body, repeats_key), headers, signing, content_type, encoding)| Case {
                    source,
                    body,
                    repeats_key,
                    encoding,
                    headers,
                    signing,
                    content_type,
                },
            )
    })
}

/// The signature headers of a case, over `body`.
fn signature_headers(case: &Case, body: &[u8]) -> Vec<(String, String)> {
    let now = chrono::Utc::now().timestamp();
    let stale = case.signing == Signing::Stale;
    let (secret_std, secret_hmac, token) = match case.signing {
        Signing::WrongSecret => (
            "whsec_d3Jvbmctc2VjcmV0LWZvci1hbGVydC1yZWxheQ==",
            "some-other-hmac-secret-000",
            "some-other-bearer-token-000",
        ),
        _ => (alerts::SECRET, HMAC_SECRET, BEARER_TOKEN),
    };
    match case.source {
        Source::Demo => standard_headers_at(secret_std, body, if stale { now - 600 } else { now }),
        Source::Gh => vec![("x-hub-signature-256".into(), hmac_header(secret_hmac, body))],
        Source::Am => vec![("authorization".into(), format!("Bearer {token}"))],
    }
}

/// What ingest answered: the status and the number of alerts accepted.
async fn send(ingest: &TestIngest, case: &Case) -> Result<(u16, u64), String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let mut body = match case.encoding {
        Encoding::Gzip => gzip(&case.body),
        Encoding::Identity | Encoding::Other => case.body.clone(),
    };
    match case.encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            headers.insert("content-encoding", HeaderValue::from_static("gzip"));
        }
        Encoding::Other => {
            headers.insert("content-encoding", HeaderValue::from_static("br"));
        }
    }
    if case.signing != Signing::None {
        for (name, value) in signature_headers(case, &body) {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(&value).expect("value"),
            );
        }
        if case.signing == Signing::Tampered {
            match body.last_mut() {
                Some(last) => *last ^= 1,
                None => body.push(b' '),
            }
        }
    }
    headers.insert("content-type", HeaderValue::from_static(case.content_type));
    let response = ingest
        .client
        .post(ingest.url(&format!("/v1/webhooks/{}", case.source.name())))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    Ok((status, answer["accepted"].as_u64().unwrap_or(0)))
}

#[test]
fn any_request_gets_2xx_or_4xx_and_only_valid_signatures_enqueue() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ctx = Context::new();
    let ingest = rt.block_on(async {
        let ingest = TestIngest::spawn(&config(&ctx, &ctx.amqp_url, "")).await;
        ingest.ready().await;
        ingest
    });
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let accepted = std::cell::Cell::new(0u64);
    let accepted_requests = std::cell::Cell::new(0u32);
    let result = runner.run(&case(), |case| {
        let (status, n) = rt.block_on(async {
            match send(&ingest, &case).await {
                Ok(answer) => Ok(answer),
                Err(error) => {
                    // A connection the server closed (a huge header) is allowed; a server
                    // that went away is not.
                    let up = ingest.client.get(ingest.url("/healthz")).send().await;
                    match up {
                        Ok(r) if r.status().is_success() => Ok((0, 0)),
                        _ => Err(TestCaseError::fail(format!("ingest is down after {error}"))),
                    }
                }
            }
        })?;
        prop_assert!(
            status == 0 || (200..500).contains(&status),
            "status {status} for {case:?}"
        );
        if (200..300).contains(&status) {
            prop_assert!(
                case.may_enqueue(),
                "{status} without a valid signature over an unambiguous body"
            );
            accepted.set(accepted.get() + n);
            accepted_requests.set(accepted_requests.get() + 1);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    rt.block_on(async {
        assert!(
            accepted_requests.get() >= 10,
            "the strategy must exercise the 2xx path (only {} requests accepted)",
            accepted_requests.get()
        );
        let rabbit = Rabbit::connect(&ctx.amqp_url).await;
        let queue = Topology::new(&ctx.prefix).work_queue();
        let expected = u32::try_from(accepted.get()).expect("small");
        // Every 202 was confirmed by the broker before it was sent: the count is exact at once.
        let count = rabbit.count(&queue).await;
        assert_eq!(
            count, expected,
            "the work queue holds exactly the validly signed, accepted alerts"
        );
        wait::http_ok(
            "ingest still up",
            &ingest.url("/healthz"),
            Duration::from_secs(2),
        )
        .await;
        ingest.stop().await.expect("ingest stops cleanly");
        rabbit.delete_topology(&ctx.prefix).await;
        relay_tests::processor::drop_schema(&ctx.prefix).await;
    });
}
