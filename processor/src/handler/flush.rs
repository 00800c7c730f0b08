//! Carrying a group's batch to Syncro: the [`Carrier`] is the coalescer's [`Flush`].
//!
//! For a due batch, in a loop until one call carried it:
//! 1. the group points at a ticket (Redis): is it still usable (its status read at most once
//!    per `grouping.status_check_secs`, a resolved one reopened or replaced)? Then a note
//!    ([`super::note`]);
//! 2. no pointer: take the group's creation lease and create the ticket ([`super::create`]),
//!    its first comment carrying the batch; another worker holding the lease → wait for its
//!    pointer, then note.
//!
//! Each call takes the batch only once the budget admitted it ([`Batch::take`]), so the
//! alerts that arrived meanwhile ride along. Whatever happens, every alert taken is settled
//! ([`super::held`]): done, failed (its failure recorded, its message given back), or put
//! back for a 429 (the budget is paused fleet-wide; the batch tries again after it).

use super::coalesce::{Batch, Flush};
use super::create::Created;
use super::enrich::Enricher;
use super::held::{self, Held};
use super::note::References;
use super::reconcile::OpenTickets;
use super::*;
use crate::config::OnResolvedTicket;
use crate::store::GroupTicket;
use std::collections::HashMap;
use std::sync::Mutex;
use syncro::{with_priority, Class, Priority, Ticket, TicketUpdate};

/// How long a batch whose call met a 429 waits before it is due again (the limiter's shared
/// pause holds everyone meanwhile).
const AFTER_429: Duration = Duration::from_secs(5);

/// Carries batches: creates tickets and posts notes.
pub(crate) struct Carrier {
    pub(crate) services: Arc<Services>,
    /// Contracts and assets of new tickets (the asset cache lives here).
    pub(crate) enrich: Enricher,
    /// Recovered tickets' references, by ticket id ([`super::note`]).
    pub(crate) references: Mutex<HashMap<i64, References>>,
    /// Customers' open tickets, read once for many new groups ([`super::reconcile`]).
    pub(crate) open: OpenTickets,
}

impl Flush for Carrier {
    type Item = Held;
    type Head = Job;

    async fn flush(&self, batch: Batch<Self>) {
        let mut taken = Vec::new();
        let result = self.carry(&batch, &mut taken).await;
        let s = &self.services;
        match result {
            Ok(()) => {
                if !taken.is_empty() {
                    held::settle_done(s, taken).await;
                }
            }
            Err(HandleError::Syncro(e)) if e.status() == Some(429) => {
                tracing::warn!("Syncro answered 429; the batch waits for the shared pause");
                batch.put_back(taken, AFTER_429).await;
            }
            Err(error) => {
                if taken.is_empty() {
                    // Failed before its call: the alerts waiting now share the failure
                    // rather than make the same call again at once.
                    taken = batch.take().await;
                }
                if matches!(error, HandleError::Store(_)) {
                    s.metrics.redis_up.set(0);
                }
                tracing::warn!(error = %error, alerts = taken.len(), "the group's call failed; its alerts go back to the queue");
                held::settle_failed(s, taken, &error).await;
            }
        }
    }

    async fn release(&self, entries: Vec<Held>) {
        let s = &self.services;
        s.metrics.held_released.inc_by(entries.len() as u64);
        tracing::warn!(
            alerts = entries.len(),
            "alerts held for max_hold_secs go back to the queue"
        );
        held::give_back(s, entries).await;
    }
}

impl Carrier {
    pub(crate) fn new(services: Arc<Services>) -> Carrier {
        Carrier {
            services,
            enrich: Enricher::new(),
            references: Default::default(),
            open: OpenTickets::default(),
        }
    }

