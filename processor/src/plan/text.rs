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

/// The body of a new ticket's first comment for one alert: the alert in plain text (Syncro
/// does not render Markdown), ending with its reference line.
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
    let unmapped = matches!(plan.route, Destination::Customer { mapped: false, .. });
    let text = alert_text(message, unmapped, asset_line);
    let id = message.message_id();
    listing(&[Listed::of(message, &id, &text)])
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

/// The body of a note listing `entries` (one alert, or several coalesced for one ticket);
/// see [`listing`].
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
    let texts: Vec<String> = entries
        .iter()
        .map(|m| alert_text(m, unmapped, None))
        .collect();
    let ids: Vec<String> = entries.iter().map(|m| m.message_id()).collect();
    let listed: Vec<Listed> = entries
        .iter()
        .zip(texts.iter().zip(&ids))
        .map(|(m, (text, id))| Listed::of(m, id, text))
        .collect();
    listing(&listed)
}

/// One alert of a comment, as a batch keeps it: its identity, and the text repeats share.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    /// The sender's id of the alert: every one is in the comment, so a technician searching
    /// Syncro for it finds its ticket.
    pub alert_id: &'a str,
    pub message_id: &'a str,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// [`alert_text`]: the same for repeats of one alert.
    pub text: &'a str,
}

impl<'a> Listed<'a> {
    pub fn of(message: &'a AlertMessage, message_id: &'a str, text: &'a str) -> Listed<'a> {
        Listed {
            alert_id: &message.alert.id,
            message_id,
            occurred_at: message.alert.occurred_at,
            text,
        }
    }
}

/// Kinds of alert shown in full in one comment; further kinds show their first lines.
pub const FULL_KINDS: usize = 20;
/// Lines of a kind shown beyond [`FULL_KINDS`].
const SHORT_LINES: usize = 2;
/// Width at which the list of alert ids wraps.
const IDS_WIDTH: usize = 100;

/// A comment listing alerts so it reads well at any size: one alert in full; several as one
/// section per *kind* (alerts whose [`alert_text`] is the same: repeats of one alert), each
/// in full with how many times it was seen, first and last, and the ids of its alerts. Every
/// alert's reference line ends the comment.
///
/// Size: a kind is shown in full at most [`FULL_KINDS`] times (each detail value is capped
/// at [`DETAIL_MAX_CHARS`]); beyond that each alert adds its id and its reference line,
/// about 110 bytes. The number of alerts per comment is bounded by the caller
/// (`processor.coalesce_max_alerts`).
pub fn listing(alerts: &[Listed]) -> String {
    let mut out = String::new();
    if let [only] = alerts {
        out.push_str(only.text);
        let _ = writeln!(out, "Alert id: {}", collapse_whitespace(only.alert_id));
        let _ = writeln!(out, "Occurred at: {}", rfc3339(only.occurred_at));
        out.push_str(&reference_line(only.message_id));
        out.push('\n');
        return out;
    }
    let kinds = kinds_of(alerts);
    let (first, last) = span(alerts.iter());
    let _ = writeln!(
        out,
        "{} alerts ({} distinct), occurred from {} to {}",
        alerts.len(),
        kinds.len(),
        rfc3339(first),
        rfc3339(last)
    );
    for (i, kind) in kinds.iter().enumerate() {
        let (first, last) = span(kind.iter().map(|&n| &alerts[n]));
        out.push('\n');
        let seen = if kind.len() == 1 {
            format!("1 alert, occurred at {}", rfc3339(first))
        } else {
            format!(
                "{} alerts, first {}, last {}",
                kind.len(),
                rfc3339(first),
                rfc3339(last)
            )
        };
        let _ = writeln!(out, "=== {} of {}: {seen} ===", i + 1, kinds.len());
        let text = alerts[kind[0]].text;
        if i < FULL_KINDS {
            out.push_str(text);
        } else {
            for line in text.lines().take(SHORT_LINES) {
                out.push_str(line);
                out.push('\n');
            }
        }
        write_ids(&mut out, kind.iter().map(|&n| alerts[n].alert_id));
    }
    out.push('\n');
    for alert in alerts {
        out.push_str(&reference_line(alert.message_id));
        out.push('\n');
    }
    out
}

/// The alerts grouped by their text, in order of first appearance: indexes into `alerts`.
fn kinds_of(alerts: &[Listed]) -> Vec<Vec<usize>> {
    let mut index: std::collections::HashMap<&str, usize> = Default::default();
    let mut kinds: Vec<Vec<usize>> = Vec::new();
    for (n, alert) in alerts.iter().enumerate() {
        let k = *index.entry(alert.text).or_insert_with(|| {
            kinds.push(Vec::new());
            kinds.len() - 1
        });
        kinds[k].push(n);
    }
    kinds
}

fn span<'a>(
    alerts: impl Iterator<Item = &'a Listed<'a>>,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let times: Vec<_> = alerts.map(|a| a.occurred_at).collect();
    let first = times.iter().min().copied().unwrap_or_default();
    let last = times.iter().max().copied().unwrap_or_default();
    (first, last)
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `Alert ids (n): a, b, c` wrapped at [`IDS_WIDTH`]; continuation lines are indented, so no
/// id can start a line (and forge a reference line).
fn write_ids<'a>(out: &mut String, ids: impl ExactSizeIterator<Item = &'a str>) {
    let count = ids.len();
    let mut line = if count == 1 {
        "Alert id: ".to_string()
    } else {
        format!("Alert ids ({count}): ")
    };
    for (i, id) in ids.enumerate() {
        let id = collapse_whitespace(id);
        let piece = if i + 1 < count { format!("{id}, ") } else { id };
        if line.len() + piece.len() > IDS_WIDTH && !line.trim().is_empty() && line.len() > 2 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = "  ".to_string();
        }
        line.push_str(&piece);
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// The lines of one alert that its repeats share: everything but its id, its time and its
/// reference line (which [`listing`] adds). Plain text; a sender's text cannot forge a
/// reference line.
pub fn alert_text(message: &AlertMessage, unmapped: bool, asset_line: Option<&str>) -> String {
    let mut out = String::new();
    write_entry(&mut out, message, unmapped, asset_line);
    out
}

/// One alert as plain-text lines (see [`alert_text`]).
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
    line("Source", &message.source);
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
