//! Strict JSON for untrusted documents.
//!
//! `serde_json::Value` silently keeps the last of two members with the same
//! name. Two parsers that disagree on which one wins are a classic way to
//! smuggle a second `alg` or `iss` past a check (RFC 7515 §5.2, RFC 8259
//! §4), so every token header, claims set, key set and discovery document
//! goes through [`parse_object`], which refuses duplicate names at any depth.
//! Nesting is bounded by `serde_json`'s recursion limit (128 levels).

use std::borrow::Cow;
use std::collections::HashSet;
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

/// Reads one top-level string member of a JSON object under the same rules
/// as [`parse_object`] (duplicates refused at any depth, one object, valid
/// UTF-8), without building the object: the other members are checked and
/// dropped as they are read.
///
/// Returns `Ok(None)` when the member is absent; a member of another type is
/// an error.
pub(crate) fn string_member(bytes: &[u8], name: &str) -> Result<Option<String>, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let found = de::Deserializer::deserialize_any(&mut deserializer, MemberScan { name })
        .map_err(|err| format!("invalid JSON: {err}"))?;
    deserializer
        .end()
        .map_err(|err| format!("invalid JSON: {err}"))?;
    found
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
                Entry::Occupied(taken) => return Err(duplicate(taken.key())),
            }
        }
        Ok(Value::Object(map))
    }
}

/// The names seen in one JSON object, to refuse a second use of any. Most
/// objects are small, so a short list is searched first; large ones switch
/// to a hash set so that a hostile object cannot make the check quadratic.
#[derive(Default)]
struct Names<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Names<'de> {
    const FEW: usize = 16;

    /// Records `name`; `false` if it was seen already.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.many.is_empty() && self.few.len() < Self::FEW {
            if self.few.contains(&name) {
                return false;
            }
            self.few.push(name);
            return true;
        }
        if self.many.is_empty() {
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(name)
    }
}

/// A member name, borrowed from the input where it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Walks a value, refusing duplicate names, keeping nothing.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        StrictVisitor.visit_f64(v).map(|_| Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Checked, A::Error> {
        let mut names = Names::default();
        while let Some(Name(name)) = access.next_key()? {
            if !names.insert(name.clone()) {
                return Err(duplicate(&name));
            }
            access.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// Finds one string member of the top-level object, checking the rest.
struct MemberScan<'n> {
    name: &'n str,
}

impl<'de> Visitor<'de> for MemberScan<'_> {
    type Value = Result<Option<String>, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut names = Names::default();
        let mut found = None;
        let mut wrong_type = false;
        while let Some(Name(name)) = access.next_key()? {
            if !names.insert(name.clone()) {
                return Err(duplicate(&name));
            }
            if name == self.name {
                match access.next_value::<StrictValue>()? {
                    StrictValue(Value::String(value)) => found = Some(value),
                    StrictValue(_) => wrong_type = true,
                }
            } else {
                access.next_value::<Checked>()?;
            }
        }
        Ok(if wrong_type {
            Err(format!("\"{}\" is not a string", self.name))
        } else {
            Ok(found)
        })
    }

    // Anything but an object is refused, after being read in full so that
    // a malformed document reports its JSON error first, as `parse_object`
    // does.
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("not a JSON object".to_owned()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("not a JSON object".to_owned()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("not a JSON object".to_owned()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        StrictVisitor
            .visit_f64(v)
            .map(|_| Err("not a JSON object".to_owned()))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("not a JSON object".to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err("not a JSON object".to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        CheckVisitor
            .visit_seq(seq)
            .map(|_| Err("not a JSON object".to_owned()))
    }
}

fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate member \"{}\"", quoted(name)))
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
