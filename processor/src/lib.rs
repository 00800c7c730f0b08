//! alert-relay's processor: the workers that turn queued alerts into Syncro tickets and notes.
//!
//! - [`syncro`]: the typed Syncro REST API client (bearer token, timeouts, pagination, one
//!   classification of every outcome as retryable or permanent).
//!
//! The consumer loop, handler and Redis store arrive with the processing work; for now the
//! binary only validates its configuration.

pub mod syncro;
