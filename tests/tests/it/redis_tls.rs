//! Redis over TLS (`rediss://`): a private `redis-server` serving TLS only, with an authority
//! and certificates made by the test. A store trusting that authority (`redis.ca_file`)
//! works, and so does a worker; a server asking for a client certificate gets one when it is
//! configured; a server the authority did not sign is refused at once. Bad `[redis]`
//! settings are reported together, without their secrets.

use crate::processor::{counts, settled};
use processor::store::ratelimit::RateLimiter;
use processor::store::{Handled, Store};
use relay_tests::processor::{storm, Stack, TestProcessor};
use relay_tests::redis_server::{self, with_redis_section, RedisServer, TempDir, TlsFiles};
use relay_tests::Context;
use secrecy::SecretString;
use shared::config::{RedisSettings, Settings};
use shared::message::message_id;
use std::time::{Duration, Instant};

/// `[redis]` of a store on the TLS server `server`, trusting `tls`'s authority, with its
/// client certificate when `client_certificate`.
fn settings(server: &RedisServer, tls: &TlsFiles, client_certificate: bool) -> RedisSettings {
    RedisSettings {
        url: SecretString::from(format!("rediss://127.0.0.1:{}", server.port)),
        ca_file: Some(tls.ca.clone()),
        client_cert_file: client_certificate.then(|| tls.client_cert.clone()),
        client_key_file: client_certificate.then(|| tls.client_key.clone()),
        ..RedisSettings::default()
    }
}

/// What a worker does with Redis: a lease, an outcome written and read back, the limiter's
/// admission.
async fn does_a_workers_calls(store: &Store) {
    let lease = store
        .lock("tls-group", Duration::from_secs(30))
        .await
        .expect("redis")
        .expect("the lease is free");
    store
        .finish("tls-1", &Handled::Ignored)
        .await
        .expect("write");
    assert_eq!(
        store.outcome("tls-1").await.expect("read"),
        Some(Handled::Ignored)
    );
    let limiter = RateLimiter::new(store.clone(), 6_000);
    tokio::time::timeout(
        Duration::from_secs(10),
        limiter.acquire(&syncro::Priority::unscoped()),
    )
    .await
    .expect("admitted in time")
    .expect("redis");
    store.unlock(lease).await.expect("unlock");
}

/// The store's first call fails, within `within`; its error as shown.
async fn refused(store: &Store, within: Duration) -> String {
    let start = Instant::now();
    let error = store.ping().await.expect_err("refused");
    assert!(
        start.elapsed() < within,
        "refused only after {:?}",
        start.elapsed()
    );
    error.to_string()
}

#[tokio::test]
async fn a_store_over_tls_trusting_the_ca_file_takes_leases_writes_records_and_is_admitted() {
    if !redis_server::or_skip("redis_tls") {
        return;
    }
    let dir = TempDir::new("redis-tls");
    let tls = TlsFiles::generate(dir.path(), "ca");
    let server = RedisServer::start(
        dir.path(),
        "redis",
        Some(&tls),
        &["--tls-auth-clients", "no"],
    );
    let ctx = Context::new();
    let store = Store::connect(&settings(&server, &tls, false), &ctx.prefix).expect("store");
    does_a_workers_calls(&store).await;

    // It went over TLS to that server: the record is there.
    let mut direct = redis_server::connect(&server.client(Some(&tls))).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{}:done:tls-1", ctx.prefix))
        .query_async(&mut direct)
        .await
        .expect("exists");
    assert!(exists, "the outcome is in the TLS server");
}

#[tokio::test]
async fn a_server_demanding_client_certificates_refuses_a_store_without_one_and_serves_one_with_it()
{
    if !redis_server::or_skip("redis_tls") {
        return;
    }
    let dir = TempDir::new("redis-mtls");
    let tls = TlsFiles::generate(dir.path(), "ca");
    let server = RedisServer::start(
        dir.path(),
        "redis",
        Some(&tls),
        &["--tls-auth-clients", "yes"],
    );
    let prefix = Context::new().prefix;

    let without = Store::connect(&settings(&server, &tls, false), &prefix).expect("store");
    let shown = refused(&without, Duration::from_secs(5)).await;
    assert!(shown.starts_with("Redis is unavailable"), "{shown}");

    let with = Store::connect(&settings(&server, &tls, true), &prefix).expect("store");
    does_a_workers_calls(&with).await;
}

#[tokio::test]
async fn a_server_certificate_another_authority_signed_is_refused_at_once_with_a_clear_error() {
    if !redis_server::or_skip("redis_tls") {
        return;
    }
    let dir = TempDir::new("redis-untrusted");
    let ours = TlsFiles::generate(dir.path(), "ours");
    let theirs = TlsFiles::generate(dir.path(), "theirs");
    let server = RedisServer::start(
        dir.path(),
        "redis",
        Some(&theirs),
        &["--tls-auth-clients", "no"],
    );
    let prefix = Context::new().prefix;

    // Trusting our authority only.
    let store = Store::connect(&settings(&server, &ours, true), &prefix).expect("store");
    let shown = refused(&store, Duration::from_secs(3)).await;
    assert!(
        shown.contains("certificate") && shown.contains("UnknownIssuer"),
        "the error says why: {shown}"
    );
    // Trusting the system's roots, which do not hold the test authority either.
    let system = RedisSettings {
        ca_file: None,
        ..settings(&server, &ours, false)
    };
    let store = Store::connect(&system, &prefix).expect("store");
    let shown = refused(&store, Duration::from_secs(3)).await;
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    // A plain connection to the TLS port is refused as well, not left hanging.
    let plain = Store::new(
        &SecretString::from(format!("redis://127.0.0.1:{}", server.port)),
        &prefix,
    )
    .expect("store");
    refused(&plain, Duration::from_secs(8)).await;
}

