//! What every request handler shares: the configured sources, the broker, the operator state
//! and the limits, built once by [`crate::startup`] and handed to the routes.

use crate::formats::FormatOptions;
use crate::metrics::{Metrics, SourceCounters};
use crate::operator_state::OperatorState;
use crate::verify::Verifier;
use secrecy::SecretString;
use shared::amqp::Broker;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One configured sender: how to verify it and how to read its payloads.
pub struct Source {
    /// The configured name: the `{source}` of the URL, the source of every message it sends,
    /// and a metrics label (kept from the configuration, never from the request).
    pub name: String,
    /// Checks the sender's signature or token before the body is read.
    pub verifier: Verifier,
    /// How this sender's body turns into canonical alerts.
    pub format: FormatOptions,
    /// This source's series of the request, acceptance and heartbeat counters.
    pub counters: SourceCounters,
}

/// What every request handler shares.
pub struct AppState {
    /// The configured senders by name.
    pub sources: HashMap<String, Source>,
    /// Where accepted alerts and counts are published, with confirms.
    pub broker: Broker,
    /// Where accepted alerts' trail steps and the sources' signs of life go, never waiting
    /// for PostgreSQL.
    pub operator: OperatorState,
    pub metrics: Arc<Metrics>,
    /// Largest accepted body: larger gets 413 before it is read whole.
    pub max_body_bytes: usize,
    /// Time a client has to send its whole body, so slow senders cannot hold buffers.
    pub body_timeout: Duration,
    /// How long a publish may wait for the broker's confirms before the answer is 503.
    pub confirm_timeout: Duration,
    /// `Retry-After` of a 503 when the broker is unavailable.
    pub retry_after_secs: u64,
    /// When set, `GET /metrics` requires it as a bearer token.
    pub metrics_token: Option<SecretString>,
}
