//! A borrowed JSON tree for answers: objects keep `&'static str` keys in order and strings and
//! custom-field maps are borrowed from the store, so rendering a ticket allocates a few
//! vectors instead of deep-cloning `serde_json::Value` maps (which capped throughput).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON value that borrows what it can.
#[derive(Debug, Clone)]
pub enum J<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(&'a str),
    Owned(String),
    Arr(Vec<J<'a>>),
    Obj(Vec<(&'static str, J<'a>)>),
    /// Existing JSON, e.g. an asset's `properties`.
    Raw(&'a Value),
    RawMap(&'a Map<String, Value>),
}

impl J<'_> {
    pub fn empty_array() -> Self {
        J::Arr(Vec::new())
    }

    pub fn empty_object() -> Self {
        J::Obj(Vec::new())
    }

    /// Adds or appends a key (for views that extend a base object).
    pub fn push(&mut self, key: &'static str, value: impl Into<Self>) {
        if let J::Obj(fields) = self {
            fields.push((key, value.into()));
        }
    }
}

/// Builds a [`J::Obj`] from `"key" => value` pairs.
macro_rules! obj {
    ($($k:literal => $v:expr),* $(,)?) => {
        $crate::api::json::J::Obj(vec![$(($k, $crate::api::json::J::from($v))),*])
    };
}
pub(crate) use obj;

impl Serialize for J<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Int(i) => s.serialize_i64(*i),
            J::Num(f) if f.is_finite() => s.serialize_f64(*f),
            J::Num(_) => s.serialize_unit(),
            J::Str(v) => s.serialize_str(v),
            J::Owned(v) => s.serialize_str(v),
            J::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            J::Raw(v) => v.serialize(s),
            J::RawMap(m) => m.serialize(s),
        }
    }
}

impl From<bool> for J<'_> {
    fn from(v: bool) -> Self {
        J::Bool(v)
    }
}

impl From<i64> for J<'_> {
    fn from(v: i64) -> Self {
        J::Int(v)
    }
}

impl From<f64> for J<'_> {
    fn from(v: f64) -> Self {
        J::Num(v)
    }
}

impl<'a> From<&'a str> for J<'a> {
    fn from(v: &'a str) -> Self {
        J::Str(v)
    }
}

impl From<String> for J<'_> {
    fn from(v: String) -> Self {
        J::Owned(v)
    }
}

impl<'a> From<&'a String> for J<'a> {
    fn from(v: &'a String) -> Self {
        J::Str(v)
    }
}

impl<'a> From<&'a Option<String>> for J<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(J::Null, J::Str)
    }
}

impl<'a> From<&'a Map<String, Value>> for J<'a> {
    fn from(v: &'a Map<String, Value>) -> Self {
        J::RawMap(v)
    }
}

impl<'a> From<&'a Value> for J<'a> {
    fn from(v: &'a Value) -> Self {
        J::Raw(v)
    }
}

impl<'a> From<&'a [i64]> for J<'a> {
    fn from(v: &'a [i64]) -> Self {
        J::Arr(v.iter().map(|i| J::Int(*i)).collect())
    }
}

impl<'a> From<&'a [String]> for J<'a> {
    fn from(v: &'a [String]) -> Self {
        J::Arr(v.iter().map(|s| J::Str(s)).collect())
    }
}

impl<'a> From<Vec<J<'a>>> for J<'a> {
    fn from(v: Vec<J<'a>>) -> Self {
        J::Arr(v)
    }
}

impl<'a, T: Into<J<'a>>> From<Option<T>> for J<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(J::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_like_the_equivalent_value() {
        let props = json!({"a": [1, 2]});
        let name = Some("n".to_string());
        let j = obj! {
            "id" => 5_i64,
            "name" => &name,
            "none" => None::<i64>,
            "ok" => true,
            "q" => 2.5,
            "props" => &props,
            "list" => vec![J::Str("x")],
        };
        let text = serde_json::to_value(&j).expect("serializes");
        assert_eq!(
            text,
            json!({"id": 5, "name": "n", "none": null, "ok": true, "q": 2.5,
                   "props": {"a": [1, 2]}, "list": ["x"]})
        );
    }
}
