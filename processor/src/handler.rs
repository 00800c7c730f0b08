//! One alert, from queued message to Syncro ticket or note, exactly once in effect.
//!
//! The order of [`Handler::handle`]:
//! 1. an outcome already recorded for the message id → skip (redelivery, replay, resend);
//! 2. the plan (customer, subject, fields) from the rules; ignored organizations stop here,
//!    unmapped ones are remembered and go to the catch-all customer, or, with
//!    `unmapped = "park"`, stop here too for the consumer to park them;
//! 3. an intent left by an interrupted attempt → read Syncro back to learn whether the POST
//!    was applied, instead of posting again;
//! 4. the group (customer + normalised subject): its ticket gets a note (coalesced with other
//!    alerts for it); with no ticket, one worker creates it under a Redis lease while the
//!    others wait and then add notes. A new ticket carries its organization's contract and
//!    the asset matching the alert's device ([`crate::enrich`]).
//!
//! The configuration is read once per alert (a snapshot of the [`ConfigHandle`]), so a
//! reload never changes it half-way through one alert.
//!
//! Before every Syncro POST an intent is written; after it, the outcome. A crash between the
//! two is what reconciliation resolves, using the `relay-ref: <message id>` line every
//! comment carries.

use crate::coalesce::{Coalescer, Entry};
use crate::config::{OnResolvedTicket, ProcessorConfig, ResolvedAlert};
use crate::enrich::Enricher;
use crate::metrics::Metrics;
use crate::reload::ConfigHandle;
use crate::rules::{self, Plan, Route};
use crate::store::{Creating, GroupTicket, Intent, Lease, Outcome, Store, StoreError};
use crate::syncro::{
    Admission, NewComment, NewTicket, SyncroClient, SyncroError, Ticket, TicketFilter, TicketUpdate,
};
use chrono::Utc;
use shared::alert::AlertStatus;
use shared::message::AlertMessage;
use std::sync::Arc;
use std::time::Duration;

/// How long a creation whose outcome is unknown keeps other alerts of its group from
/// creating a ticket of their own (the first alert's retry settles it sooner).
const CREATION_DOUBT: chrono::Duration = chrono::Duration::seconds(60);
/// Comment pages read when looking for an alert's reference after a crash.
const RECONCILE_COMMENT_PAGES: u32 = 5;
/// Tickets with the group's subject examined when looking for a creator's reference.
const RECONCILE_TICKETS: usize = 5;

/// How a message was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Created,
    Noted,
    Duplicate,
    Ignored,
    /// Its organization has no mapping and parking is on: the consumer moves it to the
    /// parked queue (nothing was recorded, so its release handles it afresh).
    Park,
    /// An interrupted attempt turned out to have been applied.
    Reconciled,
}

/// Why a message could not be settled now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandleError {
    /// Redis is unavailable: keep the message and wait for Redis.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// Syncro refused or failed: retry or dead-letter, as its classification says.
    #[error(transparent)]
    Syncro(Arc<SyncroError>),
    /// The processor is stopping: leave the message to be redelivered.
    #[error("the processor is shutting down")]
    Stopping,
}

impl From<StoreError> for HandleError {
    fn from(error: StoreError) -> Self {
        HandleError::Store(Arc::new(error))
    }
}

impl From<SyncroError> for HandleError {
    fn from(error: SyncroError) -> Self {
        HandleError::Syncro(Arc::new(error))
    }
}

pub type Result<T, E = HandleError> = std::result::Result<T, E>;

/// An alert waiting for a note on its group's ticket.
pub struct NoteItem {
    message: Arc<AlertMessage>,
    message_id: String,
    plan: Arc<Plan>,
    group_key: String,
    /// The configuration the alert is handled under.
    config: Arc<ProcessorConfig>,
}

type NoteResult = Result<Settled>;

/// What handlers share: configuration, Redis, the Syncro client (rate-limited), metrics.
pub struct Shared {
    /// The running configuration; reloads replace it (take one snapshot per alert).
    pub config: Arc<ConfigHandle>,
    pub store: Store,
    pub syncro: SyncroClient,
    pub metrics: Arc<Metrics>,
}

