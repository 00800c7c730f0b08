//! The processes of a fault run: a private Redis, a private RabbitMQ node and a private
//! PostgreSQL cluster (never the machine's own), and per scenario a Syncro simulator, ingest and processor workers, all real
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

    /// Sends `signal` (a name `kill` knows: `TERM`, `INT`...) unless it has been reaped.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// SIGTERM, then wait up to `grace` before SIGKILL.
    pub async fn terminate(mut self, grace: Duration) {
        self.signal("TERM");
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

    /// Waits up to `within` for it to exit; whether it did.
    pub async fn exits_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.child.wait())
            .await
            .is_ok_and(|status| status.is_ok())
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

/// The account PostgreSQL's programs run as when this runs as root (PostgreSQL refuses root).
const POSTGRES_ACCOUNT: &str = "postgres";

/// A private PostgreSQL cluster: `initdb` into the run's work directory, trust authentication,
/// listening on 127.0.0.1 and a free port, its Unix socket in its own directory. Every
/// scenario's ingest and workers keep their operator state in it (each deployment in the
/// schema named after its prefix); scenario 8 stops it. The machine's clusters are never
/// touched.
pub struct Postgres {
    pub port: u16,
    /// The directory of `initdb`, `postgres` and `psql`.
    bin: PathBuf,
    /// The cluster's own directory: `data/`, the Unix socket and the server's log.
    dir: PathBuf,
    /// Whether its programs run as [`POSTGRES_ACCOUNT`] (this runs as root).
    as_account: bool,
    proc: Option<Proc>,
}

/// Where PostgreSQL's server programs are: `RELAY_FAULT_POSTGRES_BIN`, the newest
/// `/usr/lib/postgresql/VERSION/bin` (Debian), or the directory of `initdb` on the `PATH`.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("RELAY_FAULT_POSTGRES_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let version = |dir: &Path| -> Vec<u32> {
        dir.file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.split('.').filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    };
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("bin/initdb").exists())
        .max_by_key(|dir| version(dir));
    if let Some(dir) = newest {
        return Ok(dir.join("bin"));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists())
        .context(
            "PostgreSQL's server programs are not installed (apt-get install postgresql; \
             or set RELAY_FAULT_POSTGRES_BIN to the directory of initdb)",
        )
}

/// The output of `id ARGS`, trimmed.
fn id(args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("id")
        .args(args)
        .output()
        .context("running id")?;
    anyhow::ensure!(out.status.success(), "id {} failed", args.join(" "));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Postgres {
    /// Creates the cluster (`initdb`) and starts it.
    pub async fn start(work: &Path) -> anyhow::Result<Postgres> {
        let bin = postgres_bin()?;
        let dir = work.join("postgres");
        std::fs::create_dir_all(&dir)?;
        let as_account = id(&["-u"])? == "0";
        if as_account {
            // initdb wants to own the data directory it creates, and the server its socket's.
            let uid: u32 = id(&["-u", POSTGRES_ACCOUNT])
                .context("PostgreSQL refuses to run as root, and there is no postgres account")?
                .parse()?;
            let gid: u32 = id(&["-g", POSTGRES_ACCOUNT])?.parse()?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to {POSTGRES_ACCOUNT}", dir.display()))?;
        }
        let mut pg = Postgres {
            port: free_port(),
            bin,
            dir,
            as_account,
            proc: None,
        };
        let data = pg.data();
        let (program, args) = pg.command(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let out = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", program.display()))?;
        std::fs::write(
            pg.dir.join("initdb.log"),
            [&out.stdout[..], &out.stderr[..]].concat(),
        )?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        pg.up().await?;
        Ok(pg)
    }

    /// What the ingest and processor processes get as `RELAY_POSTGRES_URL`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().to_string()
    }

    /// `program` of PostgreSQL's with `args`, as the program to start and its arguments: run
    /// through `setpriv` as the postgres account when this is root. setpriv execs it in place
    /// (runuser and su fork), so the process started is the postmaster itself and a signal
    /// sent to it reaches PostgreSQL.
    fn command(&self, program: &str, args: &[&str]) -> (PathBuf, Vec<String>) {
        let program = self.bin.join(program).to_string_lossy().to_string();
        let args = args.iter().map(|a| a.to_string());
        if self.as_account {
            let mut all: Vec<String> = [
                format!("--reuid={POSTGRES_ACCOUNT}"),
                format!("--regid={POSTGRES_ACCOUNT}"),
                "--init-groups".to_string(),
                "--".to_string(),
                program,
            ]
            .into();
            all.extend(args);
            (PathBuf::from("setpriv"), all)
        } else {
            (PathBuf::from(program), args.collect())
        }
    }

    async fn up(&mut self) -> anyhow::Result<()> {
        let (data, port) = (self.data(), self.port.to_string());
        let socket_dir = self.dir.to_string_lossy().to_string();
        let (program, args) = self.command(
            "postgres",
            &[
                "-D",
                &data,
                "-p",
                &port,
                "-k",
                &socket_dir,
                "-c",
                "listen_addresses=127.0.0.1",
                // A throwaway cluster: durability across a machine crash is not what the
                // suite checks, and fsyncs would only slow a loaded machine down.
                "-c",
                "fsync=off",
            ],
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.proc = Some(Proc::spawn(
            "postgres",
            &program,
            &args,
            &[],
            &self.dir.join("postgres.log"),
        )?);
        let within = Duration::from_secs(60);
        let start = Instant::now();
        while self.query("SELECT 1").await.is_err() {
            if self.proc.as_mut().is_some_and(Proc::exited) || start.elapsed() > within {
                bail!(
                    "the private PostgreSQL did not start; see {}",
                    self.dir.join("postgres.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Fast shutdown (SIGINT: sessions are ended, a checkpoint written) and the wait for the
    /// server to exit; SIGKILL after 30 s.
    async fn down(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.signal("INT");
            if !proc.exits_within(Duration::from_secs(30)).await {
                eprintln!("  PostgreSQL did not stop within 30 s: SIGKILL");
                proc.kill().await;
            }
        }
    }

    /// Stops PostgreSQL, keeps it down for `down`, starts it again on the same port and data;
    /// returns when the stop began and when it answered again.
    pub async fn restart(&mut self, down: Duration) -> anyhow::Result<(Instant, Instant)> {
        let stopping = Instant::now();
        self.down().await;
        eprintln!(
            "  PostgreSQL stopped in {:.1} s",
            stopping.elapsed().as_secs_f64()
        );
        tokio::time::sleep(down).await;
        self.up().await?;
        Ok((stopping, Instant::now()))
    }

    pub async fn stop(mut self) {
        self.down().await;
    }

    /// Runs `sql` with `psql` (unaligned, tuples only, fields separated by a tab) and returns
    /// its output; an error when PostgreSQL does not answer or the statement fails.
    pub async fn query(&self, sql: &str) -> anyhow::Result<String> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .output()
            .await
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Best effort when a run fails half-way: a fast shutdown rather than the SIGKILL the
        // process gets when dropped, which would leave its sessions to notice on their own.
        if let Some(proc) = self.proc.as_mut() {
            proc.signal("INT");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !proc.exited() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
