//! Carrying a group's alerts to Syncro: the [`Carrier`] is the coalescer's [`Flush`].
//!
//! A worker's batch for a group is due: its held alerts wait for the group's next call. The
//! call carries the group's alerts *from every worker* (`store::pending`), so it is made under
//! the group's lease, by one worker at a time:
//! 1. [`Carrier::flush`] first settles what the records already say: alerts another worker's
//!    call carried (acknowledged), alerts whose call failed (given back for their retry
//!    tier);
//! 2. the lease is taken, or another worker is making the group's call: the batch waits a
//!    moment and looks again;
//! 3. under the lease, [`Carrier::call`]: the group points at a ticket (Redis) that is still
//!    usable (its status read at most once per `grouping.status_check_secs`, a resolved one
//!    reopened or replaced) → a note ([`super::note`]); no pointer → the ticket is created
//!    ([`super::create`]). Each call takes the group's waiting alerts only once the budget
//!    admitted it, so every alert that arrived meanwhile, at any worker, rides along;
//! 4. the batch's alerts are settled by their records again; one neither recorded nor
//!    waiting any more was taken by a worker that died before recording it: it goes back to
//!    the queue, and its intent decides on its next delivery (`super::reconcile`).
//!
//! A 429 puts the alerts taken back at the front of the group's list (the budget is paused
//! fleet-wide meanwhile); any other failure is recorded for every alert the call took, or,
//! when the call failed before taking any, for the alerts waiting then.

use super::carrier::{taken_ids, Carrier, Created, Taken};
use super::coalesce::{Batch, Flush};
use super::held::{self, Held};
use super::*;
use crate::config::OnResolvedTicket;
use crate::store::{Failure, GroupTicket, Lease, Pending, Settlement};
use syncro::{with_priority, Class, Priority, Ticket, TicketUpdate};

/// How long a batch waits before looking again while another worker makes its group's call.
const BUSY_WAIT: Duration = Duration::from_millis(500);
/// How long a batch whose call met a 429 waits before it is due again (the limiter's shared
/// pause holds everyone meanwhile).
const AFTER_429: Duration = Duration::from_secs(5);
/// How long a batch waits after a failed call or an unavailable Redis.
const AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What became of the group's call.
enum Called {
    /// Another worker holds the group's lease.
    Busy,
    /// Made (or nothing was waiting): `drained` when the group's list was empty after it.
    Made { drained: bool },
}

impl Flush for Carrier {
    type Item = Held;
    type Head = Job;

