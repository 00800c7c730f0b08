//! The Syncro operations, one typed async method each, grouped by resource: the account,
//! tickets and their comments, customers and their contacts, contracts, recurring invoices
//! (schedules), assets and their RMM alerts. Each goes through the one request pipeline of
//! [`crate::client`] (so through the gate: the shared budget, by the caller's priority).

use super::pagination::{collect_pages, Page};
use super::route::Route;
use super::types::{
    AccountSettings, Asset, AssetFilter, Comment, Contact, ContactFilter, Contract, Customer,
    CustomerFilter, LineItemFields, Me, MuteFor, NewComment, NewContact, NewRmmAlert, NewTicket,
    RmmAlert, RmmAlertStatus, Schedule, ScheduleLineItem, Ticket, TicketFilter, TicketSettings,
    TicketUpdate,
};
use crate::client::{decode, take_key, Admission, Result, SyncroClient};

impl SyncroClient {
    // --- account -------------------------------------------------------------------------

    /// `GET /me`: who the token belongs to (a cheap credential check).
    pub async fn me(&self) -> Result<Me> {
        self.fetch_one(Route::Me, "/me", None, None).await
    }

    /// `GET /settings`: problem types, priorities, asset types.
    pub async fn settings(&self) -> Result<AccountSettings> {
        self.fetch_one(Route::Settings, "/settings", None, None)
            .await
    }

    /// `GET /tickets/settings`: the ticket statuses and technicians.
    pub async fn ticket_settings(&self) -> Result<TicketSettings> {
        self.fetch_one(Route::TicketSettings, "/tickets/settings", None, None)
            .await
    }

    // --- tickets ---------------------------------------------------------------------------

    pub async fn list_tickets(&self, filter: &TicketFilter, page: u32) -> Result<Page<Ticket>> {
        self.fetch_page(
            Route::ListTickets,
            "/tickets",
            "tickets",
            filter.pairs(),
            page,
        )
        .await
    }

    /// Every ticket matching `filter`, all pages.
    pub async fn all_tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>> {
        collect_pages(Route::ListTickets, self.max_pages, |p| {
            self.list_tickets(filter, p)
        })
        .await
    }

    pub async fn get_ticket(&self, id: i64) -> Result<Ticket> {
        self.fetch_one(
            Route::GetTicket,
            &format!("/tickets/{id}"),
            Some("ticket"),
            None,
        )
        .await
    }

    /// `POST /tickets`. Not idempotent: after a timeout or lost connection, look for the
    /// ticket before creating it again.
    pub async fn create_ticket(&self, ticket: &NewTicket) -> Result<Ticket> {
        self.fetch_one(
            Route::CreateTicket,
            "/tickets",
            Some("ticket"),
            Some(ticket),
        )
        .await
    }

    /// `POST /tickets` in a slot taken earlier with [`SyncroClient::admit`]: the caller may
    /// check, once admitted, that it should still post.
    pub async fn create_ticket_admitted(
        &self,
        admission: Admission,
        ticket: &NewTicket,
    ) -> Result<Ticket> {
        let route = Route::CreateTicket;
        let value = self
            .send(admission, route, "/tickets", &[], Some(ticket))
            .await?;
        decode(route, take_key(route, value, "ticket")?)
    }

    pub async fn update_ticket(&self, id: i64, update: &TicketUpdate) -> Result<Ticket> {
        let path = format!("/tickets/{id}");
        self.fetch_one(Route::UpdateTicket, &path, Some("ticket"), Some(update))
            .await
    }

    /// `POST /tickets/{id}/comment`. Not idempotent.
    pub async fn add_comment(&self, ticket_id: i64, comment: &NewComment) -> Result<Comment> {
        let path = format!("/tickets/{ticket_id}/comment");
        self.fetch_one(Route::AddComment, &path, Some("comment"), Some(comment))
            .await
    }

    /// `POST /tickets/{id}/comment` in a slot taken earlier with [`SyncroClient::admit`].
    pub async fn add_comment_admitted(
        &self,
        admission: Admission,
        ticket_id: i64,
        comment: &NewComment,
    ) -> Result<Comment> {
        let route = Route::AddComment;
        let path = format!("/tickets/{ticket_id}/comment");
        let value = self
            .send(admission, route, &path, &[], Some(comment))
            .await?;
        decode(route, take_key(route, value, "comment")?)
    }

    /// `GET /tickets/{id}/comments`, newest first.
    pub async fn list_comments(
        &self,
        ticket_id: i64,
        page: u32,
        per_page: Option<u32>,
    ) -> Result<Page<Comment>> {
        let query = per_page
            .map(|n| vec![("per_page", n.to_string())])
            .unwrap_or_default();
        let path = format!("/tickets/{ticket_id}/comments");
        self.fetch_page(Route::ListComments, &path, "comments", query, page)
            .await
    }

