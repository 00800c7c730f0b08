//! The processes of a fault run: a private Redis and a private RabbitMQ node (never the
//! machine's own), and per scenario a Syncro simulator, ingest and processor workers, all real
//! binaries with their own configuration file in the run's work directory.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    relay_tests::free_port()
}

/// Polls `check` every 100 ms until it holds, or fails with `what` after `within`.
pub async fn poll<F, Fut>(what: &str, within: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() > within {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Whether `url` answers 2xx.
pub async fn http_ok(http: &reqwest::Client, url: &str) -> bool {
    matches!(http.get(url).timeout(Duration::from_secs(2)).send().await, Ok(r) if r.status().is_success())
}

fn log_file(path: &Path) -> anyhow::Result<(Stdio, Stdio)> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok((file.try_clone()?.into(), file.into()))
}

/// A child process that is killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    /// Starts `program args`, its output appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        log: &Path,
    ) -> anyhow::Result<Proc> {
        let (out, err) = log_file(log)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        for (k, v) in envs {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
        })
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then wait up to `grace` before SIGKILL.
    pub async fn terminate(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("  {} did not stop within {grace:?}: SIGKILL", self.name);
            self.kill().await;
        }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

/// A private redis-server on its own port, without persistence settings of its own: a restart
/// saves the data set first (`SHUTDOWN SAVE`) and reloads it, as a persistent Redis would.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    proc: Option<Proc>,
}

impl Redis {
    pub async fn start(work: &Path) -> anyhow::Result<Redis> {
        let dir = work.join("redis");
        std::fs::create_dir_all(&dir)?;
        let mut redis = Redis {
            port: free_port(),
            dir,
            proc: None,
        };
        redis.up().await?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn up(&mut self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().to_string();
        let proc = Proc::spawn(
            "redis",
            Path::new("redis-server"),
            &[
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                &dir,
            ],
            &[],
            &self.dir.join("redis.log"),
        )?;
        self.proc = Some(proc);
        let url = self.url();
        poll("Redis answering", Duration::from_secs(20), || {
            let url = url.clone();
            async move { ping(&url).await }
        })
        .await
    }

    /// Stops Redis, keeps it down for `down`, starts it again on the same port: with its data
    /// set saved and reloaded, or, `empty`, with nothing (as a Redis without persistence, or
    /// a replica promoted before it caught up, comes back).
    pub async fn restart(&mut self, down: Duration, empty: bool) -> anyhow::Result<()> {
        if let Ok(client) = redis::Client::open(self.url()) {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                // The connection closes under the answer: an error here is the normal case.
                let _: Result<(), _> = redis::cmd("SHUTDOWN")
                    .arg(if empty { "NOSAVE" } else { "SAVE" })
                    .query_async(&mut conn)
                    .await;
            }
        }
        if empty {
            let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
        }
        if let Some(mut proc) = self.proc.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !proc.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            proc.kill().await;
        }
        tokio::time::sleep(down).await;
        self.up().await
    }

    pub async fn stop(mut self) {
        if let Some(proc) = self.proc.take() {
            proc.kill().await;
        }
    }
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
    pong.is_ok()
}

/// A private RabbitMQ node (`relayfault-<port>@localhost`) with its own ports, data, logs and
/// Erlang cookie under the run's work directory; the machine's configuration files and
/// plugins are not read. It registers with the machine's epmd, which it does not otherwise
/// disturb.
pub struct RabbitNode {
    pub port: u16,
    dist_port: u16,
    pub node: String,
    dir: PathBuf,
    scripts: PathBuf,
    proc: Option<Proc>,
}

/// Where the real RabbitMQ scripts are: `RELAY_FAULT_RABBITMQ_SCRIPTS`, Debian's
/// `/usr/lib/rabbitmq/bin` (the `/usr/sbin` ones are wrappers that switch to the rabbitmq
/// user and its environment), or the directory of `rabbitmq-server` on the `PATH`.
fn rabbit_scripts() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("RELAY_FAULT_RABBITMQ_SCRIPTS") {
        return Ok(PathBuf::from(dir));
    }
    let debian = PathBuf::from("/usr/lib/rabbitmq/bin");
    if debian.join("rabbitmq-server").exists() {
        return Ok(debian);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("rabbitmq-server").exists())
        .context("rabbitmq-server is not installed (set RELAY_FAULT_RABBITMQ_SCRIPTS)")
}

