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
//! - `[processor]`: `prefetch` [2000], `drain_timeout_secs` [30], `metrics_listen`
//!   ["127.0.0.1:9091"], `retry_tiers_secs` [5, 30, 120, 600, 3600], `coalesce_window_ms`
//!   [2000], `coalesce_max_alerts` [50], `lock_lease_secs` [30], `redis_retry_max_backoff_ms`
//!   [5000].
//! - `[mapping]`: `catch_all_customer_id` (required), `organizations` (org id → customer id),
//!   `ignored_organizations`, `unmapped` ["catch-all"] or "park" (alerts of unmapped
//!   organizations wait in `{prefix}.alerts.parked` until they are mapped).
//!
//! SIGHUP reloads every section but `[processor]` and the connection settings, which need a
//! restart (see `startup::reload`).
//! - `[tickets]` (all required): `problem_type`, `ticket_type_id`, `status`,
//!   `assignee_user_id`, `source_tag`, `subject`, `[tickets.priorities]` (one per severity).
//! - `[notes]` (all required): `visibility` (private | public | email), `title`.
//! - `[overrides]`: `ioc_rule`, `respond_rule`, `event_type`: lists of `{ match = "...", <any
//!   ticket field>, priority | priorities }`.
//! - `[grouping]`: `window_secs` [86400], `on_resolved_ticket` ["new-ticket"],
//!   `reopen_window_secs` [604800], `reopen_status` ["In Progress"], `resolved_alert`
//!   ["note"], `resolve_status` ["Resolved"].
//! - `[contracts]` (parsed in [`crate::enrich`]): `add_to_tickets` [false], `attach_devices`
//!   [true], `asset_cache_secs` [900], `[contracts.organizations."<org id>"]` `contract_id`
//!   (each organization mapped in `mapping.organizations`; at least one when
//!   `add_to_tickets` is on).
//! - `[billing]`: the billable-user sync, see [`crate::billing::config`].

use crate::syncro::ClientConfig;
use crate::template::Template;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shared::alert::{Alert, Severity};
use shared::config::{ProcessorSections, Settings};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// The status Syncro accepts only as a list filter: a ticket can never be set to it.
const NOT_CLOSED: &str = "Not Closed";

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
    /// `[contracts]`: contracts and devices on new tickets (parsed in [`crate::enrich`]).
    pub contracts: crate::enrich::ContractsConfig,
    /// `[billing]`: the monthly billable-user sync (off when absent).
    pub billing: crate::billing::BillingConfig,
}

/// `[processor]`: worker knobs; every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Messages a worker holds unacknowledged at once (AMQP prefetch): its concurrency.
    /// An alert waiting to be coalesced into a note is held unacknowledged until the note
    /// is accepted, so in a storm this bounds how many alerts a note can gather: keep it well
    /// above `coalesce_max_alerts` times the number of tickets a storm touches.
    pub prefetch: u16,
    /// How long in-flight work may take to finish after SIGTERM before the worker exits.
    pub drain_timeout_secs: u64,
    /// Where `GET /metrics` (Prometheus) listens.
    pub metrics_listen: SocketAddr,
    /// Delay of each retry, in order; after the last one a message is dead-lettered. Each
    /// tier becomes a delay queue, so the list is the whole retry policy.
    pub retry_tiers_secs: Vec<u64>,
    /// How long alerts for one open ticket are gathered into one note (fewer Syncro calls
    /// in a storm; every alert waits at most this long).
    pub coalesce_window_ms: u64,
    /// The most alerts one coalesced note lists, so a note stays readable and bounded.
    pub coalesce_max_alerts: usize,
    /// Lease of the Redis lock held while a group's ticket is created; it expires on its own
    /// when the holder dies, so a crash cannot block a group forever.
    pub lock_lease_secs: u64,
    /// Ceiling of the backoff between Redis reconnect attempts.
    pub redis_retry_max_backoff_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            prefetch: 2000,
            drain_timeout_secs: 30,
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            retry_tiers_secs: vec![5, 30, 120, 600, 3600],
            coalesce_window_ms: 2_000,
            coalesce_max_alerts: 50,
            lock_lease_secs: 30,
            redis_retry_max_backoff_ms: 5_000,
        }
    }
}

