//! The billable-user sync's metrics, registered into the processor's registry:
//! `relay_processor_billing_runs_total`, `billing_outcomes_total{outcome}` and
//! `billing_counts_total{result}` (counts consumed: `kept`, `older` or `undecodable`).

use super::sync::Outcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

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

    pub fn count(&self, outcome: Outcome) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str().to_string(),
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
