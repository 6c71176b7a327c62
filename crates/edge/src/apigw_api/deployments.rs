//! `/v2/apis/{apiId}/deployments`: CreateDeployment, GetDeployments, GetDeployment,
//! DeleteDeployment. A deployment compiles synchronously, so it is `DEPLOYED` when returned.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_gateway::http_api::model::DeploymentRecord;
use nubo_gateway::GatewayError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{body, page};
use crate::response::{empty, json, ApiResult};
use crate::EdgeState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentInput {
    stage_name: Option<String>,
    description: Option<String>,
}

fn render(d: &DeploymentRecord) -> Value {
    let mut value = json!({
        "deploymentId": d.deployment_id,
        "autoDeployed": d.auto_deployed,
        "createdDate": d.created_date,
        "deploymentStatus": d.deployment_status,
    });
    if let Some(description) = &d.description {
        value["description"] = json!(description);
    }
    value
}

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: DeploymentInput = body(req.into_body()).await?;
    let deployment = state
        .gateway
        .apis()
        .create_deployment(
            &api_id,
            input.stage_name.filter(|s| !s.is_empty()),
            input.description,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &render(&deployment)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let items = doc.deployments.values().map(render).collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, deployment_id)): Path<(String, String)>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let deployment = doc
        .deployments
        .get(&deployment_id)
        .ok_or_else(|| GatewayError::not_found("Deployment", &deployment_id))?;
    Ok(json(StatusCode::OK, &render(deployment)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, deployment_id)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_deployment(&api_id, &deployment_id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
