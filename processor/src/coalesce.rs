//! Note coalescing: alerts for the same ticket that arrive within a short window become one
//! note listing them all, so a storm costs a few Syncro calls instead of one per alert.
//!
//! Handlers [`Coalescer::submit`] an entry and wait for its result; one background task keeps
//! a batch per ticket and hands it to the flush function when its window closes or it is
//! full, and never while the ticket's previous note is still in flight. Each handler acknowledges its message only after the note carrying its alert was
//! accepted, so a crash loses nothing: unacknowledged messages come back.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// One alert waiting for its note; `T` is what the flush function needs of it.
pub struct Entry<T, R> {
    pub item: T,
    respond: oneshot::Sender<R>,
}

impl<T, R> Entry<T, R> {
    /// Answers the handler waiting on this entry.
    pub fn respond(self, result: R) {
        // The handler may have gone (shutdown): nothing to tell then.
        let _ = self.respond.send(result);
    }
}

type FlushFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type FlushFn<T, R> = Arc<dyn Fn(i64, Vec<Entry<T, R>>) -> FlushFuture + Send + Sync>;

/// Batches entries per ticket id.
pub struct Coalescer<T, R> {
    tx: mpsc::Sender<Event<T, R>>,
}

impl<T, R> Clone for Coalescer<T, R> {
    fn clone(&self) -> Self {
        Coalescer {
            tx: self.tx.clone(),
        }
    }
}

enum Event<T, R> {
    Submit(i64, Entry<T, R>),
    /// The note of this ticket's previous batch is settled.
    Flushed(i64),
    /// How many alerts wait in batches (not yet handed to a flush).
    Pending(oneshot::Sender<usize>),
}

impl<T: Send + 'static, R: Send + 'static> Coalescer<T, R> {
    /// Starts the batching task. `flush` receives each closed batch and must respond to every
    /// entry of it.
    pub fn start<F, Fut>(window: Duration, max_entries: usize, flush: F) -> Coalescer<T, R>
    where
        F: Fn(i64, Vec<Entry<T, R>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let flush: FlushFn<T, R> =
            Arc::new(move |ticket, entries| Box::pin(flush(ticket, entries)));
        let (tx, rx) = mpsc::channel(1024);
        let batcher = Batcher {
            batches: HashMap::new(),
            flushing: HashSet::new(),
            window,
            max_entries: max_entries.max(1),
            flush,
            done: tx.clone(),
        };
        tokio::spawn(batcher.run(rx));
        Coalescer { tx }
    }

    /// Adds an alert to its ticket's batch and waits for the note's outcome; `None` when the
    /// coalescer has stopped.
    pub async fn submit(&self, ticket_id: i64, item: T) -> Option<R> {
        let (respond, result) = oneshot::channel();
        self.tx
            .send(Event::Submit(ticket_id, Entry { item, respond }))
            .await
            .ok()?;
        result.await.ok()
    }

