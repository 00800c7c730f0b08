//! Creating a group's ticket for a batch of its alerts, under the group's lease, in five
//! steps:
//! 1. [`Carrier::created_elsewhere`]: a pointer written meanwhile; a ticket another alert's
//!    interrupted creation made (found in Syncro by its `relay-ref` line); or the group's
//!    open ticket in Syncro, which Redis forgot (lost data, an evicted or expired pointer):
//!    Syncro is the record;
//! 2. enrichment: the contract and the asset ([`super::enrich`]) and the contact
//!    ([`super::contact`]), before any intent, since the lookups may wait for the rate limit;
//! 3. once the rate limiter admits the POST, the batch is taken (every alert that arrived
//!    while the creation waited for its turn rides in the first comment), then
//!    [`Carrier::begin_creation`]: the intents and the `creating` marker;
//! 4. [`Carrier::post_ticket`]: a check that the lease is still ours (a worker that stalled
//!    past its lease, or whose lease Redis lost, never posts), then the POST;
//! 5. [`Carrier::record_created`]: the group pointer and every alert's outcome, then the
//!    follow-ups, which can no longer fail the alerts: the contract, the group's RMM alert
//!    ([`super::rmm`]).

use super::carrier::{listed, taken_ids as ids, Carrier, Created, Taken};
use super::coalesce::Batch;
use super::enrich::Enrichment;
use super::*;
use crate::metrics::ResultLabels;
use crate::plan::{self, Destination, Listed};
use crate::store::{text_hash, Creating, GroupTicket, Handled, Intent, Lease};
use chrono::{DateTime, Utc};
use syncro::{Admission, NewTicket, Route, Ticket};

/// How long a creation whose outcome is unknown keeps other alerts of its group from
/// creating a ticket of their own (the first alert's retry settles it sooner).
const CREATION_DOUBT: chrono::Duration = chrono::Duration::seconds(60);

impl Carrier {
    /// Creates the group's ticket for the batch; `held` is the group's lease, kept alive by
    /// the caller. The alerts taken are added to `taken`.
    pub(crate) async fn create(
        &self,
        batch: &Batch<Carrier>,
        taken: &mut Taken,
        held: &Lease,
    ) -> Result<Created> {
        let job = &*batch.head;
        if let Some(found) = self.created_elsewhere(job, batch).await? {
            return Ok(found);
        }
        let mapped = matches!(job.plan.route, Destination::Customer { mapped: true, .. });
        let s = &self.services;
        let alert = &job.message.alert;
        // Side by side: the contact's lookup is bounded and never adds to the asset's.
        let (mut extra, contact_id) = tokio::join!(
            self.enrich.prepare(
                &s.syncro,
                &s.metrics,
                &job.config.contracts,
                job.customer_id,
                mapped,
                alert,
            ),
            self.contacts.for_ticket(
                &s.syncro,
                &s.metrics,
                &job.config.tickets.contact,
                job.customer_id,
                mapped,
                alert,
            )
        );
        extra.contact_id = contact_id;
        let admission = s.syncro.admit(Route::CreateTicket).await;
        self.take_waiting(batch, taken).await?;
        if taken.is_empty() {
            return Ok(Created::Nothing);
        }
        self.begin_creation(job, taken).await?;
        let Some(ticket) = self
            .post_ticket(job, held, &extra, admission, taken)
            .await?
        else {
            return Ok(Created::LeaseLost);
        };
        self.record_created(job, &ticket, &extra, taken).await?;
        // After the outcome is recorded: this follow-up can neither fail the alert nor
        // make a second ticket.
        if let Some(contract_id) = extra.contract_id {
            self.enrich
                .confirm_contract(&s.syncro, &s.metrics, &ticket, contract_id)
                .await;
        }
        let any_resolved = taken.iter().any(|(p, _)| p.resolved);
        let asset_id = extra.asset_ids.first().copied();
        // Boxed: a follow-up's future need not swell every creation's.
        Box::pin(super::rmm::after_creation(
            s,
            job,
            (ticket.id, ticket.number),
            asset_id,
            any_resolved,
        ))
        .await;
        Ok(Created::Ticket)
    }

