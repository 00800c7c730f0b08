//! Account-wide reads: `/me`, `/settings` and `/tickets/settings`.

use serde::{Deserialize, Serialize};

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
