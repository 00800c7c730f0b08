//! Ingest and the operator state in a real PostgreSQL (each test in its own schema): every
//! accepted alert's `received` step in the trail, signed heartbeats marking their source as
//! heard from, and alerts still accepted and queued while PostgreSQL is unreachable.

use opstate::store::sources::{self, SourceActivity};
use opstate::trail::{self, Event, Step, TrailQuery};
use relay_tests::alerts::{self, alert, hmac_header, standard_headers};
use relay_tests::ingest::{config, TestIngest, BEARER_TOKEN, HMAC_SECRET};
use relay_tests::processor::{drop_schema, operator_db};
use relay_tests::rabbit::Rabbit;
use relay_tests::{free_port, wait, Context};
use serde_json::{json, Value};
use shared::amqp::Topology;
use std::time::{Duration, Instant};

/// How long a step or a sign of life may take to reach PostgreSQL: the schema is migrated in
/// the background at start, and the first writes retry until it is.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running ingest with its own prefix and schema.
struct Harness {
    ctx: Context,
    ingest: TestIngest,
    rabbit: Rabbit,
    db: opstate::Db,
}

impl Harness {
    async fn start() -> Harness {
        let ctx = Context::new();
        let ingest = TestIngest::spawn(&config(&ctx, &ctx.amqp_url, "")).await;
        ingest.ready().await;
        let rabbit = Rabbit::connect(&ctx.amqp_url).await;
        let db = operator_db(&ctx.prefix);
        Harness {
            ctx,
            ingest,
            rabbit,
            db,
        }
    }

    async fn send_demo(&self, body: &Value) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).expect("json");
        self.ingest
            .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
            .await
    }

    /// The whole trail once it holds a step of the message `last`.
    async fn trail_through(&self, last: &str) -> Vec<Event> {
        wait::until(&format!("the trail through {last}"), DEADLINE, || async {
            let steps = trail::search(&self.db, &TrailQuery::default()).await.ok()?;
            steps.iter().any(|s| s.message_id == last).then_some(steps)
        })
        .await
    }

    /// The sources' activity once `ready` holds for it.
    async fn activity(
        &self,
        what: &str,
        ready: impl Fn(&[SourceActivity]) -> bool,
    ) -> Vec<SourceActivity> {
        wait::until(what, DEADLINE, || async {
            let rows = sources::list(&self.db).await.ok()?;
            ready(&rows).then_some(rows)
        })
        .await
    }

    async fn finish(self) {
        self.ingest.stop().await.expect("ingest stops cleanly");
        self.rabbit.delete_topology(&self.ctx.prefix).await;
        drop_schema(&self.ctx.prefix).await;
    }
}

/// Whether the metrics text has this exact line (a help text may contain a sample's text).
fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

fn row<'a>(rows: &'a [SourceActivity], source: &str) -> Option<&'a SourceActivity> {
    rows.iter().find(|r| r.source == source)
}

fn heard_heartbeat(rows: &[SourceActivity], source: &str) -> bool {
    row(rows, source).is_some_and(|r| r.last_heartbeat_at.is_some())
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    (status, body["error"]["code"].as_str().unwrap_or("").into())
}

#[tokio::test]
async fn an_accepted_batch_leaves_one_received_step_per_alert_and_a_refused_request_none() {
    let h = Harness::start().await;
    // Refused first: a bad signature and an invalid alert. The trail is written in order, so
    // once the batch's steps are there, any step of these would be too.
    let forged = serde_json::to_vec(&alert("forged-1")).expect("json");
    let response = h
        .ingest
        .post("demo", &forged, &standard_headers(alerts::SECRET, b"other"))
        .await;
    assert_eq!(response.status().as_u16(), 401);
    let mut invalid = alert("invalid-1");
    invalid["severity"] = json!("apocalyptic");
    assert_eq!(h.send_demo(&invalid).await.status().as_u16(), 400);

    let batch: Vec<Value> = (0..3).map(|i| alert(&format!("trail-{i}"))).collect();
    let response = h.send_demo(&json!(batch)).await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    let ids: Vec<String> = serde_json::from_value(answer["ids"].clone()).expect("ids");

    let steps = h.trail_through(&ids[2]).await;
    assert_eq!(
        steps.len(),
        3,
        "one step per alert, none for refusals: {steps:#?}"
    );
    for (i, (step, id)) in steps.iter().zip(&ids).enumerate() {
        assert_eq!(step.step, Step::Received);
        assert_eq!(&step.message_id, id);
        assert_eq!(step.source, "demo");
        assert_eq!(
            step.sender_id.as_deref(),
            Some(format!("trail-{i}").as_str())
        );
        assert_eq!(step.organization.as_deref(), Some("org-42"));
        assert_eq!(
            step.detail,
            json!({
                "event_type": "m365.impossible_travel",
                "severity": "critical",
                "status": "firing",
                "title": "Impossible travel for j.doe@contoso.com",
                "organization_name": "Contoso Ltd",
                "user": "j.doe@contoso.com",
                "device": {"name": "WS-07", "serial": "5CG1234XYZ", "mac": "F8-75-A4-19-C6-22"},
                "respond_rule": {"id": "rr-7", "name": "Block sign-in on impossible travel"},
            }),
            "the detail is small: what silences match on, no description, no details"
        );
    }
    // An operator finds an alert's trail by the sender's id too.
    let found = trail::search(
        &h.db,
        &TrailQuery {
            alert: Some("trail-1".into()),
            ..TrailQuery::default()
        },
    )
    .await
    .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message_id, ids[1]);

    let rows = h
        .activity("demo heard from", |rows| {
            row(rows, "demo").is_some_and(|r| r.last_alert_at.is_some())
        })
        .await;
    let demo = row(&rows, "demo").expect("demo");
    assert_eq!(demo.last_heartbeat_at, None, "an alert is not a heartbeat");
    h.finish().await;
}

