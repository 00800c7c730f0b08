//! Enriching new tickets (issue 6): the organization's Syncro contract, and the customer's
//! asset matching the device an alert names.
//!
//! - [`ContractsConfig`]: the `[contracts]` section, parsed and validated here (config.rs only
//!   holds the result).
//! - [`Enricher`]: a worker's state for enrichment: the per-customer asset cache and what it
//!   learnt about the account's handling of `contract_id`.
//! - [`match_device`]: the pure device → asset matching (name, then serial, then MAC).
//!
//! # Contracts
//! Syncro documents no writable `contract_id` on tickets (syncro-api.md §3.8). The contract
//! is sent on `POST /tickets`; when the answer does not show it, it is set with
//! `PUT /tickets/{id}` and read back with `GET /tickets/{id}`. An account that drops it is
//! reported once per worker (a warning and the `contract_unsupported` gauge), every ticket
//! left without its contract counts in `contract_ignored_total`, and later tickets skip the
//! PUT and GET. Nothing here ever fails an alert or posts twice: the ticket exists and is
//! recorded before the follow-up starts.
//!
//! # Devices
//! An alert's `device` is matched against the customer's assets: exact name first (case
//! ignored), then `asset_serial`, then MAC address (separators `-`, `:`, `.` stripped, lower
//! case; found in `properties.kabuto_information.network_adapters[].physical_address`,
//! `properties.kabuto_information.general.mac[]` and `properties.mac`). A criterion that
//! matches several assets decides nothing and the next one is tried. Asset lists are read
//! whole (paged, through the shared rate limiter like every Syncro call) and cached per
//! customer for `asset_cache_secs`. Only alerts of mapped organizations are matched: the
//! catch-all customer's assets belong to nobody the alert is about.
//!
//! When the lookup fails (Syncro error, timeout) the ticket is created without an asset and
//! its first comment says so: the asset is context, the ticket is the alert, and a retry would
//! delay a security alert for an enrichment (a failed list is not cached, so the next ticket
//! tries again).

use crate::config::ContractsConfig;
use crate::metrics::Metrics;
use crate::plan::text::describe_device;
use shared::alert::{Alert, Device};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use syncro::{normalize_mac, Asset, AssetFilter, SyncroClient, Ticket, TicketUpdate};

/// Page size asked for when listing assets (Syncro's cap, unconfirmed, is 100).
pub(crate) const ASSET_PAGE_SIZE: u32 = 100;

/// An asset reduced to what matching needs (RMM properties can be large; the cache keeps
/// only this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetKey {
    pub id: i64,
    pub name: Option<String>,
    pub serial: Option<String>,
    /// Normalised (12 lower-case hex digits).
    pub macs: Vec<String>,
}

impl From<&Asset> for AssetKey {
    fn from(asset: &Asset) -> Self {
        AssetKey {
            id: asset.id,
            name: asset.name.clone(),
            serial: asset.asset_serial.clone(),
            macs: asset.mac_addresses(),
        }
    }
}

/// Which criterion matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Name,
    Serial,
    Mac,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Name => "name",
            MatchedBy::Serial => "serial",
            MatchedBy::Mac => "MAC",
        }
    }
}

/// What became of an alert's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOutcome {
    /// Attach this asset.
    Matched {
        asset_id: i64,
        name: Option<String>,
        by: MatchedBy,
    },
    /// No asset of the customer is this device (`ambiguous` names criteria that matched
    /// several assets).
    NoMatch {
        assets: usize,
        ambiguous: Vec<MatchedBy>,
    },
    /// The customer's assets could not be read.
    LookupFailed { error: String },
}

