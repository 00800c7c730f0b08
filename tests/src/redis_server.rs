//! Private Redis servers for tests that need more than the shared Redis: over TLS, with a
//! replica, watched by sentinels. Each is its own `redis-server` process on free ports in a
//! temporary directory of its own, killed when dropped; the certificates TLS needs are made
//! with the `openssl` command. Sentinels are `redis-server --sentinel`, the same binary the
//! `redis-sentinel` package links to.
//!
//! [`available`] says why a test cannot run (the commands missing and not installable);
//! every test calls it first and returns with that reason printed.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server gets to listen after it was started.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// `Ok` when `redis-server` and `openssl` can be run, after installing them (Debian
/// packages, as root) if they are missing; otherwise why not.
pub fn available() -> Result<(), String> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            ensure_command("redis-server", "redis-server")?;
            ensure_command("openssl", "openssl")
        })
        .clone()
}

/// Prints why a test is skipped when [`available`] says it cannot run; `true` to go on.
pub fn or_skip(test: &str) -> bool {
    match available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

fn ensure_command(command: &str, package: &str) -> Result<(), String> {
    let runs = || {
        Command::new(command)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            || Command::new(command)
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if runs() {
        return Ok(());
    }
    // Waits for another test's apt-get rather than failing on its lock.
    let _ = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "-o",
            "DPkg::Lock::Timeout=300",
            package,
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if runs() {
        Ok(())
    } else {
        Err(format!(
            "`{command}` is missing and `apt-get install {package}` did not install it"
        ))
    }
}

/// A directory of its own, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "relay-{name}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&path).expect("temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` process.
pub struct RedisServer {
    child: Child,
    /// The port clients connect to (the TLS port of a TLS-only server).
    pub port: u16,
    log: PathBuf,
}

impl RedisServer {
    /// A server without persistence in `dir/name`, listening on `port` (plain) or, when
    /// `tls` is given, on `port` over TLS only; `extra` are more `--option value` pairs.
    pub fn start(dir: &Path, name: &str, tls: Option<&TlsFiles>, extra: &[&str]) -> RedisServer {
        let port = crate::free_port();
        let home = dir.join(name);
        std::fs::create_dir_all(&home).expect("server directory");
        let log = home.join("redis.log");
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            home.display().to_string(),
            "--logfile".into(),
            log.display().to_string(),
        ];
        match tls {
            None => args.extend(["--port".into(), port.to_string()]),
            Some(tls) => {
                args.extend([
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                ]);
                args.extend(tls.server_args());
            }
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut server = RedisServer { child, port, log };
        server.wait_listening();
        server
    }

    /// A sentinel in `dir/name` watching the master `master_name` at `master_port` with
    /// `quorum`, quick to call it down (1 s) and to fail over; over TLS (servers and
    /// sentinels alike) when `tls` is given.
    pub fn sentinel(
        dir: &Path,
        name: &str,
        master_name: &str,
        master_port: u16,
        quorum: u32,
        tls: Option<&TlsFiles>,
    ) -> RedisServer {
        let port = crate::free_port();
        let home = dir.join(name);
        std::fs::create_dir_all(&home).expect("sentinel directory");
        let log = home.join("sentinel.log");
        let mut conf = format!(
            "bind 127.0.0.1\ndir {dir}\nlogfile {log}\n\
             sentinel monitor {master_name} 127.0.0.1 {master_port} {quorum}\n\
             sentinel down-after-milliseconds {master_name} 1000\n\
             sentinel failover-timeout {master_name} 4000\n\
             sentinel parallel-syncs {master_name} 1\n",
            dir = home.display(),
            log = log.display(),
        );
        match tls {
            None => conf.push_str(&format!("port {port}\n")),
            Some(tls) => {
                conf.push_str(&format!("port 0\ntls-port {port}\ntls-replication yes\n"));
                for pair in tls.server_args().chunks(2) {
                    conf.push_str(&format!(
                        "{} {}\n",
                        pair[0].trim_start_matches('-'),
                        pair[1]
                    ));
                }
            }
        }
        let path = home.join("sentinel.conf");
        std::fs::write(&path, conf).expect("sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&path)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel starts");
        let mut server = RedisServer { child, port, log };
        server.wait_listening();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A client of this server: plain, or with `tls`'s authority and client certificate.
    pub fn client(&self, tls: Option<&TlsFiles>) -> redis::Client {
        match tls {
            None => redis::Client::open(self.url()).expect("url"),
            Some(tls) => tls.client(self.port),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("redis-server exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < START_DEADLINE,
                "redis-server not listening on {} after {START_DEADLINE:?}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test certificate authority with a server certificate (for `127.0.0.1` and
/// `localhost`) and a client certificate, as PEM files.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Makes a fresh authority and its certificates in `dir/name`.
    pub fn generate(dir: &Path, name: &str) -> TlsFiles {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).expect("certificate directory");
        let at = |file: &str| home.join(file);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=alert-relay test CA {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &path_str(&at("ca.key")),
            "-out",
            &path_str(&at("ca.pem")),
        ]);
        let issue = |who: &str, usage: &str| {
            let extensions = at(&format!("{who}.ext"));
            std::fs::write(
                &extensions,
                format!(
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                     extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                ),
            )
            .expect("extensions");
            openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={who}"),
                "-keyout",
                &path_str(&at(&format!("{who}.key"))),
                "-out",
                &path_str(&at(&format!("{who}.csr"))),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-days",
                "2",
                "-set_serial",
                &format!("{}", rand::random::<u32>()),
                "-in",
                &path_str(&at(&format!("{who}.csr"))),
                "-CA",
                &path_str(&at("ca.pem")),
                "-CAkey",
                &path_str(&at("ca.key")),
                "-extfile",
                &path_str(&extensions),
                "-out",
                &path_str(&at(&format!("{who}.pem"))),
            ]);
        };
        issue("server", "serverAuth,clientAuth");
        issue("client", "clientAuth");
        TlsFiles {
            ca: at("ca.pem"),
            server_cert: at("server.pem"),
            server_key: at("server.key"),
            client_cert: at("client.pem"),
            client_key: at("client.key"),
        }
    }

    /// A client of the TLS server on `port`, trusting this authority and presenting the
    /// client certificate.
    pub fn client(&self, port: u16) -> redis::Client {
        let read = |path: &Path| std::fs::read(path).expect("certificate file");
        redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{port}"),
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: read(&self.client_cert),
                    client_key: read(&self.client_key),
                }),
                root_cert: Some(read(&self.ca)),
            },
        )
        .expect("tls client")
    }

    /// The `redis-server` options of a server presenting this authority's certificate and
    /// trusting it for clients (whether clients must show one is `--tls-auth-clients`).
    /// Replication and sentinels present the server certificate as their client one.
    pub fn server_args(&self) -> Vec<String> {
        [
            ("--tls-cert-file", &self.server_cert),
            ("--tls-key-file", &self.server_key),
            ("--tls-ca-cert-file", &self.ca),
            ("--tls-client-cert-file", &self.server_cert),
            ("--tls-client-key-file", &self.server_key),
        ]
        .into_iter()
        .flat_map(|(option, path)| [option.to_string(), path_str(path)])
        .collect()
    }
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A connection for checks a test makes itself, bypassing the store.
pub async fn connect(client: &redis::Client) -> redis::aio::MultiplexedConnection {
    client
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

/// Forces a failover of `master_name` (`SENTINEL FAILOVER`) once the sentinel can promote
/// a replica, and waits until it names a master other than `old_port`; returns the new
/// master's port.
pub async fn fail_over(
    sentinel: &redis::Client,
    master_name: &str,
    old_port: u16,
    within: Duration,
) -> u16 {
    let start = Instant::now();
    let mut asked = false;
    let mut last = String::new();
    loop {
        assert!(
            start.elapsed() < within,
            "no failover of {master_name} within {within:?} (last answer: {last})"
        );
        if let Ok(mut conn) = sentinel.get_multiplexed_async_connection().await {
            if !asked {
                let answer: redis::RedisResult<String> = redis::cmd("SENTINEL")
                    .arg("FAILOVER")
                    .arg(master_name)
                    .query_async(&mut conn)
                    .await;
                match answer {
                    Ok(_) => asked = true,
                    // NOGOODSLAVE until the sentinel has found the replica and its link.
                    Err(e) => last = e.to_string(),
                }
            }
            if asked {
                let master: redis::RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(master_name)
                    .query_async(&mut conn)
                    .await;
                if let Ok(Some((_, port))) = master {
                    if port != old_port {
                        return port;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `INFO replication` of a server, `None` while it cannot be reached.
async fn replication(server: &redis::Client) -> Option<String> {
    let mut conn = server.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut conn)
        .await
        .ok()
}

/// Waits until `server` is a replica whose link to its master is up (so a sentinel may
/// promote it).
pub async fn replica_in_sync(server: &redis::Client, within: Duration) {
    crate::wait::until("the replica to sync with its master", within, || async {
        let info = replication(server).await?;
        info.contains("master_link_status:up").then_some(())
    })
    .await
}

/// The `role` a server reports (`master` or `slave`).
pub async fn role(server: &redis::Client) -> Option<String> {
    let info = replication(server).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("role:"))
        .map(|r| r.trim().to_string())
}

/// `config` (a test stack's configuration, [`crate::processor::config`]) with its `[redis]`
/// section replaced by `section` (the keys, without the header).
pub fn with_redis_section(config: &str, section: &str) -> String {
    let old = format!("[redis]\nurl = \"{}\"\n", crate::processor::redis_url());
    assert!(config.contains(&old), "the stack's [redis] section");
    config.replace(&old, &format!("[redis]\n{section}\n"))
}
