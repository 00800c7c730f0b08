//! Builds the application and runs it until told to stop.
//!
//! [`serve`] takes its listener, tokens and shutdown signal as parameters, so tests run
//! exactly the production code on a port of their own; [`run`] is what `main` does with
//! the configured address and the process environment.
//!
//! PostgreSQL need not be there at start: the pool is lazy, the migrations are retried in
//! the background (with a log line at each failed attempt), and until they ran every route
//! that needs the operator state answers 503 `postgres_unavailable`.

use crate::auth::Tokens;
use crate::error::{self, ApiError};
use crate::routes::{
    activity, audit, billing, configuration, dead_letters, explain, health, mappings, openapi,
    pause, silences, sources, status, trail, whoami,
};
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer, Resource};
use anyhow::Context;
use opstate::Db;
use shared::config::{self, Settings};
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Worker threads: the operator API serves a few people and tools, not a fleet.
const WORKERS: usize = 2;
/// How long in-flight requests may take to finish after the shutdown signal.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Runs the operator API on the configured address with the tokens of the process
/// environment, until `stop` completes. The settings are checked first (every problem at
/// once), as `main` does.
pub async fn run(
    settings: Settings,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tokens = crate::config::check(&settings, &config::process_env, Path::new("settings"))?;
    let listener = TcpListener::bind(&settings.operator.listen)
        .with_context(|| format!("cannot bind {}", settings.operator.listen))?;
    serve(listener, settings, tokens, None, stop).await
}

/// Runs the operator API on `listener` until `stop` completes, then stops accepting
/// connections, lets in-flight requests finish (at most ten seconds) and returns.
///
/// The settings must have passed [`crate::config::check`], which made `tokens`. With
/// `config_file` (the file the settings came from), SIGHUP reads the workers' sections of it
/// again, as a worker does ([`processor::config::reload`]): mapping, tickets, notes,
/// overrides; a bad file changes nothing.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    tokens: Tokens,
    config_file: Option<PathBuf>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = Db::lazy(&settings.postgres, &settings.prefix).context("PostgreSQL settings")?;
    let workers = crate::workers::Workers::new(&settings)?;
    let fleet = crate::fleet::Fleet::start(&settings, &workers.topology());
    let migrated = Arc::new(AtomicBool::new(false));
    let migration = tokio::spawn(migrate(db.clone(), migrated.clone()));
    let names = tokens.names();
    let state = web::Data::new(AppState::new(
        db.clone(),
        migrated,
        crate::config::limits(&settings),
        fleet,
        workers,
    ));
    let closing = state.clone();
    let prefix = settings.prefix.clone();
    let reloading =
        config_file.map(|path| tokio::spawn(reload_on_hangup(path, settings, state.clone())));

    let address = listener.local_addr().context("listener has no address")?;
    let server = build_server(listener, state, web::Data::new(tokens))?;
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutdown requested: no new connections; finishing in-flight requests");
        handle.stop(true).await;
    });
    tracing::info!(
        %address,
        prefix = %prefix,
        schema = %db.schema(),
        operators = ?names.iter().map(|(name, role)| format!("{name} ({})", role.as_str())).collect::<Vec<_>>(),
        "operator API listening"
    );
    let served = server.await.context("server failed");
    migration.abort();
    if let Some(reloading) = reloading {
        reloading.abort();
    }
    closing.fleet.close().await;
    closing.dead_letters.close().await;
    db.pool().close().await;
    tracing::info!("operator API stopped");
    served
}

/// Reads the workers' configuration again on every SIGHUP; `running` is what the API started
/// with (connection settings changed in the file are named in a warning and need a restart).
async fn reload_on_hangup(path: PathBuf, running: Settings, state: web::Data<AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; a changed file needs a restart");
            return;
        }
    };
    let metrics = processor::metrics::Metrics::new();
    while hangups.recv().await.is_some() {
        tracing::info!(path = %path.display(), "SIGHUP: reading the workers' configuration again");
        processor::config::reload::reload(&path, &running, &state.workers.config, &metrics);
    }
}

/// Applies the migrations, retrying until PostgreSQL takes them; then the API is ready.
async fn migrate(db: Db, migrated: Arc<AtomicBool>) {
    db.migrate_until_done(migrated, "the API answers 503 until it is")
        .await;
}

/// A resource whose other methods get a JSON 405 naming the allowed ones.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut response = actix_web::ResponseError::error_response(&ApiError::method_not_allowed(
            format!("use {allow}"),
        ));
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    }))
}

/// Builds the HTTP server (outside any `async` block: the builder is not `Send`).
fn build_server(
    listener: TcpListener,
    state: web::Data<AppState>,
    tokens: web::Data<Tokens>,
) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(tokens.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(error::MAX_BODY_BYTES)
                    .error_handler(error::json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
            .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
            .service(resource("/openapi.json", "GET").route(web::get().to(openapi::document)))
            .service(
                resource("/v1/silences", "GET, POST")
                    .route(web::get().to(silences::list))
                    .route(web::post().to(silences::add)),
            )
            .service(
                resource("/v1/silences/preview", "POST").route(web::post().to(silences::preview)),
            )
            .service(resource("/v1/silences/{id}", "GET").route(web::get().to(silences::get)))
            .service(
                resource("/v1/silences/{id}/expire", "POST")
                    .route(web::post().to(silences::expire)),
            )
            .service(
                resource("/v1/silences/{id}/extend", "POST")
                    .route(web::post().to(silences::extend)),
            )
            .service(
                resource("/v1/pause", "GET, POST")
                    .route(web::get().to(pause::show))
                    .route(web::post().to(pause::pause)),
            )
            .service(resource("/v1/resume", "POST").route(web::post().to(pause::resume)))
            .service(resource("/v1/trail", "GET").route(web::get().to(trail::search)))
            .service(resource("/v1/audit", "GET").route(web::get().to(audit::list)))
            .service(resource("/v1/sources", "GET").route(web::get().to(sources::list)))
            .service(resource("/v1/status", "GET").route(web::get().to(status::show)))
            .service(resource("/v1/whoami", "GET").route(web::get().to(whoami::show)))
            .service(resource("/v1/mappings", "GET").route(web::get().to(mappings::list)))
            .service(
                resource("/v1/mappings/{organization}", "PUT, DELETE")
                    .route(web::put().to(mappings::set))
                    .route(web::delete().to(mappings::remove)),
            )
            .service(
                resource("/v1/syncro/customers", "GET")
                    .route(web::get().to(mappings::customer_list)),
            )
            .service(
                resource("/v1/dead-letters", "GET").route(web::get().to(dead_letters::overview)),
            )
            .service(
                resource("/v1/dead-letters/replay", "POST")
                    .route(web::post().to(dead_letters::replay)),
            )
            .service(
                resource("/v1/dead-letters/purge", "POST")
                    .route(web::post().to(dead_letters::purge)),
            )
            .service(
                resource("/v1/dead-letters/{message_id}", "GET")
                    .route(web::get().to(dead_letters::show)),
            )
            .service(resource("/v1/activity", "GET").route(web::get().to(activity::show)))
            .service(resource("/v1/configuration", "GET").route(web::get().to(configuration::show)))
            .service(resource("/v1/explain", "POST").route(web::post().to(explain::explain)))
            .service(resource("/v1/billing", "GET").route(web::get().to(billing::show)))
            .default_service(web::to(not_found))
    })
    .listen(listener)
    .context("cannot listen")?
    .disable_signals()
    .workers(WORKERS)
    .client_request_timeout(Duration::from_secs(10))
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    Ok(server.run())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}