impl DeviceOutcome {
    /// The metric label.
    fn label(&self) -> &'static str {
        match self {
            DeviceOutcome::Matched { by, .. } => match by {
                MatchedBy::Name => "name",
                MatchedBy::Serial => "serial",
                MatchedBy::Mac => "mac",
            },
            DeviceOutcome::NoMatch { .. } => "none",
            DeviceOutcome::LookupFailed { .. } => "failed",
        }
    }

    /// The first comment's `Syncro asset:` line (after its `Device:` line).
    pub fn comment_line(&self, device: &str) -> String {
        match self {
            DeviceOutcome::Matched { asset_id, name, by } => format!(
                "{} (asset {asset_id}), matched by {}, attached to this ticket",
                name.as_deref().unwrap_or("(unnamed)"),
                by.as_str()
            ),
            DeviceOutcome::NoMatch { assets, ambiguous } => {
                let mut text = format!(
                    "none attached: no asset of this customer ({assets} assets) matches the \
                     device the alert reported, {device}"
                );
                if !ambiguous.is_empty() {
                    let names: Vec<&str> = ambiguous.iter().map(|b| b.as_str()).collect();
                    text.push_str(&format!(
                        " (several assets share its {}, so none was chosen)",
                        names.join(" and ")
                    ));
                }
                text
            }
            DeviceOutcome::LookupFailed { error } => format!(
                "none attached: the customer's assets could not be read ({error}); the device \
                 the alert reported is {device}"
            ),
        }
    }

    pub fn asset_ids(&self) -> Vec<i64> {
        match self {
            DeviceOutcome::Matched { asset_id, .. } => vec![*asset_id],
            _ => Vec::new(),
        }
    }
}

/// Matches `device` against `assets`: exact name (case ignored), then serial (case ignored),
/// then MAC; the first criterion matching exactly one asset wins.
pub fn match_device(device: &Device, assets: &[AssetKey]) -> DeviceOutcome {
    // What the alert gives, compared the way each criterion compares.
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(|v| v.trim().to_lowercase())
            .filter(|v| !v.is_empty())
    };
    let wanted = [
        (MatchedBy::Name, text(&device.name)),
        (MatchedBy::Serial, text(&device.serial)),
        (
            MatchedBy::Mac,
            device.mac.as_deref().and_then(normalize_mac),
        ),
    ];
    let same = |field: &Option<String>, wanted: &str| {
        field
            .as_deref()
            .is_some_and(|f| f.trim().to_lowercase() == wanted)
    };
    let mut ambiguous = Vec::new();
    for (by, value) in wanted {
        let Some(value) = value else { continue };
        let found: Vec<&AssetKey> = assets
            .iter()
            .filter(|a| match by {
                MatchedBy::Name => same(&a.name, &value),
                MatchedBy::Serial => same(&a.serial, &value),
                MatchedBy::Mac => a.macs.contains(&value),
            })
            .collect();
        match found.as_slice() {
            [one] => {
                return DeviceOutcome::Matched {
                    asset_id: one.id,
                    name: one.name.clone(),
                    by,
                }
            }
            [] => {}
            _ => ambiguous.push(by),
        }
    }
    DeviceOutcome::NoMatch {
        assets: assets.len(),
        ambiguous,
    }
}

/// Whether an alert's device names anything to match on.
pub fn names_something(device: &Device) -> bool {
    [&device.name, &device.serial, &device.mac]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
}

/// What a new ticket gets from [`Enricher::prepare`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// The organization's contract (sent on create, confirmed after).
    pub contract_id: Option<i64>,
    /// The matched asset, if any.
    pub asset_ids: Vec<i64>,
    /// The first comment's `Syncro asset:` line, when the alert named a device.
    pub asset_line: Option<String>,
    /// The alert's user as the ticket's contact ([`super::contact`]).
    pub contact_id: Option<i64>,
}

/// One customer's cached asset list.
pub(crate) struct CachedAssets {
    fetched: Instant,
    assets: Arc<Vec<AssetKey>>,
}

/// Per customer: a slot whose async lock makes concurrent creations for one customer share
/// one fetch.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<CachedAssets>>>;

