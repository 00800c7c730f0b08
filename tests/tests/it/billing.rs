//! Billable users end to end: counts posted to ingest (signed), folded into Redis by the
//! workers, and the monthly sync onto the simulator's recurring invoices, against real
//! RabbitMQ and Redis.
//!
//! The simulator's seed has three schedules: 503262 (Contoso: "Security seats" 40, a counted
//! assets line, a counted "Microsoft 365 seats" line), 503263 (Fabrikam: "Security seats" 15)
//! and 503264 (Woodgrove: "Security seats" 120).

use processor::billing::store::BillingStore;
use processor::billing::sync::OrgResult;
use processor::store::Store;
use relay_tests::alerts::{self, standard_headers};
use relay_tests::processor::{redis_url, Stack};
use relay_tests::{wait, workspace_binary};
use serde_json::{json, Value};
use shared::amqp::Topology;
use shared::config::Settings;
use std::collections::BTreeMap;
use std::time::Duration;
use syncro_sim::FaultSpec;
use tokio::task::JoinHandle;

pub(crate) const CONTOSO_SCHEDULE: i64 = 503_262;
pub(crate) const FABRIKAM_SCHEDULE: i64 = 503_263;
pub(crate) const WOODGROVE_SCHEDULE: i64 = 503_264;
pub(crate) const CONTOSO_SEATS: i64 = 1_823_298;
pub(crate) const FABRIKAM_SEATS: i64 = 1_823_301;
pub(crate) const WOODGROVE_SEATS: i64 = 1_823_303;
pub(crate) const PUT_LINE: &str = "PUT /schedules/{id}/line_items/{line_item_id}";

/// `[billing]` with the sync on (due from day 1 00:00 UTC, so at once) for `orgs`.
pub(crate) fn billing_section(sync_on: bool, orgs: &str) -> String {
    format!(
        r#"
[billing]
sync_billable_users = {sync_on}
sync_day = 1
sync_time = "00:00"
time_zone = "UTC"
default_service = "Security seats"
check_interval_secs = 1
lease_secs = 2
{orgs}
"#
    )
}

pub(crate) const THREE_ORGS: &str = r#"
[billing.organizations."org-a"]
schedule_id = 503262
[billing.organizations."org-b"]
schedule_id = 503263
[billing.organizations."org-c"]
schedule_id = 503264
"#;

/// A worker run inside the test, which the test may stop cleanly or kill (drop) mid-way.
pub(crate) struct Worker(
    Option<tokio::sync::oneshot::Sender<()>>,
    JoinHandle<anyhow::Result<()>>,
);

impl Worker {
    pub(crate) fn start(config_text: &str) -> Worker {
        let settings = Settings::from_toml(config_text, &|_| None).expect("config parses");
        let config = processor::config::ProcessorConfig::from_settings(&settings)
            .unwrap_or_else(|problems| panic!("processor config invalid: {problems:#?}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(processor::startup::run(settings, config, async move {
            let _ = stopped.await;
        }));
        Worker(Some(stop), task)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.1).await;
    }

    /// As a crash: the worker's tasks stop wherever they are, nothing is released.
    pub(crate) async fn kill(self) {
        self.1.abort();
        let _ = self.1.await;
    }
}

pub(crate) struct Harness {
    pub(crate) stack: Stack,
    pub(crate) billing: BillingStore,
}

impl Harness {
    pub(crate) async fn start(extra: &str) -> Harness {
        let stack = Stack::start(|_| {}, extra).await;
        let url = secrecy::SecretString::from(redis_url());
        let store = Store::new(&url, &stack.ctx.prefix).expect("store");
        Harness {
            stack,
            billing: BillingStore::new(store),
        }
    }