    /// A ticket the group already has: a pointer written meanwhile, or the ticket of
    /// another alert's creation that failed without knowing whether Syncro applied it (or
    /// whose worker died). While such a creation is not found and still recent, its POST may
    /// yet land (a slow Syncro applies it after the client gave up): wait for that alert's
    /// retry to settle the question.
    async fn created_elsewhere(
        &self,
        job: &Job,
        batch: &Batch<Carrier>,
    ) -> Result<Option<Created>> {
        let s = &self.services;
        if s.store.group(&job.group_key).await?.is_some() {
            return Ok(Some(Created::Exists));
        }
        let Some(previous) = s.store.creating(&job.group_key).await? else {
            return self.open_in_syncro(job, None).await;
        };
        // Syncro first: the creation may have made its ticket and lost the pointer's write
        // (Redis went away between the POST and the record).
        let found = find_created_ticket(
            s,
            previous.customer_id,
            &previous.subject,
            &previous.message_id,
        )
        .await?;
        if let Some(ticket) = found {
            let group = new_group(ticket.id, ticket.number, job.customer_id, &job.plan.subject);
            s.store
                .set_group(&job.group_key, &group, job.config.grouping.window())
                .await?;
            s.store.clear_creating(&job.group_key).await?;
            s.metrics.reconciled.inc();
            return Ok(Some(Created::Exists));
        }
        // The creator's own alert is in this batch (it came back after its worker died or
        // its call failed): nobody else will settle the question, so this batch does, as
        // the creator would.
        let creator = previous.message_id.clone();
        let ours = previous.message_id == job.message_id
            || batch.holds(move |h| *h.message_id == *creator).await
            || s.store
                .is_pending(&job.group_key, &previous.message_id)
                .await?;
        if !ours && Utc::now() - previous.at < CREATION_DOUBT {
            return Ok(Some(Created::InDoubt));
        }
        // A snapshot read before that creation began cannot show its ticket.
        self.open_in_syncro(job, Some(previous.at)).await
    }

    /// The group's open ticket in Syncro, pointed at again: one call, and only for a group
    /// Redis has no pointer for (the first alert of a new group pays it too).
    /// `read_after`: a snapshot of the customer's open tickets read before then is read again.
    async fn open_in_syncro(
        &self,
        job: &Job,
        read_after: Option<DateTime<Utc>>,
    ) -> Result<Option<Created>> {
        let s = &self.services;
        let window = job.config.grouping.window();
        let found = open_group_ticket(s, &self.open, job, window, read_after).await?;
        let result = if found.is_some() { "found" } else { "none" };
        s.metrics
            .group_lookups
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        let Some(ticket) = found else {
            return Ok(None);
        };
        let group = GroupTicket {
            recovered: true,
            ..new_group(ticket.id, ticket.number, job.customer_id, &job.plan.subject)
        };
        s.store.set_group(&job.group_key, &group, window).await?;
        tracing::info!(ticket_id = ticket.id, ticket_number = ?ticket.number, subject = %job.plan.subject, "the group's open ticket was found in Syncro; Redis had no pointer to it");
        Ok(Some(Created::Exists))
    }

    /// Writes the intents and the group's `creating` marker (naming the batch's first
    /// alert, whose reference the first comment carries): from here on, any worker taking
    /// the lease sees the marker and waits for this creation.
    async fn begin_creation(&self, job: &Job, taken: &Taken) -> Result<()> {
        let s = &self.services;
        let now = Utc::now();
        let intent = Intent::CreateTicket {
            customer_id: job.customer_id,
            subject: job.plan.subject.clone(),
            at: now,
        };
        s.store.write_intents(&ids(taken), &intent).await?;
        let creating = Creating {
            message_id: taken[0].0.message_id.clone(),
            customer_id: job.customer_id,
            subject: job.plan.subject.clone(),
            at: now,
        };
        s.store.set_creating(&job.group_key, &creating).await?;
        Ok(())
    }

