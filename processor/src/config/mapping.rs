//! `[mapping]`: which Syncro customer an alert's organization belongs to, which are ignored,
//! and what unmapped ones do (catch-all or park).

use super::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
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
    /// ignored); a configuration reload then releases its alerts in order.
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
}

impl MappingConfig {
    /// Whether alerts of this organization wait in the parked queue: parking is on and
    /// the organization is neither mapped nor ignored. One rule for parking an alert and
    /// for releasing it.
    pub fn parks(&self, org_id: &str) -> bool {
        self.unmapped == Unmapped::Park
            && !self.organizations.contains_key(org_id)
            && !self.ignored_organizations.contains(org_id)
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
        }),
        _ => None,
    }
}