    /// Posts counts signed as the `demo` source.
    pub(crate) async fn post(&self, body: &Value) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).expect("json");
        self.post_raw(&bytes, standard_headers(alerts::SECRET, &bytes))
            .await
    }

    /// Posts one count and expects it accepted.
    pub(crate) async fn post_count(&self, org: &str, n: u64, as_of: &str) {
        let count = json!({"organization_id": org, "billable_users": n, "as_of": as_of});
        assert_eq!(self.post(&count).await.status().as_u16(), 202);
    }

    pub(crate) async fn post_raw(
        &self,
        body: &[u8],
        headers: Vec<(String, String)>,
    ) -> reqwest::Response {
        let ingest = &self.stack.ingest;
        let mut request = ingest
            .client
            .post(ingest.url("/v1/billable-users/demo"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send().await.expect("ingest answers")
    }

    pub(crate) fn queue(&self) -> String {
        Topology::new(&self.stack.ctx.prefix).billable_users_queue()
    }

    /// Posts counts and waits until a worker (with the sync off) has stored them all.
    pub(crate) async fn seed_counts(&self, counts: &[(&str, u64)]) {
        let body: Vec<Value> = counts
            .iter()
            .map(|(org, n)| json!({"organization_id": org, "billable_users": n, "as_of": "2026-05-01T00:00:00Z"}))
            .collect();
        let worker = Worker::start(
            &self
                .stack
                .config
                .replace("sync_billable_users = true", "sync_billable_users = false"),
        );
        assert_eq!(self.post(&json!(body)).await.status().as_u16(), 202);
        for (org, n) in counts {
            wait::until("the count is stored", Duration::from_secs(20), || async {
                let stored = self.billing.count(org).await.expect("redis");
                stored.filter(|c| c.users == *n).map(|_| ())
            })
            .await;
        }
        worker.stop().await;
    }

    /// The quantity of a line in the simulator.
    pub(crate) fn quantity(&self, schedule: i64, line: i64) -> Option<f64> {
        self.stack.sim.sim().with_store(|s| {
            s.schedules
                .get(&schedule)
                .and_then(|s| s.lines.iter().find(|l| l.id == line))
                .map(|l| l.quantity)
        })
    }

    /// Requests the simulator answered for `route`, by path.
    pub(crate) fn requests_to(&self, route: &str) -> BTreeMap<String, usize> {
        let mut by_path = BTreeMap::new();
        for entry in self.stack.sim.sim().requests() {
            if entry.route == Some(route) {
                *by_path.entry(entry.path.clone()).or_insert(0) += 1;
            }
        }
        by_path
    }

    pub(crate) fn month(&self) -> String {
        chrono::Utc::now().format("%Y-%m").to_string()
    }

    pub(crate) async fn wait_month_done(&self) {
        let month = self.month();
        wait::until(
            "the month is marked done",
            Duration::from_secs(30),
            || async {
                self.billing
                    .month_done(&month)
                    .await
                    .expect("redis")
                    .map(|_| ())
            },
        )
        .await;
    }

    pub(crate) async fn outcomes(&self) -> BTreeMap<String, OrgResult> {
        self.billing
            .outcomes(&self.month())
            .await
            .expect("redis")
            .into_iter()
            .map(|(org, o)| (org, o.outcome))
            .collect()
    }

    pub(crate) async fn finish(self) {
        let queue = self.queue();
        self.stack.rabbit.delete_queue(&queue).await;
        self.stack.finish().await;
    }
}

pub(crate) fn put_path(schedule: i64, line: i64) -> String {
    format!("/api/v1/schedules/{schedule}/line_items/{line}")
}

#[tokio::test]
async fn signed_counts_are_queued_and_bad_ones_are_refused_with_nothing_queued() {
    let h = Harness::start(&billing_section(false, "")).await;
    let one =
        json!({"organization_id": "org-a", "billable_users": 42, "as_of": "2026-05-01T00:00:00Z"});
    let response = h.post(&json!([one, one])).await;
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(h.stack.rabbit.count(&h.queue()).await, 2);
    let taken = h.stack.rabbit.take_all(&h.queue()).await;
    assert_eq!(taken[0].body["count"]["billable_users"], 42);
    assert_eq!(taken[0].body["source"], "demo");
    assert_eq!(taken[0].delivery_mode, Some(2));

    // A wrong signature: 401, nothing queued.
    let bytes = serde_json::to_vec(&one).expect("json");
    let response = h
        .post_raw(&bytes, standard_headers(alerts::SECRET, b"another body"))
        .await;
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "signature_invalid");

    // A bad body: 400 naming each field, nothing queued (not even the valid count).
    let bad = json!([one, {"organization_id": "", "billable_users": -3, "as_of": "last week", "seats": 1}]);
    let response = h.post(&bad).await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_count");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "[1].seats",
            "[1].organization_id",
            "[1].billable_users",
            "[1].as_of"
        ]
    );
    let response = h
        .post_raw(b"{not json", standard_headers(alerts::SECRET, b"{not json"))
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(h.post(&json!([])).await.status().as_u16(), 400);
    assert_eq!(h.stack.rabbit.count(&h.queue()).await, 0);
    h.finish().await;
}