    /// The POST of the group's ticket, its first comment listing the alerts taken; `None`
    /// (and no intent left) when the lease turned out lost once the POST was admitted:
    /// another worker may be creating the group's ticket, so this one must not post.
    async fn post_ticket(
        &self,
        job: &Job,
        held: &Lease,
        extra: &Enrichment,
        admission: Admission,
        taken: &Taken,
    ) -> Result<Option<Ticket>> {
        let s = &self.services;
        let (plan, t) = (&job.plan, &job.plan.ticket);
        let first = first_comment(job, extra, taken);
        let title = if taken.len() == 1 {
            plan.note.title.clone()
        } else {
            format!("{} (+{} more)", plan.note.title, taken.len() - 1)
        };
        let request = NewTicket {
            problem_type: Some(t.problem_type.clone()),
            status: Some(t.status.clone()),
            priority: Some(t.priority.clone()),
            user_id: Some(t.user_id),
            ticket_type_id: Some(t.ticket_type_id),
            tag_list: t.tag_list.clone(),
            contract_id: extra.contract_id,
            contact_id: extra.contact_id,
            asset_ids: extra.asset_ids.clone(),
            comments_attributes: vec![comment(plan, title, first)],
            ..NewTicket::new(job.customer_id, plan.subject.clone())
        };
        if !s.store.renew(held, job.config.worker.lock_lease()).await? {
            tracing::warn!(subject = %job.plan.subject, "lost the group's lease before creating its ticket; looking again");
            s.store.clear_intents(&ids(taken)).await?;
            return Ok(None);
        }
        match s.syncro.create_ticket_admitted(admission, &request).await {
            Ok(ticket) => Ok(Some(ticket)),
            Err(error) => {
                // Known not to have been applied: nothing is in doubt any more.
                if !error.outcome_unknown() {
                    s.store.clear_intents(&ids(taken)).await?;
                    s.store.clear_creating(&job.group_key).await?;
                }
                Err(error.into())
            }
        }
    }

    /// Points the group at its new ticket and records every alert as done.
    async fn record_created(
        &self,
        job: &Job,
        ticket: &Ticket,
        extra: &Enrichment,
        taken: &Taken,
    ) -> Result<()> {
        let s = &self.services;
        let group = new_group(ticket.id, ticket.number, job.customer_id, &job.plan.subject);
        s.store
            .set_group(&job.group_key, &group, job.config.grouping.window())
            .await?;
        s.store.clear_creating(&job.group_key).await?;
        let outcome = Handled::Created {
            ticket_id: ticket.id,
        };
        s.store.finish_all(&ids(taken), &outcome).await?;
        s.steering.carried(
            opstate::trail::Step::TicketCreated,
            &job.message,
            taken
                .iter()
                .map(|(p, _)| (p.message_id.as_str(), p.alert_id.as_str())),
            ticket.id,
            ticket.number.as_ref().map(|n| n.to_string()),
        );
        s.metrics.tickets_created.inc();
        if taken.len() > 1 {
            s.metrics.alerts_coalesced.inc_by(taken.len() as u64);
        }
        tracing::info!(ticket_id = ticket.id, ticket_number = ?ticket.number, customer_id = job.customer_id, subject = %job.plan.subject, asset_ids = ?extra.asset_ids, alerts = taken.len(), "ticket created");
        Ok(())
    }
}

/// The first comment: the alerts taken ([`plan::listing`]), the head's kind with the
/// `Syncro asset:` line of its device.
fn first_comment(job: &Job, extra: &Enrichment, taken: &Taken) -> String {
    let unmapped = matches!(job.plan.route, Destination::Customer { mapped: false, .. });
    let plain = text_hash(&plan::alert_text(&job.message, unmapped, None));
    let with_asset = extra
        .asset_line
        .as_deref()
        .map(|line| plan::alert_text(&job.message, unmapped, Some(line)));
    let listed: Vec<Listed> = listed(taken)
        .into_iter()
        .zip(taken)
        .map(|(entry, (pending, _))| match &with_asset {
            Some(text) if pending.text == plain => Listed { text, ..entry },
            _ => entry,
        })
        .collect();
    plan::listing(&listed)
}
