//! What a held alert keeps in Redis: its *claim*, and the failure its batch left for it.
//!
//! An alert waiting in its group's batch (see `handler::coalesce`) is unacknowledged for as
//! long as its ticket or note waits for the budget: minutes in a storm. A second copy of it
//! (a sender's resend, a redelivery after a broker reconnect) must not be handled meanwhile,
//! so the alert holds a claim on its message id: a lease ([`super::lease`]) whose token is the
//! same for every claim of this process, so the alert carries nothing for it, and which is
//! not renewed: its TTL is the longest an alert is held (`max_hold_secs`) plus a margin, and
//! a dead holder's claims are taken over at once through its presence, like any lease.
//!
//! A batch that fails in Syncro cannot republish its alerts (it keeps only what the note
//! needs, not the messages), so it records each alert's failure under `failed:{message id}`
//! and gives the messages back to the queue; the copy delivered next finds the record and
//! goes to its retry tier or the dead-letter queue as any failed alert does
//! (`worker::consumer`).

use super::connection::{Result, Store};
use super::Lease;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a failure record waits for its message to come back.
const FAILURE_TTL: Duration = Duration::from_secs(3600);

/// A batch's failure, as recorded for each of its alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// A short, stable label (`syncro_422`, `syncro_timeout`, ...).
    pub kind: String,
    /// What Syncro said, for the dead-letter header and the logs.
    pub why: String,
    /// Whether a retry tier may still succeed.
    pub retryable: bool,
}

impl Failure {
    /// A Syncro failure as recorded: its label, what Syncro said, whether a retry may help.
    pub fn of(error: &syncro::SyncroError) -> Failure {
        Failure {
            kind: crate::metrics::dead_letter_kind(&error.status_label()),
            why: error.to_string(),
            retryable: syncro::classify(error).is_retryable(),
        }
    }
}

impl Store {
    /// This process's claim token: the same for every claim, so held alerts carry none.
    fn claim_token(&self) -> String {
        format!("{}:claims", self.holders().instance)
    }

    fn claim_key(&self, message_id: &str) -> String {
        // Group keys start with a customer id, so this key never meets one.
        self.key(&["lock", &Self::group_hash(&format!("message:{message_id}"))])
    }

    /// Claims the alert `message_id` for `ttl`, or `None` while a live holder (this process
    /// included) has it.
    pub async fn claim(&self, message_id: &str, ttl: Duration) -> Result<Option<Lease>> {
        self.take_lease_as(self.claim_key(message_id), self.claim_token(), ttl)
            .await
    }

    /// Gives up this process's claims on `message_ids` (one round trip).
    pub async fn release_claims(&self, message_ids: &[&str]) -> Result<()> {
        const RELEASE: &str = r#"
            for i, key in ipairs(KEYS) do
                if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
            end
            return 0
        "#;
        if message_ids.is_empty() {
            return Ok(());
        }
        let script = redis::Script::new(RELEASE);
        let mut call = script.prepare_invoke();
        for id in message_ids {
            call.key(self.claim_key(id));
        }
        let mut conn = self.conn().await?;
        let _: i64 = call.arg(self.claim_token()).invoke_async(&mut conn).await?;
        Ok(())
    }

    /// Records `failure` for each alert before its message goes back to the queue.
    pub async fn record_failures(&self, message_ids: &[&str], failure: &Failure) -> Result<()> {
        let value = serde_json::to_string(failure)?;
        let mut pipe = redis::pipe();
        for id in message_ids {
            pipe.set_ex(self.key(&["failed", id]), &value, FAILURE_TTL.as_secs());
        }
        let mut conn = self.conn().await?;
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// The failure recorded for the alert, removed as it is read: the copy that reads it
    /// takes it to a retry tier, and the copy that comes back from there starts afresh.
    pub async fn take_failure(&self, message_id: &str) -> Result<Option<Failure>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn.get_del(self.key(&["failed", message_id])).await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }
}
