//! The workers' view of the operator state: the silences active now, compiled for
//! matching, the pause switch and the console's mappings, read again whenever the fleet's generation changes
//! (polled every `postgres.refresh_ms`) and rebuilt when a window opens or closes.
//!
//! While PostgreSQL is away the last view stays in force; before the first read there are
//! no silences, no pause and no console mapping: an unknown silence means a ticket, and an
//! unknown mapping the configuration file's rule, never a dropped alert.

use crate::db::Db;
use crate::silence::{ActiveSilences, Silence};
use crate::store::fleet::{self, PauseState};
use crate::store::mappings::{self, ConsoleMappings};
use crate::store::silences;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the workers act on.
pub struct View {
    /// The generation read, `None` before the first read.
    pub generation: Option<i64>,
    pub silences: Vec<Silence>,
    pub active: ActiveSilences,
    pub pause: PauseState,
    /// The console's mappings (organization → customer or ignored); the file's `[mapping]`
    /// decides first (the processor's `MappingConfig::decide`).
    pub mappings: Arc<ConsoleMappings>,
    /// When PostgreSQL was last read successfully.
    pub read_at: Option<DateTime<Utc>>,
}

impl View {
    fn unknown() -> View {
        View {
            generation: None,
            silences: Vec::new(),
            active: ActiveSilences::empty(),
            pause: PauseState::default(),
            mappings: Arc::default(),
            read_at: None,
        }
    }
}

/// A receiver of the view, cheap to clone.
#[derive(Clone)]
pub struct Watch {
    rx: watch::Receiver<Arc<View>>,
    /// When PostgreSQL last answered a poll (Unix milliseconds; 0: never).
    last_ok: Arc<AtomicI64>,
}

impl Watch {
    /// Starts the task that keeps the view; it stops when every [`Watch`] is dropped.
    pub fn start(db: Db, refresh: Duration) -> Watch {
        let (tx, rx) = watch::channel(Arc::new(View::unknown()));
        let last_ok = Arc::new(AtomicI64::new(0));
        tokio::spawn(keep(db, refresh, tx, last_ok.clone()));
        Watch { rx, last_ok }
    }

    /// A view that never changes (no PostgreSQL configured, some tests).
    pub fn fixed() -> Watch {
        let (tx, rx) = watch::channel(Arc::new(View::unknown()));
        drop(tx);
        Watch {
            rx,
            last_ok: Arc::new(AtomicI64::new(0)),
        }
    }

    /// When PostgreSQL last answered, if ever.
    pub fn last_read(&self) -> Option<DateTime<Utc>> {
        match self.last_ok.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    pub fn current(&self) -> Arc<View> {
        self.rx.borrow().clone()
    }

    /// Waits until the state was read once, at most `within`; `false` when it was not (the
    /// caller goes on with no silences and no pause).
    pub async fn first_read(&self, within: Duration) -> bool {
        let mut rx = self.rx.clone();
        let read = tokio::time::timeout(within, rx.wait_for(|view| view.generation.is_some()))
            .await
            .is_ok_and(|r| r.is_ok());
        read
    }

    /// Waits for the next view (`false` once the task is gone).
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

async fn keep(db: Db, refresh: Duration, tx: watch::Sender<Arc<View>>, last_ok: Arc<AtomicI64>) {
    let mut warned = false;
    loop {
        if tx.is_closed() {
            return;
        }
        let now = Utc::now();
        let current = tx.borrow().clone();
        let read = read(&db, &current, now).await;
        if read.is_ok() {
            last_ok.store(now.timestamp_millis(), Ordering::Relaxed);
        }
        match read {
            Ok(Some(view)) => {
                tx.send_replace(Arc::new(view));
                if warned {
                    tracing::info!("operator state read again from PostgreSQL");
                    warned = false;
                }
            }
            Ok(None) => {}
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "cannot read the operator state; acting on the last one read");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(refresh).await;
    }
}

/// A new view when anything changed: the generation, or a window opened or closed.
async fn read(db: &Db, current: &View, now: DateTime<Utc>) -> crate::db::Result<Option<View>> {
    let generation = fleet::generation(db).await?;
    if current.generation == Some(generation) {
        let due = current.active.valid_until().is_some_and(|at| at <= now);
        if !due {
            return Ok(None);
        }
        return Ok(Some(View {
            generation: Some(generation),
            silences: current.silences.clone(),
            active: ActiveSilences::new(&current.silences, now),
            pause: current.pause.clone(),
            mappings: current.mappings.clone(),
            read_at: Some(now),
        }));
    }
    let silences = silences::current(db).await?;
    let pause = fleet::pause_state(db).await?;
    let mappings = Arc::new(mappings::current(db).await?);
    Ok(Some(View {
        generation: Some(generation),
        active: ActiveSilences::new(&silences, now),
        silences,
        pause,
        mappings,
        read_at: Some(now),
    }))
}

/// Shared, for the processor's handler.
pub type SharedWatch = Arc<Watch>;
