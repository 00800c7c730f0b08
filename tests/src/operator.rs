//! The operator API for tests: in-process on port 0 (the production `serve`, with tokens
//! and a shutdown the test controls), in its own PostgreSQL schema, and every answer checked
//! against the API's OpenAPI document ([`Spec`], from [`crate::openapi`]).

pub use crate::openapi::{Reply, Spec};
use crate::Context;
use reqwest::Method;
use serde_json::{json, Value};
use shared::config::Settings;
use std::net::TcpListener;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The operate token's entry name: what the audit log must show as the actor.
pub const OPERATE_NAME: &str = "alice";
pub const OPERATE_TOKEN: &str = "alice-operate-token-7f3a9c";
pub const READ_NAME: &str = "rita";
pub const READ_TOKEN: &str = "rita-read-token-0b52e1d4";
/// The web console's token (`RELAY_OPERATOR_CONSOLE_TOKENS`): operate, and may name a person.
pub const CONSOLE_NAME: &str = "console";
pub const CONSOLE_TOKEN: &str = "console-token-for-tests-4c1d9e";

/// PostgreSQL of the tests (`RELAY_TEST_POSTGRES_URL`, or the local one).
pub fn postgres_url() -> String {
    std::env::var("RELAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Configuration text of a test deployment whose operator state is at `postgres_url`, with
/// the workers' sections of every test stack and a Syncro nobody answers at (the API reads
/// the workers' file; see [`config_with`] for a Syncro of the test's own).
pub fn config(ctx: &Context, postgres_url: &str, extra: &str) -> String {
    config_with(ctx, postgres_url, "http://127.0.0.1:9/api/v1", extra)
}

/// [`config`] with the workers' Syncro at `syncro_url` (a simulator's, or another account's).
pub fn config_with(ctx: &Context, postgres_url: &str, syncro_url: &str, extra: &str) -> String {
    let workers = crate::processor::config(
        ctx,
        &ctx.amqp_url,
        &crate::processor::redis_url(),
        syncro_url,
        "",
    );
    beside(&workers, postgres_url, extra)
}

/// The operator's sections after the workers' configuration `workers`.
fn beside(workers: &str, postgres_url: &str, extra: &str) -> String {
    format!(
        r#"{workers}
[postgres]
url = "{postgres_url}"
timeout_ms = 2000
[operator]
listen = "127.0.0.1:0"
silence_max_hours = 48
{extra}
"#
    )
}

/// The test tokens, as the process environment would hold them.
pub fn token_env(name: &str) -> Option<String> {
    match name {
        "RELAY_OPERATOR_OPERATE_TOKENS" => Some(format!("{OPERATE_NAME}:{OPERATE_TOKEN}")),
        "RELAY_OPERATOR_READ_TOKENS" => Some(format!("{READ_NAME}:{READ_TOKEN}")),
        operator::auth::CONSOLE_TOKENS_ENV => Some(format!("{CONSOLE_NAME}:{CONSOLE_TOKEN}")),
        _ => None,
    }
}

/// What a request carries.
pub enum Body {
    None,
    Json(Value),
    /// Bytes sent as they are, with this content type.
    Raw(&'static str, Vec<u8>),
}

/// The operator API running inside the test process.
pub struct TestOperator {
    pub base_url: String,
    pub client: reqwest::Client,
    /// This deployment's operator state (its own schema), to look behind the API.
    pub db: opstate::Db,
    pub spec: Spec,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestOperator {
    /// Starts the operator API with the tests' PostgreSQL and tokens.
    pub async fn spawn(ctx: &Context) -> TestOperator {
        TestOperator::spawn_with(&config(ctx, &postgres_url(), "")).await
    }

    /// Starts the operator API beside a test stack: the workers' configuration of `stack`
    /// (its simulator, Redis and broker), the tests' PostgreSQL.
    pub async fn for_stack(stack: &crate::processor::Stack) -> TestOperator {
        TestOperator::spawn_with(&beside(&stack.config, &postgres_url(), "")).await
    }

    /// Starts the operator API with `config_text` (checked as `main` would) on a free port.
    pub async fn spawn_with(config_text: &str) -> TestOperator {
        let settings = Settings::from_toml(config_text, &|_| None).expect("test config parses");
        let tokens =
            operator::config::check(&settings, &token_env, std::path::Path::new("test.toml"))
                .expect("test config is valid");
        let db =
            opstate::Db::lazy(&settings.postgres, &settings.prefix).expect("postgres settings");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(operator::serve(
            listener,
            settings,
            tokens,
            None,
            async move {
                let _ = stopped.await;
            },
        ));
        TestOperator {
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            db,
            spec: Spec::load(),
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Waits until `/readyz` says PostgreSQL answers and the state is migrated.
    pub async fn ready(&self) {
        crate::wait::http_ok(
            "operator ready",
            &self.url("/readyz"),
            Duration::from_secs(20),
        )
        .await
    }

    /// [`TestOperator::ready`], and its RabbitMQ connection made (the status's queue depths
    /// come from it): for tests that expect every part of the status up.
    pub async fn fully_up(&self) {
        self.ready().await;
        crate::wait::until(
            "the operator's RabbitMQ connection",
            Duration::from_secs(30),
            || async {
                let status = self.get("/v1/status", Some(READ_TOKEN)).await;
                (status.body["rabbitmq"] == "up").then_some(())
            },
        )
        .await
    }

    /// Sends a request and checks its answer against the document (status documented for
    /// the operation, body valid against its schema, error code listed, headers present).
    pub async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Body,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), self.url(path_and_query));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request.send().await.expect("the operator answers");
        let reply = Reply::read(response)
            .await
            .unwrap_or_else(|e| panic!("{method} {path_and_query} → {e}"));
        let path = path_and_query.split('?').next().unwrap_or_default();
        self.spec.check(&method, path, &reply);
        reply
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, Body::None).await
    }

    /// POSTs JSON (or nothing, for `Value::Null`).
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        let body = if body.is_null() {
            Body::None
        } else {
            Body::Json(body)
        };
        self.request(Method::POST, path, token, body).await
    }

    /// Stops the API as SIGTERM would, waits for it, and drops the test's schema.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.task).await.expect("operator task");
        if let Err(e) = self.db.drop_schema().await {
            eprintln!("could not drop the test's schema: {e}");
        }
        served
    }
}

impl Spec {
    /// The operator API's document, as the API serves it at `GET /openapi.json`.
    pub fn load() -> Spec {
        Spec::from_document(operator::routes::openapi::DOCUMENT)
    }
}

/// A one-off silence's body: `matchers` as given, lasting `duration`.
pub fn silence_spec(matchers: Value, duration: &str) -> Value {
    json!({
        "matchers": matchers,
        "schedule": {"kind": "once", "duration": duration},
        "reason": "database migration",
        "author": "Dana (change 4711)",
    })
}

/// An object without some of its keys.
pub fn without(mut value: Value, keys: &[&str]) -> Value {
    if let Some(object) = value.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    value
}
