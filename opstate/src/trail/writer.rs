//! The trail's writer: steps go into a bounded buffer that one task drains into PostgreSQL
//! in batches (one INSERT per batch), so recording a step costs the alert path a channel
//! send, never a wait. A batch that is not full when its first step is taken gathers for
//! [`LINGER`]: PostgreSQL spends ~25 µs a row in batches of a hundred and more, but
//! ~300–500 µs on a transaction of one, and a writer that wrote whatever had arrived wrote
//! batches of a few rows under load, which took the front door's CPU on a small machine.
//! While it gathers the task sleeps rather than waiting on the buffer, so the steps recorded
//! meanwhile do not wake it (a wake-up is a context switch on the recording thread's core;
//! waiting on the buffer cost the front door one per alert). Under a load that fills a batch
//! by the time the last one is written, batches go back to back, without lingering. While
//! PostgreSQL is away the task keeps its batch and retries; the
//! buffer fills, then steps are dropped and counted, and the first write after the outage
//! records a `trail_gap` step saying how many and when.
//!
//! The same task writes what silences suppressed ([`Hit`]s), aggregated per group, for the
//! ticket a still-firing group gets when its silence ends.

use super::{Event, Step};
use crate::db::{Db, DbError, Result};
use crate::store::silences::Hit;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Records at most this many per INSERT.
const BATCH: usize = 1_000;
/// How long a batch gathers after its first record: a step reaches PostgreSQL at most this
/// much later than it would otherwise.
pub const LINGER: Duration = Duration::from_millis(200);

enum Record {
    Step(Event),
    Hit(Hit),
}

/// What the writer has done, for metrics and status.
#[derive(Debug, Default)]
pub struct TrailStats {
    /// Steps written to PostgreSQL.
    pub written: AtomicU64,
    /// Steps (and hits) dropped because the buffer was full.
    pub dropped: AtomicU64,
    /// Whether the last write failed (PostgreSQL away or slow).
    pub failing: AtomicBool,
}

/// The sending side, cheap to clone; recording never waits.
#[derive(Clone)]
pub struct TrailWriter {
    tx: Option<mpsc::Sender<Record>>,
    stats: Arc<TrailStats>,
}

