//! The message envelope: every `x-relay-*` header, how an alert becomes a queue message and
//! back, and the copy a worker makes for the retry, dead-letter or parked queue.
//!
//! Ingest, the processor and the dead-letter tools all read and write these headers; keeping
//! their names and the rules around them (what a copy keeps, how long an error text may be)
//! in one place is what stops the three from drifting apart.

use crate::amqp::topology::{header_i64, header_str};
use crate::amqp::{HeaderValue, Outgoing};
use crate::billing::{CountMessage, BILLABLE_USERS_KEY};
use crate::message::AlertMessage;
use chrono::{DateTime, SecondsFormat, Utc};
use lapin::types::FieldTable;

/// Header carrying the body's schema version, so a consumer can refuse a version it does not
/// know before parsing the body.
pub const SCHEMA_HEADER: &str = "x-relay-schema";
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;
/// Header carrying the source name (also in the body), for tools that read headers only.
pub const SOURCE_HEADER: &str = "x-relay-source";
/// Header carrying the sender's alert id (also in the body).
pub const ALERT_ID_HEADER: &str = "x-relay-alert-id";
/// Header: failed processing attempts so far (absent on a message fresh from ingest).
pub const ATTEMPTS_HEADER: &str = "x-relay-attempts";
/// Dead-letter header: why the message was given up on, for the operator.
pub const ERROR_HEADER: &str = "x-relay-error";
/// Dead-letter header: a short, stable label of the failure (e.g. `syncro_422`), for
/// counting and filtering.
pub const ERROR_KIND_HEADER: &str = "x-relay-error-kind";
/// Dead-letter header: when it was given up on (RFC 3339, seconds, UTC).
pub const FAILED_AT_HEADER: &str = "x-relay-failed-at";
/// Header `relayctl dlq replay` sets on a message it sent back to work.
pub const REPLAYED_AT_HEADER: &str = "x-relay-replayed-at";
/// Longest error text kept in [`ERROR_HEADER`]: the broker keeps headers in memory with
/// every message, and an upstream error page could be megabytes.
pub const MAX_ERROR_TEXT: usize = 1000;

/// Why a message is being set aside, written into the dead-letter headers of its copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// Short, stable label ([`ERROR_KIND_HEADER`]).
    pub kind: &'a str,
    /// Human-readable cause ([`ERROR_HEADER`]); cut to [`MAX_ERROR_TEXT`] characters.
    pub why: &'a str,
}

/// The queue message for one accepted alert: the JSON body, its stable message id, and the
/// schema, source and alert-id headers.
///
/// Serialising an [`AlertMessage`] does not fail in practice; the error is passed on rather
/// than unwrapped so a future field that can fail reaches the caller's error path.
pub fn encode(message: &AlertMessage, routing_key: &str) -> Result<Outgoing, serde_json::Error> {
    Ok(Outgoing {
        routing_key: routing_key.to_string(),
        message_id: message.message_id(),
        body: to_json(message)?,
        headers: vec![
            (SCHEMA_HEADER, HeaderValue::Int(SCHEMA_VERSION)),
            (SOURCE_HEADER, HeaderValue::Str(message.source.clone())),
            (ALERT_ID_HEADER, HeaderValue::Str(message.alert.id.clone())),
        ],
    })
}

/// The queue message for one billable-user count, routed to the counts queue: the same
/// schema and source headers as an alert (a count has no alert id).
pub fn encode_count(message: &CountMessage) -> Result<Outgoing, serde_json::Error> {
    Ok(Outgoing {
        routing_key: BILLABLE_USERS_KEY.to_string(),
        message_id: message.message_id(),
        body: to_json(message)?,
        headers: vec![
            (SCHEMA_HEADER, HeaderValue::Int(SCHEMA_VERSION)),
            (SOURCE_HEADER, HeaderValue::Str(message.source.clone())),
        ],
    })
}

/// A message body as JSON, written into a buffer sized for a typical alert message so it
/// is not grown (and copied) several times on the way, as `serde_json::to_vec`'s would be.
fn to_json(message: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::with_capacity(TYPICAL_BODY_BYTES);
    serde_json::to_writer(&mut body, message)?;
    Ok(body)
}

/// Room reserved for a message body: a canonical alert with its envelope is ~1 KB.
const TYPICAL_BODY_BYTES: usize = 1024;

