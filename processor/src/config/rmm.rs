//! `[tickets.rmm_alert]`: a Syncro RMM alert raised on the asset a group's first alert
//! matched, next to its ticket; cleared when the group's alert resolves. Off by default;
//! turned on for every event type (`enabled`), for some (`event_types`), or per override
//! (`rmm_alert = true | false` in any `[[overrides.*]]` entry).

use super::parse::template;
use crate::template::Template;
use serde::Deserialize;
use std::collections::BTreeSet;
use syncro::MuteFor;

/// Default description (Syncro's "Type" column of RMM alerts).
const DEFAULT_DESCRIPTION: &str = "{event_type}";
/// Default subject of the ticket Syncro's automation would make (when not skipped).
const DEFAULT_SUBJECT: &str = "{title}";
/// Default body: what a technician looking at the asset needs.
const DEFAULT_BODY: &str =
    "{title}\nSeverity: {severity_upper}\nOrganization: {organization.name}\n\
User: {user}\nIP: {ip}\nDevice: {device.name}\nAlert: {id} (from {source})";

/// `[tickets.rmm_alert]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmmAlertConfig {
    /// Raise RMM alerts (for `event_types`, or every event type when that is empty).
    pub enabled: bool,
    /// Only these event types (empty: all).
    pub event_types: BTreeSet<String>,
    /// `description`: the alert's "Type" in Syncro.
    pub description: Template,
    /// `properties.subject`.
    pub subject: Template,
    /// `properties.body` (line breaks kept).
    pub body: Template,
    /// `properties.skip_automation`: true keeps Syncro's alert automation from making a
    /// second ticket for what alert-relay already ticketed.
    pub skip_automation: bool,
    /// `properties.hidden`.
    pub hidden: bool,
    /// `properties.do_not_email`.
    pub do_not_email: bool,
    /// Mute the alert for this long right after raising it.
    pub mute_for: Option<MuteFor>,
}

impl Default for RmmAlertConfig {
    fn default() -> Self {
        // Constants, parsed in this module's tests.
        let parse = |t: &str| Template::parse(t).expect("the default RMM-alert templates parse");
        RmmAlertConfig {
            enabled: false,
            event_types: BTreeSet::new(),
            description: parse(DEFAULT_DESCRIPTION),
            subject: parse(DEFAULT_SUBJECT),
            body: parse(DEFAULT_BODY),
            skip_automation: true,
            hidden: true,
            do_not_email: true,
            mute_for: None,
        }
    }
}

