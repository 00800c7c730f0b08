//! Builds the application and runs it until told to stop.
//!
//! [`run`] takes its listener and shutdown signal as parameters, so tests run exactly the
//! production code on a port of their own and stop it when they like.

use crate::error::ApiError;
use crate::formats::FormatOptions;
use crate::metrics::Metrics;
use crate::operator_state::OperatorState;
use crate::routes;
use crate::state::{AppState, Source};
use crate::verify::Verifier;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer, Resource, Route};
use anyhow::Context;
use shared::amqp::{Broker, BrokerOptions, Topology};
use shared::config::{IngestSettings, Settings};
use std::collections::HashMap;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// How long the trail's last steps and the sources' last activity may take to be written
/// once the server stopped.
const OPERATOR_STATE_DEADLINE: Duration = Duration::from_secs(5);

/// Runs ingest on `listener` until `shutdown` completes, then stops accepting connections,
/// lets in-flight requests finish their publishes (bounded by `shutdown_timeout_secs`),
/// writes the trail's last steps (bounded by [`OPERATOR_STATE_DEADLINE`]), closes the broker
/// connection and returns.
///
/// PostgreSQL is never waited for at start: its schema is migrated in the background while
/// alerts are accepted. The settings must have passed [`Settings::validate_ingest`].
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (operator, mut operator_tasks) =
        OperatorState::start(&settings).context("the [postgres] settings cannot be used")?;
    let broker = Broker::start(BrokerOptions {
        url: settings.amqp.url.clone(),
        topology: Topology::new(&settings.prefix),
        publish_channels: settings.amqp.publish_channels,
        max_backoff: Duration::from_millis(settings.amqp.reconnect_max_backoff_ms),
        connection_name: format!("alert-relay ingest ({})", settings.prefix),
    });
    let tolerance = settings.ingest.timestamp_tolerance_secs;
    let metrics = Arc::new(Metrics::new());
    let sources: HashMap<String, Source> = settings
        .sources
        .iter()
        .map(|(name, source)| {
            (
                name.clone(),
                Source {
                    name: name.clone(),
                    verifier: Verifier::new(source, tolerance),
                    format: FormatOptions::new(source),
                    counters: metrics.for_source(name),
                },
            )
        })
        .collect();
    let accepted = sources
        .values()
        .map(|s| s.counters.alerts_accepted.clone())
        .collect();
    operator.report(&mut operator_tasks, broker.clone(), accepted);
    let ingest = &settings.ingest;
    let state = web::Data::new(AppState {
        sources,
        broker: broker.clone(),
        operator,
        metrics,
        max_body_bytes: ingest.max_body_bytes,
        body_timeout: Duration::from_millis(ingest.body_timeout_ms),
        confirm_timeout: Duration::from_millis(settings.amqp.confirm_timeout_ms),
        retry_after_secs: ingest.retry_after_secs,
        metrics_token: ingest.metrics_token.clone(),
    });

    let address = listener.local_addr().context("listener has no address")?;
    let server = build_server(listener, state, &settings.ingest)?;
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested: no new connections; finishing in-flight requests");
        handle.stop(true).await;
    });
    tracing::info!(%address, prefix = %settings.prefix, "ingest listening");
    let served = server.await.context("server failed");
    // The server's state (and with it every trail writer) is gone: what is buffered is last.
    operator_tasks.finish(OPERATOR_STATE_DEADLINE).await;
    broker.close().await;
    tracing::info!("ingest stopped");
    served
}

/// Builds the HTTP server (outside any `async` block: the builder is not `Send`).
fn build_server(
    listener: TcpListener,
    state: web::Data<AppState>,
    ingest: &IngestSettings,
) -> anyhow::Result<Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(only(
                "/healthz",
                web::get().to(routes::health::healthz),
                "GET",
            ))
            .service(only(
                "/readyz",
                web::get().to(routes::health::readyz),
                "GET",
            ))
            .service(only(
                "/metrics",
                web::get().to(routes::metrics::metrics),
                "GET",
            ))
            .service(only(
                "/v1/webhooks/{source}",
                web::post().to(routes::webhooks::receive),
                "POST",
            ))
            .service(only(
                "/v1/heartbeats/{source}",
                web::post().to(routes::heartbeats::receive),
                "POST",
            ))
            .service(only(
                "/v1/billable-users/{source}",
                web::post().to(routes::billable::receive),
                "POST",
            ))
            .default_service(web::to(not_found))
    })
    .listen(listener)
    .context("cannot listen")?
    .disable_signals()
    .client_request_timeout(Duration::from_millis(ingest.client_request_timeout_ms))
    .client_disconnect_timeout(Duration::from_secs(1))
    .max_connections(ingest.max_connections)
    .shutdown_timeout(ingest.shutdown_timeout_secs);
    if let Some(workers) = ingest.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}

/// A path served with one method (`route`); any other answers 405 naming `method`.
fn only(path: &str, route: Route, method: &'static str) -> Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(move || async move {
            Err::<HttpResponse, ApiError>(ApiError::method_not_allowed(method))
        }))
}
