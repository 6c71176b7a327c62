//! Intrinsic functions over JSON: `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::If`,
//! `Fn::Select`, `Fn::Split`, `Fn::FindInMap`, `Fn::Base64`, `Fn::GetAZs`, conditions
//! (`Fn::Equals/And/Or/Not`, `Condition`), and `AWS::NoValue` (the property disappears).

use std::collections::{BTreeMap, BTreeSet};

use base64_lite::encode as base64;
use serde_json::{Map, Value};

/// What a template's expressions may name.
pub struct Scope<'a> {
    /// Parameters and pseudo parameters by name, resolved.
    pub parameters: &'a BTreeMap<String, Value>,
    /// Conditions by name, evaluated.
    pub conditions: &'a BTreeMap<String, bool>,
    /// `Mappings`.
    pub mappings: &'a Value,
    /// A resource's `Ref` (attribute `None`) or `Fn::GetAtt` value; `None` when unknown.
    pub resource: &'a dyn Fn(&str, Option<&str>) -> Option<Value>,
}

/// Resolves every intrinsic in `value`; `Ok(None)` is `AWS::NoValue`.
pub fn resolve(value: &Value, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    match value {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = resolve(item, scope)? {
                    out.push(v);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        Value::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next().expect("one entry");
            match key.as_str() {
                "Ref" => reference(arg, scope),
                "Condition" => Ok(Some(Value::Bool(condition_named(arg, scope)?))),
                // `!If [C, x, !Ref AWS::NoValue]`: the chosen branch may remove the property.
                "Fn::If" => {
                    let items = args(arg, "If", 3)?;
                    let chosen = condition_named(&items[0], scope)?;
                    resolve(if chosen { &items[1] } else { &items[2] }, scope)
                }
                k if k.starts_with("Fn::") => function(&k[4..], arg, scope).map(Some),
                _ => object(map, scope),
            }
        }
        Value::Object(map) => object(map, scope),
        other => Ok(Some(other.clone())),
    }
}

fn object(map: &Map<String, Value>, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    let mut out = Map::new();
    for (k, v) in map {
        if let Some(v) = resolve(v, scope)? {
            out.insert(k.clone(), v);
        }
    }
    Ok(Some(Value::Object(out)))
}

fn required(value: &Value, scope: &Scope<'_>, what: &str) -> Result<Value, String> {
    resolve(value, scope)?.ok_or_else(|| format!("{what}: AWS::NoValue is not allowed here"))
}

fn reference(arg: &Value, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    let name = arg
        .as_str()
        .ok_or_else(|| format!("Ref takes a name, not {arg}"))?;
    if name == "AWS::NoValue" {
        return Ok(None);
    }
    if let Some(v) = scope.parameters.get(name) {
        return Ok(Some(v.clone()));
    }
    (scope.resource)(name, None)
        .map(Some)
        .ok_or_else(|| format!("Ref {name}: no parameter or resource of that name"))
}

fn condition_named(arg: &Value, scope: &Scope<'_>) -> Result<bool, String> {
    let name = arg
        .as_str()
        .ok_or_else(|| format!("a condition name is a string, not {arg}"))?;
    scope
        .conditions
        .get(name)
        .copied()
        .ok_or_else(|| format!("condition {name} is not defined"))
}

fn args<'v>(arg: &'v Value, name: &str, n: usize) -> Result<&'v [Value], String> {
    match arg.as_array() {
        Some(items) if items.len() == n => Ok(items),
        _ => Err(format!("Fn::{name} takes a list of {n}, not {arg}")),
    }
}

