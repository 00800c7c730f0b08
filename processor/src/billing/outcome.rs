//! What the sync did (or, in a preview, would do) for one organization: the result kind and
//! the record kept per month, shared by the run ([`super::sync`]), its store and `relayctl`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Runs of an organization ending in `error` within one month before it is left as is.
pub const MAX_ATTEMPTS: u32 = 3;

/// What the sync did (or would do) for an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgResult {
    Updated,
    Unchanged,
    SkippedCountedType,
    MissingSchedule,
    MissingLine,
    NoCount,
    Error,
}

impl OrgResult {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgResult::Updated => "updated",
            OrgResult::Unchanged => "unchanged",
            OrgResult::SkippedCountedType => "skipped_counted_type",
            OrgResult::MissingSchedule => "missing_schedule",
            OrgResult::MissingLine => "missing_line",
            OrgResult::NoCount => "no_count",
            OrgResult::Error => "error",
        }
    }
}

/// One organization's result (or, in a preview, its plan), as recorded and printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgOutcome {
    pub organization_id: String,
    pub schedule_id: i64,
    pub outcome: OrgResult,
    pub line_id: Option<i64>,
    pub line_name: Option<String>,
    pub old_quantity: Option<f64>,
    pub new_quantity: Option<u64>,
    /// The service line was added by the sync.
    #[serde(default)]
    pub added_line: bool,
    /// In words, for people.
    pub message: String,
    /// Runs that ended in `error` this month.
    #[serde(default)]
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

impl OrgOutcome {
    /// Whether the month's run is finished with this organization.
    pub fn is_final(&self) -> bool {
        self.outcome != OrgResult::Error || self.attempts >= MAX_ATTEMPTS
    }

    pub(crate) fn new(org: &str, schedule_id: i64, outcome: OrgResult, message: String) -> Self {
        OrgOutcome {
            organization_id: org.to_string(),
            schedule_id,
            outcome,
            line_id: None,
            line_name: None,
            old_quantity: None,
            new_quantity: None,
            added_line: false,
            message,
            attempts: 0,
            at: Utc::now(),
        }
    }
}