impl RabbitNode {
    pub async fn start(work: &Path) -> anyhow::Result<RabbitNode> {
        let dir = work.join("rabbitmq");
        std::fs::create_dir_all(&dir)?;
        let port = free_port();
        let node = RabbitNode {
            port,
            dist_port: free_port(),
            node: format!("relayfault-{port}@localhost"),
            dir: dir.clone(),
            scripts: rabbit_scripts()?,
            proc: None,
        };
        std::fs::write(dir.join("rabbitmq-env.conf"), "")?;
        std::fs::write(dir.join("enabled_plugins"), "")?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n"),
        )?;
        let mut node = node;
        node.up().await?;
        Ok(node)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn env(&self) -> Vec<(String, String)> {
        let d = |name: &str| self.dir.join(name).to_string_lossy().to_string();
        vec![
            ("HOME".into(), d("")),
            ("RABBITMQ_NODENAME".into(), self.node.clone()),
            ("RABBITMQ_NODE_IP_ADDRESS".into(), "127.0.0.1".into()),
            ("RABBITMQ_NODE_PORT".into(), self.port.to_string()),
            ("RABBITMQ_DIST_PORT".into(), self.dist_port.to_string()),
            ("RABBITMQ_CONF_ENV_FILE".into(), d("rabbitmq-env.conf")),
            ("RABBITMQ_CONFIG_FILE".into(), d("rabbitmq.conf")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE".into(), d("enabled_plugins")),
            ("RABBITMQ_MNESIA_BASE".into(), d("mnesia")),
            ("RABBITMQ_LOG_BASE".into(), d("log")),
            ("RABBITMQ_PID_FILE".into(), d("node.pid")),
            ("ERL_EPMD_ADDRESS".into(), "127.0.0.1".into()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS".into(),
                "-kernel inet_dist_use_interface {127,0,0,1}".into(),
            ),
        ]
    }

    /// Runs `rabbitmqctl -n NODE args` and returns whether it succeeded, and its output.
    pub async fn ctl(&self, args: &[&str]) -> anyhow::Result<(bool, String)> {
        let mut command = Command::new(self.scripts.join("rabbitmqctl"));
        command.arg("-n").arg(&self.node).args(args);
        for (k, v) in self.env() {
            command.env(k, v);
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .context("running rabbitmqctl")?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        ))
    }

    async fn up(&mut self) -> anyhow::Result<()> {
        let env = self.env();
        let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.proc = Some(Proc::spawn(
            "rabbitmq",
            &self.scripts.join("rabbitmq-server"),
            &[],
            &envs,
            &self.dir.join("server.log"),
        )?);
        let start = Instant::now();
        // Every rabbitmqctl call boots an Erlang VM: wait for the listener first, cheaply.
        let addr = format!("127.0.0.1:{}", self.port);
        poll("the RabbitMQ listener", Duration::from_secs(120), || {
            let addr = addr.clone();
            async move { tokio::net::TcpStream::connect(addr).await.is_ok() }
        })
        .await?;
        loop {
            let (ok, _) = self.ctl(&["await_startup", "--timeout", "60"]).await?;
            if ok {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "the private RabbitMQ node did not start; see {}",
                    self.dir.join("server.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Stops the node (`rabbitmqctl stop`) and starts it again on the same data; returns
    /// when the node was down (any broker confirm after it came from the restarted node).
    pub async fn restart(&mut self) -> anyhow::Result<Instant> {
        let t = Instant::now();
        self.down().await;
        let stopped = Instant::now();
        eprintln!(
            "  RabbitMQ node stopped in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        self.up().await?;
        eprintln!(
            "  RabbitMQ node started in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        Ok(stopped)
    }

    async fn down(&mut self) {
        let t = Instant::now();
        let _ = self.ctl(&["stop"]).await;
        eprintln!("  rabbitmqctl stop took {:.1} s", t.elapsed().as_secs_f64());
        if let Some(mut proc) = self.proc.take() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !proc.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            proc.kill().await;
        }
    }

    pub async fn stop(mut self) {
        self.down().await;
    }

    /// Messages (ready and unacknowledged) per queue whose name starts with `prefix`.
    pub async fn queues(&self, prefix: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let (ok, out) = self
            .ctl(&[
                "list_queues",
                "-q",
                "--no-table-headers",
                "name",
                "messages",
            ])
            .await?;
        if !ok {
            bail!("rabbitmqctl list_queues failed");
        }
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let name = parts.next()?;
                let count = parts.next()?.parse().ok()?;
                name.starts_with(prefix).then(|| (name.to_string(), count))
            })
            .collect())
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        // Best effort when a run fails half-way: never leave the private node behind.
        if self.proc.is_some() {
            let mut command = std::process::Command::new(self.scripts.join("rabbitmqctl"));
            command.arg("-n").arg(&self.node).arg("stop");
            for (k, v) in self.env() {
                command.env(k, v);
            }
            let _ = command.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}
