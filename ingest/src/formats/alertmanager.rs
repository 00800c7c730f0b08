//! Prometheus Alertmanager webhook, version 4: each entry of `alerts` becomes one canonical
//! alert.
//!
//! | Alertmanager                         | canonical                                  |
//! |--------------------------------------|--------------------------------------------|
//! | `labels.alertname`                   | `event_type`                               |
//! | `labels.<severity_label>`            | `severity` (warning → medium, error → high, page → critical, none → info; absent → medium) |
//! | `labels.<organization_label>`        | `organization.id` (or the source's `default_organization`) |
//! | `annotations.summary` / `alertname`  | `title`                                    |
//! | `annotations.description`            | `description`                              |
//! | `fingerprint` + `startsAt`           | `id`: `am-<fingerprint>-<startsAt Unix s>`, `-resolved` appended when resolved, so the resolution is a separate alert and not a duplicate of the firing one |
//! | `status`                             | `status`                                   |
//! | `startsAt` (firing) / `endsAt` (resolved) | `occurred_at`                         |
//! | labels, annotations, URLs, receiver  | `details`                                  |

use super::FormatOptions;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use shared::alert::{Alert, AlertStatus, FieldError, Organization, Severity};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    version: String,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
    alerts: Vec<AmAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: String,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

pub fn parse(value: &Value, options: &FormatOptions) -> Result<Vec<Alert>, ApiError> {
    let webhook: Webhook = serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::invalid_payload(format!("not an Alertmanager webhook (version 4): {e}"))
    })?;
    if webhook.version != "4" {
        return Err(ApiError::invalid_alert(vec![FieldError::new(
            "version",
            format!(
                "Alertmanager webhook version {:?} is not supported; expected \"4\"",
                webhook.version
            ),
        )]));
    }
    super::all_or_problems(
        webhook
            .alerts
            .iter()
            .enumerate()
            .map(|(i, entry)| convert(&webhook, entry, &format!("alerts[{i}]"), options)),
    )
}

/// One `alerts[]` entry as a canonical alert, or every problem with it (at `at`).
fn convert(
    webhook: &Webhook,
    entry: &AmAlert,
    at: &str,
    options: &FormatOptions,
) -> Result<Alert, Vec<FieldError>> {
    let mut problems = Vec::new();
    let labelled = read_labels(entry, at, options, &mut problems);
    let timing = read_timing(entry, at, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let (title, description) = texts(entry, &labelled.event_type);
    Alert {
        id: alert_id(entry, &timing),
        event_type: labelled.event_type,
        severity: labelled.severity,
        organization: Organization {
            id: labelled.organization,
            name: None,
            domain: None,
        },
        title,
        description,
        occurred_at: timing.occurred_at(),
        respond_rule: None,
        ioc_rule: None,
        user: None,
        ip: None,
        device: None,
        status: timing.status,
        details: details(webhook, entry),
    }
    .validate(at)
}

/// What an entry's labels say about the alert.
struct Labelled {
    /// `alertname`: what happened.
    event_type: String,
    /// From the source's severity label; medium when the label is absent.
    severity: Severity,
    /// From the source's organization label, else its `default_organization`.
    organization: String,
}

/// Reads the alert's name, severity and organization from the entry's labels (an empty label
/// counts as absent), adding a problem for each that is missing or not understood.
fn read_labels(
    entry: &AmAlert,
    at: &str,
    options: &FormatOptions,
    problems: &mut Vec<FieldError>,
) -> Labelled {
    let label = |name: &str| {
        entry
            .labels
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let event_type = label("alertname").map(str::to_string).unwrap_or_else(|| {
        problems.push(FieldError::new(
            format!("{at}.labels.alertname"),
            "is required",
        ));
        String::new()
    });
    let severity = match label(&options.severity_label) {
        None => Severity::Medium,
        Some(text) => map_severity(text).unwrap_or_else(|| {
            problems.push(FieldError::new(
                format!("{at}.labels.{}", options.severity_label),
                "must be critical, high, medium, low, info, page, error, warning or none",
            ));
            Severity::Medium
        }),
    };
    let organization = label(&options.organization_label)
        .map(str::to_string)
        .or_else(|| options.default_organization.clone())
        .unwrap_or_else(|| {
            problems.push(FieldError::new(
                format!("{at}.labels.{}", options.organization_label),
                "is required (it names the organization; or set default_organization on the source)",
            ));
            String::new()
        });
    Labelled {
        event_type,
        severity,
        organization,
    }
}

/// Whether an entry fires or is resolved, and when.
struct Timing {
    status: AlertStatus,
    starts_at: DateTime<Utc>,
    /// `None` while the alert has not ended.
    ends_at: Option<DateTime<Utc>>,
}

impl Timing {
    /// When the reported event happened: the start of a firing alert, the end of a resolved
    /// one (its start when Alertmanager did not say when it ended).
    fn occurred_at(&self) -> DateTime<Utc> {
        match self.status {
            AlertStatus::Resolved => self.ends_at.unwrap_or(self.starts_at),
            AlertStatus::Firing => self.starts_at,
        }
    }
}

/// Reads the entry's status and times, adding a problem for each that is not understood.
fn read_timing(entry: &AmAlert, at: &str, problems: &mut Vec<FieldError>) -> Timing {
    let status = match entry.status.as_str() {
        "firing" => AlertStatus::Firing,
        "resolved" => AlertStatus::Resolved,
        _ => {
            problems.push(FieldError::new(
                format!("{at}.status"),
                "must be firing or resolved",
            ));
            AlertStatus::Firing
        }
    };
    let starts_at = parse_time(&entry.starts_at).unwrap_or_else(|| {
        problems.push(FieldError::new(
            format!("{at}.startsAt"),
            "must be an RFC 3339 timestamp",
        ));
        DateTime::<Utc>::UNIX_EPOCH
    });
    // Alertmanager sends the zero time 0001-01-01 for "not ended".
    let ends_at = entry
        .ends_at
        .as_deref()
        .and_then(parse_time)
        .filter(|t| t.timestamp() > 0);
    Timing {
        status,
        starts_at,
        ends_at,
    }
}

/// `am-<fingerprint>-<startsAt Unix s>`, `-resolved` appended when resolved: the same firing
/// sent again is a duplicate, its resolution a separate alert.
fn alert_id(entry: &AmAlert, timing: &Timing) -> String {
    let fingerprint = entry
        .fingerprint
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| labels_fingerprint(&entry.labels));
    let mut id = format!("am-{fingerprint}-{}", timing.starts_at.timestamp());
    if timing.status == AlertStatus::Resolved {
        id.push_str("-resolved");
    }
    id
}

/// The title (`summary`, else `title`, else the alert's name) and the description
/// (`description`, else `message`) from the entry's annotations.
fn texts(entry: &AmAlert, event_type: &str) -> (String, Option<String>) {
    let title = entry
        .annotations
        .get("summary")
        .or_else(|| entry.annotations.get("title"))
        .cloned()
        .unwrap_or_else(|| event_type.to_string());
    let description = entry
        .annotations
        .get("description")
        .or_else(|| entry.annotations.get("message"))
        .cloned();
    (title, description)
}

/// Everything else Alertmanager said, kept for the ticket note: the labels, the
/// annotations, and the URLs and receiver that lead back to it.
fn details(webhook: &Webhook, entry: &AmAlert) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("labels".into(), json!(entry.labels));
    details.insert("annotations".into(), json!(entry.annotations));
    for (key, value) in [
        ("generator_url", &entry.generator_url),
        ("external_url", &webhook.external_url),
        ("receiver", &webhook.receiver),
        ("group_key", &webhook.group_key),
    ] {
        if let Some(value) = value {
            details.insert(key.into(), json!(value));
        }
    }
    details
}

