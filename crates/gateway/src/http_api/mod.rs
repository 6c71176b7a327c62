//! The API registry: every HTTP API definition in memory, written through to the store, and the
//! compiled [`DataPlane`] rebuilt and swapped after each change.
//!
//! Writes are serialized by one mutex, persisted first and then published, like the function
//! registry: a crash never leaves memory ahead of disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_store::{Documents, ListQuery, Precondition};
use nubo_wire::Scope;
use parking_lot::RwLock;
use serde::Deserialize;
use serde_json::Value;

use crate::http_api::model::{
    new_id, now_iso, AccessLogSettings, ApiDocument, ApiRecord, Cors, DeploymentRecord,
    IntegrationRecord, RouteRecord, RouteSettings, StageRecord,
};
use crate::plane::{lambda_function, CompiledApi, DataPlane};
use crate::plane::routing::RouteKey;
use crate::GatewayError;

pub mod model;
pub mod openapi;

/// Store collection of APIs (one document per API, keyed by its id).
pub const API_COLLECTION: &str = "apigw-api";

/// CreateApi / UpdateApi members (camelCase, as apigatewayv2 sends them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiInput {
    /// Name.
    pub name: Option<String>,
    /// `HTTP`.
    pub protocol_type: Option<String>,
    /// Route selection expression.
    pub route_selection_expression: Option<String>,
    /// API key selection expression.
    pub api_key_selection_expression: Option<String>,
    /// CORS.
    pub cors_configuration: Option<Cors>,
    /// Quick create: a function ARN or URL.
    pub target: Option<String>,
    /// Quick create: the route key (default `$default`).
    pub route_key: Option<String>,
    /// Quick create: credentials (stored nowhere; no IAM yet).
    pub credentials_arn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Version label.
    pub version: Option<String>,
    /// Turn off the execute-api endpoint.
    pub disable_execute_api_endpoint: Option<bool>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// CreateRoute / UpdateRoute members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteInput {
    /// Route key.
    pub route_key: Option<String>,
    /// `integrations/{id}`.
    pub target: Option<String>,
    /// `NONE` (others with the auth issue).
    pub authorization_type: Option<String>,
    /// Authorizer id.
    pub authorizer_id: Option<String>,
    /// Scopes.
    pub authorization_scopes: Option<Vec<String>>,
    /// WebSocket only.
    pub api_key_required: Option<bool>,
    /// Operation name.
    pub operation_name: Option<String>,
    /// Stored and echoed.
    pub request_parameters: Option<Value>,
}

/// CreateIntegration / UpdateIntegration members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationInput {
    /// `AWS_PROXY` or `HTTP_PROXY`.
    pub integration_type: Option<String>,
    /// Function ARN or URL.
    pub integration_uri: Option<String>,
    /// Method (HTTP_PROXY).
    pub integration_method: Option<String>,
    /// `1.0` or `2.0`.
    pub payload_format_version: Option<String>,
    /// 50–30 000.
    pub timeout_in_millis: Option<i64>,
    /// `INTERNET`.
    pub connection_type: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Stored and echoed.
    pub request_parameters: Option<Value>,
    /// Stored and echoed.
    pub response_parameters: Option<Value>,
}

/// CreateStage / UpdateStage members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    /// Name (create only).
    pub stage_name: Option<String>,
    /// Auto-deploy.
    pub auto_deploy: Option<bool>,
    /// Deployment to serve.
    pub deployment_id: Option<String>,
    /// Variables.
    pub stage_variables: Option<BTreeMap<String, String>>,
    /// Default throttling.
    pub default_route_settings: Option<RouteSettings>,
    /// Per-route throttling.
    pub route_settings: Option<BTreeMap<String, RouteSettings>>,
    /// Access logs.
    pub access_log_settings: Option<AccessLogSettings>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Owns API definitions and the compiled data plane.
pub struct ApiRegistry {
    documents: Arc<dyn Documents>,
    scope: Scope,
    apis: RwLock<BTreeMap<String, Arc<ApiDocument>>>,
    plane: RwLock<Arc<DataPlane>>,
    /// Serializes writers; held across the store write, so it is an async mutex.
    writes: tokio::sync::Mutex<()>,
}

fn check_name(name: &str) -> Result<(), GatewayError> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(GatewayError::bad_request(
            "Invalid name: must be between 1 and 128 characters",
        ));
    }
    Ok(())
}

