//! Deciding where an alert goes: skip it, ignore or park it, reconcile an interrupted
//! attempt, note it on its group's ticket, or create the group's ticket under the group's
//! lease ([`super::create`]).

use super::*;
use crate::config::{OnResolvedTicket, ProcessorConfig};
use crate::plan::{self, Destination};
use crate::store::{GroupTicket, Handled};
use chrono::Utc;
use shared::message::AlertMessage;
use std::sync::Arc;
use std::time::Duration;
use syncro::{Ticket, TicketUpdate};

/// What [`Handler::decide`] concluded.
pub(crate) enum Next {
    Settled(Settled),
    /// Add the alert to this ticket's next note.
    Note {
        ticket_id: i64,
        job: Job,
    },
}

impl Handler {
    /// Everything but the note: settles the alert, or names the ticket to note it on.
    pub(crate) async fn decide(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
    ) -> Result<Next> {
        let s = &self.services;
        let config = s.config.current();
        let check_in = s
            .store
            .check_in(message_id, recovery_horizon(&config))
            .await?;
        if check_in.outcome.is_some() {
            s.metrics.duplicates_skipped.inc();
            return Ok(Next::Settled(Settled::Duplicate));
        }
        let plan = Arc::new(plan::plan(&config, &message));
        let customer_id = match self
            .destination(&message, message_id, &plan.route, &config)
            .await?
        {
            Ok(customer_id) => customer_id,
            Err(settled) => return Ok(Next::Settled(settled)),
        };
        let job = Job {
            group_key: plan::group_key(customer_id, &plan.subject),
            message,
            message_id: message_id.to_string(),
            customer_id,
            plan,
            config,
            recovering: check_in.recovering,
            verify: false,
        };
        if self.reconciled(&job).await? {
            return Ok(Next::Settled(Settled::Reconciled));
        }
        self.find_or_create(job).await
    }

    /// The customer the alert goes to, or how it was settled instead: ignored, or parked
    /// (unmapped organizations are remembered either way).
    async fn destination(
        &self,
        message: &AlertMessage,
        message_id: &str,
        route: &Destination,
        config: &ProcessorConfig,
    ) -> Result<std::result::Result<i64, Settled>> {
        let s = &self.services;
        let (customer_id, mapped) = match *route {
            Destination::Ignored => {
                s.store.finish(message_id, &Handled::Ignored).await?;
                s.metrics.ignored.inc();
                return Ok(Err(Settled::Ignored));
            }
            Destination::Customer {
                customer_id,
                mapped,
            } => (customer_id, mapped),
        };
        if !mapped {
            s.metrics.unmapped.inc();
            s.store
                .note_unmapped(&message.alert.organization, Utc::now())
                .await?;
            if config.mapping.parks(&message.alert.organization.id) {
                return Ok(Err(Settled::Park));
            }
        }
        Ok(Ok(customer_id))
    }

    /// Whether an interrupted attempt of this alert (an intent left behind) turns out to
    /// have reached Syncro; its outcome is then recorded and nothing is posted again.
    async fn reconciled(&self, job: &Job) -> Result<bool> {
        let s = &self.services;
        let Some(intent) = s.store.intent(&job.message_id).await? else {
            return Ok(false);
        };
        let found = reconcile(
            s,
            &intent,
            &job.message_id,
            job.customer_id,
            &job.plan.subject,
        )
        .await?;
        let Some(outcome) = found else {
            return Ok(false);
        };
        if let Handled::Created { ticket_id } = outcome {
            if s.store.group(&job.group_key).await?.is_none() {
                let group = new_group(ticket_id, job.customer_id, &job.plan.subject);
                s.store
                    .set_group(&job.group_key, &group, job.config.grouping.window())
                    .await?;
            }
        }
        s.store.finish(&job.message_id, &outcome).await?;
        s.metrics.reconciled.inc();
        Ok(true)
    }

    /// The group's ticket to note the alert on, or the group's new ticket made by this alert
    /// under the group's lease; other workers wait for the lease's holder meanwhile.
    async fn find_or_create(&self, mut job: Job) -> Result<Next> {
        let s = &self.services;
        let lease = job.config.worker.lock_lease();
        loop {
            if let Some(group) = s.store.group(&job.group_key).await? {
                job.verify = job.recovering && group.recovered;
                match self.usable_ticket(group, &job).await? {
                    Some(ticket_id) => return Ok(Next::Note { ticket_id, job }),
                    None => continue,
                }
            }
            let Some(held) = s.store.lock(&job.group_key, lease).await? else {
                self.wait_for_creator(&job.group_key).await?;
                continue;
            };
            // Kept alive while creating: the POST may wait long for the shared rate limit,
            // and an expired lease would let a second worker create a second ticket.
            let created = s
                .store
                .hold(&held, lease, None, self.create(&job, &held))
                .await;
            // A lease that cannot be released expires by itself.
            let _ = s.store.unlock(held).await;
            match created? {
                Created::InDoubt => tokio::time::sleep(Duration::from_millis(500)).await,
                Created::Ticket => return Ok(Next::Settled(Settled::Created)),
                Created::Exists {
                    ticket_id,
                    recovered,
                } => {
                    job.verify = job.recovering && recovered;
                    return Ok(Next::Note { ticket_id, job });
                }
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
