//! What `dlq` prints: aligned tables for people, JSON (`--json`) for machines.

use crate::text::clip;
use chrono::{DateTime, Utc};
use processor::deadletters::stats::most_first;
use processor::deadletters::{FullLetter, Letter, Stats, AGE_BUCKETS, UNKNOWN};
use serde::Serialize;

/// Longest error text in a `list` table (JSON keeps it whole).
const ERROR_COLUMN: usize = 60;

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

/// One letter in full: its facts, the headers of interest, the body.
pub fn show(full: &FullLetter, copies: usize, json: bool) {
    if json {
        let mut value = serde_json::json!(full);
        value["copies"] = serde_json::json!(copies);
        print_json(&value);
        return;
    }
    let row = letter_row(&full.letter);
    for (column, value) in LETTER_COLUMNS.iter().zip(row) {
        println!("{column:<14}{value}");
    }
    println!("{:<14}{}", "ERROR TEXT", full.letter.error);
    println!("{:<14}{copies}", "COPIES");
    println!();
    for (name, value) in &full.headers {
        println!("{name}: {value}");
    }
    println!();
    if full.body_is_json {
        print_json(&full.body);
    } else {
        println!("{}", full.body.as_str().unwrap_or_default());
    }
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
    fn long_errors_are_clipped_to_one_line() {
        assert_eq!(clip("a\nb", 10), "a b");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
