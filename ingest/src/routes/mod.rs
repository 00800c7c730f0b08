//! HTTP routes, one file per endpoint family.

pub mod billable;
pub mod health;
pub mod metrics;
pub mod webhooks;
