//! Maps a method and path under `/api/v1` to an endpoint, and names endpoints for the request
//! log, the counters and fault targeting (`"POST /tickets/{id}/comment"`).

/// Every endpoint the simulator serves under `/api/v1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    ListTickets,
    CreateTicket,
    GetTicket,
    UpdateTicket,
    AddComment,
    ListComments,
    TicketSettings,
    Settings,
    ListCustomers,
    GetCustomer,
    AutocompleteCustomers,
    ListContracts,
    GetContract,
    ListSchedules,
    GetSchedule,
    AddLineItem,
    AddLineItemNested,
    UpdateLineItem,
    ListAssets,
    GetAsset,
    Me,
    ListContacts,
    GetContact,
    CreateContact,
    ListRmmAlerts,
    GetRmmAlert,
    CreateRmmAlert,
    ClearRmmAlert,
    MuteRmmAlert,
}

impl Endpoint {
    pub const ALL: [Endpoint; 29] = [
        Endpoint::ListTickets,
        Endpoint::CreateTicket,
        Endpoint::GetTicket,
        Endpoint::UpdateTicket,
        Endpoint::AddComment,
        Endpoint::ListComments,
        Endpoint::TicketSettings,
        Endpoint::Settings,
        Endpoint::ListCustomers,
        Endpoint::GetCustomer,
        Endpoint::AutocompleteCustomers,
        Endpoint::ListContracts,
        Endpoint::GetContract,
        Endpoint::ListSchedules,
        Endpoint::GetSchedule,
        Endpoint::AddLineItem,
        Endpoint::AddLineItemNested,
        Endpoint::UpdateLineItem,
        Endpoint::ListAssets,
        Endpoint::GetAsset,
        Endpoint::Me,
        Endpoint::ListContacts,
        Endpoint::GetContact,
        Endpoint::CreateContact,
        Endpoint::ListRmmAlerts,
        Endpoint::GetRmmAlert,
        Endpoint::CreateRmmAlert,
        Endpoint::ClearRmmAlert,
        Endpoint::MuteRmmAlert,
    ];

    /// The low-cardinality name, method and path pattern without the `/api/v1` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Endpoint::ListTickets => "GET /tickets",
            Endpoint::CreateTicket => "POST /tickets",
            Endpoint::GetTicket => "GET /tickets/{id}",
            Endpoint::UpdateTicket => "PUT /tickets/{id}",
            Endpoint::AddComment => "POST /tickets/{id}/comment",
            Endpoint::ListComments => "GET /tickets/{id}/comments",
            Endpoint::TicketSettings => "GET /tickets/settings",
            Endpoint::Settings => "GET /settings",
            Endpoint::ListCustomers => "GET /customers",
            Endpoint::GetCustomer => "GET /customers/{id}",
            Endpoint::AutocompleteCustomers => "GET /customers/autocomplete",
            Endpoint::ListContracts => "GET /contracts",
            Endpoint::GetContract => "GET /contracts/{id}",
            Endpoint::ListSchedules => "GET /schedules",
            Endpoint::GetSchedule => "GET /schedules/{id}",
            Endpoint::AddLineItem => "POST /schedules/{id}/add_line_item",
            Endpoint::AddLineItemNested => "POST /schedules/{id}/line_items",
            Endpoint::UpdateLineItem => "PUT /schedules/{id}/line_items/{line_item_id}",
            Endpoint::ListAssets => "GET /customer_assets",
            Endpoint::GetAsset => "GET /customer_assets/{id}",
            Endpoint::Me => "GET /me",
            Endpoint::ListContacts => "GET /contacts",
            Endpoint::GetContact => "GET /contacts/{id}",
            Endpoint::CreateContact => "POST /contacts",
            Endpoint::ListRmmAlerts => "GET /rmm_alerts",
            Endpoint::GetRmmAlert => "GET /rmm_alerts/{id}",
            Endpoint::CreateRmmAlert => "POST /rmm_alerts",
            Endpoint::ClearRmmAlert => "DELETE /rmm_alerts/{id}",
            Endpoint::MuteRmmAlert => "POST /rmm_alerts/{id}/mute",
        }
    }

    /// The token permission Syncro requires, as each operation's description in the spec
    /// names it (`None`: the spec names none, e.g. `GET /me`).
    pub const fn permission(self) -> Option<&'static str> {
        use Endpoint::*;
        Some(match self {
            ListTickets => "Tickets - List/Search",
            GetTicket | ListComments => "Tickets - View Details",
            CreateTicket => "Tickets - Create",
            UpdateTicket | AddComment => "Tickets - Edit",
            ListCustomers | AutocompleteCustomers => "Customers - List/Search",
            GetCustomer | ListContacts | GetContact => "Customers - View Detail",
            CreateContact => "Customers - Edit",
            ListContracts | GetContract => "Contracts - List/Search",
            ListSchedules | GetSchedule => "Recurring Invoices - List",
            AddLineItem | AddLineItemNested | UpdateLineItem => "Recurring Invoices - Edit",
            ListAssets | GetAsset => "Assets - List/Search",
            ListRmmAlerts | GetRmmAlert => "RMM Alerts - List",
            CreateRmmAlert => "RMM Alerts - Create",
            ClearRmmAlert => "RMM Alerts - Delete",
            MuteRmmAlert => "RMM Alerts - Clear/Manage",
            TicketSettings | Settings | Me => return None,
        })
    }

    /// The HTTP method part of [`Endpoint::name`].
    pub fn method(self) -> &'static str {
        self.name().split(' ').next().unwrap_or_default()
    }

    /// The endpoint with this name, if any.
    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The prefix every API path carries.
