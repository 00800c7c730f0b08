//! The Syncro operations the client performs, each with a low-cardinality name for logs and
//! metrics (`"POST /tickets/{id}/comment"`), the same names the simulator counts by.

use std::fmt;

/// One Syncro API operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    ListTickets,
    GetTicket,
    CreateTicket,
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
    AddScheduleLineItem,
    UpdateScheduleLineItem,
    ListAssets,
    GetAsset,
    Me,
    ListContacts,
    CreateContact,
    ListRmmAlerts,
    GetRmmAlert,
    CreateRmmAlert,
    ClearRmmAlert,
    MuteRmmAlert,
}

impl Route {
    /// Every operation, e.g. to pre-register metric labels.
    pub const ALL: [Route; 27] = [
        Route::ListTickets,
        Route::GetTicket,
        Route::CreateTicket,
        Route::UpdateTicket,
        Route::AddComment,
        Route::ListComments,
        Route::TicketSettings,
        Route::Settings,
        Route::ListCustomers,
        Route::GetCustomer,
        Route::AutocompleteCustomers,
        Route::ListContracts,
        Route::GetContract,
        Route::ListSchedules,
        Route::GetSchedule,
        Route::AddScheduleLineItem,
        Route::UpdateScheduleLineItem,
        Route::ListAssets,
        Route::GetAsset,
        Route::Me,
        Route::ListContacts,
        Route::CreateContact,
        Route::ListRmmAlerts,
        Route::GetRmmAlert,
        Route::CreateRmmAlert,
        Route::ClearRmmAlert,
        Route::MuteRmmAlert,
    ];

    /// Method and path pattern under `/api/v1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Route::ListTickets => "GET /tickets",
            Route::GetTicket => "GET /tickets/{id}",
            Route::CreateTicket => "POST /tickets",
            Route::UpdateTicket => "PUT /tickets/{id}",
            Route::AddComment => "POST /tickets/{id}/comment",
            Route::ListComments => "GET /tickets/{id}/comments",
            Route::TicketSettings => "GET /tickets/settings",
            Route::Settings => "GET /settings",
            Route::ListCustomers => "GET /customers",
            Route::GetCustomer => "GET /customers/{id}",
            Route::AutocompleteCustomers => "GET /customers/autocomplete",
            Route::ListContracts => "GET /contracts",
            Route::GetContract => "GET /contracts/{id}",
            Route::ListSchedules => "GET /schedules",
            Route::GetSchedule => "GET /schedules/{id}",
            Route::AddScheduleLineItem => "POST /schedules/{id}/add_line_item",
            Route::UpdateScheduleLineItem => "PUT /schedules/{id}/line_items/{line_item_id}",
            Route::ListAssets => "GET /customer_assets",
            Route::GetAsset => "GET /customer_assets/{id}",
            Route::Me => "GET /me",
            Route::ListContacts => "GET /contacts",
            Route::CreateContact => "POST /contacts",
            Route::ListRmmAlerts => "GET /rmm_alerts",
            Route::GetRmmAlert => "GET /rmm_alerts/{id}",
            Route::CreateRmmAlert => "POST /rmm_alerts",
            Route::ClearRmmAlert => "DELETE /rmm_alerts/{id}",
            Route::MuteRmmAlert => "POST /rmm_alerts/{id}/mute",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> reqwest::Method {
        match self.as_str().split(' ').next() {
            Some("POST") => reqwest::Method::POST,
            Some("PUT") => reqwest::Method::PUT,
            Some("DELETE") => reqwest::Method::DELETE,
            _ => reqwest::Method::GET,
        }
    }

    /// Whether repeating the request is harmless. A create or a comment that timed out may
    /// have been applied: read back before sending it again.
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Route::CreateTicket
                | Route::AddComment
                | Route::AddScheduleLineItem
                | Route::CreateContact
                | Route::CreateRmmAlert
        )
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
