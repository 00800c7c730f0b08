//! Subject and note-title templates: `{placeholder}` text rendered from one alert.
//!
//! # Syntax
//! - `{name}` is replaced by a field of the alert; the names are listed in [`PLACEHOLDERS`]
//!   (`{title}`, `{organization.name}`, `{severity_upper}`, ...). Spaces inside the braces
//!   are allowed (`{ title }`).
//! - `{{` writes a literal `{` and `}}` a literal `}`; a lone `}` is an error, so a typo
//!   such as `title}` is caught instead of being sent to Syncro.
//! - An unknown name or an unclosed `{` is an error, found when the configuration is
//!   loaded, never when an alert arrives.
//!
//! # Rendering
//! Optional fields that are absent render as nothing (`organization.name` falls back to the
//! organization id), then the result is trimmed and every run of white space becomes one
//! space: subjects are grouping keys, so "Alert  for x" and "Alert for x" must not differ
//! because an optional field was empty.

use shared::alert::Alert;
use shared::message::AlertMessage;
use std::fmt;

/// Every placeholder a template may use, for error messages and documentation.
pub const PLACEHOLDERS: &[&str] = &[
    "source",
    "id",
    "event_type",
    "severity",
    "severity_upper",
    "organization.id",
    "organization.name",
    "organization.domain",
    "title",
    "user",
    "ip",
    "device.name",
    "respond_rule.id",
    "respond_rule.name",
    "ioc_rule.id",
    "ioc_rule.name",
    "status",
];

/// One alert field a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Source,
    Id,
    EventType,
    Severity,
    SeverityUpper,
    OrganizationId,
    OrganizationName,
    OrganizationDomain,
    Title,
    User,
    Ip,
    DeviceName,
    RespondRuleId,
    RespondRuleName,
    IocRuleId,
    IocRuleName,
    Status,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "source" => Field::Source,
            "id" => Field::Id,
            "event_type" => Field::EventType,
            "severity" => Field::Severity,
            "severity_upper" => Field::SeverityUpper,
            "organization.id" => Field::OrganizationId,
            "organization.name" => Field::OrganizationName,
            "organization.domain" => Field::OrganizationDomain,
            "title" => Field::Title,
            "user" => Field::User,
            "ip" => Field::Ip,
            "device.name" => Field::DeviceName,
            "respond_rule.id" => Field::RespondRuleId,
            "respond_rule.name" => Field::RespondRuleName,
            "ioc_rule.id" => Field::IocRuleId,
            "ioc_rule.name" => Field::IocRuleName,
            "status" => Field::Status,
            _ => return None,
        })
    }

    /// The field's text for `message`; empty when the alert does not carry it.
    fn value(self, message: &AlertMessage) -> String {
        let alert: &Alert = &message.alert;
        let opt = |v: Option<&String>| v.cloned().unwrap_or_default();
        match self {
            Field::Source => message.source.clone(),
            Field::Id => alert.id.clone(),
            Field::EventType => alert.event_type.clone(),
            Field::Severity => alert.severity.as_str().to_string(),
            Field::SeverityUpper => alert.severity.as_str().to_ascii_uppercase(),
            Field::OrganizationId => alert.organization.id.clone(),
            Field::OrganizationName => alert
                .organization
                .name
                .clone()
                .unwrap_or_else(|| alert.organization.id.clone()),
            Field::OrganizationDomain => opt(alert.organization.domain.as_ref()),
            Field::Title => alert.title.clone(),
            Field::User => opt(alert.user.as_ref()),
            Field::Ip => opt(alert.ip.as_ref()),
            Field::DeviceName => opt(alert.device.as_ref().and_then(|d| d.name.as_ref())),
            Field::RespondRuleId => opt(alert.respond_rule.as_ref().map(|r| &r.id)),
            Field::RespondRuleName => {
                opt(alert.respond_rule.as_ref().and_then(|r| r.name.as_ref()))
            }
            Field::IocRuleId => opt(alert.ioc_rule.as_ref().map(|r| &r.id)),
            Field::IocRuleName => opt(alert.ioc_rule.as_ref().and_then(|r| r.name.as_ref())),
            Field::Status => alert.status.as_str().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Field),
}

