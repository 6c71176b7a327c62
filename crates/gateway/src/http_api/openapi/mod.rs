//! OpenAPI 3 import (ImportApi, ReimportApi) and export (`export.rs`) with the
//! `x-amazon-apigateway-*` extensions HTTP APIs use.
//!
//! What the import cannot use becomes a warning — stored with the API, or the import's failure
//! with `failOnWarnings` — in the words AWS's parser uses, e.g. an unresolvable `$ref`
//! (`refs.rs`): `Parse issue: attribute paths.'/p'(get).responses.200.content.schema.#/… is
//! missing`.

use std::collections::BTreeMap;

use nubo_wire::Scope;
use serde_json::Value;

use crate::http_api::integrations::new_record;
use crate::http_api::model::{now_iso, ApiDocument, ApiRecord, Cors, RouteRecord};
use crate::http_api::{ApiRegistry, IntegrationInput};
use crate::plane::routing::RouteKey;
use crate::GatewayError;

mod export;
mod refs;

pub use export::export_api;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// What an import produced.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: Option<String>,
    /// `info.description`.
    pub description: Option<String>,
    /// `x-amazon-apigateway-cors`.
    pub cors: Option<Cors>,
    /// Routes by id.
    pub routes: BTreeMap<String, RouteRecord>,
    /// Integrations by id.
    pub integrations: BTreeMap<String, crate::http_api::model::IntegrationRecord>,
    /// What the import could not use.
    pub warnings: Vec<String>,
}

/// How deeply `[` and `{` may nest in a YAML document. The YAML parser's work per token grows
/// with the nesting of flow collections, so 100,000 `[` took it half a minute (found while
/// fuzzing the import); real OpenAPI documents nest a handful of levels.
const MAX_YAML_FLOW_DEPTH: usize = 64;

/// The deepest nesting of `[`/`{` in `text`, counting every bracket (quoted or not: a document
/// whose strings hold 64 unmatched brackets is refused too, which no real one does).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses an OpenAPI document given as JSON or YAML text (YAML mapping keys that are numbers,
/// `200:` under `responses`, become their text).
pub fn parse_document(body: &str) -> Result<Value, GatewayError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        // serde_json refuses nesting deeper than 128 as it reads.
        serde_json::from_str(body)
            .map_err(|e| GatewayError::bad_request(format!("Invalid OpenAPI JSON: {e}")))
    } else {
        if flow_depth(body) > MAX_YAML_FLOW_DEPTH {
            return Err(GatewayError::bad_request(format!(
                "Invalid OpenAPI YAML: flow collections nested deeper than {MAX_YAML_FLOW_DEPTH} levels"
            )));
        }
        serde_norway::from_str(body)
            .map_err(|e| GatewayError::bad_request(format!("Invalid OpenAPI YAML: {e}")))
    }
}

/// `info.version` as text: a YAML `version: 2.0` is a number, and stays `2.0`.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads an OpenAPI 3 document into routes and integrations of an API in `scope`.
pub fn definition(
    scope: &Scope,
    body: &str,
    fail_on_warnings: bool,
) -> Result<Definition, GatewayError> {
    let doc = parse_document(body)?;
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(GatewayError::bad_request(
            "Only OpenAPI 3.x definitions can be imported into HTTP APIs",
        ));
    }
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let title = info
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("imported-api")
        .to_owned();
    let cors = match doc.get("x-amazon-apigateway-cors") {
        Some(value) => Some(serde_json::from_value::<Cors>(value.clone()).map_err(|e| {
            GatewayError::bad_request(format!("Invalid x-amazon-apigateway-cors: {e}"))
        })?),
        None => None,
    };
    let mut warnings = Vec::new();
    refs::unresolved(&doc, &mut warnings);
    if doc.pointer("/components/securitySchemes").is_some() {
        warnings.push(
            "Authorizers (securitySchemes) are not supported by Nubo yet and were ignored"
                .to_owned(),
        );
    }
    let mut routes = BTreeMap::new();
    let mut integrations = BTreeMap::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in &paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (key, operation) in item {
            let method = if key == ANY_METHOD {
                "ANY".to_owned()
            } else if METHODS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else {
                continue;
            };
            let route_key = if path == "/$default" {
                "$default".to_owned()
            } else {
                format!("{method} {path}")
            };
            if let Err(e) = RouteKey::parse(&route_key) {
                warnings.push(format!("Skipped {route_key}: {e}"));
                continue;
            }
            if operation.get("security").is_some() {
                warnings.push(format!("{route_key}: security requirements were ignored"));
            }
            let mut target = None;
            if let Some(ext) = operation.get("x-amazon-apigateway-integration") {
                let text = |k: &str| ext.get(k).and_then(Value::as_str).map(str::to_owned);
                let kind = text("type").unwrap_or_default().to_ascii_uppercase();
                let input = IntegrationInput {
                    integration_type: Some(kind),
                    integration_uri: text("uri"),
                    integration_method: text("httpMethod"),
                    payload_format_version: Some(
                        text("payloadFormatVersion").unwrap_or_else(|| "1.0".into()),
                    ),
                    timeout_in_millis: ext.get("timeoutInMillis").and_then(|v| {
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    }),
                    connection_type: text("connectionType"),
                    description: None,
                    request_parameters: ext.get("requestParameters").cloned(),
                    response_parameters: ext.get("responseParameters").cloned(),
                };
                match new_record(scope, input) {
                    Ok(mut record) => {
                        record.api_gateway_managed = false;
                        target = Some(format!("integrations/{}", record.integration_id));
                        integrations.insert(record.integration_id.clone(), record);
                    }
                    Err(e) => return Err(GatewayError::bad_request(format!("{route_key}: {e}"))),
                }
            } else {
                warnings.push(format!(
                    "{route_key} has no x-amazon-apigateway-integration"
                ));
            }
            let mut record = RouteRecord::new(route_key);
            record.target = target;
            record.operation_name = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            routes.insert(record.route_id.clone(), record);
        }
    }
    if fail_on_warnings && !warnings.is_empty() {
        return Err(GatewayError::bad_request(format!(
            "Warnings found during import:\n\t{}",
            warnings.join("\n\t")
        )));
    }
    Ok(Definition {
        title,
        version: text_of(info.get("version")),
        description: info
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        cors,
        routes,
        integrations,
        warnings,
    })
}

