//! The HTTP side: starting the server on a given listener, the request pipeline of `/api/v1`
//! (rate limit → faults → auth → endpoint → maybe drop), `/healthz` and the `/_admin` API.

use std::future::Future;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::ops::Deref;
use std::time::{Duration, Instant, SystemTime};

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{Options, RetryAfterFormat, SimConfig};
use crate::error::Result;
use crate::faults::{FaultSpec, Interception};
use crate::journal::{LogEntry, Outcome};
use crate::params::Query;
use crate::router;
use crate::sim::Sim;

/// The 401 body: Syncro documents this one for missing permissions; the simulator uses it for
/// a missing or wrong token too (syncro-api.md §1.2).
const NOT_AUTHORIZED: &str =
    "Not authorized. Please ask account admin to update your group permissions.";

/// A duplicate of the connection's socket, kept per connection so a handler can close the
/// connection without answering ("apply, then drop").
struct ConnSocket(socket2::Socket);

fn remember_socket(conn: &dyn std::any::Any, ext: &mut Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Ok(sock) = socket2::SockRef::from(tcp).try_clone() {
            ext.insert(ConnSocket(sock));
        }
    }
}

/// Closes the client's connection at once; whatever the handler returns afterwards is never
/// written, so the client sees a connection error and no response.
fn drop_connection(req: &HttpRequest) {
    if let Some(ConnSocket(sock)) = req.conn_data::<ConnSocket>() {
        // RST instead of FIN, so the client fails fast even if it would wait for more bytes.
        let _ = sock.set_linger(Some(Duration::ZERO));
        let _ = sock.shutdown(Shutdown::Both);
    }
}

