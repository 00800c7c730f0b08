//! Ingest for tests: in-process on port 0 (the production `run`, with a shutdown the test
//! controls), or as the real binary when a test needs signals and logs.

use crate::Context;
use shared::config::Settings;
use std::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Configuration text of a test deployment with the usual sources:
/// `demo` (Standard Webhooks, two secrets), `gh` (hmac-sha256), `am` (bearer, Alertmanager).
pub fn config(ctx: &Context, amqp_url: &str, extra: &str) -> String {
    format!(
        r#"
prefix = "{prefix}"
[amqp]
url = "{amqp_url}"
confirm_timeout_ms = 3000
reconnect_max_backoff_ms = 500
[log]
format = "pretty"
level = "warn"
[ingest]
listen = "127.0.0.1:0"
max_body_bytes = 16384
retry_after_secs = 7

[sources.demo]
verify = "standard-webhooks"
secrets = ["{s1}", "{s2}"]
format = "canonical"

[sources.gh]
verify = "hmac-sha256"
secrets = ["{hmac}"]
signature_header = "X-Hub-Signature-256"

[sources.am]
verify = "bearer"
secrets = ["{bearer}"]
format = "alertmanager"
organization_label = "tenant"
{extra}
"#,
        prefix = ctx.prefix,
        s1 = crate::alerts::SECRET,
        s2 = crate::alerts::SECRET_2,
        hmac = HMAC_SECRET,
        bearer = BEARER_TOKEN,
    )
}

pub const HMAC_SECRET: &str = "gh-style-test-secret-0123456789";
pub const BEARER_TOKEN: &str = "alertmanager-test-token-0123456789";

/// Ingest running inside the test process.
pub struct TestIngest {
    pub base_url: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestIngest {
    /// Starts ingest with `config_text` (validated as `main` would) on a free port.
    pub async fn spawn(config_text: &str) -> TestIngest {
        let settings = Settings::from_toml(config_text, &|_| None).expect("test config parses");
        settings
            .validate_ingest(std::path::Path::new("test.toml"))
            .expect("test config is valid");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(ingest::startup::run(listener, settings, async move {
            let _ = stopped.await;
        }));
        TestIngest {
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POSTs `body` to a source's webhook with the given headers and content type.
    pub async fn post(
        &self,
        source: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> reqwest::Response {
        self.send(&format!("/v1/webhooks/{source}"), body, headers, true)
            .await
    }

    /// POSTs `body` to a source's heartbeat endpoint with the given headers, as JSON unless
    /// it is empty (an empty heartbeat needs no content type).
    pub async fn heartbeat(
        &self,
        source: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> reqwest::Response {
        self.send(
            &format!("/v1/heartbeats/{source}"),
            body,
            headers,
            !body.is_empty(),
        )
        .await
    }

    async fn send(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(String, String)],
        json: bool,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).body(body.to_vec());
        if json {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.send().await.expect("ingest answers")
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// Waits until `/readyz` says the broker is connected.
    pub async fn ready(&self) {
        crate::wait::http_ok(
            "ingest ready",
            &self.url("/readyz"),
            std::time::Duration::from_secs(20),
        )
        .await
    }

    /// Stops ingest as SIGTERM would and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("ingest task")
    }
}
