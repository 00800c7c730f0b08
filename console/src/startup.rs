//! Builds the application and runs it until told to stop.
//!
//! [`serve`] takes its listener, configuration and shutdown signal as parameters, so tests
//! run exactly the production code on a port of their own. Every answer carries the security
//! headers ([`SECURITY_HEADERS`]); the stylesheet is compiled into the binary.

use crate::config::ConsoleConfig;
use crate::pages::{
    audit, billing, configuration, dead_letters, mapping, overview, sign_in, silences, trail,
};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

/// Worker threads: a console serves a few people.
const WORKERS: usize = 2;
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// The stylesheet, in the binary: no outside host is asked for anything at run time.
pub const CSS: &str = include_str!("../assets/console.css");

/// The Content-Security-Policy: everything from this console only, no script at all (the
/// pages need none), no inline style, no framing, forms posting only here.
pub const CSP: &str = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// On every answer. The referrer policy is `same-origin`, not `no-referrer`: with
/// `no-referrer` Chromium sends `Origin: null` on the console's own form posts, which the
/// origin check ([`crate::guard`]) refuses; other hosts (a Syncro ticket link) get nothing.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CSP),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("x-content-type-options", "nosniff"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Runs the console on `listener` until `stop` completes, then lets in-flight requests
/// finish (at most ten seconds) and returns.
pub async fn serve(
    listener: TcpListener,
    config: ConsoleConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("listener has no address")?;
    let operators: Vec<String> = config
        .accounts
        .iter()
        .map(|a| {
            format!(
                "{}={}",
                a.label,
                shared::config::redact_url(&a.operator_url)
            )
        })
        .collect();
    let state = web::Data::new(AppState::new(config));
    if state.users.is_empty() {
        tracing::warn!("no console account configured: only operator tokens can sign in");
    }
    let server = build(listener, state)?;
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutdown requested: finishing in-flight requests");
        handle.stop(true).await;
    });
    tracing::info!(%address, accounts = %operators.join(", "), "console listening");
    server.await.context("server failed")?;
    tracing::info!("console stopped");
    Ok(())
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .body(CSS)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body("ok")
}

fn build(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> anyhow::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        let mut headers = DefaultHeaders::new();
        for (name, value) in SECURITY_HEADERS {
            headers = headers.add((name, value));
        }
        App::new()
            .wrap(headers)
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .route("/assets/console.css", web::get().to(stylesheet))
            .route("/healthz", web::get().to(healthz))
            .route("/sign-in", web::get().to(sign_in::show))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/", web::get().to(overview::show))
            .route("/pause", web::post().to(overview::pause))
            .route("/resume", web::post().to(overview::resume))
            .route("/mapping", web::get().to(mapping::show))
            .route("/mapping/set", web::post().to(mapping::set))
            .route("/mapping/ignore", web::post().to(mapping::ignore))
            .route("/mapping/remove", web::post().to(mapping::remove))
            .route("/silences", web::get().to(silences::show))
            .route("/silences", web::post().to(silences::create))
            .route("/silences/{id}/extend", web::post().to(silences::extend))
            .route("/silences/{id}/expire", web::post().to(silences::expire))
            .route("/trail", web::get().to(trail::show))
            .route("/audit", web::get().to(audit::show))
            .route("/configuration", web::get().to(configuration::show))
            .route(
                "/configuration/explain",
                web::post().to(configuration::explain),
            )
            .route("/billing", web::get().to(billing::show))
            .route("/dead-letters", web::get().to(dead_letters::show))
            .route(
                "/dead-letters/replay",
                web::get().to(dead_letters::actions::dry_run),
            )
            .route(
                "/dead-letters/replay",
                web::post().to(dead_letters::actions::replay),
            )
            .route(
                "/dead-letters/purge",
                web::get().to(dead_letters::actions::confirm),
            )
            .route(
                "/dead-letters/purge",
                web::post().to(dead_letters::actions::purge),
            )
            .route(
                "/dead-letters/{id}",
                web::get().to(dead_letters::letter::show),
            )
            .default_service(web::to(sign_in::not_found))
    })
    .listen(listener)
    .context("cannot listen")?
    .disable_signals()
    .workers(WORKERS)
    .client_request_timeout(Duration::from_secs(10))
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    Ok(server.run())
}
