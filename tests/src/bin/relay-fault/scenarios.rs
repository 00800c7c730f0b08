//! The four scenarios of issue 7. Each builds its own [`Stack`], does its damage, waits with a
//! deadline for the outcome a user would check, and returns one [`Row`].

use crate::observe::{self, Seen, Sender};
use crate::services::{RabbitNode, Redis};
use crate::stack::{Stack, Tuning, SECRET};
use crate::{Row, Sizes};
use anyhow::Context;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the run shares between scenarios.
pub struct Run<'a> {
    pub work: &'a Path,
    pub bin: &'a Path,
    pub rabbit: &'a mut RabbitNode,
    pub redis: &'a mut Redis,
    pub sizes: &'a Sizes,
}

impl Run<'_> {
    async fn stack(&self, name: &str, tuning: Tuning) -> anyhow::Result<Stack> {
        Stack::start(
            name,
            self.work,
            self.bin,
            &self.rabbit.url(),
            &self.redis.url(),
            &tuning,
        )
        .await
    }
}

/// The production retry tiers (scenarios where Syncro is healthy never reach them).
const DEFAULT_TIERS: &str = "[5, 30, 120, 600, 3600]";

/// What a paced send got.
#[derive(Default)]
struct Sent {
    /// Alerts in at least one 2xx answer.
    accepted: HashSet<String>,
    /// Answers by status (`"none"`: no answer).
    answers: BTreeMap<String, usize>,
    /// 2xx answers received at or after each instant are counted by [`Sent::accepted_since`].
    accepted_at: Vec<Instant>,
    /// Batches given up on (still refused when their deadline passed).
    given_up: usize,
}

impl Sent {
    fn accepted_since(&self, t: Instant) -> usize {
        self.accepted_at.iter().filter(|at| **at >= t).count()
    }

