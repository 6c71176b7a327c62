//! Event patterns, as EventBridge rules and Lambda's event filters write them: a JSON object
//! whose leaves are arrays of matchers, matched against an event (a JSON value).
//!
//! A field matches when the event's value (or, for an array in the event, any of its elements)
//! equals one of the literals or satisfies one of the matchers: `{"prefix": …}`, `{"suffix": …}`,
//! `{"equals-ignore-case": …}`, `{"anything-but": literal | [literals] | {"prefix": …}}`,
//! `{"numeric": [">", 0, "<=", 5]}`, `{"exists": bool}`, `{"wildcard": "a*b"}`, `{"cidr": …}` is
//! not supported (refused when the pattern is parsed). `{"$or": [pattern, …]}` matches any.
//! Every field of a pattern must match (fields the pattern leaves out are ignored).

use serde_json::{Map, Value};

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Map<String, Value>);

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

impl Pattern {
    /// Parses and checks a pattern's text.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PatternError(format!("Event pattern is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(PatternError("Event pattern must be a JSON object.".into()));
        };
        check_object(&map)?;
        Ok(Self(map))
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        object_matches(&self.0, Some(event))
    }
}

fn check_object(map: &Map<String, Value>) -> Result<(), PatternError> {
    for (key, value) in map {
        match (key.as_str(), value) {
            ("$or", Value::Array(alternatives)) => {
                for alternative in alternatives {
                    match alternative {
                        Value::Object(inner) => check_object(inner)?,
                        _ => return Err(PatternError("$or takes an array of patterns.".into())),
                    }
                }
            }
            (_, Value::Object(inner)) => check_object(inner)?,
            (_, Value::Array(matchers)) => {
                for matcher in matchers {
                    check_matcher(key, matcher)?;
                }
            }
            _ => {
                return Err(PatternError(format!(
                    "Event pattern field '{key}' must be an array or an object."
                )))
            }
        }
    }
    Ok(())
}

fn check_matcher(key: &str, matcher: &Value) -> Result<(), PatternError> {
    let Value::Object(rule) = matcher else {
        return match matcher {
            Value::Array(_) => Err(PatternError(format!(
                "Event pattern field '{key}' has a nested array."
            ))),
            _ => Ok(()),
        };
    };
    let known = [
        "prefix",
        "suffix",
        "equals-ignore-case",
        "anything-but",
        "numeric",
        "exists",
        "wildcard",
    ];
    match rule.iter().next() {
        Some((name, _)) if rule.len() == 1 && known.contains(&name.as_str()) => Ok(()),
        _ => Err(PatternError(format!(
            "Event pattern field '{key}' has an unsupported matcher: {matcher}"
        ))),
    }
}

fn object_matches(pattern: &Map<String, Value>, event: Option<&Value>) -> bool {
    pattern.iter().all(|(key, rule)| {
        if key == "$or" {
            return rule.as_array().is_some_and(|alternatives| {
                alternatives
                    .iter()
                    .filter_map(Value::as_object)
                    .any(|alternative| object_matches(alternative, event))
            });
        }
        let field = event.and_then(|e| e.get(key));
        match rule {
            Value::Object(inner) => object_matches(inner, field),
            Value::Array(matchers) => field_matches(matchers, field),
            _ => false,
        }
    })
}

fn field_matches(matchers: &[Value], field: Option<&Value>) -> bool {
    matchers.iter().any(|matcher| {
        if let Some(exists) = matcher.get("exists").and_then(Value::as_bool) {
            return exists == field.is_some();
        }
        match field {
            None => false,
            Some(Value::Array(items)) => items.iter().any(|item| value_matches(matcher, item)),
            Some(value) => value_matches(matcher, value),
        }
    })
}

