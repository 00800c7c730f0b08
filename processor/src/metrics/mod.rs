//! The processor's Prometheus metrics, with low-cardinality labels only (routes are templates
//! such as `POST /tickets/{id}/comment`, never ids).
//!
//! A labelled family writes no series until its first label set is used, and a query over a
//! series that does not exist answers "no data", not 0. So every label set known in advance
//! is created at start, in one place (`Metrics::create_known_series`); the dashboard
//! (`deploy/grafana/alert-relay.json`) and the alert rules then see 0 on a fresh worker.
//!
//! [`labels`] holds the label sets and the label values known in advance; this file the
//! families, their registration and the Syncro client's observer.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;
use syncro::{Class, RequestEvent, RequestObserver};

mod labels;

pub use labels::{
    dead_letter_kind, BudgetLabels, KindLabels, OutcomeLabels, RequestLabels, ResultLabels,
    TierLabels,
};
use labels::{
    BILLING_COUNT_RESULTS, BILLING_OUTCOMES, CONTACT_OUTCOMES, DEAD_LETTER_KINDS, DEVICE_OUTCOMES,
    GROUP_LOOKUP_RESULTS, RELOAD_RESULTS, RMM_OUTCOMES, STATUSLESS_SYNCRO_FAILURES, URGENCY,
};