/// The text form of a resolved scalar (Sub and Join splice numbers and booleans as text).
pub fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn function(name: &str, arg: &Value, scope: &Scope<'_>) -> Result<Value, String> {
    match name {
        "GetAtt" => {
            let (resource, attribute) = match arg {
                Value::String(s) => s
                    .split_once('.')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| format!("Fn::GetAtt {s}: expected Resource.Attribute"))?,
                _ => {
                    let items = args(arg, name, 2)?;
                    (
                        text(&required(&items[0], scope, "Fn::GetAtt")?)?,
                        text(&required(&items[1], scope, "Fn::GetAtt")?)?,
                    )
                }
            };
            (scope.resource)(&resource, Some(&attribute)).ok_or_else(|| {
                format!("Fn::GetAtt {resource}.{attribute}: no such resource or attribute")
            })
        }
        "Sub" => {
            let (template, vars) = match arg {
                Value::String(s) => (s.clone(), Map::new()),
                _ => {
                    let items = args(arg, name, 2)?;
                    let template = items[0]
                        .as_str()
                        .ok_or("Fn::Sub: the first item is the string")?
                        .to_owned();
                    let mut vars = Map::new();
                    for (k, v) in items[1]
                        .as_object()
                        .ok_or("Fn::Sub: the second item is a map")?
                    {
                        vars.insert(k.clone(), required(v, scope, "Fn::Sub")?);
                    }
                    (template, vars)
                }
            };
            substitute(&template, &vars, scope).map(Value::String)
        }
        "Join" => {
            let items = args(arg, name, 2)?;
            let sep = text(&items[0])?;
            let list = required(&items[1], scope, "Fn::Join")?;
            let parts = list
                .as_array()
                .ok_or_else(|| format!("Fn::Join: the second item is a list, not {list}"))?
                .iter()
                .map(text)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::String(parts.join(&sep)))
        }
        "Select" => {
            let items = args(arg, name, 2)?;
            let index = required(&items[0], scope, "Fn::Select")?;
            let index: usize = text(&index)?
                .parse()
                .map_err(|_| format!("Fn::Select: index {index} is not a number"))?;
            let list = required(&items[1], scope, "Fn::Select")?;
            list.as_array()
                .and_then(|l| l.get(index).cloned())
                .ok_or_else(|| format!("Fn::Select: index {index} out of {list}"))
        }
        "Split" => {
            let items = args(arg, name, 2)?;
            let sep = text(&items[0])?;
            let source = text(&required(&items[1], scope, "Fn::Split")?)?;
            Ok(Value::Array(
                source
                    .split(sep.as_str())
                    .map(|s| Value::String(s.into()))
                    .collect(),
            ))
        }
        "FindInMap" => {
            let items = args(arg, name, 3)?;
            let keys = items
                .iter()
                .map(|k| required(k, scope, "Fn::FindInMap").and_then(|k| text(&k)))
                .collect::<Result<Vec<_>, _>>()?;
            scope
                .mappings
                .get(&keys[0])
                .and_then(|m| m.get(&keys[1]))
                .and_then(|m| m.get(&keys[2]))
                .cloned()
                .ok_or_else(|| format!("Fn::FindInMap: no {}/{}/{}", keys[0], keys[1], keys[2]))
        }
        "Base64" => Ok(Value::String(base64(
            text(&required(arg, scope, "Fn::Base64")?)?.as_bytes(),
        ))),
        "GetAZs" => {
            let region = scope
                .parameters
                .get("AWS::Region")
                .and_then(Value::as_str)
                .unwrap_or("us-east-1");
            Ok(Value::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|z| Value::String(format!("{region}{z}")))
                    .collect(),
            ))
        }
        "ToJsonString" => Ok(Value::String(
            required(arg, scope, "Fn::ToJsonString")?.to_string(),
        )),
        "Length" => {
            let list = required(arg, scope, "Fn::Length")?;
            Ok(Value::from(list.as_array().map(Vec::len).unwrap_or(0)))
        }
        "Equals" | "And" | "Or" | "Not" => condition(&single(name, arg), scope).map(Value::Bool),
        other => Err(format!("Fn::{other} is not supported")),
    }
}

fn single(name: &str, arg: &Value) -> Value {
    let mut map = Map::new();
    map.insert(format!("Fn::{name}"), arg.clone());
    Value::Object(map)
}

/// Evaluates a condition expression (`Fn::Equals/And/Or/Not`, `Condition`, or a literal bool).
pub fn condition(expr: &Value, scope: &Scope<'_>) -> Result<bool, String> {
    if let Value::Bool(b) = expr {
        return Ok(*b);
    }
    let map = expr
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or_else(|| format!("not a condition: {expr}"))?;
    let (key, arg) = map.iter().next().expect("one entry");
    match key.as_str() {
        "Condition" => condition_named(arg, scope),
        "Fn::Equals" => {
            let items = args(arg, "Equals", 2)?;
            let a = required(&items[0], scope, "Fn::Equals")?;
            let b = required(&items[1], scope, "Fn::Equals")?;
            Ok(match (text(&a), text(&b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => a == b,
            })
        }
        "Fn::Not" => {
            let items = args(arg, "Not", 1)?;
            Ok(!condition(&items[0], scope)?)
        }
        "Fn::And" | "Fn::Or" => {
            let items = arg
                .as_array()
                .ok_or_else(|| format!("{key} takes a list"))?;
            let mut values = items.iter().map(|c| condition(c, scope));
            if key == "Fn::And" {
                values.try_fold(true, |acc, v| v.map(|v| acc && v))
            } else {
                values.try_fold(false, |acc, v| v.map(|v| acc || v))
            }
        }
        other => Err(format!("{other} is not a condition function")),
    }
}

/// `Fn::Sub`'s `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
fn substitute(
    template: &str,
    vars: &Map<String, Value>,
    scope: &Scope<'_>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("Fn::Sub: unclosed ${{ in {template:?}"))?;
        let name = after[..end].trim();
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if let Some(v) = vars.get(name) {
            out.push_str(&text(v)?);
        } else if let Some(v) = scope.parameters.get(name) {
            out.push_str(&text(v)?);
        } else if let Some((resource, attribute)) = name.split_once('.') {
            let v = (scope.resource)(resource, Some(attribute))
                .ok_or_else(|| format!("Fn::Sub: ${{{name}}}: no such resource or attribute"))?;
            out.push_str(&text(&v)?);
        } else {
            let v = (scope.resource)(name, None).ok_or_else(|| {
                format!("Fn::Sub: ${{{name}}}: no parameter or resource of that name")
            })?;
            out.push_str(&text(&v)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The logical ids `value` refers to (Ref, GetAtt, Sub variables), for ordering.
pub fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("Ref", Value::String(name)) => {
                        out.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::String(s)) => {
                        out.insert(s.split('.').next().unwrap_or(s).to_owned());
                    }
                    ("Fn::GetAtt", Value::Array(items)) => {
                        if let Some(Value::String(name)) = items.first() {
                            out.insert(name.clone());
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let (template, vars) = match sub {
                            Value::String(s) => (s.as_str(), None),
                            Value::Array(items) => (
                                items.first().and_then(Value::as_str).unwrap_or(""),
                                items.get(1),
                            ),
                            _ => ("", None),
                        };
                        let mut rest = template;
                        while let Some(start) = rest.find("${") {
                            let after = &rest[start + 2..];
                            let Some(end) = after.find('}') else { break };
                            let name = after[..end].trim();
                            let local = vars.and_then(|v| v.get(name)).is_some();
                            if !name.starts_with('!') && !local {
                                out.insert(name.split('.').next().unwrap_or(name).to_owned());
                            }
                            rest = &after[end + 1..];
                        }
                        if let Some(vars) = vars {
                            references(vars, out);
                        }
                    }
                    _ => references(v, out),
                }
            }
        }
        _ => {}
    }
}

mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Standard padded base64 (Fn::Base64 only; not worth a dependency).
    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_scope<T>(f: impl FnOnce(&Scope<'_>) -> T) -> T {
        let mut parameters = BTreeMap::new();
        parameters.insert("Stage".to_owned(), json!("dev"));
        parameters.insert("AWS::Region".to_owned(), json!("us-east-1"));
        parameters.insert("List".to_owned(), json!(["a", "b"]));
        let mut conditions = BTreeMap::new();
        conditions.insert("IsProd".to_owned(), false);
        let mappings = json!({"M": {"dev": {"size": 128}}});
        let resource = |id: &str, attr: Option<&str>| match (id, attr) {
            ("Fn", None) => Some(json!("fn-name")),
            ("Fn", Some("Arn")) => Some(json!("arn:fn")),
            _ => None,
        };
        f(&Scope {
            parameters: &parameters,
            conditions: &conditions,
            mappings: &mappings,
            resource: &resource,
        })
    }

    #[test]
    fn resolves_the_common_functions() {
        with_scope(|s| {
            let r = |v: Value| resolve(&v, s).unwrap();
            assert_eq!(r(json!({"Ref": "Stage"})), Some(json!("dev")));
            assert_eq!(
                r(json!({"Fn::Sub": "x-${Stage}-${Fn}-${Fn.Arn}-${!Lit}"})),
                Some(json!("x-dev-fn-name-arn:fn-${Lit}"))
            );
            assert_eq!(
                r(json!({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Fn"}}]})),
                Some(json!("fn-name/dev"))
            );
            assert_eq!(
                r(json!({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]})),
                Some(json!("a-dev-3"))
            );
            assert_eq!(
                r(json!({"Fn::Select": [1, {"Ref": "List"}]})),
                Some(json!("b"))
            );
            assert_eq!(
                r(json!({"Fn::Split": [",", "a,b"]})),
                Some(json!(["a", "b"]))
            );
            assert_eq!(
                r(json!({"Fn::FindInMap": ["M", {"Ref": "Stage"}, "size"]})),
                Some(json!(128))
            );
            assert_eq!(r(json!({"Fn::If": ["IsProd", 1, 2]})), Some(json!(2)));
            assert_eq!(r(json!({"Fn::Base64": "hi"})), Some(json!("aGk=")));
            assert_eq!(
                r(json!({"a": {"Ref": "AWS::NoValue"}, "b": 1})),
                Some(json!({"b": 1}))
            );
            assert_eq!(
                r(json!({"a": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}})),
                Some(json!({}))
            );
            assert_eq!(
                r(json!({"Fn::GetAtt": ["Fn", "Arn"]})),
                Some(json!("arn:fn"))
            );
            assert!(resolve(&json!({"Ref": "Nope"}), s)
                .unwrap_err()
                .contains("Nope"));
            assert!(condition(&json!({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}), s).unwrap());
            assert!(condition(&json!({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Not": [{"Condition": "IsProd"}]}]}), s).unwrap());
        });
    }

    #[test]
    fn finds_references() {
        let mut out = BTreeSet::new();
        references(
            &json!({"a": {"Ref": "A"}, "b": {"Fn::GetAtt": "B.Arn"}, "c": {"Fn::Sub": "${C.Arn}${!D}${AWS::Region}"}}),
            &mut out,
        );
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec!["A", "AWS::Region", "B", "C"]
        );
    }
}