    async fn flush(&self, batch: Batch<Self>) {
        let local = batch.take().await;
        if local.is_empty() {
            return;
        }
        let Some(local) = self.settle_recorded(local, &batch, false).await else {
            return;
        };
        let mut taken = Taken::new();
        let called = self.carry(&batch, &mut taken).await;
        let (after, drained) = match &called {
            Ok(Called::Busy) => (BUSY_WAIT, false),
            Ok(Called::Made { drained }) => (Duration::ZERO, *drained),
            Err(HandleError::Syncro(e)) if e.status() == Some(429) => {
                tracing::warn!("Syncro answered 429; the group's call waits for the shared pause");
                (AFTER_429, false)
            }
            Err(error) => {
                if matches!(error, HandleError::Store(_)) {
                    self.services.metrics.redis_up.set(0);
                }
                tracing::warn!(error = %error, alerts = taken.len(), "the group's call failed");
                (AFTER_FAILURE, false)
            }
        };
        if let Some(waiting) = self.settle_recorded(local, &batch, drained).await {
            batch.put_back(waiting, after).await;
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
    /// Settles the alerts whose records say how (done: acknowledged; failed: given back);
    /// with `drained` (the group's list was empty after this worker's call), the alerts
    /// neither recorded nor waiting any more are given back too. Returns the alerts still
    /// waiting, or `None` when none is (or Redis did not answer: they were put back).
    async fn settle_recorded(
        &self,
        local: Vec<Held>,
        batch: &Batch<Self>,
        drained: bool,
    ) -> Option<Vec<Held>> {
        let s = &self.services;
        let states = match s.store.settlements(&held::ids(&local)).await {
            Ok(states) => states,
            Err(e) => {
                s.metrics.redis_up.set(0);
                tracing::warn!(error = %e, "cannot read the held alerts' records (Redis); waiting");
                batch.put_back(local, AFTER_FAILURE).await;
                return None;
            }
        };
        let (mut done, mut back, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for (entry, state) in local.into_iter().zip(states) {
            match state {
                Settlement::Done => done.push(entry),
                Settlement::Failed => back.push(entry),
                Settlement::Waiting | Settlement::Interrupted if drained => back.push(entry),
                Settlement::Waiting | Settlement::Interrupted => waiting.push(entry),
            }
        }
        held::settle_done(s, done).await;
        held::give_back(s, back).await;
        (!waiting.is_empty()).then_some(waiting)
    }

    /// The group's call, under its lease; `taken` receives the alerts it took.
    async fn carry(&self, batch: &Batch<Self>, taken: &mut Taken) -> Result<Called> {
        let s = &self.services;
        let ttl = batch.head.config.worker.lock_lease();
        let Some(lease) = s.store.lock(&batch.key, ttl).await? else {
            return Ok(Called::Busy);
        };
        // Kept alive for the whole call: it may wait long for the shared budget, and an
        // expired lease would let a second worker make a second ticket.
        let result = s
            .store
            .hold(&lease, ttl, None, self.call(batch, taken, &lease))
            .await;
        let result = match result {
            Err(HandleError::Syncro(e)) if e.status() == Some(429) => {
                self.return_taken(batch, taken).await?;
                Err(HandleError::Syncro(e))
            }
            Err(HandleError::Syncro(e)) => {
                if taken.is_empty() {
                    // Failed before taking anything: the alerts waiting now share the
                    // failure rather than make the same call again at once.
                    let max = batch.head.config.worker.coalesce_max_alerts;
                    *taken = s.store.take_pending(&batch.key, max).await?;
                }
                s.store
                    .record_failures(&taken_ids(taken), &Failure::of(&e))
                    .await?;
                Err(HandleError::Syncro(e))
            }
            other => other,
        };
        // A lease that cannot be released expires by itself.
        let _ = s.store.unlock(lease).await;
        result
    }

    /// A note on the group's ticket, or its creation; nothing when no alert waits.
    async fn call(&self, batch: &Batch<Self>, taken: &mut Taken, lease: &Lease) -> Result<Called> {
        let s = &self.services;
        let job = &batch.head;
        if s.store.pending_len(&batch.key).await? == 0 {
            return Ok(Called::Made { drained: true });
        }
        let mut vanished = false;
        loop {
            if let Some(group) = s.store.group(&batch.key).await? {
                let (recovered, number) = (group.recovered, group.number);
                let read = Priority::new(Class::Read, job.urgency(), flow_of(job));
                let usable = with_priority(read, self.usable_ticket(group, job)).await?;
                let Some(ticket_id) = usable else { continue };
                match self
                    .note(ticket_id, number, recovered, batch, taken, lease)
                    .await
                {
                    Ok(false) => return self.lost_lease(batch, taken).await,
                    Err(HandleError::Syncro(e)) if e.is_not_found() && !vanished => {
                        tracing::info!(
                            ticket_id,
                            "the group's ticket is gone from Syncro; starting a new one"
                        );
                        vanished = true;
                        continue;
                    }
                    other => {
                        other?;
                        return self.made(batch).await;
                    }
                }
            }
            let create = Priority::new(Class::Create, job.urgency(), flow_of(job));
            let created = with_priority(create, self.create(batch, taken, lease)).await?;
            match created {
                Created::InDoubt => tokio::time::sleep(Duration::from_millis(500)).await,
                Created::LeaseLost => return self.lost_lease(batch, taken).await,
                Created::Ticket | Created::Nothing => return self.made(batch).await,
                Created::Exists => continue,
            }
        }
    }

    /// The group's lease was lost before the call's POST: what it took goes back for the
    /// worker holding the lease now.
    async fn lost_lease(&self, batch: &Batch<Self>, taken: &mut Taken) -> Result<Called> {
        self.return_taken(batch, taken).await?;
        Ok(Called::Busy)
    }

    /// Puts what a call took and did not post back at the front of the group's list.
    async fn return_taken(&self, batch: &Batch<Self>, taken: &mut Taken) -> Result<()> {
        let entries: Vec<Pending> = taken.drain(..).map(|(p, _)| p).collect();
        self.services
            .store
            .return_pending(&batch.key, &entries)
            .await?;
        Ok(())
    }

    /// The call is made: whether the group's list is empty now (read under the lease).
    async fn made(&self, batch: &Batch<Self>) -> Result<Called> {
        let left = self.services.store.pending_len(&batch.key).await?;
        Ok(Called::Made { drained: left == 0 })
    }

    /// Takes the group's waiting alerts into `taken` (up to `coalesce_max_alerts` in all),
    /// leaving out what a call must not post: an alert listed twice (its message came back
    /// while its entry still waited), already settled, or interrupted (another call took it
    /// and died: its holder gives it back, and its next copy reads Syncro back first).
    pub(crate) async fn take_waiting(&self, batch: &Batch<Self>, taken: &mut Taken) -> Result<()> {
        let s = &self.services;
        let max = batch.head.config.worker.coalesce_max_alerts;
        let got = s
            .store
            .take_pending(&batch.key, max.saturating_sub(taken.len()))
            .await?;
        let mut seen: std::collections::HashSet<String> =
            taken.iter().map(|(p, _)| p.message_id.clone()).collect();
        let got: Taken = got
            .into_iter()
            .filter(|(p, _)| seen.insert(p.message_id.clone()))
            .collect();
        let ids: Vec<&str> = got.iter().map(|(p, _)| p.message_id.as_str()).collect();
        let states = s.store.settlements(&ids).await?;
        taken.extend(
            got.into_iter()
                .zip(states)
                .filter(|(_, state)| *state == Settlement::Waiting)
                .map(|(entry, _)| entry),
        );
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
