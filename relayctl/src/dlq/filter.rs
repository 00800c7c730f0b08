//! The filter flags every `dlq` verb shares, as [`Filters`] of the shared dead-letter code.

use chrono::{DateTime, Utc};
use clap::Args;
use processor::deadletters::{parse_time, Filters};

/// Which dead letters a command applies to; all given filters must match.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only this organization (the alert's `organization.id`; `?` for undecodable bodies).
    #[arg(long)]
    pub org: Option<String>,
    /// Only this event type.
    #[arg(long)]
    pub event_type: Option<String>,
    /// Only this error kind (e.g. `syncro_422`, `undecodable`, `delivery-limit`).
    #[arg(long)]
    pub error_kind: Option<String>,
    /// Only messages that failed at or after this time: RFC 3339, or an age such as `30m`,
    /// `2h`, `3d`, `1w`.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only messages that failed before this time (same forms as `--since`).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only the copies of this message id (`ar1-…`).
    #[arg(long)]
    pub message_id: Option<String>,
}

impl FilterArgs {
    pub fn filters(&self) -> Filters {
        Filters {
            org: self.org.clone(),
            event_type: self.event_type.clone(),
            error_kind: self.error_kind.clone(),
            since: self.since,
            until: self.until,
            message_id: self.message_id.clone(),
        }
    }
}
