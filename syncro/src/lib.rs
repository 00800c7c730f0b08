//! The Syncro REST API v1 client: used by the processor's workers, `relayctl` and the
//! contract tests. It knows nothing of alerts; it speaks Syncro.
//!
//! - [`client`]: [`SyncroClient`], one typed async method per operation over one request
//!   pipeline (bearer token, timeouts, loose error parsing, an observer for metrics).
//! - [`config`]: [`ClientConfig`], base URL, token ([`secrecy::SecretString`]) and timeouts.
//! - [`error`]: [`SyncroError`], [`ApiErrorBody`] and [`classify`], the one function that
//!   calls every failure retryable (with Syncro's `Retry-After` when sent) or permanent.
//! - [`priority`]: [`Priority`] and [`with_priority`]: what a request is for, read by the
//!   gate so a shared budget serves new incidents before a storm's notes.
//! - [`route`]: [`Route`], the operation names used for logs and metrics.
//! - [`pagination`]: [`Page`], [`Meta`] and [`collect_pages`].
//! - [`types`]: request and response types, tolerant of Syncro's loose typing.
//!
//! Facts and choices behind the shapes: `shared/syncro-api.md` and
//! `docs/syncro-simulator.md`.

pub mod client;
pub mod config;
pub mod error;
pub mod operations;
pub mod pagination;
pub mod priority;
pub mod route;
pub mod types;

pub use client::{Admission, RequestEvent, RequestGate, RequestObserver, Result, SyncroClient};
pub use config::ClientConfig;
pub use error::{classify, parse_retry_after, ApiErrorBody, Disposition, ErrorKind, SyncroError};
pub use pagination::{collect_pages, Meta, Page};
pub use priority::{with_priority, Class, Priority};
pub use route::Route;
pub use types::*;
