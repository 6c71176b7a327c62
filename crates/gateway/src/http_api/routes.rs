//! The route resource: CreateRoute, UpdateRoute, DeleteRoute.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use nubo_wire::Scope;

use super::model::{new_id, ApiDocument, RouteRecord, RouteResponseRecord};
use super::patch::Patch;
use super::resource::ApiResource;
use super::ApiRegistry;
use crate::plane::routing::RouteKey;
use crate::GatewayError;

/// CreateRoute / UpdateRoute members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteInput {
    /// Route key.
    pub route_key: Option<String>,
    /// `integrations/{id}`.
    pub target: Option<String>,
    /// `NONE`, `AWS_IAM`, `JWT` or `CUSTOM`.
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
    /// WebSocket: `$default` makes the route two-way.
    pub route_response_selection_expression: Option<String>,
}

/// CreateRouteResponse / UpdateRouteResponse members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponseInput {
    /// `$default`.
    pub route_response_key: Option<String>,
    /// Stored and echoed.
    pub model_selection_expression: Option<String>,
    /// Stored and echoed.
    pub response_models: Option<Value>,
    /// Stored and echoed.
    pub response_parameters: Option<Value>,
}

fn check_authorization(kind: &str) -> Result<(), GatewayError> {
    if !matches!(kind, "NONE" | "AWS_IAM" | "JWT" | "CUSTOM") {
        return Err(GatewayError::bad_request(format!(
            "Invalid AuthorizationType {kind}: NONE, AWS_IAM, JWT or CUSTOM"
        )));
    }
    Ok(())
}

