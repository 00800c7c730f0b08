//! The operator API's desk endpoints, the console's overview, silences, configuration and
//! billing pages are built on: Syncro and Redis in the status, the last day's activity, a
//! silence's preview, the effective configuration and explain, and the billing sync. Every
//! answer is checked against `docs/openapi/operator.json` by the harness.

use crate::billing::{billing_section, Harness, THREE_ORGS};
use processor::billing::outcome::{OrgOutcome, OrgResult};
use relay_tests::alerts::alert;
use relay_tests::operator::{
    config_with, postgres_url, silence_spec, Body, Reply, TestOperator, OPERATE_TOKEN, READ_TOKEN,
};
use relay_tests::processor::{start_sim, Stack, TestProcessor, SIM_TOKEN};
use relay_tests::{wait, Context};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const READ: Option<&str> = Some(READ_TOKEN);
const LONG: Duration = Duration::from_secs(60);

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, code),
        "{}",
        reply.body
    );
}

/// The fields an error names.
fn fields(reply: &Reply) -> Vec<String> {
    reply.body["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the status's Syncro check says `state`, and gives the status.
async fn syncro_state(op: &TestOperator, state: &str) -> Value {
    wait::until(
        &format!("the status to say Syncro is {state}"),
        Duration::from_secs(30),
        || async {
            let status = op.get("/v1/status", READ).await;
            (status.body["syncro"]["state"] == state).then_some(status.body)
        },
    )
    .await
}

#[tokio::test]
async fn the_status_says_whether_syncro_takes_the_workers_token_and_redis_answers() {
    let ctx = Context::new();
    let sim = start_sim(|_| {});
    let good = config_with(&ctx, &postgres_url(), &sim.api_url(), "");
    let op = TestOperator::spawn_with(&good).await;
    op.ready().await;
    let status = syncro_state(&op, "ok").await;
    assert_eq!(status["redis"], "up", "{status}");
    let checked = status["syncro"]["checked_at"].clone();
    // Read again at once: the cached check, not a second call to Syncro.
    let again = op.get("/v1/status", READ).await;
    assert_eq!(again.body["syncro"]["checked_at"], checked);
    let me_calls = sim
        .sim()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/me"))
        .count();
    assert_eq!(me_calls, 1, "at most one GET /me a minute");
    op.stop().await.expect("stops");

    let refused = TestOperator::spawn_with(&good.replace(SIM_TOKEN, "not-the-token-0000")).await;
    refused.ready().await;
    let status = syncro_state(&refused, "refused").await;
    let detail = status["syncro"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("401") || detail.contains("403"), "{detail}");
    assert!(
        !status.to_string().contains("not-the-token"),
        "no token shown"
    );
    refused.stop().await.expect("stops");

    // The default test configuration's Syncro is a port nobody listens on.
    let dead = TestOperator::spawn(&ctx).await;
    dead.ready().await;
    syncro_state(&dead, "unreachable").await;
    dead.stop().await.expect("stops");
}

/// Three alerts of one organization and event type, one of another, all sent through ingest
/// and carried to Syncro by a worker.
fn traffic(tag: &str) -> (String, Vec<Value>) {
    let busy = format!("org-busy-{tag}");
    let mut alerts = Vec::new();
    for n in 0..3 {
        let mut a = alert(&format!("busy-{tag}-{n}"));
        a["organization"] = json!({"id": busy, "name": "Busy Ltd"});
        a["event_type"] = json!("edr.ransomware");
        a["title"] = json!(format!("Ransomware {n}"));
        alerts.push(a);
    }
    let mut quiet = alert(&format!("quiet-{tag}"));
    quiet["organization"] = json!({"id": format!("org-quiet-{tag}"), "name": "Quiet Ltd"});
    alerts.push(quiet);
    (busy, alerts)
}

#[tokio::test]
async fn alerts_sent_through_the_stack_show_in_the_hours_counts_the_busiest_lists_and_a_preview() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let op = TestOperator::for_stack(&stack).await;
    op.ready().await;
    let tag = &stack.ctx.prefix;
    let (busy, alerts) = traffic(tag);
    stack.send_and_settle(&alerts, LONG).await;

    let activity = wait::until("the day's activity to count them", LONG, || async {
        let reply = op.get("/v1/activity?hours=24", READ).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let sum = |key: &str| {
            reply.body["hours"]
                .as_array()
                .map(|h| h.iter().filter_map(|h| h[key].as_i64()).sum::<i64>())
                .unwrap_or_default()
        };
        (sum("alerts") == 4 && sum("tickets") >= 1).then_some(reply.body)
    })
    .await;
    assert_eq!(activity["hours"].as_array().map(Vec::len), Some(24));
    assert_eq!(
        activity["organizations"][0],
        json!({"name": busy, "alerts": 3}),
        "{activity}"
    );
    assert_eq!(activity["organizations"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        activity["event_types"][0],
        json!({"name": "edr.ransomware", "alerts": 3})
    );
    let bad = op.get("/v1/activity?hours=0", READ).await;
    assert_error(&bad, 400, "invalid_query");
    assert_eq!(fields(&bad), ["hours"]);
    assert_error(&op.get("/v1/activity", None).await, 401, "token_missing");

    // The preview: the busy organization's three, not the quiet one; by organization name
    // and by device too, as the workers would match them.
    let spec = silence_spec(
        json!([{"field": "organization", "op": "=", "value": busy}]),
        "2h",
    );
    let preview = op.post("/v1/silences/preview", READ, spec).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(preview.body["matched"], 3, "{}", preview.body);
    assert_eq!(preview.body["checked"], 4);
    let senders: Vec<&str> = preview.body["alerts"]
        .as_array()
        .map(|a| a.iter().filter_map(|a| a["sender_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(senders.len(), 3);
    assert!(
        senders.iter().all(|s| s.starts_with("busy-")),
        "{senders:?}"
    );
    assert_eq!(preview.body["alerts"][0]["event_type"], "edr.ransomware");
    assert_eq!(preview.body["alerts"][0]["severity"], "critical");
    let by_name = silence_spec(
        json!([{"field": "organization", "op": "=", "value": "Quiet Ltd"}]),
        "2h",
    );
    let quiet = op.post("/v1/silences/preview", READ, by_name).await;
    assert_eq!(quiet.body["matched"], 1, "{}", quiet.body);
    let by_device = silence_spec(
        json!([{"field": "device", "op": "=", "value": "WS-07"}]),
        "2h",
    );
    assert_eq!(
        op.post("/v1/silences/preview", READ, by_device).await.body["matched"],
        4
    );

    // A bad body: the same problems as a new silence, and nothing stored.
    let bad = json!({"matchers": [{"field": "severity", "op": "=", "value": "loud"}],
                     "schedule": {"kind": "once", "duration": "2h"}, "author": "dana"});
    let refused = op.post("/v1/silences/preview", READ, bad).await;
    assert_error(&refused, 422, "invalid_silence");
    assert_eq!(fields(&refused), ["reason", "matchers[0].value"]);
    let stored = op.get("/v1/silences?all=true", READ).await;
    assert_eq!(stored.body["silences"], json!([]), "nothing stored");

    op.stop().await.expect("stops");
    worker.stop().await.expect("worker stops");
    stack.finish().await;
}

#[tokio::test]
async fn explain_names_the_override_that_set_a_field_and_the_configuration_shows_no_secret() {
    let ctx = Context::new();
    let op = TestOperator::spawn(&ctx).await;
    op.ready().await;
    let explained = op.post("/v1/explain", READ, alert("explain-1")).await;
    assert_eq!(explained.status, 200, "{}", explained.body);
    let row = |field: &str| {
        explained.body["fields"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["field"] == field).cloned())
            .unwrap_or_else(|| panic!("no row {field}: {}", explained.body))
    };
    assert_eq!(
        row("user_id"),
        json!({"field": "user_id", "value": "1301",
               "set_by": "overrides.respond_rule[match=\"rr-7\"]"})
    );
    assert_eq!(row("status")["set_by"], "tickets (defaults)");
    assert_eq!(explained.body["route"], "customer");
    assert_eq!(explained.body["mapped"], true);
    assert_eq!(
        explained.body["subject"],
        "m365.impossible_travel: Impossible travel for j.doe@contoso.com"
    );
    assert!(explained.body["text"]
        .as_str()
        .is_some_and(|t| t.contains("rr-7")));
    assert_eq!(explained.body["console_mappings"], true);

    // An organization the console ignores: explained as the workers would decide it now.
    let ignored = op
        .request(
            reqwest::Method::PUT,
            "/v1/mappings/org-explain-ignored",
            Some(OPERATE_TOKEN),
            Body::Json(json!({"ignore": true})),
        )
        .await;
    assert_eq!(ignored.status, 200, "{}", ignored.body);
    let mut other = alert("explain-3");
    other["organization"] = json!({"id": "org-explain-ignored"});
    let explained = op.post("/v1/explain", READ, other).await;
    assert_eq!(explained.body["route"], "ignored", "{}", explained.body);
    assert_eq!(
        explained.body["fields"][0]["set_by"],
        "console mapping \"org-explain-ignored\""
    );

    let mut bad = alert("explain-2");
    bad["severity"] = json!("loud");
    let refused = op.post("/v1/explain", READ, bad).await;
    assert_error(&refused, 422, "invalid_alert");
    assert_eq!(fields(&refused), ["severity"]);
    let picked = op
        .post("/v1/explain", READ, json!({"message_id": "ar1-abc"}))
        .await;
    assert_error(&picked, 422, "invalid_alert");
    let why = refused_message(&picked);
    assert!(why.contains("only pasted alerts are explained"), "{why}");
    assert_error(
        &op.post("/v1/explain", None, alert("x")).await,
        401,
        "token_missing",
    );

    let configuration = op.get("/v1/configuration", READ).await;
    assert_eq!(configuration.status, 200, "{}", configuration.body);
    let c = &configuration.body;
    assert_eq!(c["tickets"]["status"], "New");
    assert_eq!(c["tickets"]["priorities"]["critical"], "0 Urgent");
    let rules: Vec<&str> = c["overrides"]
        .as_array()
        .map(|o| o.iter().filter_map(|o| o["rule"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        rules,
        [
            "overrides.ioc_rule[match=\"ioc-3\"]",
            "overrides.respond_rule[match=\"rr-7\"]",
            "overrides.event_type[match=\"edr.ransomware\"]",
        ],
        "in the order they are consulted"
    );
    assert_eq!(c["overrides"][1]["sets"], json!({"assignee_user_id": 1301}));
    let text = c.to_string();
    for secret in [SIM_TOKEN, "postgres://", "amqp://", "redis://"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    op.stop().await.expect("stops");
}

fn refused_message(reply: &Reply) -> String {
    reply.body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn billing_shows_what_the_next_sync_would_write_and_this_months_outcomes() {
    let h = Harness::start(&billing_section(false, THREE_ORGS)).await;
    h.seed_counts(&[("org-a", 42)]).await;
    let op = TestOperator::for_stack(&h.stack).await;
    let reply = op.get("/v1/billing", READ).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let b = &reply.body;
    assert_eq!(b["enabled"], false);
    assert_eq!(b["organizations"], 3);
    assert_eq!(b["month"], h.month());
    assert_eq!(b["outcomes"], json!([]));
    let preview = |org: &str| {
        b["preview"]
            .as_array()
            .and_then(|p| p.iter().find(|o| o["organization_id"] == org).cloned())
            .unwrap_or_else(|| panic!("no preview of {org}: {b}"))
    };
    let a = preview("org-a");
    assert_eq!(
        (&a["outcome"], &a["old_quantity"], &a["new_quantity"]),
        (&json!("updated"), &json!(40.0), &json!(42)),
        "{a}"
    );
    assert_eq!(preview("org-b")["outcome"], "no_count");
    assert!(h
        .requests_to("PUT /schedules/{id}/line_items/{line_item_id}")
        .is_empty());

    let outcome = OrgOutcome {
        organization_id: "org-b".into(),
        schedule_id: 503_263,
        outcome: OrgResult::Unchanged,
        line_id: Some(1_823_301),
        line_name: Some("Security seats".into()),
        old_quantity: Some(15.0),
        new_quantity: Some(15),
        added_line: false,
        message: "already 15".into(),
        attempts: 0,
        at: chrono::Utc::now(),
    };
    h.billing
        .set_outcome(&h.month(), &outcome)
        .await
        .expect("redis");
    let reply = op.get("/v1/billing", READ).await;
    assert_eq!(reply.body["outcomes"][0]["organization_id"], "org-b");
    assert_eq!(reply.body["outcomes"][0]["outcome"], "unchanged");
    assert_error(&op.get("/v1/billing", None).await, 401, "token_missing");
    op.stop().await.expect("stops");
    h.stack.finish().await;
}

/// Every ingest instance reports itself: the status lists each with the alerts it accepted,
/// and one that stops leaves the list at once.
#[tokio::test]
async fn the_status_lists_each_running_ingest_and_forgets_one_that_stopped() {
    let stack = Stack::start(|_| {}, "").await;
    let op = TestOperator::for_stack(&stack).await;
    op.ready().await;
    stack.send(&[alert("ingest-counted")]).await;
    let instances = |reply: Reply| reply.body["ingest"].as_array().cloned();
    let one = wait::until(
        "the stack's ingest in the status",
        Duration::from_secs(20),
        || async {
            let list = instances(op.get("/v1/status", Some(READ_TOKEN)).await)?;
            let accepted = list.first()?["report"]["accepted"].as_u64()?;
            (list.len() == 1 && accepted >= 1).then_some(list)
        },
    )
    .await;
    assert_eq!(one[0]["report"]["broker_up"], true, "{one:?}");

    let second = relay_tests::ingest::TestIngest::spawn(&stack.config).await;
    wait::until(
        "a second ingest in the status",
        Duration::from_secs(20),
        || async {
            let list = instances(op.get("/v1/status", Some(READ_TOKEN)).await)?;
            (list.len() == 2).then_some(())
        },
    )
    .await;
    second.stop().await.expect("the second ingest stops");
    wait::until(
        "the stopped ingest gone from the status",
        Duration::from_secs(10),
        || async {
            let list = instances(op.get("/v1/status", Some(READ_TOKEN)).await)?;
            (list.len() == 1).then_some(())
        },
    )
    .await;

    op.stop().await.expect("stops cleanly");
    stack.finish().await;
}

/// The operator binary reads the workers' sections of its file again on SIGHUP, as a worker
/// does: the configuration page shows the new ticket defaults; a bad file changes nothing.
#[tokio::test]
async fn sighup_reads_the_workers_configuration_again_and_a_bad_file_changes_nothing() {
    let ctx = Context::new();
    let port = relay_tests::free_port();
    let text = relay_tests::operator::config(&ctx, &postgres_url(), "");
    let cut = text
        .rfind(r#"listen = "127.0.0.1:0""#)
        .expect("the operator's listen");
    let text = format!(
        "{}listen = \"127.0.0.1:{port}\"{}",
        &text[..cut],
        &text[cut + r#"listen = "127.0.0.1:0""#.len()..]
    );
    let file = std::env::temp_dir().join(format!("{}-operator.toml", ctx.prefix));
    std::fs::write(&file, &text).expect("config written");
    let mut child = tokio::process::Command::new(relay_tests::workspace_binary("operator"))
        .arg("--config")
        .arg(&file)
        .env(
            "RELAY_OPERATOR_OPERATE_TOKENS",
            format!("alice:{OPERATE_TOKEN}"),
        )
        .env("RELAY_OPERATOR_READ_TOKENS", format!("rita:{READ_TOKEN}"))
        .env_remove("RELAY_CONFIG")
        .env("RELAY_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator starts");
    let mut log = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = format!("http://127.0.0.1:{port}");
    wait::http_ok(
        "the operator",
        &format!("{base}/healthz"),
        Duration::from_secs(20),
    )
    .await;
    let client = reqwest::Client::new();
    let problem_type = || async {
        let answer: Value = client
            .get(format!("{base}/v1/configuration"))
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        answer["tickets"]["problem_type"].as_str().map(String::from)
    };
    assert_eq!(problem_type().await.as_deref(), Some("Security"));
    let hangup = |pid: u32| {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP {pid}");
    };
    let pid = child.id().expect("a pid");

    // A bad file: refused whole, the running configuration stays.
    std::fs::write(
        &file,
        text.replace(
            "catch_all_customer_id = 4101776",
            "catch_all_customer_id = -1",
        ),
    )
    .expect("config written");
    hangup(pid);
    let refused = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = log.next_line().await {
            if line.contains("configuration reload rejected") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        refused.ok(),
        Some(true),
        "the bad file is refused in the log"
    );
    assert_eq!(problem_type().await.as_deref(), Some("Security"));
    // A good one is taken.
    std::fs::write(
        &file,
        text.replace(
            r#"problem_type = "Security""#,
            r#"problem_type = "Incident""#,
        ),
    )
    .expect("config written");
    let seen = wait::until(
        "the new ticket default",
        Duration::from_secs(20),
        || async {
            hangup(pid);
            let now = problem_type().await?;
            (now == "Incident").then_some(now)
        },
    )
    .await;
    assert_eq!(seen, "Incident");

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(15), child.wait()).await;
    let _ = std::fs::remove_file(&file);
    relay_tests::processor::drop_schema(&ctx.prefix).await;
}
