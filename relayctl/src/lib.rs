//! `relayctl`: the operations tool of alert-relay, for the people who run it.
//!
//! One binary. Three command groups read the workers' own configuration file (`--config` or
//! `RELAY_CONFIG`), each in its module:
//! - [`dlq`]: the dead-letter queue: `stats`, `list`, `show`, `replay`, `purge` (the
//!   mechanism is `processor::deadletters`, which the operator API shares).
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
//! Five commands go through the operator API (`--api URL` or `RELAY_OPERATOR_URL`, default
//! `http://127.0.0.1:8081`; the bearer token only from `RELAY_OPERATOR_TOKEN`), which holds
//! the operator state; [`api`] is their client and maps its errors:
//! - [`trace`]: an alert's trail as a timeline (or a ticket's, an organization's).
//! - [`silence`]: silences and maintenance windows: `add`, `list`, `expire`, `extend`.
//! - [`pause`]: `pause` and `resume`, the fleet's switch.
//! - [`status`]: the fleet on one page; exit 1 when some part is down.
//!
//! [`context`] loads the configuration and opens what a command needs (broker, Redis, the
//! rate-limited Syncro client); [`text`] writes times, spans and tables. Every command
//! prints its result on stdout, problems on stderr, and exits 0 on success, 1 when something
//! failed, 2 on a usage or configuration error (for the operator API's commands: a missing
//! or refused token, or a request the API calls invalid).

pub mod api;
pub mod billing;
pub mod context;
pub mod dlq;
pub mod mappings;
pub mod pause;
pub mod queues;
pub mod send;
pub mod silence;
pub mod status;
pub mod storm;
pub mod text;
pub mod trace;
