//! The canonical alert, wire contract v1 (DESIGN.md §2), and its validation.
//!
//! Senders' JSON is validated field by field by [`Alert::from_json`], which names every
//! offending field at once rather than stopping at the first, so a sender fixes its payload in
//! one round trip. Only a validated [`Alert`] can be put on the queue. `text` holds the two
//! checks `Checker::string` runs on every free-text field (length in characters, control
//! characters), written for the speed of a path every alert takes.

mod text;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use text::{has_control, longer_than};

/// Longest accepted `id`: it becomes part of Redis keys and AMQP headers.
pub const MAX_ID_LEN: usize = 256;
/// Longest accepted short text field (event type, organization fields, rule ids, ...).
pub const MAX_SHORT_LEN: usize = 256;
/// Longest accepted `title`: it feeds ticket subjects, which Syncro shows in lists.
pub const MAX_TITLE_LEN: usize = 1024;
/// Longest accepted `description`.
pub const MAX_DESCRIPTION_LEN: usize = 32 * 1024;

/// How serious an alert is; maps to a Syncro priority in the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// Every severity, most serious first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Parses a severity case-insensitively.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the condition is still present (`firing`) or over (`resolved`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    #[default]
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// The customer organization the alert is about; `id` is what account mapping keys on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// A reference to a rule of the sender (a Respond rule or an IOC rule); overrides key on `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The device the alert names, used to attach the matching Syncro asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// A validated canonical alert. Construct it with [`Alert::from_json`] (senders' input) or
/// build it field by field in a format adapter and call [`Alert::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique per source: the idempotency key.
    pub id: String,
    pub event_type: String,
    pub severity: Severity,
    pub organization: Organization,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond_rule: Option<RuleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ioc_rule: Option<RuleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    #[serde(default)]
    pub status: AlertStatus,
    /// Extra fields of the sender, shown in the ticket note.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

/// One problem with one field of a sender's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the problem is, e.g. `[2].organization.id` (batch index first when batched).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Serialises timestamps the way they arrive on the wire: RFC 3339 in UTC.
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

const TOP_LEVEL_FIELDS: &[&str] = &[
    "id",
    "event_type",
    "severity",
    "organization",
    "title",
    "description",
    "occurred_at",
    "respond_rule",
    "ioc_rule",
    "user",
    "ip",
    "device",
    "status",
    "details",
];

/// Walks one JSON object, collecting every problem with its field path (also used for
/// billable-user counts, [`crate::billing`]).
pub(crate) struct Checker<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) errors: Vec<FieldError>,
}

impl Checker<'_> {
    fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    pub(crate) fn fail(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path(field);
        self.errors.push(FieldError::new(path, message));
    }

    /// A string field: `None` when absent or null (and an error if required).
    pub(crate) fn string(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        key: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(field, "is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let trimmed = s.trim();
                if trimmed.is_empty() {
                    if required {
                        self.fail(field, "must not be empty");
                    }
                    None
                } else if longer_than(trimmed, max) {
                    self.fail(field, format!("must be at most {max} characters"));
                    None
                } else if has_control(trimmed) {
                    self.fail(field, "must not contain control characters");
                    None
                } else {
                    Some(trimmed.to_string())
                }
            }
            Some(_) => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    fn object<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        field: &str,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        match obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(field, "is required");
                }
                None
            }
            Some(Value::Object(inner)) => Some(inner),
            Some(_) => {
                self.fail(field, "must be an object");
                None
            }
        }
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, known: &[&str], at: &str) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let field = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            self.fail(
                &field,
                "is not a field of the alert schema v1 (put extra data under `details`)",
            );
        }
    }

    fn rule(&mut self, obj: &Map<String, Value>, field: &str) -> Option<RuleRef> {
        let inner = self.object(obj, field, false)?;
        self.unknown_keys(inner, &["id", "name"], field);
        let id = self.string(inner, &format!("{field}.id"), "id", true, MAX_SHORT_LEN);
        let name = self.string(
            inner,
            &format!("{field}.name"),
            "name",
            false,
            MAX_SHORT_LEN,
        );
        id.map(|id| RuleRef { id, name })
    }
}

