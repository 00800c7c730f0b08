//! The processor's shared state in Redis: what makes many stateless workers behave as one.
//!
//! Every key starts with `{prefix}:` so deployments and tests can share one Redis.
//!
//! | key | holds | why |
//! |---|---|---|
//! | `done:{message id}` | the outcome of a handled alert | skip redeliveries and replays (idempotency) |
//! | `intent:{message id}` | the Syncro POST about to be made | after a crash, reconcile by reading Syncro instead of posting twice |
//! | `group:{hash}` | the ticket a (customer, subject) group points at | grouping; expires after the window |
//! | `lock:{hash}` | a lease on creating the group's ticket | never two tickets for one group |
//! | `lock:{hash of "message:" + message id}` | the claim on one alert, held until it is settled (`claims`) | two copies of one alert at once are handled one after the other |
//! | `pending:{hash}`, `text:{hash}` | each group's alerts waiting for its next call, from every worker, and their texts | one call carries a group's alerts whichever workers hold them (`pending`) |
//! | `failed:{message id}` | why a held alert's batch failed in Syncro | its next copy goes to a retry tier or the dead-letter queue (`claims`) |
//! | `creating:{hash}` | the alert creating the group's ticket | a creator that died after Syncro created the ticket is found out |
//! | `rmm:{hash}` | the RMM alert the group raised on its asset, or is raising (no id yet) | raised once, cleared when the group's alert resolves ([`rmm`]) |
//! | `unmapped:{org id}`, `unmapped` | organizations seen without a mapping, and how many of their alerts are parked | so ops can map them later |
//! | `lease:{name}` | a fleet-wide lease on a task (`release-parked`) | one worker at a time |
//! | `presence:{instance}` | the Redis run and client id of a process's own connection | a dead process's leases are taken over at once ([`crate::store::lease`]) |
//! | `epoch`, `recovering-until` | a marker Redis loses with its data, and until when the store recovers from such a loss | a loss is noticed at the next alert (`recovery`) |
//!
//! Files: `connection` (the pool, the key prefix, this process's identity), `claims` (held
//! alerts' claims and failure records), `pending` (each group's waiting alerts), this file
//! (records, intents, group pointers, unmapped organizations), [`rmm`] (each group's RMM
//! alert), [`lease`] (leases, presence,
//! the one keep-alive), [`ratelimit`] (the fleet's Syncro budget and the client's gate),
//! `recovery` (noticing that Redis lost its data).
//!
//! Every failure is a [`StoreError`]: the caller treats Redis as unavailable, keeps the message
//! unacknowledged and waits for Redis to come back. Nothing is decided on a guess.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

mod claims;
mod connection;
pub mod lease;
mod pending;
pub mod ratelimit;
mod recovery;
pub mod rmm;

pub use claims::Failure;
pub use connection::{Result, Store, StoreError};
pub use lease::Lease;
pub use pending::{text_hash, Pending, Settlement};
pub use ratelimit::RateLimiter;
pub use recovery::CheckIn;
pub use rmm::GroupRmmAlert;

/// How long an alert's outcome is remembered: longer than any sensible dead-letter replay.
pub const DONE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long an unresolved intent is kept (it only matters for a redelivery).
pub const INTENT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What became of a handled alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Handled {
    /// It created this ticket (as its first comment).
    Created { ticket_id: i64 },
    /// It was added to this ticket as (part of) a note.
    Noted {
        ticket_id: i64,
        comment_id: Option<i64>,
    },
    /// Its organization is ignored.
    Ignored,
    /// A silence suppressed it.
    Suppressed,
}

/// A Syncro POST about to be made for an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Intent {
    CreateTicket {
        customer_id: i64,
        subject: String,
        at: DateTime<Utc>,
    },
    AddNote {
        ticket_id: i64,
        at: DateTime<Utc>,
    },
}

impl Intent {
    /// When the POST was about to be made.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Intent::CreateTicket { at, .. } | Intent::AddNote { at, .. } => *at,
        }
    }
}

/// The ticket a group points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTicket {
    pub ticket_id: i64,
    pub customer_id: i64,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    /// When the ticket's status was last read from Syncro (to notice it was closed there)
    /// without reading it for every alert.
    pub checked_at: DateTime<Utc>,
    /// Found in Syncro because Redis had no pointer (not made from this store's records):
    /// while the store recovers from a loss of its data, the ticket may already hold alerts
    /// Redis forgot, so notes on it are checked against its comments first.
    #[serde(default)]
    pub recovered: bool,
    /// The ticket's number as Syncro shows it (for the trail), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
}

/// The alert whose ticket creation for a group is (or was) under way: if its worker died
/// after Syncro created the ticket, the next creator finds that ticket instead of making a
/// second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creating {
    pub message_id: String,
    pub customer_id: i64,
    pub subject: String,
    pub at: DateTime<Utc>,
}

/// What the store remembers of an organization seen without a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmappedOrg {
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Alerts of the organization waiting in the parked queue (`unmapped = "park"`).
    pub parked: u64,
}

