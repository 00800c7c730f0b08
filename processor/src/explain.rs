//! `processor explain`: what one alert would produce, field by field, with the rule that set
//! each field, from the same [`crate::rules::plan`] the handler uses. No Syncro calls.

use crate::config::{OnResolvedTicket, ProcessorConfig, ResolvedAlert};
use crate::rules::{first_comment_body, plan, Route};
use shared::alert::AlertStatus;
use shared::message::AlertMessage;
use std::fmt::Write as _;

/// A human-readable account of the plan for `message`.
pub fn explain(config: &ProcessorConfig, message: &AlertMessage) -> String {
    let alert = &message.alert;
    let plan = plan(config, message);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Alert {} from source {} (message id {})",
        alert.id,
        message.source,
        message.message_id()
    );
    let _ = writeln!(
        out,
        "  organization {}, event type {}, severity {}, status {}",
        alert.organization.id,
        alert.event_type,
        alert.severity,
        alert.status.as_str()
    );
    out.push('\n');

    let route_by = plan
        .provenance_of("customer_id")
        .map(|p| p.set_by.as_str())
        .unwrap_or_default();
    match plan.route {
        Route::Ignored => {
            let _ = writeln!(
                out,
                "Route: ignored ({route_by}): the alert is acknowledged and dropped; nothing is \
                 sent to Syncro."
            );
            return out;
        }
        Route::Customer {
            customer_id,
            mapped: true,
        } => {
            let _ = writeln!(out, "Route: customer {customer_id} (mapped by {route_by})");
        }
        Route::Customer {
            customer_id,
            mapped: false,
        } => {
            let _ = writeln!(
                out,
                "Route: customer {customer_id}, the catch-all ({route_by}): organization {:?} \
                 has no mapping; it is remembered for later mapping",
                alert.organization.id
            );
        }
    }
    let _ = writeln!(out, "Subject: {}", plan.subject);
    let _ = writeln!(out, "Group key: {}", plan.group_key().unwrap_or_default());
    out.push('\n');

    let _ = writeln!(
        out,
        "With no open ticket for the group key (kept {} s after the last alert), a ticket is \
         created:",
        config.grouping.window_secs
    );
    // One column layout for ticket and note rows, so the "<-" line up.
    let shown = || plan.provenance.iter().filter(|p| p.field != "customer_id");
    let width = shown().map(|p| p.field.len()).max().unwrap_or(0);
    let value_width = shown()
        .map(|p| p.value.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let row = |out: &mut String, p: &crate::rules::Provenance| {
        let _ = writeln!(
            out,
            "  {:width$}  {:value_width$}  <- {}",
            p.field, p.value, p.set_by
        );
    };
    for p in shown().filter(|p| !p.field.starts_with("note.")) {
        row(&mut out, p);
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "With an open ticket for the group key, a note is added instead (alerts arriving within \
         {} ms share one note, at most {}):",
        config.worker.coalesce_window_ms, config.worker.coalesce_max_alerts
    );
    for p in shown().filter(|p| p.field.starts_with("note.")) {
        row(&mut out, p);
    }
    if alert.status == AlertStatus::Resolved {
        let _ = match config.grouping.resolved_alert {
            ResolvedAlert::Note => writeln!(
                out,
                "  this alert is resolved: the note is added and the ticket's status is left \
                 alone (grouping.resolved_alert = \"note\")"
            ),
            ResolvedAlert::NoteAndResolve => writeln!(
                out,
                "  this alert is resolved: after the note the ticket is set to {:?} \
                 (grouping.resolved_alert = \"note-and-resolve\")",
                config.grouping.resolve_status
            ),
        };
    }
    let closed = match config.grouping.on_resolved_ticket {
        OnResolvedTicket::NewTicket => "a new ticket is created".to_string(),
        OnResolvedTicket::Reopen => format!(
            "within {} s of its resolution it is set to {:?} and gets the note; later, a new \
             ticket is created",
            config.grouping.reopen_window_secs, config.grouping.reopen_status
        ),
        OnResolvedTicket::Note => format!(
            "within {} s of its resolution it gets the note as it is; later, a new ticket is \
             created",
            config.grouping.reopen_window_secs
        ),
    };
    let _ = writeln!(
        out,
        "  if that ticket was closed in Syncro: {closed} (grouping.on_resolved_ticket = {:?})",
        config.grouping.on_resolved_ticket.as_str()
    );
    out.push('\n');

    out.push_str("First comment of a new ticket (also the body of a note):\n");
    for line in first_comment_body(message, &plan).lines() {
        let _ = writeln!(out, "  | {line}");
    }
    out
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