#[tokio::test]
async fn an_older_count_arriving_later_does_not_overwrite_a_newer_one() {
    let h = Harness::start(&billing_section(false, "")).await;
    let worker = Worker::start(&h.stack.config);
    h.post_count("org-a", 50, "2026-05-02T00:00:00Z").await;
    h.post_count("org-a", 30, "2026-05-01T00:00:00Z").await;
    // One consumer folds in order: once the marker is stored, the older count was seen.
    h.post_count("org-marker", 1, "2026-05-01T00:00:00Z").await;
    wait::until(
        "the marker count is stored",
        Duration::from_secs(20),
        || async {
            h.billing
                .count("org-marker")
                .await
                .expect("redis")
                .map(|_| ())
        },
    )
    .await;
    let stored = h
        .billing
        .count("org-a")
        .await
        .expect("redis")
        .expect("a count");
    assert_eq!(stored.users, 50);
    assert_eq!(stored.as_of, "2026-05-02T00:00:00+00:00");
    // A newer one does replace it.
    h.post_count("org-a", 55, "2026-05-03T00:00:00Z").await;
    wait::until(
        "the newer count is stored",
        Duration::from_secs(20),
        || async {
            let c = h.billing.count("org-a").await.expect("redis");
            c.filter(|c| c.users == 55).map(|_| ())
        },
    )
    .await;
    worker.stop().await;
    h.finish().await;
}

#[tokio::test]
async fn a_normal_month_sets_each_quantity_once_and_reports_every_case() {
    let orgs = r#"
[billing.organizations."org-a"]
schedule_id = 503262
[billing.organizations."org-b"]
schedule_id = 503263
[billing.organizations."org-gone"]
schedule_id = 999999
[billing.organizations."org-m365"]
schedule_id = 503262
service = "Microsoft 365 seats"
[billing.organizations."org-noline"]
schedule_id = 503264
service = "Backup seats"
[billing.organizations."org-addline"]
schedule_id = 503264
service = "Endpoint seats"
add_default_line = true
price = "4.50"
cost = "2.00"
[billing.organizations."org-nocount"]
schedule_id = 503264
"#;
    let h = Harness::start(&billing_section(true, orgs)).await;
    h.seed_counts(&[
        ("org-a", 42),
        ("org-b", 15),
        ("org-gone", 5),
        ("org-m365", 60),
        ("org-noline", 7),
        ("org-addline", 9),
    ])
    .await;
    let worker = Worker::start(&h.stack.config);
    h.wait_month_done().await;
    worker.stop().await;

    let outcomes = h.outcomes().await;
    let expected: BTreeMap<String, OrgResult> = [
        ("org-a", OrgResult::Updated),
        ("org-b", OrgResult::Unchanged),
        ("org-gone", OrgResult::MissingSchedule),
        ("org-m365", OrgResult::SkippedCountedType),
        ("org-noline", OrgResult::MissingLine),
        ("org-addline", OrgResult::Updated),
        ("org-nocount", OrgResult::NoCount),
    ]
    .into_iter()
    .map(|(o, x)| (o.to_string(), x))
    .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(h.quantity(CONTOSO_SCHEDULE, CONTOSO_SEATS), Some(42.0));
    assert_eq!(h.quantity(FABRIKAM_SCHEDULE, FABRIKAM_SEATS), Some(15.0));
    // Only the one line that changed was written: no PUT for an unchanged quantity, none for
    // a counted line.
    let puts = h.requests_to(PUT_LINE);
    assert_eq!(
        puts,
        BTreeMap::from([(put_path(CONTOSO_SCHEDULE, CONTOSO_SEATS), 1)])
    );
    // The missing line was added to Woodgrove's schedule with the count and the prices.
    let added = h.stack.sim.sim().with_store(|s| {
        s.schedules[&WOODGROVE_SCHEDULE]
            .lines
            .iter()
            .find(|l| l.name.as_deref() == Some("Endpoint seats"))
            .map(|l| (l.quantity, l.retail_cents, l.cost_cents))
    });
    assert_eq!(added, Some((9.0, 450, 200)));
    // The month is done: a new worker reads no schedule again.
    let before = h.requests_to("GET /schedules/{id}");
    let worker = Worker::start(&h.stack.config);
    tokio::time::sleep(Duration::from_millis(1500)).await; // more than one check interval
    worker.stop().await;
    assert_eq!(h.requests_to("GET /schedules/{id}"), before);
    h.finish().await;
}

