//! Tickets and comments: what Syncro returns and what the client sends.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::{self, Timestamp};

/// The status pseudo-value that lists every ticket not resolved (a filter only, never a
/// status a ticket can have).
pub const NOT_CLOSED: &str = "Not Closed";

/// A ticket as `GET /tickets`, `GET /tickets/{id}`, `POST /tickets` and `PUT /tickets/{id}`
/// return it. Everything but `id` is optional: Syncro leaves many fields `null`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Ticket {
    pub id: i64,
    /// An integer in every response, a string in the request schema: both are read.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub number: Option<i64>,
    pub subject: Option<String>,
    pub customer_id: Option<i64>,
    pub customer_business_then_name: Option<String>,
    pub contact_id: Option<i64>,
    pub user_id: Option<i64>,
    pub problem_type: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub ticket_type_id: Option<i64>,
    pub sla_id: Option<i64>,
    /// Read back after setting it: Syncro's request schema does not list `contract_id`, so an
    /// account may drop it silently (syncro-api.md §3.8).
    pub contract_id: Option<i64>,
    pub contract_name: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub asset_ids: Vec<i64>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub tag_list: Vec<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub properties: Map<String, Value>,
    /// In lists, possibly only the first comment (`all_comments` is deprecated); use
    /// `GET /tickets/{id}/comments` for the history.
    #[serde(default, deserialize_with = "de::null_default")]
    pub comments: Vec<Comment>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub due_date: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub resolved_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub updated_at: Option<Timestamp>,
}

/// Whether a status closes a ticket: "Resolved" (or a custom status starting with it, which
/// Syncro treats alike) or "Invoiced".
pub fn is_closed_status(status: &str) -> bool {
    status.starts_with("Resolved") || status == "Invoiced"
}

impl Ticket {
    /// Whether the ticket is closed (see [`is_closed_status`]).
    pub fn is_closed(&self) -> bool {
        self.status.as_deref().is_some_and(is_closed_status)
    }
}

/// A ticket comment. `do_not_email` is write-only in Syncro and never comes back.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Comment {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub tech: Option<String>,
    pub hidden: Option<bool>,
    pub user_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub updated_at: Option<Timestamp>,
}

/// The body of `POST /tickets/{id}/comment`, and an element of `comments_attributes`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NewComment {
    pub subject: String,
    pub body: String,
    /// true: a private note, visible to technicians only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// true: no email to the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_not_email: Option<bool>,
    /// Overrides the technician name shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tech: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_body: Option<String>,
}

impl NewComment {
    fn with(
        subject: impl Into<String>,
        body: impl Into<String>,
        hidden: bool,
        email: bool,
    ) -> Self {
        Self {
            subject: subject.into(),
            body: body.into(),
            hidden: Some(hidden),
            do_not_email: Some(!email),
            tech: None,
            sms_body: None,
        }
    }

    /// Technicians only, no email (`hidden: true, do_not_email: true`).
    pub fn private_note(subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self::with(subject, body, true, false)
    }

    /// Visible to the customer in the portal, no email (`hidden: false, do_not_email: true`).
    pub fn public_note(subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self::with(subject, body, false, false)
    }

    /// Visible and emailed to the customer (`hidden: false, do_not_email: false`).
    pub fn email_reply(subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self::with(subject, body, false, true)
    }

    pub fn tech(mut self, tech: impl Into<String>) -> Self {
        self.tech = Some(tech.into());
        self
    }
}

/// The body of `POST /tickets`. Only the fields set are sent.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct NewTicket {
    pub customer_id: i64,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_type_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_id: Option<i64>,
    /// Not in Syncro's request schema (syncro-api.md §3.8): read it back from the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asset_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_list: Vec<String>,
    /// Custom ticket-type fields keyed by field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// The first comment(s), created with the ticket.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments_attributes: Vec<NewComment>,
}

impl NewTicket {
    pub fn new(customer_id: i64, subject: impl Into<String>) -> Self {
        Self {
            customer_id,
            subject: subject.into(),
            ..Self::default()
        }
    }
}

/// The body of `PUT /tickets/{id}`: only the fields set are sent, and only those change.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TicketUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<i64>,
    /// Not in Syncro's request schema: read it back from the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// Filters for `GET /tickets`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    /// A status, or [`NOT_CLOSED`].
    pub status: Option<String>,
    /// Free-text search.
    pub query: Option<String>,
    pub number: Option<i64>,
    pub user_id: Option<i64>,
    /// Page size to ask for; `None` leaves it to Syncro.
    pub per_page: Option<u32>,
}

impl TicketFilter {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        push(&mut q, "customer_id", self.customer_id);
        push(&mut q, "contact_id", self.contact_id);
        push(&mut q, "status", self.status.as_ref());
        push(&mut q, "query", self.query.as_ref());
        push(&mut q, "number", self.number);
        push(&mut q, "user_id", self.user_id);
        push(&mut q, "per_page", self.per_page);
        q
    }
}

/// Adds `key=value` to a query when the value is set.
pub(crate) fn push<T: ToString>(
    q: &mut Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<T>,
) {
    if let Some(v) = value {
        q.push((key, v.to_string()));
    }
}