#[tokio::test]
async fn a_worker_tickets_every_alert_once_with_its_redis_over_tls() {
    if !redis_server::or_skip("redis_tls") {
        return;
    }
    let dir = TempDir::new("redis-tls-worker");
    let tls = TlsFiles::generate(dir.path(), "ca");
    let server = RedisServer::start(
        dir.path(),
        "redis",
        Some(&tls),
        &["--tls-auth-clients", "yes"],
    );
    let stack = Stack::start(|_| {}, "").await;
    let config = with_redis_section(
        &stack.config,
        &format!(
            "url = \"rediss://127.0.0.1:{}\"\nca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
            server.port,
            tls.ca.display(),
            tls.client_cert.display(),
            tls.client_key.display()
        ),
    );
    let worker = TestProcessor::spawn(&config);
    let alerts = storm("tls", 20, 2);
    let ids: Vec<String> = (0..20)
        .map(|i| message_id("demo", &format!("tls-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    let refs = stack.references();
    assert_eq!(refs.len(), 20, "every alert once");
    assert!(counts(&refs).values().all(|&n| n == 1));
    assert_eq!(stack.tickets().len(), 2);

    // The worker's records and its presence are in the TLS server.
    let mut direct = redis_server::connect(&server.client(Some(&tls))).await;
    let done: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:done:*", stack.ctx.prefix))
        .query_async(&mut direct)
        .await
        .expect("keys");
    assert_eq!(done.len(), 20, "every outcome recorded over TLS");
    let presence: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:presence:*", stack.ctx.prefix))
        .query_async(&mut direct)
        .await
        .expect("keys");
    assert_eq!(presence.len(), 1, "the worker's presence is there too");
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[test]
fn every_bad_redis_setting_is_reported_at_once_without_its_secrets() {
    let ctx = Context::new();
    let config = relay_tests::processor::config(
        &ctx,
        &ctx.amqp_url,
        &relay_tests::processor::redis_url(),
        "http://127.0.0.1:1",
        "",
    );
    let config = with_redis_section(
        &config,
        r#"url = "rediss://:redis-secret-31c9@redis.internal:6380"
ca_file = "/nonexistent/relay-ca.pem"
client_cert_file = "/nonexistent/relay-client.pem"
sentinels = ["10.0.0.5:26379", "sentinel-without-port"]
sentinel_password = "sentinel-secret-8d2f""#,
    )
    .replace("requests_per_minute = 10000", "requests_per_minute = 0");
    let settings = Settings::from_toml(&config, &|_| None).expect("parses");
    let problems = processor::config::ProcessorConfig::from_settings(&settings)
        .err()
        .unwrap_or_default();
    let shown = problems.join("\n");
    for expected in [
        "redis.ca_file: cannot read /nonexistent/relay-ca.pem",
        "redis.client_cert_file: cannot read /nonexistent/relay-client.pem",
        "redis.client_cert_file: set without redis.client_key_file",
        "redis.master_name: required with redis.sentinels",
        "redis.sentinels[1] \"sentinel-without-port\": expected HOST:PORT",
        // Another section's problem, in the same report.
        "syncro.requests_per_minute",
    ] {
        assert!(
            shown.contains(expected),
            "{expected:?} missing from:\n{shown}"
        );
    }
    for secret in ["redis-secret-31c9", "sentinel-secret-8d2f"] {
        assert!(!shown.contains(secret), "a secret shown:\n{shown}");
    }

    // The sentinel password from the environment is a secret too, and needs sentinels.
    let plain = with_redis_section(
        &relay_tests::processor::config(
            &ctx,
            &ctx.amqp_url,
            &relay_tests::processor::redis_url(),
            "http://127.0.0.1:1",
            "",
        ),
        "url = \"redis://127.0.0.1:6379\"\nca_file = \"/nonexistent/ca.pem\"",
    );
    let env = |name: &str| {
        (name == shared::config::env::REDIS_SENTINEL_PASSWORD)
            .then(|| "sentinel-secret-8d2f".to_string())
    };
    let settings = Settings::from_toml(&plain, &env).expect("parses");
    let problems = processor::config::ProcessorConfig::from_settings(&settings)
        .err()
        .unwrap_or_default();
    let shown = problems.join("\n");
    assert!(
        shown.contains("redis.sentinel_password: only used with redis.sentinels"),
        "{shown}"
    );
    assert!(
        shown.contains("redis.ca_file: only used over TLS"),
        "{shown}"
    );
    assert!(!shown.contains("sentinel-secret-8d2f"), "{shown}");
}
