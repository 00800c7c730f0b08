//! The mechanics every section shares: a raw TOML section into a typed value with key-path
//! problems, and the small validators (required text, positive ids, settable statuses,
//! templates).

use crate::template::Template;
use serde::de::DeserializeOwned;

/// The status Syncro accepts only as a list filter: a ticket can never be set to it.
pub(crate) const NOT_CLOSED: &str = "Not Closed";

/// Deserializes a raw section (absent = empty table, so defaults apply). A failure becomes
/// one problem with the key path toml reports (`in \`a.b\``) turned into `section.a.b`.
pub(crate) fn parse_section<T: DeserializeOwned>(
    key: &str,
    table: &Option<toml::Table>,
    problems: &mut Vec<String>,
) -> Option<T> {
    parse_value(
        key,
        toml::Value::Table(table.clone().unwrap_or_default()),
        problems,
    )
}

pub(crate) fn parse_value<T: DeserializeOwned>(
    key: &str,
    value: toml::Value,
    problems: &mut Vec<String>,
) -> Option<T> {
    match value.try_into::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(describe_toml_error(key, &e.to_string()));
            None
        }
    }
}

pub(crate) fn describe_toml_error(key: &str, text: &str) -> String {
    let text = text.trim();
    match text.rsplit_once("\nin `") {
        Some((message, path)) => {
            format!("{key}.{}: {}", path.trim_end_matches('`'), message.trim())
        }
        None => format!("{key}: {text}"),
    }
}

/// A required, non-blank string (reported as missing or blank at `key`).
pub(crate) fn required_text(
    key: &str,
    value: Option<String>,
    problems: &mut Vec<String>,
) -> Option<String> {
    match value {
        None => {
            problems.push(format!("{key}: required"));
            None
        }
        Some(v) if v.trim().is_empty() => {
            problems.push(format!("{key}: must not be empty"));
            None
        }
        Some(v) => Some(v.trim().to_string()),
    }
}

pub(crate) fn positive_id(key: &str, value: i64, problems: &mut Vec<String>) -> Option<i64> {
    if value > 0 {
        Some(value)
    } else {
        problems.push(format!("{key}: must be a Syncro id (a positive integer)"));
        None
    }
}

/// Statuses a ticket can be set to: not blank, not the filter-only "Not Closed".
pub(crate) fn check_status(key: &str, status: &str, problems: &mut Vec<String>) {
    if status.trim().is_empty() {
        problems.push(format!("{key}: must not be empty"));
    } else if status.trim().eq_ignore_ascii_case(NOT_CLOSED) {
        problems.push(format!(
            "{key}: \"Not Closed\" is a Syncro list filter, not a status a ticket can have"
        ));
    }
}

pub(crate) fn template(key: &str, text: &str, problems: &mut Vec<String>) -> Option<Template> {
    if text.trim().is_empty() {
        problems.push(format!("{key}: must not be empty"));
        return None;
    }
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(format!("{key}: {e}"));
            None
        }
    }
}
