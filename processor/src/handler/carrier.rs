//! The [`Carrier`]: what carrying a group's alerts to Syncro needs, shared by its steps (the
//! call in `flush`, the ticket in `create`, the note in `note`), each of which adds its
//! methods to it; and what a call took ([`Taken`]) and concluded ([`Created`]).

use super::contact::Contacts;
use super::enrich::Enricher;
use super::reconcile::OpenTickets;
use super::Services;
use crate::store::Pending;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The alerts a call took from the group's list, with their texts.
pub(crate) type Taken = Vec<(Pending, Arc<str>)>;

/// The message ids a recovered ticket's comments carried when they were read, and when.
pub(crate) type References = (Instant, Arc<HashMap<String, i64>>);

/// Carries batches: creates tickets and posts notes.
pub(crate) struct Carrier {
    pub(crate) services: Arc<Services>,
    /// Contracts and assets of new tickets (the asset cache lives here).
    pub(crate) enrich: Enricher,
    /// New tickets' contacts (the contact cache lives here).
    pub(crate) contacts: Contacts,
    /// Recovered tickets' references, by ticket id ([`super::note`]).
    pub(crate) references: Mutex<HashMap<i64, References>>,
    /// Customers' open tickets, read once for many new groups ([`super::reconcile`]).
    pub(crate) open: OpenTickets,
}

impl Carrier {
    pub(crate) fn new(services: Arc<Services>) -> Carrier {
        Carrier {
            services,
            enrich: Enricher::new(),
            contacts: Contacts::default(),
            references: Default::default(),
            open: OpenTickets::default(),
        }
    }
}

/// What [`Carrier::create`] concluded.
pub(crate) enum Created {
    /// This alert created the group's ticket.
    Ticket,
    /// Another alert's creation may still land in Syncro: wait, then look again.
    InDoubt,
    /// The group has a ticket already, and a pointer to it: made meanwhile, found after a
    /// creator's crash, or found open in Syncro.
    Exists,
    /// Every alert of the batch was released meanwhile: nothing to create.
    Nothing,
    /// The group's lease turned out lost once the POST was admitted: nothing was posted.
    LeaseLost,
}

/// The message ids of the alerts a call took.
pub(crate) fn taken_ids(taken: &Taken) -> Vec<&str> {
    taken.iter().map(|(p, _)| p.message_id.as_str()).collect()
}

/// The alerts a call took, as a comment lists them.
pub(crate) fn listed(taken: &Taken) -> Vec<crate::plan::Listed<'_>> {
    taken
        .iter()
        .map(|(p, text)| crate::plan::Listed {
            alert_id: &p.alert_id,
            message_id: &p.message_id,
            occurred_at: p.occurred_at,
            text,
        })
        .collect()
}
