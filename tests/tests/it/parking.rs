//! Parking (`[mapping] unmapped = "park"`), the release of parked alerts, and reloading the
//! configuration with SIGHUP, against real RabbitMQ, Redis, the simulator and the real
//! processor binary.

use processor::config::reload::ConfigHandle;
use processor::config::ProcessorConfig;
use processor::metrics::Metrics;
use processor::store::Store;
use relay_tests::alerts::alert;
use relay_tests::processor::{
    config, eventually, redis_url, Stack, TestProcessor, CONTOSO, FABRIKAM,
};
use relay_tests::rabbit::Rabbit;
use relay_tests::{free_port, wait, workspace_binary, Context};
use serde_json::{json, Value};
use shared::amqp::topology::PARKED_KEY;
use shared::amqp::{Broker, BrokerOptions, HeaderValue, Outgoing, Topology};
use shared::config::Settings;
use shared::envelope::SCHEMA_HEADER;
use shared::message::{message_id, AlertMessage};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The test configuration with parking on, one message at a time (so tickets are created in
/// queue order), and the metrics on `metrics_port`.
fn parking(config: &str, metrics_port: u16) -> String {
    config
        .replace(
            "ignored_organizations = [\"org-ignored\"]",
            "ignored_organizations = [\"org-ignored\"]\nunmapped = \"park\"",
        )
        .replace("prefetch = 64", "prefetch = 1")
        .replace(
            "metrics_listen = \"127.0.0.1:0\"",
            &format!("metrics_listen = \"127.0.0.1:{metrics_port}\""),
        )
}

/// `text` with `org` mapped to `customer`.
fn mapped(text: &str, org: &str, customer: i64) -> String {
    text.replace(
        "[mapping.organizations]\n",
        &format!("[mapping.organizations]\n\"{org}\" = {customer}\n"),
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("config file written");
}

fn org_alert(id: &str, org: &str, title: &str) -> Value {
    let mut a = alert(id);
    a["organization"] = json!({"id": org, "name": "Newco GmbH", "domain": "newco.example"});
    a["title"] = json!(title);
    a
}

/// The real processor binary, with its log in a file beside the configuration.
struct Worker {
    child: tokio::process::Child,
    metrics: String,
}

impl Worker {
    async fn start(config: &Path, metrics_port: u16) -> Worker {
        let log = std::fs::File::create(config.with_extension("log")).expect("log file");
        let child = tokio::process::Command::new(workspace_binary("processor"))
            .args(["run", "--config"])
            .arg(config)
            .env("RELAY_LOG_FORMAT", "pretty")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("processor starts");
        let base = format!("http://127.0.0.1:{metrics_port}");
        wait::http_ok("the processor ready", &format!("{base}/readyz"), LONG).await;
        Worker {
            child,
            metrics: format!("{base}/metrics"),
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// The value of one metric line (`name{labels}`), 0 when absent.
    async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(&self.metrics)
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    async fn wait_metric(&self, series: &str, value: f64) {
        wait::until(&format!("{series} = {value}"), LONG, || async {
            (self.metric(series).await == value).then_some(())
        })
        .await
    }

    async fn stop(mut self) {
        self.signal("TERM");
        let status = tokio::time::timeout(LONG, self.child.wait())
            .await
            .expect("the processor stops")
            .expect("exit status");
        assert!(status.success(), "the processor exited with {status}");
    }
}

fn config_path(ctx: &Context) -> PathBuf {
    std::env::temp_dir().join(format!("{}.toml", ctx.prefix))
}

#[tokio::test]
async fn parked_alerts_become_tickets_in_order_once_a_sighup_maps_their_organization() {
    let stack = Stack::start(|_| {}, "").await;
    let port = free_port();
    let path = config_path(&stack.ctx);
    let parked_config = parking(&stack.config, port);
    write(&path, &parked_config);
    let worker = Worker::start(&path, port).await;

    let parked: Vec<Value> = (0..3)
        .map(|i| org_alert(&format!("parked-{i}"), "org-new", &format!("Parked {i}")))
        .collect();
    let mut ignored = alert("ignored-1");
    ignored["organization"] = json!({"id": "org-ignored"});
    let mapped_alert = alert("mapped-1");
    let mut batch = parked.clone();
    batch.push(ignored);
    batch.push(mapped_alert);
    stack.send(&batch).await;

    let parked_queue = format!("{}.alerts.parked", stack.ctx.prefix);
    wait::until("three alerts parked", LONG, || async {
        (stack.rabbit.count(&parked_queue).await == 3).then_some(())
    })
    .await;
    let mapped_id = message_id("demo", "mapped-1");
    eventually("the mapped alert in Syncro", LONG, || {
        stack.references().contains(&mapped_id)
    })
    .await;
    worker
        .wait_metric("relay_processor_parked_total", 3.0)
        .await;
    assert_eq!(
        stack.tickets().len(),
        1,
        "only the mapped alert is a ticket"
    );
    assert_eq!(stack.tickets()[0].customer_id, CONTOSO);

    // A bad file is rejected and changes nothing: still parking.
    write(
        &path,
        &parked_config.replace("prefetch = 1", "prefetch = \"many\""),
    );
    worker.signal("HUP");
    worker
        .wait_metric(
            "relay_processor_config_reloads_total{result=\"rejected\"}",
            1.0,
        )
        .await;
    stack
        .send(&[org_alert("parked-3", "org-new", "Parked 3")])
        .await;
    wait::until("the fourth alert parked", LONG, || async {
        (stack.rabbit.count(&parked_queue).await == 4).then_some(())
    })
    .await;
    assert_eq!(stack.tickets().len(), 1);

    // Map the organization: the reload releases its alerts, in order.
    write(&path, &mapped(&parked_config, "org-new", FABRIKAM));
    worker.signal("HUP");
    worker
        .wait_metric("relay_processor_config_reloads_total{result=\"ok\"}", 1.0)
        .await;
    eventually("four tickets for the mapped customer", LONG, || {
        stack
            .tickets()
            .iter()
            .filter(|t| t.customer_id == FABRIKAM)
            .count()
            == 4
    })
    .await;
    let subjects: Vec<String> = stack
        .tickets()
        .into_iter()
        .filter(|t| t.customer_id == FABRIKAM)
        .map(|t| t.subject)
        .collect();
    let expected: Vec<String> = (0..4)
        .map(|i| format!("m365.impossible_travel: Parked {i}"))
        .collect();
    assert_eq!(subjects, expected, "released in their original order");
    assert_eq!(stack.rabbit.count(&parked_queue).await, 0);
    worker
        .wait_metric("relay_processor_released_total", 4.0)
        .await;
    let store =
        Store::new(&secrecy::SecretString::from(redis_url()), &stack.ctx.prefix).expect("store");
    let unmapped = store.unmapped().await.expect("unmapped");
    assert_eq!((unmapped[0].count, unmapped[0].parked), (4, 0));

    worker.stop().await;
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("log"));
    stack.finish().await;
}

/// A configuration for `ctx` with `org-a` mapped and parking on; no simulator needed.
fn handle_for(ctx: &Context) -> ConfigHandle {
    let base = config(ctx, &ctx.amqp_url, &redis_url(), "http://127.0.0.1:9", "");
    let text = mapped(&parking(&base, 0), "org-a", CONTOSO);
    let settings = Settings::from_toml(&text, &|_| None).expect("settings");
    ConfigHandle::new(ProcessorConfig::from_settings(&settings).expect("valid config"))
}

fn broker(ctx: &Context) -> Broker {
    Broker::start(BrokerOptions {
        url: secrecy::SecretString::from(ctx.amqp_url.clone()),
        topology: Topology::new(&ctx.prefix),
        publish_channels: 1,
        max_backoff: Duration::from_secs(1),
        connection_name: "parking test".into(),
    })
}

/// Parks alerts `0..n`, even ones for `org-a` (mapped), odd ones for `org-b` (not).
async fn park_messages(broker: &Broker, n: usize) {
    assert!(broker.wait_connected(LONG).await, "broker connected");
    let messages: Vec<Outgoing> = (0..n)
        .map(|i| {
            let org = if i % 2 == 0 { "org-a" } else { "org-b" };
            let body = org_alert(&format!("p-{i}"), org, &format!("Parked {i}"));
            let message = AlertMessage::new(
                "demo",
                serde_json::from_value(body).expect("alert"),
                chrono::Utc::now(),
            );
            Outgoing {
                routing_key: PARKED_KEY.into(),
                message_id: message.message_id(),
                body: serde_json::to_vec(&message).expect("json"),
                headers: vec![(SCHEMA_HEADER, HeaderValue::Int(1))],
            }
        })
        .collect();
    for message in messages {
        broker
            .publish_confirmed(&[message], Duration::from_secs(10))
            .await
            .expect("parked");
    }
}

fn alert_ids(taken: &[relay_tests::rabbit::Taken]) -> Vec<String> {
    taken
        .iter()
        .map(|t| {
            t.body["alert"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn two_workers_releasing_at_once_move_each_alert_once_and_keep_the_order() {
    let ctx = Context::new();
    let (first, second) = (broker(&ctx), broker(&ctx));
    park_messages(&first, 20).await;
    assert!(second.wait_connected(LONG).await);
    let store =
        || Store::new(&secrecy::SecretString::from(redis_url()), &ctx.prefix).expect("store");
    let (store_1, store_2) = (store(), store());
    let (config_1, config_2) = (handle_for(&ctx), handle_for(&ctx));
    let metrics = Metrics::new();
    let (a, b) = tokio::join!(
        processor::worker::parking::release(&first, &store_1, &config_1, &metrics),
        processor::worker::parking::release(&second, &store_2, &config_2, &metrics),
    );
    let (a, b) = (a.expect("first pass"), b.expect("second pass"));
    assert_eq!(
        a.released + b.released,
        10,
        "each mapped alert released once"
    );

    let rabbit = Rabbit::connect(&ctx.amqp_url).await;
    let topology = Topology::new(&ctx.prefix);
    let work = rabbit.take_all(&topology.work_queue()).await;
    let still = rabbit.take_all(&topology.parked_queue()).await;
    let evens: Vec<String> = (0..20).step_by(2).map(|i| format!("p-{i}")).collect();
    let odds: Vec<String> = (1..20).step_by(2).map(|i| format!("p-{i}")).collect();
    assert_eq!(alert_ids(&work), evens, "released once each, in order");
    assert_eq!(alert_ids(&still), odds, "the others wait, in order");
    assert!(work.iter().all(|t| t
        .message_id
        .as_deref()
        .is_some_and(|m| m.starts_with("ar1-"))));

    first.close().await;
    second.close().await;
    rabbit.delete_topology(&ctx.prefix).await;
    relay_tests::processor::delete_redis_keys(&ctx.prefix).await;
}

#[tokio::test]
async fn a_starting_worker_releases_alerts_parked_for_an_organization_mapped_since() {
    let stack = Stack::start(|_| {}, "").await;
    let parked_by = broker(&stack.ctx);
    park_messages(&parked_by, 2).await;
    parked_by.close().await;
    // org-a (p-0) is mapped now; org-b (p-1) is not, and parking is on.
    let text = mapped(&parking(&stack.config, 0), "org-a", CONTOSO);
    let worker = TestProcessor::spawn(&text);
    let id = message_id("demo", "p-0");
    eventually("the released alert in Syncro", LONG, || {
        stack.references().contains(&id)
    })
    .await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].customer_id, CONTOSO);
    let parked_queue = format!("{}.alerts.parked", stack.ctx.prefix);
    assert_eq!(
        stack.rabbit.count(&parked_queue).await,
        1,
        "org-b still waits"
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}
