//! The processor's configuration: worker knobs, account mapping, ticket and note defaults,
//! overrides and grouping, parsed from the raw sections `shared` keeps for us and validated
//! the way the SaaS Alerts → Syncro setup wizard completes its steps (DESIGN.md §5).
//!
//! Every problem is reported at once, each naming its key path (`tickets.priorities`,
//! `overrides.ioc_rule[match="ioc-3"].status`). A section that does not parse (unknown key,
//! wrong type) reports that one problem and is skipped, while the other sections are still
//! checked. No problem ever prints a secret's value.
//!
//! Sections and their keys (defaults in brackets):
//! - `[processor]`: `prefetch` [10000], `drain_timeout_secs` [30], `metrics_listen`
//!   ["127.0.0.1:9091"], `retry_tiers_secs` [5, 30, 120, 600, 3600], `coalesce_window_ms`
//!   [2000], `coalesce_max_alerts` [500], `max_hold_secs` [900], `lock_lease_secs` [30],
//!   `redis_retry_max_backoff_ms` [5000].
//! - `[mapping]`: `catch_all_customer_id` (required), `organizations` (org id → customer id),
//!   `ignored_organizations`, `unmapped` ["catch-all"] or "park" (alerts of unmapped
//!   organizations wait in `{prefix}.alerts.parked` until they are mapped). The console's
//!   mappings decide the organizations the file leaves open ([`MappingConfig::decide`]).
//!
//! SIGHUP reloads every section but `[processor]` and the connection settings, which need a
//! restart (see `startup::reload`).
//! - `[tickets]` (all required): `problem_type`, `ticket_type_id`, `status`,
//!   `assignee_user_id`, `source_tag`, `subject`, `[tickets.priorities]` (one per severity);
//!   optional: `[tickets.contact]` ([`contacts`]: `match_user` [false], `create_missing`
//!   [false], `lookup_timeout_ms` [3000], `cache_secs` [900]) and `[tickets.rmm_alert]`
//!   ([`rmm`]: `enabled` [false], `event_types` [all], `description`, `subject`, `body`
//!   templates, `skip_automation`, `hidden`, `do_not_email` [true], `mute_for`).
//! - `[notes]` (all required): `visibility` (private | public | email), `title`.
//! - `[overrides]`: `ioc_rule`, `respond_rule`, `event_type`: lists of `{ match = "...", <any
//!   ticket field>, priority | priorities, rmm_alert }`.
//! - `[grouping]`: `window_secs` [86400], `on_resolved_ticket` ["new-ticket"],
//!   `reopen_window_secs` [604800], `reopen_status` ["In Progress"], `resolved_alert`
//!   ["note"], `resolve_status` ["Resolved"].
//! - `[contracts]` (parsed in [`crate::handler::enrich`]): `add_to_tickets` [false], `attach_devices`
//!   [true], `asset_cache_secs` [900], `[contracts.organizations."<org id>"]` `contract_id`
//!   (each organization mapped in `mapping.organizations`; at least one when
//!   `add_to_tickets` is on).
//! - `[billing]`: the billable-user sync, see [`crate::config::billing`].
//! - `[redis]` (shared with the other binaries' file, checked here): `url`, the TLS files,
//!   the sentinels; see [`crate::config::redis`].

//!
//! One file per section ([`worker`], [`mapping`], [`tickets`], [`notes`], [`overrides`],
//! [`grouping`], [`contracts`], [`billing`], [`redis`]), each parsing its raw TOML table (or,
//! for `[redis]`, the shared typed section) into a validated value with [`parse`]'s helpers;
//! this file assembles them into [`ProcessorConfig`].
//! [`reload`] swaps the running configuration on SIGHUP; [`checks`] compares it with the
//! Syncro account (`check-config --online`). Nothing here calls Redis or RabbitMQ.

pub mod billing;
pub mod checks;
pub mod contacts;
pub mod contracts;
pub mod grouping;
pub mod mapping;
pub mod notes;
pub mod overrides;
mod parse;
pub mod permissions;
pub mod redis;
pub mod reload;
pub mod rmm;
pub mod tickets;
pub mod worker;

#[cfg(test)]
pub(crate) mod tests;

pub use billing::BillingConfig;
pub use contacts::ContactConfig;
pub use contracts::ContractsConfig;
pub use grouping::*;
pub use mapping::*;
pub use notes::*;
pub use overrides::*;
pub(crate) use parse::describe_toml_error;
use parse::*;
pub use redis::RedisConfig;
pub use rmm::RmmAlertConfig;
pub use tickets::*;
pub use worker::*;

use secrecy::ExposeSecret;
use shared::config::{ProcessorSections, Settings};
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;
#[cfg(test)]
use syncro::ClientConfig;

/// The processor's validated configuration. Build it with [`ProcessorConfig::from_settings`]
/// (everything the worker uses) or [`ProcessorConfig::from_sections`] (only the rules, for
/// `explain`, which never calls Syncro).
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// `[processor]`: how a worker consumes, retries and coalesces.
    pub worker: WorkerConfig,
    /// `[mapping]`: which Syncro customer an alert's organization belongs to.
    pub mapping: MappingConfig,
    /// `[tickets]`: the fields every new ticket gets unless an override says otherwise.
    pub tickets: TicketDefaults,
    /// `[notes]`: how alerts grouped into an existing ticket are added to it.
    pub notes: NoteDefaults,
    /// `[overrides]`: per IOC rule, Respond rule and event type replacements of ticket fields.
    pub overrides: Overrides,
    /// `[grouping]`: how long a subject keeps its ticket, and what closed tickets and
    /// resolved alerts do.
    pub grouping: GroupingConfig,
    /// `[contracts]`: contracts and devices on new tickets (parsed in [`crate::handler::enrich`]).
    pub contracts: crate::config::ContractsConfig,
    /// `[billing]`: the monthly billable-user sync (off when absent).
    pub billing: crate::config::BillingConfig,
}

