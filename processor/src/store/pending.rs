//! Each group's alerts waiting for its next Syncro call, fleet-wide.
//!
//! A storm's alerts of one group arrive at every worker; if each worker carried its own
//! share, a group would cost a call per worker. So a held alert is also pushed, as a small
//! [`Pending`] entry, onto its group's list here, and whichever worker makes the group's next
//! call (under the group's lease) takes every entry waiting, from all workers, and records
//! each one's outcome; each worker then acknowledges its own messages when it sees their
//! outcome (`handler::flush`). The alert's text is stored once per distinct text
//! (`text:{hash}`), so a storm's repeats cost their ids, not their text again.
//!
//! | key | holds |
//! |---|---|
//! | `pending:{group hash}` | the group's waiting entries, oldest first (a list) |
//! | `text:{text hash}` | one distinct alert text |
//!
//! Both expire after the longest an alert is held, and a margin: an entry left behind by a
//! worker that died is no longer anybody's message (it was redelivered and pushed again).

use super::connection::{Result, Store};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What a group's call needs of one waiting alert (short names: a storm keeps thousands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    #[serde(rename = "m")]
    pub message_id: String,
    /// The sender's id of the alert.
    #[serde(rename = "a")]
    pub alert_id: String,
    #[serde(rename = "o")]
    pub occurred_at: DateTime<Utc>,
    /// The hash of the alert's text (`text:{hash}`).
    #[serde(rename = "t")]
    pub text: String,
    #[serde(rename = "r", default)]
    pub resolved: bool,
    /// Redis lost its data recently when the alert was held: its ticket may hold it already.
    #[serde(rename = "c", default)]
    pub recovering: bool,
}

/// The hash under which a text is stored.
pub fn text_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// What a settled alert's records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Its outcome is recorded.
    Done,
    /// Its group's call failed (`failed:{message id}`).
    Failed,
    /// A call took it and wrote its intent, and did not record the outcome (its worker died
    /// mid-call, or the call is under way): only a redelivered copy may find out, by reading
    /// Syncro back, whether it is there.
    Interrupted,
    /// None of these yet.
    Waiting,
}

impl Store {
    fn pending_key(&self, group_key: &str) -> String {
        self.key(&["pending", &Self::group_hash(group_key)])
    }

    /// Pushes the alert onto its group's list (and its text, once), kept for `ttl`.
    pub async fn push_pending(
        &self,
        group_key: &str,
        entry: &Pending,
        text: &str,
        ttl: Duration,
    ) -> Result<()> {
        let list = self.pending_key(group_key);
        let ttl_s = ttl.as_secs().max(1);
        let mut conn = self.conn().await?;
        redis::pipe()
            .cmd("SET")
            .arg(self.key(&["text", &entry.text]))
            .arg(text)
            .arg("EX")
            .arg(ttl_s)
            .ignore()
            .rpush(&list, serde_json::to_string(entry)?)
            .ignore()
            .expire(&list, ttl_s as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// How many entries wait in the group's list.
    pub async fn pending_len(&self, group_key: &str) -> Result<usize> {
        let mut conn = self.conn().await?;
        Ok(conn.llen(self.pending_key(group_key)).await?)
    }

    /// Takes up to `max` of the group's oldest entries, each with its text.
    pub async fn take_pending(
        &self,
        group_key: &str,
        max: usize,
    ) -> Result<Vec<(Pending, Arc<str>)>> {
        let mut conn = self.conn().await?;
        let raw: Option<Vec<String>> = redis::cmd("LPOP")
            .arg(self.pending_key(group_key))
            .arg(max.max(1))
            .query_async(&mut conn)
            .await?;
        let entries: Vec<Pending> = raw
            .unwrap_or_default()
            .iter()
            // An entry that does not parse is another version's: its holder gives its
            // message back when it sees it neither waiting nor done.
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect();
        let mut hashes: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut texts: HashMap<&str, Arc<str>> = HashMap::new();
        if !hashes.is_empty() {
            let keys: Vec<String> = hashes.iter().map(|h| self.key(&["text", h])).collect();
            let found: Vec<Option<String>> =
                redis::cmd("MGET").arg(keys).query_async(&mut conn).await?;
            for (hash, text) in hashes.iter().zip(found) {
                let text = text.unwrap_or_else(|| "(this alert's text has expired)\n".into());
                texts.insert(hash, Arc::from(text));
            }
        }
        let missing: Arc<str> = Arc::from("");
        Ok(entries
            .iter()
            .map(|e| {
                let text = texts.get(e.text.as_str()).unwrap_or(&missing).clone();
                (e.clone(), text)
            })
            .collect())
    }

    /// Puts entries taken for a call that did not happen (a 429) back at the front of the
    /// group's list, in their order.
    pub async fn return_pending(&self, group_key: &str, entries: &[Pending]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut values = Vec::with_capacity(entries.len());
        for entry in entries.iter().rev() {
            values.push(serde_json::to_string(entry)?);
        }
        let mut conn = self.conn().await?;
        let _: i64 = conn.lpush(self.pending_key(group_key), values).await?;
        Ok(())
    }

    /// Whether the group's list holds an entry of `message_id`.
    pub async fn is_pending(&self, group_key: &str, message_id: &str) -> Result<bool> {
        let mut conn = self.conn().await?;
        let all: Vec<String> = conn.lrange(self.pending_key(group_key), 0, -1).await?;
        let needle = format!("\"m\":{}", serde_json::to_string(message_id)?);
        Ok(all.iter().any(|e| e.contains(&needle)))
    }

    /// For each alert, whether its outcome or its batch's failure is recorded (one round
    /// trip).
    pub async fn settlements(&self, message_ids: &[&str]) -> Result<Vec<Settlement>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::with_capacity(message_ids.len() * 2);
        for id in message_ids {
            keys.push(self.key(&["done", id]));
            keys.push(self.key(&["failed", id]));
        }
        let mut conn = self.conn().await?;
        let found: Vec<Option<String>> =
            redis::cmd("MGET").arg(keys).query_async(&mut conn).await?;
        Ok(found
            .chunks(2)
            .map(|pair| match pair {
                [Some(_), _] => Settlement::Done,
                [None, Some(_)] => Settlement::Failed,
                _ => Settlement::Waiting,
            })
            .collect())
    }
}
