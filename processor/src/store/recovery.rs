//! Noticing that Redis lost its data: a restart without persistence, a failover to a replica
//! that had not caught up, an eviction of everything. Syncro is the record; Redis only
//! remembers what was done, and a Redis that forgot must not make the relay do it twice.
//!
//! The `epoch` key holds a random marker and never expires: Redis can only lose it with its
//! data. Every alert's check-in reads it together with the alert's outcome record, in one
//! round trip, so a loss is noticed by the first alert after it, not by a poll some seconds
//! later. The worker that finds it missing writes it again and declares the store
//! *recovering* for a horizon (the grouping window or the idempotency horizon, whichever is
//! longer): meanwhile, a group whose pointer was lost finds its open ticket in Syncro
//! (`handler::create`), and notes on such a ticket are first checked against its comments
//! (`handler::note`), since the ticket may already hold the alerts Redis forgot.
//!
//! A new deployment (an empty Redis) looks the same, and is treated the same: it costs
//! nothing there, as Syncro holds no ticket of it yet.

use super::connection::{Connection, Result, Store};
use super::Handled;
use chrono::Utc;
use rand::Rng;
use std::time::Duration;

/// What the store knows when an alert is taken up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    /// The alert's outcome, when it was handled already.
    pub outcome: Option<Handled>,
    /// Redis lost its data within the recovery horizon: Syncro may hold what Redis forgot.
    pub recovering: bool,
}

impl Store {
    /// The alert's outcome record and whether the store is recovering from a loss of its
    /// data, in one round trip. A missing `epoch` marker is a loss: the marker is written
    /// again and the store recovers for `horizon`.
    pub async fn check_in(&self, message_id: &str, horizon: Duration) -> Result<CheckIn> {
        let mut conn = self.conn().await?;
        let (done, epoch, until): (Option<String>, Option<String>, Option<i64>) =
            redis::cmd("MGET")
                .arg(self.key(&["done", message_id]))
                .arg(self.key(&["epoch"]))
                .arg(self.key(&["recovering-until"]))
                .query_async(&mut conn)
                .await?;
        let outcome = done.map(|r| serde_json::from_str(&r)).transpose()?;
        let recovering = match epoch {
            Some(_) => until.is_some_and(|until| until > Utc::now().timestamp_millis()),
            None => {
                self.declare_loss(&mut conn, horizon).await?;
                true
            }
        };
        Ok(CheckIn {
            outcome,
            recovering,
        })
    }

    /// The `epoch` marker now (`None` while it is missing: Redis lost its data and no
    /// check-in has noticed yet). A loss changes it, so what was learnt of Syncro under one
    /// epoch (a customer's open tickets, `handler::reconcile`) is not trusted under the next.
    pub async fn epoch(&self) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("GET")
            .arg(self.key(&["epoch"]))
            .query_async(&mut conn)
            .await?)
    }

    /// Starts a recovery: the window first, then the marker, so no worker ever sees a new
    /// marker without the window. Several workers may find the loss at once; the one that
    /// writes the marker says so.
    async fn declare_loss(&self, conn: &mut Connection, horizon: Duration) -> Result<()> {
        let horizon_ms = horizon.as_millis().min(i64::MAX as u128) as i64;
        let until = Utc::now().timestamp_millis().saturating_add(horizon_ms);
        let marker = format!("{:016x}", rand::rng().random::<u64>());
        let (_, wrote): ((), Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(self.key(&["recovering-until"]))
            .arg(until)
            .arg("PX")
            .arg(horizon_ms.max(1))
            .cmd("SET")
            .arg(self.key(&["epoch"]))
            .arg(&marker)
            .arg("NX")
            .query_async(conn)
            .await?;
        if wrote.is_some() {
            self.data_losses().inc();
            tracing::warn!(
                recovering_for_secs = horizon.as_secs(),
                "Redis holds none of this deployment's records (it lost its data, or the deployment is new): open tickets are looked up in Syncro and notes on them checked against their comments until the recovery ends"
            );
        }
        Ok(())
    }
}
