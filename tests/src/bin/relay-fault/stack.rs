//! One scenario's deployment: a fresh prefix, the Syncro simulator, ingest and processor
//! workers as real processes with configuration files, against the run's private broker,
//! Redis and PostgreSQL.

use crate::services::{free_port, http_ok, poll, Proc};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The simulator's API token (the processors' configuration names it, never a log).
const SIM_TOKEN: &str = relay_tests::processor::SIM_TOKEN;
/// The `demo` source's secret.
pub const SECRET: &str = relay_tests::alerts::SECRET;

/// What differs between scenarios in the configuration.
pub struct Tuning {
    pub retry_tiers_secs: &'static str,
    pub prefetch: u32,
    pub lock_lease_secs: u32,
}

pub struct Stack {
    pub prefix: String,
    pub amqp_url: String,
    pub sim_url: String,
    pub ingest_url: String,
    pub http: reqwest::Client,
    dir: PathBuf,
    bin: PathBuf,
    redis_url: String,
    /// The run's private PostgreSQL: in the configuration's `[postgres]` and in every
    /// process's `RELAY_POSTGRES_URL` (which would otherwise be inherited from the caller's
    /// environment, and override the file).
    postgres_url: String,
    /// The `[redis]` section's keys when they are more than the URL (Sentinel).
    redis_section: Option<String>,
    /// The workers' shared Syncro budget (`[syncro] requests_per_minute`): far above anything
    /// a scenario spends, unless [`Stack::limit_syncro`] sets Syncro's real limit.
    requests_per_minute: u32,
    tuning_text: String,
    sim: Option<Proc>,
    ingest: Option<Proc>,
    /// Worker slots; `None` while a slot's worker is down.
    pub workers: Vec<Option<Proc>>,
    starts: usize,
}

impl Stack {
    /// Starts the simulator (no rate limit, until [`Stack::limit_syncro`]) and ingest for
    /// scenario `name`.
    pub async fn start(
        name: &str,
        work: &Path,
        bin: &Path,
        amqp_url: &str,
        redis_url: &str,
        postgres_url: &str,
        tuning: &Tuning,
    ) -> anyhow::Result<Stack> {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir)?;
        let prefix = format!(
            "fault-{name}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let sim_port = free_port();
        let ingest_port = free_port();
        let mut stack = Stack {
            prefix,
            amqp_url: amqp_url.to_string(),
            sim_url: format!("http://127.0.0.1:{sim_port}"),
            ingest_url: format!("http://127.0.0.1:{ingest_port}"),
            http: reqwest::Client::new(),
            dir,
            bin: bin.to_path_buf(),
            redis_url: redis_url.to_string(),
            postgres_url: postgres_url.to_string(),
            redis_section: None,
            requests_per_minute: 10_000,
            tuning_text: format!(
                "retry_tiers_secs = {}\nprefetch = {}\nlock_lease_secs = {}\n",
                tuning.retry_tiers_secs, tuning.prefetch, tuning.lock_lease_secs
            ),
            sim: None,
            ingest: None,
            workers: Vec::new(),
            starts: 0,
        };
        stack.sim = Some(Proc::spawn(
            "syncro-sim",
            &stack.bin.join("syncro-sim"),
            &[
                "--port",
                &sim_port.to_string(),
                "--token",
                SIM_TOKEN,
                "--rate-limit",
                "0",
            ],
            &[("RUST_LOG", "warn")],
            &stack.dir.join("sim.log"),
        )?);
        let health = format!("{}/healthz", stack.sim_url);
        poll("the simulator", Duration::from_secs(30), || {
            http_ok(&stack.http, &health)
        })
        .await?;
        let config = stack.write_config("ingest", &format!("127.0.0.1:{ingest_port}"), 0)?;
        stack.ingest = Some(Proc::spawn(
            "ingest",
            &stack.bin.join("ingest"),
            &["--config", &config],
            &stack.envs(),
            &stack.dir.join("ingest.log"),
        )?);
        poll("ingest ready", Duration::from_secs(30), || {
            stack.ingest_ready()
        })
        .await?;
        Ok(stack)
    }

    /// The environment of the relay's own processes.
    fn envs(&self) -> [(&str, &str); 1] {
        [(
            shared::config::env::POSTGRES_URL,
            self.postgres_url.as_str(),
        )]
    }

    /// The PostgreSQL schema of this deployment's operator state (the configuration names
    /// none, so the prefix made an identifier, as every binary computes it).
    pub fn schema(&self) -> String {
        shared::config::PostgresSettings::default().schema_for(&self.prefix)
    }

    pub async fn ingest_ready(&self) -> bool {
        http_ok(&self.http, &format!("{}/readyz", self.ingest_url)).await
    }

