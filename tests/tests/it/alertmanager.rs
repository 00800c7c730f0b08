//! A real sender: Prometheus Alertmanager delivers alerts to ingest with a bearer token, and
//! they arrive in the work queue as canonical alerts.

use relay_tests::ingest::{config, TestIngest, BEARER_TOKEN};
use relay_tests::rabbit::Rabbit;
use relay_tests::{free_port, wait, Context};
use serde_json::{json, Value};
use shared::amqp::Topology;
use std::time::Duration;

const ALERTMANAGER: &str = "prometheus-alertmanager";

#[tokio::test]
async fn alertmanager_alerts_arrive_as_canonical_messages() {
    let ctx = Context::new();
    let ingest = TestIngest::spawn(&config(&ctx, &ctx.amqp_url, "")).await;
    ingest.ready().await;
    let rabbit = Rabbit::connect(&ctx.amqp_url).await;
    let work = Topology::new(&ctx.prefix).work_queue();

    let dir = std::env::temp_dir().join(format!("am-{}", ctx.prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config_path = dir.join("alertmanager.yml");
    std::fs::write(
        &config_path,
        format!(
            r#"
route:
  receiver: relay
  group_by: ['alertname', 'tenant']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {BEARER_TOKEN}
"#,
            url = ingest.url("/v1/webhooks/am"),
        ),
    )
    .expect("write config");
    let port = free_port();
    let mut child = tokio::process::Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", dir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{ALERTMANAGER} must be installed (Debian package prometheus-alertmanager; the README's test command installs it): {e}")
        });
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait::http_ok(
        "Alertmanager ready",
        &format!("{base}/-/ready"),
        Duration::from_secs(30),
    )
    .await;

    let starts_at = "2026-05-01T10:00:00Z";
    let fired = json!([
        {"labels": {"alertname": "DiskFull", "severity": "warning", "tenant": "org-7", "instance": "db-1"},
         "annotations": {"summary": "Disk almost full on db-1", "description": "95% used"},
         "startsAt": starts_at, "generatorURL": "http://prometheus/graph"},
        {"labels": {"alertname": "RansomwareBehaviour", "severity": "critical", "tenant": "org-8"},
         "annotations": {"summary": "Mass file renames on WS-07"},
         "startsAt": starts_at}
    ]);
    let response = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&fired)
        .send()
        .await
        .expect("Alertmanager API");
    assert!(
        response.status().is_success(),
        "Alertmanager refused the alerts"
    );

    let mut received: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for both alerts; got {received:?}"
        );
        received.extend(rabbit.take_all(&work).await.into_iter().map(|m| m.body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;

    received.sort_by_key(|m| {
        m["alert"]["event_type"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    let disk = &received[0]["alert"];
    assert_eq!(received[0]["source"], "am");
    assert_eq!(disk["event_type"], "DiskFull");
    assert_eq!(disk["severity"], "medium");
    assert_eq!(disk["organization"]["id"], "org-7");
    assert_eq!(disk["title"], "Disk almost full on db-1");
    assert_eq!(disk["description"], "95% used");
    assert_eq!(disk["status"], "firing");
    assert_eq!(disk["occurred_at"], starts_at);
    assert_eq!(disk["details"]["labels"]["instance"], "db-1");
    let id = disk["id"].as_str().expect("id");
    assert!(id.starts_with("am-") && id.ends_with("-1777629600"), "{id}");
    let ransomware = &received[1]["alert"];
    assert_eq!(ransomware["severity"], "critical");
    assert_eq!(ransomware["organization"]["id"], "org-8");
    assert_eq!(received.len(), 2, "no duplicates");

    rabbit.delete_topology(&ctx.prefix).await;
    ingest.stop().await.expect("stops");
    let _ = std::fs::remove_dir_all(&dir);
}