    fn answers_text(&self) -> String {
        self.answers
            .iter()
            .map(|(status, n)| format!("{status}×{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Sends `alerts` in batches of `batch`, `concurrency` requests at a time, spread evenly over
/// `over`. A refused batch (no answer or a non-2xx) is sent again every 250 ms, as a source
/// retries, until `give_up` after its first try.
async fn send_paced(
    sender: &Sender,
    alerts: &[Value],
    batch: usize,
    concurrency: usize,
    over: Duration,
    give_up: Duration,
) -> Sent {
    let batches: Arc<Vec<Vec<Value>>> =
        Arc::new(alerts.chunks(batch).map(<[Value]>::to_vec).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let start = Instant::now();
    let step = over / batches.len().max(1) as u32;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (batches, next, sent, sender) =
            (batches.clone(), next.clone(), sent.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(chunk) = batches.get(i) else { break };
                tokio::time::sleep_until((start + step * i as u32).into()).await;
                let first = Instant::now();
                loop {
                    let posted = sender.post(chunk).await;
                    let status = posted.status.map_or("none".to_string(), |s| s.to_string());
                    let ok = matches!(posted.status, Some(200..=299));
                    {
                        let mut sent = sent.lock().expect("lock");
                        *sent.answers.entry(status).or_insert(0) += 1;
                        if ok {
                            sent.accepted.extend(posted.ids);
                            sent.accepted_at.push(Instant::now());
                        }
                    }
                    if ok {
                        break;
                    }
                    if first.elapsed() > give_up {
                        sent.lock().expect("lock").given_up += 1;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    sent
}

/// A scenario's alerts, sent through ingest in the background.
struct Load {
    alerts: Vec<Value>,
    wanted: HashSet<String>,
    started: Instant,
    sending: tokio::task::JoinHandle<Sent>,
}

/// Starts sending `n` alerts over `subjects` subjects (tagged `name`) to the stack's ingest,
/// paced as [`send_paced`] does.
fn start_load(
    stack: &Stack,
    name: &str,
    (n, subjects): (usize, usize),
    (batch, concurrency): (usize, usize),
    over: Duration,
    give_up: Duration,
) -> anyhow::Result<Load> {
    let alerts = observe::alerts(&tag(name), n, subjects);
    let wanted: HashSet<String> = observe::ids_of(&alerts).into_iter().collect();
    let sender = Sender::new(&stack.ingest_url, SECRET)?;
    let started = Instant::now();
    let sending = {
        let alerts = alerts.clone();
        tokio::spawn(async move {
            send_paced(&sender, &alerts, batch, concurrency, over, give_up).await
        })
    };
    Ok(Load {
        alerts,
        wanted,
        started,
        sending,
    })
}

/// The dead-letter queue's messages, read without consuming them.
async fn dead_letters(stack: &Stack) -> anyhow::Result<Vec<observe::Queued>> {
    observe::peek(&stack.amqp_url, &format!("{}.alerts.dead", stack.prefix)).await
}

fn tag(name: &str) -> String {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Polls the simulator until `done(seen)` or `within` passes; returns the last look.
async fn watch(
    stack: &Stack,
    wanted: &HashSet<String>,
    within: Duration,
    mut done: impl FnMut(&Seen) -> bool,
) -> anyhow::Result<Seen> {
    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let seen = observe::syncro(&stack.http, &stack.sim_url, wanted).await?;
        if done(&seen) || start.elapsed() > within {
            return Ok(seen);
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("  {}/{} alerts in Syncro", seen.present(), wanted.len());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the scenario's queues hold nothing (ready or unacknowledged) but, when
/// `except_dead`, the dead letters; returns what is left after `within`.
async fn drained(
    rabbit: &RabbitNode,
    stack: &Stack,
    within: Duration,
    except_dead: bool,
) -> anyhow::Result<u64> {
    let dead = format!("{}.alerts.dead", stack.prefix);
    let start = Instant::now();
    loop {
        // rabbitmqctl costs a second of CPU: look once a second at most.
        let left: u64 = rabbit
            .queues(&stack.prefix)
            .await?
            .iter()
            .filter(|(name, _)| !(except_dead && *name == dead))
            .map(|(_, n)| n)
            .sum();
        if left == 0 || start.elapsed() > within {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn lost(accepted: &HashSet<String>, seen: &Seen) -> usize {
    accepted
        .iter()
        .filter(|id| !seen.refs.contains_key(*id))
        .count()
}

fn row(name: &str, sent: usize, acc: usize, seen: &Seen, started: Instant) -> Row {
    Row {
        scenario: name.to_string(),
        sent,
        accepted: acc,
        tickets: seen.tickets,
        notes: seen.notes(),
        present: seen.present(),
        duplicates: seen.duplicates(),
        lost: 0,
        dead: 0,
        secs: started.elapsed().as_secs_f64(),
        remarks: Vec::new(),
        failures: Vec::new(),
    }
}

/// 1. A storm while a processor is SIGKILLed every 2–4 s and restarted (two worker slots).
pub async fn processor_killed(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "kill",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 10,
            },
        )
        .await?;
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let over = sizes.send_over;
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "kill",
        (sizes.kill_alerts, sizes.kill_subjects),
        (100, 4),
        over,
        Duration::from_secs(60),
    )?;
    let mut kills = 0usize;
    let deadline = started + sizes.settle;
    loop {
        let pause = rand::rng().random_range(2000..=4000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let seen = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
        if (sending.is_finished() && seen.present() == wanted.len()) || Instant::now() > deadline {
            break;
        }
        let slot = kills % 2;
        stack.kill_worker(slot).await;
        stack.start_worker(slot, false).await?;
        kills += 1;
        if kills.is_multiple_of(5) {
            eprintln!(
                "  {kills} kills, {}/{} alerts in Syncro",
                seen.present(),
                wanted.len()
            );
        }
    }
    let sent = sending.await.context("sender")?;
    let seen = watch(&stack, &wanted, Duration::from_secs(60), |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let seen_after = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
    let mut r = row(
        "1. processor SIGKILLed every 2–4 s",
        alerts.len(),
        sent.accepted.len(),
        &seen_after,
        started,
    );
    r.lost = lost(&sent.accepted, &seen_after);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks
        .push(format!("{kills} SIGKILLs, 2 worker slots, prefetch 2000"));
    r.remarks.push(format!("left queued: {left}"));
    if seen.present() != seen_after.present() {
        r.remarks
            .push("alerts still arriving after the first full count".into());
    }
    if r.tickets != sizes.kill_subjects {
        r.failures.push(format!(
            "{} tickets for {} subjects",
            r.tickets, sizes.kill_subjects
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    if sent.accepted.len() != alerts.len() {
        r.failures
            .push(format!("ingest refused alerts: {}", sent.answers_text()));
    }
    stack.stop().await;
    Ok(r)
}

/// 2. The broker node restarted during a concurrent ingest load; no processor runs until the
///    load is over, so the work queue shows exactly what was stored.
pub async fn broker_restarted(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "broker",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    let over = sizes.send_over + Duration::from_secs(10);
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "broker",
        (sizes.broker_alerts, sizes.broker_subjects),
        (10, 16),
        over,
        Duration::from_secs(120),
    )?;
    tokio::time::sleep(over / 3).await;
    let down_at = Instant::now();
    eprintln!("  restarting the RabbitMQ node");
    // On a loaded machine rabbitmqctl itself takes seconds, and ingest may well be answering
    // 202 again before `restart` returns: what proves it recovered without a restart is a 202
    // after the node was down (each 202 waited for a confirm from the restarted node).
    let stopped_at = run.rabbit.restart().await?;
    let up_at = Instant::now();
    eprintln!(
        "  RabbitMQ back after {:.1} s",
        (up_at - down_at).as_secs_f64()
    );
    let ready_at = {
        let start = Instant::now();
        while !stack.ingest_ready().await && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stack.ingest_ready().await.then(Instant::now)
    };
    let sent = sending.await.context("sender")?;
    let in_queue = observe::peek(&stack.amqp_url, &format!("{}.alerts.work", stack.prefix)).await?;
    let copies = in_queue.len();
    let queued: HashSet<String> = in_queue.into_iter().map(|q| q.message_id).collect();
    let not_queued = sent
        .accepted
        .iter()
        .filter(|id| !queued.contains(*id))
        .count();
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let seen = watch(&stack, &wanted, sizes.settle, |s| {
        sent.accepted.iter().all(|id| s.refs.contains_key(id))
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let mut r = row(
        "2. RabbitMQ restarted under ingest load",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen).max(not_queued);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(format!(
        "broker down {:.1} s; answers {}; 2xx not in the queue: {not_queued}",
        (up_at - down_at).as_secs_f64(),
        sent.answers_text()
    ));
    match ready_at {
        Some(t) => r.remarks.push(format!(
            "ingest ready {:.1} s after the node; {} 202s after the node was down",
            (t - up_at).as_secs_f64(),
            sent.accepted_since(stopped_at)
        )),
        None => r
            .failures
            .push("ingest not ready within 60 s of the node's restart".into()),
    }
    r.remarks.push(format!(
        "{copies} messages in the queue for {} alerts",
        queued.len()
    ));
    if seen.duplicates() > 0 {
        r.remarks.push(format!(
            "{} of the duplicates are an alert listed twice in one note",
            seen.repeats_in_one_comment
        ));
    }
    if sent.accepted_since(stopped_at) == 0 {
        r.failures.push("no 202 after the restart".into());
    }
    if not_queued > 0 {
        r.failures
            .push(format!("{not_queued} alerts answered 2xx but not queued"));
    }
    if sent.given_up > 0 {
        r.remarks.push(format!(
            "{} batches still refused after 120 s",
            sent.given_up
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    stack.stop().await;
    Ok(r)
}

/// 3. Redis stopped (`SHUTDOWN SAVE`) and started again, down 5 s, while two workers process.
pub async fn redis_restarted(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "redis",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let over = sizes.send_over;
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "redis",
        (sizes.redis_alerts, sizes.redis_subjects),
        (50, 4),
        over,
        Duration::from_secs(60),
    )?;
    tokio::time::sleep(over / 3).await;
    let before = observe::syncro(&stack.http, &stack.sim_url, &wanted)
        .await?
        .present();
    eprintln!("  restarting Redis ({before} alerts in Syncro)");
    run.redis.restart(Duration::from_secs(5)).await?;
    let sent = sending.await.context("sender")?;
    let seen = watch(&stack, &wanted, sizes.settle, |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let mut r = row(
        "3. Redis restarted during processing",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(format!(
        "Redis down 5 s with {before} alerts in Syncro; data set kept (SHUTDOWN SAVE)"
    ));
    if r.tickets != sizes.redis_subjects {
        r.remarks.push(format!(
            "{} tickets for {} subjects",
            r.tickets, sizes.redis_subjects
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    stack.stop().await;
    Ok(r)
}

/// Whether `relayctl` exists beside the other binaries and has `dlq replay`.
fn relayctl_can_replay(bin: &Path) -> bool {
    let relayctl = bin.join("relayctl");
    relayctl.exists()
        && std::process::Command::new(&relayctl)
            .args(["dlq", "replay", "--help"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// 4. Syncro misbehaving: 30 % 503s, 10 % of POSTs applied then dropped, 429 bursts; retry
///    tiers [1, 2] so some alerts really dead-letter. Then Syncro heals and the dead letters
///    are replayed with `relayctl dlq replay`.
pub async fn syncro_misbehaving(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "syncro",
            Tuning {
                retry_tiers_secs: "[1, 2]",
                prefetch: 2000,
                lock_lease_secs: 10,
            },
        )
        .await?;
    use reqwest::Method;
    stack
        .admin(
            Method::POST,
            "/_admin/faults",
            Some(json!({"kind": "error", "status": 503, "share": 0.3})),
        )
        .await?;
    stack
        .admin(
            Method::POST,
            "/_admin/faults",
            Some(json!({"kind": "drop_after_apply", "method": "POST", "share": 0.1})),
        )
        .await?;
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let over = sizes.send_over;
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "syncro",
        (sizes.syncro_alerts, sizes.syncro_subjects),
        (50, 4),
        over,
        Duration::from_secs(60),
    )?;
    // A burst of five 429s every 5 s while the alerts arrive.
    let bursts = {
        let (http, url) = (
            stack.http.clone(),
            format!("{}/_admin/faults", stack.sim_url),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let burst = json!({"kind": "rate_limit_burst", "count": 5, "retry_after_secs": 1});
                let _ = http.post(&url).json(&burst).send().await;
            }
        })
    };
    let sent = sending.await.context("sender")?;
    bursts.abort();
    // Settled: every alert in Syncro or dead-lettered, and nothing else queued or in flight.
    let settle_start = Instant::now();
    let (mut seen, mut dead) = loop {
        let seen = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
        let dead = dead_letters(&stack).await?;
        let dead_ids: HashSet<&str> = dead.iter().map(|d| d.message_id.as_str()).collect();
        let all = sent
            .accepted
            .iter()
            .all(|id| seen.refs.contains_key(id) || dead_ids.contains(id.as_str()));
        if (all && drained(run.rabbit, &stack, Duration::ZERO, true).await? == 0)
            || settle_start.elapsed() > sizes.settle
        {
            break (seen, dead);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let unsettled = drained(run.rabbit, &stack, Duration::ZERO, true).await?;
    let counters: Value = stack
        .http
        .get(format!("{}/_admin/counters", stack.sim_url))
        .send()
        .await?
        .json()
        .await?;
    stack.admin(Method::DELETE, "/_admin/faults", None).await?;
    let dead_count = dead.len();
    let mut r = row(
        "4. Syncro: 30 % 503, 10 % POSTs dropped after applying, 429 bursts",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.dead = dead_count;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for d in &dead {
        *kinds
            .entry(d.error_kind.clone().unwrap_or_else(|| "(none)".into()))
            .or_insert(0) += 1;
    }
    let unexplained = dead
        .iter()
        .filter(|d| d.error_kind.is_none() || d.error.as_deref().unwrap_or("").is_empty())
        .count();
    if unexplained > 0 {
        r.failures
            .push(format!("{unexplained} dead letters without a reason"));
    }
    r.remarks.push(format!(
        "Syncro saw {} calls, faults {}, 429 bursts {}",
        counters["total"], counters["faults"], counters["burst_429s"]
    ));
    if dead_count > 0 {
        r.remarks.push(format!(
            "dead-lettered by kind: {}",
            kinds
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let dead_ids: HashSet<String> = dead.drain(..).map(|d| d.message_id).collect();
    let missing_not_dead = sent
        .accepted
        .iter()
        .filter(|id| !seen.refs.contains_key(*id) && !dead_ids.contains(*id))
        .count();
    // Still queued when the wait ended is not lost, but it is a failure to settle.
    r.lost = missing_not_dead.saturating_sub(unsettled as usize);
    if unsettled > 0 {
        r.failures.push(format!(
            "{unsettled} messages still queued after {:?}",
            sizes.settle
        ));
    }
    if dead_count == 0 {
        r.remarks
            .push("nothing dead-lettered: no replay needed".into());
    } else if relayctl_can_replay(stack.bin()) {
        let config = stack.ops_config()?;
        let output = tokio::process::Command::new(stack.bin().join("relayctl"))
            .args(["--config", &config, "dlq", "replay"])
            .output()
            .await?;
        std::fs::write(
            stack.dir().join("relayctl-replay.log"),
            [&output.stdout[..], &output.stderr[..]].concat(),
        )?;
        if !output.status.success() {
            r.failures
                .push(format!("relayctl dlq replay failed ({})", output.status));
        }
        seen = watch(&stack, &wanted, sizes.settle, |s| {
            sent.accepted.iter().all(|id| s.refs.contains_key(id))
        })
        .await?;
        let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
        r.remarks.push(format!(
            "replayed with relayctl dlq replay; left queued after: {left}"
        ));
        if left > 0 {
            r.failures
                .push(format!("{left} messages left queued after the replay"));
        }
        r.present = seen.present();
        r.duplicates = seen.duplicates();
        r.tickets = seen.tickets;
        r.notes = seen.notes();
        r.lost = lost(&sent.accepted, &seen);
    } else {
        r.remarks
            .push("replay: pending (relayctl has no `dlq replay` yet)".into());
    }
    r.secs = started.elapsed().as_secs_f64();
    stack.stop().await;
    Ok(r)
}
