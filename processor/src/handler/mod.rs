//! One alert, from queued message to Syncro ticket or note, exactly once in effect.
//!
//! The order of [`Handler::handle`], each step in its own file:
//! 1. the claim (this file): a claim on the message id (`store::claims`), so two copies of
//!    one alert are handled one after the other;
//! 2. [`decide`]: an outcome already recorded for the message id → skip (redelivery,
//!    replay, resend); the plan ([`crate::plan`]); ignored organizations stop here, unmapped
//!    ones are remembered and go to the catch-all customer, or, with `unmapped = "park"`,
//!    stop here too for the consumer to park them; an intent left by an interrupted attempt
//!    → [`reconcile`] reads Syncro back instead of posting again; a failure its group's call
//!    recorded → the consumer's retry tiers; else the alert is *held*: its entry goes onto
//!    its group's list in Redis (group = customer + normalised subject; `store::pending`),
//!    and a small [`held::Held`] (the acker and the id) into this worker's batch for the
//!    group ([`coalesce`]); the handler returns without waiting;
//! 3. [`flush`]: when the batch is due, the group's call is made under the group's lease by
//!    one worker at a time, carrying the group's alerts from every worker: the group's new
//!    ticket, its first comment listing every alert gathered while the creation waited for
//!    its turn ([`create`], with the contract and asset of [`enrich`] and the contact of
//!    [`contact`]; then the group's RMM alert, [`rmm`]), or a note on the
//!    group's ticket ([`note`]). Every alert carried is recorded; each worker then
//!    acknowledges its own held alerts by their records ([`held`]).
//!
//! Every Syncro call is made under a [`syncro::Priority`]: the fleet's shared budget serves
//! new tickets first, critical first, fairly across customers (`store::ratelimit`).
//!
//! The configuration is read once per alert (a snapshot of the [`ConfigHandle`]), so a
//! reload never changes it half-way through one alert; a batch works under the
//! configuration of the alert that opened it.
//!
//! Before every Syncro POST an intent is written for each alert it carries; after it, the
//! outcome. A crash between the two is what reconciliation resolves, using the
//! `relay-ref: <message id>` line every comment carries for each of its alerts.

mod carrier;
pub mod coalesce;
pub mod contact;
mod create;
mod decide;
pub mod enrich;
mod flush;
mod held;
mod note;
mod reconcile;
mod rmm;

use carrier::Carrier;
use decide::Next;
use note::comment;
use reconcile::{find_created_ticket, open_group_ticket, reconcile};

use crate::config::reload::ConfigHandle;
use crate::config::ProcessorConfig;
use crate::handler::coalesce::{Batching, Coalescer};
use crate::metrics::Metrics;
use crate::plan::Plan;
use crate::store::{Failure, GroupTicket, Store, StoreError};
use chrono::Utc;
use lapin::Acker;
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
    /// A silence suppressed it: no ticket, no note (its group's ticket comes when the
    /// silence ends, if the group is still firing).
    Suppressed,
    /// Its organization has no mapping and parking is on: the consumer moves it to the
    /// parked queue (nothing was recorded, so its release handles it afresh).
    Park,
    /// An interrupted attempt turned out to have been applied.
    Reconciled,
    /// Held in its group's batch: the batch's call settles it (acknowledges it, or gives it
    /// back); the consumer does nothing more.
    Held,
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
    /// The batch that held this alert failed in Syncro (recorded before the message was
    /// given back): retry or dead-letter, as recorded.
    #[error("{}", .0.why)]
    Failed(Arc<Failure>),
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
    /// The operator state: silences, pause, the trail.
    pub steering: crate::steer::Steering,
}

/// An alert whose customer is known. The first alert of a batch is its *head*: the group's
/// ticket is made from it, and the batch's calls use its plan and configuration.
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
}

impl Job {
    /// 0 (critical) to 4 (info): the urgency of the group's calls.
    pub(crate) fn urgency(&self) -> u8 {
        self.message.alert.severity as u8
    }
}

#[derive(Clone)]
pub struct Handler {
    services: Arc<Services>,
    /// Each group's batch of held alerts, carried to Syncro by the [`Carrier`].
    groups: Coalescer<Carrier>,
}

impl Handler {
    pub fn new(services: Services) -> Handler {
        let services = Arc::new(services);
        let worker = services.config.current().worker.clone();
        let batching = Batching {
            window: worker.coalesce_window(),
            max_entries: worker.coalesce_max_alerts,
            max_hold: worker.max_hold(),
        };
        let groups = Coalescer::start(batching, Carrier::new(services.clone()));
        Handler { services, groups }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Settles one alert, or holds it in its group's batch; see the module documentation.
    ///
    /// Two copies of one message id handled at once (a replay interrupted between its
    /// publish and its acknowledgement, a sender's quick resend) would both pass the outcome
    /// check; so each alert is handled under a claim on its message id, held until it is
    /// settled (by its batch, when it is held), and a second copy waits for the first.
    pub async fn handle(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
        acker: &Acker,
    ) -> Result<Settled> {
        if !Box::pin(self.claim(message_id)).await? {
            self.services.metrics.duplicates_skipped.inc();
            return Ok(Settled::Duplicate);
        }
        let result = Box::pin(self.decide(message, message_id, acker)).await;
        // A held alert keeps its claim: its batch releases it once the alert is settled.
        if !matches!(result, Ok(Next::Held)) {
            held::release_claims_waiting(&self.services, &[message_id]).await;
        }
        result.map(|next| match next {
            Next::Settled(settled) => settled,
            Next::Held => Settled::Held,
        })
    }

    /// Claims `message_id`; `false` once another copy has settled it.
    async fn claim(&self, message_id: &str) -> Result<bool> {
        let store = &self.services.store;
        let ttl = claim_ttl(&self.services.config.current());
        let mut backoff =
            shared::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            if store.claim(message_id, ttl).await?.is_some() {
                return Ok(true);
            }
            backoff.wait().await;
            if store.outcome(message_id).await?.is_some() {
                return Ok(false);
            }
        }
    }

    /// Alerts held in batches, not yet taken by a call.
    pub async fn held(&self) -> usize {
        self.groups.pending().await
    }

    /// Gives every alert waiting in a batch back to the queue (their claims released first),
    /// so that on shutdown other workers take them up at once; calls under way finish.
    pub async fn release_held(&self) {
        self.groups.release_all().await;
    }

    /// Holds alerts in batches again after [`Handler::release_held`] (a pause is over).
    pub async fn hold_again(&self) {
        self.groups.resume().await;
    }

    /// Stops the calls still under way (shutdown, after the drain time): as after a crash,
    /// their intents and the group leases' expiry settle what they had begun.
    pub async fn stop_calls(&self) {
        self.groups.abort_calls().await;
    }
}

/// How long a claim lives without its holder's death being noticed: as long as an alert can
/// be held, and a margin.
fn claim_ttl(config: &ProcessorConfig) -> Duration {
    config.worker.max_hold() + Duration::from_secs(300)
}

/// A fresh group pointer to `ticket_id`, checked now.
fn new_group(ticket_id: i64, number: Option<i64>, customer_id: i64, subject: &str) -> GroupTicket {
    let now = Utc::now();
    GroupTicket {
        ticket_id,
        customer_id,
        subject: subject.to_string(),
        created_at: now,
        checked_at: now,
        recovered: false,
        number,
    }
}

/// How long a loss of Redis's data matters: alerts may be resent within the idempotency
/// horizon, and a group's ticket takes alerts for the grouping window.
fn recovery_horizon(config: &ProcessorConfig) -> Duration {
    config.grouping.window().max(crate::store::DONE_TTL)
}
