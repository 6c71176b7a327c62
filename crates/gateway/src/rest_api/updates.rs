//! Update* of the resources under a REST API — UpdateResource, UpdateMethod, UpdateIntegration,
//! UpdateMethodResponse, UpdateIntegrationResponse, UpdateAuthorizer — as `patchOperations` on the
//! record's wire shape (`patch.rs`), each with the members AWS lets it change, then checked as the
//! Put/Create would check them. Like every change, they reach requests at the next deployment
//! (authorizers: at once, as they are compiled from the API, not the deployment).

use super::model::{
    IntegrationRecord, IntegrationResponseRecord, MethodRecord, MethodResponseRecord,
    ResourceRecord, RestApiDocument,
};
use super::ops;
use super::patch::{patch, patch_typed, PatchOperation};
use crate::GatewayError;

/// UpdateResource: `/pathPart` (the paths under it follow) and `/parentId`.
pub fn update_resource(
    doc: &mut RestApiDocument,
    id: &str,
    operations: &[PatchOperation],
) -> Result<ResourceRecord, GatewayError> {
    let current = ops::resource(doc, id)?.clone();
    if id == doc.api.root_resource_id {
        return Err(GatewayError::bad_request("Cannot update the root resource"));
    }
    let next: ResourceRecord = patch(&current, operations, &["pathPart", "parentId"])?;
    let parent_id = next.parent_id.clone().unwrap_or_default();
    // Re-create under the (new) parent with the same checks, keeping id and methods.
    let mut probe = doc.clone();
    probe.resources.remove(id);
    let created = ops::create_resource(&mut probe, &parent_id, next.path_part.clone())?;
    if is_under(doc, &parent_id, id) {
        return Err(GatewayError::bad_request(
            "A resource cannot be moved under itself",
        ));
    }
    let record = ResourceRecord {
        id: id.to_owned(),
        path: created.path,
        ..next
    };
    doc.resources.insert(id.to_owned(), record.clone());
    repath(doc, id);
    Ok(record)
}

/// Whether `candidate` is `ancestor` or lies under it.
fn is_under(doc: &RestApiDocument, candidate: &str, ancestor: &str) -> bool {
    let mut at = Some(candidate.to_owned());
    while let Some(id) = at {
        if id == ancestor {
            return true;
        }
        at = doc.resources.get(&id).and_then(|r| r.parent_id.clone());
    }
    false
}

/// Recomputes the paths of everything under `id`.
fn repath(doc: &mut RestApiDocument, id: &str) {
    let Some(base) = doc.resources.get(id).map(|r| r.path.clone()) else {
        return;
    };
    let children: Vec<String> = doc
        .resources
        .values()
        .filter(|r| r.parent_id.as_deref() == Some(id))
        .map(|r| r.id.clone())
        .collect();
    for child in children {
        if let Some(r) = doc.resources.get_mut(&child) {
            let part = r.path_part.clone().unwrap_or_default();
            r.path = if base == "/" {
                format!("/{part}")
            } else {
                format!("{base}/{part}")
            };
        }
        repath(doc, &child);
    }
}

fn method_mut<'a>(
    doc: &'a mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
) -> Result<&'a mut MethodRecord, GatewayError> {
    doc.resources
        .get_mut(resource_id)
        .ok_or_else(|| GatewayError::not_found("Resource", resource_id))?
        .resource_methods
        .get_mut(&http_method.to_ascii_uppercase())
        .ok_or_else(|| GatewayError::not_found("Method", http_method))
}

/// UpdateMethod.
pub fn update_method(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    operations: &[PatchOperation],
) -> Result<MethodRecord, GatewayError> {
    let current = method_mut(doc, resource_id, http_method)?.clone();
    let next: MethodRecord = patch_typed(
        &current,
        operations,
        &[
            "authorizationType",
            "authorizerId",
            "apiKeyRequired",
            "operationName",
            "requestValidatorId",
            "requestParameters",
            "requestModels",
        ],
        &["requestParameters"],
    )?;
    // PutMethod's checks, then the responses and integration kept.
    let mut probe = doc.clone();
    ops::put_method(&mut probe, resource_id, http_method, next.clone())?;
    *method_mut(doc, resource_id, http_method)? = next.clone();
    Ok(next)
}

/// UpdateIntegration.
pub fn update_integration(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    operations: &[PatchOperation],
) -> Result<IntegrationRecord, GatewayError> {
    let method = method_mut(doc, resource_id, http_method)?;
    let current = method
        .method_integration
        .clone()
        .ok_or_else(|| GatewayError::not_found("Integration", http_method))?;
    let next: IntegrationRecord = patch(
        &current,
        operations,
        &[
            "uri",
            "httpMethod",
            "type",
            "credentials",
            "requestParameters",
            "requestTemplates",
            "passthroughBehavior",
            "contentHandling",
            "timeoutInMillis",
            "cacheNamespace",
            "cacheKeyParameters",
            "connectionType",
        ],
    )?;
    let mut probe = doc.clone();
    let mut checked = ops::put_integration(&mut probe, resource_id, http_method, next.clone())?;
    checked.integration_responses = current.integration_responses;
    method_mut(doc, resource_id, http_method)?.method_integration = Some(checked.clone());
    Ok(checked)
}

/// UpdateMethodResponse.
pub fn update_method_response(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    status: &str,
    operations: &[PatchOperation],
) -> Result<MethodResponseRecord, GatewayError> {
    let method = method_mut(doc, resource_id, http_method)?;
    let current = method
        .method_responses
        .get(status)
        .ok_or_else(|| GatewayError::not_found("Response", status))?;
    let next: MethodResponseRecord = patch_typed(
        current,
        operations,
        &["responseParameters", "responseModels"],
        &["responseParameters"],
    )?;
    method
        .method_responses
        .insert(status.to_owned(), next.clone());
    Ok(next)
}

/// UpdateIntegrationResponse.
pub fn update_integration_response(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    status: &str,
    operations: &[PatchOperation],
) -> Result<IntegrationResponseRecord, GatewayError> {
    let current = method_mut(doc, resource_id, http_method)?
        .method_integration
        .as_ref()
        .and_then(|i| i.integration_responses.get(status))
        .cloned()
        .ok_or_else(|| GatewayError::not_found("Response", status))?;
    let next: IntegrationResponseRecord = patch(
        &current,
        operations,
        &[
            "selectionPattern",
            "responseParameters",
            "responseTemplates",
            "contentHandling",
        ],
    )?;
    ops::put_integration_response(doc, resource_id, http_method, status, next)
}

/// UpdateAuthorizer.
pub fn update_authorizer(
    doc: &mut RestApiDocument,
    id: &str,
    operations: &[PatchOperation],
) -> Result<super::authorizer::AuthorizerRecord, GatewayError> {
    let current = doc
        .authorizers
        .get(id)
        .ok_or_else(|| GatewayError::not_found("Authorizer", id))?;
    let mut next: super::authorizer::AuthorizerRecord = patch(
        current,
        operations,
        &[
            "name",
            "type",
            "authorizerUri",
            "identitySource",
            "identityValidationExpression",
            "authorizerResultTtlInSeconds",
            "providerARNs",
            "authType",
            "authorizerCredentials",
        ],
    )?;
    next.id = id.to_owned();
    super::authorizer::validate(&next)?;
    doc.authorizers.insert(id.to_owned(), next.clone());
    Ok(next)
}
