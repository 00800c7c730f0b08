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
//! ([`Sent`], [`Report`]). Exits 1 when an alert is missing or duplicated.

use crate::send::{secret_from_env, sign_standard_webhooks, whsec_key};
use anyhow::bail;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use shared::message::message_id;
use std::collections::{HashMap, HashSet};
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
}

/// What is printed without `--wait-sim`. Field order is output order: keep it (scripts
/// compare and parse the line).
#[derive(Debug, Serialize)]
pub struct Sent {
    pub send_secs: f64,
    pub sent: usize,
}

/// What is printed with `--wait-sim`. Field order is output order, alphabetical as the
/// report has always been printed: keep it (tests/bench/processor.sh, deploy/up.sh).
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
    let secret = secret_from_env(&args.secret_env)?;
    let key = whsec_key(&args.secret_env, &secret)?;
    let tag = args
        .tag
        .clone()
        .unwrap_or_else(|| format!("storm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let http = reqwest::Client::new();
    // Counted before sending, so that calls made for earlier work are not charged to the storm.
    let before = match &args.wait_sim {
        Some(sim) => Some(counters(&http, sim).await?),
        None => None,
    };

    let started = Instant::now();
    let sent = send_all(args, &http, &key, &tag).await?;
    let send_secs = started.elapsed().as_secs_f64();
    eprintln!("sent {sent} alerts in {send_secs:.1} s");

    let (Some(sim), Some(before)) = (&args.wait_sim, before) else {
        print_json(&Sent { send_secs, sent });
        return Ok(());
    };
    let wanted: HashSet<String> = (0..args.alerts)
        .map(|i| message_id(&args.source, &format!("{tag}-{i}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let seen = loop {
        let state = state(&http, sim).await?;
        let seen = references(&state, &wanted);
        let done = wanted
            .iter()
            .filter(|id| seen.refs.contains_key(*id))
            .count();
        if done == wanted.len() || Instant::now() > deadline {
            break seen;
        }
        eprintln!(
            "{done}/{} alerts in Syncro after {:.0} s",
            wanted.len(),
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let settled_secs = started.elapsed().as_secs_f64();
    let after = counters(&http, sim).await?;
    let calls = after.total.saturating_sub(before.total);
    let missing = wanted
        .iter()
        .filter(|id| !seen.refs.contains_key(*id))
        .count();
    let duplicates: usize = seen.refs.values().map(|n| n.saturating_sub(1)).sum();
    print_json(&Report {
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
    });
    if missing > 0 || duplicates > 0 {
        bail!("{missing} alerts missing, {duplicates} duplicated");
    }
    Ok(())
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
/// must be accepted (202). Returns how many alerts went.
async fn send_all(
    args: &Args,
    http: &reqwest::Client,
    key: &[u8],
    tag: &str,
) -> anyhow::Result<usize> {
    let url = format!(
        "{}/v1/webhooks/{}",
        args.url.trim_end_matches('/'),
        args.source
    );
    let alerts = alerts(args, tag);
    let requests = alerts.chunks(args.batch.max(1)).map(|chunk| {
        let url = &url;
        async move {
            let body = serde_json::to_vec(chunk)?;
            let request = http.post(url).header("content-type", "application/json");
            let response = sign_standard_webhooks(request, key, &body)
                .body(body)
                .send()
                .await?;
            if response.status().as_u16() != 202 {
                bail!(
                    "ingest answered {}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                );
            }
            Ok::<usize, anyhow::Error>(chunk.len())
        }
    });
    let mut in_flight =
        futures_util::stream::iter(requests).buffer_unordered(args.concurrency.max(1));
    let mut sent = 0;
    while let Some(result) = in_flight.next().await {
        sent += result?;
    }
    Ok(sent)
}

fn print_json(value: &impl Serialize) {
    // Plain structs of numbers: serializing them cannot fail.
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The simulator's request counters.
struct Counted {
    total: u64,
    /// Answers 429, from the rate limit or the burst limit.
    throttled: u64,
}

async fn counters(http: &reqwest::Client, sim: &str) -> anyhow::Result<Counted> {
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

async fn state(http: &reqwest::Client, sim: &str) -> anyhow::Result<Value> {
    Ok(http
        .get(format!("{}/_admin/state", sim.trim_end_matches('/')))
        .send()
        .await?
        .json()
        .await?)
}

/// The storm's alerts found in the simulator's tickets.
struct Seen {
    /// Reference → how many comments carry it.
    refs: HashMap<String, usize>,
    /// Tickets holding at least one of the storm's alerts.
    tickets: usize,
    /// Their comments.
    comments: usize,
}

fn references(state: &Value, wanted: &HashSet<String>) -> Seen {
    let mut seen = Seen {
        refs: HashMap::new(),
        tickets: 0,
        comments: 0,
    };
    for ticket in state["data"]["tickets"].as_array().into_iter().flatten() {
        let mut ours = false;
        let comments = ticket["comments"].as_array().map_or(0, Vec::len);
        for comment in ticket["comments"].as_array().into_iter().flatten() {
            let body = comment["body"].as_str().unwrap_or_default();
            for r in processor::plan::references_in(body) {
                if wanted.contains(r) {
                    ours = true;
                    *seen.refs.entry(r.to_string()).or_insert(0) += 1;
                }
            }
        }
        if ours {
            seen.tickets += 1;
            seen.comments += comments;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_prints_its_keys_in_the_order_the_scripts_have_always_seen() {
        let report = Report {
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
        };
        assert_eq!(
            serde_json::to_string(&report).ok().as_deref(),
            Some(
                r#"{"alerts_per_sec":12.5,"calls_per_alert":0.0404,"comments":100,"duplicates":0,"missing":0,"send_secs":0.3,"sent":100,"settled_secs":8.0,"syncro_429":0,"syncro_calls":4,"tickets":1}"#
            )
        );
        let sent = Sent {
            send_secs: 1.25,
            sent: 3,
        };
        assert_eq!(
            serde_json::to_string(&sent).ok().as_deref(),
            Some(r#"{"send_secs":1.25,"sent":3}"#)
        );
    }

    #[test]
    fn a_storm_alert_counts_once_per_comment_that_references_it() {
        let wanted: HashSet<String> = ["ar1-a", "ar1-b"].iter().map(|s| s.to_string()).collect();
        let state = json!({"data": {"tickets": [
            {"comments": [{"body": "opened\nrelay-ref: ar1-a"}, {"body": "relay-ref: ar1-a"}]},
            {"comments": [{"body": "someone else's\nrelay-ref: ar1-z"}]},
        ]}});
        let seen = references(&state, &wanted);
        assert_eq!(seen.refs.get("ar1-a"), Some(&2));
        assert_eq!(seen.refs.get("ar1-b"), None);
        assert_eq!((seen.tickets, seen.comments), (1, 2));
    }
}
