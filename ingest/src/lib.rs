//! alert-relay's ingest: the front door for signed webhooks.
//!
//! A request goes through [`routes::webhooks`]: its source's [`verify::Verifier`] checks the
//! signature over the raw body, a [`formats`] adapter turns the body into validated canonical
//! alerts, and the shared broker publishes them with confirms; only then is 202 answered.
//! [`error`] maps every failure to a stable JSON error, [`metrics`] counts what happens, and
//! [`startup::run`] wires it together on a listener and shutdown signal it is given.

pub mod error;
pub mod formats;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod verify;