#[tokio::test]
async fn the_trail_and_postgresql_show_in_the_metrics() {
    let h = Harness::start().await;
    let batch: Vec<Value> = (0..2).map(|i| alert(&format!("m-{i}"))).collect();
    let response = h.send_demo(&json!(batch)).await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    h.trail_through(answer["ids"][1].as_str().expect("an id"))
        .await;
    let text = wait::until("the trail's steps counted", DEADLINE, || async {
        let text = h.ingest.metrics().await;
        has_line(&text, "relay_ingest_trail_written_total 2").then_some(text)
    })
    .await;
    for expected in [
        "relay_ingest_trail_dropped_total 0",
        "relay_ingest_postgres_up 1",
    ] {
        assert!(has_line(&text, expected), "{expected} missing in\n{text}");
    }
    h.finish().await;
}

#[tokio::test]
async fn steps_of_alerts_accepted_just_before_shutdown_are_written_on_the_way_out() {
    let h = Harness::start().await;
    wait::until("the schema migrated", DEADLINE, || async {
        has_line(&h.ingest.metrics().await, "relay_ingest_postgres_up 1").then_some(())
    })
    .await;
    let batch: Vec<Value> = (0..3).map(|i| alert(&format!("last-{i}"))).collect();
    let response = h.send_demo(&json!(batch)).await;
    assert_eq!(response.status().as_u16(), 202);
    let Harness {
        ctx,
        ingest,
        rabbit,
        db,
    } = h;
    ingest.stop().await.expect("ingest stops cleanly");
    // No waiting: stopping wrote them.
    let steps = trail::search(&db, &TrailQuery::default())
        .await
        .expect("search");
    let senders: Vec<_> = steps.iter().filter_map(|s| s.sender_id.clone()).collect();
    assert_eq!(senders, ["last-0", "last-1", "last-2"]);
    rabbit.delete_topology(&ctx.prefix).await;
    drop_schema(&ctx.prefix).await;
}

