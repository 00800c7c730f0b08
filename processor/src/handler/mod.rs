//! One alert, from queued message to Syncro ticket or note, exactly once in effect.
//!
//! The order of [`Handler::handle`], each step in its own file:
//! 1. the claim (this file): a lease on the message id, so two copies of one alert are
//!    handled one after the other;
//! 2. [`decide`]: an outcome already recorded for the message id → skip (redelivery,
//!    replay, resend); the plan ([`crate::plan`]); ignored organizations stop here, unmapped
//!    ones are remembered and go to the catch-all customer, or, with `unmapped = "park"`,
//!    stop here too for the consumer to park them; an intent left by an interrupted attempt
//!    → [`reconcile`] reads Syncro back instead of posting again; then the group (customer +
//!    normalised subject): its ticket, or [`create`] makes one under a Redis lease while the
//!    others wait. A new ticket carries its organization's contract and the asset matching
//!    the alert's device ([`enrich`]);
//! 3. [`note`]: the alert joins its ticket's next note; [`coalesce`] gathers a storm's alerts
//!    into one note per ticket, posted when the rate limiter admits it.
//!
//! The configuration is read once per alert (a snapshot of the [`ConfigHandle`]), so a
//! reload never changes it half-way through one alert.
//!
//! Before every Syncro POST an intent is written; after it, the outcome. A crash between the
//! two is what reconciliation resolves, using the `relay-ref: <message id>` line every
//! comment carries.

pub mod coalesce;
mod create;
mod decide;
pub mod enrich;
mod note;
mod reconcile;

use create::Created;
use decide::Next;
use note::{comment, NotePoster};
use reconcile::{find_created_ticket, open_group_ticket, reconcile};

use crate::config::reload::ConfigHandle;
use crate::config::ProcessorConfig;
use crate::handler::coalesce::Coalescer;
use crate::handler::enrich::Enricher;
use crate::metrics::Metrics;
use crate::plan::Plan;
use crate::store::{GroupTicket, Lease, Store, StoreError};
use chrono::Utc;
use shared::message::AlertMessage;
use std::sync::Arc;
use std::time::Duration;
use syncro::{SyncroClient, SyncroError};

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

/// What handlers share: configuration, Redis, the Syncro client (rate-limited), metrics.
pub struct Services {
    /// The running configuration; reloads replace it (take one snapshot per alert).
    pub config: Arc<ConfigHandle>,
    pub store: Store,
    pub syncro: SyncroClient,
    pub metrics: Arc<Metrics>,
}

/// An alert whose customer is known: what creating its ticket or noting it needs. It is
/// also what waits, one per alert, while a storm's note gathers: keep it small.
pub(crate) struct Job {
    pub(crate) message: Arc<AlertMessage>,
    pub(crate) message_id: String,
    pub(crate) customer_id: i64,
    /// The group's key: the customer and the normalised subject.
    pub(crate) group_key: String,
    pub(crate) plan: Arc<Plan>,
    /// The configuration the alert is handled under.
    pub(crate) config: Arc<ProcessorConfig>,
    /// Redis lost its data recently ([`crate::store::CheckIn::recovering`]).
    pub(crate) recovering: bool,
    /// Its ticket was found in Syncro during a recovery: it may hold this alert already, so
    /// the note checks the ticket's comments first.
    pub(crate) verify: bool,
}

#[derive(Clone)]
pub struct Handler {
    services: Arc<Services>,
    /// Each ticket's next note: alerts gathered, posted by [`NotePoster`].
    notes: Coalescer<NotePoster>,
    /// Contracts and assets of new tickets (the asset cache lives here).
    enrich: Arc<Enricher>,
}

