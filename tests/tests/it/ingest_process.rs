//! The real `ingest` binary as an operator runs it: configuration from a file with secrets
//! from the environment, JSON logs, and a clean exit on SIGTERM.

use relay_tests::alerts::{self, alert, standard_headers};
use relay_tests::rabbit::Rabbit;
use relay_tests::{free_port, wait, workspace_binary, Context};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn the_binary_logs_json_without_secrets_and_exits_cleanly_on_sigterm() {
    let ctx = Context::new();
    let dir = std::env::temp_dir().join(format!("ingest-{}", ctx.prefix));
    std::fs::create_dir_all(&dir).expect("dir");
    let config_path = dir.join("relay.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"
prefix = "{prefix}"
[amqp]
url = "{amqp}"
[log]
format = "json"
level = "info"
[sources.demo]
verify = "standard-webhooks"
secrets_env = ["TEST_DEMO_SECRET"]
"#,
            prefix = ctx.prefix,
            amqp = ctx.amqp_url
        ),
    )
    .expect("config");
    let port = free_port();
    let mut child = tokio::process::Command::new(workspace_binary("ingest"))
        .arg("--config")
        .arg(&config_path)
        .env("RELAY_INGEST_ADDR", format!("127.0.0.1:{port}"))
        .env("TEST_DEMO_SECRET", alerts::SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ingest starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait::http_ok(
        "ingest ready",
        &format!("{base}/readyz"),
        Duration::from_secs(30),
    )
    .await;

    let body = serde_json::to_vec(&alert("evt-log-1")).expect("json");
    let headers = standard_headers(alerts::SECRET, &body);
    let signature = headers[2].1.clone();
    let mut request = client
        .post(format!("{base}/v1/webhooks/demo"))
        .header("content-type", "application/json")
        .body(body.clone());
    for (k, v) in &headers {
        request = request.header(k.as_str(), v.as_str());
    }
    assert_eq!(request.send().await.expect("answer").status().as_u16(), 202);
    let forged = client
        .post(format!("{base}/v1/webhooks/demo"))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_forged")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header(
            "webhook-signature",
            "v1,Zm9yZ2VkLXNpZ25hdHVyZS1ieXRlcy0wMTIzNDU2Nzg5",
        )
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status().as_u16(), 401);

    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("ingest exits after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "still accepting connections after exit"
    );

    let mut logs = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .await
        .expect("logs");
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"))
        })
        .collect();
    // One line per request, naming the alert and the message it is queued under.
    let accepted = lines
        .iter()
        .find(|l| l["message"] == "alerts accepted")
        .unwrap_or_else(|| panic!("no 'alerts accepted' line in {logs}"));
    assert_eq!(accepted["alert_id"], "evt-log-1");
    assert_eq!(accepted["alerts"], 1);
    assert_eq!(
        accepted["message_id"],
        shared::message::message_id("demo", "evt-log-1")
    );
    assert_eq!(accepted["span"]["source"], "demo");
    assert_eq!(accepted["span"]["alert_id"], "evt-log-1");
    let rejected = lines
        .iter()
        .find(|l| l["code"] == "signature_invalid")
        .unwrap_or_else(|| panic!("no rejection line in {logs}"));
    assert_eq!(rejected["span"]["source"], "demo");
    let key_b64 = alerts::SECRET.trim_start_matches("whsec_");
    for secret in [
        alerts::SECRET,
        key_b64,
        signature.as_str(),
        "Zm9yZ2VkLXNpZ25hdHVyZS1ieXRlcy0wMTIzNDU2Nzg5",
        "guest:guest",
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain a secret or signature: {secret}"
        );
    }

    assert_eq!(
        Rabbit::connect(&ctx.amqp_url)
            .await
            .count(&format!("{}.alerts.work", ctx.prefix))
            .await,
        1
    );
    Rabbit::connect(&ctx.amqp_url)
        .await
        .delete_topology(&ctx.prefix)
        .await;
    relay_tests::processor::drop_schema(&ctx.prefix).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_configuration_is_refused_with_every_problem_listed() {
    let dir = std::env::temp_dir().join(format!("ingest-bad-{}", Context::new().prefix));
    std::fs::create_dir_all(&dir).expect("dir");
    let config_path = dir.join("relay.toml");
    std::fs::write(
        &config_path,
        r#"
prefix = "Has Spaces"
[ingest]
listen = "not-an-address"
[sources.demo]
secrets = ["not-a-whsec"]
[sources.other]
secrets_env = ["UNSET_VARIABLE_FOR_TEST"]
"#,
    )
    .expect("config");
    let output = tokio::process::Command::new(workspace_binary("ingest"))
        .arg("--config")
        .arg(&config_path)
        .env_remove("UNSET_VARIABLE_FOR_TEST")
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "4 problem(s)",
        "prefix",
        "ingest.listen",
        "sources.demo: secret #1",
        "UNSET_VARIABLE_FOR_TEST is not set",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    assert!(!text.contains("not-a-whsec"), "a secret value was printed");
    let _ = std::fs::remove_dir_all(&dir);
}