fn value_matches(matcher: &Value, value: &Value) -> bool {
    let Value::Object(rule) = matcher else {
        return literal_equals(matcher, value);
    };
    let Some((name, argument)) = rule.iter().next() else {
        return false;
    };
    let text = value.as_str();
    match name.as_str() {
        "prefix" => match (argument, text) {
            (Value::String(p), Some(t)) => t.starts_with(p.as_str()),
            (Value::Object(o), Some(t)) => o
                .get("equals-ignore-case")
                .and_then(Value::as_str)
                .is_some_and(|p| t.to_lowercase().starts_with(&p.to_lowercase())),
            _ => false,
        },
        "suffix" => match (argument, text) {
            (Value::String(s), Some(t)) => t.ends_with(s.as_str()),
            (Value::Object(o), Some(t)) => o
                .get("equals-ignore-case")
                .and_then(Value::as_str)
                .is_some_and(|s| t.to_lowercase().ends_with(&s.to_lowercase())),
            _ => false,
        },
        "equals-ignore-case" => match (argument.as_str(), text) {
            (Some(a), Some(t)) => a.to_lowercase() == t.to_lowercase(),
            _ => false,
        },
        "anything-but" => match argument {
            Value::Array(excluded) => !excluded.iter().any(|e| literal_equals(e, value)),
            Value::Object(_) => !value_matches(argument, value),
            literal => !literal_equals(literal, value),
        },
        "numeric" => value.as_f64().is_some_and(|n| numeric(argument, n)),
        "wildcard" => match (argument.as_str(), text) {
            (Some(p), Some(t)) => wildcard(p, t),
            _ => false,
        },
        _ => false,
    }
}

fn literal_equals(literal: &Value, value: &Value) -> bool {
    match (literal, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn numeric(conditions: &Value, n: f64) -> bool {
    let Some(parts) = conditions.as_array() else {
        return false;
    };
    parts.chunks(2).all(|pair| match pair {
        [Value::String(op), bound] => bound.as_f64().is_some_and(|b| match op.as_str() {
            "<" => n < b,
            "<=" => n <= b,
            "=" => n == b,
            ">" => n > b,
            ">=" => n >= b,
            _ => false,
        }),
        _ => false,
    })
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !rest.starts_with(first) {
        return false;
    }
    rest = &rest[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn matches(pattern: &str, event: Value) -> bool {
        Pattern::parse(pattern).unwrap().matches(&event)
    }

    #[test]
    fn literals_nesting_and_arrays() {
        let event =
            json!({"source": "my.app", "detail": {"state": "ok", "tags": ["a", "b"], "n": 5}});
        assert!(matches(r#"{"source": ["my.app"]}"#, event.clone()));
        assert!(!matches(r#"{"source": ["other"]}"#, event.clone()));
        assert!(matches(
            r#"{"detail": {"state": ["ok", "bad"]}}"#,
            event.clone()
        ));
        assert!(matches(r#"{"detail": {"tags": ["b"]}}"#, event.clone()));
        assert!(matches(r#"{"detail": {"n": [5]}}"#, event.clone()));
        assert!(!matches(r#"{"detail": {"missing": ["x"]}}"#, event));
    }

    #[test]
    fn matchers() {
        let event = json!({"body": {"name": "Order-42", "qty": 3, "note": null}});
        assert!(matches(
            r#"{"body": {"name": [{"prefix": "Order-"}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"name": [{"suffix": "42"}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"name": [{"equals-ignore-case": "order-42"}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"name": [{"anything-but": ["x", "y"]}]}}"#,
            event.clone()
        ));
        assert!(!matches(
            r#"{"body": {"name": [{"anything-but": "Order-42"}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"qty": [{"numeric": [">", 0, "<=", 3]}]}}"#,
            event.clone()
        ));
        assert!(!matches(
            r#"{"body": {"qty": [{"numeric": [">", 3]}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"qty": [{"exists": true}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"gone": [{"exists": false}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"body": {"name": [{"wildcard": "Or*-4*"}]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"$or": [{"body": {"qty": [9]}}, {"body": {"name": ["Order-42"]}}]}"#,
            event
        ));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(Pattern::parse("[]").is_err());
        assert!(Pattern::parse(r#"{"a": "b"}"#).is_err());
        assert!(Pattern::parse(r#"{"a": [{"cidr": "10.0.0.0/8"}]}"#).is_err());
        assert!(Pattern::parse("{").is_err());
    }
}
