//! Batches per group: every alert bound for Syncro waits here, held small, until its group's
//! next Syncro call carries it (a new ticket's first comment, or a note), so a storm costs
//! about one call per ticket instead of one per alert.
//!
//! Handlers [`Coalescer::submit`] an entry under its group's key and return at once: the
//! entry owns what settling its message needs, so no task waits per alert. One background
//! task keeps a batch per key. A batch is *due* when its window closes (at once for a group
//! with no ticket yet: a new incident never waits for a window), when it is full, or when
//! the group's previous call has settled and entries are left. A due batch gets one
//! [`Flush::flush`] at a time per key; the flush waits for what its call needs (a slot of the
//! rate budget) and only then [`Batch::take`]s the entries, so everything that arrived while
//! the call waited rides in it: when the budget is the bottleneck, calls grow instead of
//! multiplying. The flush settles every entry it took.
//!
//! An entry held for `max_hold` (the bound that keeps it clear of the broker's consumer
//! timeout) is taken out of its batch and handed to [`Flush::release`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What a group's batch becomes.
pub trait Flush: Send + Sync + 'static {
    /// One waiting entry.
    type Item: Send + 'static;
    /// What the batch's calls need of the group, from the alert that opened the batch.
    type Head: Send + Sync + 'static;

    /// Carries the batch of `key`: takes its entries with [`Batch::take`] when its call is
    /// admitted, and settles every entry taken.
    fn flush(&self, batch: Batch<Self>) -> impl Future<Output = ()> + Send
    where
        Self: Sized;

    /// Entries that waited `max_hold`, given back.
    fn release(&self, entries: Vec<Self::Item>) -> impl Future<Output = ()> + Send;
}

/// A due batch, as its flush sees it.
pub struct Batch<F: Flush> {
    pub key: Arc<str>,
    /// From the alert that opened the batch.
    pub head: Arc<F::Head>,
    events: mpsc::Sender<Event<F>>,
}

impl<F: Flush> Batch<F> {
    /// The batch's entries as they are now (at most `max_entries`, oldest first); empty
    /// when the coalescer stopped or every entry was released.
    pub async fn take(&self) -> Vec<F::Item> {
        let (reply, entries) = oneshot::channel();
        if self
            .events
            .send(Event::Take(self.key.clone(), reply))
            .await
            .is_err()
        {
            return Vec::new();
        }
        entries.await.unwrap_or_default()
    }

    /// Whether an entry waiting in the batch (not taken yet) satisfies `test`.
    pub async fn holds(&self, test: impl Fn(&F::Item) -> bool + Send + 'static) -> bool {
        let (reply, answer) = oneshot::channel();
        let event = Event::Holds(self.key.clone(), Box::new(test), reply);
        if self.events.send(event).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Puts entries back at the front of the batch (a call that must wait and try again),
    /// due again after `after`.
    pub async fn put_back(&self, entries: Vec<F::Item>, after: Duration) {
        let _ = self
            .events
            .send(Event::PutBack(self.key.clone(), entries, after))
            .await;
    }
}

/// Batches entries per key and hands each due batch to its [`Flush`].
pub struct Coalescer<F: Flush> {
    tx: mpsc::Sender<Event<F>>,
}

impl<F: Flush> Clone for Coalescer<F> {
    fn clone(&self) -> Self {
        Coalescer {
            tx: self.tx.clone(),
        }
    }
}

/// A question about one entry.
type Test<T> = Box<dyn Fn(&T) -> bool + Send>;

enum Event<F: Flush> {
    Submit {
        key: Arc<str>,
        head: Arc<F::Head>,
        item: F::Item,
        due_now: bool,
    },
    /// A flush of this key is ready: hand it the batch as it is now.
    Take(Arc<str>, oneshot::Sender<Vec<F::Item>>),
    PutBack(Arc<str>, Vec<F::Item>, Duration),
    /// Whether a waiting entry of this key passes the test.
    Holds(Arc<str>, Test<F::Item>, oneshot::Sender<bool>),
    /// The flush of this key is over.
    Flushed(Arc<str>),
    /// How many entries wait in batches (not yet taken by a flush).
    Pending(oneshot::Sender<usize>),
    /// Release every waiting entry (shutdown); answered once they are released and the
    /// calls under way have ended.
    ReleaseAll(oneshot::Sender<()>),
    /// Stop the calls under way (shutdown, once their time is up), as a crash would.
    AbortCalls,
    /// Hold entries again after a [`Event::ReleaseAll`] (the fleet was paused, and resumed).
    Resume,
}

/// How the coalescer batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// How long a group with a ticket gathers before its note is due.
    pub window: Duration,
    /// The most entries one call carries.
    pub max_entries: usize,
    /// The longest an entry is held before it is released.
    pub max_hold: Duration,
}

