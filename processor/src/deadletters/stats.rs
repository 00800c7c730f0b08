//! Counts of dead letters by error kind, organization, event type and age.

use super::letter::Letter;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Age buckets, youngest first.
pub const AGE_BUCKETS: [&str; 5] = ["<1h", "1-24h", "1-7d", ">7d", "unknown"];

/// The counts of a set of letters.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub total: usize,
    pub by_error_kind: BTreeMap<String, usize>,
    pub by_organization: BTreeMap<String, usize>,
    pub by_event_type: BTreeMap<String, usize>,
    pub by_age: BTreeMap<&'static str, usize>,
}

impl Stats {
    pub fn of<'a>(letters: impl Iterator<Item = &'a Letter>, now: DateTime<Utc>) -> Stats {
        let mut stats = Stats::default();
        for letter in letters {
            stats.total += 1;
            *stats
                .by_error_kind
                .entry(letter.error_kind.clone())
                .or_default() += 1;
            *stats
                .by_organization
                .entry(letter.organization.clone())
                .or_default() += 1;
            *stats
                .by_event_type
                .entry(letter.event_type.clone())
                .or_default() += 1;
            *stats
                .by_age
                .entry(age_bucket(letter.failed_at, now))
                .or_default() += 1;
        }
        stats
    }
}

/// `counts` as (key, count) rows, the largest first (ties by key).
pub fn most_first(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut rows: Vec<(String, usize)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

/// The age bucket of a failure time.
pub fn age_bucket(failed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    let Some(at) = failed_at else {
        return AGE_BUCKETS[4];
    };
    let hours = (now - at).num_minutes() as f64 / 60.0;
    match hours {
        h if h < 1.0 => AGE_BUCKETS[0],
        h if h < 24.0 => AGE_BUCKETS[1],
        h if h < 24.0 * 7.0 => AGE_BUCKETS[2],
        _ => AGE_BUCKETS[3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_in_their_buckets() {
        let now = Utc::now();
        let ago = |minutes: i64| Some(now - chrono::Duration::minutes(minutes));
        assert_eq!(age_bucket(ago(59), now), "<1h");
        assert_eq!(age_bucket(ago(60), now), "1-24h");
        assert_eq!(age_bucket(ago(24 * 60), now), "1-7d");
        assert_eq!(age_bucket(ago(8 * 24 * 60), now), ">7d");
        assert_eq!(age_bucket(None, now), "unknown");
    }
}
