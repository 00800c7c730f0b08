//! When the month's sync is due, and the loop every worker runs to start it: check every
//! `check_interval`; from the sync day and time (in the configured time zone) on, while the
//! month has no done marker, try to run it. The lease makes one worker run it; the others
//! find it busy, then done.

use super::sync::{RunError, Runner};
use crate::config::billing::BillingConfig;
use chrono::{DateTime, Datelike, Utc};
use tokio::sync::watch;

/// The month (`YYYY-MM`, local to the time zone) whose sync is due at `now`, if any: on or
/// after the sync day and time of the current local month.
pub fn due_month(config: &BillingConfig, now: DateTime<Utc>) -> Option<String> {
    let local = now.with_timezone(&config.time_zone);
    let day = local.day();
    let due = day > config.sync_day || day == config.sync_day && local.time() >= config.sync_time;
    due.then(|| month_of(config, now))
}

/// The local month of `now` as `YYYY-MM`.
pub fn month_of(config: &BillingConfig, now: DateTime<Utc>) -> String {
    now.with_timezone(&config.time_zone)
        .format("%Y-%m")
        .to_string()
}

/// Checks until `stop` turns true (or its sender goes away).
pub async fn run(runner: Runner, mut stop: watch::Receiver<bool>) {
    let interval = runner.config.check_interval;
    loop {
        check_once(&runner).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = super::stopped(&mut stop) => return,
        }
    }
}

async fn check_once(runner: &Runner) {
    let Some(month) = due_month(&runner.config, Utc::now()) else {
        return;
    };
    match runner.store.month_done(&month).await {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "billing sync check: Redis unavailable");
            return;
        }
    }
    match runner.run_month(&month, None).await {
        Ok(_) | Err(RunError::Busy) => {}
        Err(e) => {
            tracing::warn!(error = %e, month, "billing sync run stopped; a later check resumes it")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    #[test]
    fn due_from_the_sync_day_and_time_in_the_time_zone() {
        let config = BillingConfig {
            sync_day: 5,
            sync_time: NaiveTime::from_hms_opt(2, 0, 0).expect("time"),
            time_zone: chrono_tz::America::New_York,
            ..BillingConfig::default()
        };
        let at = |d, h, m| {
            Utc.with_ymd_and_hms(2026, 3, d, h, m, 0)
                .single()
                .expect("time")
        };
        // 5 March 06:59 UTC is 01:59 in New York (EST, UTC-5): not yet.
        assert_eq!(due_month(&config, at(5, 6, 59)), None);
        assert_eq!(due_month(&config, at(5, 7, 0)).as_deref(), Some("2026-03"));
        assert_eq!(due_month(&config, at(4, 23, 0)), None);
        assert_eq!(due_month(&config, at(28, 0, 0)).as_deref(), Some("2026-03"));
        // 1 April 03:00 UTC is still 31 March in New York.
        let config_day1 = BillingConfig {
            sync_day: 1,
            ..config
        };
        let april = Utc
            .with_ymd_and_hms(2026, 4, 1, 3, 0, 0)
            .single()
            .expect("time");
        assert_eq!(due_month(&config_day1, april).as_deref(), Some("2026-03"));
    }
}
