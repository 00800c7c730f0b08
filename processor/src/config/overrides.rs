//! `[overrides]`: per IOC rule, Respond rule and event type replacements of ticket fields.

use super::*;
use crate::template::Template;
use serde::Deserialize;
use shared::alert::{Alert, Severity};
use std::collections::BTreeSet;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

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
    /// Raise (or not) an RMM alert on the group's asset, whatever `[tickets.rmm_alert]` says.
    pub rmm_alert: Option<bool>,
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
pub(crate) struct RawOverride {
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
    rmm_alert: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverrides {
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

pub(crate) fn build_overrides(raw: RawOverrides, problems: &mut Vec<String>) -> Overrides {
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

pub(crate) fn build_override(
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
        rmm_alert: raw.rmm_alert,
    };
    let sets_nothing = o.problem_type.is_none()
        && o.ticket_type_id.is_none()
        && o.status.is_none()
        && o.assignee_user_id.is_none()
        && o.source_tag.is_none()
        && o.subject.is_none()
        && o.priorities.is_empty()
        && o.rmm_alert.is_none();
    if sets_nothing && problems.len() == before {
        problems.push(format!(
            "{label}: sets nothing; add at least one of problem_type, ticket_type_id, status, \
             assignee_user_id, source_tag, subject, priority, priorities, rmm_alert"
        ));
    }
    (problems.len() == before).then_some(o)
}
