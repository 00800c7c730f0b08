//! alert-relay's common library: what ingest, the processor and the tools agree on.
//!
//! - [`alert`]: the canonical alert (wire contract v1) and its field-by-field validation.
//! - [`message`]: the versioned queue message around an alert, and its stable message id.
//! - [`billing`]: billable-user counts (posted by sources) and their queue message.
//! - [`config`]: the one configuration file, layered defaults → file → environment.
//! - [`signing`]: webhook signature primitives (Standard Webhooks, `sha256=` HMAC).
//! - [`amqp`]: the RabbitMQ topology and a self-healing publisher with confirms.
//! - [`telemetry`]: logging set-up; [`shutdown`]: the signal every binary stops on.

pub mod alert;
pub mod amqp;
pub mod billing;
pub mod config;
pub mod message;
pub mod shutdown;
pub mod signing;
pub mod telemetry;
