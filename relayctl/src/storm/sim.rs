//! What the Syncro simulator holds of a storm: its counters, its tickets, and the alerts'
//! references found in their comments.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The simulator's request counters.
pub(super) struct Counted {
    pub(super) total: u64,
    /// Answers 429, from the rate limit or the burst limit.
    pub(super) throttled: u64,
}

pub(super) async fn counters(http: &reqwest::Client, sim: &str) -> anyhow::Result<Counted> {
    let value: Value = http
        .get(format!("{}/_admin/counters", sim.trim_end_matches('/')))
        .send()
        .await?
        .json()
        .await?;
    let throttled =
        value["rate_limited"].as_u64().unwrap_or(0) + value["burst_429s"].as_u64().unwrap_or(0);
    Ok(Counted {
        total: value["total"].as_u64().unwrap_or(0),
        throttled,
    })
}

pub(super) async fn state(http: &reqwest::Client, sim: &str) -> anyhow::Result<Value> {
    Ok(http
        .get(format!("{}/_admin/state", sim.trim_end_matches('/')))
        .send()
        .await?
        .json()
        .await?)
}

/// The simulator's tickets having a comment that contains `text` (`GET /_admin/tickets`).
pub(super) async fn tickets_with(
    http: &reqwest::Client,
    sim: &str,
    text: &str,
) -> anyhow::Result<Vec<Value>> {
    let answer: Value = http
        .get(format!("{}/_admin/tickets", sim.trim_end_matches('/')))
        .query(&[("comment_contains", text)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(tickets_of(&answer).to_vec())
}

/// The `tickets` array of a simulator answer (`/_admin/tickets`, or `data` of `/_admin/state`).
pub(super) fn tickets_of(value: &Value) -> &[Value] {
    value["tickets"].as_array().map_or(&[], Vec::as_slice)
}

/// Wanted alerts found in the simulator's tickets.
pub(super) struct Seen {
    /// Reference → how many comments carry it.
    pub(super) refs: HashMap<String, usize>,
    /// Reference → when the first comment carrying it was made (the simulator's clock).
    pub(super) arrived: HashMap<String, DateTime<Utc>>,
    /// References found in a ticket's first comment: alerts that opened their ticket.
    pub(super) opened: HashSet<String>,
    /// Tickets holding at least one of the wanted alerts.
    pub(super) tickets: usize,
    /// Their comments.
    pub(super) comments: usize,
}

pub(super) fn references(tickets: &[Value], wanted: &HashSet<String>) -> Seen {
    let mut seen = Seen {
        refs: HashMap::new(),
        arrived: HashMap::new(),
        opened: HashSet::new(),
        tickets: 0,
        comments: 0,
    };
    for ticket in tickets {
        let mut ours = false;
        let comments = ticket["comments"].as_array().map_or(&[][..], Vec::as_slice);
        for (n, comment) in comments.iter().enumerate() {
            let body = comment["body"].as_str().unwrap_or_default();
            let made = comment["created_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            for r in processor::plan::references_in(body) {
                if !wanted.contains(r) {
                    continue;
                }
                ours = true;
                *seen.refs.entry(r.to_string()).or_insert(0) += 1;
                if let Some(made) = made {
                    let first = seen.arrived.entry(r.to_string()).or_insert(made);
                    *first = (*first).min(made);
                }
                if n == 0 {
                    seen.opened.insert(r.to_string());
                }
            }
        }
        if ours {
            seen.tickets += 1;
            seen.comments += comments.len();
        }
    }
    seen
}
