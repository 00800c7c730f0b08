//! Each group's Syncro RMM alert (`rmm:{hash}`): written *before* the `POST /rmm_alerts`
//! (no `alert_id`: a raise under way, or interrupted) and completed with Syncro's id after
//! it, like the `creating` marker of a ticket. A marker without an id means the raise's
//! outcome is unknown: Syncro is read back (by the `relay-ref` line of the alert's body)
//! before anything is raised again. A cleared alert's record stays (marked `cleared`, with
//! its asset) so the group firing again raises a new one. Kept for [`super::DONE_TTL`],
//! longer than any group, so a late resolve still finds the alert it must clear.

use super::{Result, Store, DONE_TTL};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// The RMM alert of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRmmAlert {
    pub customer_id: i64,
    pub asset_id: i64,
    /// The message id the alert's body names in its `relay-ref` line.
    pub reference: String,
    /// When the raise began.
    pub at: DateTime<Utc>,
    /// Syncro's id, once the raise's answer was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<i64>,
    /// Syncro refused it for good (a missing permission, a bad asset): not tried again.
    #[serde(default)]
    pub abandoned: bool,
    /// Cleared when the group's alert resolved: the asset is kept so that the group firing
    /// again raises a new one.
    #[serde(default)]
    pub cleared: bool,
}

impl Store {
    fn rmm_key(&self, group_key: &str) -> String {
        self.key(&["rmm", &Self::group_hash(group_key)])
    }

    pub async fn rmm_alert(&self, group_key: &str) -> Result<Option<GroupRmmAlert>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn.get(self.rmm_key(group_key)).await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    pub async fn set_rmm_alert(&self, group_key: &str, alert: &GroupRmmAlert) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: () = conn
            .set_ex(
                self.rmm_key(group_key),
                serde_json::to_string(alert)?,
                DONE_TTL.as_secs(),
            )
            .await?;
        Ok(())
    }
}
