//! `processor explain`: what one alert would produce, field by field, with the rule that set
//! each field, from the same [`crate::plan::plan`] the handler uses. No Syncro calls.

use crate::config::{OnResolvedTicket, ProcessorConfig, ResolvedAlert};
use crate::plan::{first_comment_body, plan, Destination, Plan, Provenance};
use shared::alert::AlertStatus;
use shared::message::AlertMessage;
use std::fmt::Write as _;

/// A human-readable account of the plan for `message`: the alert, where it goes, the ticket
/// it would create, the note it would add, and its first comment.
pub fn explain(config: &ProcessorConfig, message: &AlertMessage) -> String {
    let plan = plan(config, message);
    let mut out = String::new();
    write_alert(&mut out, message);
    if !write_route(&mut out, message, &plan) {
        return out;
    }
    let table = Table::of(&plan);
    write_ticket(&mut out, config, &table);
    write_note(&mut out, config, message, &table);
    out.push_str("First comment of a new ticket (also the body of a note):\n");
    for line in first_comment_body(message, &plan).lines() {
        let _ = writeln!(out, "  | {line}");
    }
    out
}

/// Which alert this is.
fn write_alert(out: &mut String, message: &AlertMessage) {
    let alert = &message.alert;
    let _ = writeln!(
        out,
        "Alert {} from source {} (message id {})",
        alert.id,
        message.source,
        message.message_id()
    );
    let _ = writeln!(
        out,
        "  organization {}, event type {}, severity {}, status {}\n",
        alert.organization.id,
        alert.event_type,
        alert.severity,
        alert.status.as_str()
    );
}

/// Where the alert goes; `false` when it is ignored (nothing more to tell).
fn write_route(out: &mut String, message: &AlertMessage, plan: &Plan) -> bool {
    let route_by = plan
        .provenance_of("customer_id")
        .map(|p| p.set_by.as_str())
        .unwrap_or_default();
    match plan.route {
        Destination::Ignored => {
            let _ = writeln!(
                out,
                "Route: ignored ({route_by}): the alert is acknowledged and dropped; nothing is \
                 sent to Syncro."
            );
            return false;
        }
        Destination::Customer {
            customer_id,
            mapped: true,
        } => {
            let _ = writeln!(out, "Route: customer {customer_id} (mapped by {route_by})");
        }
        Destination::Customer {
            customer_id,
            mapped: false,
        } => {
            let _ = writeln!(
                out,
                "Route: customer {customer_id}, the catch-all ({route_by}): organization {:?} \
                 has no mapping; it is remembered for later mapping",
                message.alert.organization.id
            );
        }
    }
    let _ = writeln!(out, "Subject: {}", plan.subject);
    let _ = writeln!(out, "Group key: {}\n", plan.group_key().unwrap_or_default());
    true
}

/// The plan's fields in one column layout for ticket and note rows, so the "<-" line up.
struct Table<'a> {
    rows: Vec<&'a Provenance>,
    width: usize,
    value_width: usize,
}

