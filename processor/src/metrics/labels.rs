//! The processor's label sets, and the label values known in advance, which
//! [`super::Metrics`] creates at start.

use prometheus_client::encoding::EncodeLabelSet;
use std::time::Duration;
use syncro::ErrorKind;

use crate::billing::outcome::OrgResult;

/// `config_reloads{result}`: [`crate::config::reload`].
pub(super) const RELOAD_RESULTS: [&str; 2] = ["ok", "rejected"];
/// `group_lookups{result}`: `handler/create.rs`.
pub(super) const GROUP_LOOKUP_RESULTS: [&str; 2] = ["found", "none"];
/// `device_lookups{outcome}`: [`crate::handler::enrich::DeviceOutcome`]'s labels.
pub(super) const DEVICE_OUTCOMES: [&str; 5] = ["name", "serial", "mac", "none", "failed"];
/// `contact_lookups{outcome}`: [`crate::handler::contact::ContactOutcome::label`].
pub(super) const CONTACT_OUTCOMES: [&str; 4] = ["found", "created", "none", "failed"];
/// `rmm_alerts{outcome}`: `handler/rmm.rs`.
pub(super) const RMM_OUTCOMES: [&str; 6] =
    ["raised", "found", "cleared", "muted", "skipped", "failed"];
/// `billing_counts{result}`: [`crate::billing::counts`].
pub(super) const BILLING_COUNT_RESULTS: [&str; 3] = ["kept", "older", "undecodable"];
/// `billing_outcomes{outcome}`: every [`OrgResult`].
pub(super) const BILLING_OUTCOMES: [OrgResult; 7] = [
    OrgResult::Updated,
    OrgResult::Unchanged,
    OrgResult::SkippedCountedType,
    OrgResult::MissingSchedule,
    OrgResult::MissingLine,
    OrgResult::NoCount,
    OrgResult::Error,
];
/// `dead_lettered{kind}` known in advance: a message that cannot be decoded, and the Syncro
/// failures without an HTTP status (labelled as [`crate::store::Failure::of`] does). The
/// failures with a status (`syncro_422`, `syncro_401`, ...) appear when they first happen.
pub(super) const DEAD_LETTER_KINDS: [&str; 1] = ["undecodable"];
pub(super) const STATUSLESS_SYNCRO_FAILURES: [ErrorKind; 5] = [
    ErrorKind::Config,
    ErrorKind::Connect,
    ErrorKind::Timeout,
    ErrorKind::ConnectionLost,
    ErrorKind::TooManyPages,
];
/// The urgencies of [`BudgetLabels`], by [`syncro::Priority::urgency`] (0 = critical).
pub(super) const URGENCY: [&str; 5] = ["critical", "high", "medium", "low", "info"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    pub tier: String,
}

impl TierLabels {
    /// The tier of a retry delay, named by its seconds (`30s`), as the retry queue is.
    pub fn of(delay: Duration) -> TierLabels {
        TierLabels {
            tier: format!("{}s", delay.as_secs()),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: String,
}

/// A request class of the shared budget ([`syncro::Class`]) and its urgency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    pub class: String,
    pub urgency: String,
}

impl BudgetLabels {
    pub fn of(priority: &syncro::Priority) -> BudgetLabels {
        BudgetLabels {
            class: priority.class.as_str().to_string(),
            urgency: URGENCY[usize::from(priority.urgency.min(4))].to_string(),
        }
    }
}

/// The `dead_lettered{kind}` (and failure record) label of a Syncro failure: `syncro_` and
/// its HTTP status, or its kind when it has none (`syncro_422`, `syncro_timeout`).
pub fn dead_letter_kind(status_or_kind: &str) -> String {
    format!("syncro_{status_or_kind}")
}
