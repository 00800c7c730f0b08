//! The scenarios: each builds its own [`Stack`], does its damage, waits with a deadline for
//! the outcome a user would check, and returns one [`Row`]. This file holds what they share
//! (sending a paced load, watching Syncro, the row); one file per kind of damage:
//! [`processor`] (1. SIGKILLs, 7. a SIGKILL at Syncro's real rate limit), [`broker`] (2. the
//! RabbitMQ node restarted), [`redis`] (3. Redis restarted with its data, 5. Redis restarted
//! empty, 6. a Sentinel failover), [`syncro`] (4. Syncro misbehaving), [`postgres`] (8.
//! PostgreSQL stopped mid-storm).

mod broker;
mod postgres;
mod processor;
mod redis;
mod syncro;

pub use broker::broker_restarted;
pub use postgres::postgres_stopped;
pub use processor::{processor_killed, processor_killed_at_budget};
pub use redis::{redis_emptied, redis_restarted, sentinel_failover};
pub use syncro::syncro_misbehaving;

use crate::observe::{self, Seen, Sender};
use crate::services::{Postgres, RabbitNode, Redis};
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
    pub postgres: &'a mut Postgres,
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
            &self.postgres.url(),
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

/// What the storms of scenarios 1, 7 and 8 check once they settled: remarks on what was left
/// queued and on alerts still arriving after the first full count (`late`); failures for a
/// ticket count other than one per subject, messages left queued, and alerts ingest refused.
fn check_storm(r: &mut Row, left: u64, late: bool, subjects: usize, sent: &Sent, alerts: usize) {
    r.remarks.push(format!("left queued: {left}"));
    if late {
        r.remarks
            .push("alerts still arriving after the first full count".into());
    }
    if r.tickets != subjects {
        r.failures
            .push(format!("{} tickets for {subjects} subjects", r.tickets));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    if sent.accepted.len() != alerts {
        r.failures
            .push(format!("ingest refused alerts: {}", sent.answers_text()));
    }
}
