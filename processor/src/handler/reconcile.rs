//! Reading Syncro back, the record, where Redis cannot tell: after a crash, whether an
//! interrupted POST reached Syncro; when Redis has no pointer for a group, its open ticket;
//! when Redis lost its data, which alerts a ticket already holds. Each alert is found by the
//! `relay-ref` line every comment carries.

use super::*;
use crate::plan;
use crate::store::{Handled, Intent};
use std::collections::HashMap;
use syncro::{Ticket, TicketFilter, NOT_CLOSED};

/// Comment pages read when looking for an alert's reference after a crash.
pub(crate) const RECONCILE_COMMENT_PAGES: u32 = 5;

/// Tickets with the group's subject examined when looking for a creator's reference.
pub(crate) const RECONCILE_TICKETS: usize = 5;

/// Whether a comment body carries the alert's `relay-ref` line.
pub(crate) fn carries(body: Option<&str>, message_id: &str) -> bool {
    body.is_some_and(|b| plan::references_in(b).contains(&message_id))
}

/// Whether an interrupted POST of this alert was applied: `Some(outcome)` when Syncro shows
/// it, `None` when it must be done (again).
pub(crate) async fn reconcile(
    s: &Services,
    intent: &Intent,
    message_id: &str,
    customer_id: i64,
    subject: &str,
) -> Result<Option<Handled>> {
    match intent {
        Intent::CreateTicket {
            customer_id: intent_customer,
            subject: intent_subject,
            ..
        } => {
            let customer = if *intent_customer > 0 {
                *intent_customer
            } else {
                customer_id
            };
            let subject = if intent_subject.is_empty() {
                subject
            } else {
                intent_subject
            };
            Ok(find_created_ticket(s, customer, subject, message_id)
                .await?
                .map(|t| Handled::Created { ticket_id: t.id }))
        }
        Intent::AddNote { ticket_id, .. } => {
            for page in 1..=RECONCILE_COMMENT_PAGES {
                let comments = match s.syncro.list_comments(*ticket_id, page, Some(100)).await {
                    Ok(comments) => comments,
                    Err(e) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                if let Some(found) = comments
                    .items
                    .iter()
                    .find(|c| carries(c.body.as_deref(), message_id))
                {
                    return Ok(Some(Handled::Noted {
                        ticket_id: *ticket_id,
                        comment_id: Some(found.id),
                    }));
                }
                if !comments.has_next() {
                    break;
                }
            }
            Ok(None)
        }
    }
}

/// How long a customer's open tickets, read once, answer for its new groups.
const SNAPSHOT_KEPT: Duration = Duration::from_secs(60);
/// How far two workers' clocks may disagree: a snapshot must have been read this much after
/// a creation another worker began to be sure to show its ticket.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(2);
/// Pages (of up to 100 tickets) read for a snapshot; a customer with more open tickets than
/// that is asked once per group instead.
const SNAPSHOT_PAGES: u32 = 2;

/// Each customer's open tickets, read once for many new groups: a storm of new subjects costs
/// one list call per customer and worker, not one per group.
///
/// A snapshot is trusted for [`SNAPSHOT_KEPT`]: a ticket created after it by this fleet has
/// its pointer in Redis (looked at first), unless Redis lost that pointer. So it is trusted
/// only under the store epoch it was read in (a loss of Redis's data changes the epoch) and
/// the Redis master it was read under (a failover to a replica may lose the last writes,
/// pointers included, and keep the epoch marker).
#[derive(Default)]
pub(crate) struct OpenTickets {
    customers: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Option<Snapshot>>>>>,
}

struct Snapshot {
    at: std::time::Instant,
    /// When the read began, by the wall clock (to compare with a creation's start).
    read_at: chrono::DateTime<Utc>,
    epoch: Option<String>,
    /// The store's master generation ([`crate::store::Store::master_generation`]).
    master: u64,
    /// `None`: more open tickets than a snapshot holds.
    tickets: Option<Arc<Vec<Ticket>>>,
}

impl OpenTickets {
    /// The customer's open tickets, read now or recently (after `read_after` when given);
    /// `None` when there are too many to keep.
    async fn of(
        &self,
        s: &Services,
        job: &Job,
        read_after: Option<chrono::DateTime<Utc>>,
    ) -> Result<Option<Arc<Vec<Ticket>>>> {
        let slot = {
            let mut customers = self.customers.lock().unwrap_or_else(|e| e.into_inner());
            customers.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .is_ok_and(|s| s.as_ref().is_some_and(|s| s.at.elapsed() < SNAPSHOT_KEPT))
            });
            customers.entry(job.customer_id).or_default().clone()
        };
        // One read per customer at a time: the groups of a storm wait for the first.
        let mut snapshot = slot.lock().await;
        // The store's epoch now, not at the batch head's check-in: a batch may have waited
        // across a loss of Redis's data.
        let epoch = s.store.epoch().await?;
        let master = s.store.master_generation();
        if let Some(kept) = snapshot.as_ref() {
            let same_store = kept.epoch.is_some() && kept.epoch == epoch && kept.master == master;
            let recent_enough = read_after.is_none_or(|after| kept.read_at > after + CLOCK_SKEW);
            if kept.at.elapsed() < SNAPSHOT_KEPT && same_store && recent_enough {
                return Ok(kept.tickets.clone());
            }
        }
        let read_at = Utc::now();
        let filter = TicketFilter {
            customer_id: Some(job.customer_id),
            status: Some(NOT_CLOSED.to_string()),
            per_page: Some(100),
            ..TicketFilter::default()
        };
        let mut tickets = Vec::new();
        let mut complete = false;
        for page in 1..=SNAPSHOT_PAGES {
            let listed = s.syncro.list_tickets(&filter, page).await?;
            tickets.extend(listed.items.iter().cloned());
            if !listed.has_next() {
                complete = true;
                break;
            }
        }
        let tickets = complete.then(|| Arc::new(tickets));
        *snapshot = Some(Snapshot {
            at: std::time::Instant::now(),
            read_at,
            epoch,
            master,
            tickets: tickets.clone(),
        });
        Ok(tickets)
    }
}

