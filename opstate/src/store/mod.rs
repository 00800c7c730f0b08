//! The operator state's tables, one module each. Every change an operator makes is written
//! with its audit row and a bump of the fleet's generation in one transaction, so a change
//! is either applied, audited and seen by the workers, or not at all.
//!
//! - [`silences`]: silences and maintenance windows, and the groups each one held.
//! - [`fleet`]: the pause switch and the generation the workers poll.
//! - [`mappings`]: organizations mapped (or ignored) in the console.
//! - [`audit`]: who did what, when.
//! - [`sources`]: each source's last sign of life and its outages.
//! - [`workers`]: each worker's report: the fleet's status.

pub mod audit;
pub mod fleet;
pub mod mappings;
pub mod silences;
pub mod sources;
pub mod workers;

use crate::db::Result;
use sqlx::{Postgres, Transaction};

/// Who made a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// Bumps the fleet's generation in the change's transaction: workers read the state again.
pub(crate) async fn bump(tx: &mut Transaction<'_, Postgres>, actor: &Actor) -> Result<()> {
    sqlx::query(
        "UPDATE fleet_state SET value = to_jsonb(value::text::bigint + 1), updated_at = now(),
                updated_by = $1
          WHERE name = 'generation'",
    )
    .bind(&actor.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
