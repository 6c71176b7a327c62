//! API Gateway (signing name `apigateway`), the apigatewayv2 operations Nubo serves. API Gateway's
//! IAM actions are the HTTP method (`apigateway:GET|POST|PUT|PATCH|DELETE`) and its resources are
//! the REST path without `/v2`, region-scoped and account-less:
//! `arn:aws:apigateway:{region}::/apis/{apiId}/routes/{routeId}`. REST API operations whose
//! botocore name apigatewayv2 also uses are named `REST.{Operation}` here (one table, unique
//! names).

use super::{check, Rule};

macro_rules! apigw {
    ($operation:literal, $method:literal, $path:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(
                concat!("apigateway:", $method),
                concat!("arn:aws:apigateway:{region}::", $path),
            )],
        }
    };
}

/// The API Gateway table: apigatewayv2 (`/apis…`, sent under `/v2`) and REST APIs.
pub(super) const RULES: &[Rule] = &[
    apigw!("CreateApi", "POST", "/apis"),
    apigw!("GetApis", "GET", "/apis"),
    apigw!("ImportApi", "PUT", "/apis"),
    apigw!("GetApi", "GET", "/apis/{ApiId}"),
    apigw!("UpdateApi", "PATCH", "/apis/{ApiId}"),
    apigw!("DeleteApi", "DELETE", "/apis/{ApiId}"),
    apigw!("ReimportApi", "PUT", "/apis/{ApiId}"),
    apigw!("ExportApi", "GET", "/apis/{ApiId}/exports/{Specification}"),
    apigw!("CreateRoute", "POST", "/apis/{ApiId}/routes"),
    apigw!("GetRoutes", "GET", "/apis/{ApiId}/routes"),
    apigw!("GetRoute", "GET", "/apis/{ApiId}/routes/{RouteId}"),
    apigw!("UpdateRoute", "PATCH", "/apis/{ApiId}/routes/{RouteId}"),
    apigw!("DeleteRoute", "DELETE", "/apis/{ApiId}/routes/{RouteId}"),
    apigw!(
        "CreateRouteResponse",
        "POST",
        "/apis/{ApiId}/routes/{RouteId}/routeresponses"
    ),
    apigw!(
        "GetRouteResponses",
        "GET",
        "/apis/{ApiId}/routes/{RouteId}/routeresponses"
    ),
    apigw!(
        "GetRouteResponse",
        "GET",
        "/apis/{ApiId}/routes/{RouteId}/routeresponses/{RouteResponseId}"
    ),
    apigw!(
        "UpdateRouteResponse",
        "PATCH",
        "/apis/{ApiId}/routes/{RouteId}/routeresponses/{RouteResponseId}"
    ),
    apigw!(
        "DeleteRouteResponse",
        "DELETE",
        "/apis/{ApiId}/routes/{RouteId}/routeresponses/{RouteResponseId}"
    ),
    apigw!("CreateIntegration", "POST", "/apis/{ApiId}/integrations"),
    apigw!("GetIntegrations", "GET", "/apis/{ApiId}/integrations"),
    apigw!(
        "GetIntegration",
        "GET",
        "/apis/{ApiId}/integrations/{IntegrationId}"
    ),
    apigw!(
        "UpdateIntegration",
        "PATCH",
        "/apis/{ApiId}/integrations/{IntegrationId}"
    ),
    apigw!(
        "DeleteIntegration",
        "DELETE",
        "/apis/{ApiId}/integrations/{IntegrationId}"
    ),
    apigw!("CreateStage", "POST", "/apis/{ApiId}/stages"),
    apigw!("GetStages", "GET", "/apis/{ApiId}/stages"),
    apigw!("GetStage", "GET", "/apis/{ApiId}/stages/{StageName}"),
    apigw!("UpdateStage", "PATCH", "/apis/{ApiId}/stages/{StageName}"),
    apigw!("DeleteStage", "DELETE", "/apis/{ApiId}/stages/{StageName}"),
    apigw!("CreateDeployment", "POST", "/apis/{ApiId}/deployments"),
    apigw!("GetDeployments", "GET", "/apis/{ApiId}/deployments"),
    apigw!(
        "GetDeployment",
        "GET",
        "/apis/{ApiId}/deployments/{DeploymentId}"
    ),
    apigw!(
        "UpdateDeployment",
        "PATCH",
        "/apis/{ApiId}/deployments/{DeploymentId}"
    ),
    apigw!(
        "DeleteDeployment",
        "DELETE",
        "/apis/{ApiId}/deployments/{DeploymentId}"
    ),
    apigw!("DeleteCorsConfiguration", "DELETE", "/apis/{ApiId}/cors"),
    // REST APIs (apigateway v1): the path is the resource as it is.
    apigw!("CreateRestApi", "POST", "/restapis"),
    apigw!("GetRestApis", "GET", "/restapis"),
    apigw!("GetRestApi", "GET", "/restapis/{RestApiId}"),
    apigw!("UpdateRestApi", "PATCH", "/restapis/{RestApiId}"),
    apigw!("DeleteRestApi", "DELETE", "/restapis/{RestApiId}"),
    apigw!("GetResources", "GET", "/restapis/{RestApiId}/resources"),
    apigw!("GetResource", "GET", "/restapis/{RestApiId}/resources/{ResourceId}"),
    apigw!("CreateResource", "POST", "/restapis/{RestApiId}/resources/{ParentId}"),
    apigw!("DeleteResource", "DELETE", "/restapis/{RestApiId}/resources/{ResourceId}"),
    apigw!("PutMethod", "PUT", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}"),
    apigw!("GetMethod", "GET", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}"),
    apigw!("DeleteMethod", "DELETE", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}"),
    apigw!("PutIntegration", "PUT", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration"),
    apigw!("REST.GetIntegration", "GET", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration"),
    apigw!("PutMethodResponse", "PUT", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/responses/{StatusCode}"),
    apigw!("GetMethodResponse", "GET", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/responses/{StatusCode}"),
    apigw!("PutIntegrationResponse", "PUT", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration/responses/{StatusCode}"),
    apigw!("GetIntegrationResponse", "GET", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration/responses/{StatusCode}"),
    apigw!("UpdateResource", "PATCH", "/restapis/{RestApiId}/resources/{ResourceId}"),
    apigw!("UpdateMethod", "PATCH", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}"),
    apigw!("REST.UpdateIntegration", "PATCH", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration"),
    apigw!("UpdateMethodResponse", "PATCH", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/responses/{StatusCode}"),
    apigw!("UpdateIntegrationResponse", "PATCH", "/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}/integration/responses/{StatusCode}"),
    apigw!("REST.UpdateAuthorizer", "PATCH", "/restapis/{RestApiId}/authorizers/{AuthorizerId}"),
    apigw!("REST.CreateDeployment", "POST", "/restapis/{RestApiId}/deployments"),
    apigw!("REST.GetDeployments", "GET", "/restapis/{RestApiId}/deployments"),
    apigw!("REST.GetDeployment", "GET", "/restapis/{RestApiId}/deployments/{DeploymentId}"),
    apigw!("REST.DeleteDeployment", "DELETE", "/restapis/{RestApiId}/deployments/{DeploymentId}"),
    apigw!("REST.CreateStage", "POST", "/restapis/{RestApiId}/stages"),
    apigw!("REST.GetStages", "GET", "/restapis/{RestApiId}/stages"),
    apigw!("REST.GetStage", "GET", "/restapis/{RestApiId}/stages/{StageName}"),
    apigw!(
        "REST.UpdateStage",
        "PATCH",
        "/restapis/{RestApiId}/stages/{StageName}"
    ),
    apigw!("REST.DeleteStage", "DELETE", "/restapis/{RestApiId}/stages/{StageName}"),
    apigw!("REST.CreateAuthorizer", "POST", "/restapis/{RestApiId}/authorizers"),
    apigw!("REST.GetAuthorizers", "GET", "/restapis/{RestApiId}/authorizers"),
    apigw!(
        "REST.GetAuthorizer",
        "GET",
        "/restapis/{RestApiId}/authorizers/{AuthorizerId}"
    ),
    apigw!(
        "REST.DeleteAuthorizer",
        "DELETE",
        "/restapis/{RestApiId}/authorizers/{AuthorizerId}"
    ),
    apigw!("CreateAuthorizer", "POST", "/apis/{ApiId}/authorizers"),
    apigw!("GetAuthorizers", "GET", "/apis/{ApiId}/authorizers"),
    apigw!("GetAuthorizer", "GET", "/apis/{ApiId}/authorizers/{AuthorizerId}"),
    apigw!(
        "UpdateAuthorizer",
        "PATCH",
        "/apis/{ApiId}/authorizers/{AuthorizerId}"
    ),
    apigw!(
        "DeleteAuthorizer",
        "DELETE",
        "/apis/{ApiId}/authorizers/{AuthorizerId}"
    ),
    apigw!("TagResource", "PUT", "/tags/{ResourceArn}"),
    apigw!("GetTags", "GET", "/tags/{ResourceArn}"),
    apigw!("UntagResource", "DELETE", "/tags/{ResourceArn}"),
    apigw!("CreateApiKey", "POST", "/apikeys"),
    apigw!("GetApiKeys", "GET", "/apikeys"),
    apigw!("GetApiKey", "GET", "/apikeys/{ApiKey}"),
    apigw!("DeleteApiKey", "DELETE", "/apikeys/{ApiKey}"),
    apigw!("UpdateApiKey", "PATCH", "/apikeys/{ApiKey}"),
    apigw!("CreateUsagePlan", "POST", "/usageplans"),
    apigw!("GetUsagePlans", "GET", "/usageplans"),
    apigw!("GetUsagePlan", "GET", "/usageplans/{UsagePlanId}"),
    apigw!("DeleteUsagePlan", "DELETE", "/usageplans/{UsagePlanId}"),
    apigw!("UpdateUsagePlan", "PATCH", "/usageplans/{UsagePlanId}"),
    apigw!("CreateUsagePlanKey", "POST", "/usageplans/{UsagePlanId}/keys"),
    apigw!("GetUsagePlanKeys", "GET", "/usageplans/{UsagePlanId}/keys"),
    apigw!("DeleteUsagePlanKey", "DELETE", "/usageplans/{UsagePlanId}/keys/{KeyId}"),
    apigw!("GetUsage", "GET", "/usageplans/{UsagePlanId}/usage"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn operation_names_are_unique() {
        let mut names: Vec<&str> = super::RULES.iter().map(|r| r.operation).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
