//! Strict JSON for bodies that are signed: a body whose objects repeat a key is refused.
//!
//! `serde_json` keeps the last of two equal keys; another parser (the sender's signing
//! library, a proxy, a SIEM reading the same feed) may keep the first. A signature over a body
//! two readers understand differently proves nothing, so ingest refuses such a body and names
//! where the key repeats (`[0].organization.id`, the way alert field problems are named).
//!
//! The check costs nothing on a good body: the repeat is noticed when the map insert returns
//! the value it replaced, and the path is only assembled while an error unwinds.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// Why a body is not strict JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// An object repeats a key; the path to it (`alerts[2].labels.org`).
    DuplicateKey { path: String },
    /// Not JSON at all (the parser's message, with line and column).
    Syntax(String),
}

impl fmt::Display for StrictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrictError::DuplicateKey { path } => write!(f, "the key {path} appears twice"),
            StrictError::Syntax(message) => f.write_str(message),
        }
    }
}

/// Parses `body` as JSON, refusing any object that repeats a key, at any depth.
pub fn parse(body: &[u8]) -> Result<Value, StrictError> {
    // The path to a repeated key, innermost part first, filled while the error unwinds.
    let repeated: RefCell<Option<Vec<PathPart>>> = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = Strict {
        repeated: &repeated,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(error) => match repeated.into_inner() {
            Some(parts) => Err(StrictError::DuplicateKey {
                path: path_of(parts),
            }),
            None => Err(StrictError::Syntax(error.to_string())),
        },
    }
}

enum PathPart {
    Key(String),
    Index(usize),
}

fn path_of(mut parts: Vec<PathPart>) -> String {
    parts.reverse();
    let mut path = String::new();
    for part in parts {
        match part {
            PathPart::Key(key) if is_plain(&key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
            }
            PathPart::Key(key) => {
                path.push('[');
                path.push_str(&Value::String(key).to_string());
                path.push(']');
            }
            PathPart::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

/// A key written as `.key` in a path; others are quoted (`["a b"]`).
fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Deserializes one JSON value, remembering where a repeated key was found.
#[derive(Clone, Copy)]
struct Strict<'r> {
    repeated: &'r RefCell<Option<Vec<PathPart>>>,
}

impl Strict<'_> {
    /// Adds `part` to the path of a repeated key found inside it, if that is why `error`
    /// happened.
    fn locate<E>(&self, error: E, part: impl FnOnce() -> PathPart) -> E {
        if let Some(parts) = self.repeated.borrow_mut().as_mut() {
            parts.push(part());
        }
        error
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => return Err(self.locate(e, || PathPart::Index(items.len()))),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value_seed(self) {
                Ok(value) => value,
                Err(e) => return Err(self.locate(e, || PathPart::Key(key))),
            };
            if object.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(vec![PathPart::Key(key)]);
                return Err(de::Error::custom("a key appears twice"));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repeated(body: &str) -> Option<String> {
        match parse(body.as_bytes()) {
            Err(StrictError::DuplicateKey { path }) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn a_body_without_repeated_keys_parses_as_serde_json_would() {
        let body = r#"{"id":"a","n":[1,-2,3.5,null,true],"o":{"k":"v","e":{}},"big":18446744073709551615}"#;
        let strict = parse(body.as_bytes()).expect("parses");
        let plain: Value = serde_json::from_str(body).expect("parses");
        assert_eq!(strict, plain);
        assert_eq!(strict["big"], json!(18446744073709551615u64));
    }

    #[test]
    fn a_repeated_key_is_named_with_its_path_at_any_depth() {
        assert_eq!(repeated(r#"{"id":"d1","id":"d2"}"#).as_deref(), Some("id"));
        assert_eq!(
            repeated(r#"[{"id":"a"},{"id":"b","organization":{"id":"o","name":"n","id":"p"}}]"#)
                .as_deref(),
            Some("[1].organization.id")
        );
        assert_eq!(
            repeated(r#"{"alerts":[{"labels":{"a b":1,"a b":2}}]}"#).as_deref(),
            Some(r#"alerts[0].labels["a b"]"#)
        );
    }

    #[test]
    fn equal_keys_in_different_objects_are_fine() {
        assert!(parse(br#"[{"id":"a"},{"id":"b"}]"#).is_ok());
        assert!(parse(br#"{"a":{"id":1},"b":{"id":1}}"#).is_ok());
    }

    #[test]
    fn a_key_written_with_escapes_is_the_same_key() {
        // "\u0069d" is "id": both readers see the same key twice.
        assert_eq!(
            repeated(r#"{"id":"a","\u0069d":"b"}"#).as_deref(),
            Some("id")
        );
    }

    #[test]
    fn bad_json_is_a_syntax_error_with_its_position() {
        match parse(b"{\"id\": ") {
            Err(StrictError::Syntax(message)) => assert!(message.contains("line 1"), "{message}"),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert!(matches!(parse(b"{} trailing"), Err(StrictError::Syntax(_))));
    }
}