impl WorkerConfig {
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }

    pub fn retry_tiers(&self) -> Vec<Duration> {
        self.retry_tiers_secs
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect()
    }

    pub fn coalesce_window(&self) -> Duration {
        Duration::from_millis(self.coalesce_window_ms)
    }

    pub fn lock_lease(&self) -> Duration {
        Duration::from_secs(self.lock_lease_secs)
    }

    pub fn redis_retry_max_backoff(&self) -> Duration {
        Duration::from_millis(self.redis_retry_max_backoff_ms)
    }

    fn check(&self, problems: &mut Vec<String>) {
        if self.prefetch == 0 {
            problems.push("processor.prefetch: must be between 1 and 65535".into());
        }
        if self.retry_tiers_secs.is_empty() {
            problems.push(
                "processor.retry_tiers_secs: needs at least one tier (e.g. [5, 30, 120, 600, 3600])"
                    .into(),
            );
        }
        if self.retry_tiers_secs.contains(&0) {
            problems
                .push("processor.retry_tiers_secs: every tier must be at least 1 second".into());
        }
        if self.retry_tiers_secs.windows(2).any(|w| w[0] >= w[1]) {
            problems.push("processor.retry_tiers_secs: tiers must be strictly increasing".into());
        }
        if self.coalesce_window_ms > 60_000 {
            // Coalesced alerts stay unacknowledged while they wait.
            problems.push("processor.coalesce_window_ms: must be at most 60000".into());
        }
        if self.coalesce_max_alerts == 0 {
            problems.push("processor.coalesce_max_alerts: must be at least 1".into());
        }
        if self.lock_lease_secs == 0 {
            problems.push("processor.lock_lease_secs: must be at least 1".into());
        }
        if self.redis_retry_max_backoff_ms == 0 {
            problems.push("processor.redis_retry_max_backoff_ms: must be at least 1".into());
        }
    }
}

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
struct RawMapping {
    catch_all_customer_id: Option<i64>,
    #[serde(default)]
    organizations: BTreeMap<String, i64>,
    #[serde(default)]
    ignored_organizations: Vec<String>,
    #[serde(default)]
    unmapped: Unmapped,
}

/// A Syncro priority for each alert severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priorities {
    /// Indexed like [`Severity::ALL`].
    by_severity: [String; 5],
}

impl Priorities {
    /// The Syncro priority string (e.g. "0 Urgent") for `severity`.
    pub fn get(&self, severity: Severity) -> &str {
        &self.by_severity[severity_index(severity)]
    }
}

/// Some severities' priorities, as an override may set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialPriorities {
    by_severity: [Option<String>; 5],
}

impl PartialPriorities {
    pub fn get(&self, severity: Severity) -> Option<&str> {
        self.by_severity[severity_index(severity)].as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.by_severity.iter().all(Option::is_none)
    }
}

fn severity_index(severity: Severity) -> usize {
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Info => 4,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriorities {
    critical: Option<String>,
    high: Option<String>,
    medium: Option<String>,
    low: Option<String>,
    info: Option<String>,
}

impl RawPriorities {
    fn into_array(self) -> [Option<String>; 5] {
        [self.critical, self.high, self.medium, self.low, self.info]
    }
}

/// `[tickets]`, validated: the wizard's ticket defaults, every one required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDefaults {
    /// Syncro `problem_type`: the wizard's ticket category (an account-defined string).
    pub problem_type: String,
    /// Syncro `ticket_type_id`.
    pub ticket_type_id: i64,
    /// Initial status of a new ticket; never a closed one, or grouping would start over.
    pub status: String,
    /// Syncro `user_id`: the technician (the wizard's queue) new tickets are assigned to.
    pub assignee_user_id: i64,
    /// The wizard's ticket source; Syncro has no source field, so it is sent in `tag_list`.
    pub source_tag: String,
    /// Subject template; the rendered subject is also the grouping key.
    pub subject: Template,
    /// Syncro priority for each severity.
    pub priorities: Priorities,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTickets {
    problem_type: Option<String>,
    ticket_type_id: Option<i64>,
    status: Option<String>,
    assignee_user_id: Option<i64>,
    source_tag: Option<String>,
    subject: Option<String>,
    priorities: Option<RawPriorities>,
}

/// Who sees a note, as Syncro's `hidden` and `do_not_email` flags (syncro-api.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Technicians only, no email: `hidden: true, do_not_email: true`.
    Private,
    /// Visible in the customer portal, no email: `hidden: false, do_not_email: true`.
    Public,
    /// Visible and emailed to the customer: `hidden: false, do_not_email: false`.
    Email,
}

impl Visibility {
    pub fn hidden(self) -> bool {
        self == Visibility::Private
    }

    pub fn do_not_email(self) -> bool {
        self != Visibility::Email
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
            Visibility::Email => "email",
        }
    }
}

/// `[notes]`, validated. (The wizard's "note type" has no Syncro API counterpart: a
/// comment is shaped by visibility alone.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteDefaults {
    /// Who sees notes added to an existing ticket.
    pub visibility: Visibility,
    /// Template of the note's subject (Syncro requires one on every comment).
    pub title: Template,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotes {
    visibility: Option<Visibility>,
    title: Option<String>,
}

/// Which alert field an override list matches, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideLevel {
    /// `alert.ioc_rule.id`.
    IocRule,
    /// `alert.respond_rule.id`.
    RespondRule,
    /// `alert.event_type`.
    EventType,
}

