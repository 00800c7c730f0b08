//! `relayctl`: the operations tool of alert-relay, for the people who run it.
//!
//! One binary. Three command groups read the workers' own configuration file (`--config` or
//! `RELAY_CONFIG`), each in its module:
//! - [`dlq`]: the dead-letter queue: `stats`, `list`, `replay`, `purge`.
//! - [`mappings`]: organizations seen without a mapping, and Syncro customers suggested for
//!   them.
//! - [`billing`]: billable-user counts against Syncro recurring invoices: `preview`, `sync`.
//!
//! Three tools for the demo, the benchmarks and checking a deployment by hand need no
//! configuration file (flags and environment variables only):
//! - [`send`]: signs a JSON body as a webhook source would and posts it to ingest.
//! - [`storm`]: sends many signed alerts and, against the Syncro simulator, reports what they
//!   became (tickets, notes, Syncro calls, losses, duplicates).
//! - [`queues`]: message counts of a deployment's queues; deletes them for clean-up.
//!
//! [`context`] loads the configuration and opens what a command needs (broker, Redis, the
//! rate-limited Syncro client); every command prints its result on stdout, problems on
//! stderr, and exits 0 on success, 1 when something failed, 2 on a usage or configuration
//! error.

pub mod billing;
pub mod context;
pub mod dlq;
pub mod mappings;
pub mod queues;
pub mod send;
pub mod storm;
