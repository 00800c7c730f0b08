//! Note coalescing: alerts for the same ticket that arrive within a short window become one
//! note listing them all, so a storm costs a few Syncro calls instead of one per alert.
//!
//! Handlers [`Coalescer::submit`] an entry and wait for its result; one background task keeps
//! a batch per ticket. When a batch's window closes (or it is full), and the ticket's previous
//! note is no longer in flight, the batch first waits for its *admission* (a slot of the rate
//! budget, [`Flush::admit`]), and only then is it taken, up to `max_entries`, and handed to
//! [`Flush::flush`] (for alerts: `super::note::NotePoster`, which posts the note).
//! Everything that arrived while the note waited for the budget therefore rides in it: when
//! the budget is the bottleneck, notes grow instead of multiplying. Each handler acknowledges
//! its message only after the note carrying its alert was accepted, so a crash loses nothing:
//! unacknowledged messages come back.

use std::collections::{HashMap, HashSet};
use std::future::Future;
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

/// What a ticket's batch becomes: the admission it waits for, then the flush that carries it.
pub trait Flush: Send + Sync + 'static {
    /// One waiting entry's data.
    type Item: Send + 'static;
    /// What each waiting handler is answered.
    type Result: Send + 'static;
    /// What a flush waits for before its batch is taken (a rate-budget slot).
    type Admission: Send + 'static;

    /// Waits for the right to flush the ticket's next batch.
    fn admit(&self, ticket_id: i64) -> impl Future<Output = Self::Admission> + Send;

    /// Carries the batch (as it is once admitted) and answers every entry.
    fn flush(
        &self,
        ticket_id: i64,
        admission: Self::Admission,
        entries: Vec<Entry<Self::Item, Self::Result>>,
    ) -> impl Future<Output = ()> + Send;
}

/// Batches entries per ticket id and hands each batch to its [`Flush`].
pub struct Coalescer<F: Flush> {
    tx: mpsc::Sender<Event<F::Item, F::Result>>,
}

impl<F: Flush> Clone for Coalescer<F> {
    fn clone(&self) -> Self {
        Coalescer {
            tx: self.tx.clone(),
        }
    }
}

enum Event<T, R> {
    Submit(i64, Entry<T, R>),
    /// A flush of this ticket was admitted: hand it the batch as it is now.
    Take(i64, oneshot::Sender<Vec<Entry<T, R>>>),
    /// The note of this ticket's previous batch is settled.
    Flushed(i64),
    /// How many alerts wait in batches (not yet handed to a flush).
    Pending(oneshot::Sender<usize>),
}

impl<F: Flush> Coalescer<F> {
    /// Starts the batching task: a due batch first waits for [`Flush::admit`]; then
    /// [`Flush::flush`] receives the batch as it is at that moment.
    pub fn start(window: Duration, max_entries: usize, sink: F) -> Coalescer<F> {
        let (tx, rx) = mpsc::channel(1024);
        let batcher = Batcher {
            batches: HashMap::new(),
            flushing: HashSet::new(),
            window,
            max_entries: max_entries.max(1),
            sink: Arc::new(sink),
            events: tx.clone(),
        };
        tokio::spawn(batcher.run(rx));
        Coalescer { tx }
    }