impl RmmAlertConfig {
    /// Whether `[tickets.rmm_alert]` raises one for `event_type` (overrides aside).
    pub fn for_event_type(&self, event_type: &str) -> bool {
        self.enabled && (self.event_types.is_empty() || self.event_types.contains(event_type))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRmmAlert {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    event_types: Vec<String>,
    description: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    #[serde(default = "yes")]
    skip_automation: bool,
    #[serde(default = "yes")]
    hidden: bool,
    #[serde(default = "yes")]
    do_not_email: bool,
    mute_for: Option<String>,
}

fn yes() -> bool {
    true
}

/// Validates `[tickets.rmm_alert]`, pushing every problem under `tickets.rmm_alert.*`.
pub(crate) fn build_rmm_alert(raw: RawRmmAlert, problems: &mut Vec<String>) -> RmmAlertConfig {
    let defaults = RmmAlertConfig::default();
    let mut text = |key: &str, value: Option<String>, default: Template| match value {
        None => default,
        Some(v) => template(&format!("tickets.rmm_alert.{key}"), &v, problems).unwrap_or(default),
    };
    let description = text("description", raw.description, defaults.description);
    let subject = text("subject", raw.subject, defaults.subject);
    let body = text("body", raw.body, defaults.body);
    let mut event_types = BTreeSet::new();
    for (i, e) in raw.event_types.iter().enumerate() {
        if e.trim().is_empty() {
            problems.push(format!(
                "tickets.rmm_alert.event_types[{i}]: must not be empty"
            ));
        } else if !event_types.insert(e.trim().to_string()) {
            problems.push(format!(
                "tickets.rmm_alert.event_types: {e:?} is listed twice"
            ));
        }
    }
    if !raw.enabled && !event_types.is_empty() {
        problems.push(
            "tickets.rmm_alert.event_types: has no effect while enabled = false (set enabled = \
             true, or use rmm_alert = true in an [[overrides.event_type]] entry)"
                .into(),
        );
    }
    let mute_for = raw.mute_for.and_then(|m| {
        let parsed = MuteFor::parse(m.trim());
        if parsed.is_none() {
            let known: Vec<&str> = MuteFor::ALL.iter().map(|m| m.as_str()).collect();
            problems.push(format!(
                "tickets.rmm_alert.mute_for: {m:?} is not a Syncro mute duration; one of {}",
                known.join(", ")
            ));
        }
        parsed
    });
    RmmAlertConfig {
        enabled: raw.enabled,
        event_types,
        description,
        subject,
        body,
        skip_automation: raw.skip_automation,
        hidden: raw.hidden,
        do_not_email: raw.do_not_email,
        mute_for,
    }
}

/// An RMM alert goes on the asset matched to the alert's device: wanted anywhere (the
/// table or an override) while devices are not matched, it could never be raised.
pub(crate) fn check_reachable(
    enabled: bool,
    overrides: &super::Overrides,
    contracts: &super::ContractsConfig,
    problems: &mut Vec<String>,
) {
    if contracts.attach_devices {
        return;
    }
    let mut wanting: Vec<String> = overrides
        .all()
        .filter(|o| o.rmm_alert == Some(true))
        .map(|o| format!("{}.rmm_alert", o.label()))
        .collect();
    if enabled {
        wanting.insert(0, "tickets.rmm_alert.enabled".into());
    }
    for key in wanting {
        problems.push(format!(
            "{key}: RMM alerts go on the asset matched to the alert's device, but \
             contracts.attach_devices = false matches none"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> (RmmAlertConfig, Vec<String>) {
        let raw: RawRmmAlert = toml::from_str(text).expect("parses");
        let mut problems = Vec::new();
        (build_rmm_alert(raw, &mut problems), problems)
    }

    #[test]
    fn the_defaults_parse_and_keep_it_off() {
        let (c, problems) = build("");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c, RmmAlertConfig::default());
        assert!(!c.for_event_type("edr.ransomware"));
        assert!(c.skip_automation && c.hidden && c.do_not_email);
        assert!(!c.body.is_constant());
    }

    #[test]
    fn event_types_narrow_what_enabled_turns_on() {
        let (c, problems) =
            build("enabled = true\nevent_types = [\"edr.ransomware\"]\nmute_for = \"1-day\"");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(c.for_event_type("edr.ransomware"));
        assert!(!c.for_event_type("m365.impossible_travel"));
        assert_eq!(c.mute_for, Some(MuteFor::OneDay));
        let (c, _) = build("enabled = true");
        assert!(c.for_event_type("anything"));
    }

    #[test]
    fn templates_and_options_that_cannot_work_are_problems() {
        let (_, problems) = build(
            "event_types = [\"x\", \"x\"]\ndescription = \"{nope}\"\nbody = \"\"\nmute_for = \"2-years\"",
        );
        let all = problems.join("\n");
        for expected in [
            "tickets.rmm_alert.description: unknown placeholder {nope}",
            "tickets.rmm_alert.body: must not be empty",
            "tickets.rmm_alert.mute_for: \"2-years\" is not a Syncro mute duration",
            "tickets.rmm_alert.event_types: \"x\" is listed twice",
            "tickets.rmm_alert.event_types: has no effect while enabled = false",
        ] {
            assert!(all.contains(expected), "{expected:?} not in {all}");
        }
    }
}
