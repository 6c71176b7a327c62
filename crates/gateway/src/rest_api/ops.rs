//! The REST API operations under an API, as changes to its document (the registry persists and
//! compiles): resources, methods, integrations, method/integration responses, deployments,
//! stages. Validation answers as API Gateway does (`BadRequestException`, `ConflictException`,
//! `NotFoundException`).

use std::collections::BTreeMap;

use super::model::{
    now_epoch, DeploymentRecord, IntegrationRecord, IntegrationResponseRecord, MethodRecord,
    MethodResponseRecord, ResourceRecord, RestApiDocument, StageRecord,
};
use crate::http_api::model::new_id;
use crate::GatewayError;

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];
const INTEGRATION_TYPES: &[&str] = &["AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"];

/// A resource of the API.
pub fn resource<'a>(
    doc: &'a RestApiDocument,
    id: &str,
) -> Result<&'a ResourceRecord, GatewayError> {
    doc.resources
        .get(id)
        .ok_or_else(|| GatewayError::not_found("Resource", id))
}

fn resource_mut<'a>(
    doc: &'a mut RestApiDocument,
    id: &str,
) -> Result<&'a mut ResourceRecord, GatewayError> {
    doc.resources
        .get_mut(id)
        .ok_or_else(|| GatewayError::not_found("Resource", id))
}

fn check_path_part(part: &str) -> Result<(), GatewayError> {
    let name = part
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .map(|p| p.strip_suffix('+').unwrap_or(p));
    let valid = match name {
        Some(name) => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        }
        None => {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~:@!$&'()*,;=".contains(c))
        }
    };
    if valid {
        Ok(())
    } else {
        Err(GatewayError::bad_request(format!(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace. {part}"
        )))
    }
}

/// CreateResource.
pub fn create_resource(
    doc: &mut RestApiDocument,
    parent_id: &str,
    path_part: Option<String>,
) -> Result<ResourceRecord, GatewayError> {
    let path_part = path_part.ok_or_else(|| GatewayError::bad_request("pathPart is required"))?;
    check_path_part(&path_part)?;
    let parent = resource(doc, parent_id)?;
    if parent
        .path_part
        .as_deref()
        .is_some_and(|p| p.ends_with("+}"))
    {
        return Err(GatewayError::bad_request(
            "A greedy path variable must be the last path part",
        ));
    }
    let siblings = doc
        .resources
        .values()
        .filter(|r| r.parent_id.as_deref() == Some(parent_id));
    for sibling in siblings {
        let part = sibling.path_part.as_deref().unwrap_or("");
        if part == path_part || (part.starts_with('{') && path_part.starts_with('{')) {
            return Err(GatewayError::Conflict(format!(
                "Another resource with the same parent already has this name: {path_part}"
            )));
        }
    }
    let path = if parent.path == "/" {
        format!("/{path_part}")
    } else {
        format!("{}/{path_part}", parent.path)
    };
    let record = ResourceRecord {
        id: new_id(10),
        parent_id: Some(parent_id.to_owned()),
        path_part: Some(path_part),
        path,
        resource_methods: BTreeMap::new(),
    };
    doc.resources.insert(record.id.clone(), record.clone());
    Ok(record)
}

/// DeleteResource: the resource and everything under it; not the root.
pub fn delete_resource(doc: &mut RestApiDocument, id: &str) -> Result<(), GatewayError> {
    resource(doc, id)?;
    if id == doc.api.root_resource_id {
        return Err(GatewayError::bad_request("Cannot delete root resource"));
    }
    let mut doomed = vec![id.to_owned()];
    let mut i = 0;
    while i < doomed.len() {
        let parent = doomed[i].clone();
        doomed.extend(
            doc.resources
                .values()
                .filter(|r| r.parent_id.as_deref() == Some(parent.as_str()))
                .map(|r| r.id.clone()),
        );
        i += 1;
    }
    for id in doomed {
        doc.resources.remove(&id);
    }
    Ok(())
}

fn check_method(method: &str) -> Result<String, GatewayError> {
    let upper = method.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(GatewayError::bad_request(format!(
            "Invalid HttpMethod specified. Valid options are {}",
            METHODS.join(",")
        )))
    }
}

