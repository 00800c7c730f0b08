//! The running simulator's shared state and its admin operations, used in-process by tests
//! (through [`crate::SimHandle`]) and over HTTP by the `/_admin` routes; both go through these
//! methods.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::api::{self, Ctx, Reply};
use crate::config::Options;
use crate::error::Result;
use crate::faults::{ActiveFault, FaultSet, FaultSpec, Verdict};
use crate::journal::{Counters, Journal, LogEntry};
use crate::model::{Data, Ticket};
use crate::params::Query;
use crate::ratelimit::RateLimiter;
use crate::router::Endpoint;
use crate::store::{Counts, Store};

/// The simulator's state; cheap to clone (one shared instance).
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

struct Inner {
    /// What `reset` returns to.
    initial_data: Data,
    initial_options: Options,
    store: Mutex<Store>,
    /// Read on every request, written by the admin API: an `Arc` snapshot keeps the lock short.
    options: RwLock<Arc<Options>>,
    faults: Mutex<FaultSet>,
    limiter: Mutex<RateLimiter>,
    journal: Mutex<Journal>,
}

/// A poisoned lock only means another request panicked mid-update; the simulator keeps going
/// with the data as it is rather than failing every later request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `GET /_admin/state`: the account in seed form plus record counts.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StateSnapshot {
    pub counts: Counts,
    pub data: Data,
}

impl Sim {
    /// Builds the state and installs the start-up faults.
    pub fn new(data: Data, options: Options) -> Result<Self> {
        options.validate()?;
        let faults = Self::fault_set(&options)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::new(data.clone())),
                journal: Mutex::new(Journal::new(options.request_log_capacity)),
                faults: Mutex::new(faults),
                limiter: Mutex::new(RateLimiter::default()),
                options: RwLock::new(Arc::new(options.clone())),
                initial_data: data,
                initial_options: options,
            }),
        })
    }

    fn fault_set(options: &Options) -> Result<FaultSet> {
        let mut set = FaultSet::new(options.fault_rng_seed);
        for spec in &options.faults {
            set.add(spec.clone())?;
        }
        Ok(set)
    }

    /// The options in force.
    pub fn options(&self) -> Arc<Options> {
        self.inner
            .options
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the options named in `patch` (a JSON object). Faults are changed through their
    /// own operations, so `faults` is refused here.
    pub fn patch_options(&self, patch: &Value) -> Result<Options> {
        if patch.get("faults").is_some() {
            return Err(crate::error::SimError::InvalidOption(
                "faults are changed through the fault operations (/_admin/faults)".into(),
            ));
        }
        let mut guard = self
            .inner
            .options
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let patched = guard.patched(patch)?;
        *guard = Arc::new(patched.clone());
        Ok(patched)
    }

    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64> {
        lock(&self.inner.faults).add(spec)
    }

    pub fn remove_fault(&self, id: u64) -> bool {
        lock(&self.inner.faults).remove(id)
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    pub fn faults(&self) -> Vec<ActiveFault> {
        lock(&self.inner.faults).list()
    }

    /// Log entries after sequence number `since`, oldest first, at most `limit`.
    pub fn request_log(&self, since: u64, limit: usize) -> Vec<LogEntry> {
        lock(&self.inner.journal).entries(since, limit)
    }

    /// The whole retained request log.
    pub fn requests(&self) -> Vec<LogEntry> {
        self.request_log(0, usize::MAX)
    }

    pub fn counters(&self) -> Counters {
        lock(&self.inner.journal).counters()
    }

    /// Empties the request log and the counters.
    pub fn clear_requests(&self) {
        let capacity = self.options().request_log_capacity;
        lock(&self.inner.journal).clear(capacity);
    }

    /// Back to the start: seed data, start-up options and faults, empty log, counters and
    /// rate-limit windows.
    pub fn reset(&self) -> Result<()> {
        let options = self.inner.initial_options.clone();
        let faults = Self::fault_set(&options)?;
        *lock(&self.inner.store) = Store::new(self.inner.initial_data.clone());
        *lock(&self.inner.faults) = faults;
        lock(&self.inner.limiter).clear();
        lock(&self.inner.journal).clear(options.request_log_capacity);
        *self
            .inner
            .options
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(options);
        Ok(())
    }

    /// The account now, in seed form.
    pub fn state(&self) -> StateSnapshot {
        let store = lock(&self.inner.store);
        StateSnapshot {
            counts: store.counts(),
            data: store.to_data(),
        }
    }

    /// The tickets (seed form, with their comments) having a comment whose body contains
    /// `text`: what a benchmark waiting for one alert asks, without copying the whole account
    /// as [`Sim::state`] does in the middle of a storm.
    pub fn tickets_with_comment(&self, text: &str) -> Vec<Ticket> {
        lock(&self.inner.store)
            .tickets
            .values()
            .filter(|t| t.comments.iter().any(|c| c.body.contains(text)))
            .cloned()
            .collect()
    }

    /// Record counts only (cheaper than [`Sim::state`]).
    pub fn counts(&self) -> Counts {
        lock(&self.inner.store).counts()
    }

    /// Runs `f` on the live store (for in-process tests that need more than a snapshot).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(&self.inner.store))
    }

    /// Admits a request under the rate limit, or returns how long until a slot frees up.
    pub(crate) fn check_rate(&self, key: &str, options: &Options) -> Result<(), Duration> {
        lock(&self.inner.limiter).check(
            key,
            options.rate_limit_per_minute,
            Duration::from_secs(options.rate_limit_window_secs),
            Instant::now(),
        )
    }

    pub(crate) fn evaluate_faults(&self, method: &str, endpoint: Option<Endpoint>) -> Verdict {
        lock(&self.inner.faults).evaluate(method, endpoint)
    }

    pub(crate) fn record(&self, entry: LogEntry, rate_limited: bool) {
        lock(&self.inner.journal).record(entry, rate_limited);
    }

    /// Runs one endpoint against the store.
    pub(crate) fn run(
        &self,
        endpoint: Endpoint,
        ids: &[&str],
        query: &Query,
        body: &Value,
        options: &Options,
        denied: &[String],
    ) -> Reply {
        let mut store = lock(&self.inner.store);
        let mut ctx = Ctx {
            store: &mut store,
            options,
            query,
            body,
            ids,
            now: chrono::Utc::now(),
            denied,
        };
        api::handle(endpoint, &mut ctx)
    }
}
