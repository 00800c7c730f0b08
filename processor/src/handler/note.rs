//! Notes: a group's batch posted as one comment on its ticket once the rate limiter admits
//! it ([`plan::listing`]: one section per distinct alert, every alert's id and reference),
//! then every alert's outcome recorded.
//!
//! On a ticket found in Syncro while the store recovers from a loss of Redis's data, the
//! batch is first checked against the ticket's comments: an alert already there (its
//! `relay-ref` line) is recorded and settled as done, never posted again. The ticket's
//! references are read once per worker and kept for [`REFERENCES_KEPT`]; what is posted
//! afterwards is recorded in Redis as usual.

use super::carrier::{listed, taken_ids as ids, Carrier, Taken};
use super::coalesce::Batch;
use super::reconcile::references_on;
use super::*;
use crate::config::ResolvedAlert;
use crate::plan::{self, Plan};
use crate::store::{Handled, Intent, Lease};
use chrono::Utc;
use std::collections::HashMap;
use std::time::Instant;
use syncro::{with_priority, Admission, Class, NewComment, Priority, Route, TicketUpdate};

/// How long a recovered ticket's references, read from Syncro, are trusted.
const REFERENCES_KEPT: Duration = Duration::from_secs(3600);

impl Carrier {
    /// Posts the batch as one note on `ticket_id` (its `number`, for the trail;
    /// `recovered`: found in Syncro during a recovery), under the note class of the budget, fair across tickets. The alerts taken
    /// are added to `taken`.
    ///
    /// `false` when the group's lease turned out lost once the note was admitted (another
    /// worker may be making the group's call): nothing was taken or posted.
    pub(crate) async fn note(
        &self,
        ticket_id: i64,
        number: Option<i64>,
        recovered: bool,
        batch: &Batch<Carrier>,
        taken: &mut Taken,
        lease: &Lease,
    ) -> Result<bool> {
        let job = &*batch.head;
        let priority = Priority::new(Class::Note, job.urgency(), format!("ticket:{ticket_id}"));
        with_priority(priority, async {
            let s = &self.services;
            let admission = s.syncro.admit(Route::AddComment).await;
            if !s.store.renew(lease, job.config.worker.lock_lease()).await? {
                tracing::warn!(
                    ticket_id,
                    "lost the group's lease before its note; looking again"
                );
                return Ok(false);
            }
            self.take_waiting(batch, taken).await?;
            if recovered && taken.iter().any(|(p, _)| p.recovering) {
                self.settle_already_in_syncro(ticket_id, taken).await?;
            }
            if !taken.is_empty() {
                post_note(s, (ticket_id, number), admission, job, taken).await?;
            }
            Ok(true)
        })
        .await
    }

    /// Records, and removes from `taken`, the alerts a recovered ticket's comments already
    /// carry: not posted again (their holders acknowledge them on seeing the outcome).
    async fn settle_already_in_syncro(&self, ticket_id: i64, taken: &mut Taken) -> Result<()> {
        let references = self.references(ticket_id).await?;
        let (there, rest): (Taken, Taken) = std::mem::take(taken)
            .into_iter()
            .partition(|(p, _)| references.contains_key(&p.message_id));
        *taken = rest;
        let s = &self.services;
        for (entry, _) in &there {
            let outcome = Handled::Noted {
                ticket_id,
                comment_id: references.get(&entry.message_id).copied(),
            };
            s.store.finish(&entry.message_id, &outcome).await?;
            s.metrics.already_in_syncro.inc();
            tracing::info!(ticket_id, message_id = %entry.message_id, "the alert is already in the ticket's comments; not posted again");
        }
        Ok(())
    }

    /// The ticket's references, read from Syncro at most once per [`REFERENCES_KEPT`].
    async fn references(&self, ticket_id: i64) -> Result<Arc<HashMap<String, i64>>> {
        let kept = {
            let mut cache = self.references.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|_, (at, _)| at.elapsed() < REFERENCES_KEPT);
            cache.get(&ticket_id).map(|(_, refs)| refs.clone())
        };
        if let Some(refs) = kept {
            return Ok(refs);
        }
        let refs = Arc::new(references_on(&self.services, ticket_id).await?);
        let mut cache = self.references.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(ticket_id, (Instant::now(), refs.clone()));
        Ok(refs)
    }
}

