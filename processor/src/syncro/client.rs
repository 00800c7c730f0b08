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
use super::pagination::{collect_pages, Meta, Page};
use super::route::Route;
use super::types::{
    AccountSettings, Asset, AssetFilter, Comment, Contract, Customer, CustomerFilter,
    LineItemFields, Me, NewComment, NewTicket, Schedule, ScheduleLineItem, Ticket, TicketFilter,
    TicketSettings, TicketUpdate,
};

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
    max_pages: u32,
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

    fn auth_header(&self) -> Result<HeaderValue> {
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
    fn without_token<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let token = self.token.expose_secret();
        if token.is_empty() || !text.contains(token) {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(text.replace(token, "[REDACTED]"))
        }
    }

    /// Sends one request and returns the JSON of a 2xx answer. Every outcome is reported to
    /// the observer and logged (route, status, time; never the token).
    async fn execute(
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
    async fn send(
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

    async fn execute_inner(
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
    async fn fetch_one<T: DeserializeOwned>(
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
    async fn fetch_page<T: DeserializeOwned>(
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

    // --- account -------------------------------------------------------------------------

    /// `GET /me`: who the token belongs to (a cheap credential check).
    pub async fn me(&self) -> Result<Me> {
        self.fetch_one(Route::Me, "/me", None, None).await
    }

    /// `GET /settings`: problem types, priorities, asset types.
    pub async fn settings(&self) -> Result<AccountSettings> {
        self.fetch_one(Route::Settings, "/settings", None, None)
            .await
    }

    /// `GET /tickets/settings`: the ticket statuses and technicians.
    pub async fn ticket_settings(&self) -> Result<TicketSettings> {
        self.fetch_one(Route::TicketSettings, "/tickets/settings", None, None)
            .await
    }

    // --- tickets ---------------------------------------------------------------------------

    pub async fn list_tickets(&self, filter: &TicketFilter, page: u32) -> Result<Page<Ticket>> {
        self.fetch_page(
            Route::ListTickets,
            "/tickets",
            "tickets",
            filter.pairs(),
            page,
        )
        .await
    }

    /// Every ticket matching `filter`, all pages.
    pub async fn all_tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>> {
        collect_pages(Route::ListTickets, self.max_pages, |p| {
            self.list_tickets(filter, p)
        })
        .await
    }

    pub async fn get_ticket(&self, id: i64) -> Result<Ticket> {
        self.fetch_one(
            Route::GetTicket,
            &format!("/tickets/{id}"),
            Some("ticket"),
            None,
        )
        .await
    }

    /// `POST /tickets`. Not idempotent: after a timeout or lost connection, look for the
    /// ticket before creating it again.
    pub async fn create_ticket(&self, ticket: &NewTicket) -> Result<Ticket> {
        self.fetch_one(
            Route::CreateTicket,
            "/tickets",
            Some("ticket"),
            Some(ticket),
        )
        .await
    }

    pub async fn update_ticket(&self, id: i64, update: &TicketUpdate) -> Result<Ticket> {
        let path = format!("/tickets/{id}");
        self.fetch_one(Route::UpdateTicket, &path, Some("ticket"), Some(update))
            .await
    }

    /// `POST /tickets/{id}/comment`. Not idempotent.
    pub async fn add_comment(&self, ticket_id: i64, comment: &NewComment) -> Result<Comment> {
        let path = format!("/tickets/{ticket_id}/comment");
        self.fetch_one(Route::AddComment, &path, Some("comment"), Some(comment))
            .await
    }

    /// `POST /tickets/{id}/comment` in a slot taken earlier with [`SyncroClient::admit`].
    pub async fn add_comment_admitted(
        &self,
        admission: Admission,
        ticket_id: i64,
        comment: &NewComment,
    ) -> Result<Comment> {
        let route = Route::AddComment;
        let path = format!("/tickets/{ticket_id}/comment");
        let value = self
            .send(admission, route, &path, &[], Some(comment))
            .await?;
        decode(route, take_key(route, value, "comment")?)
    }

    /// `GET /tickets/{id}/comments`, newest first.
    pub async fn list_comments(
        &self,
        ticket_id: i64,
        page: u32,
        per_page: Option<u32>,
    ) -> Result<Page<Comment>> {
        let query = per_page
            .map(|n| vec![("per_page", n.to_string())])
            .unwrap_or_default();
        let path = format!("/tickets/{ticket_id}/comments");
        self.fetch_page(Route::ListComments, &path, "comments", query, page)
            .await
    }

    /// Every comment of a ticket, newest first.
    pub async fn all_comments(
        &self,
        ticket_id: i64,
        per_page: Option<u32>,
    ) -> Result<Vec<Comment>> {
        collect_pages(Route::ListComments, self.max_pages, |p| {
            self.list_comments(ticket_id, p, per_page)
        })
        .await
    }

    // --- customers -------------------------------------------------------------------------

    pub async fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: u32,
    ) -> Result<Page<Customer>> {
        self.fetch_page(
            Route::ListCustomers,
            "/customers",
            "customers",
            filter.pairs(),
            page,
        )
        .await
    }

    pub async fn all_customers(&self, filter: &CustomerFilter) -> Result<Vec<Customer>> {
        collect_pages(Route::ListCustomers, self.max_pages, |p| {
            self.list_customers(filter, p)
        })
        .await
    }

    /// `GET /customers/{id}`: the detail view, with `contacts` and `contracts`.
    pub async fn get_customer(&self, id: i64) -> Result<Customer> {
        let path = format!("/customers/{id}");
        self.fetch_one(Route::GetCustomer, &path, Some("customer"), None)
            .await
    }

    /// `GET /customers/autocomplete?query=`: the quick partial-name lookup (one page).
    pub async fn autocomplete_customers(&self, query: &str) -> Result<Vec<Customer>> {
        let value = self
            .execute(
                Route::AutocompleteCustomers,
                "/customers/autocomplete",
                &[("query", query.to_string())],
                None,
            )
            .await?;
        decode(
            Route::AutocompleteCustomers,
            take_key(Route::AutocompleteCustomers, value, "customers")?,
        )
    }

    // --- contracts -------------------------------------------------------------------------

    /// `GET /contracts` (the only filter Syncro documents is the page).
    pub async fn list_contracts(&self, page: u32) -> Result<Page<Contract>> {
        self.fetch_page(
            Route::ListContracts,
            "/contracts",
            "contracts",
            Vec::new(),
            page,
        )
        .await
    }

    pub async fn all_contracts(&self) -> Result<Vec<Contract>> {
        collect_pages(Route::ListContracts, self.max_pages, |p| {
            self.list_contracts(p)
        })
        .await
    }

    /// A customer's contracts: Syncro cannot filter contracts by customer, so all pages are
    /// read and filtered here.
    pub async fn contracts_for_customer(&self, customer_id: i64) -> Result<Vec<Contract>> {
        let mut all = self.all_contracts().await?;
        all.retain(|k| k.customer_id == Some(customer_id));
        Ok(all)
    }

    /// `GET /contracts/{id}` (a bare object).
    pub async fn get_contract(&self, id: i64) -> Result<Contract> {
        let path = format!("/contracts/{id}");
        self.fetch_one(Route::GetContract, &path, None, None).await
    }

    // --- schedules (recurring invoices) ----------------------------------------------------

    pub async fn list_schedules(
        &self,
        customer_id: Option<i64>,
        page: u32,
    ) -> Result<Page<Schedule>> {
        let query = customer_id
            .map(|c| vec![("customer_id", c.to_string())])
            .unwrap_or_default();
        self.fetch_page(Route::ListSchedules, "/schedules", "schedules", query, page)
            .await
    }

    pub async fn all_schedules(&self, customer_id: Option<i64>) -> Result<Vec<Schedule>> {
        collect_pages(Route::ListSchedules, self.max_pages, |p| {
            self.list_schedules(customer_id, p)
        })
        .await
    }

    /// `GET /schedules/{id}`, with its `lines`.
    pub async fn get_schedule(&self, id: i64) -> Result<Schedule> {
        let path = format!("/schedules/{id}");
        self.fetch_one(Route::GetSchedule, &path, Some("schedule"), None)
            .await
    }

    /// `POST /schedules/{id}/add_line_item` (the route every spec version has). A line needs
    /// a `name` or a `product_id`. Not idempotent.
    pub async fn add_schedule_line_item(
        &self,
        schedule_id: i64,
        fields: &LineItemFields,
    ) -> Result<ScheduleLineItem> {
        let path = format!("/schedules/{schedule_id}/add_line_item");
        let route = Route::AddScheduleLineItem;
        self.fetch_one(route, &path, Some("schedule_line_item"), Some(fields))
            .await
    }

    /// `PUT /schedules/{id}/line_items/{line_item_id}`: only the fields set change. A quantity
    /// is ignored by Syncro on counted lines ([`ScheduleLineItem::is_counted`]).
    pub async fn update_schedule_line_item(
        &self,
        schedule_id: i64,
        line_item_id: i64,
        fields: &LineItemFields,
    ) -> Result<ScheduleLineItem> {
        let path = format!("/schedules/{schedule_id}/line_items/{line_item_id}");
        let route = Route::UpdateScheduleLineItem;
        self.fetch_one(route, &path, Some("schedule_line_item"), Some(fields))
            .await
    }

    // --- assets ----------------------------------------------------------------------------

    pub async fn list_assets(&self, filter: &AssetFilter, page: u32) -> Result<Page<Asset>> {
        self.fetch_page(
            Route::ListAssets,
            "/customer_assets",
            "assets",
            filter.pairs(),
            page,
        )
        .await
    }

    pub async fn all_assets(&self, filter: &AssetFilter) -> Result<Vec<Asset>> {
        collect_pages(Route::ListAssets, self.max_pages, |p| {
            self.list_assets(filter, p)
        })
        .await
    }

    /// `GET /customer_assets/{id}` (wrapped in `asset`).
    pub async fn get_asset(&self, id: i64) -> Result<Asset> {
        let path = format!("/customer_assets/{id}");
        self.fetch_one(Route::GetAsset, &path, Some("asset"), None)
            .await
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
fn take_key(route: Route, value: Value, key: &str) -> Result<Value> {
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

fn decode<T: DeserializeOwned>(route: Route, value: Value) -> Result<T> {
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