/// Creates the series of `labels` in `family`, at 0.
fn create<L: Clone + std::hash::Hash + Eq, M, C: MetricConstructor<M>>(
    family: &Family<L, M, C>,
    labels: impl IntoIterator<Item = L>,
) {
    for label in labels {
        // The guard is only a read lock on the new series: dropped at once.
        let _ = family.get_or_create(&label);
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

pub struct Metrics {
    pub registry: Registry,
    /// Messages taken from the work queue.
    pub consumed: Counter,
    pub tickets_created: Counter,
    /// Notes added (one note may carry several alerts).
    pub notes_added: Counter,
    /// Alerts that went into a note together with others.
    pub alerts_coalesced: Counter,
    /// Alerts already handled (redelivery, replay, a sender's resend).
    pub duplicates_skipped: Counter,
    /// Alerts of ignored organizations.
    pub ignored: Counter,
    /// Alerts of organizations without a mapping (catch-all customer, or parked).
    pub unmapped: Counter,
    /// Alerts put into the parked queue (`unmapped = "park"`).
    pub parked: Counter,
    /// Parked alerts released to the work queue once their organization was mapped.
    pub released: Counter,
    /// Configuration reloads (SIGHUP), by result: `ok` or `rejected`.
    pub config_reloads: Family<ResultLabels, Counter>,
    /// Alerts whose interrupted Syncro call was found applied when reading Syncro back.
    pub reconciled: Counter,
    /// Leases (on an alert, a group's creation, a fleet task) taken over at once from a
    /// worker that died holding them, instead of waiting for them to expire.
    pub lease_takeovers: Counter,
    /// Times this worker found that Redis had lost its data (or a new deployment's empty
    /// Redis) and started a recovery.
    pub redis_data_losses: Counter,
    /// Times the sentinels named another Redis master and this worker moved to it.
    pub redis_master_changes: Counter,
    /// Groups with no pointer in Redis looked up in Syncro, by result: `found` (its open
    /// ticket takes the alert) or `none` (a ticket is created).
    pub group_lookups: Family<ResultLabels, Counter>,
    /// Alerts found already in a recovered ticket's comments, so not posted again.
    pub already_in_syncro: Counter,
    /// Alerts sent to a retry tier, by its delay (`30s`): each configured tier from the start
    /// ([`Metrics::with_retry_tiers`]).
    pub retried: Family<TierLabels, Counter>,
    /// Alerts dead-lettered, by kind: the kinds without an HTTP status from the start, those
    /// named by a status (`syncro_422`) from their first.
    pub dead_lettered: Family<KindLabels, Counter>,
    /// Syncro requests by route and status. Open-ended (a status is whatever Syncro answers,
    /// or a failure's kind), so no series is created ahead: each appears with its first
    /// request.
    pub syncro_requests: Family<RequestLabels, Counter>,
    /// Every Syncro request of this worker, whatever its route (not exported: the fleet's
    /// status reads it, `syncro_requests_total` has the detail).
    pub requests_made: Counter,
    pub syncro_429: Counter,
    /// Seconds spent waiting for the shared rate limiter.
    pub rate_limit_wait_seconds: Counter<f64>,
    /// Requests of this worker waiting for the shared budget now, by class and urgency.
    pub budget_waiting: Family<BudgetLabels, Gauge>,
    /// Requests of this worker admitted by the shared budget, by class and urgency.
    pub budget_admitted: Family<BudgetLabels, Counter>,
    /// How long each admitted request waited for the shared budget, by class and urgency.
    pub budget_wait_seconds: HistogramFamily<BudgetLabels>,
    /// Alerts held in their group's batch, waiting for their ticket or note (unacknowledged).
    pub held: Gauge,
    /// Held alerts given back to the queue because they waited `max_hold_secs`.
    pub held_released: Counter,
    /// Alerts a silence suppressed.
    pub suppressed: Counter,
    /// 1 while the fleet is paused (as this worker last read it).
    pub paused: Gauge,
    /// 1 while this worker reads the operator state from PostgreSQL.
    pub postgres_up: Gauge,
    /// Silences active now (as this worker last read them).
    pub silences_active: Gauge,
    /// Trail steps written, and dropped because PostgreSQL was away too long.
    pub trail_written: Counter,
    pub trail_dropped: Counter,
    /// From the moment ingest accepted an alert to the moment it was settled here.
    pub processing_seconds: Histogram,
    /// Messages being handled right now.
    pub in_flight: Gauge,
    /// 1 while Redis answers.
    pub redis_up: Gauge,
    /// New tickets left without their organization's contract because the account ignores
    /// `contract_id` (see [`crate::handler::enrich`]).
    pub contract_ignored: Counter,
    /// 1 once this worker found that the account ignores `contract_id` on tickets.
    pub contract_unsupported: Gauge,
    /// Devices named by alerts of new tickets, by outcome: `name`, `serial`, `mac` (matched
    /// by), `none`, `failed` (the asset list could not be read).
    pub device_lookups: Family<OutcomeLabels, Counter>,
    /// Contacts looked up for new tickets, by outcome (found, created, none, failed).
    pub contact_lookups: Family<OutcomeLabels, Counter>,
    /// RMM alerts on assets, by what was done (raised, found, cleared, muted, skipped,
    /// failed).
    pub rmm_alerts: Family<OutcomeLabels, Counter>,
    /// The billable-user sync's runs, outcomes and counts.
    pub billing: BillingMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("relay_processor");
        let m = Metrics {
            consumed: Counter::default(),
            tickets_created: Counter::default(),
            notes_added: Counter::default(),
            alerts_coalesced: Counter::default(),
            duplicates_skipped: Counter::default(),
            ignored: Counter::default(),
            unmapped: Counter::default(),
            parked: Counter::default(),
            released: Counter::default(),
            config_reloads: Family::default(),
            reconciled: Counter::default(),
            lease_takeovers: Counter::default(),
            redis_data_losses: Counter::default(),
            redis_master_changes: Counter::default(),
            group_lookups: Family::default(),
            already_in_syncro: Counter::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            syncro_requests: Family::default(),
            requests_made: Counter::default(),
            syncro_429: Counter::default(),
            rate_limit_wait_seconds: Counter::default(),
            budget_waiting: Family::default(),
            budget_admitted: Family::default(),
            budget_wait_seconds: Family::new_with_constructor(wait_histogram),
            held: Gauge::default(),
            held_released: Counter::default(),
            suppressed: Counter::default(),
            paused: Gauge::default(),
            postgres_up: Gauge::default(),
            silences_active: Gauge::default(),
            trail_written: Counter::default(),
            trail_dropped: Counter::default(),
            processing_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            in_flight: Gauge::default(),
            redis_up: Gauge::default(),
            contract_ignored: Counter::default(),
            contract_unsupported: Gauge::default(),
            device_lookups: Family::default(),
            contact_lookups: Family::default(),
            rmm_alerts: Family::default(),
            billing: BillingMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "consumed",
            "Messages taken from the work queue",
            m.consumed.clone(),
        );
        registry.register(
            "tickets_created",
            "Syncro tickets created",
            m.tickets_created.clone(),
        );
        registry.register("notes_added", "Syncro notes added", m.notes_added.clone());
        registry.register(
            "alerts_coalesced",
            "Alerts delivered in a note shared with other alerts",
            m.alerts_coalesced.clone(),
        );
        registry.register(
            "duplicates_skipped",
            "Alerts already handled, acknowledged without a Syncro call",
            m.duplicates_skipped.clone(),
        );
        registry.register(
            "ignored",
            "Alerts of ignored organizations",
            m.ignored.clone(),
        );
        registry.register(
            "unmapped",
            "Alerts of organizations without a mapping (catch-all customer, or parked)",
            m.unmapped.clone(),
        );
        registry.register(
            "parked",
            "Alerts of unmapped organizations put into the parked queue",
            m.parked.clone(),
        );
        registry.register(
            "released",
            "Parked alerts released to the work queue once their organization was mapped",
            m.released.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads by result (ok, rejected)",
            m.config_reloads.clone(),
        );
        registry.register(
            "reconciled",
            "Interrupted Syncro calls found applied by reading Syncro back",
            m.reconciled.clone(),
        );
        registry.register(
            "redis_data_losses",
            "Losses of Redis's data noticed (a missing epoch marker): a recovery started",
            m.redis_data_losses.clone(),
        );
        registry.register(
            "redis_master_changes",
            "Times the sentinels named another Redis master and this worker moved to it",
            m.redis_master_changes.clone(),
        );
        registry.register(
            "group_lookups",
            "Groups without a pointer in Redis looked up in Syncro, by result",
            m.group_lookups.clone(),
        );
        registry.register(
            "already_in_syncro",
            "Alerts found already in a recovered ticket's comments, not posted again",
            m.already_in_syncro.clone(),
        );
        registry.register(
            "lease_takeovers",
            "Leases taken over from a worker that died holding them",
            m.lease_takeovers.clone(),
        );
        registry.register("retried", "Alerts sent to a retry tier", m.retried.clone());
        registry.register(
            "dead_lettered",
            "Alerts sent to the dead-letter queue, by error kind",
            m.dead_lettered.clone(),
        );
        registry.register(
            "syncro_requests",
            "Syncro requests by route and status",
            m.syncro_requests.clone(),
        );
        registry.register("syncro_429", "Syncro 429 answers", m.syncro_429.clone());
        registry.register(
            "rate_limit_wait_seconds",
            "Time spent waiting for the shared Syncro rate limiter",
            m.rate_limit_wait_seconds.clone(),
        );
        registry.register(
            "budget_waiting",
            "Syncro requests waiting for the shared budget, by class and urgency",
            m.budget_waiting.clone(),
        );
        registry.register(
            "budget_admitted",
            "Syncro requests admitted by the shared budget, by class and urgency",
            m.budget_admitted.clone(),
        );
        registry.register(
            "budget_wait_seconds",
            "Time each Syncro request waited for the shared budget, by class and urgency",
            m.budget_wait_seconds.clone(),
        );
        registry.register(
            "held",
            "Alerts held unacknowledged in their group's batch, waiting for their ticket or note",
            m.held.clone(),
        );
        registry.register(
            "held_released",
            "Held alerts given back to the queue after waiting max_hold_secs",
            m.held_released.clone(),
        );
        registry.register(
            "suppressed",
            "Alerts a silence suppressed",
            m.suppressed.clone(),
        );
        registry.register(
            "paused",
            "1 while the fleet is paused (alerts wait in RabbitMQ)",
            m.paused.clone(),
        );
        registry.register(
            "postgres_up",
            "1 while this worker reads the operator state from PostgreSQL",
            m.postgres_up.clone(),
        );
        registry.register(
            "silences_active",
            "Silences active now, as this worker last read them",
            m.silences_active.clone(),
        );
        registry.register(
            "trail_written",
            "Trail steps written to PostgreSQL",
            m.trail_written.clone(),
        );
        registry.register(
            "trail_dropped",
            "Trail steps dropped because PostgreSQL was away longer than the buffer lasts",
            m.trail_dropped.clone(),
        );
        registry.register(
            "processing_seconds",
            "Time from ingest's acceptance of an alert to its settlement",
            m.processing_seconds.clone(),
        );
        registry.register("in_flight", "Messages being handled", m.in_flight.clone());
        registry.register("redis_up", "1 while Redis answers", m.redis_up.clone());
        registry.register(
            "contract_ignored",
            "New tickets left without their contract because the account ignores contract_id",
            m.contract_ignored.clone(),
        );
        registry.register(
            "contract_unsupported",
            "1 once this worker found that the account ignores contract_id on tickets",
            m.contract_unsupported.clone(),
        );
        registry.register(
            "device_lookups",
            "Devices named by alerts of new tickets, by outcome (name, serial, mac, none, failed)",
            m.device_lookups.clone(),
        );
        registry.register(
            "contact_lookups",
            "Contacts looked up for new tickets by the alert's user, by outcome (found, created, \
             none, failed)",
            m.contact_lookups.clone(),
        );
        registry.register(
            "rmm_alerts",
            "Syncro RMM alerts on assets, by outcome (raised, found, cleared, muted, skipped, \
             failed)",
            m.rmm_alerts.clone(),
        );
        m.billing.register(&mut registry);
        let m = Metrics { registry, ..m };
        m.create_known_series();
        m
    }

    /// The metrics of a worker whose retry tiers are `retry_tiers`: [`Metrics::new`], with
    /// `retried{tier}` created for each tier.
    pub fn with_retry_tiers(retry_tiers: &[Duration]) -> Metrics {
        let m = Metrics::new();
        create(&m.retried, retry_tiers.iter().map(|d| TierLabels::of(*d)));
        m
    }

    /// Creates, at 0, every series whose labels are known in advance: outcomes and results,
    /// dead-letter kinds without a status, the budget's classes and urgencies, billing's
    /// outcomes. Families whose labels are open-ended stay empty until used:
    /// `syncro_requests{route,status}` (a status is whatever Syncro answers) and the
    /// dead-letter kinds named by a status; `retried{tier}` needs the configuration
    /// ([`Metrics::with_retry_tiers`]).
    fn create_known_series(&self) {
        let results = |values: &'static [&'static str]| {
            values.iter().map(|v| ResultLabels {
                result: v.to_string(),
            })
        };
        let outcomes = |values: &'static [&'static str]| {
            values.iter().map(|v| OutcomeLabels {
                outcome: v.to_string(),
            })
        };
        create(&self.config_reloads, results(&RELOAD_RESULTS));
        create(&self.group_lookups, results(&GROUP_LOOKUP_RESULTS));
        create(&self.device_lookups, outcomes(&DEVICE_OUTCOMES));
        create(&self.contact_lookups, outcomes(&CONTACT_OUTCOMES));
        create(&self.rmm_alerts, outcomes(&RMM_OUTCOMES));
        create(&self.billing.counts, results(&BILLING_COUNT_RESULTS));
        create(
            &self.billing.outcomes,
            BILLING_OUTCOMES.iter().map(|o| OutcomeLabels {
                outcome: o.as_str().to_string(),
            }),
        );
        let kinds = DEAD_LETTER_KINDS.iter().map(|k| k.to_string()).chain(
            STATUSLESS_SYNCRO_FAILURES
                .iter()
                .map(|k| dead_letter_kind(k.as_str())),
        );
        create(&self.dead_lettered, kinds.map(|kind| KindLabels { kind }));
        let budget = || {
            Class::ALL.iter().flat_map(|class| {
                URGENCY.iter().map(|urgency| BudgetLabels {
                    class: class.as_str().to_string(),
                    urgency: urgency.to_string(),
                })
            })
        };
        create(&self.budget_waiting, budget());
        create(&self.budget_admitted, budget());
        create(&self.budget_wait_seconds, budget());
    }

    /// Counts one device lookup under `outcome`.
    pub fn contact_lookup(&self, outcome: &str) {
        self.contact_lookups
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn rmm_alert(&self, outcome: &str) {
        self.rmm_alerts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn device_lookup(&self, outcome: &str) {
        self.device_lookups
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl RequestObserver for Metrics {
    fn observe(&self, event: &RequestEvent) {
        let status = event.status_label();
        if event.status == Some(429) {
            self.syncro_429.inc();
        }
        self.requests_made.inc();
        self.syncro_requests
            .get_or_create(&RequestLabels {
                route: event.route.to_string(),
                status,
            })
            .inc();
    }
}

/// The billable-user sync's metrics: `billing_runs_total`, `billing_outcomes_total{outcome}`
/// and `billing_counts_total{result}` (counts consumed: `kept`, `older` or `undecodable`).
#[derive(Debug, Default)]
pub struct BillingMetrics {
    /// Sync runs started (the lease was taken).
    pub runs: Counter,
    /// Organizations handled, by outcome.
    pub outcomes: Family<OutcomeLabels, Counter>,
    /// Counts taken from the queue, by what became of them.
    pub counts: Family<ResultLabels, Counter>,
}

impl BillingMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("billing_runs", "Billable-user sync runs", self.runs.clone());
        registry.register(
            "billing_outcomes",
            "Organizations handled by the billable-user sync, by outcome",
            self.outcomes.clone(),
        );
        registry.register(
            "billing_counts",
            "Billable-user counts consumed: kept, older (a newer one was stored) or undecodable",
            self.counts.clone(),
        );
    }

    pub fn count(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn count_result(&self, result: &str) {
        self.counts
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_worker_exports_its_known_series_at_zero() {
        let text = Metrics::with_retry_tiers(&[Duration::from_secs(30)]).encode();
        for sample in [
            r#"relay_processor_retried_total{tier="30s"} 0"#,
            r#"relay_processor_dead_lettered_total{kind="undecodable"} 0"#,
            r#"relay_processor_dead_lettered_total{kind="syncro_timeout"} 0"#,
            r#"relay_processor_budget_waiting{class="create",urgency="critical"} 0"#,
            r#"relay_processor_budget_admitted_total{class="background",urgency="info"} 0"#,
            r#"relay_processor_budget_wait_seconds_count{class="note",urgency="low"} 0"#,
            r#"relay_processor_billing_outcomes_total{outcome="missing_line"} 0"#,
            r#"relay_processor_rmm_alerts_total{outcome="raised"} 0"#,
        ] {
            assert!(text.contains(sample), "{sample} missing from:\n{text}");
        }
        assert!(
            !text.contains("relay_processor_syncro_requests_total{"),
            "routes and statuses are open-ended: none until a request is made"
        );
    }
}
