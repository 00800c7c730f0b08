//! `[contracts]`: contracts and devices on new tickets: whether to add the organization's
//! contract, whether to attach the matching asset, how long asset lists are cached.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default of `contracts.asset_cache_secs`.
pub(crate) const DEFAULT_ASSET_CACHE_SECS: u64 = 900;

/// Longest `contracts.asset_cache_secs` accepted: a day-old asset list misses new machines.
pub(crate) const MAX_ASSET_CACHE_SECS: u64 = 86_400;

/// `[contracts]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractsConfig {
    /// The wizard's "Add Agreements / Contracts to Tickets" toggle.
    pub add_to_tickets: bool,
    /// Attach the customer's asset matching the alert's device to new tickets.
    pub attach_devices: bool,
    /// How long a customer's asset list is reused before it is read again.
    pub asset_cache_secs: u64,
    /// Organization id → the Syncro contract of its tickets.
    pub organizations: BTreeMap<String, i64>,
}

impl Default for ContractsConfig {
    fn default() -> Self {
        ContractsConfig {
            add_to_tickets: false,
            attach_devices: true,
            asset_cache_secs: DEFAULT_ASSET_CACHE_SECS,
            organizations: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContracts {
    #[serde(default)]
    add_to_tickets: bool,
    #[serde(default = "attach_devices_by_default")]
    attach_devices: bool,
    #[serde(default = "default_cache_secs")]
    asset_cache_secs: u64,
    #[serde(default)]
    organizations: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrganization {
    contract_id: Option<i64>,
}

pub(crate) fn attach_devices_by_default() -> bool {
    true
}

pub(crate) fn default_cache_secs() -> u64 {
    DEFAULT_ASSET_CACHE_SECS
}

impl ContractsConfig {
    /// Parses `[contracts]` (absent: the defaults), pushing every problem. `mapping` is the
    /// `[mapping]` section's organization → customer map when it parsed, so a contract can be
    /// tied to a mapped organization; `ignored` its ignored organizations. On problems the
    /// defaults are returned (the configuration is rejected anyway).
    pub fn from_section(
        section: &Option<toml::Table>,
        mapped: Option<&BTreeMap<String, i64>>,
        ignored: Option<&std::collections::BTreeSet<String>>,
        problems: &mut Vec<String>,
    ) -> ContractsConfig {
        let Some(table) = section else {
            return ContractsConfig::default();
        };
        let raw: RawContracts = match toml::Value::Table(table.clone()).try_into() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(crate::config::describe_toml_error(
                    "contracts",
                    &e.to_string(),
                ));
                return ContractsConfig::default();
            }
        };
        let before = problems.len();
        if !(1..=MAX_ASSET_CACHE_SECS).contains(&raw.asset_cache_secs) {
            problems.push(format!(
                "contracts.asset_cache_secs: must be between 1 and {MAX_ASSET_CACHE_SECS}"
            ));
        }
        let mut organizations = BTreeMap::new();
        for (org, value) in raw.organizations {
            let key = format!("contracts.organizations[{org:?}]");
            let entry: RawOrganization = match value.try_into() {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(crate::config::describe_toml_error(&key, &e.to_string()));
                    continue;
                }
            };
            if ignored.is_some_and(|i| i.contains(&org)) {
                problems.push(format!(
                    "{key}: the organization is in mapping.ignored_organizations; its alerts \
                     make no tickets"
                ));
            } else if mapped.is_some_and(|m| !m.contains_key(&org)) {
                problems.push(format!(
                    "{key}: the organization is not in mapping.organizations; map it to its \
                     Syncro customer first (a contract belongs to one customer)"
                ));
            }
            match entry.contract_id {
                None => problems.push(format!("{key}.contract_id: required")),
                Some(id) if id <= 0 => problems.push(format!(
                    "{key}.contract_id: must be a Syncro id (a positive integer)"
                )),
                Some(id) => {
                    organizations.insert(org, id);
                }
            }
        }
        if raw.add_to_tickets && organizations.is_empty() && problems.len() == before {
            problems.push(
                "contracts.add_to_tickets: on, but no organization has a contract; add \
                 [contracts.organizations.\"<org id>\"] contract_id = <Syncro contract id>"
                    .into(),
            );
        }
        if problems.len() != before {
            return ContractsConfig::default();
        }
        ContractsConfig {
            add_to_tickets: raw.add_to_tickets,
            attach_devices: raw.attach_devices,
            asset_cache_secs: raw.asset_cache_secs,
            organizations,
        }
    }

    /// The contract new tickets of `organization` carry, when the toggle is on.
    pub fn contract_for(&self, organization: &str) -> Option<i64> {
        self.add_to_tickets
            .then(|| self.organizations.get(organization).copied())
            .flatten()
    }

    pub fn asset_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.asset_cache_secs)
    }
}
