//! Customers and their contacts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::billing::Contract;
use super::de::{self, Timestamp};
use super::tickets::push;

/// A customer as lists, autocomplete and `GET /customers/{id}` return it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub business_name: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub fullname: Option<String>,
    /// The business name, or the person's name for an individual.
    pub business_then_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub disabled: Option<bool>,
    /// Custom fields keyed by name.
    #[serde(default, deserialize_with = "de::null_default")]
    pub properties: Map<String, Value>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub contacts: Vec<Contact>,
    /// Only in `GET /customers/{id}` (LIVE); empty elsewhere.
    #[serde(default, deserialize_with = "de::null_default")]
    pub contracts: Vec<Contract>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub updated_at: Option<Timestamp>,
}

impl Customer {
    /// The name to show: business name, else full name, else the email.
    pub fn display_name(&self) -> String {
        [
            &self.business_then_name,
            &self.business_name,
            &self.fullname,
            &self.email,
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| format!("customer {}", self.id))
    }

    /// The domain of the customer's email address, lower case.
    pub fn email_domain(&self) -> Option<String> {
        let email = self.email.as_deref()?;
        let (_, domain) = email.rsplit_once('@')?;
        let domain = domain.trim().to_ascii_lowercase();
        (!domain.is_empty()).then_some(domain)
    }
}

/// A contact as `GET /contacts`, `POST /contacts` and a customer's `contacts` show it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Contact {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
}

impl Contact {
    /// Whether the contact's email is `email`, case and surrounding spaces ignored.
    pub fn has_email(&self, email: &str) -> bool {
        self.email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
    }
}

/// Filters for `GET /contacts` (the spec documents `customer_id` only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactFilter {
    pub customer_id: Option<i64>,
    pub per_page: Option<u32>,
}

impl ContactFilter {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        push(&mut q, "customer_id", self.customer_id);
        push(&mut q, "per_page", self.per_page);
        q
    }
}

/// The body of `POST /contacts` (`customer_id` is required). Only the fields set are sent.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct NewContact {
    pub customer_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Filters for `GET /customers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Free text over names, email and phone.
    pub query: Option<String>,
    /// "Like" match on the business name.
    pub business_name: Option<String>,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub include_disabled: bool,
    /// E.g. `"business_name ASC"`.
    pub sort: Option<String>,
    pub per_page: Option<u32>,
}

impl CustomerFilter {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        push(&mut q, "query", self.query.as_ref());
        push(&mut q, "business_name", self.business_name.as_ref());
        push(&mut q, "email", self.email.as_ref());
        push(&mut q, "firstname", self.firstname.as_ref());
        push(&mut q, "lastname", self.lastname.as_ref());
        push(
            &mut q,
            "include_disabled",
            self.include_disabled.then_some(true),
        );
        push(&mut q, "sort", self.sort.as_ref());
        push(&mut q, "per_page", self.per_page);
        q
    }
}