#[derive(Clone)]
pub struct Handler {
    shared: Arc<Shared>,
    notes: Coalescer<NoteItem, NoteResult>,
    /// Contracts and assets of new tickets (the asset cache lives here).
    enrich: Arc<Enricher>,
}

impl Handler {
    pub fn new(shared: Shared) -> Handler {
        let shared = Arc::new(shared);
        let flusher = shared.clone();
        let admitter = shared.clone();
        let initial = shared.config.current();
        let settings = &initial.worker;
        let notes = Coalescer::start(
            Duration::from_millis(settings.coalesce_window_ms),
            settings.coalesce_max_alerts,
            move |_| {
                let syncro = admitter.syncro.clone();
                async move { syncro.admit(crate::syncro::Route::AddComment).await }
            },
            move |ticket_id, admission, entries| {
                let shared = flusher.clone();
                async move { flush_note(&shared, ticket_id, admission, entries).await }
            },
        );
        Handler {
            shared,
            notes,
            enrich: Arc::new(Enricher::new()),
        }
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Settles one alert; see the module documentation for the order of steps.
    ///
    /// Two copies of one message id handled at once (a replay interrupted between its
    /// publish and its acknowledgement, a sender's quick resend) would both pass the outcome
    /// check; so each alert is handled under a lease on its message id, kept alive while it
    /// is handled, and a second copy waits for the first to settle.
    pub async fn handle(&self, message: Arc<AlertMessage>, message_id: &str) -> Result<Settled> {
        let store = &self.shared.store;
        let lease = Duration::from_secs(self.shared.config.current().worker.lock_lease_secs);
        // Group keys start with a customer id, so this key never meets one.
        let claim = format!("message:{message_id}");
        // Boxed: an alert waiting to be coalesced holds this future (see `decide`).
        let Some(held) = Box::pin(self.claim(&claim, message_id, lease)).await? else {
            self.shared.metrics.duplicates_skipped.inc();
            return Ok(Settled::Duplicate);
        };
        let renew = Box::pin(keep_alive(store, &held, lease));
        let result = tokio::select! {
            result = Box::pin(self.handle_claimed(message, message_id)) => result,
            never = renew => never,
        };
        // A lease that cannot be released expires by itself.
        let _ = Box::pin(store.unlock(held)).await;
        result
    }

    /// The lease on handling `message_id`, or `None` once another copy has settled it.
    async fn claim(&self, claim: &str, message_id: &str, lease: Duration) -> Result<Option<Lease>> {
        let store = &self.shared.store;
        loop {
            if let Some(held) = store.lock(claim, lease).await? {
                return Ok(Some(held));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if store.outcome(message_id).await?.is_some() {
                return Ok(None);
            }
        }
    }

    async fn handle_claimed(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
    ) -> Result<Settled> {
        // A ticket deleted in Syncro turns a note into a 404; the group pointer is then
        // cleared and the alert starts a new ticket, once.
        let mut vanished = false;
        loop {
            // Boxed and finished before the alert waits to be coalesced: in a storm thousands
            // of alerts wait at once, and each must hold a small future, not one as large as
            // the Redis and Syncro calls that decided where it goes.
            let next = Box::pin(self.decide(message.clone(), message_id)).await?;
            let (ticket_id, group_key, plan, config) = match next {
                Next::Settled(settled) => return Ok(settled),
                Next::Note {
                    ticket_id,
                    group_key,
                    plan,
                    config,
                } => (ticket_id, group_key, plan, config),
            };
            let item = NoteItem {
                message: message.clone(),
                message_id: message_id.to_string(),
                plan,
                group_key,
                config,
            };
            match self.note(ticket_id, item).await {
                Err(HandleError::Syncro(e)) if e.is_not_found() && !vanished => {
                    tracing::info!(
                        ticket_id,
                        "the group's ticket is gone from Syncro; starting a new one"
                    );
                    vanished = true;
                }
                other => return other,
            }
        }
    }

    /// Everything but the note: settles the alert, or names the ticket to note it on.
    async fn decide(&self, message: Arc<AlertMessage>, message_id: &str) -> Result<Next> {
        let s = &self.shared;
        if s.store.outcome(message_id).await?.is_some() {
            s.metrics.duplicates_skipped.inc();
            return Ok(Next::Settled(Settled::Duplicate));
        }
        let config = s.config.current();
        let plan = Arc::new(rules::plan(&config, &message));
        let (customer_id, mapped) = match plan.route {
            Route::Ignored => {
                s.store.finish(message_id, &Outcome::Ignored).await?;
                s.metrics.ignored.inc();
                return Ok(Next::Settled(Settled::Ignored));
            }
            Route::Customer {
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
                return Ok(Next::Settled(Settled::Park));
            }
        }
        if let Some(intent) = s.store.intent(message_id).await? {
            if let Some(outcome) =
                reconcile(s, &intent, message_id, customer_id, &plan.subject).await?
            {
                if let Outcome::Created { ticket_id } = outcome {
                    let key = rules::group_key(customer_id, &plan.subject);
                    if s.store.group(&key).await?.is_none() {
                        let group = new_group(ticket_id, customer_id, &plan.subject);
                        s.store.set_group(&key, &group, window(&config)).await?;
                    }
                }
                s.store.finish(message_id, &outcome).await?;
                s.metrics.reconciled.inc();
                return Ok(Next::Settled(Settled::Reconciled));
            }
        }
        let group_key = rules::group_key(customer_id, &plan.subject);
        let lease = Duration::from_secs(config.worker.lock_lease_secs);
        loop {
            if let Some(group) = s.store.group(&group_key).await? {
                match self
                    .usable_ticket(&group_key, group, &plan, &config)
                    .await?
                {
                    Some(ticket_id) => {
                        return Ok(Next::Note {
                            ticket_id,
                            group_key,
                            plan,
                            config,
                        })
                    }
                    None => continue,
                }
            }
            match s.store.lock(&group_key, lease).await? {
                Some(held) => {
                    // Keep the lease alive while creating: the POST may wait long for the
                    // shared rate limit, and an expired lease would let a second worker
                    // create a second ticket for the group.
                    let renew = async {
                        loop {
                            tokio::time::sleep(lease / 3).await;
                            if let Err(e) = s.store.renew(&held, lease).await {
                                tracing::warn!(error = %e, "could not renew the group's lease");
                            }
                        }
                    };
                    let create = self.create(
                        &group_key,
                        customer_id,
                        message.clone(),
                        message_id,
                        plan.clone(),
                        &config,
                    );
                    let result = tokio::select! {
                        result = create => result,
                        never = renew => never,
                    };
                    // A lease that cannot be released expires by itself.
                    let _ = s.store.unlock(held).await;
                    return Ok(match result? {
                        Created::InDoubt => {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                        Created::Ticket => Next::Settled(Settled::Created),
                        Created::Exists(ticket_id) => Next::Note {
                            ticket_id,
                            group_key,
                            plan,
                            config,
                        },
                    });
                }
                None => self.wait_for_creator(&group_key).await?,
            }
        }
    }

    /// Another worker holds the group's lease: wait until its ticket appears or the lease
    /// goes, and at least once a second let the caller try the lease again (it is taken
    /// over at once when its holder died: [`crate::lease`]).
    async fn wait_for_creator(&self, group_key: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + crate::lease::ALIVE_FOR;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.shared.store.group(group_key).await?.is_some()
                || !self.shared.store.is_locked(group_key).await?
            {
                break;
            }
        }
        Ok(())
    }

    /// The group's ticket if alerts should still go to it; `None` when a new ticket is due
    /// (the pointer is then cleared). Syncro is asked at most once per
    /// `grouping.status_check_secs`.
    async fn usable_ticket(
        &self,
        group_key: &str,
        mut group: GroupTicket,
        plan: &Plan,
        config: &ProcessorConfig,
    ) -> Result<Option<i64>> {
        let s = &self.shared;
        let now = Utc::now();
        let interval = chrono::Duration::seconds(config.grouping.status_check_secs as i64);
        if now - group.checked_at < interval {
            return Ok(Some(group.ticket_id));
        }
        let grouping = &config.grouping;
        let ticket = match s.syncro.get_ticket(group.ticket_id).await {
            Ok(ticket) => ticket,
            Err(e) if e.is_not_found() => {
                tracing::info!(
                    ticket_id = group.ticket_id,
                    "the group's ticket is gone from Syncro; a new one will be created"
                );
                s.store.clear_group(group_key).await?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if ticket.is_closed() {
            let recent = resolved_within(&ticket, grouping.reopen_window_secs);
            match grouping.on_resolved_ticket {
                OnResolvedTicket::Reopen if recent => {
                    let update = TicketUpdate {
                        status: Some(grouping.reopen_status.clone()),
                        ..TicketUpdate::default()
                    };
                    s.syncro.update_ticket(ticket.id, &update).await?;
                    tracing::info!(ticket_id = ticket.id, subject = %plan.subject, "reopened the group's resolved ticket");
                }
                OnResolvedTicket::Note if recent => {}
                _ => {
                    tracing::info!(ticket_id = ticket.id, subject = %plan.subject, "the group's ticket was resolved; a new one will be created");
                    s.store.clear_group(group_key).await?;
                    return Ok(None);
                }
            }
        }
        group.checked_at = now;
        s.store.set_group(group_key, &group, window(config)).await?;
        Ok(Some(group.ticket_id))
    }

    /// Creates the group's ticket, under the group's lease.
    async fn create(
        &self,
        group_key: &str,
        customer_id: i64,
        message: Arc<AlertMessage>,
        message_id: &str,
        plan: Arc<Plan>,
        config: &ProcessorConfig,
    ) -> Result<Created> {
        let s = &self.shared;
        if let Some(group) = s.store.group(group_key).await? {
            return Ok(Created::Exists(group.ticket_id));
        }
        // Another alert's creation that failed without knowing whether Syncro applied it (or
        // whose worker died): find that ticket rather than make a second one. While it is
        // not found and still recent, the POST may yet land (a slow Syncro applies it after
        // the client gave up): wait for that alert's retry to settle the question.
        if let Some(previous) = s.store.creating(group_key).await? {
            if previous.message_id != message_id {
                if let Some(ticket) = find_created_ticket(
                    s,
                    previous.customer_id,
                    &previous.subject,
                    &previous.message_id,
                )
                .await?
                {
                    let group = new_group(ticket.id, customer_id, &plan.subject);
                    s.store.set_group(group_key, &group, window(config)).await?;
                    s.store.clear_creating(group_key).await?;
                    s.metrics.reconciled.inc();
                    return Ok(Created::Exists(ticket.id));
                }
                if Utc::now() - previous.at < CREATION_DOUBT {
                    return Ok(Created::InDoubt);
                }
            }
        }
        // Before the intent: the asset lookup may wait for the rate limit, and no POST is
        // in doubt meanwhile.
        let mapped = matches!(plan.route, Route::Customer { mapped: true, .. });
        let extra = self
            .enrich
            .prepare(
                &s.syncro,
                &s.metrics,
                &config.contracts,
                customer_id,
                mapped,
                &message.alert,
            )
            .await;
        let now = Utc::now();
        s.store
            .write_intents(
                &[message_id],
                &Intent::CreateTicket {
                    customer_id,
                    subject: plan.subject.clone(),
                    at: now,
                },
            )
            .await?;
        s.store
            .set_creating(
                group_key,
                &Creating {
                    message_id: message_id.to_string(),
                    customer_id,
                    subject: plan.subject.clone(),
                    at: now,
                },
            )
            .await?;
        let t = &plan.ticket;
        let request = NewTicket {
            problem_type: Some(t.problem_type.clone()),
            status: Some(t.status.clone()),
            priority: Some(t.priority.clone()),
            user_id: Some(t.user_id),
            ticket_type_id: Some(t.ticket_type_id),
            tag_list: t.tag_list.clone(),
            contract_id: extra.contract_id,
            asset_ids: extra.asset_ids.clone(),
            comments_attributes: vec![comment(
                &plan,
                plan.note.title.clone(),
                rules::first_comment_with_asset(&message, &plan, extra.asset_line.as_deref()),
            )],
            ..NewTicket::new(customer_id, plan.subject.clone())
        };
        let ticket = match s.syncro.create_ticket(&request).await {
            Ok(ticket) => ticket,
            Err(error) => {
                if !error.outcome_unknown() {
                    s.store.clear_intents(&[message_id]).await?;
                    s.store.clear_creating(group_key).await?;
                }
                return Err(error.into());
            }
        };
        let group = new_group(ticket.id, customer_id, &plan.subject);
        s.store.set_group(group_key, &group, window(config)).await?;
        s.store.clear_creating(group_key).await?;
        s.store
            .finish(
                message_id,
                &Outcome::Created {
                    ticket_id: ticket.id,
                },
            )
            .await?;
        s.metrics.tickets_created.inc();
        tracing::info!(ticket_id = ticket.id, ticket_number = ?ticket.number, customer_id, subject = %plan.subject, asset_ids = ?extra.asset_ids, "ticket created");
        // After the outcome is recorded: this follow-up can neither fail the alert nor
        // make a second ticket.
        if let Some(contract_id) = extra.contract_id {
            self.enrich
                .confirm_contract(&s.syncro, &s.metrics, &ticket, contract_id)
                .await;
        }
        Ok(Created::Ticket)
    }

    async fn note(&self, ticket_id: i64, item: NoteItem) -> Result<Settled> {
        self.notes
            .submit(ticket_id, item)
            .await
            .unwrap_or(Err(HandleError::Stopping))
    }
}

/// Renews an alert's lease for as long as it is polled. One waits beside every held alert,
/// so between renewals it must hold little more than its timer: the Redis call, whose future
/// is large, is boxed and lives only while it runs.
async fn keep_alive(store: &Store, held: &Lease, lease: Duration) -> Result<Settled> {
    loop {
        tokio::time::sleep(lease / 3).await;
        if let Err(e) = Box::pin(store.renew(held, lease)).await {
            tracing::warn!(error = %e, "could not renew the alert's lease");
        }
    }
}

/// What [`Handler::decide`] concluded.
enum Next {
    Settled(Settled),
    /// Add the alert to this ticket's next note.
    Note {
        ticket_id: i64,
        group_key: String,
        plan: Arc<Plan>,
        config: Arc<ProcessorConfig>,
    },
}

enum Created {
    /// This alert created the group's ticket.
    Ticket,
    /// Another alert's creation may still land in Syncro: wait, then look again.
    InDoubt,
    /// The group has a ticket already (made meanwhile, or found after a creator's crash).
    Exists(i64),
}

fn window(config: &ProcessorConfig) -> Duration {
    Duration::from_secs(config.grouping.window_secs)
}

fn new_group(ticket_id: i64, customer_id: i64, subject: &str) -> GroupTicket {
    let now = Utc::now();
    GroupTicket {
        ticket_id,
        customer_id,
        subject: subject.to_string(),
        created_at: now,
        checked_at: now,
    }
}

fn resolved_within(ticket: &Ticket, window_secs: u64) -> bool {
    let reference = ticket.resolved_at.or(ticket.updated_at);
    match reference {
        Some(at) => {
            let at: chrono::DateTime<Utc> = at.into();
            Utc::now() - at <= chrono::Duration::seconds(window_secs as i64)
        }
        None => true,
    }
}

fn comment(plan: &Plan, subject: String, body: String) -> NewComment {
    NewComment {
        subject,
        body,
        hidden: Some(plan.note.hidden),
        do_not_email: Some(plan.note.do_not_email),
        tech: None,
        sms_body: None,
    }
}

/// Whether a comment body carries the alert's `relay-ref` line.
fn carries(body: Option<&str>, message_id: &str) -> bool {
    body.is_some_and(|b| rules::references_in(b).contains(&message_id))
}

/// Posts one note for a batch of alerts on the same ticket, then records every alert's
/// outcome; answers each waiting handler.
async fn flush_note(
    s: &Shared,
    ticket_id: i64,
    admission: Admission,
    entries: Vec<Entry<NoteItem, NoteResult>>,
) {
    let result = post_note(s, ticket_id, admission, &entries).await;
    for entry in entries {
        entry.respond(result.clone());
    }
}

async fn post_note(
    s: &Shared,
    ticket_id: i64,
    admission: Admission,
    entries: &[Entry<NoteItem, NoteResult>],
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
    let body = rules::note_body(&messages, &first.plan, None);
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
                &Outcome::Noted {
                    ticket_id,
                    comment_id: Some(posted.id),
                },
            )
            .await?;
    }
    s.store
        .touch_group(&first.group_key, window(&first.config))
        .await?;
    s.metrics.notes_added.inc();
    if entries.len() > 1 {
        s.metrics.alerts_coalesced.inc_by(entries.len() as u64);
    }
    tracing::info!(ticket_id, alerts = entries.len(), "note added");

    let config = &first.config;
    let resolves = config.grouping.resolved_alert == ResolvedAlert::NoteAndResolve
        && messages
            .iter()
            .any(|m| m.alert.status == AlertStatus::Resolved);
    if resolves {
        let update = TicketUpdate {
            status: Some(config.grouping.resolve_status.clone()),
            ..TicketUpdate::default()
        };
        // The alerts are delivered; a failed status change is logged, not retried.
        match s.syncro.update_ticket(ticket_id, &update).await {
            Ok(_) => {
                tracing::info!(ticket_id, "ticket resolved by a resolved alert");
                // Make the next alert of the group read the ticket's status again.
                if let Some(mut group) = s.store.group(&first.group_key).await? {
                    group.checked_at = chrono::DateTime::<Utc>::UNIX_EPOCH;
                    s.store
                        .set_group(&first.group_key, &group, window(config))
                        .await?;
                }
            }
            Err(error) => tracing::warn!(ticket_id, error = %error, "could not resolve the ticket"),
        }
    }
    Ok(Settled::Noted)
}

/// Whether an interrupted POST of this alert was applied: `Some(outcome)` when Syncro shows
/// it, `None` when it must be done (again).
async fn reconcile(
    s: &Shared,
    intent: &Intent,
    message_id: &str,
    customer_id: i64,
    subject: &str,
) -> Result<Option<Outcome>> {
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
                .map(|t| Outcome::Created { ticket_id: t.id }))
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
                    return Ok(Some(Outcome::Noted {
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

/// The customer's ticket with this subject whose first comment carries the alert's
/// reference: the ticket an interrupted creation made.
async fn find_created_ticket(
    s: &Shared,
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
    let wanted = rules::group_key(customer_id, subject);
    let mut candidates: Vec<&Ticket> = page
        .items
        .iter()
        .filter(|t| {
            t.subject
                .as_deref()
                .is_some_and(|s| rules::group_key(customer_id, s) == wanted)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_future_of_a_waiting_alert_stays_small() {
        let config = crate::config::tests::good();
        let store =
            Store::new(&secrecy::SecretString::from("redis://127.0.0.1:1"), "size").expect("store");
        let client = crate::syncro::SyncroClient::new(&crate::syncro::ClientConfig::new(
            "http://127.0.0.1:1",
            secrecy::SecretString::from("t"),
        ))
        .expect("client");
        let handler = Handler::new(Shared {
            config: Arc::new(ConfigHandle::new(config)),
            store,
            syncro: client,
            metrics: Arc::new(Metrics::new()),
        });
        let message: AlertMessage = serde_json::from_value(serde_json::json!({
            "source": "s", "received_at": "2026-05-01T10:00:00Z",
            "alert": {"id": "a", "event_type": "e", "severity": "high", "organization": {"id": "o"},
                      "title": "t", "occurred_at": "2026-05-01T10:00:00Z"}
        }))
        .expect("message");
        let future = handler.handle(Arc::new(message), "id");
        let size = std::mem::size_of_val(&future);
        eprintln!("handle() future: {size} bytes");
        assert!(size < 4096, "{size} bytes held per waiting alert");
        let store = &handler.shared().store;
        let held = Lease::for_tests("k");
        let renew = keep_alive(store, &held, Duration::from_secs(30));
        let size = std::mem::size_of_val(&renew);
        eprintln!("keep_alive() future: {size} bytes");
        assert!(size < 512, "{size} bytes held per waiting alert's lease");
    }
}