/// A `JWT` or `CUSTOM` route names an authorizer of that kind; others name none.
fn check_authorizer(doc: &ApiDocument, record: &RouteRecord) -> Result<(), GatewayError> {
    let kind = record.authorization_type.as_str();
    match (kind, record.authorizer_id.as_deref()) {
        ("JWT" | "CUSTOM", None) => Err(GatewayError::bad_request(format!(
            "AuthorizerId is required for AuthorizationType {kind}"
        ))),
        ("JWT" | "CUSTOM", Some(id)) => {
            let authorizer = doc
                .authorizers
                .get(id)
                .ok_or_else(|| GatewayError::bad_request(format!("Invalid authorizer id {id}")))?;
            if super::authorizers::route_kind(&authorizer.authorizer_type) != kind {
                return Err(GatewayError::bad_request(format!(
                    "Authorizer {id} is a {} authorizer; AuthorizationType {kind} does not match",
                    authorizer.authorizer_type
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Applies the members a request carries to `record`, checked against the rest of the API.
fn apply(
    doc: &ApiDocument,
    record: &mut RouteRecord,
    input: RouteInput,
) -> Result<(), GatewayError> {
    let websocket = doc.is_websocket();
    record.route_key.patch_checked(input.route_key, |key| {
        if websocket {
            check_socket_route_key(key)?;
        } else {
            RouteKey::parse(key)?;
        }
        if doc
            .routes
            .values()
            .any(|r| &r.route_key == key && r.route_id != record.route_id)
        {
            return Err(GatewayError::Conflict(format!(
                "Unable to create route {key}: the API already has a route with that key"
            )));
        }
        Ok(())
    })?;
    record.target.patch_checked(input.target, |target| {
        let known = target
            .strip_prefix("integrations/")
            .is_some_and(|id| doc.integrations.contains_key(id));
        if !known {
            return Err(GatewayError::bad_request(format!(
                "Invalid target {target}: expected integrations/{{integrationId}} of this API"
            )));
        }
        Ok(())
    })?;
    record
        .authorization_type
        .patch_checked(input.authorization_type, |kind| check_authorization(kind))?;
    if websocket {
        record.api_key_required.patch(input.api_key_required);
        if record.authorization_type != "NONE" && record.route_key != "$connect" {
            return Err(GatewayError::bad_request(
                "Currently, authorization is restricted to the $connect route only",
            ));
        }
        record.route_response_selection_expression.patch_checked(
            input.route_response_selection_expression,
            |e| {
                if e != "$default" {
                    return Err(GatewayError::bad_request(format!(
                        "Invalid RouteResponseSelectionExpression {e}: only $default is supported"
                    )));
                }
                Ok(())
            },
        )?;
    } else if input.api_key_required == Some(true)
        || input.route_response_selection_expression.is_some()
    {
        return Err(GatewayError::bad_request(
            "ApiKeyRequired and RouteResponseSelectionExpression are supported only for WebSocket APIs",
        ));
    }
    record.authorizer_id.patch(input.authorizer_id);
    if !matches!(record.authorization_type.as_str(), "JWT" | "CUSTOM") {
        record.authorizer_id = None;
    }
    record
        .authorization_scopes
        .patch(input.authorization_scopes);
    record.operation_name.patch(input.operation_name);
    record.request_parameters.patch(input.request_parameters);
    check_authorizer(doc, record)
}

/// A WebSocket route key: `$connect`, `$disconnect`, `$default` or any other value the route
/// selection expression may produce (up to 128 characters, no leading `$` but the three).
fn check_socket_route_key(key: &str) -> Result<(), GatewayError> {
    let reserved = key.starts_with('$') && !matches!(key, "$connect" | "$disconnect" | "$default");
    if key.is_empty() || key.chars().count() > 128 || reserved {
        return Err(GatewayError::bad_request(format!(
            "Invalid route key {key}: WebSocket route keys are $connect, $disconnect, $default \
             or 1 to 128 characters not starting with $"
        )));
    }
    Ok(())
}

impl ApiResource for RouteRecord {
    const NAME: &'static str = "Route";
    type Input = RouteInput;

    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self> {
        &doc.routes
    }

    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self> {
        &mut doc.routes
    }

    /// CreateRoute.
    fn create(doc: &mut ApiDocument, input: RouteInput) -> Result<Self, GatewayError> {
        if input.route_key.is_none() {
            return Err(GatewayError::bad_request("RouteKey is required"));
        }
        let mut record = RouteRecord::new(String::new());
        apply(doc, &mut record, input)?;
        doc.routes.insert(record.route_id.clone(), record.clone());
        Ok(record)
    }

    /// UpdateRoute.
    fn update(doc: &mut ApiDocument, id: &str, input: RouteInput) -> Result<Self, GatewayError> {
        let mut record = Self::find(doc, id)?.clone();
        apply(doc, &mut record, input)?;
        doc.routes.insert(id.to_owned(), record.clone());
        Ok(record)
    }

    /// The route without its responses (they have their own operations).
    fn render(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.remove("routeResponses");
        }
        value
    }
}

fn apply_response(
    record: &mut RouteResponseRecord,
    input: RouteResponseInput,
) -> Result<(), GatewayError> {
    record
        .route_response_key
        .patch_checked(input.route_response_key, |key| {
            if key != "$default" {
                return Err(GatewayError::bad_request(format!(
                    "Invalid RouteResponseKey {key}: proxy integrations answer only $default"
                )));
            }
            Ok(())
        })?;
    record
        .model_selection_expression
        .patch(input.model_selection_expression);
    record.response_models.patch(input.response_models);
    record.response_parameters.patch(input.response_parameters);
    Ok(())
}

fn route_mut<'a>(
    doc: &'a mut ApiDocument,
    route_id: &str,
) -> Result<&'a mut RouteRecord, GatewayError> {
    if !doc.is_websocket() {
        return Err(GatewayError::bad_request(
            "Route responses are supported only for WebSocket APIs",
        ));
    }
    doc.routes
        .get_mut(route_id)
        .ok_or_else(|| GatewayError::not_found("Route", route_id))
}

impl ApiRegistry {
    /// CreateRouteResponse.
    pub async fn create_route_response(
        &self,
        scope: &Scope,
        api_id: &str,
        route_id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponseRecord, GatewayError> {
        if input.route_response_key.is_none() {
            return Err(GatewayError::bad_request("RouteResponseKey is required"));
        }
        self.modify(scope, api_id, |doc| {
            let route = route_mut(doc, route_id)?;
            let mut record = RouteResponseRecord {
                route_response_id: new_id(7),
                route_response_key: String::new(),
                model_selection_expression: None,
                response_models: None,
                response_parameters: None,
            };
            apply_response(&mut record, input)?;
            if route
                .route_responses
                .values()
                .any(|r| r.route_response_key == record.route_response_key)
            {
                return Err(GatewayError::Conflict(format!(
                    "Unable to create route response {}: the route already has one with that key",
                    record.route_response_key
                )));
            }
            route
                .route_responses
                .insert(record.route_response_id.clone(), record.clone());
            Ok(record)
        })
        .await
    }

    /// GetRouteResponses.
    pub fn route_responses(
        &self,
        scope: &Scope,
        api_id: &str,
        route_id: &str,
    ) -> Result<Vec<RouteResponseRecord>, GatewayError> {
        let doc = self.get(scope, api_id)?;
        let route = RouteRecord::find(&doc, route_id)?;
        Ok(route.route_responses.values().cloned().collect())
    }

    /// GetRouteResponse.
    pub fn route_response(
        &self,
        scope: &Scope,
        api_id: &str,
        route_id: &str,
        id: &str,
    ) -> Result<RouteResponseRecord, GatewayError> {
        self.route_responses(scope, api_id, route_id)?
            .into_iter()
            .find(|r| r.route_response_id == id)
            .ok_or_else(|| GatewayError::not_found("RouteResponse", id))
    }

    /// UpdateRouteResponse.
    pub async fn update_route_response(
        &self,
        scope: &Scope,
        api_id: &str,
        route_id: &str,
        id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponseRecord, GatewayError> {
        self.modify(scope, api_id, |doc| {
            let route = route_mut(doc, route_id)?;
            let record = route
                .route_responses
                .get_mut(id)
                .ok_or_else(|| GatewayError::not_found("RouteResponse", id))?;
            apply_response(record, input)?;
            Ok(record.clone())
        })
        .await
    }

    /// DeleteRouteResponse.
    pub async fn delete_route_response(
        &self,
        scope: &Scope,
        api_id: &str,
        route_id: &str,
        id: &str,
    ) -> Result<(), GatewayError> {
        self.modify(scope, api_id, |doc| {
            let route = route_mut(doc, route_id)?;
            route
                .route_responses
                .remove(id)
                .map(|_| ())
                .ok_or_else(|| GatewayError::not_found("RouteResponse", id))
        })
        .await
    }
}