/// A method of a resource.
pub fn method<'a>(
    doc: &'a RestApiDocument,
    resource_id: &str,
    http_method: &str,
) -> Result<&'a MethodRecord, GatewayError> {
    resource(doc, resource_id)?
        .resource_methods
        .get(&http_method.to_ascii_uppercase())
        .ok_or_else(|| GatewayError::not_found("Method", http_method))
}

fn method_mut<'a>(
    doc: &'a mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
) -> Result<&'a mut MethodRecord, GatewayError> {
    resource_mut(doc, resource_id)?
        .resource_methods
        .get_mut(&http_method.to_ascii_uppercase())
        .ok_or_else(|| GatewayError::not_found("Method", http_method))
}

/// PutMethod: replaces the method (its responses and integration too).
pub fn put_method(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    mut input: MethodRecord,
) -> Result<MethodRecord, GatewayError> {
    let http_method = check_method(http_method)?;
    if input.authorization_type.is_empty() {
        return Err(GatewayError::bad_request("authorizationType is required"));
    }
    if !matches!(
        input.authorization_type.as_str(),
        "NONE" | "AWS_IAM" | "CUSTOM" | "COGNITO_USER_POOLS"
    ) {
        return Err(GatewayError::bad_request(format!(
            "Invalid authorization type specified: {}",
            input.authorization_type
        )));
    }
    if input.authorization_type == "CUSTOM"
        && !input
            .authorizer_id
            .as_deref()
            .is_some_and(|id| doc.authorizers.contains_key(id))
    {
        return Err(GatewayError::bad_request(
            "Invalid authorizer ID specified. Setting the authorization type to CUSTOM requires a valid authorizer.",
        ));
    }
    let pool_authorizer = input
        .authorizer_id
        .as_deref()
        .and_then(|id| doc.authorizers.get(id))
        .is_some_and(|a| a.authorizer_type == "COGNITO_USER_POOLS");
    if input.authorization_type == "COGNITO_USER_POOLS" && !pool_authorizer {
        return Err(GatewayError::bad_request(
            "Invalid authorizer ID specified. Setting the authorization type to COGNITO_USER_POOLS requires a valid authorizer.",
        ));
    }
    input.http_method = http_method.clone();
    input.method_responses.clear();
    input.method_integration = None;
    resource_mut(doc, resource_id)?
        .resource_methods
        .insert(http_method, input.clone());
    Ok(input)
}

/// DeleteMethod.
pub fn delete_method(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
) -> Result<(), GatewayError> {
    resource_mut(doc, resource_id)?
        .resource_methods
        .remove(&http_method.to_ascii_uppercase())
        .map(drop)
        .ok_or_else(|| GatewayError::not_found("Method", http_method))
}

/// PutIntegration.
pub fn put_integration(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    mut input: IntegrationRecord,
) -> Result<IntegrationRecord, GatewayError> {
    let kind = input.integration_type.to_ascii_uppercase();
    if !INTEGRATION_TYPES.contains(&kind.as_str()) {
        return Err(GatewayError::bad_request(format!(
            "Invalid integration type specified: {}. Valid options are {}",
            input.integration_type,
            INTEGRATION_TYPES.join(",")
        )));
    }
    input.integration_type = kind.clone();
    for (content_type, source) in &input.request_templates {
        super::template::check("request", content_type, source)
            .map_err(GatewayError::bad_request)?;
    }
    if kind != "MOCK" {
        if input.uri.as_deref().is_none_or(str::is_empty) {
            return Err(GatewayError::bad_request(
                "Enumeration value for Uri must be non-empty",
            ));
        }
        let method = input.http_method.as_deref().unwrap_or("");
        if method.is_empty() {
            return Err(GatewayError::bad_request(
                "Enumeration value for HttpMethod must be non-empty",
            ));
        }
        input.http_method = Some(check_method(method)?);
        if kind.starts_with("HTTP") {
            let uri = input.uri.as_deref().unwrap_or("");
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                return Err(GatewayError::bad_request(format!(
                    "Invalid HTTP endpoint specified for URI: {uri}"
                )));
            }
        }
        if kind == "HTTP" {
            for (to, from) in &input.request_parameters {
                let to_ok = ["path", "querystring", "header"].iter().any(|place| {
                    to.strip_prefix("integration.request.")
                        .and_then(|rest| rest.strip_prefix(place))
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|name| !name.is_empty())
                });
                let from_ok = (from.len() >= 2 && from.starts_with('\'') && from.ends_with('\''))
                    || [
                        "method.request.path.",
                        "method.request.querystring.",
                        "method.request.header.",
                        "stageVariables.",
                        "context.",
                    ]
                    .iter()
                    .any(|p| from.len() > p.len() && from.starts_with(p));
                if !(to_ok && from_ok) {
                    let bad = if to_ok { from } else { to };
                    return Err(GatewayError::bad_request(format!(
                        "Invalid mapping expression specified: Validation Result: warnings : [], \
                         errors : [Invalid mapping expression specified: {bad}]"
                    )));
                }
            }
        }
        if kind == "AWS_PROXY"
            && crate::plane::lambda_function(input.uri.as_deref().unwrap_or(""), &doc.scope)
                .is_none()
        {
            return Err(GatewayError::bad_request(format!(
                "Invalid ARN specified in the request: {}",
                input.uri.as_deref().unwrap_or("")
            )));
        }
    }
    if !(50..=29_000).contains(&input.timeout_in_millis) {
        return Err(GatewayError::bad_request(
            "Timeout should be between 50 ms and 29000 ms",
        ));
    }
    input.integration_responses.clear();
    let method = method_mut(doc, resource_id, http_method)?;
    method.method_integration = Some(input.clone());
    Ok(input)
}

