//! Billable-user counts: what a source posts to `POST /v1/billable-users/{source}`, validated
//! field by field like alerts, and the queue message that carries one count to the workers.
//!
//! A count says "organization X had N billable users as of T". Workers keep the newest count
//! per organization (by `as_of`, not by arrival), and the monthly sync writes it to Syncro.

use crate::alert::{Checker, FieldError, MAX_ID_LEN};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Routing key (on the `{prefix}.alerts` exchange) and queue suffix of counts.
pub const BILLABLE_USERS_KEY: &str = "billable-users";
/// The largest count accepted: far above any real organization, far below float trouble.
pub const MAX_BILLABLE_USERS: u64 = 10_000_000;

const FIELDS: &[&str] = &["organization_id", "billable_users", "as_of"];

/// One organization's billable-user count at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillableCount {
    /// The sender's organization id, as in alerts' `organization.id`.
    pub organization_id: String,
    pub billable_users: u64,
    /// When the count was taken: the newest `as_of` wins, whatever the arrival order.
    pub as_of: DateTime<Utc>,
}

impl BillableCount {
    /// Validates one count; `prefix` (e.g. `[2]` in a batch) is prepended to field paths.
    /// Every problem is returned, not just the first.
    pub fn from_json(value: &Value, prefix: &str) -> Result<BillableCount, Vec<FieldError>> {
        let Value::Object(obj) = value else {
            let field = if prefix.is_empty() { "(body)" } else { prefix };
            return Err(vec![FieldError::new(
                field,
                "a count must be a JSON object",
            )]);
        };
        let mut c = Checker {
            prefix,
            errors: Vec::new(),
        };
        for key in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            c.fail(
                key,
                "is not a field of a billable-user count (organization_id, billable_users, as_of)",
            );
        }
        let organization_id = c.string(obj, "organization_id", "organization_id", true, MAX_ID_LEN);
        let billable_users = users(&mut c, obj);
        let as_of = c.string(obj, "as_of", "as_of", true, 64).and_then(|text| {
            match DateTime::parse_from_rfc3339(&text) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    c.fail(
                        "as_of",
                        "must be an RFC 3339 timestamp, e.g. 2026-05-01T00:00:00Z",
                    );
                    None
                }
            }
        });
        match (organization_id, billable_users, as_of) {
            (Some(organization_id), Some(billable_users), Some(as_of)) if c.errors.is_empty() => {
                Ok(BillableCount {
                    organization_id,
                    billable_users,
                    as_of,
                })
            }
            _ => Err(c.errors),
        }
    }

    /// One count or a JSON array of them; all valid, or every problem of every count.
    pub fn batch_from_json(value: &Value) -> Result<Vec<BillableCount>, Vec<FieldError>> {
        let results: Vec<_> = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| BillableCount::from_json(item, &format!("[{i}]")))
                .collect(),
            one => vec![BillableCount::from_json(one, "")],
        };
        let mut counts = Vec::new();
        let mut problems = Vec::new();
        for result in results {
            match result {
                Ok(count) => counts.push(count),
                Err(fields) => problems.extend(fields),
            }
        }
        if problems.is_empty() {
            Ok(counts)
        } else {
            Err(problems)
        }
    }
}

fn users(c: &mut Checker<'_>, obj: &Map<String, Value>) -> Option<u64> {
    match obj.get("billable_users") {
        None | Some(Value::Null) => c.fail("billable_users", "is required"),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= MAX_BILLABLE_USERS => return Some(v),
            Some(_) => c.fail(
                "billable_users",
                format!("must be at most {MAX_BILLABLE_USERS}"),
            ),
            None => c.fail("billable_users", "must be a whole number, 0 or more"),
        },
        Some(_) => c.fail("billable_users", "must be a number"),
    }
    None
}

/// Body of a count on the queue (schema 1, like alerts' envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountMessage {
    /// The configured source that posted it.
    pub source: String,
    /// When ingest accepted it.
    pub received_at: DateTime<Utc>,
    pub count: BillableCount,
}

impl CountMessage {
    /// A stable id: the same count posted twice is the same message.
    pub fn message_id(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [
            self.source.as_str(),
            self.count.organization_id.as_str(),
            &self
                .count
                .as_of
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            &self.count.billable_users.to_string(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        format!("bu1-{}", hex::encode(&hasher.finalize()[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_count_and_a_batch_parse() {
        let one = json!({"organization_id": " org-1 ", "billable_users": 42, "as_of": "2026-05-01T10:00:00+02:00"});
        let count = BillableCount::from_json(&one, "").expect("valid");
        assert_eq!(count.organization_id, "org-1");
        assert_eq!(count.billable_users, 42);
        assert_eq!(count.as_of.to_rfc3339(), "2026-05-01T08:00:00+00:00");
        let batch = BillableCount::batch_from_json(&json!([one, one])).expect("valid batch");
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn every_bad_field_is_named_with_its_batch_index() {
        let bad = json!([
            {"organization_id": "ok", "billable_users": 1, "as_of": "2026-05-01T00:00:00Z"},
            {"organization_id": "", "billable_users": -1, "as_of": "yesterday", "users": 3},
            {"billable_users": 1.5},
            "nope"
        ]);
        let problems = BillableCount::batch_from_json(&bad).expect_err("invalid");
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "[1].users",
                "[1].organization_id",
                "[1].billable_users",
                "[1].as_of",
                "[2].organization_id",
                "[2].billable_users",
                "[2].as_of",
                "[3]"
            ]
        );
        let too_many = json!({"organization_id": "o", "billable_users": MAX_BILLABLE_USERS + 1, "as_of": "2026-05-01T00:00:00Z"});
        assert!(BillableCount::from_json(&too_many, "").is_err());
    }

    #[test]
    fn message_ids_are_stable() {
        let count = BillableCount {
            organization_id: "o".into(),
            billable_users: 3,
            as_of: Utc::now(),
        };
        let a = CountMessage {
            source: "s".into(),
            received_at: Utc::now(),
            count: count.clone(),
        };
        let mut b = a.clone();
        b.received_at = Utc::now() + chrono::Duration::seconds(5);
        assert_eq!(a.message_id(), b.message_id());
        b.count.billable_users = 4;
        assert_ne!(a.message_id(), b.message_id());
    }
}
