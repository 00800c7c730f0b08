//! From one alert to a ticket plan: which customer, which subject (the grouping key), which
//! ticket fields and note settings, and which rule set each of them; plus the plain-text
//! bodies of first comments and notes.
//!
//! # Precedence
//! Ticket fields are resolved **per field**: for each field, the most specific matching
//! override that sets it wins (IOC rule, then Respond rule, then event type), else the
//! `[tickets]` default. So an IOC-rule override that sets only `status` still lets an
//! event-type override set `problem_type`. For the priority, an override "sets it" when it
//! names a priority for the alert's severity (`priority`, or that severity in
//! `priorities`). Every field records the rule that set it ([`Provenance`]), which is what
//! `processor explain` prints.
//!
//! Per field rather than whole-override precedence because overrides are written one
//! concern at a time (an IOC rule raises the status, an event type picks the category);
//! whole-override precedence would make a narrow override silently undo a broad one.

//!
//! - this file: [`plan`], the whole decision for one alert, pure and without I/O;
//! - [`text`]: the comment and note bodies, and the `relay-ref` line;
//! - [`explain`]: the plan told in words (`processor explain`).

pub mod explain;
#[cfg(test)]
mod tests;
pub mod text;

pub use text::*;

use crate::config::{Decision, Override, ProcessorConfig};
use crate::template::{collapse_whitespace, truncate_chars};
use shared::alert::{Organization, Severity};
use shared::message::AlertMessage;

/// Longest subject (and note title) sent to Syncro.
pub const SUBJECT_MAX_CHARS: usize = 255;

/// Provenance label of the `[tickets]` defaults.
pub(crate) const TICKET_DEFAULTS: &str = "tickets (defaults)";

/// Provenance label of the `[notes]` defaults.
pub(crate) const NOTE_DEFAULTS: &str = "notes (defaults)";

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The organization is ignored (`mapping.ignored_organizations`, or in the console):
    /// acknowledge and drop.
    Ignored,
    /// A ticket (or note) for this customer; `mapped` is false when it went to the
    /// catch-all customer for want of a mapping.
    Customer { customer_id: i64, mapped: bool },
}

impl Destination {
    /// The customer, unless ignored.
    pub fn customer_id(&self) -> Option<i64> {
        match self {
            Destination::Ignored => None,
            Destination::Customer { customer_id, .. } => Some(*customer_id),
        }
    }
}

/// The Syncro ticket fields of a new ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFields {
    /// Syncro `problem_type` (the category).
    pub problem_type: String,
    /// Syncro `ticket_type_id`.
    pub ticket_type_id: i64,
    /// The new ticket's status.
    pub status: String,
    /// The assignee (`tickets.assignee_user_id`).
    pub user_id: i64,
    /// The source tag (`tickets.source_tag`).
    pub tag_list: Vec<String>,
    /// Syncro priority for the alert's severity, e.g. "0 Urgent".
    pub priority: String,
    /// Whether the group raises a Syncro RMM alert on its matched asset.
    pub rmm_alert: bool,
}

/// The Syncro comment settings of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteFields {
    /// The comment's subject, rendered from `notes.title`.
    pub title: String,
    pub hidden: bool,
    pub do_not_email: bool,
}

/// Which rule set one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The field, e.g. `"customer_id"`, `"priority"`, `"note.title"`.
    pub field: &'static str,
    /// Its value as shown to a person.
    pub value: String,
    /// The rule, e.g. `"tickets (defaults)"`, `"overrides.ioc_rule[match=\"ioc-3\"]"`,
    /// `"mapping.organizations[\"org-42\"]"`, `"mapping.catch_all_customer_id"`.
    pub set_by: String,
}

/// What one alert would produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where the alert goes.
    pub route: Destination,
    /// The rendered subject (never empty; at most [`SUBJECT_MAX_CHARS`] characters).
    pub subject: String,
    /// The fields of a new ticket.
    pub ticket: TicketFields,
    /// The settings of a note on an existing ticket.
    pub note: NoteFields,
    /// One entry per field, in a stable order: customer, subject, ticket fields, note.
    pub provenance: Vec<Provenance>,
}

