//! API Gateway (signing name `apigateway`), the apigatewayv2 operations Nubo serves. API Gateway's
//! IAM actions are the HTTP method (`apigateway:GET|POST|PUT|PATCH|DELETE`) and its resources are
//! the REST path without `/v2`, region-scoped and account-less:
//! `arn:aws:apigateway:{region}::/apis/{apiId}/routes/{routeId}`.

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

/// The API Gateway (v2) table.
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
];
