//! `relay-storm`: sends a storm of signed alerts to ingest and, with `--wait-sim`, waits until
//! the Syncro simulator holds every one of them, then reports what it cost: tickets, notes,
//! Syncro calls per alert, 429s, duplicates and losses. For the demo and the benchmarks.
//!
//! ```text
//! RELAY_DEMO_SECRET=whsec_... relay-storm --source demo --secret-env RELAY_DEMO_SECRET \
//!     --alerts 10000 --subjects 100 --wait-sim http://127.0.0.1:8900
//! ```

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};
use shared::message::message_id;
use shared::signing::{decode_whsec, standard_webhooks_signature};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Send a storm of signed alerts to ingest and measure what it became in Syncro")]
struct Cli {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "demo")]
    source: String,
    /// Environment variable holding the source's whsec_ secret.
    #[arg(long)]
    secret_env: String,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = std::env::var(&cli.secret_env)
        .with_context(|| format!("environment variable {} is not set", cli.secret_env))?;
    let Some(key) = decode_whsec(&secret) else {
        bail!("{} does not hold a whsec_ secret", cli.secret_env)
    };
    let tag = cli
        .tag
        .clone()
        .unwrap_or_else(|| format!("storm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let http = reqwest::Client::new();
    let before = match &cli.wait_sim {
        Some(sim) => Some(counters(&http, sim).await?),
        None => None,
    };

    let started = Instant::now();
    let alerts: Vec<Value> = (0..cli.alerts)
        .map(|i| {
            json!({
                "id": format!("{tag}-{i}"),
                "event_type": "edr.ransomware_behaviour",
                "severity": "high",
                "organization": {"id": cli.org, "name": "Storm Organization"},
                "title": format!("Mass file renames on host group {}", i % cli.subjects.max(1)),
                "description": "The EDR agent saw files renamed with a .locked extension.",
                "occurred_at": chrono::Utc::now().to_rfc3339(),
                "device": {"name": format!("WS-{:04}", i % 500)},
                "details": {"storm": tag, "n": i}
            })
        })
        .collect();
    let url = format!(
        "{}/v1/webhooks/{}",
        cli.url.trim_end_matches('/'),
        cli.source
    );
    let chunks: Vec<Vec<Value>> = alerts
        .chunks(cli.batch.max(1))
        .map(<[Value]>::to_vec)
        .collect();
    let mut pending = futures_util::stream::iter(chunks.into_iter().map(|chunk| {
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        async move {
            let body = serde_json::to_vec(&chunk)?;
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let now = chrono::Utc::now().timestamp();
            let response = http
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", now.to_string())
                .header(
                    "webhook-signature",
                    standard_webhooks_signature(&key, &id, now, &body),
                )
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
    }));
    let mut sent = 0;
    {
        use futures_util::StreamExt;
        let mut buffered = (&mut pending).buffer_unordered(cli.concurrency.max(1));
        while let Some(result) = buffered.next().await {
            sent += result?;
        }
    }
    let send_secs = started.elapsed().as_secs_f64();
    eprintln!("sent {sent} alerts in {send_secs:.1} s");

    let (Some(sim), Some(before)) = (&cli.wait_sim, before) else {
        println!("{}", json!({"sent": sent, "send_secs": send_secs}));
        return Ok(());
    };
    let wanted: HashSet<String> = (0..cli.alerts)
        .map(|i| message_id(&cli.source, &format!("{tag}-{i}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(cli.timeout);
    let report = loop {
        let state = state(&http, sim).await?;
        let seen = references(&state, &wanted);
        let complete = wanted.iter().all(|id| seen.refs.contains_key(id));
        if complete || Instant::now() > deadline {
            break seen;
        }
        let done = wanted
            .iter()
            .filter(|id| seen.refs.contains_key(*id))
            .count();
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
    let throttled = after.throttled.saturating_sub(before.throttled);
    let missing = wanted
        .iter()
        .filter(|id| !report.refs.contains_key(*id))
        .count();
    let duplicates: usize = report.refs.values().map(|n| n.saturating_sub(1)).sum();
    let result = json!({
        "sent": sent,
        "send_secs": round(send_secs),
        "settled_secs": round(settled_secs),
        "alerts_per_sec": round(sent as f64 / settled_secs),
        "tickets": report.tickets,
        "comments": report.comments,
        "syncro_calls": calls,
        "calls_per_alert": (calls as f64 / sent.max(1) as f64 * 10000.0).round() / 10000.0,
        "syncro_429": throttled,
        "missing": missing,
        "duplicates": duplicates,
    });
    println!("{result}");
    if missing > 0 || duplicates > 0 {
        bail!("{missing} alerts missing, {duplicates} duplicated");
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

struct Counted {
    total: u64,
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
            for r in processor::rules::references_in(body) {
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