fn check_stage_variables(vars: &BTreeMap<String, String>) -> Result<(), GatewayError> {
    if vars.len() > 100 {
        return Err(GatewayError::bad_request(
            "A stage may have at most 100 stage variables",
        ));
    }
    for (key, value) in vars {
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok || value.chars().count() > 512 {
            return Err(GatewayError::bad_request(format!(
                "Invalid stage variable {key}: names are 1-64 characters of [A-Za-z0-9_], values at most 512 characters"
            )));
        }
    }
    Ok(())
}

fn check_route_settings(settings: &RouteSettings) -> Result<(), GatewayError> {
    if settings.throttling_burst_limit.is_some_and(|b| b < 0)
        || settings
            .throttling_rate_limit
            .is_some_and(|r| r < 0.0 || !r.is_finite())
    {
        return Err(GatewayError::bad_request(
            "Throttling limits must not be negative",
        ));
    }
    Ok(())
}

impl ApiRegistry {
    /// Loads every API from the store and compiles its stages.
    pub async fn load(documents: Arc<dyn Documents>, scope: Scope) -> Result<Self, GatewayError> {
        let mut apis = BTreeMap::new();
        for stored in documents.list(API_COLLECTION, ListQuery::all()).await? {
            match serde_json::from_str::<ApiDocument>(&stored.body) {
                Ok(doc) => {
                    apis.insert(stored.key, Arc::new(doc));
                }
                Err(e) => {
                    tracing::error!(api = %stored.key, error = %e, "skipping an unreadable API")
                }
            }
        }
        let plane: DataPlane = apis
            .iter()
            .map(|(id, doc)| (id.clone(), Arc::new(CompiledApi::compile(doc, &scope))))
            .collect();
        Ok(Self {
            documents,
            scope,
            apis: RwLock::new(apis),
            plane: RwLock::new(Arc::new(plane)),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The current data plane (one pointer clone).
    pub fn plane(&self) -> Arc<DataPlane> {
        self.plane.read().clone()
    }

    /// Account and region.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Every API, ordered by id.
    pub fn list(&self) -> Vec<Arc<ApiDocument>> {
        self.apis.read().values().cloned().collect()
    }

    /// One API with everything under it.
    pub fn get(&self, api_id: &str) -> Result<Arc<ApiDocument>, GatewayError> {
        self.apis
            .read()
            .get(api_id)
            .cloned()
            .ok_or_else(|| GatewayError::not_found("API", api_id))
    }

    async fn publish(&self, doc: ApiDocument) -> Result<(), GatewayError> {
        let id = doc.api.api_id.clone();
        let text =
            serde_json::to_string(&doc).map_err(|e| GatewayError::bad_request(e.to_string()))?;
        self.documents
            .put(API_COLLECTION, &id, text, Precondition::None)
            .await?;
        let compiled = Arc::new(CompiledApi::compile(&doc, &self.scope));
        self.apis.write().insert(id.clone(), Arc::new(doc));
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.insert(id, compiled);
        *plane = Arc::new(next);
        Ok(())
    }

    /// Applies `change` to a copy of the API; if the definition changed, auto-deploying stages are
    /// redeployed; then the result is persisted, published and compiled.
    pub(crate) async fn modify<R>(
        &self,
        api_id: &str,
        change: impl FnOnce(&mut ApiDocument) -> Result<R, GatewayError>,
    ) -> Result<R, GatewayError> {
        let _writes = self.writes.lock().await;
        let mut doc = (*self.get(api_id)?).clone();
        let before = doc.snapshot();
        let result = change(&mut doc)?;
        if doc.snapshot() != before {
            auto_deploy(&mut doc);
        }
        self.publish(doc).await?;
        Ok(result)
    }

    /// CreateApi, including quick create (`target`).
    pub async fn create_api(&self, input: ApiInput) -> Result<ApiRecord, GatewayError> {
        let name = input
            .name
            .clone()
            .ok_or_else(|| GatewayError::bad_request("Name is required"))?;
        check_name(&name)?;
        match input.protocol_type.as_deref() {
            Some("HTTP") => {}
            Some("WEBSOCKET") => {
                return Err(GatewayError::bad_request(
                    "WebSocket APIs are not supported by Nubo yet",
                ))
            }
            _ => {
                return Err(GatewayError::bad_request(
                    "ProtocolType must be one of [HTTP, WEBSOCKET]",
                ))
            }
        }
        if input.target.is_none() && input.route_key.is_some() {
            return Err(GatewayError::bad_request(
                "RouteKey is only supported for quick create, with Target",
            ));
        }
        let now = now_iso();
        let api = ApiRecord {
            api_id: new_id(10),
            name,
            protocol_type: "HTTP".into(),
            route_selection_expression: input
                .route_selection_expression
                .clone()
                .unwrap_or_else(|| "$request.method $request.path".into()),
            api_key_selection_expression: input
                .api_key_selection_expression
                .clone()
                .unwrap_or_else(|| "$request.header.x-api-key".into()),
            cors_configuration: input.cors_configuration.clone(),
            created_date: now.clone(),
            description: input.description.clone(),
            disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
            version: input.version.clone(),
            tags: input.tags.clone().unwrap_or_default(),
            warnings: Vec::new(),
        };
        check_cors(api.cors_configuration.as_ref())?;
        let mut doc = ApiDocument {
            api: api.clone(),
            routes: BTreeMap::new(),
            integrations: BTreeMap::new(),
            stages: BTreeMap::new(),
            deployments: BTreeMap::new(),
        };
        if let Some(target) = &input.target {
            let is_lambda = target.starts_with("arn:");
            let mut integration = self.integration_record(IntegrationInput {
                integration_type: Some(if is_lambda { "AWS_PROXY" } else { "HTTP_PROXY" }.into()),
                integration_uri: Some(target.clone()),
                integration_method: Some(if is_lambda { "POST" } else { "ANY" }.into()),
                payload_format_version: Some(if is_lambda { "2.0" } else { "1.0" }.into()),
                ..Default::default()
            })?;
            integration.api_gateway_managed = true;
            let route_key = input.route_key.clone().unwrap_or_else(|| "$default".into());
            RouteKey::parse(&route_key)?;
            let route = RouteRecord {
                route_id: new_id(7),
                route_key,
                target: Some(format!("integrations/{}", integration.integration_id)),
                authorization_type: "NONE".into(),
                api_key_required: false,
                authorizer_id: None,
                authorization_scopes: None,
                operation_name: None,
                request_parameters: None,
                api_gateway_managed: true,
            };
            doc.integrations
                .insert(integration.integration_id.clone(), integration);
            doc.routes.insert(route.route_id.clone(), route);
            let mut stage = new_stage("$default", &now);
            stage.auto_deploy = true;
            stage.api_gateway_managed = true;
            doc.stages.insert(stage.stage_name.clone(), stage);
            auto_deploy(&mut doc);
        }
        let _writes = self.writes.lock().await;
        self.publish(doc).await?;
        Ok(api)
    }

    /// UpdateApi.
    pub async fn update_api(
        &self,
        api_id: &str,
        input: ApiInput,
    ) -> Result<ApiRecord, GatewayError> {
        self.modify(api_id, |doc| {
            let api = &mut doc.api;
            if let Some(name) = input.name {
                check_name(&name)?;
                api.name = name;
            }
            if let Some(cors) = input.cors_configuration {
                check_cors(Some(&cors))?;
                api.cors_configuration = Some(cors);
            }
            if input.description.is_some() {
                api.description = input.description;
            }
            if input.version.is_some() {
                api.version = input.version;
            }
            if let Some(disable) = input.disable_execute_api_endpoint {
                api.disable_execute_api_endpoint = disable;
            }
            if let Some(expr) = input.route_selection_expression {
                api.route_selection_expression = expr;
            }
            Ok(api.clone())
        })
        .await
    }

    /// DeleteApi.
    pub async fn delete_api(&self, api_id: &str) -> Result<(), GatewayError> {
        let _writes = self.writes.lock().await;
        self.get(api_id)?;
        self.documents
            .delete(API_COLLECTION, api_id, Precondition::None)
            .await?;
        self.apis.write().remove(api_id);
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.remove(api_id);
        *plane = Arc::new(next);
        Ok(())
    }

    /// Replaces the whole definition of an API (ImportApi / ReimportApi publish through here).
    pub async fn put_document(&self, doc: ApiDocument) -> Result<(), GatewayError> {
        let _writes = self.writes.lock().await;
        self.publish(doc).await
    }

    /// A validated integration record with a fresh id (not yet part of any API).
    pub fn new_integration(
        &self,
        input: IntegrationInput,
    ) -> Result<IntegrationRecord, GatewayError> {
        self.integration_record(input)
    }

    fn integration_record(
        &self,
        input: IntegrationInput,
    ) -> Result<IntegrationRecord, GatewayError> {
        let mut record = IntegrationRecord {
            integration_id: new_id(7),
            integration_type: String::new(),
            integration_uri: None,
            integration_method: None,
            payload_format_version: String::new(),
            timeout_in_millis: 30_000,
            connection_type: "INTERNET".into(),
            description: None,
            request_parameters: None,
            response_parameters: None,
            api_gateway_managed: false,
        };
        self.apply_integration(&mut record, input, true)?;
        Ok(record)
    }

    fn apply_integration(
        &self,
        record: &mut IntegrationRecord,
        input: IntegrationInput,
        creating: bool,
    ) -> Result<(), GatewayError> {
        if let Some(kind) = input.integration_type {
            record.integration_type = kind;
        }
        match record.integration_type.as_str() {
            "AWS_PROXY" | "HTTP_PROXY" => {}
            "AWS" | "HTTP" | "MOCK" => {
                return Err(GatewayError::bad_request(format!(
                    "Integration type {} is supported only for WebSocket APIs",
                    record.integration_type
                )))
            }
            other => {
                return Err(GatewayError::bad_request(format!(
                    "Invalid integration type {other}: must be AWS_PROXY or HTTP_PROXY"
                )))
            }
        }
        if input.integration_uri.is_some() {
            record.integration_uri = input.integration_uri;
        }
        if input.integration_method.is_some() {
            record.integration_method = input.integration_method;
        }
        if let Some(version) = input.payload_format_version {
            record.payload_format_version = version;
        }
        if let Some(timeout) = input.timeout_in_millis {
            if !(50..=30_000).contains(&timeout) {
                return Err(GatewayError::bad_request(
                    "TimeoutInMillis must be between 50 and 30000 for HTTP APIs",
                ));
            }
            record.timeout_in_millis = timeout;
        }
        if let Some(connection) = input.connection_type {
            if connection != "INTERNET" {
                return Err(GatewayError::bad_request(
                    "Only INTERNET connections are supported",
                ));
            }
            record.connection_type = connection;
        }
        if input.description.is_some() {
            record.description = input.description;
        }
        if input.request_parameters.is_some() {
            record.request_parameters = input.request_parameters;
        }
        if input.response_parameters.is_some() {
            record.response_parameters = input.response_parameters;
        }
        let uri = record
            .integration_uri
            .as_deref()
            .ok_or_else(|| GatewayError::bad_request("IntegrationUri is required for HTTP APIs"))?;
        if record.integration_type == "AWS_PROXY" {
            if lambda_function(uri, &self.scope).is_none() {
                return Err(GatewayError::bad_request(format!(
                    "Invalid integration URI {uri}: expected a Lambda function ARN"
                )));
            }
            if creating && record.payload_format_version.is_empty() {
                return Err(GatewayError::bad_request(
                    "PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs",
                ));
            }
            if record.integration_method.is_none() {
                record.integration_method = Some("POST".into());
            }
        } else {
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                return Err(GatewayError::bad_request(format!(
                    "Invalid integration URI {uri}: expected an http(s) URL"
                )));
            }
            if record.payload_format_version.is_empty() {
                record.payload_format_version = "1.0".into();
            }
            if record.integration_method.is_none() {
                record.integration_method = Some("ANY".into());
            }
        }
        match record.payload_format_version.as_str() {
            "2.0" if record.integration_type == "HTTP_PROXY" => Err(GatewayError::bad_request(
                "PayloadFormatVersion 2.0 is only supported for AWS_PROXY integrations",
            )),
            "1.0" | "2.0" => Ok(()),
            other => Err(GatewayError::bad_request(format!(
                "Invalid PayloadFormatVersion {other}: must be 1.0 or 2.0"
            ))),
        }
    }

    /// CreateIntegration.
    pub async fn create_integration(
        &self,
        api_id: &str,
        input: IntegrationInput,
    ) -> Result<IntegrationRecord, GatewayError> {
        let record = self.integration_record(input)?;
        self.modify(api_id, |doc| {
            doc.integrations
                .insert(record.integration_id.clone(), record.clone());
            Ok(record)
        })
        .await
    }

    /// UpdateIntegration.
    pub async fn update_integration(
        &self,
        api_id: &str,
        integration_id: &str,
        input: IntegrationInput,
    ) -> Result<IntegrationRecord, GatewayError> {
        self.modify(api_id, |doc| {
            let record = doc
                .integrations
                .get_mut(integration_id)
                .ok_or_else(|| GatewayError::not_found("Integration", integration_id))?;
            self.apply_integration(record, input, false)?;
            Ok(record.clone())
        })
        .await
    }

    /// DeleteIntegration.
    pub async fn delete_integration(
        &self,
        api_id: &str,
        integration_id: &str,
    ) -> Result<(), GatewayError> {
        self.modify(api_id, |doc| {
            let target = format!("integrations/{integration_id}");
            if doc
                .routes
                .values()
                .any(|r| r.target.as_deref() == Some(&target))
            {
                return Err(GatewayError::Conflict(format!(
                    "Integration {integration_id} is used by a route; change the route first"
                )));
            }
            doc.integrations
                .remove(integration_id)
                .map(|_| ())
                .ok_or_else(|| GatewayError::not_found("Integration", integration_id))
        })
        .await
    }

    fn apply_route(
        doc: &ApiDocument,
        record: &mut RouteRecord,
        input: RouteInput,
    ) -> Result<(), GatewayError> {
        if let Some(key) = input.route_key {
            RouteKey::parse(&key)?;
            if doc
                .routes
                .values()
                .any(|r| r.route_key == key && r.route_id != record.route_id)
            {
                return Err(GatewayError::Conflict(format!(
                    "Unable to create route {key}: the API already has a route with that key"
                )));
            }
            record.route_key = key;
        }
        if let Some(target) = input.target {
            let known = target
                .strip_prefix("integrations/")
                .is_some_and(|id| doc.integrations.contains_key(id));
            if !known {
                return Err(GatewayError::bad_request(format!(
                    "Invalid target {target}: expected integrations/{{integrationId}} of this API"
                )));
            }
            record.target = Some(target);
        }
        if let Some(kind) = input.authorization_type {
            if kind != "NONE" {
                return Err(GatewayError::bad_request(format!(
                    "AuthorizationType {kind} is not supported by Nubo yet"
                )));
            }
            record.authorization_type = kind;
        }
        if input.api_key_required == Some(true) {
            return Err(GatewayError::bad_request(
                "ApiKeyRequired is supported only for WebSocket APIs",
            ));
        }
        if input.authorizer_id.is_some() {
            record.authorizer_id = input.authorizer_id;
        }
        if input.authorization_scopes.is_some() {
            record.authorization_scopes = input.authorization_scopes;
        }
        if input.operation_name.is_some() {
            record.operation_name = input.operation_name;
        }
        if input.request_parameters.is_some() {
            record.request_parameters = input.request_parameters;
        }
        Ok(())
    }

    /// CreateRoute.
    pub async fn create_route(
        &self,
        api_id: &str,
        input: RouteInput,
    ) -> Result<RouteRecord, GatewayError> {
        if input.route_key.is_none() {
            return Err(GatewayError::bad_request("RouteKey is required"));
        }
        self.modify(api_id, |doc| {
            let mut record = RouteRecord {
                route_id: new_id(7),
                route_key: String::new(),
                target: None,
                authorization_type: "NONE".into(),
                api_key_required: false,
                authorizer_id: None,
                authorization_scopes: None,
                operation_name: None,
                request_parameters: None,
                api_gateway_managed: false,
            };
            Self::apply_route(doc, &mut record, input)?;
            doc.routes.insert(record.route_id.clone(), record.clone());
            Ok(record)
        })
        .await
    }

    /// UpdateRoute.
    pub async fn update_route(
        &self,
        api_id: &str,
        route_id: &str,
        input: RouteInput,
    ) -> Result<RouteRecord, GatewayError> {
        self.modify(api_id, |doc| {
            let mut record = doc
                .routes
                .get(route_id)
                .cloned()
                .ok_or_else(|| GatewayError::not_found("Route", route_id))?;
            Self::apply_route(doc, &mut record, input)?;
            doc.routes.insert(route_id.to_owned(), record.clone());
            Ok(record)
        })
        .await
    }

    /// DeleteRoute.
    pub async fn delete_route(&self, api_id: &str, route_id: &str) -> Result<(), GatewayError> {
        self.modify(api_id, |doc| {
            doc.routes
                .remove(route_id)
                .map(|_| ())
                .ok_or_else(|| GatewayError::not_found("Route", route_id))
        })
        .await
    }

    fn apply_stage(
        doc: &ApiDocument,
        stage: &mut StageRecord,
        input: StageInput,
    ) -> Result<(), GatewayError> {
        if let Some(id) = input.deployment_id {
            if !doc.deployments.contains_key(&id) {
                return Err(GatewayError::bad_request(format!(
                    "Invalid deployment identifier specified {id}"
                )));
            }
            stage.deployment_id = Some(id);
        }
        if let Some(auto) = input.auto_deploy {
            stage.auto_deploy = auto;
        }
        if let Some(vars) = input.stage_variables {
            check_stage_variables(&vars)?;
            stage.stage_variables = vars;
        }
        if let Some(settings) = input.default_route_settings {
            check_route_settings(&settings)?;
            stage.default_route_settings = Some(settings);
        }
        if let Some(settings) = input.route_settings {
            for (key, s) in &settings {
                RouteKey::parse(key)?;
                check_route_settings(s)?;
            }
            stage.route_settings = settings;
        }
        if input.access_log_settings.is_some() {
            stage.access_log_settings = input.access_log_settings;
        }
        if input.description.is_some() {
            stage.description = input.description;
        }
        if let Some(tags) = input.tags {
            stage.tags = tags;
        }
        stage.last_updated_date = now_iso();
        Ok(())
    }

    /// CreateStage (an auto-deploying stage is deployed at once).
    pub async fn create_stage(
        &self,
        api_id: &str,
        input: StageInput,
    ) -> Result<StageRecord, GatewayError> {
        let name = input
            .stage_name
            .clone()
            .ok_or_else(|| GatewayError::bad_request("StageName is required"))?;
        let valid = name == "$default"
            || (!name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        if !valid {
            return Err(GatewayError::bad_request(format!(
                "Invalid stage name {name}: use $default or [A-Za-z0-9_-]"
            )));
        }
        self.modify(api_id, |doc| {
            if doc.stages.contains_key(&name) {
                return Err(GatewayError::Conflict(format!(
                    "Unable to create stage {name}: a stage with that name already exists"
                )));
            }
            let mut stage = new_stage(&name, &now_iso());
            Self::apply_stage(doc, &mut stage, input)?;
            let auto = stage.auto_deploy;
            doc.stages.insert(name.clone(), stage);
            if auto {
                deploy_stage(doc, &name, true, None);
            }
            Ok(doc.stages[&name].clone())
        })
        .await
    }

    /// UpdateStage.
    pub async fn update_stage(
        &self,
        api_id: &str,
        stage_name: &str,
        input: StageInput,
    ) -> Result<StageRecord, GatewayError> {
        self.modify(api_id, |doc| {
            let mut stage = doc
                .stages
                .get(stage_name)
                .cloned()
                .ok_or_else(|| GatewayError::not_found("Stage", stage_name))?;
            let was_auto = stage.auto_deploy;
            Self::apply_stage(doc, &mut stage, input)?;
            let now_auto = stage.auto_deploy && !was_auto;
            doc.stages.insert(stage_name.to_owned(), stage);
            if now_auto {
                deploy_stage(doc, stage_name, true, None);
            }
            Ok(doc.stages[stage_name].clone())
        })
        .await
    }

    /// DeleteStage.
    pub async fn delete_stage(&self, api_id: &str, stage_name: &str) -> Result<(), GatewayError> {
        self.modify(api_id, |doc| {
            doc.stages
                .remove(stage_name)
                .map(|_| ())
                .ok_or_else(|| GatewayError::not_found("Stage", stage_name))
        })
        .await
    }

    /// CreateDeployment (optionally onto a stage).
    pub async fn create_deployment(
        &self,
        api_id: &str,
        stage_name: Option<String>,
        description: Option<String>,
    ) -> Result<DeploymentRecord, GatewayError> {
        self.modify(api_id, |doc| {
            if let Some(name) = &stage_name {
                let stage = doc
                    .stages
                    .get(name)
                    .ok_or_else(|| GatewayError::not_found("Stage", name))?;
                if stage.auto_deploy {
                    return Err(GatewayError::bad_request(format!(
                        "Stage {name} is managed by AutoDeploy; deployments to it are automatic"
                    )));
                }
                let id = deploy_stage(doc, name, false, description);
                return Ok(doc.deployments[&id].clone());
            }
            let record = DeploymentRecord {
                deployment_id: new_id(7),
                auto_deployed: false,
                created_date: now_iso(),
                deployment_status: "DEPLOYED".into(),
                description,
                snapshot: doc.snapshot(),
            };
            doc.deployments
                .insert(record.deployment_id.clone(), record.clone());
            Ok(record)
        })
        .await
    }

    /// DeleteDeployment (not while a stage serves it).
    pub async fn delete_deployment(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> Result<(), GatewayError> {
        self.modify(api_id, |doc| {
            if doc
                .stages
                .values()
                .any(|s| s.deployment_id.as_deref() == Some(deployment_id))
            {
                return Err(GatewayError::bad_request(format!(
                    "Deployment {deployment_id} is served by a stage"
                )));
            }
            doc.deployments
                .remove(deployment_id)
                .map(|_| ())
                .ok_or_else(|| GatewayError::not_found("Deployment", deployment_id))
        })
        .await
    }
}

fn check_cors(cors: Option<&Cors>) -> Result<(), GatewayError> {
    let Some(cors) = cors else { return Ok(()) };
    let any_origin = cors
        .allow_origins
        .as_ref()
        .is_some_and(|o| o.iter().any(|o| o == "*"));
    if any_origin && cors.allow_credentials == Some(true) {
        return Err(GatewayError::bad_request(
            "allow-credentials is not supported with allow-origin '*'",
        ));
    }
    if cors.max_age.is_some_and(|m| !(-1..=86_400).contains(&m)) {
        return Err(GatewayError::bad_request(
            "MaxAge must be between -1 and 86400",
        ));
    }
    Ok(())
}

/// A stage record with defaults.
pub(crate) fn new_stage(name: &str, now: &str) -> StageRecord {
    StageRecord {
        stage_name: name.to_owned(),
        auto_deploy: false,
        deployment_id: None,
        stage_variables: BTreeMap::new(),
        default_route_settings: Some(RouteSettings {
            detailed_metrics_enabled: Some(false),
            ..Default::default()
        }),
        route_settings: BTreeMap::new(),
        access_log_settings: None,
        description: None,
        created_date: now.to_owned(),
        last_updated_date: now.to_owned(),
        tags: BTreeMap::new(),
        api_gateway_managed: false,
        last_deployment_status_message: None,
    }
}

/// Freezes the current definition into a deployment served by `stage_name`; returns its id.
fn deploy_stage(
    doc: &mut ApiDocument,
    stage_name: &str,
    auto: bool,
    description: Option<String>,
) -> String {
    let record = DeploymentRecord {
        deployment_id: new_id(7),
        auto_deployed: auto,
        created_date: now_iso(),
        deployment_status: "DEPLOYED".into(),
        description,
        snapshot: doc.snapshot(),
    };
    let id = record.deployment_id.clone();
    doc.deployments.insert(id.clone(), record);
    if let Some(stage) = doc.stages.get_mut(stage_name) {
        stage.deployment_id = Some(id.clone());
        stage.last_updated_date = now_iso();
        if auto {
            stage.last_deployment_status_message = Some(format!(
                "Successfully deployed stage with deployment ID '{id}'"
            ));
        }
    }
    // Auto-deployments nobody serves any more are dropped: they cannot be redeployed by hand.
    let served: Vec<String> = doc
        .stages
        .values()
        .filter_map(|s| s.deployment_id.clone())
        .collect();
    doc.deployments
        .retain(|id, d| !d.auto_deployed || served.contains(id));
    id
}

/// Redeploys every auto-deploying stage.
fn auto_deploy(doc: &mut ApiDocument) {
    let names: Vec<String> = doc
        .stages
        .values()
        .filter(|s| s.auto_deploy)
        .map(|s| s.stage_name.clone())
        .collect();
    for name in names {
        deploy_stage(doc, &name, true, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_store::StoreConfig;

    async fn registry(dir: &std::path::Path) -> ApiRegistry {
        let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
        ApiRegistry::load(stores.documents, Scope::default())
            .await
            .unwrap()
    }

    fn lambda_integration() -> IntegrationInput {
        IntegrationInput {
            integration_type: Some("AWS_PROXY".into()),
            integration_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
            payload_format_version: Some("2.0".into()),
            ..Default::default()
        }
    }

    async fn route(api: &ApiRegistry, api_id: &str, key: &str, integration: &str) {
        api.create_route(
            api_id,
            RouteInput {
                route_key: Some(key.into()),
                target: Some(format!("integrations/{integration}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    fn served(api: &ApiRegistry, api_id: &str, stage: &str, path: &str) -> Option<String> {
        let plane = api.plane();
        let stage = plane.get(api_id)?.stages.get(stage)?.clone();
        let index = stage.table.lookup(&http::Method::GET, path)?;
        Some(stage.routes[index as usize].route_key.clone())
    }

    #[tokio::test]
    async fn a_stage_serves_its_deployment_until_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let id = api
            .create_api(ApiInput {
                name: Some("a".into()),
                protocol_type: Some("HTTP".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .api_id;
        let integration = api
            .create_integration(&id, lambda_integration())
            .await
            .unwrap();
        route(&api, &id, "GET /a", &integration.integration_id).await;
        api.create_stage(
            &id,
            StageInput {
                stage_name: Some("prod".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            served(&api, &id, "prod", "/a"),
            None,
            "nothing deployed yet"
        );
        api.create_deployment(&id, Some("prod".into()), None)
            .await
            .unwrap();
        assert_eq!(served(&api, &id, "prod", "/a").as_deref(), Some("GET /a"));
        route(&api, &id, "GET /b", &integration.integration_id).await;
        assert_eq!(
            served(&api, &id, "prod", "/b"),
            None,
            "the snapshot is immutable"
        );
        api.create_deployment(&id, Some("prod".into()), None)
            .await
            .unwrap();
        assert_eq!(served(&api, &id, "prod", "/b").as_deref(), Some("GET /b"));

        // A restart rebuilds the same plane from the store.
        drop(api);
        let again = registry(dir.path()).await;
        assert_eq!(served(&again, &id, "prod", "/b").as_deref(), Some("GET /b"));
    }

    #[tokio::test]
    async fn quick_create_auto_deploys_and_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let id = api
            .create_api(ApiInput {
                name: Some("q".into()),
                protocol_type: Some("HTTP".into()),
                target: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
                route_key: Some("GET /x".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .api_id;
        assert_eq!(
            served(&api, &id, "$default", "/x").as_deref(),
            Some("GET /x")
        );
        let doc = api.get(&id).unwrap();
        let integration = doc.integrations.keys().next().unwrap().clone();
        route(&api, &id, "GET /y", &integration).await;
        assert_eq!(
            served(&api, &id, "$default", "/y").as_deref(),
            Some("GET /y")
        );
        // Superseded auto-deployments are not kept.
        assert_eq!(api.get(&id).unwrap().deployments.len(), 1);
    }

    #[tokio::test]
    async fn definitions_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let id = api
            .create_api(ApiInput {
                name: Some("v".into()),
                protocol_type: Some("HTTP".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .api_id;
        let bad = |input: IntegrationInput| api.create_integration(&id, input);
        assert!(bad(IntegrationInput {
            payload_format_version: None,
            ..lambda_integration()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            timeout_in_millis: Some(49),
            ..lambda_integration()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            integration_type: Some("MOCK".into()),
            ..lambda_integration()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            integration_type: Some("HTTP_PROXY".into()),
            integration_uri: Some("ftp://x".into()),
            payload_format_version: None,
            ..Default::default()
        })
        .await
        .is_err());
        let stage = |vars: &[(&str, &str)]| {
            api.create_stage(
                &id,
                StageInput {
                    stage_name: Some("s".into()),
                    stage_variables: Some(
                        vars.iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                    ),
                    ..Default::default()
                },
            )
        };
        assert!(stage(&[("bad-key", "v")]).await.is_err());
        assert!(stage(&[("good_key", "v")]).await.is_ok());
        assert!(matches!(
            api.get("nope"),
            Err(GatewayError::NotFound {
                resource_type: "API",
                ..
            })
        ));
    }
}
