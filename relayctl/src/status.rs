//! `relayctl status [--json]`: the fleet on one page, from the operator API: the pause
//! switch, silences, PostgreSQL, each worker (what it holds, its Syncro calls, its Redis and
//! broker), the fleet's Syncro calls against the budget, queue depths and overdue sources.
//!
//! Several deployments (one per Syncro account, see docs/operations.md "Several Syncro
//! accounts") are shown one after the other with `--also URL` (repeatable), each headed by
//! its prefix and Syncro host; the exit status then covers them all.
//!
//! Exits 0 when every part is up, 1 when some part is down (PostgreSQL, a worker's Redis or
//! broker, no worker alive, or any other part the API reports `"down"`), so scripts can use
//! it. A paused fleet or an overdue source is shown but is not "down": the first is an
//! operator's choice, the second a sender's problem, already ticketed by the relay.

use crate::api::{self, Api, ApiArgs, ApiError};
use crate::dlq::report::print_json;
use crate::pause::describe as pause_text;
use crate::text::{span, table, utc};
use chrono::{DateTime, Duration, Utc};
use opstate::store::fleet::PauseState;
use opstate::store::workers::{Ingest, Worker};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::process::ExitCode;

/// Syncro's limit per IP, and the workers' default `syncro.requests_per_minute`.
const DEFAULT_BUDGET: u64 = 180;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The fleet's Syncro budget per minute (the workers' syncro.requests_per_minute).
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    pub budget: u64,
    /// Print the API's JSON (the exit status is the same); with --also, an array of
    /// `{"api": URL, "status": ...}`.
    #[arg(long)]
    pub json: bool,
    /// The operator API of another deployment (another Syncro account) to show after the
    /// first; repeatable. The same RELAY_OPERATOR_TOKEN is sent to each.
    #[arg(long = "also", value_name = "URL")]
    pub also: Vec<String>,
}

/// The API's status; parts it does not report (yet) are absent, parts whose store is down
/// are null.
#[derive(Debug, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub paused: Option<PauseState>,
    #[serde(default)]
    pub silences: Option<SilenceCounts>,
    #[serde(default)]
    pub postgres: Option<String>,
    /// The overdue sources.
    #[serde(default)]
    pub sources: Option<Vec<SourceRow>>,
    #[serde(default)]
    pub workers: Option<Vec<Worker>>,
    /// Ingest instances reporting (absent from an older API).
    #[serde(default)]
    pub ingest: Option<Vec<Ingest>>,
    #[serde(default)]
    pub queues: Option<Value>,
    /// Which deployment answered: its prefix and Syncro host.
    #[serde(default)]
    pub deployment: Option<Deployment>,
    /// Parts this client does not know, looked at for a `"down"`.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The deployment an operator API serves (one Syncro account).
