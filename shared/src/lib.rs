//! alert-relay's common library: what ingest, the processor and the tools agree on.
//!
//! - [`alert`]: the canonical alert (wire contract v1) and its field-by-field validation.
//! - [`message`]: the versioned queue message around an alert, and its stable message id.
//! - [`envelope`]: every `x-relay-*` header; an alert to a queue message and back, and the
//!   copies made for the retry, dead-letter and parked queues.
//! - [`billing`]: billable-user counts (posted by sources) and their queue message.
//! - [`config`]: the one configuration file, layered defaults → file → environment.
//! - [`signing`]: webhook signature primitives (Standard Webhooks, `sha256=` HMAC);
//!   [`json`]: strict JSON for signed bodies (a repeated key is refused).
//! - [`amqp`]: the RabbitMQ topology and a self-healing publisher with confirms.
//! - [`backoff`]: capped, jittered exponential backoff for every loop that waits to retry.
//! - [`telemetry`]: logging set-up; [`shutdown`]: the signal every binary stops on.

pub mod alert;
pub mod amqp;
pub mod backoff;
pub mod billing;
pub mod config;
pub mod envelope;
pub mod error_body;
pub mod json;
pub mod message;
pub mod shutdown;
pub mod signing;
pub mod telemetry;
