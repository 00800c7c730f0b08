//! HTTP routes, one file per endpoint family.

pub mod billable;
pub mod health;
pub mod heartbeats;
pub mod metrics;
pub mod webhooks;
