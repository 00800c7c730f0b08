//! Wires a worker together and runs it until told to stop: Redis store and shared rate
//! limiter, the rate-limited Syncro client, the broker (with the retry queues), the handler,
//! the consumer loop, the operator state ([`crate::steer`]: silences, pause, the trail, the
//! fleet's duties), and the metrics endpoint; with a configuration file, SIGHUP reloads it
//! ([`crate::config::reload`]). Parked alerts are released at start, after every reload,
//! and whenever the console's mappings this worker reads route differently.

use crate::config::reload::ConfigHandle;
use crate::config::ProcessorConfig;
use crate::handler::{Handler, Services};
use crate::metrics::Metrics;
use crate::steer::Steering;
use crate::store::ratelimit::limited_client;
use crate::store::ratelimit::RateLimiter;
use crate::store::Store;
use crate::worker::consumer::Consumer;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use shared::amqp::{Broker, BrokerOptions, Topology};
use shared::config::Settings;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Runs one worker until `shutdown` completes, then drains and returns.
pub async fn run(
    settings: Settings,
    config: ProcessorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_reloadable(settings, config, shutdown, None).await
}

/// [`run`], and with `config_file` set, SIGHUP re-reads that file ([`crate::config::reload`]).
pub async fn run_reloadable(
    settings: Settings,
    config: ProcessorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::with_retry_tiers(&config.worker.retry_tiers()));
    let store = Store::connect(&settings.redis, &settings.prefix)?
        .counting_takeovers(metrics.lease_takeovers.clone())
        .counting_data_losses(metrics.redis_data_losses.clone())
        .counting_master_changes(metrics.redis_master_changes.clone());
    let presence = tokio::spawn(store.clone().keep_presence());
    let limiter = RateLimiter::from_settings(store.clone(), &settings.syncro);
    let syncro = limited_client(&settings, Some(limiter), metrics.clone())?;
    let topology = Topology::new(&settings.prefix).with_retry_tiers(&config.worker.retry_tiers());
    let broker = Broker::start(BrokerOptions {
        url: settings.amqp.url.clone(),
        topology,
        publish_channels: 2,
        max_backoff: Duration::from_millis(settings.amqp.reconnect_max_backoff_ms),
        connection_name: format!("alert-relay processor ({})", settings.prefix),
    });
    let metrics_listen = config.worker.metrics_listen;
    let server = metrics_server(
        metrics_listen,
        metrics.clone(),
        broker.clone(),
        store.clone(),
    )?;
    let server_handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(metrics = %metrics_listen, prefix = %settings.prefix, "processor starting");

    let billing = crate::billing::spawn(
        Arc::new(config.billing.clone()),
        store.clone(),
        syncro.clone(),
        broker.clone(),
        metrics.clone(),
    );
    let (steering, steering_tasks) = Steering::start(&settings)?;
    let duty_settings = crate::steer::duties::DutySettings {
        retention_days: settings.postgres.trail_retention_days,
        feeds: settings
            .sources
            .iter()
            .map(|(name, source)| (name.clone(), source.expected_interval_secs))
            .collect(),
    };
    let duties = tokio::spawn(crate::steer::duties::run(
        steering.clone(),
        store.clone(),
        broker.clone(),
        duty_settings,
    ));
    let reporting = tokio::spawn(crate::steer::report(
        steering.clone(),
        metrics.clone(),
        store.clone(),
        broker.clone(),
    ));
    let (stopping_steering, stopping_store) = (steering.clone(), store.clone());
    let config = Arc::new(ConfigHandle::new(config));
    let background = tokio::spawn(release_and_reload(
        broker.clone(),
        store.clone(),
        config.clone(),
        metrics.clone(),
        settings,
        config_file,
        steering.watch.clone(),
    ));
    let handler = Handler::new(Services {
        config,
        store,
        syncro,
        metrics,
        steering,
    });
    let consumer = Consumer {
        handler,
        broker: broker.clone(),
    };
    let result = consumer.run(shutdown).await;
    background.abort();
    duties.abort();
    reporting.abort();
    crate::steer::deregister(&stopping_steering, &stopping_store).await;
    steering_tasks.finish(Duration::from_secs(5)).await;
    presence.abort();
    billing.stop().await;
    server_handle.stop(true).await;
    let _ = server_task.await;
    broker.close().await;
    tracing::info!("processor stopped");
    result
}

