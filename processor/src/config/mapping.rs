//! `[mapping]`: which Syncro customer an alert's organization belongs to, which are ignored,
//! and what unmapped ones do (catch-all or park); and [`MappingConfig::decide`], the one
//! rule combining the file with the mappings made in the console.
//!
//! # The file decides first
//! An organization the file maps (`organizations`) or ignores (`ignored_organizations`) is
//! decided by the file. The console's mappings (opstate's `console_mappings`, carried here
//! as a snapshot in [`MappingConfig::console`]) decide every other organization. The operator
//! API refuses a console mapping for an organization the file decides; when a later file
//! decides one the console already maps, the file wins and the console's entry has no
//! effect (shown as overridden). Everything that asks "where does this organization go?"
//! asks [`MappingConfig::decide`]: the plan, parking and its release, `relayctl mappings`,
//! `explain`, the operator API.

use super::*;
use opstate::store::mappings::{ConsoleMappings, Target};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

/// What happens to an alert whose organization has no mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unmapped {
    /// A ticket for the catch-all customer, naming the organization (the wizard's rule).
    #[default]
    CatchAll,
    /// Hold the alert in `{prefix}.alerts.parked` until the organization is mapped (or
    /// ignored, in the file or the console); a reload or the console's change then releases
    /// its alerts in order.
    Park,
}

/// `[mapping]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    /// Customer that receives alerts of organizations without a mapping (required, as in
    /// the wizard: no alert is ever dropped for want of a mapping).
    pub catch_all_customer_id: i64,
    /// Organization id (as senders send it, compared exactly) → Syncro customer id.
    pub organizations: BTreeMap<String, i64>,
    /// Organizations whose alerts are acknowledged and dropped (counted, never ticketed).
    pub ignored_organizations: BTreeSet<String>,
    /// What unmapped organizations do: the catch-all customer, or parking.
    pub unmapped: Unmapped,
    /// The console's mappings as last read from the operator state (not from the file;
    /// empty before the first read, so a worker that never reached PostgreSQL acts on the
    /// file alone). Consulted only for organizations the file leaves open.
    pub console: Arc<ConsoleMappings>,
}

/// Who decided an organization's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// `[mapping]` in the configuration file.
    File,
    /// A mapping made in the console (or through `PUT /v1/mappings/{organization}`).
    Console,
}

/// Where an organization's alerts go, and which rule said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Tickets for this customer.
    Mapped { customer_id: i64, by: DecidedBy },
    /// Acknowledged and dropped.
    Ignored { by: DecidedBy },
    /// No mapping: the catch-all customer, or parked (`unmapped = "park"`).
    Unmapped,
}

impl Decision {
    /// The rule, as `explain` and the trail name it: `mapping.organizations["org-42"]`,
    /// `mapping.ignored_organizations`, `console mapping "org-42"`,
    /// `mapping.catch_all_customer_id`.
    pub fn rule(&self, org_id: &str) -> String {
        match self {
            Decision::Mapped {
                by: DecidedBy::File,
                ..
            } => format!("mapping.organizations[{org_id:?}]"),
            Decision::Ignored {
                by: DecidedBy::File,
            } => "mapping.ignored_organizations".into(),
            Decision::Mapped {
                by: DecidedBy::Console,
                ..
            }
            | Decision::Ignored {
                by: DecidedBy::Console,
            } => format!("console mapping {org_id:?}"),
            Decision::Unmapped => "mapping.catch_all_customer_id".into(),
        }
    }
}

impl MappingConfig {
    /// The one rule: the file decides first (mapped, then ignored), then the console's
    /// mappings, else the organization is unmapped.
    pub fn decide(&self, org_id: &str) -> Decision {
        if let Some(&customer_id) = self.organizations.get(org_id) {
            return Decision::Mapped {
                customer_id,
                by: DecidedBy::File,
            };
        }
        if self.ignored_organizations.contains(org_id) {
            return Decision::Ignored {
                by: DecidedBy::File,
            };
        }
        match self.console.get(org_id) {
            Some(Target::Customer { customer_id, .. }) => Decision::Mapped {
                customer_id: *customer_id,
                by: DecidedBy::Console,
            },
            Some(Target::Ignored) => Decision::Ignored {
                by: DecidedBy::Console,
            },
            None => Decision::Unmapped,
        }
    }

    /// Whether the file decides this organization (a console mapping of it has no effect,
    /// and the operator API refuses a new one).
    pub fn file_decides(&self, org_id: &str) -> bool {
        self.organizations.contains_key(org_id) || self.ignored_organizations.contains(org_id)
    }

    /// Whether alerts of this organization wait in the parked queue: parking is on and
    /// nothing maps or ignores the organization. One rule for parking an alert and for
    /// releasing it.
    pub fn parks(&self, org_id: &str) -> bool {
        self.unmapped == Unmapped::Park && self.decide(org_id) == Decision::Unmapped
    }

    /// This configuration with another snapshot of the console's mappings.
    pub fn with_console(&self, console: Arc<ConsoleMappings>) -> MappingConfig {
        MappingConfig {
            console,
            ..self.clone()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMapping {
    catch_all_customer_id: Option<i64>,
    #[serde(default)]
    organizations: BTreeMap<String, i64>,
    #[serde(default)]
    ignored_organizations: Vec<String>,
    #[serde(default)]
    unmapped: Unmapped,
}

pub(crate) fn build_mapping(raw: RawMapping, problems: &mut Vec<String>) -> Option<MappingConfig> {
    let before = problems.len();
    let catch_all = match raw.catch_all_customer_id {
        None => {
            problems.push(
                "mapping.catch_all_customer_id: required; the Syncro customer that receives \
                 alerts of unmapped organizations"
                    .into(),
            );
            None
        }
        Some(id) => positive_id("mapping.catch_all_customer_id", id, problems),
    };
    for (org, customer) in &raw.organizations {
        let key = format!("mapping.organizations[{org:?}]");
        if org.trim().is_empty() || org.trim() != org {
            problems.push(format!(
                "{key}: an organization id must not be empty or start or end with white space"
            ));
        }
        positive_id(&key, *customer, problems);
    }
    let mut ignored = BTreeSet::new();
    for org in raw.ignored_organizations {
        if org.trim().is_empty() || org.trim() != org {
            problems.push(format!(
                "mapping.ignored_organizations: {org:?}: an organization id must not be empty \
                 or start or end with white space"
            ));
        } else if raw.organizations.contains_key(&org) {
            problems.push(format!(
                "mapping.ignored_organizations: {org:?} is also mapped in mapping.organizations; \
                 keep one"
            ));
        } else if !ignored.insert(org.clone()) {
            problems.push(format!(
                "mapping.ignored_organizations: {org:?} is listed twice"
            ));
        }
    }
    match catch_all {
        Some(catch_all_customer_id) if problems.len() == before => Some(MappingConfig {
            catch_all_customer_id,
            organizations: raw.organizations,
            ignored_organizations: ignored,
            unmapped: raw.unmapped,
            console: Arc::default(),
        }),
        _ => None,
    }
}
