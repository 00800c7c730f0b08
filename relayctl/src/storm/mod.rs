//! `relayctl storm`: sends a storm of signed alerts to ingest and, with `--wait-sim`, waits
//! until the Syncro simulator holds every one of them, then reports what it cost: tickets,
//! notes, Syncro calls per alert, 429s, duplicates and losses. For the demo and the benchmarks.
//!
//! ```text
//! RELAY_DEMO_SECRET=whsec_... relayctl storm --source demo --secret-env RELAY_DEMO_SECRET \
//!     --alerts 10000 --subjects 100 --wait-sim http://127.0.0.1:8900
//! ```
//!
//! Prints one JSON object on stdout (progress goes to stderr); `deploy/up.sh` and
//! `tests/bench/processor.sh` parse it, so its keys and their order are kept as they are
//! ([`Sent`], [`Report`]); new keys go at the end. Exits 1 when an alert is missing or
//! duplicated.
//!
//! **Probes** (`--probes N --probe-orgs A,B --probe-every-secs S`): is a new incident of
//! another customer stuck behind one customer's storm? Every S seconds from the storm's first
//! request, while the storm is sent and worked off, one new-incident alert of another
//! organization goes out alone (its own fresh subject, so it needs a ticket of its own);
//! severities alternate critical and high, organizations change every two probes, so each
//! organization gets both. The instant its 202 came back is recorded; with `--wait-sim` the
//! simulator is asked (`GET /_admin/tickets?comment_contains=<its relay-ref>`) until its ticket
//! exists, and its latency is the ticket's `created_at` (the simulator's clock, on the same
//! machine) minus that instant: exact, whatever the polling interval. Probes are not storm
//! alerts: `sent`, `tickets`, `comments`, `duplicates` and `missing` count the storm only, and
//! the probes are reported apart under `probes` ([`ProbeReport`]), each checked to be exactly
//! one ticket of its own. `syncro_calls` (and so `calls_per_alert`) is the simulator's count,
//! so it includes the probes' few calls.
//!
//! ```text
//! relayctl storm --secret-env RELAY_DEMO_SECRET --alerts 10000 --subjects 100 \
//!     --probe-orgs org-fabrikam,org-northwind --probes 10 --probe-every-secs 5 \
//!     --wait-sim http://127.0.0.1:8900
//! ```
//!
//! Here: the arguments, the storm's sending and settling, the report. `probe`: the probes'
//! alerts, sending and report. `sim`: what the simulator holds (counters, tickets, the
//! references in their comments), which both read.

mod probe;
mod sim;

pub use probe::{ProbeReport, ProbeResult};

use crate::send::{secret_from_env, sign_standard_webhooks, whsec_key};
use anyhow::{bail, ensure};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use probe::{probe, probe_report};
use serde::Serialize;
use serde_json::{json, Value};
use shared::message::message_id;
use sim::{counters, references, state, tickets_of, Seen};
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of ingest.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Source name: the {source} of /v1/webhooks/{source}.
    #[arg(long, default_value = "demo")]
    source: String,
    /// Environment variable holding the source's whsec_ secret.
    #[arg(long)]
    secret_env: String,
    /// Alerts to send.
    #[arg(long, default_value_t = 100)]
    alerts: usize,
    /// Distinct subjects (tickets) the alerts spread over.
    #[arg(long, default_value_t = 1)]
    subjects: usize,
    /// Organization id of the alerts.
    #[arg(long, default_value = "org-42")]
    org: String,
    /// Alerts per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Prefix of the alert ids (default: a fresh one per run).
    #[arg(long)]
    tag: Option<String>,
    /// The simulator's base URL: wait until it holds every alert, then report.
    #[arg(long)]
    wait_sim: Option<String>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Organizations of the probe alerts, comma-separated (e.g. org-fabrikam,org-northwind);
    /// each should be mapped to a customer of its own.
    #[arg(long, value_delimiter = ',')]
    probe_orgs: Vec<String>,
    /// Probe alerts to send: new incidents of the --probe-orgs, one every --probe-every-secs
    /// while the storm runs, each needing a ticket of its own; reported under `probes`.
    #[arg(long, default_value_t = 0)]
    probes: usize,
    /// Seconds between probes; the first goes this long after the storm's first request.
    #[arg(long, default_value_t = 5)]
    probe_every_secs: u64,
}

/// What is printed without `--wait-sim`. Field order is output order: keep it (scripts
/// compare and parse the line).
#[derive(Debug, Serialize)]
pub struct Sent {
    pub send_secs: f64,
    pub sent: usize,
    /// Probe alerts sent (202'd), when `--probes` asked for some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes_sent: Option<usize>,
}

