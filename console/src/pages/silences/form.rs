//! The create form: what was entered ([`Draft`]), the silence sent for it ([`spec`]), the
//! API's problems put beside the fields they name ([`Problems`]), and the form itself.

use crate::api::ApiError;
use crate::pages::Place;
use crate::session::Signed;
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Matcher rows of the form.
const ROWS: usize = 3;
const FIELDS: [&str; 8] = [
    "organization",
    "event_type",
    "severity",
    "source",
    "respond_rule",
    "ioc_rule",
    "device",
    "user",
];
const OPS: [(&str, &str); 4] = [
    ("=", "is"),
    ("!=", "is not"),
    ("=~", "matches (regex)"),
    ("!~", "does not match"),
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What was entered in the create form, kept to show it again with its problems.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) values: BTreeMap<String, String>,
    pub(super) days: Vec<String>,
}

impl Draft {
    pub(super) fn of(fields: &crate::guard::Fields) -> Draft {
        let mut values = BTreeMap::new();
        for (k, v) in &fields.0 {
            if k != "csrf" && k != "days" {
                values
                    .entry(k.clone())
                    .or_insert_with(|| v.trim().to_string());
            }
        }
        let days = fields.all("days").into_iter().map(str::to_string).collect();
        Draft { values, days }
    }

    fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

/// Problems by form field (`m1_value`, `duration`), and those no field owns.
#[derive(Debug, Default)]
pub(super) struct Problems {
    by_field: BTreeMap<String, Vec<String>>,
    general: Vec<String>,
}

/// The form field an API problem names. `rows[k]` is the form row of the k-th matcher sent.
fn form_field(api_field: &str, rows: &[usize]) -> Option<String> {
    if let Some(rest) = api_field.strip_prefix("matchers[") {
        let (k, after) = rest.split_once(']')?;
        let row = rows.get(k.parse::<usize>().ok()?)?;
        let part = after.strip_prefix('.').unwrap_or("value");
        return Some(format!("m{row}_{part}"));
    }
    let field = api_field.strip_prefix("schedule.").unwrap_or(api_field);
    let field = field.split('[').next().unwrap_or(field);
    matches!(
        field,
        "matchers"
            | "schedule"
            | "reason"
            | "author"
            | "duration"
            | "starts_at"
            | "ends_at"
            | "time_zone"
            | "days"
            | "from"
            | "to"
            | "until"
    )
    .then(|| field.to_string())
}

/// A `datetime-local` value (UTC, as the form says) as RFC 3339; anything else as given, for
/// the API to name.
fn utc(value: &str) -> Option<Value> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let text = match v.len() {
        16 => format!("{v}:00Z"),
        19 => format!("{v}Z"),
        _ => v.to_string(),
    };
    Some(Value::String(text))
}

/// The silence to send, and the form row of each matcher sent.
pub(super) fn spec(draft: &Draft) -> (Value, Vec<usize>) {
    let mut matchers = Vec::new();
    let mut rows = Vec::new();
    for row in 0..ROWS {
        let value = draft.get(&format!("m{row}_value"));
        if value.is_empty() {
            continue;
        }
        rows.push(row);
        matchers.push(json!({
            "field": draft.get(&format!("m{row}_field")),
            "op": draft.get(&format!("m{row}_op")),
            "value": value,
        }));
    }
    let mut schedule = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            schedule.insert(key.to_string(), value);
        }
    };
    let text = |name: &str| {
        Some(draft.get(name))
            .filter(|v| !v.is_empty())
            .map(|v| json!(v))
    };
    if draft.get("kind") == "weekly" {
        put("kind", Some(json!("weekly")));
        put("time_zone", Some(json!(draft.get("time_zone"))));
        put("days", Some(json!(draft.days)));
        put("from", Some(json!(draft.get("from"))));
        put("to", Some(json!(draft.get("to"))));
        put("until", utc(draft.get("until")));
    } else {
        put("kind", Some(json!("once")));
        put("duration", text("duration"));
        put("starts_at", utc(draft.get("starts_at")));
        put("ends_at", utc(draft.get("ends_at")));
    }
    let body = json!({
        "matchers": matchers,
        "schedule": schedule,
        "reason": draft.get("reason"),
        "author": draft.get("author"),
    });
    (body, rows)
}

pub(super) fn problems_of(error: &ApiError, rows: &[usize]) -> Problems {
    let mut problems = Problems::default();
    if error.fields().is_empty() {
        problems.general.push(error.headline());
    }
    for f in error.fields() {
        match form_field(&f.field, rows) {
            Some(field) => problems
                .by_field
                .entry(field)
                .or_default()
                .push(f.message.clone()),
            None => problems.general.push(format!("{}: {}", f.field, f.message)),
        }
    }
    problems
}