impl Plan {
    /// The grouping key, unless the alert is ignored.
    pub fn group_key(&self) -> Option<String> {
        self.route
            .customer_id()
            .map(|customer| group_key(customer, &self.subject))
    }

    /// The provenance of `field`, if recorded.
    pub fn provenance_of(&self, field: &str) -> Option<&Provenance> {
        self.provenance.iter().find(|p| p.field == field)
    }
}

/// The grouping key of a subject for a customer: `"<customer id>:<subject>"` with the
/// subject trimmed, white space collapsed and lower-cased, so cosmetic differences never
/// split a group. Stable across versions and safe to hash or embed in a Redis key.
pub fn group_key(customer_id: i64, subject: &str) -> String {
    format!(
        "{customer_id}:{}",
        collapse_whitespace(subject).to_lowercase()
    )
}

/// Resolves the route for an organization, with the rule that decided it: the one
/// effective mapping ([`crate::config::MappingConfig::decide`]: the file first, then the
/// console's mappings carried in the configuration's snapshot).
pub fn route(config: &ProcessorConfig, organization: &Organization) -> (Destination, Provenance) {
    let mapping = &config.mapping;
    let id = &organization.id;
    let decision = mapping.decide(id);
    let set_by = decision.rule(id);
    let (route, value) = match decision {
        Decision::Ignored { .. } => (Destination::Ignored, "none (ignored)".to_string()),
        Decision::Mapped { customer_id, .. } => (
            Destination::Customer {
                customer_id,
                mapped: true,
            },
            customer_id.to_string(),
        ),
        Decision::Unmapped => (
            Destination::Customer {
                customer_id: mapping.catch_all_customer_id,
                mapped: false,
            },
            mapping.catch_all_customer_id.to_string(),
        ),
    };
    (
        route,
        Provenance {
            field: "customer_id",
            value,
            set_by,
        },
    )
}

/// The plan for one alert: route, subject, ticket fields and note settings, each with the
/// rule that set it. Pure: no I/O, so `explain` and the handler agree by construction.
pub fn plan(config: &ProcessorConfig, message: &AlertMessage) -> Plan {
    let alert = &message.alert;
    // Most specific first: the first that sets a field decides it.
    let matching = config.overrides.matching(alert);
    let mut provenance = Vec::new();
    let (route, customer) = route(config, &alert.organization);
    provenance.push(customer);
    let subject = subject(config, &matching, message, &mut provenance);
    let mut ticket = ticket_fields(config, &matching, alert.severity, &mut provenance);
    ticket.rmm_alert = rmm_alert(config, &matching, &alert.event_type, &mut provenance);
    let note = note_fields(config, message, &subject, &mut provenance);
    Plan {
        route,
        subject,
        ticket,
        note,
        provenance,
    }
}

/// The ticket subject (the grouping key): the most specific override's template, else the
/// default's, rendered; the alert's title when it renders empty (Syncro refuses a blank one).
fn subject(
    config: &ProcessorConfig,
    matching: &[&Override],
    message: &AlertMessage,
    provenance: &mut Vec<Provenance>,
) -> String {
    let (template, mut set_by) = matching
        .iter()
        .find_map(|o| o.subject.as_ref().map(|t| (t, o.label())))
        .unwrap_or((&config.tickets.subject, TICKET_DEFAULTS.to_string()));
    let mut subject = template.render_max(message, SUBJECT_MAX_CHARS);
    if subject.is_empty() {
        // The title is required and never blank.
        subject = truncate_chars(
            &collapse_whitespace(&message.alert.title),
            SUBJECT_MAX_CHARS,
        );
        set_by = format!("{set_by}, rendered empty: the alert title instead");
    }
    provenance.push(Provenance::new("subject", &subject, set_by));
    subject
}

