//! The request log (method, path, status, time) and counters, so tests and benchmarks can count
//! Syncro calls, 429s and injected faults.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::faults::FaultKind;
use crate::model::Timestamp;

/// How a request ended, as the client saw it.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A response was sent.
    Answered,
    /// The connection was closed without a response (after the change was applied).
    Dropped,
    /// The request is being held by a hang fault (logged when the hang starts).
    Hung,
}

/// One request in the log.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogEntry {
    /// Increasing from 1; `GET /_admin/requests?since=N` returns entries after N.
    pub seq: u64,
    pub at: Timestamp,
    pub method: String,
    /// The path without the query string (which may carry `api_key`).
    pub path: String,
    /// The endpoint name (`"GET /tickets/{id}"`), or `None` for an unknown route.
    pub route: Option<&'static str>,
    /// The status sent, or, for a dropped request, the status the applied change had.
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// Time from arrival to answer (to hang start for a hung request).
    pub duration_ms: f64,
    /// The rate-limit key (client IP unless `rate_limit_key_header` is set).
    pub client: String,
    /// Fault kinds that struck this request.
    pub faults: Vec<FaultKind>,
    /// The JSON body, when `log_request_bodies` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// Totals since start or the last reset.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Counters {
    /// Every `/api/v1` request (and unknown paths), admin and health checks excluded.
    pub total: u64,
    /// Route name → status → count; unknown routes under `"unmatched"`, dropped and hung
    /// requests under status `"dropped"` / `"hung"`.
    pub by_route: BTreeMap<String, BTreeMap<String, u64>>,
    /// Status → count, over all routes.
    pub by_status: BTreeMap<String, u64>,
    /// 429s from the rate limiter itself.
    pub rate_limited: u64,
    /// 429s from `rate_limit_burst` faults.
    pub burst_429s: u64,
    /// Fault kind → requests it struck.
    pub faults: BTreeMap<String, u64>,
}

impl Counters {
    /// All 429 answers, whatever produced them.
    pub fn total_429s(&self) -> u64 {
        self.rate_limited + self.burst_429s
    }

    /// Requests answered or ended on one route, any status.
    pub fn route_total(&self, route: &str) -> u64 {
        self.by_route
            .get(route)
            .map(|statuses| statuses.values().sum())
            .unwrap_or(0)
    }
}

/// The bounded log plus the counters.
pub struct Journal {
    capacity: usize,
    next_seq: u64,
    entries: VecDeque<LogEntry>,
    counters: Counters,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            next_seq: 1,
            entries: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// Records a request; `rate_limited` marks a 429 from the limiter.
    pub fn record(&mut self, mut entry: LogEntry, rate_limited: bool) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        let status_key = match entry.outcome {
            Outcome::Answered => entry.status.map(|s| s.to_string()).unwrap_or_default(),
            Outcome::Dropped => "dropped".to_string(),
            Outcome::Hung => "hung".to_string(),
        };
        let c = &mut self.counters;
        c.total += 1;
        let route = entry.route.unwrap_or("unmatched").to_string();
        *c.by_route
            .entry(route)
            .or_default()
            .entry(status_key.clone())
            .or_default() += 1;
        *c.by_status.entry(status_key).or_default() += 1;
        if rate_limited {
            c.rate_limited += 1;
        }
        for kind in &entry.faults {
            *c.faults.entry(kind.as_str().to_string()).or_default() += 1;
            if *kind == FaultKind::RateLimitBurst {
                c.burst_429s += 1;
            }
        }
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Entries with `seq > since`, oldest first, at most `limit`.
    pub fn entries(&self, since: u64, limit: usize) -> Vec<LogEntry> {
        self.entries
            .iter()
            .filter(|e| e.seq > since)
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Empties the log and the counters (sequence numbers keep increasing).
    pub fn clear(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.entries.clear();
        self.counters = Counters::default();
    }
}
