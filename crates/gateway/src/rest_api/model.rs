//! REST API (apigateway v1) records: the stored documents, whose camelCase serialization is also
//! the wire shape botocore reads (timestamps are epoch seconds, as rest-json's default).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Seconds since the epoch, as v1 timestamps travel.
pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApiRecord {
    /// Id (10 chars).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Created (epoch seconds).
    pub created_date: i64,
    /// `HEADER` or `AUTHORIZER`.
    pub api_key_source: String,
    /// `{"types": ["EDGE"]}` and the like, stored as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_configuration: Option<Value>,
    /// Binary media types (stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binary_media_types: Vec<String>,
    /// The `/` resource.
    pub root_resource_id: String,
    /// Whether the execute-api endpoint is off.
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A method response (`PutMethodResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MethodResponseRecord {
    /// Status code.
    #[serde(default)]
    pub status_code: String,
    /// `method.response.header.X` → required.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, bool>,
    /// Content type → model name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_models: BTreeMap<String, String>,
}

/// An integration response (`PutIntegrationResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponseRecord {
    /// Status code answered.
    #[serde(default)]
    pub status_code: String,
    /// Regex on the integration's error (Lambda) or status (HTTP); none = the default response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_pattern: Option<String>,
    /// `method.response.header.X` → `'static'` or `integration.response.header.Y`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, String>,
    /// Content type → template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_templates: BTreeMap<String, String>,
    /// `CONVERT_TO_TEXT` / `CONVERT_TO_BINARY` (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
}

/// A method's integration (`PutIntegration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationRecord {
    /// `AWS_PROXY`, `AWS`, `HTTP_PROXY`, `HTTP`, `MOCK`.
    #[serde(rename = "type", default)]
    pub integration_type: String,
    /// The method used towards the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    /// Backend URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `INTERNET` / `VPC_LINK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    /// Credentials (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// Request parameter mapping.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, String>,
    /// Content type → request template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_templates: BTreeMap<String, String>,
    /// `WHEN_NO_MATCH`, `WHEN_NO_TEMPLATES`, `NEVER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_behavior: Option<String>,
    /// Content handling (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
    /// 50–29 000.
    #[serde(default = "default_timeout")]
    pub timeout_in_millis: i64,
    /// Cache namespace (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_namespace: Option<String>,
    /// Cache key parameters (stored).
    #[serde(default)]
    pub cache_key_parameters: Vec<String>,
    /// Integration responses by status code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub integration_responses: BTreeMap<String, IntegrationResponseRecord>,
}

fn default_timeout() -> i64 {
    29_000
}

/// A method of a resource (`PutMethod`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MethodRecord {
    /// `GET`, …, `ANY`.
    #[serde(default)]
    pub http_method: String,
    /// `NONE`, `AWS_IAM`, `CUSTOM`, `COGNITO_USER_POOLS`.
    #[serde(default)]
    pub authorization_type: String,
    /// Authorizer (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    /// Whether callers need an API key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub api_key_required: bool,
    /// Operation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// Request validator (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_validator_id: Option<String>,
    /// `method.request.querystring.x` → required.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    /// Content type → model.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_models: BTreeMap<String, String>,
    /// Authorization scopes (stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_scopes: Vec<String>,
    /// Method responses by status.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub method_responses: BTreeMap<String, MethodResponseRecord>,
    /// The integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_integration: Option<IntegrationRecord>,
}

/// A resource: one path part under its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRecord {
    /// Id (6 chars; the root's too).
    pub id: String,
    /// Parent (none for `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Path part (`items`, `{id}`, `{proxy+}`); none for `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_part: Option<String>,
    /// Full path.
    pub path: String,
    /// Methods by HTTP method.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_methods: BTreeMap<String, MethodRecord>,
}

/// A deployment: the resources as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    /// Id.
    pub id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Created.
    pub created_date: i64,
    /// The frozen resources (stored, not rendered).
    #[serde(default)]
    pub resources: Vec<ResourceRecord>,
}

impl DeploymentRecord {
    /// The wire shape (without the snapshot).
    pub fn render(&self) -> Value {
        let mut out = json!({ "id": self.id, "createdDate": self.created_date });
        if let Some(d) = &self.description {
            out["description"] = json!(d);
        }
        out
    }
}

/// A stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRecord {
    /// Name.
    pub stage_name: String,
    /// The deployment served.
    pub deployment_id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stage variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Method settings (throttling, caching flags), stored as given.
    #[serde(default)]
    pub method_settings: BTreeMap<String, Value>,
    /// Cache cluster flag (stored).
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    /// Tracing flag (stored).
    #[serde(default)]
    pub tracing_enabled: bool,
    /// Created.
    pub created_date: i64,
    /// Last update.
    pub last_updated_date: i64,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One REST API with everything under it: the unit stored and swapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApiDocument {
    /// The account and region (from the store key).
    #[serde(skip)]
    pub scope: nubo_wire::Scope,
    /// The API.
    pub api: RestApiRecord,
    /// Resources by id.
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceRecord>,
    /// Deployments by id.
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentRecord>,
    /// Stages by name.
    #[serde(default)]
    pub stages: BTreeMap<String, StageRecord>,
    /// Authorizers by id.
    #[serde(default)]
    pub authorizers: BTreeMap<String, super::authorizer::AuthorizerRecord>,
}