#[tokio::test]
async fn heartbeats_signed_like_each_sources_webhooks_mark_the_source_heard_from() {
    let h = Harness::start().await;
    // Standard Webhooks, an empty body (no content type needed).
    let response = h
        .ingest
        .heartbeat("demo", b"", &standard_headers(alerts::SECRET, b""))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer, json!({"status": "accepted"}));
    // HMAC, with a note.
    let note = br#"{"note": "nightly backup job alive"}"#;
    let signature = hmac_header(HMAC_SECRET, note);
    let response = h
        .ingest
        .heartbeat(
            "gh",
            note,
            &[("X-Hub-Signature-256".to_string(), signature)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    // Bearer.
    let response = h
        .ingest
        .heartbeat(
            "am",
            b"",
            &[(
                "authorization".to_string(),
                format!("Bearer {BEARER_TOKEN}"),
            )],
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);

    let rows = h
        .activity("three heartbeats", |rows| {
            ["demo", "gh", "am"]
                .iter()
                .all(|s| heard_heartbeat(rows, s))
        })
        .await;
    for source in ["demo", "gh", "am"] {
        assert_eq!(
            row(&rows, source).and_then(|r| r.last_alert_at),
            None,
            "{source}: a heartbeat is not an alert"
        );
    }
    assert_eq!(
        h.rabbit
            .count(&Topology::new(&h.ctx.prefix).work_queue())
            .await,
        0,
        "heartbeats are not enqueued"
    );
    let text = h.ingest.metrics().await;
    for source in ["demo", "gh", "am"] {
        let expected = format!(r#"relay_ingest_heartbeats_total{{source="{source}"}} 1"#);
        assert!(has_line(&text, &expected), "{expected} missing in\n{text}");
    }
    h.finish().await;
}

#[tokio::test]
async fn a_heartbeat_with_a_bad_signature_is_refused_and_changes_nothing() {
    let h = Harness::start().await;
    // (source, headers, the error code expected)
    type Case = (&'static str, Vec<(String, String)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "demo",
            standard_headers(alerts::SECRET, b"{}"),
            "signature_invalid",
        ),
        ("demo", vec![], "signature_missing"),
        (
            "gh",
            vec![(
                "X-Hub-Signature-256".into(),
                hmac_header("not-the-secret-0123456789", b""),
            )],
            "signature_invalid",
        ),
        (
            "am",
            vec![(
                "authorization".into(),
                "Bearer not-the-token-0123456789".into(),
            )],
            "token_invalid",
        ),
    ];
    for (source, headers, code) in cases {
        let response = h.ingest.heartbeat(source, b"", &headers).await;
        assert_eq!(
            code_of(response).await,
            (401, code.to_string()),
            "{source} {code}"
        );
    }
    // A valid heartbeat after them: activity is written in batches, in order, so once this
    // one is in, any of the refused ones would be too.
    let response = h
        .ingest
        .heartbeat("demo", b"", &standard_headers(alerts::SECRET_2, b""))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let rows = h
        .activity("the valid heartbeat", |rows| heard_heartbeat(rows, "demo"))
        .await;
    assert!(row(&rows, "gh").is_none(), "gh changed: {rows:?}");
    assert!(row(&rows, "am").is_none(), "am changed: {rows:?}");
    let text = h.ingest.metrics().await;
    for expected in [
        r#"relay_ingest_heartbeats_total{source="demo"} 1"#,
        r#"relay_ingest_heartbeats_total{source="gh"} 0"#,
        r#"relay_ingest_requests_total{source="demo",outcome="signature_invalid"} 1"#,
    ] {
        assert!(has_line(&text, expected), "{expected} missing in\n{text}");
    }
    h.finish().await;
}

#[tokio::test]
async fn a_heartbeat_is_empty_or_a_small_json_object_for_a_known_source() {
    let h = Harness::start().await;
    let unknown = h
        .ingest
        .heartbeat("nope", b"", &standard_headers(alerts::SECRET, b""))
        .await;
    assert_eq!(code_of(unknown).await, (404, "unknown_source".into()));

    let big = serde_json::to_vec(&json!({"note": "x".repeat(5000)})).expect("json");
    let response = h
        .ingest
        .heartbeat("demo", &big, &standard_headers(alerts::SECRET, &big))
        .await;
    assert_eq!(code_of(response).await, (413, "body_too_large".into()));

    let array = b"[1]";
    let response = h
        .ingest
        .heartbeat("demo", array, &standard_headers(alerts::SECRET, array))
        .await;
    assert_eq!(code_of(response).await, (400, "invalid_payload".into()));

    // A body that is not empty is JSON, said so.
    let note = br#"{"note": "hi"}"#;
    let response = h
        .ingest
        .client
        .post(h.ingest.url("/v1/heartbeats/demo"))
        .header("content-type", "text/plain")
        .headers(
            standard_headers(alerts::SECRET, note)
                .into_iter()
                .map(|(k, v)| {
                    (
                        reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                        reqwest::header::HeaderValue::from_str(&v).expect("value"),
                    )
                })
                .collect(),
        )
        .body(note.to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(
        code_of(response).await,
        (415, "unsupported_media_type".into())
    );

    let get = h
        .ingest
        .client
        .get(h.ingest.url("/v1/heartbeats/demo"))
        .send()
        .await
        .expect("answer");
    assert_eq!(get.status().as_u16(), 405);
    h.finish().await;
}

#[tokio::test]
async fn with_postgresql_unreachable_alerts_are_still_accepted_and_queued() {
    let ctx = Context::new();
    let closed = free_port();
    let extra = format!(
        "[postgres]\nurl = \"postgres://postgres@127.0.0.1:{closed}/postgres\"\ntimeout_ms = 300\n"
    );
    let ingest = TestIngest::spawn(&config(&ctx, &ctx.amqp_url, &extra)).await;
    ingest.ready().await;
    let batch: Vec<Value> = (0..3).map(|i| alert(&format!("away-{i}"))).collect();
    let bytes = serde_json::to_vec(&batch).expect("json");
    let started = Instant::now();
    let response = ingest
        .post("demo", &bytes, &standard_headers(alerts::SECRET, &bytes))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the answer waited for PostgreSQL: {:?}",
        started.elapsed()
    );
    let response = ingest
        .heartbeat("demo", b"", &standard_headers(alerts::SECRET, b""))
        .await;
    assert_eq!(response.status().as_u16(), 202);

    let rabbit = Rabbit::connect(&ctx.amqp_url).await;
    let taken = rabbit
        .take_all(&Topology::new(&ctx.prefix).work_queue())
        .await;
    let ids: Vec<_> = taken
        .iter()
        .map(|m| m.body["alert"]["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("away-0"), json!("away-1"), json!("away-2")]);
    let text = ingest.metrics().await;
    assert!(
        has_line(&text, "relay_ingest_postgres_up 0"),
        "postgres_up not 0 in\n{text}"
    );

    let stopping = Instant::now();
    ingest.stop().await.expect("stops");
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "stopping took {:?}",
        stopping.elapsed()
    );
    rabbit.delete_topology(&ctx.prefix).await;
}