/// The task draining the buffer; [`TrailTask::finish`] writes what is left, within a deadline.
pub struct TrailTask {
    handle: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl TrailWriter {
    /// Starts the writer with a buffer of `capacity` records.
    pub fn start(db: Db, capacity: usize) -> (TrailWriter, TrailTask) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(TrailStats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(drain(db, rx, stopped, stats.clone()));
        (
            TrailWriter {
                tx: Some(tx),
                stats,
            },
            TrailTask { handle, stop },
        )
    }

    /// A writer that records nothing (a binary run without PostgreSQL, some tests).
    pub fn disabled() -> TrailWriter {
        TrailWriter {
            tx: None,
            stats: Arc::new(TrailStats::default()),
        }
    }

    pub fn record(&self, event: Event) {
        self.send(Record::Step(event));
    }

    /// Records what a silence suppressed (aggregated per group by the writer).
    pub fn hit(&self, hit: Hit) {
        self.send(Record::Hit(hit));
    }

    fn send(&self, record: Record) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(record).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> &Arc<TrailStats> {
        &self.stats
    }
}

impl TrailTask {
    /// Writes what is buffered now (within `deadline`; later steps are not waited for) and
    /// stops the task.
    pub async fn finish(self, deadline: Duration) {
        let _ = self.stop.send(());
        let abort = self.handle.abort_handle();
        if tokio::time::timeout(deadline, self.handle).await.is_err() {
            abort.abort();
            tracing::warn!("the trail's last steps were not written before the deadline");
        }
    }
}

async fn drain(
    db: Db,
    mut rx: mpsc::Receiver<Record>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    stats: Arc<TrailStats>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut reported_drops = 0u64;
    let mut gap_since: Option<DateTime<Utc>> = None;
    let mut stopping = false;
    loop {
        if stopping {
            // What is buffered now, then stop.
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
        } else {
            let received = tokio::select! {
                n = rx.recv_many(&mut batch, BATCH) => n,
                _ = &mut stop => {
                    stopping = true;
                    continue;
                }
            };
            if received == 0 {
                return;
            }
            if gather(&mut rx, &mut batch, &mut stop).await {
                stopping = true;
            }
        }
        let (mut steps, hits) = split(std::mem::take(&mut batch));
        let dropped = stats.dropped.load(Ordering::Relaxed);
        if dropped > reported_drops {
            let mut gap = Event::new(Step::TrailGap, "", "");
            gap.detail = serde_json::json!({
                "dropped": dropped - reported_drops,
                "since": gap_since.unwrap_or(gap.at),
                "until": gap.at,
            });
            steps.push(gap);
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match write(&db, &steps, &hits).await {
                Ok(()) => {
                    if stats.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("the trail is written again");
                    }
                    stats
                        .written
                        .fetch_add(steps.len() as u64, Ordering::Relaxed);
                    reported_drops = dropped;
                    if stats.dropped.load(Ordering::Relaxed) == reported_drops {
                        // Nothing dropped since: the next gap starts afresh.
                        gap_since = None;
                    }
                    break;
                }
                Err(e) => {
                    if !stats.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "cannot write the trail; keeping steps in memory (dropped and counted when the buffer is full)");
                        gap_since = gap_since.or(Some(Utc::now()));
                    }
                    if stopping || rx.is_closed() {
                        give_up(&mut rx, steps.len() + hits.len(), &stats, &e);
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => stopping = true,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Sleeps for [`LINGER`] (not waiting on the buffer: what is recorded meanwhile wakes no
/// one), then adds what arrived to `batch`, up to [`BATCH`]; true when told to stop meanwhile
/// (the batch is then written at once). A batch that is already full goes at once.
async fn gather(
    rx: &mut mpsc::Receiver<Record>,
    batch: &mut Vec<Record>,
    stop: &mut tokio::sync::oneshot::Receiver<()>,
) -> bool {
    let stopping = batch.len() < BATCH
        && tokio::select! {
            _ = tokio::time::sleep(LINGER) => false,
            _ = &mut *stop => true,
        };
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(record) => batch.push(record),
            Err(_) => break,
        }
    }
    stopping
}

/// The process stops while PostgreSQL is away: the steps in hand and those still buffered
/// cannot be written, nor a gap recorded; they are counted as dropped and said so in the log,
/// the one record left of them.
fn give_up(rx: &mut mpsc::Receiver<Record>, in_hand: usize, stats: &TrailStats, error: &DbError) {
    let mut lost = in_hand as u64;
    while rx.try_recv().is_ok() {
        lost += 1;
    }
    stats.dropped.fetch_add(lost, Ordering::Relaxed);
    let dropped_total = stats.dropped.load(Ordering::Relaxed);
    tracing::warn!(lost, dropped_total, error = %error, "stopping while PostgreSQL is away: the trail's last steps are not written");
}

/// Writes steps at once, in one INSERT (for a command-line tool, which has no writer task).
pub async fn append(db: &Db, steps: &[Event]) -> Result<()> {
    write(db, steps, &[]).await
}

fn split(records: Vec<Record>) -> (Vec<Event>, Vec<Hit>) {
    let mut steps = Vec::with_capacity(records.len());
    let mut hits = Vec::new();
    for record in records {
        match record {
            Record::Step(e) => steps.push(e),
            Record::Hit(h) => hits.push(h),
        }
    }
    (steps, hits)
}

async fn write(db: &Db, steps: &[Event], hits: &[Hit]) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    if !steps.is_empty() {
        // The columns borrow the steps' strings (no copy per step), except the detail, which
        // is written out as JSON text here.
        let text = |f: fn(&Event) -> Option<&str>| steps.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO trail (at, message_id, source, sender_id, organization, ticket_id,
                                ticket_number, step, detail)
             SELECT at, message_id, source, sender_id, organization, ticket_id, ticket_number,
                    step, COALESCE(detail::jsonb, '{}'::jsonb)
               FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
                           $6::int8[], $7::text[], $8::text[], $9::text[])
                 AS t(at, message_id, source, sender_id, organization, ticket_id,
                      ticket_number, step, detail)",
        )
        .bind(steps.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(text(|e| Some(e.message_id.as_str())))
        .bind(text(|e| Some(e.source.as_str())))
        .bind(text(|e| e.sender_id.as_deref()))
        .bind(text(|e| e.organization.as_deref()))
        .bind(steps.iter().map(|e| e.ticket_id).collect::<Vec<_>>())
        .bind(text(|e| e.ticket_number.as_deref()))
        .bind(text(|e| Some(e.step.as_str())))
        .bind(steps.iter().map(detail_text).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !hits.is_empty() {
        crate::store::silences::record_hits(&mut tx, &aggregate(hits)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A step's detail as JSON text, `None` for none. Written with `serde_json::to_string`, not
/// `Value`'s `Display` (`to_string()`), which goes through `fmt::Write` piece by piece: half
/// the instructions for the same text (callgrind: 5.4k against 10.6k for a `received` step).
fn detail_text(step: &Event) -> Option<String> {
    if step.detail.is_null() {
        return None;
    }
    serde_json::to_string(&step.detail).ok()
}

/// One hit per group and window: counts summed, first and last seen, the newest firing
/// alert kept, firing as of the newest alert.
fn aggregate(hits: &[Hit]) -> Vec<Hit> {
    let mut groups: HashMap<(uuid::Uuid, DateTime<Utc>, &str), Hit> = HashMap::new();
    for hit in hits {
        let key = (hit.silence_id, hit.window_start, hit.group_key.as_str());
        match groups.get_mut(&key) {
            None => {
                groups.insert(key, hit.clone());
            }
            Some(sum) => {
                sum.count += hit.count;
                sum.first_at = sum.first_at.min(hit.first_at);
                if hit.last_at >= sum.last_at {
                    sum.last_at = hit.last_at;
                    sum.firing = hit.firing;
                    if hit.firing {
                        sum.message = hit.message.clone();
                    }
                }
            }
        }
    }
    groups.into_values().collect()
}