    /// Writes a configuration file for one process and returns its path.
    fn write_config(&self, file: &str, listen: &str, metrics_port: u16) -> anyhow::Result<String> {
        let path = self.dir.join(format!("{file}.toml"));
        std::fs::write(&path, self.config_text(listen, metrics_port))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path.to_string_lossy().to_string())
    }

    /// The configuration relayctl uses (the workers' own, minus the listener ports).
    pub fn ops_config(&self) -> anyhow::Result<String> {
        self.write_config("relayctl", "127.0.0.1:0", 0)
    }

    /// Syncro's real limit: the simulator answers 429 beyond `per_minute` requests in any
    /// 60 s (from all workers together: they share one address), and workers started from now
    /// on share a budget of `per_minute`.
    pub async fn limit_syncro(&mut self, per_minute: u32) -> anyhow::Result<()> {
        self.admin(
            reqwest::Method::PATCH,
            "/_admin/options",
            Some(serde_json::json!({"rate_limit_per_minute": per_minute})),
        )
        .await?;
        self.requests_per_minute = per_minute;
        Ok(())
    }

    /// Workers started from now on use these `[redis]` keys instead of the run's Redis URL.
    pub fn use_redis_section(&mut self, section: String) {
        self.redis_section = Some(section);
    }

    fn config_text(&self, listen: &str, metrics_port: u16) -> String {
        // The processor sections the integration tests' stacks share, without their extra
        // mappings and with this runner's own subject.
        let shared = include_str!("../../../fixtures/processor.toml")
            .replace("<more mapping>", "")
            .replace("<more organizations>", "")
            .replace("<subject>", "[{severity_upper}] {title}");
        format!(
            r#"prefix = "{prefix}"

[amqp]
url = "{amqp}"

[redis]
{redis}

[postgres]
url = "{postgres}"

[log]
format = "json"
level = "warn"

[ingest]
listen = "{listen}"

[sources.demo]
verify = "standard-webhooks"
secrets = ["{SECRET}"]
format = "canonical"

[syncro]
url = "{sim}/api/v1"
token = "{SIM_TOKEN}"
requests_per_minute = {per_minute}
request_timeout_ms = 3000

[processor]
metrics_listen = "127.0.0.1:{metrics_port}"
drain_timeout_secs = 10
{tuning}
{shared}"#,
            prefix = self.prefix,
            amqp = self.amqp_url,
            redis = self
                .redis_section
                .clone()
                .unwrap_or_else(|| format!("url = \"{}\"", self.redis_url)),
            postgres = self.postgres_url,
            sim = self.sim_url,
            per_minute = self.requests_per_minute,
            tuning = self.tuning_text,
        )
    }

    /// Starts a worker in `slot` (adding slots as needed); `wait` waits for its `/readyz`.
    pub async fn start_worker(&mut self, slot: usize, wait: bool) -> anyhow::Result<()> {
        let port = free_port();
        self.starts += 1;
        let config = self.write_config(&format!("worker-{}", self.starts), "127.0.0.1:0", port)?;
        let proc = Proc::spawn(
            &format!("processor {slot}"),
            &self.bin.join("processor"),
            &["run", "--config", &config],
            &self.envs(),
            &self.dir.join(format!("worker-slot{slot}.log")),
        )?;
        while self.workers.len() <= slot {
            self.workers.push(None);
        }
        self.workers[slot] = Some(proc);
        if wait {
            let url = format!("http://127.0.0.1:{port}/readyz");
            poll("a processor ready", Duration::from_secs(60), || {
                http_ok(&self.http, &url)
            })
            .await?;
        }
        Ok(())
    }

    /// SIGKILLs the worker in `slot`.
    pub async fn kill_worker(&mut self, slot: usize) {
        if let Some(proc) = self.workers.get_mut(slot).and_then(Option::take) {
            proc.kill().await;
        }
    }

    /// Stops every worker as an operator would (SIGTERM; they drain).
    pub async fn stop_workers(&mut self) {
        for proc in self.workers.iter_mut().filter_map(Option::take) {
            proc.terminate(Duration::from_secs(20)).await;
        }
    }

    /// POSTs a JSON body to the simulator's admin API.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let mut request = self.http.request(method, format!("{}{path}", self.sim_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await?.error_for_status()?;
        Ok(())
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops everything of the scenario.
    pub async fn stop(mut self) {
        self.stop_workers().await;
        if let Some(ingest) = self.ingest.take() {
            ingest.terminate(Duration::from_secs(10)).await;
        }
        if let Some(sim) = self.sim.take() {
            sim.terminate(Duration::from_secs(5)).await;
        }
    }
}
