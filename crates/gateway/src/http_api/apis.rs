//! The API resource: CreateApi (with quick create), UpdateApi, DeleteCorsConfiguration.

use std::collections::BTreeMap;

use nubo_wire::Scope;
use serde::Deserialize;

use super::model::{now_iso, ApiDocument, ApiRecord, Cors, RouteRecord, WEBSOCKET};
use super::patch::Patch;
use super::{deployments, stages, ApiRegistry, IntegrationInput};
use crate::plane::routing::RouteKey;
use crate::websocket::select::RouteSelection;
use crate::GatewayError;

/// The one route selection expression of HTTP APIs, as apigatewayv2 echoes it.
pub const HTTP_ROUTE_SELECTION: &str = "$request.method $request.path";

/// CreateApi / UpdateApi members (camelCase, as apigatewayv2 sends them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiInput {
    /// Name.
    pub name: Option<String>,
    /// `HTTP`.
    pub protocol_type: Option<String>,
    /// Route selection expression (HTTP APIs: `${request.method} ${request.path}` only).
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

fn check_name(name: &str) -> Result<(), GatewayError> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(GatewayError::bad_request(
            "Invalid name: must be between 1 and 128 characters",
        ));
    }
    Ok(())
}

/// HTTP APIs route by method and path only: apigatewayv2 documents
/// `${request.method} ${request.path}` as the one value (and echoes it without braces).
fn route_selection(expression: Option<String>) -> Result<Option<String>, GatewayError> {
    match expression.as_deref() {
        None => Ok(None),
        Some("${request.method} ${request.path}") | Some(HTTP_ROUTE_SELECTION) => {
            Ok(Some(HTTP_ROUTE_SELECTION.to_owned()))
        }
        Some(other) => Err(GatewayError::bad_request(format!(
            "Unsupported route selection expression for HTTP protocol: {other}. \
             For HTTP APIs, the routeSelectionExpression must be ${{request.method}} ${{request.path}}"
        ))),
    }
}

