//! The API model of HTTP APIs: what a user defines (api, route, integration, stage, deployment).
//!
//! Records serialize in apigatewayv2's camelCase member names; they are also the stored documents
//! (one [`ApiDocument`] per API), so a restart rebuilds exactly what was defined.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `corsConfiguration` of an HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// Whether credentials may be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// Allowed request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    /// Allowed methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    /// Allowed origins (`*` for any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    /// Response headers exposed to the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// Seconds a preflight may be cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// An HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRecord {
    /// 10 lowercase alphanumerics.
    pub api_id: String,
    /// Name.
    pub name: String,
    /// `HTTP` or `WEBSOCKET`.
    pub protocol_type: String,
    /// `$request.method $request.path` for HTTP APIs; a JSON path of the message
    /// (`$request.body.action`) for WebSocket APIs.
    pub route_selection_expression: String,
    /// `$request.header.x-api-key`.
    pub api_key_selection_expression: String,
    /// CORS answered by the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_configuration: Option<Cors>,
    /// ISO-8601.
    pub created_date: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the execute-api endpoint is off.
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    /// Free-form version label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Warnings of the last import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A route: `routeKey` → integration target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRecord {
    /// ~7 lowercase alphanumerics.
    pub route_id: String,
    /// `$default` or `METHOD /path`.
    pub route_key: String,
    /// `integrations/{integrationId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `NONE`, `AWS_IAM`, `JWT` or `CUSTOM` (a Lambda authorizer).
    pub authorization_type: String,
    /// WebSocket only; always false here.
    #[serde(default)]
    pub api_key_required: bool,
    /// Authorizer id (`JWT` and `CUSTOM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    /// JWT scopes: the token must carry one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_scopes: Option<Vec<String>>,
    /// Operation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Value>,
    /// Created by quick create or import.
    #[serde(default)]
    pub api_gateway_managed: bool,
    /// WebSocket: `$default` makes the route two-way (the integration's answer goes back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_response_selection_expression: Option<String>,
    /// WebSocket: the route's responses by id (stored with the route, rendered on their own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub route_responses: BTreeMap<String, RouteResponseRecord>,
}

/// A WebSocket route response (`$default`: the integration's answer is sent to the client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponseRecord {
    /// ~7 lowercase alphanumerics.
    pub route_response_id: String,
    /// `$default` (the one key a proxy integration can produce).
    pub route_response_key: String,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_selection_expression: Option<String>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_models: Option<Value>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_parameters: Option<Value>,
}

impl RouteRecord {
    /// Whether the integration's answer goes back to a WebSocket client.
    pub fn two_way(&self) -> bool {
        self.route_response_selection_expression.is_some() || !self.route_responses.is_empty()
    }

    /// A route with a fresh id, no target and no authorization.
    pub fn new(route_key: String) -> Self {
        Self {
            route_id: new_id(7),
            route_key,
            target: None,
            authorization_type: "NONE".into(),
            api_key_required: false,
            authorizer_id: None,
            authorization_scopes: None,
            operation_name: None,
            request_parameters: None,
            api_gateway_managed: false,
            route_response_selection_expression: None,
            route_responses: BTreeMap::new(),
        }
    }
}

/// An integration: where a route's requests go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationRecord {
    /// ~7 lowercase alphanumerics.
    pub integration_id: String,
    /// `AWS_PROXY` or `HTTP_PROXY`.
    pub integration_type: String,
    /// Function ARN (optionally qualified, or the apigateway `…/invocations` form) or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_uri: Option<String>,
    /// HTTP method for HTTP_PROXY (`ANY` forwards the request's), `POST` for Lambda.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_method: Option<String>,
    /// `1.0` or `2.0`.
    pub payload_format_version: String,
    /// 50–30 000.
    pub timeout_in_millis: i64,
    /// `INTERNET`.
    pub connection_type: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stored and echoed (parameter mapping is not applied yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Value>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_parameters: Option<Value>,
    /// Created by quick create or import.
    #[serde(default)]
    pub api_gateway_managed: bool,
}

/// `RouteSettings`: throttling per stage (`defaultRouteSettings`) or per route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSettings {
    /// Stored and echoed (WebSocket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_trace_enabled: Option<bool>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_metrics_enabled: Option<bool>,
    /// Stored and echoed (WebSocket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_level: Option<String>,
    /// Bucket capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<i64>,
    /// Tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
}

/// `accessLogSettings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    /// A CloudWatch Logs group ARN; its name keys the stored lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    /// The line, with `$context.*` variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A stage: a name that serves one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRecord {
    /// `$default` or a name.
    pub stage_name: String,
    /// Redeploy on every change of the API.
    #[serde(default)]
    pub auto_deploy: bool,
    /// The deployment served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Stage variables.
    #[serde(default)]
    pub stage_variables: BTreeMap<String, String>,
    /// Throttling for every route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_route_settings: Option<RouteSettings>,
    /// Throttling per route key.
    #[serde(default)]
    pub route_settings: BTreeMap<String, RouteSettings>,
    /// Access logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO-8601.
    pub created_date: String,
    /// ISO-8601.
    pub last_updated_date: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Created by quick create.
    #[serde(default)]
    pub api_gateway_managed: bool,
    /// What the last auto-deployment did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment_status_message: Option<String>,
}

/// What a deployment froze: the API's routes, integrations and CORS at that moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSnapshot {
    /// Routes.
    pub routes: Vec<RouteRecord>,
    /// Integrations.
    pub integrations: Vec<IntegrationRecord>,
    /// CORS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Authorizers (JWT and Lambda).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizers: Vec<super::authorizers::AuthorizerRecord>,
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    /// ~7 lowercase alphanumerics.
    pub deployment_id: String,
    /// Made by a stage's auto-deploy.
    pub auto_deployed: bool,
    /// ISO-8601.
    pub created_date: String,
    /// `DEPLOYED` (compilation is synchronous).
    pub deployment_status: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The frozen definition (stored, not rendered).
    pub snapshot: DeploymentSnapshot,
}

/// One API with everything under it: the unit stored and swapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiDocument {
    /// The account and region the API lives in: named by its store key, not stored in the body.
    #[serde(skip)]
    pub scope: nubo_wire::Scope,
    /// The API.
    pub api: ApiRecord,
    /// Routes by id.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteRecord>,
    /// Integrations by id.
    #[serde(default)]
    pub integrations: BTreeMap<String, IntegrationRecord>,
    /// Stages by name.
    #[serde(default)]
    pub stages: BTreeMap<String, StageRecord>,
    /// Deployments by id.
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentRecord>,
    /// Authorizers by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorizers: BTreeMap<String, super::authorizers::AuthorizerRecord>,
}

impl ApiDocument {
    /// Whether this is a WebSocket API.
    pub fn is_websocket(&self) -> bool {
        self.api.protocol_type == WEBSOCKET
    }

    /// The definition a deployment would freeze now.
    pub fn snapshot(&self) -> DeploymentSnapshot {
        DeploymentSnapshot {
            routes: self.routes.values().cloned().collect(),
            integrations: self.integrations.values().cloned().collect(),
            cors: self.api.cors_configuration.clone(),
            authorizers: self.authorizers.values().cloned().collect(),
        }
    }
}

/// `protocolType` of WebSocket APIs.
pub const WEBSOCKET: &str = "WEBSOCKET";

/// A random id of `len` lowercase alphanumerics (API ids are 10, sub-resources 7).
pub fn new_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(*byte as usize) % ALPHABET.len()] as char);
        }
    }
    out
}

/// Now, as apigatewayv2's ISO-8601 timestamps.
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