impl OverrideLevel {
    /// The precedence order: the first level with a matching override that sets a field
    /// decides that field.
    pub const PRECEDENCE: [OverrideLevel; 3] = [
        OverrideLevel::IocRule,
        OverrideLevel::RespondRule,
        OverrideLevel::EventType,
    ];

    /// The key of the list under `[overrides]`.
    pub fn key(self) -> &'static str {
        match self {
            OverrideLevel::IocRule => "ioc_rule",
            OverrideLevel::RespondRule => "respond_rule",
            OverrideLevel::EventType => "event_type",
        }
    }

    /// The alert's value this level matches on, if the alert has one.
    pub fn value_of(self, alert: &Alert) -> Option<&str> {
        match self {
            OverrideLevel::IocRule => alert.ioc_rule.as_ref().map(|r| r.id.as_str()),
            OverrideLevel::RespondRule => alert.respond_rule.as_ref().map(|r| r.id.as_str()),
            OverrideLevel::EventType => Some(alert.event_type.as_str()),
        }
    }
}

/// One override: the ticket fields it replaces for alerts whose level value equals `matches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Which list it came from.
    pub level: OverrideLevel,
    /// The IOC rule id, Respond rule id or event type it applies to (compared exactly).
    pub matches: String,
    /// Replaces `tickets.problem_type` (e.g. a category per kind of threat).
    pub problem_type: Option<String>,
    /// Replaces `tickets.ticket_type_id`.
    pub ticket_type_id: Option<i64>,
    /// Replaces `tickets.status` (e.g. straight to "In Progress" when a Respond rule acted).
    pub status: Option<String>,
    /// Replaces `tickets.assignee_user_id` (e.g. a security technician for IOC hits).
    pub assignee_user_id: Option<i64>,
    /// Replaces `tickets.source_tag`.
    pub source_tag: Option<String>,
    /// Replaces `tickets.subject`, and so the grouping of the alerts it matches.
    pub subject: Option<Template>,
    /// From `priority` (every severity) or `priorities` (some severities).
    pub priorities: PartialPriorities,
}

impl Override {
    /// Where it is configured, e.g. `overrides.ioc_rule[match="ioc-3"]`: the provenance
    /// `explain` shows.
    pub fn label(&self) -> String {
        format!("overrides.{}[match={:?}]", self.level.key(), self.matches)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    #[serde(rename = "match")]
    matches: Option<String>,
    problem_type: Option<String>,
    ticket_type_id: Option<i64>,
    status: Option<String>,
    assignee_user_id: Option<i64>,
    source_tag: Option<String>,
    subject: Option<String>,
    priority: Option<String>,
    priorities: Option<RawPriorities>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    ioc_rule: Vec<toml::Value>,
    #[serde(default)]
    respond_rule: Vec<toml::Value>,
    #[serde(default)]
    event_type: Vec<toml::Value>,
}

/// `[overrides]`, validated: one list per level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// By `alert.ioc_rule.id`: the most specific level.
    pub ioc_rule: Vec<Override>,
    /// By `alert.respond_rule.id`.
    pub respond_rule: Vec<Override>,
    /// By `alert.event_type`: the broadest level.
    pub event_type: Vec<Override>,
}

impl Overrides {
    pub fn level(&self, level: OverrideLevel) -> &[Override] {
        match level {
            OverrideLevel::IocRule => &self.ioc_rule,
            OverrideLevel::RespondRule => &self.respond_rule,
            OverrideLevel::EventType => &self.event_type,
        }
    }

    /// The overrides that apply to `alert`, most specific first (at most one per level,
    /// since a `match` appears once per list).
    pub fn matching(&self, alert: &Alert) -> Vec<&Override> {
        OverrideLevel::PRECEDENCE
            .into_iter()
            .filter_map(|level| {
                let value = level.value_of(alert)?;
                self.level(level).iter().find(|o| o.matches == value)
            })
            .collect()
    }

    /// Every override, most specific level first.
    pub fn all(&self) -> impl Iterator<Item = &Override> {
        OverrideLevel::PRECEDENCE
            .into_iter()
            .flat_map(|level| self.level(level).iter())
    }
}

/// What an alert does when its group's ticket was closed in Syncro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnResolvedTicket {
    /// Start a new ticket (and point the group at it).
    #[default]
    NewTicket,
    /// Set the ticket back to `reopen_status` and add the note, within `reopen_window_secs`.
    Reopen,
    /// Add the note to the closed ticket as it is, within `reopen_window_secs`.
    Note,
}

impl OnResolvedTicket {
    pub fn as_str(self) -> &'static str {
        match self {
            OnResolvedTicket::NewTicket => "new-ticket",
            OnResolvedTicket::Reopen => "reopen",
            OnResolvedTicket::Note => "note",
        }
    }
}

/// What an alert with `status = "resolved"` does to its open ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolvedAlert {
    /// Add a note, leave the status alone (a person decides).
    #[default]
    Note,
    /// Add a note and set the ticket to `resolve_status`.
    NoteAndResolve,
}

