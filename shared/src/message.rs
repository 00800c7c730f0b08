//! The queue message: one accepted alert as it travels through RabbitMQ.
//!
//! The body is a versioned envelope ([`AlertMessage`]) carrying the source it came from, when
//! ingest accepted it, and the validated alert. The schema version travels in a header so a
//! consumer can refuse a version it does not know before parsing; a new version is added
//! beside the old one, never by changing it. The headers, and turning a message into a queue
//! message and back, are [`crate::envelope`]'s.

use crate::alert::Alert;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Body of a schema-v1 message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMessage {
    /// The configured source that sent the alert; with `alert.id` it identifies the alert.
    pub source: String,
    /// When ingest accepted the alert (for latency and age figures).
    pub received_at: DateTime<Utc>,
    pub alert: Alert,
}

impl AlertMessage {
    pub fn new(source: &str, alert: Alert, received_at: DateTime<Utc>) -> Self {
        AlertMessage {
            source: source.to_string(),
            received_at,
            alert,
        }
    }

    /// The stable message id of this alert; see [`message_id`].
    pub fn message_id(&self) -> String {
        message_id(&self.source, &self.alert.id)
    }
}

/// A stable id for an alert, built from its source and its id: the same alert sent twice (a
/// sender's retry, a replay) gets the same id, which is what makes processing idempotent.
///
/// It is a hash rather than `source:id` so it has a fixed, header-safe length whatever the
/// sender's ids look like.
pub fn message_id(source: &str, alert_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0u8]);
    hasher.update(alert_id.as_bytes());
    let digest = hasher.finalize();
    format!("ar1-{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_separate_sources() {
        assert_eq!(message_id("demo", "evt-1"), message_id("demo", "evt-1"));
        assert_ne!(message_id("demo", "evt-1"), message_id("other", "evt-1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(message_id("ab", "c"), message_id("a", "bc"));
        assert_eq!(message_id("demo", "evt-1").len(), 36);
    }
}
