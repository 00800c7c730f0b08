//! One dead-lettered message as an operator sees it: whose alert, what failed, how often and
//! when, read from the headers the processor writes and, for messages RabbitMQ dead-lettered
//! by itself (the work queue's delivery limit), from `x-death`.
//!
//! Nothing here fails: an undecodable body or missing headers still give a letter (with `?`
//! where a value is unknown), so a poison message can be listed, counted and purged.
//! [`FullLetter`] adds what one letter's page shows: the headers an operator reads and the
//! body.

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
use std::collections::BTreeMap;

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

/// Longest body shown in full; a longer one is cut (as text) and said so.
pub const MAX_BODY_SHOWN: usize = 256 * 1024;

/// One letter in full: everything of [`Letter`], the headers an operator reads (every
/// `x-relay-*` header, and the broker's `x-death`, `x-first-death-*`, `x-last-death-*` and
/// `x-delivery-count`) and the body.
#[derive(Debug, Clone, Serialize)]
pub struct FullLetter {
    #[serde(flatten)]
    pub letter: Letter,
    /// Header name → its value as text (a table or list written out, a time in RFC 3339).
    pub headers: BTreeMap<String, String>,
    /// The body as JSON when it is JSON, else as text (bytes that are not UTF-8 replaced).
    pub body: serde_json::Value,
    pub body_is_json: bool,
    /// The body's size in bytes.
    pub body_bytes: usize,
    /// Whether the body was longer than [`MAX_BODY_SHOWN`] and is cut.
    pub body_truncated: bool,
}

impl FullLetter {
    /// Reads a delivered message in full; never fails.
    pub fn read(properties: &BasicProperties, body: &[u8]) -> FullLetter {
        let headers = properties
            .headers()
            .as_ref()
            .map(|table| {
                table
                    .inner()
                    .iter()
                    .filter(|(name, _)| of_interest(name.as_str()))
                    .map(|(name, value)| (name.to_string(), header_text(value)))
                    .collect()
            })
            .unwrap_or_default();
        let truncated = body.len() > MAX_BODY_SHOWN;
        let json = if truncated {
            None
        } else {
            serde_json::from_slice::<serde_json::Value>(body).ok()
        };
        let body_is_json = json.is_some();
        let shown = &body[..body.len().min(MAX_BODY_SHOWN)];
        FullLetter {
            letter: Letter::read(properties, body),
            headers,
            body: json.unwrap_or_else(|| {
                serde_json::Value::String(String::from_utf8_lossy(shown).into_owned())
            }),
            body_is_json,
            body_bytes: body.len(),
            body_truncated: truncated,
        }
    }
}

fn of_interest(name: &str) -> bool {
    name.starts_with("x-relay-")
        || name.starts_with("x-death")
        || name.starts_with("x-first-death")
        || name.starts_with("x-last-death")
        || name == "x-delivery-count"
}

/// A header's value as text.
fn header_text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Float(n) => n.to_string(),
        AMQPValue::Double(n) => n.to_string(),
        AMQPValue::Timestamp(seconds) => i64::try_from(*seconds)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339()),
        AMQPValue::FieldArray(items) => {
            let items: Vec<String> = items.as_slice().iter().map(header_text).collect();
            format!("[{}]", items.join(", "))
        }
        AMQPValue::FieldTable(table) => {
            let entries: Vec<String> = table
                .inner()
                .iter()
                .map(|(k, v)| format!("{}={}", k.as_str(), header_text(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => format!("{other:?}"),
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
    fn a_full_letter_shows_the_headers_of_interest_and_the_body() {
        let headers = table(&[
            (ERROR_KIND_HEADER, text("syncro_422")),
            ("x-delivery-count", AMQPValue::LongLongInt(3)),
            ("x-unrelated", text("not shown")),
        ]);
        let properties = BasicProperties::default().with_headers(headers);
        let full = FullLetter::read(&properties, br#"{"a": 1}"#);
        assert_eq!(full.headers.len(), 2);
        assert_eq!(full.headers["x-delivery-count"], "3");
        assert!(full.body_is_json);
        assert_eq!(full.body["a"], 1);
        let text = FullLetter::read(&properties, b"\xff plain");
        assert!(!text.body_is_json);
        assert_eq!(text.body, "\u{fffd} plain");
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