/// The customer's open ticket of the group, for a group Redis has no pointer for: not
/// closed, the same normalised subject, active within the grouping `window`; the newest when
/// several. From the customer's snapshot ([`OpenTickets`]), or, for a customer with too many
/// open tickets, one call (`query` narrows the list to the subject).
///
/// A ticket a technician renamed no longer matches and a new one is made; a ticket merged
/// into another is closed in Syncro, so the group goes on in the ticket it was merged into
/// only when that one has the same subject; a closed ticket is never taken up again here.
pub(crate) async fn open_group_ticket(
    s: &Services,
    open: &OpenTickets,
    job: &Job,
    window: Duration,
    read_after: Option<chrono::DateTime<Utc>>,
) -> Result<Option<Ticket>> {
    let (customer_id, subject) = (job.customer_id, job.plan.subject.as_str());
    let candidates = match open.of(s, job, read_after).await? {
        Some(tickets) => tickets,
        None => {
            let filter = TicketFilter {
                customer_id: Some(customer_id),
                status: Some(NOT_CLOSED.to_string()),
                query: Some(subject.to_string()),
                ..TicketFilter::default()
            };
            Arc::new(s.syncro.list_tickets(&filter, 1).await?.items)
        }
    };
    let wanted = plan::group_key(customer_id, subject);
    let since = chrono::Duration::from_std(window)
        .ok()
        .and_then(|w| Utc::now().checked_sub_signed(w));
    Ok(candidates
        .iter()
        .filter(|t| !t.is_closed())
        .filter(|t| in_group(t, customer_id, &wanted))
        .filter(|t| {
            let active = t.updated_at.or(t.created_at);
            match (active, since) {
                (Some(at), Some(since)) => chrono::DateTime::<Utc>::from(at) >= since,
                _ => true,
            }
        })
        .max_by_key(|t| t.id)
        .cloned())
}

/// The message ids a ticket's comments carry (newest comments first, at most
/// [`RECONCILE_COMMENT_PAGES`] pages of 100), each with the comment that carries it.
pub(crate) async fn references_on(s: &Services, ticket_id: i64) -> Result<HashMap<String, i64>> {
    let mut found = HashMap::new();
    for page in 1..=RECONCILE_COMMENT_PAGES {
        let comments = s.syncro.list_comments(ticket_id, page, Some(100)).await?;
        for comment in &comments.items {
            for id in plan::references_in(comment.body.as_deref().unwrap_or_default()) {
                found.entry(id.to_string()).or_insert(comment.id);
            }
        }
        if !comments.has_next() {
            break;
        }
    }
    Ok(found)
}

/// The customer's ticket with this subject whose first comment carries the alert's
/// reference: the ticket an interrupted creation made.
pub(crate) async fn find_created_ticket(
    s: &Services,
    customer_id: i64,
    subject: &str,
    message_id: &str,
) -> Result<Option<Ticket>> {
    let filter = TicketFilter {
        customer_id: Some(customer_id),
        query: Some(subject.to_string()),
        ..TicketFilter::default()
    };
    let page = s.syncro.list_tickets(&filter, 1).await?;
    let wanted = plan::group_key(customer_id, subject);
    let mut candidates: Vec<&Ticket> = page
        .items
        .iter()
        .filter(|t| in_group(t, customer_id, &wanted))
        .collect();
    candidates.sort_by_key(|t| std::cmp::Reverse(t.id));
    for candidate in candidates.into_iter().take(RECONCILE_TICKETS) {
        let ticket = s.syncro.get_ticket(candidate.id).await?;
        if ticket
            .comments
            .iter()
            .any(|c| carries(c.body.as_deref(), message_id))
        {
            return Ok(Some(ticket));
        }
    }
    Ok(None)
}

/// Whether `ticket`'s subject, normalised as grouping does, is the group `wanted` of
/// `customer_id`.
fn in_group(ticket: &Ticket, customer_id: i64, wanted: &str) -> bool {
    ticket
        .subject
        .as_deref()
        .is_some_and(|s| plan::group_key(customer_id, s) == wanted)
}
