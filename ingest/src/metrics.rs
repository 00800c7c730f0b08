//! Ingest's Prometheus metrics. Labels are low-cardinality on purpose: `source` is a
//! configured source name (or `_unknown`), `outcome` a stable error code or `accepted`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

/// Label value for requests to a source that is not configured.
pub const UNKNOWN_SOURCE: &str = "_unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub source: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
}

/// The `outcome` label of a request that was accepted.
pub const ACCEPTED: &str = "accepted";

/// One source's series of the families in [`Metrics`]; a clone shares the series.
#[derive(Clone, Debug, Default)]
pub struct SourceCounters {
    /// `requests{source, outcome="accepted"}`.
    pub accepted_requests: Counter,
    /// `alerts_accepted{source}`.
    pub alerts_accepted: Counter,
    /// `billable_counts_accepted{source}`.
    pub counts_accepted: Counter,
    /// `heartbeats{source}`.
    pub heartbeats: Counter,
}

pub struct Metrics {
    pub registry: Registry,
    /// Webhook requests by source and outcome. Each configured source's `accepted` series
    /// exists from the start ([`Metrics::for_source`], as do the other per-source families),
    /// so dashboards read 0, not "no data"; a refusal's series appears with its first refusal
    /// (every error code for every source would be mostly noise).
    pub requests: Family<RequestLabels, Counter>,
    /// Alerts accepted (confirmed by the broker) by source.
    pub alerts_accepted: Family<SourceLabels, Counter>,
    /// Billable-user counts accepted (confirmed by the broker) by source.
    pub counts_accepted: Family<SourceLabels, Counter>,
    /// Signed heartbeats accepted, by source.
    pub heartbeats: Family<SourceLabels, Counter>,
    /// Time from the first publish of a request to the broker's last confirm.
    pub publish_confirm_seconds: Histogram,
    /// Webhook requests being handled right now.
    pub in_flight: Gauge,
    /// 1 while connected to the broker.
    pub broker_connected: Gauge,
    /// Trail steps written to PostgreSQL: the trail writer's own count, copied at scrape time
    /// ([`Metrics::read_trail`]).
    pub trail_written: Counter,
    /// Trail steps dropped because the writer's buffer was full (PostgreSQL away too long).
    pub trail_dropped: Counter,
    /// 1 while the operator state is reachable (migrated, and the trail's last write worked).
    pub postgres_up: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("relay_ingest");
        let requests = Family::<RequestLabels, Counter>::default();
        let alerts_accepted = Family::<SourceLabels, Counter>::default();
        let counts_accepted = Family::<SourceLabels, Counter>::default();
        let heartbeats = Family::<SourceLabels, Counter>::default();
        let publish_confirm_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let in_flight = Gauge::default();
        let broker_connected = Gauge::default();
        let trail_written = Counter::default();
        let trail_dropped = Counter::default();
        let postgres_up = Gauge::default();
        registry.register(
            "requests",
            "Webhook requests by source and outcome",
            requests.clone(),
        );
        registry.register(
            "alerts_accepted",
            "Alerts confirmed by the broker, by source",
            alerts_accepted.clone(),
        );
        registry.register(
            "billable_counts_accepted",
            "Billable-user counts confirmed by the broker, by source",
            counts_accepted.clone(),
        );
        registry.register(
            "heartbeats",
            "Signed heartbeats accepted, by source",
            heartbeats.clone(),
        );
        registry.register(
            "publish_confirm_seconds",
            "Time from publishing a request's alerts to the broker's last confirm",
            publish_confirm_seconds.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Webhook requests being handled",
            in_flight.clone(),
        );
        registry.register(
            "broker_connected",
            "1 while connected to RabbitMQ",
            broker_connected.clone(),
        );
        registry.register(
            "trail_written",
            "Trail steps written to PostgreSQL",
            trail_written.clone(),
        );
        registry.register(
            "trail_dropped",
            "Trail steps dropped because PostgreSQL was away and the buffer full",
            trail_dropped.clone(),
        );
        registry.register(
            "postgres_up",
            "Whether the operator state in PostgreSQL is reachable (1) or not (0)",
            postgres_up.clone(),
        );
        Metrics {
            registry,
            requests,
            alerts_accepted,
            counts_accepted,
            heartbeats,
            publish_confirm_seconds,
            in_flight,
            broker_connected,
            trail_written,
            trail_dropped,
            postgres_up,
        }
    }

    /// The counters of one configured source, looked up once so a request does not build
    /// label strings and search the families to count itself.
    pub fn for_source(&self, source: &str) -> SourceCounters {
        let labels = SourceLabels {
            source: source.to_string(),
        };
        SourceCounters {
            accepted_requests: self
                .requests
                .get_or_create(&RequestLabels {
                    source: source.to_string(),
                    outcome: ACCEPTED.to_string(),
                })
                .clone(),
            alerts_accepted: self.alerts_accepted.get_or_create(&labels).clone(),
            counts_accepted: self.counts_accepted.get_or_create(&labels).clone(),
            heartbeats: self.heartbeats.get_or_create(&labels).clone(),
        }
    }

    /// Copies the trail writer's counts (atomics the writer keeps) into their series. The
    /// counters only move forward, so two scrapes racing cannot make one look reset.
    pub fn read_trail(&self, written: u64, dropped: u64) {
        self.trail_written
            .inner()
            .fetch_max(written, Ordering::Relaxed);
        self.trail_dropped
            .inner()
            .fetch_max(dropped, Ordering::Relaxed);
    }

    /// Counts a request by source and outcome (the path of refusals; an accepted request of a
    /// configured source counts through its [`SourceCounters`]).
    pub fn count_request(&self, source: &str, outcome: &str) {
        self.requests
            .get_or_create(&RequestLabels {
                source: source.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
