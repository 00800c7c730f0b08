//! opstate: alert-relay's durable operator state, kept in PostgreSQL: silences and
//! maintenance windows, the fleet's pause switch, each alert's trail, the sources'
//! heartbeats and the audit log of every operator action.
//!
//! - [`db`]: the lazy pool (every connection in the deployment's schema) and the migrations.
//! - [`silence`]: what a silence is, pure: its checks, its schedule, matching alerts.
//! - [`store`]: the tables, one module each; every operator change is written with its
//!   audit row and a bump of the fleet's generation in one transaction.
//! - [`watch`]: the workers' view (active silences, pause, console mappings), polled by generation, kept
//!   while PostgreSQL is away.
//! - [`trail`]: each alert's steps, written by a buffered writer that never makes an alert
//!   wait, searched by the operator API, and summed per hour for the console's overview.
//!
//! The alert path never waits on PostgreSQL: workers read [`watch::Watch`] and record to
//! [`trail::TrailWriter`], both in memory.

pub mod db;
pub mod silence;
pub mod store;
pub mod trail;
pub mod watch;

pub use db::{Db, DbError};
