//! The operator API against a real PostgreSQL: who may do what, silences, pause, the trail,
//! the audit log, the sources and the status, and PostgreSQL going away. Every answer of
//! these tests is checked against `docs/openapi/operator.json` by the harness.

use chrono::{DateTime, Duration, Utc};
use opstate::store::silences::Hit;
use opstate::store::sources;
use opstate::trail::{Event, Step, TrailWriter};
use relay_tests::operator::{
    config, silence_spec, without, Body, Reply, Spec, TestOperator, OPERATE_NAME, OPERATE_TOKEN,
    READ_NAME, READ_TOKEN,
};
use relay_tests::{wait, Context};
use reqwest::Method;
use serde_json::{json, Value};

const OP: Option<&str> = Some(OPERATE_TOKEN);
const READ: Option<&str> = Some(READ_TOKEN);

async fn started() -> TestOperator {
    let operator = TestOperator::spawn(&Context::new()).await;
    operator.ready().await;
    operator
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, code),
        "{}",
        reply.body
    );
}

/// The audit log's entries, oldest first, as `(action, actor, target)`.
async fn audit_trail(op: &TestOperator) -> Vec<(String, String, Option<String>)> {
    let reply = op.get("/v1/audit", READ).await;
    assert_status(&reply, 200);
    let mut entries: Vec<_> = reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["target"].as_str().map(str::to_string),
            )
        })
        .collect();
    entries.reverse();
    entries
}

