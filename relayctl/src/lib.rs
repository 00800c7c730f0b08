//! `relayctl`: the operations tool of alert-relay, for the people who run it.
//!
//! One binary, one configuration file (the workers' own, `--config` or `RELAY_CONFIG`), and
//! three command groups, each in its module:
//! - [`dlq`]: the dead-letter queue: `stats`, `list`, `replay`, `purge`.
//! - [`mappings`]: organizations seen without a mapping, and Syncro customers suggested for
//!   them.
//! - [`billing`]: billable-user counts against Syncro recurring invoices: `preview`, `sync`.
//!
//! [`context`] loads the configuration and opens what a command needs (broker, Redis, the
//! rate-limited Syncro client); every command prints its result on stdout, problems on
//! stderr, and exits 0 on success, 1 when something failed, 2 on a usage or configuration
//! error.

pub mod billing;
pub mod context;
pub mod dlq;
pub mod mappings;