impl Alert {
    /// Validates one sender's alert. `prefix` is prepended to field paths (e.g. `[3]` for the
    /// fourth alert of a batch). Every problem is returned, not just the first.
    pub fn from_json(value: &Value, prefix: &str) -> Result<Alert, Vec<FieldError>> {
        let mut c = Checker {
            prefix,
            errors: Vec::new(),
        };
        let Value::Object(obj) = value else {
            let field = if prefix.is_empty() { "(body)" } else { prefix };
            return Err(vec![FieldError::new(
                field,
                "an alert must be a JSON object",
            )]);
        };
        c.unknown_keys(obj, TOP_LEVEL_FIELDS, "");

        let id = c.string(obj, "id", "id", true, MAX_ID_LEN);
        let event_type = c.string(obj, "event_type", "event_type", true, MAX_SHORT_LEN);
        let severity = c
            .string(obj, "severity", "severity", true, MAX_SHORT_LEN)
            .and_then(|s| {
                let parsed = Severity::parse(&s);
                if parsed.is_none() {
                    c.fail(
                        "severity",
                        "must be one of critical, high, medium, low, info",
                    );
                }
                parsed
            });
        let organization = c.object(obj, "organization", true).and_then(|org| {
            c.unknown_keys(org, &["id", "name", "domain"], "organization");
            let id = c.string(org, "organization.id", "id", true, MAX_SHORT_LEN);
            let name = c.string(org, "organization.name", "name", false, MAX_SHORT_LEN);
            let domain = c.string(org, "organization.domain", "domain", false, MAX_SHORT_LEN);
            id.map(|id| Organization { id, name, domain })
        });
        let title = c.string(obj, "title", "title", true, MAX_TITLE_LEN);
        let description = c.string(
            obj,
            "description",
            "description",
            false,
            MAX_DESCRIPTION_LEN,
        );
        let occurred_at = c
            .string(obj, "occurred_at", "occurred_at", true, MAX_SHORT_LEN)
            .and_then(|s| match DateTime::parse_from_rfc3339(&s) {
                // In UTC it must still be a 4-digit year, or it cannot be written back as
                // RFC 3339 and the processor could not read the queued message.
                Ok(t) if !(0..=9999).contains(&t.with_timezone(&Utc).year()) => {
                    c.fail(
                        "occurred_at",
                        "must fall between the years 0000 and 9999 in UTC",
                    );
                    None
                }
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    c.fail(
                        "occurred_at",
                        "must be an RFC 3339 timestamp, e.g. 2026-05-01T10:00:00Z",
                    );
                    None
                }
            });
        let respond_rule = c.rule(obj, "respond_rule");
        let ioc_rule = c.rule(obj, "ioc_rule");
        let user = c.string(obj, "user", "user", false, MAX_SHORT_LEN);
        let ip = c.string(obj, "ip", "ip", false, MAX_SHORT_LEN);
        let device = c.object(obj, "device", false).map(|dev| {
            c.unknown_keys(dev, &["name", "serial", "mac"], "device");
            Device {
                name: c.string(dev, "device.name", "name", false, MAX_SHORT_LEN),
                serial: c.string(dev, "device.serial", "serial", false, MAX_SHORT_LEN),
                mac: c.string(dev, "device.mac", "mac", false, MAX_SHORT_LEN),
            }
        });
        let status = match c.string(obj, "status", "status", false, MAX_SHORT_LEN) {
            None => AlertStatus::Firing,
            Some(s) if s.eq_ignore_ascii_case("firing") => AlertStatus::Firing,
            Some(s) if s.eq_ignore_ascii_case("resolved") => AlertStatus::Resolved,
            Some(_) => {
                c.fail("status", "must be firing or resolved");
                AlertStatus::Firing
            }
        };
        let details = c.object(obj, "details", false).cloned().unwrap_or_default();