/// What is printed with `--wait-sim`. Field order is output order, alphabetical as the
/// report has always been printed up to `tickets`: keep it (tests/bench/processor.sh,
/// deploy/up.sh); later keys are added after it.
///
/// `settled_secs` runs from just before the storm's first request to the poll that found every
/// alert in the simulator (polled every 2 s, so up to 2 s and one state read late);
/// `first_202_to_all_secs` is the exact figure from the first 202.
#[derive(Debug, Serialize)]
pub struct Report {
    pub alerts_per_sec: f64,
    pub calls_per_alert: f64,
    pub comments: usize,
    pub duplicates: usize,
    pub missing: usize,
    pub send_secs: f64,
    pub sent: usize,
    pub settled_secs: f64,
    pub syncro_429: u64,
    pub syncro_calls: u64,
    pub tickets: usize,
    /// From the storm's first 202 to the creation of the comment that brought its last alert
    /// into Syncro (the simulator's clock, on this machine); `null` while alerts are missing.
    pub first_202_to_all_secs: Option<f64>,
    /// The probes, when `--probes` asked for some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeReport>,
}

pub async fn run(args: Args) -> ExitCode {
    match storm(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relayctl storm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn storm(args: &Args) -> anyhow::Result<()> {
    ensure!(
        args.probes == 0 || !args.probe_orgs.is_empty(),
        "--probes needs --probe-orgs"
    );
    let secret = secret_from_env(&args.secret_env)?;
    let key = whsec_key(&args.secret_env, &secret)?;
    let tag = args
        .tag
        .clone()
        .unwrap_or_else(|| format!("storm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let http = reqwest::Client::new();
    let ingest = Ingest {
        http: &http,
        url: format!(
            "{}/v1/webhooks/{}",
            args.url.trim_end_matches('/'),
            args.source
        ),
        key: &key,
    };
    // Counted before sending, so that calls made for earlier work are not charged to the storm.
    let before = match &args.wait_sim {
        Some(sim) => Some(counters(&http, sim).await?),
        None => None,
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    // The storm and the probes run side by side: the probes are sent while the storm is. The
    // first failure of either ends both.
    let (storm, probes) = tokio::try_join!(
        send_and_settle(args, &ingest, &tag, started, deadline),
        probe(args, &ingest, &tag, started, deadline),
    )?;
    let send_secs = storm.send_secs;

    let (Some(sim), Some(before), Some(seen)) = (&args.wait_sim, before, storm.seen) else {
        print_json(&Sent {
            send_secs,
            sent: storm.sent,
            probes_sent: (args.probes > 0).then_some(probes.len()),
        });
        return Ok(());
    };
    let settled_secs = storm.settled_secs;
    let sent = storm.sent;
    let probes = match args.probes {
        0 => None,
        _ => Some(probe_report(&http, sim, probes).await?),
    };
    let after = counters(&http, sim).await?;
    let calls = after.total.saturating_sub(before.total);
    let missing = storm
        .wanted
        .iter()
        .filter(|id| !seen.refs.contains_key(*id))
        .count();
    let duplicates: usize = seen.refs.values().map(|n| n.saturating_sub(1)).sum();
    let last_in = seen.arrived.values().max().filter(|_| missing == 0);
    let report = Report {
        alerts_per_sec: round(sent as f64 / settled_secs),
        calls_per_alert: (calls as f64 / sent.max(1) as f64 * 10000.0).round() / 10000.0,
        comments: seen.comments,
        duplicates,
        missing,
        send_secs: round(send_secs),
        sent,
        settled_secs: round(settled_secs),
        syncro_429: after.throttled.saturating_sub(before.throttled),
        syncro_calls: calls,
        tickets: seen.tickets,
        first_202_to_all_secs: match (storm.first_202, last_in) {
            (Some(first), Some(last)) => Some(round(secs_between(first, *last))),
            _ => None,
        },
        probes,
    };
    print_json(&report);
    if missing > 0 || duplicates > 0 {
        bail!("{missing} alerts missing, {duplicates} duplicated");
    }
    if let Some(p) = &report.probes {
        if p.missing > 0 || p.duplicates > 0 || p.not_own_ticket > 0 {
            bail!(
                "probes: {} missing, {} duplicated, {} not a ticket of their own",
                p.missing,
                p.duplicates,
                p.not_own_ticket
            );
        }
    }
    Ok(())
}

/// Ingest's webhook for the source, and how to sign for it.
struct Ingest<'a> {
    http: &'a reqwest::Client,
    url: String,
    key: &'a [u8],
}

impl Ingest<'_> {
    /// Signs and posts `body` (one alert or a batch); it must be accepted (202). Returns when
    /// the 202 came back.
    async fn post(&self, body: &impl Serialize) -> anyhow::Result<DateTime<Utc>> {
        let body = serde_json::to_vec(body)?;
        let request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json");
        let response = sign_standard_webhooks(request, self.key, &body)
            .body(body)
            .send()
            .await?;
        let accepted = Utc::now();
        if response.status().as_u16() != 202 {
            bail!(
                "ingest answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(accepted)
    }
}

/// What became of the storm itself.
struct Storm {
    sent: usize,
    send_secs: f64,
    /// The earliest 202.
    first_202: Option<DateTime<Utc>>,
    /// The storm's message ids.
    wanted: HashSet<String>,
    /// The last look at the simulator (with `--wait-sim`).
    seen: Option<Seen>,
    settled_secs: f64,
}

/// Sends the storm, then with `--wait-sim` waits until the simulator holds every alert of it
/// (or `deadline`).
async fn send_and_settle(
    args: &Args,
    ingest: &Ingest<'_>,
    tag: &str,
    started: Instant,
    deadline: Instant,
) -> anyhow::Result<Storm> {
    let (sent, first_202) = send_all(args, ingest, tag).await?;
    let send_secs = started.elapsed().as_secs_f64();
    eprintln!("sent {sent} alerts in {send_secs:.1} s");
    let wanted: HashSet<String> = (0..args.alerts)
        .map(|i| message_id(&args.source, &format!("{tag}-{i}")))
        .collect();
    let mut storm = Storm {
        sent,
        send_secs,
        first_202,
        wanted,
        seen: None,
        settled_secs: send_secs,
    };
    let Some(sim) = &args.wait_sim else {
        return Ok(storm);
    };
    let seen = loop {
        let state = state(ingest.http, sim).await?;
        let seen = references(tickets_of(&state["data"]), &storm.wanted);
        let done = storm
            .wanted
            .iter()
            .filter(|id| seen.refs.contains_key(*id))
            .count();
        if done == storm.wanted.len() || Instant::now() > deadline {
            break seen;
        }
        eprintln!(
            "{done}/{} alerts in Syncro after {:.0} s",
            storm.wanted.len(),
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    storm.settled_secs = started.elapsed().as_secs_f64();
    storm.seen = Some(seen);
    Ok(storm)
}

/// The storm's alerts: `alerts` of them over `subjects` titles (the titles group them into
/// tickets), ids `{tag}-{n}`.
fn alerts(args: &Args, tag: &str) -> Vec<Value> {
    (0..args.alerts)
        .map(|i| {
            json!({
                "id": format!("{tag}-{i}"),
                "event_type": "edr.ransomware_behaviour",
                "severity": "high",
                "organization": {"id": args.org, "name": "Storm Organization"},
                "title": format!("Mass file renames on host group {}", i % args.subjects.max(1)),
                "description": "The EDR agent saw files renamed with a .locked extension.",
                "occurred_at": chrono::Utc::now().to_rfc3339(),
                "device": {"name": format!("WS-{:04}", i % 500)},
                "details": {"storm": tag, "n": i}
            })
        })
        .collect()
}

/// Posts the alerts in batches of `--batch`, `--concurrency` requests at a time; every batch
/// must be accepted (202). Returns how many alerts went, and when the first 202 came back.
async fn send_all(
    args: &Args,
    ingest: &Ingest<'_>,
    tag: &str,
) -> anyhow::Result<(usize, Option<DateTime<Utc>>)> {
    let alerts = alerts(args, tag);
    let requests = alerts.chunks(args.batch.max(1)).map(|chunk| async move {
        let accepted = ingest.post(&chunk).await?;
        Ok::<_, anyhow::Error>((chunk.len(), accepted))
    });
    let mut in_flight =
        futures_util::stream::iter(requests).buffer_unordered(args.concurrency.max(1));
    let mut sent = 0;
    let mut first: Option<DateTime<Utc>> = None;
    while let Some(result) = in_flight.next().await {
        let (n, accepted) = result?;
        sent += n;
        first = Some(first.map_or(accepted, |f| f.min(accepted)));
    }
    Ok((sent, first))
}

/// Seconds from `from` to `to` (negative when `to` is earlier).
fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn print_json(value: &impl Serialize) {
    // Plain structs of numbers: serializing them cannot fail.
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::probe::{median, probe_alert};
    use super::*;

    fn report(probes: Option<ProbeReport>) -> Report {
        Report {
            alerts_per_sec: 12.5,
            calls_per_alert: 0.0404,
            comments: 100,
            duplicates: 0,
            missing: 0,
            send_secs: 0.3,
            sent: 100,
            settled_secs: 8.0,
            syncro_429: 0,
            syncro_calls: 4,
            tickets: 1,
            first_202_to_all_secs: Some(7.2),
            probes,
        }
    }

    #[test]
    fn the_report_prints_its_keys_in_the_order_the_scripts_have_always_seen() {
        assert_eq!(
            serde_json::to_string(&report(None)).ok().as_deref(),
            Some(
                r#"{"alerts_per_sec":12.5,"calls_per_alert":0.0404,"comments":100,"duplicates":0,"missing":0,"send_secs":0.3,"sent":100,"settled_secs":8.0,"syncro_429":0,"syncro_calls":4,"tickets":1,"first_202_to_all_secs":7.2}"#
            )
        );
        let sent = Sent {
            send_secs: 1.25,
            sent: 3,
            probes_sent: None,
        };
        assert_eq!(
            serde_json::to_string(&sent).ok().as_deref(),
            Some(r#"{"send_secs":1.25,"sent":3}"#)
        );
    }

    #[test]
    fn probes_are_reported_after_the_storms_keys_in_an_object_of_their_own() {
        let probes = ProbeReport {
            sent: 1,
            missing: 0,
            duplicates: 0,
            not_own_ticket: 0,
            worst_secs: Some(2.5),
            median_secs: Some(2.5),
            each: vec![ProbeResult {
                org: "org-fabrikam".into(),
                severity: "critical",
                accepted_secs: 5.0,
                latency_secs: Some(2.5),
                tickets: 1,
                own_ticket: true,
            }],
        };
        let text = serde_json::to_string(&report(Some(probes))).unwrap_or_default();
        assert!(
            text.ends_with(r#""tickets":1,"first_202_to_all_secs":7.2,"probes":{"sent":1,"missing":0,"duplicates":0,"not_own_ticket":0,"worst_secs":2.5,"median_secs":2.5,"each":[{"org":"org-fabrikam","severity":"critical","accepted_secs":5.0,"latency_secs":2.5,"tickets":1,"own_ticket":true}]}}"#),
            "{text}"
        );
    }

    #[test]
    fn a_storm_alert_counts_once_per_comment_that_references_it() {
        let wanted: HashSet<String> = ["ar1-a", "ar1-b"].iter().map(|s| s.to_string()).collect();
        let state = json!({"data": {"tickets": [
            {"comments": [{"body": "opened\nrelay-ref: ar1-a"}, {"body": "relay-ref: ar1-a"}]},
            {"comments": [{"body": "someone else's\nrelay-ref: ar1-z"}]},
        ]}});
        let seen = references(tickets_of(&state["data"]), &wanted);
        assert_eq!(seen.refs.get("ar1-a"), Some(&2));
        assert_eq!(seen.refs.get("ar1-b"), None);
        assert_eq!((seen.tickets, seen.comments), (1, 2));
    }

    #[test]
    fn an_alert_arrives_with_its_first_comment_and_opens_the_ticket_that_comment_starts() {
        let wanted: HashSet<String> = ["ar1-p", "ar1-n"].iter().map(|s| s.to_string()).collect();
        let tickets = [
            json!({"comments": [
                {"body": "relay-ref: ar1-p", "created_at": "2026-12-01T10:00:03.500Z"},
                {"body": "relay-ref: ar1-n", "created_at": "2026-12-01T10:00:09Z"},
            ]}),
            json!({"comments": [
                {"body": "relay-ref: ar1-p", "created_at": "2026-12-01T10:00:01Z"},
            ]}),
        ];
        let seen = references(&tickets, &wanted);
        let at = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        assert_eq!(
            seen.arrived.get("ar1-p").copied(),
            at("2026-12-01T10:00:01Z")
        );
        assert_eq!(
            seen.arrived.get("ar1-n").copied(),
            at("2026-12-01T10:00:09Z")
        );
        assert!(seen.opened.contains("ar1-p"));
        assert!(!seen.opened.contains("ar1-n"));
        assert_eq!(seen.tickets, 2);
    }

    #[test]
    fn probes_alternate_severities_and_give_each_organization_both() {
        let args = Args {
            url: String::new(),
            source: "demo".into(),
            secret_env: String::new(),
            alerts: 0,
            subjects: 1,
            org: "org-42".into(),
            batch: 100,
            concurrency: 4,
            tag: None,
            wait_sim: None,
            timeout: 1,
            probe_orgs: vec!["org-fabrikam".into(), "org-northwind".into()],
            probes: 4,
            probe_every_secs: 5,
        };
        let probes: Vec<(String, &str)> = (0..4)
            .map(|k| {
                let (_, org, severity) = probe_alert(&args, "t", k);
                (org, severity)
            })
            .collect();
        assert_eq!(
            probes,
            [
                ("org-fabrikam".to_string(), "critical"),
                ("org-fabrikam".to_string(), "high"),
                ("org-northwind".to_string(), "critical"),
                ("org-northwind".to_string(), "high"),
            ]
        );
        let (a, _, _) = probe_alert(&args, "t", 0);
        let (b, _, _) = probe_alert(&args, "t", 1);
        assert_ne!(
            a["title"], b["title"],
            "each probe has a subject of its own"
        );
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 9.0]), Some(2.5));
    }
}
