//! Typed requests and responses, one module per area, plus the lenient deserializers that
//! absorb Syncro's loose typing.

pub mod account;
pub mod assets;
pub mod billing;
pub mod customers;
pub mod de;
pub mod rmm;
pub mod tickets;

pub use account::{AccountSettings, Me, NamedId, TicketSettings};
pub use assets::{normalize_mac, Asset, AssetFilter};
pub use billing::{Contract, LineItemFields, Schedule, ScheduleLineItem, COUNTED_RECURRING_TYPES};
pub use customers::{Contact, ContactFilter, Customer, CustomerFilter, NewContact};
pub use de::Timestamp;
pub use rmm::{MuteFor, NewRmmAlert, RmmAlert, RmmAlertProperties, RmmAlertStatus};
pub use tickets::{
    is_closed_status, Comment, NewComment, NewTicket, Ticket, TicketFilter, TicketUpdate,
    NOT_CLOSED,
};
