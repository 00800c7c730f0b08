//! Security checks against the real binaries and an in-process ingest:
//! - secrets, tokens and URL passwords never reach logs, error messages or `Debug` output;
//! - the metrics endpoints listen on localhost by default, and ingest's checks its token;
//! - slow or huge requests cannot hold memory or connections: body size (413 before the
//!   body is read), header size (431), connections (`ingest.max_connections`), time to send
//!   the headers (`client_request_timeout_ms`) and the body (`body_timeout_ms`).

use relay_tests::alerts::{self, alert, standard_headers};
use relay_tests::ingest::{config, TestIngest};
use relay_tests::processor::{redis_url, Stack, SIM_TOKEN};
use relay_tests::rabbit::Rabbit;
use relay_tests::{free_port, wait, workspace_binary, Context};
use shared::config::Settings;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WEBHOOK_SECRET: &str = "whsec_c2VjdXJpdHktdGVzdC13ZWJob29rLXNlY3JldA==";
const HMAC_SECRET: &str = "security-hmac-secret-5b2e90";
const METRICS_TOKEN: &str = "security-metrics-token-77c1a4";
const SYNCRO_TOKEN: &str = "security-syncro-token-e03f5d";
const AMQP_PASSWORD: &str = "amqp-pass-4d1c0b";
const REDIS_PASSWORD: &str = "redis-pass-9a7e21";

/// Everything that must never be shown.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        WEBHOOK_SECRET,
        &WEBHOOK_SECRET["whsec_".len()..],
        HMAC_SECRET,
        METRICS_TOKEN,
        SYNCRO_TOKEN,
        SIM_TOKEN,
        AMQP_PASSWORD,
        REDIS_PASSWORD,
    ] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

fn settings_text(amqp_url: &str, redis_url: &str) -> String {
    format!(
        r#"
prefix = "sec"
[amqp]
url = "{amqp_url}"
[redis]
url = "{redis_url}"
[ingest]
metrics_token = "{METRICS_TOKEN}"
[sources.demo]
secrets = ["{WEBHOOK_SECRET}"]
[sources.gh]
verify = "hmac-sha256"
secrets = ["{HMAC_SECRET}"]
[syncro]
url = "http://127.0.0.1:1"
token = "{SYNCRO_TOKEN}"
"#
    )
}

#[test]
fn debug_output_and_configuration_errors_never_show_secrets() {
    let amqp = format!("amqp://relay:{AMQP_PASSWORD}@127.0.0.1:5672/%2f");
    let redis = format!("redis://default:{REDIS_PASSWORD}@127.0.0.1:6379");
    let settings = Settings::from_toml(&settings_text(&amqp, &redis), &|_| None).expect("parses");
    assert_no_secret("Debug of the settings", &format!("{settings:?}"));
    assert_no_secret(
        "Debug of a source's verifier inputs",
        &format!("{:?}", settings.sources),
    );

    // URLs of the wrong scheme, with passwords in them: named, never quoted.
    let bad = settings_text(
        &format!("http://relay:{AMQP_PASSWORD}@127.0.0.1/"),
        &format!("http://default:{REDIS_PASSWORD}@127.0.0.1/"),
    );
    let settings = Settings::from_toml(&bad, &|_| None).expect("parses");
    let ingest_error = settings
        .validate_ingest(Path::new("relay.toml"))
        .expect_err("a bad AMQP URL");
    let shown = format!("{ingest_error} {ingest_error:?}");
    assert!(shown.contains("amqp.url"), "{shown}");
    assert_no_secret("ingest's configuration error", &shown);
    let problems = processor::config::ProcessorConfig::from_settings(&settings)
        .err()
        .unwrap_or_default();
    let shown = problems.join("\n");
    assert!(shown.contains("redis.url"), "{shown}");
    assert_no_secret("the processor's configuration problems", &shown);

    // A syntax or type error on a line holding a secret.
    for text in [
        format!("[ingest]\nmetrics_token = \"{METRICS_TOKEN}\" oops\n"),
        format!("[sources.demo]\nsecrets = \"{WEBHOOK_SECRET}\"\n"),
        format!("[syncro]\ntoken = [\"{SYNCRO_TOKEN}\"]\n"),
        format!("[amqp]\nurl = \"amqp://relay:{AMQP_PASSWORD}@h/\"\nurl = \"x\"\n"),
    ] {
        let problems = Settings::from_toml(&text, &|_| None).expect_err("invalid TOML");
        assert_no_secret("a TOML error", &problems.join("\n"));
        assert!(problems[0].starts_with("line "), "{problems:?}");
    }
}