/// The integration of a method.
pub fn integration<'a>(
    doc: &'a RestApiDocument,
    resource_id: &str,
    http_method: &str,
) -> Result<&'a IntegrationRecord, GatewayError> {
    method(doc, resource_id, http_method)?
        .method_integration
        .as_ref()
        .ok_or_else(|| GatewayError::not_found("Integration", http_method))
}

fn check_status(status: &str) -> Result<(), GatewayError> {
    match status.parse::<u16>() {
        Ok(100..=599) => Ok(()),
        _ => Err(GatewayError::bad_request(format!(
            "Invalid status code specified: {status}"
        ))),
    }
}

/// PutMethodResponse.
pub fn put_method_response(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    status: &str,
    mut input: MethodResponseRecord,
) -> Result<MethodResponseRecord, GatewayError> {
    check_status(status)?;
    input.status_code = status.to_owned();
    method_mut(doc, resource_id, http_method)?
        .method_responses
        .insert(status.to_owned(), input.clone());
    Ok(input)
}

/// PutIntegrationResponse: needs the integration and a method response of that status.
pub fn put_integration_response(
    doc: &mut RestApiDocument,
    resource_id: &str,
    http_method: &str,
    status: &str,
    mut input: IntegrationResponseRecord,
) -> Result<IntegrationResponseRecord, GatewayError> {
    check_status(status)?;
    input.status_code = status.to_owned();
    for (content_type, source) in &input.response_templates {
        super::template::check("response", content_type, source)
            .map_err(GatewayError::bad_request)?;
    }
    let method = method_mut(doc, resource_id, http_method)?;
    if !method.method_responses.contains_key(status) {
        return Err(GatewayError::not_found("Response", status));
    }
    let integration = method
        .method_integration
        .as_mut()
        .ok_or_else(|| GatewayError::not_found("Integration", http_method))?;
    integration
        .integration_responses
        .insert(status.to_owned(), input.clone());
    Ok(input)
}

/// CreateDeployment's members.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInput {
    /// Stage to create or point at the deployment.
    pub stage_name: Option<String>,
    /// Stage description (for a new stage).
    pub stage_description: Option<String>,
    /// Deployment description.
    pub description: Option<String>,
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

fn check_stage_name(name: &str) -> Result<(), GatewayError> {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(GatewayError::bad_request(
            "Stage name only allows a-zA-Z0-9_",
        ))
    }
}

fn new_stage(name: String, deployment_id: String, description: Option<String>) -> StageRecord {
    let now = now_epoch();
    StageRecord {
        stage_name: name,
        deployment_id,
        description,
        variables: BTreeMap::new(),
        method_settings: BTreeMap::new(),
        cache_cluster_enabled: false,
        tracing_enabled: false,
        created_date: now,
        last_updated_date: now,
        tags: BTreeMap::new(),
    }
}