/// A running simulator. Dereferences to [`Sim`] for the admin operations; stops on drop.
pub struct SimHandle {
    addr: SocketAddr,
    sim: Sim,
    server: ServerHandle,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the address the listener was bound to).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v1`, the base a Syncro client is given.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.base_url(), router::API_PREFIX)
    }

    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Stops the server without waiting for in-flight (e.g. hung) requests.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

impl Deref for SimHandle {
    type Target = Sim;

    fn deref(&self) -> &Sim {
        &self.sim
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future only waits for
        // it to finish, so dropping it here is fine.
        drop(self.server.stop(false));
    }
}

/// Starts the simulator on `listener` and returns at once. Must be called inside a Tokio
/// runtime; the server runs on its own worker threads.
pub fn spawn(listener: TcpListener, config: SimConfig) -> Result<SimHandle> {
    let addr = listener.local_addr()?;
    let sim = Sim::new(config.data, config.options)?;
    let data = web::Data::new(sim.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
            .configure(routes)
    })
    .workers(config.workers.max(1))
    .disable_signals()
    .shutdown_timeout(1)
    .on_connect(remember_socket)
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "syncro-sim server stopped with an error");
        }
    });
    tracing::info!(%addr, "syncro-sim listening");
    Ok(SimHandle {
        addr,
        sim,
        server: handle,
    })
}

/// Binds `127.0.0.1:0` and starts the simulator there (the usual way for a test).
pub fn spawn_local(config: SimConfig) -> Result<SimHandle> {
    spawn(TcpListener::bind(("127.0.0.1", 0))?, config)
}

/// Runs the simulator on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let handle = spawn(listener, config)?;
    shutdown.await;
    tracing::info!("syncro-sim shutting down");
    handle.stop().await;
    Ok(())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .service(
            web::scope("/_admin")
                .route("/requests", web::get().to(admin_requests))
                .route("/requests", web::delete().to(admin_clear_requests))
                .route("/counters", web::get().to(admin_counters))
                .route("/faults", web::get().to(admin_faults))
                .route("/faults", web::post().to(admin_add_fault))
                .route("/faults", web::delete().to(admin_clear_faults))
                .route("/faults/{id}", web::delete().to(admin_remove_fault))
                .route("/options", web::get().to(admin_options))
                .route("/options", web::patch().to(admin_patch_options))
                .route("/state", web::get().to(admin_state))
                .route("/tickets", web::get().to(admin_tickets))
                .route("/reset", web::post().to(admin_reset)),
        )
        .default_service(web::to(api));
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    bytes_response(status, body.to_string().into_bytes())
}

/// An answer whose body is JSON text already.
fn bytes_response(status: u16, body: Vec<u8>) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json; charset=utf-8")
        .body(body)
}

/// A body given as text: JSON when it parses as JSON, else `text/html` when it looks like a
/// page, else plain text.
fn text_response(status: u16, body: &str) -> HttpResponse {
    let content_type = if serde_json::from_str::<Value>(body).is_ok() {
        "application/json; charset=utf-8"
    } else if body.trim_start().starts_with('<') {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(content_type)
        .body(body.to_string())
}

fn retry_after_value(secs: u64, format: RetryAfterFormat) -> Option<HeaderValue> {
    let text = match format {
        RetryAfterFormat::Seconds => secs.to_string(),
        RetryAfterFormat::HttpDate => {
            httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs))
        }
    };
    HeaderValue::from_str(&text).ok()
}

/// A 429 as the rate limiter (or a burst fault) gives it.
fn too_many_requests(options: &Options, retry_after_secs: u64) -> HttpResponse {
    let mut response = text_response(429, &options.rate_limit_body);
    if options.retry_after {
        if let Some(v) = retry_after_value(retry_after_secs.max(1), options.retry_after_format) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// The answer of an `error` fault: JSON for a 500 as Rails gives it, an HTML proxy page for
/// gateway errors, as a load balancer in front of Syncro would send.
fn fault_error(
    status: u16,
    body: Option<&str>,
    retry_after_secs: Option<u64>,
    options: &Options,
) -> HttpResponse {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let default_body = match status {
        502..=504 => format!("<html><body><h1>{status} {reason}</h1></body></html>"),
        _ => json!({"status": status, "error": reason}).to_string(),
    };
    let mut response = text_response(status, body.unwrap_or(&default_body));
    if let Some(v) = retry_after_secs.and_then(|s| retry_after_value(s, options.retry_after_format))
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The token sent, in any of the three accepted forms: `Authorization: Bearer T`,
/// `Authorization: T` or `?api_key=T`.
fn sent_token<'a>(req: &'a HttpRequest, query: &'a Query) -> Option<&'a str> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            match v.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => v,
            }
        });
    from_header.or_else(|| query.get("api_key"))
}

/// The permissions the request's token lacks, or `None` for an unknown or missing token.
fn grant<'o>(req: &HttpRequest, query: &Query, options: &'o Options) -> Option<&'o [String]> {
    let header = sent_token(req, query).and_then(|t| options.denied_for(t));
    header.or_else(|| query.get("api_key").and_then(|t| options.denied_for(t)))
}

fn client_key(req: &HttpRequest, options: &Options) -> String {
    options
        .rate_limit_key_header
        .as_deref()
        .and_then(|h| req.headers().get(h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// Every request that is not `/healthz` or `/_admin`.
async fn api(req: HttpRequest, body: web::Bytes, sim: web::Data<Sim>) -> HttpResponse {
    let started = Instant::now();
    let options = sim.options();
    let method = req.method().as_str().to_string();
    let resolved = router::resolve(&method, req.path());
    let endpoint = resolved.as_ref().map(|r| r.endpoint);
    let query = Query::parse(req.query_string());
    let mut entry = LogEntry {
        seq: 0,
        at: chrono::Utc::now(),
        method: method.clone(),
        path: req.path().to_string(),
        route: endpoint.map(|e| e.name()),
        status: None,
        outcome: Outcome::Answered,
        duration_ms: 0.0,
        client: client_key(&req, &options),
        faults: Vec::new(),
        body: None,
    };
    let finish = |mut entry: LogEntry, status: Option<u16>, outcome: Outcome, limited: bool| {
        entry.status = status;
        entry.outcome = outcome;
        entry.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(method = %entry.method, path = %entry.path, status = ?status,
            outcome = ?outcome, "request");
        sim.record(entry, limited);
    };

    if let Err(wait) = sim.check_rate(&entry.client, &options) {
        let response = too_many_requests(&options, wait.as_secs_f64().ceil() as u64);
        finish(entry, Some(429), Outcome::Answered, true);
        return response;
    }

    let verdict = sim.evaluate_faults(&method, endpoint);
    entry.faults.clone_from(&verdict.struck);
    if !verdict.latency.is_zero() {
        tokio::time::sleep(verdict.latency).await;
    }
    match verdict.intercept {
        Some(Interception::Error {
            status,
            body,
            retry_after_secs,
        }) => {
            let response = fault_error(status, body.as_deref(), retry_after_secs, &options);
            finish(entry, Some(status), Outcome::Answered, false);
            return response;
        }
        Some(Interception::RateLimited { retry_after_secs }) => {
            let response = too_many_requests(&options, retry_after_secs);
            finish(entry, Some(429), Outcome::Answered, false);
            return response;
        }
        Some(Interception::Hang(duration)) => {
            finish(entry, None, Outcome::Hung, false);
            tokio::time::sleep(duration).await;
            drop_connection(&req);
            return HttpResponse::ServiceUnavailable().finish();
        }
        None => {}
    }

    let reply_status;
    let denied = grant(&req, &query, &options);
    let lacking = match (&resolved, denied) {
        (Some(r), Some(denied)) => r
            .endpoint
            .permission()
            .filter(|p| denied.iter().any(|d| d == p)),
        _ => None,
    };
    let response = if denied.is_none() || lacking.is_some() {
        reply_status = 401;
        json_response(401, &json!({"error": NOT_AUTHORIZED}))
    } else if let Some(resolved) = resolved {
        let parsed = if body.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Object(Default::default()))
        } else {
            serde_json::from_slice::<Value>(&body)
        };
        match parsed {
            Ok(value) => {
                if options.log_request_bodies && !body.is_empty() {
                    entry.body = Some(value.clone());
                }
                let denied = denied.unwrap_or_default();
                let reply = sim.run(
                    resolved.endpoint,
                    &resolved.ids,
                    &query,
                    &value,
                    &options,
                    denied,
                );
                reply_status = reply.status;
                bytes_response(reply.status, reply.body)
            }
            Err(_) => {
                reply_status = 400;
                json_response(
                    400,
                    &json!({"error": "There was a problem in the JSON you submitted"}),
                )
            }
        }
    } else {
        reply_status = 404;
        json_response(404, &json!({"message": "Not found"}))
    };

    if verdict.drop_after_apply {
        drop_connection(&req);
        finish(entry, Some(reply_status), Outcome::Dropped, false);
        return response;
    }
    finish(entry, Some(reply_status), Outcome::Answered, false);
    response
}

async fn healthz() -> HttpResponse {
    json_response(200, &json!({"status": "ok"}))
}

fn admin_error(status: u16, message: impl ToString) -> HttpResponse {
    json_response(status, &json!({"error": message.to_string()}))
}

fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[derive(Deserialize)]
struct LogQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

async fn admin_requests(sim: web::Data<Sim>, q: web::Query<LogQuery>) -> HttpResponse {
    let entries = sim.request_log(q.since.unwrap_or(0), q.limit.unwrap_or(usize::MAX));
    json_response(200, &json!({"requests": to_json(&entries)}))
}

async fn admin_clear_requests(sim: web::Data<Sim>) -> HttpResponse {
    sim.clear_requests();
    HttpResponse::NoContent().finish()
}

async fn admin_counters(sim: web::Data<Sim>) -> HttpResponse {
    let counters = sim.counters();
    let mut body = to_json(&counters);
    if let Value::Object(map) = &mut body {
        map.insert("total_429s".into(), json!(counters.total_429s()));
    }
    json_response(200, &body)
}

async fn admin_faults(sim: web::Data<Sim>) -> HttpResponse {
    json_response(200, &json!({"faults": to_json(&sim.faults())}))
}

async fn admin_add_fault(sim: web::Data<Sim>, body: web::Bytes) -> HttpResponse {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => return admin_error(400, format!("invalid fault: {e}")),
    };
    match sim.add_fault(spec) {
        Ok(id) => {
            let fault = sim.faults().into_iter().find(|f| f.id == id);
            json_response(201, &json!({"id": id, "fault": to_json(&fault)}))
        }
        Err(e) => admin_error(400, e),
    }
}

async fn admin_clear_faults(sim: web::Data<Sim>) -> HttpResponse {
    sim.clear_faults();
    HttpResponse::NoContent().finish()
}

async fn admin_remove_fault(sim: web::Data<Sim>, id: web::Path<u64>) -> HttpResponse {
    if sim.remove_fault(id.into_inner()) {
        HttpResponse::NoContent().finish()
    } else {
        admin_error(404, "no such fault")
    }
}

async fn admin_options(sim: web::Data<Sim>) -> HttpResponse {
    json_response(200, &to_json(&*sim.options()))
}

async fn admin_patch_options(sim: web::Data<Sim>, body: web::Bytes) -> HttpResponse {
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(400, format!("invalid JSON: {e}")),
    };
    match sim.patch_options(&patch) {
        Ok(options) => json_response(200, &to_json(&options)),
        Err(e) => admin_error(400, e),
    }
}

async fn admin_state(sim: web::Data<Sim>) -> HttpResponse {
    json_response(200, &to_json(&sim.state()))
}

#[derive(Deserialize)]
struct TicketsQuery {
    comment_contains: Option<String>,
}

/// `GET /_admin/tickets?comment_contains=TEXT`: the tickets one comment of which contains
/// TEXT, in seed form (`relayctl storm` finds a probe alert's ticket by its `relay-ref`).
async fn admin_tickets(sim: web::Data<Sim>, q: web::Query<TicketsQuery>) -> HttpResponse {
    let Some(text) = q.comment_contains.as_deref().filter(|t| !t.is_empty()) else {
        return admin_error(400, "comment_contains is required");
    };
    json_response(
        200,
        &json!({"tickets": to_json(&sim.tickets_with_comment(text))}),
    )
}

async fn admin_reset(sim: web::Data<Sim>) -> HttpResponse {
    match sim.reset() {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => admin_error(500, e),
    }
}