/// Reads an alert message; the error says why it cannot be (it goes into [`ERROR_HEADER`]
/// when the message is dead-lettered as undecodable).
///
/// A message without a schema header is read as the current version: the header was added
/// for consumers to refuse unknown versions early, not to make old messages unreadable.
pub fn decode(body: &[u8], headers: &FieldTable) -> Result<AlertMessage, String> {
    if let Some(version) = header_i64(headers, SCHEMA_HEADER) {
        if version != SCHEMA_VERSION {
            return Err(format!(
                "schema version {version} is not supported by this processor"
            ));
        }
    }
    serde_json::from_slice(body)
        .map_err(|e| format!("the message body is not an alert message v1: {e}"))
}

/// Failed attempts so far: 0 when the header is absent or negative, and saturating rather
/// than wrapping on an absurd value, since the header comes from outside.
pub fn attempts(headers: &FieldTable) -> u32 {
    header_i64(headers, ATTEMPTS_HEADER).map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// The failure label of a dead-lettered message ([`ERROR_KIND_HEADER`]).
pub fn error_kind(headers: &FieldTable) -> Option<String> {
    header_str(headers, ERROR_KIND_HEADER)
}

/// The failure text of a dead-lettered message ([`ERROR_HEADER`]).
pub fn error_text(headers: &FieldTable) -> Option<String> {
    header_str(headers, ERROR_HEADER)
}

/// When the message was dead-lettered ([`FAILED_AT_HEADER`]); `None` when absent or not
/// RFC 3339.
pub fn failed_at(headers: &FieldTable) -> Option<DateTime<Utc>> {
    header_str(headers, FAILED_AT_HEADER)
        .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| at.with_timezone(&Utc))
}

/// A copy of a delivered message for the retry, dead-letter or parked queue (or back to
/// work): the same id and body, the known headers (schema, source, alert id), the attempt
/// count and, with a `failure`, why, what kind and when.
///
/// Other headers are dropped on purpose: the broker's own (`x-death`, delivery counts)
/// describe the old delivery, not the copy. A missing schema header is written as the
/// current version, as [`decode`] reads it.
pub fn copy(
    body: &[u8],
    message_id: &str,
    headers: &FieldTable,
    routing_key: &str,
    attempts: u32,
    failure: Option<Failure<'_>>,
) -> Outgoing {
    let mut out = ingest_headers(headers);
    out.push((ATTEMPTS_HEADER, HeaderValue::Int(i64::from(attempts))));
    if let Some(Failure { kind, why }) = failure {
        // Cut by characters, not bytes, so the text stays valid UTF-8.
        let why: String = why.chars().take(MAX_ERROR_TEXT).collect();
        out.push((ERROR_HEADER, HeaderValue::Str(why)));
        out.push((ERROR_KIND_HEADER, HeaderValue::Str(kind.to_string())));
        out.push((FAILED_AT_HEADER, now()));
    }
    Outgoing {
        routing_key: routing_key.to_string(),
        message_id: message_id.to_string(),
        body: body.to_vec(),
        headers: out,
    }
}

/// The message id a delivery carries (ingest sets it on every message; empty when a
/// foreign publisher left it out).
pub fn message_id_of(delivery: &lapin::message::Delivery) -> String {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default()
}

/// A dead letter's copy for the work queue, replayed by an operator: the same id and body,
/// the headers ingest wrote, no attempt count (a replay starts over) and when it was
/// replayed ([`REPLAYED_AT_HEADER`]).
pub fn replayed(
    body: &[u8],
    message_id: &str,
    headers: &FieldTable,
    routing_key: &str,
) -> Outgoing {
    let mut copy = copy(body, message_id, headers, routing_key, 0, None);
    copy.headers.retain(|(key, _)| *key != ATTEMPTS_HEADER);
    copy.headers.push((REPLAYED_AT_HEADER, now()));
    copy
}

