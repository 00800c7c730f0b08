//! What `dlq` prints: aligned tables for people, JSON (`--json`) for machines.

use super::letter::{Letter, UNKNOWN};
use crate::text::clip;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Age buckets of `stats`, youngest first.
pub const AGE_BUCKETS: [&str; 5] = ["<1h", "1-24h", "1-7d", ">7d", "unknown"];
/// Longest error text in a `list` table (JSON keeps it whole).
const ERROR_COLUMN: usize = 60;

/// The counts `stats` prints.
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

pub fn stats<'a>(letters: impl Iterator<Item = &'a Letter>, now: DateTime<Utc>, json: bool) {
    let stats = Stats::of(letters, now);
    if json {
        print_json(&stats);
        return;
    }
    println!("dead-lettered messages: {}", stats.total);
    let sections: [(&str, Vec<(String, usize)>); 4] = [
        ("error kind", most_first(&stats.by_error_kind)),
        ("organization", most_first(&stats.by_organization)),
        ("event type", most_first(&stats.by_event_type)),
        (
            "age",
            AGE_BUCKETS
                .iter()
                .filter_map(|b| stats.by_age.get(b).map(|n| (b.to_string(), *n)))
                .collect(),
        ),
    ];
    for (title, rows) in sections {
        if rows.is_empty() {
            continue;
        }
        println!();
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|(key, n)| vec![key, n.to_string()])
            .collect();
        print_table(&[title.to_uppercase().as_str(), "COUNT"], &rows);
    }
}

fn most_first(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut rows: Vec<(String, usize)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

pub fn list(letters: &[&Letter], json: bool) {
    if json {
        print_json(&letters);
        return;
    }
    let rows: Vec<Vec<String>> = letters.iter().map(|l| letter_row(l)).collect();
    print_table(&LETTER_COLUMNS, &rows);
}

/// Columns of one letter in a table.
pub const LETTER_COLUMNS: [&str; 7] = [
    "MESSAGE ID",
    "ORGANIZATION",
    "EVENT TYPE",
    "ERROR",
    "ATTEMPTS",
    "FAILED AT",
    "SOURCE/ALERT",
];

pub fn letter_row(letter: &Letter) -> Vec<String> {
    let error = if letter.error.is_empty() {
        letter.error_kind.clone()
    } else {
        format!("{}: {}", letter.error_kind, letter.error)
    };
    vec![
        or_unknown(&letter.message_id),
        letter.organization.clone(),
        letter.event_type.clone(),
        clip(&error, ERROR_COLUMN),
        letter.attempts.to_string(),
        letter.failed_at.map_or_else(
            || UNKNOWN.to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        format!(
            "{}/{}",
            letter.source.as_deref().unwrap_or(UNKNOWN),
            letter.alert_id.as_deref().unwrap_or(UNKNOWN)
        ),
    ]
}

fn or_unknown(value: &str) -> String {
    if value.is_empty() {
        UNKNOWN.to_string()
    } else {
        value.to_string()
    }
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    print!("{}", crate::text::table("", header, rows));
}

pub fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("relayctl: cannot write JSON: {e}"),
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

    #[test]
    fn long_errors_are_clipped_to_one_line() {
        assert_eq!(clip("a\nb", 10), "a b");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