impl ResolvedAlert {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedAlert::Note => "note",
            ResolvedAlert::NoteAndResolve => "note-and-resolve",
        }
    }
}

/// `[grouping]`; every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupingConfig {
    /// How long a subject keeps pointing at its ticket after the last alert; later alerts
    /// start a new ticket.
    pub window_secs: u64,
    /// What an alert does when the grouped ticket was closed in Syncro.
    pub on_resolved_ticket: OnResolvedTicket,
    /// How recently the ticket must have been resolved for `reopen` or `note` to apply; an
    /// older closed ticket always gets a new ticket, so old history is never reopened.
    pub reopen_window_secs: u64,
    /// Status a reopened ticket gets (`on_resolved_ticket = "reopen"`); never a closed one.
    pub reopen_status: String,
    /// What a resolved alert does to its open ticket.
    pub resolved_alert: ResolvedAlert,
    /// Status set by `resolved_alert = "note-and-resolve"`; must be a closed status.
    pub resolve_status: String,
    /// How often, at most, a group's ticket status is read back from Syncro to notice it was
    /// closed there: each read is a Syncro call, so a storm should not pay one per alert.
    pub status_check_secs: u64,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig {
            window_secs: 86_400,
            on_resolved_ticket: OnResolvedTicket::NewTicket,
            reopen_window_secs: 604_800,
            reopen_status: "In Progress".into(),
            resolved_alert: ResolvedAlert::Note,
            resolve_status: "Resolved".into(),
            status_check_secs: 300,
        }
    }
}

impl GroupingConfig {
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    pub fn reopen_window(&self) -> Duration {
        Duration::from_secs(self.reopen_window_secs)
    }

    fn check(&self, problems: &mut Vec<String>) {
        if self.window_secs == 0 {
            problems.push("grouping.window_secs: must be at least 1".into());
        }
        check_status("grouping.reopen_status", &self.reopen_status, problems);
        if is_closed_status(&self.reopen_status) {
            problems.push(format!(
                "grouping.reopen_status: {:?} is a closed status; a reopened ticket needs an open one",
                self.reopen_status
            ));
        }
        check_status("grouping.resolve_status", &self.resolve_status, problems);
        if !self.resolve_status.trim().is_empty() && !is_closed_status(&self.resolve_status) {
            problems.push(format!(
                "grouping.resolve_status: {:?} is not a closed status (Resolved… or Invoiced)",
                self.resolve_status
            ));
        }
    }
}

/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use crate::syncro::is_closed_status;

impl ProcessorConfig {
    /// The processor's configuration and everything else the worker needs from `settings`:
    /// the Syncro connection (URL, token, request budget), Redis, and the common sections.
    pub fn from_settings(settings: &Settings) -> Result<ProcessorConfig, Vec<String>> {
        let mut problems = settings.common_problems();
        let redis = settings.redis.url.expose_secret();
        if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            // The value may carry a password: only the key is named.
            problems.push("redis.url: must start with redis:// or rediss://".into());
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
        let contracts = crate::enrich::ContractsConfig::from_section(
            &sections.contracts,
            mapping.as_ref().map(|m| &m.organizations),
            mapping.as_ref().map(|m| &m.ignored_organizations),
            &mut problems,
        );
        let billing = crate::billing::BillingConfig::from_section(&sections.billing, &mut problems);
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

/// The Syncro client settings from `[syncro]`; `None` when the token is missing (reported by
/// [`ProcessorConfig::from_settings`]).
pub fn syncro_client_config(settings: &Settings) -> Option<ClientConfig> {
    let token = settings.syncro.token.clone()?;
    Some(
        ClientConfig::new(settings.syncro.url.clone(), token).with_timeouts(
            Duration::from_millis(settings.syncro.connect_timeout_ms),
            Duration::from_millis(settings.syncro.request_timeout_ms),
        ),
    )
}

fn syncro_problems(settings: &Settings) -> Vec<String> {
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

/// Deserializes a raw section (absent = empty table, so defaults apply). A failure becomes
/// one problem with the key path toml reports (`in \`a.b\``) turned into `section.a.b`.
fn parse_section<T: DeserializeOwned>(
    key: &str,
    table: &Option<toml::Table>,
    problems: &mut Vec<String>,
) -> Option<T> {
    parse_value(
        key,
        toml::Value::Table(table.clone().unwrap_or_default()),
        problems,
    )
}

fn parse_value<T: DeserializeOwned>(
    key: &str,
    value: toml::Value,
    problems: &mut Vec<String>,
) -> Option<T> {
    match value.try_into::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(describe_toml_error(key, &e.to_string()));
            None
        }
    }
}

pub(crate) fn describe_toml_error(key: &str, text: &str) -> String {
    let text = text.trim();
    match text.rsplit_once("\nin `") {
        Some((message, path)) => {
            format!("{key}.{}: {}", path.trim_end_matches('`'), message.trim())
        }
        None => format!("{key}: {text}"),
    }
}

/// A required, non-blank string (reported as missing or blank at `key`).
fn required_text(key: &str, value: Option<String>, problems: &mut Vec<String>) -> Option<String> {
    match value {
        None => {
            problems.push(format!("{key}: required"));
            None
        }
        Some(v) if v.trim().is_empty() => {
            problems.push(format!("{key}: must not be empty"));
            None
        }
        Some(v) => Some(v.trim().to_string()),
    }
}

fn positive_id(key: &str, value: i64, problems: &mut Vec<String>) -> Option<i64> {
    if value > 0 {
        Some(value)
    } else {
        problems.push(format!("{key}: must be a Syncro id (a positive integer)"));
        None
    }
}

/// Statuses a ticket can be set to: not blank, not the filter-only "Not Closed".
fn check_status(key: &str, status: &str, problems: &mut Vec<String>) {
    if status.trim().is_empty() {
        problems.push(format!("{key}: must not be empty"));
    } else if status.trim().eq_ignore_ascii_case(NOT_CLOSED) {
        problems.push(format!(
            "{key}: \"Not Closed\" is a Syncro list filter, not a status a ticket can have"
        ));
    }
}

fn template(key: &str, text: &str, problems: &mut Vec<String>) -> Option<Template> {
    if text.trim().is_empty() {
        problems.push(format!("{key}: must not be empty"));
        return None;
    }
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(format!("{key}: {e}"));
            None
        }
    }
}