/// Now, as the failure and replay headers write it (RFC 3339, seconds, UTC).
fn now() -> HeaderValue {
    HeaderValue::Str(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The headers ingest wrote (schema, source, alert id), as every copy keeps them; a missing
/// schema header is written as the current version, as [`decode`] reads it.
fn ingest_headers(headers: &FieldTable) -> Vec<(&'static str, HeaderValue)> {
    let mut out: Vec<(&'static str, HeaderValue)> = vec![(
        SCHEMA_HEADER,
        HeaderValue::Int(header_i64(headers, SCHEMA_HEADER).unwrap_or(SCHEMA_VERSION)),
    )];
    for key in [SOURCE_HEADER, ALERT_ID_HEADER] {
        if let Some(value) = header_str(headers, key) {
            out.push((key, HeaderValue::Str(value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::amqp::broker::header_table;
    use lapin::types::{AMQPValue, ShortString};
    use serde_json::json;

    fn message() -> AlertMessage {
        let alert = Alert::from_json(
            &json!({
                "id": "evt-1",
                "event_type": "m365.impossible_travel",
                "severity": "high",
                "organization": {"id": "org-42"},
                "title": "Impossible travel",
                "occurred_at": "2026-05-01T12:00:00Z",
                "details": {"any": 1}
            }),
            "",
        )
        .expect("a valid alert");
        AlertMessage::new("demo", alert, Utc::now())
    }

    /// The headers a consumer receives for `outgoing`, converted as the broker sends them.
    fn received(outgoing: &Outgoing) -> FieldTable {
        header_table(&outgoing.headers)
    }

    #[test]
    fn an_encoded_alert_decodes_to_the_same_message() {
        let message = message();
        let outgoing = encode(&message, "work").expect("encodes");
        assert_eq!(outgoing.routing_key, "work");
        assert_eq!(outgoing.message_id, message.message_id());
        let headers = received(&outgoing);
        assert_eq!(header_i64(&headers, SCHEMA_HEADER), Some(SCHEMA_VERSION));
        assert_eq!(header_str(&headers, SOURCE_HEADER).as_deref(), Some("demo"));
        assert_eq!(
            header_str(&headers, ALERT_ID_HEADER).as_deref(),
            Some("evt-1")
        );
        assert_eq!(attempts(&headers), 0, "a fresh message has no attempts");
        let decoded = decode(&outgoing.body, &headers).expect("decodes");
        assert_eq!(decoded, message);
    }

    #[test]
    fn a_count_is_encoded_for_the_counts_queue_with_schema_and_source() {
        let count = CountMessage {
            source: "demo".into(),
            received_at: Utc::now(),
            count: crate::billing::BillableCount {
                organization_id: "org-42".into(),
                billable_users: 7,
                as_of: Utc::now(),
            },
        };
        let outgoing = encode_count(&count).expect("encodes");
        assert_eq!(outgoing.routing_key, BILLABLE_USERS_KEY);
        assert_eq!(outgoing.message_id, count.message_id());
        let headers = received(&outgoing);
        assert_eq!(header_i64(&headers, SCHEMA_HEADER), Some(SCHEMA_VERSION));
        assert_eq!(header_str(&headers, SOURCE_HEADER).as_deref(), Some("demo"));
        assert_eq!(header_str(&headers, ALERT_ID_HEADER), None);
        let decoded: CountMessage = serde_json::from_slice(&outgoing.body).expect("decodes");
        assert_eq!(decoded, count);
    }

    #[test]
    fn an_unknown_schema_version_is_refused_before_the_body_is_read() {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from(SCHEMA_HEADER), AMQPValue::LongLongInt(2));
        let why = decode(b"not even JSON", &headers).expect_err("refused");
        assert_eq!(why, "schema version 2 is not supported by this processor");
    }

    #[test]
    fn a_body_that_is_not_an_alert_message_is_refused_with_the_parser_error() {
        let why = decode(b"{}", &FieldTable::default()).expect_err("refused");
        assert!(
            why.starts_with("the message body is not an alert message v1: "),
            "{why}"
        );
    }

    #[test]
    fn a_copy_keeps_id_body_and_known_headers_and_counts_the_attempt() {
        let outgoing = encode(&message(), "work").expect("encodes");
        let mut headers = received(&outgoing);
        headers.insert(ShortString::from(ATTEMPTS_HEADER), AMQPValue::LongInt(1));
        headers.insert(ShortString::from("x-death"), AMQPValue::LongInt(3));
        let copy = copy(
            &outgoing.body,
            &outgoing.message_id,
            &headers,
            "retry-1",
            2,
            None,
        );
        assert_eq!(copy.routing_key, "retry-1");
        assert_eq!(copy.message_id, outgoing.message_id);
        assert_eq!(copy.body, outgoing.body);
        let copied = received(&copy);
        assert_eq!(header_i64(&copied, SCHEMA_HEADER), Some(SCHEMA_VERSION));
        assert_eq!(header_str(&copied, SOURCE_HEADER).as_deref(), Some("demo"));
        assert_eq!(
            header_str(&copied, ALERT_ID_HEADER).as_deref(),
            Some("evt-1")
        );
        assert_eq!(attempts(&copied), 2);
        assert!(
            copied.inner().get("x-death").is_none(),
            "broker headers are dropped"
        );
        assert_eq!(error_kind(&copied), None, "no failure, no failure headers");
        assert_eq!(error_text(&copied), None);
        assert_eq!(failed_at(&copied), None);
    }

    #[test]
    fn a_replayed_copy_starts_over_and_says_when_it_was_replayed() {
        let outgoing = encode(&message(), "work").expect("encodes");
        let mut headers = received(&outgoing);
        headers.insert(ShortString::from(ATTEMPTS_HEADER), AMQPValue::LongInt(5));
        headers.insert(
            ShortString::from(ERROR_KIND_HEADER),
            AMQPValue::LongString("syncro_500".into()),
        );
        let replay = replayed(&outgoing.body, &outgoing.message_id, &headers, "work");
        assert_eq!(replay.message_id, outgoing.message_id);
        assert_eq!(replay.body, outgoing.body);
        let copied = received(&replay);
        assert_eq!(
            header_str(&copied, ALERT_ID_HEADER).as_deref(),
            Some("evt-1")
        );
        assert!(
            copied.inner().get(ATTEMPTS_HEADER).is_none(),
            "a replay starts over"
        );
        assert_eq!(
            error_kind(&copied),
            None,
            "the failure stays with the dead letter"
        );
        let at = header_str(&copied, REPLAYED_AT_HEADER).expect("replayed-at");
        assert!(DateTime::parse_from_rfc3339(&at).is_ok(), "{at}");
    }

    #[test]
    fn a_dead_letter_copy_says_why_what_kind_and_when() {
        let outgoing = encode(&message(), "work").expect("encodes");
        let before = Utc::now() - chrono::Duration::seconds(1);
        let copy = copy(
            &outgoing.body,
            &outgoing.message_id,
            &received(&outgoing),
            "dead",
            3,
            Some(Failure {
                kind: "syncro_422",
                why: "Syncro refused the ticket",
            }),
        );
        let copied = received(&copy);
        assert_eq!(attempts(&copied), 3);
        assert_eq!(error_kind(&copied).as_deref(), Some("syncro_422"));
        assert_eq!(
            error_text(&copied).as_deref(),
            Some("Syncro refused the ticket")
        );
        let at = failed_at(&copied).expect("an RFC 3339 time");
        assert!(at >= before && at <= Utc::now(), "{at}");
        let text = header_str(&copied, FAILED_AT_HEADER).expect("present");
        assert!(
            text.ends_with('Z') && !text.contains('.'),
            "seconds, UTC: {text}"
        );
    }

    #[test]
    fn a_long_error_text_is_cut_to_the_limit_in_characters() {
        let long = "é".repeat(MAX_ERROR_TEXT + 10);
        let copy = copy(
            b"{}",
            "ar1-x",
            &FieldTable::default(),
            "dead",
            1,
            Some(Failure {
                kind: "undecodable",
                why: &long,
            }),
        );
        let text = error_text(&received(&copy)).expect("present");
        assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
        assert!(text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_copy_of_a_message_without_schema_header_is_written_as_the_current_version() {
        let copy = copy(b"{}", "ar1-x", &FieldTable::default(), "parked", 0, None);
        let copied = received(&copy);
        assert_eq!(header_i64(&copied, SCHEMA_HEADER), Some(SCHEMA_VERSION));
        assert_eq!(header_str(&copied, SOURCE_HEADER), None);
    }

    #[test]
    fn attempts_are_zero_when_absent_or_negative_and_saturate_when_huge() {
        let with = |value: i64| {
            let mut headers = FieldTable::default();
            headers.insert(
                ShortString::from(ATTEMPTS_HEADER),
                AMQPValue::LongLongInt(value),
            );
            attempts(&headers)
        };
        assert_eq!(attempts(&FieldTable::default()), 0);
        assert_eq!(with(-4), 0);
        assert_eq!(with(5), 5);
        assert_eq!(with(i64::MAX), u32::MAX);
    }
}
