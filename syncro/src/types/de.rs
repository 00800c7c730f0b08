//! Lenient deserializers for Syncro's loose typing: numbers that come as strings ("42.0",
//! ticket `number` as "1042"), `null` where a list is expected, and timestamps with or without
//! an offset (or only a date).

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A Syncro timestamp; the offset is kept as received.
pub type Timestamp = DateTime<FixedOffset>;

/// `null` (or a missing field, with `#[serde(default)]`) becomes `T::default()`.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn number_from(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number or a numeric string; `null`, `""` and non-numeric text are `None`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(number_from))
}

/// An integer or an integer string; anything else is `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

/// Like [`opt_i64`], for counts and page numbers.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(opt_i64(d)?.and_then(|v| u32::try_from(v).ok()))
}

/// Like [`opt_i64`], for totals.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(opt_i64(d)?.and_then(|v| u64::try_from(v).ok()))
}

/// Text, or a number rendered as text (`contract_amount` is free text in Syncro).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }))
}

/// Parses RFC 3339 (with `Z` or an offset), or a plain date as midnight UTC.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
}

/// A timestamp; an unreadable one is `None` rather than failing the whole record.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|s| parse_timestamp(&s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_f64")]
        q: Option<f64>,
        #[serde(default, deserialize_with = "opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "opt_time")]
        t: Option<Timestamp>,
        #[serde(default, deserialize_with = "null_default")]
        list: Vec<i64>,
    }

    fn probe(v: serde_json::Value) -> Probe {
        serde_json::from_value(v).expect("lenient")
    }

    #[test]
    fn numbers_may_come_as_strings() {
        assert_eq!(probe(json!({"q": "42.0"})).q, Some(42.0));
        assert_eq!(probe(json!({"q": 9.99})).q, Some(9.99));
        assert_eq!(probe(json!({"q": ""})).q, None);
        assert_eq!(probe(json!({"n": "1042"})).n, Some(1042));
        assert_eq!(probe(json!({"n": 5560138523_i64})).n, Some(5_560_138_523));
    }

    #[test]
    fn timestamps_accept_z_offsets_and_dates() {
        let z = probe(json!({"t": "2019-11-04T08:59:31.034Z"}))
            .t
            .expect("z");
        let off = probe(json!({"t": "2019-11-04T09:59:31.034+01:00"}))
            .t
            .expect("offset");
        assert_eq!(z, off);
        assert!(probe(json!({"t": "2026-05-01"})).t.is_some());
        assert!(probe(json!({"t": "yesterday"})).t.is_none());
    }

    #[test]
    fn null_lists_are_empty() {
        assert!(probe(json!({"list": null})).list.is_empty());
        assert!(probe(json!({})).list.is_empty());
    }
}
