//! The route resource: CreateRoute, UpdateRoute, DeleteRoute.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::model::{ApiDocument, RouteRecord};
use super::patch::Patch;
use super::resource::ApiResource;
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
    record.route_key.patch_checked(input.route_key, |key| {
        RouteKey::parse(key)?;
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
    if input.api_key_required == Some(true) {
        return Err(GatewayError::bad_request(
            "ApiKeyRequired is supported only for WebSocket APIs",
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
}
