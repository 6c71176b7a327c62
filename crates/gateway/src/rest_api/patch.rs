//! `patchOperations` as API Gateway (v1) takes them: `replace`/`add`/`remove` on a JSON-pointer
//! path of the resource's wire shape, values always strings (converted to the member's type).

use serde_json::Value;

use crate::GatewayError;

/// One patch operation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PatchOperation {
    /// `add`, `remove`, `replace` (`move`, `copy`, `test` are refused).
    #[serde(default)]
    pub op: String,
    /// A JSON pointer (`/name`, `/variables/color`).
    #[serde(default)]
    pub path: String,
    /// The new value.
    pub value: Option<String>,
}

/// An Update* request body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchInput {
    /// The operations, in order.
    #[serde(default)]
    pub patch_operations: Vec<PatchOperation>,
}

/// Top-level members that are booleans where the wire shape may leave them out.
const BOOLEANS: &[&str] = &["apiKeyRequired", "cacheClusterEnabled", "tracingEnabled"];
/// Top-level members that are numbers where the wire shape may leave them out.
const NUMBERS: &[&str] = &["limit", "timeoutInMillis", "authorizerResultTtlInSeconds"];

fn unescape(part: &str) -> String {
    part.replace("~1", "/").replace("~0", "~")
}

/// Applies `ops` to `target`; each path's first segment must be in `allowed`.
pub fn apply(
    target: &mut Value,
    ops: &[PatchOperation],
    allowed: &[&str],
) -> Result<(), GatewayError> {
    apply_typed(target, ops, allowed, &[])
}

/// [`apply`], where the members named in `bool_maps` map names to booleans (a method's
/// `requestParameters`, a method response's `responseParameters`).
pub fn apply_typed(
    target: &mut Value,
    ops: &[PatchOperation],
    allowed: &[&str],
    bool_maps: &[&str],
) -> Result<(), GatewayError> {
    for op in ops {
        let parts: Vec<String> = op
            .path
            .strip_prefix('/')
            .ok_or_else(|| GatewayError::bad_request(format!("Invalid patch path {}", op.path)))?
            .split('/')
            .map(unescape)
            .collect();
        let invalid = || {
            GatewayError::bad_request(format!(
                "Invalid patch path '{}' specified for op '{}'. Must be one of: {}",
                op.path,
                op.op,
                allowed
                    .iter()
                    .map(|a| format!("/{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        if !allowed.contains(&parts[0].as_str()) {
            return Err(invalid());
        }
        let (last, parents) = parts.split_last().ok_or_else(invalid)?;
        let mut node = &mut *target;
        for part in parents {
            if !node.get(part).is_some_and(|v| v.is_object()) {
                node[part.as_str()] = Value::Object(Default::default());
            }
            node = node.get_mut(part).ok_or_else(invalid)?;
        }
        let map = node.as_object_mut().ok_or_else(invalid)?;
        match op.op.as_str() {
            "remove" => {
                map.remove(last);
            }
            "add" | "replace" => {
                let text = op.value.clone().unwrap_or_default();
                let typed = match map.get(last) {
                    Some(Value::Bool(_)) => Value::Bool(text.parse().map_err(|_| {
                        GatewayError::bad_request(format!("Invalid boolean value {text}"))
                    })?),
                    Some(Value::Number(_)) => Value::Number(text.parse().map_err(|_| {
                        GatewayError::bad_request(format!("Invalid number value {text}"))
                    })?),
                    // Members left out of the wire shape while unset or false, and the
                    // entries of maps of booleans.
                    _ if (BOOLEANS.contains(&last.as_str()) && parents.is_empty())
                        || (parents.len() == 1 && bool_maps.contains(&parents[0].as_str())) =>
                    {
                        Value::Bool(text.parse().map_err(|_| {
                            GatewayError::bad_request(format!("Invalid boolean value {text}"))
                        })?)
                    }
                    _ => match text.parse::<i64>() {
                        Ok(n) if parents.is_empty() && NUMBERS.contains(&last.as_str()) => {
                            Value::from(n)
                        }
                        _ => Value::String(text),
                    },
                };
                map.insert(last.clone(), typed);
            }
            other => {
                return Err(GatewayError::bad_request(format!(
                    "Invalid patch operation specified: {other}"
                )))
            }
        }
    }
    Ok(())
}

/// Applies `ops` to a record through its wire shape.
pub fn patch<T: serde::Serialize + serde::de::DeserializeOwned>(
    record: &T,
    ops: &[PatchOperation],
    allowed: &[&str],
) -> Result<T, GatewayError> {
    patch_typed(record, ops, allowed, &[])
}

/// [`patch`] with maps of booleans (see [`apply_typed`]).
pub fn patch_typed<T: serde::Serialize + serde::de::DeserializeOwned>(
    record: &T,
    ops: &[PatchOperation],
    allowed: &[&str],
    bool_maps: &[&str],
) -> Result<T, GatewayError> {
    let mut value =
        serde_json::to_value(record).map_err(|e| GatewayError::bad_request(e.to_string()))?;
    apply_typed(&mut value, ops, allowed, bool_maps)?;
    serde_json::from_value(value)
        .map_err(|e| GatewayError::bad_request(format!("Invalid patch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_add_and_remove_keep_types() {
        let mut v = serde_json::json!({"name": "a", "enabled": true, "variables": {"x": "1"},
            "quota": {"limit": 5, "period": "DAY"}});
        let op = |op: &str, path: &str, value: Option<&str>| PatchOperation {
            op: op.into(),
            path: path.into(),
            value: value.map(Into::into),
        };
        apply(
            &mut v,
            &[
                op("replace", "/name", Some("b")),
                op("replace", "/enabled", Some("false")),
                op("add", "/variables/y", Some("2")),
                op("remove", "/variables/x", None),
                op("replace", "/quota/limit", Some("9")),
            ],
            &["name", "enabled", "variables", "quota"],
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "b", "enabled": false, "variables": {"y": "2"},
                "quota": {"limit": 9, "period": "DAY"}})
        );
        assert!(apply(&mut v, &[op("replace", "/id", Some("x"))], &["name"]).is_err());
    }
}
