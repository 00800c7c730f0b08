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

use crate::config::ProcessorConfig;
use crate::template::{collapse_whitespace, truncate_chars};
use shared::alert::{Alert, AlertStatus, Device, Organization};
use shared::message::AlertMessage;
use std::fmt::Write as _;

/// Longest subject (and note title) sent to Syncro.
pub const SUBJECT_MAX_CHARS: usize = 255;
/// Start of the reference line every comment body ends with; see [`reference_line`].
pub const REFERENCE_PREFIX: &str = "relay-ref: ";
/// Longest value of one `details` entry in a body; details are context, not storage.
const DETAIL_MAX_CHARS: usize = 500;

/// Provenance label of the `[tickets]` defaults.
const TICKET_DEFAULTS: &str = "tickets (defaults)";
/// Provenance label of the `[notes]` defaults.
const NOTE_DEFAULTS: &str = "notes (defaults)";

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The organization is in `mapping.ignored_organizations`: acknowledge and drop.
    Ignored,
    /// A ticket (or note) for this customer; `mapped` is false when it went to the
    /// catch-all customer for want of a mapping.
    Customer { customer_id: i64, mapped: bool },
}

impl Route {
    /// The customer, unless ignored.
    pub fn customer_id(&self) -> Option<i64> {
        match self {
            Route::Ignored => None,
            Route::Customer { customer_id, .. } => Some(*customer_id),
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
    pub route: Route,
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

/// Resolves the route for an organization, with the rule that decided it.
pub fn route(config: &ProcessorConfig, organization: &Organization) -> (Route, Provenance) {
    let mapping = &config.mapping;
    let id = &organization.id;
    if mapping.ignored_organizations.contains(id) {
        return (
            Route::Ignored,
            Provenance {
                field: "customer_id",
                value: "none (ignored)".into(),
                set_by: "mapping.ignored_organizations".into(),
            },
        );
    }
    match mapping.organizations.get(id) {
        Some(&customer_id) => (
            Route::Customer {
                customer_id,
                mapped: true,
            },
            Provenance {
                field: "customer_id",
                value: customer_id.to_string(),
                set_by: format!("mapping.organizations[{id:?}]"),
            },
        ),
        None => (
            Route::Customer {
                customer_id: mapping.catch_all_customer_id,
                mapped: false,
            },
            Provenance {
                field: "customer_id",
                value: mapping.catch_all_customer_id.to_string(),
                set_by: "mapping.catch_all_customer_id".into(),
            },
        ),
    }
}

/// The plan for one alert: route, subject, ticket fields and note settings, each with the
/// rule that set it. Pure: no I/O, so `explain` and the handler agree by construction.
pub fn plan(config: &ProcessorConfig, message: &AlertMessage) -> Plan {
    let alert = &message.alert;
    let defaults = &config.tickets;
    let matching = config.overrides.matching(alert);
    let mut provenance = Vec::new();

    let (route, customer) = route(config, &alert.organization);
    provenance.push(customer);

    // The first matching override (most specific first) that sets the field, else the default.
    let pick = |get: &dyn Fn(&crate::config::Override) -> Option<String>,
                default: String|
     -> (String, String) {
        matching
            .iter()
            .find_map(|o| get(o).map(|v| (v, o.label())))
            .unwrap_or((default, TICKET_DEFAULTS.to_string()))
    };

    let (subject_template, subject_by) = matching
        .iter()
        .find_map(|o| o.subject.as_ref().map(|t| (t, o.label())))
        .unwrap_or((&defaults.subject, TICKET_DEFAULTS.to_string()));
    let mut subject = subject_template.render_max(message, SUBJECT_MAX_CHARS);
    let mut subject_by = subject_by;
    if subject.is_empty() {
        // Syncro rejects a blank subject; the title is required and never blank.
        subject = truncate_chars(&collapse_whitespace(&alert.title), SUBJECT_MAX_CHARS);
        subject_by = format!("{subject_by}, rendered empty: the alert title instead");
    }
    provenance.push(Provenance {
        field: "subject",
        value: subject.clone(),
        set_by: subject_by,
    });

    let (problem_type, by) = pick(&|o| o.problem_type.clone(), defaults.problem_type.clone());
    provenance.push(prov("problem_type", &problem_type, by));
    let (ticket_type_id, by) = pick(
        &|o| o.ticket_type_id.map(|v| v.to_string()),
        defaults.ticket_type_id.to_string(),
    );
    provenance.push(prov("ticket_type_id", &ticket_type_id, by));
    let (status, by) = pick(&|o| o.status.clone(), defaults.status.clone());
    provenance.push(prov("status", &status, by));
    let (user_id, by) = pick(
        &|o| o.assignee_user_id.map(|v| v.to_string()),
        defaults.assignee_user_id.to_string(),
    );
    provenance.push(prov("user_id", &user_id, by));
    let (tag, by) = pick(&|o| o.source_tag.clone(), defaults.source_tag.clone());
    provenance.push(prov("tag_list", &tag, by));
    let severity = alert.severity;
    let (priority, by) = pick(
        &|o| o.priorities.get(severity).map(str::to_string),
        defaults.priorities.get(severity).to_string(),
    );
    provenance.push(prov("priority", &priority, by));

    let notes = &config.notes;
    let mut title = notes.title.render_max(message, SUBJECT_MAX_CHARS);
    let mut title_by = NOTE_DEFAULTS.to_string();
    if title.is_empty() {
        title = subject.clone();
        title_by = format!("{NOTE_DEFAULTS}, rendered empty: the subject instead");
    }
    provenance.push(Provenance {
        field: "note.title",
        value: title.clone(),
        set_by: title_by,
    });
    provenance.push(Provenance {
        field: "note.visibility",
        value: format!(
            "{} (hidden: {}, do_not_email: {})",
            notes.visibility.as_str(),
            notes.visibility.hidden(),
            notes.visibility.do_not_email()
        ),
        set_by: NOTE_DEFAULTS.into(),
    });

    Plan {
        route,
        subject,
        ticket: TicketFields {
            problem_type,
            // Both come from validated i64s, so they parse back.
            ticket_type_id: ticket_type_id.parse().unwrap_or(defaults.ticket_type_id),
            status,
            user_id: user_id.parse().unwrap_or(defaults.assignee_user_id),
            tag_list: vec![tag],
            priority,
        },
        note: NoteFields {
            title,
            hidden: notes.visibility.hidden(),
            do_not_email: notes.visibility.do_not_email(),
        },
        provenance,
    }
}

fn prov(field: &'static str, value: &str, set_by: String) -> Provenance {
    Provenance {
        field,
        value: value.to_string(),
        set_by,
    }
}

/// The line that ties a comment to an alert: `relay-ref: <message id>`, on its own line.
/// The processor searches a ticket's comments for it to learn, after a crash, whether an
/// alert was already posted; keep the format stable.
pub fn reference_line(message_id: &str) -> String {
    format!("{REFERENCE_PREFIX}{message_id}")
}

/// The message ids referenced by a comment body (lines that are exactly
/// `relay-ref: <id>`; a trailing `\r` is ignored, since stored text may come back with CRLF).
pub fn references_in(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|line| line.trim_end_matches('\r').strip_prefix(REFERENCE_PREFIX))
        .map(str::trim)
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .collect()
}

/// The body of a new ticket's first comment: the alert in plain text (Syncro does not render
/// Markdown), ending with its reference line.
pub fn first_comment_body(message: &AlertMessage, plan: &Plan) -> String {
    first_comment_with_asset(message, plan, None)
}

/// [`first_comment_body`] with a `Syncro asset:` line after the `Device:` line: what became
/// of the device the alert named (attached, or why not).
pub fn first_comment_with_asset(
    message: &AlertMessage,
    plan: &Plan,
    asset_line: Option<&str>,
) -> String {
    let mut out = String::new();
    let unmapped = matches!(plan.route, Route::Customer { mapped: false, .. });
    write_entry(&mut out, message, unmapped, asset_line);
    out
}

/// A device as the alert reported it: `WS-07 (serial 5CG1234XYZ, MAC F8-75-A4-19-C6-22)`.
pub fn describe_device(device: &Device) -> String {
    let mut extra = Vec::new();
    if let Some(serial) = &device.serial {
        extra.push(format!("serial {serial}"));
    }
    if let Some(mac) = &device.mac {
        extra.push(format!("MAC {mac}"));
    }
    let name = device.name.as_deref().unwrap_or("(unnamed)");
    if extra.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", extra.join(", "))
    }
}

/// The body of a note listing `entries` (one alert, or several coalesced for one ticket),
/// each with its own reference line.
///
/// `unmapped_org` is the organization when the alerts went to the catch-all customer for
/// want of a mapping (a note on a catch-all ticket also says so when `plan_for_first` routed
/// to the catch-all). Each entry then names its own organization as unmapped, since unmapped
/// organizations with the same subject share the catch-all ticket.
pub fn note_body(
    entries: &[&AlertMessage],
    plan_for_first: &Plan,
    unmapped_org: Option<&Organization>,
) -> String {
    let unmapped = unmapped_org.is_some()
        || matches!(plan_for_first.route, Route::Customer { mapped: false, .. });
    let mut out = String::new();
    if entries.len() > 1 {
        let _ = writeln!(out, "{} alerts", entries.len());
    }
    for (i, message) in entries.iter().enumerate() {
        if entries.len() > 1 {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "--- Alert {} of {} ---", i + 1, entries.len());
        }
        write_entry(&mut out, message, unmapped, None);
    }
    out
}