pub const API_PREFIX: &str = "/api/v1";

/// A resolved request: the endpoint plus the raw path ids, in path order (not yet parsed, so
/// `/tickets/abc` still names `GET /tickets/{id}` and answers 404 like Rails' `find`).
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    pub endpoint: Endpoint,
    pub ids: Vec<&'a str>,
}

/// Resolves `method` and a full request path (with `/api/v1`), or `None` for an unknown route.
pub fn resolve<'a>(method: &str, path: &'a str) -> Option<Resolved<'a>> {
    let rest = path.strip_prefix(API_PREFIX)?;
    let rest = rest.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    use Endpoint::*;
    let (endpoint, ids) = match (method, segments.as_slice()) {
        ("GET", ["tickets"]) => (ListTickets, vec![]),
        ("POST", ["tickets"]) => (CreateTicket, vec![]),
        ("GET", ["tickets", "settings"]) => (TicketSettings, vec![]),
        ("GET", ["tickets", id]) => (GetTicket, vec![*id]),
        ("PUT" | "PATCH", ["tickets", id]) => (UpdateTicket, vec![*id]),
        ("POST", ["tickets", id, "comment"]) => (AddComment, vec![*id]),
        ("GET", ["tickets", id, "comments"]) => (ListComments, vec![*id]),
        ("GET", ["settings"]) => (Settings, vec![]),
        ("GET", ["customers"]) => (ListCustomers, vec![]),
        ("GET", ["customers", "autocomplete"]) => (AutocompleteCustomers, vec![]),
        ("GET", ["customers", id]) => (GetCustomer, vec![*id]),
        ("GET", ["contracts"]) => (ListContracts, vec![]),
        ("GET", ["contracts", id]) => (GetContract, vec![*id]),
        ("GET", ["schedules"]) => (ListSchedules, vec![]),
        ("GET", ["schedules", id]) => (GetSchedule, vec![*id]),
        ("POST", ["schedules", id, "add_line_item"]) => (AddLineItem, vec![*id]),
        ("POST", ["schedules", id, "line_items"]) => (AddLineItemNested, vec![*id]),
        ("PUT" | "PATCH", ["schedules", id, "line_items", line]) => {
            (UpdateLineItem, vec![*id, *line])
        }
        ("GET", ["customer_assets"]) => (ListAssets, vec![]),
        ("GET", ["customer_assets", id]) => (GetAsset, vec![*id]),
        ("GET", ["me"]) => (Me, vec![]),
        ("GET", ["contacts"]) => (ListContacts, vec![]),
        ("POST", ["contacts"]) => (CreateContact, vec![]),
        ("GET", ["contacts", id]) => (GetContact, vec![*id]),
        ("GET", ["rmm_alerts"]) => (ListRmmAlerts, vec![]),
        ("POST", ["rmm_alerts"]) => (CreateRmmAlert, vec![]),
        ("GET", ["rmm_alerts", id]) => (GetRmmAlert, vec![*id]),
        ("DELETE", ["rmm_alerts", id]) => (ClearRmmAlert, vec![*id]),
        ("POST", ["rmm_alerts", id, "mute"]) => (MuteRmmAlert, vec![*id]),
        _ => return None,
    };
    Some(Resolved { endpoint, ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_segments_win_over_ids() {
        let r = resolve("GET", "/api/v1/tickets/settings").map(|r| r.endpoint);
        assert_eq!(r, Some(Endpoint::TicketSettings));
        let r = resolve("GET", "/api/v1/customers/autocomplete").map(|r| r.endpoint);
        assert_eq!(r, Some(Endpoint::AutocompleteCustomers));
    }

    #[test]
    fn ids_are_returned_in_path_order() {
        let r = resolve("PUT", "/api/v1/schedules/7/line_items/9");
        assert_eq!(
            r,
            Some(Resolved {
                endpoint: Endpoint::UpdateLineItem,
                ids: vec!["7", "9"]
            })
        );
    }

    #[test]
    fn unknown_routes_and_methods_do_not_resolve() {
        assert_eq!(resolve("DELETE", "/api/v1/tickets/1"), None);
        assert_eq!(resolve("GET", "/api/v2/tickets"), None);
        assert_eq!(resolve("GET", "/tickets"), None);
        assert_eq!(resolve("POST", "/api/v1/tickets/1/comments"), None);
    }

    #[test]
    fn every_name_maps_back_to_its_endpoint() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_name(e.name()), Some(e));
        }
    }
}