/// CreateDeployment: snapshots the resources; with `stageName`, that stage serves it.
pub fn create_deployment(
    doc: &mut RestApiDocument,
    input: DeploymentInput,
) -> Result<DeploymentRecord, GatewayError> {
    if doc
        .resources
        .values()
        .all(|r| r.resource_methods.is_empty())
    {
        return Err(GatewayError::bad_request(
            "The REST API doesn't contain any methods",
        ));
    }
    if let Some((path, method)) = doc.resources.values().find_map(|r| {
        r.resource_methods
            .values()
            .find(|m| m.method_integration.is_none())
            .map(|m| (r.path.clone(), m.http_method.clone()))
    }) {
        return Err(GatewayError::bad_request(format!(
            "No integration defined for method {method} {path}"
        )));
    }
    if let Some(name) = &input.stage_name {
        check_stage_name(name)?;
    }
    let deployment = DeploymentRecord {
        id: new_id(6),
        description: input.description,
        created_date: now_epoch(),
        resources: doc.resources.values().cloned().collect(),
    };
    doc.deployments
        .insert(deployment.id.clone(), deployment.clone());
    if let Some(name) = input.stage_name {
        let stage = doc
            .stages
            .entry(name.clone())
            .or_insert_with(|| new_stage(name, deployment.id.clone(), input.stage_description));
        stage.deployment_id = deployment.id.clone();
        stage.last_updated_date = now_epoch();
        stage.variables.extend(input.variables);
    }
    Ok(deployment)
}

/// DeleteDeployment: not while a stage serves it.
pub fn delete_deployment(doc: &mut RestApiDocument, id: &str) -> Result<(), GatewayError> {
    if !doc.deployments.contains_key(id) {
        return Err(GatewayError::not_found("Deployment", id));
    }
    if doc.stages.values().any(|s| s.deployment_id == id) {
        return Err(GatewayError::bad_request(
            "Active stages pointing to this deployment must be moved or deleted",
        ));
    }
    doc.deployments.remove(id);
    Ok(())
}

/// CreateStage's members.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    /// Name (required).
    pub stage_name: Option<String>,
    /// Deployment (required).
    pub deployment_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Cache cluster flag.
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    /// Tracing flag.
    #[serde(default)]
    pub tracing_enabled: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// CreateStage.
pub fn create_stage(
    doc: &mut RestApiDocument,
    input: StageInput,
) -> Result<StageRecord, GatewayError> {
    let name = input
        .stage_name
        .ok_or_else(|| GatewayError::bad_request("stageName is required"))?;
    check_stage_name(&name)?;
    let deployment_id = input
        .deployment_id
        .ok_or_else(|| GatewayError::bad_request("deploymentId is required"))?;
    if !doc.deployments.contains_key(&deployment_id) {
        return Err(GatewayError::not_found("Deployment", &deployment_id));
    }
    if doc.stages.contains_key(&name) {
        return Err(GatewayError::Conflict("Stage already exists".into()));
    }
    let mut stage = new_stage(name.clone(), deployment_id, input.description);
    stage.variables = input.variables;
    stage.cache_cluster_enabled = input.cache_cluster_enabled;
    stage.tracing_enabled = input.tracing_enabled;
    stage.tags = input.tags;
    doc.stages.insert(name, stage.clone());
    Ok(stage)
}

/// CreateAuthorizer.
pub fn create_authorizer(
    doc: &mut RestApiDocument,
    mut input: super::authorizer::AuthorizerRecord,
) -> Result<super::authorizer::AuthorizerRecord, GatewayError> {
    super::authorizer::validate(&input)?;
    input.id = new_id(6);
    if input.authorizer_result_ttl_in_seconds.is_none() {
        input.authorizer_result_ttl_in_seconds = Some(300);
    }
    doc.authorizers.insert(input.id.clone(), input.clone());
    Ok(input)
}

/// DeleteAuthorizer: not while a method uses it.
pub fn delete_authorizer(doc: &mut RestApiDocument, id: &str) -> Result<(), GatewayError> {
    if !doc.authorizers.contains_key(id) {
        return Err(GatewayError::not_found("Authorizer", id));
    }
    let used = doc.resources.values().any(|r| {
        r.resource_methods
            .values()
            .any(|m| m.authorizer_id.as_deref() == Some(id))
    });
    if used {
        return Err(GatewayError::Conflict(
            "Cannot delete authorizer: a method still uses it".into(),
        ));
    }
    doc.authorizers.remove(id);
    Ok(())
}

/// DeleteStage.
pub fn delete_stage(doc: &mut RestApiDocument, name: &str) -> Result<(), GatewayError> {
    doc.stages
        .remove(name)
        .map(drop)
        .ok_or_else(|| GatewayError::not_found("Stage", name))
}