#[derive(Debug, Deserialize)]
pub struct Deployment {
    pub prefix: String,
    #[serde(default)]
    pub syncro_host: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SilenceCounts {
    pub active: u64,
    pub pending: u64,
}

/// An overdue source, as much of it as the status shows.
#[derive(Debug, Deserialize)]
pub struct SourceRow {
    pub source: String,
    #[serde(default)]
    pub quiet_for_secs: Option<i64>,
    #[serde(default)]
    pub expected_interval_secs: Option<i64>,
    #[serde(default)]
    pub outage_state: Option<String>,
}

pub async fn run(args: Args) -> ExitCode {
    api::finish("status", status(&args).await)
}

async fn status(args: &Args) -> Result<ExitCode, ApiError> {
    let mut apis = vec![args.api.clone()];
    apis.extend(args.also.iter().map(|url| ApiArgs { url: url.clone() }));
    let several = apis.len() > 1;
    let mut all_up = true;
    let mut answers = Vec::new();
    for (i, api_args) in apis.iter().enumerate() {
        let api = Api::new(api_args);
        let value: Value = api.get("/v1/status", &[]).await?;
        let status: Status =
            serde_json::from_value(value.clone()).map_err(|e| ApiError::Unreadable {
                url: api.shown_url(),
                status: 200,
                why: format!("not a status: {e}"),
            })?;
        all_up &= down(&status).is_empty();
        if args.json {
            answers.push(serde_json::json!({"api": api.shown_url(), "status": value}));
            continue;
        }
        if several {
            if i > 0 {
                println!();
            }
            println!("{}", heading(&status, &api.shown_url()));
        }
        print!("{}", render(&status, args.budget, Utc::now()));
    }
    if args.json {
        match answers.pop() {
            Some(only) if !several => print_json(&only["status"]),
            Some(last) => {
                answers.push(last);
                print_json(&Value::Array(answers));
            }
            None => {}
        }
    }
    Ok(if all_up {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `== acct-contoso (contoso.syncromsp.com) at http://127.0.0.1:8081 ==`: which deployment
/// the block below is.
pub fn heading(status: &Status, url: &str) -> String {
    match &status.deployment {
        Some(d) => match &d.syncro_host {
            Some(host) => format!("== {} ({host}) at {url} ==", d.prefix),
            None => format!("== {} at {url} ==", d.prefix),
        },
        None => format!("== {url} =="),
    }
}

/// The parts that are down, named for people.
pub fn down(status: &Status) -> Vec<String> {
    let mut parts = Vec::new();
    if status.postgres.as_deref().is_some_and(|p| p != "up") {
        parts.push("postgres".to_string());
    }
    for (name, value) in &status.other {
        if value.as_str() == Some("down") {
            parts.push(name.clone());
        }
    }
    if let Some(ingest) = &status.ingest {
        if ingest.is_empty() {
            parts.push("ingest (none alive)".into());
        }
        for i in ingest.iter().filter(|i| !i.report.broker_up) {
            parts.push(format!("rabbitmq (ingest {})", i.host));
        }
    }
    if let Some(workers) = &status.workers {
        if workers.is_empty() {
            parts.push("workers (none alive)".into());
        }
        for w in workers {
            if !w.report.redis_up {
                parts.push(format!("redis (worker {})", who(w)));
            }
            if !w.report.broker_up {
                parts.push(format!("rabbitmq (worker {})", who(w)));
            }
        }
    }
    parts
}

/// A worker's host, or its instance when the host is unknown.
fn who(worker: &Worker) -> &str {
    if worker.host.is_empty() {
        &worker.instance
    } else {
        &worker.host
    }
}

fn up(ok: bool) -> String {
    if ok { "up" } else { "DOWN" }.into()
}

/// The page `status` prints.
pub fn render(status: &Status, budget: u64, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let unknown = "unknown (PostgreSQL is down)";
    let fleet = match &status.paused {
        Some(p) if p.paused => format!("PAUSED: {} (alerts wait in RabbitMQ)", pause_text(p)),
        Some(p) => pause_text(p),
        None => unknown.into(),
    };
    if let Some(d) = &status.deployment {
        let host = d
            .syncro_host
            .as_deref()
            .unwrap_or("Syncro host not reported");
        let _ = writeln!(out, "account   {} ({host})", d.prefix);
    }
    let _ = writeln!(out, "fleet     {fleet}");
    let silences = status.silences.as_ref().map_or_else(
        || unknown.into(),
        |s| format!("{} active, {} pending", s.active, s.pending),
    );
    let _ = writeln!(out, "silences  {silences}");
    let postgres = match status.postgres.as_deref() {
        Some("up") => "up".to_string(),
        Some(other) => other.to_uppercase(),
        None => "not reported".into(),
    };
    let _ = writeln!(out, "postgres  {postgres}");
    if let Some(ingest) = &status.ingest {
        let accepted: u64 = ingest.iter().map(|i| i.report.accepted).sum();
        let _ = writeln!(
            out,
            "ingest    {} alive, {accepted} alerts accepted since they started",
            ingest.len()
        );
    }
    match &status.workers {
        None => {
            let _ = writeln!(out, "workers   not reported by this operator API");
        }
        Some(workers) => {
            let _ = writeln!(out, "workers   {} alive", workers.len());
            if !workers.is_empty() {
                out.push_str(&workers_table(workers, now));
            }
            let calls: u64 = workers
                .iter()
                .map(|w| w.report.syncro_requests_last_minute)
                .sum();
            let share = calls * 100 / budget.max(1);
            let _ = writeln!(
                out,
                "syncro    {calls} calls in the last minute, of a budget of {budget}/min ({share}%)"
            );
        }
    }
    if let Some(queues) = &status.queues {
        let _ = writeln!(out, "queues    {}", queues_text(queues));
    }
    match &status.sources {
        None if status.postgres.as_deref() == Some("up") => {}
        None => {
            let _ = writeln!(out, "sources   {unknown}");
        }
        Some(sources) if sources.is_empty() => {
            let _ = writeln!(out, "sources   none overdue");
        }
        Some(sources) => {
            let _ = writeln!(out, "sources   {} overdue", sources.len());
            for s in sources {
                let _ = writeln!(out, "  {}", source_text(s));
            }
        }
    }
    let down = down(status);
    if down.is_empty() {
        out.push_str("all up\n");
    } else {
        let _ = writeln!(out, "DOWN: {}", down.join(", "));
    }
    out
}

fn workers_table(workers: &[Worker], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            let r = &w.report;
            vec![
                who(w).to_string(),
                r.held.to_string(),
                r.in_flight.to_string(),
                r.syncro_requests_last_minute.to_string(),
                up(r.redis_up),
                up(r.broker_up),
                if r.paused { "yes" } else { "no" }.into(),
                r.version.clone(),
                format!("{} ago", span(now - w.seen_at)),
                utc(w.started_at),
            ]
        })
        .collect();
    table(
        "  ",
        &[
            "HOST",
            "HELD",
            "IN FLIGHT",
            "SYNCRO/MIN",
            "REDIS",
            "BROKER",
            "PAUSED",
            "VERSION",
            "SEEN",
            "STARTED",
        ],
        &rows,
    )
}

/// Queue depths: `work 12, retry 5s 0, dead 0` from the API's list (`{name, messages}` in
/// order), or from an object of numbers.
fn queues_text(queues: &Value) -> String {
    match queues {
        Value::Array(list) if list.is_empty() => "none reported".into(),
        Value::Array(list) => list
            .iter()
            .map(|q| {
                let name = q["name"].as_str().unwrap_or("?");
                match q["messages"].as_u64() {
                    Some(n) => format!("{name} {n}"),
                    None => format!("{name} not declared"),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) if map.is_empty() => "none reported".into(),
        Value::Object(map) => map
            .iter()
            .map(|(name, value)| match value {
                Value::Object(_) => format!("{name} ({})", queues_text(value)),
                Value::Null => format!("{name} unknown"),
                other => format!("{name} {}", other.to_string().trim_matches('"')),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => "unknown".into(),
        other => other.to_string(),
    }
}

fn source_text(s: &SourceRow) -> String {
    let mut line = match s.quiet_for_secs {
        Some(quiet) => format!("{}: quiet for {}", s.source, span(Duration::seconds(quiet))),
        None => format!("{}: never heard from", s.source),
    };
    if let Some(expected) = s.expected_interval_secs {
        let _ = write!(
            line,
            " (expected every {})",
            span(Duration::seconds(expected))
        );
    }
    if let Some(outage) = &s.outage_state {
        let _ = write!(line, ", outage {outage}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: Value) -> Status {
        serde_json::from_value(value).expect("a status")
    }

    fn worker(redis_up: bool, calls: u64) -> Value {
        json!({
            "instance": "w-1", "host": "proc-a",
            "started_at": "2026-12-01T20:00:00Z", "seen_at": "2026-12-01T22:00:00Z",
            "report": {
                "held": 12, "in_flight": 1, "paused": false, "silences_active": 2,
                "syncro_requests_last_minute": calls, "redis_up": redis_up, "broker_up": true,
                "version": "0.1.0",
            },
        })
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T22:00:02Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn today_s_status_without_workers_is_up_when_postgres_is() {
        let s = status(json!({
            "paused": {"paused": false}, "silences": {"active": 2, "pending": 1},
            "postgres": "up", "sources": [],
        }));
        assert!(down(&s).is_empty());
        let page = render(&s, 180, now());
        assert!(page.contains("silences  2 active, 1 pending"), "{page}");
        assert!(page.contains("workers   not reported"), "{page}");
        assert!(page.ends_with("all up\n"), "{page}");
    }

    #[test]
    fn postgres_down_blanks_its_parts_and_is_down() {
        let s = status(json!({
            "paused": null, "silences": null, "postgres": "down", "sources": null,
        }));
        assert_eq!(down(&s), vec!["postgres"]);
        let page = render(&s, 180, now());
        assert!(
            page.contains("fleet     unknown (PostgreSQL is down)"),
            "{page}"
        );
        assert!(page.ends_with("DOWN: postgres\n"), "{page}");
    }

    #[test]
    fn workers_show_their_load_and_a_lost_redis_is_down() {
        let s = status(json!({
            "paused": {"paused": true, "reason": "Syncro maintenance", "by": "alice",
                       "since": "2026-12-01T21:00:00Z"},
            "silences": {"active": 0, "pending": 0}, "postgres": "up", "sources": [],
            "workers": [worker(true, 30), worker(false, 60)],
            "queues": [{"name": "work", "queue": "relay.alerts.work", "messages": 12},
                       {"name": "dead", "queue": "relay.alerts.dead", "messages": 0}],
            "rabbitmq": "up",
        }));
        assert_eq!(down(&s), vec!["redis (worker proc-a)"]);
        let page = render(&s, 180, now());
        assert!(page.contains("fleet     PAUSED: paused by alice"), "{page}");
        assert!(
            page.contains("syncro    90 calls in the last minute, of a budget of 180/min (50%)"),
            "{page}"
        );
        assert!(page.contains("queues    work 12, dead 0"), "{page}");
        assert!(page.contains("  HOST "), "{page}");
        assert!(page.contains("2.00 s ago"), "{page}");
    }

    #[test]
    fn no_worker_alive_or_a_part_reported_down_is_down() {
        let s = status(json!({"postgres": "up", "workers": [], "rabbitmq": "down"}));
        assert_eq!(down(&s), vec!["rabbitmq", "workers (none alive)"]);
    }

    #[test]
    fn overdue_sources_say_how_long_they_are_quiet() {
        let s = status(json!({
            "postgres": "up",
            "sources": [{"source": "demo", "quiet_for_secs": 7800, "expected_interval_secs": 300,
                         "outage_state": "open", "overdue": true}],
        }));
        let page = render(&s, 180, now());
        assert!(
            page.contains("  demo: quiet for 2h10m (expected every 5m00s), outage open"),
            "{page}"
        );
        assert!(down(&s).is_empty());
    }
}