/// A labelled input with its problems (announced with the input, `aria-describedby`).
fn input(
    p: &Problems,
    d: &Draft,
    name: &str,
    label: &str,
    kind: &str,
    hint: Option<&str>,
) -> Markup {
    let errors = p.by_field.get(name);
    let described = errors.map(|_| format!("{name}-error"));
    html! {
        div.field {
            label for=(name) { (label) }
            @if let Some(hint) = hint { span.hint { (hint) } }
            input id=(name) name=(name) type=(kind) value=(d.get(name))
                aria-invalid=[errors.map(|_| "true")] aria-describedby=[described];
            (field_errors(name, errors))
        }
    }
}

fn field_errors(name: &str, errors: Option<&Vec<String>>) -> Markup {
    html! {
        @if let Some(errors) = errors {
            ul.field-error id={ (name) "-error" } {
                @for e in errors { li { (e) } }
            }
        }
    }
}

fn select(name: &str, label: &str, options: &[(&str, &str)], chosen: &str) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == chosen] { (text) }
                }
            }
        }
    }
}

pub(super) fn create_form(signed: &Signed, place: &Place, d: &Draft, p: &Problems) -> Markup {
    let fields: Vec<(&str, &str)> = FIELDS.iter().map(|f| (*f, *f)).collect();
    let weekly = d.get("kind") == "weekly";
    html! {
        section aria-labelledby="new" {
            h2 id="new" { "New silence" }
            @if !p.general.is_empty() {
                div.error role="alert" {
                    p { "The silence was not created:" }
                    ul { @for e in &p.general { li { (e) } } }
                }
            }
            form.silence method="post" action=(place.href("/silences")) {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Alerts it mutes (every row given must match)" }
                    (field_errors("matchers", p.by_field.get("matchers")))
                    @for row in 0..ROWS {
                        div.matcher {
                            (select(&format!("m{row}_field"), &format!("Field {}", row + 1), &fields, d.get(&format!("m{row}_field"))))
                            (select(&format!("m{row}_op"), &format!("Test {}", row + 1), &OPS, d.get(&format!("m{row}_op"))))
                            (input(p, d, &format!("m{row}_value"), &format!("Value {}", row + 1), "text", None))
                            (field_errors(&format!("m{row}_field"), p.by_field.get(&format!("m{row}_field"))))
                            (field_errors(&format!("m{row}_op"), p.by_field.get(&format!("m{row}_op"))))
                        }
                    }
                }
                fieldset {
                    legend { "When" }
                    (field_errors("schedule", p.by_field.get("schedule")))
                    div.choice {
                        input id="kind-once" type="radio" name="kind" value="once" checked[!weekly];
                        label for="kind-once" { "Once: for a duration, or between two times" }
                    }
                    (input(p, d, "duration", "Duration", "text", Some("like 2h, 90m, 1d; or give an end below")))
                    (input(p, d, "starts_at", "Starts (UTC)", "datetime-local", Some("empty: now")))
                    (input(p, d, "ends_at", "Ends (UTC)", "datetime-local", None))
                    div.choice {
                        input id="kind-weekly" type="radio" name="kind" value="weekly" checked[weekly];
                        label for="kind-weekly" { "Every week: a maintenance window" }
                    }
                    (input(p, d, "time_zone", "Time zone", "text", Some("like Europe/Berlin")))
                    fieldset.days {
                        legend { "Days" }
                        @for day in DAYS {
                            span.day {
                                input id={ "day-" (day) } type="checkbox" name="days" value=(day) checked[d.days.iter().any(|x| x == day)];
                                label for={ "day-" (day) } { (day) }
                            }
                        }
                        (field_errors("days", p.by_field.get("days")))
                    }
                    (input(p, d, "from", "From", "time", None))
                    (input(p, d, "to", "To", "time", Some("at or before From: ends the next day")))
                    (input(p, d, "until", "Until (UTC)", "datetime-local", Some("empty: no end")))
                }
                (input(p, d, "reason", "Reason", "text", Some("shown in the list and the audit log")))
                (input(p, d, "author", "Author", "text", None))
                div.actions {
                    button type="submit" { "Create the silence" }
                    button type="submit" name="action" value="preview" { "Preview: which recent alerts would it match?" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_problems_land_on_the_form_row_they_name() {
        let rows = [0, 2];
        assert_eq!(
            form_field("matchers[1].value", &rows).as_deref(),
            Some("m2_value")
        );
        assert_eq!(
            form_field("matchers[0]", &rows).as_deref(),
            Some("m0_value")
        );
        assert_eq!(
            form_field("matchers[0].op", &rows).as_deref(),
            Some("m0_op")
        );
        assert_eq!(
            form_field("schedule.duration", &rows).as_deref(),
            Some("duration")
        );
        assert_eq!(
            form_field("schedule.days[1]", &rows).as_deref(),
            Some("days")
        );
        assert_eq!(form_field("reason", &rows).as_deref(), Some("reason"));
        assert_eq!(form_field("matchers[5].value", &rows), None);
        assert_eq!(form_field("resolved_pass", &rows), None);
    }

    #[test]
    fn local_times_are_sent_as_utc() {
        assert_eq!(utc("2026-12-02T10:30"), Some(json!("2026-12-02T10:30:00Z")));
        assert_eq!(utc(" "), None);
    }
}
