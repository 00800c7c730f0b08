//! Mappings made in the console: an organization to a Syncro customer, or ignored.
//!
//! The configuration file's `[mapping]` decides first (the processor's
//! `MappingConfig::decide` is the one rule); these rows decide every organization the file
//! leaves open. Setting and removing each write the row, an audit row and the fleet's
//! generation in one transaction, so every worker reads the change within its poll.

use super::{audit, bump, Actor};
use crate::db::{Db, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// What a console mapping does with an organization's alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Tickets for this Syncro customer.
    Customer {
        customer_id: i64,
        /// The customer's name as shown when it was chosen (for people; never compared).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_name: Option<String>,
    },
    /// Acknowledged and dropped, as `mapping.ignored_organizations`.
    Ignored,
}

impl Target {
    /// The customer, unless ignored.
    pub fn customer_id(&self) -> Option<i64> {
        match self {
            Target::Customer { customer_id, .. } => Some(*customer_id),
            Target::Ignored => None,
        }
    }

    /// Whether two targets send alerts to the same place (names aside).
    pub fn same_route(&self, other: &Target) -> bool {
        self.customer_id() == other.customer_id()
    }
}

/// One console mapping as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub organization: String,
    #[serde(flatten)]
    pub target: Target,
    /// Who set it last (`dana via console`).
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// Organization → target: what the workers act on.
pub type ConsoleMappings = BTreeMap<String, Target>;

const COLUMNS: &str = "organization, customer_id, customer_name, set_by, set_at";

fn from_row(row: &PgRow) -> Result<Mapping> {
    let customer_id: Option<i64> = row.try_get("customer_id")?;
    let target = match customer_id {
        Some(customer_id) => Target::Customer {
            customer_id,
            customer_name: row.try_get("customer_name")?,
        },
        None => Target::Ignored,
    };
    Ok(Mapping {
        organization: row.try_get("organization")?,
        target,
        set_by: row.try_get("set_by")?,
        set_at: row.try_get("set_at")?,
    })
}

/// Every console mapping, by organization.
pub async fn list(db: &Db) -> Result<Vec<Mapping>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM console_mappings ORDER BY organization"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every console mapping as the workers use it.
pub async fn current(db: &Db) -> Result<ConsoleMappings> {
    Ok(list(db)
        .await?
        .into_iter()
        .map(|m| (m.organization, m.target))
        .collect())
}

/// Maps (or ignores) an organization, replacing its console mapping if it had one. Returns
/// the mapping as stored and the one it replaced.
pub async fn set(
    db: &Db,
    actor: &Actor,
    organization: &str,
    target: &Target,
) -> Result<(Mapping, Option<Mapping>)> {
    let mut tx = db.pool().begin().await?;
    let before = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM console_mappings WHERE organization = $1 FOR UPDATE"
    ))
    .bind(organization)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()?;
    let (customer_id, customer_name) = match target {
        Target::Customer {
            customer_id,
            customer_name,
        } => (Some(*customer_id), customer_name.clone()),
        Target::Ignored => (None, None),
    };
    let row = sqlx::query(&format!(
        "INSERT INTO console_mappings (organization, customer_id, customer_name, set_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization) DO UPDATE
            SET customer_id = $2, customer_name = $3, set_by = $4, set_at = now()
         RETURNING {COLUMNS}"
    ))
    .bind(organization)
    .bind(customer_id)
    .bind(&customer_name)
    .bind(&actor.0)
    .fetch_one(&mut *tx)
    .await?;
    let mapping = from_row(&row)?;
    let detail = serde_json::json!({
        "from": before.as_ref().map(|m| &m.target),
        "to": &mapping.target,
    });
    audit::write(&mut tx, actor, "mapping.set", Some(organization), &detail).await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok((mapping, before))
}

/// Removes an organization's console mapping; `None` (and nothing written) when it had none.
pub async fn remove(db: &Db, actor: &Actor, organization: &str) -> Result<Option<Mapping>> {
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(&format!(
        "DELETE FROM console_mappings WHERE organization = $1 RETURNING {COLUMNS}"
    ))
    .bind(organization)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let removed = from_row(&row)?;
    let detail = serde_json::json!({ "from": &removed.target });
    audit::write(
        &mut tx,
        actor,
        "mapping.remove",
        Some(organization),
        &detail,
    )
    .await?;
    bump(&mut tx, actor).await?;
    tx.commit().await?;
    Ok(Some(removed))
}
