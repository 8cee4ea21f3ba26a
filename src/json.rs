//! Strict JSON for untrusted documents.
//!
//! `serde_json::Value` silently keeps the last of two members with the same
//! name. Two parsers that disagree on which one wins are a classic way to
//! smuggle a second `alg` or `iss` past a check (RFC 7515 §5.2, RFC 8259
//! §4), so every token header, claims set, key set and discovery document
//! goes through [`parse_object`], which refuses duplicate names at any depth.
//! Nesting is bounded by `serde_json`'s recursion limit (128 levels).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use crate::error::quoted;

/// Parses `bytes` as one JSON object, refusing duplicate member names at any
/// depth, trailing data and invalid UTF-8.
///
/// The error is a short description suitable for an error message.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(err) => Err(format!("invalid JSON: {err}")),
    }
}

/// A JSON value deserialized with duplicate member names refused.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            match map.entry(name) {
                Entry::Vacant(slot) => {
                    let StrictValue(value) = access.next_value()?;
                    slot.insert(value);
                }
                Entry::Occupied(taken) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate member \"{}\"",
                        quoted(taken.key())
                    )));
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A duplicate member is refused at the top and deep inside.
    #[test]
    fn duplicates_refused_at_any_depth() {
        assert!(
            parse_object(br#"{"alg":"RS256","alg":"none"}"#)
                .unwrap_err()
                .contains("duplicate")
        );
        let nested = br#"{"a":[{"b":{"c":1,"c":2}}]}"#;
        assert!(
            parse_object(nested)
                .unwrap_err()
                .contains("duplicate member \"c\"")
        );
        // Escapes that decode to the same name are the same name.
        assert!(parse_object(br#"{"alg":1,"\u0061lg":2}"#).is_err());
        assert!(parse_object(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    /// Only a single object is accepted.
    #[test]
    fn only_objects() {
        assert_eq!(parse_object(b"[1]").unwrap_err(), "not a JSON object");
        assert_eq!(parse_object(b"\"x\"").unwrap_err(), "not a JSON object");
        assert!(parse_object(b"{} {}").is_err());
        assert!(parse_object(b"{\"a\":\xff}").is_err());
        assert!(parse_object(b"").is_err());
    }

    /// Deep nesting fails cleanly instead of overflowing the stack.
    #[test]
    fn deep_nesting_is_an_error() {
        let depth = 100_000;
        let mut doc = String::from("{\"a\":");
        doc.push_str(&"[".repeat(depth));
        doc.push_str(&"]".repeat(depth));
        doc.push('}');
        assert!(
            parse_object(doc.as_bytes())
                .unwrap_err()
                .contains("recursion")
        );
    }
}