#[tokio::test]
async fn health_readiness_and_the_document_are_open_and_unknown_routes_answer_json() {
    let op = started().await;
    assert_eq!(op.get("/healthz", None).await.body, json!({"status": "ok"}));
    assert_eq!(
        op.get("/readyz", None).await.body,
        json!({"status": "ready", "postgres": "up"})
    );
    let document = op.get("/openapi.json", None).await;
    assert_status(&document, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
    assert!(document.body["paths"]["/v1/silences"].is_object());

    assert_error(&op.get("/v1/nothing-here", OP).await, 404, "not_found");
    let wrong_method = op
        .request(Method::DELETE, "/v1/silences", OP, Body::None)
        .await;
    assert_error(&wrong_method, 405, "method_not_allowed");
    assert_eq!(
        wrong_method
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_refused_and_a_read_token_changes_nothing() {
    let op = started().await;
    let missing = op.get("/v1/silences", None).await;
    assert_error(&missing, 401, "token_missing");
    assert_eq!(
        missing
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_error(
        &op.get("/v1/silences", Some("not-a-token-of-ours-at-all"))
            .await,
        401,
        "token_invalid",
    );
    let basic = op
        .client
        .get(op.url("/v1/status"))
        .basic_auth(OPERATE_NAME, Some(OPERATE_TOKEN))
        .send()
        .await
        .expect("answers");
    assert_eq!(basic.status().as_u16(), 401, "only Bearer is accepted");

    // A read token reads everything...
    for path in [
        "/v1/silences",
        "/v1/pause",
        "/v1/audit",
        "/v1/sources",
        "/v1/status",
    ] {
        assert_status(&op.get(path, READ).await, 200);
    }
    // ...and changes nothing, its body not even read.
    let spec = silence_spec(
        json!([{"field": "source", "op": "=", "value": "demo"}]),
        "1h",
    );
    assert_error(&op.post("/v1/silences", READ, spec).await, 403, "forbidden");
    let pause = json!({"reason": "read tokens may not"});
    assert_error(&op.post("/v1/pause", READ, pause).await, 403, "forbidden");
    assert_error(
        &op.post("/v1/resume", READ, Value::Null).await,
        403,
        "forbidden",
    );
    let some_id = "/v1/silences/5f0c1a52-8a43-4f0e-9a8e-2d1b1b7a7c11/expire";
    assert_error(&op.post(some_id, READ, Value::Null).await, 403, "forbidden");
    assert_error(
        &op.post("/v1/silences", None, json!({})).await,
        401,
        "token_missing",
    );

    assert_eq!(
        op.get("/v1/silences", READ).await.body["silences"],
        json!([])
    );
    assert_eq!(op.get("/v1/pause", READ).await.body["paused"], false);
    assert!(audit_trail(&op).await.is_empty());
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_silence_with_several_problems_is_refused_whole_naming_every_one() {
    let op = started().await;
    let spec = json!({
        "matchers": [
            {"field": "severity", "op": "=", "value": "urgent"},
            {"field": "device", "op": "=~", "value": "(unclosed"},
        ],
        "schedule": {"kind": "weekly", "time_zone": "Mars/Olympus", "days": ["sat"],
                     "from": "22:00", "to": "02:00"},
        "reason": "  ",
    });
    let reply = op.post("/v1/silences", OP, spec).await;
    assert_error(&reply, 422, "invalid_silence");
    let fields = reply.fields();
    assert!(fields.contains(&"author".to_string()), "{fields:?}");
    assert!(fields.contains(&"reason".to_string()), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("matchers[0]")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("matchers[1]")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("schedule")),
        "{fields:?}"
    );

    // Text PostgreSQL cannot store is a problem of its field, beside the others.
    let mut nul = silence_spec(
        json!([{"field": "source", "op": "=", "value": "a\u{0}"}]),
        "1h",
    );
    nul["reason"] = json!("maintenance\u{0}");
    nul["schedule"]["duration"] = json!("forever");
    let reply = op.post("/v1/silences", OP, nul).await;
    assert_error(&reply, 422, "invalid_silence");
    assert_eq!(
        reply.fields(),
        vec!["matchers[0].value", "reason", "schedule.duration"]
    );

    // A missing schedule is a problem beside the others, not a bare JSON error.
    let spec = without(silence_spec(json!([]), "1h"), &["schedule"]);
    let reply = op.post("/v1/silences", OP, spec).await;
    assert_error(&reply, 422, "invalid_silence");
    assert!(reply.fields().contains(&"schedule".to_string()));
    assert!(reply.fields().iter().any(|f| f.starts_with("matchers")));

    // Bodies that are not a silence at all.
    let matchers = json!([{"field": "source", "op": "=", "value": "demo"}]);
    let mut unknown_key = silence_spec(matchers.clone(), "1h");
    unknown_key["comment"] = json!("not a field");
    let unknown = op.post("/v1/silences", OP, unknown_key).await;
    assert_error(&unknown, 400, "malformed_json");
    let mut wrong_type = silence_spec(matchers.clone(), "1h");
    wrong_type["reason"] = json!(42);
    assert_error(
        &op.post("/v1/silences", OP, wrong_type).await,
        400,
        "malformed_json",
    );
    let not_json = Body::Raw("application/json", b"{\"matchers\": [".to_vec());
    let reply = op.request(Method::POST, "/v1/silences", OP, not_json).await;
    assert_error(&reply, 400, "malformed_json");
    let text = Body::Raw("text/plain", b"{}".to_vec());
    let reply = op.request(Method::POST, "/v1/silences", OP, text).await;
    assert_error(&reply, 415, "unsupported_media_type");
    let mut huge = silence_spec(matchers, "1h");
    huge["reason"] = json!("x".repeat(70 * 1024));
    assert_error(
        &op.post("/v1/silences", OP, huge).await,
        413,
        "body_too_large",
    );

    assert_eq!(
        op.get("/v1/silences?all=true", READ).await.body["silences"],
        json!([])
    );
    assert!(
        audit_trail(&op).await.is_empty(),
        "nothing refused is audited"
    );
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_silence_is_added_listed_extended_and_expired_each_change_audited_as_the_token_name() {
    let op = started().await;
    let matchers = json!([
        {"field": "organization", "op": "=", "value": "org-42"},
        {"field": "severity", "op": "!=", "value": "critical"},
    ]);
    let added = op
        .post("/v1/silences", OP, silence_spec(matchers.clone(), "1h"))
        .await;
    assert_status(&added, 201);
    let silence = &added.body;
    let id = silence["id"].as_str().expect("an id").to_string();
    assert_eq!(
        added.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/silences/{id}").as_str())
    );
    assert_eq!(silence["state"], "active");
    assert_eq!(silence["suppressed"], 0);
    assert_eq!(silence["author"], "Dana (change 4711)");
    assert_eq!(silence["matchers"], matchers);
    let ends_at = time(&silence["ends_at"]);
    assert_eq!(ends_at - time(&silence["starts_at"]), Duration::hours(1));

    // A silence to come is pending.
    let mut later = silence_spec(json!([{"field": "source", "op": "=", "value": "demo"}]), "");
    later["schedule"] = json!({
        "kind": "once",
        "starts_at": (Utc::now() + Duration::hours(3)).to_rfc3339(),
        "ends_at": (Utc::now() + Duration::hours(4)).to_rfc3339(),
    });
    let pending = op.post("/v1/silences", OP, later).await;
    assert_status(&pending, 201);
    assert_eq!(pending.body["state"], "pending");

    record_hits(&op, silence, 3).await;
    let shown = op.get(&format!("/v1/silences/{id}"), READ).await;
    assert_status(&shown, 200);
    assert_eq!(shown.body["id"], id.as_str());
    assert_eq!(shown.body["suppressed"], 3);
    let listed = op.get("/v1/silences", READ).await;
    let states: Vec<_> = listed.body["silences"]
        .as_array()
        .expect("silences")
        .iter()
        .map(|s| s["state"].clone())
        .collect();
    assert_eq!(states, vec![json!("active"), json!("pending")]);
    assert_eq!(listed.body["silences"][0]["suppressed"], 3);
    let status = op.get("/v1/status", READ).await;
    assert_eq!(status.body["silences"], json!({"active": 1, "pending": 1}));

    // Extending: by a duration, or to a time; exactly one; never past the maximum (48 h).
    let extend = format!("/v1/silences/{id}/extend");
    let by = op.post(&extend, OP, json!({"by": "2h"})).await;
    assert_status(&by, 200);
    assert_eq!(time(&by.body["ends_at"]), ends_at + Duration::hours(2));
    let to = ends_at + Duration::hours(5);
    let moved = op
        .post(&extend, OP, json!({"ends_at": to.to_rfc3339()}))
        .await;
    assert_status(&moved, 200);
    assert_eq!(time(&moved.body["ends_at"]), to);
    let both = op
        .post(&extend, OP, json!({"by": "1h", "ends_at": to.to_rfc3339()}))
        .await;
    assert_error(&both, 422, "invalid_extension");
    assert_eq!(both.fields(), vec!["by", "ends_at"]);
    assert_error(
        &op.post(&extend, OP, json!({})).await,
        422,
        "invalid_extension",
    );
    assert_error(
        &op.post(&extend, OP, json!({"by": "soon"})).await,
        422,
        "invalid_extension",
    );
    assert_error(
        &op.post(&extend, OP, json!({"ends_at": "tomorrow"})).await,
        422,
        "invalid_extension",
    );
    assert_error(
        &op.post(&extend, OP, json!({"by": "3d"})).await,
        422,
        "invalid_silence",
    );

    // Expiring ends it now, once.
    let expire = format!("/v1/silences/{id}/expire");
    let expired = op.post(&expire, OP, Value::Null).await;
    assert_status(&expired, 200);
    assert_eq!(expired.body["state"], "expired");
    assert!(expired.body["expired_at"].is_string());
    assert_error(
        &op.post(&expire, OP, Value::Null).await,
        409,
        "already_ended",
    );
    assert_error(
        &op.post(&extend, OP, json!({"by": "1h"})).await,
        409,
        "already_ended",
    );
    let current = op.get("/v1/silences", READ).await;
    assert_eq!(current.body["silences"].as_array().map(Vec::len), Some(1));
    let all = op.get("/v1/silences?all=true", READ).await;
    assert_eq!(all.body["silences"].as_array().map(Vec::len), Some(2));
    assert_error(
        &op.get("/v1/silences?all=perhaps", READ).await,
        400,
        "invalid_query",
    );

    // Unknown and malformed ids name no silence.
    let unknown = "/v1/silences/6b1f4b8e-0d7e-4a8c-9a57-1b2f3c4d5e6f";
    assert_error(&op.get(unknown, READ).await, 404, "not_found");
    assert_error(
        &op.post(&format!("{unknown}/expire"), OP, Value::Null).await,
        404,
        "not_found",
    );
    assert_error(
        &op.post(&format!("{unknown}/extend"), OP, json!({"by": "1h"}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &op.get("/v1/silences/not-a-uuid", READ).await,
        404,
        "not_found",
    );

    let pending_id = pending.body["id"].as_str().map(str::to_string);
    let alice = OPERATE_NAME.to_string();
    assert_eq!(
        audit_trail(&op).await,
        vec![
            ("silence.add".into(), alice.clone(), Some(id.clone())),
            ("silence.add".into(), alice.clone(), pending_id),
            ("silence.extend".into(), alice.clone(), Some(id.clone())),
            ("silence.extend".into(), alice.clone(), Some(id.clone())),
            ("silence.expire".into(), alice, Some(id)),
        ]
    );
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn pausing_and_resuming_are_audited_as_the_token_name_and_repeating_them_changes_nothing() {
    let op = started().await;
    for body in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "a\u{0}"}),
    ] {
        let reply = op.post("/v1/pause", OP, body).await;
        assert_error(&reply, 422, "invalid_pause");
        assert_eq!(reply.fields(), vec!["reason"]);
    }
    assert_error(
        &op.post("/v1/pause", OP, json!({"reason": "x", "until": "later"}))
            .await,
        400,
        "malformed_json",
    );

    let paused = op
        .post("/v1/pause", OP, json!({"reason": "Syncro maintenance"}))
        .await;
    assert_status(&paused, 200);
    assert_eq!(paused.body["changed"], true);
    assert_eq!(paused.body["state"]["paused"], true);
    assert_eq!(paused.body["state"]["by"], OPERATE_NAME);
    assert_eq!(paused.body["state"]["reason"], "Syncro maintenance");
    let again = op
        .post("/v1/pause", OP, json!({"reason": "once more"}))
        .await;
    assert_eq!(again.body["changed"], false);
    assert_eq!(again.body["state"]["reason"], "Syncro maintenance");

    let shown = op.get("/v1/pause", READ).await;
    assert_eq!(shown.body["paused"], true);
    let status = op.get("/v1/status", READ).await;
    assert_status(&status, 200);
    assert_eq!(status.body["postgres"], "up");
    assert_eq!(status.body["paused"]["paused"], true);
    assert_eq!(status.body["paused"]["by"], OPERATE_NAME);

    let resumed = op.post("/v1/resume", OP, Value::Null).await;
    assert_eq!(resumed.body["changed"], true);
    assert_eq!(resumed.body["state"]["paused"], false);
    let again = op.post("/v1/resume", OP, Value::Null).await;
    assert_eq!(again.body["changed"], false);

    let alice = OPERATE_NAME.to_string();
    assert_eq!(
        audit_trail(&op).await,
        vec![
            ("pause".into(), alice.clone(), None),
            ("resume".into(), alice, None),
        ]
    );
    assert_ne!(READ_NAME, OPERATE_NAME);
    let newest = op.get("/v1/audit?limit=1", READ).await;
    assert_eq!(newest.body["entries"][0]["action"], "resume");
    let since = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let none = op
        .get(
            &format!("/v1/audit?since={}", since.replace('+', "%2B")),
            READ,
        )
        .await;
    assert_eq!(none.body["entries"], json!([]));
    let bad = op.get("/v1/audit?since=yesterday&limit=0", READ).await;
    assert_error(&bad, 400, "invalid_query");
    assert_eq!(bad.fields(), vec!["limit", "since"]);
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_trail_query_must_narrow_the_search_and_names_every_bad_parameter() {
    let op = started().await;
    // Two steps of one alert, as the workers' trail writer leaves them.
    record_trail(&op).await;

    for query in [
        "",
        "?until=2030-01-01T00:00:00Z",
        "?alert=&organization=%20",
    ] {
        let reply = op.get(&format!("/v1/trail{query}"), READ).await;
        assert_error(&reply, 400, "query_too_broad");
    }
    let bad = op
        .get("/v1/trail?alert=a&since=monday&until=x&limit=9000", READ)
        .await;
    assert_error(&bad, 400, "invalid_query");
    assert_eq!(bad.fields(), vec!["limit", "since", "until"]);
    assert_error(
        &op.get("/v1/trail?alert=a&colour=red", READ).await,
        400,
        "invalid_query",
    );
    // PostgreSQL cannot compare text holding a NUL: refused here, never a 5xx there.
    let nul = op.get("/v1/trail?alert=a%00b&since=", READ).await;
    assert_error(&nul, 400, "invalid_query");
    assert_eq!(nul.fields(), vec!["alert", "since"]);

    let found = op.get("/v1/trail?alert=evt-77", READ).await;
    assert_status(&found, 200);
    let steps: Vec<_> = found.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["step"].clone())
        .collect();
    assert_eq!(steps, vec![json!("received"), json!("ticket_created")]);
    assert_eq!(found.body["events"][1]["ticket_number"], "1042");
    let by_ticket = op.get("/v1/trail?ticket_number=1042&limit=1", READ).await;
    assert_eq!(by_ticket.body["events"].as_array().map(Vec::len), Some(1));
    let elsewhere = op.get("/v1/trail?organization=org-1", READ).await;
    assert_eq!(elsewhere.body["events"], json!([]));
    op.stop().await.expect("stops cleanly");
}

/// Writes two steps of one alert through the workers' trail writer.
async fn record_trail(op: &TestOperator) {
    let (writer, task) = TrailWriter::start(op.db.clone(), 16);
    let mut received = Event::new(Step::Received, "ar1-77", "demo").sender("evt-77", "org-42");
    received.at = Utc::now() - Duration::minutes(2);
    writer.record(received);
    writer.record(
        Event::new(Step::TicketCreated, "ar1-77", "demo")
            .sender("evt-77", "org-42")
            .ticket(991, Some("1042".into()))
            .detail(json!({"customer_id": 7})),
    );
    task.finish(std::time::Duration::from_secs(10)).await;
}

/// Records that the silence muted `count` alerts of one group, as the workers do.
async fn record_hits(op: &TestOperator, silence: &Value, count: i64) {
    let (writer, task) = TrailWriter::start(op.db.clone(), 16);
    let id = silence["id"].as_str().and_then(|id| id.parse().ok());
    writer.hit(Hit {
        silence_id: id.expect("a silence id"),
        window_start: time(&silence["starts_at"]),
        window_end: time(&silence["ends_at"]),
        group_key: "org-42/edr".into(),
        count,
        first_at: Utc::now(),
        last_at: Utc::now(),
        firing: true,
        message: json!({}),
    });
    task.finish(std::time::Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_watched_source_quiet_past_its_interval_is_overdue_in_sources_and_status() {
    let op = started().await;
    sources::set_expected(
        &op.db,
        &[("demo".to_string(), Some(1)), ("gh".to_string(), None)],
    )
    .await
    .expect("sources recorded");
    // Heard from when first watched; quiet past its one-second interval soon after.
    let overdue = wait::until(
        "demo overdue",
        std::time::Duration::from_secs(10),
        || async {
            let reply = op.get("/v1/sources", READ).await;
            (reply.body["sources"][0]["overdue"] == true).then_some(reply)
        },
    )
    .await;
    assert_eq!(overdue.body["sources"][0]["source"], "demo");
    assert!(overdue.body["sources"][0]["quiet_for_secs"].as_i64() >= Some(1));
    let reply = op.get("/v1/sources", READ).await;
    assert_status(&reply, 200);
    let sources = reply.body["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0]["source"], "demo");
    assert_eq!(sources[0]["overdue"], true);
    assert_eq!(sources[1]["source"], "gh");
    assert_eq!(sources[1]["overdue"], false);

    let status = op.get("/v1/status", READ).await;
    let overdue: Vec<_> = status.body["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["source"].clone())
        .collect();
    assert_eq!(overdue, vec![json!("demo")]);
    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn while_postgres_is_unreachable_its_routes_answer_503_and_the_status_says_down() {
    let ctx = Context::new();
    let port = relay_tests::free_port();
    let url = format!("postgres://postgres:hunter2-secret@127.0.0.1:{port}/postgres");
    let op = TestOperator::spawn_with(&config(&ctx, &url, "")).await;

    assert_status(&op.get("/healthz", None).await, 200);
    let ready = op.get("/readyz", None).await;
    assert_status(&ready, 503);
    assert_eq!(ready.body["postgres"], "down");
    // Authentication does not need PostgreSQL.
    assert_error(&op.get("/v1/silences", None).await, 401, "token_missing");

    let spec = silence_spec(
        json!([{"field": "source", "op": "=", "value": "demo"}]),
        "1h",
    );
    let replies = [
        op.get("/v1/silences", READ).await,
        op.post("/v1/silences", OP, spec).await,
        op.get("/v1/pause", READ).await,
        op.post("/v1/pause", OP, json!({"reason": "r"})).await,
        op.post("/v1/resume", OP, Value::Null).await,
        op.get("/v1/trail?alert=x", READ).await,
        op.get("/v1/audit", READ).await,
        op.get("/v1/sources", READ).await,
    ];
    for reply in &replies {
        assert_error(reply, 503, "postgres_unavailable");
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
        let text = reply.body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains(&port.to_string()),
            "the URL leaks: {text}"
        );
    }
    // RabbitMQ is up: its part is there (once the operator's connection is made), while
    // every part PostgreSQL holds is null.
    let status = relay_tests::wait::until(
        "the status with RabbitMQ's part",
        std::time::Duration::from_secs(30),
        || async {
            let status = op.get("/v1/status", READ).await;
            (status.body["rabbitmq"] == "up").then_some(status)
        },
    )
    .await;
    assert_status(&status, 200);
    for part in ["paused", "silences", "sources", "workers", "budget"] {
        assert!(status.body[part].is_null(), "{part}: {}", status.body);
    }
    assert_eq!(status.body["postgres"], "down");
    assert_eq!(status.body["queues"][0]["name"], "work");
    op.stop().await.expect("stops cleanly");
}

#[test]
fn the_document_checker_refuses_answers_the_document_does_not_describe() {
    let spec = Spec::load();
    let reply = |status: u16, body: Value| Reply {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body,
    };
    let refuses = |method: Method, path: &str, reply: Reply| {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            spec.check(&method, path, &reply)
        }));
        assert!(checked.is_err(), "{method} {path} {:?} passed", reply.body);
    };
    let pause =
        json!({"paused": true, "reason": "r", "by": "alice", "since": "2025-01-01T00:00:00Z"});
    spec.check(&Method::GET, "/v1/pause", &reply(200, pause.clone()));

    let mut extra = pause.clone();
    extra["colour"] = json!("red");
    refuses(Method::GET, "/v1/pause", reply(200, extra));
    let mut wrong_type = pause.clone();
    wrong_type["paused"] = json!("yes");
    refuses(Method::GET, "/v1/pause", reply(200, wrong_type));
    let mut bad_time = pause.clone();
    bad_time["since"] = json!("yesterday");
    refuses(Method::GET, "/v1/pause", reply(200, bad_time));
    refuses(Method::GET, "/v1/pause", reply(418, pause));
    let undocumented_code = json!({"error": {"code": "teapot", "message": "short and stout"}});
    refuses(Method::GET, "/v1/silences/x", reply(404, undocumented_code));
    let without_retry_after = json!({"error": {"code": "postgres_unavailable", "message": "down"}});
    refuses(Method::GET, "/v1/audit", reply(503, without_retry_after));
}