pub(crate) fn check_cors(cors: &Cors) -> Result<(), GatewayError> {
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

impl ApiRegistry {
    /// CreateApi, including quick create (`target`).
    pub async fn create_api(
        &self,
        scope: &Scope,
        input: ApiInput,
    ) -> Result<ApiRecord, GatewayError> {
        let name = input
            .name
            .clone()
            .ok_or_else(|| GatewayError::bad_request("Name is required"))?;
        check_name(&name)?;
        let websocket = match input.protocol_type.as_deref() {
            Some("HTTP") => false,
            Some(WEBSOCKET) => true,
            _ => {
                return Err(GatewayError::bad_request(
                    "ProtocolType must be one of [HTTP, WEBSOCKET]",
                ))
            }
        };
        let route_selection_expression = if websocket {
            if input.target.is_some() || input.cors_configuration.is_some() {
                return Err(GatewayError::bad_request(
                    "Target and CorsConfiguration are supported only for HTTP APIs",
                ));
            }
            let expression = input.route_selection_expression.ok_or_else(|| {
                GatewayError::bad_request("RouteSelectionExpression is required for WEBSOCKET APIs")
            })?;
            RouteSelection::parse(&expression)?;
            expression
        } else {
            route_selection(input.route_selection_expression)?
                .unwrap_or_else(|| HTTP_ROUTE_SELECTION.into())
        };
        if input.target.is_none() && input.route_key.is_some() {
            return Err(GatewayError::bad_request(
                "RouteKey is only supported for quick create, with Target",
            ));
        }
        if let Some(cors) = &input.cors_configuration {
            check_cors(cors)?;
        }
        let now = now_iso();
        let api = ApiRecord {
            api_id: self.new_api_id(),
            name,
            protocol_type: if websocket { WEBSOCKET } else { "HTTP" }.into(),
            route_selection_expression,
            api_key_selection_expression: input
                .api_key_selection_expression
                .unwrap_or_else(|| "$request.header.x-api-key".into()),
            cors_configuration: input.cors_configuration,
            created_date: now.clone(),
            description: input.description,
            disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
            version: input.version,
            tags: input.tags.unwrap_or_default(),
            warnings: Vec::new(),
        };
        let mut doc = ApiDocument {
            scope: scope.clone(),
            api: api.clone(),
            routes: BTreeMap::new(),
            integrations: BTreeMap::new(),
            stages: BTreeMap::new(),
            deployments: BTreeMap::new(),
            authorizers: BTreeMap::new(),
        };
        if let Some(target) = input.target {
            quick_create(&mut doc, target, input.route_key, &now)?;
        }
        self.insert(doc).await?;
        Ok(api)
    }

    /// UpdateApi.
    pub async fn update_api(
        &self,
        scope: &Scope,
        api_id: &str,
        input: ApiInput,
    ) -> Result<ApiRecord, GatewayError> {
        self.modify(scope, api_id, |doc| {
            let route_selection = if doc.is_websocket() {
                if let Some(expression) = &input.route_selection_expression {
                    RouteSelection::parse(expression)?;
                }
                input.route_selection_expression
            } else {
                route_selection(input.route_selection_expression)?
            };
            let api = &mut doc.api;
            api.name
                .patch_checked(input.name, |name| check_name(name))?;
            api.cors_configuration
                .patch_checked(input.cors_configuration, check_cors)?;
            api.description.patch(input.description);
            api.version.patch(input.version);
            api.disable_execute_api_endpoint
                .patch(input.disable_execute_api_endpoint);
            api.route_selection_expression.patch(route_selection);
            api.api_key_selection_expression
                .patch(input.api_key_selection_expression);
            Ok(api.clone())
        })
        .await
    }

    /// DeleteCorsConfiguration: the API answers no preflights and adds no CORS headers (after
    /// the next deployment, or at once on an auto-deploying stage).
    pub async fn delete_cors_configuration(
        &self,
        scope: &Scope,
        api_id: &str,
    ) -> Result<(), GatewayError> {
        self.modify(scope, api_id, |doc| {
            doc.api.cors_configuration = None;
            Ok(())
        })
        .await
    }
}

/// Quick create: an integration for `target` (a Lambda ARN → `AWS_PROXY` 2.0, a URL →
/// `HTTP_PROXY`), one route (`route_key`, default `$default`) and an auto-deploying `$default`
/// stage, all marked as managed by API Gateway.
fn quick_create(
    doc: &mut ApiDocument,
    target: String,
    route_key: Option<String>,
    now: &str,
) -> Result<(), GatewayError> {
    let is_lambda = target.starts_with("arn:");
    let mut integration = super::integrations::new_record(
        &doc.scope,
        IntegrationInput {
            integration_type: Some(if is_lambda { "AWS_PROXY" } else { "HTTP_PROXY" }.into()),
            integration_uri: Some(target),
            integration_method: Some(if is_lambda { "POST" } else { "ANY" }.into()),
            payload_format_version: Some(if is_lambda { "2.0" } else { "1.0" }.into()),
            ..Default::default()
        },
    )?;
    integration.api_gateway_managed = true;
    let route_key = route_key.unwrap_or_else(|| "$default".into());
    RouteKey::parse(&route_key)?;
    let mut route = RouteRecord::new(route_key);
    route.target = Some(format!("integrations/{}", integration.integration_id));
    route.api_gateway_managed = true;
    doc.integrations
        .insert(integration.integration_id.clone(), integration);
    doc.routes.insert(route.route_id.clone(), route);
    let mut stage = stages::new_stage("$default", now);
    stage.auto_deploy = true;
    stage.api_gateway_managed = true;
    doc.stages.insert(stage.stage_name.clone(), stage);
    deployments::auto_deploy(doc);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{new_api, registry};
    use super::*;

    #[tokio::test]
    async fn http_apis_refuse_other_route_selection_expressions() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let create = |expression: &str| {
            api.create_api(
                &scope,
                ApiInput {
                    name: Some("r".into()),
                    protocol_type: Some("HTTP".into()),
                    route_selection_expression: Some(expression.into()),
                    ..Default::default()
                },
            )
        };
        let braces = create("${request.method} ${request.path}").await.unwrap();
        assert_eq!(braces.route_selection_expression, HTTP_ROUTE_SELECTION);
        assert!(create("$request.method $request.path").await.is_ok());
        assert!(matches!(
            create("$request.body.action").await,
            Err(GatewayError::BadRequest(_))
        ));
        let update = api
            .update_api(
                &scope,
                &braces.api_id,
                ApiInput {
                    route_selection_expression: Some("${request.path}".into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(update, Err(GatewayError::BadRequest(_))));
    }

    #[tokio::test]
    async fn update_applies_every_member_it_carries() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let id = new_api(&api, &scope, "u").await;
        let updated = api
            .update_api(
                &scope,
                &id,
                ApiInput {
                    api_key_selection_expression: Some(
                        "$context.authorizer.usageIdentifierKey".into(),
                    ),
                    description: Some("d".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            updated.api_key_selection_expression,
            "$context.authorizer.usageIdentifierKey"
        );
        assert_eq!(
            (updated.name.as_str(), updated.description.as_deref()),
            ("u", Some("d"))
        );
    }
}
