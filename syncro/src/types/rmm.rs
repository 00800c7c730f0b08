//! RMM alerts on assets (syncro-api.md §8.3): what `POST /rmm_alerts` sends and what the
//! list, the detail and the creation return.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::{self, Timestamp};

/// An RMM alert as `GET /rmm_alerts`, `GET /rmm_alerts/{id}` (`rmm_alert`) and
/// `POST /rmm_alerts` (`alert`) return it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RmmAlert {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub asset_id: Option<i64>,
    /// The UI's "Type".
    pub description: Option<String>,
    pub formatted_output: Option<String>,
    pub status: Option<String>,
    pub computer_name: Option<String>,
    /// True once cleared (`DELETE /rmm_alerts/{id}` is a soft resolve).
    #[serde(default, deserialize_with = "de::null_default")]
    pub resolved: bool,
    #[serde(default, deserialize_with = "de::null_default")]
    pub properties: Map<String, Value>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub updated_at: Option<Timestamp>,
}

/// What Syncro does with a new alert: the ticket automation's subject and body, whether
/// that ticket's comment is hidden or emailed, and whether automation runs at all.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RmmAlertProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_not_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_automation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tech: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_body: Option<String>,
}

/// The body of `POST /rmm_alerts` (flat, as the spec's request schema; the *answer* wraps
/// the alert in `alert`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct NewRmmAlert {
    pub customer_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<i64>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
    pub properties: RmmAlertProperties,
}

/// `GET /rmm_alerts?status=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RmmAlertStatus {
    /// Not cleared (Syncro's default).
    #[default]
    Active,
    Resolved,
    All,
}

impl RmmAlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RmmAlertStatus::Active => "active",
            RmmAlertStatus::Resolved => "resolved",
            RmmAlertStatus::All => "all",
        }
    }
}

/// How long `POST /rmm_alerts/{id}/mute` mutes an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MuteFor {
    OneHour,
    OneDay,
    TwoDays,
    OneWeek,
    TwoWeeks,
    OneMonth,
    Forever,
}

impl MuteFor {
    pub const ALL: [MuteFor; 7] = [
        MuteFor::OneHour,
        MuteFor::OneDay,
        MuteFor::TwoDays,
        MuteFor::OneWeek,
        MuteFor::TwoWeeks,
        MuteFor::OneMonth,
        MuteFor::Forever,
    ];

    /// Syncro's value: `1-hour`, `1-day`, `2-days`, `1-week`, `2-weeks`, `1-month`, `forever`.
    pub fn as_str(self) -> &'static str {
        match self {
            MuteFor::OneHour => "1-hour",
            MuteFor::OneDay => "1-day",
            MuteFor::TwoDays => "2-days",
            MuteFor::OneWeek => "1-week",
            MuteFor::TwoWeeks => "2-weeks",
            MuteFor::OneMonth => "1-month",
            MuteFor::Forever => "forever",
        }
    }

    /// The value for Syncro's name of it, if any.
    pub fn parse(text: &str) -> Option<MuteFor> {
        MuteFor::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_new_alert_sends_only_what_is_set() {
        let alert = NewRmmAlert {
            customer_id: 7,
            asset_id: Some(9),
            description: "EDR".into(),
            properties: RmmAlertProperties {
                subject: Some("s".into()),
                skip_automation: Some(true),
                ..RmmAlertProperties::default()
            },
            ..NewRmmAlert::default()
        };
        assert_eq!(
            serde_json::to_value(&alert).expect("json"),
            json!({"customer_id": 7, "asset_id": 9, "description": "EDR",
                   "properties": {"subject": "s", "skip_automation": true}})
        );
    }

    #[test]
    fn mute_durations_round_trip() {
        for m in MuteFor::ALL {
            assert_eq!(MuteFor::parse(m.as_str()), Some(m));
        }
        assert_eq!(MuteFor::parse("2-years"), None);
    }
}
