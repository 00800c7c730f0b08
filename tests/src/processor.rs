//! The whole path for tests: the Syncro simulator, ingest and processors, all in-process on
//! their own ports and prefix, against the real RabbitMQ and Redis.

use crate::alerts;
use crate::ingest::TestIngest;
use crate::rabbit::Rabbit;
use crate::Context;
use serde_json::Value;
use shared::config::Settings;
use std::time::Duration;
use syncro_sim::{SimConfig, SimHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The token of every test simulator.
pub const SIM_TOKEN: &str = "processor-test-token-5d1f";
/// Customers of the simulator's built-in seed (`tests/fixtures/processor.toml` maps `org-42`
/// to Contoso and sends unmapped organizations to the catch-all).
pub const CONTOSO: i64 = 4_101_771;
pub const FABRIKAM: i64 = 4_101_772;
pub const CATCH_ALL: i64 = 4_101_776;

/// The Redis URL of the tests (`RELAY_TEST_REDIS_URL` overrides).
pub fn redis_url() -> String {
    std::env::var("RELAY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A simulator with the built-in seed and no rate limit unless `tweak` sets one.
pub fn start_sim(tweak: impl FnOnce(&mut syncro_sim::Options)) -> SimHandle {
    let mut config = SimConfig::builtin();
    config.options.token = SIM_TOKEN.to_string();
    config.options.rate_limit_per_minute = 0;
    tweak(&mut config.options);
    syncro_sim::spawn_local(config).expect("simulator starts")
}

/// The processor sections every test stack shares, with placeholders (see the file's header).
const SHARED_SECTIONS: &str = include_str!("../fixtures/processor.toml");

/// A full configuration pointing at `sim_url`: the test sources of [`crate::ingest::config`],
/// these stacks' Redis, Syncro and worker settings, the [`SHARED_SECTIONS`] with the tests'
/// own mapping lines and subject, and overrides. `extra` is appended (more sections or
/// overrides).
pub fn config(
    ctx: &Context,
    amqp_url: &str,
    redis_url: &str,
    sim_url: &str,
    extra: &str,
) -> String {
    let base = crate::ingest::config(ctx, amqp_url, "");
    let shared = SHARED_SECTIONS
        .replace(
            "<more mapping>",
            r#"ignored_organizations = ["org-ignored"]"#,
        )
        .replace(
            "<more organizations>",
            &format!(r#""org-fabrikam" = {FABRIKAM}"#),
        )
        .replace("<subject>", "{event_type}: {title}");
    format!(
        r#"{base}
[redis]
url = "{redis_url}"

[syncro]
url = "{sim_url}"
token = "{SIM_TOKEN}"
requests_per_minute = 10000
request_timeout_ms = 2000

[processor]
prefetch = 64
drain_timeout_secs = 10
metrics_listen = "127.0.0.1:0"
retry_tiers_secs = [1, 2]
coalesce_window_ms = 300
coalesce_max_alerts = 50
lock_lease_secs = 5
redis_retry_max_backoff_ms = 500

{shared}
[[overrides.event_type]]
match = "edr.ransomware"
problem_type = "Virus"

[[overrides.respond_rule]]
match = "rr-7"
assignee_user_id = 1301

[[overrides.ioc_rule]]
match = "ioc-3"
status = "In Progress"
priority = "0 Urgent"
{extra}
"#
    )
}

/// A processor running inside the test process.
pub struct TestProcessor {
    /// Where its metrics are served.
    metrics: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestProcessor {
    pub fn spawn(config_text: &str) -> TestProcessor {
        let port = crate::free_port();
        let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let config_text = config_text.replace(
            r#"metrics_listen = "127.0.0.1:0""#,
            &format!(r#"metrics_listen = "{metrics}""#),
        );
        let settings = Settings::from_toml(&config_text, &|_| None).expect("config parses");
        let config = processor::config::ProcessorConfig::from_settings(&settings)
            .unwrap_or_else(|problems| panic!("processor config invalid: {problems:#?}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(processor::startup::run(settings, config, async move {
            let _ = stopped.await;
        }));
        TestProcessor {
            metrics,
            stop: Some(stop),
            task,
        }
    }

    /// Where its `/metrics` is served.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        Some(self.metrics)
    }

    /// Its `/metrics` page, once it answers.
    pub async fn metrics_text(&self) -> Option<String> {
        let url = format!("http://{}/metrics", self.metrics);
        reqwest::get(url).await.ok()?.text().await.ok()
    }

    /// The value of one sample (`name` with its labels, exactly as exposed), if present.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = self.metrics_text().await?;
        text.lines().find_map(|l| {
            l.strip_prefix(sample)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Stops as SIGTERM would: stop consuming, drain, return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("processor task")
    }
}

/// Everything one end-to-end test needs.
pub struct Stack {
    pub ctx: Context,
    pub sim: SimHandle,
    pub ingest: TestIngest,
    pub rabbit: Rabbit,
    pub config: String,
    /// Tickets of the seed, to tell them from alert-relay's.
    seed_tickets: std::collections::HashSet<i64>,
}

impl Stack {
    /// Simulator (tweaked), ingest, and the configuration text for processors; `extra` is
    /// appended to the configuration.
    pub async fn start(tweak: impl FnOnce(&mut syncro_sim::Options), extra: &str) -> Stack {
        let ctx = Context::new();
        let sim = start_sim(tweak);
        let config = config(&ctx, &ctx.amqp_url, &redis_url(), &sim.api_url(), extra);
        let ingest = TestIngest::spawn(&config).await;
        ingest.ready().await;
        let rabbit = Rabbit::connect(&ctx.amqp_url).await;
        let seed_tickets = sim
            .sim()
            .with_store(|s| s.tickets.keys().copied().collect());
        Stack {
            ctx,
            sim,
            ingest,
            rabbit,
            config,
            seed_tickets,
        }
    }

    /// Sends alerts through ingest, signed, in batches of at most 20 (the test body limit).
    pub async fn send(&self, batch: &[Value]) {
        for chunk in batch.chunks(20) {
            let body = serde_json::to_vec(&chunk).expect("json");
            let response = self
                .ingest
                .post(
                    "demo",
                    &body,
                    &alerts::standard_headers(alerts::SECRET, &body),
                )
                .await;
            assert_eq!(
                response.status().as_u16(),
                202,
                "ingest accepted the alerts"
            );
        }
    }

    /// Sends alerts and waits until each is in a ticket's comments (by its `relay-ref`) and
    /// the queues are empty.
    pub async fn send_and_settle(&self, alerts: &[Value], within: Duration) {
        self.send(alerts).await;
        let ids: Vec<String> = alerts
            .iter()
            .filter_map(|a| a["id"].as_str())
            .map(|id| shared::message::message_id("demo", id))
            .collect();
        eventually("every alert in Syncro", within, || {
            let refs = self.references();
            ids.iter().all(|id| refs.contains(id))
        })
        .await;
        crate::wait::until("the queues to drain", within, || async {
            (self.queued().await == 0).then_some(())
        })
        .await;
    }

    /// The simulator's tickets (id, customer, subject, comment bodies), oldest first.
    pub fn tickets(&self) -> Vec<SimTicket> {
        self.sim.sim().with_store(|store| {
            store
                .tickets
                .values()
                .filter(|t| !self.seed_tickets.contains(&t.id))
                .map(SimTicket::from)
                .collect()
        })
    }

    /// Every `relay-ref` in every comment of the tickets alert-relay made, with repeats.
    pub fn references(&self) -> Vec<String> {
        self.tickets()
            .iter()
            .flat_map(|t| t.comments.iter())
            .flat_map(|body| {
                processor::plan::references_in(body)
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Messages left in the work, dead-letter and retry queues.
    pub async fn queued(&self) -> u32 {
        let mut total = 0;
        for queue in self.queue_names() {
            total += self.rabbit.count(&queue).await;
        }
        total
    }

    fn queue_names(&self) -> Vec<String> {
        let p = &self.ctx.prefix;
        vec![
            format!("{p}.alerts.work"),
            format!("{p}.alerts.dead"),
            format!("{p}.alerts.retry.1s"),
            format!("{p}.alerts.retry.2s"),
        ]
    }

    /// Removes the test's queues and Redis keys.
    pub async fn finish(self) {
        let queues = self.queue_names();
        let _ = self.ingest.stop().await;
        for queue in queues {
            self.rabbit.delete_queue(&queue).await;
        }
        self.rabbit.delete_topology(&self.ctx.prefix).await;
        delete_redis_keys(&self.ctx.prefix).await;
        drop_schema(&self.ctx.prefix).await;
        self.sim.stop().await;
    }

    /// The operator state of this test's deployment (its own PostgreSQL schema).
    pub fn db(&self) -> opstate::Db {
        operator_db(&self.ctx.prefix)
    }
}

/// The operator state's database of the deployment with this prefix (its own schema).
pub fn operator_db(prefix: &str) -> opstate::Db {
    let mut settings = shared::config::PostgresSettings::default();
    if let Ok(url) = std::env::var("RELAY_TEST_POSTGRES_URL") {
        settings.url = url.into();
    }
    opstate::Db::lazy(&settings, prefix).expect("a valid PostgreSQL configuration")
}

/// Drops the deployment's PostgreSQL schema (best effort: a test's end, not its subject).
pub async fn drop_schema(prefix: &str) {
    if let Err(e) = operator_db(prefix).drop_schema().await {
        eprintln!("could not drop the test's schema: {e}");
    }
}

/// A ticket as the simulator holds it.
#[derive(Debug, Clone)]
pub struct SimTicket {
    pub id: i64,
    pub customer_id: i64,
    pub subject: String,
    pub status: String,
    pub priority: Option<String>,
    pub problem_type: Option<String>,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub asset_ids: Vec<i64>,
    pub tag_list: Vec<String>,
    /// Comment bodies, oldest first.
    pub comments: Vec<String>,
    pub hidden: Vec<Option<bool>>,
}

impl From<&syncro_sim::model::Ticket> for SimTicket {
    fn from(t: &syncro_sim::model::Ticket) -> Self {
        SimTicket {
            id: t.id,
            customer_id: t.customer_id,
            subject: t.subject.clone(),
            status: t.status.clone(),
            priority: t.priority.clone(),
            problem_type: t.problem_type.clone(),
            user_id: t.user_id,
            contact_id: t.contact_id,
            asset_ids: t.asset_ids.clone(),
            tag_list: t.tag_list.clone(),
            comments: t.comments.iter().map(|c| c.body.clone()).collect(),
            hidden: t.comments.iter().map(|c| Some(c.hidden)).collect(),
        }
    }
}

/// Deletes every Redis key of a prefix.
pub async fn delete_redis_keys(prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    for pattern in [format!("{prefix}:*"), format!("{{{prefix}:*")] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
        }
    }
}

/// Alerts `0..n` spread over `subjects` distinct titles, all for `org-42`.
pub fn storm(tag: &str, n: usize, subjects: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut a = alerts::alert(&format!("{tag}-{i}"));
            a["title"] = serde_json::json!(format!("Storm subject {}", i % subjects));
            if let Some(fields) = a.as_object_mut() {
                fields.remove("respond_rule");
            }
            a
        })
        .collect()
}

/// Polls until `check` holds, at most `within`.
pub async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    crate::wait::until(what, within, || std::future::ready(check().then_some(()))).await
}
