//! One dead-lettered message as an operator sees it: whose alert, what failed, how often and
//! when, read from the headers the processor writes and, for messages RabbitMQ dead-lettered
//! by itself (the work queue's delivery limit), from `x-death`.
//!
//! Nothing here fails: an undecodable body or missing headers still give a letter (with `?`
//! where a value is unknown), so a poison message can be listed, counted and purged.

use chrono::{DateTime, Utc};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde::Serialize;
use shared::amqp::topology::{header_i64, header_str, DELIVERY_LIMIT};
use shared::envelope::{
    ALERT_ID_HEADER, ATTEMPTS_HEADER, ERROR_HEADER, ERROR_KIND_HEADER, FAILED_AT_HEADER,
    SOURCE_HEADER,
};
use shared::message::AlertMessage;

/// Shown for a value the message does not tell.
pub const UNKNOWN: &str = "?";
/// Error kind of a message the broker dead-lettered after the work queue's delivery limit.
pub const DELIVERY_LIMIT_KIND: &str = "delivery-limit";

/// What is known of one dead-lettered message.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    /// The stable message id (`ar1-…`); empty when the message carries none.
    pub message_id: String,
    pub source: Option<String>,
    /// The sender's alert id.
    pub alert_id: Option<String>,
    /// The alert's `organization.id`, or `?` when the body cannot be decoded.
    pub organization: String,
    pub event_type: String,
    /// `x-relay-error-kind` (e.g. `syncro_422`, `undecodable`), or from `x-death`.
    pub error_kind: String,
    pub error: String,
    /// Failed processing attempts (`x-relay-attempts`).
    pub attempts: i64,
    /// When it was dead-lettered (`x-relay-failed-at`, else the `x-death` time).
    pub failed_at: Option<DateTime<Utc>>,
    /// The decoded body; `None` when it is not an alert message v1.
    #[serde(skip)]
    pub message: Option<AlertMessage>,
}

impl Letter {
    /// Reads a delivered message; never fails.
    pub fn read(properties: &BasicProperties, body: &[u8]) -> Letter {
        let headers = properties.headers().clone().unwrap_or_default();
        let message: Option<AlertMessage> = serde_json::from_slice(body).ok();
        let message_id = properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .or_else(|| message.as_ref().map(AlertMessage::message_id))
            .unwrap_or_default();
        let death = BrokerDeath::read(&headers);
        let (error_kind, error) = match (
            header_str(&headers, ERROR_KIND_HEADER),
            header_str(&headers, ERROR_HEADER),
        ) {
            (Some(kind), error) => (kind, error.unwrap_or_default()),
            (None, error) => match &death {
                Some(death) => (death.kind(), death.describe()),
                None => (UNKNOWN.to_string(), error.unwrap_or_default()),
            },
        };
        let failed_at = header_str(&headers, FAILED_AT_HEADER)
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc))
            .or_else(|| death.as_ref().and_then(|d| d.time));
        Letter {
            message_id,
            source: header_str(&headers, SOURCE_HEADER)
                .or_else(|| message.as_ref().map(|m| m.source.clone())),
            alert_id: header_str(&headers, ALERT_ID_HEADER)
                .or_else(|| message.as_ref().map(|m| m.alert.id.clone())),
            organization: message
                .as_ref()
                .map_or_else(|| UNKNOWN.to_string(), |m| m.alert.organization.id.clone()),
            event_type: message
                .as_ref()
                .map_or_else(|| UNKNOWN.to_string(), |m| m.alert.event_type.clone()),
            error_kind,
            error,
            attempts: header_i64(&headers, ATTEMPTS_HEADER).unwrap_or(0),
            failed_at,
            message,
        }
    }
}

/// The broker's own record of why it dead-lettered a message: the newest `x-death` entry.
struct BrokerDeath {
    reason: String,
    queue: String,
    time: Option<DateTime<Utc>>,
}

impl BrokerDeath {
    fn read(headers: &FieldTable) -> Option<BrokerDeath> {
        let AMQPValue::FieldArray(deaths) = headers.inner().get("x-death")? else {
            return None;
        };
        // The broker puts the most recent death first.
        let AMQPValue::FieldTable(newest) = deaths.as_slice().first()? else {
            return None;
        };
        let time = match newest.inner().get("time") {
            Some(AMQPValue::Timestamp(seconds)) => {
                DateTime::from_timestamp(i64::try_from(*seconds).ok()?, 0)
            }
            _ => None,
        };
        Some(BrokerDeath {
            reason: header_str(newest, "reason").unwrap_or_else(|| UNKNOWN.into()),
            queue: header_str(newest, "queue").unwrap_or_else(|| UNKNOWN.into()),
            time,
        })
    }

    fn kind(&self) -> String {
        match self.reason.as_str() {
            "delivery_limit" => DELIVERY_LIMIT_KIND.to_string(),
            other => format!("broker-{}", other.replace('_', "-")),
        }
    }

    fn describe(&self) -> String {
        match self.reason.as_str() {
            "delivery_limit" => format!(
                "delivered {DELIVERY_LIMIT} times from {} without being settled (a worker crash loop?); dead-lettered by RabbitMQ",
                self.queue
            ),
            reason => format!("dead-lettered by RabbitMQ from {} ({reason})", self.queue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{FieldArray, LongString, ShortString};

    fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
        let mut table = FieldTable::default();
        for (key, value) in entries {
            table.insert(ShortString::from(*key), value.clone());
        }
        table
    }

    fn text(s: &str) -> AMQPValue {
        AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
    }

    #[test]
    fn an_undecodable_body_still_gives_a_letter_with_its_kind() {
        let headers = table(&[
            (ERROR_KIND_HEADER, text("undecodable")),
            (ERROR_HEADER, text("not JSON")),
            (FAILED_AT_HEADER, text("2026-05-01T10:00:00Z")),
            (ATTEMPTS_HEADER, AMQPValue::LongLongInt(0)),
        ]);
        let properties = BasicProperties::default()
            .with_message_id("ar1-x".into())
            .with_headers(headers);
        let letter = Letter::read(&properties, b"\xff not json");
        assert_eq!(letter.organization, UNKNOWN);
        assert_eq!(letter.event_type, UNKNOWN);
        assert_eq!(letter.error_kind, "undecodable");
        assert_eq!(letter.message_id, "ar1-x");
        assert_eq!(
            letter.failed_at.map(|t| t.to_rfc3339()),
            Some("2026-05-01T10:00:00+00:00".into())
        );
    }

    #[test]
    fn a_message_the_broker_dead_lettered_is_read_from_x_death() {
        let death = table(&[
            ("reason", text("delivery_limit")),
            ("queue", text("relay.alerts.work")),
            ("time", AMQPValue::Timestamp(1_777_629_600)),
            ("count", AMQPValue::LongLongInt(1)),
        ]);
        let headers = table(&[(
            "x-death",
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        )]);
        let properties = BasicProperties::default().with_headers(headers);
        let letter = Letter::read(&properties, b"{}");
        assert_eq!(letter.error_kind, DELIVERY_LIMIT_KIND);
        assert!(
            letter.error.contains("relay.alerts.work"),
            "{}",
            letter.error
        );
        assert_eq!(letter.failed_at.map(|t| t.timestamp()), Some(1_777_629_600));
    }
}