    /// Alerts gathered in batches and not yet handed to a flush.
    pub async fn pending(&self) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::Pending(tx)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

struct Batch<T, R> {
    entries: Vec<Entry<T, R>>,
    closes_at: Instant,
}

/// The batching task's state. A ticket has at most one note in flight: while it is, new
/// alerts for that ticket keep gathering, so when Syncro is slow or the rate limit holds
/// notes back, batches grow instead of notes piling up (backpressure that saves calls).
struct Batcher<T, R> {
    batches: HashMap<i64, Batch<T, R>>,
    flushing: HashSet<i64>,
    window: Duration,
    max_entries: usize,
    flush: FlushFn<T, R>,
    done: mpsc::Sender<Event<T, R>>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    async fn run(mut self, mut rx: mpsc::Receiver<Event<T, R>>) {
        loop {
            let next_close = self
                .batches
                .iter()
                .filter(|(ticket, _)| !self.flushing.contains(ticket))
                .map(|(_, b)| b.closes_at)
                .min();
            let sleep = async {
                match next_close {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = rx.recv() => match event {
                    Some(Event::Submit(ticket, entry)) => {
                        let window = self.window;
                        let batch = self.batches.entry(ticket).or_insert_with(|| Batch {
                            entries: Vec::new(),
                            closes_at: Instant::now() + window,
                        });
                        batch.entries.push(entry);
                        if batch.entries.len() >= self.max_entries {
                            self.flush_if_idle(ticket);
                        }
                    }
                    Some(Event::Flushed(ticket)) => {
                        self.flushing.remove(&ticket);
                        let due = self.batches.get(&ticket).is_some_and(|b| {
                            b.closes_at <= Instant::now() || b.entries.len() >= self.max_entries
                        });
                        if due {
                            self.flush_if_idle(ticket);
                        }
                    }
                    Some(Event::Pending(reply)) => {
                        let _ = reply.send(self.batches.values().map(|b| b.entries.len()).sum());
                    }
                    // Unreachable while the task holds a sender of its own; kept for clarity.
                    None => return,
                },
                _ = sleep => {
                    let now = Instant::now();
                    let due: Vec<i64> = self
                        .batches
                        .iter()
                        .filter(|(t, b)| b.closes_at <= now && !self.flushing.contains(t))
                        .map(|(t, _)| *t)
                        .collect();
                    for ticket in due {
                        self.flush_if_idle(ticket);
                    }
                }
            }
        }
    }

    /// Sends the ticket's batch (at most `max_entries` of it) to be posted, unless a note of
    /// the ticket is still in flight.
    fn flush_if_idle(&mut self, ticket: i64) {
        if self.flushing.contains(&ticket) {
            return;
        }
        let Some(batch) = self.batches.get_mut(&ticket) else {
            return;
        };
        let take = batch.entries.len().min(self.max_entries);
        let entries: Vec<_> = batch.entries.drain(..take).collect();
        if batch.entries.is_empty() {
            self.batches.remove(&ticket);
        }
        self.flushing.insert(ticket);
        let flush = self.flush.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            flush(ticket, entries).await;
            let _ = done.send(Event::Flushed(ticket)).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn entries_for_one_ticket_within_the_window_share_one_flush() {
        type Flushes = Arc<Mutex<Vec<(i64, Vec<u32>)>>>;
        let flushes: Flushes = Arc::default();
        let seen = flushes.clone();
        let coalescer = Coalescer::start(
            Duration::from_millis(200),
            100,
            move |ticket, entries: Vec<Entry<u32, usize>>| {
                let seen = seen.clone();
                async move {
                    let size = entries.len();
                    seen.lock()
                        .expect("lock")
                        .push((ticket, entries.iter().map(|e| e.item).collect()));
                    for entry in entries {
                        entry.respond(size);
                    }
                }
            },
        );
        let submits = (0..5).map(|i| {
            let c = coalescer.clone();
            async move { c.submit(if i < 4 { 7 } else { 8 }, i).await }
        });
        let results = futures_util::future::join_all(submits).await;
        assert_eq!(results, vec![Some(4), Some(4), Some(4), Some(4), Some(1)]);
        let mut flushes = flushes.lock().expect("lock").clone();
        flushes.sort();
        assert_eq!(flushes, vec![(7, vec![0, 1, 2, 3]), (8, vec![4])]);
    }

    #[tokio::test]
    async fn entries_arriving_while_a_note_is_in_flight_wait_for_it_and_go_together() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let (started_tx, mut started_rx) = tokio::sync::watch::channel(false);
        let coalescer = Coalescer::start(
            Duration::from_millis(10),
            100,
            move |_, entries: Vec<Entry<u32, usize>>| {
                let mut release = release_rx.clone();
                let started = started_tx.clone();
                async move {
                    // The first note is slow (held until released); the others are not.
                    if entries.iter().any(|e| e.item == 0) {
                        started.send_replace(true);
                        let _ = release.wait_for(|r| *r).await;
                    }
                    let size = entries.len();
                    for entry in entries {
                        entry.respond(size);
                    }
                }
            },
        );
        let first = tokio::spawn({
            let c = coalescer.clone();
            async move { c.submit(1, 0).await }
        });
        started_rx
            .wait_for(|s| *s)
            .await
            .expect("first note in flight");
        let later: Vec<_> = (1..=3)
            .map(|i| {
                let c = coalescer.clone();
                tokio::spawn(async move { c.submit(1, i).await })
            })
            .collect();
        // Well past the 10 ms window, the three are still held behind the note in flight.
        while coalescer.pending().await < 3 {
            tokio::task::yield_now().await;
        }
        release_tx.send_replace(true);
        assert_eq!(first.await.expect("task"), Some(1));
        for task in later {
            assert_eq!(
                task.await.expect("task"),
                Some(3),
                "held back, then one note"
            );
        }
    }

    #[tokio::test]
    async fn a_full_batch_is_flushed_without_waiting_for_the_window() {
        let coalescer = Coalescer::start(
            Duration::from_secs(3600),
            2,
            |_, entries: Vec<Entry<u32, usize>>| async move {
                let size = entries.len();
                for entry in entries {
                    entry.respond(size);
                }
            },
        );
        let (a, b) = tokio::join!(coalescer.submit(1, 1), coalescer.submit(1, 2));
        assert_eq!((a, b), (Some(2), Some(2)));
    }
}
