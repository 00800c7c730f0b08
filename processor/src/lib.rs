//! alert-relay's processor: the workers that turn queued alerts into Syncro tickets and notes.
//!
//! The folders, in the order one alert meets them:
//! - [`worker`]: the consumer loop (acknowledge, retry tiers, dead-letter, park, drain) and the
//!   release of parked alerts;
//! - [`handler`]: one alert to exactly one ticket or note: claim, decide, create, note (with
//!   coalescing), reconcile after a crash, enrich a new ticket with contract and asset;
//! - [`plan`]: the pure decision for one alert (customer, subject, fields and the rule behind
//!   each), the comment and note texts and `explain`;
//! - [`store`]: the shared state in Redis (idempotency records, intents, group pointers,
//!   leases, unmapped organizations) and the fleet-wide Syncro budget;
//! - [`config`]: every section of the configuration file, validated with every problem at
//!   once; reload on SIGHUP; the online check against the Syncro account;
//! - [`billing`]: billable-user counts and the monthly sync onto recurring invoices;
//! - [`deadletters`]: the dead-letter queue as operators see it (read, count, filter, the
//!   dry-run plan, replay, purge), shared by `relayctl dlq` and the operator API;
//! - [`steer`]: the operator state (silences, pause, the trail) as a worker sees it, and the
//!   fleet's duties (the ticket of each group a silence held, once it ends).
//!
//! Around them: [`matching`] suggests a Syncro customer for an unmapped organization (for
//! `relayctl mappings suggest` and the operator API), [`startup`] wires a worker together, [`cli`] holds the `check-config` and
//! `explain` subcommands, [`metrics`] the Prometheus metrics, [`template`] the `{placeholder}`
//! language of subjects and note titles (parsed by `config`, rendered by `plan`). The Syncro
//! client is its own crate, `syncro`.
//!
//! Dependencies point down this list and never back up: `worker → handler → plan`,
//! `handler → store`, `handler → steer`, everything → `config` and `metrics`.

pub mod billing;
pub mod cli;
pub mod config;
pub mod deadletters;
pub mod handler;
pub mod matching;
pub mod metrics;
pub mod plan;
pub mod startup;
pub mod steer;
pub mod store;
pub mod template;
pub mod worker;
