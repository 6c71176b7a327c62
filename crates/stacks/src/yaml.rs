//! Template text → JSON with the YAML short forms (`!Ref`, `!Sub`, `!GetAtt A.B`, …) turned into
//! their long forms, and where a logical id is written (for errors that name a line).

use serde_json::{Map, Value};

use crate::TemplateError;

/// Parses a YAML (or JSON) template into JSON values.
pub fn parse(file: &str, text: &str) -> Result<Value, TemplateError> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        TemplateError::at(file, line, None, format!("invalid YAML: {e}"))
    })?;
    to_json(yaml).map_err(|message| TemplateError::at(file, None, None, message))
}

fn to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(tagged.value)?;
            short_form(name, inner)?
        }
    })
}

/// `!Name value` → its long form.
fn short_form(name: &str, inner: Value) -> Result<Value, String> {
    let (key, value) = match name {
        "Ref" => ("Ref".to_owned(), inner),
        "Condition" => ("Condition".to_owned(), inner),
        "GetAtt" => {
            let value = match inner {
                Value::String(s) => match s.split_once('.') {
                    Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
                    None => return Err(format!("!GetAtt {s}: expected Resource.Attribute")),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        "Base64" | "Cidr" | "FindInMap" | "GetAZs" | "ImportValue" | "Join" | "Select"
        | "Split" | "Sub" | "Transform" | "And" | "Equals" | "If" | "Not" | "Or"
        | "ToJsonString" | "Length" => (format!("Fn::{name}"), inner),
        other => return Err(format!("unknown tag !{other}")),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Ok(Value::Object(map))
}

/// The 1-based line where `logical_id` is defined under `Resources:` (or anywhere, failing that).
pub fn line_of(text: &str, section: &str, logical_id: &str) -> Option<usize> {
    let mut in_section = false;
    let mut fallback = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indented = trimmed.len() != line.len();
        if !indented && !trimmed.is_empty() && !trimmed.starts_with('#') {
            in_section =
                trimmed.starts_with(section) || trimmed.starts_with(&format!("\"{section}\""));
        }
        let key = trimmed.trim_start_matches('"');
        if indented && key.starts_with(logical_id) {
            let rest = key[logical_id.len()..].trim_start_matches('"').trim_start();
            if rest.starts_with(':') {
                if in_section {
                    return Some(i + 1);
                }
                fallback.get_or_insert(i + 1);
            }
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_forms_become_long_forms() {
        let text = "A: !Ref X\nB: !GetAtt F.Arn\nC: !Sub '${X}-y'\nD: !Join [',', [a, !Ref Y]]\nE: !If [C, 1, 2]\n";
        let v = parse("t.yaml", text).unwrap();
        assert_eq!(v["A"], json!({"Ref": "X"}));
        assert_eq!(v["B"], json!({"Fn::GetAtt": ["F", "Arn"]}));
        assert_eq!(v["C"], json!({"Fn::Sub": "${X}-y"}));
        assert_eq!(v["D"], json!({"Fn::Join": [",", ["a", {"Ref": "Y"}]]}));
        assert_eq!(v["E"], json!({"Fn::If": ["C", 1, 2]}));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("template.yaml", "a: 1\nb: [\n  c: d\n").unwrap_err();
        assert!(err.to_string().starts_with("template.yaml:"), "{err}");
        assert!(err.line.is_some());
    }

    #[test]
    fn finds_resource_lines() {
        let text = "Parameters:\n  Fn:\n    Type: String\nResources:\n  Other:\n    Type: X\n  Fn:\n    Type: Y\n";
        assert_eq!(line_of(text, "Resources", "Fn"), Some(7));
        assert_eq!(line_of(text, "Resources", "Missing"), None);
    }
}
