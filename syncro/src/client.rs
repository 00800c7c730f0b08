//! The Syncro client: one request pipeline (auth header, timeouts, status and body handling,
//! an observer for metrics) under one typed method per operation.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::config::ClientConfig;
use super::error::{parse_retry_after, truncate, ApiErrorBody, ErrorKind, SyncroError};
use super::pagination::{Meta, Page};
use super::route::Route;

/// The client's result alias.
pub type Result<T, E = SyncroError> = std::result::Result<T, E>;

/// How much of an undecodable body an error keeps.
const SNIPPET: usize = 512;

/// One finished Syncro request, as an observer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestEvent {
    pub route: Route,
    /// The HTTP status, when Syncro answered.
    pub status: Option<u16>,
    /// The failure kind, `None` on success.
    pub error: Option<ErrorKind>,
    pub elapsed: Duration,
}

impl RequestEvent {
    /// A label for a metric's status dimension: the status code, or the failure kind when
    /// there was no answer (`"timeout"`, `"connect"`, `"connection_lost"`).
    pub fn status_label(&self) -> String {
        match (self.status, self.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(kind)) => kind.as_str().to_string(),
            (None, None) => "unknown".to_string(),
        }
    }
}

/// Told about every request the client makes (to count them by route and status).
pub trait RequestObserver: Send + Sync {
    fn observe(&self, event: &RequestEvent);
}

/// Asked before every request is sent (each page of a list included): the place for a
/// rate limit shared by every worker. Told of each 429 so it can hold back everyone.
pub trait RequestGate: Send + Sync {
    /// Completes when the request may be sent.
    fn admit(
        &self,
        route: Route,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
    /// Syncro answered 429, with its `Retry-After` when it sent one.
    fn throttled(&self, retry_after: Option<Duration>);
}

/// A slot of the request budget taken ahead of the request it is for (see
/// [`SyncroClient::admit`]): whoever holds one may send one request without waiting again.
#[must_use = "an admission is a spent slot of the rate budget"]
#[derive(Debug)]
pub struct Admission {
    _slot: (),
}

/// A Syncro REST API v1 client. Cheap to clone (shares its connection pool). `Debug` does not
/// show the token.
#[derive(Clone)]
pub struct SyncroClient {
    http: reqwest::Client,
    /// The API root without a trailing slash, e.g. `https://acme.syncromsp.com/api/v1`.
    root: String,
    token: SecretString,
    pub(crate) max_pages: u32,
    /// How long a request may take before the client gives up on it.
    request_timeout: Duration,
    observer: Option<Arc<dyn RequestObserver>>,
    gate: Option<Arc<dyn RequestGate>>,
}

impl fmt::Debug for SyncroClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncroClient")
            .field("root", &self.root)
            .field("token", &"[REDACTED]")
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

/// Checks and normalises the base URL: http(s), no credentials or query, `/api/v1` appended
/// when the path is empty.
fn api_root(base_url: &str) -> Result<String> {
    let bad = |why: &str| SyncroError::Config(format!("base URL {base_url:?}: {why}"));
    let url = Url::parse(base_url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry credentials; the token is configured separately",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    let mut root = url.as_str().trim_end_matches('/').to_string();
    if url.path().trim_matches('/').is_empty() {
        root.push_str("/api/v1");
    }
    Ok(root)
}

impl SyncroClient {
    /// How long a request may take before the client gives up on it (so how long after it
    /// was sent a request whose outcome is unknown may still be under way in Syncro).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub fn new(config: &ClientConfig) -> Result<Self> {
        let root = api_root(&config.base_url)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .default_headers(headers)
            .build()
            .map_err(|e| SyncroError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            root,
            token: config.token.clone(),
            max_pages: config.max_pages.max(1),
            request_timeout: config.request_timeout,
            observer: None,
            gate: None,
        })
    }