    /// One call for the batch: a note on the group's ticket, or its creation. `taken` holds
    /// the alerts taken from the batch, whatever the outcome.
    async fn carry(&self, batch: &Batch<Self>, taken: &mut Vec<Held>) -> Result<()> {
        let s = &self.services;
        let job = &batch.head;
        let lease = job.config.worker.lock_lease();
        let mut vanished = false;
        loop {
            if let Some(group) = s.store.group(&batch.key).await? {
                let recovered = group.recovered;
                let read = Priority::new(Class::Read, job.urgency(), flow_of(job));
                let usable = with_priority(read, self.usable_ticket(group, job)).await?;
                let Some(ticket_id) = usable else { continue };
                match self.note(ticket_id, recovered, batch, taken).await {
                    Err(HandleError::Syncro(e)) if e.is_not_found() && !vanished => {
                        tracing::info!(
                            ticket_id,
                            "the group's ticket is gone from Syncro; starting a new one"
                        );
                        vanished = true;
                        continue;
                    }
                    other => return other,
                }
            }
            let Some(held) = s.store.lock(&batch.key, lease).await? else {
                self.wait_for_creator(&batch.key).await?;
                continue;
            };
            // Kept alive while creating: the POST may wait long for the shared rate limit,
            // and an expired lease would let a second worker create a second ticket.
            let create = Priority::new(Class::Create, job.urgency(), flow_of(job));
            let created = s
                .store
                .hold(
                    &held,
                    lease,
                    None,
                    with_priority(create, self.create(batch, taken, &held)),
                )
                .await;
            // A lease that cannot be released expires by itself.
            let _ = s.store.unlock(held).await;
            match created? {
                Created::InDoubt => tokio::time::sleep(Duration::from_millis(500)).await,
                Created::Ticket | Created::Nothing => return Ok(()),
                Created::Exists => continue,
            }
        }
    }

    /// Another worker holds the group's lease: wait until its ticket appears or the lease
    /// goes, and at least once a second let the caller try the lease again (it is taken
    /// over at once when its holder died: [`crate::store::lease`]).
    async fn wait_for_creator(&self, group_key: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + crate::store::lease::ALIVE_FOR;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.services.store.group(group_key).await?.is_some()
                || !self.services.store.is_locked(group_key).await?
            {
                break;
            }
        }
        Ok(())
    }

    /// The group's ticket if alerts should still go to it; `None` when a new ticket is due
    /// (the pointer is then cleared). Syncro is asked at most once per
    /// `grouping.status_check_secs`.
    async fn usable_ticket(&self, mut group: GroupTicket, job: &Job) -> Result<Option<i64>> {
        let s = &self.services;
        let now = Utc::now();
        let grouping = &job.config.grouping;
        let interval = chrono::Duration::seconds(grouping.status_check_secs as i64);
        if now - group.checked_at < interval {
            return Ok(Some(group.ticket_id));
        }
        let ticket = match s.syncro.get_ticket(group.ticket_id).await {
            Ok(ticket) => ticket,
            Err(e) if e.is_not_found() => {
                tracing::info!(
                    ticket_id = group.ticket_id,
                    "the group's ticket is gone from Syncro; a new one will be created"
                );
                s.store.clear_group(&job.group_key).await?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if ticket.is_closed() {
            let recent = resolved_within(&ticket, grouping.reopen_window());
            match grouping.on_resolved_ticket {
                OnResolvedTicket::Reopen if recent => {
                    let update = TicketUpdate {
                        status: Some(grouping.reopen_status.clone()),
                        ..TicketUpdate::default()
                    };
                    s.syncro.update_ticket(ticket.id, &update).await?;
                    tracing::info!(ticket_id = ticket.id, subject = %job.plan.subject, "reopened the group's resolved ticket");
                }
                OnResolvedTicket::Note if recent => {}
                _ => {
                    tracing::info!(ticket_id = ticket.id, subject = %job.plan.subject, "the group's ticket was resolved; a new one will be created");
                    s.store.clear_group(&job.group_key).await?;
                    return Ok(None);
                }
            }
        }
        group.checked_at = now;
        s.store
            .set_group(&job.group_key, &group, grouping.window())
            .await?;
        Ok(Some(group.ticket_id))
    }
}

/// The flow a group's creation and reads are fair within: its customer.
fn flow_of(job: &Job) -> String {
    format!("customer:{}", job.customer_id)
}

/// Whether a closed ticket was resolved recently enough to take the group's alerts again.
fn resolved_within(ticket: &Ticket, window: Duration) -> bool {
    let reference = ticket.resolved_at.or(ticket.updated_at);
    match reference {
        Some(at) => {
            let at: chrono::DateTime<Utc> = at.into();
            chrono::Duration::from_std(window).is_ok_and(|window| Utc::now() - at <= window)
        }
        None => true,
    }
}
