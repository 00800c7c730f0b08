//! The dead-letter queue `{prefix}.alerts.dead`, below both of its callers: `relayctl dlq`
//! (its flags, tables and JSON) and the operator API's `/v1/dead-letters` (and through it
//! the console). One mechanism for both: the same reading, filters, counts, dry-run plan,
//! replay and purge.
//!
//! - [`letter`]: one message as an operator sees it ([`Letter`]), and in full
//!   ([`FullLetter`]: the headers of interest and the body).
//! - [`filter`]: the filters every operation shares, and the time forms they accept.
//! - [`browse`]: reading the queue without changing it (all of it, or its first N).
//! - [`stats`]: counts by error kind, organization, event type and age.
//! - [`replay`]: the dry run's ticket plan (from the grouping state in Redis), the move back
//!   to the work queue with publish-confirm-then-ack, and the trail's `replayed` steps.
//!
//! Here: [`selected`] (which held letters an operation applies to), [`purge`], and
//! [`record`] (a replay or purge in the trail and the audit log). Nothing here prints or
//! decides who may do what: the callers do.

pub mod browse;
pub mod filter;
pub mod letter;
pub mod replay;
pub mod stats;

pub use browse::{Browse, Held};
pub use filter::{parse_time, Filters};
pub use letter::{FullLetter, Letter, UNKNOWN};
pub use replay::{Action, PlanCounts, Progress, ReplayOptions, Replayed};
pub use stats::{Stats, AGE_BUCKETS};

use crate::store::StoreError;

/// Why a dead-letter operation could not be done (what was done before is reported by the
/// operation itself).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RabbitMQ could not be read or changed.
    #[error("RabbitMQ: {0}")]
    Broker(String),
    /// Redis (the dry run's grouping state) could not be read.
    #[error("cannot read the grouping state from Redis: {0}")]
    Redis(#[from] StoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Indexes of the held messages that match, in queue order, at most `limit`.
pub fn selected(browse: &Browse, filters: &Filters, limit: Option<usize>) -> Vec<usize> {
    browse
        .held
        .iter()
        .enumerate()
        .filter(|(_, h)| filters.matches(&h.letter))
        .map(|(i, _)| i)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// Removes the held messages at `chosen` for good; returns how many were removed before a
/// failure, if one stopped it.
pub async fn purge(browse: &mut Browse, chosen: &[usize]) -> (usize, Option<Error>) {
    let mut removed = 0;
    for &index in chosen {
        if let Err(e) = browse.ack(index).await {
            return (removed, Some(e));
        }
        removed += 1;
    }
    (removed, None)
}

/// A replay or purge in the audit log (`action`: `dlq.replay`, `dlq.purge`; `detail`: which
/// filters, how many moved or removed) and, for a replay, each alert's `replayed` step in its
/// trail. Written after the change (it is in RabbitMQ, not in PostgreSQL).
pub async fn record(
    db: &opstate::Db,
    actor: &str,
    action: &str,
    steps: &[opstate::trail::Event],
    detail: &serde_json::Value,
) -> Result<(), opstate::DbError> {
    if !steps.is_empty() {
        opstate::trail::append(db, steps).await?;
    }
    let actor = opstate::store::Actor(actor.to_string());
    opstate::store::audit::record(db, &actor, action, None, detail).await
}