    /// Reports every request to `observer` (for metrics by route and status).
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sends every request through `gate` first (the shared rate limit).
    pub fn with_gate(mut self, gate: Arc<dyn RequestGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The API root requests go to.
    pub fn api_root(&self) -> &str {
        &self.root
    }

    pub(crate) fn auth_header(&self) -> Result<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| {
                SyncroError::Config("the token contains characters not allowed in a header".into())
            })?;
        // Keeps the value out of reqwest's and hyper's Debug output.
        value.set_sensitive(true);
        Ok(value)
    }

    /// `text` with the token masked: an answer quoted in an error (hence in logs and
    /// dead-letter headers) may echo the request's `Authorization` header, as some proxies'
    /// and servers' error pages do.
    pub(crate) fn without_token<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let token = self.token.expose_secret();
        if token.is_empty() || !text.contains(token) {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(text.replace(token, "[REDACTED]"))
        }
    }

    /// Sends one request and returns the JSON of a 2xx answer. Every outcome is reported to
    /// the observer and logged (route, status, time; never the token).
    pub(crate) async fn execute(
        &self,
        route: Route,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<Value> {
        let admission = self.admit(route).await;
        self.send(admission, route, path, query, body).await
    }

    /// Waits until the gate (the shared rate budget) lets one request of `route` go, and
    /// returns that slot. Taking the slot before deciding what exactly to send lets a caller
    /// put into the request everything that arrived while it waited (a coalesced note).
    pub async fn admit(&self, route: Route) -> Admission {
        if let Some(gate) = &self.gate {
            gate.admit(route).await;
        }
        Admission { _slot: () }
    }

    /// Sends one request in a slot already taken.
    pub(crate) async fn send(
        &self,
        _admission: Admission,
        route: Route,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<Value> {
        let started = Instant::now();
        let result = self.execute_inner(route, path, query, body).await;
        if let (
            Some(gate),
            Err(SyncroError::Status {
                status: 429,
                retry_after,
                ..
            }),
        ) = (&self.gate, &result)
        {
            gate.throttled(*retry_after);
        }
        let event = RequestEvent {
            route,
            status: match &result {
                Ok((status, _)) => Some(*status),
                Err(e) => e.status(),
            },
            error: result.as_ref().err().map(SyncroError::kind),
            elapsed: started.elapsed(),
        };
        match &result {
            Ok(_) => tracing::debug!(route = %route, status = event.status, elapsed_ms =
                event.elapsed.as_millis() as u64, "syncro request"),
            Err(e) => tracing::debug!(route = %route, status = event.status, elapsed_ms =
                event.elapsed.as_millis() as u64, error = %e, "syncro request failed"),
        }
        if let Some(observer) = &self.observer {
            observer.observe(&event);
        }
        result.map(|(_, value)| value)
    }

    pub(crate) async fn execute_inner(
        &self,
        route: Route,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<(u16, Value)> {
        let url = format!("{}{}", self.root, path);
        let mut request = self
            .http
            .request(route.method(), &url)
            .header(AUTHORIZATION, self.auth_header()?);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            let bytes = body
                .to_json()
                .map_err(|e| SyncroError::Config(format!("cannot encode the request: {e}")))?;
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(route, e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(route, e))?;
        let text = String::from_utf8_lossy(&bytes);
        if !(200..300).contains(&status) {
            let retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            return Err(SyncroError::Status {
                route,
                status,
                retry_after,
                body: ApiErrorBody::parse(&self.without_token(&text)),
            });
        }
        let decode_error = |message: String| SyncroError::Decode {
            route,
            status,
            message,
            body_snippet: truncate(&self.without_token(&text), SNIPPET).to_string(),
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => Ok((status, value)),
            Err(e) => {
                let content_type = headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                Err(if content_type.contains("json") {
                    decode_error(format!("invalid JSON: {e}"))
                } else {
                    decode_error(format!("not JSON (content type {content_type})"))
                })
            }
        }
    }

    /// A single record, unwrapped from `key` (or bare when `key` is `None`).
    pub(crate) async fn fetch_one<T: DeserializeOwned>(
        &self,
        route: Route,
        path: &str,
        key: Option<&str>,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<T> {
        let value = self.execute(route, path, &[], body).await?;
        let value = match key {
            Some(key) => take_key(route, value, key)?,
            None => value,
        };
        decode(route, value)
    }

    /// One page of a list wrapped as `{"<key>": [...], "meta": {...}}`.
    pub(crate) async fn fetch_page<T: DeserializeOwned>(
        &self,
        route: Route,
        path: &str,
        key: &str,
        mut query: Vec<(&'static str, String)>,
        page: u32,
    ) -> Result<Page<T>> {
        let number = page.max(1);
        query.push(("page", number.to_string()));
        let value = self.execute(route, path, &query, None).await?;
        let meta = match value.get("meta") {
            Some(Value::Null) | None => None,
            Some(meta) => Some(decode::<Meta>(route, meta.clone())?),
        };
        let items = decode(route, take_key(route, value, key)?)?;
        Ok(Page {
            number,
            items,
            meta,
        })
    }
}

/// Sorts a transport failure: no connection (never sent), a timeout, or a broken connection
/// after sending. The URL is left out of the message.
fn transport_error(route: Route, e: reqwest::Error) -> SyncroError {
    let source = e.without_url();
    if source.is_connect() {
        SyncroError::Connect { route, source }
    } else if source.is_timeout() {
        SyncroError::Timeout { route, source }
    } else {
        SyncroError::ConnectionLost { route, source }
    }
}

/// Takes the wrapper key out of a 2xx answer (`{"ticket": {...}}` → `{...}`).
pub(crate) fn take_key(route: Route, value: Value, key: &str) -> Result<Value> {
    let mut map: Map<String, Value> = match value {
        Value::Object(map) => map,
        other => {
            return Err(SyncroError::Decode {
                route,
                status: 200,
                message: format!("expected an object with key `{key}`"),
                body_snippet: truncate(&other.to_string(), SNIPPET).to_string(),
            })
        }
    };
    map.remove(key).ok_or_else(|| SyncroError::Decode {
        route,
        status: 200,
        message: format!("the answer has no `{key}` key"),
        body_snippet: truncate(&Value::Object(map).to_string(), SNIPPET).to_string(),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(route: Route, value: Value) -> Result<T> {
    let snippet = || truncate(&value.to_string(), SNIPPET).to_string();
    match T::deserialize(&value) {
        Ok(v) => Ok(v),
        Err(e) => Err(SyncroError::Decode {
            route,
            status: 200,
            message: e.to_string(),
            body_snippet: snippet(),
        }),
    }
}

/// Object-safe JSON encoding, so `execute` takes any request body without being generic
/// (one copy of the pipeline instead of one per body type).
mod erased {
    pub trait Body {
        fn to_json(&self) -> serde_json::Result<Vec<u8>>;
    }

    impl<T: serde::Serialize> Body for T {
        fn to_json(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_checked() {
        let ok = |u: &str| api_root(u).expect("valid");
        assert_eq!(
            ok("https://acme.syncromsp.com"),
            "https://acme.syncromsp.com/api/v1"
        );
        assert_eq!(
            ok("https://acme.syncromsp.com/"),
            "https://acme.syncromsp.com/api/v1"
        );
        assert_eq!(
            ok("https://acme.syncromsp.com/api/v1/"),
            "https://acme.syncromsp.com/api/v1"
        );
        assert_eq!(
            ok("http://127.0.0.1:8900/api/v1"),
            "http://127.0.0.1:8900/api/v1"
        );
        for bad in [
            "acme.syncromsp.com",
            "ftp://acme.syncromsp.com",
            "https://user:pw@acme.syncromsp.com",
            "https://acme.syncromsp.com/api/v1?api_key=x",
        ] {
            assert!(
                matches!(api_root(bad), Err(SyncroError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = "tok-3c1f9e-very-secret";
        let config = ClientConfig::new("https://acme.syncromsp.com", SecretString::from(token));
        let client = SyncroClient::new(&config).expect("client");
        let shown = format!("{config:?} {client:?} {:?}", client.auth_header());
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn event_labels_fall_back_to_the_failure_kind() {
        let mut e = RequestEvent {
            route: Route::Me,
            status: Some(429),
            error: Some(ErrorKind::Status),
            elapsed: Duration::ZERO,
        };
        assert_eq!(e.status_label(), "429");
        e.status = None;
        e.error = Some(ErrorKind::Timeout);
        assert_eq!(e.status_label(), "timeout");
    }
}
