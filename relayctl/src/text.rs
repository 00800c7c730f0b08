//! How relayctl writes for people: times (always UTC, so the same instant reads the same on
//! every operator's terminal and in every ticket), spans, free text clipped to one line, and
//! aligned tables.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// An instant to the second, RFC 3339 in UTC: `2026-12-01T22:00:03Z`.
pub fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An instant to the millisecond, for steps that follow each other closely.
pub fn utc_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A span as people say it: `0.42 s`, `38 s`, `4m05s`, `2h10m`, `3d4h`.
pub fn span(duration: Duration) -> String {
    let millis = duration.num_milliseconds().max(0);
    let seconds = millis / 1000;
    match seconds {
        0..=9 => format!("{:.2} s", millis as f64 / 1000.0),
        10..=59 => format!("{seconds} s"),
        60..=3_599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3_600..=86_399 => format!("{}h{:02}m", seconds / 3_600, seconds % 3_600 / 60),
        _ => format!("{}d{}h", seconds / 86_400, seconds % 86_400 / 3_600),
    }
}

/// Text on one line (control characters as spaces), at most `max` characters.
pub fn clip(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() <= max {
        line
    } else {
        let mut clipped: String = line.chars().take(max.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

/// Rows under a header, columns padded to their widest cell, each line after `indent`.
pub fn table(indent: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(indent);
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        let ms = Duration::milliseconds;
        assert_eq!(span(ms(420)), "0.42 s");
        assert_eq!(span(ms(38_000)), "38 s");
        assert_eq!(span(ms(245_000)), "4m05s");
        assert_eq!(span(ms(7_800_000)), "2h10m");
        assert_eq!(span(ms(277_200_000)), "3d5h");
        assert_eq!(span(ms(-5)), "0.00 s");
    }

    #[test]
    fn times_are_utc() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T23:00:03.5+01:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(utc(at), "2026-12-01T22:00:03Z");
        assert_eq!(utc_millis(at), "2026-12-01T22:00:03.500Z");
    }
}