/// Releases parked alerts at start (once the console's mappings are read, at most
/// [`FIRST_READ`] later); then, until aborted, reloads the configuration on every SIGHUP (with
/// a file) and releases again after each reload that took and each new snapshot of the
/// console's mappings ([`follow_console`]).
///
/// Every worker whose snapshot changed runs a pass (one at a time, under the fleet's lease):
/// a worker that had not yet read the change may have parked a released alert again, and
/// its own pass, after its view changed, releases it.
async fn release_and_reload(
    broker: Broker,
    store: Store,
    config: Arc<ConfigHandle>,
    metrics: Arc<Metrics>,
    settings: Settings,
    config_file: Option<PathBuf>,
    watch: opstate::watch::Watch,
) {
    use tokio::signal::unix::{signal, SignalKind};
    // Listen before the first pass, so a SIGHUP sent meanwhile is not lost.
    let mut hangups = match &config_file {
        Some(_) => match signal(SignalKind::hangup()) {
            Ok(hangups) => Some(hangups),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; reload needs a restart");
                None
            }
        },
        None => None,
    };
    let changed = Arc::new(tokio::sync::Notify::new());
    let following = tokio::spawn(follow_console(
        config.clone(),
        watch.clone(),
        changed.clone(),
    ));
    let _stop_following = AbortOnDrop(following);
    watch.first_read(FIRST_READ).await;
    config.apply_view(&watch.current());
    crate::worker::parking::release_until_done(&broker, &store, &config, &metrics).await;
    loop {
        let release = tokio::select! {
            hangup = next_hangup(&mut hangups) => match (hangup, &config_file) {
                (true, Some(path)) => {
                    tracing::info!(path = %path.display(), "SIGHUP: reloading the configuration");
                    crate::config::reload::reload(path, &settings, &config, &metrics)
                }
                _ => {
                    hangups = None;
                    false
                }
            },
            _ = changed.notified() => {
                tracing::info!(
                    mappings = config.current().mapping.console.len(),
                    "the console's mappings changed; releasing parked alerts"
                );
                true
            }
        };
        if release {
            crate::worker::parking::release_until_done(&broker, &store, &config, &metrics).await;
        }
    }
}

/// How long the first release pass waits for the operator state's first read.
const FIRST_READ: Duration = Duration::from_secs(5);

/// Applies every new view's console mappings to the running configuration as soon as it is
/// read, and tells the release loop when they route differently (a change arriving during a
/// pass leaves one more pass due).
async fn follow_console(
    config: Arc<ConfigHandle>,
    mut watch: opstate::watch::Watch,
    changed: Arc<tokio::sync::Notify>,
) {
    while watch.changed().await {
        if config.apply_view(&watch.current()) {
            changed.notify_one();
        }
    }
}

/// Aborts its task when dropped (the release loop is aborted at shutdown; so is this).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The next SIGHUP (`false` once the stream ended); never, without one.
async fn next_hangup(hangups: &mut Option<tokio::signal::unix::Signal>) -> bool {
    match hangups {
        Some(hangups) => hangups.recv().await.is_some(),
        None => std::future::pending().await,
    }
}

/// `/metrics`, `/healthz` and `/readyz` (broker connected and Redis answering).
fn metrics_server(
    listen: std::net::SocketAddr,
    metrics: Arc<Metrics>,
    broker: Broker,
    store: Store,
) -> anyhow::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new((
                metrics.clone(),
                broker.clone(),
                store.clone(),
            )))
            .route(
                "/metrics",
                web::get().to(
                    |state: web::Data<(Arc<Metrics>, Broker, Store)>| async move {
                        HttpResponse::Ok()
                            .content_type(
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )
                            .body(state.0.encode())
                    },
                ),
            )
            .route(
                "/healthz",
                web::get()
                    .to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }),
            )
            .route(
                "/readyz",
                web::get().to(
                    |state: web::Data<(Arc<Metrics>, Broker, Store)>| async move {
                        let broker = state.1.is_connected();
                        let redis = state.2.ping().await.is_ok();
                        let body = serde_json::json!({"broker": broker, "redis": redis});
                        if broker && redis {
                            HttpResponse::Ok().json(body)
                        } else {
                            HttpResponse::ServiceUnavailable().json(body)
                        }
                    },
                ),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(listen)
    .with_context(|| format!("cannot listen on {listen} for metrics"))?
    .run();
    Ok(server)
}
