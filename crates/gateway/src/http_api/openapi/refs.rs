//! `$ref`s an import cannot resolve: a warning each, named the way AWS's OpenAPI parser names the
//! place — `paths.'{path}'({method})` for an operation, media types left out of the path, array
//! positions too — followed by the reference: `Parse issue: attribute
//! paths.'/update'(get).responses.200.content.schema.#/components/schemas/Missing is missing`.

use serde_json::Value;

/// How deep a document may nest before the walk stops (a hostile document cannot exhaust the
/// stack; real OpenAPI documents stay far below this).
const MAX_DEPTH: usize = 64;

/// Adds a warning for every `$ref` that does not resolve inside `doc` (references to other
/// documents cannot be fetched, so they never resolve).
pub(crate) fn unresolved(doc: &Value, warnings: &mut Vec<String>) {
    walk(doc, doc, String::new(), Place::Root, 0, warnings);
}

/// What the object being walked is, for naming places as the parser does.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Root,
    Paths,
    PathItem,
    Content,
    Other,
}

const OPERATIONS: [&str; 9] = [
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
    super::ANY_METHOD,
];

fn walk(
    doc: &Value,
    value: &Value,
    location: String,
    place: Place,
    depth: usize,
    warnings: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                walk(
                    doc,
                    item,
                    location.clone(),
                    Place::Other,
                    depth + 1,
                    warnings,
                );
            }
        }
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if !resolves(doc, reference) {
                    warnings.push(format!(
                        "Parse issue: attribute {location}.{reference} is missing"
                    ));
                }
            }
            for (key, child) in map {
                if key == "$ref" {
                    continue;
                }
                let (child_location, child_place) = match place {
                    Place::Root if key == "paths" => ("paths".to_owned(), Place::Paths),
                    Place::Paths => (format!("{location}.'{key}'"), Place::PathItem),
                    Place::PathItem if OPERATIONS.contains(&key.as_str()) => {
                        (format!("{location}({key})"), Place::Other)
                    }
                    // The parser names `content` and then the schema, not the media type.
                    Place::Content => (location.clone(), Place::Other),
                    _ if key == "content" => (join(&location, key), Place::Content),
                    _ => (join(&location, key), Place::Other),
                };
                walk(doc, child, child_location, child_place, depth + 1, warnings);
            }
        }
        _ => {}
    }
}

fn join(location: &str, key: &str) -> String {
    if location.is_empty() {
        key.to_owned()
    } else {
        format!("{location}.{key}")
    }
}

/// Whether a local reference (`#/components/schemas/Pet`, JSON-pointer escapes and all) names
/// something in the document.
fn resolves(doc: &Value, reference: &str) -> bool {
    let Some(pointer) = reference.strip_prefix('#') else {
        return false;
    };
    let decoded = percent_encoding::percent_decode_str(pointer).decode_utf8_lossy();
    doc.pointer(&decoded).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unresolvable_references_are_named_like_aws_names_them() {
        let doc = json!({
            "openapi": "3.0.1",
            "paths": {"/update": {"get": {"responses": {"200": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ModelThatDoesNotExist"}}
            }}}}}},
        });
        let mut warnings = Vec::new();
        unresolved(&doc, &mut warnings);
        assert_eq!(
            warnings,
            vec![
                "Parse issue: attribute paths.'/update'(get).responses.200.content.schema.#/components/schemas/ModelThatDoesNotExist is missing"
            ]
        );
    }

    #[test]
    fn resolvable_references_are_fine() {
        let doc = json!({
            "components": {"schemas": {"Pet": {"type": "object"}, "a/b": {}}},
            "paths": {"/p": {"parameters": [{"$ref": "#/components/schemas/Pet"}],
                             "post": {"requestBody": {"$ref": "#/components/schemas/a~1b"}}}},
        });
        let mut warnings = Vec::new();
        unresolved(&doc, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        let external = json!({"paths": {"/p": {"get": {"$ref": "other.yaml#/x"}}}});
        unresolved(&external, &mut warnings);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn deep_documents_do_not_exhaust_the_stack() {
        let mut doc = json!({"$ref": "#/nowhere"});
        for _ in 0..1_000 {
            doc = json!({ "a": doc });
        }
        let mut warnings = Vec::new();
        unresolved(&doc, &mut warnings);
        assert!(warnings.is_empty());
    }
}
