//! `GET /v1/sources`: each source's last sign of life, and whether it is overdue (quiet past
//! its expected interval, or in an outage).

use crate::auth::Reader;
use crate::error::Result;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use opstate::store::sources::{self, SourceActivity};
use opstate::Db;
use serde::Serialize;

/// A source as the API shows it.
#[derive(Debug, Serialize)]
pub struct SourceView {
    #[serde(flatten)]
    pub activity: SourceActivity,
    /// Seconds since anything was heard from it; null when never.
    pub quiet_for_secs: Option<i64>,
    /// Quiet past its expected interval (or in an outage); never for an unwatched source.
    pub overdue: bool,
}

impl SourceView {
    pub fn new(activity: SourceActivity, now: DateTime<Utc>) -> SourceView {
        let quiet_for_secs = activity
            .last_seen()
            .map(|seen| (now - seen).num_seconds().max(0));
        let overdue = activity.outage_state.is_some()
            || activity
                .expected_interval_secs
                .is_some_and(|expected| quiet_for_secs.is_none_or(|quiet| quiet > expected));
        SourceView {
            activity,
            quiet_for_secs,
            overdue,
        }
    }
}

/// The answer of the list.
#[derive(Serialize)]
struct SourceList {
    sources: Vec<SourceView>,
}

/// Every source, with its view now.
pub async fn views(db: &Db) -> Result<Vec<SourceView>> {
    let now = Utc::now();
    Ok(sources::list(db)
        .await?
        .into_iter()
        .map(|a| SourceView::new(a, now))
        .collect())
}

pub async fn list(_: Reader, state: web::Data<AppState>) -> Result<HttpResponse> {
    let sources = views(state.db()?).await?;
    Ok(HttpResponse::Ok().json(SourceList { sources }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn activity(
        seen_ago: Option<i64>,
        expected: Option<i64>,
        now: DateTime<Utc>,
    ) -> SourceActivity {
        SourceActivity {
            source: "demo".into(),
            last_alert_at: None,
            last_heartbeat_at: seen_ago.map(|s| now - Duration::seconds(s)),
            expected_interval_secs: expected,
            outage_since: None,
            outage_state: None,
        }
    }

    #[test]
    fn a_watched_source_is_overdue_once_quiet_past_its_interval() {
        let now = Utc::now();
        let fresh = SourceView::new(activity(Some(30), Some(60), now), now);
        assert_eq!((fresh.quiet_for_secs, fresh.overdue), (Some(30), false));
        let late = SourceView::new(activity(Some(61), Some(60), now), now);
        assert!(late.overdue);
        let never = SourceView::new(activity(None, Some(60), now), now);
        assert_eq!((never.quiet_for_secs, never.overdue), (None, true));
    }

    #[test]
    fn an_unwatched_source_is_never_overdue() {
        let now = Utc::now();
        let view = SourceView::new(activity(Some(86_400), None, now), now);
        assert!(!view.overdue);
    }
}
