//! The operator API for tests: in-process on port 0 (the production `serve`, with tokens
//! and a shutdown the test controls), in its own PostgreSQL schema, and every answer checked
//! against the API's OpenAPI document ([`Spec`]).

use crate::Context;
use reqwest::header::HeaderMap;
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

/// PostgreSQL of the tests (`RELAY_TEST_POSTGRES_URL`, or the local one).
pub fn postgres_url() -> String {
    std::env::var("RELAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Configuration text of a test deployment whose operator state is at `postgres_url`.
pub fn config(ctx: &Context, postgres_url: &str, extra: &str) -> String {
    format!(
        r#"
prefix = "{prefix}"
[log]
format = "pretty"
level = "warn"
[postgres]
url = "{postgres_url}"
timeout_ms = 2000
[operator]
listen = "127.0.0.1:0"
silence_max_hours = 48
{extra}
"#,
        prefix = ctx.prefix,
    )
}

/// The test tokens, as the process environment would hold them.
pub fn token_env(name: &str) -> Option<String> {
    match name {
        "RELAY_OPERATOR_OPERATE_TOKENS" => Some(format!("{OPERATE_NAME}:{OPERATE_TOKEN}")),
        "RELAY_OPERATOR_READ_TOKENS" => Some(format!("{READ_NAME}:{READ_TOKEN}")),
        _ => None,
    }
}

/// One answer of the API, already checked against the document.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl Reply {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `field`s of an error answer, sorted.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["error"]["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["field"].as_str().map(str::to_string))
            .collect();
        fields.sort();
        fields
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
        let task = tokio::spawn(operator::serve(listener, settings, tokens, async move {
            let _ = stopped.await;
        }));
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
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {path_and_query} → {status}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        let reply = Reply {
            status,
            headers,
            body,
        };
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

/// The operator API's OpenAPI document, as a checker of answers.
///
/// For the check, every object schema with `properties` and no `additionalProperties` is
/// made closed: the document lets answers gain keys later (clients must ignore unknown
/// keys), but today's answers must carry only what it describes.
pub struct Spec {
    /// The document, closed as above; answer schemas are checked with it as the root so
    /// their `$ref`s resolve.
    closed: Value,
}

impl Spec {
    pub fn load() -> Spec {
        let mut closed: Value = serde_json::from_str(operator::routes::openapi::DOCUMENT)
            .expect("the document is JSON");
        if let Some(schemas) = closed.pointer_mut("/components/schemas") {
            for schema in schemas
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                close(schema);
            }
        }
        if let Some(responses) = closed.pointer_mut("/components/responses") {
            close_responses(responses);
        }
        if let Some(paths) = closed.pointer_mut("/paths") {
            for item in paths
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                for operation in item
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    if let Some(responses) = operation.get_mut("responses") {
                        close_responses(responses);
                    }
                }
            }
        }
        Spec { closed }
    }

    /// The document's path template matching a concrete path (`{x}` matches one segment).
    pub fn template(&self, path: &str) -> Option<String> {
        let paths = self.closed["paths"].as_object()?;
        let segments: Vec<&str> = path.split('/').collect();
        paths
            .keys()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(t, s)| {
                        (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                    })
            })
            .cloned()
    }

    /// Panics unless the document describes `reply` as an answer of `method path`. A path
    /// or method the document does not list must be answered with the error body (404, 405).
    pub fn check(&self, method: &Method, path: &str, reply: &Reply) {
        let what = format!("{method} {path} → {}", reply.status);
        let method_key = method.as_str().to_ascii_lowercase();
        let operation = self
            .template(path)
            .map(|t| format!("/paths/{}/{method_key}", escape(&t)))
            .filter(|pointer| self.closed.pointer(pointer).is_some());
        let Some(operation) = operation else {
            assert!(
                matches!(reply.status, 404 | 405),
                "{what}: not in the document, yet not 404/405"
            );
            self.validate(&what, "/components/schemas/Error", &reply.body);
            return;
        };
        let mut pointer = format!("{operation}/responses/{}", reply.status);
        let mut response = self
            .closed
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{what}: status not documented: {}", reply.body));
        if let Some(target) = response["$ref"].as_str() {
            pointer = target.trim_start_matches('#').to_string();
            response = self.closed.pointer(&pointer).expect("a $ref that resolves");
        }
        let description = response["description"].as_str().unwrap_or_default();
        if let Some(code) = reply.body["error"]["code"].as_str() {
            assert!(
                description.contains(&format!("`{code}`")),
                "{what}: code {code} is not among the documented ones: {description}"
            );
        }
        for header in response["headers"]
            .as_object()
            .into_iter()
            .flat_map(|h| h.keys())
        {
            assert!(
                reply.headers.contains_key(header.as_str()),
                "{what}: documented header {header} is missing"
            );
        }
        match response.pointer("/content/application~1json/schema") {
            Some(_) => self.validate(
                &what,
                &format!("{pointer}/content/application~1json/schema"),
                &reply.body,
            ),
            None => assert!(
                reply.body.is_null(),
                "{what}: a body the document does not describe"
            ),
        }
    }

    /// Validates `instance` against the schema at `pointer` in the (closed) document.
    fn validate(&self, what: &str, pointer: &str, instance: &Value) {
        let mut root = self.closed.clone();
        if let Some(root) = root.as_object_mut() {
            // A URI fragment: the template's braces must be percent-encoded.
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root.insert("$ref".into(), json!(format!("#{fragment}")));
        }
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the document's schema does not compile: {e}"));
        let violations: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("  at {}: {e}", e.instance_path()))
            .collect();
        assert!(
            violations.is_empty(),
            "{what}: the answer breaks the document ({pointer}):\n{}\n{}",
            violations.join("\n"),
            serde_json::to_string_pretty(instance).unwrap_or_default()
        );
    }
}

/// JSON Pointer escaping of one token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn close_responses(responses: &mut Value) {
    for response in responses
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        if let Some(schema) = response.pointer_mut("/content/application~1json/schema") {
            close(schema);
        }
    }
}

/// Closes every object schema with `properties` in `schema` (see [`Spec`]).
fn close(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(close);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            children.iter_mut().for_each(close);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = object.get_mut(key) {
            close(child);
        }
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