/// Stops a child as an operator would (SIGTERM) and returns everything it logged. Its
/// stderr is read while it stops (a full pipe would hold it up); one that does not exit
/// within 30 s fails the test with the end of what it logged.
async fn stop_and_read_logs(mut child: tokio::process::Child) -> String {
    let mut stderr = child.stderr.take().expect("stderr");
    let reading = tokio::spawn(async move {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs).await;
        logs
    });
    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exited = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    if exited.is_err() {
        let _ = child.kill().await;
    }
    let logs = reading.await.expect("logs");
    if exited.is_err() {
        let tail: String = logs.lines().rev().take(20).collect::<Vec<_>>().join("\n");
        panic!("did not exit within 30 s of SIGTERM; its last lines, newest first:\n{tail}");
    }
    logs
}

#[tokio::test]
async fn ingest_logs_show_no_secret_token_signature_or_amqp_password() {
    let ctx = Context::new();
    let dir = std::env::temp_dir().join(format!("sec-{}", ctx.prefix));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("relay.toml");
    std::fs::write(
        &path,
        format!(
            r#"
prefix = "{prefix}"
[amqp]
reconnect_max_backoff_ms = 200
[log]
format = "json"
level = "trace"
[ingest]
metrics_token_env = "SEC_METRICS_TOKEN"
[sources.demo]
secrets_env = ["SEC_DEMO_SECRET"]
"#,
            prefix = ctx.prefix
        ),
    )
    .expect("config");
    let port = free_port();
    // The broker refuses this password: ingest retries, logging the URL each time.
    let child = tokio::process::Command::new(workspace_binary("ingest"))
        .arg("--config")
        .arg(&path)
        .env("RELAY_INGEST_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "RELAY_AMQP_URL",
            format!("amqp://guest:{AMQP_PASSWORD}@127.0.0.1:5672/%2f"),
        )
        .env("SEC_DEMO_SECRET", WEBHOOK_SECRET)
        .env("SEC_METRICS_TOKEN", METRICS_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ingest starts");
    let base = format!("http://127.0.0.1:{port}");
    wait::http_ok(
        "ingest up",
        &format!("{base}/healthz"),
        Duration::from_secs(30),
    )
    .await;
    let client = reqwest::Client::new();

    let body = serde_json::to_vec(&alert("sec-1")).expect("json");
    let headers = standard_headers(WEBHOOK_SECRET, &body);
    let signature = headers[2].1.clone();
    let mut request = client
        .post(format!("{base}/v1/webhooks/demo"))
        .header("content-type", "application/json")
        .body(body.clone());
    for (k, v) in &headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let answer = request.send().await.expect("answer");
    assert_eq!(answer.status().as_u16(), 503, "the broker refuses ingest");
    let forged = client
        .post(format!("{base}/v1/webhooks/demo"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {METRICS_TOKEN}"))
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status().as_u16(), 401);
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("answer");
    assert_eq!(metrics.status().as_u16(), 200);
    let refused = client
        .get(format!("{base}/metrics"))
        .bearer_auth(format!("{METRICS_TOKEN}x"))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    assert_no_secret("a 401 body", &refused.text().await.expect("body"));

    let logs = stop_and_read_logs(child).await;
    assert!(
        logs.contains("guest:***@127.0.0.1"),
        "the broker URL is logged, masked:\n{logs}"
    );
    assert_no_secret("ingest's logs", &logs);
    assert!(!logs.contains(&signature), "a signature in the logs");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn processor_logs_show_no_syncro_token_or_redis_password() {
    let stack = Stack::start(|_| {}, "").await;
    let dir = std::env::temp_dir().join(format!("sec-{}", stack.ctx.prefix));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("relay.toml");
    // The token comes from the environment; Redis gets a password (its default user has none
    // and accepts any, so the worker runs normally with the password in its URL).
    let text = stack
        .config
        .replace(&format!("token = \"{SIM_TOKEN}\""), "")
        .replace(
            &format!("url = \"{}\"", redis_url()),
            &format!(
                "url = \"{}\"",
                redis_url().replace("redis://", &format!("redis://default:{REDIS_PASSWORD}@"))
            ),
        )
        .replace("level = \"warn\"", "level = \"debug\"");
    assert!(text.contains(REDIS_PASSWORD), "the Redis URL was rewritten");
    std::fs::write(&path, text).expect("config");
    // Syncro fails the first creation: the error path is logged too.
    let mut failing: syncro_sim::FaultSpec = serde_json::from_value(
        serde_json::json!({"kind": "error", "route": "POST /tickets", "status": 500, "count": 1}),
    )
    .expect("fault");
    failing.body = Some(format!("echo of the request: Bearer {SIM_TOKEN}"));
    stack.sim.sim().add_fault(failing).expect("fault");
    let child = tokio::process::Command::new(workspace_binary("processor"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .env("RELAY_SYNCRO_TOKEN", SIM_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("processor starts");
    stack.send(&[alert("sec-proc-1")]).await;
    relay_tests::processor::eventually("the ticket", Duration::from_secs(30), || {
        stack.tickets().len() == 1
    })
    .await;
    let logs = stop_and_read_logs(child).await;
    assert!(logs.contains("500"), "the failure was logged:\n{logs}");
    assert_no_secret("the processor's logs", &logs);
    let _ = std::fs::remove_dir_all(&dir);
    stack.finish().await;
}

#[test]
fn metrics_endpoints_listen_on_localhost_by_default() {
    let settings = Settings::from_toml("", &|_| None).expect("empty config");
    let ingest: std::net::SocketAddr = settings.ingest.listen.parse().expect("address");
    assert!(ingest.ip().is_loopback(), "ingest listens on {ingest}");
    assert!(settings.ingest.metrics_token.is_none());
    let ctx = Context::new();
    let text =
        relay_tests::processor::config(&ctx, &ctx.amqp_url, &redis_url(), "http://127.0.0.1:1", "")
            .replace("metrics_listen = \"127.0.0.1:0\"", "");
    let settings = Settings::from_toml(&text, &|_| None).expect("parses");
    let config = processor::config::ProcessorConfig::from_settings(&settings).expect("valid");
    assert_eq!(
        config.worker.metrics_listen,
        std::net::SocketAddr::from(([127, 0, 0, 1], 9091))
    );
}

/// An in-process ingest with tight limits for these tests.
async fn limited_ingest(ingest_keys: &str) -> (Context, TestIngest, String) {
    let ctx = Context::new();
    let text = config(&ctx, &ctx.amqp_url, "").replace(
        "retry_after_secs = 7",
        &format!("retry_after_secs = 7\n{ingest_keys}"),
    );
    let ingest = TestIngest::spawn(&text).await;
    ingest.ready().await;
    let addr = ingest.base_url.trim_start_matches("http://").to_string();
    (ctx, ingest, addr)
}

async fn finish(ctx: Context, ingest: TestIngest) {
    ingest.stop().await.expect("stops");
    Rabbit::connect(&ctx.amqp_url)
        .await
        .delete_topology(&ctx.prefix)
        .await;
}

/// Reads until the end of the response head (or the connection closes) and returns it.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn post_head(addr: &str, extra: &str) -> String {
    format!(
        "POST /v1/webhooks/demo HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n{extra}\r\n"
    )
}

/// Standard Webhooks header lines (signing `{}`, which does not matter: the body is refused
/// before its signature is checked).
fn signature_lines() -> String {
    standard_headers(alerts::SECRET, b"{}")
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect()
}

/// Writes `total` bytes in 16 KiB chunks (until the server stops reading), counting them.
fn upload(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    total: usize,
    chunked: bool,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let task = tokio::spawn(async move {
        let data = vec![b' '; 16 * 1024];
        while counter.load(Ordering::SeqCst) < total {
            let frame = if chunked {
                [format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"].concat()
            } else {
                data.clone()
            };
            if writer.write_all(&frame).await.is_err() {
                break;
            }
            counter.fetch_add(data.len(), Ordering::SeqCst);
        }
    });
    (sent, task)
}

#[tokio::test]
async fn a_huge_body_gets_413_long_before_it_is_uploaded() {
    let (ctx, ingest, addr) = limited_ingest("").await;
    const HUGE: usize = 1 << 30;
    for chunked in [false, true] {
        let stream = TcpStream::connect(&addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let length = if chunked {
            "transfer-encoding: chunked\r\n".to_string()
        } else {
            format!("content-length: {HUGE}\r\n")
        };
        let headers = signature_lines();
        writer
            .write_all(post_head(&addr, &format!("{length}{headers}")).as_bytes())
            .await
            .expect("head");
        let (sent, task) = upload(writer, HUGE, chunked);
        let started = Instant::now();
        let mut head = Vec::new();
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .expect("read");
            assert!(n > 0, "closed without an answer");
            head.extend_from_slice(&chunk[..n]);
        }
        let uploaded = sent.load(Ordering::SeqCst);
        task.abort();
        let head = String::from_utf8_lossy(&head);
        assert_eq!(status_of(&head), 413, "chunked {chunked}: {head}");
        assert!(
            uploaded < 8 << 20,
            "chunked {chunked}: the answer came after {uploaded} bytes of a 1 GiB body"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    finish(ctx, ingest).await;
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let (ctx, ingest, addr) = limited_ingest("").await;
    let big = format!("x-big: {}\r\n", "a".repeat(200 * 1024));
    let many: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    for extra in [big, many] {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        // The server may answer and close before the whole head is written.
        let _ = stream
            .write_all(post_head(&addr, &format!("{extra}content-length: 0\r\n")).as_bytes())
            .await;
        let head = tokio::time::timeout(Duration::from_secs(5), read_head(&mut stream))
            .await
            .expect("an answer");
        assert_eq!(status_of(&head), 431, "{head}");
    }
    // The server is still fine.
    let body = serde_json::to_vec(&alert("after-431")).expect("json");
    let ok = ingest
        .post("demo", &body, &standard_headers(alerts::SECRET, &body))
        .await;
    assert_eq!(ok.status().as_u16(), 202);
    finish(ctx, ingest).await;
}

/// Sends `byte` every 100 ms (for at most 10 s) until the server answers or closes; returns
/// how long after `started` that happened, and the answer.
async fn trickle(stream: &mut TcpStream, byte: u8, started: Instant) -> (Duration, String) {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..100 {
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Ok(Err(_)) => break,
            Err(_) => {}
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&answer).to_string(),
    )
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let (ctx, ingest, addr) =
        limited_ingest("client_request_timeout_ms = 1000\nbody_timeout_ms = 1000").await;
    // The timeout runs from the connection's acceptance.
    let started = Instant::now();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    let head = format!("POST /v1/webhooks/demo HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    stream.write_all(head.as_bytes()).await.expect("write");
    // A valid header value that never ends: only the timeout can end it.
    let (closed_at, answer) = trickle(&mut stream, b'a', started).await;
    assert!(
        // actix computes the deadline from a clock it refreshes every 500 ms: up to that early.
        closed_at >= Duration::from_millis(450) && closed_at < Duration::from_secs(4),
        "disconnected after {closed_at:?} (client_request_timeout_ms = 1000)"
    );
    assert!(
        answer.is_empty() || status_of(&answer) == 408,
        "answered {answer}"
    );
    finish(ctx, ingest).await;
}

#[tokio::test]
async fn a_client_that_trickles_its_body_gets_408() {
    let (ctx, ingest, addr) =
        limited_ingest("client_request_timeout_ms = 1000\nbody_timeout_ms = 1000").await;
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    let headers = signature_lines();
    stream
        .write_all(post_head(&addr, &format!("content-length: 1000\r\n{headers}")).as_bytes())
        .await
        .expect("head");
    let started = Instant::now();
    let (elapsed, answer) = trickle(&mut stream, b' ', started).await;
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "answered after {elapsed:?} (body_timeout_ms = 1000)"
    );
    finish(ctx, ingest).await;
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_for_a_free_slot() {
    let (ctx, ingest, addr) =
        limited_ingest("workers = 1\nmax_connections = 3\nclient_request_timeout_ms = 20000").await;
    // Three idle connections take every slot.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // Let the server accept them before the fourth arrives.
    wait::until(
        "three connections accepted",
        Duration::from_secs(5),
        || async {
            let mut probe = TcpStream::connect(&addr).await.ok()?;
            probe.write_all(request.as_bytes()).await.ok()?;
            match tokio::time::timeout(Duration::from_millis(300), read_head(&mut probe)).await {
                Err(_) => Some(probe),
                Ok(_) => None,
            }
        },
    )
    .await;
    let mut fourth = TcpStream::connect(&addr).await.expect("connect");
    fourth.write_all(request.as_bytes()).await.expect("write");
    let early = tokio::time::timeout(Duration::from_millis(700), read_head(&mut fourth)).await;
    assert!(early.is_err(), "answered beyond max_connections: {early:?}");
    drop(idle);
    let head = tokio::time::timeout(Duration::from_secs(5), read_head(&mut fourth))
        .await
        .expect("answered once a slot is free");
    assert_eq!(status_of(&head), 200, "{head}");
    finish(ctx, ingest).await;
}