impl<'a> Table<'a> {
    fn of(plan: &'a Plan) -> Table<'a> {
        let rows: Vec<&Provenance> = plan
            .provenance
            .iter()
            .filter(|p| p.field != "customer_id")
            .collect();
        let width = rows.iter().map(|p| p.field.len()).max().unwrap_or(0);
        let value_width = rows
            .iter()
            .map(|p| p.value.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        Table {
            rows,
            width,
            value_width,
        }
    }

    /// The rows of the note's fields (`note = true`) or the ticket's.
    fn write(&self, out: &mut String, note: bool) {
        for p in self
            .rows
            .iter()
            .filter(|p| p.field.starts_with("note.") == note)
        {
            let _ = writeln!(
                out,
                "  {:width$}  {:value_width$}  <- {}",
                p.field,
                p.value,
                p.set_by,
                width = self.width,
                value_width = self.value_width
            );
        }
    }
}

/// The ticket a first alert of its group creates.
fn write_ticket(out: &mut String, config: &ProcessorConfig, table: &Table<'_>) {
    let _ = writeln!(
        out,
        "With no open ticket for the group key (kept {} s after the last alert), a ticket is \
         created:",
        config.grouping.window_secs
    );
    table.write(out, false);
    out.push('\n');
}

/// The note a later alert of its group adds, what a resolved alert does, and what a ticket
/// closed in Syncro does.
fn write_note(
    out: &mut String,
    config: &ProcessorConfig,
    message: &AlertMessage,
    table: &Table<'_>,
) {
    let grouping = &config.grouping;
    let _ = writeln!(
        out,
        "With an open ticket for the group key, a note is added instead (alerts arriving within \
         {} ms share one note, at most {}):",
        config.worker.coalesce_window_ms, config.worker.coalesce_max_alerts
    );
    table.write(out, true);
    if message.alert.status == AlertStatus::Resolved {
        let _ = match grouping.resolved_alert {
            ResolvedAlert::Note => writeln!(
                out,
                "  this alert is resolved: the note is added and the ticket's status is left \
                 alone (grouping.resolved_alert = \"note\")"
            ),
            ResolvedAlert::NoteAndResolve => writeln!(
                out,
                "  this alert is resolved: after the note the ticket is set to {:?} \
                 (grouping.resolved_alert = \"note-and-resolve\")",
                grouping.resolve_status
            ),
        };
    }
    let closed = match grouping.on_resolved_ticket {
        OnResolvedTicket::NewTicket => "a new ticket is created".to_string(),
        OnResolvedTicket::Reopen => format!(
            "within {} s of its resolution it is set to {:?} and gets the note; later, a new \
             ticket is created",
            grouping.reopen_window_secs, grouping.reopen_status
        ),
        OnResolvedTicket::Note => format!(
            "within {} s of its resolution it gets the note as it is; later, a new ticket is \
             created",
            grouping.reopen_window_secs
        ),
    };
    let _ = writeln!(
        out,
        "  if that ticket was closed in Syncro: {closed} (grouping.on_resolved_ticket = {:?})\n",
        grouping.on_resolved_ticket.as_str()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::good;
    use crate::template::tests::sample;

    #[test]
    fn explain_names_the_route_subject_key_and_the_rule_behind_each_field() {
        let m = sample();
        let text = explain(&good(), &m);
        for expected in [
            "Route: customer 4101771 (mapped by mapping.organizations[\"org-42\"])",
            "Subject: IOC Known bad ASN: Impossible travel for j.doe@contoso.com",
            "Group key: 4101771:ioc known bad asn: impossible travel for j.doe@contoso.com",
            "<- overrides.ioc_rule[match=\"ioc-3\"]",
            "<- overrides.respond_rule[match=\"rr-7\"]",
            "<- overrides.event_type[match=\"m365.impossible_travel\"]",
            "<- tickets (defaults)",
            "note.visibility  private (hidden: true, do_not_email: true)",
            "<- notes (defaults)",
            "grouping.on_resolved_ticket = \"new-ticket\"",
            "  | relay-ref: ",
        ] {
            assert!(text.contains(expected), "{expected:?} not in:\n{text}");
        }
        assert!(text.contains(&m.message_id()));
    }

    #[test]
    fn ignored_and_unmapped_organizations_are_explained() {
        let mut m = sample();
        m.alert.organization.id = "org-test".into();
        let text = explain(&good(), &m);
        assert!(
            text.contains("Route: ignored (mapping.ignored_organizations)"),
            "{text}"
        );
        assert!(!text.contains("Subject:"));
        m.alert.organization.id = "org-new".into();
        m.alert.status = AlertStatus::Resolved;
        let text = explain(&good(), &m);
        assert!(
            text.contains("the catch-all (mapping.catch_all_customer_id)"),
            "{text}"
        );
        assert!(text.contains("this alert is resolved"), "{text}");
    }
}