/// A parsed template. Build it with [`Template::parse`]; it can no longer fail afterwards.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    /// The text as configured, shown by `explain` and in `Debug`.
    source: String,
    parts: Vec<Part>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Parses `text`; the error says what is wrong and where (1-based character position),
    /// without the key name, which the caller adds.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(format!(
                        "unmatched '}}' at character {}; write '}}}}' for a literal brace",
                        at + 1
                    ))
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, n) in chars.by_ref() {
                        if n == '}' {
                            closed = true;
                            break;
                        }
                        if n == '{' {
                            break;
                        }
                        name.push(n);
                    }
                    if !closed {
                        return Err(format!(
                            "unclosed '{{' at character {}; write '{{{{' for a literal brace",
                            at + 1
                        ));
                    }
                    let name = name.trim();
                    let field = Field::parse(name).ok_or_else(|| {
                        format!(
                            "unknown placeholder {{{name}}}; known: {}",
                            PLACEHOLDERS.join(", ")
                        )
                    })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// The template as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template renders the same text for every alert (no placeholder).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Renders for `message`: absent values are empty, then trimmed and white space collapsed.
    pub fn render(&self, message: &AlertMessage) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(field) => out.push_str(&field.value(message)),
            }
        }
        collapse_whitespace(&out)
    }

    /// Renders keeping line breaks, for bodies: each line trimmed with its white space
    /// collapsed, runs of blank lines (from absent values) reduced to one, ends trimmed.
    pub fn render_text(&self, message: &AlertMessage) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(field) => out.push_str(&field.value(message)),
            }
        }
        let mut lines: Vec<String> = Vec::new();
        for line in out.lines().map(collapse_whitespace) {
            let blank_run = line.is_empty() && lines.last().is_none_or(String::is_empty);
            if !blank_run {
                lines.push(line);
            }
        }
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// Like [`Template::render`], cut to at most `max_chars` characters (never inside one).
    pub fn render_max(&self, message: &AlertMessage, max_chars: usize) -> String {
        truncate_chars(&self.render(message), max_chars)
    }
}

