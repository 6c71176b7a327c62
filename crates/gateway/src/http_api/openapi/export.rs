//! ExportApi: an API (or what one of its stages serves) as OpenAPI 3.0.1, JSON or YAML.

use std::collections::BTreeMap;

use nubo_wire::Scope;
use serde_json::{json, Map, Value};

use super::ANY_METHOD;
use crate::http_api::model::{DeploymentSnapshot, IntegrationRecord};
use crate::http_api::ApiRegistry;
use crate::plane::routing::{RouteKey, RouteMethod, Segment};
use crate::GatewayError;

fn integration_extension(record: &IntegrationRecord) -> Value {
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
    scope: &Scope,
    api_id: &str,
    stage_name: Option<&str>,
    include_extensions: bool,
    yaml: bool,
) -> Result<String, GatewayError> {
    let doc = registry.get(scope, api_id)?;
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
    let integrations: BTreeMap<&str, &IntegrationRecord> = snapshot
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
                    RouteMethod::Any => ANY_METHOD.to_owned(),
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
