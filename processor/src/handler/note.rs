//! Notes: alerts for one ticket gathered by the [`super::coalesce::Coalescer`] are posted as
//! one comment when the rate limiter admits it; every alert's outcome is then recorded.
//!
//! On a ticket found in Syncro while the store recovers from a loss of Redis's data, the
//! batch is first checked against the ticket's comments: an alert already there (its
//! `relay-ref` line) is recorded and answered as a duplicate, never posted again. The
//! ticket's references are read once per worker and kept for [`REFERENCES_KEPT`]; what is
//! posted afterwards is recorded in Redis as usual.

use super::coalesce::{Entry, Flush};
use super::reconcile::references_on;
use super::*;
use crate::config::ResolvedAlert;
use crate::plan::{self, Plan};
use crate::store::{Handled, Intent};
use chrono::Utc;
use shared::alert::AlertStatus;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use syncro::{Admission, NewComment, Route, TicketUpdate};

pub(crate) type NoteResult = Result<Settled>;

/// How long a recovered ticket's references, read from Syncro, are trusted.
const REFERENCES_KEPT: Duration = Duration::from_secs(3600);

/// The message ids a recovered ticket's comments carried when they were read, and when.
type References = (Instant, Arc<HashMap<String, i64>>);

/// Posts each ticket's gathered alerts as one note: the coalescer's [`Flush`].
pub(crate) struct NotePoster {
    pub(crate) services: Arc<Services>,
    /// Recovered tickets' references, by ticket id.
    pub(crate) references: Mutex<HashMap<i64, References>>,
}

impl Flush for NotePoster {
    type Item = Job;
    type Result = NoteResult;
    type Admission = Admission;

    /// A slot of the shared Syncro budget for the note's POST.
    async fn admit(&self, _ticket_id: i64) -> Admission {
        self.services.syncro.admit(Route::AddComment).await
    }

    /// Posts one note for the batch, records every alert's outcome, answers each handler.
    async fn flush(
        &self,
        ticket_id: i64,
        admission: Admission,
        entries: Vec<Entry<Job, NoteResult>>,
    ) {
        let entries = match self.not_in_syncro_yet(ticket_id, entries).await {
            Ok(entries) if entries.is_empty() => return,
            Ok(entries) => entries,
            Err((error, entries)) => {
                for entry in entries {
                    entry.respond(Err(error.clone()));
                }
                return;
            }
        };
        let result = post_note(&self.services, ticket_id, admission, &entries).await;
        for entry in entries {
            entry.respond(result.clone());
        }
    }
}

impl NotePoster {
    /// The entries still to post: on a ticket found in Syncro during a recovery, the alerts
    /// its comments already carry are recorded and answered as duplicates.
    async fn not_in_syncro_yet(
        &self,
        ticket_id: i64,
        entries: Vec<Entry<Job, NoteResult>>,
    ) -> std::result::Result<Vec<Entry<Job, NoteResult>>, (HandleError, Vec<Entry<Job, NoteResult>>)>
    {
        if !entries.iter().any(|e| e.item.verify) {
            return Ok(entries);
        }
        let references = match self.references(ticket_id).await {
            Ok(references) => references,
            Err(error) => return Err((error, entries)),
        };
        let s = &self.services;
        let mut rest = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(&comment_id) = references.get(&entry.item.message_id) else {
                rest.push(entry);
                continue;
            };
            let outcome = Handled::Noted {
                ticket_id,
                comment_id: Some(comment_id),
            };
            let recorded = s.store.finish(&entry.item.message_id, &outcome).await;
            s.metrics.already_in_syncro.inc();
            tracing::info!(ticket_id, message_id = %entry.item.message_id, "the alert is already in the ticket's comments; not posted again");
            entry.respond(match recorded {
                Ok(()) => Ok(Settled::Duplicate),
                Err(e) => Err(e.into()),
            });
        }
        Ok(rest)
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

impl Handler {
    /// Adds the alert to its ticket's next note and waits until that note is in Syncro.
    pub(crate) async fn note(&self, ticket_id: i64, job: Job) -> Result<Settled> {
        self.notes
            .submit(ticket_id, job)
            .await
            .unwrap_or(Err(HandleError::Stopping))
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
/// outcome, then the resolve a resolved alert may ask for.
async fn post_note(
    s: &Services,
    ticket_id: i64,
    admission: Admission,
    entries: &[Entry<Job, NoteResult>],
) -> NoteResult {
    let ids: Vec<&str> = entries.iter().map(|e| e.item.message_id.as_str()).collect();
    let messages: Vec<&AlertMessage> = entries.iter().map(|e| e.item.message.as_ref()).collect();
    let first = &entries[0].item;
    s.store
        .write_intents(
            &ids,
            &Intent::AddNote {
                ticket_id,
                at: Utc::now(),
            },
        )
        .await?;
    let subject = if entries.len() == 1 {
        first.plan.note.title.clone()
    } else {
        format!("{} (+{} more)", first.plan.note.title, entries.len() - 1)
    };
    let body = plan::note_body(&messages, &first.plan, None);
    let posted = s
        .syncro
        .add_comment_admitted(admission, ticket_id, &comment(&first.plan, subject, body))
        .await;
    let posted = match posted {
        Ok(comment) => comment,
        Err(error) => {
            if error.is_not_found() {
                // The ticket is gone: point the group nowhere so the retry creates a new one.
                s.store.clear_group(&first.group_key).await?;
            }
            if !error.outcome_unknown() {
                s.store.clear_intents(&ids).await?;
            }
            return Err(error.into());
        }
    };
    for id in &ids {
        s.store
            .finish(
                id,
                &Handled::Noted {
                    ticket_id,
                    comment_id: Some(posted.id),
                },
            )
            .await?;
    }
    s.store
        .touch_group(&first.group_key, first.config.grouping.window())
        .await?;
    s.metrics.notes_added.inc();
    if entries.len() > 1 {
        s.metrics.alerts_coalesced.inc_by(entries.len() as u64);
    }
    tracing::info!(ticket_id, alerts = entries.len(), "note added");
    let resolved = messages
        .iter()
        .any(|m| m.alert.status == AlertStatus::Resolved);
    if resolved && first.config.grouping.resolved_alert == ResolvedAlert::NoteAndResolve {
        resolve_ticket(s, ticket_id, first).await?;
    }
    Ok(Settled::Noted)
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
