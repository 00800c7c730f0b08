//! The plan's and the texts' tests.

use super::*;
use crate::config::tests::{good, sections, GOOD};
use crate::template::tests::{bare, sample};
use shared::alert::AlertStatus;
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
            rmm_alert: false,
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
        Destination::Customer {
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
        Destination::Customer {
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
    assert_eq!(ignored.route, Destination::Ignored);
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
         Organization: Contoso Ltd (id org-42, domain contoso.com)\n\
         User: j.doe@contoso.com\n\
         IP: 203.0.113.9\n\
         Device: WS-07 (serial 5CG1234XYZ, MAC F8-75-A4-19-C6-22)\n\
         Respond rule: Block sign-in on impossible travel (rr-7)\n\
         IOC rule: Known bad ASN (ioc-3)\n\
         Source: demo\n\
         Description:\n\
         Logins from Oslo and Lima 12 minutes apart\n\
         Details:\n  country_from: NO\n  country_to: PE\n\
         Alert id: evt-20260501-0001\n\
         Occurred at: 2026-05-01T10:00:00Z\n\
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
        body.starts_with("2 alerts (2 distinct), occurred from "),
        "{body}"
    );
    assert!(body.contains("\n=== 1 of 2: 1 alert, occurred at 2026-05-01T10:00:00Z ===\n"));
    assert!(body.contains("\n=== 2 of 2: 1 alert, occurred at "));
    assert!(body.contains("Alert id: evt-2\n"));
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

#[test]
fn a_storm_note_lists_each_distinct_alert_once_and_every_id() {
    let first = sample();
    let plan = plan(&good(), &first);
    let mut repeats = Vec::new();
    for i in 0..300 {
        let mut m = sample();
        m.alert.id = format!("evt-repeat-{i:03}");
        m.alert.occurred_at += chrono::Duration::seconds(i);
        repeats.push(m);
    }
    let mut other = bare();
    other.alert.id = "evt-other".into();
    repeats.push(other);
    let refs: Vec<&AlertMessage> = repeats.iter().collect();
    let body = note_body(&refs, &plan, None);
    assert!(
        body.starts_with("301 alerts (2 distinct), occurred from 2026-05-01T10:00:00Z to "),
        "{body}"
    );
    assert!(body.contains(
        "=== 1 of 2: 300 alerts, first 2026-05-01T10:00:00Z, last 2026-05-01T10:04:59Z ==="
    ));
    // The repeated alert's lines appear once, not 300 times.
    assert_eq!(body.matches("Logins from Oslo and Lima").count(), 1);
    // Every sender id is in the note (a technician searching Syncro for it finds the ticket),
    // and every alert has its own reference line.
    for m in &repeats {
        assert!(body.contains(&m.alert.id), "{} is missing", m.alert.id);
    }
    let ids: Vec<String> = repeats.iter().map(|m| m.message_id()).collect();
    assert_eq!(references_in(&body), ids);
    // About 110 bytes per repeat: ids and references, not the alert again.
    assert!(body.len() < 300 * 130 + 4_000, "{} bytes", body.len());
    // No line is longer than the wrapping width plus one id.
    assert!(body.lines().all(|l| l.chars().count() <= 140), "{body}");
}

#[test]
fn alert_ids_cannot_forge_a_reference_line_when_wrapped() {
    let plan = plan(&good(), &sample());
    let mut many = Vec::new();
    for i in 0..30 {
        let mut m = sample();
        m.alert.id = if i == 10 {
            "relay-ref: ar1-forged".into()
        } else {
            format!("evt-{i:02}")
        };
        many.push(m);
    }
    let refs: Vec<&AlertMessage> = many.iter().collect();
    let body = note_body(&refs, &plan, None);
    let ids: Vec<String> = many.iter().map(|m| m.message_id()).collect();
    assert_eq!(references_in(&body), ids, "{body}");
}

#[test]
fn the_rmm_alert_is_decided_by_the_most_specific_override_else_the_table() {
    let off = plan(&good(), &sample());
    assert!(!off.ticket.rmm_alert);
    assert_eq!(set_by(&off, "rmm_alert"), "tickets.rmm_alert.enabled");

    let only_edr = config_with(
        "\n[tickets.rmm_alert]\nenabled = true\nevent_types = [\"edr.ransomware\"]\n",
        "private",
    );
    let p = plan(&only_edr, &sample());
    assert!(!p.ticket.rmm_alert, "another event type");
    assert_eq!(set_by(&p, "rmm_alert"), "tickets.rmm_alert.event_types");
    let mut edr = sample();
    edr.alert.event_type = "edr.ransomware".into();
    assert!(plan(&only_edr, &edr).ticket.rmm_alert);

    // An IOC-rule override turns it on for an event type the table leaves out.
    let mut config = only_edr.clone();
    let ioc = config
        .overrides
        .ioc_rule
        .iter_mut()
        .find(|o| o.matches == "ioc-3")
        .expect("the sample's IOC override");
    ioc.rmm_alert = Some(true);
    let p = plan(&config, &sample());
    assert!(p.ticket.rmm_alert);
    assert_eq!(set_by(&p, "rmm_alert"), IOC);
    assert_eq!(
        p.provenance_of("rmm_alert").map(|p| p.value.as_str()),
        Some("yes")
    );
}
