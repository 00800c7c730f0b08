//! alert-relay's operator API: what `relayctl` and the console are built on. Silences and
//! maintenance windows, the fleet's pause switch, each alert's trail, the audit log, the
//! sources' activity and the fleet's status, over authenticated JSON, described by the
//! OpenAPI document `docs/openapi/operator.json` (served at `GET /openapi.json`).
//!
//! Modules, from the outside in (each depends only on those below it):
//!
//! - [`startup`]: builds the state and the HTTP app, migrates the operator state in the
//!   background, and [`startup::serve`]s on a listener and shutdown signal it is given.
//! - [`routes`]: one file per endpoint family; changes go through opstate's store, which
//!   audits them in their own transaction.
//! - [`auth`]: bearer tokens, their roles (read, operate, console) and the operator's name,
//!   which the audit log records (for the console's token, the person it acts for).
//! - [`state`]: what every handler shares ([`state::AppState`]).
//! - [`fleet`]: what the status reads beyond PostgreSQL: queue depths in RabbitMQ, the
//!   Syncro budget.
//! - [`reach`]: whether Syncro takes the workers' token, checked at most once a minute.
//! - [`deadletters`]: the dead-letter queue as the API reaches it: a broker of its own,
//!   started on first use, one operation at a time, at most `CAP` letters each.
//! - [`workers`]: the workers' side: their configuration, Redis state, and Syncro through
//!   their shared limiter.
//! - [`customers`]: the Syncro customers, cached a few minutes for the mapping wizard.
//! - [`config`]: what the operator needs of the configuration, checked at start.
//! - [`error`]: every failure mapped to a stable JSON error.

pub mod auth;
pub mod config;
pub mod customers;
pub mod deadletters;
pub mod error;
pub mod fleet;
pub mod reach;
pub mod routes;
pub mod startup;
pub mod state;
pub mod workers;

pub use startup::{run, serve};
