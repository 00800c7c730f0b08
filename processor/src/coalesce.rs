//! Note coalescing: alerts for the same ticket that arrive within a short window become one
//! note listing them all, so a storm costs a few Syncro calls instead of one per alert.
//!
//! Handlers [`Coalescer::submit`] an entry and wait for its result; one background task keeps
//! a batch per ticket and hands it to the flush function when its window closes or it is
//! full. Each handler acknowledges its message only after the note carrying its alert was
//! accepted, so a crash loses nothing: unacknowledged messages come back.

use std::collections::HashMap;
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
    tx: mpsc::Sender<(i64, Entry<T, R>)>,
}

impl<T, R> Clone for Coalescer<T, R> {
    fn clone(&self) -> Self {
        Coalescer {
            tx: self.tx.clone(),
        }
    }
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
        tokio::spawn(batch_loop(rx, window, max_entries.max(1), flush));
        Coalescer { tx }
    }

    /// Adds an alert to its ticket's batch and waits for the note's outcome; `None` when the
    /// coalescer has stopped.
    pub async fn submit(&self, ticket_id: i64, item: T) -> Option<R> {
        let (respond, result) = oneshot::channel();
        self.tx
            .send((ticket_id, Entry { item, respond }))
            .await
            .ok()?;
        result.await.ok()
    }
}

struct Batch<T, R> {
    entries: Vec<Entry<T, R>>,
    closes_at: Instant,
}

async fn batch_loop<T: Send + 'static, R: Send + 'static>(
    mut rx: mpsc::Receiver<(i64, Entry<T, R>)>,
    window: Duration,
    max_entries: usize,
    flush: FlushFn<T, R>,
) {
    let mut batches: HashMap<i64, Batch<T, R>> = HashMap::new();
    loop {
        let next_close = batches.values().map(|b| b.closes_at).min();
        let sleep = async {
            match next_close {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = rx.recv() => match received {
                Some((ticket, entry)) => {
                    let batch = batches.entry(ticket).or_insert_with(|| Batch {
                        entries: Vec::new(),
                        closes_at: Instant::now() + window,
                    });
                    batch.entries.push(entry);
                    if batch.entries.len() >= max_entries {
                        if let Some(full) = batches.remove(&ticket) {
                            tokio::spawn(flush(ticket, full.entries));
                        }
                    }
                }
                None => {
                    // Every sender is gone: flush what is left and stop.
                    for (ticket, batch) in batches.drain() {
                        tokio::spawn(flush(ticket, batch.entries));
                    }
                    return;
                }
            },
            _ = sleep => {
                let now = Instant::now();
                let due: Vec<i64> = batches
                    .iter()
                    .filter(|(_, b)| b.closes_at <= now)
                    .map(|(t, _)| *t)
                    .collect();
                for ticket in due {
                    if let Some(batch) = batches.remove(&ticket) {
                        tokio::spawn(flush(ticket, batch.entries));
                    }
                }
            }
        }
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
