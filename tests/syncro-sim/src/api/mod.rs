//! The `/api/v1` endpoints, independent of HTTP: each takes the parsed request and the store
//! and returns a status and a JSON body.
//!
//! - [`json`]: the borrowed JSON tree answers are built in (fast to render and serialize).
//! - [`render`]: Syncro's JSON shapes built from stored records.
//! - [`tickets`]: tickets and their comments, ticket settings.
//! - [`customers`]: customers and autocomplete.
//! - [`billing`]: contracts, schedules (recurring invoices) and their line items.
//! - [`assets`]: customer assets.
//! - [`account`]: `/settings` and `/me` (with the token's permissions).
//! - [`contacts`]: a customer's contacts: list, get, create.
//! - [`rmm`]: RMM alerts: list, get, create, clear (a soft resolve), mute.

pub mod account;
pub mod assets;
pub mod billing;
pub mod contacts;
pub mod customers;
pub mod json;
pub mod render;
pub mod rmm;
pub mod tickets;

use serde::Serialize;
use serde_json::{json, Value};

use self::json::J;

use crate::config::Options;
use crate::model::Timestamp;
use crate::params::Query;
use crate::router::Endpoint;
use crate::store::Store;

/// An endpoint's answer, already serialized (the store's lock is held while rendering, and
/// the rendered tree borrows from it).
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// JSON text.
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, body: &impl Serialize) -> Self {
        // Our trees have string keys and finite numbers, so encoding cannot fail; `null`
        // keeps the answer JSON should that ever change.
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
        Self { status, body }
    }

    pub fn ok(body: impl Serialize) -> Self {
        Self::new(200, &body)
    }

    /// `{"<key>": item}`, Syncro's single-record wrapper.
    pub fn wrapped(key: &'static str, item: J<'_>) -> Self {
        Self::ok(J::Obj(vec![(key, item)]))
    }

    /// `{"<key>": [items], "meta": meta}`, Syncro's list shape.
    pub fn list(key: &'static str, items: Vec<J<'_>>, meta: Value) -> Self {
        Self::ok(J::Obj(vec![(key, J::Arr(items)), ("meta", J::Raw(&meta))]))
    }

    /// Syncro documents `{"message": "Not found"}` for its 404s where it documents a body.
    pub fn not_found() -> Self {
        Self::new(404, &json!({"message": "Not found"}))
    }

    pub fn unprocessable(body: Value) -> Self {
        Self::new(422, &body)
    }
}

/// One parsed request.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub options: &'a Options,
    pub query: &'a Query,
    pub body: &'a Value,
    /// Raw path ids in path order.
    pub ids: &'a [&'a str],
    pub now: Timestamp,
    /// The permissions the request's token lacks (`GET /me` reports them as false).
    pub denied: &'a [String],
}

impl Ctx<'_> {
    /// The `n`th path id, or `None` when it is not an integer (Rails' `find` then answers 404).
    pub fn id(&self, n: usize) -> Option<i64> {
        self.ids.get(n).and_then(|s| s.parse().ok())
    }

    /// The page size a list uses when `per_page` is not given.
    pub fn page_size(&self, resource: &str) -> u32 {
        self.options.page_size_for(resource)
    }
}

/// Runs one endpoint.
pub fn handle(endpoint: Endpoint, ctx: &mut Ctx<'_>) -> Reply {
    use Endpoint::*;
    match endpoint {
        ListTickets => tickets::list(ctx),
        CreateTicket => tickets::create(ctx),
        GetTicket => tickets::get(ctx),
        UpdateTicket => tickets::update(ctx),
        AddComment => tickets::add_comment(ctx),
        ListComments => tickets::list_comments(ctx),
        TicketSettings => tickets::settings(ctx),
        Settings => account::settings(ctx),
        ListCustomers => customers::list(ctx),
        GetCustomer => customers::get(ctx),
        AutocompleteCustomers => customers::autocomplete(ctx),
        ListContracts => billing::list_contracts(ctx),
        GetContract => billing::get_contract(ctx),
        ListSchedules => billing::list_schedules(ctx),
        GetSchedule => billing::get_schedule(ctx),
        AddLineItem | AddLineItemNested => billing::add_line_item(ctx),
        UpdateLineItem => billing::update_line_item(ctx),
        ListAssets => assets::list(ctx),
        GetAsset => assets::get(ctx),
        Me => account::me(ctx),
        ListContacts => contacts::list(ctx),
        GetContact => contacts::get(ctx),
        CreateContact => contacts::create(ctx),
        ListRmmAlerts => rmm::list(ctx),
        GetRmmAlert => rmm::get(ctx),
        CreateRmmAlert => rmm::create(ctx),
        ClearRmmAlert => rmm::clear(ctx),
        MuteRmmAlert => rmm::mute(ctx),
    }
}

/// Case-insensitive substring test used by every "like"/`query` filter.
pub fn contains_ci(haystack: Option<&str>, needle_lower: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(needle_lower))
}
