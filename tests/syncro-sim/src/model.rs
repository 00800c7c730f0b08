//! The simulator's records, in the form the seed file uses and `GET /_admin/state` returns.
//!
//! These are storage shapes, deliberately smaller than Syncro's JSON: the API shapes (with
//! their dozens of always-null fields, wrappers and string decimals) are produced from them by
//! [`crate::api::render`], so a seed stays short and a test reads state without noise.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every timestamp is stored in UTC and rendered like Syncro's examples (`…T08:59:31.034Z`).
pub type Timestamp = DateTime<Utc>;

fn now() -> Timestamp {
    Utc::now()
}

/// The account's data: everything `/api/v1` reads and writes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// The API user behind the token (`GET /me`, `user_id` of comments made through the API).
    #[serde(default)]
    pub me: Me,
    /// Technicians (`GET /tickets/settings` → `users`, ticket `user`).
    #[serde(default)]
    pub users: Vec<User>,
    /// `GET /tickets/settings` → `ticket_status_list`; statuses are not validated against it,
    /// because real accounts customise them (syncro-api.md §10.6).
    #[serde(default)]
    pub ticket_statuses: Vec<String>,
    /// `GET /settings` → `ticket.problem_types`.
    #[serde(default)]
    pub problem_types: Vec<String>,
    /// `GET /settings` → `ticket.priorities`, e.g. `["", "0 Urgent", …]`.
    #[serde(default)]
    pub priorities: Vec<String>,
    /// `GET /settings` → `assets.asset_types`; an asset names its type by `name`.
    #[serde(default)]
    pub asset_types: Vec<AssetType>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub contracts: Vec<Contract>,
    /// Recurring invoices with their line items (`lines`).
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    /// Tickets with their comments.
    #[serde(default)]
    pub tickets: Vec<Ticket>,
    /// `GET /tickets/settings` → `ticket_types` and `GET /settings` → `ticket.ticket_types`.
    #[serde(default)]
    pub ticket_types: Vec<AssetType>,
    /// RMM alerts raised on assets (`/rmm_alerts`), resolved ones included.
    #[serde(default)]
    pub rmm_alerts: Vec<RmmAlert>,
}

/// The token's user, as `GET /me` describes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub user_id: i64,
    pub user_name: String,
    pub user_email: String,
    pub subdomain: String,
    #[serde(default)]
    pub admin: bool,
}

