//! Billable users (issue 6): counts posted by sources, kept per organization, and written once
//! a month onto the organizations' recurring invoices in Syncro.
//!
//! - [`config`]: the validated `[billing]` section.
//! - [`store`]: counts (newest `as_of` wins), per-month outcomes and the month marker in Redis.
//! - [`counts`]: the consumer of `{prefix}.billable-users` that folds counts into Redis.
//! - [`sync`]: one month's run for every organization ([`sync::decide`] is the pure decision,
//!   [`sync::Runner`] reads, applies and records under the fleet-wide lease).
//! - [`scheduler`]: when the month's run is due (sync day and time in the time zone), and the
//!   per-worker loop that starts it; its metrics are in [`crate::metrics::BillingMetrics`].
//!
//! A worker runs [`spawn`]'s tasks beside its alert consumer; `relayctl billing` uses the same
//! [`sync::Runner`].

pub mod counts;
pub mod outcome;
pub mod scheduler;
pub mod store;
pub mod sync;

use crate::config::BillingConfig;
use crate::metrics::Metrics;
use crate::store::Store;
use shared::amqp::Broker;
use std::future::Future;
use std::sync::Arc;
use syncro::SyncroClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A task that is aborted when its handle is dropped, so a cancelled owner (a worker stopped
/// or killed mid-way) leaves nothing running behind it.
pub struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        AbortOnDrop(Some(tokio::spawn(task)))
    }

    /// Waits for the task to end by itself.
    pub async fn join(mut self) {
        // Awaited in place: if this wait is itself cancelled, `Drop` still aborts the task.
        if let Some(handle) = self.0.as_mut() {
            let _ = handle.await;
        }
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// Completes once `stop` turns true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A worker's billing tasks: the count consumer, and the monthly scheduler when the sync is on.
pub struct BillingTasks {
    stop: watch::Sender<bool>,
    tasks: Vec<AbortOnDrop>,
}

impl BillingTasks {
    /// Asks the tasks to stop and waits for them (a run in progress is cut short: it resumes
    /// from its recorded outcomes on the next worker).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(5), task.join())
                .await
                .is_err()
            {
                tracing::warn!("a billing task did not stop in time");
            }
        }
    }
}

/// Starts a worker's billing tasks.
pub fn spawn(
    config: Arc<BillingConfig>,
    store: Store,
    syncro: SyncroClient,
    broker: Broker,
    metrics: Arc<Metrics>,
) -> BillingTasks {
    let (stop, stopped) = watch::channel(false);
    let store = store::BillingStore::new(store);
    let mut tasks = vec![AbortOnDrop::spawn(counts::run(
        broker,
        store.clone(),
        metrics.clone(),
        stopped.clone(),
    ))];
    if config.sync_enabled {
        let runner = sync::Runner {
            config,
            store,
            syncro,
            metrics,
        };
        tasks.push(AbortOnDrop::spawn(scheduler::run(runner, stopped)));
    }
    BillingTasks { stop, tasks }
}
