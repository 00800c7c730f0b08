//! Fault injection: latency, error answers, hangs, 429 bursts and "apply, then drop the
//! connection", each optionally limited to one route, one method, a share of requests or a
//! count of requests.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::router::Endpoint;

/// A hang lasts this long unless `hang_ms` says otherwise: longer than any sane client timeout.
pub const DEFAULT_HANG: Duration = Duration::from_secs(3600);

/// What a fault does to a request it hits.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait `latency_ms` before handling the request (adds up with other latency faults).
    Latency,
    /// Answer `status` (default 500) with `body` without handling the request. A 2xx status
    /// with an HTML body plays a login or WAF page answering in Syncro's place.
    Error,
    /// Never answer: hold the request for `hang_ms` (default one hour), then close the
    /// connection.
    Hang,
    /// Answer 429 as the rate limiter would; meant with `count` ("the next N requests").
    RateLimitBurst,
    /// Handle the request (the change is made), then close the connection without answering.
    DropAfterApply,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Error => "error",
            FaultKind::Hang => "hang",
            FaultKind::RateLimitBurst => "rate_limit_burst",
            FaultKind::DropAfterApply => "drop_after_apply",
        }
    }
}

/// One fault rule, as given in the seed's `options.faults`, `--fault` or `POST /_admin/faults`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// Only requests to this endpoint, named as in the counters: `"POST /tickets/{id}/comment"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Only requests with this method (e.g. every `POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The share of matching requests hit, 0.0..=1.0 (default 1.0: all of them).
    #[serde(default = "one")]
    pub share: f64,
    /// Hit at most this many requests, then the rule removes itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `latency`: the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `error`: the status (200..=599, default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `error`: the body (default: JSON for 500, an HTML proxy page for 502/503/504).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `hang`: how long the request is held before the connection is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_ms: Option<u64>,
    /// `error` and `rate_limit_burst`: the `Retry-After` delay to send (a burst defaults to
    /// 1 s, so a client that honours it does not stall a test; `options.retry_after` still
    /// decides whether the header is sent at all for a burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

fn one() -> f64 {
    1.0
}

impl FaultSpec {
    /// A rule of `kind` hitting every request, to be narrowed with the builder methods.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            route: None,
            method: None,
            share: 1.0,
            count: None,
            latency_ms: None,
            status: None,
            body: None,
            hang_ms: None,
            retry_after_secs: None,
        }
    }

    pub fn latency(ms: u64) -> Self {
        Self {
            latency_ms: Some(ms),
            ..Self::new(FaultKind::Latency)
        }
    }

    pub fn error(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::new(FaultKind::Error)
        }
    }

    pub fn hang() -> Self {
        Self::new(FaultKind::Hang)
    }

    pub fn rate_limit_burst(count: u64) -> Self {
        Self::new(FaultKind::RateLimitBurst).times(count)
    }

    pub fn drop_after_apply() -> Self {
        Self::new(FaultKind::DropAfterApply)
    }

    /// Limits the rule to one endpoint, e.g. `"POST /tickets"`.
    pub fn on(mut self, route: &str) -> Self {
        self.route = Some(route.to_string());
        self
    }

    /// Limits the rule to `count` hits.
    pub fn times(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Hits only this share of matching requests.
    pub fn share(mut self, share: f64) -> Self {
        self.share = share;
        self
    }

    /// Checks the rule is complete and names a known route.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SimError::InvalidFault(m));
        if !(0.0..=1.0).contains(&self.share) {
            return bad(format!("share {} is not in 0.0..=1.0", self.share));
        }
        if let Some(route) = &self.route {
            if Endpoint::from_name(route).is_none() {
                let known: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
                return bad(format!(
                    "unknown route {route:?}; known routes: {}",
                    known.join(", ")
                ));
            }
        }
        if let Some(method) = &self.method {
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                return bad(format!("unknown method {method:?} (use upper case)"));
            }
        }
        match self.kind {
            FaultKind::Latency if self.latency_ms.is_none() => {
                bad("a latency fault needs latency_ms".into())
            }
            FaultKind::Error if !(200..=599).contains(&self.status.unwrap_or(500)) => {
                bad("an error fault's status must be in 200..=599".into())
            }
            FaultKind::RateLimitBurst if self.count.is_none() => {
                bad("a rate_limit_burst fault needs count (the next N requests)".into())
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, method: &str, endpoint: Option<Endpoint>) -> bool {
        let route_ok = match &self.route {
            None => true,
            Some(route) => endpoint.is_some_and(|e| e.name() == route),
        };
        route_ok && self.method.as_deref().is_none_or(|m| m == method)
    }
}

/// A rule in force, with its id and how often it struck.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ActiveFault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Hits left before the rule removes itself (`None`: unlimited).
    pub remaining: Option<u64>,
    pub applied: u64,
}

/// The answer a fault gives instead of the real handler.
#[derive(Clone, Debug, PartialEq)]
pub enum Interception {
    Error {
        status: u16,
        body: Option<String>,
        retry_after_secs: Option<u64>,
    },
    Hang(Duration),
    RateLimited {
        retry_after_secs: u64,
    },
}

/// What the faults decided for one request.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    pub latency: Duration,
    pub intercept: Option<Interception>,
    pub drop_after_apply: bool,
    /// Kinds that struck, for the request log and counters.
    pub struck: Vec<FaultKind>,
}

