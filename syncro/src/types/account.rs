//! Account-wide reads: `/me`, `/settings` and `/tickets/settings`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de;

/// `GET /me`: the token's user, a cheap credential check. (Syncro also returns a
/// `user_token`; it is deliberately not read.)
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Me {
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    pub subdomain: Option<String>,
    pub admin: Option<bool>,
    /// Groups of flags, e.g. `{"ticket": {"read": true, "write": true, "delete": false}}`.
    /// Kept loose: the spec shows one example, and accounts may report more groups.
    #[serde(default, deserialize_with = "de::null_default")]
    pub permissions: Map<String, Value>,
}

impl Me {
    /// One flag of `permissions` (`ticket`, `write`), or `None` when `/me` does not report it.
    pub fn permission(&self, group: &str, flag: &str) -> Option<bool> {
        self.permissions.get(group)?.get(flag)?.as_bool()
    }
}

/// `GET /tickets/settings` (bare object).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct TicketSettings {
    /// The account's statuses, defaults: New, In Progress, Resolved, Invoiced, Waiting for
    /// Parts, Waiting on Customer, Scheduled, Customer Reply.
    #[serde(default, deserialize_with = "de::null_default")]
    pub ticket_status_list: Vec<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub users: Vec<NamedId>,
    /// The account's ticket types; their shape is undocumented, so only ids are read
    /// ([`TicketSettings::ticket_type_ids`]).
    #[serde(default, deserialize_with = "de::null_default")]
    pub ticket_types: Vec<Value>,
}

impl TicketSettings {
    /// The ids of [`TicketSettings::ticket_types`] (entries without an integer `id` are
    /// skipped).
    pub fn ticket_type_ids(&self) -> Vec<i64> {
        self.ticket_types
            .iter()
            .filter_map(|t| t.get("id").and_then(Value::as_i64))
            .collect()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct NamedId {
    pub id: i64,
    pub name: Option<String>,
}

/// `GET /settings` (bare object): what ticket fields may hold.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AccountSettings {
    #[serde(default, deserialize_with = "de::null_default")]
    pub ticket: TicketFieldSettings,
    #[serde(default, deserialize_with = "de::null_default")]
    pub assets: AssetSettings,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct TicketFieldSettings {
    /// Account-defined problem types ("Security", …).
    #[serde(default, deserialize_with = "de::null_default")]
    pub problem_types: Vec<String>,
    /// E.g. `["", "0 Urgent", "1 High", "2 Normal", "3 Low"]`: the digit is part of the value.
    #[serde(default, deserialize_with = "de::null_default")]
    pub priorities: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AssetSettings {
    #[serde(default, deserialize_with = "de::null_default")]
    pub asset_types: Vec<NamedId>,
}