#[tokio::test]
async fn a_worker_killed_in_the_middle_is_resumed_without_a_second_update() {
    let h = Harness::start(&billing_section(true, THREE_ORGS)).await;
    h.seed_counts(&[("org-a", 41), ("org-b", 16), ("org-c", 121)])
        .await;
    // Reading a schedule takes a while, so the first worker is caught between organizations.
    h.stack
        .sim
        .add_fault(FaultSpec::latency(700).on("GET /schedules/{id}"))
        .expect("fault");
    let first = Worker::start(&h.stack.config);
    wait::until("the first PUT", Duration::from_secs(20), || async {
        (!h.requests_to(PUT_LINE).is_empty()).then_some(())
    })
    .await;
    first.kill().await;
    assert!(h
        .billing
        .month_done(&h.month())
        .await
        .expect("redis")
        .is_none());
    let second = Worker::start(&h.stack.config);
    h.wait_month_done().await;
    second.stop().await;

    assert_eq!(
        h.requests_to(PUT_LINE),
        BTreeMap::from([
            (put_path(CONTOSO_SCHEDULE, CONTOSO_SEATS), 1),
            (put_path(FABRIKAM_SCHEDULE, FABRIKAM_SEATS), 1),
            (put_path(WOODGROVE_SCHEDULE, WOODGROVE_SEATS), 1),
        ])
    );
    assert_eq!(h.quantity(CONTOSO_SCHEDULE, CONTOSO_SEATS), Some(41.0));
    assert_eq!(h.quantity(FABRIKAM_SCHEDULE, FABRIKAM_SEATS), Some(16.0));
    assert_eq!(h.quantity(WOODGROVE_SCHEDULE, WOODGROVE_SEATS), Some(121.0));
    h.finish().await;
}

#[tokio::test]
async fn two_workers_racing_run_the_month_once() {
    let h = Harness::start(&billing_section(true, THREE_ORGS)).await;
    h.seed_counts(&[("org-a", 43), ("org-b", 17), ("org-c", 122)])
        .await;
    let (one, two) = (
        Worker::start(&h.stack.config),
        Worker::start(&h.stack.config),
    );
    h.wait_month_done().await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // both check again
    one.stop().await;
    two.stop().await;
    // One runner: each schedule read once, each line written once.
    let reads = h.requests_to("GET /schedules/{id}");
    assert_eq!(
        reads.values().copied().collect::<Vec<_>>(),
        [1, 1, 1],
        "{reads:?}"
    );
    let puts = h.requests_to(PUT_LINE);
    assert_eq!(
        puts.values().copied().collect::<Vec<_>>(),
        [1, 1, 1],
        "{puts:?}"
    );
    h.finish().await;
}

