//! HTTP routes, one file per endpoint family, and the few parsing helpers they share.
//!
//! Every handler's first argument is its access ([`crate::auth::Reader`] or
//! [`crate::auth::Operator`]), so a caller without the right token is refused before the
//! body is read. Changes go through opstate's store functions, which write the audit row in
//! the change's own transaction: no route writes to the audit log itself.

pub mod activity;
pub mod audit;
pub mod billing;
pub mod configuration;
pub mod dead_letters;
pub mod explain;
pub mod health;
pub mod mappings;
pub mod openapi;
pub mod pause;
pub mod silences;
pub mod sources;
pub mod status;
pub mod trail;
pub mod whoami;

use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::alert::FieldError;

/// What PostgreSQL cannot store in text or `jsonb`: refused here, as a problem of its field,
/// rather than sent and refused there.
const NUL: char = '\0';
const NUL_MESSAGE: &str = "must not contain the NUL character (\\u0000)";

/// A problem for each string in `value` holding a NUL, named by its path (`reason`,
/// `matchers[1].value`).
pub(crate) fn nul_problems(value: &Value, path: &str, problems: &mut Vec<FieldError>) {
    match value {
        Value::String(text) if text.contains(NUL) => {
            problems.push(FieldError::new(path, NUL_MESSAGE));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_problems(item, &format!("{path}[{i}]"), problems);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                nul_problems(member, &at, problems);
            }
        }
        _ => {}
    }
}

/// A problem when a text parameter or field holds a NUL.
pub(crate) fn nul_problem(field: &str, text: Option<&str>, problems: &mut Vec<FieldError>) {
    if text.is_some_and(|t| t.contains(NUL)) {
        problems.push(FieldError::new(field, NUL_MESSAGE));
    }
}

/// An RFC 3339 time from a query parameter or body field, or a problem naming `field` (an
/// empty one too: a time was meant, and none given is not "any time").
pub(crate) fn parse_time(
    field: &str,
    value: Option<&str>,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(value?.trim()) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            problems.push(FieldError::new(
                field,
                "must be an RFC 3339 time such as 2025-01-31T22:00:00Z",
            ));
            None
        }
    }
}

/// A `limit` query parameter within `1..=max` (`default` when absent), or a problem.
pub(crate) fn parse_limit(
    value: Option<&str>,
    default: i64,
    max: i64,
    problems: &mut Vec<FieldError>,
) -> i64 {
    let Some(value) = value else {
        return default;
    };
    match value.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            problems.push(FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {max}"),
            ));
            default
        }
    }
}

/// A text query parameter given with something in it (`?alert=` counts as absent, so a
/// form's empty field needs no special care).
pub(crate) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_limits_and_nuls_are_named_by_their_field() {
        let mut problems = Vec::new();
        let at = parse_time("since", Some(" 2025-01-31T22:00:00+01:00 "), &mut problems);
        assert_eq!(
            at.map(|t| t.to_rfc3339()),
            Some("2025-01-31T21:00:00+00:00".into())
        );
        assert_eq!(parse_time("until", None, &mut problems), None);
        assert!(problems.is_empty());
        assert_eq!(parse_time("until", Some(""), &mut problems), None);
        assert_eq!(parse_limit(Some("0"), 100, 1_000, &mut problems), 100);
        assert_eq!(parse_limit(Some("1000"), 100, 1_000, &mut problems), 1_000);
        assert_eq!(parse_limit(None, 100, 1_000, &mut problems), 100);
        nul_problems(
            &json!({"reason": "a\u{0}", "matchers": [{"value": "ok"}, {"value": "\u{0}"}]}),
            "",
            &mut problems,
        );
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["until", "limit", "matchers[1].value", "reason"]);
    }
}