/// Each ticket field from the first matching override that sets it, else the default.
fn ticket_fields(
    config: &ProcessorConfig,
    matching: &[&Override],
    severity: Severity,
    provenance: &mut Vec<Provenance>,
) -> TicketFields {
    let defaults = &config.tickets;
    let mut pick = |field: &'static str,
                    get: &dyn Fn(&Override) -> Option<String>,
                    default: String|
     -> String {
        let (value, set_by) = matching
            .iter()
            .find_map(|o| get(o).map(|v| (v, o.label())))
            .unwrap_or((default, TICKET_DEFAULTS.to_string()));
        provenance.push(Provenance::new(field, &value, set_by));
        value
    };
    let problem_type = pick(
        "problem_type",
        &|o| o.problem_type.clone(),
        defaults.problem_type.clone(),
    );
    let ticket_type_id = pick(
        "ticket_type_id",
        &|o| o.ticket_type_id.map(|v| v.to_string()),
        defaults.ticket_type_id.to_string(),
    );
    let status = pick("status", &|o| o.status.clone(), defaults.status.clone());
    let user_id = pick(
        "user_id",
        &|o| o.assignee_user_id.map(|v| v.to_string()),
        defaults.assignee_user_id.to_string(),
    );
    let tag = pick(
        "tag_list",
        &|o| o.source_tag.clone(),
        defaults.source_tag.clone(),
    );
    let priority = pick(
        "priority",
        &|o| o.priorities.get(severity).map(str::to_string),
        defaults.priorities.get(severity).to_string(),
    );
    TicketFields {
        problem_type,
        // Both come from validated i64s, so they parse back.
        ticket_type_id: ticket_type_id.parse().unwrap_or(defaults.ticket_type_id),
        status,
        user_id: user_id.parse().unwrap_or(defaults.assignee_user_id),
        tag_list: vec![tag],
        priority,
        rmm_alert: false,
    }
}

/// Whether the group raises an RMM alert: the most specific override that says, else
/// `[tickets.rmm_alert]` (`enabled`, narrowed by `event_types`).
fn rmm_alert(
    config: &ProcessorConfig,
    matching: &[&Override],
    event_type: &str,
    provenance: &mut Vec<Provenance>,
) -> bool {
    let rmm = &config.tickets.rmm_alert;
    let (raise, set_by) = matching
        .iter()
        .find_map(|o| o.rmm_alert.map(|v| (v, o.label())))
        .unwrap_or_else(|| {
            let by = if rmm.event_types.is_empty() {
                "tickets.rmm_alert.enabled"
            } else {
                "tickets.rmm_alert.event_types"
            };
            (rmm.for_event_type(event_type), by.to_string())
        });
    let value = if raise { "yes" } else { "no" };
    provenance.push(Provenance::new("rmm_alert", value, set_by));
    raise
}

/// The note settings: the title template rendered (the subject when it renders empty) and
/// the visibility.
fn note_fields(
    config: &ProcessorConfig,
    message: &AlertMessage,
    subject: &str,
    provenance: &mut Vec<Provenance>,
) -> NoteFields {
    let notes = &config.notes;
    let mut title = notes.title.render_max(message, SUBJECT_MAX_CHARS);
    let mut title_by = NOTE_DEFAULTS.to_string();
    if title.is_empty() {
        title = subject.to_string();
        title_by = format!("{NOTE_DEFAULTS}, rendered empty: the subject instead");
    }
    provenance.push(Provenance::new("note.title", &title, title_by));
    let visibility = format!(
        "{} (hidden: {}, do_not_email: {})",
        notes.visibility.as_str(),
        notes.visibility.hidden(),
        notes.visibility.do_not_email()
    );
    provenance.push(Provenance::new(
        "note.visibility",
        &visibility,
        NOTE_DEFAULTS.into(),
    ));
    NoteFields {
        title,
        hidden: notes.visibility.hidden(),
        do_not_email: notes.visibility.do_not_email(),
    }
}

impl Provenance {
    fn new(field: &'static str, value: &str, set_by: String) -> Provenance {
        Provenance {
            field,
            value: value.to_string(),
            set_by,
        }
    }
}