/// Runs the relayctl binary on a configuration file.
async fn relayctl(config: &str, args: &[&str]) -> (bool, String, String) {
    let path = std::env::temp_dir().join(format!(
        "relay-billing-{}.toml",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    std::fs::write(&path, config).expect("config written");
    let out = tokio::process::Command::new(workspace_binary("relayctl"))
        .arg("--config")
        .arg(&path)
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("relayctl runs");
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The table row of an organization in relayctl's output.
fn row<'a>(out: &'a str, org: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(org))
        .unwrap_or_else(|| panic!("no row for {org} in:\n{out}"))
}

#[tokio::test]
async fn relayctl_previews_then_syncs_one_organization_now() {
    let orgs = r#"
[billing.organizations."org-a"]
schedule_id = 503262
[billing.organizations."org-b"]
schedule_id = 503263
"#;
    let h = Harness::start(&billing_section(true, orgs)).await;
    h.seed_counts(&[("org-a", 44), ("org-b", 15)]).await;
    let (ok, out, err) = relayctl(&h.stack.config, &["billing", "preview"]).await;
    assert!(ok, "{err}");
    let line_a = row(&out, "org-a");
    assert!(
        line_a.contains("503262") && line_a.contains("1823298 Security seats"),
        "{out}"
    );
    assert!(
        line_a.contains("40 -> 44") && line_a.contains("updated"),
        "{out}"
    );
    let line_b = row(&out, "org-b");
    assert!(
        line_b.contains("15 -> 15") && line_b.contains("unchanged"),
        "{out}"
    );
    assert!(
        h.requests_to(PUT_LINE).is_empty(),
        "a preview changes nothing"
    );
    let (ok, json_out, _) = relayctl(&h.stack.config, &["billing", "preview", "--json"]).await;
    assert!(ok);
    let plans: Value = serde_json::from_str(&json_out).expect("JSON");
    assert_eq!(plans[0]["organization_id"], "org-a");
    assert_eq!(plans[0]["old_quantity"], 40.0);
    assert_eq!(plans[0]["new_quantity"], 44);

    let (ok, out, err) = relayctl(
        &h.stack.config,
        &["billing", "sync", "--now", "--org", "org-a"],
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("not complete"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("org-a") && l.contains("updated")),
        "{out}"
    );
    assert_eq!(h.quantity(CONTOSO_SCHEDULE, CONTOSO_SEATS), Some(44.0));
    // Again: org-a is done this month and is not written twice.
    let (ok, out, _) = relayctl(&h.stack.config, &["billing", "sync", "--now"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("1 handled now, month complete"), "{out}");
    assert_eq!(h.requests_to(PUT_LINE).len(), 1);
    let (ok, out, _) = relayctl(&h.stack.config, &["billing", "status"]).await;
    assert!(
        ok && out.contains("complete") && out.contains("org-b"),
        "{out}"
    );
    h.finish().await;
}

#[tokio::test]
async fn check_config_names_every_billing_problem() {
    let ctx = relay_tests::Context::new();
    let base =
        relay_tests::processor::config(&ctx, &ctx.amqp_url, &redis_url(), "http://127.0.0.1:9", "");
    let bad = format!(
        "{}\n[billing]\nsync_billable_users = true\nsync_day = 31\ntime_zone = \"Nowhere/City\"\n[billing.organizations.\"org-a\"]\nprice = \"4,50\"\n",
        base
    );
    let path = std::env::temp_dir().join(format!(
        "relay-billing-bad-{}.toml",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    std::fs::write(&path, &bad).expect("written");
    let out = tokio::process::Command::new(workspace_binary("processor"))
        .arg("check-config")
        .arg(&path)
        .env_clear()
        .output()
        .await
        .expect("processor runs");
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    for expected in [
        "billing.sync_day: 31 is out of range; use 1 to 28",
        "billing.time_zone: \"Nowhere/City\" is not an IANA time zone name",
        "billing.default_service: required when sync_billable_users is on",
        "billing.organizations[\"org-a\"].schedule_id: required",
        "billing.organizations[\"org-a\"].price: \"4,50\" is not an amount",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
