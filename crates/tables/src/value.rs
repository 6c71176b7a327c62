//! Attribute values (S, N, B, BOOL, NULL, L, M, SS, NS, BS), read from and written as DynamoDB's
//! JSON (`{"S": "x"}`, binary as base64), with the item-size rules DynamoDB charges by.

use std::collections::BTreeMap;

use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use crate::number::Number;
use crate::TablesError;

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    S(String),
    /// A number.
    N(Number),
    /// Bytes.
    B(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// Null.
    Null,
    /// A list.
    L(Vec<Value>),
    /// A map.
    M(Item),
    /// A string set (no duplicates, never empty).
    SS(Vec<String>),
    /// A number set.
    NS(Vec<Number>),
    /// A binary set.
    BS(Vec<Vec<u8>>),
}

/// An item (or a map value): attribute name → value.
pub type Item = BTreeMap<String, Value>;

/// The largest item: 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn invalid(message: impl Into<String>) -> TablesError {
    TablesError::Validation(message.into())
}

impl Value {
    /// The type's name as DynamoDB writes it (`S`, `BOOL`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S(_) => "S",
            Self::N(_) => "N",
            Self::B(_) => "B",
            Self::Bool(_) => "BOOL",
            Self::Null => "NULL",
            Self::L(_) => "L",
            Self::M(_) => "M",
            Self::SS(_) => "SS",
            Self::NS(_) => "NS",
            Self::BS(_) => "BS",
        }
    }

    /// Reads one `{"T": …}` value.
    pub fn from_json(json: &Json) -> Result<Self, TablesError> {
        let object = json
            .as_object()
            .ok_or_else(|| TablesError::Serialization("Unexpected value type in payload".into()))?;
        let mut members = object.iter().filter(|(_, v)| !v.is_null());
        let (kind, inner) = match (members.next(), members.next()) {
            (None, _) => {
                return Err(invalid(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(one), None) => one,
        };
        let serialization = || TablesError::Serialization(format!("Unexpected value for {kind}"));
        let string = |v: &Json| v.as_str().map(str::to_owned).ok_or_else(serialization);
        let number = |v: &Json| -> Result<Number, TablesError> {
            let text = v.as_str().ok_or_else(serialization)?;
            Number::parse(text).map_err(|e| invalid(e.to_string()))
        };
        let binary = |v: &Json| -> Result<Vec<u8>, TablesError> {
            let text = v.as_str().ok_or_else(serialization)?;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    TablesError::Serialization(
                        "Base64 encoded length is expected a multiple of 4 bytes but found: 1"
                            .into(),
                    )
                })
        };
        let array = |v: &Json| v.as_array().cloned().ok_or_else(serialization);
        let value = match kind.as_str() {
            "S" => Self::S(string(inner)?),
            "N" => Self::N(number(inner)?),
            "B" => Self::B(binary(inner)?),
            "BOOL" => Self::Bool(inner.as_bool().ok_or_else(serialization)?),
            "NULL" => {
                if inner.as_bool() != Some(true) {
                    return Err(invalid(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ));
                }
                Self::Null
            }
            "L" => Self::L(
                array(inner)?
                    .iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            "M" => Self::M(item_from_json(inner)?),
            "SS" => {
                let set: Vec<String> =
                    array(inner)?.iter().map(string).collect::<Result<_, _>>()?;
                check_set(&set, "string", |s| s.to_string())?;
                Self::SS(set)
            }
            "NS" => {
                let texts: Vec<String> =
                    array(inner)?.iter().map(string).collect::<Result<_, _>>()?;
                let set: Vec<Number> =
                    array(inner)?.iter().map(number).collect::<Result<_, _>>()?;
                check_set(&set, "number", |n| n.to_string())?;
                let _ = texts;
                Self::NS(set)
            }
            "BS" => {
                let set: Vec<Vec<u8>> =
                    array(inner)?.iter().map(binary).collect::<Result<_, _>>()?;
                check_set(&set, "binary", |b| b64(b))?;
                Self::BS(set)
            }
            other => {
                return Err(TablesError::Serialization(format!(
                    "Supplied AttributeValue has an unknown datatype: {other}"
                )))
            }
        };
        Ok(value)
    }

    /// The value as DynamoDB's JSON.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// The bytes DynamoDB counts for this value (not its name).
    pub fn size(&self) -> usize {
        match self {
            Self::S(s) => s.len(),
            Self::N(n) => number_size(n),
            Self::B(b) => b.len(),
            Self::Bool(_) | Self::Null => 1,
            Self::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Self::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Self::SS(s) => s.iter().map(String::len).sum(),
            Self::NS(s) => s.iter().map(number_size).sum(),
            Self::BS(s) => s.iter().map(Vec::len).sum(),
        }
    }
}