impl Handler {
    pub fn new(services: Services) -> Handler {
        let services = Arc::new(services);
        let worker = services.config.current().worker.clone();
        let poster = NotePoster {
            services: services.clone(),
            references: Default::default(),
        };
        let notes = Coalescer::start(worker.coalesce_window(), worker.coalesce_max_alerts, poster);
        Handler {
            services,
            notes,
            enrich: Arc::new(Enricher::new()),
        }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Settles one alert; see the module documentation for the order of steps.
    ///
    /// Two copies of one message id handled at once (a replay interrupted between its
    /// publish and its acknowledgement, a sender's quick resend) would both pass the outcome
    /// check; so each alert is handled under a lease on its message id, kept alive while it
    /// is handled, and a second copy waits for the first to settle.
    pub async fn handle(&self, message: Arc<AlertMessage>, message_id: &str) -> Result<Settled> {
        let store = &self.services.store;
        let lease = self.services.config.current().worker.lock_lease();
        // Boxed: an alert waiting to be coalesced holds this future (see `decide`).
        let Some(held) = Box::pin(self.claim(message_id, lease)).await? else {
            self.services.metrics.duplicates_skipped.inc();
            return Ok(Settled::Duplicate);
        };
        let result = store
            .hold(
                &held,
                lease,
                None,
                Box::pin(self.handle_claimed(message, message_id)),
            )
            .await;
        // A lease that cannot be released expires by itself.
        let _ = Box::pin(store.unlock(held)).await;
        result
    }

    /// The lease on handling `message_id`, or `None` once another copy has settled it.
    async fn claim(&self, message_id: &str, lease: Duration) -> Result<Option<Lease>> {
        let store = &self.services.store;
        // Group keys start with a customer id, so this key never meets one.
        let claim = format!("message:{message_id}");
        loop {
            if let Some(held) = store.lock(&claim, lease).await? {
                return Ok(Some(held));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if store.outcome(message_id).await?.is_some() {
                return Ok(None);
            }
        }
    }

    /// Decides, then notes when a note is due. A ticket deleted in Syncro turns a note into
    /// a 404; the group pointer is then cleared and the alert starts a new ticket, once.
    async fn handle_claimed(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
    ) -> Result<Settled> {
        let mut vanished = false;
        loop {
            // Boxed and finished before the alert waits to be coalesced: in a storm thousands
            // of alerts wait at once, and each must hold a small future, not one as large as
            // the Redis and Syncro calls that decided where it goes.
            let (ticket_id, job) = match Box::pin(self.decide(message.clone(), message_id)).await? {
                Next::Settled(settled) => return Ok(settled),
                Next::Note { ticket_id, job } => (ticket_id, job),
            };
            match self.note(ticket_id, job).await {
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
}

/// A fresh group pointer to `ticket_id`, checked now.
fn new_group(ticket_id: i64, customer_id: i64, subject: &str) -> GroupTicket {
    let now = Utc::now();
    GroupTicket {
        ticket_id,
        customer_id,
        subject: subject.to_string(),
        created_at: now,
        checked_at: now,
        recovered: false,
    }
}

/// How long a loss of Redis's data matters: alerts may be resent within the idempotency
/// horizon, and a group's ticket takes alerts for the grouping window.
fn recovery_horizon(config: &ProcessorConfig) -> Duration {
    config.grouping.window().max(crate::store::DONE_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_future_of_a_waiting_alert_stays_small() {
        let config = crate::config::tests::good();
        let store =
            Store::new(&secrecy::SecretString::from("redis://127.0.0.1:1"), "size").expect("store");
        let client = syncro::SyncroClient::new(&syncro::ClientConfig::new(
            "http://127.0.0.1:1",
            secrecy::SecretString::from("t"),
        ))
        .expect("client");
        let handler = Handler::new(Services {
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
        let store = &handler.services().store;
        let held = Lease::for_tests("k");
        let renew = store.keep_alive(&held, Duration::from_secs(30), None);
        let size = std::mem::size_of_val(&renew);
        eprintln!("keep_alive() future: {size} bytes");
        assert!(size < 512, "{size} bytes held per waiting alert's lease");
    }
}