fn map_severity(text: &str) -> Option<Severity> {
    Severity::parse(text).or_else(|| match text.to_ascii_lowercase().as_str() {
        "page" | "fatal" => Some(Severity::Critical),
        "error" | "major" => Some(Severity::High),
        "warning" | "warn" | "minor" => Some(Severity::Medium),
        "none" | "informational" | "information" => Some(Severity::Info),
        _ => None,
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Stand-in for a missing fingerprint: a hash of the sorted label set, as Alertmanager's own
/// fingerprint is.
fn labels_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in labels {
        hasher.update(k.as_bytes());
        hasher.update([0xff]);
        hasher.update(v.as_bytes());
        hasher.update([0xff]);
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::PayloadFormat;

    fn options() -> FormatOptions {
        FormatOptions {
            format: PayloadFormat::Alertmanager,
            organization_label: "organization".into(),
            default_organization: None,
            severity_label: "severity".into(),
        }
    }

    fn webhook(alerts: Value) -> Value {
        json!({"version": "4", "status": "firing", "receiver": "relay", "groupKey": "{}:{}",
               "externalURL": "http://am:9093", "alerts": alerts})
    }

    #[test]
    fn each_alert_becomes_a_canonical_alert() {
        let body = webhook(json!([
            {"status": "firing", "labels": {"alertname": "DiskFull", "severity": "warning", "organization": "org-1"},
             "annotations": {"summary": "Disk full on db-1", "description": "95% used"},
             "startsAt": "2026-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc123"},
            {"status": "resolved", "labels": {"alertname": "DiskFull", "severity": "critical", "organization": "org-1"},
             "annotations": {}, "startsAt": "2026-05-01T10:00:00Z", "endsAt": "2026-05-01T11:00:00Z", "fingerprint": "abc123"}
        ]));
        let alerts = parse(&body, &options()).expect("valid");
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].event_type, "DiskFull");
        assert_eq!(alerts[0].severity, Severity::Medium);
        assert_eq!(alerts[0].title, "Disk full on db-1");
        assert_eq!(alerts[0].id, "am-abc123-1777629600");
        assert_eq!(alerts[1].id, "am-abc123-1777629600-resolved");
        assert_eq!(alerts[1].status, AlertStatus::Resolved);
        assert_eq!(alerts[1].title, "DiskFull");
        assert_eq!(alerts[1].occurred_at_rfc3339(), "2026-05-01T11:00:00Z");
    }

    #[test]
    fn missing_labels_are_named() {
        let body = webhook(json!([
            {"status": "firing", "labels": {"severity": "bogus"}, "startsAt": "2026-05-01T10:00:00Z"}
        ]));
        let err = parse(&body, &options()).expect_err("invalid");
        let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "alerts[0].labels.alertname",
                "alerts[0].labels.severity",
                "alerts[0].labels.organization"
            ]
        );
    }

    #[test]
    fn other_versions_are_refused() {
        let mut body = webhook(json!([]));
        body["version"] = json!("3");
        assert_eq!(
            parse(&body, &options()).expect_err("refused").code,
            "invalid_alert"
        );
    }
}