/// The rules in force.
pub struct FaultSet {
    next_id: u64,
    active: Vec<ActiveFault>,
    rng: StdRng,
}

impl FaultSet {
    pub fn new(rng_seed: Option<u64>) -> Self {
        Self {
            next_id: 1,
            active: Vec::new(),
            rng: match rng_seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            },
        }
    }

    /// Adds a rule after checking it; returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> Result<u64> {
        spec.validate()?;
        let id = self.next_id;
        self.next_id += 1;
        self.active.push(ActiveFault {
            id,
            remaining: spec.count,
            spec,
            applied: 0,
        });
        Ok(id)
    }

    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.active.len();
        self.active.retain(|f| f.id != id);
        before != self.active.len()
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    pub fn list(&self) -> Vec<ActiveFault> {
        self.active.clone()
    }

    /// Decides the faults for one request and uses up counted rules. Latency rules always add
    /// up; of the rules that replace the answer (error, hang, burst) the oldest wins, and once
    /// one has, no later replacing or dropping rule is used up.
    pub fn evaluate(&mut self, method: &str, endpoint: Option<Endpoint>) -> Verdict {
        let mut verdict = Verdict::default();
        if self.active.is_empty() {
            return verdict;
        }
        for fault in &mut self.active {
            if !fault.spec.matches(method, endpoint) {
                continue;
            }
            let replaces = !matches!(fault.spec.kind, FaultKind::Latency);
            if replaces && (verdict.intercept.is_some() || verdict.drop_after_apply) {
                continue;
            }
            let share = fault.spec.share;
            if share < 1.0 && self.rng.random::<f64>() >= share {
                continue;
            }
            fault.applied += 1;
            if let Some(left) = &mut fault.remaining {
                *left = left.saturating_sub(1);
            }
            verdict.struck.push(fault.spec.kind);
            let spec = &fault.spec;
            match spec.kind {
                FaultKind::Latency => {
                    verdict.latency += Duration::from_millis(spec.latency_ms.unwrap_or(0));
                }
                FaultKind::Error => {
                    verdict.intercept = Some(Interception::Error {
                        status: spec.status.unwrap_or(500),
                        body: spec.body.clone(),
                        retry_after_secs: spec.retry_after_secs,
                    });
                }
                FaultKind::Hang => {
                    let hang = spec.hang_ms.map(Duration::from_millis);
                    verdict.intercept = Some(Interception::Hang(hang.unwrap_or(DEFAULT_HANG)));
                }
                FaultKind::RateLimitBurst => {
                    verdict.intercept = Some(Interception::RateLimited {
                        retry_after_secs: spec.retry_after_secs.unwrap_or(1),
                    });
                }
                FaultKind::DropAfterApply => verdict.drop_after_apply = true,
            }
        }
        self.active.retain(|f| f.remaining != Some(0));
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_strike_exactly_count_times_then_vanish() {
        let mut set = FaultSet::new(Some(1));
        set.add(FaultSpec::rate_limit_burst(2)).expect("valid");
        let hits: Vec<bool> = (0..4)
            .map(|_| set.evaluate("GET", Some(Endpoint::Me)).intercept.is_some())
            .collect();
        assert_eq!(hits, [true, true, false, false]);
        assert!(set.list().is_empty());
    }

    #[test]
    fn route_filter_leaves_other_routes_alone() {
        let mut set = FaultSet::new(Some(1));
        set.add(FaultSpec::error(503).on("POST /tickets"))
            .expect("valid");
        assert!(set
            .evaluate("GET", Some(Endpoint::ListTickets))
            .intercept
            .is_none());
        assert!(set.evaluate("GET", None).intercept.is_none());
        assert!(set
            .evaluate("POST", Some(Endpoint::CreateTicket))
            .intercept
            .is_some());
    }

    #[test]
    fn latency_adds_up_and_the_oldest_replacing_rule_wins() {
        let mut set = FaultSet::new(Some(1));
        set.add(FaultSpec::latency(5)).expect("valid");
        set.add(FaultSpec::latency(7)).expect("valid");
        set.add(FaultSpec::error(502).times(1)).expect("valid");
        set.add(FaultSpec::drop_after_apply().times(1))
            .expect("valid");
        let v = set.evaluate("GET", Some(Endpoint::Me));
        assert_eq!(v.latency, Duration::from_millis(12));
        assert!(matches!(
            v.intercept,
            Some(Interception::Error { status: 502, .. })
        ));
        assert!(!v.drop_after_apply, "the drop rule is kept for later");
        let v = set.evaluate("GET", Some(Endpoint::Me));
        assert!(v.drop_after_apply);
    }

    #[test]
    fn a_share_strikes_roughly_that_share() {
        let mut set = FaultSet::new(Some(42));
        set.add(FaultSpec::error(500).share(0.25)).expect("valid");
        let hits = (0..4000)
            .filter(|_| set.evaluate("GET", None).intercept.is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits} of 4000");
    }

    #[test]
    fn incomplete_or_unknown_rules_are_refused() {
        let mut set = FaultSet::new(None);
        assert!(set.add(FaultSpec::new(FaultKind::Latency)).is_err());
        assert!(set.add(FaultSpec::new(FaultKind::RateLimitBurst)).is_err());
        assert!(set.add(FaultSpec::error(199)).is_err());
        assert!(set.add(FaultSpec::hang().on("GET /nowhere")).is_err());
        assert!(set.add(FaultSpec::hang().share(1.5)).is_err());
    }
}
