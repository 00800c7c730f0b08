//! The coalescer's batching, release and shutdown, with a flush that records what it carries.

use super::*;
use std::sync::Mutex;

type Log = Arc<Mutex<Vec<(String, Vec<u32>)>>>;

/// A flush that records what each call carried, after an optional wait for a gate.
struct Recorder {
    log: Log,
    gate: tokio::sync::watch::Receiver<bool>,
    released: Log,
    started: Arc<std::sync::atomic::AtomicUsize>,
}

impl Flush for Recorder {
    type Item = u32;
    type Head = &'static str;

    async fn flush(&self, batch: Batch<Self>) {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut gate = self.gate.clone();
        let _ = gate.wait_for(|open| *open).await;
        let entries = batch.take().await;
        if !entries.is_empty() {
            self.log
                .lock()
                .expect("lock")
                .push((format!("{}:{}", batch.key, batch.head), entries));
        }
    }

    async fn release(&self, entries: Vec<u32>) {
        self.released
            .lock()
            .expect("lock")
            .push(("released".into(), entries));
    }
}

type Started = Arc<std::sync::atomic::AtomicUsize>;

/// A coalescer over a [`Recorder`], and what a test reads of it or steers.
struct Rig {
    c: Coalescer<Recorder>,
    /// The calls, with what each carried.
    log: Log,
    /// The entries released.
    released: Log,
    /// Opens the gate every flush waits at before it takes its batch.
    gate: tokio::sync::watch::Sender<bool>,
    /// How many flushes started.
    started: Started,
}

fn start(batching: Batching, open: bool) -> Rig {
    let (gate, gate_rx) = tokio::sync::watch::channel(open);
    let (log, released) = (Log::default(), Log::default());
    let started = Started::default();
    let c = Coalescer::start(
        batching,
        Recorder {
            log: log.clone(),
            gate: gate_rx,
            released: released.clone(),
            started: started.clone(),
        },
    );
    Rig {
        c,
        log,
        released,
        gate,
        started,
    }
}

fn batching(window_ms: u64, max: usize) -> Batching {
    Batching {
        window: Duration::from_millis(window_ms),
        max_entries: max,
        max_hold: Duration::from_secs(600),
    }
}

async fn until(log: &Log, calls: usize) -> Vec<(String, Vec<u32>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = log.lock().expect("lock").clone();
        if seen.len() >= calls || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn entries_of_one_key_within_the_window_share_one_call_with_the_first_head() {
    let Rig { c, log, .. } = start(batching(100, 100), true);
    for (key, head, item) in [
        ("g1", "a", 1),
        ("g1", "b", 2),
        ("g2", "c", 3),
        ("g1", "d", 4),
    ] {
        assert!(c.submit(key.into(), Arc::new(head), item, false).await);
    }
    let mut seen = until(&log, 2).await;
    seen.sort();
    assert_eq!(
        seen,
        [
            ("g1:a".to_string(), vec![1, 2, 4]),
            ("g2:c".into(), vec![3])
        ]
    );
}

#[tokio::test]
async fn a_new_group_is_due_at_once_and_what_arrives_while_it_waits_rides_along() {
    // An hour-long window: only `due_now` can make the first call go.
    let Rig { c, log, gate, .. } = start(batching(3_600_000, 100), false);
    c.submit("new".into(), Arc::new("h"), 1, true).await;
    for i in 2..=4 {
        c.submit("new".into(), Arc::new("h"), i, false).await;
    }
    while c.pending().await < 4 {
        tokio::task::yield_now().await;
    }
    gate.send_replace(true);
    assert_eq!(
        until(&log, 1).await,
        [("new:h".to_string(), vec![1, 2, 3, 4])]
    );
}

#[tokio::test]
async fn a_full_batch_is_due_without_waiting_for_the_window_and_calls_are_bounded() {
    let Rig { c, log, .. } = start(batching(3_600_000, 2), true);
    for i in 1..=4 {
        c.submit("k".into(), Arc::new("h"), i, false).await;
    }
    let seen = until(&log, 2).await;
    assert_eq!(
        seen,
        [
            ("k:h".to_string(), vec![1, 2]),
            ("k:h".to_string(), vec![3, 4])
        ]
    );
}

#[tokio::test]
async fn entries_held_too_long_are_released_not_lost() {
    // The gate stays closed (kept, not dropped): no call may take the entry.
    let Rig {
        c,
        log,
        released,
        gate: _gate,
        ..
    } = start(
        Batching {
            window: Duration::from_secs(3600),
            max_entries: 100,
            max_hold: Duration::from_millis(200),
        },
        false,
    );
    c.submit("k".into(), Arc::new("h"), 7, false).await;
    assert_eq!(
        until(&released, 1).await,
        [("released".to_string(), vec![7])]
    );
    assert!(log.lock().expect("lock").is_empty());
    assert_eq!(c.pending().await, 0);
}

#[tokio::test]
async fn shutdown_releases_what_waits_and_waits_for_the_calls_under_way() {
    let Rig {
        c,
        log,
        released,
        gate,
        started,
    } = start(batching(3_600_000, 100), false);
    // One call under way (due at once, held at the gate before it takes), one waiting.
    c.submit("new".into(), Arc::new("h"), 1, true).await;
    c.submit("old".into(), Arc::new("h"), 2, false).await;
    while started.load(std::sync::atomic::Ordering::SeqCst) < 1 || c.pending().await < 2 {
        tokio::task::yield_now().await;
    }
    let drain = tokio::spawn({
        let c = c.clone();
        async move { c.release_all().await }
    });
    let seen = until(&released, 1).await;
    let mut items: Vec<u32> = seen.into_iter().flat_map(|(_, i)| i).collect();
    items.sort();
    assert_eq!(items, [1, 2], "everything waiting is released");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!drain.is_finished(), "the call under way is waited for");
    // Submitted during the drain: released at once.
    c.submit("late".into(), Arc::new("h"), 3, false).await;
    let seen = until(&released, 2).await;
    assert_eq!(seen.last().map(|(_, i)| i.clone()), Some(vec![3]));
    gate.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .expect("the drain ends once the call has")
        .expect("task");
    assert!(
        log.lock().expect("lock").is_empty(),
        "the call found nothing left to carry"
    );
}