impl Store {
    pub async fn outcome(&self, message_id: &str) -> Result<Option<Handled>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn.get(self.key(&["done", message_id])).await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Records an alert's outcome and drops its intent, atomically.
    pub async fn finish(&self, message_id: &str, outcome: &Handled) -> Result<()> {
        let mut conn = self.conn().await?;
        let value = serde_json::to_string(outcome)?;
        redis::pipe()
            .atomic()
            .set_ex(self.key(&["done", message_id]), value, DONE_TTL.as_secs())
            .del(self.key(&["intent", message_id]))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// [`Store::finish`] for every alert of one Syncro call, in one round trip.
    pub async fn finish_all(&self, message_ids: &[&str], outcome: &Handled) -> Result<()> {
        let mut conn = self.conn().await?;
        let value = serde_json::to_string(outcome)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for id in message_ids {
            pipe.set_ex(self.key(&["done", id]), &value, DONE_TTL.as_secs())
                .del(self.key(&["intent", id]));
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    pub async fn intent(&self, message_id: &str) -> Result<Option<Intent>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn.get(self.key(&["intent", message_id])).await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Writes intents before a POST, for every alert it carries.
    pub async fn write_intents(&self, message_ids: &[&str], intent: &Intent) -> Result<()> {
        let mut conn = self.conn().await?;
        let value = serde_json::to_string(intent)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for id in message_ids {
            pipe.set_ex(self.key(&["intent", id]), &value, INTENT_TTL.as_secs());
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Drops intents whose POST certainly did not happen (refused, never sent).
    pub async fn clear_intents(&self, message_ids: &[&str]) -> Result<()> {
        let mut conn = self.conn().await?;
        let keys: Vec<String> = message_ids
            .iter()
            .map(|id| self.key(&["intent", id]))
            .collect();
        let _: () = conn.del(keys).await?;
        Ok(())
    }

    pub async fn creating(&self, group_key: &str) -> Result<Option<Creating>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn
            .get(self.key(&["creating", &Self::group_hash(group_key)]))
            .await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    pub async fn set_creating(&self, group_key: &str, creating: &Creating) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: () = conn
            .set_ex(
                self.key(&["creating", &Self::group_hash(group_key)]),
                serde_json::to_string(creating)?,
                INTENT_TTL.as_secs(),
            )
            .await?;
        Ok(())
    }

    pub async fn clear_creating(&self, group_key: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: () = conn
            .del(self.key(&["creating", &Self::group_hash(group_key)]))
            .await?;
        Ok(())
    }

    pub(crate) fn group_hash(group_key: &str) -> String {
        hex::encode(&Sha256::digest(group_key.as_bytes())[..16])
    }

    pub async fn group(&self, group_key: &str) -> Result<Option<GroupTicket>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn
            .get(self.key(&["group", &Self::group_hash(group_key)]))
            .await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Points the group at a ticket for `window` (refreshed on every alert of the group).
    pub async fn set_group(
        &self,
        group_key: &str,
        ticket: &GroupTicket,
        window: Duration,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: () = conn
            .set_ex(
                self.key(&["group", &Self::group_hash(group_key)]),
                serde_json::to_string(ticket)?,
                window.as_secs().max(1),
            )
            .await?;
        Ok(())
    }

    /// Keeps the group's pointer alive for another `window`.
    pub async fn touch_group(&self, group_key: &str, window: Duration) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: bool = conn
            .expire(
                self.key(&["group", &Self::group_hash(group_key)]),
                window.as_secs().max(1) as i64,
            )
            .await?;
        Ok(())
    }

    pub async fn clear_group(&self, group_key: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: () = conn
            .del(self.key(&["group", &Self::group_hash(group_key)]))
            .await?;
        Ok(())
    }

    /// Takes the group's creation lease if nobody holds it.
    pub async fn lock(&self, group_key: &str, lease: Duration) -> Result<Option<Lease>> {
        self.take_lease(self.key(&["lock", &Self::group_hash(group_key)]), lease)
            .await
    }

    /// Takes the fleet-wide lease on a task (e.g. `release-parked`) if nobody holds it;
    /// renew it with [`Store::renew`], release it with [`Store::unlock`].
    pub async fn lease(&self, name: &str, lease: Duration) -> Result<Option<Lease>> {
        self.take_lease(self.key(&["lease", name]), lease).await
    }

    pub async fn is_locked(&self, group_key: &str) -> Result<bool> {
        let mut conn = self.conn().await?;
        Ok(conn
            .exists(self.key(&["lock", &Self::group_hash(group_key)]))
            .await?)
    }

    /// Counts an alert of an organization without a mapping.
    pub async fn note_unmapped(
        &self,
        org: &shared::alert::Organization,
        seen_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        let key = self.key(&["unmapped", &org.id]);
        let at = seen_at.to_rfc3339();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .sadd(self.key(&["unmapped"]), &org.id)
            .hincr(&key, "count", 1)
            .hset_nx(&key, "first_seen", &at)
            .hset(&key, "last_seen", &at);
        if let Some(name) = &org.name {
            pipe.hset(&key, "name", name);
        }
        if let Some(domain) = &org.domain {
            pipe.hset(&key, "domain", domain);
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Counts alerts of an organization put into (`delta` > 0) or released from (< 0) the
    /// parked queue. Counted after the broker confirmed, so a crash in between can leave it
    /// off by the alerts of that moment; the queue itself is the truth.
    pub async fn count_parked(&self, org_id: &str, delta: i64) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .hincr(self.key(&["unmapped", org_id]), "parked", delta)
            .await?;
        Ok(())
    }

    /// Every organization seen without a mapping, most alerts first.
    pub async fn unmapped(&self) -> Result<Vec<UnmappedOrg>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn.smembers(self.key(&["unmapped"])).await?;
        let mut orgs = Vec::with_capacity(ids.len());
        for id in ids {
            let fields: std::collections::HashMap<String, String> =
                conn.hgetall(self.key(&["unmapped", &id])).await?;
            orgs.push(UnmappedOrg {
                count: fields
                    .get("count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                name: fields.get("name").cloned(),
                domain: fields.get("domain").cloned(),
                first_seen: fields.get("first_seen").cloned(),
                last_seen: fields.get("last_seen").cloned(),
                parked: fields
                    .get("parked")
                    .and_then(|c| c.parse::<i64>().ok())
                    .unwrap_or(0)
                    .max(0) as u64,
                id,
            });
        }
        orgs.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        Ok(orgs)
    }
}
