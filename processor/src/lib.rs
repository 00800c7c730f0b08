//! alert-relay's processor: the workers that turn queued alerts into Syncro tickets and notes.
//!
//! - [`syncro`]: the typed Syncro REST API client (bearer token, timeouts, pagination, one
//!   classification of every outcome as retryable or permanent).
//! - [`config`]: [`config::ProcessorConfig`], the processor's sections parsed and validated
//!   with every problem at once.
//! - [`template`]: `{placeholder}` subject and note-title templates.
//! - [`rules`]: from an alert to a ticket plan (route, subject, group key, fields and the
//!   rule behind each) and the plain-text comment bodies.
//! - [`explain`]: the human-readable account of a plan (`processor explain`).
//! - [`checks`]: the online comparison of the configuration with the Syncro account.
//! - [`cli`]: the `check-config` and `explain` subcommands.
//! - [`store`]: the shared state in Redis (idempotency records, intents, group pointers and
//!   leases, unmapped organizations); [`lease`]: leases, and taking over a dead holder's at
//!   once; [`ratelimit`]: the fleet-wide Syncro budget (GCRA).
//! - [`enrich`]: contracts and devices (matching Syncro assets) on new tickets, and the
//!   `[contracts]` section.
//! - [`handler`]: one alert to exactly one ticket or note, with crash reconciliation;
//!   [`coalesce`]: alerts for one ticket batched into one note.
//! - [`reload`]: the running configuration and its reload on SIGHUP; [`parking`]: alerts of
//!   unmapped organizations held in the parked queue and released once they are mapped.
//! - [`consumer`]: the worker loop (ack, retry tiers, dead-letter, drain);
//!   [`metrics`]: its Prometheus metrics; [`startup`]: the wiring.
//! - [`billing`]: billable-user counts and the monthly sync onto Syncro recurring invoices.

pub mod billing;
pub mod checks;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod consumer;
pub mod enrich;
pub mod explain;
pub mod handler;
pub mod lease;
pub mod metrics;
pub mod parking;
pub mod ratelimit;
pub mod reload;
pub mod rules;
pub mod startup;
pub mod store;
pub mod syncro;
pub mod template;