impl<F: Flush> Coalescer<F> {
    /// Starts the batching task.
    pub fn start(batching: Batching, sink: F) -> Coalescer<F> {
        let (tx, rx) = mpsc::channel(4096);
        let batcher = Batcher {
            batches: HashMap::new(),
            draining: None,
            batching: Batching {
                max_entries: batching.max_entries.max(1),
                ..batching
            },
            sink: Arc::new(sink),
            events: tx.clone(),
        };
        tokio::spawn(batcher.run(rx));
        Coalescer { tx }
    }

    /// Adds an entry to the batch of `key` (opened with `head` when there is none); with
    /// `due_now` the batch is due at once. `false` when the coalescer has stopped.
    pub async fn submit(
        &self,
        key: Arc<str>,
        head: Arc<F::Head>,
        item: F::Item,
        due_now: bool,
    ) -> bool {
        self.tx
            .send(Event::Submit {
                key,
                head,
                item,
                due_now,
            })
            .await
            .is_ok()
    }

    /// Shutdown: hands every entry waiting in a batch to [`Flush::release`], and every entry
    /// submitted or put back from now on; returns once they are released and the calls
    /// already under way (which carry on with what they took) have ended.
    pub async fn release_all(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::ReleaseAll(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Holds entries again after [`Coalescer::release_all`] (a pause is over).
    pub async fn resume(&self) {
        let _ = self.tx.send(Event::Resume).await;
    }

    /// Stops the calls still under way (after [`Coalescer::release_all`] gave up waiting for
    /// them): what they took is settled by their intents, as after a crash.
    pub async fn abort_calls(&self) {
        let _ = self.tx.send(Event::AbortCalls).await;
    }

    /// Entries gathered in batches and not yet taken by a flush.
    pub async fn pending(&self) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::Pending(tx)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

struct Waiting<F: Flush> {
    /// Entries and when each was submitted, oldest first.
    entries: Vec<(Instant, F::Item)>,
    head: Arc<F::Head>,
    due_at: Instant,
    /// A flush of this key is running (at most one per key).
    flushing: bool,
    /// The running flush's task, to stop it at shutdown.
    call: Option<tokio::task::AbortHandle>,
}

struct Batcher<F: Flush> {
    batches: HashMap<Arc<str>, Waiting<F>>,
    /// Shutting down: nothing waits any more; these are answered when no call is under way.
    draining: Option<Vec<oneshot::Sender<()>>>,
    batching: Batching,
    sink: Arc<F>,
    events: mpsc::Sender<Event<F>>,
}

impl<F: Flush> Batcher<F> {
    async fn run(mut self, mut rx: mpsc::Receiver<Event<F>>) {
        let sweep_every = (self.batching.max_hold / 10).max(Duration::from_millis(100));
        let mut next_sweep = Instant::now() + sweep_every;
        loop {
            let next_due = self
                .batches
                .values()
                .filter(|b| !b.flushing && !b.entries.is_empty())
                .map(|b| b.due_at)
                .min()
                .unwrap_or(next_sweep)
                .min(next_sweep);
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => self.on(event),
                    // Unreachable while the task holds a sender of its own.
                    None => return,
                },
                _ = tokio::time::sleep_until(next_due) => {
                    let now = Instant::now();
                    if now >= next_sweep {
                        self.release_overdue(now);
                        next_sweep = now + sweep_every;
                    }
                    let due: Vec<Arc<str>> = self
                        .batches
                        .iter()
                        .filter(|(_, b)| !b.flushing && !b.entries.is_empty() && b.due_at <= now)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in due {
                        self.start_flush(key);
                    }
                }
            }
        }
    }

    fn on(&mut self, event: Event<F>) {
        match event {
            Event::Submit { item, .. } if self.draining.is_some() => {
                self.release(vec![item]);
            }
            Event::PutBack(_, entries, _) if self.draining.is_some() => {
                self.release(entries);
            }
            Event::Submit {
                key,
                head,
                item,
                due_now,
            } => {
                let now = Instant::now();
                let due_at = if due_now {
                    now
                } else {
                    now + self.batching.window
                };
                let batch = self.batches.entry(key.clone()).or_insert_with(|| Waiting {
                    entries: Vec::new(),
                    head,
                    due_at,
                    flushing: false,
                    call: None,
                });
                if batch.entries.is_empty() && !batch.flushing {
                    batch.due_at = due_at;
                }
                batch.entries.push((now, item));
                if batch.entries.len() >= self.batching.max_entries || due_now {
                    batch.due_at = batch.due_at.min(now);
                }
            }
            Event::Take(key, reply) => {
                let _ = reply.send(self.take(&key));
            }
            Event::Holds(key, test, reply) => {
                let held = self
                    .batches
                    .get(&key)
                    .is_some_and(|b| b.entries.iter().any(|(_, e)| test(e)));
                let _ = reply.send(held);
            }
            Event::PutBack(key, entries, after) => {
                if let Some(batch) = self.batches.get_mut(&key) {
                    let now = Instant::now();
                    let mut back: Vec<_> = entries.into_iter().map(|e| (now, e)).collect();
                    back.append(&mut batch.entries);
                    batch.entries = back;
                    batch.due_at = now + after;
                } else {
                    // The key's batch is gone only once its flush ended: cannot happen while
                    // the flush that puts back runs. Release rather than lose them.
                    self.release(entries);
                }
            }
            Event::Flushed(key) => {
                let now = Instant::now();
                if let Some(batch) = self.batches.get_mut(&key) {
                    batch.flushing = false;
                    batch.call = None;
                    if batch.entries.is_empty() {
                        self.batches.remove(&key);
                    } else if batch.entries.len() >= self.batching.max_entries {
                        batch.due_at = batch.due_at.min(now);
                    }
                }
                self.answer_drain_when_idle();
            }
            Event::Pending(reply) => {
                let _ = reply.send(self.batches.values().map(|b| b.entries.len()).sum());
            }
            Event::AbortCalls => {
                for batch in self.batches.values_mut() {
                    if let Some(call) = batch.call.take() {
                        call.abort();
                    }
                    batch.flushing = false;
                }
                self.batches.retain(|_, b| !b.entries.is_empty());
                self.answer_drain_when_idle();
            }
            Event::Resume => {
                self.draining = None;
            }
            Event::ReleaseAll(done) => {
                let waiting: Vec<F::Item> = self
                    .batches
                    .values_mut()
                    .flat_map(|b| b.entries.drain(..).map(|(_, e)| e))
                    .collect();
                self.batches.retain(|_, b| b.flushing);
                self.release(waiting);
                self.draining.get_or_insert_with(Vec::new).push(done);
                self.answer_drain_when_idle();
            }
        }
    }

    /// Hands `entries` to [`Flush::release`] (in a task of its own: the batcher never waits).
    fn release(&self, entries: Vec<F::Item>) {
        if entries.is_empty() {
            return;
        }
        let sink = self.sink.clone();
        tokio::spawn(async move { sink.release(entries).await });
    }

    /// Answers the shutdown's waiters once no call is under way.
    fn answer_drain_when_idle(&mut self) {
        if self.batches.values().any(|b| b.flushing) {
            return;
        }
        if let Some(waiters) = self.draining.as_mut() {
            for done in waiters.drain(..) {
                let _ = done.send(());
            }
        }
    }

    /// Starts the key's flush; the batch stays (entries arriving meanwhile gather in it).
    fn start_flush(&mut self, key: Arc<str>) {
        let Some(batch) = self.batches.get_mut(&key) else {
            return;
        };
        batch.flushing = true;
        let flush = Batch {
            key: key.clone(),
            head: batch.head.clone(),
            events: self.events.clone(),
        };
        let sink = self.sink.clone();
        let events = self.events.clone();
        let call = tokio::spawn(async move {
            sink.flush(flush).await;
            let _ = events.send(Event::Flushed(key)).await;
        });
        batch.call = Some(call.abort_handle());
    }

    /// Up to `max_entries` of the key's batch, oldest first.
    fn take(&mut self, key: &str) -> Vec<F::Item> {
        let Some(batch) = self.batches.get_mut(key) else {
            return Vec::new();
        };
        let take = batch.entries.len().min(self.batching.max_entries);
        batch.entries.drain(..take).map(|(_, e)| e).collect()
    }

    /// Hands entries held `max_hold` to [`Flush::release`].
    fn release_overdue(&mut self, now: Instant) {
        let max_hold = self.batching.max_hold;
        let mut overdue = Vec::new();
        for batch in self.batches.values_mut() {
            let old = batch
                .entries
                .iter()
                .take_while(|(at, _)| now.duration_since(*at) >= max_hold)
                .count();
            overdue.extend(batch.entries.drain(..old).map(|(_, e)| e));
        }
        self.batches
            .retain(|_, b| b.flushing || !b.entries.is_empty());
        self.release(overdue);
    }
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;