    /// Adds an alert to its ticket's batch and waits for the note's outcome; `None` when the
    /// coalescer has stopped.
    pub async fn submit(&self, ticket_id: i64, item: F::Item) -> Option<F::Result> {
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

/// The batching task's state. A ticket has at most one note in flight (waiting for its
/// admission or being posted): while it is, new alerts for that ticket keep gathering, so
/// when Syncro is slow or the rate limit holds notes back, batches grow instead of notes
/// piling up (backpressure that saves calls).
struct Batcher<F: Flush> {
    batches: HashMap<i64, Batch<F::Item, F::Result>>,
    flushing: HashSet<i64>,
    window: Duration,
    max_entries: usize,
    sink: Arc<F>,
    events: mpsc::Sender<Event<F::Item, F::Result>>,
}

impl<F: Flush> Batcher<F> {
    async fn run(mut self, mut rx: mpsc::Receiver<Event<F::Item, F::Result>>) {
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
                    Some(Event::Take(ticket, reply)) => {
                        let _ = reply.send(self.take(ticket));
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

    /// Starts the ticket's next note unless one is in flight: wait for the admission, then
    /// take the batch as it is by then, then flush it.
    fn flush_if_idle(&mut self, ticket: i64) {
        if !self.flushing.insert(ticket) {
            return;
        }
        let sink = self.sink.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let admission = sink.admit(ticket).await;
            let (reply, entries) = oneshot::channel();
            if events.send(Event::Take(ticket, reply)).await.is_ok() {
                if let Ok(entries) = entries.await {
                    if !entries.is_empty() {
                        sink.flush(ticket, admission, entries).await;
                    }
                }
            }
            let _ = events.send(Event::Flushed(ticket)).await;
        });
    }

    /// Removes and returns up to `max_entries` of the ticket's batch.
    fn take(&mut self, ticket: i64) -> Vec<Entry<F::Item, F::Result>> {
        let Some(batch) = self.batches.get_mut(&ticket) else {
            return Vec::new();
        };
        let take = batch.entries.len().min(self.max_entries);
        let entries: Vec<_> = batch.entries.drain(..take).collect();
        if batch.entries.is_empty() {
            self.batches.remove(&ticket);
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::marker::PhantomData;
    use std::sync::Mutex;

    /// A [`Flush`] made of two closures, for the tests.
    /// The item, result and admission types a [`Closures`] works with.
    type Types<T, R, A> = PhantomData<fn() -> (T, R, A)>;

    struct Closures<T, R, A, AF, F>(AF, F, Types<T, R, A>);

    fn closures<T, R, A, AF, F>(admit: AF, flush: F) -> Closures<T, R, A, AF, F> {
        Closures(admit, flush, PhantomData)
    }

    impl<T, R, A, AF, AFut, F, Fut> Flush for Closures<T, R, A, AF, F>
    where
        T: Send + 'static,
        R: Send + 'static,
        A: Send + 'static,
        AF: Fn(i64) -> AFut + Send + Sync + 'static,
        AFut: Future<Output = A> + Send,
        F: Fn(i64, A, Vec<Entry<T, R>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send,
    {
        type Item = T;
        type Result = R;
        type Admission = A;

        fn admit(&self, ticket_id: i64) -> impl Future<Output = A> + Send {
            (self.0)(ticket_id)
        }

        fn flush(
            &self,
            ticket_id: i64,
            admission: A,
            entries: Vec<Entry<T, R>>,
        ) -> impl Future<Output = ()> + Send {
            (self.1)(ticket_id, admission, entries)
        }
    }

    /// A flush that answers every entry with the size of its batch.
    fn respond_with_batch_size(entries: Vec<Entry<u32, usize>>) {
        let size = entries.len();
        for entry in entries {
            entry.respond(size);
        }
    }

    #[tokio::test]
    async fn entries_for_one_ticket_within_the_window_share_one_flush() {
        type Flushes = Arc<Mutex<Vec<(i64, Vec<u32>)>>>;
        let flushes: Flushes = Arc::default();
        let seen = flushes.clone();
        let coalescer = Coalescer::start(
            Duration::from_millis(200),
            100,
            closures(
                |_| async {},
                move |ticket, _: (), entries: Vec<Entry<u32, usize>>| {
                    let seen = seen.clone();
                    async move {
                        seen.lock()
                            .expect("lock")
                            .push((ticket, entries.iter().map(|e| e.item).collect()));
                        respond_with_batch_size(entries);
                    }
                },
            ),
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
            closures(
                |_| async {},
                move |_, _: (), entries: Vec<Entry<u32, usize>>| {
                    let mut release = release_rx.clone();
                    let started = started_tx.clone();
                    async move {
                        // The first note is slow (held until released); the others are not.
                        if entries.iter().any(|e| e.item == 0) {
                            started.send_replace(true);
                            let _ = release.wait_for(|r| *r).await;
                        }
                        respond_with_batch_size(entries);
                    }
                },
            ),
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
            closures(
                |_| async {},
                |_, _: (), entries| async move { respond_with_batch_size(entries) },
            ),
        );
        let (a, b) = tokio::join!(coalescer.submit(1, 1), coalescer.submit(1, 2));
        assert_eq!((a, b), (Some(2), Some(2)));
    }

    #[tokio::test]
    async fn entries_arriving_while_the_note_waits_for_admission_ride_in_it() {
        let (admit_tx, admit_rx) = tokio::sync::watch::channel(false);
        let (asked_tx, mut asked_rx) = tokio::sync::watch::channel(false);
        let coalescer = Coalescer::start(
            Duration::from_millis(10),
            100,
            closures(
                move |_| {
                    let mut admitted = admit_rx.clone();
                    let asked = asked_tx.clone();
                    async move {
                        asked.send_replace(true);
                        let _ = admitted.wait_for(|a| *a).await;
                    }
                },
                |_, _: (), entries| async move { respond_with_batch_size(entries) },
            ),
        );
        let first = tokio::spawn({
            let c = coalescer.clone();
            async move { c.submit(1, 0).await }
        });
        // The window closed and the note asked for its admission; the budget holds it back.
        asked_rx.wait_for(|a| *a).await.expect("admission asked");
        let later: Vec<_> = (1..=4)
            .map(|i| {
                let c = coalescer.clone();
                tokio::spawn(async move { c.submit(1, i).await })
            })
            .collect();
        while coalescer.pending().await < 5 {
            tokio::task::yield_now().await;
        }
        admit_tx.send_replace(true);
        assert_eq!(first.await.expect("task"), Some(5), "one note for all five");
        for task in later {
            assert_eq!(task.await.expect("task"), Some(5));
        }
    }
}
