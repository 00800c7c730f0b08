//! Subject and note rendering: `processor::template::Template` on arbitrary template text,
//! and the comment bodies of `processor::plan` (first comment, coalesced notes) for
//! arbitrary alerts (any strings, not only what ingest validates).
//!
//! Properties: nothing panics, and every output is bounded:
//! - a rendered template is trimmed, has no run of white space, and is no longer than the
//!   template plus every placeholder's value; `render_max(n)` is at most `n` characters;
//! - a plan's subject is never empty and at most `SUBJECT_MAX_CHARS` characters;
//! - a comment body is at most a fixed multiple of its alerts' size (no value is repeated
//!   without bound) and ends with the reference line of every alert, each alert once.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use processor::config::ProcessorConfig;
use processor::plan::{self, SUBJECT_MAX_CHARS};
use processor::template::{Template, PLACEHOLDERS};
use shared::alert::{Alert, AlertStatus, Device, Organization, RuleRef, Severity};
use shared::config::Settings;
use shared::message::AlertMessage;
use std::sync::OnceLock;

#[derive(Debug, Arbitrary)]
struct FuzzAlert {
    id: String,
    event_type: String,
    severity: u8,
    org_id: String,
    org_name: Option<String>,
    org_domain: Option<String>,
    title: String,
    description: Option<String>,
    occurred_at: i64,
    respond_rule: Option<(String, Option<String>)>,
    ioc_rule: Option<(String, Option<String>)>,
    user: Option<String>,
    ip: Option<String>,
    device: Option<(Option<String>, Option<String>, Option<String>)>,
    resolved: bool,
    details: Vec<(String, String)>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    template: String,
    /// Placeholders the fuzzer can splice in by index.
    splices: Vec<u8>,
    source: String,
    alerts: Vec<FuzzAlert>,
}

impl FuzzAlert {
    fn build(self) -> Alert {
        let rule = |r: Option<(String, Option<String>)>| r.map(|(id, name)| RuleRef { id, name });
        Alert {
            id: self.id,
            event_type: self.event_type,
            severity: [
                Severity::Critical,
                Severity::High,
                Severity::Medium,
                Severity::Low,
                Severity::Info,
            ][usize::from(self.severity) % 5],
            organization: Organization {
                id: self.org_id,
                name: self.org_name,
                domain: self.org_domain,
            },
            title: self.title,
            description: self.description,
            occurred_at: DateTime::<Utc>::from_timestamp(self.occurred_at % 253_402_300_799, 0)
                .unwrap_or_default(),
            respond_rule: rule(self.respond_rule),
            ioc_rule: rule(self.ioc_rule),
            user: self.user,
            ip: self.ip,
            device: self
                .device
                .map(|(name, serial, mac)| Device { name, serial, mac }),
            status: if self.resolved {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            details: self
                .details
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        }
    }
}

/// A complete processor configuration; `org-42` is mapped, everything else goes to the
/// catch-all customer (so both kinds of body are rendered).
const CONFIG: &str = r#"
[mapping]
catch_all_customer_id = 4101776
organizations = { "org-42" = 4101771 }

[tickets]
problem_type = "Security"
ticket_type_id = 42
status = "New"
assignee_user_id = 1302
source_tag = "alert-relay"
subject = "[{severity_upper}] {title} ({organization.name}) {device.name} {user} {ip}"

[tickets.priorities]
critical = "0 Urgent"
high = "1 High"
medium = "2 Normal"
low = "3 Low"
info = "3 Low"

[notes]
visibility = "private"
title = "Alert: {title} {ioc_rule.name}"
"#;

fn config() -> &'static ProcessorConfig {
    static CONFIG_CELL: OnceLock<ProcessorConfig> = OnceLock::new();
    CONFIG_CELL.get_or_init(|| {
        let settings = Settings::from_toml(CONFIG, &|_| None).expect("the fixed config parses");
        ProcessorConfig::from_sections(&settings.processor_sections)
            .expect("the fixed config is valid")
    })
}

fn size_of(message: &AlertMessage) -> usize {
    serde_json::to_string(message).map_or(0, |s| s.len())
}

fuzz_target!(|input: Input| {
    let mut text = input.template;
    for &i in input.splices.iter().take(8) {
        text.push_str(&format!(
            "{{{}}}",
            PLACEHOLDERS[usize::from(i) % PLACEHOLDERS.len()]
        ));
    }
    let messages: Vec<AlertMessage> = input
        .alerts
        .into_iter()
        .take(4)
        .map(|a| AlertMessage::new(&input.source, a.build(), DateTime::UNIX_EPOCH))
        .collect();
    let Some(first) = messages.first() else {
        let _ = Template::parse(&text);
        return;
    };

    if let Ok(template) = Template::parse(&text) {
        let values: usize = PLACEHOLDERS
            .iter()
            .map(|p| {
                Template::parse(&format!("{{{p}}}"))
                    .map(|t| t.render(first).len())
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let placeholders = text.matches('{').count();
        let rendered = template.render(first);
        assert!(
            rendered.len() <= text.len() + placeholders * values,
            "render grew beyond its inputs"
        );
        assert_eq!(rendered, rendered.trim(), "a render is trimmed");
        assert_eq!(
            rendered.split_whitespace().collect::<Vec<_>>().join(" "),
            rendered,
            "white space is collapsed"
        );
        assert!(
            template
                .render_max(first, SUBJECT_MAX_CHARS)
                .chars()
                .count()
                <= SUBJECT_MAX_CHARS
        );
    }

    let plan = plan::plan(config(), first);
    assert!(!plan.subject.is_empty(), "a subject is never empty");
    assert!(plan.subject.chars().count() <= SUBJECT_MAX_CHARS);
    assert!(plan.note.title.chars().count() <= SUBJECT_MAX_CHARS);

    let bound = |ms: &[&AlertMessage]| ms.iter().map(|m| 4 * size_of(m) + 1024).sum::<usize>();
    let body = plan::first_comment_body(first, &plan);
    assert!(
        body.len() <= bound(&[first]),
        "first comment body unbounded"
    );
    assert_eq!(plan::references_in(&body), [first.message_id()]);

    let refs: Vec<&AlertMessage> = messages.iter().collect();
    let note = plan::note_body(&refs, &plan, Some(&first.alert.organization));
    assert!(note.len() <= bound(&refs), "note body unbounded");
    let mut expected: Vec<String> = refs.iter().map(|m| m.message_id()).collect();
    let mut found: Vec<String> = plan::references_in(&note)
        .into_iter()
        .map(str::to_string)
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(
        found, expected,
        "each alert's reference once, no forged one"
    );
});