        match (
            c.errors.is_empty(),
            id,
            event_type,
            severity,
            organization,
            title,
            occurred_at,
        ) {
            (
                true,
                Some(id),
                Some(event_type),
                Some(severity),
                Some(organization),
                Some(title),
                Some(occurred_at),
            ) => Ok(Alert {
                id,
                event_type,
                severity,
                organization,
                title,
                description,
                occurred_at,
                respond_rule,
                ioc_rule,
                user,
                ip,
                device: device.filter(|d| d != &Device::default()),
                status,
                details,
            }),
            _ => Err(c.errors),
        }
    }

    /// Re-checks an alert built by a format adapter against the same rules as senders' JSON.
    pub fn validate(self, prefix: &str) -> Result<Alert, Vec<FieldError>> {
        let value = serde_json::to_value(&self)
            .map_err(|e| vec![FieldError::new(prefix, format!("cannot be encoded: {e}"))])?;
        Alert::from_json(&value, prefix)
    }

    /// `occurred_at` as it is written on the wire.
    pub fn occurred_at_rfc3339(&self) -> String {
        self.occurred_at
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "id": "evt-1",
            "event_type": "m365.impossible_travel",
            "severity": "Critical",
            "organization": {"id": "org-42", "name": "Contoso Ltd", "domain": "contoso.com"},
            "title": "  Impossible travel for j.doe@contoso.com ",
            "occurred_at": "2026-05-01T12:00:00+02:00",
            "respond_rule": {"id": "rr-7"},
            "device": {"mac": "F8-75-A4-19-C6-22"},
            "details": {"any": 1}
        })
    }

    #[test]
    fn a_valid_alert_is_normalised() {
        let alert = Alert::from_json(&sample(), "").expect("valid");
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.title, "Impossible travel for j.doe@contoso.com");
        assert_eq!(alert.occurred_at_rfc3339(), "2026-05-01T10:00:00Z");
        assert_eq!(alert.status, AlertStatus::Firing);
        assert_eq!(alert.respond_rule.map(|r| r.id), Some("rr-7".into()));
    }

    #[test]
    fn every_offending_field_is_named() {
        let value = json!({
            "id": "",
            "severity": "urgent",
            "organization": {"name": "x"},
            "title": 5,
            "occurred_at": "yesterday",
            "status": "open",
            "colour": "red"
        });
        let errors = Alert::from_json(&value, "[1]").expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "[1].id",
            "[1].event_type",
            "[1].severity",
            "[1].organization.id",
            "[1].title",
            "[1].occurred_at",
            "[1].status",
            "[1].colour",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn a_serialised_alert_parses_back_to_itself() {
        let alert = Alert::from_json(&sample(), "").expect("valid");
        let again = alert.clone().validate("").expect("still valid");
        assert_eq!(alert, again);
    }

    #[test]
    fn a_non_object_is_rejected_with_its_position() {
        let errors = Alert::from_json(&json!([1]), "[0]").expect_err("invalid");
        assert_eq!(errors[0].field, "[0]");
    }

    /// Found by the `payload` fuzz target: a decimal with more digits than an f64 holds must
    /// decode to the same number in the processor as in ingest (serde_json's
    /// `float_roundtrip`), or the queue changes the alert.
    #[test]
    fn long_decimals_in_details_survive_the_queue() {
        // The sender's text, exactly as the fuzzer found it.
        let text = r#"{"id": "evt-1", "event_type": "e", "severity": "low",
            "organization": {"id": "org-42"}, "title": "t", "occurred_at": "2026-05-01T10:00:00Z",
            "details": {"n": 1.3333333333333333333333333333333333333333333333333333335}}"#;
        let parsed: Value = serde_json::from_str(text).expect("json");
        let alert = Alert::from_json(&parsed, "").expect("valid");
        let wire = serde_json::to_vec(&alert).expect("encodes");
        let decoded: Alert = serde_json::from_slice(&wire).expect("decodes");
        assert_eq!(decoded, alert);
    }

    /// Found while writing the `payload` fuzz target: an offset can push a timestamp of year
    /// 0000 or 9999 outside 4-digit years in UTC, which RFC 3339 cannot write, so the queued
    /// message could not be decoded.
    #[test]
    fn timestamps_outside_four_digit_utc_years_are_refused() {
        for at in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
            let mut value = sample();
            value["occurred_at"] = json!(at);
            let errors = Alert::from_json(&value, "").expect_err(at);
            assert_eq!(errors[0].field, "occurred_at", "{at}");
        }
        for at in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let mut value = sample();
            value["occurred_at"] = json!(at);
            let alert = Alert::from_json(&value, "").expect(at);
            let wire = serde_json::to_vec(&alert).expect("encodes");
            let decoded: Alert = serde_json::from_slice(&wire).expect("decodes");
            assert_eq!(decoded, alert);
        }
    }
}
