//! OpenAPI 3 import and export with the `x-amazon-apigateway-*` extensions HTTP APIs use.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::http_api::{ApiRegistry, IntegrationInput};
use crate::http_api::model::{
    new_id, now_iso, ApiDocument, ApiRecord, Cors, DeploymentSnapshot, RouteRecord,
};
use crate::plane::routing::{RouteKey, Segment};
use crate::GatewayError;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// What an import produced.
#[derive(Debug, Clone)]
struct Definition {
    title: String,
    version: Option<String>,
    description: Option<String>,
    cors: Option<Cors>,
    routes: BTreeMap<String, RouteRecord>,
    integrations: BTreeMap<String, crate::http_api::model::IntegrationRecord>,
    warnings: Vec<String>,
}

/// Parses an OpenAPI document given as JSON or YAML text.
fn parse_document(body: &str) -> Result<Value, GatewayError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(body)
            .map_err(|e| GatewayError::bad_request(format!("Invalid OpenAPI JSON: {e}")))
    } else {
        serde_norway::from_str(body)
            .map_err(|e| GatewayError::bad_request(format!("Invalid OpenAPI YAML: {e}")))
    }
}

fn definition(
    registry: &ApiRegistry,
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
                match registry.new_integration(input) {
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
            let record = RouteRecord {
                route_id: new_id(7),
                route_key,
                target,
                authorization_type: "NONE".into(),
                api_key_required: false,
                authorizer_id: None,
                authorization_scopes: None,
                operation_name: operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                request_parameters: None,
                api_gateway_managed: false,
            };
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
        version: info
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned),
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
    body: &str,
    fail_on_warnings: bool,
) -> Result<ApiRecord, GatewayError> {
    let def = definition(registry, body, fail_on_warnings)?;
    let api = ApiRecord {
        api_id: new_id(10),
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
        .put_document(ApiDocument {
            api: api.clone(),
            routes: def.routes,
            integrations: def.integrations,
            stages: BTreeMap::new(),
            deployments: BTreeMap::new(),
        })
        .await?;
    Ok(api)
}

/// ReimportApi: replaces routes, integrations and CORS; stages stay (auto-deploying ones redeploy).
pub async fn reimport_api(
    registry: &ApiRegistry,
    api_id: &str,
    body: &str,
    fail_on_warnings: bool,
) -> Result<ApiRecord, GatewayError> {
    registry.get(api_id)?;
    let def = definition(registry, body, fail_on_warnings)?;
    registry
        .modify(api_id, |doc| {
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

fn integration_extension(record: &crate::http_api::model::IntegrationRecord) -> Value {
    let mut ext = Map::new();
    ext.insert(
        "type".into(),
        json!(record.integration_type.to_ascii_lowercase()),
    );
    if let Some(uri) = &record.integration_uri {
        ext.insert("uri".into(), json!(uri));
    }
    if let Some(method) = &record.integration_method {
        ext.insert("httpMethod".into(), json!(method));
    }
    ext.insert(
        "payloadFormatVersion".into(),
        json!(record.payload_format_version),
    );
    ext.insert("connectionType".into(), json!(record.connection_type));
    ext.insert("timeoutInMillis".into(), json!(record.timeout_in_millis));
    Value::Object(ext)
}

/// ExportApi: the API (or what a stage serves) as OpenAPI 3.0.1, JSON or YAML.
pub fn export_api(
    registry: &ApiRegistry,
    api_id: &str,
    stage_name: Option<&str>,
    include_extensions: bool,
    yaml: bool,
) -> Result<String, GatewayError> {
    let doc = registry.get(api_id)?;
    let snapshot: DeploymentSnapshot = match stage_name {
        Some(name) => {
            let stage = doc
                .stages
                .get(name)
                .ok_or_else(|| GatewayError::not_found("Stage", name))?;
            stage
                .deployment_id
                .as_ref()
                .and_then(|id| doc.deployments.get(id))
                .map(|d| d.snapshot.clone())
                .unwrap_or_default()
        }
        None => doc.snapshot(),
    };
    let integrations: BTreeMap<&str, &crate::http_api::model::IntegrationRecord> = snapshot
        .integrations
        .iter()
        .map(|i| (i.integration_id.as_str(), i))
        .collect();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut routes = snapshot.routes.clone();
    routes.sort_by(|a, b| a.route_key.cmp(&b.route_key));
    for route in &routes {
        let Ok(key) = RouteKey::parse(&route.route_key) else {
            continue;
        };
        let (method_key, path, parameters) = match &key {
            RouteKey::Default => (ANY_METHOD.to_owned(), "/$default".to_owned(), Vec::new()),
            RouteKey::Path {
                method,
                path,
                segments,
            } => {
                let method_key = match method {
                    crate::plane::routing::RouteMethod::Any => ANY_METHOD.to_owned(),
                    m => m.as_str().to_ascii_lowercase(),
                };
                let params: Vec<Value> = segments
                    .iter()
                    .filter_map(|s| match s {
                        Segment::Param(n) | Segment::Greedy(n) => Some(json!({
                            "name": if matches!(s, Segment::Greedy(_)) { format!("{n}+") } else { n.clone() },
                            "in": "path", "required": true, "schema": {"type": "string"}
                        })),
                        Segment::Literal(_) => None,
                    })
                    .collect();
                (method_key, path.clone(), params)
            }
        };
        let mut operation = Map::new();
        operation.insert(
            "responses".into(),
            json!({"default": {"description": format!("Default response for {}", route.route_key)}}),
        );
        if let Some(name) = &route.operation_name {
            operation.insert("operationId".into(), json!(name));
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if include_extensions {
            if let Some(integration) = route
                .target
                .as_deref()
                .and_then(|t| t.strip_prefix("integrations/"))
                .and_then(|id| integrations.get(id))
            {
                operation.insert(
                    "x-amazon-apigateway-integration".into(),
                    integration_extension(integration),
                );
            }
        }
        paths
            .entry(path)
            .or_default()
            .insert(method_key, Value::Object(operation));
    }
    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.1"));
    let mut info = Map::new();
    info.insert("title".into(), json!(doc.api.name));
    info.insert(
        "version".into(),
        json!(doc
            .api
            .version
            .clone()
            .unwrap_or_else(|| doc.api.created_date.clone())),
    );
    if let Some(d) = &doc.api.description {
        info.insert("description".into(), json!(d));
    }
    out.insert("info".into(), Value::Object(info));
    out.insert("paths".into(), json!(paths));
    if include_extensions {
        if let Some(cors) = &snapshot.cors {
            out.insert("x-amazon-apigateway-cors".into(), json!(cors));
        }
        out.insert(
            "x-amazon-apigateway-importexport-version".into(),
            json!("1.0"),
        );
    }
    let value = Value::Object(out);
    if yaml {
        serde_norway::to_string(&value).map_err(|e| GatewayError::bad_request(e.to_string()))
    } else {
        serde_json::to_string_pretty(&value).map_err(|e| GatewayError::bad_request(e.to_string()))
    }
}
