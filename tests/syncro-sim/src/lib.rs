//! syncro-sim: a faithful local simulator of the Syncro REST API v1 for alert-relay's tests,
//! benchmarks and demo. See `docs/syncro-simulator.md` for running it, the seed format, the
//! admin API and the decisions taken where Syncro's documentation is silent.
//!
//! - [`server`]: HTTP wiring: [`spawn`] on a given listener, the `/api/v1` request pipeline
//!   (rate limit → faults → auth → endpoint → maybe drop), `/healthz`, `/_admin`.
//! - [`sim`]: the shared state and the admin operations (faults, log, counters, reset, state,
//!   tickets by a comment's text).
//! - [`api`]: the endpoints themselves and Syncro's JSON shapes.
//! - [`router`]: method + path → endpoint, and the endpoint names used everywhere.
//! - [`model`] and [`store`]: the records (in seed form) and the live account.
//! - [`config`] and [`cli`]: options, seed loading, command line and environment.
//! - [`faults`], [`ratelimit`], [`journal`], [`pagination`], [`params`]: one concern each.

pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod faults;
pub mod journal;
pub mod model;
pub mod pagination;
pub mod params;
pub mod ratelimit;
pub mod router;
pub mod server;
pub mod sim;
pub mod store;

pub use config::{Options, RetryAfterFormat, SimConfig};
pub use error::{Result, SimError};
pub use faults::{FaultKind, FaultSpec};
pub use journal::{Counters, LogEntry, Outcome};
pub use server::{run, spawn, spawn_local, SimHandle};
pub use sim::{Sim, StateSnapshot};
pub use store::Counts;
