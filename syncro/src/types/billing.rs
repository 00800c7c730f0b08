//! Contracts and recurring invoices ("schedules") with their line items.

use serde::{Deserialize, Serialize};

use super::de::{self, Timestamp};

/// Recurring types whose quantity Syncro counts itself and ignores when sent (syncro-api.md
/// §7.2): assets, Kabuto, contacts, remote access, policy folder, third-party vendor.
pub const COUNTED_RECURRING_TYPES: [i64; 6] = [4, 5, 6, 8, 9, 10];

/// A contract; `GET /contracts/{id}` returns it bare (no wrapper).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Contract {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    /// Free text in Syncro (`"30k"`).
    #[serde(default, deserialize_with = "de::opt_text")]
    pub contract_amount: Option<String>,
    /// E.g. "Active", "Opportunity".
    pub status: Option<String>,
    pub description: Option<String>,
    pub apply_to_all: Option<bool>,
    pub sla_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub start_date: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub end_date: Option<Timestamp>,
}

/// A recurring invoice.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Schedule {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    pub frequency: Option<String>,
    pub paused: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub next_run: Option<Timestamp>,
    /// The line items (Syncro calls them `lines`, not `line_items`).
    #[serde(default, deserialize_with = "de::null_default")]
    pub lines: Vec<ScheduleLineItem>,
}

/// A recurring-invoice line. Decimals arrive as strings ("42.0") and are read as numbers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ScheduleLineItem {
    pub id: i64,
    pub schedule_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub quantity: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub retail_cents: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub cost_cents: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub price_retail: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub price_cost: Option<f64>,
    pub product_id: Option<i64>,
    pub position: Option<i64>,
    pub recurring_type_id: Option<i64>,
    pub taxable: Option<bool>,
    pub one_time_charge: Option<bool>,
}

impl ScheduleLineItem {
    /// Whether Syncro counts this line's quantity itself (a sent quantity is then ignored).
    pub fn is_counted(&self) -> bool {
        self.recurring_type_id
            .is_some_and(|t| COUNTED_RECURRING_TYPES.contains(&t))
    }
}

/// The body of `POST /schedules/{id}/add_line_item` and
/// `PUT /schedules/{id}/line_items/{line_item_id}` (one schema in the spec). Only the fields
/// set are sent; on update only those change.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LineItemFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retail_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_charge: Option<bool>,
    /// 1 or 3 (or none) for a quantity you set yourself; see [`COUNTED_RECURRING_TYPES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring_type_id: Option<i64>,
}

impl LineItemFields {
    /// An update that sets only the quantity (the billable-user sync).
    pub fn quantity(quantity: f64) -> Self {
        Self {
            quantity: Some(quantity),
            ..Self::default()
        }
    }
}