fn number_size(n: &Number) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

fn check_set<T: PartialEq>(
    set: &[T],
    kind: &str,
    show: impl Fn(&T) -> String,
) -> Result<(), TablesError> {
    if set.is_empty() {
        return Err(invalid(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    for (i, a) in set.iter().enumerate() {
        if set[..i].contains(a) {
            let shown: Vec<String> = set.iter().map(&show).collect();
            return Err(invalid(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

/// Reads an item (`{"name": {"S": …}, …}`).
pub fn item_from_json(json: &Json) -> Result<Item, TablesError> {
    let object = json
        .as_object()
        .ok_or_else(|| TablesError::Serialization("Unexpected value type in payload".into()))?;
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
        .collect()
}

/// An item as DynamoDB's JSON.
pub fn item_to_json(item: &Item) -> Json {
    serde_json::to_value(ItemJson(item)).unwrap_or(Json::Null)
}

/// The bytes DynamoDB counts for an item: every name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Serializes an item as its JSON map without building a `serde_json::Value`.
pub struct ItemJson<'a>(pub &'a Item);

impl Serialize for ItemJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct Strings<'a, T>(&'a [T], fn(&T) -> String);

impl<T> Serialize for Strings<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&(self.1)(v))?;
        }
        seq.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Self::S(s) => map.serialize_entry("S", s)?,
            Self::N(n) => map.serialize_entry("N", &n.to_string())?,
            Self::B(b) => map.serialize_entry("B", &b64(b))?,
            Self::Bool(b) => map.serialize_entry("BOOL", b)?,
            Self::Null => map.serialize_entry("NULL", &true)?,
            Self::L(l) => map.serialize_entry("L", l)?,
            Self::M(m) => map.serialize_entry("M", &ItemJson(m))?,
            Self::SS(s) => map.serialize_entry("SS", s)?,
            Self::NS(s) => map.serialize_entry("NS", &Strings(s, |n| n.to_string()))?,
            Self::BS(s) => map.serialize_entry("BS", &Strings(s, |b| b64(b)))?,
        }
        map.end()
    }
}

/// Order-preserving bytes of a key value (S and B bytewise, N numerically), with a type tag so
/// values of different types never collide.
pub fn key_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::S(s) => out.extend_from_slice(s.as_bytes()),
        Value::B(b) => out.extend_from_slice(b),
        Value::N(n) => n.key_bytes(&mut out),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_type() {
        let item = json!({
            "s": {"S": "x"}, "n": {"N": "1.50"}, "b": {"B": "AQI="}, "t": {"BOOL": true},
            "z": {"NULL": true}, "l": {"L": [{"S": "a"}, {"N": "2"}]},
            "m": {"M": {"k": {"SS": ["a", "b"]}}}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AQI="]}
        });
        let parsed = item_from_json(&item).unwrap();
        let mut expected = item.clone();
        expected["n"] = json!({"N": "1.5"});
        assert_eq!(item_to_json(&parsed), expected);
    }

    #[test]
    fn refuses_what_dynamodb_refuses() {
        let err = |j: Json| Value::from_json(&j).unwrap_err().to_string();
        assert!(err(json!({})).contains("Supplied AttributeValue is empty"));
        assert!(err(json!({"S": "a", "N": "1"})).contains("more than one datatypes"));
        assert!(err(json!({"SS": []})).contains("An string set  may not be empty"));
        assert!(err(json!({"SS": ["a", "a"]})).contains("contains duplicates"));
        assert!(err(json!({"N": "x"})).contains("cannot be converted into a number"));
        assert!(err(json!({"NULL": false})).contains("Null attribute value types"));
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item = item_from_json(&json!({"id": {"S": "abc"}, "n": {"N": "12345"}})).unwrap();
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
    }
}