/// ImportApi: a new HTTP API from an OpenAPI 3 document (no stage is created).
pub async fn import_api(
    registry: &ApiRegistry,
    scope: &Scope,
    body: &str,
    fail_on_warnings: bool,
) -> Result<ApiRecord, GatewayError> {
    let def = definition(scope, body, fail_on_warnings)?;
    let api = ApiRecord {
        api_id: registry.new_api_id(),
        name: def.title,
        protocol_type: "HTTP".into(),
        route_selection_expression: "$request.method $request.path".into(),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        cors_configuration: def.cors,
        created_date: now_iso(),
        description: def.description,
        disable_execute_api_endpoint: false,
        version: def.version,
        tags: BTreeMap::new(),
        warnings: def.warnings,
    };
    registry
        .insert(ApiDocument {
            scope: scope.clone(),
            api: api.clone(),
            routes: def.routes,
            integrations: def.integrations,
            stages: BTreeMap::new(),
            deployments: BTreeMap::new(),
            authorizers: BTreeMap::new(),
        })
        .await?;
    Ok(api)
}

/// ReimportApi: replaces routes, integrations and CORS; stages stay (auto-deploying ones redeploy).
pub async fn reimport_api(
    registry: &ApiRegistry,
    scope: &Scope,
    api_id: &str,
    body: &str,
    fail_on_warnings: bool,
) -> Result<ApiRecord, GatewayError> {
    registry.get(scope, api_id)?;
    let def = definition(scope, body, fail_on_warnings)?;
    registry
        .modify(scope, api_id, |doc| {
            doc.api.name = def.title;
            doc.api.version = def.version;
            if def.description.is_some() {
                doc.api.description = def.description;
            }
            doc.api.cors_configuration = def.cors;
            doc.api.warnings = def.warnings;
            doc.routes = def.routes;
            doc.integrations = def.integrations;
            Ok(doc.api.clone())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    #[test]
    fn yaml_with_numeric_keys_and_a_numeric_version_imports() {
        let yaml = format!(
            "openapi: 3.0.1\ninfo:\n  title: t\n  version: 2.0\npaths:\n  /p:\n    get:\n      \
             responses:\n        200:\n          description: ok\n      \
             x-amazon-apigateway-integration:\n        type: aws_proxy\n        \
             payloadFormatVersion: '2.0'\n        uri: {LAMBDA}\n"
        );
        let def = definition(&Scope::default(), &yaml, true).unwrap();
        assert_eq!(def.version.as_deref(), Some("2.0"));
        assert_eq!(def.routes.len(), 1);
        let integer = definition(
            &Scope::default(),
            r#"{"openapi":"3.0.1","info":{"title":"t","version":3},"paths":{}}"#,
            false,
        )
        .unwrap();
        assert_eq!(integer.version.as_deref(), Some("3"));
    }

    #[test]
    fn unresolvable_refs_fail_an_import_that_fails_on_warnings() {
        let doc = serde_json::json!({
            "openapi": "3.0.1", "info": {"title": "t", "version": "1"},
            "paths": {"/update": {"get": {
                "x-amazon-apigateway-integration": {"type": "AWS_PROXY", "payloadFormatVersion": "2.0", "uri": LAMBDA},
                "responses": {"200": {"description": "d", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ModelThatDoesNotExist"}}}}}
            }}}
        })
        .to_string();
        let err = definition(&Scope::default(), &doc, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Warnings found during import:\n\tParse issue: attribute paths.'/update'(get).responses.200.content.schema.#/components/schemas/ModelThatDoesNotExist is missing"
        );
        let lenient = definition(&Scope::default(), &doc, false).unwrap();
        assert_eq!(lenient.warnings.len(), 1);
        assert_eq!(lenient.routes.len(), 1);
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    #[test]
    fn deeply_nested_documents_are_refused_quickly() {
        let started = std::time::Instant::now();
        let yaml = format!("openapi: 3.0.1\npaths: {}", "[".repeat(100_000));
        assert!(definition(&Scope::default(), &yaml, false).is_err());
        let json = format!("{{\"openapi\":\"3.0.1\",\"paths\":{}", "[".repeat(100_000));
        assert!(definition(&Scope::default(), &json, false).is_err());
        // The YAML parser took half a minute over the first before the depth check.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let nested_but_fine = format!(
            "openapi: 3.0.1\ninfo: {{title: t}}\npaths: {{}}\nx: {}{}",
            "[".repeat(20),
            "]".repeat(20)
        );
        assert!(definition(&Scope::default(), &nested_but_fine, false).is_ok());
    }
}
