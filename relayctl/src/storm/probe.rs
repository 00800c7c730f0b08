//! The probes of a storm: new incidents of other customers sent alone while the storm is
//! worked off, and how long each took to become a ticket of its own (see the parent module).

use super::sim::{references, tickets_with};
use super::{round, secs_between, Args, Ingest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use shared::message::message_id;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The probe alerts (`probes` in the report): each must become exactly one ticket of its own.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    pub sent: usize,
    /// Probes in no ticket when the wait ended.
    pub missing: usize,
    /// Extra copies: comments carrying a probe beyond its first.
    pub duplicates: usize,
    /// Probes found, but not as the first comment of a ticket of their own (e.g. noted into
    /// another ticket).
    pub not_own_ticket: usize,
    /// The slowest and the median latency of the probes found (`latency_secs` below); `null`
    /// when none was found.
    pub worst_secs: Option<f64>,
    pub median_secs: Option<f64>,
    /// Every probe, in the order sent.
    pub each: Vec<ProbeResult>,
}

/// One probe alert and what became of it.
#[derive(Debug, Serialize)]
pub struct ProbeResult {
    pub org: String,
    pub severity: &'static str,
    /// When its 202 came back, in seconds from the storm's first request.
    pub accepted_secs: f64,
    /// From its 202 to the creation of its ticket (of the first comment carrying it); `null`
    /// when it never arrived.
    pub latency_secs: Option<f64>,
    /// Tickets carrying it (1 expected).
    pub tickets: usize,
    /// Whether it opened a ticket (its ticket's first comment carries it).
    pub own_ticket: bool,
}

/// A probe alert sent: what it was and when its 202 came back.
pub(super) struct Probe {
    /// Its number, in the order sent.
    pub(super) n: usize,
    /// Its message id: the `relay-ref` its ticket carries.
    pub(super) id: String,
    pub(super) org: String,
    pub(super) severity: &'static str,
    pub(super) accepted: DateTime<Utc>,
    pub(super) accepted_secs: f64,
}

/// Probe `k`: a new incident of one of the `--probe-orgs` with a subject of its own.
/// Severities alternate; organizations change every two probes, so each gets both severities.
pub(super) fn probe_alert(args: &Args, tag: &str, k: usize) -> (Value, String, &'static str) {
    let severity = if k.is_multiple_of(2) {
        "critical"
    } else {
        "high"
    };
    let orgs = args.probe_orgs.len().max(1);
    let org = args
        .probe_orgs
        .get((k / 2) % orgs)
        .cloned()
        .unwrap_or_default();
    let alert = json!({
        "id": format!("{tag}-probe-{k}"),
        "event_type": "edr.credential_dumping",
        "severity": severity,
        "organization": {"id": org, "name": format!("Probe organization {org}")},
        "title": format!("New incident {k} during {tag}: credential dumping"),
        "description": "LSASS memory was read by an unsigned process.",
        "occurred_at": Utc::now().to_rfc3339(),
        "device": {"name": format!("PROBE-{k:03}")},
        "details": {"probe": k, "storm": tag}
    });
    (alert, org, severity)
}

/// Sends the `--probes` probe alerts, one every `--probe-every-secs` from `started`, then with
/// `--wait-sim` waits until each is in a ticket (or `deadline`). Returns the probes sent.
pub(super) async fn probe(
    args: &Args,
    ingest: &Ingest<'_>,
    tag: &str,
    started: Instant,
    deadline: Instant,
) -> anyhow::Result<Vec<Probe>> {
    let every = Duration::from_secs(args.probe_every_secs);
    let mut probes = Vec::with_capacity(args.probes);
    for k in 0..args.probes {
        tokio::time::sleep_until((started + every * (k as u32 + 1)).into()).await;
        let (alert, org, severity) = probe_alert(args, tag, k);
        let accepted = ingest.post(&alert).await?;
        let accepted_secs = started.elapsed().as_secs_f64();
        eprintln!("probe {k} ({org}, {severity}) accepted after {accepted_secs:.1} s");
        probes.push(Probe {
            n: k,
            id: message_id(&args.source, &format!("{tag}-probe-{k}")),
            org,
            severity,
            accepted,
            accepted_secs,
        });
    }
    let Some(sim) = &args.wait_sim else {
        return Ok(probes);
    };
    // Only the probes not yet seen are asked for, once a second: each question is cheap (one
    // ticket back), unlike the whole state the storm's wait reads.
    let mut pending: Vec<&Probe> = probes.iter().collect();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for p in pending {
            let tickets = tickets_with(ingest.http, sim, &p.id).await?;
            let one: HashSet<String> = HashSet::from([p.id.clone()]);
            if references(&tickets, &one).refs.is_empty() {
                still.push(p);
            } else {
                eprintln!(
                    "probe {} in Syncro after {:.1} s",
                    p.n,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(probes)
}

/// Looks at every probe once more (after the storm settled, so a late duplicate shows) and
/// sums them up.
pub(super) async fn probe_report(
    http: &reqwest::Client,
    sim: &str,
    probes: Vec<Probe>,
) -> anyhow::Result<ProbeReport> {
    let mut each = Vec::with_capacity(probes.len());
    let (mut missing, mut duplicates, mut not_own_ticket) = (0, 0, 0);
    for p in probes {
        let tickets = tickets_with(http, sim, &p.id).await?;
        let seen = references(&tickets, &HashSet::from([p.id.clone()]));
        let copies = seen.refs.get(&p.id).copied().unwrap_or(0);
        let own_ticket = seen.opened.contains(&p.id);
        match copies {
            0 => missing += 1,
            n => {
                duplicates += n - 1;
                if !own_ticket {
                    not_own_ticket += 1;
                }
            }
        }
        each.push(ProbeResult {
            latency_secs: seen
                .arrived
                .get(&p.id)
                // A ticket made before the 202 reached us is a latency of 0, not less.
                .map(|at| round(secs_between(p.accepted, *at).max(0.0))),
            org: p.org,
            severity: p.severity,
            accepted_secs: round(p.accepted_secs),
            tickets: seen.tickets,
            own_ticket,
        });
    }
    let mut latencies: Vec<f64> = each.iter().filter_map(|p| p.latency_secs).collect();
    latencies.sort_by(f64::total_cmp);
    Ok(ProbeReport {
        sent: each.len(),
        missing,
        duplicates,
        not_own_ticket,
        worst_secs: latencies.last().copied(),
        median_secs: median(&latencies),
        each,
    })
}

/// The median of sorted values (the mean of the middle two for an even count).
pub(super) fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(round((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)),
    }
}