/// A worker's enrichment state. Configuration is passed to every call (never kept), so a
/// reloaded configuration takes effect at once.
#[derive(Default)]
pub struct Enricher {
    assets: Mutex<HashMap<i64, Slot>>,
    /// Set once this worker saw the account drop `contract_id`: warned, and later tickets
    /// skip the PUT and read-back that cannot succeed.
    contract_ignored: AtomicBool,
}

impl Enricher {
    pub fn new() -> Enricher {
        Enricher::default()
    }

    /// The contract and asset of a new ticket for `alert`, routed to `customer_id`
    /// (`mapped`: by its organization's mapping, not the catch-all). Never fails.
    pub async fn prepare(
        &self,
        client: &SyncroClient,
        metrics: &Metrics,
        config: &ContractsConfig,
        customer_id: i64,
        mapped: bool,
        alert: &Alert,
    ) -> Enrichment {
        if !mapped {
            return Enrichment::default();
        }
        let mut out = Enrichment {
            contract_id: config.contract_for(&alert.organization.id),
            ..Enrichment::default()
        };
        if let Some(device) = alert
            .device
            .as_ref()
            .filter(|d| config.attach_devices && names_something(d))
        {
            let outcome = self
                .device(client, metrics, config, customer_id, device)
                .await;
            out.asset_ids = outcome.asset_ids();
            out.asset_line = Some(outcome.comment_line(&describe_device(device)));
        }
        out
    }

    /// The customer's assets, from the cache when younger than `ttl`, else read from Syncro
    /// (all pages). A failure is not cached.
    pub async fn assets(
        &self,
        client: &SyncroClient,
        customer_id: i64,
        ttl: Duration,
    ) -> syncro::Result<Arc<Vec<AssetKey>>> {
        let slot = {
            // Poisoning needs a panic while the map is held, which nothing here can do.
            let mut map = self.assets.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(customer_id).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.fetched.elapsed() < ttl) {
            return Ok(c.assets.clone());
        }
        let filter = AssetFilter {
            customer_id: Some(customer_id),
            per_page: Some(ASSET_PAGE_SIZE),
            ..AssetFilter::default()
        };
        let listed = client.all_assets(&filter).await?;
        // Never another customer's machine, even if an account ignored the filter.
        let assets: Vec<AssetKey> = listed
            .iter()
            .filter(|a| a.customer_id == Some(customer_id))
            .map(AssetKey::from)
            .collect();
        tracing::debug!(
            customer_id,
            assets = assets.len(),
            "read the customer's assets"
        );
        let assets = Arc::new(assets);
        *cached = Some(CachedAssets {
            fetched: Instant::now(),
            assets: assets.clone(),
        });
        Ok(assets)
    }

    /// The asset for `device` among the customer's assets (counted in
    /// `device_lookups_total{outcome}`).
    pub async fn device(
        &self,
        client: &SyncroClient,
        metrics: &Metrics,
        config: &ContractsConfig,
        customer_id: i64,
        device: &Device,
    ) -> DeviceOutcome {
        let outcome = match self
            .assets(client, customer_id, config.asset_cache_ttl())
            .await
        {
            Ok(assets) => match_device(device, &assets),
            Err(error) => {
                tracing::warn!(customer_id, error = %error, "could not read the customer's assets; the ticket gets no asset");
                DeviceOutcome::LookupFailed {
                    error: error.to_string(),
                }
            }
        };
        metrics.device_lookup(outcome.label());
        outcome
    }