fn build_mapping(raw: RawMapping, problems: &mut Vec<String>) -> Option<MappingConfig> {
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

fn build_tickets(raw: RawTickets, problems: &mut Vec<String>) -> Option<TicketDefaults> {
    let before = problems.len();
    let problem_type = required_text("tickets.problem_type", raw.problem_type, problems);
    let ticket_type_id = match raw.ticket_type_id {
        None => {
            problems.push("tickets.ticket_type_id: required".into());
            None
        }
        Some(id) => positive_id("tickets.ticket_type_id", id, problems),
    };
    let status = required_text("tickets.status", raw.status, problems);
    if let Some(status) = &status {
        check_status("tickets.status", status, problems);
        if is_closed_status(status) {
            problems.push(format!(
                "tickets.status: {status:?} is a closed status; new tickets need an open one"
            ));
        }
    }
    let assignee = match raw.assignee_user_id {
        None => {
            problems.push("tickets.assignee_user_id: required (the technician or queue)".into());
            None
        }
        Some(id) => positive_id("tickets.assignee_user_id", id, problems),
    };
    let source_tag = required_text("tickets.source_tag", raw.source_tag, problems);
    let subject = required_text("tickets.subject", raw.subject, problems)
        .and_then(|t| template("tickets.subject", &t, problems));
    let priorities = match raw.priorities {
        None => {
            problems.push(
                "tickets.priorities: required, with a Syncro priority for each of critical, \
                 high, medium, low and info"
                    .into(),
            );
            None
        }
        Some(raw) => {
            let values = raw.into_array();
            let mut out: [String; 5] = Default::default();
            for (i, (severity, value)) in Severity::ALL.iter().zip(values).enumerate() {
                let key = format!("tickets.priorities.{severity}");
                if let Some(v) = required_text(&key, value, problems) {
                    out[i] = v;
                }
            }
            Some(Priorities { by_severity: out })
        }
    };
    if problems.len() != before {
        return None;
    }
    Some(TicketDefaults {
        problem_type: problem_type?,
        ticket_type_id: ticket_type_id?,
        status: status?,
        assignee_user_id: assignee?,
        source_tag: source_tag?,
        subject: subject?,
        priorities: priorities?,
    })
}

fn build_notes(raw: RawNotes, problems: &mut Vec<String>) -> Option<NoteDefaults> {
    let visibility = raw.visibility;
    if visibility.is_none() {
        problems.push("notes.visibility: required: \"private\", \"public\" or \"email\"".into());
    }
    let title = required_text("notes.title", raw.title, problems)
        .and_then(|t| template("notes.title", &t, problems));
    Some(NoteDefaults {
        visibility: visibility?,
        title: title?,
    })
}

fn build_overrides(raw: RawOverrides, problems: &mut Vec<String>) -> Overrides {
    let mut out = Overrides::default();
    for (level, entries) in [
        (OverrideLevel::IocRule, raw.ioc_rule),
        (OverrideLevel::RespondRule, raw.respond_rule),
        (OverrideLevel::EventType, raw.event_type),
    ] {
        let mut seen = BTreeSet::new();
        for (i, value) in entries.into_iter().enumerate() {
            // Named by its match when it has a readable one, else by position, so a problem
            // points at the entry even when the rest of it does not parse.
            let label = match value.get("match").and_then(|m| m.as_str()) {
                Some(m) if !m.trim().is_empty() => {
                    format!("overrides.{}[match={m:?}]", level.key())
                }
                _ => format!("overrides.{}[{i}]", level.key()),
            };
            let Some(raw) = parse_value::<RawOverride>(&label, value, problems) else {
                continue;
            };
            if let Some(o) = build_override(level, &label, raw, problems) {
                if !seen.insert(o.matches.clone()) {
                    problems.push(format!(
                        "{label}: duplicate match; each {} may appear once",
                        level.key()
                    ));
                    continue;
                }
                match level {
                    OverrideLevel::IocRule => out.ioc_rule.push(o),
                    OverrideLevel::RespondRule => out.respond_rule.push(o),
                    OverrideLevel::EventType => out.event_type.push(o),
                }
            }
        }
    }
    out
}

fn build_override(
    level: OverrideLevel,
    label: &str,
    raw: RawOverride,
    problems: &mut Vec<String>,
) -> Option<Override> {
    let before = problems.len();
    let key = |field: &str| format!("{label}.{field}");
    let matches = required_text(&key("match"), raw.matches, problems);
    let optional_text = |field: &str, value: Option<String>, problems: &mut Vec<String>| {
        value.and_then(|v| required_text(&key(field), Some(v), problems))
    };
    let problem_type = optional_text("problem_type", raw.problem_type, problems);
    let status = optional_text("status", raw.status, problems);
    if let Some(s) = &status {
        check_status(&key("status"), s, problems);
        if is_closed_status(s) {
            problems.push(format!(
                "{}: {s:?} is a closed status; new tickets need an open one",
                key("status")
            ));
        }
    }
    let source_tag = optional_text("source_tag", raw.source_tag, problems);
    let ticket_type_id = raw
        .ticket_type_id
        .and_then(|id| positive_id(&key("ticket_type_id"), id, problems));
    let assignee_user_id = raw
        .assignee_user_id
        .and_then(|id| positive_id(&key("assignee_user_id"), id, problems));
    let subject = raw
        .subject
        .and_then(|t| template(&key("subject"), &t, problems));
    let mut priorities = PartialPriorities::default();
    match (raw.priority, raw.priorities) {
        (Some(_), Some(_)) => problems.push(format!(
            "{label}: set either priority (every severity) or priorities (per severity), not both"
        )),
        (Some(p), None) => {
            if let Some(p) = required_text(&key("priority"), Some(p), problems) {
                priorities.by_severity = std::array::from_fn(|_| Some(p.clone()));
            }
        }
        (None, Some(table)) => {
            for (slot, (severity, value)) in priorities
                .by_severity
                .iter_mut()
                .zip(Severity::ALL.iter().zip(table.into_array()))
            {
                if let Some(v) = value {
                    *slot =
                        required_text(&key(&format!("priorities.{severity}")), Some(v), problems);
                }
            }
            if priorities.is_empty() && problems.len() == before {
                problems.push(format!(
                    "{}: empty; name at least one severity",
                    key("priorities")
                ));
            }
        }
        (None, None) => {}
    }
    let o = Override {
        level,
        matches: matches?,
        problem_type,
        ticket_type_id,
        status,
        assignee_user_id,
        source_tag,
        subject,
        priorities,
    };
    let sets_nothing = o.problem_type.is_none()
        && o.ticket_type_id.is_none()
        && o.status.is_none()
        && o.assignee_user_id.is_none()
        && o.source_tag.is_none()
        && o.subject.is_none()
        && o.priorities.is_empty();
    if sets_nothing && problems.len() == before {
        problems.push(format!(
            "{label}: sets nothing; add at least one of problem_type, ticket_type_id, status, \
             assignee_user_id, source_tag, subject, priority, priorities"
        ));
    }
    (problems.len() == before).then_some(o)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete, valid set of processor sections (no `[syncro]`).
    pub(crate) const GOOD: &str = r#"
        [mapping]
        catch_all_customer_id = 4101776
        organizations = { "org-42" = 4101771, "org-7" = 4101772 }
        ignored_organizations = ["org-test"]

        [tickets]
        problem_type = "Security"
        ticket_type_id = 42
        status = "New"
        assignee_user_id = 1302
        source_tag = "alert-relay"
        subject = "[{severity_upper}] {title} ({organization.name})"

        [tickets.priorities]
        critical = "0 Urgent"
        high = "1 High"
        medium = "2 Normal"
        low = "3 Low"
        info = "3 Low"

        [notes]
        visibility = "private"
        title = "Alert: {title}"

        [[overrides.event_type]]
        match = "m365.impossible_travel"
        problem_type = "Account"
        status = "In Progress"
        priority = "1 High"
        source_tag = "travel"

        [[overrides.respond_rule]]
        match = "rr-7"
        assignee_user_id = 1301
        priorities = { critical = "1 High" }
        problem_type = "Respond"

        [[overrides.ioc_rule]]
        match = "ioc-3"
        status = "Waiting on Customer"
        subject = "IOC {ioc_rule.name}: {title}"
    "#;

    pub(crate) fn sections(text: &str) -> ProcessorSections {
        let settings = Settings::from_toml(text, &|_| None).expect("parses as settings");
        settings.processor_sections
    }

    pub(crate) fn good() -> ProcessorConfig {
        ProcessorConfig::from_sections(&sections(GOOD)).expect("valid")
    }

    fn problems_of(text: &str) -> Vec<String> {
        ProcessorConfig::from_sections(&sections(text)).expect_err("invalid")
    }

    fn assert_has(problems: &[String], expected: &str) {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected:?} not in {problems:#?}"
        );
    }

    #[test]
    fn a_complete_configuration_parses_with_defaults_filled_in() {
        let c = good();
        assert_eq!(c.worker, WorkerConfig::default());
        assert_eq!(c.worker.retry_tiers().len(), 5);
        assert_eq!(c.grouping, GroupingConfig::default());
        assert_eq!(c.mapping.unmapped, Unmapped::CatchAll);
        assert_eq!(c.mapping.organizations["org-42"], 4_101_771);
        assert_eq!(c.tickets.priorities.get(Severity::Info), "3 Low");
        assert_eq!(c.notes.visibility, Visibility::Private);
        assert_eq!(c.overrides.event_type.len(), 1);
        let travel = &c.overrides.event_type[0];
        assert_eq!(travel.priorities.get(Severity::Low), Some("1 High"));
        let rr = &c.overrides.respond_rule[0];
        assert_eq!(rr.priorities.get(Severity::Critical), Some("1 High"));
        assert_eq!(rr.priorities.get(Severity::High), None);
        assert_eq!(rr.label(), "overrides.respond_rule[match=\"rr-7\"]");
        assert_eq!(c.customer_ids(), [4_101_776, 4_101_771, 4_101_772]);
    }

    #[test]
    fn parking_holds_only_organizations_neither_mapped_nor_ignored() {
        let mut mapping = good().mapping;
        assert!(!mapping.parks("org-new"), "catch-all never parks");
        mapping.unmapped = Unmapped::Park;
        assert!(mapping.parks("org-new"));
        assert!(!mapping.parks("org-42"), "mapped");
        assert!(!mapping.parks("org-test"), "ignored: dropped as before");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let text = r#"
            [processor]
            prefetch = 0
            retry_tiers_secs = [30, 5, 0]
            coalesce_max_alerts = 0
            [mapping]
            organizations = { "org-1" = 0, "org-2" = 5 }
            ignored_organizations = ["org-2", ""]
            unmapped = "park"
            [tickets]
            problem_type = ""
            status = "Not Closed"
            subject = "{titel}"
            [tickets.priorities]
            critical = "0 Urgent"
            medium = "2 Normal"
            [notes]
            title = "Note {title"
            [[overrides.ioc_rule]]
            match = "ioc-1"
            [[overrides.ioc_rule]]
            match = "ioc-2"
            status = "New"
            [[overrides.ioc_rule]]
            match = "ioc-2"
            status = "New"
            [[overrides.event_type]]
            status = "New"
            [[overrides.event_type]]
            match = "x"
            priority = "1 High"
            priorities = { low = "3 Low" }
            [[overrides.respond_rule]]
            match = "rr-1"
            colour = "red"
            [grouping]
            window_secs = 0
            reopen_status = "Resolved"
            resolve_status = "In Progress"
            [contracts]
            add_to_tickets = true
            [billing]
            sync_day = 31
        "#;
        let problems = problems_of(text);
        for expected in [
            "processor.prefetch: must be between 1 and 65535",
            "processor.retry_tiers_secs: every tier must be at least 1",
            "processor.retry_tiers_secs: tiers must be strictly increasing",
            "processor.coalesce_max_alerts",
            "mapping.catch_all_customer_id: required",
            "mapping.organizations[\"org-1\"]: must be a Syncro id",
            "mapping.ignored_organizations: \"org-2\" is also mapped",
            "mapping.ignored_organizations: \"\"",
            "tickets.problem_type: must not be empty",
            "tickets.ticket_type_id: required",
            "tickets.status: \"Not Closed\" is a Syncro list filter",
            "tickets.assignee_user_id: required",
            "tickets.source_tag: required",
            "tickets.subject: unknown placeholder {titel}",
            "tickets.priorities.high: required",
            "tickets.priorities.low: required",
            "tickets.priorities.info: required",
            "notes.visibility: required",
            "notes.title: unclosed '{'",
            "overrides.ioc_rule[match=\"ioc-1\"]: sets nothing",
            "overrides.ioc_rule[match=\"ioc-2\"]: duplicate match",
            "overrides.event_type[0].match: required",
            "overrides.event_type[match=\"x\"]: set either priority",
            "overrides.respond_rule[match=\"rr-1\"]: unknown field `colour`",
            "grouping.window_secs: must be at least 1",
            "grouping.reopen_status: \"Resolved\" is a closed status",
            "grouping.resolve_status: \"In Progress\" is not a closed status",
            "contracts.add_to_tickets: on, but no organization has a contract",
            "billing.sync_day: 31 is out of range",
        ] {
            assert_has(&problems, expected);
        }
        // Each missing severity is its own problem; critical and medium are set.
        assert!(!problems.iter().any(|p| p.contains("priorities.critical")));
        assert!(!problems.iter().any(|p| p.contains("priorities.medium")));
    }

    #[test]
    fn missing_required_sections_are_named() {
        let problems = problems_of("");
        assert_has(&problems, "mapping.catch_all_customer_id: required");
        assert_has(&problems, "tickets: section missing");
        assert_has(&problems, "notes: section missing");
    }

    #[test]
    fn type_errors_and_unknown_keys_name_their_path() {
        let text = GOOD.replace("ticket_type_id = 42", "ticket_type_id = \"42\"")
            + "\n[processor]\nprefetch_count = 3\n";
        let problems = problems_of(&text);
        assert_has(&problems, "tickets.ticket_type_id: invalid type");
        assert_has(&problems, "processor: unknown field `prefetch_count`");
        let text = GOOD.replace("info = \"3 Low\"", "informational = \"3 Low\"");
        assert_has(
            &problems_of(&text),
            "tickets.priorities: unknown field `informational`",
        );
    }

    #[test]
    fn a_new_ticket_status_must_be_open() {
        let text = GOOD.replace("status = \"New\"", "status = \"Resolved\"");
        assert_has(
            &problems_of(&text),
            "tickets.status: \"Resolved\" is a closed status",
        );
    }

    #[test]
    fn visibilities_map_to_syncro_flags() {
        let flags = |v: Visibility| (v.hidden(), v.do_not_email());
        assert_eq!(flags(Visibility::Private), (true, true));
        assert_eq!(flags(Visibility::Public), (false, true));
        assert_eq!(flags(Visibility::Email), (false, false));
        let text = GOOD.replace("visibility = \"private\"", "visibility = \"internal\"");
        assert_has(
            &problems_of(&text),
            "notes.visibility: unknown variant `internal`",
        );
    }

    fn settings_with(extra: &str, env: &[(&str, &str)]) -> Settings {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Settings::from_toml(&format!("{extra}\n{GOOD}"), &lookup).expect("parses")
    }

    #[test]
    fn the_syncro_connection_is_checked_without_printing_the_token() {
        let settings = settings_with(
            "[syncro]\nurl = \"ftp://example.com\"\ntoken_env = \"MY_TOKEN\"\nrequests_per_minute = 0",
            &[],
        );
        let problems = ProcessorConfig::from_settings(&settings).expect_err("invalid");
        assert_has(&problems, "syncro.url: must start with http:// or https://");
        assert_has(
            &problems,
            "syncro.token_env: environment variable MY_TOKEN is not set",
        );
        assert_has(&problems, "syncro.requests_per_minute");

        let settings = settings_with("[syncro]\nurl = \"\"", &[]);
        let problems = ProcessorConfig::from_settings(&settings).expect_err("invalid");
        assert_has(&problems, "syncro.url: required");
        assert_has(&problems, "syncro.token: not set");

        let secret = "tok-5f1e-very-secret";
        let settings = settings_with(
            "prefix = \"BAD\"\n[syncro]\nurl = \"https://acme.syncromsp.com/api/v1\"",
            &[("RELAY_SYNCRO_TOKEN", secret)],
        );
        let problems = ProcessorConfig::from_settings(&settings).expect_err("bad prefix");
        assert_has(&problems, "prefix");
        assert!(!problems.join("\n").contains(secret));

        let settings = settings_with(
            "[syncro]\nurl = \"https://acme.syncromsp.com/api/v1\"",
            &[("RELAY_SYNCRO_TOKEN", secret)],
        );
        let config = ProcessorConfig::from_settings(&settings).expect("valid");
        assert_eq!(config.mapping.catch_all_customer_id, 4_101_776);
        let client = syncro_client_config(&settings).expect("token set");
        assert!(!format!("{client:?}").contains(secret));
    }

    #[test]
    fn toml_error_paths_become_key_paths() {
        assert_eq!(
            describe_toml_error(
                "tickets",
                "invalid type: string \"x\", expected i64\nin `ticket_type_id`\n"
            ),
            "tickets.ticket_type_id: invalid type: string \"x\", expected i64"
        );
        assert_eq!(
            describe_toml_error("processor", "unknown field `x`, expected `a`\n"),
            "processor: unknown field `x`, expected `a`"
        );
    }
}
