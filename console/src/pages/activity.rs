//! The overview's last 24 hours, from the operator API's `GET /v1/activity`: alerts,
//! tickets and notes per hour as a chart, and the busiest organizations and event types.
//!
//! The chart is SVG written by maud on the server: bars as `rect`s coloured by class (the
//! stylesheet's, no inline style), each with a `title` (its hour and figure, read by screen
//! readers and shown on hover), and the same figures in a table below it for anyone who
//! cannot see the chart.

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

/// `GET /v1/activity`, as the page shows it.
#[derive(Debug, Deserialize)]
pub struct Activity {
    pub hours: Vec<Hour>,
    pub organizations: Vec<Count>,
    pub event_types: Vec<Count>,
}

#[derive(Debug, Deserialize)]
pub struct Hour {
    pub hour: DateTime<Utc>,
    pub alerts: u64,
    pub tickets: u64,
    pub notes: u64,
}

#[derive(Debug, Deserialize)]
pub struct Count {
    pub name: String,
    pub alerts: u64,
}

/// The three series: key in [`Hour`], label, the stylesheet's class.
const SERIES: [(&str, &str); 3] = [
    ("Alerts", "bar-alerts"),
    ("Tickets", "bar-tickets"),
    ("Notes", "bar-notes"),
];

/// Width of one hour in the chart's units, and of one bar.
const SLOT: u64 = 30;
const BAR: u64 = 8;
/// Height of the bars' area; labels below it.
const HEIGHT: u64 = 120;
const LABELS: u64 = 18;

fn figures(h: &Hour) -> [u64; 3] {
    [h.alerts, h.tickets, h.notes]
}

/// The chart and its table; `id` tells this account's chart from another's.
pub fn chart(activity: &Activity, id: &str) -> Markup {
    let max = activity
        .hours
        .iter()
        .flat_map(figures)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = SLOT * activity.hours.len() as u64;
    let total: [u64; 3] = activity.hours.iter().fold([0; 3], |acc, h| {
        let f = figures(h);
        [acc[0] + f[0], acc[1] + f[1], acc[2] + f[2]]
    });
    let summary = format!(
        "Alerts, tickets and notes per hour over the last {} hours: {} alerts, {} tickets, {} \
         notes in all, at most {max} in an hour. The table below gives every hour's figures.",
        activity.hours.len(),
        total[0],
        total[1],
        total[2]
    );
    html! {
        ul.legend {
            @for (i, (label, class)) in SERIES.iter().enumerate() {
                li { span class={ "swatch " (class) } {} (label) " (" (total[i]) ")" }
            }
        }
        div.chart {
            svg viewBox={ "0 0 " (width) " " (HEIGHT + LABELS) } role="img" aria-label=(summary) {
                line.axis x1="0" y1=(HEIGHT) x2=(width) y2=(HEIGHT) {}
                @for (n, h) in activity.hours.iter().enumerate() {
                    @let x0 = SLOT * n as u64 + 3;
                    @for (i, value) in figures(h).iter().enumerate() {
                        @let height = value * HEIGHT / max;
                        rect class=(SERIES[i].1) x=(x0 + BAR * i as u64) y=(HEIGHT - height) width=(BAR) height=(height) {
                            title { (h.hour.format("%H:00")) " UTC: " (value) " " (SERIES[i].0.to_lowercase()) }
                        }
                    }
                    @if n % 3 == 0 {
                        text.tick x=(x0) y=(HEIGHT + LABELS - 4) { (h.hour.format("%H:00")) }
                    }
                }
            }
        }
        details {
            summary { "The figures as a table" }
            div.scroll {
                table id=(id) {
                    caption { "Per hour (UTC)" }
                    thead { tr { th scope="col" { "Hour" } th scope="col" { "Alerts" } th scope="col" { "Tickets" } th scope="col" { "Notes" } } }
                    tbody {
                        @for h in &activity.hours {
                            tr {
                                th scope="row" { (h.hour.format("%Y-%m-%d %H:00")) }
                                td.num { (h.alerts) } td.num { (h.tickets) } td.num { (h.notes) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One busiest list: the names with their alert counts, most first.
pub fn busiest(counts: &[Count], what: &str) -> Markup {
    html! {
        @if counts.is_empty() { p { "No alert in the last 24 hours." } }
        @else {
            table {
                thead { tr { th scope="col" { (what) } th scope="col" { "Alerts" } } }
                tbody {
                    @for c in counts { tr { td { (c.name) } td.num { (c.alerts) } } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_hour_and_names_are_escaped() {
        let at = |h: u32| {
            DateTime::parse_from_rfc3339(&format!("2026-05-01T{h:02}:00:00Z"))
                .map(|t| t.with_timezone(&Utc))
                .expect("a time")
        };
        let activity = Activity {
            hours: vec![
                Hour {
                    hour: at(9),
                    alerts: 4,
                    tickets: 1,
                    notes: 3,
                },
                Hour {
                    hour: at(10),
                    alerts: 0,
                    tickets: 0,
                    notes: 0,
                },
            ],
            organizations: vec![Count {
                name: "<b>org</b>".into(),
                alerts: 4,
            }],
            event_types: Vec::new(),
        };
        let page = chart(&activity, "t").into_string();
        assert!(
            page.contains(r#"height="120""#),
            "the busiest bar is full height"
        );
        assert!(page.contains("09:00 UTC: 4 alerts"));
        assert!(page.contains("4 alerts, 1 tickets, 3 notes in all"));
        let list = busiest(&activity.organizations, "Organization").into_string();
        assert!(list.contains("&lt;b&gt;org&lt;/b&gt;"), "{list}");
    }
}