/// Trims and turns every run of white space (newlines included) into one space.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `max_chars` characters of `text`, trimmed again so a cut never leaves a
/// trailing space.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].trim_end().to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use shared::alert::{Alert, AlertStatus, Device, Organization, RuleRef, Severity};

    /// The DESIGN.md sample alert, from source "demo".
    pub(crate) fn sample() -> AlertMessage {
        let alert = Alert {
            id: "evt-20260501-0001".into(),
            event_type: "m365.impossible_travel".into(),
            severity: Severity::Critical,
            organization: Organization {
                id: "org-42".into(),
                name: Some("Contoso Ltd".into()),
                domain: Some("contoso.com".into()),
            },
            title: "Impossible travel for j.doe@contoso.com".into(),
            description: Some("Logins from Oslo and Lima 12 minutes apart".into()),
            occurred_at: Utc
                .with_ymd_and_hms(2026, 5, 1, 10, 0, 0)
                .single()
                .expect("valid date"),
            respond_rule: Some(RuleRef {
                id: "rr-7".into(),
                name: Some("Block sign-in on impossible travel".into()),
            }),
            ioc_rule: Some(RuleRef {
                id: "ioc-3".into(),
                name: Some("Known bad ASN".into()),
            }),
            user: Some("j.doe@contoso.com".into()),
            ip: Some("203.0.113.9".into()),
            device: Some(Device {
                name: Some("WS-07".into()),
                serial: Some("5CG1234XYZ".into()),
                mac: Some("F8-75-A4-19-C6-22".into()),
            }),
            status: AlertStatus::Firing,
            details: serde_json::json!({"country_from": "NO", "country_to": "PE"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        AlertMessage::new("demo", alert, Utc::now())
    }

    /// The sample with every optional field removed.
    pub(crate) fn bare() -> AlertMessage {
        let mut m = sample();
        let a = &mut m.alert;
        a.organization.name = None;
        a.organization.domain = None;
        a.description = None;
        a.respond_rule = None;
        a.ioc_rule = None;
        a.user = None;
        a.ip = None;
        a.device = None;
        a.details.clear();
        m
    }

    fn render(text: &str, m: &AlertMessage) -> String {
        Template::parse(text).expect("parses").render(m)
    }

    #[test]
    fn every_placeholder_renders_its_field() {
        let all = PLACEHOLDERS
            .iter()
            .map(|p| format!("{{{p}}}"))
            .collect::<Vec<_>>()
            .join("|");
        assert_eq!(
            render(&all, &sample()),
            "demo|evt-20260501-0001|m365.impossible_travel|critical|CRITICAL|org-42|Contoso Ltd|\
             contoso.com|Impossible travel for j.doe@contoso.com|j.doe@contoso.com|203.0.113.9|\
             WS-07|rr-7|Block sign-in on impossible travel|ioc-3|Known bad ASN|firing"
        );
    }

    #[test]
    fn absent_values_render_empty_and_white_space_collapses() {
        let t = "  [{severity_upper}]  {device.name}  {user} -  {organization.name}\n{ip} ";
        assert_eq!(render(t, &bare()), "[CRITICAL] - org-42");
        assert_eq!(
            render(t, &sample()),
            "[CRITICAL] WS-07 j.doe@contoso.com - Contoso Ltd 203.0.113.9"
        );
    }

    #[test]
    fn doubled_braces_are_literal_and_spaces_inside_braces_are_allowed() {
        assert_eq!(
            render("{{literal}} {{{ title }}}", &bare()),
            "{literal} {Impossible travel for j.doe@contoso.com}"
        );
        assert!(Template::parse("plain").expect("parses").is_constant());
        assert!(!Template::parse("{id}").expect("parses").is_constant());
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_errors() {
        let err = Template::parse("Alert {titel}").expect_err("unknown");
        assert!(err.contains("unknown placeholder {titel}"), "{err}");
        assert!(err.contains("organization.name"), "{err}");
        let err = Template::parse("Alert {title").expect_err("unclosed");
        assert!(err.contains("unclosed '{' at character 7"), "{err}");
        let err = Template::parse("Alert {ti{tle}").expect_err("nested");
        assert!(err.contains("unclosed"), "{err}");
        let err = Template::parse("Alert title}").expect_err("stray");
        assert!(err.contains("unmatched '}' at character 12"), "{err}");
    }

    #[test]
    fn long_renders_are_cut_on_a_character_boundary() {
        let mut m = sample();
        m.alert.title = "é".repeat(300);
        let t = Template::parse("{title}").expect("parses");
        let cut = t.render_max(&m, 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate_chars("ab cd", 3), "ab");
        assert_eq!(truncate_chars("abc", 10), "abc");
    }

    #[test]
    fn bodies_keep_their_lines_and_drop_the_blank_runs_of_absent_values() {
        let t = Template::parse("{title}\n  User:   {user} \n\n{ip}\n\n\nDevice: {device.name}\n")
            .expect("parses");
        assert_eq!(
            t.render_text(&sample()),
            "Impossible travel for j.doe@contoso.com\nUser: j.doe@contoso.com\n\n203.0.113.9\n\nDevice: WS-07"
        );
        let mut m = bare();
        m.alert.ip = None;
        assert_eq!(
            t.render_text(&m),
            "Impossible travel for j.doe@contoso.com\nUser:\n\nDevice:"
        );
    }
}
