//! Test support for alert-relay's integration tests, which run against real RabbitMQ (and,
//! later, Redis and the Syncro simulator).
//!
//! - [`Context`]: a random prefix per test, so tests run in parallel on one broker, and the
//!   URLs of the real services (overridable with `RELAY_TEST_AMQP_URL`).
//! - [`rabbit`]: reading and counting what landed in a queue; removing a test's topology.
//! - [`ingest`]: ingest started in-process on port 0, or as the real binary.
//! - [`processor`]: the Syncro simulator, ingest and processors together for end-to-end tests.
//! - [`redis_server`]: private Redis servers (TLS, replicas, sentinels) and test
//!   certificates, for the tests of Redis over TLS and Sentinel.
//! - [`proxy`]: a TCP proxy that can cut and restore the road to the broker, to test outages
//!   without stopping the broker other tests use.
//! - [`console`]: the web console in-process, and a cookie-keeping client of its forms.
//! - [`alerts`]: sample alerts and signed requests.
//! - [`wait`]: polling with a deadline.

pub mod alerts;
pub mod console;
pub mod ingest;
pub mod openapi;
pub mod operator;
pub mod processor;
pub mod proxy;
pub mod rabbit;
pub mod redis_server;
pub mod wait;

/// Per-test names and service addresses.
#[derive(Debug, Clone)]
pub struct Context {
    /// Prefix of every exchange, queue and key this test creates.
    pub prefix: String,
    pub amqp_url: String,
}

impl Context {
    pub fn new() -> Context {
        Context {
            prefix: format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            amqp_url: std::env::var("RELAY_TEST_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Path of a workspace binary built by cargo beside the running test (e.g. `ingest`).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests through the README's test command (it builds every binary)",
        path.display()
    );
    path
}
