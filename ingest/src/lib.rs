//! alert-relay's ingest: the front door for signed webhooks.
//!
//! A request goes through [`routes::webhooks`]: its source's [`verify::Verifier`] checks the
//! signature over the raw body, a [`formats`] adapter turns the body into validated canonical
//! alerts, and the shared broker publishes them with confirms; only then is 202 answered, and
//! each alert's `received` step goes to the trail in the operator state. A source's signed
//! heartbeats ([`routes::heartbeats`]) say it is alive between alerts.
//!
//! Modules, from the outside in (each depends only on those below it):
//!
//! - [`startup`]: builds the state and the HTTP app, and [`startup::run`]s them on a
//!   listener and shutdown signal it is given.
//! - [`routes`]: one file per endpoint family; a route parses its content and builds its
//!   messages, and no route uses another.
//! - `intake`: the steps every signed endpoint shares: source lookup, request counting,
//!   content type and encoding, bounded body read, signature check, strict JSON, publish
//!   with confirms.
//! - [`state`]: what every handler shares ([`state::AppState`]) and one configured
//!   sender ([`state::Source`]).
//! - [`operator_state`]: the trail's steps and the sources' activity, written to PostgreSQL
//!   by background tasks so no request waits for it.
//! - [`verify`]: signature and token schemes; [`encoding`]: gzip bodies; [`formats`]:
//!   payload adapters.
//! - [`error`]: every failure mapped to a stable JSON error; [`metrics`]: what happens,
//!   counted.

pub mod encoding;
pub mod error;
pub mod formats;
mod intake;
pub mod metrics;
pub mod operator_state;
pub mod routes;
pub mod startup;
pub mod state;
pub mod verify;