impl Default for Me {
    fn default() -> Self {
        Self {
            user_id: 1,
            user_name: "API User".into(),
            user_email: "api@example.com".into(),
            subdomain: "sim".into(),
            admin: true,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssetType {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: i64,
    pub business_name: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub address: Option<String>,
    pub address_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub notes: Option<String>,
    /// Disabled customers are left out of `GET /customers` unless `include_disabled=true`.
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub no_email: bool,
    /// Custom fields keyed by name.
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

impl Customer {
    /// Syncro's `fullname`: first and last name joined, or `None` when both are missing.
    pub fn fullname(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.firstname, &self.lastname]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .filter(|p| !p.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// Syncro's `business_then_name`: the business name when set, else the person's name.
    pub fn business_then_name(&self) -> String {
        self.business_name
            .clone()
            .filter(|b| !b.is_empty())
            .or_else(|| self.fullname())
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    /// Free text in Syncro (the spec's example is `"30k"`).
    pub contract_amount: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub primary_contact: Option<String>,
    pub start_date: Option<Timestamp>,
    pub end_date: Option<Timestamp>,
    pub likelihood: Option<i64>,
    #[serde(default)]
    pub apply_to_all: bool,
    pub sla_id: Option<i64>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    /// One of Daily, Weekly, Biweekly, Monthly, Quarterly, Semi-Annually, Annually, …
    #[serde(default = "monthly")]
    pub frequency: String,
    pub next_run: Option<Timestamp>,
    #[serde(default)]
    pub email_customer: bool,
    #[serde(default)]
    pub snail_mail: bool,
    #[serde(default)]
    pub charge_mop: bool,
    #[serde(default)]
    pub invoice_unbilled_ticket_charges: bool,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub lines: Vec<LineItem>,
}

fn monthly() -> String {
    "Monthly".into()
}

/// A recurring-invoice line. `quantity` is kept as a number and rendered as Syncro's decimal
/// string ("42.0").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub quantity: f64,
    #[serde(default)]
    pub retail_cents: i64,
    #[serde(default)]
    pub cost_cents: i64,
    pub position: Option<i64>,
    pub product_id: Option<i64>,
    pub product_category: Option<String>,
    #[serde(default)]
    pub taxable: bool,
    #[serde(default)]
    pub one_time_charge: bool,
    pub user_id: Option<i64>,
    pub asset_type_id: Option<i64>,
    /// 4, 5, 6, 8, 9 and 10 are counted by Syncro itself: their `quantity` cannot be set.
    pub recurring_type_id: Option<i64>,
    pub contact_field_type_id: Option<i64>,
    pub contact_field_answer_id: Option<i64>,
    pub saved_asset_search_id: Option<i64>,
}

/// The recurring types whose quantity Syncro counts itself and ignores when sent
/// (syncro-api.md §7.2, from MCP's schedule-line-item notes).
pub const COUNTED_RECURRING_TYPES: [i64; 6] = [4, 5, 6, 8, 9, 10];

impl LineItem {
    /// Whether Syncro computes this line's quantity (so a sent `quantity` is ignored).
    pub fn is_counted(&self) -> bool {
        self.recurring_type_id
            .is_some_and(|t| COUNTED_RECURRING_TYPES.contains(&t))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub id: i64,
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    pub name: String,
    /// The asset type's name (Syncro returns the name, not an id).
    pub asset_type: String,
    pub asset_serial: Option<String>,
    /// RMM data; MAC addresses live in
    /// `kabuto_information.network_adapters[].physical_address`.
    #[serde(default)]
    pub properties: Map<String, Value>,
    pub snmp_enabled: Option<bool>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    pub id: i64,
    pub number: i64,
    pub subject: String,
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    pub user_id: Option<i64>,
    pub problem_type: Option<String>,
    #[serde(default = "new_status")]
    pub status: String,
    pub priority: Option<String>,
    pub ticket_type_id: Option<i64>,
    pub location_id: Option<i64>,
    pub sla_id: Option<i64>,
    pub contract_id: Option<i64>,
    pub due_date: Option<Timestamp>,
    pub start_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    #[serde(default)]
    pub asset_ids: Vec<i64>,
    #[serde(default)]
    pub tag_list: Vec<String>,
    /// Custom ticket-type fields keyed by field name.
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub signature_name: Option<String>,
    /// Oldest first, as they were added.
    #[serde(default)]
    pub comments: Vec<Comment>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

fn new_status() -> String {
    "New".into()
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub tech: Option<String>,
    #[serde(default)]
    pub hidden: bool,
    pub sms_body: Option<String>,
    pub user_id: Option<i64>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}

/// Whether a status counts as closed for the `status=Not Closed` filter.
///
/// Syncro's help says "Resolved" is the end state and that custom statuses starting with
/// "Resolved" behave like it; "Invoiced" follows resolution. Both are treated as closed.
pub fn is_closed_status(status: &str) -> bool {
    status.starts_with("Resolved") || status == "Invoiced"
}

/// An RMM alert on an asset (`POST /rmm_alerts`). `DELETE` does not remove it: it sets
/// `resolved` (syncro-api.md §8.3, LIVE), so it stays readable with `status=resolved`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RmmAlert {
    pub id: i64,
    pub customer_id: i64,
    pub asset_id: Option<i64>,
    /// Shown as the alert's "Type" in Syncro's UI.
    pub description: Option<String>,
    /// The UI's "Details" (accepted on create although the spec does not list it).
    pub formatted_output: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub resolved: bool,
    /// `subject`, `body`, `hidden`, `do_not_email`, `skip_automation`, … as sent.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// The last `mute_for` accepted (`1-hour` … `forever`), if muted.
    #[serde(default)]
    pub muted_for: Option<String>,
    #[serde(default = "now")]
    pub created_at: Timestamp,
    #[serde(default = "now")]
    pub updated_at: Timestamp,
}