impl ProcessorConfig {
    /// The processor's configuration and everything else the worker needs from `settings`:
    /// the Syncro connection (URL, token, request budget), Redis, and the common sections.
    pub fn from_settings(settings: &Settings) -> Result<ProcessorConfig, Vec<String>> {
        let mut problems = settings.common_problems();
        if let Err(more) = RedisConfig::from_settings(&settings.redis) {
            problems.extend(more);
        }
        problems.extend(syncro_problems(settings));
        match ProcessorConfig::from_sections(&settings.processor_sections) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    /// Only the processor's own sections: what `explain` needs (no Syncro connection).
    pub fn from_sections(sections: &ProcessorSections) -> Result<ProcessorConfig, Vec<String>> {
        let mut problems = Vec::new();

        let worker = parse_section::<WorkerConfig>("processor", &sections.processor, &mut problems)
            .inspect(|w| w.check(&mut problems));
        let mapping = parse_section::<RawMapping>("mapping", &sections.mapping, &mut problems)
            .and_then(|raw| build_mapping(raw, &mut problems));
        let tickets = match &sections.tickets {
            None => {
                problems.push(
                    "tickets: section missing; every ticket default is required (problem_type, \
                     ticket_type_id, status, assignee_user_id, source_tag, subject, priorities)"
                        .into(),
                );
                None
            }
            Some(_) => parse_section::<RawTickets>("tickets", &sections.tickets, &mut problems)
                .and_then(|raw| build_tickets(raw, &mut problems)),
        };
        let notes = match &sections.notes {
            None => {
                problems.push("notes: section missing; visibility and title are required".into());
                None
            }
            Some(_) => parse_section::<RawNotes>("notes", &sections.notes, &mut problems)
                .and_then(|raw| build_notes(raw, &mut problems)),
        };
        let overrides =
            parse_section::<RawOverrides>("overrides", &sections.overrides, &mut problems)
                .map(|raw| build_overrides(raw, &mut problems));
        let grouping =
            parse_section::<GroupingConfig>("grouping", &sections.grouping, &mut problems)
                .inspect(|g| g.check(&mut problems));
        let contracts = crate::config::ContractsConfig::from_section(
            &sections.contracts,
            mapping.as_ref().map(|m| &m.organizations),
            mapping.as_ref().map(|m| &m.ignored_organizations),
            &mut problems,
        );
        let billing = crate::config::BillingConfig::from_section(&sections.billing, &mut problems);
        if let Some(overrides) = &overrides {
            // From the raw table too, so it is reported beside the table's own problems.
            let rmm_enabled = sections
                .tickets
                .as_ref()
                .and_then(|t| t.get("rmm_alert")?.get("enabled")?.as_bool())
                .unwrap_or(false);
            rmm::check_reachable(rmm_enabled, overrides, &contracts, &mut problems);
        }
        match (worker, mapping, tickets, notes, overrides, grouping) {
            (
                Some(worker),
                Some(mapping),
                Some(tickets),
                Some(notes),
                Some(overrides),
                Some(grouping),
            ) if problems.is_empty() => Ok(ProcessorConfig {
                worker,
                mapping,
                tickets,
                notes,
                overrides,
                grouping,
                contracts,
                billing,
            }),
            _ => Err(problems),
        }
    }

    /// Every distinct customer id the configuration names (catch-all first), for the online
    /// check.
    pub fn customer_ids(&self) -> Vec<i64> {
        let mut ids = vec![self.mapping.catch_all_customer_id];
        for id in self.mapping.organizations.values() {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        ids
    }
}

pub(crate) fn syncro_problems(settings: &Settings) -> Vec<String> {
    let syncro = &settings.syncro;
    let mut problems = Vec::new();
    let url = syncro.url.trim();
    if url.is_empty() {
        problems.push(
            "syncro.url: required, e.g. https://SUBDOMAIN.syncromsp.com/api/v1 (or set RELAY_SYNCRO_URL)"
                .into(),
        );
    } else {
        match reqwest::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    problems.push(
                        "syncro.url: must not carry credentials; the token is configured separately"
                            .into(),
                    );
                }
            }
            Ok(_) => problems.push("syncro.url: must start with http:// or https://".into()),
            Err(e) => problems.push(format!("syncro.url: not a URL ({e})")),
        }
    }
    let unresolved = settings.unresolved_in(&["syncro."]);
    match &syncro.token {
        // A token_env naming an unset variable is already among `unresolved`.
        None if unresolved.is_empty() => problems.push(
            "syncro.token: not set; set RELAY_SYNCRO_TOKEN or name a variable with syncro.token_env"
                .into(),
        ),
        Some(token) if token.expose_secret().trim().is_empty() => {
            problems.push("syncro.token: is empty".into())
        }
        _ => {}
    }
    problems.extend(unresolved);
    if !(1..=10_000).contains(&syncro.requests_per_minute) {
        problems.push("syncro.requests_per_minute: must be between 1 and 10000".into());
    }
    if syncro.connect_timeout_ms == 0 || syncro.request_timeout_ms == 0 {
        problems.push("syncro: connect_timeout_ms and request_timeout_ms must be positive".into());
    }
    problems
}