/// A comment with the plan's note settings (visibility, e-mail).
pub(crate) fn comment(plan: &Plan, subject: String, body: String) -> NewComment {
    NewComment {
        subject,
        body,
        hidden: Some(plan.note.hidden),
        do_not_email: Some(plan.note.do_not_email),
        tech: None,
        sms_body: None,
    }
}

/// One note for a batch of alerts of one ticket: the intents, the POST, every alert's
/// outcome, then the resolve a resolved alert may ask for, and the group's RMM alert
/// cleared (or an interrupted raise finished: [`super::rmm`]).
async fn post_note(
    s: &Services,
    (ticket_id, number): (i64, Option<i64>),
    admission: Admission,
    job: &Job,
    taken: &Taken,
) -> Result<()> {
    let ids = ids(taken);
    s.store
        .write_intents(
            &ids,
            &Intent::AddNote {
                ticket_id,
                at: Utc::now(),
            },
        )
        .await?;
    let subject = if taken.len() == 1 {
        job.plan.note.title.clone()
    } else {
        format!("{} (+{} more)", job.plan.note.title, taken.len() - 1)
    };
    let body = plan::listing(&listed(taken));
    let posted = s
        .syncro
        .add_comment_admitted(admission, ticket_id, &comment(&job.plan, subject, body))
        .await;
    let posted = match posted {
        Ok(comment) => comment,
        Err(error) => {
            if error.is_not_found() {
                // The ticket is gone: point the group nowhere so the retry creates a new one.
                s.store.clear_group(&job.group_key).await?;
            }
            if !error.outcome_unknown() {
                s.store.clear_intents(&ids).await?;
            }
            return Err(error.into());
        }
    };
    let outcome = Handled::Noted {
        ticket_id,
        comment_id: Some(posted.id),
    };
    s.store.finish_all(&ids, &outcome).await?;
    s.steering.carried(
        opstate::trail::Step::NoteAdded,
        &job.message,
        taken
            .iter()
            .map(|(p, _)| (p.message_id.as_str(), p.alert_id.as_str())),
        ticket_id,
        number.map(|n| n.to_string()),
    );
    s.store
        .touch_group(&job.group_key, job.config.grouping.window())
        .await?;
    s.metrics.notes_added.inc();
    if taken.len() > 1 {
        s.metrics.alerts_coalesced.inc_by(taken.len() as u64);
    }
    tracing::info!(ticket_id, alerts = taken.len(), "note added");
    let resolved = taken.iter().any(|(p, _)| p.resolved);
    if resolved && job.config.grouping.resolved_alert == ResolvedAlert::NoteAndResolve {
        resolve_ticket(s, ticket_id, job).await?;
    }
    // Boxed: a follow-up's future need not swell every note's.
    Box::pin(super::rmm::after_note(
        s,
        job,
        (ticket_id, number),
        resolved,
    ))
    .await;
    Ok(())
}

/// Sets the ticket to the resolve status after a resolved alert's note. The alerts are
/// delivered by then: a failed status change is logged, not retried.
async fn resolve_ticket(s: &Services, ticket_id: i64, job: &Job) -> Result<()> {
    let config = &job.config;
    {
        let update = TicketUpdate {
            status: Some(config.grouping.resolve_status.clone()),
            ..TicketUpdate::default()
        };
        // The alerts are delivered; a failed status change is logged, not retried.
        match s.syncro.update_ticket(ticket_id, &update).await {
            Ok(_) => {
                tracing::info!(ticket_id, "ticket resolved by a resolved alert");
                // Make the next alert of the group read the ticket's status again.
                if let Some(mut group) = s.store.group(&job.group_key).await? {
                    group.checked_at = chrono::DateTime::<Utc>::UNIX_EPOCH;
                    s.store
                        .set_group(&job.group_key, &group, config.grouping.window())
                        .await?;
                }
            }
            Err(error) => tracing::warn!(ticket_id, error = %error, "could not resolve the ticket"),
        }
    }
    Ok(())
}
