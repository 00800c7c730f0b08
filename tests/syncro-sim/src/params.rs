//! Reading request parameters the way a Rails app does: query strings with repeated or `[]`
//! keys, and JSON body fields whose values are cast loosely (`"77"` is the integer 77, an
//! unparsable value becomes `nil`).

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::model::Timestamp;

/// A parsed query string.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: &str) -> Self {
        Self(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key` (Rails keeps the last of repeated scalar keys).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value of `key`.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `key`, `key[]`, and comma-separated lists within them.
    pub fn all(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(parse_bool)
    }

    pub fn date(&self, key: &str) -> Option<Timestamp> {
        self.get(key).and_then(parse_time)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "on" => Some(true),
        "false" | "0" | "f" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// RFC 3339 or a plain date (midnight UTC); anything else is `None`, as Rails casts it to nil.
pub fn parse_time(v: &str) -> Option<Timestamp> {
    let v = v.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?))
}

/// A body field: absent (leave the attribute alone), or set to a value or to nil.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<T> {
    Absent,
    Set(Option<T>),
}

impl<T> Field<T> {
    /// Applies the field to an optional attribute.
    pub fn apply(self, target: &mut Option<T>) {
        if let Field::Set(v) = self {
            *target = v;
        }
    }

    /// The value when the field is present and not nil.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Set(v) => v,
            Field::Absent => None,
        }
    }

    /// `Some(value-or-nil)` when the field was sent.
    pub fn present(self) -> Option<Option<T>> {
        match self {
            Field::Set(v) => Some(v),
            Field::Absent => None,
        }
    }
}

/// The JSON body, an object (anything else reads as an empty object).
pub struct Body<'a>(Option<&'a Map<String, Value>>);

impl<'a> Body<'a> {
    pub fn new(value: &'a Value) -> Self {
        Self(value.as_object())
    }

    pub fn of(map: &'a Map<String, Value>) -> Self {
        Self(Some(map))
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.0.and_then(|m| m.get(key))
    }

    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    fn field<T>(&self, key: &str, cast: impl Fn(&'a Value) -> Option<T>) -> Field<T> {
        match self.raw(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Set(None),
            Some(v) => Field::Set(cast(v)),
        }
    }

    /// Integers, integral floats and numeric strings; `""` and anything else are nil.
    pub fn int(&self, key: &str) -> Field<i64> {
        self.field(key, cast_int)
    }

    pub fn float(&self, key: &str) -> Field<f64> {
        self.field(key, |v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// Strings as given; numbers and booleans as their text.
    pub fn string(&self, key: &str) -> Field<String> {
        self.field(key, |v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    pub fn bool(&self, key: &str) -> Field<bool> {
        self.field(key, |v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => parse_bool(s),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        })
    }

    pub fn time(&self, key: &str) -> Field<Timestamp> {
        self.field(key, |v| v.as_str().and_then(parse_time))
    }

    /// An array of integers (non-integers dropped); a single integer counts as a list of one.
    pub fn int_list(&self, key: &str) -> Field<Vec<i64>> {
        self.field(key, |v| match v {
            Value::Array(items) => Some(items.iter().filter_map(cast_int).collect()),
            other => cast_int(other).map(|i| vec![i]),
        })
    }

    pub fn string_list(&self, key: &str) -> Field<Vec<String>> {
        self.field(key, |v| match v {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            Value::String(s) => Some(
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
            _ => None,
        })
    }

    pub fn object(&self, key: &str) -> Field<Map<String, Value>> {
        self.field(key, |v| v.as_object().cloned())
    }

    /// The objects of an array field (Rails nested attributes may also come as an object keyed
    /// by index, `{"0": {...}}`).
    pub fn objects(&self, key: &str) -> Vec<&'a Map<String, Value>> {
        match self.raw(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
            Some(Value::Object(by_index)) => {
                by_index.values().filter_map(Value::as_object).collect()
            }
            _ => Vec::new(),
        }
    }
}

fn cast_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether an optional text is missing or only whitespace (Rails' `blank?`).
pub fn blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_reads_last_value_and_bracketed_lists() {
        let q = Query::parse("page=1&page=3&id[]=4&id[]=5&not_id=6,7&status=Not+Closed");
        assert_eq!(q.i64("page"), Some(3));
        assert_eq!(q.all("id"), ["4", "5"]);
        assert_eq!(q.all("not_id"), ["6", "7"]);
        assert_eq!(q.get("status"), Some("Not Closed"));
    }

    #[test]
    fn body_casts_like_rails() {
        let v = json!({"a": "77", "b": 3.0, "c": "x", "d": null, "e": "", "f": "true",
                       "g": [1, "2", "z"], "h": "2026-05-01"});
        let b = Body::new(&v);
        assert_eq!(b.int("a"), Field::Set(Some(77)));
        assert_eq!(b.int("b"), Field::Set(Some(3)));
        assert_eq!(b.int("c"), Field::Set(None));
        assert_eq!(b.int("d"), Field::Set(None));
        assert_eq!(b.int("e"), Field::Set(None));
        assert_eq!(b.int("missing"), Field::Absent);
        assert_eq!(b.bool("f"), Field::Set(Some(true)));
        assert_eq!(b.int_list("g"), Field::Set(Some(vec![1, 2])));
        assert!(matches!(b.time("h"), Field::Set(Some(_))));
    }
}