    /// Every comment of a ticket, newest first.
    pub async fn all_comments(
        &self,
        ticket_id: i64,
        per_page: Option<u32>,
    ) -> Result<Vec<Comment>> {
        collect_pages(Route::ListComments, self.max_pages, |p| {
            self.list_comments(ticket_id, p, per_page)
        })
        .await
    }

    // --- customers -------------------------------------------------------------------------

    pub async fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: u32,
    ) -> Result<Page<Customer>> {
        self.fetch_page(
            Route::ListCustomers,
            "/customers",
            "customers",
            filter.pairs(),
            page,
        )
        .await
    }

    pub async fn all_customers(&self, filter: &CustomerFilter) -> Result<Vec<Customer>> {
        collect_pages(Route::ListCustomers, self.max_pages, |p| {
            self.list_customers(filter, p)
        })
        .await
    }

    /// `GET /customers/{id}`: the detail view, with `contacts` and `contracts`.
    pub async fn get_customer(&self, id: i64) -> Result<Customer> {
        let path = format!("/customers/{id}");
        self.fetch_one(Route::GetCustomer, &path, Some("customer"), None)
            .await
    }

    /// `GET /customers/autocomplete?query=`: the quick partial-name lookup (one page).
    pub async fn autocomplete_customers(&self, query: &str) -> Result<Vec<Customer>> {
        let value = self
            .execute(
                Route::AutocompleteCustomers,
                "/customers/autocomplete",
                &[("query", query.to_string())],
                None,
            )
            .await?;
        decode(
            Route::AutocompleteCustomers,
            take_key(Route::AutocompleteCustomers, value, "customers")?,
        )
    }

    // --- contracts -------------------------------------------------------------------------

    /// `GET /contracts` (the only filter Syncro documents is the page).
    pub async fn list_contracts(&self, page: u32) -> Result<Page<Contract>> {
        self.fetch_page(
            Route::ListContracts,
            "/contracts",
            "contracts",
            Vec::new(),
            page,
        )
        .await
    }

    pub async fn all_contracts(&self) -> Result<Vec<Contract>> {
        collect_pages(Route::ListContracts, self.max_pages, |p| {
            self.list_contracts(p)
        })
        .await
    }

    /// A customer's contracts: Syncro cannot filter contracts by customer, so all pages are
    /// read and filtered here.
    pub async fn contracts_for_customer(&self, customer_id: i64) -> Result<Vec<Contract>> {
        let mut all = self.all_contracts().await?;
        all.retain(|k| k.customer_id == Some(customer_id));
        Ok(all)
    }

    /// `GET /contracts/{id}` (a bare object).
    pub async fn get_contract(&self, id: i64) -> Result<Contract> {
        let path = format!("/contracts/{id}");
        self.fetch_one(Route::GetContract, &path, None, None).await
    }

    // --- schedules (recurring invoices) ----------------------------------------------------

    pub async fn list_schedules(
        &self,
        customer_id: Option<i64>,
        page: u32,
    ) -> Result<Page<Schedule>> {
        let query = customer_id
            .map(|c| vec![("customer_id", c.to_string())])
            .unwrap_or_default();
        self.fetch_page(Route::ListSchedules, "/schedules", "schedules", query, page)
            .await
    }

    pub async fn all_schedules(&self, customer_id: Option<i64>) -> Result<Vec<Schedule>> {
        collect_pages(Route::ListSchedules, self.max_pages, |p| {
            self.list_schedules(customer_id, p)
        })
        .await
    }

    /// `GET /schedules/{id}`, with its `lines`.
    pub async fn get_schedule(&self, id: i64) -> Result<Schedule> {
        let path = format!("/schedules/{id}");
        self.fetch_one(Route::GetSchedule, &path, Some("schedule"), None)
            .await
    }

    /// `POST /schedules/{id}/add_line_item` (the route every spec version has). A line needs
    /// a `name` or a `product_id`. Not idempotent.
    pub async fn add_schedule_line_item(
        &self,
        schedule_id: i64,
        fields: &LineItemFields,
    ) -> Result<ScheduleLineItem> {
        let path = format!("/schedules/{schedule_id}/add_line_item");
        let route = Route::AddScheduleLineItem;
        self.fetch_one(route, &path, Some("schedule_line_item"), Some(fields))
            .await
    }

    /// `PUT /schedules/{id}/line_items/{line_item_id}`: only the fields set change. A quantity
    /// is ignored by Syncro on counted lines ([`ScheduleLineItem::is_counted`]).
    pub async fn update_schedule_line_item(
        &self,
        schedule_id: i64,
        line_item_id: i64,
        fields: &LineItemFields,
    ) -> Result<ScheduleLineItem> {
        let path = format!("/schedules/{schedule_id}/line_items/{line_item_id}");
        let route = Route::UpdateScheduleLineItem;
        self.fetch_one(route, &path, Some("schedule_line_item"), Some(fields))
            .await
    }

    // --- assets ----------------------------------------------------------------------------

    pub async fn list_assets(&self, filter: &AssetFilter, page: u32) -> Result<Page<Asset>> {
        self.fetch_page(
            Route::ListAssets,
            "/customer_assets",
            "assets",
            filter.pairs(),
            page,
        )
        .await
    }

    pub async fn all_assets(&self, filter: &AssetFilter) -> Result<Vec<Asset>> {
        collect_pages(Route::ListAssets, self.max_pages, |p| {
            self.list_assets(filter, p)
        })
        .await
    }

    /// `GET /customer_assets/{id}` (wrapped in `asset`).
    pub async fn get_asset(&self, id: i64) -> Result<Asset> {
        let path = format!("/customer_assets/{id}");
        self.fetch_one(Route::GetAsset, &path, Some("asset"), None)
            .await
    }

    // --- contacts --------------------------------------------------------------------------

    /// `GET /contacts` (permission "Customers - View Detail").
    pub async fn list_contacts(&self, filter: &ContactFilter, page: u32) -> Result<Page<Contact>> {
        self.fetch_page(
            Route::ListContacts,
            "/contacts",
            "contacts",
            filter.pairs(),
            page,
        )
        .await
    }

    /// Every contact matching `filter`, all pages.
    pub async fn all_contacts(&self, filter: &ContactFilter) -> Result<Vec<Contact>> {
        collect_pages(Route::ListContacts, self.max_pages, |p| {
            self.list_contacts(filter, p)
        })
        .await
    }

    /// `POST /contacts` (permission "Customers - Edit"; a bare object back). Not idempotent:
    /// after a timeout, list the customer's contacts before creating again.
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Contact> {
        self.fetch_one(Route::CreateContact, "/contacts", None, Some(contact))
            .await
    }

    // --- RMM alerts ------------------------------------------------------------------------

    /// `GET /rmm_alerts?status=` (permission "RMM Alerts - List"; no customer or asset
    /// filter exists).
    pub async fn list_rmm_alerts(
        &self,
        status: RmmAlertStatus,
        page: u32,
    ) -> Result<Page<RmmAlert>> {
        let query = vec![("status", status.as_str().to_string())];
        self.fetch_page(
            Route::ListRmmAlerts,
            "/rmm_alerts",
            "rmm_alerts",
            query,
            page,
        )
        .await
    }

    /// Every RMM alert of `status`, all pages.
    pub async fn all_rmm_alerts(&self, status: RmmAlertStatus) -> Result<Vec<RmmAlert>> {
        collect_pages(Route::ListRmmAlerts, self.max_pages, |p| {
            self.list_rmm_alerts(status, p)
        })
        .await
    }

    /// `GET /rmm_alerts/{id}` (wrapped in `rmm_alert`).
    pub async fn get_rmm_alert(&self, id: i64) -> Result<RmmAlert> {
        let path = format!("/rmm_alerts/{id}");
        self.fetch_one(Route::GetRmmAlert, &path, Some("rmm_alert"), None)
            .await
    }

    /// `POST /rmm_alerts` (permission "RMM Alerts - Create"): 201 with the alert under
    /// `alert`, not `rmm_alert`. Not idempotent.
    pub async fn create_rmm_alert(&self, alert: &NewRmmAlert) -> Result<RmmAlert> {
        self.fetch_one(
            Route::CreateRmmAlert,
            "/rmm_alerts",
            Some("alert"),
            Some(alert),
        )
        .await
    }

    /// `DELETE /rmm_alerts/{id}` (permission "RMM Alerts - Delete"): clears the alert, which
    /// stays readable as resolved. Clearing a cleared alert is harmless.
    pub async fn clear_rmm_alert(&self, id: i64) -> Result<()> {
        let path = format!("/rmm_alerts/{id}");
        self.execute(Route::ClearRmmAlert, &path, &[], None).await?;
        Ok(())
    }

    /// `POST /rmm_alerts/{id}/mute` (permission "RMM Alerts - Clear/Manage"). The spec puts
    /// `mute_for` in the query, working clients in the body: both are sent.
    pub async fn mute_rmm_alert(&self, id: i64, mute_for: MuteFor) -> Result<()> {
        let path = format!("/rmm_alerts/{id}/mute");
        let value = mute_for.as_str().to_string();
        let body = serde_json::json!({ "mute_for": value });
        self.execute(
            Route::MuteRmmAlert,
            &path,
            &[("mute_for", value)],
            Some(&body),
        )
        .await?;
        Ok(())
    }
}