    /// After a ticket was created with `contract_id = wanted`: makes sure it carries it
    /// (PUT, then GET to read it back, when the creation's answer does not show it), and
    /// reports an account that drops it. Never fails: the ticket exists either way.
    pub async fn confirm_contract(
        &self,
        client: &SyncroClient,
        metrics: &Metrics,
        ticket: &Ticket,
        wanted: i64,
    ) {
        if ticket.contract_id == Some(wanted) {
            return;
        }
        if self.contract_ignored.load(Ordering::Relaxed) {
            metrics.contract_ignored.inc();
            tracing::debug!(
                ticket_id = ticket.id,
                contract_id = wanted,
                "ticket left without its contract (the account ignores contract_id)"
            );
            return;
        }
        let update = TicketUpdate {
            contract_id: Some(wanted),
            ..TicketUpdate::default()
        };
        if let Err(error) = client.update_ticket(ticket.id, &update).await {
            tracing::warn!(ticket_id = ticket.id, contract_id = wanted, error = %error, "could not set the ticket's contract");
            return;
        }
        match client.get_ticket(ticket.id).await {
            Ok(read) if read.contract_id == Some(wanted) => {
                tracing::info!(
                    ticket_id = ticket.id,
                    contract_id = wanted,
                    "contract set on the ticket by an update"
                );
            }
            Ok(read) => {
                metrics.contract_ignored.inc();
                if self.notice_ignored() {
                    metrics.contract_unsupported.set(1);
                    tracing::warn!(
                        ticket_id = ticket.id,
                        contract_id = wanted,
                        read_back = ?read.contract_id,
                        "the Syncro account ignores contract_id on tickets: tickets are \
                         created without their contract (said once per worker; counted in \
                         contract_ignored_total)"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(ticket_id = ticket.id, contract_id = wanted, error = %error, "could not read the ticket back to check its contract");
            }
        }
    }

    /// Records that the account ignores `contract_id`; true only the first time.
    fn notice_ignored(&self) -> bool {
        !self.contract_ignored.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{sections, GOOD};
    use std::collections::BTreeMap;

    fn key(id: i64, name: &str, serial: &str, macs: &[&str]) -> AssetKey {
        AssetKey {
            id,
            name: Some(name.into()),
            serial: Some(serial.into()),
            macs: macs.iter().filter_map(|m| normalize_mac(m)).collect(),
        }
    }

    fn device(name: Option<&str>, serial: Option<&str>, mac: Option<&str>) -> Device {
        Device {
            name: name.map(Into::into),
            serial: serial.map(Into::into),
            mac: mac.map(Into::into),
        }
    }

    fn assets() -> Vec<AssetKey> {
        vec![
            key(1, "WS-07", "5CG1", &["F8-75-A4-19-C6-22"]),
            key(2, "ws-08", "5CG2", &["F8-75-A4-19-C6-23"]),
            key(3, "Kiosk", "K-1", &["00:50:56:9a:12:01"]),
            key(4, "Kiosk", "K-2", &["00:50:56:9a:12:02"]),
        ]
    }

    fn matched(outcome: &DeviceOutcome) -> Option<(i64, MatchedBy)> {
        match outcome {
            DeviceOutcome::Matched { asset_id, by, .. } => Some((*asset_id, *by)),
            _ => None,
        }
    }

    #[test]
    fn name_wins_over_serial_and_mac_and_ignores_case() {
        let d = device(Some(" WS-08 "), Some("5CG1"), Some("F8-75-A4-19-C6-22"));
        assert_eq!(
            matched(&match_device(&d, &assets())),
            Some((2, MatchedBy::Name))
        );
    }

    #[test]
    fn serial_then_mac_decide_when_the_name_does_not() {
        let d = device(Some("unknown"), Some("5cg2"), None);
        assert_eq!(
            matched(&match_device(&d, &assets())),
            Some((2, MatchedBy::Serial))
        );
        for mac in ["f875a419c622", "F8:75:A4:19:C6:22", "f875.a419.c622"] {
            let d = device(None, None, Some(mac));
            assert_eq!(
                matched(&match_device(&d, &assets())),
                Some((1, MatchedBy::Mac)),
                "{mac}"
            );
        }
    }

    #[test]
    fn an_ambiguous_name_falls_through_and_is_reported() {
        let d = device(Some("kiosk"), None, Some("00-50-56-9A-12-02"));
        assert_eq!(
            matched(&match_device(&d, &assets())),
            Some((4, MatchedBy::Mac))
        );
        let d = device(Some("kiosk"), None, None);
        let outcome = match_device(&d, &assets());
        assert_eq!(
            outcome,
            DeviceOutcome::NoMatch {
                assets: 4,
                ambiguous: vec![MatchedBy::Name]
            }
        );
        assert!(outcome
            .comment_line("kiosk")
            .contains("several assets share its name"));
    }

    #[test]
    fn no_match_names_the_device() {
        let d = device(Some("LAPTOP-99"), Some("nope"), Some("not-a-mac"));
        let outcome = match_device(&d, &assets());
        assert!(outcome.asset_ids().is_empty());
        assert!(outcome
            .comment_line("LAPTOP-99 (serial nope)")
            .contains("matches the device the alert reported, LAPTOP-99 (serial nope)"));
        assert!(!names_something(&device(Some(" "), None, None)));
        assert!(names_something(&device(None, None, Some("x"))));
    }

    fn parse(text: &str) -> (ContractsConfig, Vec<String>) {
        let s = sections(&format!("{GOOD}\n{text}"));
        let mapping: BTreeMap<String, i64> =
            [("org-42".to_string(), 1), ("org-7".to_string(), 2)].into();
        let ignored = ["org-test".to_string()].into();
        let mut problems = Vec::new();
        let c = ContractsConfig::from_section(
            &s.contracts,
            Some(&mapping),
            Some(&ignored),
            &mut problems,
        );
        (c, problems)
    }

    #[test]
    fn the_section_parses_with_defaults() {
        let (c, problems) = parse("");
        assert!(problems.is_empty());
        assert_eq!(c, ContractsConfig::default());
        assert!(c.attach_devices);
        let (c, problems) = parse(
            "[contracts]\nadd_to_tickets = true\nasset_cache_secs = 60\n\
             [contracts.organizations.\"org-42\"]\ncontract_id = 155001\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.contract_for("org-42"), Some(155_001));
        assert_eq!(c.contract_for("org-7"), None);
        assert_eq!(c.asset_cache_ttl(), Duration::from_secs(60));
        let off = ContractsConfig {
            add_to_tickets: false,
            ..c
        };
        assert_eq!(off.contract_for("org-42"), None, "the toggle is off");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let (_, problems) = parse(
            "[contracts]\nadd_to_tickets = true\nasset_cache_secs = 0\n\
             [contracts.organizations.\"org-42\"]\ncontract_id = 0\n\
             [contracts.organizations.\"org-x\"]\ncontract_id = 5\n\
             [contracts.organizations.\"org-test\"]\ncontract_id = 6\n\
             [contracts.organizations.\"org-7\"]\ncontract = 7\n",
        );
        let all = problems.join("\n");
        for expected in [
            "contracts.asset_cache_secs: must be between 1 and 86400",
            "contracts.organizations[\"org-42\"].contract_id: must be a Syncro id",
            "contracts.organizations[\"org-x\"]: the organization is not in mapping.organizations",
            "contracts.organizations[\"org-test\"]: the organization is in mapping.ignored_organizations",
            "contracts.organizations[\"org-7\"]: unknown field `contract`",
        ] {
            assert!(all.contains(expected), "{expected:?} not in {all}");
        }
        let (_, problems) = parse("[contracts]\nadd_to_tickets = true\n");
        assert!(problems[0].contains("contracts.add_to_tickets: on, but no organization"));
        let (_, problems) = parse("[contracts]\nenabled = true\n");
        assert!(problems[0].starts_with("contracts: unknown field `enabled`"));
    }

    #[test]
    fn an_ignoring_account_is_noticed_once() {
        let e = Enricher::new();
        assert!(e.notice_ignored());
        assert!(!e.notice_ignored());
    }
}
