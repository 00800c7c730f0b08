//! The billable-user sync's state in Redis, beside the rest of the processor's (same prefix).
//!
//! | key | holds | why |
//! |---|---|---|
//! | `billing:count:{org id}` | the newest count (hash: users, as_of, as_of_ms, source, received_at) | last one wins by `as_of`, set by a compare-and-set script |
//! | `billing:outcomes:{YYYY-MM}` | per organization, what that month's sync did (JSON) | a restarted run skips organizations already done |
//! | `billing:done:{YYYY-MM}` | the month's summary, once every organization is done | exactly once per month |
//! | `lock:{hash of "billing-sync"}` | the fleet-wide lease of a run ([`Store::lock`]) | one runner at a time |

use super::outcome::OrgOutcome;
use crate::store::{Lease, Result, Store};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::Serialize;
use shared::billing::BillableCount;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How long a month's outcomes and marker are kept: long enough to answer "what did we bill
/// last year", short enough to clean themselves up.
const MONTH_TTL: Duration = Duration::from_secs(400 * 24 * 3600);
/// The group key of the sync lease (shares the group-lock mechanism and its key space).
const LEASE_KEY: &str = "billing-sync";

/// Writes a count unless the stored one is as new or newer (by `as_of`); 1 when written.
const PUT_COUNT: &str = r#"
    local current = redis.call('HGET', KEYS[1], 'as_of_ms')
    if current and tonumber(current) >= tonumber(ARGV[1]) then
        return 0
    end
    redis.call('HSET', KEYS[1], 'as_of_ms', ARGV[1], 'users', ARGV[2], 'as_of', ARGV[3],
        'source', ARGV[4], 'received_at', ARGV[5])
    return 1
"#;

/// The count the sync will use for an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCount {
    pub users: u64,
    pub as_of: String,
    pub source: String,
}

/// Handle on the sync's state; cheap to clone.
#[derive(Clone)]
pub struct BillingStore {
    store: Store,
}

impl BillingStore {
    pub fn new(store: Store) -> Self {
        BillingStore { store }
    }

    /// Keeps `count` if it is newer than the stored one; returns whether it was kept (an
    /// older count arriving later is dropped).
    pub async fn put_count(
        &self,
        source: &str,
        count: &BillableCount,
        received_at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.store.conn().await?;
        let kept: i64 = redis::Script::new(PUT_COUNT)
            .key(
                self.store
                    .key(&["billing", "count", &count.organization_id]),
            )
            .arg(count.as_of.timestamp_millis())
            .arg(count.billable_users)
            .arg(count.as_of.to_rfc3339())
            .arg(source)
            .arg(received_at.to_rfc3339())
            .invoke_async(&mut conn)
            .await?;
        Ok(kept == 1)
    }

    /// The newest count of an organization, if any arrived.
    pub async fn count(&self, org: &str) -> Result<Option<StoredCount>> {
        let mut conn = self.store.conn().await?;
        let fields: BTreeMap<String, String> = conn
            .hgetall(self.store.key(&["billing", "count", org]))
            .await?;
        Ok(fields
            .get("users")
            .and_then(|u| u.parse().ok())
            .map(|users| StoredCount {
                users,
                as_of: fields.get("as_of").cloned().unwrap_or_default(),
                source: fields.get("source").cloned().unwrap_or_default(),
            }))
    }

    /// Every organization's outcome of `month` so far.
    pub async fn outcomes(&self, month: &str) -> Result<BTreeMap<String, OrgOutcome>> {
        let mut conn = self.store.conn().await?;
        let raw: BTreeMap<String, String> = conn
            .hgetall(self.store.key(&["billing", "outcomes", month]))
            .await?;
        raw.into_iter()
            .map(|(org, json)| Ok((org, serde_json::from_str(&json)?)))
            .collect()
    }

    pub async fn set_outcome(&self, month: &str, outcome: &OrgOutcome) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let key = self.store.key(&["billing", "outcomes", month]);
        let _: () = redis::pipe()
            .hset(
                &key,
                &outcome.organization_id,
                serde_json::to_string(outcome)?,
            )
            .expire(&key, MONTH_TTL.as_secs() as i64)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The month's summary when its sync is complete.
    pub async fn month_done(&self, month: &str) -> Result<Option<String>> {
        let mut conn = self.store.conn().await?;
        Ok(conn
            .get(self.store.key(&["billing", "done", month]))
            .await?)
    }

    pub async fn mark_month_done(&self, month: &str, summary: &str) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let _: () = conn
            .set_ex(
                self.store.key(&["billing", "done", month]),
                summary,
                MONTH_TTL.as_secs(),
            )
            .await?;
        Ok(())
    }

    /// Takes the fleet-wide sync lease if nobody holds it.
    pub async fn lease(&self, length: Duration) -> Result<Option<Lease>> {
        self.store.lock(LEASE_KEY, length).await
    }

    /// Runs `work` under the sync lease, kept alive; `lost` is set if it stops being ours.
    pub async fn hold<T>(
        &self,
        lease: &Lease,
        length: Duration,
        lost: &AtomicBool,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        self.store.hold(lease, length, Some(lost), work).await
    }

    pub async fn release(&self, lease: Lease) -> Result<()> {
        self.store.unlock(lease).await
    }
}