/// One alert as plain-text lines, ending with its reference line.
fn write_entry(out: &mut String, message: &AlertMessage, unmapped: bool, asset_line: Option<&str>) {
    let a: &Alert = &message.alert;
    let mut line = |label: &str, value: &str| {
        let value = collapse_whitespace(value);
        if !value.is_empty() {
            let _ = writeln!(out, "{label}: {value}");
        }
    };
    line("Alert", &a.title);
    line("Severity", a.severity.as_str());
    line("Event type", &a.event_type);
    line("Occurred at", &a.occurred_at_rfc3339());
    if a.status == AlertStatus::Resolved {
        line("Status", "resolved (the condition is over)");
    }
    line("Organization", &describe_org(&a.organization));
    if unmapped {
        line(
            "Unmapped organization",
            &format!(
                "{} has no mapping, so this alert went to the catch-all customer; map it in \
                 [mapping.organizations]",
                describe_org(&a.organization)
            ),
        );
    }
    line("User", a.user.as_deref().unwrap_or_default());
    line("IP", a.ip.as_deref().unwrap_or_default());
    if let Some(device) = &a.device {
        line("Device", &describe_device(device));
    }
    if let Some(asset) = asset_line {
        line("Syncro asset", asset);
    }
    if let Some(rule) = &a.respond_rule {
        line(
            "Respond rule",
            &describe_rule(rule.name.as_deref(), &rule.id),
        );
    }
    if let Some(rule) = &a.ioc_rule {
        line("IOC rule", &describe_rule(rule.name.as_deref(), &rule.id));
    }
    line("Source", &format!("{} (alert id {})", message.source, a.id));
    if let Some(description) = a.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str("Description:\n");
        for text in description.trim().lines() {
            out.push_str(&neutralise_reference(text.trim_end()));
            out.push('\n');
        }
    }
    if !a.details.is_empty() {
        out.push_str("Details:\n");
        for (key, value) in &a.details {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let value = truncate_chars(&collapse_whitespace(&value), DETAIL_MAX_CHARS);
            let _ = writeln!(out, "  {}: {value}", collapse_whitespace(key));
        }
    }
    out.push_str(&reference_line(&message.message_id()));
    out.push('\n');
}

