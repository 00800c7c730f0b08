//! The filters every dead-letter operation shares (`relayctl dlq`'s flags, the operator
//! API's query and body fields), and the time forms they accept.

use super::letter::Letter;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which dead letters an operation applies to; all given filters must match. Serialized as
/// the audit log records it (only the filters given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters {
    /// Only this organization (the alert's `organization.id`; `?` for undecodable bodies).
    #[serde(rename = "organization", skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Only this event type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Only this error kind (e.g. `syncro_422`, `undecodable`, `delivery-limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// Only messages that failed at or after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Only messages that failed before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Only the copies of this message id (`ar1-…`): one letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl Filters {
    /// Whether `letter` passes every filter. A letter without a failure time never passes a
    /// time filter: it cannot be said to be inside the range.
    pub fn matches(&self, letter: &Letter) -> bool {
        let equal =
            |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
        let after = self
            .since
            .is_none_or(|since| letter.failed_at.is_some_and(|at| at >= since));
        let before = self
            .until
            .is_none_or(|until| letter.failed_at.is_some_and(|at| at < until));
        equal(&self.org, &letter.organization)
            && equal(&self.message_id, &letter.message_id)
            && equal(&self.event_type, &letter.event_type)
            && equal(&self.error_kind, &letter.error_kind)
            && after
            && before
    }
}

/// An RFC 3339 time, or an age (`90s`, `30m`, `2h`, `3d`, `1w`) counted back from now.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time_at(text, Utc::now())
}

pub(crate) fn parse_time_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let refuse = || {
        format!("{text:?} is neither an RFC 3339 time (2026-05-01T10:00:00Z) nor an age such as 30m, 2h, 3d, 1w")
    };
    let unit_at = text.len().checked_sub(1).ok_or_else(refuse)?;
    let (amount, unit) = text.split_at(unit_at);
    let amount: i64 = amount.parse().map_err(|_| refuse())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(refuse()),
    };
    amount
        .checked_mul(seconds_per_unit)
        .filter(|s| *s >= 0)
        .and_then(chrono::Duration::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(refuse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_ages_counted_back_from_now() {
        let now = DateTime::parse_from_rfc3339("2026-05-10T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let at = |t: &str| parse_time_at(t, now).map(|t| t.to_rfc3339());
        assert_eq!(at("2h"), Ok("2026-05-10T10:00:00+00:00".into()));
        assert_eq!(at("3d"), Ok("2026-05-07T12:00:00+00:00".into()));
        assert_eq!(at("1w"), Ok("2026-05-03T12:00:00+00:00".into()));
        assert_eq!(at("45m"), Ok("2026-05-10T11:15:00+00:00".into()));
        assert_eq!(
            at("2026-05-01T10:00:00+02:00"),
            Ok("2026-05-01T08:00:00+00:00".into())
        );
        for bad in ["", "h", "2x", "-2h", "yesterday", "99999999999999w"] {
            assert!(at(bad).is_err(), "{bad:?} refused");
        }
    }
}
