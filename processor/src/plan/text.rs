//! The plain text Syncro shows a technician: a new ticket's first comment, a note listing
//! one or many alerts, and the `relay-ref` line each comment ends with (how a crashed
//! attempt is reconciled, and how an alert is found in Syncro).

use super::*;
use crate::template::{collapse_whitespace, truncate_chars};
use shared::alert::{Alert, AlertStatus, Device, Organization};
use shared::message::AlertMessage;
use std::fmt::Write as _;

/// Start of the reference line every comment body ends with; see [`reference_line`].
pub const REFERENCE_PREFIX: &str = "relay-ref: ";

/// Longest value of one `details` entry in a body; details are context, not storage.
pub(crate) const DETAIL_MAX_CHARS: usize = 500;

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
    let unmapped = matches!(plan.route, Destination::Customer { mapped: false, .. });
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
        || matches!(
            plan_for_first.route,
            Destination::Customer { mapped: false, .. }
        );
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
pub(crate) fn write_entry(
    out: &mut String,
    message: &AlertMessage,
    unmapped: bool,
    asset_line: Option<&str>,
) {
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
pub(crate) fn neutralise_reference(line: &str) -> String {
    if line.trim_start().starts_with(REFERENCE_PREFIX.trim_end()) {
        format!("> {line}")
    } else {
        line.to_string()
    }
}

pub(crate) fn describe_org(org: &Organization) -> String {
    let mut text = org.name.clone().unwrap_or_else(|| org.id.clone());
    let mut extra = vec![format!("id {}", org.id)];
    if let Some(domain) = &org.domain {
        extra.push(format!("domain {domain}"));
    }
    let _ = write!(text, " ({})", extra.join(", "));
    text
}

pub(crate) fn describe_rule(name: Option<&str>, id: &str) -> String {
    match name {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}