/// A sender's free text must not forge a reference line (which would make reconciliation
/// believe another alert was already posted): such a line gets a leading `> `.
fn neutralise_reference(line: &str) -> String {
    if line.trim_start().starts_with(REFERENCE_PREFIX.trim_end()) {
        format!("> {line}")
    } else {
        line.to_string()
    }
}

fn describe_org(org: &Organization) -> String {
    let mut text = org.name.clone().unwrap_or_else(|| org.id.clone());
    let mut extra = vec![format!("id {}", org.id)];
    if let Some(domain) = &org.domain {
        extra.push(format!("domain {domain}"));
    }
    let _ = write!(text, " ({})", extra.join(", "));
    text
}

fn describe_rule(name: Option<&str>, id: &str) -> String {
    match name {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{good, sections, GOOD};
    use crate::template::tests::{bare, sample};
    use shared::alert::{RuleRef, Severity};

    fn config_with(extra_sections: &str, notes_visibility: &str) -> ProcessorConfig {
        let text = GOOD.replace(
            "visibility = \"private\"",
            &format!("visibility = \"{notes_visibility}\""),
        ) + extra_sections;
        ProcessorConfig::from_sections(&sections(&text)).expect("valid")
    }

    fn set_by<'p>(plan: &'p Plan, field: &str) -> &'p str {
        &plan.provenance_of(field).expect("recorded").set_by
    }

    const EVENT: &str = "overrides.event_type[match=\"m365.impossible_travel\"]";
    const RESPOND: &str = "overrides.respond_rule[match=\"rr-7\"]";
    const IOC: &str = "overrides.ioc_rule[match=\"ioc-3\"]";

    #[test]
    fn no_matching_override_uses_the_defaults() {
        let mut m = bare();
        m.alert.event_type = "edr.other".into();
        m.alert.severity = Severity::Medium;
        let plan = plan(&good(), &m);
        assert_eq!(
            plan.ticket,
            TicketFields {
                problem_type: "Security".into(),
                ticket_type_id: 42,
                status: "New".into(),
                user_id: 1302,
                tag_list: vec!["alert-relay".into()],
                priority: "2 Normal".into(),
            }
        );
        assert_eq!(
            plan.subject,
            "[MEDIUM] Impossible travel for j.doe@contoso.com (org-42)"
        );
        for field in [
            "subject",
            "problem_type",
            "ticket_type_id",
            "status",
            "user_id",
            "tag_list",
            "priority",
        ] {
            assert_eq!(set_by(&plan, field), "tickets (defaults)", "{field}");
        }
        assert_eq!(set_by(&plan, "note.title"), "notes (defaults)");
    }

    #[test]
    fn an_event_type_override_sets_its_fields() {
        let mut m = bare();
        m.alert.severity = Severity::Low;
        let plan = plan(&good(), &m);
        assert_eq!(plan.ticket.problem_type, "Account");
        assert_eq!(plan.ticket.status, "In Progress");
        assert_eq!(plan.ticket.priority, "1 High");
        assert_eq!(plan.ticket.tag_list, ["travel"]);
        assert_eq!(plan.ticket.user_id, 1302);
        assert_eq!(set_by(&plan, "problem_type"), EVENT);
        assert_eq!(set_by(&plan, "priority"), EVENT);
        assert_eq!(set_by(&plan, "user_id"), "tickets (defaults)");
    }

    #[test]
    fn a_respond_rule_beats_the_event_type_field_by_field() {
        let mut m = bare();
        m.alert.respond_rule = Some(RuleRef {
            id: "rr-7".into(),
            name: None,
        });
        // The respond rule names a priority for critical only.
        let critical = plan(&good(), &m);
        assert_eq!(critical.ticket.problem_type, "Respond");
        assert_eq!(set_by(&critical, "problem_type"), RESPOND);
        assert_eq!(critical.ticket.user_id, 1301);
        assert_eq!(critical.ticket.priority, "1 High");
        assert_eq!(set_by(&critical, "priority"), RESPOND);
        assert_eq!(critical.ticket.status, "In Progress");
        assert_eq!(set_by(&critical, "status"), EVENT);
        m.alert.severity = Severity::Info;
        let info = plan(&good(), &m);
        assert_eq!(info.ticket.priority, "1 High");
        assert_eq!(set_by(&info, "priority"), EVENT);
    }

    #[test]
    fn an_ioc_rule_beats_everything_but_only_for_the_fields_it_sets() {
        let plan = plan(&good(), &sample());
        assert_eq!(plan.ticket.status, "Waiting on Customer");
        assert_eq!(set_by(&plan, "status"), IOC);
        assert_eq!(
            plan.subject,
            "IOC Known bad ASN: Impossible travel for j.doe@contoso.com"
        );
        assert_eq!(set_by(&plan, "subject"), IOC);
        assert_eq!(plan.ticket.problem_type, "Respond");
        assert_eq!(set_by(&plan, "problem_type"), RESPOND);
        assert_eq!(plan.ticket.tag_list, ["travel"]);
        assert_eq!(set_by(&plan, "tag_list"), EVENT);
        assert_eq!(plan.ticket.ticket_type_id, 42);
        assert_eq!(set_by(&plan, "ticket_type_id"), "tickets (defaults)");
    }

    #[test]
    fn mapped_catch_all_and_ignored_organizations_route_as_configured() {
        let config = good();
        let mut m = sample();
        let mapped = plan(&config, &m);
        assert_eq!(
            mapped.route,
            Route::Customer {
                customer_id: 4_101_771,
                mapped: true
            }
        );
        assert_eq!(
            set_by(&mapped, "customer_id"),
            "mapping.organizations[\"org-42\"]"
        );

        m.alert.organization.id = "org-new".into();
        let unmapped = plan(&config, &m);
        assert_eq!(
            unmapped.route,
            Route::Customer {
                customer_id: 4_101_776,
                mapped: false
            }
        );
        assert_eq!(
            set_by(&unmapped, "customer_id"),
            "mapping.catch_all_customer_id"
        );
        assert!(first_comment_body(&m, &unmapped).contains(
            "Unmapped organization: Contoso Ltd (id org-new, domain contoso.com) has no mapping"
        ));
        assert!(!first_comment_body(&sample(), &mapped).contains("Unmapped"));

        m.alert.organization.id = "org-test".into();
        let ignored = plan(&config, &m);
        assert_eq!(ignored.route, Route::Ignored);
        assert_eq!(ignored.group_key(), None);
        assert_eq!(
            set_by(&ignored, "customer_id"),
            "mapping.ignored_organizations"
        );
    }

    #[test]
    fn the_three_visibilities_set_hidden_and_do_not_email() {
        for (visibility, hidden, do_not_email) in [
            ("private", true, true),
            ("public", false, true),
            ("email", false, false),
        ] {
            let plan = plan(&config_with("", visibility), &sample());
            assert_eq!(
                (plan.note.hidden, plan.note.do_not_email),
                (hidden, do_not_email),
                "{visibility}"
            );
            assert_eq!(
                plan.note.title,
                "Alert: Impossible travel for j.doe@contoso.com"
            );
        }
    }

    #[test]
    fn an_empty_subject_falls_back_to_the_title() {
        let config = ProcessorConfig::from_sections(&sections(&GOOD.replace(
            "subject = \"[{severity_upper}] {title} ({organization.name})\"",
            "subject = \"{user}\"",
        )))
        .expect("valid");
        let mut m = bare();
        m.alert.event_type = "other".into();
        let plan = plan(&config, &m);
        assert_eq!(plan.subject, "Impossible travel for j.doe@contoso.com");
        assert!(set_by(&plan, "subject").contains("rendered empty"));
    }

    #[test]
    fn group_keys_ignore_case_and_white_space_but_not_the_customer() {
        assert_eq!(
            group_key(7, "  Impossible   Travel\tfor X "),
            group_key(7, "impossible travel for x")
        );
        assert_eq!(group_key(7, "A  b"), "7:a b");
        assert_ne!(group_key(7, "a"), group_key(8, "a"));
        let plan = plan(&good(), &sample());
        assert_eq!(
            plan.group_key().as_deref(),
            Some("4101771:ioc known bad asn: impossible travel for j.doe@contoso.com")
        );
    }

    #[test]
    fn comment_bodies_list_every_field_and_end_with_the_reference() {
        let m = sample();
        let plan = plan(&good(), &m);
        let body = first_comment_body(&m, &plan);
        let expected = format!(
            "Alert: Impossible travel for j.doe@contoso.com\n\
             Severity: critical\n\
             Event type: m365.impossible_travel\n\
             Occurred at: 2026-05-01T10:00:00Z\n\
             Organization: Contoso Ltd (id org-42, domain contoso.com)\n\
             User: j.doe@contoso.com\n\
             IP: 203.0.113.9\n\
             Device: WS-07 (serial 5CG1234XYZ, MAC F8-75-A4-19-C6-22)\n\
             Respond rule: Block sign-in on impossible travel (rr-7)\n\
             IOC rule: Known bad ASN (ioc-3)\n\
             Source: demo (alert id evt-20260501-0001)\n\
             Description:\n\
             Logins from Oslo and Lima 12 minutes apart\n\
             Details:\n  country_from: NO\n  country_to: PE\n\
             relay-ref: {}\n",
            m.message_id()
        );
        assert_eq!(body, expected);
        assert_eq!(references_in(&body), [m.message_id().as_str()]);
    }

    #[test]
    fn a_coalesced_note_lists_each_alert_with_its_own_reference() {
        let first = sample();
        let mut second = bare();
        second.alert.id = "evt-2".into();
        second.alert.status = AlertStatus::Resolved;
        second.alert.organization.id = "org-99".into();
        let plan = plan(&good(), &first);
        let body = note_body(&[&first, &second], &plan, Some(&second.alert.organization));
        assert!(
            body.starts_with("2 alerts\n--- Alert 1 of 2 ---\n"),
            "{body}"
        );
        assert!(body.contains("--- Alert 2 of 2 ---"));
        assert!(body.contains("Status: resolved"));
        assert!(body.contains("Unmapped organization: org-99 (id org-99) has no mapping"));
        let refs = references_in(&body);
        assert_eq!(refs, [first.message_id(), second.message_id()]);
        let single = note_body(&[&first], &plan, None);
        assert_eq!(single, first_comment_body(&first, &plan));
    }

    #[test]
    fn the_asset_line_follows_the_device_line_and_nothing_else_changes() {
        let m = sample();
        let plan = plan(&good(), &m);
        let plain = first_comment_body(&m, &plan);
        let with = first_comment_with_asset(&m, &plan, Some("WS-07 (asset 9), matched by name"));
        let device_line = "Device: WS-07 (serial 5CG1234XYZ, MAC F8-75-A4-19-C6-22)\n";
        assert_eq!(
            with,
            plain.replace(
                device_line,
                &format!("{device_line}Syncro asset: WS-07 (asset 9), matched by name\n")
            )
        );
        assert_ne!(with, plain);
    }

    #[test]
    fn a_sender_cannot_forge_a_reference_line() {
        let mut m = bare();
        m.alert.description = Some("line one\nrelay-ref: ar1-forged\n  relay-ref: x".into());
        let plan = plan(&good(), &m);
        let body = first_comment_body(&m, &plan);
        assert_eq!(references_in(&body), [m.message_id().as_str()]);
        assert!(body.contains("> relay-ref: ar1-forged"));
        assert_eq!(references_in("relay-ref: ar1-x\r\nother"), ["ar1-x"]);
    }
}
